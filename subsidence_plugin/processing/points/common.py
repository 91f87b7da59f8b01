"""What the InSAR-point algorithms share: reading points with their series, and writing every input point back with
all its attributes and the new fields."""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
from qgis.core import QgsProcessingException

from ..inputs import read_point_layer

SERIES_FIELDS = "one field a date named DYYYYMMDD, D_YYYYMMDD or YYYYMMDD (mm), as importinsarseries writes"


def read_series_layer(algorithm, parameters, key: str, context, feedback, label: str = "Points"):
    """The points of ``key`` in their own CRS with their series (a `PointTable`); a clear error without date fields
    or with fewer than three dates. NULL values are counted in the log."""
    crs = algorithm.parameterAsSource(parameters, key, context).sourceCrs()
    table = read_point_layer(algorithm, parameters, key, context, crs, feedback, label)
    if not table.has_series:
        raise QgsProcessingException(f"{label}: the layer has no displacement series; it needs {SERIES_FIELDS}")
    if len(table.dates) < 3:
        raise QgsProcessingException(f"{label}: the layer has {len(table.dates)} date field(s); at least 3 are "
                                     "needed")
    gaps = int(np.isnan(table.series).sum())
    if gaps:
        feedback.pushInfo(f"{label}: {gaps} NULL values in the series of {int(np.isnan(table.series).any(1).sum())} "
                          "points are left out of every statistic")
    return table, crs


def _kind(values: np.ndarray) -> str:
    if values.dtype.kind == "f":
        return "double"
    if values.dtype.kind in "iub":
        return "int"
    return "string"


def all_input_columns(table, replaced: Sequence[str] = ()) -> List[tuple]:
    """(name, kind, values) of every attribute and date field of the input points (multipoint parts repeat their
    feature's values), leaving out the ``replaced`` names (fields the algorithm writes anew)."""
    columns = [(name, _kind(values), values) for name, values in table.attributes.items()
               if name.upper() not in {r.upper() for r in replaced}]
    columns += [(name, "double", table.series[:, i]) for i, name in enumerate(table.date_fields)]
    return columns
