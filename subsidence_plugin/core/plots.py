"""Figures for the HTML reports (matplotlib without pyplot, safe in worker threads)."""
from __future__ import annotations

from typing import Dict, Optional

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
