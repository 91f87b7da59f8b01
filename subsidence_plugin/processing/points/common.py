"""What the InSAR-point algorithms share: reading points with their series, and writing every input point back with
all its attributes and the new fields."""
from __future__ import annotations

from typing import List, Sequence

import numpy as np
from qgis.core import QgsProcessingException

from ..inputs import read_point_layer

SERIES_FIELDS = "one field a date named DYYYYMMDD, D_YYYYMMDD or YYYYMMDD (mm), as importinsarseries writes"


def read_series_layer(algorithm, parameters, key: str, context, feedback, label: str = "Points"):
    """(source, points with their series as a `PointTable` in the source's CRS, CRS); a clear error without date
    fields or with fewer than three dates. NULL values are counted in the log."""
    source = algorithm.parameterAsSource(parameters, key, context)
    if source is None:
        raise QgsProcessingException(f"{label}: no layer was given")
    crs = source.sourceCrs()
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
    return source, table, crs


def all_input_columns(source, table, replaced: Sequence[str], feedback, keep=None) -> List[tuple]:
    """(name, kind, values) of every field of the input ``source`` in its order, read into ``table`` (multipoint
    parts repeat their feature's values): integers as Integer, other numbers as Real, the rest as text; the layer's
    fid left out and the ``replaced`` fields (written anew by the algorithm) dropped with a warning; ``keep``
    selects points."""
    from qgis.PyQt.QtCore import QVariant

    integers = (QVariant.Int, QVariant.LongLong, QVariant.UInt, QVariant.ULongLong, QVariant.Bool)
    upper = {name.upper() for name in replaced}
    columns = []
    for field in source.fields():
        name = field.name()
        if name.lower() == "fid":
            continue
        if name.upper() in upper:
            feedback.pushWarning(f"The input's field {name!r} is replaced by the new one")
            continue
        if name in table.date_fields:
            values = table.series[:, table.date_fields.index(name)]
        elif name in table.attributes:
            values = table.attributes[name]
        else:
            continue
        kind = "int" if field.type() in integers else "double" if field.isNumeric() else "string"
        columns.append((name, kind, values if keep is None else values[keep]))
    return columns
