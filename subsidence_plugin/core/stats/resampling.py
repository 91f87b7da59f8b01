"""Series resampled in time: linear interpolation between each row's valid values, holding the first / last value
for a stated number of days beyond the record and no further (no extrapolation)."""
from __future__ import annotations

import numpy as np


def interpolate_in_time(dates: np.ndarray, series: np.ndarray, targets: np.ndarray, hold_days: float = 0.0
                        ) -> np.ndarray:
    """Values of every row of ``series`` (rows x dates, NaN = missing) at the ``targets`` dates: linear in time
    between the nearest valid values before and after a target; before a row's first (after its last) valid
    value, that value where the target is at most ``hold_days`` away, else NaN. Rows x targets, float64."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    if dates.size == 0:
        raise ValueError("The layer has no date fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD)")
    order = np.argsort(dates, kind="stable")
    dates = dates[order]
    series = np.atleast_2d(np.asarray(series, dtype=np.float64))[:, order]
    t = (dates - dates[0]).astype(np.float64)
    target = (np.asarray(targets, dtype="datetime64[D]") - dates[0]).astype(np.float64)
    count = t.size
    valid = ~np.isnan(series)
    positions = np.arange(count)
    last_valid = np.maximum.accumulate(np.where(valid, positions, -1), axis=1)
    next_valid = np.minimum.accumulate(np.where(valid, positions, count)[:, ::-1], axis=1)[:, ::-1]
    at_or_before = np.searchsorted(t, target, side="right") - 1
    at_or_after = np.searchsorted(t, target, side="left")
    before = np.where(at_or_before >= 0, last_valid[:, np.clip(at_or_before, 0, count - 1)], -1)
    after = np.where(at_or_after < count, next_valid[:, np.clip(at_or_after, 0, count - 1)], count)
    has_before, has_after = before >= 0, after < count
    b, a = np.clip(before, 0, count - 1), np.clip(after, 0, count - 1)
    rows = np.arange(series.shape[0])[:, None]
    value_before, value_after = series[rows, b], series[rows, a]
    span = t[a] - t[b]
    weight = np.where(span > 0, (target[None, :] - t[b]) / np.where(span > 0, span, 1.0), 0.0)
    out = np.full(before.shape, np.nan)
    both = has_before & has_after
    out[both] = (value_before + weight * (value_after - value_before))[both]
    held_last = has_before & ~has_after & (target[None, :] - t[b] <= hold_days)
    out[held_last] = value_before[held_last]
    held_first = has_after & ~has_before & (t[a] - target[None, :] <= hold_days)
    out[held_first] = value_after[held_first]
    return out
