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
    assert any(line.startswith("Seed 001's split by point (80% / 20%") for line in log.info)
    html = open(result["REPORT"], encoding="utf-8").read()
    assert "own evaluation, on the split by point (80% / 20%" in html
    assert "Forecast error by horizon" in html and "persistence" in html and html.count("<img") >= 5
    model, description = load_series_model(result["OUTPUT_MODEL"])
    assert len(description["features"]["static"]) == 1 and description["architecture"]["features"] == 3
    assert model.settings.window == 6 and description["units"] == "mm" and description["groundwater"]
    import processing

    with pytest.raises(QgsProcessingException, match="series-network"):  # not a raster model: applymodel refuses it
        processing.run("subsidence:applymodel", {"MODEL": result["OUTPUT_MODEL"], "STACK": sample_area.rasters["dem"],
                                                 "OUTPUT": str(tmp_path / "applied.tif")})


def test_seed004_models_train_with_the_interbed_rasters(provider, sample_area, tmp_path, recording_feedback):
    """The attention GRU reads the lagged heads (tau from b0 and K'v), the physics RNN reports E and n beside the
    network without n, the GW-LSTM its bandwidth; the delayed-compaction baseline is in every table; each model
    file forecasts again through forecastseries."""
    import processing

    points = f"{sample_area.vector_path}|layername=ps_points"
    piezometers = f"{sample_area.vector_path}|layername=piezometers"
    factors = [sample_area.rasters[name] for name in ("thickness", "interbed_thickness", "vertical_conductivity")]
    log = recording_feedback
    for model, extra, label in ((1, {"WINDOW": 6, "HIDDEN": 8, "LAYERS": 1}, "attention GRU"),
                                (2, {"BATCH_SIZE": 32}, "physics RNN"),
                                (3, {"WINDOW": 6, "HIDDEN": 8, "LAYERS": 1}, "GW-LSTM")):
        log.info.clear()
        result = _run({"INPUT": points, "GROUNDWATER": piezometers, "FACTORS": factors, "MODEL": model,
                       "EPOCHS": 3, "LEARNING_RATE": 0.01, "BLOCK_SIZE": -1, "DEVICE": 3, **extra,
                       "OUTPUT": str(tmp_path / f"held_{model}.gpkg"), "OUTPUT_MODEL": str(tmp_path / f"m{model}.pt"),
                       "REPORT": str(tmp_path / f"m{model}.html")}, log)
        assert any(line.strip().startswith(f"{label}, observed heads:") for line in log.info), label
        assert any(line.strip().startswith("delayed compaction, observed heads:") for line in log.info)
        html = open(result["REPORT"], encoding="utf-8").read()
        assert f"Series model: {label}" in html and "What the model tells" in html
        forecast = processing.run("subsidence:forecastseries", {
            "INPUT": points, "GROUNDWATER": piezometers, "FACTORS": factors, "MODEL_FILE": result["OUTPUT_MODEL"],
            "HORIZON_MONTHS": 3, "SCENARIO": 1, "OUTPUT": str(tmp_path / f"future_{model}.gpkg")})
        table = read_points(forecast["OUTPUT"])
        assert np.isfinite(table.numeric(next(n for n in table.attributes if n.startswith("F")))).mean() > 0.9
    tau_line = next(line for line in log.info if line.startswith("Interbed delay tau"))
    assert "S′s 0.0001" in tau_line
    description = load_series_model(str(tmp_path / "m1.pt"))[1]
    assert description["lagged_heads"] and "lagged_head_change_m" in description["features"]["step"]
    physics = load_series_model(str(tmp_path / "m2.pt"))[1]
    assert physics["architecture"] == {"type": "physics_rnn", "features": 2, "hidden": 7, "layers": 1,
                                       "window": 0, "exponent": None}
    assert load_series_model(str(tmp_path / "m3.pt"))[1]["kernel"]["bandwidth_m"] > 0


def test_heads_of_each_aquifer_are_inputs_and_the_forecast_needs_the_same(provider, sample_area, tmp_path):
    import processing

    points = f"{sample_area.vector_path}|layername=ps_points"
    piezometers = processing.run("native:fieldcalculator", {
        "INPUT": f"{sample_area.vector_path}|layername=piezometers", "FIELD_NAME": "aquifer", "FIELD_TYPE": 2,
        "FORMULA": "if($id % 2 = 0, 'lower', 'upper')", "OUTPUT": str(tmp_path / "aquifers.gpkg")})["OUTPUT"]
    result = _run({"INPUT": points, "GROUNDWATER": piezometers, "AQUIFER_FIELD": "aquifer", "WINDOW": 6, "EPOCHS": 1,
                   "BLOCK_SIZE": -1, "DEVICE": 3, "OUTPUT": str(tmp_path / "held.gpkg"),
                   "OUTPUT_MODEL": str(tmp_path / "two.pt")})
    description = load_series_model(result["OUTPUT_MODEL"])[1]
    assert description["aquifers"] == ["lower", "upper"]
    assert description["features"]["step"] == ["displacement_change_mm", "head_change_m_1", "head_change_m_2"]
    with pytest.raises(QgsProcessingException, match="aquifers lower, upper"):
        processing.run("subsidence:forecastseries", {"INPUT": points, "GROUNDWATER": piezometers,
                                                     "MODEL_FILE": result["OUTPUT_MODEL"],
                                                     "OUTPUT": str(tmp_path / "f.gpkg")})
    forecast = processing.run("subsidence:forecastseries", {
        "INPUT": points, "GROUNDWATER": piezometers, "AQUIFER_FIELD": "aquifer", "MODEL_FILE": result["OUTPUT_MODEL"],
        "HORIZON_MONTHS": 2, "SCENARIO": 2, "DRAWDOWN_CHANGE": 50.0, "OUTPUT": str(tmp_path / "f.gpkg")})
    assert np.isfinite(read_points(forecast["OUTPUT"]).numeric("F20210101")).mean() > 0.9


def test_models_driven_by_the_groundwater_refuse_without_piezometers(provider, sample_area, tmp_path):
    with pytest.raises(QgsProcessingException, match="needs the groundwater"):
        _run({"INPUT": f"{sample_area.vector_path}|layername=ps_points", "MODEL": 2, "EPOCHS": 1, "DEVICE": 3,
              "OUTPUT": str(tmp_path / "none.gpkg")})


def test_too_short_training_period_is_refused(provider, sample_area, tmp_path):
    with pytest.raises(QgsProcessingException, match="window needs"):
        _run({"INPUT": f"{sample_area.vector_path}|layername=ps_points", "HOLDOUT_SHARE": 0.9, "WINDOW": 24,
              "EPOCHS": 1, "DEVICE": 3, "OUTPUT": str(tmp_path / "none.gpkg")})


def test_heads_that_end_before_the_series_are_said_to_be_held():
    from subsidence_plugin.processing.timeseries.train_series_model import heads_end_note

    months = (np.datetime64("2019-01", "M") + np.arange(5)).astype("datetime64[D]")
    heads = np.ones((3, 5, 2))
    assert heads_end_note(months, heads) == ""
    heads[:, 3:] = np.nan
    assert heads_end_note(months, heads).startswith("The heads end in 2019-03 and the series in 2019-05: beyond")
