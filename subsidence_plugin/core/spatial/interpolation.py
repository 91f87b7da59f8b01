"""Point-to-raster interpolation that scales: inverse-distance weighting and local kriging.

Kriging solves one small system per target over its ``k`` nearest points (KD-tree); targets with the same
neighbours share one system (one factorisation, many right-hand sides), and systems are built and solved in
batches, streamed over the targets in chunks: memory is bounded by the chunk, not by the number of points. The
system is PyKrige's moving-window formulation (semivariances, zero on the diagonal and at zero distance, so
kriging honours the data), so predictions equal PyKrige's for the same variogram and neighbours; ordinary
kriging with a bounded model solves it through the Cholesky factor of the neighbours' covariances (half the
work of LU, the same solution). Ordinary kriging has a constant unknown mean; universal kriging adds a linear
drift in x and y. Duplicate coordinates are merged (mean value) before anything else, so no system is singular
because of them; a neighbourhood whose drift system is singular (all neighbours on a line) is solved by least
squares. Units: coordinates in metres (projected CRS), values in the points' units; the kriging variance in
squared units.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.spatial import cKDTree

from ..io.grid import RasterGrid
from ..io.rasters import NODATA, RasterWriter
from ..progress import CancelCheck, ProgressCallback, Steps
from ..stats.metrics import error_statistics
from .variogram import MODELS, Variogram

EPS = 1e-10
SYSTEMS_PER_BATCH = 256  # kriging systems per batch on the CPU: (256, 32, 32) float64, 2 MB, stays in cache


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
    z = sum(w_i z_i) / sum(w_i), w_i = d_i^-power; a target on a data point takes its value. ``threads``: the
    neighbour searches' threads (None: every core)."""

    def __init__(self, x, y, z, power: float = 2.0, k: int = 12, radius: float = 0.0, threads: Optional[int] = None):
        x, y, z, self.merged = merge_duplicates(*_check_points(x, y, z, 1))
        self.x, self.y, self.z = x, y, z
        self.tree = cKDTree(np.column_stack([x, y]))
        self.power = power
        self.k = min(k, len(z))
        self.radius = radius
        self.threads = threads or -1

    def predict(self, tx: np.ndarray, ty: np.ndarray, exclude_self: bool = False) -> np.ndarray:
        """Values at targets; ``exclude_self`` drops the nearest point (leave-one-out at the data points)."""
        extra = 1 if exclude_self else 0
        kq = min(self.k + extra, len(self.z))
        d, idx = self.tree.query(np.column_stack([tx, ty]), k=kq,
                                 distance_upper_bound=self.radius if self.radius > 0 else np.inf,
                                 workers=self.threads)
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

    Targets are taken ``chunk`` at a time (one KD-tree query); targets with the same neighbour set (frequent on
    a grid finer than the point spacing) share one system, solved once for all their right-hand sides. On the
    CPU, systems are built and solved ``SYSTEMS_PER_BATCH`` at a time (cache-sized batches): with numpy spread over
    a pool of worker threads, with torch one after the other on torch's own threads (its thread settings are
    process-wide, so they are left alone). On a GPU, a chunk is one batch. ``device``: a
    ``torch.device`` to build and solve the systems with torch (CUDA, MPS or CPU threads), or None for numpy.
    Both use float64 and give the same predictions. ``threads``: numpy's worker threads and the KD-tree's (default
    every core; 1 on a Dask worker, whose process is one of many).
    """

    def __init__(self, x, y, z, variogram: Variogram, k: int = 32, drift: bool = False, chunk: int = 65536,
                 device=None, threads: Optional[int] = None):
        x, y, z, self.merged = merge_duplicates(*_check_points(x, y, z, 3 if drift else 2))
        self.x, self.y, self.z = x, y, z
        self.variogram = variogram
        self.k = min(k, len(z))
        self.drift = drift
        self.chunk = chunk
        self.device = device
        self.threads = threads or os.cpu_count() or 1
        self.batch = SYSTEMS_PER_BATCH if device is None or device.type == "cpu" else chunk
        self.tree = cKDTree(np.column_stack([x, y]))
        # random 64-bit key per point: the wrapped sum of a neighbourhood's keys identifies its set
        self.keys = np.random.default_rng(0).integers(0, 2 ** 64, len(z), dtype=np.uint64, endpoint=False)

    def predict(self, tx: np.ndarray, ty: np.ndarray, exclude_self: bool = False) -> KrigingResult:
        """Kriged values and variances at targets; ``exclude_self`` drops the nearest point (leave-one-out at
        the data points themselves)."""
        tx = np.asarray(tx, dtype=np.float64).ravel()
        ty = np.asarray(ty, dtype=np.float64).ravel()
        values = np.empty(tx.size)
        variance = np.empty(tx.size)
        with self._workers() as run:
            for start in range(0, tx.size, self.chunk):
                sl = slice(start, start + self.chunk)
                self._predict_chunk(tx[sl], ty[sl], exclude_self, run, values[sl], variance[sl])
        return KrigingResult(values, variance)

    @contextmanager
    def _workers(self):
        """A ``map`` over batches: a thread pool with numpy; serial with torch, which spreads each batch over
        its own threads (the process's torch settings are left as they are)."""
        if self.device is not None:
            yield map
            return
        with ThreadPoolExecutor(self.threads) as pool:
            yield pool.map

    def _neighbours(self, tx, ty, exclude_self):
        """(targets, k) indices of the nearest points, nearest first."""
        extra = 1 if exclude_self else 0
        kq = min(self.k + extra, len(self.z))
        _, idx = self.tree.query(np.column_stack([tx, ty]), k=kq, workers=self.threads)
        return idx.reshape(tx.size, kq)[:, extra:]

    def _group(self, idx):
        """Targets by neighbour set: (group of each target, its first target per group).

        Sets are told apart by the sum of their points' keys, then checked element by element (sorted rows):
        a target whose set differs from its group's (a key collision) gets a group of its own.
        """
        _, first, group = np.unique(self.keys[idx].sum(axis=1), return_index=True, return_inverse=True)
        rows = np.sort(idx.astype(np.int32), axis=1)
        stray = np.flatnonzero((rows != rows[first[group]]).any(axis=1))
        group[stray] = len(first) + np.arange(stray.size)
        return group, np.concatenate([first, stray])

    def _predict_chunk(self, tx, ty, exclude_self, run, values, variance):
        """Values and variances of one chunk of targets, written into ``values`` and ``variance``.

        Each group's system is built from its first target's neighbours, in their order, relative to that
        target; the group's targets become columns of a right-hand side (``width`` columns per system; a larger
        group takes several systems). Every target is solved with its group's system.
        """
        idx = self._neighbours(tx, ty, exclude_self)
        group, first = self._group(idx)
        count = np.bincount(group)
        width = int(np.clip(round(tx.size / first.size), 1, 32))
        order = np.argsort(group, kind="stable")
        rank = np.empty(tx.size, dtype=np.int64)
        rank[order] = np.arange(tx.size) - np.repeat(np.cumsum(count) - count, count)
        systems = -(-count // width)
        slot = (np.cumsum(systems) - systems)[group] + rank // width
        column = rank % width
        slot_group = np.repeat(np.arange(first.size), systems)
        starts = np.arange(0, slot_group.size, self.batch)
        bounds = np.searchsorted(slot[order], np.append(starts, slot_group.size))

        def solve(s0, t0, t1):
            reps = first[slot_group[s0:s0 + self.batch]]
            targets = order[t0:t1]
            lead = first[group[targets]]
            values[targets], variance[targets] = self._solve(
                idx[reps], tx[reps], ty[reps], tx[targets] - tx[lead], ty[targets] - ty[lead], slot[targets] - s0,
                column[targets], width)

        for _ in run(solve, starts, bounds[:-1], bounds[1:]):
            pass

    def _solve(self, system_idx, sx, sy, ox, oy, slot, column, width):
        """Build ``len(sx)`` systems (neighbours ``system_idx`` relative to their origins (sx, sy)) and solve
        every target (offset (ox, oy) from its system's origin) in column ``column`` of system ``slot``."""
        arrays = (self.x[system_idx] - sx[:, None], self.y[system_idx] - sy[:, None], self.z[system_idx], ox, oy,
                  slot, column)
        if self.device is None:
            return _kriging_systems(np, *arrays, width, self.variogram, self.drift)
        import torch

        tensors = [torch.from_numpy(np.ascontiguousarray(a)).to(self.device) for a in arrays]
        values, variance = _kriging_systems(torch, *tensors, width, self.variogram, self.drift)
        return values.cpu().numpy(), variance.cpu().numpy()


def _kriging_systems(xp, sx, sy, zs, ox, oy, slot, column, width: int, variogram: Variogram, drift: bool):
    """Build S kriging systems and solve T targets with them, with numpy or torch (``xp``).

    sx, sy: (S, n) neighbour coordinates of each system relative to its origin; zs: their values; ox, oy: the
    target relative to its system's origin; slot, column: where the target's right-hand side goes (``width``
    columns per system). PyKrige's formulation [-G 1 (drift); 1' 0; ...] with G the semivariances, zero on the
    diagonal and at zero distance. Ordinary kriging with a bounded model is solved through the Cholesky factor
    of the covariances, the rest (and a system that is not numerically positive definite) by LU.
    Returns (values, variances) per target.
    """
    distance = sx[:, :, None] - sx[:, None, :]
    dy = sy[:, :, None] - sy[:, None, :]
    distance *= distance
    dy *= dy
    distance += dy
    g = variogram(xp.sqrt(distance, out=distance) if xp is np else distance.sqrt_(), xp)
    px = sx[slot] - ox[:, None]
    py = sy[slot] - oy[:, None]
    d0 = xp.sqrt(px * px + py * py)
    g0 = xp.where(d0 <= EPS, 0.0 * d0, variogram(d0, xp))
    if not drift and variogram.model != "linear":
        solved = _ordinary_by_cholesky(xp, g, g0, zs, slot, column, width, variogram.sill)
        if solved is not None:
            return solved
    return _by_lu(xp, g, g0, sx, sy, zs, ox, oy, slot, column, width, drift)


def _ordinary_by_cholesky(xp, g, g0, zs, slot, column, width, sill):
    """Ordinary kriging with covariances C = sill - G (sill on the diagonal), C = L L': with u = L^-1 c0,
    v = L^-1 1, w = L^-1 z, the Lagrange multiplier is mu = (v.u - 1) / v.v, the value u.w - mu v.w and the
    variance sill - u.u + mu (v.u - 1): the bordered system's solution, at half its cost. None if a C is not
    numerically positive definite. ``g`` is overwritten."""
    s_count, n = zs.shape
    like = {} if xp is np else {"device": zs.device}
    covariance = np.subtract(sill, g, out=g) if xp is np else g.neg_().add_(sill)
    _diagonal(xp, covariance)[:] = sill
    if xp is np:
        try:
            low = np.linalg.cholesky(covariance)
        except np.linalg.LinAlgError:
            return None
    else:
        low, info = xp.linalg.cholesky_ex(covariance)
        if bool(info.any()):
            return None
    rhs = xp.zeros((s_count, width + 2, n), dtype=zs.dtype, **like)
    rhs[slot, column] = sill - g0
    rhs[:, width] = 1.0
    rhs[:, width + 1] = zs
    u = _transpose(xp, _forward(xp, low, _transpose(xp, rhs)))
    v, w = u[:, width], u[:, width + 1]
    u = u[slot, column]
    vu = (v[slot] * u).sum(1) - 1.0
    mu = vu / (v * v).sum(1)[slot]
    return (u * w[slot]).sum(1) - mu * (v * w).sum(1)[slot], sill - (u * u).sum(1) + mu * vu


def _by_lu(xp, g, g0, sx, sy, zs, ox, oy, slot, column, width, drift):
    """The bordered system with its first n rows negated (exact, the same solution):
    [G -1 (-drift); 1' 0; ...] [w; mu] = [g0; 1; o], drift columns centred on the system's origin (well
    scaled); a singular system (collinear neighbours with drift) by least squares."""
    s_count, n = zs.shape
    m = n + (3 if drift else 1)
    like = {} if xp is np else {"device": zs.device}
    a = xp.zeros((s_count, m, m), dtype=zs.dtype, **like)
    a[:, :n, :n] = g
    _diagonal(xp, a)[:, :n] = 0.0
    a[:, :n, n] = -1.0
    a[:, n, :n] = 1.0
    b = xp.ones((g0.shape[0], m), dtype=zs.dtype, **like)
    b[:, :n] = g0
    if drift:
        a[:, :n, n + 1] = -sx
        a[:, n + 1, :n] = sx
        a[:, :n, n + 2] = -sy
        a[:, n + 2, :n] = sy
        b[:, n + 1] = ox
        b[:, n + 2] = oy
    rhs = xp.zeros((s_count, width, m), dtype=zs.dtype, **like)
    rhs[slot, column] = b
    try:
        sol = xp.linalg.solve(a, _transpose(xp, rhs))
    except (np.linalg.LinAlgError, RuntimeError):
        sol = xp.linalg.pinv(a) @ _transpose(xp, rhs)
    sol = _transpose(xp, sol)[slot, column]
    return (sol[:, :n] * zs[slot]).sum(1), (sol[:, :n] * g0).sum(1) - (sol[:, n:] * b[:, n:]).sum(1)


def _diagonal(xp, a):
    """Writable view of the diagonals of a batch of square matrices."""
    return np.einsum("bii->bi", a) if xp is np else a.diagonal(dim1=1, dim2=2)


def _transpose(xp, a):
    return a.transpose(0, 2, 1) if xp is np else a.transpose(1, 2)


def _forward(xp, low, rhs):
    """L^-1 rhs for lower-triangular L, batched: (S, n, n), (S, n, r)."""
    if xp is not np:
        return xp.linalg.solve_triangular(low, rhs, upper=False)
    out = np.empty_like(rhs)
    for i in range(low.shape[1]):
        out[:, i] = (rhs[:, i] - np.einsum("sj,sjr->sr", low[:, i, :i], out[:, :i])) / low[:, i, i, None]
    return out


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
    with RasterWriter(path, grid.with_nodata(NODATA), len(band_names), np.float32, band_names) as writer:
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
                     seed: int = 0, drift: bool = False, device=None, progress: Optional[ProgressCallback] = None,
                     is_cancelled: Optional[CancelCheck] = None):
    """Fit every model and pick the one with the lowest leave-one-out RMSE of local kriging.

    Returns (best Variogram, experimental variogram (lags, gamma, counts), {model: (Variogram, cv stats)}).
    Cross-validation runs on at most ``cv_points`` points (a seeded subsample) as targets, with all points as
    neighbours. ``progress`` gets a step for the experimental variogram, each fitted model and each
    cross-validated model; ``is_cancelled`` is checked between them (`progress.Cancelled`).
    """
    from .variogram import experimental_variogram, fit_variogram

    steps = Steps(1 + 2 * len(models), progress, is_cancelled)
    steps.check()
    x, y, z, _ = merge_duplicates(*_check_points(x, y, z, 3))
    lags, gamma, counts = experimental_variogram(x, y, z, n_lags, max_lag, seed=seed)
    steps.advance("Experimental variogram")
    fitted = {}
    for name in models:
        fitted[name] = fit_variogram(lags, gamma, counts, name)
        steps.advance(f"Fitted the {name} variogram")
    rng = np.random.default_rng(seed)
    targets = rng.choice(x.size, min(cv_points, x.size), replace=False)
    table = {}
    for name, variogram in fitted.items():
        kriging = LocalKriging(x, y, z, variogram, k=k, drift=drift, device=device)
        predicted = kriging.predict(x[targets], y[targets], exclude_self=True).values
        table[name] = (variogram, error_statistics(z[targets], predicted))
        steps.advance(f"Cross-validated the {name} variogram: RMSE {table[name][1]['rmse']:.4g}")
    best = min(table, key=lambda m: table[m][1]["rmse"])
    return table[best][0], (lags, gamma, counts), table


METHODS = ("idw", "kriging")


@dataclass
class InterpolationSettings:
    """How to interpolate: ``idw`` (``power``, ``k`` nearest, optional ``radius`` in m) or local ``kriging``
    (``k`` nearest, ``drift`` for universal kriging, the variogram model chosen among ``models`` by leave-one-out
    RMSE on at most ``cv_points`` points with ``selection_k`` neighbours (default ``k``); experimental variogram
    of ``n_lags`` lags up to ``max_lag`` m (0: automatic); ``seed`` for the subsample)."""

    method: str = "kriging"
    k: int = 12
    power: float = 2.0
    radius: float = 0.0
    models: Sequence[str] = MODELS
    drift: bool = False
    n_lags: int = 20
    max_lag: float = 0.0
    cv_points: int = 1000
    seed: int = 0
    selection_k: Optional[int] = None


@dataclass
class Interpolator:
    """A fitted interpolator (`make_interpolator`): the method, and for kriging the chosen variogram, the
    experimental variogram (lags, gamma, counts) and every fitted model with its leave-one-out statistics."""

    settings: InterpolationSettings
    method: Union[InverseDistance, "LocalKriging"]
    variogram: Optional[Variogram] = None
    experimental: Optional[tuple] = None
    fitted: Dict[str, tuple] = field(default_factory=dict)

    @property
    def merged(self) -> int:
        return self.method.merged

    def values(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Interpolated values at (x, y)."""
        result = self.method.predict(x, y)
        return getattr(result, "values", result)

    def bands(self, x: np.ndarray, y: np.ndarray) -> tuple:
        """The raster bands at (x, y): (values,) for IDW, (values, kriging variance) for kriging."""
        result = self.method.predict(x, y)
        return (result.values, result.variance) if isinstance(result, KrigingResult) else (result,)

    def band_names(self, name: str) -> list:
        return [f"{name}_kriged", f"{name}_kriging_variance"] if self.variogram is not None else [f"{name}_idw"]


def make_interpolator(x, y, z, settings: InterpolationSettings, device=None,
                      progress: Optional[ProgressCallback] = None,
                      is_cancelled: Optional[CancelCheck] = None) -> Interpolator:
    """The one place IDW and kriging are configured: fit the interpolator ``settings`` describe to the points
    (x, y in metres). ``device``: a torch device for the kriging systems, or None for numpy. ``progress`` gets a
    step per fitted and per cross-validated variogram model (kriging) and 100 % when the interpolator is ready;
    ``is_cancelled`` stops with `progress.Cancelled`."""
    if settings.method not in METHODS:
        raise ValueError(f"Unknown interpolation method {settings.method!r}; use one of {', '.join(METHODS)}")
    if settings.method == "idw":
        steps = Steps(1, progress, is_cancelled)
        steps.check()
        method = InverseDistance(x, y, z, settings.power, settings.k, settings.radius)
        steps.advance("IDW interpolator ready")
        return Interpolator(settings, method)
    selection = None if progress is None else \
        (lambda percent, message: progress(0.95 * percent, message))
    variogram, experimental, fitted = select_variogram(
        x, y, z, settings.models, k=settings.selection_k or settings.k, cv_points=settings.cv_points,
        n_lags=settings.n_lags, max_lag=settings.max_lag, seed=settings.seed, drift=settings.drift, device=device,
        progress=selection, is_cancelled=is_cancelled)
    method = LocalKriging(x, y, z, variogram, k=settings.k, drift=settings.drift, device=device)
    steps = Steps(1, None if progress is None else (lambda percent, message: progress(95.0 + 0.05 * percent,
                                                                                       message)), is_cancelled)
    steps.advance(f"Kriging with the {variogram.model} variogram ready")
    return Interpolator(settings, method, variogram, experimental, fitted)
