"""Groundwater-level change between two dates from piezometer series (seeds 000, 001, 003).

Levels at a date are linearly interpolated in time between each piezometer's nearest valid readings before
and after it (no extrapolation: a piezometer whose record does not span the date gives no value). The change
is level(to) - level(from) in metres (negative = decline); its map comes from interpolating the changes.
"""
from __future__ import annotations

import numpy as np


def level_at(dates: np.ndarray, series: np.ndarray, when: np.datetime64) -> np.ndarray:
    """Level of each row of ``series`` (points x dates, NaN = missing) at ``when``, interpolated in time."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    if dates.size == 0:
        raise ValueError("The layer has no date fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD)")
    order = np.argsort(dates)
    dates, series = dates[order], np.asarray(series, dtype=np.float64)[:, order]
    t = (dates - dates[0]).astype(np.float64)
    target = float((np.datetime64(when, "D") - dates[0]).astype(np.float64))
    valid = ~np.isnan(series)
    columns = np.arange(t.size)
    before = np.where(valid & (t[None, :] <= target), columns, -1).max(axis=1)
    after = np.where(valid & (t[None, :] >= target), columns, t.size).min(axis=1)
    ok = (before >= 0) & (after < t.size)
    rows = np.arange(series.shape[0])
    b = np.clip(before, 0, t.size - 1)
    a = np.clip(after, 0, t.size - 1)
    span = t[a] - t[b]
    weight = np.where(span > 0, (target - t[b]) / np.where(span > 0, span, 1.0), 0.0)
    value = series[rows, b] + weight * (series[rows, a] - series[rows, b])
    return np.where(ok, value, np.nan)


def level_change(dates: np.ndarray, series: np.ndarray, start: np.datetime64, end: np.datetime64) -> np.ndarray:
    """level(end) - level(start) per point, in the series' units (NaN where the record does not span both)."""
    if np.datetime64(end, "D") <= np.datetime64(start, "D"):
        raise ValueError(f"The end date {end} must come after the start date {start}")
    return level_at(dates, series, end) - level_at(dates, series, start)
