"""Common behaviour of the plugin's Processing algorithms: groups, icon, help link, dependency checks,
core progress/cancel adapters, loading styled outputs into the project and no-geometry table outputs."""
from __future__ import annotations

import traceback
from contextlib import contextmanager
from typing import Sequence

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingFeedback,
                       QgsProcessingParameterDefinition)
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtGui import QIcon

from ..core.progress import Cancelled
from ..dependencies import missing_message, missing_packages
from ..resources import resource_path
from .outputs import style_on_load, style_raster_file, take_raster_styles
from .transaction import OutputTransaction, input_files, output_problems

HELP_URL = "https://github.com/land-subsidence/qgis-land-subsidence#readme"
REFERENCE_NOTE = ("<p><b>Reference raster:</b> only its grid is used (extent, cell size, CRS); its values and its "
                  "nodata cells are not: every cell of the grid gets a value.</p>")
OUTPUTS_NOTE = ("<p><b>Outputs:</b> all or none. They are written beside their targets and put in place together "
                "when the run has succeeded; after an error or a cancel every file is as before the run. Missing "
                "folders are created; two outputs on one file, or an output that would overwrite an input, are "
                "refused.</p>")


class SubsidenceAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set ``NAME``, ``DISPLAY_NAME``, ``GROUP`` and ``HELP`` and may list the
    optional packages they need in ``REQUIRES`` (import names, e.g. ``("torch",)``)."""

    NAME = ""
    DISPLAY_NAME = ""
    GROUP = ""
    HELP = ""
    REQUIRES: Sequence[str] = ()
    output_stylers: dict = {}  # output name -> callable(layer) that styles a sink output when it is loaded
    _inputs = None  # the run's input files (`prepareAlgorithm`)
    _raster_styles = ()  # the run's (committed raster, name, styler), applied in `postProcessAlgorithm`

    def name(self):
        return self.NAME

    def displayName(self):  # noqa: N802
        return self.DISPLAY_NAME

    def group(self):
        return self.GROUP

    def groupId(self):  # noqa: N802
        return self.GROUP.lower().replace(" ", "").replace("-", "")

    def shortHelpString(self):  # noqa: N802
        needs = missing_packages(self.REQUIRES)
        note = f"<p><b>Missing dependency:</b> {missing_message(needs)}</p>" if needs else ""
        reference = self.parameterDefinition("REFERENCE")
        if reference is not None and reference.type() == "raster":  # a reference grid (importinsarseries' differs)
            note = REFERENCE_NOTE + note
        return self.HELP + note + OUTPUTS_NOTE

    def helpUrl(self):  # noqa: N802
        return HELP_URL

    def icon(self):
        return QIcon(resource_path("icon.svg"))

    def createInstance(self):  # noqa: N802
        return type(self)()

    def checkParameterValues(self, parameters, context):  # noqa: N802
        needs = missing_packages(self.REQUIRES)
        if needs:
            return False, missing_message(needs)
        ok, message = super().checkParameterValues(parameters, context)
        if not ok:
            return ok, message
        problem = output_problems(self, parameters, context)
        return (False, problem) if problem else (True, "")

    def prepareAlgorithm(self, parameters, context, feedback):  # noqa: N802
        """Main thread: find the input files now (`input_files` looks layers up in the project, which a task's
        worker thread must not touch)."""
        self._inputs = input_files(self, parameters, context)
        return True

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        """Runs `process` inside one output transaction (`processing.transaction`): all outputs or none. Only a
        QgsProcessingException reaches the user; an unexpected error is reported with its type and message (the
        traceback goes to the log's debug information) and leaves nothing behind. Rasters are styled later, on the
        main thread (`postProcessAlgorithm`)."""
        transaction = OutputTransaction(self, parameters, context, self._inputs)
        loading = set(context.layersToLoadOnCompletion())
        try:
            if feedback is not None and feedback.isCanceled():
                raise Cancelled()  # stopped before it started (a dock's Cancel right after Run)
            run_parameters = transaction.begin()
            results = self.process(run_parameters, context, feedback)
            if feedback.isCanceled():
                raise Cancelled()
            results = transaction.commit(results)
            self._raster_styles = [(transaction.final_of(path), name, styler)
                                   for path, name, styler in take_raster_styles(transaction.temporary_stems())]
            style_on_load(context, set(context.layersToLoadOnCompletion()) - loading, self.output_stylers)
            return results
        except QgsProcessingException:
            self._abandon(transaction)
            raise
        except Cancelled:
            self._abandon(transaction)
            raise QgsProcessingException("Cancelled: no output was written") from None
        except Exception as error:  # noqa: BLE001 (a bug must still leave nothing behind and no traceback)
            self._abandon(transaction)
            feedback.pushDebugInfo(traceback.format_exc())
            raise QgsProcessingException(f"{self.displayName()} failed: {type(error).__name__}: {error} "
                                         "(nothing was written; details in the log)") from error

    @staticmethod
    def _abandon(transaction: OutputTransaction) -> None:
        transaction.rollback()
        take_raster_styles(transaction.temporary_stems())

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802
        """Main thread, before Processing loads the outputs: style the run's rasters and save each style as the
        file's default (.qml)."""
        for path, name, styler in self._raster_styles:
            style_raster_file(path, name, styler)
        self._raster_styles = ()
        return {}

    def process(self, parameters, context, feedback) -> dict:
        """The algorithm itself: subclasses write their outputs where ``parameters`` say (temporary paths of
        the run's transaction) and return the results."""
        raise NotImplementedError


def progress_adapter(feedback: QgsProcessingFeedback):
    """A core ``progress(percent, message)`` callback that reports through Processing feedback."""
    def report(percent: float, message: str) -> None:
        feedback.setProgress(percent)
        if message:
            feedback.setProgressText(message)
    return report


def add_advanced(algorithm, parameter) -> None:
    """Add a parameter folded under *Advanced parameters*."""
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    algorithm.addParameter(parameter)


class TrainingFeedback(QgsProcessingFeedback):
    """Processing feedback that also signals each finished training epoch (epoch, training loss, validation
    loss), for live loss curves, and each evaluated optimiser candidate (evaluations, candidate fitness, best
    fitness), for live fitness curves; the signals may be emitted from a worker thread (queued to the widgets)."""

    epochFinished = pyqtSignal(int, float, float)
    fitnessFinished = pyqtSignal(int, float, float)

    def __init__(self, *args):
        super().__init__(*args)
        self.also_cancelled = None  # a task's isCanceled: a cancel from QGIS's task bar

    def isCanceled(self):  # noqa: N802 (the algorithms' Python checks see the task bar's cancel too)
        return super().isCanceled() or bool(self.also_cancelled is not None and self.also_cancelled())


def report_epoch(feedback: QgsProcessingFeedback, epoch: int, train_loss: float, val_loss: float) -> None:
    """Log an epoch and, with a `TrainingFeedback`, signal it."""
    feedback.pushInfo(f"epoch {epoch}: training loss {train_loss:.4g}, validation loss {val_loss:.4g}")
    if isinstance(feedback, TrainingFeedback):
        feedback.epochFinished.emit(epoch, float(train_loss), float(val_loss))


def report_fitness(feedback: QgsProcessingFeedback, evaluations: int, fitness: float, best: float,
                   name: str = "fitness") -> None:
    """Log an optimiser evaluation and, with a `TrainingFeedback`, signal it."""
    feedback.pushInfo(f"candidate {evaluations}: {name} {fitness:.4f} (best {best:.4f})")
    if isinstance(feedback, TrainingFeedback):
        feedback.fitnessFinished.emit(evaluations, float(fitness), float(best))


@contextmanager
def processing_errors(cancelled: str = "no output was written", prefix: str = ""):
    """Turn a core cancel or a core ValueError (bad input; RasterReadError and PointReadError are ValueErrors)
    into a QgsProcessingException with the same message, optionally prefixed (e.g. with the layer's name)."""
    try:
        yield
    except Cancelled:
        raise QgsProcessingException(f"Cancelled: {cancelled}") from None
    except ValueError as error:
        raise QgsProcessingException(f"{prefix}: {error}" if prefix else str(error)) from error


