"""Gridded precipitation from GLDAS files (issue 15's comparison with rain): the month's total is the mean rate
(kg m-2 s-1) x the seconds of the month, monthly and 3-hourly files alike; files without the rate refused."""
import numpy as np
import pytest

from subsidence_plugin.core.groundwater.products import read_gldas_precipitation
from subsidence_plugin.core.groundwater.sample_files import write_gldas

LAT, LON = np.arange(40.5, 43.0), np.arange(10.5, 13.0)


def test_monthly_totals_from_monthly_files(tmp_path):
    months = np.arange("2019-01", "2019-04", dtype="datetime64[M]")
    rate = np.array([1e-5, 2e-5, 4e-5])  # kg m-2 s-1
    fields = {"Rainf_f_tavg": np.broadcast_to(rate[:, None, None], (3, LAT.size, LON.size))}
    grid = read_gldas_precipitation(write_gldas(str(tmp_path), "NOAH", months, LAT, LON, fields))
    seconds = np.array([31, 28, 31]) * 86400.0
    np.testing.assert_allclose(grid.values[:, 1, 1], rate.astype(np.float32) * seconds, rtol=1e-12)
    assert grid.term == "precip" and list(grid.months) == list(months)


def test_three_hourly_files_are_averaged(tmp_path):
    times = np.array(["2019-02-01T03:00", "2019-02-01T06:00"], dtype="datetime64[m]")
    rate = np.array([1e-5, 3e-5])
    fields = {"Rainf_f_tavg": np.broadcast_to(rate[:, None, None], (2, LAT.size, LON.size))}
    grid = read_gldas_precipitation(write_gldas(str(tmp_path), "NOAH", times, LAT, LON, fields, monthly=False))
    assert grid.values[0, 0, 0] == pytest.approx(2e-5 * 28 * 86400.0, rel=1e-6)
    assert list(grid.steps) == [2]


def test_files_without_a_rate_are_refused(tmp_path):
    months = np.arange("2019-01", "2019-02", dtype="datetime64[M]")
    paths = write_gldas(str(tmp_path), "NOAH", months, LAT, LON, {"SWE_inst": np.zeros((1, LAT.size, LON.size))})
    with pytest.raises(ValueError, match="no precipitation rate \\(Rainf_f_tavg or Rainf_tavg\\)"):
        read_gldas_precipitation(paths)
