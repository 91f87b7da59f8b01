"""Seed 002's labels of measurement points, against hand computations (scipy's Pearson r, numpy's line fit)."""
import numpy as np
import pytest
from scipy import stats

from subsidence_plugin.core.points.labels import BAD, GOOD, MAD_SCALE, UNLABELLED, label_series

DATES = np.datetime64("2018-01-01") + np.arange(0, 24 * 12, 12).astype("timedelta64[D]")
YEARS = (DATES - DATES[0]).astype(float) / 365.25


def _series():
    wiggle = np.where(np.arange(len(DATES)) % 2 == 0, 1.0, -1.0)  # ±1: no residual beyond 3 MADs or 3 σ
    rows = np.array([
        -20.0 * YEARS + 0.05 * wiggle,         # steady subsidence: r ≈ −1, no outlier -> good
        15.0 * YEARS + 0.05 * wiggle,          # steady uplift: r ≈ +1 -> good (|r|)
        wiggle,                                # stable: r ≈ 0, no outlier -> unlabelled
        -20.0 * YEARS + 0.05 * wiggle,         # subsidence with one jump -> bad
        np.full(len(DATES), 4.0),              # constant: r = 0 -> unlabelled
        -20.0 * YEARS,                         # an exact line with 2 dates: too few -> unlabelled
    ])
    rows[3, 10] += 25.0
    rows[5, 2:] = np.nan
    return rows


def test_labels_follow_the_seeds_rules():
    series = _series()
    labels = label_series(DATES, series)
    assert labels.label.tolist() == [GOOD, GOOD, UNLABELLED, BAD, UNLABELLED, UNLABELLED]
    for i in (0, 1, 2, 3):
        assert labels.r[i] == pytest.approx(stats.pearsonr(YEARS, series[i])[0], abs=1e-12)
    assert labels.r[4] == 0.0 and np.isnan(labels.r[5])
    assert labels.outliers[3] >= 1 and labels.outliers[0] == 0
    assert labels.dates.tolist() == [24, 24, 24, 24, 24, 2]
    assert labels.counts()["too_short"] == 1


def test_outlier_rules_by_hand():
    """One series: residuals from the least-squares line; a date is an outlier beyond k scaled MADs from the median
    or k standard deviations from the mean."""
    rng = np.random.default_rng(11)
    series = -8.0 * YEARS + rng.normal(0.0, 1.0, len(DATES))
    series[5] += 3.2
    series[17] = np.nan
    ok = ~np.isnan(series)
    slope, intercept = np.polyfit(YEARS[ok], series[ok], 1)
    residual = series[ok] - (slope * YEARS[ok] + intercept)
    for k in (1.5, 2.0, 2.5, 3.0, 4.0):
        mad = MAD_SCALE * np.median(np.abs(residual - np.median(residual)))
        expected = int(((np.abs(residual - np.median(residual)) > k * mad)
                        | (np.abs(residual - residual.mean()) > k * residual.std())).sum())
        labels = label_series(DATES, series[None, :], outlier_threshold=k)
        assert labels.outliers[0] == expected, k
        assert labels.label[0] == (BAD if expected else (GOOD if abs(labels.r[0]) > 0.9 else UNLABELLED))


def test_split_is_stratified_and_seeded():
    rng = np.random.default_rng(0)
    slopes = rng.normal(-10.0, 6.0, 400)
    series = slopes[:, None] * YEARS[None, :] + rng.normal(0.0, 1.0, (400, len(DATES)))
    series[::4, 7] += 30.0
    labels = label_series(DATES, series, seed=5)
    for value in (GOOD, BAD):
        members = labels.label == value
        assert (labels.split[members] == "test").sum() == round(0.3 * members.sum())
    assert set(labels.split[labels.label == UNLABELLED]) <= {""}
    again = label_series(DATES, series, seed=5)
    assert (again.split == labels.split).all()
    blocked = label_series(DATES, series, seed=5, block=37)  # the blocks change nothing
    assert (blocked.label == labels.label).all() and np.allclose(blocked.r, labels.r, equal_nan=True)


def test_an_exact_line_has_no_outlier():
    """Its residuals are rounding noise (MAD ≈ 1e-15): none of them is an outlier."""
    labels = label_series(DATES, np.array([-37.3 * YEARS + 2.1]))
    assert labels.outliers[0] == 0 and labels.label[0] == GOOD


def test_bad_input_is_explained():
    with pytest.raises(ValueError, match="one column per date"):
        label_series(DATES, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="at least 3"):
        label_series(DATES[:2], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="between 0 and 1"):
        label_series(DATES, _series(), r_threshold=1.5)
