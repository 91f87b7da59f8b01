"""Reading Processing inputs into core inputs: raster paths for GDAL, feature geometries, point values and
point series (through the vectorised reader), the DEM parameters, metric coordinates of points."""
from __future__ import annotations

import os

import numpy as np
from qgis.core import QgsCoordinateReferenceSystem, QgsProcessingException, QgsWkbTypes

from ..core.io.points import point_table, read_points, transform_points
from ..core.progress import Cancelled
from .base import processing_errors


def gdal_raster_path(layer, parameter: str) -> str:
    """The file GDAL reads for a raster layer parameter, or a clear error for non-file layers."""
    if layer is None:
        raise QgsProcessingException(f"{parameter}: no raster layer was given")
    if layer.providerType() != "gdal":
        raise QgsProcessingException(f"{parameter}: {layer.name()} is not a file GDAL can read "
                                     f"(provider {layer.providerType()}); save it as a GeoTIFF first")
    return layer.source().split("|")[0]


def feature_wkbs(source, target_crs, context, feedback, parameter: str):
    """WKB of every feature geometry of a feature source, transformed to ``target_crs``.

    Raises a clear error for an empty layer or a layer without any geometry.
    """
    from qgis.core import QgsFeatureRequest

    if source is None:
        raise QgsProcessingException(f"{parameter}: no vector layer was given")
    if source.featureCount() == 0:
        raise QgsProcessingException(f"{parameter}: the layer is empty")
    request = QgsFeatureRequest().setNoAttributes()
    request.setDestinationCrs(target_crs, context.transformContext())
    wkbs = []
    for feature in source.getFeatures(request):
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        geometry = feature.geometry()
        if not geometry.isNull() and not geometry.isEmpty():
            wkbs.append(bytes(geometry.asWkb()))
    if not wkbs:
        raise QgsProcessingException(f"{parameter}: no feature has a geometry")
    return wkbs


def read_point_layer(algorithm, parameters, key: str, context, target_crs, feedback, label: str = "Points"):
    """Every point of a point-layer parameter as a core `PointTable` in ``target_crs`` (multipoints exploded:
    every part is a point with its feature's attributes, the plugin's one policy).

    A layer in an OGR file (GeoPackage, shapefile, CSV, ...) without a subset, selection or feature limit is
    read column-wise by the core reader (`core.io.points.read_points`, no per-point Python work) and
    transformed in one call; any other source (memory or database layers, selected features) is read feature
    by feature with its WKB decoded at once. Raises a clear error for a missing or empty layer.
    """
    from qgis.core import QgsProcessingFeatureSourceDefinition

    source = algorithm.parameterAsSource(parameters, key, context)
    if source is None:
        raise QgsProcessingException(f"{label}: no layer was given")
    if source.featureCount() == 0:
        raise QgsProcessingException(f"{label}: the layer is empty")
    if QgsWkbTypes.geometryType(source.wkbType()) != QgsWkbTypes.PointGeometry:
        raise QgsProcessingException(f"{label}: the layer holds {QgsWkbTypes.displayString(source.wkbType())} "
                                     "geometries; points (or multipoints) are needed")
    definition = parameters.get(key)
    whole = not (isinstance(definition, QgsProcessingFeatureSourceDefinition) and (
        definition.selectedFeaturesOnly or definition.featureLimit not in (-1, None)))
    layer = algorithm.parameterAsVectorLayer(parameters, key, context)
    path, layer_name = ogr_file_of(layer) if whole else (None, None)
    return _points_of(source, path, layer_name, target_crs, context, feedback, label)


def read_layer_points(layer, target_crs, context, feedback, label: str = "Points"):
    """`read_point_layer` for a layer object (e.g. one of a multiple-layer parameter)."""
    if layer.featureCount() == 0:
        raise QgsProcessingException(f"{label}: the layer is empty")
    if layer.geometryType() != QgsWkbTypes.PointGeometry:
        raise QgsProcessingException(f"{label}: the layer holds {QgsWkbTypes.displayString(layer.wkbType())} "
                                     "geometries; points (or multipoints) are needed")
    path, layer_name = ogr_file_of(layer)
    return _points_of(layer, path, layer_name, target_crs, context, feedback, label)


def _points_of(source, path, layer_name, target_crs, context, feedback, label):
    from ..core.io.points import transform_points

    with processing_errors(prefix=label):
        if path is not None:
            table = read_points(path, layer_name)
            table.x, table.y = transform_points(table.x, table.y, table.crs_wkt, target_crs.toWkt())
        else:
            table = _read_features(source, target_crs, context, feedback, label)
    table.crs_wkt = target_crs.toWkt()
    return table


def ogr_file_of(layer):
    """(file path, layer name or None) when ``layer`` is a whole layer of an OGR file (no subset), else
    (None, None)."""
    from qgis.core import QgsProviderRegistry

    if layer is None or layer.providerType() != "ogr" or layer.subsetString():
        return None, None
    parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
    path = parts.get("path")
    if not path or not os.path.isfile(path) or parts.get("layerId") not in (None, 0, "0"):
        return None, None
    return path, parts.get("layerName") or None


def _read_features(source, target_crs, context, feedback, label):
    """A `PointTable` from any feature source, feature by feature (geometries transformed by QGIS)."""
    from qgis.core import NULL, QgsFeatureRequest

    request = QgsFeatureRequest()
    request.setDestinationCrs(target_crs, context.transformContext())
    fields = source.fields()
    rows, fids, wkbs = [], [], []
    for feature in source.getFeatures(request):
        if feedback.isCanceled():
            raise Cancelled()
        rows.append(feature.attributes())
        fids.append(feature.id())
        geometry = feature.geometry()
        wkbs.append(None if geometry.isNull() or geometry.isEmpty() else bytes(geometry.asWkb()))
    columns = {}
    for index, values in enumerate(zip(*rows) if rows else [[]] * fields.count()):
        if fields.at(index).isNumeric():
            columns[fields.at(index).name()] = np.array([np.nan if v is None or v == NULL else v for v in values],
                                                        dtype=np.float64)
        else:
            columns[fields.at(index).name()] = np.array([None if v == NULL else v for v in values], dtype=object)
    return point_table(source.sourceName(), source.sourceName(), target_crs.toWkt(), columns,
                       np.array(fids, dtype=np.int64), wkbs)


def points_with_values(algorithm, parameters, key: str, field: str, target_crs, context, feedback,
                       label: str = "Points"):
    """x, y (in ``target_crs``) and float values of a point layer parameter's numeric field (multipoints
    exploded); points without a value are skipped and counted.

    Returns (x, y, values, skipped). Raises a clear error for a missing or non-numeric field or an empty layer.
    """
    source = algorithm.parameterAsSource(parameters, key, context)
    if source is not None:
        index = source.fields().lookupField(field)
        if index < 0:
            raise QgsProcessingException(f"{label}: there is no field {field!r}")
        if not source.fields().at(index).isNumeric():
            raise QgsProcessingException(f"{label}: field {field!r} is not numeric")
    table = read_point_layer(algorithm, parameters, key, context, target_crs, feedback, label)
    with processing_errors(prefix=label):
        values = table.numeric(field)
    ok = np.isfinite(values)
    if not ok.any():
        raise QgsProcessingException(f"{label}: no feature has both a geometry and a value in {field!r}")
    report_point_quality(feedback, label, table.x[ok], table.y[ok], int((~ok).sum()), field)
    return table.x[ok], table.y[ok], values[ok], int((~ok).sum())


def report_point_quality(feedback, label: str, x: np.ndarray, y: np.ndarray, skipped: int, field: str) -> None:
    """Say in the log how many points had no value (NULL) and how many share their position with another."""
    if skipped:
        feedback.pushWarning(f"{label}: {skipped} point(s) without a value in {field!r} (NULL) were left out")
    duplicated = len(x) - len(np.unique(np.column_stack([x, y]), axis=0))
    if duplicated:
        feedback.pushWarning(f"{label}: {duplicated} point(s) repeat the position of another point")


def point_series(algorithm, parameters, key: str, target_crs, context, feedback, label: str = "Points"):
    """x, y (in ``target_crs``), dates and the (points x dates) matrix of a point layer parameter's time-series
    fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD; NULL = NaN); multipoints exploded."""
    table = read_point_layer(algorithm, parameters, key, context, target_crs, feedback, label)
    if not table.has_series:
        raise QgsProcessingException(f"{label}: no time-series fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD)")
    return table.x, table.y, table.dates, table.series


def add_dem_input(algorithm) -> None:
    """The DEM raster (INPUT) and its band (BAND, default 1)."""
    from qgis.core import QgsProcessingParameterBand, QgsProcessingParameterRasterLayer

    algorithm.addParameter(QgsProcessingParameterRasterLayer("INPUT", "DEM"))
    algorithm.addParameter(QgsProcessingParameterBand("BAND", "Band", 1, "INPUT", optional=True))


def dem_input(algorithm, parameters, context):
    """(layer, GDAL path, band) of the DEM parameters added by `add_dem_input`."""
    layer = algorithm.parameterAsRasterLayer(parameters, "INPUT", context)
    return layer, gdal_raster_path(layer, "DEM"), algorithm.parameterAsInt(parameters, "BAND", context) or 1


def factor_stack(layer, projected: bool = False, parameter: str = "Factor stack"):
    """The `FactorStack` of a raster layer parameter; ``projected`` refuses a geographic CRS."""
    from ..core.io.stack import open_factor_stack

    return open_factor_stack(gdal_raster_path(layer, parameter), projected)


def metric_crs(crs, points, feedback=None) -> QgsCoordinateReferenceSystem:
    """``crs`` when it is projected in metres, else an azimuthal equidistant projection centred on the points
    (distances in metres); ``feedback`` hears which."""
    from qgis.core import QgsUnitTypes

    if not crs.isGeographic() and crs.mapUnits() == QgsUnitTypes.DistanceMeters:
        return crs
    lon, lat = transform_points(points.x, points.y, crs.toWkt(), QgsCoordinateReferenceSystem("EPSG:4326").toWkt())
    proj = f"+proj=aeqd +lat_0={np.nanmean(lat):.6f} +lon_0={np.nanmean(lon):.6f} +datum=WGS84 +units=m +no_defs"
    if feedback is not None:
        feedback.pushInfo(f"The points' CRS ({crs.authid() or crs.description()}) is not in metres: distances are "
                          f"computed in an azimuthal equidistant projection ({proj})")
    return QgsCoordinateReferenceSystem.fromProj(proj)


def metric_coordinates(crs, points):
    """(x, y) of the points in metres (`metric_crs`)."""
    return transform_points(points.x, points.y, crs.toWkt(), metric_crs(crs, points).toWkt())
