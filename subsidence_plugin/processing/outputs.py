"""Writing Processing outputs: styled rasters added to the project when the algorithm ends, table sinks."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from qgis.core import QgsFeature, QgsFeatureSink, QgsField, QgsFields, QgsProcessingContext, QgsWkbTypes
from qgis.PyQt.QtCore import QVariant


def load_on_completion(context: QgsProcessingContext, source: str, name: str, output_name: str) -> None:
    """Add an output to the project when the algorithm finishes (its saved default style applies)."""
    details = QgsProcessingContext.LayerDetails(name, context.project(), output_name)
    context.addLayerToLoadOnCompletion(source, details)


def finish_raster_output(context: QgsProcessingContext, path: str, name: str, output_name: str, styler) -> None:
    """Style a written raster, save the style as its default (.qml) and load it when the algorithm ends."""
    from qgis.core import QgsRasterLayer

    from .styles import save_default_style

    layer = QgsRasterLayer(path, name)
    styler(layer)
    save_default_style(layer)
    load_on_completion(context, path, name, output_name)


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
