"""The HTML report of the measurement-point screening (`subsidence:screenmeasurementpoints`): counts per stage, the
test ROC curve and seed 002's error statistics, the loss curve, the tuning history, the score distribution by
label, a map of the kept and removed points and a few series of each."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..reports.html import HtmlReport, new_figure
from ..reports.plots import fitness_figure, loss_figure, roc_figure
from .labels import BAD, GOOD, UNLABELLED
from .screening import Screening, ScreeningSettings


def _score_histogram(score: np.ndarray, label: np.ndarray, threshold: float):
    fig, ax = new_figure(5.2, 3.0)
    bins = np.linspace(0.0, 1.0, 41)
    for value, name, colour in ((GOOD, "good (1)", "#1a9850"), (BAD, "bad (0)", "#d73027"),
                                (UNLABELLED, "unlabelled", "#808080")):
        chosen = score[label == value]
        if len(chosen):
            ax.hist(chosen, bins, histtype="step", lw=1.4, color=colour, label=f"{name} ({len(chosen)})")
    ax.axvline(threshold, color="#000000", lw=0.8, ls="--")
    ax.set_xlabel("quality score")
    ax.set_ylabel("points")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    return fig


def _kept_map(x: np.ndarray, y: np.ndarray, keep: np.ndarray):
    fig, ax = new_figure(5.4, 4.6)
    step = max(1, len(x) // 50000)
    ax.scatter(x[~keep][::step], y[~keep][::step], s=2.5, color="#d73027", lw=0,
               label=f"removed ({int((~keep).sum())})")
    ax.scatter(x[keep][::step], y[keep][::step], s=2.5, color="#1a9850", lw=0, label=f"kept ({int(keep.sum())})")
    ax.set_aspect("equal", adjustable="datalim")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("x (map units)", fontsize=8)
    ax.legend(fontsize=7, markerscale=4)
    if step > 1:
        ax.set_title(f"every {step}th point drawn", fontsize=8)
    return fig


def _example_series(dates: np.ndarray, series: np.ndarray, score: np.ndarray, keep: np.ndarray, unit: str):
    fig, axes = new_figure(7.0, 3.0, 1, 2)
    for ax, chosen, title in ((axes[0], keep, "highest scores (kept)"), (axes[1], ~keep, "lowest scores (removed)")):
        idx = np.flatnonzero(chosen)
        picks = idx[np.argsort(score[idx])][::-1][:4] if chosen is keep else idx[np.argsort(score[idx])][:4]
        for i in picks:
            ax.plot(dates, series[i], lw=0.9, marker=".", ms=2, label=f"score {score[i]:.2f}")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(f"displacement ({unit})")
        ax.tick_params(labelsize=7)
        if len(picks):
            ax.legend(fontsize=6)
    return fig


def write_screening_report(path: str, result: Screening, settings: ScreeningSettings, label: np.ndarray,
                           x: np.ndarray, y: np.ndarray, dates: np.ndarray, series: np.ndarray,
                           unit: str = "mm", notes: Sequence[str] = ()) -> str:
    """Write the screening report to ``path``."""
    n = len(label)
    report = HtmlReport("Measurement-point screening (CNN)",
                        f"{n} points, {len(dates)} dates ({dates[0]} … {dates[-1]}); seed 002 §III-B 5–6")
    for note in notes:
        report.paragraph(note)
    report.heading("Counts")
    kept = int(result.keep.sum())
    rows = [["points", n], ["labelled good (1)", int((label == GOOD).sum())],
            ["labelled bad (0)", int((label == BAD).sum())], ["unlabelled", int((label == UNLABELLED).sum())],
            [f"kept (score ≥ {settings.threshold:g})", kept], ["removed", n - kept]]
    for value, name in ((GOOD, "good"), (BAD, "bad"), (UNLABELLED, "unlabelled")):
        members = label == value
        if members.any():
            rows.append([f"removed among the {name} points", int((members & ~result.keep).sum())])
    report.table(rows, ["stage", "points"])
    report.paragraph("Seed 002: of 307,451 PS + DS points the CNN removed 85,777 as noisy or outlier-affected.")
    test = result.test
    report.heading("Test part of the labelled points")
    report.paragraph("Scores of the points the network never trained on (the test part of the stratified split), "
                     "against their labels: AUC, and seed 002's RMSE, MAE and StD of the error (score − label; the "
                     "seed reports RMSE 0.167, StD 0.168).")
    report.table([[test["n"], test["positives"], f"{test['auc']:.3f}", f"{test['rmse']:.3f}", f"{test['mae']:.3f}",
                   f"{test['std']:.3f}"]], ["points", "good", "AUC", "RMSE", "MAE", "StD"])
    report.figure(roc_figure({"screening CNN": (result.roc[0], result.roc[1], test["auc"])}, "ROC on the test part"),
                  f"ROC on the test part (AUC {test['auc']:.3f})")
    report.figure(_score_histogram(result.score, label, settings.threshold), "Quality score by label (log scale)")
    report.heading("Map")
    report.figure(_kept_map(x, y, result.keep), "Kept and removed points")
    report.figure(_example_series(dates, series, result.score, result.keep, unit), "Example series", width=700)
    report.heading("Training")
    used = result.used
    report.paragraph(f"1-D CNN: {settings.filters} filters of width {settings.kernel}, average pooling 2, dense "
                     f"{settings.dense}, regression output; learning rate {used['learning_rate']:.3g}, "
                     f"{used['epochs']} epochs, batch {used['batch_size']}, seed {settings.training.seed}, on "
                     f"{result.device}.")
    history = result.history
    report.figure(loss_figure(history.train_loss, history.validation_loss, "Loss per epoch", "MSE of the score"))
    if result.tuning is not None:
        report.paragraph(f"Grey wolf optimizer over the learning rate, epochs and batch size: "
                         f"{result.tuning.evaluations} candidates, best validation AUC {used['validation_auc']:.3f}.")
        report.figure(fitness_figure([1.0 - c for c in result.tuning.history], "GWO", "best validation AUC"))
    return report.write(path)
