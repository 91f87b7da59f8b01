"""Distances to and densities of vector features on a raster grid: rivers, faults, wells (seeds 000, 002).

* `distance_to_features`: exact Euclidean distance in metres from every cell centre to the nearest point of
  the features' geometry (points, line segments, polygon outlines; 0 inside polygons), not a chamfer or
  rasterised approximation. Candidate segments come from a KD-tree of points placed along the lines every
  ``s`` metres: the nearest point of the true geometry lies within s/2 of one of them, so every segment owning
  a vertex within (nearest vertex distance + s/2) is checked exactly, widening the search where needed.
* `line_density`: length of lines within a radius, per unit area (km/km^2, e.g. drainage density); and
  `point_density`: points per km^2 within a radius (e.g. well density). Lines are cut into short pieces whose
  lengths are summed per cell, then convolved with a disk; the grid is padded by the radius so features just
  outside the grid still count near its edges.

Coordinates must be in a projected CRS in metres (the grid's); geographic grids are refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
from osgeo import gdal, ogr
from scipy.signal import oaconvolve
from scipy.spatial import cKDTree

from ..io.gdal_errors import raising_gdal_errors
from ..io.grid import RasterGrid
from ..progress import CancelCheck, ProgressCallback, Steps


@dataclass
class Features:
    """Geometry reduced to what distances need: segments (n, 4) as x0, y0, x1, y1, and polygons as WKB."""

    segments: np.ndarray
    polygons: List[bytes]

    @property
    def empty(self) -> bool:
        return len(self.segments) == 0


@raising_gdal_errors
def features_from_wkb(geometries: Sequence[bytes]) -> Features:
    """Points (as zero-length segments), line segments and polygon outlines of WKB geometries."""
    segments: List[np.ndarray] = []
    polygons: List[bytes] = []

    def walk(geom):
        flat = ogr.GT_Flatten(geom.GetGeometryType())
        if flat in (ogr.wkbPoint,):
            if not geom.IsEmpty():
                segments.append(np.array([[geom.GetX(), geom.GetY(), geom.GetX(), geom.GetY()]]))
        elif flat in (ogr.wkbLineString, ogr.wkbLinearRing):
            pts = np.array(geom.GetPoints() or [], dtype=float)[:, :2] if geom.GetPointCount() else np.zeros((0, 2))
            if len(pts) == 1:
                segments.append(np.hstack([pts, pts]))
            elif len(pts) > 1:
                segments.append(np.hstack([pts[:-1], pts[1:]]))
        elif flat == ogr.wkbPolygon:
            polygons.append(geom.ExportToWkb())
            for i in range(geom.GetGeometryCount()):
                walk(geom.GetGeometryRef(i))
        else:
            for i in range(geom.GetGeometryCount()):
                walk(geom.GetGeometryRef(i))

    for wkb in geometries:
        if wkb:
            walk(ogr.CreateGeometryFromWkb(bytes(wkb)))
    return Features(np.vstack(segments) if segments else np.zeros((0, 4)), polygons)


def _check_metric(grid: RasterGrid) -> float:
    if not grid.crs_wkt:
        raise ValueError("The reference grid has no CRS; distances need a projected CRS in metres")
    if grid.is_geographic:
        raise ValueError("The reference grid is in a geographic CRS (degrees); distances and densities need a "
                         "projected CRS in metres: reproject the reference raster (e.g. to its UTM zone)")
    return grid.linear_unit_metres


def _densify(segments: np.ndarray, spacing: float):
    """Points every ``spacing`` along each segment (both ends included) and the segment each belongs to."""
    lengths = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    pieces = np.maximum(np.ceil(lengths / spacing).astype(np.int64), 1)
    owner = np.repeat(np.arange(len(segments)), pieces + 1)
    t = np.arange(owner.size) - np.repeat(np.cumsum(pieces + 1) - (pieces + 1), pieces + 1)
    t = t / pieces[owner]
    s = segments[owner]
    return np.column_stack([s[:, 0] + t * (s[:, 2] - s[:, 0]), s[:, 1] + t * (s[:, 3] - s[:, 1])]), owner


def _segment_distance(px, py, seg):
    """Distance from points (px, py) to segments ``seg`` (same leading shape, last axis x0 y0 x1 y1)."""
    dx = seg[..., 2] - seg[..., 0]
    dy = seg[..., 3] - seg[..., 1]
    length2 = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(length2 > 0, ((px - seg[..., 0]) * dx + (py - seg[..., 1]) * dy) / length2, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(px - (seg[..., 0] + t * dx), py - (seg[..., 1] + t * dy))


@raising_gdal_errors
def _inside_polygons(polygons: List[bytes], grid: RasterGrid) -> np.ndarray:
    """Cells whose centre lies inside any polygon (GDAL rasterisation)."""
    mem = ogr.GetDriverByName("Memory").CreateDataSource("")
    layer = mem.CreateLayer("polygons", None, ogr.wkbPolygon)
    for wkb in polygons:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(ogr.CreateGeometryFromWkb(wkb))
        layer.CreateFeature(feature)
    target = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1, gdal.GDT_Byte)
    target.SetGeoTransform(grid.geotransform)
    gdal.RasterizeLayer(target, [1], layer, burn_values=[1])
    return target.GetRasterBand(1).ReadAsArray().astype(bool)


def distance_to_features(features: Features, grid: RasterGrid, block_rows: int = 256,
                         progress: Optional[ProgressCallback] = None,
                         is_cancelled: Optional[CancelCheck] = None, threads: Optional[int] = None) -> np.ndarray:
    """Exact distance in metres from each cell centre to the nearest feature (float64 array); ``threads``: the
    nearest-vertex searches' threads (None: every core)."""
    unit = _check_metric(grid)
    if features.empty:
        raise ValueError("The layer has no feature with a geometry")
    spacing = min(grid.dx, grid.dy)
    vertices, owner = _densify(features.segments, spacing)
    tree = cKDTree(vertices)
    xs, ys = grid.centre_axes()
    out = np.empty(grid.shape)
    steps = Steps(grid.height, progress, is_cancelled)
    for row0 in range(0, grid.height, block_rows):
        rows = min(block_rows, grid.height - row0)
        px = np.broadcast_to(xs, (rows, grid.width)).ravel()
        py = np.repeat(ys[row0:row0 + rows], grid.width)
        out[row0:row0 + rows] = _block_distance(px, py, tree, owner, features.segments, spacing,
                                                          threads or -1).reshape(rows, -1)
        steps.advance(f"rows {row0}-{row0 + rows}", rows)
    if features.polygons:
        out[_inside_polygons(features.polygons, grid)] = 0.0
    return out * unit


def _block_distance(px, py, tree, owner, segments, spacing, threads: int) -> np.ndarray:
    """Exact distances for one block of points: candidate segments from the k nearest vertices, k doubled
    for the points where the k-th vertex is not beyond (nearest + spacing / 2)."""
    result = np.empty(px.size)
    todo = np.arange(px.size)
    k = 8
    while todo.size:
        k_eff = min(k, tree.n)
        dist, idx = tree.query(np.column_stack([px[todo], py[todo]]), k=k_eff, workers=threads)
        dist = dist.reshape(todo.size, k_eff)
        idx = idx.reshape(todo.size, k_eff)
        exact = _segment_distance(px[todo, None], py[todo, None], segments[owner[idx]]).min(axis=1)
        settled = (dist[:, -1] > dist[:, 0] + 0.5 * spacing) | (k_eff == tree.n)
        result[todo[settled]] = exact[settled]
        todo = todo[~settled]
        k *= 4
    return result


def _padded_grid(grid: RasterGrid, pad: int) -> RasterGrid:
    x0, dx, _, y0, _, dy = grid.geotransform
    return RasterGrid(grid.width + 2 * pad, grid.height + 2 * pad, (x0 - pad * dx, dx, 0.0, y0 - pad * dy, 0.0, dy),
                      grid.crs_wkt)


def _disk(radius_cells_x: float, radius_cells_y: float) -> np.ndarray:
    rx, ry = int(np.ceil(radius_cells_x)), int(np.ceil(radius_cells_y))
    y, x = np.mgrid[-ry:ry + 1, -rx:rx + 1]
    return ((x / radius_cells_x) ** 2 + (y / radius_cells_y) ** 2 <= 1.0).astype(np.float64)


def _density(amount_at_points: np.ndarray, x: np.ndarray, y: np.ndarray, grid: RasterGrid, radius_m: float) -> np.ndarray:
    unit = _check_metric(grid)
    if radius_m <= 0:
        raise ValueError("The search radius must be positive")
    rx, ry = radius_m / (grid.dx * unit), radius_m / (grid.dy * unit)
    if rx < 1 or ry < 1:
        raise ValueError(f"The search radius ({radius_m:g} m) must be at least one cell")
    pad = int(np.ceil(max(rx, ry)))
    padded = _padded_grid(grid, pad)
    rows, cols, inside = padded.cell_of(x, y)
    totals = np.bincount(rows[inside] * padded.width + cols[inside], weights=amount_at_points[inside],
                         minlength=padded.width * padded.height).reshape(padded.shape)
    kernel = _disk(rx, ry)
    summed = oaconvolve(totals, kernel, mode="same")[pad:pad + grid.height, pad:pad + grid.width]
    summed[summed < 1e-9 * amount_at_points.min()] = 0.0  # FFT round-off where there is nothing
    area = kernel.sum() * grid.dx * grid.dy * unit * unit
    return summed / area


def line_density(features: Features, grid: RasterGrid, radius_m: float) -> np.ndarray:
    """Length of lines within ``radius_m`` of each cell centre per unit area, in km/km^2 (= 1000 m / km^2)."""
    unit = _check_metric(grid)
    lines = features.segments[np.hypot(features.segments[:, 2] - features.segments[:, 0],
                                       features.segments[:, 3] - features.segments[:, 1]) > 0]
    if len(lines) == 0:
        raise ValueError("The layer has no line with a length")
    step = 0.25 * min(grid.dx, grid.dy)
    vertices, owner = _densify(lines, step)
    lengths = np.hypot(lines[:, 2] - lines[:, 0], lines[:, 3] - lines[:, 1])
    pieces = np.bincount(owner, minlength=len(lines)) - 1
    # each piece's length is credited to its midpoint
    first = np.r_[True, owner[1:] != owner[:-1]]
    mids = 0.5 * (vertices[1:] + vertices[:-1])[~first[1:]]
    piece_owner = owner[1:][~first[1:]]
    weights = (lengths / pieces)[piece_owner] * unit
    per_m2 = _density(weights, mids[:, 0], mids[:, 1], grid, radius_m)
    return per_m2 * 1000.0  # m per m^2 -> km per km^2


def point_density(features: Features, grid: RasterGrid, radius_m: float) -> np.ndarray:
    """Number of points within ``radius_m`` of each cell centre per km^2."""
    pts = features.segments[(features.segments[:, 0] == features.segments[:, 2])
                            & (features.segments[:, 1] == features.segments[:, 3])]
    if len(pts) == 0:
        raise ValueError("The layer has no point")
    return _density(np.ones(len(pts)), pts[:, 0], pts[:, 1], grid, radius_m) * 1e6
