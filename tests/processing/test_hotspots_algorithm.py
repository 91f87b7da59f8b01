"""subsidence:hotspots through Processing: every input point and field kept with GI_Z / GI_P / GI_CLASS equal to the
core's, NULL values left out, the 99 % filter, the class style, a geographic CRS reprojected, bad inputs refused with
nothing written (issue 14)."""
import numpy as np
import pytest
from qgis.core import (QgsCategorizedSymbolRenderer, QgsCoordinateReferenceSystem, QgsFeature, QgsGeometry,
                       QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject, QgsVectorLayer)
from qgis.PyQt.QtCore import QVariant

from subsidence_plugin.core.io.points import read_points, transform_points
from subsidence_plugin.core.points.hotspots import hot_spots
from subsidence_plugin.processing import styles

EPSG = "EPSG:25830"
FIELDS = [("pid", QVariant.String), ("code", QVariant.Int), ("VEL_MM_YR", QVariant.Double),
          ("D20200101", QVariant.Double)]


def _points(n=300, seed=2, null_every=0):
    """A subsiding bowl (−20 mm/yr) on a −5 mm/yr background over 2 km, in EPSG:25830."""
    rng = np.random.default_rng(seed)
    x, y = 180000 + rng.uniform(0, 2000, n), 4130000 + rng.uniform(0, 2000, n)
    velocity = -5 - 20 * np.exp(-((x - 181000) ** 2 + (y - 4131000) ** 2) / 300.0 ** 2) + rng.normal(0, 1, n)
    if null_every:
        velocity[::null_every] = np.nan
    return x, y, velocity


def _layer(write, path, x, y, velocity, crs=EPSG, fields=FIELDS):
    rows = [(px, py, [f"p{i}", i * 10, v, 0.5 * i][:len(fields)])
            for i, (px, py, v) in enumerate(zip(x.tolist(), y.tolist(), velocity.tolist()))]
    return write(path, rows, fields, crs)


def _run(parameters, feedback=None):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run("subsidence:hotspots", parameters, context=context,
                          feedback=feedback or QgsProcessingFeedback())


def test_every_point_and_field_kept_with_the_core_values(provider, tmp_path, write_point_layer):
    x, y, velocity = _points(null_every=37)
    source = _layer(write_point_layer, tmp_path / "points.gpkg", x, y, velocity)
    output, report = str(tmp_path / "hot.gpkg"), str(tmp_path / "hot.html")
    results = _run({"INPUT": source, "FIELD": "VEL_MM_YR", "DISTANCE_BAND": 0, "OUTPUT": output, "REPORT": report})
    table = read_points(output)
    assert len(table) == len(x)
    assert list(table.attributes) == ["pid", "code", "VEL_MM_YR", "GI_Z", "GI_P", "GI_CLASS"]
    assert table.date_fields == ["D20200101"]
    order = np.argsort(table.fids)
    np.testing.assert_array_equal(table.attributes["pid"][order], [f"p{i}" for i in range(len(x))])
    np.testing.assert_array_equal(table.attributes["code"][order], np.arange(len(x)) * 10)
    known = np.isfinite(velocity)
    expected = hot_spots(x[known], y[known], velocity[known])
    gi_z = table.numeric("GI_Z")[order]
    np.testing.assert_allclose(gi_z[known], expected.z, rtol=1e-12)
    assert np.isnan(gi_z[~known]).all() and np.isnan(table.numeric("GI_P")[order][~known]).all()
    np.testing.assert_array_equal(table.numeric("GI_CLASS")[order][known], expected.classes)
    assert results["DISTANCE_BAND"] == pytest.approx(expected.band)
    assert results["MORAN_Z"] == pytest.approx(expected.moran.z[expected.chosen])
    assert results["SKIPPED"] == int((~known).sum()) and results["COLD_99"] == expected.counts()[-3] > 0
    centre = np.hypot(x - 181000, y - 4131000) < 150
    assert np.all(table.numeric("GI_CLASS")[order][centre & known] == -3)  # the bowl is a cold spot
    text = open(report, encoding="utf-8").read()
    assert "Moran" in text and "data:image/png" in text and f"{expected.band:.1f} m" in text


def test_keep_only_99_percent(provider, tmp_path, write_point_layer):
    x, y, velocity = _points()
    source = _layer(write_point_layer, tmp_path / "points.gpkg", x, y, velocity)
    output = str(tmp_path / "hot.gpkg")
    results = _run({"INPUT": source, "FIELD": "VEL_MM_YR", "DISTANCE_BAND": 250, "FDR": False,
                    "KEEP_SIGNIFICANT_ONLY": True, "OUTPUT": output})
    classes = read_points(output).numeric("GI_CLASS")
    assert len(classes) == results["COLD_99"] + results["HOT_99"] > 0 and np.all(np.abs(classes) == 3)
    assert np.all(read_points(output).numeric("GI_P") < 0.01)


def test_output_is_styled_by_class(provider, tmp_path, write_point_layer):
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication

    x, y, velocity = _points()
    source = _layer(write_point_layer, tmp_path / "points.gpkg", x, y, velocity)
    output = str(tmp_path / "styled.gpkg")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    algorithm = QgsApplication.processingRegistry().algorithmById("subsidence:hotspots")
    import processing
    from qgis.core import QgsProcessingOutputLayerDefinition

    destination = QgsProcessingOutputLayerDefinition(output, QgsProject.instance())
    processing.run(algorithm, {"INPUT": source, "FIELD": "VEL_MM_YR", "OUTPUT": destination}, context=context,
                   feedback=feedback)
    assert handleAlgorithmResults(algorithm, context, feedback, showResults=False)
    layers = [node.layer() for node in QgsProject.instance().layerTreeRoot().findLayers()
              if node.layer().source().startswith(output)]
    assert len(layers) == 1
    renderer = layers[0].renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "GI_CLASS"
    colours = {int(c.value()): c.symbol().color().name() for c in renderer.categories()}
    assert colours == {value: colour for value, (_, colour) in styles.HOT_SPOT_CLASSES.items()}
    labels = [c.label() for c in renderer.categories()]
    assert labels[0].startswith("\u22123 cold") and labels[3] == "0 not significant" and labels[-1].startswith("+3 hot")
    QgsProject.instance().removeAllMapLayers()


def test_geographic_crs_is_reprojected(provider, tmp_path, write_point_layer):
    x, y, velocity = _points()
    lon, lat = transform_points(x, y, QgsCoordinateReferenceSystem(EPSG).toWkt(),
                                QgsCoordinateReferenceSystem("EPSG:4326").toWkt())
    projected = _run({"INPUT": _layer(write_point_layer, tmp_path / "utm.gpkg", x, y, velocity), "FIELD": "VEL_MM_YR",
                      "DISTANCE_BAND": 250, "OUTPUT": str(tmp_path / "utm_hot.gpkg")})
    feedback = QgsProcessingFeedback()
    messages = []
    feedback.pushInfo = lambda text: messages.append(text)
    geographic = _run({"INPUT": _layer(write_point_layer, tmp_path / "wgs84.gpkg", lon, lat, velocity, "EPSG:4326"),
                       "FIELD": "VEL_MM_YR", "DISTANCE_BAND": 250, "OUTPUT": str(tmp_path / "wgs_hot.gpkg")}, feedback)
    assert any("azimuthal equidistant" in m for m in messages)
    z_utm = read_points(projected["OUTPUT"]).numeric("GI_Z")
    z_geo = read_points(geographic["OUTPUT"]).numeric("GI_Z")
    assert np.corrcoef(z_utm, z_geo)[0, 1] > 0.99  # metres both times (UTM scale and aeqd differ by < 0.1 %)
    assert read_points(geographic["OUTPUT"]).crs_wkt and abs(read_points(geographic["OUTPUT"]).x[0]) < 180


@pytest.mark.parametrize("case, message", [
    ("empty", "empty"), ("text field", "not numeric"), ("all null", "no feature|at least 4"),
    ("one place", "one position"), ("short band", "shorter than the shortest"), ("long band", "across the points")])
def test_bad_inputs_write_nothing(provider, tmp_path, case, message, write_point_layer):
    x, y, velocity = _points(50)
    field, band = "VEL_MM_YR", 0.0
    if case == "empty":
        x, y, velocity = x[:0], y[:0], velocity[:0]
    elif case == "text field":
        field = "pid"
    elif case == "all null":
        velocity[:] = np.nan
    elif case == "one place":
        x[:], y[:] = 180000.0, 4130000.0
    band = {"short band": 1e-4, "long band": 1e6}.get(case, band)
    source = _layer(write_point_layer, tmp_path / "points.gpkg", x, y, velocity)
    output = tmp_path / "out.gpkg"
    with pytest.raises(QgsProcessingException, match=message):
        _run({"INPUT": source, "FIELD": field, "DISTANCE_BAND": band, "OUTPUT": str(output),
              "REPORT": str(tmp_path / "out.html")})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.gpkg"]


def test_cancel_writes_nothing(provider, tmp_path, write_point_layer):
    x, y, velocity = _points()
    source = _layer(write_point_layer, tmp_path / "points.gpkg", x, y, velocity)
    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        _run({"INPUT": source, "FIELD": "VEL_MM_YR", "OUTPUT": str(tmp_path / "out.gpkg")}, feedback)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["points.gpkg"]


def test_memory_layer_with_multipoints(provider, tmp_path):
    """A memory layer (read feature by feature) with a multipoint: its parts become points with its fields."""
    x, y, velocity = _points(60)
    layer = QgsVectorLayer(f"MultiPoint?crs={EPSG}&field=pid:string&field=v:double", "mem", "memory")
    features = []
    for i in range(60):
        feature = QgsFeature(layer.fields())
        wkt = f"MULTIPOINT (({x[i]!r} {y[i]!r}))" if i else f"MULTIPOINT (({x[0]!r} {y[0]!r}), ({x[0] + 5!r} {y[0]!r}))"
        feature.setGeometry(QgsGeometry.fromWkt(wkt))
        feature.setAttributes([f"m{i}", float(velocity[i])])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    results = _run({"INPUT": layer, "FIELD": "v", "OUTPUT": str(tmp_path / "mem.gpkg")})
    table = read_points(results["OUTPUT"])
    assert len(table) == 61 and sorted(table.attributes["pid"].tolist()).count("m0") == 2
