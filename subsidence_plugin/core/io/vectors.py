"""Writing point, line and attribute-table layers to a GeoPackage with GDAL/OGR.

The GeoPackage is written to a temporary file and renamed into place when complete, so nothing is left
half-written. Columns are numpy arrays: floats (NaN = null), integers, strings or ``datetime64[D]``.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from osgeo import gdal, ogr, osr

from .gdal_errors import raising_gdal_errors


@raising_gdal_errors
def arrow_batches(lyr, masked: bool = True) -> List[dict]:
    """Non-empty Arrow record batches of a layer as dicts of numpy arrays (GDAL >= 3.6), fids included.

    GDAL 3.6's GeoPackage-specific stream returns only empty batches for wide layers (about 150 fields),
    so the generic implementation is requested for this thread.
    """
    previous = gdal.GetThreadLocalConfigOption("OGR_GPKG_STREAM_BASE_IMPL", None)
    gdal.SetThreadLocalConfigOption("OGR_GPKG_STREAM_BASE_IMPL", "YES")
    try:
        options = [f"USE_MASKED_ARRAYS={'YES' if masked else 'NO'}", "INCLUDE_FID=YES"]
        return [b for b in lyr.GetArrowStreamAsNumPy(options=options) if len(next(iter(b.values()))) > 0]
    finally:
        gdal.SetThreadLocalConfigOption("OGR_GPKG_STREAM_BASE_IMPL", previous)
        lyr.ResetReading()


@dataclass
class VectorLayer:
    """One layer to write: ``points`` (n, 2), ``lines`` (list of (m, 2) arrays) or neither (a plain table)."""

    name: str
    columns: Dict[str, np.ndarray] = field(default_factory=dict)
    points: Optional[np.ndarray] = None
    lines: Optional[Sequence[np.ndarray]] = None
    description: str = ""

    def __len__(self) -> int:
        if self.points is not None:
            return len(self.points)
        if self.lines is not None:
            return len(self.lines)
        return len(next(iter(self.columns.values()))) if self.columns else 0


@raising_gdal_errors
def _field_type(values: np.ndarray) -> int:
    kind = values.dtype.kind
    if kind == "M":
        return ogr.OFTDate
    if kind in "iub":
        return ogr.OFTInteger64 if values.dtype.itemsize > 4 else ogr.OFTInteger
    if kind == "f":
        return ogr.OFTReal
    return ogr.OFTString


def _python_values(values: np.ndarray) -> List:
    if values.dtype.kind == "M":
        return [None if np.isnat(v) else str(v.astype("datetime64[D]")) for v in values]
    if values.dtype.kind == "f":
        return [None if v != v else v for v in values.tolist()]
    return values.tolist()


@raising_gdal_errors
def write_geopackage(path: str, layers: Sequence[VectorLayer], crs_wkt: str) -> str:
    """Write layers into a new GeoPackage at ``path`` (replacing it); returns the path."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp.gpkg")
    srs = osr.SpatialReference()
    srs.ImportFromWkt(crs_wkt)
    try:
        ds = ogr.GetDriverByName("GPKG").CreateDataSource(tmp)
        for spec in layers:
            _write_layer(ds, spec, srs)
        ds = None
        if os.path.exists(path):
            os.remove(path)
        os.replace(tmp, path)
    except BaseException:
        ds = None
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


@raising_gdal_errors
def _write_layer(ds, spec: VectorLayer, srs) -> None:
    if spec.points is not None:
        lyr = ds.CreateLayer(spec.name, srs, ogr.wkbPoint, ["FID=fid"])
    elif spec.lines is not None:
        lyr = ds.CreateLayer(spec.name, srs, ogr.wkbLineString, ["FID=fid"])
    else:
        lyr = ds.CreateLayer(spec.name, None, ogr.wkbNone, ["FID=fid"])
    if spec.description:
        lyr.SetMetadataItem("DESCRIPTION", spec.description)
    names = list(spec.columns)
    for name in names:
        lyr.CreateField(ogr.FieldDefn(name, _field_type(np.asarray(spec.columns[name]))))
    defn = lyr.GetLayerDefn()
    rows = list(zip(*[_python_values(np.asarray(spec.columns[n])) for n in names])) if names else \
        [()] * len(spec)
    ds.StartTransaction()
    for i, row in enumerate(rows):
        feature = ogr.Feature(defn)
        for j, value in enumerate(row):
            if value is not None:
                feature.SetField(j, value)
        if spec.points is not None:
            geom = ogr.Geometry(ogr.wkbPoint)
            geom.AddPoint_2D(float(spec.points[i, 0]), float(spec.points[i, 1]))
            feature.SetGeometry(geom)
        elif spec.lines is not None:
            geom = ogr.Geometry(ogr.wkbLineString)
            for x, y in np.asarray(spec.lines[i], dtype=float):
                geom.AddPoint_2D(float(x), float(y))
            feature.SetGeometry(geom)
        lyr.CreateFeature(feature)
    ds.CommitTransaction()


@raising_gdal_errors
def read_table(path: str, layer: str) -> Dict[str, np.ndarray]:
    """All attribute columns of a layer (e.g. a long table of station, date, value) as numpy arrays.

    Numeric columns become float64 (NaN for nulls), dates ``datetime64[D]``, anything else object arrays.
    """
    if not os.path.exists(path):
        raise ValueError(f"Table not found: {path}")
    ds = ogr.Open(path)
    lyr = ds.GetLayerByName(layer)
    if lyr is None:
        raise ValueError(f"{path} has no layer {layer!r}")
    defn = lyr.GetLayerDefn()
    fields = [defn.GetFieldDefn(i) for i in range(defn.GetFieldCount())]
    batches = arrow_batches(lyr, masked=False)
    out = {}
    for fdef in fields:
        name = fdef.GetName()
        values = np.concatenate([b[name] for b in batches]) if batches else np.array([])
        if fdef.GetType() in (ogr.OFTDate, ogr.OFTDateTime):
            out[name] = values.astype("datetime64[D]")
        elif fdef.GetType() in (ogr.OFTInteger, ogr.OFTInteger64, ogr.OFTReal):
            out[name] = values.astype(np.float64)
        else:
            out[name] = np.array([v.decode() if isinstance(v, bytes) else v for v in values.tolist()], dtype=object)
    return out
