"""Figures for the HTML reports (matplotlib without pyplot, safe in worker threads)."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

from .report import new_figure
from .variogram import Variogram


def variogram_figure(lags: np.ndarray, gamma: np.ndarray, counts: np.ndarray, models: Dict[str, Variogram],
                     chosen: Optional[str] = None, unit: str = ""):
    """Experimental semivariance (marker size ~ pair count) with the fitted models; the chosen one bold."""
    fig, ax = new_figure(6.0, 3.8)
    sizes = 10 + 60 * counts / counts.max()
    ax.scatter(lags, gamma, s=sizes, color="#404040", zorder=3, label="experimental")
    h = np.linspace(0.0, float(lags.max()) * 1.05, 200)
    for name, model in models.items():
        ax.plot(h, model(h), lw=2.5 if name == chosen else 1.0, label=f"{name}{' (used)' if name == chosen else ''}")
    ax.set_xlabel("lag distance (m)")
    ax.set_ylabel(f"semivariance{f' ({unit})²' if unit else ''}")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def scatter_figure(observed: np.ndarray, predicted: np.ndarray, title: str, unit: str = ""):
    """Predicted against observed with the 1:1 line."""
    fig, ax = new_figure(4.2, 4.0)
    ax.scatter(observed, predicted, s=6, alpha=0.5, color="#2166ac")
    lo = float(min(observed.min(), predicted.min()))
    hi = float(max(observed.max(), predicted.max()))
    ax.plot([lo, hi], [lo, hi], color="#b2182b", lw=1)
    ax.set_xlabel(f"observed{f' ({unit})' if unit else ''}")
    ax.set_ylabel(f"predicted{f' ({unit})' if unit else ''}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def loss_figure(train: Sequence[float], validation: Sequence[float], title: str = "Loss"):
    """Training and validation loss per epoch (log scale)."""
    fig, ax = new_figure(5.0, 3.4)
    epochs = np.arange(1, len(train) + 1)
    ax.plot(epochs, train, label="training")
    if len(validation) and np.isfinite(validation).any():
        ax.plot(epochs, validation, label="validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (standardised MSE)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def residual_map_figure(x: np.ndarray, y: np.ndarray, residual: np.ndarray, title: str, unit: str = ""):
    """Points coloured by residual (predicted - observed) on a diverging scale centred on 0."""
    fig, ax = new_figure(5.0, 4.4)
    vmax = float(np.nanpercentile(np.abs(residual), 98)) or 1.0
    dots = ax.scatter(x, y, c=residual, s=6, cmap="RdBu", vmin=-vmax, vmax=vmax)
    fig.colorbar(dots, ax=ax, label=f"predicted - observed{f' ({unit})' if unit else ''}")
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.tick_params(labelsize=7)
    return fig
