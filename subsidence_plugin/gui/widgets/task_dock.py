"""Common part of the plugin's docks: Run / Cancel buttons, progress bar, status line, and Processing algorithms
run one after another as background tasks (`QgsProcessingAlgRunnerTask`).

A task's ``run()`` touches no widget and no project: progress, epochs and tuner evaluations reach the widgets
through queued signals of `TrainingFeedback`, and layers are added on the main thread when a chain ends.
"""
from __future__ import annotations

from typing import Callable, List, Tuple

from qgis.core import (QgsApplication, QgsProcessingAlgRunnerTask, QgsProcessingContext, QgsProject, QgsRasterLayer,
                       QgsVectorLayer)
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox

from ...processing.base import TrainingFeedback

Step = Tuple[str, Callable[[dict], dict]]  # algorithm id, parameters from the previous step's results


def output_layer(source: str, name: str):
    """A written output as a map layer: raster or vector (GeoPackage layers included), None if neither opens."""
    raster = QgsRasterLayer(source, name)
    if raster.isValid():
        return raster
    vector = QgsVectorLayer(source, name, "ogr")
    return vector if vector.isValid() else None


class TaskDock(QgsDockWidget):
    """Subclasses build their inputs, call `add_controls` and `run_chain`, and implement `succeeded`."""

    def __init__(self, title: str, parent=None):
        super().__init__(title, parent)
        self.task = None
        self.outcome = ""  # "done", "cancelled" or "failed" after a run
        self.context = self.feedback = self.algorithm = None
        self.pending: List[Step] = []
        self.curves = {}

    def add_controls(self, layout, body) -> None:
        """Run and Cancel buttons and the progress bar; the status line is `add_status`."""
        buttons = QHBoxLayout()
        self.run_button = QPushButton("Run", body)
        self.cancel_button = QPushButton("Cancel", body)
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar(body)
        self.progress.setRange(0, 100)
        layout.addWidget(self.progress)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)

    def add_status(self, layout, body) -> None:
        self.status = QLabel("", body)
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

    def spin(self, low: int, high: int, value: int) -> QSpinBox:
        box = QSpinBox(self)
        box.setRange(low, high)
        box.setValue(value)
        return box

    def run(self) -> None:
        raise NotImplementedError

    def succeeded(self, results: dict) -> None:
        raise NotImplementedError

    def run_chain(self, steps: List[Step]) -> None:
        """Run the algorithms one after another; each step's parameters may use the previous step's results."""
        for curve in self.curves.values():
            curve.clear()
        self.progress.setValue(0)
        self.outcome = ""
        self.pending = list(steps)
        self._start({})

    def _start(self, previous: dict) -> None:
        algorithm_id, parameters_of = self.pending.pop(0)
        self.algorithm = QgsApplication.processingRegistry().createAlgorithmById(algorithm_id)
        self.context = QgsProcessingContext()
        self.context.setProject(QgsProject.instance())
        self.feedback = TrainingFeedback()
        self.feedback.progressChanged.connect(lambda value: self.progress.setValue(int(value)))
        if "loss" in self.curves:
            self.feedback.epochFinished.connect(self.curves["loss"].add)
        if "fitness" in self.curves:
            self.feedback.fitnessFinished.connect(self.curves["fitness"].add)
        parameters = parameters_of(previous)
        ok, message = self.algorithm.checkParameterValues(parameters, self.context)
        if not ok:
            self.status.setText(message)
            self.pending = []
            return
        self.status.setText(f"Running {self.algorithm.displayName()}…")
        self.task = QgsProcessingAlgRunnerTask(self.algorithm, parameters, self.context, self.feedback)
        self.task.executed.connect(self._finished)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self) -> None:
        if self.task is not None:
            self.status.setText("Cancelling…")
            self.pending = []
            self.task.cancel()

    @property
    def running(self) -> bool:
        return self.task is not None

    def _finished(self, successful: bool, results: dict) -> None:
        """Runs on the main thread: start the next step, or add the layers and report."""
        self.task = None  # the task manager deletes the finished task
        if successful and self.pending:
            self._start(results)
            return
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if not successful:
            cancelled = self.feedback.isCanceled()
            log = self.feedback.textLog().strip().splitlines()
            self.outcome = "cancelled" if cancelled else "failed"
            self.status.setText("Cancelled: nothing was written." if cancelled else
                                (log[-1] if log else "The run failed."))
            return
        self.outcome = "done"
        for source, details in self.context.layersToLoadOnCompletion().items():
            layer = output_layer(source, details.name)
            if layer is None:
                self.status.setText(f"{details.name}: {source} could not be opened as a raster or vector layer")
                continue
            QgsProject.instance().addMapLayer(layer)
        self.succeeded(results)
        self.progress.setValue(100)
