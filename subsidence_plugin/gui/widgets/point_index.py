"""A spatial index of a point layer for the Time series dock, built once per layer in a background task.

The task reads only the points' coordinates, feature ids and, where asked, one key field (``pid``): from an OGR
file column-wise through GDAL's Arrow stream with every other field ignored (10^6 points in about a second), from
any other layer feature by feature through a `QgsVectorLayerFeatureSource` (made on the main thread, safe in the
worker). Multipoints are exploded as everywhere in the plugin (`core.io.points.points_from_wkb`). A KD-tree
(scipy) answers the nearest point to a click in microseconds; a polygon's points come from the core ray-casting
test; the clicked features' attributes are then read by feature id (`QgsFeatureRequest.setFilterFids`).
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from osgeo import ogr
from qgis.core import QgsFeatureRequest, QgsVectorLayerFeatureSource
from qgis.PyQt.QtCore import QVariant, pyqtSignal
from scipy.spatial import cKDTree

from ...core.io.gdal_errors import gdal_exceptions
from ...core.io.points import points_from_wkb
from ...core.io.vectors import arrow_batches
from ...core.spatial.polygons import points_in_polygons
from ...processing.inputs import ogr_file_of
from .background_task import BackgroundTask


def key_string(value) -> str:
    """A key value (number, string, bytes) as a string, whole numbers without a decimal point; "" for none
    (None, NULL, masked, NaN)."""
    if value is None or value is np.ma.masked or isinstance(value, QVariant):
        return ""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, (float, np.floating)):
        return "" if value != value else str(int(value)) if float(value).is_integer() else str(float(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def key_strings(values) -> np.ndarray:
    """`key_string` of every value (an array, masked or not, or a list)."""
    if isinstance(values, np.ma.MaskedArray):
        values = np.where(np.ma.getmaskarray(values), None, values.data.astype(object))
    return np.array([key_string(v) for v in list(values)], dtype=object)


class PointIndex:
    """The points of one layer in its CRS: ``x``, ``y``, feature ids ``fids`` and ``keys`` (strings, or None),
    one row a point (a multipoint's parts are rows with the same fid)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, fids: np.ndarray, keys: Optional[np.ndarray] = None):
        self.x, self.y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.fids = np.asarray(fids, dtype=np.int64)
        self.keys = keys
        self.tree = cKDTree(np.column_stack([self.x, self.y]), balanced_tree=False, compact_nodes=False)
        self._order = None

    def __len__(self) -> int:
        return len(self.x)

    def nearest(self, x: float, y: float, radius: float) -> Optional[int]:
        """The row of the point nearest (x, y) within ``radius`` (layer units), else None."""
        if not len(self):
            return None
        distance, row = self.tree.query([x, y], distance_upper_bound=radius)
        return int(row) if np.isfinite(distance) else None

    def inside(self, polygon_wkb: bytes) -> np.ndarray:
        """The rows of the points inside a polygon (WKB in the layer's CRS)."""
        return np.flatnonzero(points_in_polygons(self.x, self.y, [polygon_wkb]))

    def rows_with_key(self, key: str) -> np.ndarray:
        """The rows whose key is ``key`` (none without keys or for the empty key)."""
        if self.keys is None or not key:
            return np.zeros(0, dtype=np.int64)
        if self._order is None:
            self._order = np.argsort(self.keys.astype(str), kind="stable")
            self._sorted = self.keys.astype(str)[self._order]
        low, high = np.searchsorted(self._sorted, key, "left"), np.searchsorted(self._sorted, key, "right")
        return self._order[low:high]


def read_ogr_points(path: str, layer_name: Optional[str], key_field: Optional[str]):
    """(x, y, fids, keys or None) of an OGR file's point layer, every field but ``key_field`` ignored; None
    when GDAL has no Arrow stream or the stream loses features (the caller reads feature by feature)."""
    if not hasattr(ogr.Layer, "GetArrowStreamAsNumPy"):
        return None
    with gdal_exceptions():
        dataset = ogr.Open(path)
        layer = dataset.GetLayerByName(layer_name) if layer_name else dataset.GetLayer(0)
        definition = layer.GetLayerDefn()
        names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
        layer.SetIgnoredFields([name for name in names if name != key_field] + ["OGR_STYLE"])
        batches = arrow_batches(layer)
        fid_key = layer.GetFIDColumn() or "OGC_FID"
        if sum(len(batch[fid_key]) for batch in batches) != layer.GetFeatureCount():
            return None
        geometry_key = layer.GetGeometryColumn() or "wkb_geometry"
        fids = np.concatenate([batch[fid_key] for batch in batches]).astype(np.int64)
        x, y, owner = points_from_wkb([g for batch in batches for g in batch[geometry_key]])
        keys = None
        if key_field:
            parts = [batch[key_field] for batch in batches]
            keys = key_strings(np.ma.concatenate(parts) if any(isinstance(p, np.ma.MaskedArray) for p in parts)
                               else np.concatenate(parts))[owner]
    return x, y, fids[owner], keys


class PointIndexTask(BackgroundTask):
    """Builds a `PointIndex` of a layer in the background; ``built`` is emitted on the main thread when it ends
    (``index`` set, or ``error``)."""

    built = pyqtSignal(str)  # the layer id

    def __init__(self, layer, key_field: Optional[str] = None):
        super().__init__(f"Land subsidence: indexing the points of {layer.name()}")
        self.layer_id, self.key_field = layer.id(), key_field
        self.key_index = layer.fields().lookupField(key_field) if key_field else -1
        self.path, self.layer_name = ogr_file_of(layer)
        self.source, self.count = QgsVectorLayerFeatureSource(layer), layer.featureCount()
        self.index: Optional[PointIndex] = None
        self.error = ""

    def run(self) -> bool:  # worker thread: no widget, no project
        try:
            points = read_ogr_points(self.path, self.layer_name, self.key_field) if self.path else None
            if points is None:
                points = self._read_source()
            if points is None:
                return False
            self.index = PointIndex(*points)
        except Exception as error:  # noqa: BLE001 - reported in the dock, never raised in the worker
            self.error = f"{type(error).__name__}: {error}"
            return False
        return True

    def _read_source(self):
        request = QgsFeatureRequest().setSubsetOfAttributes([self.key_index] if self.key_index >= 0 else [])
        fids, wkbs, keys = [], [], []
        total = max(1, self.count)
        for number, feature in enumerate(self.source.getFeatures(request)):
            if number % 10000 == 0:
                if self.stopped():
                    return None
                self.setProgress(100.0 * number / total)
            geometry = feature.geometry()
            fids.append(feature.id())
            wkbs.append(None if geometry.isNull() or geometry.isEmpty() else bytes(geometry.asWkb()))
            if self.key_index >= 0:
                keys.append(feature.attribute(self.key_index))
        x, y, owner = points_from_wkb(wkbs)
        fids = np.array(fids, dtype=np.int64)
        return x, y, fids[owner], key_strings(keys)[owner] if self.key_index >= 0 else None

    def finished(self, result: bool) -> None:  # main thread
        if not result and not self.error:
            self.error = "cancelled"
        self.built.emit(self.layer_id)
