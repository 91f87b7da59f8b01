"""Class breaks of a continuous index: quantiles (seed 002), natural breaks (exact Jenks) and equal
intervals; classification into classes 1..k (0 = nodata)."""
from __future__ import annotations

import numpy as np

CLASSIFICATIONS = ("quantile", "natural_breaks", "equal_interval")
SAMPLE_CELLS = 1_000_000  # cells of a raster sampled (a regular subsample) for class breaks and definitions


def sample_stride(cells: int) -> int:
    """Every how many cells to take so that at most `SAMPLE_CELLS` of ``cells`` are sampled."""
    return max(1, int(np.ceil(cells / SAMPLE_CELLS)))


CLASSIFICATION_LABELS = ("Quantiles (seed 002)", "Natural breaks (Jenks)", "Equal intervals")


def natural_breaks(values: np.ndarray, classes: int = 5, max_values: int = 2000) -> np.ndarray:
    """Inner breaks of Jenks natural breaks (minimum within-class sum of squares; exact dynamic programming)
    on at most ``max_values`` evenly spaced order statistics of the values."""
    values = np.sort(np.asarray(values, dtype=np.float64)[~np.isnan(values)])
    if len(values) > max_values:
        values = values[np.linspace(0, len(values) - 1, max_values).round().astype(np.int64)]
    n = len(values)
    if n < classes:
        raise ValueError(f"Natural breaks into {classes} classes need at least {classes} values")
    c1 = np.r_[0.0, np.cumsum(values)]
    c2 = np.r_[0.0, np.cumsum(values * values)]

    def ssd(i, j):  # sum of squared deviations of values[i:j], arrays broadcast
        count = j - i
        s = c1[j] - c1[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, c2[j] - c2[i] - s * s / np.maximum(count, 1), np.inf)

    j = np.arange(n + 1)
    cost = ssd(np.zeros_like(j), j)  # one class over values[:j]
    choice = []
    for _ in range(1, classes):
        i = np.arange(n + 1)
        total = cost[i][None, :] + ssd(i[None, :], j[:, None])  # (j, i): split at i
        total[i[None, :] >= j[:, None]] = np.inf
        best = np.argmin(total, axis=1)
        choice.append(best)
        cost = total[j, best]
    breaks, end = [], n
    for best in reversed(choice):
        end = int(best[end])
        breaks.append(values[end - 1])
    return np.array(sorted(breaks))


def balanced_breaks(values: np.ndarray, classes: int) -> np.ndarray:
    """Inner breaks that split the values into ``classes`` classes as near to equal counts as ties allow: the
    breaks fall between distinct values (class k = [break k-1, break k)), every class holds at least one
    distinct value, and each break is the one whose cumulative share is nearest to k / classes. Quantiles of an
    index that takes few distinct values (a sum of class ratings) put several breaks on one value and leave
    classes empty; these do not."""
    values = np.asarray(values, dtype=np.float64)
    distinct, counts = np.unique(values[~np.isnan(values)], return_counts=True)
    if len(distinct) < classes:
        raise ValueError(f"The index takes {len(distinct)} distinct value(s): {classes} classes are undefined")
    share = np.cumsum(counts) / counts.sum()
    ends, previous = [], -1
    for k in range(1, classes):
        low, high = previous + 1, len(distinct) - 1 - (classes - k)  # leave a value for every later class
        candidates = np.arange(low, high + 1)
        end = int(candidates[np.argmin(np.abs(share[candidates] - k / classes))])
        ends.append(end)
        previous = end
    ends = np.asarray(ends)
    return (distinct[ends] + distinct[ends + 1]) / 2.0


def class_breaks(values: np.ndarray, method: str = "quantile", classes: int = 5) -> np.ndarray:
    """Inner class breaks of an index: class k holds values in (break k-1, break k]. Refuses an index with
    fewer valid values than classes, or a constant one (its classes would be undefined)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError("The index has no valid value")
    if len(values) < classes:
        raise ValueError(f"The index has {len(values)} valid value(s), fewer than the {classes} classes: classes "
                         "are undefined")
    if values.min() == values.max():
        raise ValueError(f"The index is constant (value {values[0]:g}): classes are undefined")
    if method == "quantile":
        return np.quantile(values, np.linspace(0, 1, classes + 1)[1:-1])
    if method == "equal_interval":
        return np.linspace(values.min(), values.max(), classes + 1)[1:-1]
    if method == "natural_breaks":
        return natural_breaks(values, classes)
    raise ValueError(f"Unknown classification {method!r}; use one of {', '.join(CLASSIFICATIONS)}")


def classify_index(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Classes 1..len(breaks)+1 (0 for NaN) with class k = (break k-1, break k]."""
    out = (np.searchsorted(breaks, values, side="left") + 1).astype(np.uint8)
    out[np.isnan(values)] = 0
    return out
