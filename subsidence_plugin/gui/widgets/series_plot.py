"""The Time series dock's plot, drawn with matplotlib in Qt: displacement (mm) on the left axis, groundwater head
(m) on a second axis at the right, dates along the bottom; an area's mean ± 1 standard deviation and a
forecast's range as shaded bands; a point's forecasts in its colour, dashed (held-out) or dotted (ahead), named
once in the legend by their line style."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from qgis.PyQt.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from .series_data import DISPLACEMENT, HEAD, Curve

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#bcbd22",
           "#7f7f7f")
HEAD_COLOURS = ("#404040", "#01665e", "#8c510a")
STYLES = {"observed": {"linestyle": "-", "marker": ".", "markersize": 3, "linewidth": 1.2},
          "area": {"linestyle": "-", "linewidth": 1.8},
          "heldout": {"linestyle": "--", "linewidth": 1.6},
          "forecast": {"linestyle": ":", "marker": "o", "markersize": 3, "linewidth": 1.8},
          "head": {"linestyle": "-.", "linewidth": 1.2}}
STYLE_KEYS = {"heldout": "held-out forecast", "forecast": "forecast (shaded: its range)"}


class SeriesPlot(QWidget):
    """Call `draw(curves)`; ``axes`` holds the displacement curves, ``head_axes`` the heads (None without)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.figure = Figure(figsize=(5.0, 3.4), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)
        self.setMinimumSize(260, 240)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.axes = self.head_axes = None
        self.curves: Sequence[Curve] = ()

    def draw(self, curves: Sequence[Curve], message: str = "") -> None:
        """Draw the curves (or ``message`` when there are none)."""
        self.curves = list(curves)
        self.figure.clear()
        self.axes, self.head_axes = draw_curves(self.figure, self.curves, message)
        if self.canvas.isVisible():  # a hidden canvas draws when it is shown
            self.canvas.draw_idle()

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        self.canvas.draw_idle()

    def save_png(self, path: str, width: float = 8.0, height: float = 4.5, dpi: int = 150) -> None:
        """Write the plot as a PNG image of its own size (``width`` x ``height`` inches), whatever the dock's."""
        figure = Figure(figsize=(width, height), layout="constrained")
        draw_curves(figure, self.curves, "")
        figure.savefig(path, dpi=dpi)


def _line(axes, curve: Curve, colour: str) -> None:
    finite = np.isfinite(curve.values)
    label = "_nolegend_" if curve.kind in STYLE_KEYS else curve.label  # the legend names their style once
    axes.plot(curve.dates[finite], curve.values[finite], color=colour, label=label, **STYLES[curve.kind])
    band = curve.band()
    if band is not None:
        axes.fill_between(curve.dates, band[0], band[1], color=colour, alpha=0.18, linewidth=0)


def draw_curves(figure: Figure, curves: Sequence[Curve], message: str):
    """Draw curves on an empty figure: (displacement axes, head axes or None)."""
    axes = figure.add_subplot()
    if not curves:
        axes.set_axis_off()
        axes.text(0.5, 0.5, message, ha="center", va="center", wrap=True, fontsize=9, color="#404040")
        return axes, None
    for curve in curves:
        if curve.unit == DISPLACEMENT:
            _line(axes, curve, COLOURS[curve.colour % len(COLOURS)])
    reference = next((curve.reference for curve in curves if curve.reference), "")
    axes.set_ylabel(f"displacement relative to {reference} (mm)" if reference else "displacement (mm)", fontsize=8)
    handles, labels = axes.get_legend_handles_labels()
    for kind, text in STYLE_KEYS.items():
        if any(curve.kind == kind for curve in curves):
            handles.append(Line2D([], [], color="#606060", label=text, **STYLES[kind]))
            labels.append(text)
    head_axes = None
    heads = [curve for curve in curves if curve.unit == HEAD]
    if heads:
        head_axes = axes.twinx()
        for curve in heads:
            _line(head_axes, curve, HEAD_COLOURS[curve.colour % len(HEAD_COLOURS)])
        head_axes.set_ylabel("groundwater head (m)", fontsize=8)
        head_axes.tick_params(labelsize=8)
        more = head_axes.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
        axes.set_zorder(head_axes.get_zorder() + 1)  # displacement and legend over the heads
        axes.patch.set_visible(False)
    locator = AutoDateLocator(minticks=3, maxticks=7)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.tick_params(labelsize=8)
    axes.grid(alpha=0.3)
    axes.legend(handles, labels, fontsize=7, loc="best", framealpha=0.8)
    return axes, head_axes
