"""Baseline forecasts and the rolling-origin RMSE against hand computations."""
import numpy as np
import pytest

from subsidence_plugin.core.timeseries.baselines import (BASELINES, last_year_trend, linear_trend, month_starts,
                                                         monthly_series, persistence, rolling_origin_errors,
                                                         trend_and_annual)


def test_month_starts_and_monthly_values():
    dates = np.array(["2019-01-10", "2019-03-01", "2019-04-20"], dtype="datetime64[D]")
    np.testing.assert_array_equal(month_starts(dates), np.array(["2019-02-01", "2019-03-01", "2019-04-01"],
                                                                dtype="datetime64[D]"))
    months, values = monthly_series(dates, np.array([[0.0, 50.0, 100.0]]))  # the days since 2019-01-10
    np.testing.assert_allclose(values, [[22.0, 50.0, 81.0]])  # linear between the dates


def test_baselines_on_exact_models():
    months = np.arange(60, dtype=float)
    line = (3.0 - 0.5 * months)[None, :]
    seasonal = line + 2.0 * np.sin(2 * np.pi * months / 12) + np.cos(2 * np.pi * months / 12)
    ahead = np.array([1, 6, 12])
    np.testing.assert_allclose(persistence(line[:, :37], ahead), [[3.0 - 0.5 * 36] * 3])
    np.testing.assert_allclose(linear_trend(line[:, :37], ahead), line[:, 36 + ahead], atol=1e-9)
    np.testing.assert_allclose(last_year_trend(line[:, :37], ahead), line[:, 36 + ahead], atol=1e-9)
    np.testing.assert_allclose(trend_and_annual(seasonal[:, :37], ahead), seasonal[:, 36 + ahead], atol=1e-9)
    gappy = line[:, :37].copy()
    gappy[0, [3, 20]] = np.nan  # gaps do not matter to a least-squares line
    np.testing.assert_allclose(linear_trend(gappy, ahead), line[:, 36 + ahead], atol=1e-9)


def test_rolling_origin_rmse_of_persistence_on_a_line():
    """Persistence on a line of slope s: each point's RMSE over leads 1 .. h is s sqrt((h + 1)(2h + 1) / 6)."""
    slope = np.array([[-1.0], [-2.0]])
    values = slope * np.arange(40.0)[None, :]
    errors = rolling_origin_errors(values, [20, 26], [1, 3, 12], BASELINES)
    h = np.array([1, 3, 12])
    np.testing.assert_allclose(errors.rmse["persistence"], 1.5 * np.sqrt((h + 1) * (2 * h + 1) / 6))
    np.testing.assert_allclose(errors.rmse["linear trend"], 0.0, atol=1e-9)
    assert errors.count.tolist() == [4, 4, 4]
    with pytest.raises(ValueError, match="outside"):
        rolling_origin_errors(values, [40], [1], BASELINES)
