"""Patches of the factor stack around points, read on the fly, and per-factor normalisation.

The stack is held once in memory as float32 (bands, rows, cols) with NaN at nodata; a `PatchSampler` cuts the
patches of a batch of points by fancy indexing, so memory stays O(stack) and never O(points x patch): 3 x 10^5
points of 30 x 30 x 12 would need about 13 GB as one array. Convention for a patch of size P around the cell
(r, c): rows r - P//2 ... r + P - 1 - P//2 (for P = 30: 15 cells above and left, 14 below and right), the
same for columns. Cells outside the stack and nodata cells take the value 0 after normalisation (the training
mean for z-scores), so patches at edges are padded; points whose own cell is outside or nodata are excluded.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, List, Optional

import numpy as np

NORMALISATIONS = ("zscore", "minmax", "none")


@dataclass
class Normalisation:
    """Per-factor affine scaling: normalised = (value - offset) / scale."""

    method: str
    offset: List[float]
    scale: List[float]

    def apply(self, values: np.ndarray, axis: int = 0) -> np.ndarray:
        """Normalise a (bands, ...) array along ``axis``; NaN becomes 0."""
        shape = [1] * values.ndim
        shape[axis] = -1
        out = (values - np.asarray(self.offset, np.float32).reshape(shape)) / \
            np.asarray(self.scale, np.float32).reshape(shape)
        return np.nan_to_num(out, nan=0.0).astype(np.float32, copy=False)

    def as_dict(self) -> Dict:
        return asdict(self)


class PatchSampler:
    """Cuts (B, bands, P, P) normalised patches around cells of a stack held in memory."""

    def __init__(self, stack: np.ndarray, patch_size: int = 30, normalisation: Optional[Normalisation] = None):
        if stack.ndim != 3:
            raise ValueError("The factor stack must be a (bands, rows, cols) array")
        if patch_size < 1:
            raise ValueError("The patch size must be positive")
        self.stack = stack.astype(np.float32, copy=False)
        self.patch_size = patch_size
        self.before = patch_size // 2
        self.normalisation = normalisation
        offsets = np.arange(patch_size) - self.before
        self._dr = offsets[:, None]
        self._dc = offsets[None, :]

    @property
    def bands(self) -> int:
        return self.stack.shape[0]

    def centre_valid(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True where (rows, cols) is inside the stack and valid in every band."""
        _, height, width = self.stack.shape
        inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
        ok = np.zeros(rows.shape, dtype=bool)
        ok[inside] = ~np.isnan(self.stack[:, rows[inside], cols[inside]]).any(axis=0)
        return ok

    def raw(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(B, bands, P, P) raw values with NaN outside the stack and at nodata."""
        _, height, width = self.stack.shape
        r = np.asarray(rows)[:, None, None] + self._dr
        c = np.asarray(cols)[:, None, None] + self._dc
        outside = (r < 0) | (r >= height) | (c < 0) | (c >= width)
        values = self.stack[:, np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)]  # (bands, B, P, P)
        values[:, outside] = np.nan
        return np.moveaxis(values, 0, 1)

    def batch(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(B, bands, P, P) normalised float32 patches (NaN and outside -> 0)."""
        if self.normalisation is None:
            raise ValueError("Fit or set the normalisation first")
        return self.normalisation.apply(self.raw(rows, cols), axis=1)

    def padded(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """True where a point's patch reaches outside the stack or onto nodata (a summed-area table of the
        invalid cells: O(stack + points), not O(points x patch))."""
        _, height, width = self.stack.shape
        p, before = self.patch_size, self.before
        invalid = np.ones((height + 2 * p, width + 2 * p), dtype=np.int32)
        invalid[p:p + height, p:p + width] = np.isnan(self.stack).any(axis=0)
        table = np.zeros((invalid.shape[0] + 1, invalid.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = invalid.cumsum(axis=0).cumsum(axis=1)
        r0 = np.asarray(rows) - before + p
        c0 = np.asarray(cols) - before + p
        total = table[r0 + p, c0 + p] - table[r0, c0 + p] - table[r0 + p, c0] + table[r0, c0]
        return total > 0


def fit_normalisation(sampler: PatchSampler, rows: np.ndarray, cols: np.ndarray, method: str = "zscore",
                      batch: int = 2048) -> Normalisation:
    """Per-factor statistics over the valid cells of the given points' patches (the training split)."""
    if method not in NORMALISATIONS:
        raise ValueError(f"Unknown normalisation {method!r}; use one of {', '.join(NORMALISATIONS)}")
    bands = sampler.bands
    if method == "none":
        return Normalisation(method, [0.0] * bands, [1.0] * bands)
    count = np.zeros(bands)
    total = np.zeros(bands)
    square = np.zeros(bands)
    low = np.full(bands, np.inf)
    high = np.full(bands, -np.inf)
    for start in range(0, len(rows), batch):
        values = sampler.raw(rows[start:start + batch], cols[start:start + batch]).astype(np.float64)
        values = np.moveaxis(values, 1, 0).reshape(bands, -1)
        valid = ~np.isnan(values)
        filled = np.where(valid, values, 0.0)
        count += valid.sum(axis=1)
        total += filled.sum(axis=1)
        square += (filled * filled).sum(axis=1)
        low = np.minimum(low, np.where(valid, values, np.inf).min(axis=1))
        high = np.maximum(high, np.where(valid, values, -np.inf).max(axis=1))
    if np.any(count == 0):
        raise ValueError("Some factor has no valid value in the training patches")
    if method == "minmax":
        span = np.where(high > low, high - low, 1.0)
        return Normalisation(method, low.tolist(), span.tolist())
    mean = total / count
    std = np.sqrt(np.maximum(square / count - mean * mean, 0.0))
    return Normalisation(method, mean.tolist(), np.where(std > 0, std, 1.0).tolist())


