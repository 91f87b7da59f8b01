"""Geographic kernel weights of seed 004's GW-LSTM (case 1): each point's inputs weighted with its neighbours' by
a Gaussian kernel of the distance, w_ij = exp(-(d_ij / bandwidth)^2 / 2) over the point itself and its
``neighbours`` nearest points (as geographically weighted regression weighs observations), rows normalised. The
bandwidth (m) is chosen, by default, by leave-one-out cross-validation of the kernel mean: the bandwidth whose
weighted mean of the other points' monthly changes best predicts each point's own."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial import cKDTree


def _neighbourhoods(x: np.ndarray, y: np.ndarray, neighbours: int):
    """(distances, indices) of each point and its nearest ``neighbours`` others (itself first)."""
    k = min(neighbours + 1, len(x))
    distance, index = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=k)
    return distance.reshape(len(x), k), index.reshape(len(x), k)


def kernel_weights(x: np.ndarray, y: np.ndarray, bandwidth: float, neighbours: int = 16,
                   include_self: bool = True) -> csr_matrix:
    """(points, points) sparse Gaussian weights, rows summing to 1 (coordinates and bandwidth in metres)."""
    if bandwidth <= 0:
        raise ValueError("The kernel bandwidth must be positive (m)")
    distance, index = _neighbourhoods(np.asarray(x, float), np.asarray(y, float), neighbours)
    weight = np.exp(-0.5 * (distance / bandwidth) ** 2)
    if not include_self:
        weight[:, 0] = 0.0
    total = weight.sum(axis=1, keepdims=True)
    weight = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)
    rows = np.repeat(np.arange(len(x)), index.shape[1])
    return csr_matrix((weight.ravel(), (rows, index.ravel())), shape=(len(x), len(x)))


def weighted_mean(weights: csr_matrix, values: np.ndarray, out: Optional[np.ndarray] = None,
                  block: int = 8) -> np.ndarray:
    """Kernel mean of ``values`` (points, ...; NaN left out, the weights renormalised over the known ones; NaN
    where no neighbour has a value), in ``values``' dtype, into ``out`` when given (may be a view); ``block``
    entries of the second axis at a time, so the float64 temporaries stay small."""
    out = np.empty_like(values) if out is None else out
    columns, target = (values[:, None], out[:, None]) if values.ndim == 1 else (values, out)
    for start in range(0, columns.shape[1], block):
        part = columns[:, start:start + block]
        flat = part.reshape(part.shape[0], -1)
        known = np.isfinite(flat)
        total = weights @ known.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (weights @ np.where(known, flat, 0.0)) / total
        target[:, start:start + block] = np.where(total > 0, mean, np.nan).reshape(part.shape)
    return out


def choose_bandwidth(x: np.ndarray, y: np.ndarray, changes: np.ndarray, neighbours: int = 16,
                     candidates: Optional[Sequence[float]] = None) -> Tuple[float, dict]:
    """(bandwidth, {bandwidth: leave-one-out mean squared error}) for the monthly ``changes`` (points, months):
    candidates by default the median distances to the 1st, 2nd, 4th, 8th and 16th neighbour."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3:
        raise ValueError("The geographic kernel needs at least 3 points")
    distance, _ = _neighbourhoods(x, y, neighbours)
    if candidates is None:
        columns = [c for c in (1, 2, 4, 8, 16) if c < distance.shape[1]]
        candidates = sorted({float(np.median(distance[:, c])) for c in columns if np.median(distance[:, c]) > 0})
    if not candidates:
        raise ValueError("The points all share one location: no bandwidth can be chosen")
    scores = {}
    for bandwidth in candidates:
        error = weighted_mean(kernel_weights(x, y, bandwidth, neighbours, include_self=False), changes)
        error -= changes
        scores[bandwidth] = float(np.nanmean(np.square(error, out=error)))
    return min(scores, key=scores.get), scores
