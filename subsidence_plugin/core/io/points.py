"""Point-layer reader for InSAR measurement points, wells, piezometers and stations.

Returns coordinates, attributes and, where the layer has them, time-series fields as dates and a matrix.
Date fields follow the conventions of InSAR exports: ``DYYYYMMDD`` (SARPROZ, ESA GEP), ``D_YYYYMMDD`` and
plain ``YYYYMMDD`` (EGMS). Attributes are read column-wise through GDAL's Arrow interface (GDAL >= 3.6) and
geometries are decoded from WKB with numpy, so 10^6 points read without a per-point Python loop.
Multipoint features are exploded: every part becomes a point that keeps its feature's attributes and fid.
"""
from __future__ import annotations

import datetime as _dt
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from osgeo import ogr, osr

from .gdal_errors import raising_gdal_errors
from .vectors import arrow_batches

_DATE_FIELD = re.compile(r"^(?:[dD]_?)?(\d{8})$")


class PointReadError(ValueError):
    """A point layer that cannot be used; the message names the file and the problem."""


def date_of_field(name: str) -> Optional[np.datetime64]:
    """The date a time-series field name stands for (``DYYYYMMDD``, ``D_YYYYMMDD``, ``YYYYMMDD``), else None."""
    match = _DATE_FIELD.match(name)
    if not match:
        return None
    try:
        day = _dt.datetime.strptime(match.group(1), "%Y%m%d").date()
    except ValueError:
        return None
    return np.datetime64(day, "D")


def date_field_name(date: np.datetime64, style: str = "D") -> str:
    """Field name for a date in one of the conventions: ``D`` (DYYYYMMDD), ``D_`` or ``""`` (YYYYMMDD)."""
    return f"{style}{str(np.datetime64(date, 'D')).replace('-', '')}"


@dataclass
class PointTable:
    """Points of one layer: coordinates, attributes and the time series found in date fields.

    ``series`` is (points, dates) in the layer's units with NaN where a value is missing; ``dates`` are
    ``datetime64[D]`` in increasing order, ``date_fields`` the field each date came from.
    """

    path: str
    layer_name: str
    crs_wkt: str
    x: np.ndarray
    y: np.ndarray
    fids: np.ndarray
    attributes: Dict[str, np.ndarray] = field(default_factory=dict)
    dates: np.ndarray = field(default_factory=lambda: np.array([], dtype="datetime64[D]"))
    series: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    date_fields: List[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.x)

    @property
    def has_series(self) -> bool:
        return len(self.dates) > 0

    def numeric(self, name: str) -> np.ndarray:
        """A field as float64 (NaN where missing); a clear error when it is absent or not numeric."""
        if name in self.attributes:
            values = self.attributes[name]
        elif name in self.date_fields:
            return self.series[:, self.date_fields.index(name)]
        else:
            raise PointReadError(f"{self.path}: layer {self.layer_name!r} has no field {name!r} "
                                 f"(fields: {', '.join(list(self.attributes) + self.date_fields)})")
        if values.dtype.kind in "fiub":
            return values.astype(np.float64)
        try:
            return _to_float(values)
        except ValueError as error:
            raise PointReadError(f"{self.path}: field {name!r} is not numeric ({error})") from error

    def years_since_first(self) -> np.ndarray:
        """Acquisition times in decimal years since the first date."""
        return (self.dates - self.dates[0]).astype(np.float64) / 365.25


def _to_float(values: np.ndarray) -> np.ndarray:
    """Strings or objects to float64; empty strings and None become NaN, anything else non-numeric raises."""
    text = np.array(["nan" if v is None or (isinstance(v, (bytes, str)) and not v.strip()) else
                     (v.decode() if isinstance(v, bytes) else v) for v in values.tolist()], dtype=object)
    try:
        return text.astype(np.float64)
    except ValueError:
        bad = next(v for v in text if not _is_number(v))
        raise ValueError(f"value {bad!r} is not a number") from None


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _column_to_numpy(values) -> np.ndarray:
    """Arrow-batch column (maybe masked) to float64 with NaN for nulls, or to an object array of str."""
    if isinstance(values, np.ma.MaskedArray):
        if values.dtype.kind in "fiub":
            return values.astype(np.float64).filled(np.nan)
        data = values.data.astype(object)
        data[np.ma.getmaskarray(values)] = None
        values = data
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        return values.astype(np.float64) if values.dtype.kind != "b" else values
    if values.dtype.kind == "S":
        return values.astype("U").astype(object)
    return np.array([v.decode() if isinstance(v, bytes) else v for v in values.tolist()], dtype=object)


def _u32(buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return buf[offsets[:, None] + np.arange(4)].copy().view("<u4").ravel()


def _f64(buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    return buf[offsets[:, None] + np.arange(8)].copy().view("<f8").ravel()


def points_from_wkb(geometries: Sequence) -> tuple:
    """Decode little-endian ISO WKB points and multipoints with numpy.

    Returns (x, y, feature_index): one entry per point, multipoints exploded, empty and null geometries
    dropped. Raises ValueError for other geometry types.
    """
    geoms = [b"" if g is None else bytes(g) for g in geometries]
    lengths = np.fromiter(map(len, geoms), dtype=np.int64, count=len(geoms))
    present = np.flatnonzero(lengths > 0)
    buf = np.frombuffer(b"".join(geoms), dtype=np.uint8)
    starts = (np.cumsum(lengths) - lengths)[present]
    if len(present) == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    if np.any(buf[starts] != 1):
        raise ValueError("big-endian WKB geometries are not supported")
    gtype = _u32(buf, starts + 1)
    base, flavour = gtype % 1000, gtype // 1000
    if np.any(flavour > 3) or np.any(~np.isin(base, (1, 4))):
        raise ValueError("only point and multipoint geometries can be read as points")
    dims = 2 + (flavour == 1) + (flavour == 2) + 2 * (flavour == 3)
    is_multi = base == 4
    counts = np.ones(len(present), dtype=np.int64)
    counts[is_multi] = _u32(buf, starts[is_multi] + 5)
    part_size = 5 + 8 * dims
    owner = np.repeat(np.arange(len(present)), counts)
    part_index = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    coord_offset = np.where(is_multi[owner], starts[owner] + 9 + part_index * part_size[owner] + 5,
                            starts[owner] + 5)
    x = _f64(buf, coord_offset)
    y = _f64(buf, coord_offset + 8)
    keep = ~(np.isnan(x) | np.isnan(y))
    return x[keep], y[keep], present[owner[keep]]


@raising_gdal_errors
def _open_layer(path: str, layer: Optional[str]):
    if not path or not os.path.exists(path):
        raise PointReadError(f"Point layer not found: {path}")
    try:
        ds = ogr.Open(path)
    except RuntimeError as error:
        raise PointReadError(f"Cannot open {path} as a vector layer: {error}") from error
    if ds is None or ds.GetLayerCount() == 0:
        raise PointReadError(f"{path} holds no vector layer")
    try:
        lyr = ds.GetLayerByName(layer) if layer else ds.GetLayer(0)
    except RuntimeError:
        lyr = None
    if lyr is None:
        names = [ds.GetLayer(i).GetName() for i in range(ds.GetLayerCount())]
        raise PointReadError(f"{path} has no layer {layer!r} (layers: {', '.join(names)})")
    return ds, lyr


@raising_gdal_errors
def read_points(path: str, layer: Optional[str] = None, require_crs: bool = True) -> PointTable:
    """Read a point layer (GeoPackage, shapefile, any OGR format) into a `PointTable`.

    Raises `PointReadError` for a missing or empty layer, a layer without CRS, non-point geometries and
    date fields holding non-numeric values.
    """
    ds, lyr = _open_layer(path, layer)
    name = lyr.GetName()
    srs = lyr.GetSpatialRef()
    if srs is not None and (srs.GetName() or "").lower().startswith("undefined"):
        srs = None  # GeoPackage srs_id 0 / -1: "Undefined geographic / Cartesian SRS"
    if require_crs and srs is None:
        raise PointReadError(f"{path}: layer {name!r} has no coordinate reference system; assign one first")
    if lyr.GetFeatureCount() == 0:
        raise PointReadError(f"{path}: layer {name!r} is empty (no features)")
    flat = ogr.GT_Flatten(lyr.GetGeomType())
    if flat not in (ogr.wkbPoint, ogr.wkbMultiPoint, ogr.wkbUnknown):
        raise PointReadError(f"{path}: layer {name!r} holds {ogr.GeometryTypeToName(lyr.GetGeomType())} "
                             "geometries, not points")
    defn = lyr.GetLayerDefn()
    field_names = [defn.GetFieldDefn(i).GetName() for i in range(defn.GetFieldCount())]
    columns, fids, geoms = _read_columns(lyr, field_names)
    return point_table(path, name, srs.ExportToWkt() if srs else "", columns, fids, geoms)


def point_table(path: str, layer_name: str, crs_wkt: str, columns: Dict[str, np.ndarray], fids: np.ndarray,
                geometries: Sequence) -> PointTable:
    """A `PointTable` from attribute columns (one value per feature), feature ids and WKB geometries, with the
    plugin's one multipoint policy: every part of a multipoint becomes a point that keeps its feature's
    attributes and fid; features without a geometry are dropped. Date fields become the series matrix."""
    try:
        x, y, owner = points_from_wkb(geometries)
    except ValueError as error:
        raise PointReadError(f"{path}: layer {layer_name!r}: {error}") from error
    if x.size == 0:
        raise PointReadError(f"{path}: layer {layer_name!r} has no point with coordinates")
    dated = sorted((date_of_field(f), f) for f in columns if date_of_field(f) is not None)
    attributes = {fname: _column_to_numpy(values)[owner] for fname, values in columns.items()
                  if date_of_field(fname) is None}
    series_columns = []
    for _, fname in dated:
        values = _column_to_numpy(columns[fname])[owner]
        if values.dtype.kind not in "fiub":
            try:
                values = _to_float(values)
            except ValueError as error:
                raise PointReadError(f"{path}: date field {fname!r} is not numeric ({error})") from error
        series_columns.append(values.astype(np.float64))
    series = np.stack(series_columns, axis=1) if series_columns else np.zeros((x.size, 0))
    return PointTable(path=path, layer_name=layer_name, crs_wkt=crs_wkt, x=x, y=y,
                      fids=np.asarray(fids, dtype=np.int64)[owner], attributes=attributes,
                      dates=np.array([d for d, _ in dated], dtype="datetime64[D]"), series=series,
                      date_fields=[f for _, f in dated])


@raising_gdal_errors
def transform_points(x: np.ndarray, y: np.ndarray, source_wkt: str, target_wkt: str):
    """x, y from one CRS to another (both as WKT, x = easting / longitude), all points in one call."""
    source, target = osr.SpatialReference(), osr.SpatialReference()
    for srs, wkt in ((source, source_wkt), (target, target_wkt)):
        srs.ImportFromWkt(wkt)
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    if source.IsSame(target) or len(x) == 0:
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    moved = np.asarray(osr.CoordinateTransformation(source, target).TransformPoints(
        np.column_stack([x, y]).astype(np.float64)), dtype=np.float64)
    return moved[:, 0], moved[:, 1]


def _read_columns(lyr, field_names: List[str]):
    """All attribute columns, fids and WKB geometries of a layer, column-wise where GDAL allows.

    A stream that loses features (see `arrow_batches`) falls back to feature-by-feature reading.
    """
    if not hasattr(lyr, "GetArrowStreamAsNumPy"):
        return _read_columns_by_feature(lyr, field_names)
    batches = arrow_batches(lyr, masked=True)
    fid_key = lyr.GetFIDColumn() or "OGC_FID"
    if sum(len(b[fid_key]) for b in batches) != lyr.GetFeatureCount():
        return _read_columns_by_feature(lyr, field_names)
    geom_key = lyr.GetGeometryColumn() or "wkb_geometry"
    columns = {}
    for name in field_names:
        parts = [b[name] for b in batches]
        masked = any(isinstance(p, np.ma.MaskedArray) for p in parts)
        columns[name] = np.ma.concatenate(parts) if masked else np.concatenate(parts)
    fids = np.concatenate([b[fid_key] for b in batches]).astype(np.int64)
    geoms = [g for b in batches for g in b[geom_key]]
    return columns, fids, geoms


@raising_gdal_errors
def _read_columns_by_feature(lyr, field_names: List[str]):
    """Feature-by-feature reading for GDAL older than 3.6 (no Arrow interface)."""
    rows, fids, geoms = [], [], []
    lyr.ResetReading()
    for feature in lyr:
        rows.append([feature.GetField(f) for f in field_names])
        fids.append(feature.GetFID())
        geom = feature.GetGeometryRef()
        geoms.append(geom.ExportToIsoWkb(ogr.wkbNDR) if geom is not None else None)
    columns = {}
    for i, fname in enumerate(field_names):
        values = [r[i] for r in rows]
        if all(v is None or isinstance(v, (int, float)) for v in values):
            columns[fname] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        else:
            columns[fname] = np.array(values, dtype=object)
    return columns, np.array(fids, dtype=np.int64), geoms
