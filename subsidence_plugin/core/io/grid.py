"""Raster-grid description shared by every core computation.

A grid is the shape of a raster plus its GDAL geotransform, its CRS (as WKT) and its nodata value.
Cell centres, extents and metric cell sizes are derived from it; no pixel data lives here.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Tuple

import numpy as np
from osgeo import osr

from .gdal_errors import raising_gdal_errors

GeoTransform = Tuple[float, float, float, float, float, float]


@raising_gdal_errors
def spatial_reference(crs_wkt: str) -> osr.SpatialReference:
    """An OSR spatial reference from WKT (or any user string OSR understands), axis order x, y."""
    srs = osr.SpatialReference()
    if srs.SetFromUserInput(crs_wkt) != 0:
        raise ValueError(f"Cannot interpret the coordinate reference system: {crs_wkt[:80]!r}")
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


@raising_gdal_errors
def crs_wkt_from_epsg(code: int) -> str:
    """WKT of an EPSG code."""
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(int(code))
    return srs.ExportToWkt()


@dataclass(frozen=True)
class RasterGrid:
    """Shape, geotransform, CRS and nodata of a north-up raster.

    ``geotransform`` is GDAL's (x_origin, dx, row_rotation, y_origin, col_rotation, dy) with dy < 0
    for north-up rasters. ``crs_wkt`` is empty when the raster has no CRS.
    """

    width: int
    height: int
    geotransform: GeoTransform
    crs_wkt: str = ""
    nodata: Optional[float] = None

    def __post_init__(self):
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"A raster grid needs a positive size, got {self.width} x {self.height}")
        gt = self.geotransform
        if gt[2] != 0 or gt[4] != 0:
            raise ValueError("Rotated rasters are not supported: warp the raster to a north-up grid first")

    @classmethod
    def from_origin(cls, x_min: float, y_max: float, cell_size: float, width: int, height: int,
                    crs_wkt: str = "", nodata: Optional[float] = None) -> "RasterGrid":
        """A north-up grid with square cells whose upper-left corner is (x_min, y_max)."""
        return cls(width, height, (float(x_min), float(cell_size), 0.0, float(y_max), 0.0, -float(cell_size)),
                   crs_wkt, nodata)

    @property
    def shape(self) -> Tuple[int, int]:
        """(rows, columns)."""
        return self.height, self.width

    @property
    def dx(self) -> float:
        """Cell width in CRS units (positive)."""
        return abs(self.geotransform[1])

    @property
    def dy(self) -> float:
        """Cell height in CRS units (positive)."""
        return abs(self.geotransform[5])

    @property
    def extent(self) -> Tuple[float, float, float, float]:
        """(x_min, y_min, x_max, y_max) in CRS units."""
        x0, dx, _, y0, _, dy = self.geotransform
        xs = (x0, x0 + dx * self.width)
        ys = (y0, y0 + dy * self.height)
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def is_geographic(self) -> bool:
        """True when the CRS is in degrees (latitude / longitude)."""
        return bool(self.crs_wkt) and bool(spatial_reference(self.crs_wkt).IsGeographic())

    @property
    def linear_unit_metres(self) -> Optional[float]:
        """Metres per CRS unit for a projected CRS, None for a geographic or missing CRS."""
        if not self.crs_wkt or self.is_geographic:
            return None
        return float(spatial_reference(self.crs_wkt).GetLinearUnits())

    def with_nodata(self, nodata: Optional[float]) -> "RasterGrid":
        return replace(self, nodata=nodata)

    def cell_centres(self, rows: np.ndarray, cols: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """CRS coordinates of the centres of cells (rows, cols)."""
        x0, dx, _, y0, _, dy = self.geotransform
        return x0 + (np.asarray(cols) + 0.5) * dx, y0 + (np.asarray(rows) + 0.5) * dy

    def centre_axes(self) -> Tuple[np.ndarray, np.ndarray]:
        """1-D x of every column centre and y of every row centre."""
        return self.cell_centres(np.arange(self.height), np.arange(self.width))

    def cell_of(self, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, inside) of the cells holding points (x, y); rows/cols are -1 outside the grid."""
        x0, dx, _, y0, _, dy = self.geotransform
        cols = np.floor((np.asarray(x, dtype=float) - x0) / dx).astype(np.int64)
        rows = np.floor((np.asarray(y, dtype=float) - y0) / dy).astype(np.int64)
        inside = (rows >= 0) & (rows < self.height) & (cols >= 0) & (cols < self.width)
        return np.where(inside, rows, -1), np.where(inside, cols, -1), inside

    def same_as(self, other: "RasterGrid", tolerance: float = 1e-6) -> bool:
        """Same shape and geotransform (to a fraction of a cell) and same CRS."""
        if self.shape != other.shape:
            return False
        scale = np.array([self.dx, self.dx, 1, self.dy, 1, self.dy])
        if np.any(np.abs(np.subtract(self.geotransform, other.geotransform)) > tolerance * scale):
            return False
        if bool(self.crs_wkt) != bool(other.crs_wkt):
            return False
        return not self.crs_wkt or bool(spatial_reference(self.crs_wkt).IsSame(spatial_reference(other.crs_wkt)))
