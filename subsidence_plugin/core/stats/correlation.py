"""Correlation and information statistics: Shannon entropy and information gain (bits), Pearson matrices,
variance inflation factors (VIF = diag of the inverse correlation matrix) and column-wise Pearson r."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np


def entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of count vectors along the last axis."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, counts / total, 0.0)
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=-1)


def information_gain(class_index: np.ndarray, label: np.ndarray, classes: int) -> float:
    """H(label) - H(label | class) in bits, over samples with a class (index >= 0)."""
    ok = class_index >= 0
    idx, lab = class_index[ok], np.asarray(label)[ok].astype(np.int64)
    table = np.zeros((classes, 2))
    np.add.at(table, (idx, lab), 1.0)
    n = table.sum()
    conditional = (table.sum(axis=1) / n * entropy_bits(table)).sum()
    return float(entropy_bits(table.sum(axis=0)) - conditional)


def pearson_matrix(values: np.ndarray) -> np.ndarray:
    """Pearson correlation between rows (factors x samples); refuses factors of zero variance."""
    return np.corrcoef(_checked_variance(values))


def variance_inflation(values: np.ndarray) -> np.ndarray:
    """VIF of every factor (rows of factors x samples) = diag of the inverse correlation matrix; inf where a
    factor is an exact linear combination of the others."""
    corr = pearson_matrix(values)
    if np.linalg.matrix_rank(corr) < len(corr):
        inv = np.linalg.pinv(corr)
        vif = np.diag(inv).copy()
        _, s, vt = np.linalg.svd(corr)
        dependent = np.abs(vt[s < 1e-10 * s.max()]).max(axis=0) > 1e-8
        vif[dependent] = np.inf
        return vif
    return np.diag(np.linalg.inv(corr)).copy()


def _checked_variance(values: np.ndarray, names: Optional[Sequence[str]] = None) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    flat = values.std(axis=1) == 0
    if np.any(flat):
        which = [names[i] for i in np.flatnonzero(flat)] if names else [str(i) for i in np.flatnonzero(flat)]
        raise ValueError(f"Factor(s) {', '.join(which)} have zero variance over the inventory cells: correlation "
                         "and VIF are undefined. Remove them from the stack.")
    return values


def pearson_columns(index: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Pearson r between each column of ``index`` (n, candidates) and ``target`` (n,)."""
    xi = index - index.mean(axis=0)
    yt = target - target.mean()
    denom = np.sqrt((xi * xi).sum(axis=0) * (yt * yt).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (xi * yt[:, None]).sum(axis=0) / denom, 0.0)
