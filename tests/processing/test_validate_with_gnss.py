"""subsidence:validatewithgnss: the sample area's PS points against its GPS stations (gps_stations, gps_daily) checked
by hand, a .tenv3 station against LOS points in a geographic CRS, before / after screening, and bad inputs."""
import math
import os

import numpy as np
import pytest
from qgis.core import (QgsCoordinateReferenceSystem, QgsFeature, QgsField, QgsFields, QgsGeometry, QgsProcessingContext,
                       QgsProcessingException, QgsProcessingFeedback, QgsProject, QgsVectorFileWriter, QgsVectorLayer,
                       QgsWkbTypes)
from qgis.PyQt.QtCore import QVariant

from subsidence_plugin.core.io.points import read_points
from subsidence_plugin.core.io.vectors import read_table


def _run(parameters, feedback=None):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run("subsidence:validatewithgnss", parameters, context=context,
                          feedback=feedback or QgsProcessingFeedback())


def _rows(path):
    layer = QgsVectorLayer(str(path), "out", "ogr")
    assert layer.isValid()
    names = layer.fields().names()
    return {f["STATION"]: dict(zip(names, f.attributes())) for f in layer.getFeatures()}


def _sample(sample_area, name):
    return f"{sample_area.vector_path}|layername={name}"


def test_sample_area_points_against_its_gps_stations(provider, sample_area, tmp_path):
    result = _run({"INPUT": _sample(sample_area, "ps_points"), "VELOCITY_FIELD": "velocity",
                   "GNSS_TABLE": _sample(sample_area, "gps_daily"), "STATIONS": _sample(sample_area, "gps_stations"),
                   "OUTPUT": str(tmp_path / "stations.gpkg"), "REPORT": str(tmp_path / "gnss.html")})
    rows = _rows(result["OUTPUT"])
    assert sorted(rows) == ["GPS1", "GPS2", "GPS3", "GPS4", "GPS5"]
    points = read_points(sample_area.vector_path, "ps_points")
    stations = read_points(sample_area.vector_path, "gps_stations")
    daily = read_table(sample_area.vector_path, "gps_daily")
    differences = []
    for i, name in enumerate(stations.attributes["station"]):
        near = np.hypot(points.x - stations.x[i], points.y - stations.y[i]) <= 1000.0
        row = rows[name]
        assert row["N_POINTS"] == near.sum()
        if not near.any():
            assert row["STATUS"].startswith("no point") or row["STATUS"] == "outside the points' extent"
            continue
        mine = (daily["station"] == name) & (daily["date"] <= points.dates[-1])
        days = (daily["date"][mine] - daily["date"][mine][0]).astype(float) / 365.25
        gnss = np.polyfit(days, daily["up_mm"][mine], 1)[0]
        insar = points.attributes["velocity"][near]
        assert row["STATUS"] == "ok" and row["N_DATES"] == points.dates.size
        assert row["GNSS_VEL"] == pytest.approx(gnss, abs=1e-6)
        assert row["INSAR_VEL"] == pytest.approx(insar.mean(), abs=1e-6)
        assert row["VEL_BIAS"] == pytest.approx((insar - gnss).mean(), abs=1e-6)
        assert row["VEL_RMSE"] == pytest.approx(np.sqrt(np.mean((insar - gnss) ** 2)), abs=1e-6)
        assert 0 < row["SERIES_RMSE"] < 100
        differences.append(insar - gnss)
    assert result["VELOCITY_RMSE"] == pytest.approx(np.sqrt(np.mean(np.concatenate(differences) ** 2)))
    assert math.isnan(result["VELOCITY_RMSE_AFTER"])
    compared = [row for row in rows.values() if row["STATUS"] == "ok"]  # no gaps: every point and date a pair
    pairs = np.array([row["N_POINTS"] * row["N_DATES"] for row in compared])
    squares = np.array([row["SERIES_RMSE"] ** 2 for row in compared])
    assert result["SERIES_RMSE"] == pytest.approx(np.sqrt((squares * pairs).sum() / pairs.sum()))
    assert math.isnan(result["SERIES_RMSE_AFTER"])
    report = open(result["REPORT"], encoding="utf-8").read()
    assert "GPS1" in report and report.count("<img") >= 2


def test_before_and_after_screening(provider, sample_area, tmp_path):
    import processing

    screened = processing.run("native:extractbyexpression", {"INPUT": _sample(sample_area, "ps_points"),
                                                             "EXPRESSION": "coherence > 0.85",
                                                             "OUTPUT": str(tmp_path / "kept.gpkg")})["OUTPUT"]
    result = _run({"INPUT": _sample(sample_area, "ps_points"), "SCREENED": screened,
                   "GNSS_TABLE": _sample(sample_area, "gps_daily"), "STATIONS": _sample(sample_area, "gps_stations"),
                   "RADIUS": 1500, "COMPONENT": 1, "OUTPUT": str(tmp_path / "stations.gpkg")})
    rows = _rows(result["OUTPUT"])
    for row in rows.values():
        assert row["N_POINTS_AFTER"] <= row["N_POINTS"]
        assert row["GNSS_VEL_AFTER"] == pytest.approx(row["GNSS_VEL"]) or row["N_POINTS_AFTER"] == 0
    assert sum(row["N_POINTS_AFTER"] for row in rows.values()) < sum(row["N_POINTS"] for row in rows.values())
    assert np.isfinite(result["VELOCITY_RMSE"]) and np.isfinite(result["VELOCITY_RMSE_AFTER"])


MOTION = np.array([4.0, -2.0, -12.0])  # east, north, up (mm/yr)


def _tenv3(path, lat, lon, start="2018-01-01", years=3, motion=MOTION):
    """A 23-column tenv3 file of a station moving ``motion`` mm/yr, daily, no noise."""
    days = np.arange(np.datetime64(start), np.datetime64(start) + np.timedelta64(int(years * 365), "D"))
    mjd = (days - np.datetime64("1858-11-17")).astype(int)
    t = (days - days[0]).astype(float) / 365.25
    lines = []
    for day, (e, n, u) in zip(mjd, np.outer(t, motion) / 1000.0):
        lines.append(f"{path.stem} 18JAN01 2018.0000 {day} 1982 1 {round(lon, 1):6.1f} 0 {e:9.6f} 4400000 {n:9.6f} 100 "
                     f"{u:9.6f} 0.0 0.001 0.001 0.004 0.0 0.0 0.0 {lat:.10f} {lon:.10f} 100.0")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _los_points(path, lat, lon, crs="EPSG:4326", n=40, series=True):
    """Points in ``crs`` around (lon, lat) with EGMS LOS fields (descending, incidence 30-45°) and DYYYYMMDD series
    that are the LOS projection of ``MOTION`` at 12-day dates; returns (path, distances from the station in m)."""
    from subsidence_plugin.core.points.gnss import los_from_angles

    rng = np.random.default_rng(11)
    distance = np.concatenate([rng.uniform(50, 900, n // 2), rng.uniform(1100, 2500, n - n // 2)])
    bearing = rng.uniform(0, 2 * np.pi, n)
    dlat = distance * np.cos(bearing) / 111132.954
    dlon = distance * np.sin(bearing) / (111319.49 * math.cos(math.radians(lat)))
    los = los_from_angles(rng.uniform(30, 45, n), 190.0)
    dates = np.arange(np.datetime64("2018-03-01"), np.datetime64("2020-10-01"), np.timedelta64(12, "D"))
    t = (dates - np.datetime64("2018-01-01")).astype(float) / 365.25
    values = los @ np.outer(MOTION, t) + 5.0
    fields = QgsFields()
    for name in ("los_east", "los_north", "los_up"):
        fields.append(QgsField(name, QVariant.Double))
    if series:
        for date in dates:
            fields.append(QgsField("D" + str(date).replace("-", ""), QVariant.Double))
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    writer = QgsVectorFileWriter.create(str(path), fields, QgsWkbTypes.Point, QgsCoordinateReferenceSystem(crs),
                                        QgsProject.instance().transformContext(), options)
    for i in range(n):
        feature = QgsFeature(fields)
        feature.setGeometry(QgsGeometry.fromWkt(f"POINT ({lon + dlon[i]} {lat + dlat[i]})"))
        feature.setAttributes([float(v) for v in los[i]] + ([float(v) for v in values[i]] if series else []))
        assert writer.addFeature(feature)
    del writer
    return str(path), distance


def test_tenv3_station_against_los_points_in_a_geographic_crs(provider, tmp_path):
    station = _tenv3(tmp_path / "TST1.tenv3", 40.0, 10.0)
    points, distance = _los_points(tmp_path / "points.gpkg", 40.0, 10.0)
    feedback = QgsProcessingFeedback()
    result = _run({"INPUT": points, "GNSS_FILES": [station], "OUTPUT": str(tmp_path / "stations.gpkg"),
                   "REPORT": str(tmp_path / "r.html")}, feedback)
    row = _rows(result["OUTPUT"])["TST1"]
    assert row["STATUS"] == "ok" and row["N_POINTS"] == (distance <= 1000).sum()
    assert row["VEL_RMSE"] < 0.01 and abs(row["VEL_BIAS"]) < 0.01  # the LOS projection of the same motion
    assert row["SERIES_RMSE"] < 0.05
    assert "aeqd" in feedback.textLog()
    layer = QgsVectorLayer(result["OUTPUT"])
    point = next(layer.getFeatures()).geometry().asPoint()
    assert (point.x(), point.y()) == (pytest.approx(10.0), pytest.approx(40.0))
    vertical = _run({"INPUT": points, "GNSS_FILES": [station], "COMPONENT": 1, "OUTPUT": str(tmp_path / "v.gpkg")})
    row = _rows(vertical["OUTPUT"])["TST1"]
    assert row["GNSS_VEL"] == pytest.approx(-12.0, abs=1e-4)  # U alone (the file holds µm); InSAR LOS / u is not U
    assert row["VEL_RMSE"] > 1.0


def _expect_error(parameters, match, output):
    with pytest.raises(QgsProcessingException, match=match):
        _run(dict(parameters, OUTPUT=str(output)))
    assert not os.path.exists(output)


def test_bad_inputs(provider, sample_area, tmp_path):
    points, _ = _los_points(tmp_path / "points.gpkg", 40.0, 10.0)
    station = _tenv3(tmp_path / "TST1.tenv3", 40.0, 10.0)
    out = tmp_path / "out.gpkg"
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("name,when,height\nA,2019-01-01,1.0\n")
    _expect_error({"INPUT": points, "GNSS_FILES": [str(unknown)]}, "found the columns name, when, height; needed "
                  "station, date, up", out)
    late = _tenv3(tmp_path / "LATE.tenv3", 40.0, 10.0, start="2005-01-01")
    _expect_error({"INPUT": points, "GNSS_FILES": [late]}, "No GNSS station overlaps the InSAR in time", out)
    far = _tenv3(tmp_path / "FAR1.tenv3", 41.0, 10.0)
    _expect_error({"INPUT": points, "GNSS_FILES": [far]}, "No GNSS station could be compared.*outside the points",
                  out)
    _expect_error({"INPUT": points}, "No GNSS series", out)
    bare, _ = _los_points(tmp_path / "bare.gpkg", 40.0, 10.0, series=False)
    _expect_error({"INPUT": bare, "GNSS_FILES": [station]}, "no displacement series", out)
    _expect_error({"INPUT": points, "GNSS_TABLE": _sample(sample_area, "gps_daily")}, "No GNSS station has a "
                  "position", out)
    two = _run({"INPUT": points, "GNSS_FILES": [station, far], "OUTPUT": str(tmp_path / "two.gpkg")})
    statuses = {name: row["STATUS"] for name, row in _rows(two["OUTPUT"]).items()}
    assert statuses == {"TST1": "ok", "FAR1": "outside the points' extent"}  # reported, not fatal


class _CancelAtFirstStation(QgsProcessingFeedback):
    def setProgressText(self, text):  # noqa: N802
        super().setProgressText(text)
        self.cancel()


def test_cancel_leaves_nothing(provider, tmp_path):
    points, _ = _los_points(tmp_path / "points.gpkg", 40.0, 10.0)
    stations = [_tenv3(tmp_path / f"S{i}.tenv3", 40.0, 10.0) for i in range(2)]
    output = tmp_path / "out.gpkg"
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        _run({"INPUT": points, "GNSS_FILES": stations, "OUTPUT": str(output), "REPORT": str(tmp_path / "r.html")},
             _CancelAtFirstStation())
    assert not output.exists() and not (tmp_path / "r.html").exists()
