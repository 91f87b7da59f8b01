"""Common part of the plugin's docks: Run / Cancel buttons, progress bar, status line, and Processing algorithms
run one after another as background tasks (`AlgorithmTask`).

A task's ``run()`` touches no widget and no project: progress, epochs and tuner evaluations reach the widgets
through queued signals of `TrainingFeedback`, and layers are added on the main thread when a chain ends, into a
"Results" group placed below the dock's input points (so results never cover them).

A cancel is not a failure: the task ends normally (QGIS says nothing of a failed task), the cancel is logged
once at info level, and the status line says what the finished steps of a chain kept.
"""
from __future__ import annotations

import os
from typing import Callable, List, Optional, Tuple

from qgis.core import (Qgis, QgsApplication, QgsMessageLog, QgsProcessingContext, QgsProcessingException, QgsProject,
                       QgsRasterLayer, QgsVectorLayer)
from qgis.gui import QgsDockWidget
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QScrollArea,
                                 QSizePolicy, QSpinBox)

from ...processing.base import TrainingFeedback
from ...processing.styles import set_legend_title
from .background_task import BackgroundTask
from .layer_choices import LayerChoices

RESULTS_GROUP = "Results"
LOG_TAG = "Land subsidence"

Step = Tuple[str, Callable[[dict], dict]]  # algorithm id, parameters from the previous step's results


def output_layer(source: str, name: str):
    """A written output as a map layer: raster or vector (GeoPackage layers included), None if neither opens."""
    raster = QgsRasterLayer(source, name)
    if raster.isValid():
        return raster
    vector = QgsVectorLayer(source, name, "ogr")
    return vector if vector.isValid() else None


class AlgorithmTask(BackgroundTask):
    """Runs one Processing algorithm (prepared on the main thread, run in the worker, post-processed on the main
    thread). A cancelled run ends as Complete with ``cancelled`` set, so QGIS reports no failed task; an error
    is logged once (critical), a cancel once (info). `stop()` cancels the feedback; a cancel from QGIS's task bar
    reaches the algorithm through the feedback's ``also_cancelled``."""

    executed = pyqtSignal(bool, dict)

    def __init__(self, algorithm, parameters: dict, context, feedback):
        super().__init__(f"Land subsidence: {algorithm.displayName()}")
        self.algorithm = algorithm.create()
        self.parameters, self.context, self.feedback = parameters, context, feedback
        self.results, self.error, self.cancelled = {}, "", False
        self.feedback.progressChanged.connect(self.setProgress)
        self.feedback.also_cancelled = self.isCanceled
        try:
            self.prepared = self.algorithm.prepare(parameters, context, feedback)
        except QgsProcessingException as error:
            self.prepared, self.error = False, str(error)

    def stop(self) -> None:
        super().stop()
        self.feedback.cancel()

    def run(self) -> bool:  # worker thread: no widget, no project
        if not self.prepared:
            self.error = self.error or "The algorithm could not be prepared."
            return False
        try:
            self.results = self.algorithm.runPrepared(self.parameters, self.context, self.feedback) or {}
        except QgsProcessingException as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 - reported to the user, never raised in the worker
            self.error = f"{type(error).__name__}: {error}"
        if self.error and (self.feedback.isCanceled() or self.stopped()):
            self.cancelled = True
            return True  # a cancel is not a failure
        return not self.error

    def finished(self, result: bool) -> None:  # main thread
        name = self.algorithm.displayName()
        if result and not self.cancelled:
            self.results = self.algorithm.postProcess(self.context, self.feedback) or self.results
        elif self.cancelled:
            QgsMessageLog.logMessage(f"{name}: cancelled by the user", LOG_TAG, Qgis.Info)
        else:
            QgsMessageLog.logMessage(f"{name} failed: {self.error}", LOG_TAG, Qgis.Critical)
        self.executed.emit(bool(result and not self.cancelled), dict(self.results))
        self.feedback.also_cancelled = None  # the feedback outlives this task


class TaskDock(QgsDockWidget):
    """Subclasses build their inputs, call `add_controls` and `run_chain`, and implement `succeeded`."""

    def __init__(self, title: str, parent=None):
        super().__init__(title, parent)
        self.task = None
        self.outcome = ""  # "done", "cancelled" or "failed" after a run
        self.context = self.feedback = self.algorithm = None
        self.pending: List[Step] = []
        self.kept: List[str] = []  # files written by the finished steps of the running chain
        self.curves = {}
        self.choices = LayerChoices(self.__class__.__name__)

    def start_choices(self) -> None:
        """Apply the default / remembered layer choices now and whenever the project changes; call it after the
        layer combos exist (their models must see a new layer before the defaults look for it)."""
        project = QgsProject.instance()
        project.layersAdded.connect(self._project_changed)
        project.cleared.connect(self._project_reset)
        project.readProject.connect(self._project_reset)
        self.choices.apply_defaults()

    def set_body(self, body) -> None:
        """The dock's body in a scroll area, so the dock can be small (a laptop screen) and its body scrolls."""
        for combo in body.findChildren(QComboBox):  # long item texts must not widen the dock
            combo.setSizePolicy(QSizePolicy.Ignored, combo.sizePolicy().verticalPolicy())
            combo.setMinimumWidth(120)
        scroll = QScrollArea(self)
        scroll.setObjectName("landSubsidenceDockScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)  # scroll down only: every row fully visible
        scroll.setWidget(body)
        scroll.setMinimumWidth(body.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        self.setWidget(scroll)

    def _alive(self) -> bool:
        return not sip.isdeleted(self)

    def _project_changed(self, *_args) -> None:
        if self._alive():
            self.choices.apply_defaults()

    def _project_reset(self, *_args) -> None:
        if self._alive():
            self.choices.forget_project()
            self.choices.apply_defaults()

    def showEvent(self, event):  # noqa: N802
        self.choices.apply_defaults()
        super().showEvent(event)

    def anchor_layer(self):
        """The input layer the results go below (the points); None: the Results group goes to the top."""
        return None

    def result_name(self, output_name: str, default: str) -> str:
        """The name of a result layer from its output parameter name."""
        return default

    def epoch_status(self, epoch: int, training: float, validation: float) -> Optional[str]:
        return None

    def fitness_status(self, evaluations: int, fitness: float, best: float) -> Optional[str]:
        return None

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
        self.choices.remember()
        self.progress.setValue(0)
        self.outcome = ""
        self.kept = []
        self.pending = list(steps)
        self._start({})

    def _show_status(self, text: Optional[str]) -> None:
        if text:
            self.status.setText(text)

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
        self.feedback.epochFinished.connect(lambda *a: self._show_status(self.epoch_status(*a)))
        self.feedback.fitnessFinished.connect(lambda *a: self._show_status(self.fitness_status(*a)))
        parameters = parameters_of(previous)
        ok, message = self.algorithm.checkParameterValues(parameters, self.context)
        if not ok:
            self.status.setText(message)
            self.pending = []
            return
        self.status.setText(f"Running {self.algorithm.displayName()}…")
        self.task = AlgorithmTask(self.algorithm, parameters, self.context, self.feedback)
        self.task.executed.connect(self._finished)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        QgsApplication.taskManager().addTask(self.task)

    def cancel(self) -> None:
        if self.task is not None:
            self.status.setText("Cancelling…")
            self.pending = []
            self.task.setDescription(f"Land subsidence: {self.algorithm.displayName()} (cancelled)")
            self.task.stop()

    @property
    def running(self) -> bool:
        return self.task is not None

    def _finished(self, successful: bool, results: dict) -> None:
        """Runs on the main thread: start the next step, or add the layers and report."""
        task, self.task = self.task, None  # the task manager deletes the finished task
        if successful and self.pending:
            self.kept += [value for value in results.values() if isinstance(value, str) and os.path.isfile(value)]
            self._start(results)
            return
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if not successful:
            cancelled = self.feedback.isCanceled()
            self.outcome = "cancelled" if cancelled else "failed"
            if cancelled:
                name = self.algorithm.displayName()
                kept = (f" Kept from the finished step(s): {', '.join(self.kept)}." if self.kept else
                        " Nothing was written.")
                self.status.setText(f"Cancelled: {name} wrote nothing.{kept}")
            else:
                log = self.feedback.textLog().strip().splitlines()
                error = task.error if task is not None and task.error else (log[-1] if log else "")
                self.status.setText(error or "The run failed.")
            return
        self.outcome = "done"
        group = None
        for source, details in self.context.layersToLoadOnCompletion().items():
            layer = output_layer(source, self.result_name(details.outputName, details.name))
            if layer is None:
                self.status.setText(f"{details.name}: {source} could not be opened as a raster or vector layer")
                continue
            group = group or self.results_group()
            QgsProject.instance().addMapLayer(layer, False)
            set_legend_title(group.insertLayer(0, layer))
        self.succeeded(results)
        self.progress.setValue(100)

    def results_group(self):
        """The project's "Results" group; a new one goes right below the top-level entry (layer or group) that
        holds the anchor layer, so the results never cover the points."""
        root = QgsProject.instance().layerTreeRoot()
        group = root.findGroup(RESULTS_GROUP)
        if group is not None:
            return group
        index = 0
        anchor = self.anchor_layer()
        node = root.findLayer(anchor.id()) if anchor is not None else None
        if node is not None:
            while node.parent() is not None and node.parent() is not root:
                node = node.parent()
            children = root.children()
            index = next((i + 1 for i, child in enumerate(children) if child is node), 0)
        return root.insertGroup(index, RESULTS_GROUP)
