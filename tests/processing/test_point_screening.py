"""subsidence:labelmeasurementpoints and subsidence:screenmeasurementpoints through Processing: the labels equal the
core's, every input field is kept, the screening scores every point and writes its report, styles, refusals."""
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject

from subsidence_plugin.core.io.points import read_points
from subsidence_plugin.core.io.vectors import VectorLayer, write_geopackage
from subsidence_plugin.core.points.labels import label_series

DATES = np.datetime64("2019-01-01") + np.arange(0, 48 * 12, 12).astype("timedelta64[D]")
YEARS = (DATES - DATES[0]).astype(float) / 365.25
WKT_25830 = ('PROJCS["ETRS89 / UTM zone 30N",GEOGCS["ETRS89",DATUM["European_Terrestrial_Reference_System_1989",'
             'SPHEROID["GRS 1980",6378137,298.257222101]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],'
             'PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",-3],'
             'PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",0],'
             'UNIT["metre",1],AUTHORITY["EPSG","25830"]]')


def _run(algorithm, parameters, feedback=None):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run(f"subsidence:{algorithm}", parameters, context=context,
                          feedback=feedback or QgsProcessingFeedback())


def _styled(algorithm, parameters, path):
    """Run as the toolbox dialog does (the output loaded into the project) and return the loaded layer."""
    import processing
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication, QgsProcessingOutputLayerDefinition

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    parameters = dict(parameters, OUTPUT=QgsProcessingOutputLayerDefinition(path, QgsProject.instance()))
    processing.run(f"subsidence:{algorithm}", parameters, context=context, feedback=feedback)
    registry = QgsApplication.processingRegistry()
    assert handleAlgorithmResults(registry.algorithmById(f"subsidence:{algorithm}"), context, feedback,
                                  showResults=False)
    return next(layer for layer in QgsProject.instance().mapLayers().values() if layer.source().startswith(path))


def _points(path, n=600, seed=0, with_series=True):
    rng = np.random.default_rng(seed)
    rate = rng.normal(-8.0, 6.0, n)
    series = rate[:, None] * YEARS[None, :] + rng.normal(0.0, 0.6, (n, len(DATES)))
    spiky = rng.random(n) < 0.35
    series[spiky, rng.integers(5, len(DATES) - 5, spiky.sum())] += 15.0
    series[rng.random(series.shape) < 0.02] = np.nan
    columns = {"pid": np.array([f"P{i}" for i in range(n)], dtype=object), "coherence": rng.uniform(0.5, 1.0, n),
               "code": np.arange(n, dtype=np.int32)}
    if with_series:
        columns.update({f"D{str(d).replace('-', '')}": series[:, j] for j, d in enumerate(DATES)})
    xy = np.column_stack([440000 + rng.uniform(0, 5000, n), 4100000 + rng.uniform(0, 5000, n)])
    write_geopackage(str(path), [VectorLayer("points", columns, points=xy)], WKT_25830)
    return f"{path}|layername=points", series, spiky


def test_labels_equal_the_cores_and_every_field_is_kept(provider, tmp_path, qgis_new_project):
    source, series, _ = _points(tmp_path / "in.gpkg")
    out = str(tmp_path / "labelled.gpkg")
    result = _run("labelmeasurementpoints", {"INPUT": source, "OUTPUT": out})
    expected = label_series(DATES, series)
    table = read_points(out)
    assert np.array_equal(np.nan_to_num(table.numeric("LABEL"), nan=-1), expected.label)
    assert np.allclose(table.numeric("R_TIME"), expected.r)
    assert np.array_equal(table.numeric("OUTLIERS"), expected.outliers)
    split = np.array(["" if v is None else v for v in table.attributes["SPLIT"]])
    assert np.array_equal(split, expected.split.astype(str))
    assert result["GOOD"] == (expected.label == 1).sum() and result["BAD"] == (expected.label == 0).sum()
    assert table.attributes["pid"].tolist() == [f"P{i}" for i in range(len(series))]  # every field kept
    assert np.array_equal(table.numeric("code"), np.arange(len(series)))
    assert np.allclose(table.series, series, equal_nan=True)
    renderer = _styled("labelmeasurementpoints", {"INPUT": source}, str(tmp_path / "styled.gpkg")).renderer()
    assert renderer.type() == "categorizedSymbol" and renderer.classAttribute() == "LABEL"
    assert [c.label() for c in renderer.categories()] == ["good (1)", "bad (0)", "unlabelled"]


def test_screening_scores_every_point_and_writes_its_report(provider, tmp_path, qgis_new_project):
    source, series, spiky = _points(tmp_path / "in.gpkg")
    labelled = str(tmp_path / "labelled.gpkg")
    _run("labelmeasurementpoints", {"INPUT": source, "OUTLIER_THRESHOLD": 4.0, "OUTPUT": labelled})
    out, report = str(tmp_path / "screened.gpkg"), str(tmp_path / "screening.html")
    result = _run("screenmeasurementpoints", {"INPUT": labelled, "EPOCHS": 15, "LEARNING_RATE": 3e-3,
                                              "DEVICE": 3, "OUTPUT": out, "REPORT": report})
    table = read_points(out)
    score, keep = table.numeric("QUALITY_SCORE"), table.numeric("KEEP")
    assert len(score) == len(series) and ((score >= 0) & (score <= 1)).all()
    assert np.array_equal(keep, (score >= 0.5).astype(float))
    assert result["KEPT"] == keep.sum() and result["KEPT"] + result["REMOVED"] == len(series)
    assert result["AUC"] > 0.95
    assert keep[~spiky].mean() > 0.9 and keep[spiky].mean() < 0.2
    assert table.attributes["SPLIT"] is not None and "LABEL" in table.attributes  # the labelled fields kept
    html = open(report, encoding="utf-8").read()
    assert "ROC on the test part" in html and "Kept and removed points" in html and "AUC" in html
    layer = _styled("screenmeasurementpoints", {"INPUT": labelled, "EPOCHS": 1, "DEVICE": 3},
                    str(tmp_path / "styled.gpkg"))
    assert layer.renderer().classAttribute() == "KEEP"
    assert [c.label() for c in layer.renderer().categories()] == ["kept", "removed"]


def test_screening_labels_on_its_own_without_a_label_field(provider, tmp_path):
    source, _, _ = _points(tmp_path / "in.gpkg", n=300)
    feedback = QgsProcessingFeedback()
    _run("screenmeasurementpoints", {"INPUT": source, "EPOCHS": 2, "DEVICE": 3,
                                     "OUTPUT": str(tmp_path / "s.gpkg")}, feedback)
    assert "No LABEL field: the points were labelled here" in feedback.textLog()


def test_refusals_leave_nothing(provider, tmp_path):
    source, _, _ = _points(tmp_path / "plain.gpkg", with_series=False)
    out = tmp_path / "out.gpkg"
    with pytest.raises(QgsProcessingException, match="no displacement series; it needs one field a date"):
        _run("labelmeasurementpoints", {"INPUT": source, "OUTPUT": str(out)})
    steady, _, _ = _points(tmp_path / "steady.gpkg", n=200)
    labelled = str(tmp_path / "one_class.gpkg")
    _run("labelmeasurementpoints", {"INPUT": steady, "R_THRESHOLD": 0.99, "OUTLIER_THRESHOLD": 50.0,
                                    "OUTPUT": labelled})
    with pytest.raises(QgsProcessingException, match="needs good \\(1\\) and bad \\(0\\) points"):
        _run("screenmeasurementpoints", {"INPUT": labelled, "DEVICE": 3, "OUTPUT": str(out)})
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if ".tmp" in p]
