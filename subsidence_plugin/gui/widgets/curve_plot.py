"""A small live plot of two positive series per step (log scale), drawn with QPainter: training and validation
loss per epoch, or a tuner's candidate and best fitness per evaluation."""
from __future__ import annotations

import math
from typing import List

from qgis.PyQt.QtCore import QPointF, Qt
from qgis.PyQt.QtGui import QColor, QPainter, QPen
from qgis.PyQt.QtWidgets import QSizePolicy, QWidget

COLOURS = {"training": QColor("#2166ac"), "validation": QColor("#b2182b")}


class CurvePlot(QWidget):
    """Call `add(epoch, training, validation)` per epoch; `clear()` before a new run. With another ``quantity``
    it draws any two positive series per step (e.g. candidate and best validation AUC of a tuner)."""

    def __init__(self, parent=None, quantity: str = "loss", step: str = "epoch",
                 tooltip: str = "Loss per epoch (log scale): blue training, red validation"):
        super().__init__(parent)
        self.steps: List[int] = []
        self.training: List[float] = []
        self.validation: List[float] = []
        self.quantity, self.step = quantity, step
        self.setMinimumHeight(140)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setToolTip(tooltip)

    def clear(self) -> None:
        self.steps, self.training, self.validation = [], [], []
        self.update()

    def add(self, step: int, training: float, validation: float) -> None:
        """One point of both series at ``step`` (epoch or evaluation number; steps need not start at 1)."""
        self.steps.append(step)
        self.training.append(training)
        self.validation.append(validation)
        self.update()

    def paintEvent(self, event):  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        margin = 28
        width, height = self.width() - 2 * margin, self.height() - 2 * margin
        painter.setPen(QPen(QColor("#808080")))
        painter.drawRect(margin, margin, width, height)
        values = [v for v in self.training + self.validation if v > 0 and math.isfinite(v)]
        if len(self.training) < 1 or not values:
            painter.drawText(self.rect(), Qt.AlignCenter, f"{self.quantity}: waiting for the first {self.step}")
            return
        low, high = math.log10(min(values)), math.log10(max(values))
        span = (high - low) or 1.0
        first, last = self.steps[0], max(self.steps[-1], self.steps[0] + 1)
        for name, series in (("training", self.training), ("validation", self.validation)):
            points = [QPointF(margin + width * (step - first) / (last - first),
                              margin + height * (1 - (math.log10(v) - low) / span))
                      for step, v in zip(self.steps, series) if v > 0 and math.isfinite(v)]
            painter.setPen(QPen(COLOURS[name], 2))
            for a, b in zip(points, points[1:]):
                painter.drawLine(a, b)
        painter.setPen(QPen(QColor("#404040")))
        painter.drawText(margin, margin - 8, f"{self.quantity} {10 ** high:.3g}")
        painter.drawText(margin, self.height() - 8, f"{10 ** low:.3g}   {self.step} {self.steps[-1]}")
