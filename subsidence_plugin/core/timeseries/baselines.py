"""Baseline forecasts of point displacement series and the honest evaluation every model is compared in (issue 13):
series resampled to the first day of each month, forecasts from an origin month for horizons in months, RMSE per
horizon over points and origins.

Baselines (all from the monthly values up to and including the origin, mm):

* persistence: the value at the origin (the last monthly value before the forecast);
* linear trend: least-squares line over the whole history;
* last-year trend: least-squares line over the last 12 months;
* trend + annual: line plus an annual sine and cosine over the whole history.

Each forecaster maps (history (points, months), months ahead (horizons,)) to forecasts (points, horizons).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, Sequence

import numpy as np

from ..stats.resampling import interpolate_in_time

Forecaster = Callable[[np.ndarray, np.ndarray], np.ndarray]


def month_starts(dates: np.ndarray) -> np.ndarray:
    """The first day of every month from the first date's month (if it starts on day 1, else the next) to the
    last date's month (datetime64[D])."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    first = dates.min().astype("datetime64[M]")
    if first.astype("datetime64[D]") < dates.min():
        first = first + np.timedelta64(1, "M")
    return np.arange(first, dates.max().astype("datetime64[M]") + np.timedelta64(1, "M")).astype("datetime64[D]")


def monthly_series(dates: np.ndarray, series: np.ndarray):
    """(months, values): the series (points, dates; NaN gaps) linearly interpolated to the first day of each
    month within their record (no extrapolation)."""
    months = month_starts(dates)
    return months, interpolate_in_time(dates, series, months)


def _least_squares(history: np.ndarray, design: np.ndarray, future: np.ndarray) -> np.ndarray:
    """Per row of ``history`` (points, months; NaN = missing), the least-squares fit of the columns of
    ``design`` (months, terms) evaluated at ``future`` (horizons, terms). Rows are grouped by their missing
    months so each group is one least-squares solve."""
    out = np.full((history.shape[0], future.shape[0]), np.nan)
    valid = ~np.isnan(history)
    patterns, group = np.unique(valid, axis=0, return_inverse=True)
    for index, pattern in enumerate(patterns):
        if pattern.sum() < design.shape[1]:
            continue
        rows = np.flatnonzero(group.ravel() == index)
        coefficients, *_ = np.linalg.lstsq(design[pattern], history[np.ix_(rows, np.flatnonzero(pattern))].T,
                                           rcond=None)
        out[rows] = (future @ coefficients).T
    return out


def persistence(history: np.ndarray, ahead: np.ndarray) -> np.ndarray:
    """The last value of each row (at the origin) for every horizon."""
    return np.repeat(history[:, -1:], len(ahead), axis=1)


def linear_trend(history: np.ndarray, ahead: np.ndarray) -> np.ndarray:
    """A least-squares line over the whole history, extended ``ahead`` months past the origin."""
    t = np.arange(history.shape[1], dtype=np.float64) - (history.shape[1] - 1)
    ahead = np.asarray(ahead, dtype=np.float64)
    return _least_squares(history, np.column_stack([np.ones_like(t), t]),
                          np.column_stack([np.ones_like(ahead), ahead]))


def last_year_trend(history: np.ndarray, ahead: np.ndarray) -> np.ndarray:
    """`linear_trend` over the last 13 monthly values (12 months)."""
    return linear_trend(history[:, -13:], ahead)


def trend_and_annual(history: np.ndarray, ahead: np.ndarray) -> np.ndarray:
    """A line plus an annual sine and cosine over the whole history, extended ``ahead`` months."""
    t = np.arange(history.shape[1], dtype=np.float64) - (history.shape[1] - 1)
    ahead = np.asarray(ahead, dtype=np.float64)

    def design(months):
        angle = 2 * np.pi * months / 12.0
        return np.column_stack([np.ones_like(months), months, np.sin(angle), np.cos(angle)])

    return _least_squares(history, design(t), design(ahead))


BASELINES: Dict[str, Forecaster] = {"persistence": persistence, "linear trend": linear_trend,
                                    "last-year trend": last_year_trend, "trend + annual": trend_and_annual}


@dataclass
class HorizonErrors:
    """RMSE (mm) by method and horizon h (months): each point's RMSE over the lead times 1 .. h, averaged over
    the points, then over the origins (each origin weighs the same); ``count`` the points scored per horizon,
    summed over the origins."""

    horizons: np.ndarray
    rmse: Dict[str, np.ndarray]
    count: np.ndarray


def rolling_origin_errors(values: np.ndarray, origins: Sequence[int], horizons: Sequence[int],
                          forecasters: Dict[str, Forecaster]) -> HorizonErrors:
    """Forecast ``values`` (points, months) from each origin (a month index: the history is months
    0 .. origin) for every lead time up to the largest horizon and score against the monthly values (a lead
    time past the series or without a value is left out; a point without a value at the origin is not
    forecast). The measure of the issue's Doñana anchors (persistence 1.00 / 1.57 / 2.29 / 3.21 mm at 1, 3, 6,
    12 months)."""
    horizons = np.asarray(horizons, dtype=np.int64)
    leads = np.arange(1, horizons.max() + 1)
    sums = {name: np.zeros(horizons.size) for name in forecasters}
    count = np.zeros(horizons.size)
    used = np.zeros(horizons.size)
    for origin in origins:
        if origin < 1 or origin >= values.shape[1]:
            raise ValueError(f"Origin month {origin} is outside the series (months 0 .. {values.shape[1] - 1})")
        history = values[:, :origin + 1]
        truth = np.full((values.shape[0], leads.size), np.nan)
        reachable = origin + leads < values.shape[1]
        truth[:, reachable] = values[:, origin + leads[reachable]]
        truth[np.isnan(history[:, -1])] = np.nan
        for name, forecast in forecasters.items():
            squared = (forecast(history, leads) - truth) ** 2
            for column, horizon in enumerate(horizons):
                window = squared[:, :horizon]
                scored = (~np.isnan(window)).any(axis=1)
                if scored.any():
                    sums[name][column] += np.sqrt(np.nanmean(window[scored], axis=1)).mean()
        scored = (~np.isnan(truth)).cumsum(axis=1)[:, horizons - 1] > 0
        used += scored.any(axis=0)
        count += scored.sum(axis=0)
    with np.errstate(invalid="ignore"):
        rmse = {name: np.where(used > 0, total / np.maximum(used, 1), np.nan) for name, total in sums.items()}
    return HorizonErrors(horizons, rmse, count)
