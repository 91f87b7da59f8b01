"""Slope, aspect and curvature against analytic surfaces, gdaldem, and through Processing."""
import subprocess

import numpy as np
import pytest

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import read_raster, write_raster
from subsidence_plugin.core.terrain.derivatives import (iter_terrain_rows, metric_cell_sizes, terrain_array,
                                                        write_terrain)

UTM = crs_wkt_from_epsg(32633)
ALL = ("slope", "slope_percent", "aspect", "total", "profile", "plan")


def _surface(fn, n=41, cell=10.0):
    grid = RasterGrid.from_origin(500000.0, 4000000.0 + n * cell, cell, n, n, UTM, -9999.0)
    x, y = np.meshgrid(*grid.centre_axes())
    x = x - x.mean()
    y = y - y.mean()
    return fn(x, y), grid, x, y


def test_plane_slope_and_aspect_everywhere_including_edges():
    z, grid, _, _ = _surface(lambda x, y: 0.1 * x + 0.2 * y)
    out = terrain_array(z, grid, ALL)
    np.testing.assert_allclose(out["slope"], np.degrees(np.arctan(np.hypot(0.1, 0.2))), atol=1e-9)
    np.testing.assert_allclose(out["slope_percent"], 100 * np.hypot(0.1, 0.2), atol=1e-9)
    np.testing.assert_allclose(out["aspect"], np.degrees(np.arctan2(-0.1, -0.2)) % 360, atol=1e-9)  # 206.57
    for kind in ("total", "profile", "plan"):
        np.testing.assert_allclose(out[kind], 0.0, atol=1e-9)


@pytest.mark.parametrize("gx,gy,expected", [(0, -1, 0.0), (-1, 0, 90.0), (0, 1, 180.0), (1, 0, 270.0),
                                            (-1, -1, 45.0)])
def test_aspect_compass_directions_and_flat(gx, gy, expected):
    z, grid, _, _ = _surface(lambda x, y: gx * x + gy * y, n=5)
    assert terrain_array(z, grid, ["aspect"])["aspect"][2, 2] == pytest.approx(expected)
    flat, grid, _, _ = _surface(lambda x, y: 0 * x + 7.0, n=5)
    assert np.all(terrain_array(flat, grid, ["aspect"])["aspect"] == -1)


def test_paraboloid_curvature_is_exact():
    a = 0.002
    z, grid, x, y = _surface(lambda x, y: a * (x * x + y * y))
    out = terrain_array(z, grid, ("total", "profile", "plan"))
    inner = (slice(1, -1), slice(1, -1))
    away = (np.hypot(x, y) > 1)[inner]
    np.testing.assert_allclose(out["total"][inner], -400 * a, rtol=1e-9)
    np.testing.assert_allclose(out["profile"][inner][away], -200 * a, rtol=1e-9)
    np.testing.assert_allclose(out["plan"][inner][away], 200 * a, rtol=1e-9)


def test_cone_curvature_matches_theory():
    s = 0.3
    z, grid, x, y = _surface(lambda x, y: s * np.hypot(x, y), n=81)
    out = terrain_array(z, grid, ("profile", "plan"))
    r = np.hypot(x, y)
    ring = (r > 100) & (r < 350)  # 10 to 35 cells from the apex, away from edges
    np.testing.assert_allclose(out["plan"][ring], 100 * s / r[ring], rtol=0.02)
    assert np.abs(out["profile"][ring]).max() < 0.02 * (100 * s / r[ring]).max()


def test_nodata_stays_nodata_and_neighbours_stay_exact():
    z, grid, _, _ = _surface(lambda x, y: 0.1 * x - 0.05 * y, n=15)
    z[7, 7] = -9999.0
    z[0, 3] = np.nan
    out = terrain_array(z, grid, ("slope", "aspect"))
    assert np.isnan(out["slope"][7, 7]) and np.isnan(out["slope"][0, 3])
    valid = ~np.isnan(out["slope"])
    np.testing.assert_allclose(out["slope"][valid], np.degrees(np.arctan(np.hypot(0.1, 0.05))), atol=1e-9)


def test_geographic_rows_get_their_own_metric_cell_size():
    wgs = crs_wkt_from_epsg(4326)
    grid = RasterGrid.from_origin(10.0, 61.0, 0.01, 20, 100, wgs, -9999.0)  # 60-61 N
    lx, ly = metric_cell_sizes(grid, np.arange(grid.height))
    equator = RasterGrid.from_origin(10.0, 0.005, 0.01, 2, 1, wgs)
    assert metric_cell_sizes(equator, np.array([0]))[0][0] == pytest.approx(1113.19, abs=0.01)  # WGS84 a*pi/180/100
    lat = 61.0 - 0.005 - 0.01 * np.arange(100)
    e2 = 0.00669437999014  # WGS84: N / M = (1 - e2 sin^2) / (1 - e2)
    sin2 = np.sin(np.radians(lat)) ** 2
    np.testing.assert_allclose(lx / ly, np.cos(np.radians(lat)) * (1 - e2 * sin2) / (1 - e2), rtol=1e-9)
    # z rising 1 m per 100 m to the north: slope is atan(0.01) on every row despite degrees
    _, ys = grid.centre_axes()
    north_m = np.cumsum(np.r_[0.0, ly[:-1]])[::-1]
    z = np.repeat((0.01 * north_m)[:, None], grid.width, axis=1)
    slope = terrain_array(z, grid, ["slope"])["slope"]
    np.testing.assert_allclose(slope[2:-2, :], np.degrees(np.arctan(0.01)), rtol=2e-4)


def test_streamed_blocks_equal_in_memory_and_gdaldem(tmp_path, sample_area):
    dem = sample_area.rasters["dem"]
    outputs = {k: str(tmp_path / f"{k}.tif") for k in ("slope", "aspect", "total")}
    write_terrain(dem, outputs, block_rows=13)
    raster = read_raster(dem)
    memory = terrain_array(raster.array[0], raster.grid, list(outputs))
    for k, path in outputs.items():
        written = read_raster(path)
        assert written.grid.same_as(raster.grid) and written.grid.nodata == -9999.0
        np.testing.assert_allclose(written.band(0), memory[k].astype(np.float32), rtol=0, atol=0)
    for kind in ("slope", "aspect"):
        subprocess.run(["gdaldem", kind, dem, str(tmp_path / f"gdal_{kind}.tif"), "-q"], check=True)
    inner = (slice(1, -1), slice(1, -1))
    ours_slope = read_raster(outputs["slope"]).band(0)[inner]
    gdal_slope = read_raster(str(tmp_path / "gdal_slope.tif")).band(0)[inner]
    assert np.nanmax(np.abs(ours_slope - gdal_slope)) < 1e-3
    diff = np.abs(read_raster(outputs["aspect"]).band(0)[inner] - read_raster(str(tmp_path / "gdal_aspect.tif")).band(0)[inner])
    diff = np.minimum(diff, 360 - diff)
    assert np.nanmax(diff[ours_slope > 1.0]) < 0.01  # below 1 degree gdaldem's float32 arithmetic dominates


def test_row_blocks_equal_the_whole_array(sample_area):
    raster = read_raster(sample_area.rasters["dem"])
    whole = terrain_array(raster.array[0], raster.grid, ALL)
    for start, blocks in iter_terrain_rows(raster.array[0], raster.grid, ALL, block_rows=7):
        for k, v in blocks.items():
            np.testing.assert_array_equal(v, whole[k][start:start + v.shape[0]])


def test_dem_without_crs_is_refused(tmp_path):
    path = write_raster(str(tmp_path / "nocrs.tif"), np.ones((5, 5), np.float32), RasterGrid.from_origin(0, 5, 1, 5, 5))
    with pytest.raises(ValueError):
        write_terrain(path, {"slope": str(tmp_path / "s.tif")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nocrs.tif"]


