"""ROC curve, AUC (Mann-Whitney: ties count half) and seed 002's error statistics of 0-1 scores."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def roc_curve(label: np.ndarray, score: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds) at every distinct score, highest first, starting
    at (0, 0); the same points as scikit-learn's ``roc_curve(drop_intermediate=False)``."""
    label = np.asarray(label).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if label.all() or not label.any():
        raise ValueError("ROC needs both subsiding and stable cells in the test part")
    order = np.argsort(-score, kind="mergesort")
    s, lab = score[order], label[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tps = np.cumsum(lab)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps / lab.sum()]
    fpr = np.r_[0.0, fps / (~lab).sum()]
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(label: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve: the trapezoids over the tied-score steps, summed."""
    fpr, tpr, _ = roc_curve(label, score)
    return float(np.add.reduce(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def classification_statistics(label: np.ndarray, score: np.ndarray) -> dict:
    """AUC plus seed 002's RMSE, MSE, MAE and StD of the error (score - label) on 0-1 scores."""
    label = np.asarray(label, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    err = score - label
    return {"auc": roc_auc(label, score), "rmse": float(np.sqrt(np.mean(err ** 2))), "mse": float(np.mean(err ** 2)),
            "mae": float(np.mean(np.abs(err))), "std": float(np.std(err)), "n": int(len(label)),
            "positives": int(label.sum())}
