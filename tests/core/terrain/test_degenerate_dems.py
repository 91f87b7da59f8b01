"""Degenerate DEMs (issue 11): smaller than 3 x 3 cells, all nodata, cells without any valid neighbour, and a
failing final write; refused with a message that says what is wrong, and nothing half-written is left."""
import os

import numpy as np
import pytest

from subsidence_plugin.core.io import rasters
from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import RasterWriteError, read_raster, write_raster
from subsidence_plugin.core.terrain.derivatives import terrain_array, write_terrain
from subsidence_plugin.core.terrain.fill import epsilon_filled_dem, fill_depressions
from subsidence_plugin.core.terrain.indices import hydrology_from_dem
from subsidence_plugin.core.terrain.routing import d8_accumulation, flow_directions_d8, mfd_accumulation

UTM = crs_wkt_from_epsg(32633)
ALL = ("slope", "slope_percent", "aspect", "total", "profile", "plan")


def _grid(rows, cols, cell=10.0):
    return RasterGrid.from_origin(500000.0, 4000000.0 + rows * cell, cell, cols, rows, UTM, -9999.0)


@pytest.mark.parametrize("rows, cols", [(1, 1), (2, 5), (5, 2)])
def test_dems_smaller_than_3_by_3_are_refused_everywhere(tmp_path, rows, cols):
    z = np.arange(rows * cols, dtype=np.float32).reshape(rows, cols)
    grid = _grid(rows, cols)
    size = rf"{cols} x {rows} cells \(columns x rows\)"
    with pytest.raises(ValueError, match=rf"^The DEM is {size}; slope, aspect and curvature needs at least 3 x 3"):
        terrain_array(z, grid, ALL)
    path = write_raster(str(tmp_path / "tiny.tif"), z, grid)
    with pytest.raises(ValueError, match=rf"tiny\.tif: the DEM is {size}; .* needs at least 3 x 3 cells"):
        write_terrain(path, {"slope": str(tmp_path / "slope.tif"), "aspect": str(tmp_path / "aspect.tif")})
    assert os.listdir(tmp_path) == ["tiny.tif"]
    with pytest.raises(ValueError, match=rf"The DEM is {size}; flow routing, TWI and SPI needs at least 3 x 3 cells"):
        hydrology_from_dem(z, grid)
    for call in (lambda: fill_depressions(z), lambda: fill_depressions(z, epsilon=True),
                 lambda: epsilon_filled_dem(z)):
        with pytest.raises(ValueError, match=rf"The DEM is {size}; depression filling needs at least 3 x 3 cells"):
            call()
    with pytest.raises(ValueError, match="D8 flow directions needs at least 3 x 3 cells"):
        flow_directions_d8(z, 10.0, 10.0)
    with pytest.raises(ValueError, match=rf"The flow direction raster is {size}; flow accumulation needs at least"):
        d8_accumulation(np.full(z.shape, -1, np.int8))
    with pytest.raises(ValueError, match="flow accumulation needs at least 3 x 3 cells"):
        mfd_accumulation(z, 10.0, 10.0)


def test_the_smallest_dem_3_by_3_is_computed():
    grid = _grid(3, 3)
    x, y = np.meshgrid(*grid.centre_axes())
    out = terrain_array(0.1 * (x - x.mean()) + 0.2 * (y - y.mean()), grid, ["slope"])
    np.testing.assert_allclose(out["slope"], np.degrees(np.arctan(np.hypot(0.1, 0.2))), atol=1e-9)
    result = hydrology_from_dem(np.arange(9.0).reshape(3, 3), grid, outputs=["accumulation"])
    assert np.isfinite(result["accumulation"]).all()


def test_a_cell_without_any_valid_neighbour_gets_no_value(tmp_path):
    z = np.full((6, 7), np.nan)
    z[1, 1] = 100.0  # alone
    z[3:5, 4:6] = [[10.0, 11.0], [12.0, 14.0]]  # a group of four
    z[5, 0] = 50.0  # alone in a corner
    grid = _grid(6, 7)
    out = terrain_array(z, grid, ALL)
    for product in ALL:
        assert np.isnan(out[product][1, 1]) and np.isnan(out[product][5, 0]), product
        assert np.isfinite(out[product][3:5, 4:6]).all(), product
        assert np.isnan(out[product][np.isnan(z)]).all()
    path = write_raster(str(tmp_path / "dem.tif"), z, grid)
    write_terrain(path, {"slope": str(tmp_path / "slope.tif")}, block_rows=2)
    written = read_raster(str(tmp_path / "slope.tif")).band(0)
    np.testing.assert_array_equal(np.isnan(written), np.isnan(out["slope"]))
    twi = hydrology_from_dem(z, grid, outputs=["twi"])["twi"]
    assert np.isnan(twi[1, 1]) and np.isnan(twi[5, 0]) and np.isfinite(twi[3:5, 4:6]).all()


def test_an_all_nodata_dem_is_refused_and_nothing_is_written(tmp_path):
    grid = _grid(8, 9)
    z = np.full(grid.shape, -9999.0, np.float32)
    path = write_raster(str(tmp_path / "empty.tif"), z, grid)
    with pytest.raises(ValueError, match=r"empty\.tif: the DEM has no valid cell \(every cell is nodata, or has no "
                                         r"valid neighbour\); nothing was written"):
        write_terrain(path, {"slope": str(tmp_path / "slope.tif"), "total": str(tmp_path / "total.tif")},
                      block_rows=3)
    assert os.listdir(tmp_path) == ["empty.tif"]
    nan = np.full(grid.shape, np.nan)
    with pytest.raises(ValueError, match="The DEM has no valid cell: every cell is nodata"):
        hydrology_from_dem(z, grid)  # nodata given by the grid's value
    for call in (lambda: hydrology_from_dem(nan, grid, method="d8"), lambda: fill_depressions(nan),
                 lambda: epsilon_filled_dem(nan)):
        with pytest.raises(ValueError, match="The DEM has no valid cell: every cell is nodata"):
            call()


def test_a_failing_final_write_of_one_terrain_output_leaves_no_temporary_file(tmp_path, monkeypatch):
    grid = _grid(8, 9)
    path = write_raster(str(tmp_path / "dem.tif"), np.arange(72.0).reshape(8, 9), grid)
    renames = []
    replace = os.replace

    def second_rename_fails(source, target):
        renames.append(target)
        if len(renames) == 2:
            raise OSError(28, "No space left on device")
        replace(source, target)

    monkeypatch.setattr(rasters.os, "replace", second_rename_fails)
    with pytest.raises(RasterWriteError, match=r"Could not finish writing .*aspect\.tif"):
        write_terrain(path, {"slope": str(tmp_path / "slope.tif"), "aspect": str(tmp_path / "aspect.tif")})
    monkeypatch.undo()
    assert not [name for name in os.listdir(tmp_path) if ".tmp" in name]
