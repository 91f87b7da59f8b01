"""subsidence:kriging and subsidence:idw on the sample area's PS points: values, variance, report, errors."""
import numpy as np
import pytest
from qgis.core import QgsProcessingException

from subsidence_plugin.core.io.points import read_points
from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.core.spatial.interpolation import LocalKriging
from subsidence_plugin.core.spatial.variogram import Variogram


def test_kriging_of_ps_velocities(provider, sample_area, tmp_path):
    import processing

    ps = f"{sample_area.vector_path}|layername=ps_points"
    result = processing.run("subsidence:kriging", {
        "INPUT": ps, "FIELD": "velocity", "REFERENCE": sample_area.rasters["dem"], "VARIOGRAM": 1,
        "NEIGHBOURS": 24, "DEVICE": 3, "OUTPUT": str(tmp_path / "k.tif"), "REPORT": str(tmp_path / "k.html")})
    surface = read_raster(result["OUTPUT"])
    assert surface.band_names == ["velocity_kriged", "velocity_kriging_variance"]
    points = read_points(sample_area.vector_path, "ps_points")
    fitted = Variogram(**__import__("json").loads(result["VARIOGRAM_MODEL"]))
    assert fitted.model == "spherical"
    xs, ys = surface.grid.centre_axes()
    direct = LocalKriging(points.x, points.y, points.numeric("velocity"), fitted, k=24).predict(
        np.tile(xs[:10], 3), np.repeat(ys[:3], 10))
    np.testing.assert_allclose(surface.band(0)[:3, :10].ravel(), direct.values.astype(np.float32), rtol=1e-5,
                               atol=1e-4)
    truth = read_raster(sample_area.rasters["truth_velocity"]).band(0)
    error = surface.band(0) - truth
    assert np.sqrt(np.nanmean(error ** 2)) < 0.35 * np.nanstd(truth)  # a useful surface of the true rate
    assert result["CV_RMSE"] > 0 and 0 < result["CV_R2"] <= 1
    html = open(result["REPORT"]).read()
    assert "Leave-one-out" in html and html.count("data:image/png;base64,") == 3  # LOO, variogram, map
    universal = processing.run("subsidence:kriging", {
        "INPUT": ps, "FIELD": "velocity", "REFERENCE": sample_area.rasters["dem"], "DRIFT": 1, "VARIOGRAM": 2,
        "OUTPUT": str(tmp_path / "u.tif")})
    assert np.isfinite(read_raster(universal["OUTPUT"]).band(0)).all()


def test_idw_and_refusals(provider, sample_area, tmp_path):
    import processing

    ps = f"{sample_area.vector_path}|layername=ps_points"
    result = processing.run("subsidence:idw", {"INPUT": ps, "FIELD": "velocity", "REFERENCE": sample_area.rasters["dem"],
                                               "RADIUS": 300, "OUTPUT": str(tmp_path / "i.tif")})
    surface = read_raster(result["OUTPUT"]).band(0)
    assert np.isnan(surface).any() and np.isfinite(surface).any()  # cells with no point within 300 m
    with pytest.raises(QgsProcessingException, match="ps_id"):
        processing.run("subsidence:idw", {"INPUT": ps, "FIELD": "ps_id", "REFERENCE": sample_area.rasters["dem"],
                                          "OUTPUT": str(tmp_path / "x.tif")})
    assert not (tmp_path / "x.tif").exists()
