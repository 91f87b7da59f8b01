"""Points from delimited text (EGMS CSV downloads and other point exports) through GDAL's CSV driver.

The coordinate columns are recognised by name (``easting`` / ``northing``, ``x`` / ``y``, ``longitude`` /
``latitude``, ``lon`` / ``lat``); columns are read column-wise (the same reader as every point layer,
`points.read_points`), with their types detected from the first megabyte. The separator (comma, semicolon,
tab, space) is detected from the header line.
"""
from __future__ import annotations

import csv
import os
from typing import List, Optional, Tuple

from osgeo import gdal

from .gdal_errors import raising_gdal_errors
from .points import PointReadError, PointTable, _read_columns, point_table

# (x name, y name) pairs in order of preference, lower case.
COORDINATE_PAIRS = (("easting", "northing"), ("x", "y"), ("longitude", "latitude"), ("lon", "lat"))
GEOGRAPHIC_PAIRS = {("longitude", "latitude"), ("lon", "lat")}
EGMS_PROJECTED_EPSG = 3035  # EGMS L2a / L2b / L3 easting and northing: ETRS89-extended / LAEA Europe
WGS84_EPSG = 4326


def csv_header(path: str) -> Tuple[List[str], str]:
    """Column names of a delimited text file and its separator, from the first line."""
    if not os.path.isfile(path):
        raise PointReadError(f"File not found: {path}")
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as stream:
        line = stream.readline()
    if not line.strip():
        raise PointReadError(f"{path}: the file is empty")
    separator = max((",", ";", "\t", " "), key=line.count)
    return [name.strip() for name in next(csv.reader([line], delimiter=separator))], separator


def coordinate_columns(names: List[str]) -> Optional[Tuple[str, str]]:
    """The (x, y) column names of a header, or None."""
    lower = {name.lower(): name for name in names}
    for x_name, y_name in COORDINATE_PAIRS:
        if x_name in lower and y_name in lower:
            return lower[x_name], lower[y_name]
    return None


def is_geographic_pair(pair: Tuple[str, str]) -> bool:
    return (pair[0].lower(), pair[1].lower()) in GEOGRAPHIC_PAIRS


@raising_gdal_errors
def read_csv_points(path: str, crs_wkt: str, coordinates: Optional[Tuple[str, str]] = None) -> PointTable:
    """Every row of a delimited text file as a point in ``crs_wkt`` (the CRS of its coordinate columns), with
    all other columns as attributes and its date columns (``YYYYMMDD``, ``DYYYYMMDD``, ``D_YYYYMMDD``) as the
    series. Raises `PointReadError` for a file without recognisable coordinate columns or without rows."""
    names, separator = csv_header(path)
    pair = coordinates or coordinate_columns(names)
    if pair is None:
        raise PointReadError(f"{path}: no coordinate columns (easting / northing, x / y, longitude / latitude or "
                             f"lon / lat) among {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
    options = [f"X_POSSIBLE_NAMES={pair[0]}", f"Y_POSSIBLE_NAMES={pair[1]}", "KEEP_GEOM_COLUMNS=NO",
               "AUTODETECT_TYPE=YES", "AUTODETECT_WIDTH=NO", "EMPTY_STRING_AS_NULL=YES", "HEADERS=YES"]
    try:
        dataset = gdal.OpenEx("CSV:" + path, gdal.OF_VECTOR, open_options=options)
    except RuntimeError as error:
        raise PointReadError(f"Cannot read {path} as delimited text: {error}") from error
    layer = dataset.GetLayer(0)
    if layer.GetFeatureCount() == 0:
        raise PointReadError(f"{path}: the file has a header but no rows")
    definition = layer.GetLayerDefn()
    field_names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    columns, fids, geometries = _read_columns(layer, field_names)
    table = point_table(path, os.path.splitext(os.path.basename(path))[0], crs_wkt, columns, fids, geometries)
    del layer, dataset
    return table
