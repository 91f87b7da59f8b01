"""GNSS readers on small files written here (hand-known values), the LOS projection by hand, velocities against
numpy.polyfit and scipy's linregress, the daily averages at InSAR dates, and the station / point comparison."""
import math

import numpy as np
import pytest
from scipy import stats

from subsidence_plugin.core.points.gnss import (PointSet, average_at_dates, compare_station, compare_stations,
                                                gnss_report, linear_velocities, los_from_angles, los_of_attributes,
                                                parse_dates, read_gnss_file, read_gnss_table, read_pos, read_tenv3,
                                                stations_from_table, unit_los)

TENV3_HEADER = ("site YYMMMDD yyyy.yyyy __MJD week d reflon _e0(m) __east(m) ____n0(m) _north(m) u0(m) ____up(m) "
                "_ant(m) sig_e(m) sig_n(m) sig_u(m) __corr_en __corr_eu __corr_nu _latitude(deg) _longitude(deg) "
                "__height(m)")


def _tenv3_row(mjd, east, north, up, lat=None):
    """A tenv3 row at MJD ``mjd`` with e0 = 100, n0 = 5000000, u0 = 20 and the given fractional parts (m)."""
    row = (f"TEST 19JAN01 2019.0000 {mjd} 2034 2  10.0    100 {east:9.6f}   5000000 {north:9.6f}    20 {up:9.6f} "
           "0.0000 0.001 0.001 0.004 0.0 0.0 0.0")
    return row + (f"  {lat:.10f} -349.9000000000  20.5" if lat is not None else "")


def test_tenv3_with_position_columns(tmp_path):
    path = tmp_path / "TEST.tenv3"
    rows = [_tenv3_row(58484, 0.5, 0.25, 0.1, 45.0), _tenv3_row(58485, 0.503, 0.249, 0.096, 45.0),
            _tenv3_row(58487, 0.506, 0.2502, 0.092, 45.0)]
    path.write_text(TENV3_HEADER + "\n" + "\n".join(rows) + "\n")
    station = read_tenv3(str(path))
    assert station.name == "TEST"
    np.testing.assert_array_equal(station.dates, np.array(["2019-01-01", "2019-01-02", "2019-01-04"],
                                                          dtype="datetime64[D]"))  # MJD 58484 = 2019-01-01
    np.testing.assert_allclose(station.east, [0.0, 3.0, 6.0], atol=1e-6)
    np.testing.assert_allclose(station.north, [0.0, -1.0, 0.2], atol=1e-6)
    np.testing.assert_allclose(station.up, [0.0, -4.0, -8.0], atol=1e-6)
    assert station.lat == 45.0 and station.lon == pytest.approx(10.1)  # -349.9 east = 10.1
    assert read_gnss_file(str(path))[0].name == "TEST"


def test_tenv3_position_from_the_reference_meridian_and_northing(tmp_path):
    """20 columns: latitude from the meridian arc (WGS84: 4 984 944.378 m from the equator to 45°), longitude from
    the reference meridian and the easting along the parallel."""
    path = tmp_path / "EQ.tenv3"
    path.write_text("EQTR 19JAN01 2019.0000 58484 2034 2  10.0   1113  0.194908         0  0.000000     0  0.0 0.0 "
                    "0.001 0.001 0.004 0.0 0.0 0.0\n")
    station = read_tenv3(str(path))
    assert station.lat == pytest.approx(0.0, abs=1e-9)
    assert station.lon == pytest.approx(10.0 + math.degrees(1113.194908 / 6378137.0), abs=1e-9)
    path.write_text("MIDL 19JAN01 2019.0000 58484 2034 2  10.0      0  0.000000   4984944  0.378000     0  0.0 0.0 "
                    "0.001 0.001 0.004 0.0 0.0 0.0\n")
    assert read_tenv3(str(path)).lat == pytest.approx(45.0, abs=1e-6)


def test_tenv3_with_unknown_columns_is_refused(tmp_path):
    path = tmp_path / "BAD.tenv3"
    path.write_text("site YYMMMDD yyyy.yyyy __MJD week d reflon east north up\nBAD 19JAN01 2019.0 58484 1 2 3 4 5\n")
    with pytest.raises(ValueError, match="needed in columns 4, 7-13"):
        read_tenv3(str(path))
    path.write_text("BAD 19JAN01 2019.0 58484 1 2 3 4 5\n")
    with pytest.raises(ValueError, match=r"found rows of \[9\] columns.*needs 20 or 23"):
        read_tenv3(str(path))


POS = """PBO Station Position Time Series. Reference Frame : ITRF08
Format Version: 1.1.0
4-character ID: TEST
Station name  : Test station
NEU Reference position :    40.0000000000  236.0000000000  489.00000 (ITRF08/WGS84)
Start Field Description
dN            Difference in North component from NEU reference position, meters
End Field Description
*YYYYMMDD HHMMSS JJJJJ.JJJJ         X             Y             Z            Sx        Sy       Sz     Rxy   Rxz    Ryz            NLat         Elong         Height         dN        dE        dU         Sn       Se       Su      Rne    Rnu    Reu  Soln
"""  # noqa: E501 (the field line of the format)


def _pos_row(day, dn, de, du):
    return (f" 2019010{day} 120000 5848{3 + day}.5000 -1.0 -2.0 3.0 0.005 0.008 0.007 0.8 -0.8 -0.8 40.0 236.0 489.0 "
            f"{dn:10.5f} {de:10.5f} {du:10.5f} 0.003 0.002 0.011 -0.1 -0.2 0.1 repro")


def test_pbo_pos(tmp_path):
    path = tmp_path / "TEST.pbo.final_igs08.pos"
    path.write_text(POS + "\n".join([_pos_row(1, -0.1, 0.06, 0.002), _pos_row(2, -0.099, 0.058, 0.0055)]) + "\n")
    station = read_pos(str(path))
    assert station.name == "TEST"
    np.testing.assert_array_equal(station.dates, np.array(["2019-01-01", "2019-01-02"], dtype="datetime64[D]"))
    np.testing.assert_allclose(station.north, [0.0, 1.0], atol=1e-9)
    np.testing.assert_allclose(station.east, [0.0, -2.0], atol=1e-9)
    np.testing.assert_allclose(station.up, [0.0, 3.5], atol=1e-9)
    assert (station.lat, station.lon) == (40.0, -124.0)
    assert read_gnss_file(str(path))[0].name == "TEST"


def test_pbo_pos_without_neu_columns_is_refused(tmp_path):
    path = tmp_path / "BAD.pos"
    path.write_text("PBO Station Position Time Series.\n*YYYYMMDD HHMMSS X Y Z\n 20190101 120000 1 2 3\n")
    with pytest.raises(ValueError, match="needed: YYYYMMDD, dN, dE, dU"):
        read_pos(str(path))


def test_long_table_in_mm(tmp_path):
    path = tmp_path / "gnss.csv"
    path.write_text("station;date;east;north;up;latitude;longitude\n"
                    "A;2020-01-01;1;2;3;10;20\nA;2020-01-03;2;2;1;10;20\nA;2020-01-03;4;2;3;10;20\n"
                    "B;20200102;0;0;-1;;\nB;20200105;;;-4;;\n")
    a, b = read_gnss_table(str(path))
    np.testing.assert_array_equal(a.dates, np.array(["2020-01-01", "2020-01-03"], dtype="datetime64[D]"))
    np.testing.assert_allclose(a.east, [0.0, 2.0])  # the two rows of 2020-01-03 averaged: 3 - 1
    np.testing.assert_allclose(a.up, [0.0, -1.0])
    assert (a.lat, a.lon) == (10.0, 20.0)
    np.testing.assert_allclose(b.up, [0.0, -3.0])
    assert math.isnan(b.lat) and math.isnan(b.east[1])
    assert [s.name for s in read_gnss_file(str(path))] == ["A", "B"]


def test_table_up_only_and_unknown_columns():
    [station] = stations_from_table({"station": np.array(["GPS1", "GPS1"], dtype=object),
                                     "date": np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"),
                                     "up_mm": np.array([1.5, -0.5])})
    assert not station.has_horizontal
    np.testing.assert_allclose(station.up, [0.0, -2.0])
    with pytest.raises(ValueError, match="found the columns site, when, height; needed station, date, up"):
        stations_from_table({"site": np.array(["A"]), "when": np.array(["2020-01-01"]), "height": np.array([1.0])})
    with pytest.raises(ValueError, match="not written YYYY-MM-DD"):
        parse_dates(np.array(["01.02.2020"], dtype=object))


def test_unknown_file_is_refused(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("nothing to see here\n1 2 3\n")
    with pytest.raises(ValueError, match="not a GNSS series.*tenv3.*pos.*station, date, up"):
        read_gnss_file(str(path))


def test_los_from_incidence_and_heading_by_hand():
    """Sentinel-1 descending (heading 190°, incidence 39°): the satellite looks west, so the ground-to-satellite
    vector points east (and slightly south) and up."""
    e, n, u = los_from_angles(39.0, 190.0)[0]
    assert e == pytest.approx(-math.sin(math.radians(39)) * math.cos(math.radians(190)))
    assert e > 0.6 and n < 0 and u == pytest.approx(math.cos(math.radians(39)))
    assert e * e + n * n + u * u == pytest.approx(1.0)
    assert los_from_angles(39.0, 190.0)[0] @ [0.0, 0.0, -10.0] < 0  # subsidence: away from the satellite
    # ascending (heading -10°, looking east): the vector points west
    assert los_from_angles(39.0, -10.0)[0, 0] < -0.6


def test_unit_los_and_the_fields_a_layer_may_have():
    vectors, flipped = unit_los(np.array([[0.6, -0.1, 0.79], [-1.2, 0.2, -1.58], [np.nan, 0.0, 1.0]]))
    assert flipped == 1
    np.testing.assert_allclose(vectors[1], vectors[0], atol=1e-12)
    assert np.isnan(vectors[2]).all()
    attributes = {"cosE": np.array([0.6]), "cosN": np.array([-0.1]), "cosU": np.array([0.79])}
    los, note = los_of_attributes(attributes)
    np.testing.assert_allclose(los[0], np.array([0.6, -0.1, 0.79]) / np.linalg.norm([0.6, -0.1, 0.79]))
    assert "cosE" in note
    los, note = los_of_attributes({"incidence": np.array([39.0]), "heading": np.array([190.0])})
    np.testing.assert_allclose(los, los_from_angles(39.0, 190.0))
    los, _ = los_of_attributes({"pid": np.array(["a", "b"], dtype=object)}, 39.0, 190.0)
    assert los.shape == (2, 3) and np.allclose(los[1], los_from_angles(39.0, 190.0)[0])
    los, note = los_of_attributes({"pid": np.array(["a"], dtype=object)})
    assert np.isnan(los).all() and "vertical" in note


def test_velocities_against_polyfit_and_linregress():
    rng = np.random.default_rng(1)
    dates = np.datetime64("2019-01-01") + np.sort(rng.choice(900, 60, replace=False)).astype("timedelta64[D]")
    t = (dates - dates[0]).astype(float) / 365.25
    series = -4.0 * t[None, :] + rng.normal(0, 2.0, (5, t.size))
    series[1, [3, 17, 40]] = np.nan
    series[4, 2:] = np.nan  # two values: a slope, no error
    slope, error = linear_velocities(dates, series)
    for row in range(4):
        ok = np.isfinite(series[row])
        fit = stats.linregress(t[ok], series[row, ok])
        assert slope[row] == pytest.approx(np.polyfit(t[ok], series[row, ok], 1)[0], rel=1e-10)
        assert error[row] == pytest.approx(fit.stderr, rel=1e-9)
    assert np.isfinite(slope[4]) and np.isnan(error[4])


def test_daily_values_averaged_at_insar_dates():
    days = np.datetime64("2020-01-01") + np.array([0, 1, 2, 3, 5, 9]).astype("timedelta64[D]")
    values = np.array([[0.0, 1.0, 2.0, 3.0, 5.0, np.nan]])
    targets = np.array(["2020-01-02", "2020-01-05", "2020-01-09", "2020-02-01"], dtype="datetime64[D]")
    np.testing.assert_allclose(average_at_dates(days, values, targets, 1), [[1.0, 4.0, np.nan, np.nan]])
    np.testing.assert_allclose(average_at_dates(days, values, targets, 0)[0, :2], [1.0, np.nan])


def _scene(rng, los=None):
    """A station at (0, 0) moving E, N, U = 3, -2, -10 mm/yr (daily, 1 mm noise) and 200 points within 1.5 km
    whose series are the LOS projection at 12-day dates plus 3 mm/yr for the points east of x = 0, an offset and no
    noise."""
    days = np.arange(np.datetime64("2018-01-01"), np.datetime64("2021-01-01"))
    t = (days - days[0]).astype(float) / 365.25
    from subsidence_plugin.core.points.gnss import GnssStation

    enu = np.outer([3.0, -2.0, -10.0], t)
    station = GnssStation("S1", days, enu[0], enu[1], enu[2])
    dates = days[::12][5:-5]
    x, y = rng.uniform(-1500, 1500, 200), rng.uniform(-1500, 1500, 200)
    if los is None:
        los = los_from_angles(rng.uniform(30, 45, 200), 190.0)
    td = (dates - days[0]).astype(float) / 365.25
    series = los @ np.outer([3.0, -2.0, -10.0], td) + 7.0 + np.where(x > 0, 3.0, 0.0)[:, None] * td
    return station, PointSet(x, y, dates, series, np.full(200, np.nan), los)


def test_station_against_points_in_the_line_of_sight():
    rng = np.random.default_rng(2)
    station, points = _scene(rng)
    result = compare_station(station, 0.0, 0.0, points, 1000.0, vertical=False)
    inside = np.flatnonzero(np.hypot(points.x, points.y) <= 1000.0)
    np.testing.assert_array_equal(result.points, inside)
    assert result.status == "ok" and result.n_points == inside.size and result.n_dates == points.dates.size
    gnss = points.los[inside] @ np.array([3.0, -2.0, -10.0])
    assert result.gnss_velocity == pytest.approx(gnss.mean(), abs=1e-9)
    east = points.x[inside] > 0
    np.testing.assert_allclose(result.velocity_difference, np.where(east, 3.0, 0.0), atol=1e-9)
    assert result.velocity_bias == pytest.approx(3.0 * east.mean(), abs=1e-9)
    assert result.velocity_rmse == pytest.approx(3.0 * math.sqrt(east.mean()), abs=1e-9)
    # series: the linear difference 3 t left after removing the means, pooled over the eastern points only
    td = (points.dates - station.dates[0]).astype(float) / 365.25
    assert result.series_rmse == pytest.approx(3.0 * np.std(td) * math.sqrt(east.mean()), rel=1e-3)


def test_vertical_comparison_divides_the_los_by_its_up_component():
    rng = np.random.default_rng(3)
    los = np.tile([0.0, 0.0, 0.8], (200, 1))
    station, points = _scene(rng, los)
    result = compare_station(station, 0.0, 0.0, points, 1000.0, vertical=True)
    assert result.gnss_velocity == pytest.approx(-10.0, abs=1e-9)
    east = points.x[result.points] > 0
    np.testing.assert_allclose(result.velocity_difference, np.where(east, 3.0 / 0.8, 0.0), atol=1e-9)


def test_a_given_velocity_field_is_used_as_it_is():
    rng = np.random.default_rng(4)
    station, points = _scene(rng, np.full((200, 3), np.nan))  # no LOS: the InSAR is vertical
    points.velocity[:] = -8.0
    result = compare_station(station, 0.0, 0.0, points, 1000.0, vertical=False)
    np.testing.assert_allclose(result.velocity_difference, 2.0, atol=1e-9)


def test_stations_outside_without_points_or_without_overlap_are_reported(tmp_path):
    rng = np.random.default_rng(5)
    station, points = _scene(rng)
    late = type(station)("LATE", station.dates + np.timedelta64(5000, "D"), station.east, station.north, station.up)
    grid = np.stack(np.meshgrid(np.arange(-1400, 1500, 100.0), np.arange(-1400, 1500, 100.0)), -1).reshape(-1, 2)
    empty = grid[np.argmax(points.tree.query(grid)[0])]  # the grid node farthest from any point: none within 100 m
    assert points.tree.query(empty)[0] > 100.0
    xy = np.array([[0, 0], [1e5, 0], [0, 0], empty])
    results = compare_stations([station, station, late, station], xy, points, 100.0, vertical=False)
    assert results[1].status == "outside the points' extent"
    assert results[2].status.startswith("no overlap in time")
    assert results[3].status == "no point within 100 m"
    assert results[0].n_points == int((np.hypot(points.x, points.y) <= 100.0).sum())
    path = gnss_report(str(tmp_path / "r.html"), "GNSS", {"all points": results, "screened": results}, xy,
                       {"all points": (points.x, points.y), "screened": (points.x, points.y)}, "LOS", 100.0)
    text = open(path, encoding="utf-8").read()
    assert "outside the points" in text and text.count("<img") >= 2


def test_compare_stations_cancels():
    from subsidence_plugin.core.progress import Cancelled

    station, points = _scene(np.random.default_rng(6))
    with pytest.raises(Cancelled):
        compare_stations([station], np.zeros((1, 2)), points, 1000.0, False, is_cancelled=lambda: True)
