"""HTML reports of the surface algorithms: the patch-CNN training and the comparison of methods."""
from __future__ import annotations

import numpy as np

from ..io.stack import FactorStack
from .comparison import STATS


def write_training_report(path: str, trained, stack: FactorStack, stack_values: np.ndarray, x, y, values, field: str,
                          units: str) -> None:
    """Metrics, loss curves, predicted against observed and the residual map of a patch-CNN training."""
    from ..ml.samplers import PatchSampler
    from ..reports.html import HtmlReport
    from ..reports.plots import loss_figure, residual_map_figure, scatter_figure
    from .patch_cnn import locate_points

    report = HtmlReport(f"Patch CNN for {field}", "Land subsidence plugin - seed 000 network")
    report.heading("Metrics")
    report.table([(name, s["rmse"], s["mse"], s["mae"], s["r2"], s["n"]) for name, s in trained.metrics.items()],
                 header=("split", f"RMSE ({units})", "MSE", f"MAE ({units})", "R²", "points"))
    report.paragraph(f"{len(trained.used)} points used; {trained.excluded_outside} outside the stack and "
                     f"{trained.excluded_nodata} on nodata were excluded; {trained.padded} patches were padded. "
                     f"Training ran on {trained.history.device} in {trained.history.seconds:.1f} s.")
    report.figure(loss_figure(trained.history.train_loss, trained.history.validation_loss), "Loss per epoch")
    sampler = PatchSampler(stack_values, trained.model.patch_size, trained.normalisation)
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


def write_comparison_report(path, results, field, block, x, y, values, variograms, paper_loss,
                            unit: str = "") -> None:
    """Table; per protocol, predicted against observed for every method; residual maps of the spatial
    cross-validation (every point predicted once, by a model that did not see its block); the variogram; the CNN's
    loss curves in the paper split."""
    from ..reports.html import HtmlReport
    from ..reports.plots import loss_figure, residual_panels_figure, scatter_panels_figure, variogram_figure

    report = HtmlReport(f"Surface methods compared on {field}", "Land subsidence plugin")
    report.paragraph(f"Same held-out points for every method. Spatial blocks of {block:.0f} m.")
    report.table([(r["protocol"], r["method"]) + tuple(r[s] for s in STATS) + (r["n"],) for r in results],
                 header=("protocol", "method") + tuple(f"{name} ({u})" if unit else name for name, u in (
                     ("RMSE", unit), ("MSE", f"({unit})²"), ("MAE", unit), ("mean error", unit),
                     ("error std", unit))) + ("R²", "points"))
    for protocol in dict.fromkeys(r["protocol"] for r in results):
        rows = [r for r in results if r["protocol"] == protocol]
        report.heading(f"Protocol: {protocol}", 3)
        report.figure(scatter_panels_figure({r["method"]: (values[r["test"]], r["predicted"]) for r in rows}, unit),
                      f"Predicted against observed at the held-out points ({protocol})", 260 * len(rows))
        if protocol == "spatial":
            report.figure(residual_panels_figure({r["method"]: (x[r["test"]], y[r["test"]],
                                                                r["predicted"] - values[r["test"]]) for r in rows},
                                                  unit),
                          "Residuals (predicted - observed) of the spatial cross-validation", 300 * len(rows))
    (lags, gamma, counts), fitted, chosen = variograms
    report.heading("Variogram (all points)", 3)
    report.figure(variogram_figure(lags, gamma, counts, {k: v for k, (v, _) in fitted.items()}, chosen, unit),
                  "Experimental variogram (marker size: pair count) and the fitted models; the folds refit it")
    if paper_loss is not None:
        report.figure(loss_figure(*paper_loss, "Patch CNN, paper split"), "CNN loss per epoch in the paper split")
    report.write(path)
