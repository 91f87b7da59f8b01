"""Heads at InSAR points and dates: time interpolation with a hold limit, spatial weights applied per set of
piezometers, lagged heads h(t - tau), the delay tau = (b0/2)^2 S's / K'v, long tables."""
import numpy as np
import pytest

from subsidence_plugin.core.io.long_tables import read_long_table
from subsidence_plugin.core.spatial.interpolation import InterpolationSettings
from subsidence_plugin.core.stats.resampling import interpolate_in_time
from subsidence_plugin.core.timeseries.groundwater import delay_days, equivalent_interbed_thickness, heads_at_points

MONTHS = np.array(["2019-01-01", "2019-02-01", "2019-03-01", "2019-04-01"], dtype="datetime64[D]")


def test_time_interpolation_is_linear_and_holds_only_so_long():
    series = np.array([[0.0, 31.0, np.nan, 90.0], [np.nan, 1.0, 2.0, np.nan]])
    targets = np.array(["2018-12-20", "2019-01-16", "2019-03-15", "2019-04-20", "2019-06-01"], dtype="datetime64[D]")
    out = interpolate_in_time(MONTHS, series, targets, hold_days=20)
    # row 0: day 15 -> 15; 2019-03-15 between Feb 1 (31) and Apr 1 (90): 31 + 42 / 59 * 59; Apr 20 held; Jun no
    np.testing.assert_allclose(out[0], [0.0, 15.0, 73.0, 90.0, np.nan])
    # row 1 starts on Feb 1: Jan 16 (16 days before) holds its first value, Dec 20 (43 days) does not
    assert np.isnan(out[1, 0]) and out[1, 1] == 1.0
    assert out[1, 2] == 2.0 and np.isnan(out[1, 3:]).all()


def test_heads_at_points_idw_exact_at_piezometers_and_between():
    px, py = np.array([0.0, 1000.0]), np.array([0.0, 0.0])
    heads = np.array([[10.0, 9.0, 8.0, 7.0], [20.0, 19.0, np.nan, np.nan]])
    x, y = np.array([0.0, 500.0, 1000.0]), np.zeros(3)
    dates = np.array(["2019-01-16", "2019-03-01"], dtype="datetime64[D]")
    out = heads_at_points(px, py, MONTHS, heads, x, y, dates, InterpolationSettings("idw", k=2), hold_days=0)
    january = [10.0 - 15 / 31, 20.0 - 15 / 31]
    np.testing.assert_allclose(out.heads[:, 0], [january[0], np.mean(january), january[1]], rtol=1e-6)
    np.testing.assert_allclose(out.heads[:, 1], 8.0)  # only the first piezometer has a head on March 1
    assert out.lagged is None


def test_lagged_heads_follow_the_delay():
    days = np.arange(0, 400, 30)
    piezometer_dates = np.datetime64("2019-01-01") + days.astype("timedelta64[D]")
    heads = (100.0 - 0.01 * days)[None, :]  # a linear decline: h(t - tau) is exact to interpolate
    dates = np.array(["2019-09-01", "2019-12-01"], dtype="datetime64[D]")
    delays = np.array([0.0, 30.0, 200.0, 400.0])
    out = heads_at_points(np.zeros(1), np.zeros(1), piezometer_dates, heads, np.arange(4.0), np.zeros(4), dates,
                          InterpolationSettings("idw", k=1), delays=delays)
    t = (dates - np.datetime64("2019-01-01")).astype(float)
    np.testing.assert_allclose(out.lagged[:3], 100.0 - 0.01 * (t[None, :] - delays[:3, None]), rtol=1e-6)
    assert np.isnan(out.lagged[3, 0])  # 2019-09-01 minus 400 days is before the first reading


def test_delay_and_equivalent_thickness():
    assert delay_days(10.0, 1e-9, 1e-4) == pytest.approx(25.0 * 1e-4 / 1e-9 / 86400.0)
    np.testing.assert_allclose(equivalent_interbed_thickness(np.array([[3.0, 2.0], [4.0, np.nan]])),
                               [np.sqrt(12.5), 2.0])
    with pytest.raises(ValueError, match="positive"):
        delay_days(1.0, 1e-9, 0.0)


def test_piezometers_outside_the_insar_period_are_refused():
    with pytest.raises(ValueError, match="do not overlap"):
        heads_at_points(np.zeros(1), np.zeros(1), MONTHS, np.ones((1, 4)), np.zeros(1), np.zeros(1),
                        np.array(["2021-01-01"], dtype="datetime64[D]"), InterpolationSettings("idw"))


def test_long_table_pivots_and_averages(tmp_path):
    path = tmp_path / "bd_piezo.txt"
    path.write_text("Nombre\tFechas\tValores\nA\t2019-01-01\t1.5\nB\t2019-02-01\t2\nA\t2019-02-01\t3\n"
                    "A\t2019-02-01\t5\nB\t2019-01-01\t\n")
    table = read_long_table(str(path))
    assert table.ids.tolist() == ["A", "B"]
    np.testing.assert_array_equal(table.dates, MONTHS[:2])
    np.testing.assert_allclose(table.values, [[1.5, 4.0], [np.nan, 2.0]])
