"""Groundwater-level change between two dates from piezometer series (seeds 000, 001, 003).

Levels at a date are linearly interpolated in time between each piezometer's nearest valid readings before
and after it (no extrapolation: a piezometer whose record does not span the date gives no value). The change
is level(to) - level(from) in metres (negative = decline); its map comes from interpolating the changes.
"""
from __future__ import annotations

import numpy as np

from ..stats.resampling import interpolate_in_time


def level_at(dates: np.ndarray, series: np.ndarray, when: np.datetime64) -> np.ndarray:
    """Level of each row of ``series`` (points x dates, NaN = missing) at ``when``, interpolated in time."""
    return interpolate_in_time(dates, series, np.array([when], dtype="datetime64[D]"))[:, 0]


def level_change(dates: np.ndarray, series: np.ndarray, start: np.datetime64, end: np.datetime64) -> np.ndarray:
    """level(end) - level(start) per point, in the series' units (NaN where the record does not span both)."""
    if np.datetime64(end, "D") <= np.datetime64(start, "D"):
        raise ValueError(f"The end date {end} must come after the start date {start}")
    return level_at(dates, series, end) - level_at(dates, series, start)
