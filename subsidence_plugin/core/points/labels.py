"""Quality labels of InSAR measurement points from their own series (seed 002 §III-B 5, after ICOPS, Fadhillah et
al. 2022): a series is *good* (1) when it follows time closely, \\|Pearson r\\| of displacement with time above a
threshold (0.9; a subsiding series has r ≈ −1), and no date is an outlier; *bad* (0) when a date is an outlier;
the rest stay unlabelled (the CNN scores them).

Outliers are taken in the residuals from each series' least-squares line, by the two rules the seed names (as
MATLAB's ``isoutlier``): more than ``k`` scaled median absolute deviations from the residuals' median (scaled MAD =
1.4826 · median \\|r − median r\\|, consistent with σ for normal errors) or more than ``k`` standard deviations from
their mean (k = 3). With many dates a few normal residuals pass 3 σ by chance (0.27 % of dates each): that is the
seed's rule, and the threshold is a parameter.

Vectorised over points, in blocks of rows (memory bounded); NaN dates are left out of every statistic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..progress import CancelCheck, ProgressCallback, Steps
from ..stats.splits import stratified_test_split

GOOD, BAD, UNLABELLED = 1, 0, -1
MAD_SCALE = 1.482602218505602  # 1 / Φ⁻¹(3/4): the scaled MAD estimates σ for normal errors
MIN_DATES = 3
ROUNDING = 1e-9  # residuals of an exact line are rounding noise: never outliers below this share of the values


@dataclass
class SeriesLabels:
    """Per point: ``label`` 1 good / 0 bad / −1 unlabelled, Pearson ``r`` with time, the number of ``outliers``,
    the number of ``dates`` with a value; ``split`` "train" / "test" for labelled points, "" otherwise."""

    label: np.ndarray
    r: np.ndarray
    outliers: np.ndarray
    dates: np.ndarray
    split: np.ndarray

    def counts(self) -> dict:
        return {"good": int((self.label == GOOD).sum()), "bad": int((self.label == BAD).sum()),
                "unlabelled": int((self.label == UNLABELLED).sum()),
                "too_short": int((self.dates < MIN_DATES).sum()),
                "train": int((self.split == "train").sum()), "test": int((self.split == "test").sum())}


def _block_statistics(t: np.ndarray, block: np.ndarray, k: float):
    """Pearson r, outlier count and valid dates of a (points, dates) block against times ``t`` (years)."""
    valid = ~np.isnan(block)
    count = valid.sum(axis=1)
    n = np.maximum(count, 1)
    times = np.where(valid, t, 0.0)
    values = np.where(valid, block, 0.0)
    t_mean = times.sum(axis=1) / n
    d_mean = values.sum(axis=1) / n
    dt = np.where(valid, t - t_mean[:, None], 0.0)
    dd = np.where(valid, block - d_mean[:, None], 0.0)
    stt, sdd, std = (dt * dt).sum(axis=1), (dd * dd).sum(axis=1), (dt * dd).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = std / np.sqrt(stt * sdd)
        slope = std / stt
    residual = np.where(valid, dd - slope[:, None] * dt, np.nan)
    with np.errstate(invalid="ignore"):
        median = np.nanmedian(residual, axis=1)
        mad = MAD_SCALE * np.nanmedian(np.abs(residual - median[:, None]), axis=1)
        mean = np.nanmean(residual, axis=1)
        sigma = np.nanstd(residual, axis=1)
        floor = ROUNDING * (1.0 + np.nanmax(np.abs(block), axis=1, initial=0.0))[:, None]
        beyond_mad = np.abs(residual - median[:, None]) > np.maximum(k * mad[:, None], floor)
        beyond_sigma = np.abs(residual - mean[:, None]) > np.maximum(k * sigma[:, None], floor)
    outliers = ((beyond_mad | beyond_sigma) & valid).sum(axis=1)
    r = np.where(count >= MIN_DATES, np.nan_to_num(r, nan=0.0), np.nan)
    return r, outliers, count


def label_series(dates: np.ndarray, series: np.ndarray, r_threshold: float = 0.9, outlier_threshold: float = 3.0,
                 test_share: float = 0.3, seed: int = 0, block: int = 20000,
                 progress: Optional[ProgressCallback] = None,
                 is_cancelled: Optional[CancelCheck] = None) -> SeriesLabels:
    """Seed 002's labels of every point's (dates,) series in ``series`` (points, dates), NaN = no value, and a
    stratified ``test_share`` split of the labelled points (seed 002: 70 / 30). A constant series has r = 0;
    a point with fewer than 3 dates stays unlabelled."""
    series = np.asarray(series)
    if series.ndim != 2 or series.shape[1] != len(dates):
        raise ValueError("The series must be a (points, dates) matrix with one column per date")
    if len(dates) < MIN_DATES:
        raise ValueError(f"The points have {len(dates)} dates; labelling needs at least {MIN_DATES}")
    if not 0.0 < r_threshold < 1.0:
        raise ValueError("The correlation threshold must lie between 0 and 1")
    if outlier_threshold <= 0:
        raise ValueError("The outlier threshold (scaled MADs / standard deviations) must be positive")
    t = (np.asarray(dates, dtype="datetime64[D]") - np.asarray(dates, dtype="datetime64[D]")[0]).astype(
        np.float64) / 365.25
    n = len(series)
    r, outliers, count = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    steps = Steps(max(1, -(-n // block)), progress, is_cancelled)
    for start in range(0, n, block):
        stop = min(n, start + block)
        r[start:stop], outliers[start:stop], count[start:stop] = _block_statistics(
            t, series[start:stop].astype(np.float64), outlier_threshold)
        steps.advance("labelling the series")
    label = np.full(n, UNLABELLED, dtype=np.int64)
    enough = count >= MIN_DATES
    label[enough & (outliers > 0)] = BAD
    label[enough & (outliers == 0) & (np.abs(np.nan_to_num(r)) > r_threshold)] = GOOD
    split = np.full(n, "", dtype=object)
    labelled = np.flatnonzero(label != UNLABELLED)
    if len(labelled):
        test = stratified_test_split(label[labelled], test_share, seed)
        split[labelled] = np.where(test, "test", "train")
    return SeriesLabels(label, r, outliers, count, split)
