"""How two monthly series move together (seed 002 §IV-B: groundwater storage against rain, phase shift / lag).

Series are months (datetime64[M], increasing) and values, gaps allowed (absent months or NaN): every statistic
uses the months both series have, nothing is interpolated. Lag k pairs the first series at month m with the second
at month m + k, so a positive lag means the second series follows the first (rain → storage: storage lags, the
expected relation is positive). The best lag is that of the largest r (the positive relation; ``absolute`` picks
the largest |r| instead), ties to the smaller |k|. Significance uses the effective number of pairs of two
autocorrelated series, n_eff = n (1 − r1a r1b) / (1 + r1a r1b) (Bretherton et al. 1999, J. Climate 12, eq. 31),
capped at n, and a two-sided Student t test with n_eff − 2 degrees of freedom; the p-value of the best lag is not
corrected for having searched 2L + 1 lags. Trends inflate correlations: ``detrend`` / ``deseasonalise`` remove
them first (`remove_trend_and_season`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np
from scipy import stats


@dataclass
class CrossCorrelation:
    """Pearson r, pairs n, effective pairs n_eff, two-sided p-value and the r a lag needs to be significant at
    ``confidence`` (NaN where n_eff ≤ 2) per lag (months), the best lag and the lag-1 autocorrelations used."""

    lags: np.ndarray
    r: np.ndarray
    n: np.ndarray
    n_eff: np.ndarray
    p_value: np.ndarray
    threshold: np.ndarray
    best_lag: int
    best_r: float
    best_p_value: float
    lag1_first: float
    lag1_second: float
    confidence: float


def _checked(months: np.ndarray, values: np.ndarray, name: str) -> Tuple[np.ndarray, np.ndarray]:
    months = np.asarray(months, dtype="datetime64[M]")
    values = np.asarray(values, dtype=np.float64)
    if months.shape != values.shape or months.ndim != 1:
        raise ValueError(f"The {name} series needs one value per month, got {values.shape} values for "
                         f"{months.shape} months")
    if months.size > 1 and np.any(np.diff(months.astype(np.int64)) <= 0):
        raise ValueError(f"The months of the {name} series must increase without repeats")
    return months, values


def lag1_autocorrelation(months: np.ndarray, values: np.ndarray) -> float:
    """Lag-1 autocorrelation of a monthly series with gaps: the mean product of deviations from the mean over
    pairs of consecutive months, over the mean squared deviation; NaN without such pairs or variance."""
    months, values = _checked(months, values, "autocorrelated")
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    index, deviation = months[ok].astype(np.int64), values[ok] - values[ok].mean()
    pairs = np.flatnonzero(np.diff(index) == 1)
    variance = float(np.mean(deviation ** 2))
    if pairs.size == 0 or variance == 0.0:
        return float("nan")
    return float(np.mean(deviation[pairs] * deviation[pairs + 1]) / variance)


def remove_trend_and_season(months: np.ndarray, values: np.ndarray, trend: bool = True,
                            season: bool = True) -> np.ndarray:
    """Residuals of a least-squares fit of a linear trend (``trend``) and / or one mean per calendar month
    (``season``), fitted jointly on the present months; NaN stays NaN."""
    months, values = _checked(months, values, "detrended")
    if not (trend or season):
        return values.copy()
    index = months.astype(np.int64)
    columns = [(index % 12)[:, None] == np.arange(12)[None, :]] if season else [np.ones((index.size, 1))]
    if trend:
        columns.append((index - index.mean())[:, None])
    design = np.hstack(columns).astype(np.float64)
    ok = np.isfinite(values)
    coef, *_ = np.linalg.lstsq(design[ok], values[ok], rcond=None)
    return values - design @ coef


def cross_correlation(months_a: np.ndarray, a: np.ndarray, months_b: np.ndarray, b: np.ndarray, max_lag: int = 12,
                      absolute: bool = False, detrend: bool = False, deseasonalise: bool = False,
                      confidence: float = 0.95, following: bool = False) -> CrossCorrelation:
    """Pearson r between ``a`` at month m and ``b`` at month m + k for k = −max_lag … max_lag (common months only,
    at least 3 pairs), with Bretherton's n_eff, p-values and the significance threshold; see the module notes.
    ``following`` looks for the best lag among k ≥ 0 only (``b`` cannot lead ``a``, as storage cannot lead the rain
    that recharges it): seasonal series correlate as well at k and k − 12, and only the physics tells them apart."""
    months_a, a = _checked(months_a, a, "first")
    months_b, b = _checked(months_b, b, "second")
    if int(max_lag) != max_lag or max_lag < 0:
        raise ValueError(f"The largest lag must be a whole number of months ≥ 0, got {max_lag}")
    if detrend or deseasonalise:
        a = remove_trend_and_season(months_a, a, detrend, deseasonalise)
        b = remove_trend_and_season(months_b, b, detrend, deseasonalise)
    if months_a.size == 0 or months_b.size == 0:
        raise ValueError("Both series need months")
    r1a, r1b = lag1_autocorrelation(months_a, a), lag1_autocorrelation(months_b, b)
    start = min(months_a[0], months_b[0])
    size = int((max(months_a[-1], months_b[-1]) - start).astype(np.int64)) + 1
    first, second = np.full(size, np.nan), np.full(size, np.nan)
    first[(months_a - start).astype(np.int64)] = a
    second[(months_b - start).astype(np.int64)] = b
    lags = np.arange(-int(max_lag), int(max_lag) + 1)
    position = np.arange(size)[None, :] + lags[:, None]
    shifted = np.where((position >= 0) & (position < size), second[np.clip(position, 0, size - 1)], np.nan)
    x = np.broadcast_to(first, shifted.shape)
    pair = np.isfinite(x) & np.isfinite(shifted)
    n = pair.sum(axis=1)
    count = np.maximum(n, 1)
    dx = np.where(pair, x - (np.where(pair, x, 0.0).sum(axis=1) / count)[:, None], 0.0)
    dy = np.where(pair, shifted - (np.where(pair, shifted, 0.0).sum(axis=1) / count)[:, None], 0.0)
    denominator = np.sqrt((dx ** 2).sum(axis=1) * (dy ** 2).sum(axis=1))
    r = np.divide((dx * dy).sum(axis=1), denominator, out=np.full(lags.size, np.nan),
                  where=(n >= 3) & (denominator > 0))
    product = (r1a if np.isfinite(r1a) else 0.0) * (r1b if np.isfinite(r1b) else 0.0)
    n_eff = np.minimum(n * (1 - product) / (1 + product), n)
    dof = np.where(n_eff > 2, n_eff - 2, np.nan)
    t = r * np.sqrt(dof / np.clip(1 - r ** 2, 1e-300, None))
    p_value = 2 * stats.t.sf(np.abs(t), dof)
    critical = stats.t.ppf(0.5 + confidence / 2, dof)
    threshold = critical / np.sqrt(dof + critical ** 2)
    candidates = np.flatnonzero(np.isfinite(r) & ((lags >= 0) if following else True))
    if candidates.size == 0:
        raise ValueError(f"The two series share fewer than 3 months with variation at every lag up to {max_lag}")
    score = np.abs(r[candidates]) if absolute else r[candidates]
    best = candidates[np.lexsort((np.abs(lags[candidates]), -score))[0]]
    return CrossCorrelation(lags, r, n, n_eff, p_value, threshold, int(lags[best]), float(r[best]),
                            float(p_value[best]), r1a, r1b, confidence)


def monthly_totals(dates: np.ndarray, values: np.ndarray, min_share: float = 0.9) -> Tuple[np.ndarray, np.ndarray]:
    """Monthly precipitation (mm/month) of the area from daily gauge amounts (mm; ``values`` dates or gauges x
    dates, NaN = not read; readings of one gauge on one day are added): per gauge the mean daily amount x the days
    in the month where at least ``min_share`` of its days were read, else absent; the area value is the mean over
    the gauges with a month's total. Every month from the first to the last date; NaN = absent."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if values.shape[1] != dates.size:
        raise ValueError(f"The gauge values have {values.shape[1]} dates, the dates {dates.size}")
    if dates.size == 0:
        raise ValueError("No gauge dates")
    days, day_of_date = np.unique(dates, return_inverse=True)
    gauges, ndays = values.shape[0], days.size
    valid = np.isfinite(values)
    slots = (np.arange(gauges)[:, None] * ndays + day_of_date[None, :])[valid]
    daily = np.bincount(slots, weights=values[valid], minlength=gauges * ndays)
    read = np.bincount(slots, minlength=gauges * ndays) > 0
    month_of_day = days.astype("datetime64[M]")
    months = np.arange(month_of_day[0], month_of_day[-1] + 1, dtype="datetime64[M]")
    month_slots = (np.arange(gauges)[:, None] * months.size
                   + (month_of_day - months[0]).astype(np.int64)[None, :]).ravel()
    total = np.bincount(month_slots, weights=daily, minlength=gauges * months.size).reshape(gauges, months.size)
    counted = np.bincount(month_slots, weights=read.astype(np.float64),
                          minlength=gauges * months.size).reshape(gauges, months.size)
    length = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.float64)
    enough = counted >= min_share * length - 1e-9
    per_gauge = np.divide(total * length, counted, out=np.full(total.shape, np.nan), where=enough & (counted > 0))
    present = np.isfinite(per_gauge).sum(axis=0)
    area = np.divide(np.nansum(per_gauge, axis=0), present, out=np.full(months.size, np.nan), where=present > 0)
    return months, area


def monthly_displacement(dates: np.ndarray, series: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mean InSAR displacement (mm) per month of the points (``series`` points x dates, mm, NaN = none; dates
    datetime64[D]): the mean over the points at each date, then the mean over the month's dates. Every month from
    the first to the last date; NaN where the month has no acquisition."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    series = np.atleast_2d(np.asarray(series, dtype=np.float64))
    if series.shape[1] != dates.size or dates.size == 0:
        raise ValueError(f"The point series have {series.shape[1]} dates, the dates {dates.size}")
    valid = np.isfinite(series)
    points = valid.sum(axis=0)
    at_date = np.divide(np.where(valid, series, 0.0).sum(axis=0), points, out=np.full(dates.size, np.nan),
                        where=points > 0)
    month_of_date = dates.astype("datetime64[M]")
    months = np.arange(month_of_date.min(), month_of_date.max() + 1, dtype="datetime64[M]")
    slot = (month_of_date - months[0]).astype(np.int64)
    has = np.isfinite(at_date)
    total = np.bincount(slot[has], weights=at_date[has], minlength=months.size)
    count = np.bincount(slot[has], minlength=months.size)
    return months, np.divide(total, count, out=np.full(months.size, np.nan), where=count > 0)
