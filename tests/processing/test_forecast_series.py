"""subsidence:forecastseries: a trained LSTM file applied to points under groundwater scenarios."""
import numpy as np
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject

from subsidence_plugin.core.io.points import read_points


def _run(algorithm, parameters):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run(f"subsidence:{algorithm}", parameters, context=context, feedback=QgsProcessingFeedback())


@pytest.fixture
def trained(provider, sample_area, tmp_path_factory):
    """A small LSTM trained on the sample area with its piezometers (3 epochs of Adam)."""
    folder = tmp_path_factory.mktemp("series")
    return _run("trainseriesmodel", {
        "INPUT": f"{sample_area.vector_path}|layername=ps_points",
        "GROUNDWATER": f"{sample_area.vector_path}|layername=piezometers", "WINDOW": 6, "EPOCHS": 3, "OPTIMISER": 1,
        "LEARNING_RATE": 0.01, "DEVICE": 3, "OUTPUT": str(folder / "trained.gpkg"),
        "OUTPUT_MODEL": str(folder / "lstm.pt")})["OUTPUT_MODEL"]


def test_scenarios_give_monthly_forecasts(provider, sample_area, trained, tmp_path):
    base = {"INPUT": f"{sample_area.vector_path}|layername=ps_points", "MODEL_FILE": trained,
            "GROUNDWATER": f"{sample_area.vector_path}|layername=piezometers", "HORIZON_MONTHS": 6}
    held = read_points(_run("forecastseries", {**base, "SCENARIO": 1, "OUTPUT": str(tmp_path / "held.gpkg")})["OUTPUT"])
    faster = read_points(_run("forecastseries", {**base, "SCENARIO": 2, "DRAWDOWN_CHANGE": 200.0,
                                                 "OUTPUT": str(tmp_path / "faster.gpkg")})["OUTPUT"])
    names = ["F20210101", "F20210201", "F20210301", "F20210401", "F20210501", "F20210601"]  # after 2020-12-22
    assert all(name in held.attributes for name in names) and "F20210701" not in held.attributes
    first = held.numeric(names[0])
    assert np.isfinite(first).mean() > 0.9
    assert not np.allclose(np.nan_to_num(held.numeric(names[-1])), np.nan_to_num(faster.numeric(names[-1])))
    from subsidence_plugin.core.timeseries.series_models import load_series_model

    band = load_series_model(trained)[1]["band"]  # the held-out errors' 5 % and 95 % quantiles by lead
    assert band["level"] == 0.9 and len(band["leads_months"]) >= 6
    for lead, name in enumerate(names):
        day = name[1:]
        np.testing.assert_allclose(held.numeric(f"FLO_{day}"), held.numeric(name) + band["low_mm"][lead])
        np.testing.assert_allclose(held.numeric(f"FHI_{day}"), held.numeric(name) + band["high_mm"][lead])


def test_the_models_factors_are_required(provider, sample_area, trained, tmp_path):
    with pytest.raises(QgsProcessingException, match="0 static factor"):
        _run("forecastseries", {"INPUT": f"{sample_area.vector_path}|layername=ps_points", "MODEL_FILE": trained,
                                "FACTORS": [sample_area.rasters["thickness"]], "OUTPUT": str(tmp_path / "x.gpkg")})


def test_a_table_of_future_heads_drives_the_forecast(provider, sample_area, trained, tmp_path):
    """Future heads falling 5 m a month at every piezometer change the forecast from the held heads; the table
    is joined by the piezometers' detected ID field (piezo_id)."""
    stations = read_points(sample_area.vector_path, "piezometers")
    months = (np.datetime64("2021-01") + np.arange(6)).astype("datetime64[D]")
    lines = ["station,date,value"] + [f"{station},{month},{level - 5.0 * (k + 1)}"
                                      for station, level in zip(stations.attributes["piezo_id"],
                                                                stations.series[:, -1])
                                      for k, month in enumerate(months)]
    table = tmp_path / "future.csv"
    table.write_text("\n".join(lines) + "\n")
    base = {"INPUT": f"{sample_area.vector_path}|layername=ps_points", "MODEL_FILE": trained,
            "GROUNDWATER": f"{sample_area.vector_path}|layername=piezometers", "HORIZON_MONTHS": 6}
    future = read_points(_run("forecastseries", {**base, "SCENARIO": 3, "FUTURE_HEADS": str(table),
                                                 "OUTPUT": str(tmp_path / "future.gpkg")})["OUTPUT"])
    held = read_points(_run("forecastseries", {**base, "SCENARIO": 1, "OUTPUT": str(tmp_path / "held.gpkg")})["OUTPUT"])
    difference = np.nanmean(np.abs(future.numeric("F20210601") - held.numeric("F20210601")))
    assert difference > 0.01
    with pytest.raises(QgsProcessingException, match="FUTURE_HEADS"):
        _run("forecastseries", {**base, "SCENARIO": 3, "OUTPUT": str(tmp_path / "none.gpkg")})
