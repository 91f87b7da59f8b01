"""Writing Processing outputs: styled rasters added to the project when the algorithm ends, table sinks."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from qgis.core import (QgsFeature, QgsFeatureSink, QgsField, QgsFields, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingLayerPostProcessorInterface, QgsWkbTypes)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QVariant

from ..core.progress import Cancelled


def load_on_completion(context: QgsProcessingContext, source: str, name: str, output_name: str) -> None:
    """Add an output to the project when the algorithm finishes (its saved default style applies)."""
    details = QgsProcessingContext.LayerDetails(name, context.project(), output_name)
    context.addLayerToLoadOnCompletion(source, details)


class PluginStyle(QgsProcessingLayerPostProcessorInterface):
    """Once Processing has added an output to the project: the style the algorithm saved as the output's default
    (.qml or the GeoPackage's style table; QGIS 3.22's Processing loads outputs without it), and for a raster a
    legend heading with the band's name without '(Gray)' (`styles.set_legend_title`). Outputs written through
    a feature sink have no saved style: ``styler(layer)``, when given, styles them."""

    def __init__(self, styler=None):
        super().__init__()
        self.styler = styler

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        from .styles import set_legend_title

        layer.loadDefaultStyle()
        if self.styler is not None:
            self.styler(layer)
        layer.triggerRepaint()
        project = context.project()
        node = project.layerTreeRoot().findLayer(layer.id()) if project is not None else None
        if node is not None:
            set_legend_title(node)


_PLUGIN_STYLES = []  # the Python side of the post-processors contexts hold (sip keeps no reference to them)


def style_on_load(context: QgsProcessingContext, sources, stylers=None) -> None:
    """Give the layers ``sources`` that Processing will load from ``context`` a `PluginStyle` post-processor
    (where they have none), with the styler ``stylers`` names for their output, if any. One instance a layer:
    the context owns and deletes it; the module keeps each one's Python object until then."""
    _PLUGIN_STYLES[:] = [style for style in _PLUGIN_STYLES if not sip.isdeleted(style)]
    loads = context.layersToLoadOnCompletion()
    for source in sources:
        if loads[source].postProcessor() is None:
            _PLUGIN_STYLES.append(PluginStyle((stylers or {}).get(loads[source].outputName)))
            loads[source].setPostProcessor(_PLUGIN_STYLES[-1])
    context.setLayersToLoadOnCompletion(loads)


def finish_raster_output(context: QgsProcessingContext, path: str, name: str, output_name: str, styler) -> None:
    """Style a written raster, save the style as its default (.qml) and load it when the algorithm ends."""
    from qgis.core import QgsRasterLayer

    from .styles import save_default_style

    layer = QgsRasterLayer(path, name)
    styler(layer)
    save_default_style(layer)
    load_on_completion(context, path, name, output_name)


def point_sink(algorithm, parameters, key: str, context, crs, x: np.ndarray, y: np.ndarray,
               columns: Sequence[tuple], feedback=None, batch: int = 50000):
    """Write points with attribute columns to a point output; ``columns`` are (name, "string" | "double" |
    "int", values; NaN and None are NULL). Each batch's columns are turned into Python lists at once, each
    feature gets one ``setAttributes`` and the batch is added in one call (no per-value Python work beyond
    that, and memory bounded by the batch)."""
    from qgis.core import QgsGeometry, QgsPointXY

    kinds = {"string": QVariant.String, "double": QVariant.Double, "int": QVariant.Int}
    fields = QgsFields()
    for name, kind, _ in columns:
        fields.append(QgsField(name, kinds[kind]))
    sink, dest = algorithm.parameterAsSink(parameters, key, context, fields, QgsWkbTypes.Point, crs)
    if sink is None:
        return None
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    for start in range(0, len(x), batch):  # Python values of one batch at a time: memory bounded
        stop = min(len(x), start + batch)
        values = [_plain_column(v[start:stop], kind) for _, kind, v in columns]
        rows = zip(*values) if values else [()] * (stop - start)
        features = []
        for px, py, row in zip(x[start:stop].tolist(), y[start:stop].tolist(), rows):
            feature = QgsFeature(fields)
            feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(px, py)))
            feature.setAttributes(list(row))
            features.append(feature)
        if feedback is not None and feedback.isCanceled():
            raise Cancelled()
        _add_all(sink, features, key)
    return dest


def _plain_column(values, kind) -> list:
    """A column as Python values of the field's kind, NaN as None (NULL)."""
    if kind == "string":
        return [None if v is None else str(v) for v in values]
    array = np.asarray(values, dtype=np.float64)
    out = array.astype(np.int64).tolist() if kind == "int" else array.tolist()
    return [None if missing else v for v, missing in zip(out, np.isnan(array).tolist())] if np.isnan(array).any() \
        else out


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
    _add_all(sink, features, key)
    return dest


def _add_all(sink, features: list, key: str) -> None:
    """Add features to a sink; a sink that could not write every feature is a failure (disk full, ...)."""
    if features and not sink.addFeatures(features, QgsFeatureSink.FastInsert):
        raise QgsProcessingException(f"{key}: {len(features)} feature(s) could not be written "
                                     f"({sink.lastError() or 'the output refused them'}); nothing was written")


def _plain(value, kind):
    if kind == "string":
        return str(value)
    if kind == "int":
        return int(value)
    value = float(value)
    return None if np.isnan(value) else value
