"""The plugin's terrain kernels on a 2-worker x 1-thread Dask LocalCluster (issue 16): odd tiles (97 x 131), nodata
touching tile edges, projected and geographic DEMs, every product equal to the in-process algorithm cell for cell
(np.array_equal); the command line; inputs the workers cannot read; cancel leaves nothing."""
import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the optional extra requirements/distributed.txt "
                                                        "(dask[distributed], zarr) is not installed")

from osgeo import gdal  # noqa: E402

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg  # noqa: E402
from subsidence_plugin.core.io.rasters import NODATA, write_raster  # noqa: E402
from subsidence_plugin.core.progress import Cancelled  # noqa: E402
from subsidence_plugin.core.terrain.derivatives import write_terrain  # noqa: E402
from subsidence_plugin.scale.__main__ import main  # noqa: E402
from subsidence_plugin.scale.cluster import check_workers_read  # noqa: E402
from subsidence_plugin.scale.terrain import distributed_terrain  # noqa: E402
from subsidence_plugin.scale.tiles import plan_tiles  # noqa: E402

PRODUCTS = ("slope", "slope_percent", "aspect", "total", "profile", "plan")
TILE = (97, 131)


def _dem(folder, name, geographic):
    """A rough 300 x 401 surface with nodata blocks across the tile edges at rows 97 / 194 and columns 131 / 262,
    and in a corner of the raster."""
    rng = np.random.default_rng(5)
    z = np.cumsum(rng.normal(0, 1, (300, 401)), axis=0) + np.cumsum(rng.normal(0, 1, (300, 401)), axis=1)
    z = (z + 500.0).astype(np.float32)
    z[90:100, 125:140] = NODATA  # across a tile corner
    z[194, :] = NODATA  # a whole row on a tile edge
    z[:, 262] = NODATA  # a whole column on a tile edge
    z[:2, :2] = NODATA
    if geographic:
        grid = RasterGrid.from_origin(-3.5, 40.2, 0.0005, 401, 300, crs_wkt_from_epsg(4326), NODATA)
    else:
        grid = RasterGrid.from_origin(440000.0, 4450000.0, 10.0, 401, 300, crs_wkt_from_epsg(25830), NODATA)
    return write_raster(os.path.join(folder, name), z, grid)


def _read(path):
    dataset = gdal.Open(path)
    return dataset.GetRasterBand(1).ReadAsArray()


def test_tiles_cover_the_raster_once_with_halos_inside():
    tiles = plan_tiles((300, 401), TILE, 1)
    cover = np.zeros((300, 401), dtype=int)
    for tile in tiles:
        cover[tile.row0:tile.row0 + tile.rows, tile.col0:tile.col0 + tile.cols] += 1
        row0, col0, rows, cols = tile.window
        assert row0 >= 0 and col0 >= 0 and row0 + rows <= 300 and col0 + cols <= 401
    assert (cover == 1).all() and len(tiles) == 4 * 4
    assert tiles[0].halo_top == 0 and tiles[0].halo_left == 0 and tiles[5].halo_top == 1


@pytest.mark.parametrize("geographic", [False, True], ids=["projected", "geographic"])
def test_terrain_equals_the_in_process_algorithm(client, tmp_path, geographic):
    dem = _dem(str(tmp_path), "dem.tif", geographic)
    local = {p: str(tmp_path / f"{p}.tif") for p in PRODUCTS}
    tiled = {p: str(tmp_path / f"{p}_dask.tif") for p in PRODUCTS}
    write_terrain(dem, local)
    messages = []
    distributed_terrain(client, dem, tiled, tile_shape=TILE, progress=lambda p, m: messages.append(m))
    for product in PRODUCTS:
        expected, found = _read(local[product]), _read(tiled[product])
        assert np.array_equal(expected, found), product
        assert (expected == NODATA).any() and (expected != NODATA).any()
    assert messages[-1] == "16 of 16 tiles"
    info = gdal.Info(tiled["slope"])
    assert "LAYOUT=COG" in info and "NoData Value=-9999" in info


def test_command_line(client, tmp_path, capsys):
    dem = _dem(str(tmp_path), "dem.tif", False)
    write_terrain(dem, {"slope": str(tmp_path / "slope.tif")})
    assert main(["subsidence:slope", "--local", "2", "--tile", "97x131", f"INPUT={dem}",
                 f"OUTPUT={tmp_path / 'slope_cli.tif'}"]) == 0
    assert np.array_equal(_read(str(tmp_path / "slope.tif")), _read(str(tmp_path / "slope_cli.tif")))
    assert "on 2 worker(s)" in capsys.readouterr().out
    assert main(["subsidence:slope", "--local", "1", f"INPUT={dem}", "METHOD=2"]) == 2
    assert "give NAME=VALUE with NAME one of BAND, INPUT, OUTPUT, OUTPUT_PERCENT" in capsys.readouterr().err
    assert main(["subsidence:kriging", "--local", "1", f"INPUT={dem}"]) == 2


def test_an_input_the_workers_cannot_read_is_refused(client, tmp_path):
    with pytest.raises(ValueError, match="2 worker\\(s\\) cannot read the input .* does not exist there"):
        check_workers_read(client, str(tmp_path / "only_on_my_laptop.tif"))


def test_cancel_leaves_nothing(client, tmp_path):
    dem = _dem(str(tmp_path), "dem.tif", False)
    seen = []

    def cancel_after_two():
        seen.append(1)
        return len(seen) > 2

    with pytest.raises(Cancelled):
        distributed_terrain(client, dem, {"slope": str(tmp_path / "slope.tif"), "aspect": str(tmp_path / "a.zarr")},
                            tile_shape=TILE, is_cancelled=cancel_after_two)
    assert sorted(os.listdir(tmp_path)) == ["dem.tif"]


def test_the_toolbox_algorithm_on_a_scheduler(provider, client, tmp_path):
    import processing

    dem = _dem(str(tmp_path), "dem.tif", False)
    here = processing.run("subsidence:slope", {"INPUT": dem, "OUTPUT": str(tmp_path / "here.tif")})
    there = processing.run("subsidence:slope", {"INPUT": dem, "DASK_SCHEDULER": client.scheduler.address,
                                                "OUTPUT": str(tmp_path / "there.tif")})
    assert np.array_equal(_read(here["OUTPUT"]), _read(there["OUTPUT"]))
    assert "LAYOUT=COG" in gdal.Info(there["OUTPUT"])



def _kriging_case():
    """3,000 points (some at the same position) over 2 x 1.5 km, a smooth field plus noise, and a grid of 97 x 131
    cells of 15 m that the points do not quite cover."""
    from subsidence_plugin.core.spatial.variogram import Variogram

    rng = np.random.default_rng(11)
    x, y = rng.uniform(0, 2000, 3000), rng.uniform(0, 1500, 3000)
    x[:20], y[:20] = x[20:40], y[20:40]
    z = 5 * np.sin(x / 300) + 3 * np.cos(y / 200) + rng.normal(0, 0.3, 3000)
    grid = RasterGrid.from_origin(-50.0, 1510.0, 15.0, 131, 97, crs_wkt_from_epsg(25830), NODATA)
    return x, y, z, grid, Variogram("spherical", 20.0, 600.0, 0.1)


def test_kriging_tiles_hold_every_cells_global_neighbours():
    from scipy.spatial import cKDTree

    from subsidence_plugin.core.spatial.interpolation import merge_duplicates
    from subsidence_plugin.scale.kriging import tile_points, tile_targets

    x, y, z, grid, _ = _kriging_case()
    x, y, z, _ = merge_duplicates(x, y, z)
    tree = cKDTree(np.column_stack([x, y]))
    k = 32
    for tile in plan_tiles(grid.shape, (20, 27), 0):
        members = tile_points(tree, grid, tile, k)
        tx, ty = tile_targets(grid, tile)
        _, global_idx = tree.query(np.column_stack([tx, ty]), k=k)
        _, local_idx = cKDTree(np.column_stack([x[members], y[members]])).query(np.column_stack([tx, ty]), k=k)
        assert np.array_equal(np.sort(members[local_idx], axis=1), np.sort(global_idx, axis=1))
        assert members.size < x.size  # a tile takes a part of the points, not all


def test_kriging_equals_the_in_process_kriging(client, tmp_path):
    from subsidence_plugin.core.spatial.interpolation import LocalKriging, interpolate_to_grid, merge_duplicates
    from subsidence_plugin.scale.kriging import _kriging_tile, _tiles_with_points, distributed_kriging

    x, y, z, grid, variogram = _kriging_case()
    kriging = LocalKriging(x, y, z, variogram, k=32)
    names = ["v_kriged", "v_kriging_variance"]
    local = interpolate_to_grid(lambda px, py: (lambda r: (r.values, r.variance))(kriging.predict(px, py)), grid,
                                str(tmp_path / "local.tif"), names)
    merged = distributed_kriging(client, x, y, z, variogram, grid, str(tmp_path / "dask.tif"), names, k=32,
                                 tile_shape=(20, 27))
    assert merged == 20
    expected, found = gdal.Open(local).ReadAsArray(), gdal.Open(str(tmp_path / "dask.tif")).ReadAsArray()
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=0)  # float32 rasters: an ulp at most
    distributed_kriging(client, x, y, z, variogram, grid, str(tmp_path / "dask.zarr"), names, k=32,
                        tile_shape=(20, 27))
    for index, band in enumerate(names):  # written by the workers
        assert np.array_equal(gdal.Open(f'ZARR:"{tmp_path / "dask.zarr"}":/{band}').ReadAsArray(), found[index])
    cx, cy = grid.centre_axes()
    whole = kriging.predict(np.tile(cx, grid.height), np.repeat(cy, grid.width))
    values = whole.values.reshape(grid.shape)
    variances = whole.variance.reshape(grid.shape)
    xm, ym, zm, _ = merge_duplicates(x, y, z)
    for item in _tiles_with_points(plan_tiles(grid.shape, (20, 27), 0), grid, xm, ym, zm, 32):
        tile = item[0]
        tile_values, tile_variance = client.submit(_kriging_tile, item, grid, variogram, 32, False).result()
        window = np.s_[tile.row0:tile.row0 + tile.rows, tile.col0:tile.col0 + tile.cols]
        assert np.abs(tile_values - values[window]).max() < 1e-10
        assert np.abs(tile_variance - variances[window]).max() < 1e-10


def test_toolbox_and_command_line_kriging(provider, client, sample_area, tmp_path):
    import processing

    points = f"{sample_area.vector_path}|layername=ps_points"
    dem = sample_area.rasters["dem"]
    common = {"INPUT": points, "FIELD": "velocity", "REFERENCE": dem, "VARIOGRAM": 1, "NEIGHBOURS": 16,
              "CV_POINTS": 200}
    here = processing.run("subsidence:kriging", {**common, "OUTPUT": str(tmp_path / "here.tif")})
    there = processing.run("subsidence:kriging", {**common, "DASK_SCHEDULER": client.scheduler.address,
                                                  "OUTPUT": str(tmp_path / "there.tif")})
    expected = gdal.Open(here["OUTPUT"]).ReadAsArray()
    np.testing.assert_allclose(gdal.Open(there["OUTPUT"]).ReadAsArray(), expected, rtol=1e-6, atol=1e-9)
    assert there["VARIOGRAM_MODEL"] == here["VARIOGRAM_MODEL"]
    assert main(["subsidence:kriging", "--scheduler", client.scheduler.address, f"INPUT={points}", "FIELD=velocity",
                 f"REFERENCE={dem}", "VARIOGRAM=1", "NEIGHBOURS=16", "CV_POINTS=200",
                 f"OUTPUT={tmp_path / 'cli.tif'}"]) == 0
    np.testing.assert_allclose(gdal.Open(str(tmp_path / "cli.tif")).ReadAsArray(), expected, rtol=1e-6, atol=1e-9)
    assert main(["subsidence:kriging", "--local", "1", f"INPUT={points}"]) == 2  # FIELD, REFERENCE, OUTPUT missing


def test_dense_cnn_equals_the_in_process_prediction(provider, client, tmp_path):
    """A patch CNN applied to a 300 x 401 stack with nodata across dense-tile edges: chunks of 1 x 1 and 2 x 2
    dense tiles of 256 cells give the same prediction and Monte Carlo dropout spread (np.array_equal), and the
    in-process run's to float32 round-off: torch's CPU convolutions may round the last bit differently with
    another number of threads (the workers run one), nothing else differs (the same tiles, windows and seeds)."""
    import processing

    from subsidence_plugin.core.ml.training import TrainingSettings
    from subsidence_plugin.core.surface.patch_cnn import (CnnSettings, model_description, save_patch_cnn,
                                                          train_surface_cnn)
    from subsidence_plugin.scale.surface import distributed_surface

    rng = np.random.default_rng(2)
    stack = rng.standard_normal((2, 300, 401)).astype(np.float32)
    stack[:, 250:262, 250:262] = NODATA
    grid = RasterGrid.from_origin(440000.0, 4450000.0, 30.0, 401, 300, crs_wkt_from_epsg(25830), NODATA)
    stack_path = write_raster(str(tmp_path / "stack.tif"), stack, grid, ["a", "b"])
    x, y = grid.cell_centres(rng.integers(0, 300, 200), rng.integers(0, 401, 200))
    settings = CnnSettings(patch_size=22, filters=(4, 8, 8), dense=(16, 8),
                           training=TrainingSettings(epochs=1, batch_size=32, seed=1))
    trained = train_surface_cnn(np.where(stack == NODATA, np.nan, stack), grid, x, y, rng.normal(0, 1, 200),
                                settings)
    model_path = str(tmp_path / "cnn.pt")
    save_patch_cnn(model_path, trained.model, model_description(trained, settings, ["a", "b"], grid, "v", "mm",
                                                                 "test"))
    here = processing.run("subsidence:applymodel", {"MODEL": model_path, "STACK": stack_path, "UNCERTAINTY": True,
                                                    "MC_SAMPLES": 3, "DEVICE": 3, "OUTPUT": str(tmp_path / "here.tif")})
    expected = gdal.Open(here["OUTPUT"]).ReadAsArray()
    assert (expected == NODATA).any()
    runs = []
    for chunk_tiles in (1, 2):
        out = str(tmp_path / f"dask_{chunk_tiles}.tif")
        distributed_surface(client, model_path, stack_path, out, mc_samples=3, chunk_tiles=chunk_tiles)
        runs.append(gdal.Open(out).ReadAsArray())
    assert np.array_equal(runs[0], runs[1])
    valid = expected != NODATA
    assert np.array_equal(runs[0] != NODATA, valid)
    np.testing.assert_allclose(runs[0][valid], expected[valid], rtol=1e-5, atol=1e-7)
    there = processing.run("subsidence:applymodel", {"MODEL": model_path, "STACK": stack_path, "UNCERTAINTY": True,
                                                     "MC_SAMPLES": 3, "DASK_SCHEDULER": client.scheduler.address,
                                                     "OUTPUT": str(tmp_path / "there.tif")})
    assert np.array_equal(gdal.Open(there["OUTPUT"]).ReadAsArray(), runs[0])
    assert main(["subsidence:applymodel", "--scheduler", client.scheduler.address, f"MODEL={model_path}",
                 f"STACK={stack_path}", "UNCERTAINTY=true", "MC_SAMPLES=3", f"OUTPUT={tmp_path / 'cli.tif'}"]) == 0
    assert np.array_equal(gdal.Open(str(tmp_path / "cli.tif")).ReadAsArray(), runs[0])
    bands = distributed_surface(client, model_path, stack_path, str(tmp_path / "cnn.zarr"), mc_samples=3)
    for index, band in enumerate(bands):  # written by the workers
        assert np.array_equal(gdal.Open(f'ZARR:"{tmp_path / "cnn.zarr"}":/{band}').ReadAsArray(), runs[0][index])


def test_zarr_outputs_written_by_the_workers(client, tmp_path):
    dem = _dem(str(tmp_path), "dem.tif", False)
    write_terrain(dem, {"slope": str(tmp_path / "slope.tif"), "aspect": str(tmp_path / "aspect.tif")})
    outputs = {"slope": str(tmp_path / "slope.zarr"), "aspect": str(tmp_path / "aspect.tif")}
    distributed_terrain(client, dem, outputs, tile_shape=TILE)
    zarr_slope = gdal.Open(f'ZARR:"{tmp_path / "slope.zarr"}":/slope')
    assert zarr_slope.GetGeoTransform() == gdal.Open(dem).GetGeoTransform()
    assert "ETRS89 / UTM zone 30N" in zarr_slope.GetProjection()
    assert np.array_equal(zarr_slope.ReadAsArray(), _read(str(tmp_path / "slope.tif")))
    assert np.array_equal(_read(outputs["aspect"]), _read(str(tmp_path / "aspect.tif")))
    assert not [name for name in os.listdir(tmp_path) if "tmp" in name or "tiles" in name]
