"""Groundwater head at every InSAR point and date (seeds 001 and 004): piezometer heads interpolated in time
(linear, holding the first / last reading for a stated number of days, no further) and in space (IDW or kriging
over the piezometers that have a head that date), and the head lagged by each point's delay time
tau = (b0 / 2)^2 S's / K'v (seed 004, case 2; b0 the equivalent interbed thickness sqrt(sum(b_i^2) / N)).

Both interpolations are linear in the heads, so the spatial weights of each set of piezometers with a head are
computed once (one interpolation of each piezometer's unit vector) and applied to all its dates at once.
Units: heads in m, coordinates in m (projected CRS), K'v in m/s, S's in 1/m, delays in days.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..progress import CancelCheck, ProgressCallback, Steps
from ..spatial.interpolation import InterpolationSettings, InverseDistance, LocalKriging, make_interpolator
from ..stats.resampling import interpolate_in_time

SECONDS_PER_DAY = 86400.0
LAG_STEP_DAYS = 5  # time step of the point head series the lagged heads are read from


def equivalent_interbed_thickness(thicknesses: np.ndarray) -> np.ndarray:
    """b_equiv = sqrt(sum(b_i^2) / N) over the interbed thicknesses (N, points) in m (seed 004); NaN thicknesses
    are left out of the sum and the count."""
    values = np.atleast_2d(np.asarray(thicknesses, dtype=np.float64))
    count = (~np.isnan(values)).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.sqrt(np.nansum(values ** 2, axis=0) / np.maximum(count, 1)), np.nan)


def delay_days(interbed_thickness_m: np.ndarray, vertical_conductivity_m_s: np.ndarray,
               specific_storage_per_m: float) -> np.ndarray:
    """Time constant tau = (b0 / 2)^2 S's / K'v of an interbed draining to both sides (days); NaN where K'v is
    not positive."""
    b = np.asarray(interbed_thickness_m, dtype=np.float64)
    k = np.asarray(vertical_conductivity_m_s, dtype=np.float64)
    if specific_storage_per_m <= 0:
        raise ValueError("The specific storage S's must be positive (1/m)")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(k > 0, (b / 2.0) ** 2 * specific_storage_per_m / k / SECONDS_PER_DAY, np.nan)


@dataclass
class PointHeads:
    """``heads`` (points, dates) in m at the InSAR dates, NaN where no piezometer has a head that date;
    ``lagged`` the same at each date minus the point's delay (None without delays)."""

    heads: np.ndarray
    lagged: Optional[np.ndarray]


def _spatial_weights(px, py, tx, ty, settings: InterpolationSettings, variogram) -> np.ndarray:
    """(targets, piezometers) weights of the interpolation: the prediction of each piezometer's unit vector."""
    weights = np.empty((len(tx), len(px)))
    for j in range(len(px)):
        unit = np.zeros(len(px))
        unit[j] = 1.0
        if variogram is None:
            weights[:, j] = InverseDistance(px, py, unit, settings.power, settings.k, settings.radius).predict(tx, ty)
        else:
            weights[:, j] = LocalKriging(px, py, unit, variogram, k=settings.k, drift=settings.drift).predict(
                tx, ty).values
    return weights


def _apply(px, py, heads, tx, ty, settings, variogram, out) -> None:
    """``out`` (targets, dates) = interpolated ``heads`` (piezometers, dates), date groups sharing the set of
    piezometers with a head."""
    valid = ~np.isnan(heads)
    patterns, group = np.unique(valid.T, axis=0, return_inverse=True)
    out[...] = np.nan
    for index, pattern in enumerate(patterns):
        if not pattern.any():
            continue
        columns = np.flatnonzero(group.ravel() == index)
        used = np.flatnonzero(pattern)
        weights = _spatial_weights(px[used], py[used], tx, ty, settings, variogram)
        out[:, columns] = weights @ heads[np.ix_(used, columns)]


def heads_at_points(piezometer_x: np.ndarray, piezometer_y: np.ndarray, piezometer_dates: np.ndarray,
                    piezometer_heads: np.ndarray, x: np.ndarray, y: np.ndarray, dates: np.ndarray,
                    settings: InterpolationSettings, hold_days: float = 45.0,
                    delays: Optional[np.ndarray] = None, chunk: int = 100_000,
                    progress: Optional[ProgressCallback] = None,
                    is_cancelled: Optional[CancelCheck] = None) -> PointHeads:
    """Heads (m) at the points (x, y) and ``dates`` from the piezometers' series (piezometers x their dates,
    NaN = no reading), and with ``delays`` (days, one a point) the lagged heads h(t - tau) (NaN where t - tau
    falls outside the heads' record). Kriging fits its variogram once, to the piezometers' mean heads."""
    px, py = np.asarray(piezometer_x, dtype=np.float64), np.asarray(piezometer_y, dtype=np.float64)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dates = np.asarray(dates, dtype="datetime64[D]")
    observed = np.asarray(piezometer_heads, dtype=np.float64)
    if observed.shape[0] == 0 or np.isnan(observed).all():
        raise ValueError("No piezometer has a head")
    steps = Steps(len(range(0, len(x), chunk)) + 1, progress, is_cancelled)
    at_dates = interpolate_in_time(piezometer_dates, observed, dates, hold_days)
    if np.isnan(at_dates).all():
        first, last = np.min(piezometer_dates), np.max(piezometer_dates)
        raise ValueError(f"The piezometer records ({first} .. {last}) do not overlap the InSAR dates "
                         f"({dates.min()} .. {dates.max()})")
    variogram = None
    if settings.method == "kriging":
        mean_heads = np.nanmean(observed, axis=1)
        ok = ~np.isnan(mean_heads)
        variogram = make_interpolator(px[ok], py[ok], mean_heads[ok], settings).variogram
    lag_dates = lag_grid = None
    if delays is not None:
        delays = np.asarray(delays, dtype=np.float64)
        longest = float(np.nanmax(delays)) if np.isfinite(delays).any() else 0.0
        start = dates.min() - np.timedelta64(int(np.ceil(longest)) + LAG_STEP_DAYS, "D")
        lag_dates = np.arange(start, dates.max() + np.timedelta64(LAG_STEP_DAYS, "D"), LAG_STEP_DAYS)
        lag_grid = interpolate_in_time(piezometer_dates, observed, lag_dates, hold_days)
    steps.advance("Piezometer heads at the InSAR dates")
    heads = np.empty((len(x), dates.size), dtype=np.float32)
    lagged = None if delays is None else np.empty((len(x), dates.size), dtype=np.float32)
    for start in range(0, len(x), chunk):
        part = slice(start, start + chunk)
        block = np.empty((len(x[part]), dates.size))
        _apply(px, py, at_dates, x[part], y[part], settings, variogram, block)
        heads[part] = block
        if delays is not None:
            series = np.empty((len(x[part]), lag_dates.size))
            _apply(px, py, lag_grid, x[part], y[part], settings, variogram, series)
            lagged[part] = _read_back(series, lag_dates, dates, delays[part])
        steps.advance(f"Heads at {min(start + chunk, len(x))} of {len(x)} points")
    return PointHeads(heads, lagged)


def _read_back(series: np.ndarray, series_dates: np.ndarray, dates: np.ndarray, delays: np.ndarray) -> np.ndarray:
    """Each row of ``series`` (regular dates) at ``dates`` minus that row's delay (days), linearly."""
    position = ((dates - series_dates[0]).astype(np.float64)[None, :] - delays[:, None]) / LAG_STEP_DAYS
    inside = np.isfinite(position) & (position >= 0) & (position <= series_dates.size - 1)
    low = np.clip(np.floor(np.where(inside, position, 0)).astype(np.int64), 0, series_dates.size - 2)
    weight = np.where(inside, position, 0) - low
    rows = np.arange(series.shape[0])[:, None]
    value = series[rows, low] * (1 - weight) + series[rows, low + 1] * weight
    return np.where(inside, value, np.nan)


def lagged_monthly(heads: np.ndarray, lag_months: np.ndarray) -> np.ndarray:
    """Monthly heads (points, months) read back by each point's lag (months, fractional: h(t - lag) linearly
    between months); NaN where t - lag falls before the first month or the lag is unknown."""
    months = heads.shape[1]
    position = np.arange(months, dtype=np.float64)[None, :] - np.asarray(lag_months, dtype=np.float64)[:, None]
    inside = np.isfinite(position) & (position >= 0) & (position <= months - 1)
    low = np.clip(np.floor(np.where(inside, position, 0)).astype(np.int64), 0, max(months - 2, 0))
    weight = np.where(inside, position, 0) - low
    rows = np.arange(heads.shape[0])[:, None]
    high = np.minimum(low + 1, months - 1)
    value = np.where(weight > 0, heads[rows, low] * (1 - weight) + heads[rows, high] * weight, heads[rows, low])
    return np.where(inside, value, np.nan).astype(heads.dtype, copy=False)
