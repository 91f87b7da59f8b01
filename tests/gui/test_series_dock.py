"""The Time series dock: a click picks the nearest point of each layer (a GeoPackage read through the index task and
a memory layer), a polygon gives the mean, spread and count of the points inside, the nearest piezometer's heads
go on the second axis, a forecast layer is joined by pid or by location, a reference point is subtracted, the
plotted data export as CSV and the plot as PNG, and a model file runs subsidence:forecastseries in a task."""
import csv
import time

import numpy as np
import pytest
from qgis.core import QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsRectangle, QgsVectorLayer
from qgis.gui import QgsMapMouseEvent
from qgis.PyQt.QtCore import QEvent, QPoint, Qt
from qgis.PyQt.QtWidgets import QApplication

from subsidence_plugin.core.io.grid import crs_wkt_from_epsg
from subsidence_plugin.core.io.points import date_field_name
from subsidence_plugin.core.io.vectors import VectorLayer, write_geopackage
from subsidence_plugin.gui.docks.series_dock import SeriesDock, parameter_keys
from subsidence_plugin.gui.widgets.point_index import PointIndex, key_strings, read_ogr_points
from subsidence_plugin.gui.widgets.series_data import AreaStatistics, Curve, dated_fields, rereferenced, write_csv

ASC_DATES = np.datetime64("2020-01-01") + np.arange(6) * 12
DESC_DATES = np.datetime64("2020-01-05") + np.arange(6) * 12
HEAD_DATES = np.array(["2019-12-01", "2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01"], dtype="datetime64[D]")
ASC_XY = np.array([[700000.0, 4100000.0], [700100.0, 4100000.0], [700050.0, 4100080.0], [701000.0, 4101000.0]])
ASC_SERIES = np.array([[0.0, -1.0, -2.5, -3.0, -4.5, -6.0],
                       [0.0, -2.0, -4.0, -5.5, -8.0, -10.0],
                       [0.0, np.nan, -1.0, -1.5, -2.0, -2.0],
                       [0.0, 0.5, 0.2, 0.1, 0.4, 0.3]])
DESC_XY = np.array([[700002.0, 4100001.0], [700060.0, 4100040.0], [700900.0, 4100900.0]])
DESC_SERIES = np.array([[0.0, -0.5, -1.0, -2.0, -2.5, -3.0],
                        [0.0, -1.5, -3.0, -4.0, -6.0, -7.5],
                        [0.0, 0.0, 0.1, 0.2, 0.1, 0.0]])
PIEZOMETERS = {"P1": ((699000.0, 4100000.0), [10.0, 9.5, 9.0, 8.7, 8.1]),
               "P2": ((700200.0, 4100500.0), [20.5, 20.1, 19.8, 19.0, 18.2])}
EPSG = 25830


def _memory(name, fields, rows):
    """A point layer in memory: ``fields`` as "name:type", ``rows`` as ((x, y), [values])."""
    layer = QgsVectorLayer(f"Point?crs=EPSG:{EPSG}&{'&'.join(f'field={f}' for f in fields)}", name, "memory")
    features = []
    for (x, y), values in rows:
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(x, y)))
        feature.setAttributes([None if isinstance(v, float) and np.isnan(v) else v for v in values])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    return layer


def _wait(condition, timeout=60):
    start = time.time()
    while not condition():
        QApplication.processEvents()
        time.sleep(0.01)
        assert time.time() - start < timeout


@pytest.fixture
def layers(qgis_new_project, tmp_path):
    """Ascending points in a GeoPackage (pid, DYYYYMMDD), descending points in memory (D_YYYYMMDD, no pid),
    piezometers (D_YYYYMMDD heads, m) and a forecast layer (P, F, FLO_, FHI_ fields)."""
    columns = {"pid": np.array(["A1", "A2", "A3", "A4"], dtype=object), "VEL_MM_YR": np.array([-9.0, -15, -4, 1])}
    columns.update({date_field_name(d): ASC_SERIES[:, j] for j, d in enumerate(ASC_DATES)})
    path = write_geopackage(str(tmp_path / "asc.gpkg"), [VectorLayer("ps_asc", columns, points=ASC_XY)],
                            crs_wkt_from_epsg(EPSG))
    ascending = QgsVectorLayer(f"{path}|layername=ps_asc", "PS ascending", "ogr")
    descending = _memory("PS descending", [f"{date_field_name(d, 'D_')}:double" for d in DESC_DATES],
                         [(xy, row.tolist()) for xy, row in zip(DESC_XY, DESC_SERIES)])
    piezometers = _memory("piezometers", ["name:string"] + [f"{date_field_name(d, 'D_')}:double" for d in HEAD_DATES],
                          [(xy, [name] + heads) for name, (xy, heads) in PIEZOMETERS.items()])
    held = ["P20200206", "P20200218"]
    ahead = ["F20200401", "F20200501"]
    band = ["FLO_20200401", "FLO_20200501", "FHI_20200401", "FHI_20200501"]
    forecasts = _memory("series forecasts", ["pid:string"] + [f"{n}:double" for n in held + ahead + band], [
        (ASC_XY[0], ["A1", -3.2, -4.4, -7.0, -8.0, -8.0, -9.5, -6.0, -6.5]),
        (ASC_XY[1], ["A2", -5.0, -7.5, -11.0, -12.0, -12.5, -14.0, -9.5, -10.0]),
        (DESC_XY[0] + [0.3, 0.0], ["D1", -2.1, -2.4, -3.5, -4.0, np.nan, np.nan, np.nan, np.nan])])
    QgsProject.instance().addMapLayers([ascending, descending, piezometers, forecasts])
    return {"asc": ascending, "desc": descending, "piezometers": piezometers, "forecasts": forecasts}


@pytest.fixture
def dock(layers, qgis_canvas):
    from qgis.core import QgsCoordinateReferenceSystem

    qgis_canvas.window().show()  # a hidden canvas keeps a tiny map size: 3.3 m a pixel needs its 600 pixels
    QApplication.processEvents()
    qgis_canvas.setDestinationCrs(QgsCoordinateReferenceSystem(f"EPSG:{EPSG}"))
    qgis_canvas.setExtent(QgsRectangle(699500.0, 4099500.0, 701500.0, 4101500.0))
    assert qgis_canvas.mapUnitsPerPixel() == pytest.approx(2000.0 / 598, rel=0.01)
    widget = SeriesDock(qgis_canvas)
    yield widget
    widget.unload()
    qgis_canvas.window().hide()


def _click(dock, x, y, modifiers=Qt.NoModifier):
    """Release the left button over a map position with the dock's pick tool, as the canvas does."""
    canvas = dock.canvas
    pixel = canvas.getCoordinateTransform().transform(QgsPointXY(x, y))
    event = QgsMapMouseEvent(canvas, QEvent.MouseButtonRelease, QPoint(round(pixel.x()), round(pixel.y())),
                             Qt.LeftButton, Qt.LeftButton, modifiers)
    dock.pick_tool.canvasReleaseEvent(event)
    _wait(lambda: not dock.index_tasks)


def _curve(dock, label):
    found = [curve for curve in dock.plotted if curve.label == label]
    assert len(found) == 1, [curve.label for curve in dock.plotted]
    return found[0]


def test_defaults_choose_the_series_the_piezometers_and_the_forecasts(dock, layers):
    assert sorted(layer.name() for layer in dock.series_layers()) == ["PS ascending", "PS descending"]
    assert dock.piezometer_layer.currentLayer() is layers["piezometers"]
    assert dock.forecast_layer.currentLayer() is layers["forecasts"]


def test_a_click_picks_the_nearest_point_of_each_layer(dock, layers):
    _click(dock, 700003.0, 4100002.0)
    assert [(p.key, p.fid) for p in dock.points] == [("A1", 1), ("", 1)]
    assert [p.curve.label for p in dock.points] == ["A1 (PS ascending)", "fid 1 (PS descending)"]
    np.testing.assert_array_equal(dock.points[0].curve.dates, ASC_DATES)
    np.testing.assert_array_equal(dock.points[0].curve.values, ASC_SERIES[0])
    np.testing.assert_array_equal(dock.points[1].curve.dates, DESC_DATES)
    np.testing.assert_array_equal(dock.points[1].curve.values, DESC_SERIES[0])
    line = dock.plot.axes.get_lines()[0]
    assert line.get_label() == "A1 (PS ascending)" and np.allclose(line.get_ydata(), ASC_SERIES[0])
    assert dock.plot.axes.get_ylabel().startswith("displacement (mm)")

    _click(dock, 700101.0, 4100003.0, Qt.ShiftModifier)  # adds A2 (the descending points are too far)
    assert [p.key for p in dock.points] == ["A1", "", "A2"]
    np.testing.assert_array_equal(_curve(dock, "A2 (PS ascending)").values, ASC_SERIES[1])
    _click(dock, 700049.0, 4100079.0)  # a plain click starts again: A3, with its gap kept as NaN
    assert [p.key for p in dock.points] == ["A3"]
    assert np.isnan(dock.points[0].curve.values[1]) and dock.points[0].curve.values[2] == -1.0
    _click(dock, 699600.0, 4101400.0)  # nothing within 8 pixels: the points stay
    assert [p.key for p in dock.points] == ["A3"] and "No point" in dock.status.text()


def test_a_click_on_a_map_in_another_crs(dock):
    from qgis.core import QgsCoordinateReferenceSystem, QgsCoordinateTransform

    geographic = QgsCoordinateReferenceSystem("EPSG:4326")
    where = QgsCoordinateTransform(QgsCoordinateReferenceSystem(f"EPSG:{EPSG}"), geographic,
                                   QgsProject.instance()).transform(QgsPointXY(700101.0, 4100003.0))
    dock.canvas.setDestinationCrs(geographic)
    dock.canvas.setExtent(QgsRectangle(where.x() - 0.01, where.y() - 0.01, where.x() + 0.01, where.y() + 0.01))
    _click(dock, where.x(), where.y())
    assert [p.curve.label for p in dock.points] == ["A2 (PS ascending)"]
    assert (dock.points[0].x, dock.points[0].y) == tuple(ASC_XY[1])


def _release(tool, x, y, button=Qt.LeftButton):
    pixel = tool.canvas().getCoordinateTransform().transform(QgsPointXY(x, y))
    tool.canvasReleaseEvent(QgsMapMouseEvent(tool.canvas(), QEvent.MouseButtonRelease,
                                             QPoint(round(pixel.x()), round(pixel.y())), button, button))


def test_a_polygon_gives_the_mean_spread_and_count_of_the_points_inside(dock):
    for x, y in ((699990, 4099990), (700110, 4099990), (700110, 4100090), (699990, 4100090)):
        _release(dock.polygon_tool, x, y)  # drawn with the polygon tool: four vertices, a right click closes it
    _release(dock.polygon_tool, 699990, 4100090, Qt.RightButton)
    assert dock.polygon_tool.vertices == []
    _wait(lambda: not dock.index_tasks and dock.area_task is None)
    ascending = _curve(dock, "mean of 3 points (PS ascending)")
    inside = ASC_SERIES[:3]
    np.testing.assert_allclose(ascending.values, np.nanmean(inside, axis=0))
    np.testing.assert_allclose(ascending.std, np.nanstd(inside, axis=0, ddof=1))
    np.testing.assert_array_equal(ascending.count, [3, 2, 3, 3, 3, 3])
    assert ascending.values[5] == pytest.approx((-6.0 - 10.0 - 2.0) / 3)
    descending = _curve(dock, "mean of 2 points (PS descending)")
    np.testing.assert_allclose(descending.values, DESC_SERIES[:2].mean(axis=0))
    np.testing.assert_array_equal(descending.dates, DESC_DATES)


def test_area_statistics_in_blocks_equal_the_whole():
    rng = np.random.default_rng(4)
    series = rng.normal(-5.0, 3.0, (1000, 7))
    series[rng.random(series.shape) < 0.2] = np.nan
    series[:, 6] = np.nan
    series[5, 6] = 2.0
    statistics = AreaStatistics(7)
    for start in range(0, 1000, 137):
        statistics.add(series[start:start + 137])
    mean, std, count = statistics.result()
    np.testing.assert_allclose(mean[:6], np.nanmean(series[:, :6], axis=0))
    np.testing.assert_allclose(std[:6], np.nanstd(series[:, :6], axis=0, ddof=1))
    np.testing.assert_array_equal(count, np.isfinite(series).sum(axis=0))
    assert mean[6] == 2.0 and np.isnan(std[6])


def test_the_nearest_piezometer_heads_are_on_the_second_axis(dock):
    _click(dock, 700101.0, 4100003.0)  # A2: P2 is 510 m away, P1 1100 m
    heads = _curve(dock, "head P2, 0.5 km from A2 (PS ascending)")
    assert heads.unit == "m"
    np.testing.assert_array_equal(heads.values, PIEZOMETERS["P2"][1])
    line = dock.plot.head_axes.get_lines()[0]
    np.testing.assert_array_equal(line.get_ydata(), PIEZOMETERS["P2"][1])
    assert dock.plot.head_axes.get_ylabel() == "groundwater head (m)"
    assert [line.get_label() for line in dock.plot.axes.get_lines()][:1] == ["A2 (PS ascending)"]
    index, distance = dock.nearest_piezometer(dock.points[0].layer_id, 700100.0, 4100000.0)
    assert dock.piezometers.names[index] == "P2" and distance == pytest.approx(np.hypot(100.0, 500.0))


def test_the_forecast_layer_joins_by_pid_or_location(dock):
    _click(dock, 700003.0, 4100002.0)
    _wait(lambda: not dock.index_tasks)
    held = _curve(dock, "A1 (PS ascending) held-out forecast")
    np.testing.assert_array_equal(held.dates, np.array(["2020-02-06", "2020-02-18"], dtype="datetime64[D]"))
    np.testing.assert_array_equal(held.values, [-3.2, -4.4])
    ahead = _curve(dock, "A1 (PS ascending) forecast")
    np.testing.assert_array_equal(ahead.values, [-7.0, -8.0])
    np.testing.assert_array_equal(ahead.low, [-8.0, -9.5])
    np.testing.assert_array_equal(ahead.high, [-6.0, -6.5])
    by_location = _curve(dock, "fid 1 (PS descending) forecast")  # no pid: the forecast point 0.3 m away
    np.testing.assert_array_equal(by_location.values, [-3.5, -4.0])
    assert by_location.low is None
    assert ahead.colour == dock.points[0].curve.colour


def test_reference_point_is_subtracted(dock):
    _click(dock, 700003.0, 4100002.0)
    _click(dock, 700101.0, 4100003.0, Qt.ShiftModifier)
    dock.reference.setCurrentIndex(dock.reference.findText("A1 (PS ascending)"))
    relative = _curve(dock, "A2 (PS ascending)")
    assert relative.reference == "A1 (PS ascending)"
    np.testing.assert_allclose(relative.values, ASC_SERIES[1] - ASC_SERIES[0])
    own = _curve(dock, "A1 (PS ascending)")
    np.testing.assert_array_equal(own.values, np.zeros(6))
    other_track = _curve(dock, "fid 1 (PS descending)")  # 4 days later: interpolated
    expected = DESC_SERIES[0][:5] - np.interp((DESC_DATES[:5] - ASC_DATES[0]).astype(float),
                                              (ASC_DATES - ASC_DATES[0]).astype(float), ASC_SERIES[0])
    np.testing.assert_allclose(other_track.values[:5], expected)
    # 2020-03-05 is after A1's last date: A1's forecast layer values continue it (-6 on 03-01, -7 on 04-01)
    assert other_track.values[5] == pytest.approx(DESC_SERIES[0][5] - (-6.0 - 4.0 / 31.0))
    forecast = _curve(dock, "A2 (PS ascending) forecast")  # A1's own forecast continues A1's series
    np.testing.assert_allclose(forecast.values, [-11.0 + 7.0, -12.0 + 8.0])
    np.testing.assert_allclose(forecast.high, [-9.5 + 7.0, -10.0 + 8.0])  # the band moves with the values
    heads = [c for c in dock.plotted if c.unit == "m"]
    assert heads and heads[0].values[0] == PIEZOMETERS["P2"][1][0] and not heads[0].reference
    assert dock.plot.axes.get_ylabel() == "displacement relative to A1 (PS ascending) (mm)"
    dock.reference.setCurrentIndex(0)
    np.testing.assert_array_equal(_curve(dock, "A2 (PS ascending)").values, ASC_SERIES[1])


def test_csv_and_png_exports(dock, tmp_path):
    _click(dock, 700101.0, 4100003.0)
    square = QgsGeometry.fromPolygonXY([[QgsPointXY(699990, 4099990), QgsPointXY(700110, 4099990),
                                         QgsPointXY(700110, 4100090), QgsPointXY(699990, 4100090)]])
    dock.select_polygon(square)
    _wait(lambda: dock.area_task is None)
    _click(dock, 700101.0, 4100003.0, Qt.ShiftModifier)  # the same point again: not added twice
    assert len(dock.points) == 1
    dock.export_csv(str(tmp_path / "series.csv"))
    with open(tmp_path / "series.csv", newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    dates = sorted(set(map(str, ASC_DATES)) | set(map(str, DESC_DATES)) | set(map(str, HEAD_DATES)) |
                   {"2020-04-01", "2020-05-01"})
    assert [row["date"] for row in rows] == dates
    by_date = {row["date"]: row for row in rows}
    assert by_date["2020-01-13"]["A2 (PS ascending) (mm)"] == "-2"
    assert by_date["2020-01-13"]["mean of 3 points (PS ascending) count"] == "2"
    assert float(by_date["2020-01-25"]["mean of 3 points (PS ascending) (mm)"]) == pytest.approx(-7.5 / 3)
    assert float(by_date["2020-01-25"]["mean of 3 points (PS ascending) std (mm)"]) == pytest.approx(
        np.std([-2.5, -4.0, -1.0], ddof=1))
    assert by_date["2020-03-01"]["head P2, 0.5 km from A2 (PS ascending) (m)"] == "19"
    assert by_date["2020-05-01"]["A2 (PS ascending) forecast high (mm)"] == "-10"
    assert by_date["2020-01-05"]["A2 (PS ascending) (mm)"] == ""
    dock.export_png(str(tmp_path / "series.png"))
    with open(tmp_path / "series.png", "rb") as stream:
        assert stream.read(8) == b"\x89PNG\r\n\x1a\n"


def test_series_data_helpers(tmp_path):
    names = ["pid", "D20200101", "D_20200113", "20200125", "P20200206", "F20200401", "FLO_20200401", "F2020041"]
    assert [n for _, n in dated_fields(names)] == ["D20200101", "D_20200113", "20200125"]
    assert [n for _, n in dated_fields(names, "F")] == ["F20200401"]
    assert [n for _, n in dated_fields(names, "FLO_")] == ["FLO_20200401"]
    dates = np.array(["2020-01-01", "2020-01-11"], dtype="datetime64[D]")
    curves = [Curve("a", dates, np.array([1.0, 2.0])), Curve("h", dates, np.array([5.0, 6.0]), unit="m")]
    reference = [Curve("r", dates[:1], np.array([0.5])), Curve("r forecast", dates[1:], np.array([1.5]),
                                                                kind="forecast")]
    moved = rereferenced(curves, reference, "r")
    np.testing.assert_allclose(moved[0].values, [0.5, 0.5])
    assert moved[0].label == "a" and moved[0].reference == "r" and moved[1] is curves[1]
    assert write_csv(str(tmp_path / "moved.csv"), moved) == 2
    with open(tmp_path / "moved.csv", encoding="utf-8") as stream:
        assert stream.read().splitlines() == ['date,"a (mm, relative to r)",h (m)', "2020-01-01,0.5,5",
                                              "2020-01-11,0.5,6"]
    assert list(key_strings(np.array([3.0, 4.5]))) == ["3", "4.5"]
    assert list(key_strings(np.ma.masked_array([7, 8], mask=[False, True]))) == ["7", ""]


def test_the_index_reads_geopackages_column_wise(layers, tmp_path):
    from subsidence_plugin.processing.inputs import ogr_file_of

    path, name = ogr_file_of(layers["asc"])
    x, y, fids, keys = read_ogr_points(path, name, "pid")
    np.testing.assert_array_equal(np.column_stack([x, y]), ASC_XY)
    assert list(fids) == [1, 2, 3, 4] and list(keys) == ["A1", "A2", "A3", "A4"]
    index = PointIndex(x, y, fids, keys)
    assert index.nearest(700090.0, 4100000.0, 20.0) == 1 and index.nearest(700090.0, 4100000.0, 5.0) is None
    assert list(index.rows_with_key("A3")) == [2] and list(index.rows_with_key("")) == []


def test_the_forecast_parameters_are_the_algorithms(provider):
    from qgis.core import QgsApplication

    keys = parameter_keys(QgsApplication.processingRegistry().algorithmById("subsidence:forecastseries"))
    assert {keys.INPUT, keys.MODEL_FILE, keys.GROUNDWATER, keys.FACTORS, keys.HORIZON_MONTHS, keys.SCENARIO,
            keys.DRAWDOWN_CHANGE, keys.OUTPUT} == {"INPUT", "MODEL_FILE", "GROUNDWATER", "FACTORS",
                                                   "HORIZON_MONTHS", "SCENARIO", "DRAWDOWN_CHANGE", "OUTPUT"}


def test_a_model_file_forecasts_the_picked_points_in_a_task(provider, sample_area, qgis_new_project, qgis_canvas,
                                                             tmp_path, wait_for_dock):
    import processing

    from subsidence_plugin.core.io.points import read_points

    points = f"{sample_area.vector_path}|layername=ps_points"
    piezometers = f"{sample_area.vector_path}|layername=piezometers"
    model = processing.run("subsidence:trainseriesmodel", {
        "INPUT": points, "GROUNDWATER": piezometers, "WINDOW": 6, "EPOCHS": 1, "DEVICE": 3,
        "OUTPUT": str(tmp_path / "trained.gpkg"), "OUTPUT_MODEL": str(tmp_path / "lstm.pt")})["OUTPUT_MODEL"]
    expected = read_points(processing.run("subsidence:forecastseries", {
        "INPUT": points, "MODEL_FILE": model, "GROUNDWATER": piezometers, "HORIZON_MONTHS": 4, "SCENARIO": 1,
        "OUTPUT": str(tmp_path / "all.gpkg")})["OUTPUT"])
    layer = QgsVectorLayer(points, "PS points", "ogr")
    wells = QgsVectorLayer(piezometers, "piezometers", "ogr")
    QgsProject.instance().addMapLayers([layer, wells])
    table = read_points(sample_area.vector_path, "ps_points")
    x, y = table.x[10], table.y[10]
    qgis_canvas.window().show()
    QApplication.processEvents()
    qgis_canvas.setDestinationCrs(layer.crs())
    qgis_canvas.setExtent(QgsRectangle(x - 300.0, y - 300.0, x + 300.0, y + 300.0))
    dock = SeriesDock(qgis_canvas)
    try:
        assert dock.piezometer_layer.currentLayer() is wells
        _click(dock, x, y)
        assert [p.key for p in dock.points] == [table.attributes["ps_id"][10]]
        dock.model_file.setFilePath(model)
        dock.horizon.setValue(4)
        dock.scenario.setCurrentIndex(1)
        dock.run()
        assert dock.running
        wait_for_dock(dock)
        assert dock.outcome == "done", dock.status.text()
        forecast = _curve(dock, f"{table.attributes['ps_id'][10]} (PS points) model forecast")
        names = [f"F{d}" for d in ("20210101", "20210201", "20210301", "20210401")]
        np.testing.assert_array_equal(forecast.dates, np.array(["2021-01-01", "2021-02-01", "2021-03-01",
                                                                "2021-04-01"], dtype="datetime64[D]"))
        np.testing.assert_allclose(forecast.values, [expected.numeric(n)[10] for n in names], rtol=1e-5)
        assert "Forecast 4 months ahead for 1 of the picked points" in dock.status.text()
        assert dock.forecast_folder == "" and dock.forecast_runs == []  # the temporary outputs are gone
    finally:
        dock.unload()
        qgis_canvas.window().hide()
