"""A 1-D delayed-compaction model of each point, the physical baseline of the series models (issue 13, seed 004):
the compaction of the aquifer system follows the head change through a storage term, relaxed with the interbeds'
time constant tau (Terzaghi's delay; tau = (b0 / 2)^2 S's / K'v, `groundwater.delay_days`):

    h_r(t) = h_r(t - 1) + (h(t) - h_r(t - 1)) (1 - exp(-1 / tau))   (monthly steps; tau in months, 0 = no delay)
    d(t) = a + k h_r(t)

with d the displacement (mm) and k = 1000 S_k b (mm of displacement per m of head; S_k b the storage coefficient of
the compacting layers, dimensionless). a and k are fitted per point by least squares on the history; tau comes
from the rasters when given, else is chosen per point among ``TAU_CANDIDATES`` by the least squares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

TAU_CANDIDATES = (0.0, 1.0, 2.0, 3.0, 6.0, 12.0, 24.0)  # months
DAYS_PER_MONTH = 365.25 / 12


def relaxed_heads(heads: np.ndarray, tau_months: np.ndarray) -> np.ndarray:
    """Heads (points, months; NaN gaps hold the previous relaxed value) relaxed with each point's time constant
    (months; 0 or NaN = no delay); NaN before a point's first head."""
    heads = np.asarray(heads, dtype=np.float64)
    tau = np.nan_to_num(np.asarray(tau_months, dtype=np.float64), nan=0.0)
    with np.errstate(divide="ignore", over="ignore"):
        step = np.where(tau > 0, 1.0 - np.exp(-1.0 / np.where(tau > 0, tau, 1.0)), 1.0)
    out = np.empty_like(heads)
    current = heads[:, 0].copy()
    out[:, 0] = current
    for month in range(1, heads.shape[1]):
        value = heads[:, month]
        moved = current + (value - current) * step
        current = np.where(np.isnan(value), current, np.where(np.isnan(current), value, moved))
        out[:, month] = current
    return out


def _regression(relaxed: np.ndarray, displacement: np.ndarray):
    """Per row, (a, k, residual mean square) of d = a + k h_r over the months where both are known."""
    known = np.isfinite(relaxed) & np.isfinite(displacement)
    count = known.sum(axis=1)
    h = np.where(known, relaxed, 0.0)
    d = np.where(known, displacement, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_h, mean_d = h.sum(axis=1) / count, d.sum(axis=1) / count
        dh = np.where(known, relaxed - mean_h[:, None], 0.0)
        dd = np.where(known, displacement - mean_d[:, None], 0.0)
        spread = (dh ** 2).sum(axis=1)
        k = np.where(spread > 0, (dh * dd).sum(axis=1) / np.where(spread > 0, spread, 1.0), 0.0)
        residual = ((dd - k[:, None] * dh) ** 2).sum(axis=1) / count
    ok = count >= 3
    return np.where(ok, mean_d - k * mean_h, np.nan), np.where(ok, k, np.nan), np.where(ok, residual, np.nan)


@dataclass
class DelayedCompaction:
    """Per point: the time constant (months), the intercept a (mm) and k = 1000 S_k b (mm per m of head)."""

    tau_months: np.ndarray
    intercept: np.ndarray
    slope: np.ndarray


def fit_delayed_compaction(displacement: np.ndarray, heads: np.ndarray,
                           tau_months: Optional[np.ndarray] = None) -> DelayedCompaction:
    """Fit the model to monthly displacement and heads (points, months) of the history; ``tau_months`` per
    point (NaN where unknown: chosen there) or None (chosen everywhere)."""
    points = displacement.shape[0]
    given = np.full(points, np.nan) if tau_months is None else np.asarray(tau_months, dtype=np.float64)
    best = DelayedCompaction(given.copy(), np.full(points, np.nan), np.full(points, np.nan))
    best_residual = np.full(points, np.inf)
    known = np.isfinite(given)
    if known.any():
        a, k, residual = _regression(relaxed_heads(heads[known], given[known]), displacement[known])
        best.intercept[known], best.slope[known], best_residual[known] = a, k, residual
    free = ~known
    for candidate in TAU_CANDIDATES if free.any() else ():
        a, k, residual = _regression(relaxed_heads(heads[free], np.full(int(free.sum()), candidate)),
                                     displacement[free])
        better = np.zeros(points, dtype=bool)
        better[free] = np.nan_to_num(residual, nan=np.inf) < best_residual[free]
        rows = better[free]
        best.tau_months[better], best.intercept[better], best.slope[better] = candidate, a[rows], k[rows]
        best_residual[better] = residual[rows]
    return best


def forecast_delayed_compaction(model: DelayedCompaction, displacement_at_origin: np.ndarray, heads: np.ndarray,
                                origin: int, leads: np.ndarray) -> np.ndarray:
    """Displacement (mm, points x leads) at origin + lead: the displacement at the origin plus k times the change
    of the relaxed head since the origin; ``heads`` (points, months) cover the leads (observed or a scenario)."""
    relaxed = relaxed_heads(heads[:, :origin + int(np.max(leads)) + 1], model.tau_months)
    change = relaxed[:, origin + np.asarray(leads)] - relaxed[:, origin:origin + 1]
    return displacement_at_origin[:, None] + model.slope[:, None] * change
