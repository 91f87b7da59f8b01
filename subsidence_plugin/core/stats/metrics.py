"""Error statistics shared by every method the plugin compares (seed 000: RMSE, MSE, MAE, R^2)."""
from __future__ import annotations

import numpy as np


def error_statistics(observed: np.ndarray, predicted: np.ndarray) -> dict:
    """RMSE, MSE, MAE, mean error (bias), standard deviation of the error, R^2 and count, in the values'
    units (squared for MSE); pairs with a NaN are ignored."""
    observed = np.asarray(observed, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    ok = ~(np.isnan(observed) | np.isnan(predicted))
    err = predicted[ok] - observed[ok]
    if err.size == 0:
        return {"rmse": float("nan"), "mse": float("nan"), "mae": float("nan"), "me": float("nan"),
                "std": float("nan"), "r2": float("nan"), "n": 0}
    ss_res = float((err ** 2).sum())
    ss_tot = float(((observed[ok] - observed[ok].mean()) ** 2).sum())
    return {"rmse": float(np.sqrt((err ** 2).mean())), "mse": float((err ** 2).mean()),
            "mae": float(np.abs(err).mean()), "me": float(err.mean()), "std": float(err.std()),
            "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"), "n": int(err.size)}
