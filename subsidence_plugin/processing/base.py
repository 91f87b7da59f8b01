"""Common behaviour of the plugin's Processing algorithms: groups, icon, help link, dependency checks,
core progress/cancel adapters, loading styled outputs into the project and no-geometry table outputs."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

from qgis.core import (QgsProcessingAlgorithm, QgsProcessingException, QgsProcessingFeedback,
                       QgsProcessingParameterDefinition)
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtGui import QIcon

from ..core.progress import Cancelled
from ..dependencies import missing_message, missing_packages
from ..resources import resource_path

HELP_URL = "https://github.com/land-subsidence/qgis-land-subsidence#readme"


class SubsidenceAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set ``NAME``, ``DISPLAY_NAME``, ``GROUP`` and ``HELP`` and may list the
    optional packages they need in ``REQUIRES`` (import names, e.g. ``("torch",)``)."""

    NAME = ""
    DISPLAY_NAME = ""
    GROUP = ""
    HELP = ""
    REQUIRES: Sequence[str] = ()

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
        return self.HELP + note

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
        return super().checkParameterValues(parameters, context)


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


