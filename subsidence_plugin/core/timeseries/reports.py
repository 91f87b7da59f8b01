"""The HTML report of a series model (`subsidence:trainseriesmodel`): the RMSE by horizon of the model and the
baselines, the loss curves, what the model tells (attention weights, the physics RNN's E and n, the GW-LSTM's
bandwidth, the delayed-compaction fit), a map of the held-out errors and a few points' observed and forecast series
with the groundwater head on a second axis."""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np

from ..reports.html import HtmlReport, new_figure
from ..reports.plots import loss_figure, residual_map_figure
from .insar_points import linear_velocity
from .series_models import LABELS, HoldoutResult, SeriesSettings


def settings_summary(settings: SeriesSettings) -> str:
    """The architecture in words."""
    if settings.kind == "physics_rnn":
        n = "n trainable" if settings.exponent is None else f"n fixed at {settings.exponent:g}"
        return f"{settings.hidden} state units, the whole series, {n}"
    text = f"window {settings.window} months, {settings.layers} layer(s) of {settings.hidden} units"
    if settings.kind == "gw_lstm":
        bandwidth = "by cross-validation" if settings.bandwidth <= 0 else f"{settings.bandwidth:g} m"
        text += f", kernel of {settings.neighbours} neighbours with the bandwidth {bandwidth}"
    return text


def describe_notes(notes: dict) -> List[str]:
    """Lines for the log of what the model tells beside its errors."""
    lines = []
    if "modulus" in notes:
        modulus, exponent = notes["modulus"]
        lines.append(f"Physics RNN: fitted E = {modulus:.4g} (in units of the scaled stress input), n = "
                     f"{exponent:.4g} (dimensionless); E^n = {modulus ** exponent:.4g}")
    if "modulus without n" in notes:
        modulus, _ = notes["modulus without n"]
        lines.append(f"Physics RNN with n fixed at 1: fitted E = {modulus:.4g}")
    if "bandwidth" in notes:
        lines.append(f"GW-LSTM kernel bandwidth: {notes['bandwidth'][0]:.0f} m")
    if "attention" in notes:
        weights = notes["attention"]
        lines.append("Attention weight by month of the window (oldest … newest): "
                     + " ".join(f"{w:.3f}" for w in weights))
    if "delayed compaction" in notes:
        fitted = notes["delayed compaction"]
        lines.append(f"Delayed compaction at the last origin: median tau {np.nanmedian(fitted.tau_months):.1f} "
                     f"months, median k = 1000 S_k b {np.nanmedian(fitted.slope):.3g} mm per m of head")
    return lines


def _model_line(name: str) -> bool:
    return any(name.startswith(label) for label in LABELS.values())


def horizon_figure(result: HoldoutResult):
    """RMSE (mm) against the horizon (months) of every method."""
    fig, ax = new_figure(5.4, 3.4)
    for name, values in result.errors.rmse.items():
        ax.plot(result.errors.horizons, values, marker="o", linewidth=2.2 if _model_line(name) else 1.2,
                label=name)
    ax.set_xlabel("horizon (months after the last training month)")
    ax.set_ylabel("RMSE over lead months 1 … h (mm)")
    ax.set_xticks(result.errors.horizons)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Forecast error against the horizon", fontsize=10)
    return fig


def series_figure(dates: np.ndarray, observed: np.ndarray, result: HoldoutResult, point: int,
                  heads: Optional[np.ndarray], title: str, fitted: Optional[np.ndarray] = None):
    """One point: the observed displacement (mm), the model's fit of the training months, the forecast of the
    held-out dates and, on a second axis, the groundwater head (m) at the months."""
    fig, ax = new_figure(5.4, 3.2)
    ax.plot(dates, observed, ".", markersize=3, color="#303030", label="observed")
    if fitted is not None and np.isfinite(fitted).any():
        label = "simulated from the heads" if result.model.settings.kind == "physics_rnn" else "fitted (a month ahead)"
        ax.plot(result.months[:fitted.size], fitted, "-", color="#e08214", linewidth=1.0, label=label)
    ax.plot(result.holdout_dates, result.forecast[point], "-", color="#c0392b", linewidth=1.8, label="forecast")
    ax.axvline(result.months[result.origin], color="#808080", linestyle=":", linewidth=1)
    ax.set_ylabel("LOS displacement (mm)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if heads is not None and np.isfinite(heads).any():
        twin = ax.twinx()
        twin.plot(result.months, heads, color="#2e86c1", linewidth=1, alpha=0.8, label="head")
        twin.set_ylabel("groundwater head (m)", color="#2e86c1")
    ax.legend(fontsize=7, loc="lower left")
    fig.autofmt_xdate()
    return fig


def attention_figure(weights: np.ndarray):
    """The attention GRU's mean weight of each month of the window."""
    fig, ax = new_figure(5.4, 2.8)
    lags = np.arange(len(weights) - 1, -1, -1)
    ax.bar(np.arange(len(weights)), weights, color="#2e86c1")
    ax.set_xticks(np.arange(len(weights)))
    ax.set_xticklabels([f"t−{lag}" if lag else "t" for lag in lags], fontsize=7)
    ax.set_xlabel("month of the window (t: the last month before the forecast)")
    ax.set_ylabel("mean attention weight")
    ax.grid(alpha=0.3, axis="y")
    return fig


def _notes_section(report: HtmlReport, notes: dict) -> None:
    if not notes:
        return
    report.heading("What the model tells")
    for line in describe_notes(notes):
        report.paragraph(line)
    if "attention" in notes:
        report.figure(attention_figure(notes["attention"]),
                      "Where the attention GRU looks: its weights over the window ending at the last training month, "
                      "averaged over the points")
    if "bandwidth" in notes and notes["bandwidth"][1]:
        report.table([[f"{b:.0f}", f"{s:.4g}"] for b, s in notes["bandwidth"][1].items()],
                     ["bandwidth (m)", "leave-one-out MSE of the monthly change (mm²)"])


def example_points(rmse: np.ndarray, velocity: np.ndarray, count: int = 4) -> np.ndarray:
    """Points to draw: the fastest subsiding one and those at the 10th, 50th and 90th percentile of the error."""
    finite = np.flatnonzero(np.isfinite(rmse))
    if finite.size == 0:
        return finite
    order = finite[np.argsort(rmse[finite])]
    chosen = [order[int(q * (order.size - 1))] for q in (0.1, 0.5, 0.9)]
    moving = finite[np.argsort(velocity[finite])]
    chosen.insert(0, moving[0])
    return np.array(list(dict.fromkeys(chosen))[:count])


def write_series_report(path: str, result: HoldoutResult, dates: np.ndarray, series: np.ndarray,
                        heads: Optional[np.ndarray], x: np.ndarray, y: np.ndarray, pid: Sequence[str],
                        settings_text: str) -> str:
    """Write the report of a trained series model to ``path``."""
    held = result.holdout_dates.size
    error = np.nanmean(result.forecast - series[:, -held:], axis=1)
    with np.errstate(invalid="ignore"):
        rmse = np.sqrt(np.nanmean((result.forecast - series[:, -held:]) ** 2, axis=1))
    report = HtmlReport(f"Series model: {result.model.label}",
                        f"{len(x)} points, {dates.size} dates ({dates[0]} … {dates[-1]}); trained on the months up "
                        f"to {result.months[result.origin]}, {held} dates held out ({result.holdout_dates[0]} … "
                        f"{result.holdout_dates[-1]})")
    report.paragraph(settings_text)
    report.heading("Forecast error by horizon")
    report.paragraph("At horizon h: each point's RMSE over the lead months 1 … h after the last training month "
                     "(series resampled to the first day of each month), averaged over the points. \"Heads held\" "
                     "keeps the groundwater at its last training value: a true forecast. Persistence, the linear "
                     "trends, trend + annual and the delayed-compaction model (with heads) are the baselines every "
                     "model must beat.")
    report.table([[name] + ["n/a" if np.isnan(v) else f"{v:.2f}" for v in values]
                  for name, values in result.errors.rmse.items()],
                 ["method"] + [f"{h} month{'s' if h > 1 else ''} (mm)" for h in result.errors.horizons])
    report.figure(horizon_figure(result))
    if result.point_split:
        split = result.point_split
        kept = result.model.settings.validation_share
        report.paragraph(f"Seed 001's own evaluation, on the split by point ({1 - kept:.0%} / {kept:.0%}; the "
                         f"{kept:.0%} were kept for early stopping and never trained on): one-step predictions of the "
                         "monthly change, "
                         "each from the observed window, over the training months. Seed 001 reports 14.4 mm (change "
                         "RMSE), 10.5 mm (MAE) and 67.6 mm (cumulative RMSE) on its 16,487 points.")
        report.table([[f"{split['points']}", f"{split['changes']}", f"{split['change RMSE (mm)']:.2f}",
                       f"{split['change MAE (mm)']:.2f}", f"{split['cumulative RMSE (mm)']:.2f}"]],
                     ["points", "monthly changes", "change RMSE (mm)", "change MAE (mm)", "cumulative RMSE (mm)"])
    _notes_section(report, result.notes)
    history = result.model.history
    report.heading("Training")
    report.figure(loss_figure(history.train_loss, history.validation_loss, "Loss per epoch",
                              "MSE of the scaled cumulative displacement" if result.model.settings.kind ==
                              "physics_rnn" else "MSE of scaled monthly changes"),
                  f"{len(history.train_loss)} epochs on {history.device}, best validation epoch "
                  f"{history.best_epoch}")
    report.heading("Held-out dates")
    ok = np.isfinite(error)
    if ok.any():
        report.figure(residual_map_figure(x[ok], y[ok], error[ok], "Mean forecast error over the held-out dates",
                                          "mm"),
                      f"Median of the points' held-out RMSE: {np.nanmedian(rmse):.2f} mm ({int(ok.sum())} points)")
    examples = np.sort(example_points(rmse, linear_velocity(dates, series)))
    fitted = result.fitted(examples) if result.fitted is not None and examples.size else None
    for i, point in enumerate(examples):
        report.figure(series_figure(dates, series[point], result, point, None if heads is None else heads[point],
                                    f"point {pid[point]}: held-out RMSE {rmse[point]:.2f} mm",
                                    None if fitted is None else fitted[i]))
    return report.write(path)
