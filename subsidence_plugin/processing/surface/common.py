"""Shared step of the surface-CNN algorithms: dense prediction to a styled raster. torch is imported only when these run (the provider loads without it)."""
from __future__ import annotations

import numpy as np

from ...core.io.stack import FactorStack
from .. import styles
from ..outputs import finish_raster_output


def predict_to_raster(model, normalisation, target_mean, target_std, stack: FactorStack, values: np.ndarray,
                      output: str, band_name: str,
                      mc_samples: int, device_name: str, context, feedback, units: str) -> None:
    """Dense prediction of every valid cell (and the MC-dropout spread), styled and added to the project."""
    from ...core.ml.devices import choose_device, describe, with_cpu_fallback
    from ...core.surface.patch_cnn import predict_surface, window_reader

    device = choose_device(device_name)
    feedback.pushInfo(f"Predicting every cell on {describe(device)}")

    def run(dev):
        return predict_surface(model, normalisation, target_mean, target_std, window_reader(values),
                               stack.grid, output, band_name, mc_samples=mc_samples, device=dev,
                               progress=lambda p, m: feedback.setProgress(90 + 0.1 * p),
                               is_cancelled=feedback.isCanceled)

    with_cpu_fallback(run, device, feedback.pushWarning)
    finish_raster_output(context, output, f"{band_name} ({units})", "OUTPUT",
                         lambda lyr: styles.style_diverging(lyr, units))


