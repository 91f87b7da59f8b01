"""Writing Processing outputs: styled rasters added to the project when the algorithm ends, point outputs (new
GeoPackages straight through SQLite), table sinks."""
from __future__ import annotations

import os
import threading
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsFeatureSink, QgsField, QgsFields,
                       QgsProcessingContext, QgsProcessingException, QgsProcessingLayerPostProcessorInterface,
                       QgsProcessingOutputLayerDefinition, QgsProcessingUtils, QgsWkbTypes)
from qgis.PyQt import sip
from qgis.PyQt.QtCore import QVariant

from ..core.io.geopackage import GeoPackagePointWriter, field_blocks
from ..core.progress import Cancelled
from .transaction import output_name


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


_RASTER_STYLES: Dict[str, Tuple[str, Callable]] = {}  # written raster (a run's temporary path) -> (name, styler)
_RASTER_STYLES_LOCK = threading.Lock()


def finish_raster_output(context: QgsProcessingContext, path: str, name: str, output_name: str, styler) -> None:
    """Load a written raster when the algorithm ends, styled by ``styler`` and with that style saved as its default
    (.qml). Only recorded here (a worker thread may call it): `SubsidenceAlgorithm` styles the file on the main
    thread once the run's outputs are in place (`take_raster_styles`, `style_raster_file`). QGIS 3.22's raster
    layers made in a task's thread crashed QGIS under the styling (CI)."""
    with _RASTER_STYLES_LOCK:
        _RASTER_STYLES[path] = (name, styler)
    load_on_completion(context, path, name, output_name)


def take_raster_styles(prefixes: Sequence[str]) -> List[Tuple[str, str, Callable]]:
    """(path, name, styler) of the rasters `finish_raster_output` recorded under any of ``prefixes`` (a run's
    temporary paths), forgotten here."""
    with _RASTER_STYLES_LOCK:
        paths = [path for path in _RASTER_STYLES if any(path.startswith(prefix) for prefix in prefixes)]
        return [(path, *_RASTER_STYLES.pop(path)) for path in paths]


def style_raster_file(path: str, name: str, styler) -> None:
    """Style a raster file and save the style as its default (.qml); main thread."""
    from qgis.core import QgsRasterLayer

    from .styles import save_default_style

    layer = QgsRasterLayer(path, name)
    styler(layer)
    save_default_style(layer)


class PointOutput:
    """A point output written in blocks of points. A new GeoPackage file goes straight through SQLite
    (`core.io.geopackage`: 10^6 points x 300 fields in about half a minute, the layer named after the target
    file, integers as Integer64); any other destination (memory layer, shapefile, a layer added to an existing
    GeoPackage, a database) through a QGIS feature sink. ``fields``: (name, "string" | "double" | "int"). Use it in
    a ``with`` block and `add` blocks; on an error or a cancel the GeoPackage is removed. ``dest``: the output's
    value (None for an optional output that is not wanted)."""

    def __init__(self, algorithm, parameters, key: str, context, crs, fields: Sequence[tuple], feedback=None):
        self.key, self.fields, self.feedback = key, list(fields), feedback
        self._writer = self._sink = None
        path = _new_geopackage(parameters.get(key))
        if path is None:
            kinds = {"string": QVariant.String, "double": QVariant.Double, "int": QVariant.Int}
            self._fields = QgsFields()
            for name, kind in self.fields:
                self._fields.append(QgsField(name, kinds[kind]))
            self._sink, self.dest = algorithm.parameterAsSink(parameters, key, context, self._fields,
                                                              QgsWkbTypes.Point, crs)
            return
        if os.path.exists(path):
            os.remove(path)  # a new file, as a QGIS sink makes
        crs_text = crs.authid() if crs.authid().startswith("EPSG:") else \
            crs.toWkt(QgsCoordinateReferenceSystem.WKT_PREFERRED_GDAL) if crs.isValid() else ""
        try:
            self._writer = GeoPackagePointWriter(path, output_name(path), crs_text, self.fields)
        except ValueError as error:
            raise QgsProcessingException(f"{key}: {error}") from error
        self.dest = path
        value = parameters.get(key)
        if isinstance(value, QgsProcessingOutputLayerDefinition) and value.destinationProject is not None:
            name = value.destinationName or algorithm.parameterDefinition(key).description()
            context.addLayerToLoadOnCompletion(path, QgsProcessingContext.LayerDetails(
                name, value.destinationProject, key, QgsProcessingUtils.LayerHint.Vector))

    def add(self, x: np.ndarray, y: np.ndarray, columns: Sequence[np.ndarray]) -> None:
        """Write a block of points: ``columns`` holds one array a field, in the fields' order, or a (points, k) array
        for k consecutive fields (NaN and None are NULL)."""
        if self.feedback is not None and self.feedback.isCanceled():
            raise Cancelled()
        if self._writer is not None:
            self._writer.add(x, y, columns)
        elif self._sink is not None:
            blocks = field_blocks(columns, len(self.fields), len(x))
            self._add_features(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64),
                               [values[:, k] for _, values in blocks for k in range(values.shape[1])])

    def _add_features(self, x, y, values) -> None:
        """Each column turned into Python values at once, one ``setAttributes`` a feature, the block added in one
        call."""
        from qgis.core import QgsGeometry, QgsPointXY

        rows = zip(*[_plain_column(v, kind) for v, (_, kind) in zip(values, self.fields)]) if values else \
            [()] * len(x)
        features = []
        for px, py, row in zip(x.tolist(), y.tolist(), rows):
            feature = QgsFeature(self._fields)
            feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(px, py)))
            feature.setAttributes(list(row))
            features.append(feature)
        _add_all(self._sink, features, self.key)

    def __enter__(self) -> "PointOutput":
        return self

    def __exit__(self, kind, error, trace) -> None:
        if self._writer is None:
            return
        if kind is None:
            self._writer.close()
        else:
            self._writer.abort()


def _new_geopackage(value):
    """The file of a destination that is a plain GeoPackage path (not a layer of an existing file), else None."""
    if isinstance(value, QgsProcessingOutputLayerDefinition):
        value = value.sink.staticValue()
    if isinstance(value, str) and value.lower().endswith(".gpkg") and "|" not in value and \
            not value.startswith("ogr:"):
        return value
    return None


def point_sink(algorithm, parameters, key: str, context, crs, x: np.ndarray, y: np.ndarray,
               columns: Sequence[tuple], feedback=None, batch: int = 50000):
    """Write points with attribute columns to a point output (`PointOutput`, in blocks of ``batch`` points: memory
    bounded); ``columns`` are (name, "string" | "double" | "int", values; NaN and None are NULL). Returns the
    output's value."""
    arrays = [np.asarray(values) for _, _, values in columns]
    with PointOutput(algorithm, parameters, key, context, crs, [(name, kind) for name, kind, _ in columns],
                     feedback) as output:
        for start in range(0, len(x), batch):
            output.add(x[start:start + batch], y[start:start + batch], [a[start:start + batch] for a in arrays])
    return output.dest


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
