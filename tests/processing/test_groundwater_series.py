"""subsidence:groundwaterseries: heads at InSAR points and dates from wide piezometer fields or a long table,
checked against a hand computation (np.interp in time, IDW by hand in space); delays from rasters."""
import os
import re

import numpy as np
import pytest
from qgis.core import (QgsCoordinateReferenceSystem, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingFeedback, QgsProject)
from qgis.PyQt.QtCore import QVariant

from subsidence_plugin.core.io.grid import RasterGrid
from subsidence_plugin.core.io.points import read_points
from subsidence_plugin.core.io.rasters import write_raster

DATES = np.array(["2019-01-01", "2019-02-01", "2019-03-01", "2019-04-01", "2019-05-01"], dtype="datetime64[D]")
INSAR = np.array(["2019-01-15", "2019-03-20", "2019-07-01"], dtype="datetime64[D]")
EPSG = "EPSG:25830"


def _run(parameters):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run("subsidence:groundwaterseries", parameters, context=context,
                          feedback=QgsProcessingFeedback())


PIEZOMETERS = [(180000.0, 4130000.0), (181000.0, 4130000.0), (180000.0, 4131500.0)]
HEADS = np.array([[10.0, 9.0, 8.0, 7.0, 6.0], [20.0, 19.5, np.nan, 18.5, 18.0], [15.0, 15.0, 15.0, 15.0, 15.0]])


@pytest.fixture
def insar(tmp_path, write_point_layer):
    fields = [("pid", QVariant.String), ("VEL_MM_YR", QVariant.Double)] + \
             [("D" + str(d).replace("-", ""), QVariant.Double) for d in INSAR]
    rows = [(180200.0, 4130300.0, ["a", -3.0, 0.0, -1.0, -2.0]), (180900.0, 4131000.0, ["b", -1.0, 0.0, 0.5, 1.0])]
    return write_point_layer(tmp_path / "insar.gpkg", rows, fields)


def _expected(x, y, date):
    """Heads at (x, y) and a date by hand: np.interp in time over each piezometer's readings, IDW (power 2)."""
    t = (DATES - DATES[0]).astype(float)
    target = float((date - DATES[0]).astype(float))
    values, weights = [], []
    for (px, py), heads in zip(PIEZOMETERS, HEADS):
        ok = ~np.isnan(heads)
        values.append(np.interp(target, t[ok], heads[ok]))
        weights.append(1.0 / np.hypot(x - px, y - py) ** 2)
    return float(np.dot(weights, values) / np.sum(weights))


def _check(result, tmp_path):
    table = read_points(result["OUTPUT"])
    order = np.argsort(table.attributes["pid"].astype(str))
    for row, x, y in zip(order, table.x[order], table.y[order]):
        assert table.numeric("H_20190115")[row] == pytest.approx(_expected(x, y, INSAR[0]), rel=1e-6)
        assert table.numeric("H_20190320")[row] == pytest.approx(_expected(x, y, INSAR[1]), rel=1e-6)
        assert np.isnan(table.numeric("H_20190701")[row])  # 61 days after the last reading: never extrapolated
    np.testing.assert_allclose(table.numeric("D20190320")[order], [-1.0, 0.5])  # the input fields are kept
    return table


def test_heads_from_wide_fields(provider, tmp_path, write_point_layer, insar):
    fields = [("name", QVariant.String)] + [("D_" + str(d).replace("-", ""), QVariant.Double) for d in DATES]
    rows = [(x, y, [f"P{i}"] + [None if np.isnan(v) else v for v in HEADS[i]]) for i, (x, y) in enumerate(PIEZOMETERS)]
    piezometers = write_point_layer(tmp_path / "piezometers.gpkg", rows, fields)
    result = _run({"INPUT": insar, "GROUNDWATER": piezometers, "NEIGHBOURS": 3,
                   "OUTPUT": str(tmp_path / "heads.gpkg")})
    _check(result, tmp_path)


def test_heads_per_aquifer_from_each_aquifers_own_piezometers(provider, tmp_path, write_point_layer, insar):
    """Piezometers 0 and 2 in aquifer "lower", 1 in "upper": H1_ (lower) is IDW of 0 and 2 alone, H2_ piezometer 1's
    heads interpolated in time."""
    fields = [("name", QVariant.String), ("aquifer", QVariant.String)] + \
             [("D_" + str(d).replace("-", ""), QVariant.Double) for d in DATES]
    labels = ["lower", "upper", "lower"]
    rows = [(x, y, [f"P{i}", labels[i]] + [None if np.isnan(v) else v for v in HEADS[i]])
            for i, (x, y) in enumerate(PIEZOMETERS)]
    piezometers = write_point_layer(tmp_path / "piezometers.gpkg", rows, fields)
    table = read_points(_run({"INPUT": insar, "GROUNDWATER": piezometers, "AQUIFER_FIELD": "aquifer",
                              "NEIGHBOURS": 3, "OUTPUT": str(tmp_path / "heads.gpkg")})["OUTPUT"])
    assert "H_20190115" not in table.attributes
    t = (DATES - DATES[0]).astype(float)
    target = float((INSAR[0] - DATES[0]).astype(float))
    for row, (x, y) in enumerate(zip(table.x, table.y)):
        weights = [1.0 / np.hypot(x - px, y - py) ** 2 for px, py in (PIEZOMETERS[0], PIEZOMETERS[2])]
        lower = np.dot(weights, [np.interp(target, t, HEADS[0]), np.interp(target, t, HEADS[2])]) / np.sum(weights)
        assert table.numeric("H1_20190115")[row] == pytest.approx(lower, rel=1e-6)
        ok = ~np.isnan(HEADS[1])
        assert table.numeric("H2_20190115")[row] == pytest.approx(np.interp(target, t[ok], HEADS[1][ok]), rel=1e-6)


def test_heads_from_a_long_table_joined_by_a_detected_field(provider, tmp_path, write_point_layer, insar):
    rows = [(x, y, [7.0 * i, f"10408{i:04d}"]) for i, (x, y) in enumerate(PIEZOMETERS)]
    fields = [("depth", QVariant.Double), ("Nombre", QVariant.String)]
    piezometers = write_point_layer(tmp_path / "stations.gpkg", rows, fields)
    lines = ["Nombre\tFechas\tValores"] + [f"10408{i:04d}\t{d}\t{v}" for i in range(3) for d, v in zip(DATES, HEADS[i])
                                           if not np.isnan(v)]
    table = tmp_path / "bd_piezo.txt"
    table.write_text("\n".join(lines) + "\n")
    result = _run({"INPUT": insar, "GROUNDWATER": piezometers, "GROUNDWATER_TABLE": str(table),
                   "NEIGHBOURS": 3, "OUTPUT": str(tmp_path / "heads.gpkg")})
    _check(result, tmp_path)


def test_lagged_heads_from_delay_rasters(provider, tmp_path, write_point_layer, insar):
    fields = [("D_" + str(d).replace("-", ""), QVariant.Double) for d in DATES]
    piezometers = write_point_layer(tmp_path / "one.gpkg", [(180000.0, 4130000.0, list(HEADS[0]))], fields)
    grid = RasterGrid.from_origin(179000.0, 4133000.0, 100.0, 40, 40, QgsCoordinateReferenceSystem(EPSG).toWkt())
    thickness = [write_raster(str(tmp_path / f"b{i}.tif"), np.full((40, 40), b), grid) for i, b in enumerate((6., 8.))]
    conductivity = write_raster(str(tmp_path / "kv.tif"), np.full((40, 40), 1e-9), grid)
    result = _run({"INPUT": insar, "GROUNDWATER": piezometers, "INTERBED_THICKNESS": thickness,
                   "VERTICAL_CONDUCTIVITY": conductivity, "SPECIFIC_STORAGE": 1e-4, "HOLD_DAYS": 0,
                   "OUTPUT": str(tmp_path / "lagged.gpkg")})
    table = read_points(result["OUTPUT"])
    tau = (np.sqrt((36 + 64) / 2) / 2) ** 2 * 1e-4 / 1e-9 / 86400  # b_equiv = sqrt(50) m: about 14.5 days
    np.testing.assert_allclose(table.numeric("LAG_DAYS"), tau, rtol=1e-5)
    t = (DATES - DATES[0]).astype(float)
    shifted = float((INSAR[1] - DATES[0]).astype(float)) - tau
    np.testing.assert_allclose(table.numeric("HL_20190320"), np.interp(shifted, t, HEADS[0]), rtol=1e-5)
    # 14.5 days before Jan 15 is before the first reading (nothing is held with HOLD_DAYS 0)
    assert np.isnan(table.numeric("HL_20190115")).all()


def test_records_that_miss_the_insar_period_are_refused(provider, tmp_path, write_point_layer, insar):
    fields = [("D_20100101", QVariant.Double), ("D_20100201", QVariant.Double)]
    piezometers = write_point_layer(tmp_path / "old.gpkg", [(180000.0, 4130000.0, [1.0, 2.0])], fields)
    output = str(tmp_path / "none.gpkg")
    with pytest.raises(QgsProcessingException, match="do not overlap"):
        _run({"INPUT": insar, "GROUNDWATER": piezometers, "OUTPUT": output})
    assert not os.path.exists(output)


def test_far_piezometers_and_null_gaps_are_reported(provider, tmp_path, recording_feedback, write_point_layer):
    import processing

    fields = [("name", QVariant.String)] + [("D_" + str(d).replace("-", ""), QVariant.Double) for d in DATES]
    far = [(x + 100000.0, y, [f"P{i}"] + [None if np.isnan(v) else v for v in HEADS[i]])
           for i, (x, y) in enumerate(PIEZOMETERS)]
    piezometers = write_point_layer(tmp_path / "far.gpkg", far, fields)
    insar_fields = [("pid", QVariant.String)] + [("D" + str(d).replace("-", ""), QVariant.Double) for d in INSAR]
    insar = write_point_layer(tmp_path / "gaps.gpkg", [(180200.0, 4130300.0, ["a", 0.0, None, -2.0]),
                                                       (180900.0, 4131000.0, ["b", 0.0, 0.5, 1.0])], insar_fields)
    processing.run("subsidence:groundwaterseries", {"INPUT": insar, "GROUNDWATER": piezometers,
                                                    "OUTPUT": str(tmp_path / "heads.gpkg")},
                   feedback=recording_feedback)
    warnings = " ".join(recording_feedback.warnings)
    assert "1 NULL value(s) in 1 point(s)" in warnings
    assert re.search(r"the median distance to the nearest one is 99\.\d km, more than the points. extent", warnings)
