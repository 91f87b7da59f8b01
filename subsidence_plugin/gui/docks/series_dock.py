"""The "Time series" dock: pick InSAR points on the map (from one or several point layers with ``DYYYYMMDD`` /
``D_YYYYMMDD`` / ``YYYYMMDD`` fields, e.g. an ascending and a descending track) or draw a polygon, and see their
displacement (mm) by date, with the nearest piezometer's head (m) on a second axis and forecasts:

* from a forecast layer: ``PYYYYMMDD`` (held-out forecast of subsidence:trainseriesmodel) and ``FYYYYMMDD`` with
  an optional band ``FLO_YYYYMMDD`` / ``FHI_YYYYMMDD`` (subsidence:forecastseries), joined to a picked point by
  its ``pid`` (or another id field the layers share), else by location within 1 m;
* from a model file: subsidence:forecastseries runs in a background task on a memory layer of the picked points.

A polygon gives the mean ± 1 standard deviation and the count per date of the points inside. A reference point's
displacement is subtracted from the others. The plot exports as PNG, its data as CSV.

Nothing heavy runs on the main thread: each layer's points are indexed once in a background task (`PointIndexTask`,
a KD-tree), a click reads only the picked features' date fields by feature id, a polygon's points are read in a
background task, and the forecast runs as the Processing algorithm in a task (`TaskDock.run_chain`).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Dict, List, Optional, Tuple

import numpy as np
from qgis.core import (QgsApplication, QgsCoordinateTransform, QgsCsException, QgsDistanceArea, QgsFeature,
                       QgsFeatureRequest, QgsField, QgsGeometry, QgsMapLayerProxyModel, QgsPointXY, QgsProject,
                       QgsRasterLayer, QgsRectangle, QgsUnitTypes, QgsVectorLayer, QgsVectorLayerFeatureSource,
                       QgsWkbTypes)
from qgis.gui import (QgsCheckableComboBox, QgsCollapsibleGroupBox, QgsFileWidget, QgsMapLayerComboBox, QgsRubberBand,
                      QgsVertexMarker)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt, QVariant, pyqtSignal
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import (QAction, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                                 QPushButton, QToolButton, QVBoxLayout, QWidget)

from ...core.timeseries.insar_points import PID_NAMES, find_column
from ...processing.timeseries.forecast_series import SCENARIOS
from ..widgets.background_task import BackgroundTask
from ..widgets.layer_choices import Choice, is_point_layer
from ..widgets.map_tools import PointPickTool, PolygonTool
from ..widgets.point_index import PointIndex, PointIndexTask, key_string
from ..widgets.series_data import (FORECAST, HEAD, HELDOUT, HIGH, LOW, AreaStatistics, Curve, dated_fields,
                                   rereferenced, write_csv)
from ..widgets.series_plot import COLOURS, SeriesPlot
from ..widgets.task_dock import TaskDock

FORECAST_ALGORITHM = "subsidence:forecastseries"
PICK_PIXELS = 8  # a click picks the nearest point within this many screen pixels
MAX_POINTS = 10
JOIN_TOLERANCE_M = 1.0  # a forecast point this close to a picked point is its forecast (without a shared id)
METRES_PER_DEGREE = 111320.0
MAX_PIEZOMETERS = 2000  # read at once when chosen (a piezometer network, not InSAR points)
HEAD_LAYER_NAMES = re.compile(r"piezo|well|head|groundwater|nivel|pozo|sondeo", re.IGNORECASE)
HINT = ("Pick points on the map (Shift or Ctrl adds a point) or draw a polygon (right click or double click "
        "closes it) to plot their displacement.")
EMPTY_PLOT = "The picked points' displacement (mm) by date\nand the nearest piezometer's head (m) appear here."


def series_fields(layer) -> List[Tuple[np.datetime64, str]]:
    """(date, field) of a point layer's series fields (DYYYYMMDD, D_YYYYMMDD, YYYYMMDD), by date."""
    return dated_fields(layer.fields().names()) if is_point_layer(layer) else []


def has_forecasts(layer) -> bool:
    """A point layer with held-out (PYYYYMMDD) or forecast (FYYYYMMDD) fields."""
    names = layer.fields().names() if is_point_layer(layer) else []
    return bool(dated_fields(names, HELDOUT) or dated_fields(names, FORECAST))


def is_series_layer(layer) -> bool:
    """A point layer with at least two dates."""
    return len(series_fields(layer)) >= 2


def default_piezometers(layers) -> Optional[QgsVectorLayer]:
    """A point layer with dated fields whose name says piezometers (else wells, heads, ...), else None."""
    dated = [layer for layer in layers if series_fields(layer)]
    return next((layer for layer in dated if "piezo" in layer.name().lower()), None) or \
        next((layer for layer in dated if HEAD_LAYER_NAMES.search(layer.name())), None)


def default_forecasts(layers) -> Optional[QgsVectorLayer]:
    """A point layer with forecast fields, else None."""
    return next((layer for layer in layers if has_forecasts(layer)), None)


def key_field(layer) -> Optional[str]:
    """The layer's point-id field (``pid`` or another of the import's id names), else None."""
    return find_column(layer.fields().names(), PID_NAMES)


def parameter_keys(algorithm) -> SimpleNamespace:
    """The algorithm's parameter names as attributes (``keys.INPUT == "INPUT"``): a renamed parameter fails here,
    loudly, rather than being passed under an unknown name."""
    return SimpleNamespace(**{definition.name(): definition.name() for definition in algorithm.parameterDefinitions()})


def floats(values) -> np.ndarray:
    """Attribute values as float64, NULL and non-numbers as NaN."""
    out = np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if value is None or isinstance(value, QVariant):
            continue
        try:
            out[i] = float(value)
        except (TypeError, ValueError):
            continue
    return out


@dataclass
class PickedPoint:
    """A picked point: its layer, feature id, key (pid, "" without), position in the layer's CRS, its series and
    its forecasts (from the forecast layer and from the last model run)."""

    layer_id: str
    fid: int
    key: str
    x: float
    y: float
    curve: Curve
    forecasts: List[Curve] = field(default_factory=list)
    model: List[Curve] = field(default_factory=list)

    @property
    def curves(self) -> List[Curve]:
        return [self.curve] + self.forecasts + self.model


@dataclass
class Area:
    """The points of one layer inside the drawn polygon: their mean curve (with spread and count) and the
    polygon's centroid in the layer's CRS."""

    layer_id: str
    curve: Curve
    x: float
    y: float


@dataclass
class Piezometers:
    """The chosen piezometer layer's points (layer CRS), names, dates and heads (m)."""

    layer_id: str
    points: List[QgsPointXY]
    names: List[str]
    dates: np.ndarray
    heads: np.ndarray


class AreaSeriesTask(BackgroundTask):
    """Mean, standard deviation and count per date of the series of the points inside the polygon, one layer at
    a time, read by feature id in the background; ``done`` is emitted on the main thread."""

    done = pyqtSignal()

    def __init__(self, jobs: List[dict]):
        super().__init__("Land subsidence: series of the points in the polygon")
        self.jobs, self.results, self.error = jobs, [], ""

    def run(self) -> bool:  # worker thread: no widget, no project
        try:
            for job in self.jobs:
                statistics = AreaStatistics(len(job["dates"]))
                request = QgsFeatureRequest().setFilterFids(job["fids"].tolist())
                request.setFlags(QgsFeatureRequest.NoGeometry).setSubsetOfAttributes(job["indices"])
                block = []
                for feature in job["source"].getFeatures(request):
                    attributes = feature.attributes()
                    block.append(floats([attributes[i] for i in job["indices"]]))
                    if len(block) == 5000:
                        statistics.add(np.array(block))
                        block = []
                        if self.stopped():
                            return False
                if block:
                    statistics.add(np.array(block))
                self.results.append((job, *statistics.result()))
        except Exception as error:  # noqa: BLE001 - reported in the dock, never raised in the worker
            self.error = f"{type(error).__name__}: {error}"
            return False
        return True

    def finished(self, result: bool) -> None:  # main thread
        self.done.emit()


class SeriesDock(TaskDock):
    """The Time series viewer; `pick` and `select_polygon` take map coordinates (what the map tools emit)."""

    def __init__(self, canvas, message_bar=None, parent=None):
        super().__init__("Time series", parent)
        self.setObjectName("landSubsidenceSeriesDock")
        self.canvas, self.message_bar = canvas, message_bar
        self.indexes: Dict[str, PointIndex] = {}
        self.index_tasks: Dict[str, PointIndexTask] = {}
        self.area_task: Optional[AreaSeriesTask] = None
        self.points: List[PickedPoint] = []
        self.areas: List[Area] = []
        self.plotted: List[Curve] = []  # what the plot shows (and the CSV holds)
        self.piezometers: Optional[Piezometers] = None
        self.waiting = None  # a click or polygon that waits for an index
        self.markers: List[QgsVertexMarker] = []
        self.area_polygon: Optional[QgsGeometry] = None  # the drawn polygon (map coordinates)
        self.watched = set()
        self.forecast_runs = []  # (memory layer of the picked points, output path, the points): kept alive
        self.forecast_folder = ""
        body = QWidget(self)
        layout = QVBoxLayout(body)
        tools = QHBoxLayout()
        self.pick_tool = PointPickTool(canvas)
        self.polygon_tool = PolygonTool(canvas)
        self.pick_action = self._tool_action("Pick points", self.pick_tool, "/mActionIdentify.svg")
        self.polygon_action = self._tool_action("Draw polygon", self.polygon_tool, "/mActionAddPolygon.svg")
        for action in (self.pick_action, self.polygon_action):
            button = QToolButton(body)
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
            tools.addWidget(button)
        self.clear_button = QPushButton("Clear", body)
        tools.addWidget(self.clear_button)
        tools.addStretch(1)
        layout.addLayout(tools)
        self.status = QLabel(HINT, body)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.plot = SeriesPlot(body)
        layout.addWidget(self.plot, 1)
        row = QHBoxLayout()
        self.reference = QComboBox(body)
        self.reference.setToolTip("A picked point (or an area's mean) whose displacement is subtracted from the "
                                  "others")
        self.png_button = QPushButton("PNG…", body)
        self.png_button.setToolTip("Export the plot as a PNG image")
        self.csv_button = QPushButton("CSV…", body)
        self.csv_button.setToolTip("Export the plotted data as CSV (one row a date)")
        row.addWidget(QLabel("Reference", body))
        row.addWidget(self.reference, 1)
        row.addWidget(self.png_button)
        row.addWidget(self.csv_button)
        layout.addLayout(row)

        self.layer_box = QgsCollapsibleGroupBox("Layers", body)
        form = QFormLayout(self.layer_box)
        self.layers = QgsCheckableComboBox(self.layer_box)
        self.layers.setToolTip("Point layers with DYYYYMMDD, D_YYYYMMDD or YYYYMMDD fields (mm); a click picks the "
                               "nearest point of each")
        self.piezometer_layer = QgsMapLayerComboBox(self.layer_box)
        self.forecast_layer = QgsMapLayerComboBox(self.layer_box)
        for combo in (self.piezometer_layer, self.forecast_layer):
            combo.setFilters(QgsMapLayerProxyModel.PointLayer)
            combo.setAllowEmptyLayer(True)
        self.piezometer_layer.setToolTip("Piezometers with head fields D_YYYYMMDD (m): the nearest one's head is "
                                         "plotted on the right axis")
        self.forecast_layer.setToolTip("Output of Train series model (PYYYYMMDD) or Forecast point series "
                                       "(FYYYYMMDD, band FLO_ / FHI_), joined by pid or location")
        form.addRow("InSAR points (mm)", self.layers)
        form.addRow("Piezometers (m)", self.piezometer_layer)
        form.addRow("Forecast layer", self.forecast_layer)
        layout.addWidget(self.layer_box)

        self.model_box = QgsCollapsibleGroupBox("Forecast with a model file", body)
        box = QVBoxLayout(self.model_box)
        grid = QFormLayout()
        self.model_file = QgsFileWidget(self.model_box)
        self.model_file.setFilter("Series model (*.pt)")
        self.model_file.setToolTip("A model saved by Train series model; its static factor rasters are taken from "
                                   "the project by their names")
        self.horizon = self.spin(1, 240, 12)
        self.scenario = QComboBox(self.model_box)
        self.scenario.addItems(SCENARIOS[:3])
        self.drawdown = QDoubleSpinBox(self.model_box)
        self.drawdown.setRange(-100.0, 1000.0)
        self.drawdown.setSuffix(" %")
        grid.addRow("Model file", self.model_file)
        grid.addRow("Horizon (months)", self.horizon)
        grid.addRow("Groundwater", self.scenario)
        grid.addRow("Drawdown rate change", self.drawdown)
        box.addLayout(grid)
        self.add_controls(box, self.model_box)
        self.run_button.setText("Forecast")
        self.model_box.setCollapsed(True)
        layout.addWidget(self.model_box)
        self.set_body(body)

        self.area_band = QgsRubberBand(canvas, QgsWkbTypes.PolygonGeometry)
        self.area_band.setColor(QColor(33, 102, 172, 220))
        self.area_band.setFillColor(QColor(33, 102, 172, 30))
        self.area_band.setWidth(2)
        self.pick_tool.picked.connect(self.pick)
        self.polygon_tool.drawn.connect(self.select_polygon)
        self.clear_button.clicked.connect(self.clear)
        self.png_button.clicked.connect(lambda: self.export_png())
        self.csv_button.clicked.connect(lambda: self.export_csv())
        self.reference.currentIndexChanged.connect(lambda _index: self.refresh())
        self.layers.checkedItemsChanged.connect(lambda _items: self._index_checked())
        self.piezometer_layer.layerChanged.connect(lambda _layer: self._piezometers_changed())
        self.forecast_layer.layerChanged.connect(lambda _layer: self._forecast_layer_changed())
        self.scenario.currentIndexChanged.connect(lambda index: self.drawdown.setEnabled(index == 2))
        self.drawdown.setEnabled(False)
        project = QgsProject.instance()
        project.layersAdded.connect(self._layers_added)
        project.layersWillBeRemoved.connect(self._layers_removed)
        self.choices.add(Choice("piezometers", self.piezometer_layer, default_piezometers, keep_empty=True))
        self.choices.add(Choice("forecasts", self.forecast_layer, default_forecasts, keep_empty=True))
        self._layers_added(list(project.mapLayers().values()))
        self.start_choices()
        self.plot.draw([], EMPTY_PLOT)

    # layers and their indexes

    def _tool_action(self, text: str, tool, icon: str) -> QAction:
        action = QAction(QgsApplication.getThemeIcon(icon), text, self)
        action.setCheckable(True)
        tool.setAction(action)  # QGIS unchecks it when another tool takes the canvas
        action.triggered.connect(lambda checked: self.canvas.setMapTool(tool) if checked else
                                 self.canvas.unsetMapTool(tool))
        return action

    def _alive_dock(self) -> bool:
        return not sip.isdeleted(self)

    def series_layers(self) -> List[QgsVectorLayer]:
        """The checked point layers that have series."""
        project = QgsProject.instance()
        layers = [project.mapLayer(layer_id) for layer_id in self.layers.checkedItemsData()]
        return [layer for layer in layers if layer is not None and is_series_layer(layer)]

    def _layers_added(self, layers) -> None:
        if not self._alive_dock():
            return
        present = {self.layers.itemData(i) for i in range(self.layers.count())}
        self.layers.blockSignals(True)
        for layer in layers:
            if is_series_layer(layer) and layer.id() not in present:
                default = not has_forecasts(layer) and not HEAD_LAYER_NAMES.search(layer.name())
                self.layers.addItemWithCheckState(layer.name(), Qt.Checked if default else Qt.Unchecked, layer.id())
        self.layers.blockSignals(False)
        if self.isVisible():
            self._index_checked()

    def _layers_removed(self, layer_ids) -> None:
        if not self._alive_dock():
            return
        gone = set(layer_ids)
        for i in reversed(range(self.layers.count())):
            if self.layers.itemData(i) in gone:
                self.layers.removeItem(i)
        for layer_id in gone:
            self._forget(layer_id)
        self.points = [p for p in self.points if p.layer_id not in gone]
        self.areas = [a for a in self.areas if a.layer_id not in gone]
        if self.piezometers is not None and self.piezometers.layer_id in gone:
            self.piezometers = None
        self._show_markers()
        self.refresh()

    def _forget(self, layer_id: str) -> None:
        """Drop a layer's index (its data changed or it left the project); a running build is cancelled."""
        self.indexes.pop(layer_id, None)
        task = self.index_tasks.pop(layer_id, None)
        if task is not None and not sip.isdeleted(task):
            task.stop()

    def _ensure_index(self, layer) -> None:
        if layer.id() in self.indexes or layer.id() in self.index_tasks:
            return
        if layer.id() not in self.watched:
            self.watched.add(layer.id())
            for signal in (layer.subsetStringChanged, layer.afterCommitChanges, layer.dataSourceChanged):
                signal.connect(lambda layer_id=layer.id(): self._forget(layer_id))
        task = PointIndexTask(layer, key_field(layer))
        task.built.connect(lambda _layer_id, built=task: self._index_built(built))
        self.index_tasks[layer.id()] = task
        QgsApplication.taskManager().addTask(task)

    def _index_checked(self) -> None:
        for layer in self.series_layers():
            self._ensure_index(layer)

    def _index_built(self, task: PointIndexTask) -> None:
        layer_id = task.layer_id
        if not self._alive_dock() or self.index_tasks.get(layer_id) is not task:
            return  # a cancelled build
        del self.index_tasks[layer_id]
        layer = QgsProject.instance().mapLayer(layer_id)
        if task.index is None:
            self.waiting = None
            if task.error != "cancelled":
                self._report(f"The points of {layer.name() if layer else layer_id} could not be indexed: "
                             f"{task.error}")
            return
        self.indexes[layer_id] = task.index
        if self.index_tasks:
            return
        waiting, self.waiting = self.waiting, None
        if waiting is not None and waiting[0] == "point":
            self.pick(waiting[1], waiting[2])
        elif waiting is not None:
            self.select_polygon(waiting[1])
        elif layer is not None and layer is self.forecast_layer.currentLayer():
            note = self._join_forecasts()
            self.refresh()
            if note:
                self.status.setText(note.strip())

    def _indexes_ready(self, layers, waiting) -> bool:
        """True when every layer's index is built; else start the missing ones and keep the request."""
        for layer in layers:
            self._ensure_index(layer)
        if self.index_tasks:
            self.waiting = waiting
            names = ", ".join(sorted(QgsProject.instance().mapLayer(i).name() for i in self.index_tasks
                                     if QgsProject.instance().mapLayer(i) is not None))
            self.status.setText(f"Indexing the points of {names} (once per layer); the map stays usable and "
                                "the plot follows when it is done.")
            return False
        return True

    def _report(self, text: str) -> None:
        self.status.setText(text)
        if self.message_bar is not None:
            self.message_bar.pushWarning("Time series", text)

    # picking

    def _radius(self, map_point: QgsPointXY, transform: QgsCoordinateTransform) -> float:
        """PICK_PIXELS screen pixels around a map point, in the layer's units."""
        half = PICK_PIXELS * self.canvas.mapUnitsPerPixel()
        box = transform.transformBoundingBox(QgsRectangle(map_point.x() - half, map_point.y() - half,
                                                          map_point.x() + half, map_point.y() + half))
        return max(box.width(), box.height()) / 2.0

    def _transform(self, layer, to_layer: bool = True) -> QgsCoordinateTransform:
        canvas_crs = self.canvas.mapSettings().destinationCrs()
        source, target = (canvas_crs, layer.crs()) if to_layer else (layer.crs(), canvas_crs)
        return QgsCoordinateTransform(source, target, QgsProject.instance())

    def pick(self, map_point: QgsPointXY, add: bool = False) -> None:
        """Pick the point of each chosen layer nearest a map position (within PICK_PIXELS pixels); ``add`` keeps
        the points picked before."""
        layers = self.series_layers()
        if not layers:
            self.status.setText("Choose the InSAR point layers first: point layers with DYYYYMMDD, D_YYYYMMDD or "
                                "YYYYMMDD fields (mm).")
            return
        if not self._indexes_ready(layers, ("point", QgsPointXY(map_point), add)):
            return
        picked = []
        for layer in layers:
            transform = self._transform(layer)
            try:
                point = transform.transform(map_point)
                radius = self._radius(map_point, transform)
            except QgsCsException:
                continue
            index = self.indexes[layer.id()]
            row = index.nearest(point.x(), point.y(), radius)
            if row is not None:
                picked.append(self._read_point(layer, index, row))
        if not picked:
            self.status.setText(f"No point of {', '.join(layer.name() for layer in layers)} within {PICK_PIXELS} "
                                "pixels of the click.")
            return
        if not add:
            self.points, self.areas, self.area_polygon = [], [], None
            self.area_band.reset(QgsWkbTypes.PolygonGeometry)
        known = {(p.layer_id, p.fid) for p in self.points}
        for point in picked:
            if (point.layer_id, point.fid) not in known:
                point.curve.colour = self._free_colour()
                self.points.append(point)
        self.points = self.points[-MAX_POINTS:]
        note = self._join_forecasts()
        self._show_markers()
        self.refresh()
        labels = ", ".join(p.curve.label for p in picked)
        self.status.setText(f"Picked {labels}." + note + ("" if len(self.points) > 1 else
                                                          " Shift or Ctrl + click adds points."))

    def _free_colour(self) -> int:
        used = {p.curve.colour for p in self.points} | {a.curve.colour for a in self.areas}
        return next(i for i in range(len(COLOURS) + MAX_POINTS) if i not in used)

    @staticmethod
    def _read_feature(layer, fid: int, names: List[str]):
        """The values of some fields of one feature, read by its id (no geometry)."""
        indices = [layer.fields().lookupField(name) for name in names]
        request = QgsFeatureRequest().setFilterFid(fid).setFlags(QgsFeatureRequest.NoGeometry)
        request.setSubsetOfAttributes([i for i in indices if i >= 0])
        feature = next(layer.getFeatures(request), None)
        if feature is None:
            return [None] * len(names)
        return [feature.attribute(i) if i >= 0 else None for i in indices]

    def _read_point(self, layer, index: PointIndex, row: int) -> PickedPoint:
        fields = series_fields(layer)
        key = key_field(layer)
        fid = int(index.fids[row])
        values = self._read_feature(layer, fid, [name for _, name in fields] + ([key] if key else []))
        key_value = key_string(values[-1]) if key else ""
        curve = Curve(f"{key_value or f'fid {fid}'} ({layer.name()})", np.array([d for d, _ in fields]),
                      floats(values[:len(fields)]))
        return PickedPoint(layer.id(), fid, key_value, float(index.x[row]), float(index.y[row]), curve)

    def _show_markers(self) -> None:
        """A circle in each picked point's colour on the map (while the dock is shown)."""
        for marker in self.markers:
            self.canvas.scene().removeItem(marker)
        self.markers = []
        if not self.isVisible():
            return
        project = QgsProject.instance()
        for point in self.points:
            layer = project.mapLayer(point.layer_id)
            if layer is None:
                continue
            try:
                where = self._transform(layer, to_layer=False).transform(QgsPointXY(point.x, point.y))
            except QgsCsException:
                continue
            marker = QgsVertexMarker(self.canvas)
            marker.setCenter(where)
            marker.setIconType(QgsVertexMarker.ICON_CIRCLE)
            marker.setIconSize(14)
            marker.setPenWidth(3)
            marker.setColor(QColor(COLOURS[point.curve.colour % len(COLOURS)]))
            self.markers.append(marker)

    def clear(self) -> None:
        """Forget the picked points and the polygon."""
        if self.area_task is not None and not sip.isdeleted(self.area_task):
            self.area_task.stop()
        self.area_task = None
        self.points, self.areas, self.waiting, self.area_polygon = [], [], None, None
        self.area_band.reset(QgsWkbTypes.PolygonGeometry)
        self._show_markers()
        self.refresh()
        self.status.setText(HINT)

    # polygon

    def select_polygon(self, polygon: QgsGeometry) -> None:
        """The mean, spread and count of the points of each chosen layer inside a polygon (map coordinates), read
        in a background task."""
        layers = self.series_layers()
        if not layers:
            self.status.setText("Choose the InSAR point layers first.")
            return
        if not self._indexes_ready(layers, ("polygon", QgsGeometry(polygon))):
            return
        if self.area_task is not None and not sip.isdeleted(self.area_task):
            self.area_task.stop()
        jobs = []
        for layer in layers:
            shape = QgsGeometry(polygon)
            try:
                shape.transform(self._transform(layer))
            except QgsCsException:
                continue
            index = self.indexes[layer.id()]
            fids = np.unique(index.fids[index.inside(bytes(shape.asWkb()))])
            if fids.size:
                fields = series_fields(layer)
                centre = shape.centroid().asPoint()
                jobs.append({"layer_id": layer.id(), "name": layer.name(), "fids": fids,
                             "dates": np.array([d for d, _ in fields]), "source": QgsVectorLayerFeatureSource(layer),
                             "indices": [layer.fields().lookupField(name) for _, name in fields],
                             "x": centre.x(), "y": centre.y()})
        if not jobs:
            self.status.setText("No point of the chosen layers inside the polygon.")
            return
        self.area_polygon = QgsGeometry(polygon)
        if self.isVisible():
            self.area_band.setToGeometry(polygon, None)
        count = sum(job["fids"].size for job in jobs)
        self.status.setText(f"Reading the series of {count} points inside the polygon…")
        self.area_task = task = AreaSeriesTask(jobs)
        task.done.connect(lambda: self._areas_read(task))
        QgsApplication.taskManager().addTask(self.area_task)

    def _areas_read(self, task: AreaSeriesTask) -> None:
        if not self._alive_dock() or task is not self.area_task:
            return  # replaced by a newer polygon, or cleared
        self.area_task = None
        if task.error:
            self._report(f"The points inside the polygon could not be read: {task.error}")
            return
        self.areas = []
        for job, mean, std, count in task.results:
            label = f"mean of {job['fids'].size} points ({job['name']})"
            curve = Curve(label, job["dates"], mean, kind="area", colour=self._free_colour(), std=std, count=count)
            self.areas.append(Area(job["layer_id"], curve, job["x"], job["y"]))
        self.refresh()
        self.status.setText("; ".join(f"{area.curve.label}: mean ± 1 standard deviation" for area in self.areas))

    # piezometers

    def _piezometers_changed(self) -> None:
        self.piezometers = None
        layer = self.piezometer_layer.currentLayer()
        if layer is not None:
            fields = series_fields(layer)
            if not fields:
                self.status.setText(f"{layer.name()} has no head fields (D_YYYYMMDD, DYYYYMMDD or YYYYMMDD).")
            elif layer.featureCount() > MAX_PIEZOMETERS:
                self.status.setText(f"{layer.name()} has {layer.featureCount()} points: choose the piezometer layer.")
            else:
                self.piezometers = self._read_piezometers(layer, fields)
        self.refresh()

    @staticmethod
    def _read_piezometers(layer, fields) -> Piezometers:
        dated = {name for _, name in fields}
        label = next((f.name() for f in layer.fields() if f.type() == QVariant.String and f.name() not in dated),
                     None)
        points, labels, heads = [], [], []
        for feature in layer.getFeatures():
            geometry = feature.geometry()
            if geometry.isNull() or geometry.isEmpty():
                continue
            points.append(QgsPointXY(geometry.vertexAt(0)))
            value = feature.attribute(label) if label else None
            labels.append(key_string(value) or f"fid {feature.id()}")
            heads.append(floats([feature.attribute(name) for _, name in fields]))
        return Piezometers(layer.id(), points, labels, np.array([d for d, _ in fields]),
                           np.array(heads).reshape(len(points), len(fields)))

    def nearest_piezometer(self, layer_id: str, x: float, y: float) -> Optional[Tuple[int, float]]:
        """(index, distance in metres) of the piezometer nearest a position in a layer's CRS, else None."""
        project = QgsProject.instance()
        layer, piezometer_layer = project.mapLayer(layer_id), project.mapLayer(self.piezometers.layer_id)
        if layer is None or piezometer_layer is None or not self.piezometers.points:
            return None
        try:
            where = QgsCoordinateTransform(layer.crs(), piezometer_layer.crs(), project).transform(QgsPointXY(x, y))
        except QgsCsException:
            return None
        measure = QgsDistanceArea()
        measure.setSourceCrs(piezometer_layer.crs(), project.transformContext())
        measure.setEllipsoid(project.ellipsoid() if project.ellipsoid() != "NONE" or
                             not piezometer_layer.crs().isGeographic() else "EPSG:7030")
        distances = [measure.convertLengthMeasurement(measure.measureLine(where, p), QgsUnitTypes.DistanceMeters)
                     for p in self.piezometers.points]
        best = int(np.argmin(distances))
        return best, float(distances[best])

    def _head_curves(self) -> List[Curve]:
        if self.piezometers is None:
            return []
        chosen = {}
        for label, layer_id, x, y in ([(p.curve.label, p.layer_id, p.x, p.y) for p in self.points] +
                                      [(a.curve.label, a.layer_id, a.x, a.y) for a in self.areas]):
            nearest = self.nearest_piezometer(layer_id, x, y)
            if nearest is not None and nearest[0] not in chosen:
                chosen[nearest[0]] = (label, nearest[1])
        curves = []
        for number, (index, (label, distance)) in enumerate(chosen.items()):
            name = self.piezometers.names[index]
            curves.append(Curve(f"head {name}, {distance / 1000.0:.1f} km from {label}", self.piezometers.dates,
                                self.piezometers.heads[index], unit=HEAD, kind="head", colour=number))
        return curves

    # forecasts

    def _forecast_layer_changed(self) -> None:
        layer = self.forecast_layer.currentLayer()
        if layer is not None and not has_forecasts(layer):
            self.status.setText(f"{layer.name()} has no forecast fields (PYYYYMMDD or FYYYYMMDD).")
        elif layer is not None and self.points:
            self._ensure_index(layer)
        note = self._join_forecasts()
        self.refresh()
        if note:
            self.status.setText(note.strip())

    def _forecast_row(self, layer, index: PointIndex, point: PickedPoint) -> Optional[int]:
        """The forecast layer's row of a picked point: the nearest with the same key, else the nearest within
        JOIN_TOLERANCE_M metres."""
        source = QgsProject.instance().mapLayer(point.layer_id)
        try:
            where = QgsCoordinateTransform(source.crs(), layer.crs(), QgsProject.instance()).transform(
                QgsPointXY(point.x, point.y))
        except QgsCsException:
            return None
        rows = index.rows_with_key(point.key)
        if rows.size:
            return int(rows[np.argmin(np.hypot(index.x[rows] - where.x(), index.y[rows] - where.y()))])
        tolerance = JOIN_TOLERANCE_M / (METRES_PER_DEGREE if layer.crs().isGeographic() else 1.0)
        return index.nearest(where.x(), where.y(), tolerance)

    def _join_forecasts(self) -> str:
        """The forecast layer's curves of every picked point (when its index is ready); returns a note naming the
        points without a forecast, else ""."""
        layer = self.forecast_layer.currentLayer()
        for point in self.points:
            point.forecasts = []
        if layer is None or not has_forecasts(layer) or not self.points:
            return ""
        index = self.indexes.get(layer.id())
        if index is None:
            self._ensure_index(layer)
            return ""
        names = layer.fields().names()
        groups = [(kind, dated_fields(names, prefix)) for kind, prefix in (("heldout", HELDOUT),
                                                                          ("forecast", FORECAST))]
        bands = {prefix: dict(dated_fields(names, prefix)) for prefix in (LOW, HIGH)}
        missing = []
        for point in self.points:
            row = self._forecast_row(layer, index, point)
            if row is None:
                missing.append(point.curve.label)
                continue
            wanted = [name for _, fields in groups for _, name in fields] + \
                [name for prefix in (LOW, HIGH) for name in bands[prefix].values()]
            values = dict(zip(wanted, floats(self._read_feature(layer, int(index.fids[row]), wanted))))
            for kind, fields in groups:
                if fields:
                    point.forecasts.append(self._forecast_curve(point, kind, fields, values, bands))
        return f" {layer.name()} has no forecast of {', '.join(missing)}." if missing else ""

    @staticmethod
    def _forecast_curve(point: PickedPoint, kind: str, fields, values: dict, bands: dict) -> Curve:
        dates = np.array([d for d, _ in fields])
        low = np.array([values.get(bands[LOW].get(d), np.nan) for d in dates])
        high = np.array([values.get(bands[HIGH].get(d), np.nan) for d in dates])
        banded = kind == "forecast" and np.isfinite(low).any() and np.isfinite(high).any()
        title = "held-out forecast" if kind == "heldout" else "forecast"
        return Curve(f"{point.curve.label} {title}", dates, np.array([values[name] for _, name in fields]),
                     kind=kind, colour=point.curve.colour, low=low if banded else None, high=high if banded else None)

    def _model_factors(self, model_path: str) -> List[QgsRasterLayer]:
        """The static factor rasters a model was trained with, found in the project by their names (from the
        model's .json description); a ValueError names the missing ones."""
        description = os.path.splitext(model_path)[0] + ".json"
        if not os.path.exists(description):
            return []
        with open(description, encoding="utf-8") as stream:
            names = json.load(stream).get("features", {}).get("static", [])
        rasters = {layer.name(): layer for layer in QgsProject.instance().mapLayers().values()
                   if isinstance(layer, QgsRasterLayer)}
        missing = [name for name in names if name not in rasters]
        if missing:
            raise ValueError(f"The model was trained with the static factor raster(s) {', '.join(names)}; add "
                             f"{', '.join(missing)} to the project under the same name(s).")
        return [rasters[name] for name in names]

    @staticmethod
    def _points_layer(layer, points: List[PickedPoint]) -> QgsVectorLayer:
        """A memory layer of picked points of one layer: ``pid`` (their number in ``points``) and the series."""
        fields = series_fields(layer)
        memory = QgsVectorLayer("Point", "picked points", "memory")
        memory.setCrs(layer.crs())
        provider = memory.dataProvider()
        provider.addAttributes([QgsField("pid", QVariant.String)] + [QgsField(name, QVariant.Double)
                                                                     for _, name in fields])
        memory.updateFields()
        features = []
        for number, point in enumerate(points):
            feature = QgsFeature(memory.fields())
            feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(point.x, point.y)))
            feature.setAttributes([str(number)] + [None if np.isnan(v) else float(v) for v in point.curve.values])
            features.append(feature)
        provider.addFeatures(features)
        memory.updateExtents()
        return memory

    def run(self) -> None:
        """Forecast the picked points with the chosen model file (subsidence:forecastseries, one run a layer)."""
        model = self.model_file.filePath()
        if not model:
            self.status.setText("Choose a model file (.pt, saved by Train series model) to forecast the picked "
                                "points, or a forecast layer.")
            return
        if not self.points:
            self.status.setText("Pick the points to forecast first.")
            return
        algorithm = QgsApplication.processingRegistry().algorithmById(FORECAST_ALGORITHM)
        if algorithm is None:
            self.status.setText("The Land subsidence Processing provider is not loaded.")
            return
        try:
            factors = self._model_factors(model)
        except (OSError, ValueError) as error:
            self.status.setText(str(error))
            return
        keys = parameter_keys(algorithm)
        self._remove_forecast_folder()
        self.forecast_folder = folder = tempfile.mkdtemp(prefix="subsidence_forecast_")
        project = QgsProject.instance()
        self.forecast_runs, steps = [], []
        for layer_id in dict.fromkeys(p.layer_id for p in self.points):
            layer = project.mapLayer(layer_id)
            points = [p for p in self.points if p.layer_id == layer_id]
            memory = self._points_layer(layer, points)
            output = os.path.join(folder, f"forecast_{len(steps)}.gpkg")
            parameters = {keys.INPUT: memory, keys.MODEL_FILE: model, keys.FACTORS: factors,
                          keys.GROUNDWATER: self.piezometer_layer.currentLayer(),
                          keys.HORIZON_MONTHS: self.horizon.value(), keys.SCENARIO: self.scenario.currentIndex(),
                          keys.DRAWDOWN_CHANGE: self.drawdown.value(), keys.OUTPUT: output}
            self.forecast_runs.append((memory, output, points))
            steps.append((FORECAST_ALGORITHM, lambda previous, p=parameters: p))
        self.run_chain(steps)

    def _remove_forecast_folder(self) -> None:
        """The temporary outputs of the last model run (read into the plot, or left by a failed run)."""
        if self.forecast_folder:
            shutil.rmtree(self.forecast_folder, ignore_errors=True)
        self.forecast_folder = ""

    def _read_model_forecasts(self, output: str, points: List[PickedPoint]) -> int:
        """Give the points their forecast from a forecastseries output (joined by the ``pid`` of `_points_layer`);
        returns how many have one."""
        layer = QgsVectorLayer(output, "forecast", "ogr")
        names = layer.fields().names()
        fields = dated_fields(names, FORECAST)
        bands = {prefix: dict(dated_fields(names, prefix)) for prefix in (LOW, HIGH)}
        count = 0
        for feature in layer.getFeatures():
            point = points[int(feature.attribute("pid"))]
            curve = self._forecast_curve(point, "forecast", fields, dict(zip(names, floats(feature.attributes()))),
                                         bands)
            point.model = [Curve(f"{point.curve.label} model forecast", curve.dates, curve.values, kind="forecast",
                                 colour=point.curve.colour, low=curve.low, high=curve.high)]
            count += int(np.isfinite(curve.values).any())
        return count

    def succeeded(self, results: dict) -> None:
        """Overlay the forecasts of the model run on the picked points."""
        count = sum(self._read_model_forecasts(output, points) for _memory, output, points in self.forecast_runs)
        self.forecast_runs = []
        self._remove_forecast_folder()
        self.refresh()
        self.status.setText(f"Forecast {self.horizon.value()} months ahead for {count} of the picked points "
                            f"({SCENARIOS[self.scenario.currentIndex()].lower()}).")

    # plot and exports

    def _reference_items(self) -> List[Tuple[str, tuple]]:
        return [(p.curve.label, f"point {p.layer_id} {p.fid}") for p in self.points] + \
            [(a.curve.label, f"area {a.layer_id}") for a in self.areas]

    def _reference_curves(self, chosen: str) -> List[Curve]:
        for point in self.points:
            if f"point {point.layer_id} {point.fid}" == chosen:
                return point.curves
        return [a.curve for a in self.areas if f"area {a.layer_id}" == chosen]

    def refresh(self) -> None:
        """Redraw the plot from the picked points, the areas, the heads and the reference."""
        chosen = self.reference.currentData()
        items = self._reference_items()
        self.reference.blockSignals(True)
        self.reference.clear()
        self.reference.addItem("none", "")
        for label, data in items:
            self.reference.addItem(label, data)
        self.reference.setCurrentIndex(max(0, self.reference.findData(chosen)) if chosen else 0)
        self.reference.blockSignals(False)
        curves = [c for p in self.points for c in p.curves] + [a.curve for a in self.areas] + self._head_curves()
        chosen = self.reference.currentData()
        if chosen:
            curves = rereferenced(curves, self._reference_curves(chosen), self.reference.currentText())
        self.plotted = curves
        self.plot.draw(curves, EMPTY_PLOT)

    def _save_path(self, title: str, pattern: str, suffix: str) -> str:
        path, _ = QFileDialog.getSaveFileName(self, title, "", pattern)
        if path and not path.lower().endswith(suffix):
            path += suffix
        return path

    def export_png(self, path: Optional[str] = None) -> None:
        """Save the plot as a PNG image (asks for the file without ``path``)."""
        path = path or self._save_path("Export the plot", "PNG image (*.png)", ".png")
        if not path:
            return
        try:
            self.plot.save_png(path)
        except (OSError, ValueError) as error:
            self._report(f"The plot could not be saved: {error}")
            return
        self.status.setText(f"Plot saved to {path}")

    def export_csv(self, path: Optional[str] = None) -> None:
        """Save the plotted data as CSV, one row a date (asks for the file without ``path``)."""
        if not self.plotted:
            self.status.setText("Nothing to export yet: pick points first.")
            return
        path = path or self._save_path("Export the data", "CSV (*.csv)", ".csv")
        if not path:
            return
        try:
            rows = write_csv(path, self.plotted)
        except OSError as error:
            self._report(f"The data could not be saved: {error}")
            return
        self.status.setText(f"{rows} dates of {len(self.plotted)} curves saved to {path}")

    # showing and hiding

    def showEvent(self, event):  # noqa: N802
        super().showEvent(event)
        self._index_checked()
        self._show_markers()
        if self.area_polygon is not None:
            self.area_band.setToGeometry(self.area_polygon, None)

    def hideEvent(self, event):  # noqa: N802
        self.release_canvas()
        super().hideEvent(event)

    def release_canvas(self) -> None:
        """Give the map back: the dock's map tools off, its markers and polygon off the map."""
        for tool in (self.pick_tool, self.polygon_tool):
            if self.canvas.mapTool() is tool:
                self.canvas.unsetMapTool(tool)
        for marker in self.markers:
            self.canvas.scene().removeItem(marker)
        self.markers = []
        self.area_band.reset(QgsWkbTypes.PolygonGeometry)

    def unload(self) -> None:
        """Before the plugin unloads: the map given back, the dock's map items removed, its tasks cancelled."""
        self.release_canvas()
        for band in (self.area_band, self.polygon_tool.band):
            self.canvas.scene().removeItem(band)
        for task in list(self.index_tasks.values()) + ([self.area_task] if self.area_task is not None else []):
            if not sip.isdeleted(task):
                task.stop()
        self.index_tasks, self.area_task = {}, None
