"""Common behaviour of the plugin's Processing algorithms: groups, icon, help link, dependency checks,
core progress/cancel adapters, loading styled outputs into the project and no-geometry table outputs."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Sequence

import numpy as np
from qgis.core import (QgsFeature, QgsFeatureSink, QgsField, QgsFields, QgsProcessingAlgorithm, QgsProcessingContext,
                       QgsProcessingException, QgsProcessingFeedback, QgsProcessingParameterDefinition, QgsWkbTypes)
from qgis.PyQt.QtCore import QVariant, pyqtSignal
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


def load_on_completion(context: QgsProcessingContext, source: str, name: str, output_name: str) -> None:
    """Add an output to the project when the algorithm finishes (its saved default style applies)."""
    details = QgsProcessingContext.LayerDetails(name, context.project(), output_name)
    context.addLayerToLoadOnCompletion(source, details)


def gdal_raster_path(layer, parameter: str) -> str:
    """The file GDAL reads for a raster layer parameter, or a clear error for non-file layers."""
    if layer is None:
        raise QgsProcessingException(f"{parameter}: no raster layer was given")
    if layer.providerType() != "gdal":
        raise QgsProcessingException(f"{parameter}: {layer.name()} is not a file GDAL can read "
                                     f"(provider {layer.providerType()}); save it as a GeoTIFF first")
    return layer.source().split("|")[0]


def finish_raster_output(context: QgsProcessingContext, path: str, name: str, output_name: str, styler) -> None:
    """Style a written raster, save the style as its default (.qml) and load it when the algorithm ends."""
    from qgis.core import QgsRasterLayer

    from .styles import save_default_style

    layer = QgsRasterLayer(path, name)
    styler(layer)
    save_default_style(layer)
    load_on_completion(context, path, name, output_name)


def feature_wkbs(source, target_crs, context, feedback, parameter: str):
    """WKB of every feature geometry of a feature source, transformed to ``target_crs``.

    Raises a clear error for an empty layer or a layer without any geometry.
    """
    from qgis.core import QgsFeatureRequest

    if source is None:
        raise QgsProcessingException(f"{parameter}: no vector layer was given")
    if source.featureCount() == 0:
        raise QgsProcessingException(f"{parameter}: the layer is empty")
    request = QgsFeatureRequest().setNoAttributes()
    request.setDestinationCrs(target_crs, context.transformContext())
    wkbs = []
    for feature in source.getFeatures(request):
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        geometry = feature.geometry()
        if not geometry.isNull() and not geometry.isEmpty():
            wkbs.append(bytes(geometry.asWkb()))
    if not wkbs:
        raise QgsProcessingException(f"{parameter}: no feature has a geometry")
    return wkbs


def points_with_values(source, field: str, target_crs, context, feedback, parameter: str = "Points"):
    """x, y (in ``target_crs``) and float values of a point source's numeric field; multipoints are
    exploded, features with a null value or no geometry are skipped and counted.

    Returns (x, y, values, skipped). Raises a clear error for a missing or non-numeric field or an empty layer.
    """
    import numpy as np
    from qgis.core import QgsFeatureRequest

    if source is None:
        raise QgsProcessingException(f"{parameter}: no layer was given")
    index = source.fields().lookupField(field)
    if index < 0:
        raise QgsProcessingException(f"{parameter}: there is no field {field!r}")
    if not source.fields().at(index).isNumeric():
        raise QgsProcessingException(f"{parameter}: field {field!r} is not numeric")
    if source.featureCount() == 0:
        raise QgsProcessingException(f"{parameter}: the layer is empty")
    request = QgsFeatureRequest().setSubsetOfAttributes([index])
    request.setDestinationCrs(target_crs, context.transformContext())
    xs, ys, values, skipped = [], [], [], 0
    for feature in source.getFeatures(request):
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        value = feature.attribute(index)
        geometry = feature.geometry()
        if value is None or geometry.isNull() or geometry.isEmpty() or (hasattr(value, "isNull") and value.isNull()):
            skipped += 1
            continue
        for part in geometry.constParts():
            for vertex in part.vertices():
                xs.append(vertex.x())
                ys.append(vertex.y())
                values.append(float(value))
    if not values:
        raise QgsProcessingException(f"{parameter}: no feature has both a geometry and a value in {field!r}")
    return np.array(xs), np.array(ys), np.array(values), skipped


def point_series(source, target_crs, context, feedback, parameter: str = "Points"):
    """x, y (in ``target_crs``), dates and the (points x dates) matrix of a point source's time-series fields
    (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD; NULL = NaN). Multipoints are exploded."""
    import numpy as np
    from qgis.core import QgsFeatureRequest

    from ..core.points_io import date_of_field

    if source is None or source.featureCount() == 0:
        raise QgsProcessingException(f"{parameter}: the layer is missing or empty")
    fields = [(i, f.name(), date_of_field(f.name())) for i, f in enumerate(source.fields())]
    dated = sorted((d, i, name) for i, name, d in fields if d is not None)
    if not dated:
        raise QgsProcessingException(f"{parameter}: no time-series fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD)")
    bad = [name for _, i, name in dated if not source.fields().at(i).isNumeric()]
    if bad:
        raise QgsProcessingException(f"{parameter}: date field(s) {', '.join(bad[:5])} are not numeric")
    request = QgsFeatureRequest().setSubsetOfAttributes([i for _, i, _ in dated])
    request.setDestinationCrs(target_crs, context.transformContext())
    xs, ys, rows = [], [], []
    for feature in source.getFeatures(request):
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            continue
        values = [feature.attribute(i) for _, i, _ in dated]
        row = [np.nan if v is None or (hasattr(v, "isNull") and v.isNull()) else float(v) for v in values]
        for part in geometry.constParts():
            for vertex in part.vertices():
                xs.append(vertex.x())
                ys.append(vertex.y())
                rows.append(row)
    dates = np.array([d for d, _, _ in dated], dtype="datetime64[D]")
    return np.array(xs), np.array(ys), dates, np.array(rows, dtype=np.float64).reshape(len(rows), len(dates))


def add_advanced(algorithm, parameter) -> None:
    """Add a parameter folded under *Advanced parameters*."""
    parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
    algorithm.addParameter(parameter)


def add_dem_input(algorithm) -> None:
    """The DEM raster (INPUT) and its band (BAND, default 1)."""
    from qgis.core import QgsProcessingParameterBand, QgsProcessingParameterRasterLayer

    algorithm.addParameter(QgsProcessingParameterRasterLayer("INPUT", "DEM"))
    algorithm.addParameter(QgsProcessingParameterBand("BAND", "Band", 1, "INPUT", optional=True))


def dem_input(algorithm, parameters, context):
    """(layer, GDAL path, band) of the DEM parameters added by `add_dem_input`."""
    layer = algorithm.parameterAsRasterLayer(parameters, "INPUT", context)
    return layer, gdal_raster_path(layer, "DEM"), algorithm.parameterAsInt(parameters, "BAND", context) or 1


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


def table_sink(algorithm, parameters, key: str, context, columns: Sequence[tuple], rows: Sequence[Sequence]):
    """Write rows to a no-geometry table output; columns are (name, "string" | "double" | "int")."""
    kinds = {"string": QVariant.String, "double": QVariant.Double, "int": QVariant.Int}
    fields = QgsFields()
    for name, kind in columns:
        fields.append(QgsField(name, kinds[kind]))
    sink, dest = algorithm.parameterAsSink(parameters, key, context, fields, QgsWkbTypes.NoGeometry)
    if sink is None:
        return None
    features = []
    for row in rows:
        feature = QgsFeature(fields)
        feature.setAttributes([_plain(v, kind) for v, (_, kind) in zip(row, columns)])
        features.append(feature)
    sink.addFeatures(features, QgsFeatureSink.FastInsert)
    return dest


def _plain(value, kind):
    if kind == "string":
        return str(value)
    if kind == "int":
        return int(value)
    value = float(value)
    return None if np.isnan(value) else value
