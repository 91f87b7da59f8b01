"""Figures for the HTML reports (matplotlib without pyplot, safe in worker threads)."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from ..spatial.variogram import Variogram
from .html import new_figure


def squared_unit(unit: str) -> str:
    """'mm' -> 'mm²', 'mm/yr' -> '(mm/yr)²', '' -> ''."""
    unit = (unit or "").strip()
    if not unit:
        return ""
    return f"{unit}²" if unit.isalnum() else f"({unit})²"


def variogram_figure(lags: np.ndarray, gamma: np.ndarray, counts: np.ndarray, models: Dict[str, Variogram],
                     chosen: Optional[str] = None, unit: str = ""):
    """Experimental semivariance (marker size ~ pair count) with the fitted models; the chosen one bold. The
    semivariance axis is in the squared value unit."""
    fig, ax = new_figure(6.0, 3.8)
    sizes = 10 + 60 * counts / counts.max()
    ax.scatter(lags, gamma, s=sizes, color="#404040", zorder=3, label="experimental")
    h = np.linspace(0.0, float(lags.max()) * 1.05, 200)
    for name, model in models.items():
        ax.plot(h, model(h), lw=2.5 if name == chosen else 1.0, label=f"{name}{' (used)' if name == chosen else ''}")
    ax.set_xlabel("lag distance (m)")
    ax.set_ylabel(f"semivariance ({squared_unit(unit)})" if unit else "semivariance (squared value unit)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _scatter_axes(ax, observed: np.ndarray, predicted: np.ndarray, title: str, unit: str) -> None:
    ax.scatter(observed, predicted, s=6, alpha=0.5, color="#2166ac")
    lo = float(min(observed.min(), predicted.min()))
    hi = float(max(observed.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="#b2182b", lw=1)
    ax.set_xlabel(f"observed{f' ({unit})' if unit else ''}")
    ax.set_ylabel(f"predicted{f' ({unit})' if unit else ''}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)


def scatter_figure(observed: np.ndarray, predicted: np.ndarray, title: str, unit: str = ""):
    """Predicted against observed with the 1:1 line."""
    fig, ax = new_figure(4.2, 4.0)
    _scatter_axes(ax, observed, predicted, title, unit)
    return fig


def scatter_panels_figure(panels: Dict[str, tuple], unit: str = ""):
    """One predicted-against-observed panel per entry {title: (observed, predicted)}, side by side."""
    fig, axes = new_figure(3.6 * len(panels), 3.6, 1, len(panels))
    for ax, (title, (observed, predicted)) in zip(np.atleast_1d(axes), panels.items()):
        _scatter_axes(ax, observed, predicted, title, unit)
    fig.tight_layout()
    return fig


def loss_label(title: str) -> str:
    """The loss axis for a loss named in the title: binary cross-entropy for 'BCE' / 'cross-entropy', else the
    patch CNN's mean squared error of standardised values."""
    lowered = title.lower()
    if "bce" in lowered or "cross-entropy" in lowered or "cross entropy" in lowered:
        return "loss (binary cross-entropy)"
    return "loss (MSE of standardised values)"


def loss_figure(train: Sequence[float], validation: Sequence[float], title: str = "Loss",
                ylabel: Optional[str] = None):
    """Training and validation loss per epoch (log scale); the axis names the loss (``ylabel``, else from the
    title: see ``loss_label``)."""
    fig, ax = new_figure(5.0, 3.4)
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, label="training")
    if len(validation) and np.isfinite(validation).any():
        ax.plot(epochs, validation, label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel or loss_label(title))
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _residual_axes(fig, ax, x, y, residual, vmax, title, unit) -> None:
    dots = ax.scatter(x, y, c=residual, s=6, cmap="RdBu", vmin=-vmax, vmax=vmax)
    fig.colorbar(dots, ax=ax, label=f"predicted - observed{f' ({unit})' if unit else ''}")
    ax.set_aspect("equal")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set_xlabel("easting (m)", fontsize=8)
    ax.set_ylabel("northing (m)", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=7)


def residual_map_figure(x: np.ndarray, y: np.ndarray, residual: np.ndarray, title: str, unit: str = ""):
    """Points coloured by residual (predicted - observed) on a diverging scale centred on 0."""
    fig, ax = new_figure(5.0, 4.4)
    _residual_axes(fig, ax, x, y, residual, float(np.nanpercentile(np.abs(residual), 98)) or 1.0, title, unit)
    return fig


def residual_panels_figure(panels: Dict[str, tuple], unit: str = ""):
    """One residual map per entry {title: (x, y, residual)}, side by side on one diverging scale."""
    vmax = float(np.nanpercentile(np.abs(np.concatenate([r for _, _, r in panels.values()])), 98)) or 1.0
    fig, axes = new_figure(4.4 * len(panels), 4.0, 1, len(panels))
    for ax, (title, (x, y, residual)) in zip(np.atleast_1d(axes), panels.items()):
        _residual_axes(fig, ax, x, y, residual, vmax, title, unit)
    fig.tight_layout()
    return fig


def surface_map_figure(values: np.ndarray, extent: Sequence[float], title: str, unit: str = "",
                       diverging: bool = True, points: Optional[tuple] = None):
    """A raster surface (rows from north) on its map coordinates (``extent`` = x_min, y_min, x_max, y_max in m)
    with a colour bar in ``unit``: red-white-blue symmetric about 0 (negative = subsidence = red) when
    ``diverging``, else sequential; optional (x, y) points drawn as small dots."""
    fig, ax = new_figure(5.4, 4.6)
    data = np.ma.masked_invalid(np.asarray(values, dtype=float))
    x0, y0, x1, y1 = extent
    if diverging:
        vmax = float(np.nanpercentile(np.abs(data.compressed()), 98)) if data.count() else 1.0
        kwargs = {"cmap": "RdBu", "vmin": -(vmax or 1.0), "vmax": vmax or 1.0}
    else:
        kwargs = {"cmap": "YlGnBu"}
    image = ax.imshow(data, extent=(x0, x1, y0, y1), origin="upper", interpolation="nearest", **kwargs)
    if points is not None:
        ax.scatter(points[0], points[1], s=1.5, color="#303030", alpha=0.6, lw=0)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
    fig.colorbar(image, ax=ax, label=unit or "value")
    ax.set_aspect("equal")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set_xlabel("easting (m)", fontsize=8)
    ax.set_ylabel("northing (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=10)
    return fig


def frequency_ratio_figure(labels: Sequence[str], ratios: np.ndarray, title: str):
    """Frequency ratio per class as bars, with the FR = 1 line (above: the class favours subsidence)."""
    fig, ax = new_figure(5.0, 2.8)
    values = np.nan_to_num(np.asarray(ratios, dtype=float), nan=0.0)
    ax.bar(np.arange(len(values)), values, color=["#d7191c" if v > 1 else "#2c7bb6" for v in values])
    ax.axhline(1.0, color="#404040", lw=1, ls="--")
    ax.set_xticks(np.arange(len(values)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("frequency ratio")
    ax.set_title(title, fontsize=10)
    return fig


def correlation_figure(matrix: np.ndarray, names: Sequence[str]):
    """Pearson correlation matrix as a heat map with the values written in the cells."""
    size = 1.0 + 0.45 * len(names)
    fig, ax = new_figure(size + 1.2, size)
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(np.arange(len(names)))
    ax.set_yticks(np.arange(len(names)))
    ax.set_xticklabels(names, rotation=60, ha="right", fontsize=7)
    ax.set_yticklabels(names, fontsize=7)
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(image, ax=ax, label="Pearson r")
    return fig


def roc_figure(curves: Dict[str, tuple], title: str = "ROC curves"):
    """ROC curves {name: (false positive rate, true positive rate, AUC)} with the chance diagonal."""
    fig, ax = new_figure(4.6, 4.2)
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], color="#808080", lw=0.8, ls="--")
    ax.set_xlabel("false positive rate (1 - specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def class_area_figure(shares: Dict[str, Sequence[float]], class_names: Sequence[str], colours: Sequence[str]):
    """Percentage of the area in each susceptibility class, one group of bars per map."""
    fig, ax = new_figure(5.6, 3.0)
    names = list(shares)
    width = 0.8 / max(len(class_names), 1)
    for k, (label, colour) in enumerate(zip(class_names, colours)):
        ax.bar(np.arange(len(names)) + (k - (len(class_names) - 1) / 2) * width,
               [shares[n][k] for n in names], width, color=colour, edgecolor="#404040", lw=0.4, label=label)
    ax.set_xticks(np.arange(len(names)))
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel("area (%)")
    ax.legend(fontsize=7, ncol=len(class_names))
    return fig


def fitness_figure(history: Sequence[float], title: str, ylabel: str):
    """Best value after each optimiser iteration."""
    fig, ax = new_figure(4.6, 2.8)
    ax.plot(np.arange(1, len(history) + 1), history, marker="o", ms=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig
