"""One point reader for every algorithm: OGR files column-wise through the core reader, any other source
feature by feature, both into the same table with one multipoint policy (every part is a point)."""
import numpy as np
import pytest
from osgeo import ogr, osr
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeatureRequest, QgsPointXY,
                       QgsProcessingContext, QgsProcessingFeatureSourceDefinition, QgsProcessingFeedback, QgsProject,
                       QgsVectorLayer)

from subsidence_plugin.processing.inputs import point_series, points_with_values, read_point_layer
from subsidence_plugin.processing.surface.kriging import Kriging

TARGET = QgsCoordinateReferenceSystem("EPSG:32613")


def _write_multipoints(path):
    """Three multipoint features in WGS 84 (two parts each, one feature without a velocity), two dates."""
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(4326)
    layer = ds.CreateLayer("points", srs, ogr.wkbMultiPoint)
    for name, kind in (("velocity", ogr.OFTReal), ("D20200101", ogr.OFTReal), ("D20200201", ogr.OFTReal)):
        layer.CreateField(ogr.FieldDefn(name, kind))
    for i, velocity in enumerate((-12.5, None, 3.0)):
        feature = ogr.Feature(layer.GetLayerDefn())
        if velocity is not None:
            feature.SetField("velocity", velocity)
        feature.SetField("D20200101", 0.0)
        feature.SetField("D20200201", -1.0 * (i + 1))
        feature.SetGeometry(ogr.CreateGeometryFromWkt(
            f"MULTIPOINT (({-105.0 + 0.01 * i} 36.1), ({-105.0 + 0.01 * i} 36.11))"))
        layer.CreateFeature(feature)
    ds = None
    return str(path)


def _inputs(parameter):
    """(algorithm, parameters, context) for a points parameter INPUT, as Processing passes them."""
    algorithm = Kriging()
    algorithm.initAlgorithm()
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return algorithm, {"INPUT": parameter}, context


def _table(parameter):
    algorithm, parameters, context = _inputs(parameter)
    return read_point_layer(algorithm, parameters, "INPUT", context, TARGET, QgsProcessingFeedback())


def test_file_and_memory_layers_give_the_same_exploded_points(qgis_app, tmp_path):
    path = _write_multipoints(tmp_path / "multi.gpkg")
    from_file = _table(path)
    layer = QgsVectorLayer(f"{path}|layername=points", "points", "ogr")
    memory = layer.materialize(QgsFeatureRequest())
    QgsProject.instance().addMapLayer(memory)
    try:
        from_memory = _table(memory.id())
    finally:
        QgsProject.instance().removeMapLayer(memory.id())
    assert len(from_file) == len(from_memory) == 6  # every part of every multipoint
    transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), TARGET, QgsProject.instance())
    expected = [transform.transform(QgsPointXY(-105.0 + 0.01 * i, lat)) for i in range(3) for lat in (36.1, 36.11)]
    for table in (from_file, from_memory):
        np.testing.assert_allclose(table.x, [p.x() for p in expected], atol=1e-6)
        np.testing.assert_allclose(table.y, [p.y() for p in expected], atol=1e-6)
        np.testing.assert_array_equal(table.numeric("velocity"), [-12.5, -12.5, np.nan, np.nan, 3.0, 3.0])
        np.testing.assert_array_equal(table.series[:, 1], [-1, -1, -2, -2, -3, -3])


def test_values_series_and_selections(qgis_app, tmp_path):
    path = _write_multipoints(tmp_path / "multi.gpkg")
    algorithm, parameters, context = _inputs(path)
    x, y, values, skipped = points_with_values(algorithm, parameters, "INPUT", "velocity", TARGET, context,
                                               QgsProcessingFeedback())
    assert skipped == 2 and values.tolist() == [-12.5, -12.5, 3.0, 3.0]
    _, _, dates, series = point_series(algorithm, parameters, "INPUT", TARGET, context, QgsProcessingFeedback())
    assert dates.astype(str).tolist() == ["2020-01-01", "2020-02-01"] and series.shape == (6, 2)
    layer = QgsVectorLayer(f"{path}|layername=points", "points", "ogr")
    QgsProject.instance().addMapLayer(layer)
    try:
        layer.selectByIds([3])  # only the third feature: read feature by feature
        selected = QgsProcessingFeatureSourceDefinition(layer.id(), True)
        table = _table(selected)
    finally:
        QgsProject.instance().removeMapLayer(layer.id())
    assert table.numeric("velocity").tolist() == [3.0, 3.0]
    with pytest.raises(Exception, match="no field 'speed'"):
        points_with_values(algorithm, parameters, "INPUT", "speed", TARGET, context, QgsProcessingFeedback())
