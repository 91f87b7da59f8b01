"""The series networks (seed 001's LSTM, seed 004's attention GRU, physics-constrained RNN and GW-LSTM): windows
cut on demand, min-max scaling, training through the shared loop, forecasts that follow the groundwater, model
files."""
import numpy as np
import pytest

from subsidence_plugin.core.ml.training import TrainingSettings
from subsidence_plugin.core.timeseries.baselines import persistence
from subsidence_plugin.core.timeseries.series_models import (MinMax, PointDrivers, SeriesSettings, WindowSampler,
                                                             forecast_series, step_features, train_series_model)


def _basin(points=30, months=60, seed=0):
    """Heads with a seasonal swing and a decline; each month the ground sinks by c times the head drop of that
    month (c differs by point and is a static factor)."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    heads = 50.0 - 0.05 * t[None, :] + rng.uniform(1, 3, (points, 1)) * np.sin(2 * np.pi * t / 12)[None, :]
    c = rng.uniform(1.0, 4.0, points)
    drop = np.diff(heads, axis=1, prepend=heads[:, :1])
    displacement = np.cumsum(c[:, None] * drop, axis=1)
    return displacement.astype(np.float32), heads.astype(np.float32), c[:, None].astype(np.float32)


def test_step_features_and_windows():
    displacement = np.array([[0.0, -1.0, -3.0, -6.0, -10.0]], dtype=np.float32)
    heads = np.array([[5.0, 4.0, 4.0, 3.0, 1.0]], dtype=np.float32)
    features = step_features(displacement, heads, np.array([[7.0]]))
    np.testing.assert_allclose(features[0, :, 0], [np.nan, -1, -2, -3, -4])
    np.testing.assert_allclose(features[0, :, 1], [-1, 0, -1, -2, 0])  # the head change out of each month
    np.testing.assert_allclose(features[0, :, 2], 7.0)
    sampler = WindowSampler(features, window=2)
    samples = sampler.samples(np.array([0]), last_month=4)
    assert samples.tolist() == [2, 3]  # point 0: windows (1, 2) -> month 3 and (2, 3) -> month 4
    inputs, target = sampler.batch(samples)
    assert inputs.shape == (2, 2, 3) and target.tolist() == [-3.0, -4.0]
    scaling = MinMax.fit(features)
    np.testing.assert_allclose(scaling.invert(scaling.apply(features)[..., 0], 0), features[..., 0])


def test_lstm_learns_the_groundwater_response_and_beats_persistence():
    displacement, heads, static = _basin()
    settings = SeriesSettings(window=6, training=TrainingSettings(epochs=40, batch_size=64, learning_rate=0.02,
                                                                  patience=10, optimiser="adam"))
    drivers = PointDrivers(heads, static)
    model = train_series_model(displacement, drivers, 48, settings)
    forecast = forecast_series(model, displacement, drivers, 47, 12)
    truth = displacement[:, 48:60]
    lstm_rmse = np.sqrt(np.mean((forecast - truth) ** 2))
    persistence_rmse = np.sqrt(np.mean((persistence(displacement[:, :48], np.arange(1, 13)) - truth) ** 2))
    assert lstm_rmse < 0.35 * persistence_rmse, (lstm_rmse, persistence_rmse)
    held = forecast_series(model, displacement, drivers, 47, 12, hold_heads=True)
    assert np.sqrt(np.mean((held - truth) ** 2)) > 2 * lstm_rmse  # without the observed heads it cannot know
    again = train_series_model(displacement, drivers, 48, settings)  # reproducible from its settings
    np.testing.assert_array_equal(forecast, forecast_series(again, displacement, drivers, 47, 12))


def test_too_short_series_are_refused():
    displacement, heads, static = _basin(points=4, months=10)
    with pytest.raises(ValueError, match="consecutive monthly values"):
        train_series_model(displacement, PointDrivers(heads, static), 8, SeriesSettings(window=12))


def test_groundwater_scenarios_follow_the_last_years_trend():
    from subsidence_plugin.core.timeseries.series_models import scenario_heads

    heads = np.tile(100.0 - 0.5 * np.arange(30.0), (2, 1))
    heads[1, 20] = np.nan  # a missing head at the origin starts from the trend line
    held = scenario_heads(heads, 20, -100.0)
    np.testing.assert_allclose(held[:, 21:], 90.0)
    faster = scenario_heads(heads, 20, 50.0)
    np.testing.assert_allclose(faster[:, 21:], 90.0 - 0.75 * np.arange(1, 10)[None, :].repeat(2, axis=0))
    np.testing.assert_array_equal(faster[0, :21], heads[0, :21])


def test_unseen_blocks_are_left_out_of_the_training_and_scored_apart():
    from subsidence_plugin.core.timeseries.series_models import train_with_holdout

    displacement, heads, static = _basin()
    dates = (np.datetime64("2015-01", "M") + np.arange(displacement.shape[1])).astype("datetime64[D]")
    unseen = np.zeros(len(displacement), dtype=bool)
    unseen[:6] = True
    settings = SeriesSettings(window=6, training=TrainingSettings(epochs=3, batch_size=64, learning_rate=0.02,
                                                                  optimiser="adam"))
    result = train_with_holdout(dates, displacement, PointDrivers(heads, static), settings, 0.2, unseen)
    assert {"LSTM, observed heads, unseen blocks", "persistence, unseen blocks"} <= set(result.errors.rmse)
    changed = displacement.copy()
    changed[:6] += 1000.0 * np.random.default_rng(5).normal(size=(6, displacement.shape[1])).cumsum(axis=1)
    other = train_with_holdout(dates, changed, PointDrivers(heads, static), settings, 0.2, unseen)
    for name in ("train_loss", "validation_loss"):  # the unseen points' series do not reach the training
        assert getattr(result.model.history, name) == getattr(other.model.history, name)
    with pytest.raises(ValueError, match="nothing is left"):
        train_with_holdout(dates, displacement, PointDrivers(heads, static), settings, 0.2,
                           np.ones(len(displacement), bool))


def test_point_split_scores_against_a_constant_prediction():
    """A network that always predicts the scaled value 0 predicts the smallest training change, low: the
    scores are those of that constant against the observed monthly changes of the held points."""
    import torch

    from subsidence_plugin.core.timeseries.series_models import SeriesModel, point_split_scores

    displacement, heads, static = _basin(points=5, months=30)
    features = step_features(displacement, heads, static)
    scaling = MinMax.fit(features[:, :20])

    class Zero(torch.nn.Module):
        def forward(self, windows):
            return torch.zeros(windows.shape[0])

    model = SeriesModel(Zero(), scaling, SeriesSettings(window=4), None, np.array([1, 3]))
    scores = point_split_scores(model, displacement, PointDrivers(heads, static), 20)
    errors = {p: [scaling.low[0] - (displacement[p, t + 1] - displacement[p, t]) for t in range(4, 19)]
              for p in (1, 3)}  # windows of months t - 3 .. t inside months 1 .. 19, targets t + 1 <= 19
    everything = np.concatenate(list(errors.values()))
    assert scores["points"] == 2 and scores["changes"] == everything.size
    assert scores["change RMSE (mm)"] == pytest.approx(np.sqrt(np.mean(everything ** 2)), rel=1e-5)
    assert scores["change MAE (mm)"] == pytest.approx(np.mean(np.abs(everything)), rel=1e-5)
    assert scores["cumulative RMSE (mm)"] == pytest.approx(
        np.sqrt(np.mean([np.sum(e) ** 2 for e in errors.values()])), rel=1e-5)
