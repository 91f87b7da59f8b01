"""The hydrology Processing algorithms write what the core computes, styled, with nodata and bad input handled."""
import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsRasterLayer

from subsidence_plugin.core.io.grid import RasterGrid
from subsidence_plugin.core.io.rasters import read_raster, write_raster
from subsidence_plugin.core.terrain.fill import fill_depressions
from subsidence_plugin.core.terrain.indices import hydrology_from_dem


def test_hydrology_algorithms_equal_the_core(provider, sample_area, tmp_path):
    import processing

    dem = read_raster(sample_area.rasters["dem"])
    filled = processing.run("subsidence:filldepressions", {"INPUT": sample_area.rasters["dem"], "EPSILON": False,
                                                           "OUTPUT": str(tmp_path / "filled.tif")})
    np.testing.assert_array_equal(read_raster(filled["OUTPUT"]).band(0), fill_depressions(dem.band(0)))
    sloped = processing.run("subsidence:filldepressions", {"INPUT": sample_area.rasters["dem"], "EPSILON": True,
                                                           "OUTPUT": str(tmp_path / "sloped.tif")})
    np.testing.assert_array_equal(read_raster(sloped["OUTPUT"]).band(0),
                                  fill_depressions(dem.band(0), epsilon=True))
    expected = hydrology_from_dem(dem.array[0], dem.grid, method="d8")
    acc = processing.run("subsidence:flowaccumulation", {"INPUT": sample_area.rasters["dem"], "METHOD": 1,
                                                         "OUTPUT": str(tmp_path / "acc.tif"),
                                                         "OUTPUT_SCA": str(tmp_path / "sca.tif")})
    np.testing.assert_allclose(read_raster(acc["OUTPUT"]).band(0), expected["accumulation"], rtol=1e-6)
    np.testing.assert_allclose(read_raster(acc["OUTPUT_SCA"]).band(0), expected["sca"], rtol=1e-6)
    assert read_raster(acc["OUTPUT"]).band_names == ["flow_accumulation_cells"]
    alone = processing.run("subsidence:flowaccumulation", {"INPUT": sample_area.rasters["dem"], "METHOD": 1,
                                                           "OUTPUT": str(tmp_path / "alone.tif")})
    np.testing.assert_array_equal(read_raster(alone["OUTPUT"]).band(0), read_raster(acc["OUTPUT"]).band(0))
    mfd = hydrology_from_dem(dem.array[0], dem.grid, method="mfd", min_slope_degrees=0.5)
    twi = processing.run("subsidence:topographicwetnessindex", {"INPUT": sample_area.rasters["dem"], "MIN_SLOPE": 0.5,
                                                                "OUTPUT": str(tmp_path / "twi.tif")})
    np.testing.assert_allclose(read_raster(twi["OUTPUT"]).band(0), mfd["twi"], rtol=1e-6)
    spi = processing.run("subsidence:streampowerindex", {"INPUT": sample_area.rasters["dem"], "MIN_SLOPE": 0.5,
                                                         "OUTPUT": str(tmp_path / "spi.tif")})
    np.testing.assert_allclose(read_raster(spi["OUTPUT"]).band(0), mfd["spi"], rtol=1e-6)
    assert QgsRasterLayer(twi["OUTPUT"], "t").renderer().type() == "singlebandpseudocolor"


def test_nodata_and_missing_crs(provider, tmp_path):
    import processing

    grid = RasterGrid.from_origin(500000, 4000000, 30, 20, 20, "EPSG:32633", -9999.0)
    z = np.add.outer(np.arange(20.0), np.arange(20.0))
    z[5:8, 5:8] = -9999.0
    path = write_raster(str(tmp_path / "dem.tif"), z, grid)
    out = processing.run("subsidence:topographicwetnessindex", {"INPUT": path, "OUTPUT": str(tmp_path / "t.tif")})
    twi = read_raster(out["OUTPUT"])
    assert np.isnan(twi.band(0)[5:8, 5:8]).all() and np.isfinite(twi.band(0)[10:, 10:]).all()
    no_crs = write_raster(str(tmp_path / "nocrs.tif"), z, RasterGrid.from_origin(0, 20, 1, 20, 20, nodata=-9999.0))
    with pytest.raises(QgsProcessingException):
        processing.run("subsidence:topographicwetnessindex", {"INPUT": no_crs, "OUTPUT": str(tmp_path / "x.tif")})
    assert not (tmp_path / "x.tif").exists()
