"""NetCDF through GDAL's multidimensional API: fill, missing and packed values, hidden attributes (CSR's
``Units``), CF time as the GRACE and GLDAS files write it, clear errors, and the real GLDAS sample."""
import os
import re

import numpy as np
import pytest
from osgeo import gdal
from scipy.io import netcdf_file

from subsidence_plugin.core.io.netcdf import NetCDFError, NetCDFFile, decode_cf_time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GLDAS_DATA = os.path.join(ROOT, "..", "shared", "data", "gldas-noah025")
GLDAS_0300 = os.path.join(GLDAS_DATA, "GLDAS_NOAH025_3H.A20160101.0300.021.nc4")


def datetimes(*texts):
    return np.array(texts, dtype="datetime64[ms]")


def test_days_since_a_utc_reference_as_grace_writes_it():
    times = decode_cf_time([0.0, 107.5, 5844.25], "days since 2002-01-01T00:00:00Z", "gregorian")
    assert times.dtype == np.dtype("datetime64[ms]")
    np.testing.assert_array_equal(times, datetimes("2002-01-01", "2002-04-18T12:00", "2018-01-01T06:00"))


def test_minutes_since_with_a_leading_space_as_gldas_writes_it():
    times = decode_cf_time([8415360.0], " minutes since 2000-01-01 03:00:00")
    np.testing.assert_array_equal(times, datetimes("2016-01-01T03:00"))


@pytest.mark.parametrize("units, values, expected", [
    ("hours since 1900-01-01 00:00:00", [24.0, 36.5], ("1900-01-02", "1900-01-02T12:30")),
    ("seconds since 1970-01-01", [86400.0, 1.5], ("1970-01-02", "1970-01-01T00:00:01.500")),
    ("Days Since 2002-1-1", [1.0], ("2002-01-02",)),
    ("hours since 2000-01-01 00:00:00 +02:00", [0.0], ("1999-12-31T22:00",)),
    ("minutes since 2000-01-01T00:00:00.0 UTC", [90.0], ("2000-01-01T01:30",)),
])
def test_other_units_and_references(units, values, expected):
    np.testing.assert_array_equal(decode_cf_time(values, units), datetimes(*expected))


@pytest.mark.parametrize("calendar", [None, "standard", "gregorian", "proleptic_gregorian", "Gregorian"])
def test_gregorian_calendars(calendar):
    np.testing.assert_array_equal(decode_cf_time([31.0], "days since 2002-01-01", calendar), datetimes("2002-02-01"))


def test_julian_dates_only_in_the_proleptic_calendar():
    assert decode_cf_time([0.0], "days since 1500-01-01", "proleptic_gregorian")[0] == np.datetime64("1500-01-01")
    with pytest.raises(ValueError, match=re.escape("standard calendar dates before 1582-10-15 are Julian; only "
                                                   "proleptic_gregorian is read there")):
        decode_cf_time([0.0], "days since 1500-01-01", "standard")


@pytest.mark.parametrize("units, calendar, message", [
    ("months since 2002-01-01", None, "time unit 'months' is not supported (days, hours, minutes or seconds; months "
                                      "and years have no fixed length)"),
    ("days since 2002-01-01", "noleap", "calendar 'noleap' is not supported (standard, gregorian, "
                                        "proleptic_gregorian)"),
    ("days", None, "time units 'days' are not of the form '<unit> since <date>'"),
    ("days since yesterday", None, "time reference 'yesterday' is not a date (YYYY-MM-DD[ hh:mm[:ss]][Z|±hh:mm])"),
])
def test_time_units_that_are_refused(units, calendar, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        decode_cf_time([1.0], units, calendar)


@pytest.fixture
def sample(tmp_path):
    """A NetCDF-3 file with a double field (_FillValue), a packed int16 field (missing_value, scale, offset),
    CSR's capital-U time units with bounds and global attributes with odd names."""
    path = str(tmp_path / "sample.nc")
    with netcdf_file(path, "w", version=2) as nc:
        nc.title = "test"
        setattr(nc, "tavg definision:", "past 3-hour average")
        nc.createDimension("time", 2)
        nc.createDimension("lat", 3)
        nc.createDimension("lon", 4)
        nc.createDimension("bounds", 2)
        time = nc.createVariable("time", "f8", ("time",))
        time.Units = "days since 2002-01-01T00:00:00Z"
        time.bounds = "time_bounds"
        time[:] = [15.5, 45.0]
        bounds = nc.createVariable("time_bounds", "f8", ("time", "bounds"))
        bounds[:] = [[0.0, 31.0], [31.0, 59.0]]
        nc.createVariable("lat", "f8", ("lat",))[:] = [10.0, 11.0, 12.0]
        nc.createVariable("lon", "f8", ("lon",))[:] = [0.5, 1.5, 2.5, 3.5]
        field = nc.createVariable("field", "f8", ("time", "lat", "lon"))
        field._FillValue = np.float64(-99999.0)
        field.units = "cm"
        data = np.arange(24.0).reshape(2, 3, 4)
        data[1, 2, 3] = -99999.0
        field[:] = data
        packed = nc.createVariable("packed", "i2", ("lat", "lon"))
        packed.scale_factor = np.float32(0.5)
        packed.add_offset = np.float32(10.0)
        packed.missing_value = np.int16(-1)
        raw = np.arange(12, dtype=np.int16).reshape(3, 4)
        raw[0, 1] = -1
        packed[:] = raw
    return path


def test_variables_and_global_attributes(sample):
    with NetCDFFile(sample) as nc:
        assert sorted(nc.variables) == ["field", "lat", "lon", "packed", "time", "time_bounds"]
        assert nc.attributes() == {"title": "test", "tavg definision:": "past 3-hour average"}
        assert nc.dimensions("field") == ("time", "lat", "lon")
        assert nc.shape("field") == (2, 3, 4)


def test_fill_missing_and_packed_values(sample):
    with NetCDFFile(sample) as nc:
        field = nc.read("field")
        packed = nc.read("packed")
    expected = np.arange(24.0).reshape(2, 3, 4)
    expected[1, 2, 3] = np.nan
    np.testing.assert_array_equal(field, expected)
    expected_packed = np.arange(12.0).reshape(3, 4) * 0.5 + 10.0
    expected_packed[0, 1] = np.nan
    assert packed.dtype == np.float64
    np.testing.assert_array_equal(packed, expected_packed)


def test_a_hyperslab(sample):
    with NetCDFFile(sample) as nc:
        part = nc.read("field", start=[1, 1, 2], count=[1, 2, 2])
    np.testing.assert_array_equal(part, [[[18.0, 19.0], [22.0, np.nan]]])


def test_attributes_include_the_ones_gdal_hides_and_units_in_any_case(sample):
    with NetCDFFile(sample) as nc:
        assert nc.attributes("field") == {"_FillValue": -99999.0, "units": "cm"}
        assert nc.attributes("packed") == {"scale_factor": 0.5, "add_offset": 10.0, "missing_value": -1}
        assert nc.unit("field") == "cm"
        assert nc.unit("time") == "days since 2002-01-01T00:00:00Z"
        assert nc.unit("packed") == ""


def test_times_and_bounds_from_capital_units(sample):
    with NetCDFFile(sample) as nc:
        np.testing.assert_array_equal(nc.times(), datetimes("2002-01-16T12:00", "2002-02-15"))
        np.testing.assert_array_equal(nc.time_bounds(), datetimes("2002-01-01", "2002-02-01", "2002-02-01",
                                                                   "2002-03-01").reshape(2, 2))


def test_errors_name_the_file_and_what_is_missing(sample, tmp_path):
    missing = str(tmp_path / "absent.nc")
    with pytest.raises(NetCDFError, match=re.escape(f"NetCDF file not found: {missing}")):
        NetCDFFile(missing)
    text = tmp_path / "notes.nc"
    text.write_text("not a NetCDF file")
    with pytest.raises(NetCDFError, match=re.escape(f"{text} is not a NetCDF file GDAL can read")):
        NetCDFFile(str(text))
    with NetCDFFile(sample) as nc:
        with pytest.raises(NetCDFError, match=re.escape(f"{sample}: no variable 'precip' (it has ")):
            nc.read("precip")
        with pytest.raises(NetCDFError, match=re.escape(f"{sample}: variable 'lat' has no units attribute ('units' "
                                                        "or 'Units'), so its dates are unknown")):
            nc.times("lat")
        assert nc.time_bounds("lat") is None


def test_gdal_error_mode_is_left_as_it_was(sample, tmp_path):
    before = gdal.GetUseExceptions()
    text = tmp_path / "notes.nc"
    text.write_text("x")
    with pytest.raises(NetCDFError):
        NetCDFFile(str(text))
    with NetCDFFile(sample) as nc:
        nc.read("field")
    assert gdal.GetUseExceptions() == before


@pytest.mark.skipif(not os.path.exists(GLDAS_0300), reason="the real GLDAS sample (../shared/data/gldas-noah025) "
                                                           "is not beside this checkout")
def test_the_real_gldas_file():
    with NetCDFFile(GLDAS_0300) as nc:
        assert nc.shape("SoilMoi0_10cm_inst") == (1, 600, 1440)
        assert nc.unit("SoilMoi0_10cm_inst") == "kg m-2"
        np.testing.assert_array_equal(nc.times(), datetimes("2016-01-01T03:00"))
        np.testing.assert_array_equal(nc.time_bounds(), datetimes("2016-01-01", "2016-01-01T03:00").reshape(1, 2))
        values = nc.read("SoilMoi0_10cm_inst")
    assert np.isnan(values).any() and np.nanmin(values) > 0
