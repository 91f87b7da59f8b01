import os

import numpy as np
import pytest
from osgeo import gdal

from subsidence_plugin.core.io import rasters
from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import (RasterReadError, RasterWriteError, RasterWriter, iter_blocks, read_grid,
                                               read_raster, write_raster)

UTM = crs_wkt_from_epsg(32633)


def _grid(width=37, height=29, nodata=-9999.0):
    return RasterGrid.from_origin(500000.0, 4100000.0, 25.0, width, height, UTM, nodata)


def test_round_trip_keeps_grid_nodata_band_names_and_values(tmp_path):
    grid = _grid()
    rng = np.random.default_rng(0)
    data = rng.normal(size=(2,) + grid.shape).astype(np.float32)
    data[0, 3, 4] = np.nan
    path = write_raster(str(tmp_path / "r.tif"), data, grid, ["slope_deg", "aspect_deg"])
    raster = read_raster(path)
    assert raster.grid.same_as(grid)
    assert raster.grid.geotransform == grid.geotransform
    assert raster.grid.nodata == -9999.0
    assert raster.band_names == ["slope_deg", "aspect_deg"]
    assert raster.array[0, 3, 4] == -9999.0
    assert np.isnan(raster.band(0)[3, 4])
    assert raster.valid[0].sum() == grid.width * grid.height - 1
    np.testing.assert_array_equal(raster.band(1), data[1])
    ds = gdal.Open(path)
    structure = ds.GetMetadata("IMAGE_STRUCTURE")
    assert structure["COMPRESSION"] == "DEFLATE"
    assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]


def test_integer_raster_with_nan_needs_and_uses_nodata(tmp_path):
    grid = _grid(nodata=255)
    values = np.full(grid.shape, 3.0)
    values[0, 0] = np.nan
    path = write_raster(str(tmp_path / "c.tif"), values, grid, dtype=np.uint8)
    raster = read_raster(path)
    assert raster.array.dtype == np.uint8 and raster.array[0, 0, 0] == 255 and raster.array[0, 1, 1] == 3
    with pytest.raises(ValueError, match="nodata"):
        write_raster(str(tmp_path / "d.tif"), values, grid.with_nodata(None), dtype=np.uint8)


def test_blocks_with_halo_cover_the_raster(tmp_path):
    grid = _grid(width=50, height=103)
    data = np.arange(grid.width * grid.height, dtype=np.float32).reshape(grid.shape)
    path = write_raster(str(tmp_path / "b.tif"), data, grid)
    rows = []
    for block in iter_blocks(path, block_rows=20, halo=2):
        top = block.row0 - block.halo_top
        np.testing.assert_array_equal(block.data, data[top:top + block.data.shape[0]])
        rows.append(block.core)
        assert block.halo_top == min(2, block.row0)
    np.testing.assert_array_equal(np.vstack(rows), data)


def test_writer_is_atomic(tmp_path):
    grid = _grid()
    target = tmp_path / "out.tif"
    with pytest.raises(RuntimeError):
        with RasterWriter(str(target), grid) as writer:
            writer.write(np.zeros((10, grid.width), np.float32), row0=0)
            raise RuntimeError("cancelled half-way")
    assert os.listdir(tmp_path) == []
    with RasterWriter(str(target), grid, band_names=["v"]) as writer:
        for row0 in range(0, grid.height, 10):
            rows = min(10, grid.height - row0)
            writer.write(np.full((rows, grid.width), row0, np.float32), row0=row0)
    assert os.listdir(tmp_path) == ["out.tif"]
    assert read_raster(str(target)).array[0, 25, 0] == 20


def test_a_failing_final_flush_removes_the_temporary_file(tmp_path, monkeypatch):
    """Disk full while the last blocks are flushed: a RasterWriteError naming the file, nothing left behind."""
    grid = _grid()
    target = tmp_path / "out.tif"

    def disk_full(self):
        raise RuntimeError("out.tif: No space left on device")

    monkeypatch.setattr(gdal.Dataset, "FlushCache", disk_full)
    with pytest.raises(RasterWriteError, match=r"Could not finish writing .*out.tif: .*No space left on device\. Is "
                                               "the disk full"):
        with RasterWriter(str(target), grid) as writer:
            writer.write(np.zeros(grid.shape, np.float32))
    assert os.listdir(tmp_path) == []
    assert issubclass(RasterWriteError, ValueError)


def test_a_failing_rename_removes_the_temporary_file(tmp_path, monkeypatch):
    grid = _grid()
    target = tmp_path / "out.tif"
    writer = RasterWriter(str(target), grid)
    writer.write(np.ones(grid.shape, np.float32))

    def no_rename(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rasters.os, "replace", no_rename)
    with pytest.raises(RasterWriteError, match="Could not finish writing .*out.tif"):
        writer.close()
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_bad_rasters_are_named_in_the_error(tmp_path):
    with pytest.raises(RasterReadError, match="not found: .*missing.tif"):
        read_raster(str(tmp_path / "missing.tif"))
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    with pytest.raises(RasterReadError, match="notes.tif"):
        read_raster(str(text))
    no_crs = write_raster(str(tmp_path / "nocrs.tif"), np.ones((4, 4), np.float32),
                          RasterGrid.from_origin(0, 4, 1, 4, 4))
    with pytest.raises(RasterReadError, match="nocrs.tif has no coordinate reference system"):
        read_grid(no_crs)
    assert read_grid(no_crs, require_crs=False).crs_wkt == ""
    with pytest.raises(RasterReadError, match="band"):
        read_raster(no_crs, bands=[2], require_crs=False)
