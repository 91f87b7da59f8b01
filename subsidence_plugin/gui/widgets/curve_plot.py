"""A small live plot of two positive series per step, drawn with QPainter: training and validation loss per epoch
(log scale), or a tuner's candidate and best fitness per evaluation (linear scale).

When the step number goes back (a second training restarts at epoch 1), a new labelled series starts, drawn
dashed over the same step axis. The value axis never spans less than ``min_span`` (decades on a log scale), so
tiny noise (an AUC of 0.999 to 1.0) is not stretched into swings across the plot.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from qgis.PyQt.QtCore import QPointF, Qt
from qgis.PyQt.QtGui import QColor, QPainter, QPen
from qgis.PyQt.QtWidgets import QSizePolicy, QWidget

COLOURS = {"training": QColor("#2166ac"), "validation": QColor("#b2182b")}
STYLES = (Qt.SolidLine, Qt.DashLine, Qt.DotLine, Qt.DashDotLine)


@dataclass
class Series:
    label: str
    steps: List[int] = field(default_factory=list)
    training: List[float] = field(default_factory=list)
    validation: List[float] = field(default_factory=list)


class CurvePlot(QWidget):
    """Call `add(epoch, training, validation)` per epoch; `clear()` before a new run. With another ``quantity``
    it draws any two positive series per step (e.g. candidate and best validation AUC of a tuner).

    ``series_labels`` name the runs in order (e.g. "random split", "blocked split"); ``limits`` bound the value
    axis (e.g. (0, 1) for an AUC)."""

    def __init__(self, parent=None, quantity: str = "loss", step: str = "epoch",
                 tooltip: str = "Loss per epoch (log scale): blue training, red validation",
                 log_scale: bool = True, min_span: float = 0.3, series_labels: Sequence[str] = (),
                 limits: Optional[Tuple[float, float]] = None):
        super().__init__(parent)
        self.series: List[Series] = []
        self.quantity, self.step = quantity, step
        self.log_scale, self.min_span, self.limits = log_scale, min_span, limits
        self.series_labels = list(series_labels)
        self.setMinimumHeight(140)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setToolTip(tooltip)

    # flat views over all series (in order)
    @property
    def steps(self) -> List[int]:
        return [s for series in self.series for s in series.steps]

    @property
    def training(self) -> List[float]:
        return [v for series in self.series for v in series.training]

    @property
    def validation(self) -> List[float]:
        return [v for series in self.series for v in series.validation]

    @property
    def labels(self) -> List[str]:
        return [series.label for series in self.series]

    def clear(self) -> None:
        self.series = []
        self.update()

    def add(self, step: int, training: float, validation: float) -> None:
        """One point of both series at ``step`` (epoch or evaluation number; steps need not start at 1). A step
        not after the last one starts a new labelled series."""
        if not self.series or (self.series[-1].steps and step <= self.series[-1].steps[-1]):
            n = len(self.series)
            self.series.append(Series(self.series_labels[n] if n < len(self.series_labels) else f"run {n + 1}"))
        current = self.series[-1]
        current.steps.append(step)
        current.training.append(training)
        current.validation.append(validation)
        self.update()

    def _usable(self, value: float) -> bool:
        return math.isfinite(value) and (value > 0 or not self.log_scale)

    def _axis(self, value: float) -> float:
        return math.log10(value) if self.log_scale else value

    def value_range(self) -> Optional[Tuple[float, float]]:
        """The value axis (low, high) in the data's units, at least ``min_span`` wide (decades on a log scale)
        and inside ``limits``; None before the first value."""
        values = [self._axis(v) for v in self.training + self.validation if self._usable(v)]
        if not values:
            return None
        low, high = min(values), max(values)
        if high - low < self.min_span:
            middle = (low + high) / 2.0
            low, high = middle - self.min_span / 2.0, middle + self.min_span / 2.0
            if self.limits is not None:
                bottom, top = (self._axis(v) for v in self.limits)
                if high > top:
                    low, high = low - (high - top), top
                if low < bottom:
                    low, high = bottom, min(top, high + (bottom - low))
        if self.log_scale:
            return 10 ** low, 10 ** high
        return low, high

    def paintEvent(self, event):  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        margin = 28
        width, height = self.width() - 2 * margin, self.height() - 2 * margin
        painter.setPen(QPen(QColor("#808080")))
        painter.drawRect(margin, margin, width, height)
        bounds = self.value_range()
        if bounds is None:
            painter.drawText(self.rect(), Qt.AlignCenter, f"{self.quantity}: waiting for the first {self.step}")
            return
        low, high = (self._axis(v) for v in bounds)
        span = (high - low) or 1.0
        steps = self.steps
        first, last = min(steps), max(max(steps), min(steps) + 1)
        for index, series in enumerate(self.series):
            style = STYLES[index % len(STYLES)]
            for name, values in (("training", series.training), ("validation", series.validation)):
                points = [QPointF(margin + width * (step - first) / (last - first),
                                  margin + height * (1 - (self._axis(v) - low) / span))
                          for step, v in zip(series.steps, values) if self._usable(v)]
                painter.setPen(QPen(COLOURS[name], 2, style))
                for a, b in zip(points, points[1:]):
                    painter.drawLine(a, b)
        painter.setPen(QPen(QColor("#404040")))
        painter.drawText(margin, margin - 8, f"{self.quantity} {bounds[1]:.3g}")
        painter.drawText(margin, self.height() - 8, f"{bounds[0]:.3g}   {self.step} {steps[-1]}")
        if len(self.series) > 1:
            x = margin + width - 8
            for index, series in enumerate(self.series):
                pen = QPen(QColor("#404040"), 2, STYLES[index % len(STYLES)])
                painter.setPen(pen)
                y = margin + 14 + 14 * index
                text_width = painter.fontMetrics().horizontalAdvance(series.label)
                painter.drawLine(QPointF(x - text_width - 30, y - 4), QPointF(x - text_width - 8, y - 4))
                painter.drawText(int(x - text_width), int(y), series.label)
