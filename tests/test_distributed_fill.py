"""Exact depression filling on a 2-worker x 1-thread Dask LocalCluster (issue 16): Barnes' three phases in tiles,
equal to the in-process `fill_depressions` and to subsidence:filldepressions' file cell for cell (np.array_equal) on
rough DEMs with many pits, a depression across many tiles spilling in a far one, nodata across tile edges and holes,
flat float32 bottoms with exact ties, tiles from 3 x 3 cells to the whole raster, integer, float64 and geographic
DEMs; the reduced tile graphs keep minimax levels; refusals; cancel leaves nothing."""
import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the optional extra requirements/distributed.txt "
                                                        "(dask[distributed], zarr) is not installed")

from osgeo import gdal  # noqa: E402
from scipy import sparse  # noqa: E402
from scipy.sparse.csgraph import connected_components  # noqa: E402

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg  # noqa: E402
from subsidence_plugin.core.io.rasters import NODATA, RasterReadError, write_raster  # noqa: E402
from subsidence_plugin.core.progress import Cancelled  # noqa: E402
from subsidence_plugin.core.terrain.fill import fill_depressions  # noqa: E402
from subsidence_plugin.scale.fill import distributed_fill, terminal_graph  # noqa: E402

TILE = (97, 131)


def _write(folder, name, z, geographic=False, dtype=None, crs=True):
    """``z`` (NaN = nodata) as a GeoTIFF of ``dtype`` (default its own) with nodata -9999."""
    rows, cols = z.shape
    wkt = crs_wkt_from_epsg(4326 if geographic else 25830) if crs else ""
    grid = RasterGrid.from_origin(-3.5, 40.2, 0.0005, cols, rows, wkt, NODATA) if geographic else \
        RasterGrid.from_origin(440000.0, 4450000.0, 10.0, cols, rows, wkt, NODATA)
    values = np.where(np.isnan(z), NODATA, z) if np.issubdtype(z.dtype, np.floating) else z
    return write_raster(os.path.join(folder, name), values, grid, dtype=dtype or z.dtype)


def _read(path):
    """A filled raster with NaN at nodata, and its GDAL type name."""
    dataset = gdal.Open(path)
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray()
    return np.where(values == NODATA, np.nan, values), gdal.GetDataTypeName(band.DataType)


def _assert_fills(client, folder, z, tile_shape, geographic=False, dtype=None):
    """The tiled fill of ``z`` equals the in-process one (the DEM as subsidence:filldepressions reads it)."""
    dem = _write(folder, "dem.tif", z, geographic, dtype)
    expected = fill_depressions(z if np.issubdtype(z.dtype, np.floating) else
                                np.where(z == NODATA, np.nan, z.astype(np.float64)))
    found, kind = _read(distributed_fill(client, dem, os.path.join(folder, "filled.tif"), tile_shape=tile_shape))
    assert kind == "Float64"
    assert np.array_equal(found, expected, equal_nan=True)
    return expected


def _rough(rows=300, cols=401, seed=5):
    """A random-walk surface (float32) with many pits."""
    rng = np.random.default_rng(seed)
    z = np.cumsum(rng.normal(0, 1, (rows, cols)), axis=0) + np.cumsum(rng.normal(0, 1, (rows, cols)), axis=1)
    return (z + 500.0).astype(np.float32)


def _with_nodata(z):
    """Nodata blocks across the tile edges at rows 97 / 194 and columns 131 / 262, a hole in the middle, a corner."""
    z = z.copy()
    z[90:100, 125:140] = np.nan  # across a tile corner
    z[194, :200] = np.nan  # on a tile edge
    z[150:230, 262] = np.nan
    z[140:151, 190:204] = np.nan  # a hole in the middle: an outlet
    z[:2, :2] = np.nan
    return z


def _minimax(first, second, levels, nodes):
    """Minimax level between every two nodes (inf when not connected, -inf from a node to itself): the lowest level
    at which scipy's connected components join them."""
    out = np.full((nodes, nodes), np.inf)
    for level in np.unique(levels)[::-1]:
        below = levels <= level
        graph = sparse.coo_matrix((np.ones(below.sum()), (first[below], second[below])), shape=(nodes, nodes))
        component = connected_components(graph, directed=False)[1]
        out[component[:, None] == component[None, :]] = level
    np.fill_diagonal(out, -np.inf)
    return out


def test_the_reduced_tile_graph_keeps_minimax_levels_between_terminals():
    rng = np.random.default_rng(3)
    for _ in range(40):
        nodes = int(rng.integers(4, 150))
        first, second = rng.integers(0, nodes, (2, int(rng.integers(1, 3 * nodes))))
        levels = rng.integers(0, 25, first.size).astype(np.float32)  # many ties
        terminal = rng.random(nodes) < 0.15
        terminal[-1] = True  # the outside
        reduced = terminal_graph(first, second, levels, terminal)
        kept = _minimax(*reduced, nodes)[np.ix_(terminal, terminal)]
        assert np.array_equal(kept, _minimax(first, second, levels, nodes)[np.ix_(terminal, terminal)])
        ends, degree = np.unique(np.concatenate(reduced[:2]), return_counts=True)
        assert ends.size < 2 * terminal.sum()
        assert (degree[~terminal[ends]] >= 3).all()  # no other leaf nor chain node is left


@pytest.mark.parametrize("geographic", [False, True], ids=["projected", "geographic"])
def test_a_rough_dem_with_nodata_across_tile_edges(client, tmp_path, geographic):
    z = _with_nodata(_rough())
    messages = []
    dem = _write(str(tmp_path), "dem.tif", z, geographic)
    found, _ = _read(distributed_fill(client, dem, str(tmp_path / "filled.tif"), tile_shape=TILE,
                                      progress=lambda percent, text: messages.append((percent, text))))
    expected = fill_depressions(z)
    assert np.array_equal(found, expected, equal_nan=True)
    assert (expected > z).sum() > 10000 and np.isnan(found).sum() == np.isnan(z).sum()
    assert messages[15] == (50.0, "16 of 16 tiles: basins and passes") and messages[-1] == (100.0, "16 of 16 tiles: "
                                                                                                   "filled")
    assert "LAYOUT=COG" in gdal.Info(str(tmp_path / "filled.tif"))


def test_a_depression_across_many_tiles_spills_in_a_far_tile(client, tmp_path):
    """A rough bowl over 5 x 5 tiles (its bottom in the middle one) whose rim is lowest in the far corner tile, and
    a walled basin across four tiles that drains into a hole."""
    rows, cols = 150, 200
    row, col = np.indices((rows, cols))
    z = np.hypot(row - 70.0, col - 90.0).astype(np.float32) * 0.1 + _rough(rows, cols, 7) * 0.05
    z = np.minimum(z, np.float32(40))
    z[[0, 1, 2, -3, -2, -1], :] = z[:, [0, 1, 2, -3, -2, -1]] = 60
    z[-3:, -3:] = 45  # the notch, in the far corner tile
    z[20:41, 30:51] = 60  # the wall
    z[21:40, 31:50] = np.minimum(z[21:40, 31:50], 30)
    z[22:24, 32:34] = np.nan  # the hole
    expected = _assert_fills(client, str(tmp_path), z, (30, 40))
    lake = np.ones(z.shape, dtype=bool)
    lake[:3], lake[-3:], lake[:, :3], lake[:, -3:], lake[20:41, 30:51] = False, False, False, False, False
    assert (expected[lake] == 45).all() and (z[lake] < 41).all()
    assert np.nanmax(expected[21:40, 31:50]) <= 30  # drains into the hole


def test_flat_float32_bottoms_with_exact_ties(client, tmp_path):
    z = np.maximum(np.round(_rough(200, 250, 9) / 4) * 4, np.float32(496)).astype(np.float32)
    z[60:140, 60:190] = np.float32(480.25)  # a flat bottom across tiles, below its rim
    assert np.unique(z).size < 200
    _assert_fills(client, str(tmp_path), z, TILE)


@pytest.mark.parametrize("tile_shape", [(3, 3), (4, 17), (31, 3), (31, 44)], ids=["3x3", "4x17", "31x3", "whole"])
def test_any_tiles_from_3x3_to_the_whole_raster(client, tmp_path, tile_shape):
    z = _rough(31, 44, 11)
    z[10:13, 20] = np.nan
    _assert_fills(client, str(tmp_path), z, tile_shape)


def test_integer_and_float64_dems(client, tmp_path):
    z = np.round(_rough(120, 90, 2) * 10).astype(np.int16)
    z[50:60, 40:45] = int(NODATA)
    _assert_fills(client, str(tmp_path / "int16"), z, (40, 33))
    precise = _rough(120, 90, 4).astype(np.float64) + 1e-9  # values float32 cannot hold
    precise[0, 5:30] = np.nan
    _assert_fills(client, str(tmp_path / "float64"), precise, (40, 33))
    with pytest.raises(ValueError, match="a Zarr store holds float32 .* write a GeoTIFF"):
        distributed_fill(client, str(tmp_path / "float64" / "dem.tif"), str(tmp_path / "filled.zarr"),
                         tile_shape=(40, 33))
    assert not os.path.exists(tmp_path / "filled.zarr")


def test_zarr_output_written_by_the_workers(client, tmp_path):
    z = _with_nodata(_rough())
    dem = _write(str(tmp_path), "dem.tif", z)
    store = distributed_fill(client, dem, str(tmp_path / "filled.zarr"), tile_shape=(100, 128))
    dataset = gdal.Open(f'ZARR:"{store}":/filled_dem')
    assert dataset.GetGeoTransform() == gdal.Open(dem).GetGeoTransform()
    found = dataset.ReadAsArray()
    assert np.array_equal(np.where(found == NODATA, np.nan, found), fill_depressions(z), equal_nan=True)
    assert sorted(os.listdir(tmp_path)) == ["dem.tif", "filled.zarr"]


def test_the_toolbox_algorithm_writes_the_same_file(provider, client, tmp_path):
    import processing

    dem = _write(str(tmp_path), "dem.tif", _with_nodata(_rough()))
    here = processing.run("subsidence:filldepressions", {"INPUT": dem, "OUTPUT": str(tmp_path / "here.tif")})
    there = distributed_fill(client, dem, str(tmp_path / "there.tif"), tile_shape=TILE)
    expected, found = gdal.Open(here["OUTPUT"]), gdal.Open(there)
    assert np.array_equal(found.ReadAsArray(), expected.ReadAsArray())
    for band in (expected.GetRasterBand(1), found.GetRasterBand(1)):
        assert (band.DataType, band.GetNoDataValue(), band.GetDescription()) == (gdal.GDT_Float64, NODATA,
                                                                                  "filled_dem")


def test_refusals_are_the_in_process_ones(client, tmp_path):
    small = _rough(2, 5)
    with pytest.raises(ValueError) as in_process:
        fill_depressions(small)
    with pytest.raises(ValueError, match="depression filling needs at least 3 x 3 cells") as tiled:
        distributed_fill(client, _write(str(tmp_path), "small.tif", small), str(tmp_path / "a.tif"))
    assert str(tiled.value) == str(in_process.value)
    empty = np.full((5, 6), np.nan, dtype=np.float32)
    with pytest.raises(ValueError) as in_process:
        fill_depressions(empty)
    with pytest.raises(ValueError, match="no valid cell") as tiled:
        distributed_fill(client, _write(str(tmp_path), "empty.tif", empty), str(tmp_path / "b.tif"), tile_shape=(3, 3))
    assert str(tiled.value) == str(in_process.value)
    with pytest.raises(RasterReadError, match="has no coordinate reference system"):
        distributed_fill(client, _write(str(tmp_path), "nocrs.tif", _rough(9, 9), crs=False), str(tmp_path / "c.tif"))
    assert sorted(os.listdir(tmp_path)) == ["empty.tif", "nocrs.tif", "small.tif"]


def test_an_input_the_workers_cannot_read_is_refused(client, tmp_path, only_here):
    """A raster in this process's memory (/vsimem/): readable here, not by the workers."""
    dem = only_here(_write(str(tmp_path), "dem.tif", _rough(20, 20)))
    with pytest.raises(ValueError, match="2 worker\\(s\\) cannot read the input .* does not exist there"):
        distributed_fill(client, dem, str(tmp_path / "filled.tif"))
    assert sorted(os.listdir(tmp_path)) == ["dem.tif"]


@pytest.mark.parametrize("calls", [2, 18], ids=["in phase 1", "in phase 3"])
def test_cancel_leaves_nothing(client, tmp_path, calls):
    dem = _write(str(tmp_path), "dem.tif", _with_nodata(_rough()))
    seen = []

    def cancel():
        seen.append(1)
        return len(seen) > calls

    with pytest.raises(Cancelled):
        distributed_fill(client, dem, str(tmp_path / "filled.tif"), tile_shape=TILE, is_cancelled=cancel)
    assert sorted(os.listdir(tmp_path)) == ["dem.tif"]


def test_toolbox_and_command_line_fill_on_a_scheduler(provider, client, tmp_path):
    import processing
    from subsidence_plugin.scale.__main__ import main

    rng = np.random.default_rng(8)
    z = (np.cumsum(rng.normal(0, 1, (150, 170)), axis=0) + 300.0).astype(np.float32)
    grid = RasterGrid.from_origin(440000.0, 4450000.0, 10.0, 170, 150, crs_wkt_from_epsg(25830), NODATA)
    dem = write_raster(str(tmp_path / "dem.tif"), z, grid)
    here = processing.run("subsidence:filldepressions", {"INPUT": dem, "OUTPUT": str(tmp_path / "here.tif")})
    there = processing.run("subsidence:filldepressions", {"INPUT": dem, "DASK_SCHEDULER": client.scheduler.address,
                                                          "OUTPUT": str(tmp_path / "there.tif")})
    expected = gdal.Open(here["OUTPUT"]).ReadAsArray()
    assert np.array_equal(gdal.Open(there["OUTPUT"]).ReadAsArray(), expected)
    assert main(["subsidence:filldepressions", "--scheduler", client.scheduler.address, "--tile", "64x64",
                 f"INPUT={dem}", f"OUTPUT={tmp_path / 'cli.tif'}"]) == 0
    assert np.array_equal(gdal.Open(str(tmp_path / "cli.tif")).ReadAsArray(), expected)
    assert main(["subsidence:filldepressions", "--local", "1", f"INPUT={dem}", "BAND=2",
                 f"OUTPUT={tmp_path / 'e.tif'}"]) == 2
