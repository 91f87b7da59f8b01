"""The "Susceptibility" dock: a susceptibility model from InSAR points (seed 002) or GARDLIF weights fitted by
PSO (seed 003), run in background tasks with progress, cancel, live loss and tuner-fitness curves; the index
and class maps appear in the project, the PSO weights in a table.

Each step runs as the Processing algorithm itself (`QgsProcessingAlgRunnerTask`): from a velocity field the
dock first makes the inventory (subsidence:subsidenceinventory) and then trains (subsidence:trainsusceptibility);
from an inventory label field it trains at once. The tasks' ``run()`` touch no widget and no project; epochs and
tuner evaluations reach the curves through queued signals, layers are added on the main thread.
"""
from __future__ import annotations

import os

from qgis.core import QgsFieldProxyModel, QgsMapLayerProxyModel, QgsProcessing
from qgis.gui import QgsCollapsibleGroupBox, QgsFieldComboBox, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import (QAbstractScrollArea, QComboBox, QDoubleSpinBox, QFormLayout, QSizePolicy,
                                 QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from ...core.ml.devices import DEVICE_CHOICES
from ...core.susceptibility.cnn import MODEL_LABELS
from ...core.susceptibility.gardlif import DEFAULT_WEIGHTS, LAYER_TITLES, LAYERS
from ...processing.susceptibility.optimize_weights import OptimizeWeights
from ...processing.susceptibility.subsidence_inventory import SubsidenceInventory
from ...processing.susceptibility.train_susceptibility import TrainSusceptibility
from ..widgets.curve_plot import CurvePlot
from ..widgets.layer_choices import Choice, default_points, default_stack, factor_layer
from ..widgets.task_dock import TaskDock

FIELD_ROLES = ("Velocity (mm/yr): make the inventory with the thresholds", "Inventory label (1 subsiding, 0 stable)")
SPLITS = ("random split", "blocked split")  # the order in which trainsusceptibility trains
SHORT_MODEL_NAMES = ("CNN", "CNN-GWO", "CNN-ICA", "frequency ratio")


class SusceptibilityDock(TaskDock):
    """Dock widget driving subsidence:subsidenceinventory, subsidence:trainsusceptibility and
    subsidence:optimizeweights."""

    def __init__(self, parent=None):
        super().__init__("Susceptibility", parent)
        self.setObjectName("landSubsidenceSusceptibilityDock")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.tabs = QTabWidget(body)
        self.tabs.addTab(self._model_tab(), "Susceptibility model")
        self.tabs.addTab(self._gardlif_tab(), "GARDLIF + PSO")
        layout.addWidget(self.tabs)
        form = QFormLayout()
        self.folder = QgsFileWidget(body)
        self.folder.setStorageMode(QgsFileWidget.GetDirectory)
        self.folder.setToolTip("Folder for the outputs; empty = temporary files")
        self.seed = self.spin(0, 2 ** 31 - 1, 0)
        form.addRow("Output folder", self.folder)
        form.addRow("Seed", self.seed)
        layout.addLayout(form)
        self.add_controls(layout, body)
        self.loss = self.curves["loss"] = CurvePlot(
            body, tooltip="Loss per epoch (log scale): blue training, red validation; solid the random split's "
                          "training, dashed the blocked split's", series_labels=SPLITS)
        self.fitness = self.curves["fitness"] = CurvePlot(
            body, "validation AUC", "candidate", "Tuner: validation AUC of each candidate (blue) and the best so far (red)",
            log_scale=False, min_span=0.05, limits=(0.0, 1.0))
        layout.addWidget(self.loss)
        layout.addWidget(self.fitness)
        self.add_status(layout, body)
        self.set_body(body)
        self.choices.add(Choice("points", self.points, default_points, self.field))
        self.choices.add(Choice("stack", self.stack, default_stack))
        self.choices.add(Choice("gardlif_points", self.gardlif_points, default_points, self.gardlif_field))
        for key, combo in self.layers.items():
            self.choices.add(Choice(f"gardlif_{key}", combo, lambda layers, k=key: factor_layer(layers, k),
                                    keep_empty=True))
        self.start_choices()

    def expected_candidates(self) -> int:
        """Candidates the tuner evaluates: population x (iterations + 1) (GWO exactly, ICA at most)."""
        return self.population.value() * (self.iterations.value() + 1)

    def fitness_status(self, evaluations: int, fitness: float, best: float):
        tuner = SHORT_MODEL_NAMES[self.model.currentIndex()]
        total = self.expected_candidates()
        of = f"of {total}" if tuner == "CNN-GWO" else f"of at most {total}"
        return (f"Tuning {tuner}: candidate {evaluations} {of}, validation AUC {fitness:.3f} "
                f"(best {best:.3f})")

    def epoch_status(self, epoch: int, training: float, validation: float):
        split = self.loss.labels[-1] if self.loss.labels else SPLITS[0]
        total = f" of {self.epochs.value()}" if self.model.currentIndex() == 0 else ""
        return f"Training the CNN ({split}): epoch {epoch}{total}, validation loss {validation:.4g}"

    def anchor_layer(self):
        return self.points.currentLayer() if self.tabs.currentIndex() == 0 else self.gardlif_points.currentLayer()

    def result_name(self, output_name: str, default: str) -> str:
        if self.tabs.currentIndex() == 0:
            keys, method = TrainSusceptibility, SHORT_MODEL_NAMES[self.model.currentIndex()]
            names = {keys.OUTPUT: f"susceptibility index — {method} (0–1)",
                     keys.CLASSES_OUTPUT: f"susceptibility classes — {method} (1–5)"}
            field = self.field.currentField()
        else:
            keys, method = OptimizeWeights, "GARDLIF + PSO"
            names = {keys.OUTPUT: f"vulnerability index — {method} (index)",
                     keys.CLASSES_OUTPUT: f"vulnerability classes — {method} (1–4)",
                     keys.WEIGHTS_TABLE: f"weights — {method} (0–5)"}
            field = self.gardlif_field.currentField()
        name = names.get(output_name)
        return f"{field} {name}" if name and field else (name or default)

    def _double(self, low: float, high: float, value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(low, high)
        spin.setDecimals(2)
        spin.setValue(value)
        return spin

    def _points_and_field(self, parent):
        points = QgsMapLayerComboBox(parent)
        points.setFilters(QgsMapLayerProxyModel.PointLayer)
        field = QgsFieldComboBox(parent)
        field.setFilters(QgsFieldProxyModel.Numeric)
        points.layerChanged.connect(field.setLayer)
        field.setLayer(points.currentLayer())
        return points, field

    def _model_tab(self) -> QWidget:
        tab = QWidget(self)
        form = QFormLayout(tab)
        self.points, self.field = self._points_and_field(tab)
        self.field_role = QComboBox(tab)
        self.field_role.addItems(list(FIELD_ROLES))
        self.threshold = self._double(0.01, 1000.0, 10.0)
        self.stable = self._double(0.0, 1000.0, 2.0)
        self.stack = QgsMapLayerComboBox(tab)
        self.stack.setFilters(QgsMapLayerProxyModel.RasterLayer)
        self.model = QComboBox(tab)
        self.model.addItems(list(MODEL_LABELS))
        self.model.setCurrentIndex(1)
        for label, widget in (("InSAR points / inventory", self.points), ("Field", self.field),
                              ("The field is", self.field_role), ("Subsidence threshold (mm/yr)", self.threshold),
                              ("Stable threshold |v| (mm/yr)", self.stable), ("Factor stack", self.stack),
                              ("Model and tuner", self.model)):
            form.addRow(label, widget)
        settings = QgsCollapsibleGroupBox("Training settings", tab)
        settings.setCollapsed(True)
        grid = QFormLayout(settings)
        self.epochs = self.spin(1, 100000, 100)
        self.population = self.spin(4, 1000, 6)
        self.iterations = self.spin(1, 1000, 5)
        self.device = QComboBox(settings)
        self.device.addItems(list(DEVICE_CHOICES))
        for label, widget in (("Epochs (upper bound when tuning)", self.epochs), ("Tuner population", self.population),
                              ("Tuner iterations", self.iterations), ("Device", self.device)):
            grid.addRow(label, widget)
        form.addRow(settings)
        return tab

    def _gardlif_tab(self) -> QWidget:
        tab = QWidget(self)
        form = QFormLayout(tab)
        self.gardlif_points, self.gardlif_field = self._points_and_field(tab)
        form.addRow("InSAR points", self.gardlif_points)
        form.addRow("Velocity field (mm/yr)", self.gardlif_field)
        self.layers = {}
        for layer in LAYERS:
            combo = QgsMapLayerComboBox(tab)
            combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
            combo.setAllowEmptyLayer(True)
            combo.setLayer(None)
            self.layers[layer] = combo
            form.addRow(LAYER_TITLES[layer], combo)
        self.particles = self.spin(4, 10000, 30)
        self.pso_iterations = self.spin(1, 100000, 100)
        form.addRow("Particles", self.particles)
        form.addRow("Iterations", self.pso_iterations)
        self.weights = QTableWidget(len(LAYERS), 3, tab)
        self.weights.setHorizontalHeaderLabels(["layer", "GARDLIF", "PSO"])
        for row, layer in enumerate(LAYERS):
            self.weights.setItem(row, 0, QTableWidgetItem(LAYER_TITLES[layer]))
            self.weights.setItem(row, 1, QTableWidgetItem(f"{DEFAULT_WEIGHTS[layer]:g}"))
            self.weights.setItem(row, 2, QTableWidgetItem(""))
        self.weights.resizeColumnsToContents()
        self.weights.resizeRowsToContents()
        self.weights.setVerticalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.weights.setSizeAdjustPolicy(QAbstractScrollArea.AdjustToContents)
        self.weights.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        height = self.weights.horizontalHeader().sizeHint().height() + 2 * self.weights.frameWidth() + \
            sum(self.weights.rowHeight(row) for row in range(self.weights.rowCount()))
        self.weights.setFixedHeight(height)  # all seven rows, no inner scrolling (the dock's body scrolls)
        form.addRow(self.weights)
        return tab

    def _output(self, name: str) -> str:
        folder = self.folder.filePath()
        return os.path.join(folder, name) if folder else QgsProcessing.TEMPORARY_OUTPUT

    def model_parameters(self, inventory) -> dict:
        keys = TrainSusceptibility
        return {keys.INVENTORY: inventory, keys.STACK: self.stack.currentLayer(), keys.MODEL: self.model.currentIndex(),
                keys.EPOCHS: self.epochs.value(), keys.POPULATION: self.population.value(),
                keys.ITERATIONS: self.iterations.value(), keys.SEED: self.seed.value(),
                keys.DEVICE: self.device.currentIndex(), keys.OUTPUT: self._output("susceptibility_index.tif"),
                keys.CLASSES_OUTPUT: self._output("susceptibility_classes.tif"),
                keys.OUTPUT_MODEL: self._output("susceptibility_model.pt"),
                keys.REPORT: self._output("susceptibility_report.html")}

    def inventory_parameters(self) -> dict:
        keys = SubsidenceInventory
        return {keys.INPUT: self.points.currentLayer(), keys.FIELD: self.field.currentField(),
                keys.STACK: self.stack.currentLayer(), keys.THRESHOLD: self.threshold.value(),
                keys.STABLE_THRESHOLD: self.stable.value(), keys.SEED: self.seed.value(),
                keys.OUTPUT: self._output("inventory.gpkg")}

    def gardlif_parameters(self) -> dict:
        keys = OptimizeWeights
        return {keys.POINTS: self.gardlif_points.currentLayer(), keys.FIELD: self.gardlif_field.currentField(),
                **{getattr(keys, layer.upper()): combo.currentLayer() for layer, combo in self.layers.items()},
                keys.PARTICLES: self.particles.value(), keys.ITERATIONS: self.pso_iterations.value(),
                keys.SEED: self.seed.value(), keys.OUTPUT: self._output("gardlif_pso_index.tif"),
                keys.CLASSES_OUTPUT: self._output("gardlif_pso_classes.tif"),
                keys.WEIGHTS_TABLE: self._output("gardlif_pso_weights.gpkg"),
                keys.REPORT: self._output("gardlif_pso_report.html")}

    def run(self) -> None:
        if self.tabs.currentIndex() == 0:
            if self.points.currentLayer() is None or self.stack.currentLayer() is None or \
                    not self.field.currentField():
                self.status.setText("Choose the points, their field and the factor stack first.")
                return
            if self.field_role.currentIndex() == 0:
                chain = [("subsidence:subsidenceinventory", lambda previous: self.inventory_parameters()),
                         ("subsidence:trainsusceptibility",
                          lambda previous: self.model_parameters(previous[SubsidenceInventory.OUTPUT]))]
            else:
                chain = [("subsidence:trainsusceptibility",
                          lambda previous: {**self.model_parameters(self.points.currentLayer()),
                                            TrainSusceptibility.LABEL_FIELD: self.field.currentField()})]
        else:
            if self.gardlif_points.currentLayer() is None or not self.gardlif_field.currentField() or \
                    any(combo.currentLayer() is None for combo in self.layers.values()):
                self.status.setText("Choose the InSAR points, their velocity field and all seven GARDLIF layers.")
                return
            chain = [("subsidence:optimizeweights", lambda previous: self.gardlif_parameters())]
        self.run_chain(chain)

    def succeeded(self, results: dict) -> None:
        """Fill the PSO weights table or show the model's accuracy."""
        if OptimizeWeights.OPTIMISED_WEIGHTS in results:
            keys = OptimizeWeights
            for row, value in enumerate(results[keys.OPTIMISED_WEIGHTS].split(",")):
                self.weights.setItem(row, 2, QTableWidgetItem(value.strip()))
            self.status.setText(f"Done. Pearson r {results[keys.R_BEFORE]:.3f} -> {results[keys.R_AFTER]:.3f}, CI "
                                f"{results[keys.CI_BEFORE]:.0f} -> {results[keys.CI_AFTER]:.0f}. "
                                f"Report: {results[keys.REPORT]}")
        else:
            keys = TrainSusceptibility
            self.status.setText(f"Done. Test AUC {results[keys.AUC]:.3f} (frequency-ratio baseline "
                                f"{results[keys.FR_AUC]:.3f}, blocked split {results[keys.BLOCKED_AUC]:.3f}). "
                                f"Report: {results[keys.REPORT]}")
