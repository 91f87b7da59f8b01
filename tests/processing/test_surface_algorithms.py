"""The surface algorithms through Processing (as the toolbox runs them)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from subsidence_plugin.core.io.rasters import read_raster


def test_train_and_apply_through_processing(provider, sample_area, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    rasters = sample_area.rasters
    stack = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["dem"], rasters["thickness"]],
        "CATEGORICAL": [rasters["landuse"]], "OUTPUT": str(tmp_path / "stack.tif")})["OUTPUT"]
    result = processing.run("subsidence:trainpatchcnn", {
        "INPUT": f"{sample_area.vector_path}|layername=ps_points", "FIELD": "velocity", "STACK": stack,
        "EPOCHS": 2, "UNCERTAINTY": True, "MC_SAMPLES": 3, "DEVICE": 3,
        "OUTPUT_MODEL": str(tmp_path / "cnn.pt"), "OUTPUT": str(tmp_path / "cnn.tif"),
        "REPORT": str(tmp_path / "cnn.html")})
    surface = read_raster(result["OUTPUT"])
    assert surface.band_names == ["velocity_cnn", "mc_dropout_std"]
    assert os.path.exists(tmp_path / "cnn.json") and result["TEST_RMSE"] > 0
    assert open(result["REPORT"]).read().count("data:image/png") == 3
    applied = processing.run("subsidence:applymodel", {"MODEL": result["OUTPUT_MODEL"], "STACK": stack,
                                                       "OUTPUT": str(tmp_path / "applied.tif")})
    np.testing.assert_allclose(read_raster(applied["OUTPUT"]).band(0), surface.band(0), rtol=0, atol=1e-6)
    other = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["thickness"], rasters["dem"]],
        "CATEGORICAL": [rasters["landuse"]], "OUTPUT": str(tmp_path / "other.tif")})["OUTPUT"]
    with pytest.raises(QgsProcessingException, match="another order"):
        processing.run("subsidence:applymodel", {"MODEL": result["OUTPUT_MODEL"], "STACK": other,
                                                 "OUTPUT": str(tmp_path / "bad.tif")})
    assert not (tmp_path / "bad.tif").exists()


def test_compare_through_processing(provider, sample_area, tmp_path):
    import processing
    from qgis.core import QgsVectorLayer

    rasters = sample_area.rasters
    stack = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["dem"], rasters["thickness"]],
        "OUTPUT": str(tmp_path / "stack.tif")})["OUTPUT"]
    result = processing.run("subsidence:comparesurfacemethods", {
        "INPUT": f"{sample_area.vector_path}|layername=ps_points", "FIELD": "velocity", "STACK": stack,
        "METHODS": [0, 1, 2], "FOLDS": 3, "EPOCHS": 1, "OUTPUT": str(tmp_path / "table.gpkg"),
        "REPORT": str(tmp_path / "compare.html")})
    table = QgsVectorLayer(result["OUTPUT"], "t", "ogr")
    features = list(table.getFeatures())
    assert len(features) == 9
    assert {f["method"] for f in features} == {"Patch CNN", "Kriging", "IDW"}
    assert {f["protocol"] for f in features} == {"paper", "spatial", "gap"}
    assert all(f["rmse"] > 0 for f in table.getFeatures())
    html = open(result["REPORT"]).read()
    assert "Same held-out points" in html and "RMSE (mm/yr)" in html and "MSE ((mm/yr)²)" in html
    # scatter panels per protocol, spatial residual maps, variogram, the CNN's loss curves
    assert html.count("<img") == 3 + 1 + 1 + 1
