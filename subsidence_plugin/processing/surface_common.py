"""Shared steps of the surface-CNN algorithms: the stack in memory, dense prediction to a styled raster,
the training report. torch is imported only when these run (the provider loads without it)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np

from ..core.grid import RasterGrid
from ..core.raster_io import read_raster
from . import styles
from .base import finish_raster_output


@dataclass
class Stack:
    values: np.ndarray  # (bands, rows, cols) float32, NaN at nodata
    grid: RasterGrid
    band_names: List[str]


def load_stack(path: str) -> Stack:
    """The factor stack in memory as float32 with NaN at nodata; refuses nodata-only bands."""
    raster = read_raster(path)
    values = np.where(raster.valid, raster.array, np.nan).astype(np.float32)
    empty = [name for name, band in zip(raster.band_names, values) if np.isnan(band).all()]
    if empty:
        raise ValueError(f"{path}: band(s) {', '.join(empty)} hold only nodata")
    return Stack(values, raster.grid, raster.band_names)


def predict_to_raster(model, normalisation, target_mean, target_std, stack: Stack, output: str, band_name: str,
                      mc_samples: int, device_name: str, context, feedback, units: str) -> None:
    """Dense prediction of every valid cell (and the MC-dropout spread), styled and added to the project."""
    from ..core.devices import choose_device, describe, with_cpu_fallback
    from ..core.surface_cnn import predict_surface, window_reader

    device = choose_device(device_name)
    feedback.pushInfo(f"Predicting every cell on {describe(device)}")

    def run(dev):
        return predict_surface(model, normalisation, target_mean, target_std, window_reader(stack.values),
                               stack.grid, output, band_name, mc_samples=mc_samples, device=dev,
                               progress=lambda p, m: feedback.setProgress(90 + 0.1 * p),
                               is_cancelled=feedback.isCanceled)

    with_cpu_fallback(run, device, feedback.pushWarning)
    finish_raster_output(context, output, f"{band_name} ({units})", "OUTPUT",
                         lambda lyr: styles.style_diverging(lyr, units))


def write_training_report(path: str, trained, stack: Stack, x, y, values, field: str, units: str) -> None:
    from ..core.patches import PatchSampler
    from ..core.plots import loss_figure, residual_map_figure, scatter_figure
    from ..core.report import HtmlReport
    from ..core.surface_cnn import locate_points

    report = HtmlReport(f"Patch CNN for {field}", "Land subsidence plugin - seed 000 network")
    report.heading("Metrics")
    report.table([(name, s["rmse"], s["mse"], s["mae"], s["r2"], s["n"]) for name, s in trained.metrics.items()],
                 header=("split", f"RMSE ({units})", "MSE", f"MAE ({units})", "R²", "points"))
    report.paragraph(f"{len(trained.used)} points used; {trained.excluded_outside} outside the stack and "
                     f"{trained.excluded_nodata} on nodata were excluded; {trained.padded} patches were padded. "
                     f"Training ran on {trained.history.device} in {trained.history.seconds:.1f} s.")
    report.figure(loss_figure(trained.history.train_loss, trained.history.validation_loss), "Loss per epoch")
    sampler = PatchSampler(stack.values, trained.model.patch_size, trained.normalisation)
    rows, cols, _, _, _ = locate_points(stack.grid, sampler, x, y)
    used = trained.used
    predicted = trained.predict_values(sampler, rows[used], cols[used])
    observed = np.asarray(values, dtype=np.float64)[used]
    test = trained.splits.get("test", np.array([], dtype=int))
    if len(test):
        report.figure(scatter_figure(observed[test], predicted[test], "Test points", units),
                      "Predicted against observed on the test points")
    report.figure(residual_map_figure(np.asarray(x)[used], np.asarray(y)[used], predicted - observed,
                                      "Residuals at all used points", units), "Residual map")
    report.write(path)
