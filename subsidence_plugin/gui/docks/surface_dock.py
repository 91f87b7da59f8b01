"""The "Subsidence surface" dock: choose points, field, factor stack and method; train or interpolate in a
background task with progress, cancel and a live loss curve; the surface appears in the project when done.

The work runs as the Processing algorithm itself (`QgsProcessingAlgRunnerTask`), so the dock and the toolbox
give identical results. The task's ``run()`` touches no widget and no project: epochs reach the loss curve
through a queued signal, and layers are added in the ``executed`` slot on the main thread.
"""
from __future__ import annotations

import os
import re

from qgis.core import QgsFieldProxyModel, QgsMapLayerProxyModel, QgsProcessing
from qgis.gui import QgsCollapsibleGroupBox, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QVBoxLayout, QWidget

from ...core.ml.devices import DEVICE_CHOICES
from ...processing.interpolation import VARIOGRAMS
from ...processing.surface.idw import InverseDistanceWeighting
from ...processing.surface.kriging import DRIFTS, Kriging
from ...processing.surface.train_patch_cnn import TrainPatchCnn
from ..widgets.curve_plot import CurvePlot
from ..widgets.layer_choices import Choice, default_points, default_stack
from ..widgets.task_dock import TaskDock

METHODS = [("Patch CNN (seed 000)", "subsidence:trainpatchcnn"), ("Kriging", "subsidence:kriging"),
           ("IDW", "subsidence:idw")]
SHORT_NAMES = {"subsidence:trainpatchcnn": "patch CNN", "subsidence:kriging": "kriging", "subsidence:idw": "IDW"}


def field_units(field: str) -> str:
    """mm/yr for a velocity-like field, mm for a displacement, else the dock's unit of rates."""
    name = field.lower()
    if re.search(r"disp|cum|defo|total", name) and not re.search(r"vel|rate", name):
        return "mm"
    return "mm/yr"


def _default(algorithm_class, key):
    algorithm = algorithm_class()
    algorithm.initAlgorithm()
    return algorithm.parameterDefinition(key).defaultValue()


class SurfaceDock(TaskDock):
    """Dock widget driving subsidence:trainpatchcnn, subsidence:kriging and subsidence:idw; shows the chosen
    method's settings only, and the loss curve only for the CNN."""

    def __init__(self, parent=None):
        super().__init__("Subsidence surface", parent)
        self.setObjectName("landSubsidenceSurfaceDock")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        form = QFormLayout()
        self.points = QgsMapLayerComboBox(body)
        self.points.setFilters(QgsMapLayerProxyModel.PointLayer)
        self.field = QgsFieldComboBox(body)
        self.field.setFilters(QgsFieldProxyModel.Numeric)
        self.points.layerChanged.connect(self.field.setLayer)
        self.field.setLayer(self.points.currentLayer())
        self.stack = QgsMapLayerComboBox(body)
        self.stack.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.method = QComboBox(body)
        self.method.addItems([label for label, _ in METHODS])
        self.folder = QgsFileWidget(body)
        self.folder.setStorageMode(QgsFileWidget.GetDirectory)
        self.folder.setToolTip("Folder for the outputs; empty = temporary files")
        form.addRow("InSAR points", self.points)
        form.addRow("Field (mm/yr or mm)", self.field)
        form.addRow("Factor stack / grid", self.stack)
        form.addRow("Method", self.method)
        form.addRow("Output folder", self.folder)
        layout.addLayout(form)

        self.cnn_settings = QgsCollapsibleGroupBox("Patch CNN settings", body)
        grid = QFormLayout(self.cnn_settings)
        self.epochs = self.spin(1, 100000, 150)
        self.batch = self.spin(2, 100000, 128)
        self.learning_rate = QDoubleSpinBox(self.cnn_settings)
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 1.0)
        self.learning_rate.setSingleStep(1e-4)
        self.learning_rate.setValue(1e-4)
        self.patch = self.spin(22, 256, 30)
        self.patience = self.spin(0, 10000, 0)
        self.seed = self.spin(0, 2 ** 31 - 1, 0)
        self.device = QComboBox(self.cnn_settings)
        self.device.addItems(list(DEVICE_CHOICES))
        self.uncertainty = QCheckBox("Monte-Carlo-dropout spread band", self.cnn_settings)
        for label, widget in (("Epochs", self.epochs), ("Batch size", self.batch), ("Learning rate", self.learning_rate),
                              ("Patch size (cells)", self.patch), ("Early-stopping patience", self.patience),
                              ("Seed", self.seed), ("Device", self.device)):
            grid.addRow(label, widget)
        grid.addRow(self.uncertainty)

        self.kriging_settings = QgsCollapsibleGroupBox("Kriging settings", body)
        grid = QFormLayout(self.kriging_settings)
        self.variogram = QComboBox(self.kriging_settings)
        self.variogram.addItems(list(VARIOGRAMS))
        self.variogram.setCurrentIndex(int(_default(Kriging, Kriging.VARIOGRAM)))
        self.drift = QComboBox(self.kriging_settings)
        self.drift.addItems(list(DRIFTS))
        self.drift.setCurrentIndex(int(_default(Kriging, Kriging.DRIFT)))
        self.neighbours = self.spin(3, 1000, int(_default(Kriging, Kriging.NEIGHBOURS)))
        self.kriging_seed = self.spin(0, 2 ** 31 - 1, 0)
        self.kriging_device = QComboBox(self.kriging_settings)
        self.kriging_device.addItems(list(DEVICE_CHOICES))
        for label, widget in (("Variogram model", self.variogram), ("Kriging type (drift)", self.drift),
                              ("Nearest points per cell", self.neighbours),
                              ("Seed (cross-validation points)", self.kriging_seed), ("Device", self.kriging_device)):
            grid.addRow(label, widget)

        self.idw_settings = QgsCollapsibleGroupBox("IDW settings", body)
        grid = QFormLayout(self.idw_settings)
        self.power = QDoubleSpinBox(self.idw_settings)
        self.power.setRange(0.0, 20.0)
        self.power.setDecimals(2)
        self.power.setValue(float(_default(InverseDistanceWeighting, InverseDistanceWeighting.POWER)))
        self.idw_neighbours = self.spin(1, 1000, int(_default(InverseDistanceWeighting,
                                                               InverseDistanceWeighting.NEIGHBOURS)))
        grid.addRow("Power", self.power)
        grid.addRow("Nearest points per cell", self.idw_neighbours)
        self.method_settings = {"subsidence:trainpatchcnn": self.cnn_settings, "subsidence:kriging":
                                self.kriging_settings, "subsidence:idw": self.idw_settings}
        for box in self.method_settings.values():
            box.setCollapsed(True)
            layout.addWidget(box)

        self.add_controls(layout, body)
        self.loss = self.curves["loss"] = CurvePlot(body)
        layout.addWidget(self.loss)
        self.add_status(layout, body)
        self.set_body(body)
        self.method.currentIndexChanged.connect(self._method_changed)
        self._method_changed()
        self.choices.add(Choice("points", self.points, default_points, self.field))
        self.choices.add(Choice("stack", self.stack, default_stack))
        self.start_choices()

    @property
    def algorithm_id(self) -> str:
        return METHODS[self.method.currentIndex()][1]

    def _method_changed(self, *_args) -> None:
        """Only the chosen method's settings; the loss curve only for the CNN."""
        for algorithm_id, box in self.method_settings.items():
            box.setVisible(algorithm_id == self.algorithm_id)
        self.loss.setVisible(self.algorithm_id == "subsidence:trainpatchcnn")

    def anchor_layer(self):
        return self.points.currentLayer()

    def result_name(self, output_name: str, default: str) -> str:
        field = self.field.currentField()
        if output_name not in (TrainPatchCnn.OUTPUT, Kriging.OUTPUT, InverseDistanceWeighting.OUTPUT) or not field:
            return default
        return f"{field} — {SHORT_NAMES[self.algorithm_id]} ({field_units(field)})"

    def epoch_status(self, epoch: int, training: float, validation: float):
        return f"Training the patch CNN: epoch {epoch} of {self.epochs.value()} (validation loss {validation:.4g})"

    def _output(self, name: str) -> str:
        folder = self.folder.filePath()
        return os.path.join(folder, name) if folder else QgsProcessing.TEMPORARY_OUTPUT

    def parameters(self) -> dict:
        """The algorithm's parameters from the widgets."""
        algorithm_id = self.algorithm_id
        points, stack = self.points.currentLayer(), self.stack.currentLayer()
        if algorithm_id == "subsidence:trainpatchcnn":
            keys = TrainPatchCnn
            return {keys.INPUT: points, keys.FIELD: self.field.currentField(), keys.STACK: stack,
                    keys.EPOCHS: self.epochs.value(), keys.BATCH_SIZE: self.batch.value(),
                    keys.LEARNING_RATE: self.learning_rate.value(), keys.PATCH_SIZE: self.patch.value(),
                    keys.PATIENCE: self.patience.value(), keys.SEED: self.seed.value(),
                    keys.DEVICE: self.device.currentIndex(), keys.UNCERTAINTY: self.uncertainty.isChecked(),
                    keys.OUTPUT_MODEL: self._output("patch_cnn.pt"), keys.OUTPUT: self._output("patch_cnn.tif")}
        if algorithm_id == "subsidence:kriging":
            keys = Kriging
            return {keys.INPUT: points, keys.FIELD: self.field.currentField(), keys.REFERENCE: stack,
                    keys.VARIOGRAM: self.variogram.currentIndex(), keys.DRIFT: self.drift.currentIndex(),
                    keys.NEIGHBOURS: self.neighbours.value(), keys.DEVICE: self.kriging_device.currentIndex(),
                    keys.SEED: self.kriging_seed.value(), keys.OUTPUT: self._output("kriging.tif")}
        keys = InverseDistanceWeighting
        return {keys.INPUT: points, keys.FIELD: self.field.currentField(), keys.REFERENCE: stack,
                keys.POWER: self.power.value(), keys.NEIGHBOURS: self.idw_neighbours.value(),
                keys.OUTPUT: self._output("idw.tif")}

    def run(self) -> None:
        if self.points.currentLayer() is None or self.stack.currentLayer() is None or not self.field.currentField():
            self.status.setText("Choose the points, their field and the factor stack (or a grid raster) first.")
            return
        self.run_chain([(self.algorithm_id, lambda previous: self.parameters())])

    def succeeded(self, results: dict) -> None:
        """Show the metrics of the finished run."""
        metrics = ", ".join(f"{key.replace('_', ' ').lower()} {value:.4g}" for key, value in results.items()
                            if isinstance(value, float))
        self.status.setText(f"Done. {metrics}")
