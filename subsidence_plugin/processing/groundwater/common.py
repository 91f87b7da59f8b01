"""Steps shared by the groundwater-storage algorithms: the area in longitude / latitude, months given as text."""
from __future__ import annotations

import json

import numpy as np
from osgeo import ogr
from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingException

from ..inputs import feature_wkbs

WGS84 = "EPSG:4326"
BOX_MARGIN = 2.0  # degrees read around the area: at least two cells of the coarsest grid (Tellus 1°) on each axis


def _shifted(coordinates):
    """GeoJSON coordinates (nested lists, rings innermost) with negative longitudes moved by +360°."""
    if coordinates and isinstance(coordinates[0][0], (int, float)):
        ring = np.asarray(coordinates, dtype=np.float64)
        ring[ring[:, 0] < 0, 0] += 360.0
        return ring.tolist()
    return [_shifted(part) for part in coordinates]


def _unwrapped(geometry: ogr.Geometry) -> ogr.Geometry:
    """The geometry with negative longitudes moved by +360° (an area across the antimeridian that the
    transformation to EPSG:4326 wrapped to −180 … 180)."""
    shape = json.loads(geometry.ExportToJson())
    shape["coordinates"] = _shifted(shape["coordinates"])
    return ogr.CreateGeometryFromJson(json.dumps(shape))


def area_in_degrees(algorithm, parameters, key: str, context, feedback) -> ogr.Geometry:
    """The polygons of an area layer merged into one geometry in longitude / latitude (EPSG:4326); an area whose
    longitudes span more than 180° after the transformation is taken as crossing the antimeridian and unwrapped
    to 0 … 360 (said in the log)."""
    source = algorithm.parameterAsSource(parameters, key, context)
    if source is None:
        raise QgsProcessingException("Area: no polygon layer was given")
    if not source.sourceCrs().isValid():
        raise QgsProcessingException("Area: the layer has no coordinate reference system; assign one first")
    wkbs = feature_wkbs(source, QgsCoordinateReferenceSystem(WGS84), context, feedback, "Area")
    merged = ogr.Geometry(ogr.wkbMultiPolygon)
    for wkb in wkbs:
        geometry = ogr.CreateGeometryFromWkb(wkb)
        parts = [geometry] if geometry.GetGeometryCount() == 0 or "MULTI" not in geometry.GetGeometryName() else \
            [geometry.GetGeometryRef(i) for i in range(geometry.GetGeometryCount())]
        for part in parts:
            if part.GetGeometryType() in (ogr.wkbPolygon, ogr.wkbPolygon25D):
                merged.AddGeometry(part)
    if merged.GetGeometryCount() == 0:
        raise QgsProcessingException("Area: the layer has no polygon; give the area as polygons")
    west, east, _, _ = merged.GetEnvelope()
    if east - west > 180.0:
        unwrapped = _unwrapped(merged)
        u_west, u_east, _, _ = unwrapped.GetEnvelope()
        if u_east - u_west < east - west:
            feedback.pushInfo(f"Area: longitudes {west:.2f} … {east:.2f}° read as crossing the antimeridian "
                              f"({u_west:.2f} … {u_east:.2f}°)")
            merged = unwrapped
    return merged.UnionCascaded() if merged.GetGeometryCount() > 1 else merged


def reading_box(area: ogr.Geometry) -> tuple:
    """(west, south, east, north) degrees to read around an area: its envelope and `BOX_MARGIN` on each side."""
    west, east, south, north = area.GetEnvelope()
    return west - BOX_MARGIN, max(south - BOX_MARGIN, -90.0), east + BOX_MARGIN, min(north + BOX_MARGIN, 90.0)


def month_or_none(text: str, parameter: str):
    """A month from ``YYYY-MM`` (or a date ``YYYY-MM-DD``), None for an empty text."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return np.datetime64(text[:7], "M")
    except ValueError:
        raise QgsProcessingException(f"{parameter}: {text!r} is not a month; write it as YYYY-MM") from None
