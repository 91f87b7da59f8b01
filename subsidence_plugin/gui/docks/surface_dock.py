"""The "Subsidence surface" dock: choose points, field, factor stack and method; train or interpolate in a
background task with progress, cancel and a live loss curve; the surface appears in the project when done.

The work runs as the Processing algorithm itself (`QgsProcessingAlgRunnerTask`), so the dock and the toolbox
give identical results. The task's ``run()`` touches no widget and no project: epochs reach the loss curve
through a queued signal, and layers are added in the ``executed`` slot on the main thread.
"""
from __future__ import annotations

import os

from qgis.core import QgsFieldProxyModel, QgsMapLayerProxyModel, QgsProcessing
from qgis.gui import QgsCollapsibleGroupBox, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QVBoxLayout, QWidget

from ...core.ml.devices import DEVICE_CHOICES
from ...processing.surface.idw import InverseDistanceWeighting
from ...processing.surface.kriging import Kriging
from ...processing.surface.train_patch_cnn import TrainPatchCnn
from ..widgets.curve_plot import CurvePlot
from ..widgets.task_dock import TaskDock

METHODS = [("Patch CNN (seed 000)", "subsidence:trainpatchcnn"), ("Kriging", "subsidence:kriging"),
           ("IDW", "subsidence:idw")]


class SurfaceDock(TaskDock):
    """Dock widget driving subsidence:trainpatchcnn, subsidence:kriging and subsidence:idw."""

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

        advanced = QgsCollapsibleGroupBox("Settings", body)
        advanced.setCollapsed(True)
        grid = QFormLayout(advanced)
        self.epochs = self.spin(1, 100000, 150)
        self.batch = self.spin(2, 100000, 128)
        self.learning_rate = QDoubleSpinBox(advanced)
        self.learning_rate.setDecimals(6)
        self.learning_rate.setRange(1e-6, 1.0)
        self.learning_rate.setSingleStep(1e-4)
        self.learning_rate.setValue(1e-4)
        self.patch = self.spin(22, 256, 30)
        self.patience = self.spin(0, 10000, 0)
        self.seed = self.spin(0, 2 ** 31 - 1, 0)
        self.neighbours = self.spin(1, 1000, 32)
        self.device = QComboBox(advanced)
        self.device.addItems(list(DEVICE_CHOICES))
        self.uncertainty = QCheckBox("Monte-Carlo-dropout spread band", advanced)
        for label, widget in (("Epochs", self.epochs), ("Batch size", self.batch), ("Learning rate", self.learning_rate),
                              ("Patch size (cells)", self.patch), ("Early-stopping patience", self.patience),
                              ("Seed", self.seed), ("Neighbours (kriging, IDW)", self.neighbours),
                              ("Device", self.device), ("", self.uncertainty)):
            grid.addRow(label, widget)
        layout.addWidget(advanced)

        self.add_controls(layout, body)
        self.loss = self.curves["loss"] = CurvePlot(body)
        layout.addWidget(self.loss)
        self.add_status(layout, body)
        self.setWidget(body)

    def _output(self, name: str) -> str:
        folder = self.folder.filePath()
        return os.path.join(folder, name) if folder else QgsProcessing.TEMPORARY_OUTPUT

    def parameters(self) -> dict:
        """The algorithm's parameters from the widgets."""
        algorithm_id = METHODS[self.method.currentIndex()][1]
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
                    keys.NEIGHBOURS: self.neighbours.value(), keys.DEVICE: self.device.currentIndex(),
                    keys.SEED: self.seed.value(), keys.OUTPUT: self._output("kriging.tif")}
        keys = InverseDistanceWeighting
        return {keys.INPUT: points, keys.FIELD: self.field.currentField(), keys.REFERENCE: stack,
                keys.NEIGHBOURS: self.neighbours.value(), keys.OUTPUT: self._output("idw.tif")}

    def run(self) -> None:
        if self.points.currentLayer() is None or self.stack.currentLayer() is None or not self.field.currentField():
            self.status.setText("Choose the points, their field and the factor stack (or a grid raster) first.")
            return
        self.run_chain([(METHODS[self.method.currentIndex()][1], lambda previous: self.parameters())])

    def succeeded(self, results: dict) -> None:
        """Show the metrics of the finished run."""
        metrics = ", ".join(f"{key.replace('_', ' ').lower()} {value:.4g}" for key, value in results.items()
                            if isinstance(value, float))
        self.status.setText(f"Done. {metrics}")
