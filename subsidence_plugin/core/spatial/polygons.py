"""Which points lie inside polygons (reference areas, study areas), vectorised over the points."""
from __future__ import annotations

from typing import Iterator, List

import numpy as np
from osgeo import ogr

from ..io.gdal_errors import raising_gdal_errors


def _rings(geometry) -> Iterator[np.ndarray]:
    """(n, 2) vertex arrays of every ring of a polygon or multipolygon (exteriors and holes alike)."""
    flat = ogr.GT_Flatten(geometry.GetGeometryType())
    if flat == ogr.wkbPolygon:
        for index in range(geometry.GetGeometryCount()):
            points = geometry.GetGeometryRef(index).GetPoints() or []
            if len(points) >= 3:
                yield np.asarray(points, dtype=np.float64)[:, :2]
    elif flat in (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection):
        for index in range(geometry.GetGeometryCount()):
            yield from _rings(geometry.GetGeometryRef(index))
    else:
        raise ValueError(f"{ogr.GeometryTypeToName(geometry.GetGeometryType())} is not a polygon")


@raising_gdal_errors
def points_in_polygons(x: np.ndarray, y: np.ndarray, polygons: List[bytes]) -> np.ndarray:
    """Mask of the points (x, y) inside any of the polygons (WKB, same CRS): even-odd ray casting over each
    polygon's rings, so holes are outside; points in a polygon's bounding box are tested edge by edge, all
    points of an edge at once."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    inside = np.zeros(x.shape, dtype=bool)
    for wkb in polygons:
        geometry = ogr.CreateGeometryFromWkb(bytes(wkb))
        rings = list(_rings(geometry))
        if not rings:
            continue
        vertices = np.concatenate(rings)
        low, high = vertices.min(axis=0), vertices.max(axis=0)
        candidates = np.flatnonzero((x >= low[0]) & (x <= high[0]) & (y >= low[1]) & (y <= high[1]) & ~inside)
        px, py = x[candidates], y[candidates]
        odd = np.zeros(candidates.size, dtype=bool)
        for ring in rings:
            for (x1, y1), (x2, y2) in zip(ring, np.roll(ring, -1, axis=0)):
                if y1 == y2:
                    continue
                crosses = (y1 > py) != (y2 > py)
                odd ^= crosses & (px < x1 + (py - y1) * (x2 - x1) / (y2 - y1))
        inside[candidates[odd]] = True
    return inside
