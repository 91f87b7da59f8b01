import numpy as np
import pytest

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg


def test_cell_centres_and_lookup_round_trip():
    grid = RasterGrid.from_origin(1000.0, 5000.0, 10.0, width=4, height=3, crs_wkt=crs_wkt_from_epsg(32633))
    assert grid.shape == (3, 4)
    assert grid.extent == (1000.0, 4970.0, 1040.0, 5000.0)
    x, y = grid.cell_centres(np.array([0, 2]), np.array([0, 3]))
    np.testing.assert_allclose(x, [1005.0, 1035.0])
    np.testing.assert_allclose(y, [4995.0, 4975.0])
    rows, cols, inside = grid.cell_of(np.array([1005.0, 1039.9, 999.0]), np.array([4995.0, 4970.1, 4990.0]))
    assert rows.tolist() == [0, 2, -1] and cols.tolist() == [0, 3, -1] and inside.tolist() == [True, True, False]
    xs, ys = grid.centre_axes()
    np.testing.assert_allclose(xs, [1005, 1015, 1025, 1035])
    np.testing.assert_allclose(ys, [4995, 4985, 4975])


def test_crs_kinds_and_units():
    utm = RasterGrid.from_origin(0, 0, 1, 2, 2, crs_wkt_from_epsg(32633))
    wgs = RasterGrid.from_origin(0, 0, 0.001, 2, 2, crs_wkt_from_epsg(4326))
    assert not utm.is_geographic and utm.linear_unit_metres == 1.0
    assert wgs.is_geographic and wgs.linear_unit_metres is None
    assert RasterGrid.from_origin(0, 0, 1, 2, 2).linear_unit_metres is None


def test_same_as_and_validation():
    a = RasterGrid.from_origin(0, 0, 1, 3, 3, crs_wkt_from_epsg(32633), -9999)
    assert a.same_as(RasterGrid.from_origin(0, 0, 1, 3, 3, crs_wkt_from_epsg(32633)))
    assert not a.same_as(RasterGrid.from_origin(0.5, 0, 1, 3, 3, crs_wkt_from_epsg(32633)))
    assert not a.same_as(RasterGrid.from_origin(0, 0, 1, 3, 3, crs_wkt_from_epsg(32634)))
    with pytest.raises(ValueError, match="positive size"):
        RasterGrid(0, 3, (0, 1, 0, 0, 0, -1))
    with pytest.raises(ValueError, match="Rotated"):
        RasterGrid(3, 3, (0, 1, 0.1, 0, 0, -1))
