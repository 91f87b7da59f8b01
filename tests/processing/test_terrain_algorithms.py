"""The terrain algorithms through Processing (as the toolbox runs them)."""
from __future__ import annotations

import numpy as np

from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.core.terrain.derivatives import terrain_array


def test_terrain_algorithms_through_processing(provider, sample_area, tmp_path):
    import processing
    from qgis.core import QgsRasterLayer

    result = processing.run("subsidence:slope", {"INPUT": sample_area.rasters["dem"], "BAND": 1,
                                                 "OUTPUT": str(tmp_path / "slope.tif"),
                                                 "OUTPUT_PERCENT": str(tmp_path / "pct.tif")})
    raster = read_raster(sample_area.rasters["dem"])
    expected = terrain_array(raster.array[0], raster.grid, ["slope", "slope_percent"])
    np.testing.assert_allclose(read_raster(result["OUTPUT"]).band(0), expected["slope"], rtol=1e-6)
    np.testing.assert_allclose(read_raster(result["OUTPUT_PERCENT"]).band(0), expected["slope_percent"], rtol=1e-6)
    assert QgsRasterLayer(result["OUTPUT"], "s").renderer().type() == "singlebandpseudocolor"
    aspect = processing.run("subsidence:aspect", {"INPUT": sample_area.rasters["dem"], "OUTPUT": str(tmp_path / "a.tif")})
    assert read_raster(aspect["OUTPUT"]).band(0).max() < 360
    curv = processing.run("subsidence:curvature", {"INPUT": sample_area.rasters["dem"], "OUTPUT": str(tmp_path / "c.tif"),
                                                   "PLAN": str(tmp_path / "plan.tif")})
    assert set(curv) >= {"OUTPUT", "PLAN"} and (tmp_path / "plan.tif").exists() and not (tmp_path / "profile.tif").exists()
