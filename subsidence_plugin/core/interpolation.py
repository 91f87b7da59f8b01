"""Point-to-raster interpolation that scales: inverse-distance weighting and local kriging.

Kriging solves one small system per target over its ``k`` nearest points (KD-tree), all systems of a chunk
at once as a (B, k+1, k+1) batch, streamed over the grid in row blocks; memory is bounded by the chunk, not by
the number of points. The system is PyKrige's moving-window formulation (semivariances, zero on the diagonal
and at zero distance, so kriging honours the data), so predictions equal PyKrige's for the same variogram and
neighbours. Ordinary kriging has a constant unknown mean; universal kriging adds a linear drift in x and y.
Duplicate coordinates are merged (mean value) before anything else, so no system is singular because of them;
a neighbourhood whose drift system is singular (all neighbours on a line) is solved by least squares.
Units: coordinates in metres (projected CRS), values in the points' units; the kriging variance in squared
units.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np
from scipy.spatial import cKDTree

from .grid import RasterGrid
from .metrics import error_statistics
from .progress import CancelCheck, ProgressCallback, Steps
from .raster_io import RasterWriter
from .variogram import Variogram

EPS = 1e-10


def merge_duplicates(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Average the values of points with identical coordinates: (x, y, z, number of points merged away)."""
    xy = np.column_stack([x, y]).astype(np.float64)
    unique, inverse, counts = np.unique(xy, axis=0, return_inverse=True, return_counts=True)
    if len(unique) == len(xy):
        return xy[:, 0], xy[:, 1], np.asarray(z, dtype=np.float64), 0
    sums = np.bincount(inverse.ravel(), weights=z, minlength=len(unique))
    return unique[:, 0], unique[:, 1], sums / counts, int(len(xy) - len(unique))


def _check_points(x, y, z, minimum: int):
    x, y, z = (np.asarray(a, dtype=np.float64).ravel() for a in (x, y, z))
    if not (x.size == y.size == z.size):
        raise ValueError("x, y and values must have the same length")
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(z)
    x, y, z = x[ok], y[ok], z[ok]
    if x.size < minimum:
        raise ValueError(f"At least {minimum} points with values are needed (got {x.size})")
    return x, y, z


class InverseDistance:
    """Inverse-distance weighting over the ``k`` nearest points within ``radius`` (0 = unlimited):
    z = sum(w_i z_i) / sum(w_i), w_i = d_i^-power; a target on a data point takes its value."""

    def __init__(self, x, y, z, power: float = 2.0, k: int = 12, radius: float = 0.0):
        x, y, z, self.merged = merge_duplicates(*_check_points(x, y, z, 1))
        self.x, self.y, self.z = x, y, z
        self.tree = cKDTree(np.column_stack([x, y]))
        self.power = power
        self.k = min(k, len(z))
        self.radius = radius

    def predict(self, tx: np.ndarray, ty: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        """Values at targets; ``exclude_self`` drops the nearest point (leave-one-out at the data points)."""
        extra = 1 if exclude_self else 0
        kq = min(self.k + extra, len(self.z))
        d, idx = self.tree.query(np.column_stack([tx, ty]), k=kq,
                                 distance_upper_bound=self.radius if self.radius > 0 else np.inf, workers=-1)
        d = d.reshape(len(tx), kq)[:, extra:]
        idx = idx.reshape(len(tx), kq)[:, extra:]
        found = np.isfinite(d)
        safe_idx = np.where(found, idx, 0)
        with np.errstate(divide="ignore"):
            w = np.where(found, 1.0 / np.maximum(d, EPS) ** self.power, 0.0)
        exact = found & (d <= EPS)
        w = np.where(exact.any(axis=1, keepdims=True), exact.astype(np.float64), w)
        total = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, (w * self.z[safe_idx]).sum(axis=1) / total, np.nan)


@dataclass
class KrigingResult:
    values: np.ndarray
    variance: np.ndarray


class LocalKriging:
    """Ordinary (``drift=False``) or universal kriging with a linear drift over k nearest neighbours.

    ``device``: a ``torch.device`` to build and solve the systems with torch (CUDA, MPS or CPU threads), or
    None for numpy. Both use float64 and give the same predictions.
    """

    def __init__(self, x, y, z, variogram: Variogram, k: int = 32, drift: bool = False, chunk: int = 8192,
                 device=None):
        x, y, z, self.merged = merge_duplicates(*_check_points(x, y, z, 3 if drift else 2))
        self.x, self.y, self.z = x, y, z
        self.variogram = variogram
        self.k = min(k, len(z))
        self.drift = drift
        self.chunk = chunk
        self.device = device
        self.tree = cKDTree(np.column_stack([x, y]))

    def predict(self, tx: np.ndarray, ty: np.ndarray, exclude_self: bool = False) -> KrigingResult:
        """Kriged values and variances at targets; ``exclude_self`` drops the nearest point (leave-one-out at
        the data points themselves)."""
        tx = np.asarray(tx, dtype=np.float64).ravel()
        ty = np.asarray(ty, dtype=np.float64).ravel()
        values = np.empty(tx.size)
        variance = np.empty(tx.size)
        for start in range(0, tx.size, self.chunk):
            sl = slice(start, start + self.chunk)
            values[sl], variance[sl] = self._solve(tx[sl], ty[sl], exclude_self)
        return KrigingResult(values, variance)

    def _neighbours(self, tx, ty, exclude_self):
        extra = 1 if exclude_self else 0
        kq = min(self.k + extra, len(self.z))
        d0, idx = self.tree.query(np.column_stack([tx, ty]), k=kq, workers=-1)
        return d0.reshape(tx.size, kq)[:, extra:], idx.reshape(tx.size, kq)[:, extra:]

    def _solve(self, tx, ty, exclude_self):
        d0, idx = self._neighbours(tx, ty, exclude_self)
        arrays = (self.x[idx] - tx[:, None], self.y[idx] - ty[:, None], d0, self.z[idx])
        if self.device is None:
            return _kriging_systems(np, *arrays, self.variogram, self.drift)
        import torch

        tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in arrays]
        values, variance = _kriging_systems(torch, *tensors, self.variogram, self.drift)
        return values.cpu().numpy(), variance.cpu().numpy()


def _kriging_systems(xp, px, py, d0, zn, variogram: Variogram, drift: bool):
    """Build and solve B kriging systems at once with numpy or torch (``xp``).

    px, py: neighbour coordinates relative to each target (B, n); d0: their distances; zn: their values.
    PyKrige's formulation: [-G 1 (drift); 1' 0; ...] with G the semivariances, zero on the diagonal and at
    zero distance. Returns (values, variances).
    """
    b_count, n = px.shape
    m = n + (3 if drift else 1)
    dij = xp.hypot(px[:, :, None] - px[:, None, :], py[:, :, None] - py[:, None, :])
    a = xp.zeros((b_count, m, m), dtype=px.dtype) if xp is np else \
        xp.zeros((b_count, m, m), dtype=px.dtype, device=px.device)
    gamma = variogram(dij, xp)
    a[:, :n, :n] = -gamma if variogram.model == "linear" else (np.negative(gamma, out=gamma) if xp is np
                                                               else gamma.neg_())
    a[:, range(n), range(n)] = 0.0
    a[:, :n, n] = 1.0
    a[:, n, :n] = 1.0
    b = xp.zeros((b_count, m), dtype=px.dtype) if xp is np else xp.zeros((b_count, m), dtype=px.dtype,
                                                                           device=px.device)
    b[:, :n] = xp.where(d0 <= EPS, 0.0 * d0, -variogram(d0, xp))
    b[:, n] = 1.0
    if drift:
        # drift columns centred on the target keep the system well scaled
        a[:, :n, n + 1] = px
        a[:, n + 1, :n] = px
        a[:, :n, n + 2] = py
        a[:, n + 2, :n] = py
    try:
        sol = xp.linalg.solve(a, b[:, :, None])[:, :, 0]
    except (np.linalg.LinAlgError, RuntimeError):
        sol = xp.einsum("bij,bj->bi", xp.linalg.pinv(a), b)
    values = xp.einsum("bi,bi->b", sol[:, :n], zn)
    variance = -xp.einsum("bi,bi->b", sol, b)
    return values, variance


def cross_validate(method) -> dict:
    """Leave-one-out errors of an interpolator at its own (merged) points: RMSE, MSE, MAE, ME, R^2."""
    result = method.predict(method.x, method.y, exclude_self=True)
    return error_statistics(method.z, getattr(result, "values", result))


def interpolate_to_grid(predict, grid: RasterGrid, path: str, band_names, block_rows: int = 128,
                        progress: Optional[ProgressCallback] = None,
                        is_cancelled: Optional[CancelCheck] = None) -> str:
    """Evaluate ``predict(x, y) -> array or tuple of arrays`` at every cell centre, block by block, and write
    one float32 band per returned array (nodata -9999)."""
    xs, ys = grid.centre_axes()
    steps = Steps(grid.height, progress, is_cancelled)
    with RasterWriter(path, grid.with_nodata(-9999.0), len(band_names), np.float32, band_names) as writer:
        for row0 in range(0, grid.height, block_rows):
            rows = min(block_rows, grid.height - row0)
            px = np.tile(xs, rows)
            py = np.repeat(ys[row0:row0 + rows], grid.width)
            out = predict(px, py)
            out = out if isinstance(out, tuple) else (out,)
            writer.write(np.stack([o.reshape(rows, grid.width) for o in out]).astype(np.float32), row0=row0)
            steps.advance(f"rows {row0}-{row0 + rows}", rows)
    return path


def select_variogram(x, y, z, models, k: int = 16, cv_points: int = 1000, n_lags: int = 20, max_lag: float = 0.0,
                     seed: int = 0, drift: bool = False, device=None):
    """Fit every model and pick the one with the lowest leave-one-out RMSE of local kriging.

    Returns (best Variogram, experimental variogram (lags, gamma, counts), {model: (Variogram, cv stats)}).
    Cross-validation runs on at most ``cv_points`` points (a seeded subsample) as targets, with all points as
    neighbours.
    """
    from .variogram import fit_models

    x, y, z, _ = merge_duplicates(*_check_points(x, y, z, 3))
    lags, gamma, counts, fitted = fit_models(x, y, z, models, n_lags, max_lag, seed=seed)
    rng = np.random.default_rng(seed)
    targets = rng.choice(x.size, min(cv_points, x.size), replace=False)
    table = {}
    for name, variogram in fitted.items():
        kriging = LocalKriging(x, y, z, variogram, k=k, drift=drift, device=device)
        predicted = kriging.predict(x[targets], y[targets], exclude_self=True).values
        table[name] = (variogram, error_statistics(z[targets], predicted))
    best = min(table, key=lambda m: table[m][1]["rmse"])
    return table[best][0], (lags, gamma, counts), table
