"""Honest comparison of surface methods on the same held-out points.

Three protocols, each giving every method the same training and test points:

* **paper**: the random 80 / 10 / 10 split of seed 000 (train / validation / test); scores on the test part.
  Neighbouring points are nearly identical, so this rewards interpolation and flatters every method.
* **spatial**: spatially blocked k-fold cross-validation: square blocks (larger than the CNN patch and the
  variogram range, so no test point has a training neighbour within that distance inside its block) are dealt
  to k folds at random; each fold is tested once with a model trained on the others.
* **gap**: whole low-density areas held out: the blocks with the fewest points are removed (until ``share``
  of the points) and predicted from the rest, as InSAR gaps over fields and vegetation must be.

Methods are callables ``fit_predict(train_idx, validation_idx, test_idx) -> predictions at test_idx``.
Scores: RMSE, MSE, MAE, mean error, error standard deviation and R^2 (`metrics.error_statistics`), pooled over
folds.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np

from ..progress import CancelCheck, ProgressCallback, Steps
from ..stats.metrics import error_statistics
from ..stats.splits import low_density_holdout, random_split, spatial_folds

STATS = ("rmse", "mse", "mae", "me", "std", "r2")
FitPredict = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def _validation_from(train: np.ndarray, share: float, seed: int):
    """Split a validation part off the training indices (for the CNN's monitoring)."""
    if share <= 0 or len(train) < 10:
        return train, np.array([], dtype=np.int64)
    order = np.random.default_rng(seed).permutation(train)
    n_val = max(1, int(round(share * len(train))))
    return order[n_val:], order[:n_val]


def compare_methods(values: np.ndarray, x: np.ndarray, y: np.ndarray, methods: Dict[str, FitPredict],
                    block_size: float, folds: int = 5, gap_share: float = 0.1, seed: int = 0,
                    protocols=("paper", "spatial", "gap"), progress: Optional[ProgressCallback] = None,
                    is_cancelled: Optional[CancelCheck] = None) -> List[dict]:
    """Scores of every method under every protocol: rows of {protocol, method, rmse, ..., n, test, predicted}, where
    ``test`` are the indices of the scored points (pooled over folds) and ``predicted`` their predictions."""
    values = np.asarray(values, dtype=np.float64)
    plans = []
    if "paper" in protocols:
        train, val, test = random_split(len(values), (0.8, 0.1, 0.1), seed)
        plans.append(("paper", [(train, val, test)]))
    if "spatial" in protocols:
        fold = spatial_folds(x, y, block_size, folds, seed)
        runs = []
        for k in range(folds):
            train, val = _validation_from(np.flatnonzero(fold != k), 0.1, seed + k)
            runs.append((train, val, np.flatnonzero(fold == k)))
        plans.append(("spatial", runs))
    if "gap" in protocols:
        held = low_density_holdout(x, y, block_size, gap_share)
        train, val = _validation_from(np.flatnonzero(~held), 0.1, seed)
        plans.append(("gap", [(train, val, np.flatnonzero(held))]))
    steps = Steps(sum(len(runs) for _, runs in plans) * len(methods), progress, is_cancelled)
    rows = []
    for protocol, runs in plans:
        for name, fit_predict in methods.items():
            tested, predicted = [], []
            for train, val, test in runs:
                steps.check()
                predicted.append(np.asarray(fit_predict(train, val, test), dtype=np.float64))
                tested.append(np.asarray(test))
                steps.advance(f"{protocol}: {name}")
            tested, predicted = np.concatenate(tested), np.concatenate(predicted)
            stats = error_statistics(values[tested], predicted)
            rows.append({"protocol": protocol, "method": name, **stats, "test": tested, "predicted": predicted})
    return rows
