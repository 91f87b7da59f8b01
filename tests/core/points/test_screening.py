"""The screening CNN of seed 002: its inputs (against numpy's interpolation), its separation of clean and spiky
series, reproducibility, the statistics it reports (recomputed), tuning, and its refusals."""
import numpy as np
import pytest
import torch

from subsidence_plugin.core.ml.training import TrainingSettings
from subsidence_plugin.core.ml.tuning import SearchSpace
from subsidence_plugin.core.points.labels import label_series
from subsidence_plugin.core.points.screening import ScreeningSettings, SeriesCNN, screen_series, standardised_series
from subsidence_plugin.core.stats.roc import classification_statistics

DATES = np.datetime64("2019-01-01") + np.arange(0, 60 * 12, 12).astype("timedelta64[D]")
YEARS = (DATES - DATES[0]).astype(float) / 365.25


def _points(n=1200, seed=0):
    rng = np.random.default_rng(seed)
    rate = rng.normal(-8.0, 6.0, n)
    series = rate[:, None] * YEARS[None, :] + rng.normal(0.0, 0.6, (n, len(DATES)))
    spiky = rng.random(n) < 0.35
    series[spiky, rng.integers(5, len(DATES) - 5, spiky.sum())] += rng.choice([-1, 1], spiky.sum()) * 15.0
    series[rng.random(series.shape) < 0.02] = np.nan
    return series, spiky


def test_inputs_are_standardised_series_and_residuals_with_gaps_filled_linearly():
    rng = np.random.default_rng(1)
    series = rng.normal(0.0, 3.0, (5, len(DATES))) - 9.0 * YEARS
    series[0, [0, 1, 10, 11, 12, 59]] = np.nan
    series[1, :] = 2.5
    series[2, :] = np.nan
    out = standardised_series(series, YEARS)
    assert out.shape == (5, 2, len(DATES)) and out.dtype == np.float32
    ok = ~np.isnan(series[0])
    filled = np.interp(YEARS, YEARS[ok], series[0, ok])  # held at the ends, as np.interp does
    residual = filled - np.polyval(np.polyfit(YEARS, filled, 1), YEARS)
    assert np.allclose(out[0, 0], (filled - filled.mean()) / filled.std(), atol=1e-5)
    assert np.allclose(out[0, 1], (residual - residual.mean()) / residual.std(), atol=1e-5)
    assert (out[1] == 0).all() and (out[2] == 0).all()
    assert np.allclose(out[3, 0], (series[3] - series[3].mean()) / series[3].std(), atol=1e-5)


def test_network_is_the_seeds_layer_list():
    net = SeriesCNN(len(DATES))
    conv, pool = net.features[0], net.features[2]
    assert conv.out_channels == 20 and isinstance(pool, torch.nn.AvgPool1d)
    assert net.head[1].out_features == 10 and net.head[3].out_features == 1
    assert net(torch.zeros(3, 2, len(DATES))).shape == (3,)


def test_screening_separates_clean_and_spiky_series_and_reports_its_test_statistics():
    series, spiky = _points()
    labels = label_series(DATES, series, outlier_threshold=4.0)  # k = 4: few normal residuals labelled bad by chance
    state = torch.random.get_rng_state()
    settings = ScreeningSettings(training=TrainingSettings(epochs=12, batch_size=64, learning_rate=2e-3, loss="mse",
                                                           device="cpu"))
    result = screen_series(DATES, series, labels.label, labels.split, settings)
    assert torch.equal(state, torch.random.get_rng_state())  # the process's generator is untouched
    test = (labels.split == "test") & (labels.label >= 0)
    expected = classification_statistics(labels.label[test], result.score[test])
    assert result.test == pytest.approx(expected)
    assert result.test["auc"] > 0.97
    assert ((result.score >= 0) & (result.score <= 1)).all() and (result.keep == (result.score >= 0.5)).all()
    assert result.keep[~spiky].mean() > 0.95 and result.keep[spiky].mean() < 0.05  # unlabelled points scored too
    again = screen_series(DATES, series, labels.label, labels.split, settings)
    assert np.array_equal(again.score, result.score)


def test_tuning_searches_learning_rate_epochs_and_batch():
    series, _ = _points(400, seed=2)
    labels = label_series(DATES, series)
    settings = ScreeningSettings(tune=True, training=TrainingSettings(epochs=3, batch_size=32, loss="mse",
                                                                      device="cpu"),
                                 search=SearchSpace(epochs=(1, 3), batch_size=(16, 64), population=4, iterations=1))
    seen = []
    result = screen_series(DATES, series, labels.label, labels.split, settings,
                           on_fitness=lambda n, f, b: seen.append((n, f, b)))
    assert len(seen) == 8 and result.tuning is not None
    assert result.used["validation_auc"] == pytest.approx(max(f for _, f, _ in seen))
    log_rate, epochs, log_batch = result.tuning.best  # the final model is trained with the best candidate
    assert result.used["learning_rate"] == pytest.approx(10.0 ** log_rate)
    assert (result.used["epochs"], result.used["batch_size"]) == (int(epochs), round(2.0 ** log_batch))


def test_one_class_is_refused_with_advice():
    series = -5.0 * YEARS[None, :] + np.zeros((50, 1))
    labels = label_series(DATES, series)
    with pytest.raises(ValueError, match="good \\(1\\) and bad \\(0\\) points in both parts"):
        screen_series(DATES, series, labels.label, labels.split)
