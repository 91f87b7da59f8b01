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
from subsidence_plugin.scale.cluster import dask_client  # noqa: E402
from subsidence_plugin.scale.terrain import check_workers_read, distributed_terrain  # noqa: E402
from subsidence_plugin.scale.tiles import plan_tiles  # noqa: E402

PRODUCTS = ("slope", "slope_percent", "aspect", "total", "profile", "plan")
TILE = (97, 131)


@pytest.fixture(scope="module")
def client():
    with dask_client(local=2) as dask:
        yield dask


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
        distributed_terrain(client, dem, {"slope": str(tmp_path / "slope.tif")}, tile_shape=TILE,
                            is_cancelled=cancel_after_two)
    assert sorted(os.listdir(tmp_path)) == ["dem.tif"]


def test_the_toolbox_algorithm_on_a_scheduler(provider, client, tmp_path):
    import processing

    dem = _dem(str(tmp_path), "dem.tif", False)
    here = processing.run("subsidence:slope", {"INPUT": dem, "OUTPUT": str(tmp_path / "here.tif")})
    there = processing.run("subsidence:slope", {"INPUT": dem, "DASK_SCHEDULER": client.scheduler.address,
                                                "OUTPUT": str(tmp_path / "there.tif")})
    assert np.array_equal(_read(here["OUTPUT"]), _read(there["OUTPUT"]))
    assert "LAYOUT=COG" in gdal.Info(there["OUTPUT"])

