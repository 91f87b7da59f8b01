"""Semivariogram models, the experimental variogram from a bounded number of pairs, and model fitting.

Model definitions follow PyKrige (so predictions can be checked against it): spherical, exponential
(practical range: psill (1 - exp(-3h / range))), gaussian (psill (1 - exp(-h^2 / (4 range / 7)^2))) and linear
(slope h), each plus a nugget. The experimental variogram never forms all pairwise distances: it uses the pairs
of a random subsample of at most ``max_points`` points within ``max_lag`` (KD-tree), binned by distance.
Fitting: robust least squares (soft L1, as PyKrige) on the binned semivariances, weighted by the pair counts.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial import cKDTree

MODELS = ("spherical", "exponential", "gaussian", "linear")


@dataclass
class Variogram:
    """A fitted model; for ``linear`` psill holds the slope and range is unused."""

    model: str
    psill: float
    range: float
    nugget: float

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Unknown variogram model {self.model!r}; use one of {', '.join(MODELS)}")

    def __call__(self, h, xp=np):
        """Semivariance at distances ``h``: a numpy array, or a torch tensor with ``xp=torch``.

        Works on a new array in place (no temporaries beyond one), as it runs on millions of distances.
        """
        if xp is np:
            h = np.asarray(h, dtype=np.float64)
        p, r, n = self.psill, self.range, self.nugget
        if self.model == "linear":
            return p * h + n
        if self.model == "exponential":
            out = h * (-3.0 / r)
            out = _inplace(xp, out, "exp")
            return _affine(xp, out, -p, p + n)
        if self.model == "gaussian":
            out = h * h * (-1.0 / (r * 4.0 / 7.0) ** 2)
            out = _inplace(xp, out, "exp")
            return _affine(xp, out, -p, p + n)
        x = h * (1.0 / r)
        x = _inplace(xp, x, "clip_one")
        square = x * x
        return _affine(xp, x * _affine(xp, square, -0.5 * p, 1.5 * p), 1.0, n)

    @property
    def sill(self) -> float:
        return self.psill + self.nugget

    def pykrige_parameters(self) -> List[float]:
        """Parameters as PyKrige's list form takes them (linear: slope, nugget; others: sill, range, nugget)."""
        return [self.psill, self.nugget] if self.model == "linear" else [self.sill, self.range, self.nugget]

    def as_dict(self) -> Dict[str, float]:
        return asdict(self)


def _inplace(xp, values, operation: str):
    """exp or clip-to-1 of a freshly made array, in place."""
    if xp is np:
        if operation == "exp":
            return np.exp(values, out=values)
        return np.minimum(values, 1.0, out=values)
    return values.exp_() if operation == "exp" else values.clamp_(max=1.0)


def _affine(xp, values, scale: float, offset: float):
    """values * scale + offset, in place."""
    if xp is np:
        values *= scale
        values += offset
        return values
    return values.mul_(scale).add_(offset)


def experimental_variogram(x: np.ndarray, y: np.ndarray, z: np.ndarray, n_lags: int = 20,
                           max_lag: float = 0.0, max_points: int = 3000,
                           seed: int = 0) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binned semivariance 0.5 mean((z_i - z_j)^2) by distance: (lag centres, semivariance, pair counts).

    ``max_lag`` defaults to half the diagonal of the points' extent. Empty bins are dropped.
    """
    x, y, z = (np.asarray(a, dtype=np.float64) for a in (x, y, z))
    if x.size < 3:
        raise ValueError("A variogram needs at least 3 points")
    if x.size > max_points:
        keep = np.random.default_rng(seed).choice(x.size, max_points, replace=False)
        x, y, z = x[keep], y[keep], z[keep]
    if max_lag <= 0:
        max_lag = 0.5 * np.hypot(np.ptp(x), np.ptp(y))
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(max_lag, output_type="ndarray")
    if len(pairs) == 0:
        raise ValueError("No pair of points lies within the maximum lag")
    i, j = pairs[:, 0], pairs[:, 1]
    d = np.hypot(x[i] - x[j], y[i] - y[j])
    sq = 0.5 * (z[i] - z[j]) ** 2
    edges = np.linspace(0.0, max_lag, n_lags + 1)
    which = np.clip(np.digitize(d, edges) - 1, 0, n_lags - 1)
    counts = np.bincount(which, minlength=n_lags)
    gamma = np.bincount(which, weights=sq, minlength=n_lags)
    dist = np.bincount(which, weights=d, minlength=n_lags)
    ok = counts > 0
    return dist[ok] / counts[ok], gamma[ok] / counts[ok], counts[ok]


def fit_variogram(lags: np.ndarray, gamma: np.ndarray, counts: np.ndarray, model: str) -> Variogram:
    """Fit a model to an experimental variogram (robust least squares weighted by pair counts)."""
    if model not in MODELS:
        raise ValueError(f"Unknown variogram model {model!r}; use one of {', '.join(MODELS)}")
    weights = np.sqrt(counts / counts.sum())
    span = max(float(gamma.max() - gamma.min()), 1e-12)
    if model == "linear":
        slope0 = span / max(float(lags.max()), 1e-12)
        x0, lower, upper = [slope0, float(gamma.min())], [0.0, 0.0], [np.inf, float(gamma.max())]
    else:
        x0 = [span, 0.25 * float(lags.max()), float(gamma.min())]
        lower, upper = [0.0, 1e-9 * float(lags.max()), 0.0], [10 * float(gamma.max()) + 1e-12,
                                                             10 * float(lags.max()), float(gamma.max())]

    def residual(params):
        v = Variogram(model, params[0], params[1] if model != "linear" else 0.0, params[-1])
        return weights * (v(lags) - gamma) / span

    x0 = np.clip(x0, lower, upper)
    fit = least_squares(residual, x0, bounds=(lower, upper), loss="soft_l1")
    p = fit.x
    return Variogram(model, float(p[0]), float(p[1]) if model != "linear" else 0.0, float(p[-1]))


def fit_models(x, y, z, models: Sequence[str] = MODELS, n_lags: int = 20, max_lag: float = 0.0,
               max_points: int = 3000, seed: int = 0):
    """Experimental variogram and one fitted model per name: (lags, gamma, counts, {model: Variogram})."""
    lags, gamma, counts = experimental_variogram(x, y, z, n_lags, max_lag, max_points, seed)
    return lags, gamma, counts, {m: fit_variogram(lags, gamma, counts, m) for m in models}
