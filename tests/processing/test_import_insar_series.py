"""subsidence:importinsarseries: EGMS tiles merged without the burst overlaps' duplicates, P-SBAS point layers in
cm, re-referencing, styled output, clear refusals that leave nothing behind."""
import os

import numpy as np
import pytest
from osgeo import ogr
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsFeatureRequest, QgsFeatureSource, QgsField,
                       QgsFields, QgsGeometry, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback,
                       QgsProject, QgsRectangle, QgsVectorFileWriter, QgsVectorLayer, QgsWkbTypes)
from qgis.PyQt.QtCore import QVariant

DATES = np.arange(np.datetime64("2019-01-06"), np.datetime64("2020-01-06"), 6)


def _run(parameters, context=None, feedback=None):
    import processing

    if context is None:
        context = QgsProcessingContext()
        context.setProject(QgsProject.instance())
    return processing.run("subsidence:importinsarseries", parameters, context=context,
                          feedback=feedback or QgsProcessingFeedback())


def _values(path, field_names):
    layer = QgsVectorLayer(path, "out", "ogr")
    assert layer.isValid()
    rows = {f["pid"]: [f[name] for name in field_names] for f in layer.getFeatures()}
    return layer, rows


def _tiles(tmp_path, write_egms_csv):
    """Two tiles of 6 points each sharing 2 points (same pid; the second tile's copies have the lower rmse) and a
    third point 0.5 m from one of the first tile's points under another pid."""
    years = (DATES - DATES[0]).astype(float) / 365.25
    velocity = np.array([-10.0, -5.0, 0.0, 3.0, -20.0, 1.0])
    series = velocity[:, None] * years[None, :]
    x = 4.2e6 + 50.0 * np.arange(6)
    first = write_egms_csv(tmp_path / "EGMS_L2a_1.csv", [f"A{i}" for i in range(6)], x, np.full(6, 3.1e6),
                           DATES, series, np.full(6, 2.0), velocity)
    pids = ["A4", "A5", "B0", "B1", "B2", "B3"]
    x2 = np.r_[x[4:], 4.2e6 + 1000 + 50 * np.arange(3), x[0] + 0.5]
    second = write_egms_csv(tmp_path / "EGMS_L2a_2.csv", pids, x2, np.full(6, 3.1e6), DATES, series + 1.0,
                            np.r_[1.0, 1.0, 2.0, 2.0, 2.0, 3.0], velocity)
    return first, second, series


@pytest.fixture
def small_blocks(monkeypatch):
    """Read, stored, converted and written a few rows at a time, as 10^6 points are."""
    from subsidence_plugin.core.io import csv_points, geopackage, row_store
    from subsidence_plugin.processing.timeseries import import_insar_series

    monkeypatch.setattr(csv_points, "BLOCK_BYTES", 1500)
    monkeypatch.setattr(row_store, "WINDOW_ROWS", 2)
    monkeypatch.setattr(import_insar_series, "WRITE_BLOCK", 4)
    monkeypatch.setattr(geopackage, "BATCH_VALUES", 100)


@pytest.mark.parametrize("blocks", ["whole", "small"])
def test_egms_tiles_merged_without_duplicates(provider, tmp_path, write_egms_csv, recording_feedback, blocks, request):
    if blocks == "small":
        request.getfixturevalue("small_blocks")
    first, second, series = _tiles(tmp_path, write_egms_csv)
    output = str(tmp_path / "points.gpkg")
    feedback = recording_feedback
    result = _run({"INPUT": [first, second], "OUTPUT": output}, feedback=feedback)
    assert not any("missing" in line for line in feedback.warnings)  # both tiles have every date
    fields = ["VEL_MM_YR", "VEL_STD_MM_YR", "LOS_E", "LOS_N", "LOS_U", "rmse", "D20190106", "D20190112"]
    layer, rows = _values(result["OUTPUT"], fields)
    assert layer.crs().authid() == "EPSG:3035" and layer.wkbType() == QgsWkbTypes.Point
    # 12 rows - A4, A5 of the first tile (same pid, higher rmse) - B3 (0.5 m from A0, higher rmse) = 9
    assert sorted(rows) == ["A0", "A1", "A2", "A3", "A4", "A5", "B0", "B1", "B2"]
    assert rows["A4"][5] == 1.0 and rows["A4"][7] == pytest.approx(series[0, 1] + 1.0, abs=0.006)  # the copy kept
    assert rows["A1"][:5] == pytest.approx([-5.0, 0.4, -0.6, -0.1, 0.79])
    names = [f.name() for f in layer.fields()]
    assert names[:6] == ["fid", "pid", "VEL_MM_YR", "VEL_STD_MM_YR", "LOS_E", "LOS_N"]
    assert sum(name.startswith("D2") for name in names) == DATES.size and "easting" not in names
    types = {f.name(): f.type() for f in layer.fields()}
    assert types["pid"] == types["mp_type"] == QVariant.String
    assert types["VEL_MM_YR"] == types["rmse"] == types["D20190106"] == QVariant.Double
    assert layer.hasSpatialIndex() == QgsFeatureSource.SpatialIndexPresent and layer.featureCount() == 9
    dataset = ogr.Open(result["OUTPUT"])
    assert dataset.GetLayerCount() == 1 and dataset.GetLayer(0).GetName() == "points"  # named after the file
    request = QgsFeatureRequest(QgsRectangle(4.2e6 + 990, 3.1e6 - 1, 4.2e6 + 1060, 3.1e6 + 1))
    assert sorted(f["pid"] for f in layer.getFeatures(request)) == ["B0", "B1"]  # through the spatial index


def test_memory_output_has_the_same_values(provider, tmp_path, write_egms_csv):
    first, second, _ = _tiles(tmp_path, write_egms_csv)
    fields = ["VEL_MM_YR", "LOS_U", "rmse", "mp_type", "D20190106", "D" + str(DATES[-1]).replace("-", "")]
    _, in_file = _values(_run({"INPUT": [first, second], "OUTPUT": str(tmp_path / "p.gpkg")})["OUTPUT"], fields)
    memory = _run({"INPUT": [first, second], "OUTPUT": "TEMPORARY_OUTPUT"})["OUTPUT"]
    assert memory.providerType() == "memory"
    assert {f["pid"]: [f[name] for name in fields] for f in memory.getFeatures()} == in_file


def test_cancel_while_writing_leaves_nothing(provider, tmp_path, write_egms_csv, small_blocks):
    first, second, _ = _tiles(tmp_path, write_egms_csv)

    class CancelWhileWriting(QgsProcessingFeedback):
        def setProgress(self, progress):  # noqa: N802
            super().setProgress(progress)
            if progress > 60:
                self.cancel()

    before = sorted(os.listdir(tmp_path))
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        _run({"INPUT": [first, second], "OUTPUT": str(tmp_path / "points.gpkg")}, feedback=CancelWhileWriting())
    assert sorted(os.listdir(tmp_path)) == before


def test_psbas_layer_in_cm_multipoints_and_reference_area(provider, tmp_path):
    """A Doñana-style shapefile: ID, Vel (cm/yr), cosU, DYYYYMMDD in cm, MultiPoint geometries in EPSG:25830;
    re-referenced to the mean of the points inside a polygon."""
    fields = QgsFields()
    for name in ("ID", "Vel", "cosU"):
        fields.append(QgsField(name, QVariant.Double))
    for date in DATES[:4]:
        fields.append(QgsField("D" + str(date).replace("-", ""), QVariant.Double))
    path = str(tmp_path / "Sentinel_Asc.shp")
    crs = QgsCoordinateReferenceSystem("EPSG:25830")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "ESRI Shapefile"
    writer = QgsVectorFileWriter.create(path, fields, QgsWkbTypes.MultiPoint, crs,
                                        QgsProject.instance().transformContext(), options)
    for i in range(4):
        feature = QgsFeature(fields)
        feature.setGeometry(QgsGeometry.fromWkt(f"MULTIPOINT (({180000 + 100 * i} 4130000))"))
        feature.setAttributes([float(i + 1), -0.5 * i, 0.8, 0.0, -0.1 * i, -0.2 * i, -0.3 * i])
        writer.addFeature(feature)
    del writer
    area = QgsVectorLayer("Polygon?crs=EPSG:25830", "stable", "memory")
    polygon = QgsFeature()
    polygon.setGeometry(QgsGeometry.fromWkt("POLYGON ((179950 4129950, 180150 4129950, 180150 4130050, "
                                            "179950 4130050, 179950 4129950))"))  # the points ID 1 and 2
    area.dataProvider().addFeatures([polygon])
    QgsProject.instance().addMapLayer(area)
    output = str(tmp_path / "psbas.gpkg")
    result = _run({"INPUT": [path], "UNITS": 2, "REFERENCE": 2, "REFERENCE_AREA": area.id(), "OUTPUT": output})
    _, rows = _values(result["OUTPUT"], ["VEL_MM_YR", "LOS_U", "D20190106", "D20190112", "D20190124"])
    assert sorted(rows) == ["1", "2", "3", "4"]
    # series in mm: point i has 0, -1 i, -2 i, -3 i; the reference is the mean of points 1 and 2 (i = 0, 1)
    assert rows["3"][2:] == pytest.approx([0.0, -2.0 + 0.5, -6.0 + 1.5])
    assert rows["1"][2:] == pytest.approx([0.0, 0.5, 1.5])
    # Vel -1.0 cm/yr, less the slope of the reference series (-0.5 mm every 6 days)
    assert rows["3"][0] == pytest.approx(-10.0 + 0.5 * 365.25 / 6)
    assert rows["4"][1] == pytest.approx(0.8)
    QgsProject.instance().removeMapLayer(area)


def test_output_is_styled_on_the_velocity(provider, tmp_path, write_egms_csv, qgis_new_project):
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication

    first, _, _ = _tiles(tmp_path, write_egms_csv)
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    algorithm = QgsApplication.processingRegistry().algorithmById("subsidence:importinsarseries")
    import processing
    from qgis.core import QgsProcessingOutputLayerDefinition

    output = QgsProcessingOutputLayerDefinition(str(tmp_path / "styled.gpkg"), QgsProject.instance())  # as the dialog
    processing.run(algorithm, {"INPUT": [first], "OUTPUT": output}, context=context, feedback=feedback)
    assert handleAlgorithmResults(algorithm, context, feedback, showResults=False)
    layer = next(iter(QgsProject.instance().mapLayers().values()))
    renderer = layer.renderer()
    assert renderer.type() == "graduatedSymbol" and renderer.classAttribute() == "VEL_MM_YR"
    assert renderer.ranges()[0].label().endswith("mm/yr")


@pytest.mark.parametrize("header, message", [
    ("pid,a,b,20200101\n1,2,3,4\n", "no coordinate columns"),
    ("pid,x,y,velocity\n1,2,3,4\n", "not known"),
])
def test_refusals_leave_nothing(provider, tmp_path, header, message):
    path = tmp_path / "bad.csv"
    path.write_text(header)
    output = str(tmp_path / "out.gpkg")
    with pytest.raises(QgsProcessingException, match=message):
        _run({"INPUT": [str(path)], "OUTPUT": output})
    assert not os.path.exists(output)


def test_csv_without_dates_is_refused(provider, tmp_path):
    path = tmp_path / "velocities.csv"
    path.write_text("pid,x,y,velocity\n1,2,3,4\n")
    with pytest.raises(QgsProcessingException, match="No date fields"):
        _run({"INPUT": [str(path)], "CSV_CRS": "EPSG:25830", "OUTPUT": str(tmp_path / "out.gpkg")})


def test_gaps_are_kept_as_null_and_counted(provider, tmp_path, write_egms_csv, recording_feedback):
    series = np.zeros((2, DATES.size))
    series[1, 3] = np.nan
    path = write_egms_csv(tmp_path / "gappy.csv", ["a", "b"], [4.2e6, 4.2e6 + 50], [3.1e6, 3.1e6], DATES, series,
                          [1.0, 1.0], [0.0, 0.0])
    feedback = recording_feedback
    result = _run({"INPUT": [path], "OUTPUT": str(tmp_path / "gappy.gpkg")}, feedback=feedback)
    assert any(line.startswith("1 value(s) missing in the series of 1 point(s)") for line in feedback.warnings)
    _, rows = _values(result["OUTPUT"], ["D" + str(DATES[3]).replace("-", "")])
    assert rows["a"][0] == 0.0 and (rows["b"][0] is None or str(rows["b"][0]) == "NULL")
