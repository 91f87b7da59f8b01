"""What the time-series algorithms share: the point and groundwater inputs, piezometer heads from wide fields or a
long table (and at the points), static factors at the points, a metric CRS for distances."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFile)

from ...core.io.long_tables import read_long_table
from ...core.io.points import transform_points
from ...core.io.rasters import values_at_points
from ...core.spatial.interpolation import InterpolationSettings
from ...core.timeseries.groundwater import delay_days, heads_at_points
from ...core.timeseries.insar_points import identifiers
from ..base import processing_errors
from ..inputs import gdal_raster_path, metric_crs, read_point_layer


def piezometer_heads(algorithm, parameters, context, feedback, metric, future_table: str = ""):
    """(x, y in ``metric``, dates, heads (piezometers x dates, m), aquifers) of the GROUNDWATER points, from their
    wide head fields or from GROUNDWATER_TABLE joined by ID_FIELD (or the field that matches the table's
    stations); ``aquifers`` each piezometer's AQUIFER_FIELD value as text, or None without the field. A
    ``future_table`` (the same long-table layout) adds its heads, and replaces the others at its dates."""
    table_path = algorithm.parameterAsFile(parameters, "GROUNDWATER_TABLE", context)
    piezometers = read_point_layer(algorithm, parameters, "GROUNDWATER", context, metric, feedback, "Piezometers")
    if table_path:
        found, dates, heads = _joined_table(algorithm, parameters, context, feedback, piezometers, table_path)
    elif piezometers.has_series:
        found, dates, heads = np.ones(len(piezometers), dtype=bool), piezometers.dates, piezometers.series
    else:
        raise QgsProcessingException("Piezometers: no head fields (D_YYYYMMDD, DYYYYMMDD or YYYYMMDD); give "
                                     "the heads as a long table instead")
    if future_table:
        future, future_dates, future_heads = _joined_table(algorithm, parameters, context, feedback, piezometers,
                                                           future_table)
        all_dates = np.union1d(dates, future_dates)
        merged = np.full((len(piezometers), all_dates.size), np.nan)
        merged[np.ix_(np.flatnonzero(found), np.searchsorted(all_dates, dates))] = heads
        columns = np.searchsorted(all_dates, future_dates)
        merged[np.ix_(np.flatnonzero(future), columns)] = np.where(
            np.isnan(future_heads), merged[np.ix_(np.flatnonzero(future), columns)], future_heads)
        found, dates, heads = found | future, all_dates, merged[found | future]
    field = algorithm.parameterAsString(parameters, "AQUIFER_FIELD", context)
    aquifers = identifiers(piezometers.attributes[field])[found] if field else None
    return piezometers.x[found], piezometers.y[found], dates, heads, aquifers


def warn_if_far(feedback, px, py, x, y) -> None:
    """A warning when the piezometers lie far from the points: the median distance from a point to its nearest
    piezometer exceeds the size of the points' extent (heads interpolated from afar)."""
    from scipy.spatial import cKDTree

    nearest, _ = cKDTree(np.column_stack([px, py])).query(np.column_stack([x, y]))
    extent = max(np.ptp(x), np.ptp(y), 1.0)
    if np.median(nearest) > extent:
        feedback.pushWarning(f"The piezometers lie far from the InSAR points: the median distance to the nearest one "
                             f"is {np.median(nearest) / 1000:.1f} km, more than the points' extent "
                             f"({extent / 1000:.1f} km); the heads at the points are extrapolated from afar")


def aquifer_groups(aquifers) -> list:
    """[(aquifer label, mask of its piezometers)] in sorted order; one group of all without aquifers."""
    if aquifers is None:
        return [("", slice(None))]
    return [(label, aquifers == label) for label in sorted(set(aquifers.tolist()))]


def _joined_table(algorithm, parameters, context, feedback, piezometers, path):
    """(mask of the piezometers with heads in the long table ``path``, its dates, their heads in the order of the
    piezometers), joined by ID_FIELD or the field that matches the table's stations."""
    with processing_errors(prefix="Piezometer table"):
        table = read_long_table(path)
    field = algorithm.parameterAsString(parameters, "ID_FIELD", context) or _matching_field(piezometers, table.ids)
    if field is None:
        raise QgsProcessingException("Piezometers: no field matches the stations of the table "
                                     f"({', '.join(table.ids[:5])} ...); choose the ID field")
    keys = identifiers(piezometers.attributes[field])
    row = {station: i for i, station in enumerate(table.ids.tolist())}
    found = np.array([key in row for key in keys])
    unmatched = sorted(set(table.ids.tolist()) - set(keys[found].tolist()))
    if unmatched:
        feedback.pushWarning(f"{len(unmatched)} station(s) of the table have no piezometer point: "
                             f"{', '.join(unmatched[:5])}")
    if not found.any():
        raise QgsProcessingException(f"Piezometers: no value of {field!r} is a station of the table")
    if (~found).any():
        feedback.pushWarning(f"{int((~found).sum())} piezometer point(s) have no heads in the table")
    rows = [row[key] for key in keys[found]]
    feedback.pushInfo(f"{found.sum()} piezometers joined to the table by {field!r}, {table.dates.size} dates "
                      f"({table.dates[0]} .. {table.dates[-1]})")
    return found, table.dates, table.values[rows]


def _matching_field(table, stations) -> str:
    """The attribute of a point table whose values match the most stations (None if none does)."""
    wanted = set(stations.tolist())
    best, best_count = None, 0
    for name, values in table.attributes.items():
        count = len(wanted & set(identifiers(values).tolist()))
        if count > best_count:
            best, best_count = name, count
    return best


def interbed_delays(static: np.ndarray, specific_storage: float, feedback):
    """The interbeds' delay tau (days a point) from the 2nd and 3rd static factors (interbed thickness b0 in m,
    K'v in m/s) and S's (1/m), or None with fewer than three factors."""
    if static.shape[1] < 3:
        return None
    with processing_errors():
        delays = delay_days(static[:, 1], static[:, 2], specific_storage)
    if not np.isfinite(delays).any():
        raise QgsProcessingException("No point has a positive K′v (the third static factor): no delay can be "
                                     "computed; check the factors' order (thickness, b₀, K′v)")
    feedback.pushInfo(f"Interbed delay tau from b₀ and K′v (S′s {specific_storage:g} 1/m): {np.nanmin(delays):.1f} .. "
                      f"{np.nanmax(delays):.1f} days (median {np.nanmedian(delays):.1f})")
    return delays


def add_series_inputs(algorithm, groundwater_optional: bool) -> None:
    """INPUT (InSAR points with DYYYYMMDD series), GROUNDWATER (piezometers), GROUNDWATER_TABLE and ID_FIELD."""
    algorithm.addParameter(QgsProcessingParameterFeatureSource("INPUT", "InSAR points with DYYYYMMDD series (mm)",
                                                               [QgsProcessing.TypeVectorPoint]))
    algorithm.addParameter(QgsProcessingParameterFeatureSource("GROUNDWATER", "Piezometers",
                                                               [QgsProcessing.TypeVectorPoint],
                                                               optional=groundwater_optional))
    algorithm.addParameter(QgsProcessingParameterFile(
        "GROUNDWATER_TABLE", "Piezometer heads as a long table (station, date, value)", optional=True,
        fileFilter="Delimited text (*.csv *.txt *.tsv);;All files (*)"))
    algorithm.addParameter(QgsProcessingParameterField("ID_FIELD", "Piezometer ID field (joins the table)",
                                                       parentLayerParameterName="GROUNDWATER", optional=True))
    algorithm.addParameter(QgsProcessingParameterField(
        "AQUIFER_FIELD", "Aquifer field of the piezometers (heads per aquifer)", parentLayerParameterName="GROUNDWATER",
        optional=True))


def read_series_points(algorithm, parameters, context, feedback):
    """(the INPUT points as a `PointTable` with their series, their CRS); a clear error without date fields."""
    source = algorithm.parameterAsSource(parameters, "INPUT", context)
    if source is None:
        raise QgsProcessingException("InSAR points: no layer was given")
    crs = source.sourceCrs()
    points = read_point_layer(algorithm, parameters, "INPUT", context, crs, feedback, "InSAR points")
    if not points.has_series:
        raise QgsProcessingException("InSAR points: no date fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD)")
    gaps = np.isnan(points.series)
    if gaps.any():
        feedback.pushWarning(f"InSAR points: {int(gaps.sum())} NULL value(s) in {int(gaps.any(axis=1).sum())} point(s); "
                             "the monthly series interpolate across them in time, never beyond a point's first or "
                             "last value")
    return points, crs


def heads_at_months(algorithm, parameters, context, feedback, points, crs, months, future_table: str = ""):
    """(heads (points x ``months`` x aquifers, m), aquifer labels ([""] without AQUIFER_FIELD)) at the points from
    the GROUNDWATER inputs (and a ``future_table``, see `piezometer_heads`): IDW over the 8 nearest piezometers of
    each aquifer with a head, readings held at most 45 days (`heads_at_points`)."""
    metric = metric_crs(crs, points)
    x, y = transform_points(points.x, points.y, crs.toWkt(), metric.toWkt())
    px, py, dates, heads, aquifers = piezometer_heads(algorithm, parameters, context, feedback, metric, future_table)
    warn_if_far(feedback, px, py, x, y)
    groups = aquifer_groups(aquifers)
    with processing_errors():
        stacked = np.stack([heads_at_points(px[mask], py[mask], dates, heads[mask], x, y, months,
                                            InterpolationSettings("idw", k=8)).heads for _, mask in groups], axis=2)
    if aquifers is not None:
        feedback.pushInfo(f"Heads of {len(groups)} aquifer(s): " + ", ".join(
            f"{label} ({int(mask.sum())} piezometers)" for label, mask in groups))
    return stacked, [label for label, _ in groups]


def static_factors(algorithm, parameters, context, points, crs):
    """(names, values (points x factors)) of the FACTORS rasters at the points (NaN off a raster)."""
    layers = algorithm.parameterAsLayerList(parameters, "FACTORS", context)
    if not layers:
        return [], np.zeros((len(points), 0))
    with processing_errors():
        values = np.column_stack([values_at_points(gdal_raster_path(layer, "Static factor"), points.x, points.y,
                                                   crs.toWkt()) for layer in layers])
    return [layer.name() for layer in layers], values
