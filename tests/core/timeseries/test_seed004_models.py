"""Seed 004's series models and their physical baseline: the delayed-compaction model against its own equations,
the lagged heads, the geographic kernel against hand computations, the physics-constrained RNN's recurrence
written out, and each network trained on a basin whose ground follows the groundwater."""
import numpy as np
import pytest
import torch

from subsidence_plugin.core.ml.training import TrainingSettings
from subsidence_plugin.core.timeseries.baselines import persistence
from subsidence_plugin.core.timeseries.compaction import (fit_delayed_compaction, forecast_delayed_compaction,
                                                          relaxed_heads)
from subsidence_plugin.core.timeseries.groundwater import lagged_monthly
from subsidence_plugin.core.timeseries.neighbours import choose_bandwidth, kernel_weights, weighted_mean
from subsidence_plugin.core.timeseries.networks import PhysicsRnn
from subsidence_plugin.core.timeseries.series_models import (KINDS, PointDrivers, default_settings, forecast_series,
                                                             load_series_model, save_series_model, train_series_model,
                                                             train_with_holdout)


def _delayed_basin(points=40, months=72, seed=1):
    """Heads with a seasonal swing and a decline; the ground follows the head relaxed with tau = 3 months, k mm
    per m (k differs by point)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    heads = 50.0 - 0.08 * t[None, :] + rng.uniform(1, 3, (points, 1)) * np.sin(2 * np.pi * t / 12)[None, :]
    k = rng.uniform(2.0, 6.0, points)
    displacement = k[:, None] * relaxed_heads(heads, np.full(points, 3.0))
    displacement -= displacement[:, :1]
    x, y = rng.uniform(0, 2000, points), rng.uniform(0, 2000, points)
    return displacement.astype(np.float32), heads.astype(np.float32), k, x, y


def test_relaxed_heads_approach_a_step_exponentially():
    heads = np.array([[0.0, 10.0, 10.0, 10.0, np.nan, 10.0], [0.0, 10.0, 10.0, 10.0, 10.0, 10.0]])
    relaxed = relaxed_heads(heads, np.array([2.0, 0.0]))
    expected = 10.0 * (1 - np.exp(-np.arange(6) / 2.0))
    np.testing.assert_allclose(relaxed[0, :4], expected[:4])
    assert relaxed[0, 4] == relaxed[0, 3]  # a gap holds the relaxed head
    np.testing.assert_allclose(relaxed[0, 5], relaxed[0, 3] + (10 - relaxed[0, 3]) * (1 - np.exp(-0.5)))
    np.testing.assert_allclose(relaxed[1], heads[1])  # tau 0: no delay


def test_delayed_compaction_recovers_its_own_parameters_and_forecasts_exactly():
    displacement, heads, k, _, _ = _delayed_basin()
    fitted = fit_delayed_compaction(displacement[:, :60], heads[:, :60])
    np.testing.assert_array_equal(fitted.tau_months, 3.0)  # chosen among the candidates
    np.testing.assert_allclose(fitted.slope, k, rtol=1e-4)
    forecast = forecast_delayed_compaction(fitted, displacement[:, 59], heads, 59, np.arange(1, 13))
    np.testing.assert_allclose(forecast, displacement[:, 60:72], atol=1e-3)
    given = fit_delayed_compaction(displacement[:, :60], heads[:, :60], np.full(len(k), 3.0))
    np.testing.assert_allclose(given.slope, k, rtol=1e-4)


def test_lagged_heads_read_back_whole_and_fractional_months():
    heads = np.tile(np.arange(10.0), (3, 1))
    lagged = lagged_monthly(heads, np.array([0.0, 2.0, 1.5]))
    np.testing.assert_array_equal(lagged[0], heads[0])
    assert np.isnan(lagged[1, :2]).all() and lagged[1, 2:].tolist() == list(range(8))
    assert np.isnan(lagged[2, :2]).all()
    np.testing.assert_allclose(lagged[2, 2:], np.arange(2, 10) - 1.5)


def test_kernel_weights_and_weighted_means_by_hand():
    x, y = np.array([0.0, 100.0, 300.0]), np.zeros(3)
    weights = kernel_weights(x, y, bandwidth=100.0, neighbours=2).toarray()
    raw = np.exp(-0.5 * (np.abs(x[:, None] - x[None, :]) / 100.0) ** 2)
    np.testing.assert_allclose(weights, raw / raw.sum(axis=1, keepdims=True))
    values = np.array([[1.0, np.nan], [3.0, 2.0], [5.0, 4.0]])
    mean = weighted_mean(kernel_weights(x, y, 100.0, 2), values)
    np.testing.assert_allclose(mean[:, 0], weights @ values[:, 0])
    known = weights[:, 1:] / weights[:, 1:].sum(axis=1, keepdims=True)  # the NaN left out, the rest renormalised
    np.testing.assert_allclose(mean[:, 1], known @ values[1:, 1])


def test_bandwidth_cross_validation_prefers_the_scale_of_the_signal():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 5000, 400), rng.uniform(0, 5000, 400)
    smooth = np.sin(x / 800.0)[:, None] * np.ones((1, 20)) + 0.05 * rng.normal(size=(400, 20))
    best, scores = choose_bandwidth(x, y, smooth, candidates=[20.0, 200.0, 20000.0])
    assert best == 200.0 and scores[20000.0] > scores[200.0]


def test_physics_rnn_is_the_recurrence_it_writes():
    torch.manual_seed(0)
    network = PhysicsRnn(hidden=3, exponent=None)
    with torch.no_grad():
        network.log_modulus.fill_(np.log(2.0))
        network.exponent.fill_(1.5)
    sequence = torch.rand(2, 5, 3)
    sequence[..., 2] = 0.0
    sequence[0, 1, 2] = 1.0  # anchors: month 1 and month 3
    sequence[1, 3, 2] = 1.0
    weights, bias = network.stress.weight.detach().numpy(), network.bias.detach().numpy()
    out_w, out_b = network.output.weight.detach().numpy()[0], float(network.output.bias.detach())
    x = sequence.numpy()
    state, outputs = np.zeros((2, 3)), []
    for t in range(5):
        state = np.tanh(state + x[:, t, :2] @ weights.T / 2.0 ** 1.5 + bias)
        outputs.append(state @ out_w + out_b)
    outputs = np.stack(outputs, axis=1)
    expected = outputs - outputs[[0, 1], [1, 3]][:, None]
    np.testing.assert_allclose(network(sequence).detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    assert network.modulus() == pytest.approx((2.0, 1.5))


def _quick(kind, **changes):
    settings = default_settings(kind)
    settings.training = TrainingSettings(**{**settings.training.as_dict(), "epochs": 60, "learning_rate": 0.01,
                                            "patience": 15, "batch_size": 32})
    for name, value in changes.items():
        setattr(settings, name, value)
    return settings


@pytest.mark.parametrize("kind", ["attention_gru", "physics_rnn", "gw_lstm"])
def test_seed004_models_follow_the_groundwater_and_beat_persistence(kind, tmp_path, monkeypatch):
    displacement, heads, _, x, y = _delayed_basin()
    drivers = PointDrivers(heads, np.zeros((len(x), 0), np.float32), x, y, np.full(len(x), 3 * 365.25 / 12))
    settings = _quick(kind, window=6, hidden=16, layers=2)
    if kind == "physics_rnn":  # one sequence a point: smaller batches, more epochs
        settings = _quick(kind)
        settings.training.batch_size, settings.training.epochs, settings.training.patience = 8, 300, 50
    model = train_series_model(displacement, drivers, 60, settings)
    forecast = forecast_series(model, displacement, drivers, 59, 12)
    truth = displacement[:, 60:72]
    rmse = np.sqrt(np.mean((forecast - truth) ** 2))
    persistence_rmse = np.sqrt(np.mean((persistence(displacement[:, :60], np.arange(1, 13)) - truth) ** 2))
    assert rmse < 0.6 * persistence_rmse, (kind, rmse, persistence_rmse)
    path = str(tmp_path / f"{kind}.pt")
    save_series_model(path, model, [], {})
    loaded, description = load_series_model(path)
    assert description["kind"] == "series-network" and description["architecture"]["type"] == kind
    np.testing.assert_array_equal(forecast_series(loaded, displacement, drivers, 59, 12), forecast)
    from subsidence_plugin.core.timeseries import series_models

    monkeypatch.setattr(series_models, "_first_month_needed", lambda *args: 0)  # every month, not the last window's
    np.testing.assert_allclose(forecast_series(model, displacement, drivers, 59, 12), forecast, rtol=1e-5, atol=1e-4)


def test_holdout_reports_the_physical_baseline_and_what_each_model_tells():
    displacement, heads, _, x, y = _delayed_basin(points=24, months=48)
    dates = (np.datetime64("2015-01", "M") + np.arange(48)).astype("datetime64[D]")
    drivers = PointDrivers(heads, np.zeros((24, 0), np.float32), x, y, None)
    result = train_with_holdout(dates, displacement, drivers, _quick("physics_rnn", **{}), 0.25)
    names = set(result.errors.rmse)
    assert {"delayed compaction, observed heads", "physics RNN, observed heads",
            "physics RNN with n fixed at 1, observed heads"} <= names
    assert result.errors.rmse["delayed compaction, observed heads"][0] < 1e-3  # the basin is that model
    assert "modulus" in result.notes and "modulus without n" in result.notes
    gru = train_with_holdout(dates, displacement, PointDrivers(heads, drivers.static, x, y, np.full(24, 90.0)),
                             _quick("attention_gru", window=6, hidden=8, layers=1), 0.25)
    assert gru.model.use_lag and gru.notes["attention"].shape == (6,)
    np.testing.assert_allclose(gru.notes["attention"].sum(), 1.0, rtol=1e-5)


def test_models_that_need_heads_refuse_without_them():
    displacement, _, _, x, y = _delayed_basin(points=8, months=30)
    for kind in KINDS[1:]:
        with pytest.raises(ValueError, match="heads"):
            train_series_model(displacement, PointDrivers(None, np.zeros((8, 0)), x, y), 24, default_settings(kind))


def test_error_band_is_the_quantiles_of_the_held_out_errors_by_lead():
    from subsidence_plugin.core.timeseries.series_models import band_limits, error_band

    rng = np.random.default_rng(0)
    truth = rng.normal(size=(100, 4))
    forecast = np.zeros((100, 4))
    truth[:, 3] = np.nan  # a lead without scored points ends the band
    truth[:90, 2] = np.nan  # 10 points are too few
    band = error_band(forecast, truth, level=0.8)
    assert band["leads_months"] == [1, 2] and band["level"] == 0.8
    np.testing.assert_allclose(band["low_mm"], np.quantile(truth[:, :2], 0.1, axis=0))
    np.testing.assert_allclose(band["high_mm"], np.quantile(truth[:, :2], 0.9, axis=0))
    low, high = band_limits(band, np.full((3, 5), 10.0))
    np.testing.assert_allclose(low[:, :2], np.tile(10.0 + np.array(band["low_mm"]), (3, 1)))
    assert np.isnan(low[:, 2:]).all() and np.isnan(high[:, 2:]).all()


def test_each_aquifer_is_an_input_of_its_own(tmp_path):
    """Heads of two aquifers: one head-change column each (and one stress input each for the physics RNN), the
    scenario applied to each, the compaction baseline on their mean."""
    from subsidence_plugin.core.timeseries.series_models import scenario_heads, windowed_features

    displacement, heads, _, x, y = _delayed_basin(points=16, months=40)
    two = np.stack([heads, heads - 5.0 + np.linspace(0, 1, 40)[None, :]], axis=2)
    drivers = PointDrivers(two, np.zeros((16, 0), np.float32), x, y, np.full(16, 60.0))
    features, names = windowed_features("attention_gru", displacement, drivers, use_lag=True)
    assert names == ["displacement_change_mm", "head_change_m_1", "head_change_m_2", "lagged_head_change_m_1",
                     "lagged_head_change_m_2"]
    np.testing.assert_allclose(features[:, :-1, 2], np.diff(two[..., 1], axis=1), rtol=1e-5)
    settings = _quick("physics_rnn")
    settings.training.epochs = 2
    model = train_series_model(displacement, drivers, 30, settings)
    assert model.network.stress.in_features == 3 and model.step_names[-1] == "compressible_thickness_m"
    save_series_model(str(tmp_path / "two.pt"), model, [], {})
    loaded, _ = load_series_model(str(tmp_path / "two.pt"))
    np.testing.assert_array_equal(forecast_series(loaded, displacement, drivers, 29, 6),
                                  forecast_series(model, displacement, drivers, 29, 6))
    scenario = scenario_heads(two, 29, 50.0)
    np.testing.assert_allclose(scenario[..., 1], scenario_heads(two[..., 1], 29, 50.0))
    np.testing.assert_allclose(drivers.mean_heads(), two.mean(axis=2))


def test_fit_of_the_training_months_is_one_month_ahead_or_simulated():
    from subsidence_plugin.core.timeseries.series_models import fitted_series

    displacement, heads, _, x, y = _delayed_basin(points=12, months=36)
    drivers = PointDrivers(heads, np.zeros((12, 0), np.float32), x, y)
    settings = _quick("lstm", window=4)
    settings.training.epochs = 1
    model = train_series_model(displacement, drivers, 30, settings)
    rows = np.array([2, 7])
    fit = fitted_series(model, displacement, drivers, 30, rows)
    assert fit.shape == (2, 30) and np.isnan(fit[:, :5]).all() and np.isfinite(fit[:, 5:]).all()
    # month 5 from the window of months 1 .. 4: the observed month 4 plus the predicted change
    from subsidence_plugin.core.timeseries.series_models import step_features

    window = model.scaling.apply(step_features(displacement[:, :30], heads[:, :30], drivers.static))[rows, 1:5]
    change = model.scaling.invert(model.network(torch.from_numpy(window)).detach().numpy().astype(float), 0)
    np.testing.assert_allclose(fit[:, 5], displacement[rows, 4] + change, rtol=1e-5)
    physics = _quick("physics_rnn")
    physics.training.epochs = 1
    simulated = fitted_series(train_series_model(displacement, drivers, 30, physics), displacement, drivers, 30, rows)
    np.testing.assert_allclose(simulated[:, 0], displacement[rows, 0], atol=1e-5)  # anchored at the first value
