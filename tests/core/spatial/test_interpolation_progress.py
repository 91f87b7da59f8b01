"""Progress and cancel of variogram selection and the interpolator factory (issue 11: they were silent)."""
import numpy as np
import pytest

from subsidence_plugin.core.progress import Cancelled
from subsidence_plugin.core.spatial.interpolation import InterpolationSettings, make_interpolator, select_variogram
from subsidence_plugin.core.spatial.variogram import fit_models

MODELS = ("spherical", "exponential", "gaussian")


def _field(n=300, seed=2):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 5000, (2, n))
    return x, y, np.sin(x / 900) + np.cos(y / 700) + rng.normal(0, 0.05, n)


def _recorder():
    calls = []
    return calls, lambda percent, message: calls.append((percent, message))


def test_select_variogram_reports_each_fitted_and_cross_validated_model_and_keeps_its_result():
    x, y, z = _field()
    calls, progress = _recorder()
    best, experimental, table = select_variogram(x, y, z, MODELS, k=12, cv_points=100, progress=progress)
    percents = [p for p, _ in calls]
    assert len(calls) == 1 + 2 * len(MODELS) and np.all(np.diff(percents) > 0) and percents[-1] == 100.0
    messages = [m for _, m in calls]
    assert messages[0] == "Experimental variogram"
    assert messages[1:4] == [f"Fitted the {m} variogram" for m in MODELS]
    assert [m.split(":")[0] for m in messages[4:]] == [f"Cross-validated the {m} variogram" for m in MODELS]
    # the same fit as before progress existed (fit_models) and as without a callback
    lags, gamma, counts, fitted = fit_models(x, y, z, MODELS)
    np.testing.assert_array_equal(experimental[1], gamma)
    assert {m: v for m, (v, _) in table.items()} == fitted
    quiet = select_variogram(x, y, z, MODELS, k=12, cv_points=100)
    assert quiet[0] == best and quiet[2] == table


def test_select_variogram_cancels_between_models():
    x, y, z = _field()
    checks = []

    def cancelled_at_the_third_check():
        checks.append(1)
        return len(checks) >= 3

    with pytest.raises(Cancelled):
        select_variogram(x, y, z, MODELS, k=12, cv_points=100, is_cancelled=cancelled_at_the_third_check)
    assert len(checks) == 3


def test_make_interpolator_reports_progress_and_cancels():
    x, y, z = _field()
    settings = InterpolationSettings(method="kriging", k=12, models=MODELS, cv_points=100)
    calls, progress = _recorder()
    interpolator = make_interpolator(x, y, z, settings, progress=progress)
    percents = [p for p, _ in calls]
    assert len(calls) == 2 + 2 * len(MODELS) and np.all(np.diff(percents) > 0) and percents[-1] == 100.0
    assert calls[-1][1] == f"Kriging with the {interpolator.variogram.model} variogram ready"
    quiet = make_interpolator(x, y, z, settings)
    assert quiet.variogram == interpolator.variogram
    np.testing.assert_array_equal(quiet.values(x[:50] + 10, y[:50]), interpolator.values(x[:50] + 10, y[:50]))
    calls, progress = _recorder()
    make_interpolator(x, y, z, InterpolationSettings(method="idw"), progress=progress)
    assert calls == [(100.0, "IDW interpolator ready")]
    with pytest.raises(Cancelled):
        make_interpolator(x, y, z, settings, is_cancelled=lambda: True)
    with pytest.raises(Cancelled):
        make_interpolator(x, y, z, InterpolationSettings(method="idw"), is_cancelled=lambda: True)
