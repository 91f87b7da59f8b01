"""subsidence:trainseriesmodel on the sample area: held-out forecasts and their RMSE in the output, the model
file, the baselines in the log, refusals."""
import numpy as np
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject

from subsidence_plugin.core.io.points import read_points
from subsidence_plugin.core.timeseries.series_models import load_series_model


def _run(parameters, feedback=None):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run("subsidence:trainseriesmodel", parameters, context=context,
                          feedback=feedback or QgsProcessingFeedback())


def test_lstm_forecasts_the_held_out_dates(provider, sample_area, tmp_path, recording_feedback):
    points = f"{sample_area.vector_path}|layername=ps_points"
    log = recording_feedback
    result = _run({"INPUT": points, "GROUNDWATER": f"{sample_area.vector_path}|layername=piezometers",
                   "FACTORS": [sample_area.rasters["thickness"]], "HOLDOUT_SHARE": 0.2, "WINDOW": 6, "EPOCHS": 4,
                   "OPTIMISER": 1, "LEARNING_RATE": 0.01, "DEVICE": 3, "OUTPUT": str(tmp_path / "forecast.gpkg"),
                   "OUTPUT_MODEL": str(tmp_path / "lstm.pt"), "REPORT": str(tmp_path / "lstm.html")}, log)
    table = read_points(result["OUTPUT"])
    source = read_points(sample_area.vector_path, "ps_points")
    held = source.dates[-30:]  # 20 % of 152 dates
    names = [f"P{str(d).replace('-', '')}" for d in held]
    assert all(name in table.attributes for name in names) and len(table) == len(source)
    forecast = np.column_stack([table.numeric(name) for name in names])
    observed = np.column_stack([table.numeric(f"D{str(d).replace('-', '')}") for d in held])
    np.testing.assert_allclose(table.numeric("RMSE_MM"), np.sqrt(np.nanmean((forecast - observed) ** 2, axis=1)),
                               rtol=1e-6)  # RMSE_MM is the held-out RMSE of each point's own fields
    assert np.isfinite(forecast).mean() > 0.9
    assert any(line.strip().startswith("persistence:") for line in log.info)
    assert any(line.strip().startswith("LSTM, observed heads:") for line in log.info)
    unseen = next(line for line in log.info if line.startswith("Spatial hold-out:"))
    assert 0 < int(unseen.split()[2]) < len(source)  # "Spatial hold-out: <n> of <N> points in blocks of ..."
    rows = [line.strip() for line in log.info if "unseen blocks:" in line]
    assert len(rows) == 2 and all("n/a" not in row.split(":")[1].split("/")[0] for row in rows)
    assert any(line.startswith("Seed 001's split by point (80 / 20") for line in log.info)
    html = open(result["REPORT"], encoding="utf-8").read()
    assert "own evaluation, on its split by point" in html
    assert "Forecast error by horizon" in html and "persistence" in html and html.count("<img") >= 5
    model, description = load_series_model(result["OUTPUT_MODEL"])
    assert len(description["features"]["static"]) == 1 and description["architecture"]["features"] == 3
    assert model.settings.window == 6 and description["units"] == "mm" and description["groundwater"]
    import processing

    with pytest.raises(QgsProcessingException, match="series-lstm"):  # not a raster model: applymodel refuses it
        processing.run("subsidence:applymodel", {"MODEL": result["OUTPUT_MODEL"], "STACK": sample_area.rasters["dem"],
                                                 "OUTPUT": str(tmp_path / "applied.tif")})


def test_too_short_training_period_is_refused(provider, sample_area, tmp_path):
    with pytest.raises(QgsProcessingException, match="window needs"):
        _run({"INPUT": f"{sample_area.vector_path}|layername=ps_points", "HOLDOUT_SHARE": 0.9, "WINDOW": 24,
              "EPOCHS": 1, "DEVICE": 3, "OUTPUT": str(tmp_path / "none.gpkg")})
