"""Comparison of monthly series: the lag of a shifted sinusoid under noise, gaps (common months only), r per lag
against numpy, the lag-1 autocorrelations and Bretherton's n_eff, p-values and thresholds by hand, the sign
convention of the lag, detrending, and the monthly precipitation and InSAR helpers by hand."""
import numpy as np
import pytest
from scipy import stats

from subsidence_plugin.core.groundwater.compare import (cross_correlation, lag1_autocorrelation, monthly_displacement,
                                                        monthly_totals, remove_trend_and_season)

MONTHS = np.arange(np.datetime64("2015-01", "M"), np.datetime64("2021-12", "M") + 1)


def _sinusoid(shift, rng=None, noise=0.0):
    index = np.arange(MONTHS.size)
    values = np.sin(2 * np.pi * (index - shift) / 12.0)
    return values + (rng.normal(0, noise, index.size) if rng is not None else 0.0)


def test_the_lag_of_a_shifted_sinusoid_under_noise():
    rng = np.random.default_rng(2)
    rain, storage = _sinusoid(0, rng, 0.3), _sinusoid(2, rng, 0.3)  # storage follows rain by 2 months
    result = cross_correlation(MONTHS, rain, MONTHS, storage, max_lag=5)
    assert result.best_lag == 2 and result.best_r > 0.8 and result.best_p_value < 1e-6
    np.testing.assert_array_equal(result.lags, np.arange(-5, 6))
    assert result.r[result.lags == 2][0] > result.threshold[result.lags == 2][0]
    swapped = cross_correlation(MONTHS, storage, MONTHS, rain, max_lag=5)
    assert swapped.best_lag == -2
    np.testing.assert_allclose(swapped.r, result.r[::-1], rtol=0, atol=1e-12)


def test_r_per_lag_uses_the_common_months_only():
    rng = np.random.default_rng(4)
    a, b = _sinusoid(0, rng, 0.5), _sinusoid(1, rng, 0.5)
    a[[3, 10, 11]] = np.nan
    keep = np.ones(MONTHS.size, dtype=bool)
    keep[[20, 21, 40]] = False  # months absent from the second series
    result = cross_correlation(MONTHS, a, MONTHS[keep], b[keep], max_lag=3)
    b_gapped = np.where(keep, b, np.nan)
    for lag in (-3, 0, 1, 3):
        first = a[max(0, -lag):MONTHS.size - max(0, lag)]
        second = b_gapped[max(0, lag):MONTHS.size - max(0, -lag)]
        both = np.isfinite(first) & np.isfinite(second)
        row = result.lags == lag
        assert result.n[row][0] == both.sum()
        assert result.r[row][0] == pytest.approx(np.corrcoef(first[both], second[both])[0, 1], abs=1e-12)


def test_lag1_autocorrelation_by_hand_with_a_gap():
    months = np.array(["2020-01", "2020-02", "2020-03", "2020-05", "2020-06"], dtype="datetime64[M]")
    values = np.array([1.0, 3.0, 2.0, 6.0, 4.0])
    d = values - values.mean()
    expected = np.mean([d[0] * d[1], d[1] * d[2], d[3] * d[4]]) / np.mean(d ** 2)  # 2020-03 → 05 is no pair
    assert lag1_autocorrelation(months, values) == pytest.approx(expected, abs=1e-12)


def test_n_eff_p_value_and_threshold_by_hand():
    rng = np.random.default_rng(8)
    a = np.cumsum(rng.normal(size=MONTHS.size)) * 0.3 + _sinusoid(0)
    b = np.cumsum(rng.normal(size=MONTHS.size)) * 0.3 + _sinusoid(3)
    result = cross_correlation(MONTHS, a, MONTHS, b, max_lag=4)
    r1a, r1b = lag1_autocorrelation(MONTHS, a), lag1_autocorrelation(MONTHS, b)
    assert (result.lag1_first, result.lag1_second) == (r1a, r1b) and r1a > 0.5 and r1b > 0.5
    row = result.lags == 3
    n = MONTHS.size - 3
    n_eff = n * (1 - r1a * r1b) / (1 + r1a * r1b)
    r = result.r[row][0]
    t = r * np.sqrt((n_eff - 2) / (1 - r ** 2))
    assert result.n_eff[row][0] == pytest.approx(n_eff, rel=1e-12)
    assert result.p_value[row][0] == pytest.approx(2 * stats.t.sf(abs(t), n_eff - 2), rel=1e-9)
    critical = stats.t.ppf(0.975, n_eff - 2)
    assert result.threshold[row][0] == pytest.approx(critical / np.sqrt(n_eff - 2 + critical ** 2), rel=1e-12)


def test_the_largest_r_or_the_largest_absolute_r():
    a, b = _sinusoid(0), -_sinusoid(2)  # b is a inverted two months later
    positive = cross_correlation(MONTHS, a, MONTHS, b, max_lag=3)
    assert positive.best_lag == -3 and positive.best_r == pytest.approx(np.cos(np.pi / 6), abs=1e-2)
    absolute = cross_correlation(MONTHS, a, MONTHS, b, max_lag=3, absolute=True)
    assert absolute.best_lag == 2 and absolute.best_r == pytest.approx(-1.0, abs=1e-12)


def test_detrending_removes_a_shared_trend():
    rng = np.random.default_rng(6)
    index = np.arange(MONTHS.size)
    a, b = 0.2 * index + rng.normal(0, 1, index.size), 0.2 * index + rng.normal(0, 1, index.size)
    assert cross_correlation(MONTHS, a, MONTHS, b, max_lag=0).r[0] > 0.9
    assert abs(cross_correlation(MONTHS, a, MONTHS, b, max_lag=0, detrend=True).r[0]) < 0.3
    season = np.array([5.0, 3, 1, 0, -2, -4, -6, -3, -1, 2, 4, 6])[index % 12]
    values = 1.5 - 0.4 * index + season
    values[7] = np.nan
    residuals = remove_trend_and_season(MONTHS, values)
    np.testing.assert_allclose(residuals[np.isfinite(values)], 0.0, atol=1e-9)
    assert np.isnan(residuals[7])


def test_compare_errors():
    with pytest.raises(ValueError) as error:
        cross_correlation(MONTHS, _sinusoid(0), MONTHS, _sinusoid(0), max_lag=-1)
    assert str(error.value) == "The largest lag must be a whole number of months ≥ 0, got -1"
    later = MONTHS + 120
    with pytest.raises(ValueError) as error:
        cross_correlation(MONTHS, _sinusoid(0), later, _sinusoid(0), max_lag=2)
    assert str(error.value) == "The two series share fewer than 3 months with variation at every lag up to 2"
    with pytest.raises(ValueError) as error:
        cross_correlation(MONTHS[::-1], _sinusoid(0), MONTHS, _sinusoid(0))
    assert str(error.value) == "The months of the first series must increase without repeats"


def test_monthly_totals_from_daily_gauges():
    days = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-04-01"))
    first = np.ones(days.size)  # 1 mm a day
    first[31:39] = np.nan  # February: 21 of 29 days read, too few
    first[60:63] = np.nan  # March: 28 of 31 read, enough at 0.9
    second = np.full(days.size, 3.0)
    second[60:] = np.nan  # no March
    dates = np.concatenate([days, days[:1]])  # a second reading on 1 January is added
    values = np.vstack([np.append(first, 2.0), np.append(second, np.nan)])
    months, totals = monthly_totals(dates, values)
    np.testing.assert_array_equal(months, np.array(["2020-01", "2020-02", "2020-03"], dtype="datetime64[M]"))
    january = ((31 + 2) / 31 * 31 + 3 * 31) / 2
    np.testing.assert_allclose(totals, [january, 3 * 29, 31.0], rtol=0, atol=1e-12)
    _, single = monthly_totals(days, first, min_share=0.5)
    np.testing.assert_allclose(single, [31.0, 29.0, 31.0], rtol=0, atol=1e-12)


def test_monthly_mean_displacement_of_points():
    dates = np.array(["2020-01-05", "2020-01-17", "2020-03-02", "2020-03-14"], dtype="datetime64[D]")
    series = np.array([[0.0, -2.0, -5.0, np.nan],
                       [0.0, -4.0, -7.0, -9.0]])
    months, mean = monthly_displacement(dates, series)
    np.testing.assert_array_equal(months, np.array(["2020-01", "2020-02", "2020-03"], dtype="datetime64[M]"))
    np.testing.assert_allclose(mean, [(0.0 - 3.0) / 2, np.nan, (-6.0 - 9.0) / 2], rtol=0, atol=1e-12)
