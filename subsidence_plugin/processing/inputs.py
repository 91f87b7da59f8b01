"""Reading Processing inputs into core inputs: raster paths for GDAL, feature geometries, point values and
point series (through the vectorised reader), the DEM parameters."""
from __future__ import annotations

import numpy as np
from qgis.core import QgsProcessingException


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


def points_with_values(source, field: str, target_crs, context, feedback, parameter: str = "Points"):
    """x, y (in ``target_crs``) and float values of a point source's numeric field; multipoints are
    exploded, features with a null value or no geometry are skipped and counted.

    Returns (x, y, values, skipped). Raises a clear error for a missing or non-numeric field or an empty layer.
    """
    from qgis.core import QgsFeatureRequest

    if source is None:
        raise QgsProcessingException(f"{parameter}: no layer was given")
    index = source.fields().lookupField(field)
    if index < 0:
        raise QgsProcessingException(f"{parameter}: there is no field {field!r}")
    if not source.fields().at(index).isNumeric():
        raise QgsProcessingException(f"{parameter}: field {field!r} is not numeric")
    if source.featureCount() == 0:
        raise QgsProcessingException(f"{parameter}: the layer is empty")
    request = QgsFeatureRequest().setSubsetOfAttributes([index])
    request.setDestinationCrs(target_crs, context.transformContext())
    xs, ys, values, skipped = [], [], [], 0
    for feature in source.getFeatures(request):
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        value = feature.attribute(index)
        geometry = feature.geometry()
        if value is None or geometry.isNull() or geometry.isEmpty() or (hasattr(value, "isNull") and value.isNull()):
            skipped += 1
            continue
        for part in geometry.constParts():
            for vertex in part.vertices():
                xs.append(vertex.x())
                ys.append(vertex.y())
                values.append(float(value))
    if not values:
        raise QgsProcessingException(f"{parameter}: no feature has both a geometry and a value in {field!r}")
    return np.array(xs), np.array(ys), np.array(values), skipped


def point_series(source, target_crs, context, feedback, parameter: str = "Points"):
    """x, y (in ``target_crs``), dates and the (points x dates) matrix of a point source's time-series fields
    (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD; NULL = NaN). Multipoints are exploded."""
    from qgis.core import QgsFeatureRequest

    from ..core.io.points import date_of_field

    if source is None or source.featureCount() == 0:
        raise QgsProcessingException(f"{parameter}: the layer is missing or empty")
    fields = [(i, f.name(), date_of_field(f.name())) for i, f in enumerate(source.fields())]
    dated = sorted((d, i, name) for i, name, d in fields if d is not None)
    if not dated:
        raise QgsProcessingException(f"{parameter}: no time-series fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD)")
    bad = [name for _, i, name in dated if not source.fields().at(i).isNumeric()]
    if bad:
        raise QgsProcessingException(f"{parameter}: date field(s) {', '.join(bad[:5])} are not numeric")
    request = QgsFeatureRequest().setSubsetOfAttributes([i for _, i, _ in dated])
    request.setDestinationCrs(target_crs, context.transformContext())
    xs, ys, rows = [], [], []
    for feature in source.getFeatures(request):
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        geometry = feature.geometry()
        if geometry.isNull() or geometry.isEmpty():
            continue
        values = [feature.attribute(i) for _, i, _ in dated]
        row = [np.nan if v is None or (hasattr(v, "isNull") and v.isNull()) else float(v) for v in values]
        for part in geometry.constParts():
            for vertex in part.vertices():
                xs.append(vertex.x())
                ys.append(vertex.y())
                rows.append(row)
    dates = np.array([d for d, _, _ in dated], dtype="datetime64[D]")
    return np.array(xs), np.array(ys), dates, np.array(rows, dtype=np.float64).reshape(len(rows), len(dates))


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
