"""The factor stack: alignment across CRS and resolution, categorical resampling, one-hot, union nodata."""
import os

import numpy as np
import pytest
from osgeo import osr

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import read_raster, write_raster
from subsidence_plugin.core.io.stack import Factor, build_factor_stack, factors_of_raster, read_stack_factors

UTM = crs_wkt_from_epsg(32633)


def _reference(tmp_path, n=40, cell=100.0):
    grid = RasterGrid.from_origin(500000.0, 5000000.0, cell, n, n, UTM, -9999.0)
    x, y = np.meshgrid(*grid.centre_axes())
    path = write_raster(str(tmp_path / "ref.tif"), (x - 500000.0) * 0.01, grid)
    return grid, path, x, y


def test_same_grid_is_copied_exactly_and_names_kept(tmp_path):
    grid, ref, x, _ = _reference(tmp_path)
    stack = build_factor_stack(factors_of_raster(ref, "Elevation (m)"), grid, str(tmp_path / "s.tif"))
    out = read_raster(stack.path)
    assert out.band_names == ["elevation_m"] and out.grid.same_as(grid)
    np.testing.assert_array_equal(out.band(0), ((x - 500000.0) * 0.01).astype(np.float32))


def test_other_crs_and_resolution_are_reprojected_bilinearly(tmp_path):
    grid, _, x, y = _reference(tmp_path)
    # a linear function of longitude / latitude on a finer geographic grid covering the reference
    wgs = crs_wkt_from_epsg(4326)
    src = osr.SpatialReference(wkt=UTM)
    dst = osr.SpatialReference(wkt=wgs)
    src.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    dst.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    transform = osr.CoordinateTransformation(src, dst)
    pts = np.array(transform.TransformPoints(np.column_stack([x.ravel(), y.ravel()])))
    lon, lat = pts[:, 0], pts[:, 1]
    geo = RasterGrid.from_origin(lon.min() - 0.01, lat.max() + 0.01, 0.0005, int((np.ptp(lon) + 0.02) / 0.0005) + 1,
                                 int((np.ptp(lat) + 0.02) / 0.0005) + 1, wgs, -9999.0)
    glon, glat = np.meshgrid(*geo.centre_axes())
    path = write_raster(str(tmp_path / "geo.tif"), 1000 * glon + 2000 * glat, geo, dtype=np.float64)
    stack = build_factor_stack([Factor(path, "f")], grid, str(tmp_path / "s.tif"))
    expected = (1000 * lon + 2000 * lat).reshape(grid.shape)
    # GDAL widens the bilinear kernel when coarsening (here 40-55 m to 100 m), which on a linear function
    # costs a few per cent of one source cell's change (about 1 unit here)
    np.testing.assert_allclose(read_raster(stack.path).band(0), expected, atol=0.1)


def test_categorical_mode_one_hot_and_union_nodata(tmp_path):
    grid, ref, _, _ = _reference(tmp_path, n=10, cell=100.0)
    fine = RasterGrid.from_origin(500000.0, 5000000.0, 25.0, 40, 40, UTM, 0)
    classes = np.ones((40, 40), np.uint8)
    classes[0:4, 0:4] = 2          # coarse cell (0, 0): all class 2
    classes[4:8, 0:3] = 3          # coarse cell (1, 0): 12 of 16 fine cells class 3
    classes[20:24, 20:24] = 0      # coarse cell (5, 5): nodata
    cat = write_raster(str(tmp_path / "cat.tif"), classes, fine)
    hole = read_raster(ref).band(0)
    hole[9, 9] = np.nan
    cont = write_raster(str(tmp_path / "cont.tif"), hole, grid)
    factors = [Factor(cont, "elev"), Factor(cat, "landuse", categorical=True, one_hot=True, resampling="mode")]
    stack = build_factor_stack(factors, grid, str(tmp_path / "s.tif"))
    assert stack.band_names == ["elev", "landuse_1", "landuse_2", "landuse_3"]
    out = read_raster(stack.path)
    bands = out.array
    assert bands[1:, 0, 0].tolist() == [0, 1, 0] and bands[1:, 1, 0].tolist() == [0, 0, 1]
    valid = out.valid[0]
    assert not valid[9, 9] and not valid[5, 5] and valid.sum() == 98
    assert np.all(out.valid == valid)  # union mask: the same in every band
    np.testing.assert_array_equal(bands[1:, valid].sum(axis=0), 1)
    described = read_stack_factors(stack.path)
    assert described[1]["classes"] == [1.0, 2.0, 3.0] and described[1]["band_names"][0] == "landuse_1"
    nearest = build_factor_stack([Factor(cat, "lu", categorical=True)], grid, str(tmp_path / "n.tif"))
    assert set(np.unique(read_raster(nearest.path).band(0)[read_raster(nearest.path).valid[0]])) <= {1, 2, 3}


def test_bad_stacks_leave_nothing(tmp_path):
    grid, ref, _, _ = _reference(tmp_path)
    far = RasterGrid.from_origin(900000.0, 1000000.0, 100.0, 5, 5, UTM, -9999.0)
    away = write_raster(str(tmp_path / "away.tif"), np.ones((5, 5), np.float32), far)
    with pytest.raises(ValueError, match="no value on the reference grid"):
        build_factor_stack([Factor(ref, "a"), Factor(away, "b")], grid, str(tmp_path / "s.tif"))
    with pytest.raises(ValueError, match="unique"):
        build_factor_stack([Factor(ref, "a"), Factor(ref, "a")], grid, str(tmp_path / "s.tif"))
    with pytest.raises(ValueError, match="at least one"):
        build_factor_stack([], grid, str(tmp_path / "s.tif"))
    assert not os.path.exists(tmp_path / "s.tif")
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


