"""D8 flow accumulation and the epsilon fill on a 2-worker x 1-thread Dask LocalCluster (issue 16): the fill by
Barnes (2016), the flats' breadth-first distances exchanged across tile edges until they settle, the directions per
tile and the accumulation by Barnes (2017)'s three phases, equal to the in-process results cell for cell
(np.array_equal) on rough DEMs with nodata across tile edges, a filled lake and a plateau across many tiles, wide
terraces, tiles from 4 x 5 cells to the whole raster, projected, geographic and integer DEMs; MFD in rounds, equal to
round-off; the toolbox algorithms and the command line on a scheduler; refusals; cancel leaves nothing."""
import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed", reason="the optional extra requirements/distributed.txt "
                                                        "(dask[distributed], zarr) is not installed")

from osgeo import gdal  # noqa: E402
from scipy import ndimage  # noqa: E402

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg  # noqa: E402
from subsidence_plugin.core.io.rasters import NODATA, RasterReadError, write_raster  # noqa: E402
from subsidence_plugin.core.progress import Cancelled  # noqa: E402
from subsidence_plugin.core.terrain.fill import fill_depressions  # noqa: E402
from subsidence_plugin.core.terrain.indices import hydrology_from_dem  # noqa: E402
from subsidence_plugin.scale.flow import Layout, distributed_epsilon_fill, distributed_flow_accumulation  # noqa: E402

TILE = (97, 131)


def _grid(shape, geographic=False, crs=True):
    rows, cols = shape
    wkt = crs_wkt_from_epsg(4326 if geographic else 25830) if crs else ""
    return RasterGrid.from_origin(-3.5, 40.2, 0.0005, cols, rows, wkt, NODATA) if geographic else \
        RasterGrid.from_origin(440000.0, 4450000.0, 10.0, cols, rows, wkt, NODATA)


def _write(folder, z, geographic=False, name="dem.tif"):
    values = np.where(np.isnan(z), NODATA, z) if np.issubdtype(z.dtype, np.floating) else z
    return write_raster(os.path.join(folder, name), values, _grid(z.shape, geographic), dtype=z.dtype)


def _read(path):
    dataset = gdal.Open(path)  # kept while its band is read
    values = dataset.GetRasterBand(1).ReadAsArray()
    return np.where(values == NODATA, np.nan, values)


def _assert_flows(client, folder, z, tile_shape, geographic=False):
    """The tiled accumulation and SCA of ``z`` equal the in-process ones as subsidence:flowaccumulation writes them
    (float32); returns the rounds of flat distances."""
    dem = _write(folder, z, geographic)
    values = z if np.issubdtype(z.dtype, np.floating) else np.where(z == NODATA, np.nan, z.astype(np.float64))
    expected = hydrology_from_dem(values, _grid(z.shape, geographic), method="d8", outputs=["accumulation", "sca"])
    outputs = {"accumulation": os.path.join(folder, "accumulation.tif"), "sca": os.path.join(folder, "sca.tif")}
    rounds = distributed_flow_accumulation(client, dem, outputs, tile_shape=tile_shape)["rounds"]
    for product, path in outputs.items():
        assert np.array_equal(_read(path), expected[product].astype(np.float32), equal_nan=True), product
    return rounds


def _assert_mfd(client, folder, z, tile_shape, geographic=False):
    """The tiled MFD accumulation and SCA of ``z`` equal the in-process ones (float32 files) but for the order of
    the floating-point sums; returns the rounds of flow."""
    dem = _write(folder, z, geographic)
    expected = hydrology_from_dem(z, _grid(z.shape, geographic), method="mfd", outputs=["accumulation", "sca"])
    outputs = {"accumulation": os.path.join(folder, "mfd.tif"), "sca": os.path.join(folder, "mfd_sca.tif")}
    rounds = distributed_flow_accumulation(client, dem, outputs, tile_shape=tile_shape, method="mfd")["flow rounds"]
    for product, path in outputs.items():
        found, wanted = _read(path), expected[product].astype(np.float32)
        np.testing.assert_allclose(found, wanted, rtol=1e-6, err_msg=product)
        assert np.array_equal(np.isnan(found), np.isnan(wanted))
        assert np.mean(found[~np.isnan(found)] == wanted[~np.isnan(wanted)]) > 0.99
    return rounds


def _rough(rows=300, cols=401, seed=5):
    """A random-walk surface rounded to 0.5 m (float32): many pits, filled lakes and ties."""
    rng = np.random.default_rng(seed)
    z = np.cumsum(rng.normal(0, 1, (rows, cols)), axis=0) + np.cumsum(rng.normal(0, 1, (rows, cols)), axis=1)
    return (np.round(z * 2) / 2 + 500.0).astype(np.float32)


def _with_nodata(z):
    z = z.copy()
    z[90:100, 125:140] = np.nan  # across a tile corner
    z[194, :200] = np.nan  # on a tile edge
    z[140:151, 190:204] = np.nan  # a hole: an outlet
    z[:2, :2] = np.nan
    return z


def _lake_and_plateau(rows=180, cols=220):
    """A cone around a flat-bottomed depression across many tiles, drained by a channel to the west edge, and a
    stepped plateau whose flat top lies across tiles: flats whose distances to their way out and to higher terrain
    cross tile edges."""
    row, col = np.indices((rows, cols))
    z = (np.hypot(row - rows / 2, col - cols / 2) * 0.5 + 20).astype(np.float32)
    z[rows // 4:3 * rows // 4, cols // 4:3 * cols // 4] = 5.0
    z[rows // 2, :cols // 4] = 3.0
    z[10:50, 10:60] = 60.0
    z[20:40, 25:45] = 70.0
    z[0, :] = 100.0
    return z


def _terraces(rows, cols, seed):
    """Wide flat terraces at a few levels (a median-filtered random field), with plateaus and flats joined through
    their low edges."""
    rng = np.random.default_rng(seed)
    return ndimage.median_filter(np.round(rng.random((rows, cols)) * 3).astype(np.float32) * 10, 9)


def test_the_layout_joins_a_thin_last_row_or_column_of_tiles():
    layout = Layout((100, 101), (33, 50))
    assert layout.row_starts.tolist() == [0, 33, 66, 100] and layout.col_starts.tolist() == [0, 50, 101]
    assert [(t.row0, t.col0, t.rows, t.cols) for t in layout.tiles][-2:] == [(66, 0, 34, 50), (66, 50, 34, 51)]
    assert sorted(layout.neighbours(layout.tiles[0])) == [(0, 1), (1, 0), (1, 1)]
    assert layout.tile_index(np.array([0, 99, 40]), np.array([0, 100, 50])).tolist() == [0, 5, 3]
    with pytest.raises(ValueError, match="tiles of at least 3 x 3 cells"):
        Layout((100, 100), (2, 50))


@pytest.mark.parametrize("geographic", [False, True], ids=["projected", "geographic"])
def test_a_rough_dem_with_nodata_across_tile_edges(client, tmp_path, geographic):
    z = _with_nodata(_rough())
    assert _assert_flows(client, str(tmp_path), z, TILE, geographic) >= 2


def test_a_lake_and_a_plateau_across_many_tiles(client, tmp_path):
    z = _lake_and_plateau()
    rounds = _assert_flows(client, str(tmp_path), z, (37, 41))
    assert rounds >= 3  # the lake's distances cross several tile edges
    surface = fill_depressions(z, epsilon=True)
    filled = fill_depressions(z)
    raised = surface > filled  # the flat gradient, in units in the last place
    assert raised[:, [41, 82, 123, 164]].sum() > 100 and raised[[37, 74, 111, 148], :].sum() > 100
    messages = []
    result = distributed_epsilon_fill(client, _write(str(tmp_path), z, name="lake.tif"),
                                      str(tmp_path / "surface.tif"), tile_shape=(37, 41),
                                      progress=lambda percent, text: messages.append((percent, text)))
    assert result["rounds"] == rounds
    assert np.array_equal(_read(str(tmp_path / "surface.tif")), surface, equal_nan=True)
    assert messages[-1] == (100.0, "30 of 30 tiles written")


@pytest.mark.parametrize("shape, tile_shape", [((160, 170), (23, 31)), ((40, 50), (4, 5)), ((60, 70), (60, 70))],
                         ids=["23x31", "4x5", "whole"])
def test_terraces_in_any_tiles(client, tmp_path, shape, tile_shape):
    _assert_flows(client, str(tmp_path), _terraces(*shape, seed=shape[0]), tile_shape)


def test_mfd_in_rounds(client, tmp_path):
    assert _assert_mfd(client, str(tmp_path / "rough"), _with_nodata(_rough()), TILE) >= 3
    assert _assert_mfd(client, str(tmp_path / "lake"), _lake_and_plateau(90, 110), (40, 50)) >= 5
    _assert_mfd(client, str(tmp_path / "terraces"), _terraces(60, 70, 3), (13, 17), geographic=True)


def test_an_integer_dem(client, tmp_path):
    z = np.round(_rough(120, 90, 2) * 2).astype(np.int16)
    z[50:60, 40:45] = int(NODATA)
    _assert_flows(client, str(tmp_path), z, (40, 33))


def test_zarr_outputs_written_by_the_workers(client, tmp_path):
    z = _with_nodata(_rough())
    dem = _write(str(tmp_path), z)
    distributed_flow_accumulation(client, dem, {"accumulation": str(tmp_path / "accumulation.zarr")},
                                  tile_shape=(100, 128))
    dataset = gdal.Open(f'ZARR:"{tmp_path / "accumulation.zarr"}":/accumulation')
    assert dataset.GetGeoTransform() == gdal.Open(dem).GetGeoTransform()
    expected = hydrology_from_dem(z, _grid(z.shape), method="d8", outputs=["accumulation"])["accumulation"]
    found = dataset.ReadAsArray()
    assert np.array_equal(np.where(found == NODATA, np.nan, found), expected.astype(np.float32), equal_nan=True)
    assert sorted(os.listdir(tmp_path)) == ["accumulation.zarr", "dem.tif"]


def test_refusals(client, tmp_path, only_here):
    precise = _rough(40, 50, 4).astype(np.float64) + 1e-9  # values float32 cannot hold
    dem = _write(str(tmp_path), precise)
    with pytest.raises(ValueError, match="values float32 cannot hold exactly.*run it in process"):
        distributed_flow_accumulation(client, dem, {"accumulation": str(tmp_path / "a.tif")}, tile_shape=(20, 20))
    with pytest.raises(ValueError, match="a Zarr store holds float32, which loses the epsilon gradient"):
        distributed_epsilon_fill(client, dem, str(tmp_path / "b.zarr"))
    with pytest.raises(ValueError, match="Choose outputs among"):
        distributed_flow_accumulation(client, dem, {"twi": str(tmp_path / "c.tif")})
    small = _write(str(tmp_path), _rough(2, 5), name="small.tif")
    with pytest.raises(ValueError, match="flow routing, TWI and SPI needs at least 3 x 3 cells"):
        distributed_flow_accumulation(client, small, {"accumulation": str(tmp_path / "d.tif")})
    empty = np.full((6, 7), np.nan, dtype=np.float32)
    with pytest.raises(ValueError) as in_process:
        hydrology_from_dem(empty, _grid(empty.shape), method="d8")
    with pytest.raises(ValueError, match="no valid cell") as tiled:
        distributed_flow_accumulation(client, _write(str(tmp_path), empty, name="empty.tif"),
                                      {"accumulation": str(tmp_path / "e.tif")}, tile_shape=(3, 3))
    assert str(tiled.value) == str(in_process.value)
    values = np.where(np.isnan(_rough(9, 9)), NODATA, _rough(9, 9))
    nocrs = write_raster(str(tmp_path / "nocrs.tif"), values, _grid((9, 9), crs=False), dtype=np.float32)
    with pytest.raises(RasterReadError, match="has no coordinate reference system"):
        distributed_flow_accumulation(client, nocrs, {"accumulation": str(tmp_path / "f.tif")})
    with pytest.raises(ValueError, match="2 worker\\(s\\) cannot read the input"):
        distributed_epsilon_fill(client, only_here(dem), str(tmp_path / "g.tif"))
    assert sorted(os.listdir(tmp_path)) == ["dem.tif", "empty.tif", "nocrs.tif", "small.tif"]


@pytest.mark.parametrize("calls", [3, 100, 270], ids=["in the fill", "in the flat distances", "in the accumulation"])
def test_cancel_leaves_nothing(client, tmp_path, calls):
    dem = _write(str(tmp_path), _lake_and_plateau())
    seen = []

    def cancel():
        seen.append(1)
        return len(seen) > calls

    with pytest.raises(Cancelled):
        distributed_flow_accumulation(client, dem, {"accumulation": str(tmp_path / "a.tif")}, tile_shape=(37, 41),
                                      is_cancelled=cancel)
    assert sorted(os.listdir(tmp_path)) == ["dem.tif"]


def test_toolbox_and_command_line_on_a_scheduler(provider, client, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    from subsidence_plugin.scale.__main__ import main

    z = _with_nodata(_rough(200, 230, 12))
    dem = _write(str(tmp_path), z)
    address = client.scheduler.address
    here = processing.run("subsidence:flowaccumulation", {"INPUT": dem, "METHOD": 1, "OUTPUT": str(tmp_path / "h.tif"),
                                                          "OUTPUT_SCA": str(tmp_path / "hs.tif")})
    there = processing.run("subsidence:flowaccumulation", {"INPUT": dem, "METHOD": 1, "DASK_SCHEDULER": address,
                                                           "OUTPUT": str(tmp_path / "t.tif"),
                                                           "OUTPUT_SCA": str(tmp_path / "ts.tif")})
    for key in ("OUTPUT", "OUTPUT_SCA"):
        expected, found = gdal.Open(here[key]), gdal.Open(there[key])
        assert np.array_equal(found.ReadAsArray(), expected.ReadAsArray())
        assert found.GetRasterBand(1).GetDescription() == expected.GetRasterBand(1).GetDescription()
    mfd_here = processing.run("subsidence:flowaccumulation", {"INPUT": dem, "OUTPUT": str(tmp_path / "mh.tif")})
    mfd_there = processing.run("subsidence:flowaccumulation", {"INPUT": dem, "DASK_SCHEDULER": address,
                                                               "OUTPUT": str(tmp_path / "mt.tif")})
    np.testing.assert_allclose(_read(mfd_there["OUTPUT"]), _read(mfd_here["OUTPUT"]), rtol=1e-6)
    with pytest.raises(QgsProcessingException, match="has values float32 cannot hold exactly"):
        processing.run("subsidence:flowaccumulation", {
            "INPUT": _write(str(tmp_path), _rough(30, 40).astype(np.float64) + 1e-9, name="precise.tif"),
            "DASK_SCHEDULER": address, "OUTPUT": str(tmp_path / "p.tif")})
    filled = processing.run("subsidence:filldepressions", {"INPUT": dem, "EPSILON": True,
                                                           "OUTPUT": str(tmp_path / "fh.tif")})
    tiled = processing.run("subsidence:filldepressions", {"INPUT": dem, "EPSILON": True, "DASK_SCHEDULER": address,
                                                          "OUTPUT": str(tmp_path / "ft.tif")})
    assert np.array_equal(gdal.Open(tiled["OUTPUT"]).ReadAsArray(), gdal.Open(filled["OUTPUT"]).ReadAsArray())
    assert main(["subsidence:flowaccumulation", "--scheduler", address, "--tile", "64x80", f"INPUT={dem}",
                 "METHOD=1", f"OUTPUT={tmp_path / 'cli.tif'}"]) == 0
    assert np.array_equal(gdal.Open(str(tmp_path / "cli.tif")).ReadAsArray(), gdal.Open(here["OUTPUT"]).ReadAsArray())
    assert main(["subsidence:flowaccumulation", "--scheduler", address, f"INPUT={dem}",
                 f"OUTPUT={tmp_path / 'mfd.tif'}"]) == 0
    np.testing.assert_allclose(_read(str(tmp_path / "mfd.tif")), _read(mfd_here["OUTPUT"]), rtol=1e-6)
    assert main(["subsidence:flowaccumulation", "--scheduler", address, f"INPUT={dem}", "METHOD=2",
                 f"OUTPUT={tmp_path / 'other.tif'}"]) == 2
    assert main(["subsidence:filldepressions", "--scheduler", address, "--tile", "64x80", f"INPUT={dem}",
                 "EPSILON=true", f"OUTPUT={tmp_path / 'cli_filled.tif'}"]) == 0
    assert np.array_equal(gdal.Open(str(tmp_path / "cli_filled.tif")).ReadAsArray(),
                          gdal.Open(filled["OUTPUT"]).ReadAsArray())
