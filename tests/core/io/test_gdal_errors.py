"""GDAL's error mode is the whole process's (other plugins rely on theirs): the plugin switches exceptions on
only while its own calls run."""
import subprocess
import sys

import pytest
from osgeo import gdal, ogr, osr

from subsidence_plugin.core.io.gdal_errors import gdal_exceptions, raising_gdal_errors
from subsidence_plugin.core.io.rasters import RasterReadError, iter_blocks, open_raster, read_raster, write_raster


@pytest.fixture
def process_without_exceptions():
    """The process's default mode (GDAL < 4 returns None on errors) for one test; a test oracle (richdem)
    switches exceptions on at import, so the earlier mode is put back afterwards."""
    modules = (gdal, ogr, osr)
    previous = [m.GetUseExceptions() for m in modules]
    for module, used in reversed(list(zip(modules, previous))):
        if used:
            module.DontUseExceptions()
    yield
    for module, used in zip(modules, previous):
        if used:
            module.UseExceptions()


def test_importing_every_core_module_leaves_the_error_mode_alone():
    code = ("import pathlib, importlib\n"
            "from osgeo import gdal, ogr, osr\n"
            "root = pathlib.Path('subsidence_plugin/core')\n"
            "for path in sorted(root.rglob('*.py')):\n"
            "    importlib.import_module('.'.join(path.with_suffix('').parts).removesuffix('.__init__'))\n"
            "print(gdal.GetUseExceptions(), ogr.GetUseExceptions(), osr.GetUseExceptions())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0", "0"]


def test_plugin_calls_raise_and_restore_the_mode(tmp_path, process_without_exceptions):
    from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg

    assert not gdal.GetUseExceptions()
    with pytest.raises(RasterReadError):
        open_raster(str(tmp_path / "missing.tif"))
    assert not gdal.GetUseExceptions() and not ogr.GetUseExceptions()
    grid = RasterGrid.from_origin(0.0, 100.0, 10.0, 10, 10, crs_wkt_from_epsg(32633))
    import numpy as np

    path = write_raster(str(tmp_path / "a.tif"), np.ones((10, 10), np.float32), grid)
    blocks = iter_blocks(path, block_rows=3)
    next(blocks)
    assert not gdal.GetUseExceptions()  # not left on between the steps of a generator
    assert read_raster(path).band(0).sum() == 100 and not gdal.GetUseExceptions()
    assert gdal.Open(str(tmp_path / "missing.tif")) is None  # the process's own mode still answers None


def test_nested_scopes_and_a_process_that_uses_exceptions(process_without_exceptions):
    @raising_gdal_errors
    def inner():
        return gdal.GetUseExceptions()

    with gdal_exceptions():
        assert inner() == 1 and gdal.GetUseExceptions() == 1
    assert gdal.GetUseExceptions() == 0
    gdal.UseExceptions()
    try:
        assert inner() == 1 and gdal.GetUseExceptions() == 1
    finally:
        gdal.DontUseExceptions()
