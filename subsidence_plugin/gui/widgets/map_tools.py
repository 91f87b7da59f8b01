"""Map tools of the Time series dock: pick a point (Shift or Ctrl adds it to the points already picked) and draw a
polygon (left click: a vertex, right click or double click: done, Esc: start again)."""
from __future__ import annotations

from qgis.core import QgsGeometry, QgsPointXY, QgsWkbTypes
from qgis.gui import QgsMapTool, QgsRubberBand
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor


class PointPickTool(QgsMapTool):
    """Emits ``picked(map point, add)`` when the left button is released on the canvas."""

    picked = pyqtSignal(QgsPointXY, bool)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.setCursor(Qt.CrossCursor)

    def canvasReleaseEvent(self, event):  # noqa: N802
        if event.button() == Qt.LeftButton:
            add = bool(event.modifiers() & (Qt.ShiftModifier | Qt.ControlModifier))
            self.picked.emit(QgsPointXY(event.originalMapPoint()), add)


class PolygonTool(QgsMapTool):
    """Emits ``drawn(polygon in map coordinates)`` once the polygon has at least three vertices and is closed by a
    right click or a double click."""

    drawn = pyqtSignal(QgsGeometry)

    def __init__(self, canvas):
        super().__init__(canvas)
        self.setCursor(Qt.CrossCursor)
        self.vertices = []
        self.closing = False  # the release that follows a double click starts no new polygon
        self.band = QgsRubberBand(canvas, QgsWkbTypes.PolygonGeometry)
        self.band.setColor(QColor(33, 102, 172, 200))
        self.band.setFillColor(QColor(33, 102, 172, 40))
        self.band.setWidth(2)

    def _show(self, moving=None) -> None:
        points = self.vertices + ([moving] if moving is not None else [])
        self.band.setToGeometry(QgsGeometry.fromPolygonXY([points]) if len(points) >= 3 else
                                QgsGeometry.fromPolylineXY(points), None)

    def canvasMoveEvent(self, event):  # noqa: N802
        if self.vertices:
            self._show(QgsPointXY(event.originalMapPoint()))

    def canvasReleaseEvent(self, event):  # noqa: N802
        if self.closing:
            self.closing = False
        elif event.button() == Qt.LeftButton:
            self.vertices.append(QgsPointXY(event.originalMapPoint()))
            self._show()
        elif event.button() == Qt.RightButton:
            self.finish()

    def canvasDoubleClickEvent(self, event):  # noqa: N802
        self.closing = True
        self.finish()

    def keyPressEvent(self, event):  # noqa: N802
        if event.key() == Qt.Key_Escape:
            self.reset()

    def finish(self) -> None:
        """Emit the polygon (when it has three distinct vertices) and start again."""
        vertices = [v for i, v in enumerate(self.vertices) if i == 0 or v != self.vertices[i - 1]]
        self.reset()
        if len(vertices) >= 3:
            self.drawn.emit(QgsGeometry.fromPolygonXY([vertices]))

    def reset(self) -> None:
        self.vertices = []
        self.band.reset(QgsWkbTypes.PolygonGeometry)

    def deactivate(self):
        self.reset()
        super().deactivate()
