"""GRACE / GRACE-FO and GLDAS readers on files written in each real layout with known fields (a trend and an
annual cycle per cell, known gain factors and masks): every value back to 1e-6 mm, units, months, windows
across 0° and 180°, GLDAS runoff totals and 3-hourly means, the real GLDAS sample, and bad inputs."""
import os
import re

import numpy as np
import pytest
from osgeo import gdal
from scipy.io import netcdf_file

from subsidence_plugin.core.groundwater.products import gldas_monthly_means, read_products
from subsidence_plugin.core.groundwater.sample_files import (write_csr_mascons, write_gldas, write_jpl_mascons,
                                                             write_tellus_land)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
GLDAS_DATA = os.path.join(ROOT, "..", "shared", "data", "gldas-noah025")
REAL_GLDAS = [os.path.join(GLDAS_DATA, f"GLDAS_NOAH025_3H.A20160101.{hhmm}.021.nc4") for hhmm in ("0300", "1500")]
EPOCH = np.datetime64("2002-01-01", "D")
TOLERANCE = 1e-6  # mm

JPL_LAT = np.arange(-1.75, 2.0, 0.5)
JPL_LON = np.arange(0.25, 360.0, 0.5)
MONTHS = np.array([m for m in np.arange("2003-01", "2005-01", dtype="datetime64[M]")
                   if m != np.datetime64("2003-06")])  # a gap month


def mid_days(months):
    """Mid-month in days since 2002-01-01 (the writers' default time)."""
    start = (months.astype("datetime64[D]") - EPOCH).astype(float)
    end = ((months + 1).astype("datetime64[D]") - EPOCH).astype(float)
    return (start + end) / 2


def signal(days, lat, lon):
    """A trend and an annual cycle per cell (in the file's unit)."""
    years = np.asarray(days, dtype=float)[:, None, None] / 365.25
    la, lo = np.asarray(lat)[None, :, None], np.asarray(lon)[None, None, :]
    return 2.0 + 0.05 * la - 0.01 * lo + (-1.5 + 0.01 * la) * years + 3.0 * np.sin(2 * np.pi * years + np.radians(lo))


def gains(lat, lon):
    return 1.0 + 0.1 * np.cos(np.radians(np.asarray(lon)))[None, :] + 0.02 * np.asarray(lat)[:, None]


def land(lat, lon):
    mask = np.ones((len(lat), len(lon)))
    mask[0, :3] = 0.0  # three ocean cells
    return mask


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE, equal_nan=True)


def set_attribute(path, variable, name, value):
    """Change one attribute of a written file (scipy rewrites the header)."""
    with netcdf_file(path, "a") as nc:
        setattr(nc.variables[variable], name, value)


# ------------------------------------------------------------------------------------------ JPL

@pytest.fixture
def jpl_v03(tmp_path):
    lwe = signal(mid_days(MONTHS), JPL_LAT, JPL_LON)
    return write_jpl_mascons(str(tmp_path), MONTHS, JPL_LAT, JPL_LON, lwe, version=3, scale=gains(JPL_LAT, JPL_LON),
                             land_mask=land(JPL_LAT, JPL_LON))


def expected_jpl(scale=True, mask=True):
    values = signal(mid_days(MONTHS), JPL_LAT, JPL_LON) * 10.0
    if scale:
        values = values * gains(JPL_LAT, JPL_LON)
    if mask:
        values = np.where(land(JPL_LAT, JPL_LON) > 0, values, np.nan)
    return values


def test_jpl_v03_mascons_with_their_gain_factors_and_land_mask(jpl_v03):
    assert os.path.basename(jpl_v03[0]) == "GRCTellus.JPL.200301_200412.GLO.RL06.1M.MSCNv03CRI.nc"
    [grid] = read_products(jpl_v03)
    assert (grid.source, grid.term, grid.product) == ("JPL", "tws", "JPL RL06.1M mascons v03 CRI (0.5°)")
    np.testing.assert_array_equal(grid.months, MONTHS)
    np.testing.assert_array_equal(grid.lat, JPL_LAT)
    np.testing.assert_array_equal(grid.lon, JPL_LON)
    assert grid.resolution == 0.5 and grid.steps is None
    assert_close(grid.values, expected_jpl())
    assert any(note.startswith("gain factors applied (scale_factor in GRCTellus") for note in grid.notes)


def test_jpl_gain_factors_and_mask_can_be_switched_off(jpl_v03):
    [grid] = read_products(jpl_v03, gain_factors=False, masks=False)
    assert_close(grid.values, expected_jpl(scale=False, mask=False))


def test_jpl_v02_with_separate_files_reads_as_v03(jpl_v03, tmp_path):
    folder = tmp_path / "v02"
    folder.mkdir()
    lwe = signal(mid_days(MONTHS), JPL_LAT, JPL_LON)
    paths = write_jpl_mascons(str(folder), MONTHS, JPL_LAT, JPL_LON, lwe, version=2, scale=gains(JPL_LAT, JPL_LON),
                              land_mask=land(JPL_LAT, JPL_LON))
    assert sorted(os.path.basename(p) for p in paths) == ["CLM4.SCALE_FACTOR.JPL.MSCNv02CRI.nc",
                                                         "GRCTellus.JPL.200301_200412.GLO.RL06M.MSCNv02CRI.nc",
                                                         "LAND_MASK.CRI.nc"]
    [v02] = read_products(paths)
    [v03] = read_products(jpl_v03)
    assert v02.product == "JPL RL06M mascons v02 CRI (0.5°)"
    np.testing.assert_array_equal(v02.months, v03.months)
    np.testing.assert_array_equal(v02.values, v03.values)


def test_jpl_v02_without_its_gain_factors(tmp_path):
    lwe = signal(mid_days(MONTHS), JPL_LAT, JPL_LON)
    [path] = write_jpl_mascons(str(tmp_path), MONTHS, JPL_LAT, JPL_LON, lwe, version=2)
    with pytest.raises(ValueError, match=re.escape(
            "JPL RL06M mascons v02 CRI: JPL advises its gain factors for land hydrology, and these files carry none: "
            "add CLM4.SCALE_FACTOR.JPL.MSCNv02CRI.nc (v02 mascons) to the inputs, or switch gain factors off")):
        read_products([path])
    [grid] = read_products([path], gain_factors=False)
    assert_close(grid.values, expected_jpl(scale=False, mask=False))


def test_a_window_across_the_prime_meridian(jpl_v03):
    [grid] = read_products(jpl_v03, bbox=(-0.9, -0.6, 0.6, 0.4))
    np.testing.assert_array_equal(grid.lon, [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_array_equal(grid.lat, [-0.75, -0.25, 0.25])
    columns = [718, 719, 0, 1]
    assert_close(grid.values, expected_jpl()[:, 2:5][:, :, columns])
    [same] = read_products(jpl_v03, bbox=(359.1, -0.6, 360.6, 0.4))
    np.testing.assert_array_equal(same.values, grid.values)


def test_an_area_outside_the_grid(jpl_v03):
    with pytest.raises(ValueError, match=re.escape(
            "GRCTellus.JPL.200301_200412.GLO.RL06.1M.MSCNv03CRI.nc: the area (10° to 11° N) lies outside the grid's "
            "latitudes (-2° to 2°)")):
        read_products(jpl_v03, bbox=(5.0, 10.0, 6.0, 11.0))


# ------------------------------------------------------------------------------------------ CSR

CSR_LAT = np.array([30.125, 30.375, 30.625])
CSR_LON = np.array([70.125, 70.375, 70.625, 70.875])
CSR_MONTHS = np.arange("2004-01", "2004-05", dtype="datetime64[M]")


def csr_days(*dates):
    return (np.array(dates, dtype="datetime64[D]") - EPOCH).astype(float)


def test_csr_months_by_their_bounds_and_the_land_mask(tmp_path):
    times = csr_days("2004-01-16", "2004-03-02", "2004-03-16", "2004-04-15")  # February's centred in March
    bounds = np.stack([csr_days("2004-01-01", "2004-02-01", "2004-03-01", "2004-04-01"),
                       csr_days("2004-02-01", "2004-03-01", "2004-04-01", "2004-05-01")], axis=1)
    lwe = signal(times, CSR_LAT, CSR_LON)
    mask = land(CSR_LAT, CSR_LON)
    paths = write_csr_mascons(str(tmp_path), CSR_MONTHS, CSR_LAT, CSR_LON, lwe, land_mask=mask, time_days=times,
                              bounds_days=bounds)
    assert [os.path.basename(p) for p in paths] == ["CSR_GRACE_GRACE-FO_RL0602_Mascons_all-corrections.nc",
                                                   "CSR_GRACE_GRACE-FO_RL06_Mascons_v02_LandMask.nc"]
    [grid] = read_products(paths)
    assert grid.product == "CSR RL0602 mascons (0.25°)"
    np.testing.assert_array_equal(grid.months, CSR_MONTHS)
    assert_close(grid.values, np.where(mask > 0, lwe * 10.0, np.nan))
    assert "months from the midpoints of time_bounds" in grid.notes


def test_csr_without_bounds_moves_one_of_two_solutions_to_the_empty_neighbour(tmp_path):
    times = csr_days("2004-01-16", "2004-03-01", "2004-03-16", "2004-04-15")
    lwe = signal(times, CSR_LAT, CSR_LON)
    paths = write_csr_mascons(str(tmp_path), CSR_MONTHS, CSR_LAT, CSR_LON, lwe, time_bounds=False, time_days=times)
    [grid] = read_products(paths)
    np.testing.assert_array_equal(grid.months, CSR_MONTHS)
    assert_close(grid.values, lwe * 10.0)
    assert "the solution centred 2004-03-01 counts as 2004-02 (two solutions in 2004-03, none in 2004-02)" in grid.notes


def test_of_two_solutions_the_nearer_one_moves(tmp_path):
    times = csr_days("2004-01-16", "2004-01-30", "2004-03-16")  # both 2003-12 and 2004-02 are free
    lwe = signal(times, CSR_LAT, CSR_LON)
    paths = write_csr_mascons(str(tmp_path), CSR_MONTHS[:3], CSR_LAT, CSR_LON, lwe, time_bounds=False,
                              time_days=times)
    [grid] = read_products(paths)
    np.testing.assert_array_equal(grid.months, CSR_MONTHS[:3])
    assert_close(grid.values, lwe * 10.0)


def test_two_solutions_in_a_month_between_taken_months(tmp_path):
    times = csr_days("2004-01-16", "2004-02-05", "2004-02-25", "2004-03-16")
    paths = write_csr_mascons(str(tmp_path), CSR_MONTHS, CSR_LAT, CSR_LON, signal(times, CSR_LAT, CSR_LON),
                              time_bounds=False, time_days=times)
    with pytest.raises(ValueError, match=re.escape(
            "CSR RL0602 mascons: two solutions fall in 2004-02 (centred 2004-02-05 and 2004-02-25) and both "
            "neighbouring months have one")):
        read_products(paths)


# ------------------------------------------------------------------------------------------ Tellus land grids

LAND_LAT = np.arange(40.5, 44.0)
LAND_LON = np.arange(10.5, 14.0)


def test_tellus_land_grids_of_two_files_with_gain_factors(tmp_path):
    grace, grace_fo = MONTHS[:10], np.arange("2018-06", "2018-09", dtype="datetime64[M]")
    first = write_tellus_land(str(tmp_path), "GFZ", grace, LAND_LAT, LAND_LON,
                              signal(mid_days(grace), LAND_LAT, LAND_LON), scale=gains(LAND_LAT, LAND_LON))
    second = write_tellus_land(str(tmp_path), "GFZ", grace_fo, LAND_LAT, LAND_LON,
                               signal(mid_days(grace_fo), LAND_LAT, LAND_LON))
    [grid] = read_products(first + second)
    months = np.concatenate([grace, grace_fo])
    assert grid.product == "GFZ Tellus land grid RL05 (1°)"
    np.testing.assert_array_equal(grid.months, months)
    assert_close(grid.values, signal(mid_days(months), LAND_LAT, LAND_LON) * gains(LAND_LAT, LAND_LON) * 10.0)


def test_rl06_monthly_land_grid_files_and_renamed_files(tmp_path, jpl_v03):
    paths = []
    for month, name in ((MONTHS[0], "GRD-3_2003001-2003031_GRAC_UTCSR_BA01_0600_LND_v04.nc"),
                        (np.datetime64("2018-06"), "GRD-3_2018152-2018181_GRFO_UTCSR_BA01_0600_LND_v04.nc")):
        folder = tmp_path / name
        folder.mkdir()
        [written] = write_tellus_land(str(folder), "CSR", [month], LAND_LAT, LAND_LON,
                                      signal(mid_days(np.array([month])), LAND_LAT, LAND_LON))
        paths.append(str(folder / name))
        os.rename(written, paths[-1])
    [grid] = read_products(paths)
    assert grid.product == "CSR Tellus land grid RL06.0 v04 (1°)"
    np.testing.assert_array_equal(grid.months, np.array(["2003-01", "2018-06"], dtype="datetime64[M]"))
    renamed = str(tmp_path / "my_grace_download.nc")
    os.rename(jpl_v03[0], renamed)
    [grid] = read_products([renamed])  # centre and layout from the global attributes
    assert grid.product == "JPL mascons (0.5°)"
    assert_close(grid.values, expected_jpl())


def test_the_same_solution_twice(tmp_path, jpl_v03):
    copies = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        copies += write_tellus_land(str(tmp_path / folder), "GFZ", MONTHS[:3], LAND_LAT, LAND_LON,
                                    signal(mid_days(MONTHS[:3]), LAND_LAT, LAND_LON))
    name = "GRCTellus.GFZ.200301_200303.LND.RL05.DSTvSCS1409.nc"
    with pytest.raises(ValueError, match=re.escape(
            f"GFZ Tellus land grid RL05: the solution centred 2003-01-16 comes twice ({name}, {name})")):
        read_products(copies)
    [once] = read_products(jpl_v03 + jpl_v03)  # one path given twice counts once
    np.testing.assert_array_equal(once.months, MONTHS)


def test_mixed_units_between_files_of_one_product(tmp_path):
    grace, grace_fo = MONTHS[:3], np.arange("2018-06", "2018-08", dtype="datetime64[M]")
    [first] = write_tellus_land(str(tmp_path), "CSR", grace, LAND_LAT, LAND_LON,
                                signal(mid_days(grace), LAND_LAT, LAND_LON))
    [second] = write_tellus_land(str(tmp_path), "CSR", grace_fo, LAND_LAT, LAND_LON,
                                 signal(mid_days(grace_fo), LAND_LAT, LAND_LON))
    set_attribute(second, "lwe_thickness", "units", "mm")
    with pytest.raises(ValueError, match=re.escape(
            "Mixed units of lwe_thickness (CSR Tellus land grid RL05) between files: 'cm' in "
            f"{os.path.basename(first)}, 'mm' in {os.path.basename(second)}; convert them to one unit first")):
        read_products([first, second])


def test_a_gain_file_matching_no_grace_grid(tmp_path, jpl_v03):
    scale = write_tellus_land(str(tmp_path), "JPL", MONTHS[:2], LAND_LAT, LAND_LON,
                              signal(mid_days(MONTHS[:2]), LAND_LAT, LAND_LON), scale=gains(LAND_LAT, LAND_LON))[1]
    with pytest.raises(ValueError, match=re.escape(
            "CLM4.SCALE_FACTOR.DS.G300KM.RL05.DSTvSCS1409.nc: its grid (4 x 4 cells of 1°) matches none of the GRACE "
            "files given")):
        read_products(jpl_v03 + [scale])


def test_two_products_of_one_centre(tmp_path, jpl_v03):
    land_grid = write_tellus_land(str(tmp_path), "JPL", MONTHS[:2], LAND_LAT, LAND_LON,
                                  signal(mid_days(MONTHS[:2]), LAND_LAT, LAND_LON))
    with pytest.raises(ValueError, match=re.escape(
            "Two JPL products among the inputs: JPL RL06.1M mascons v03 CRI "
            "(GRCTellus.JPL.200301_200412.GLO.RL06.1M.MSCNv03CRI.nc); JPL Tellus land grid RL05_1 "
            "(GRCTellus.JPL.200301_200302.LND.RL05_1.DSTvSCS1411.nc). Give one product per centre or model")):
        read_products(jpl_v03 + land_grid)


def test_three_centres_together(tmp_path, jpl_v03):
    csr = write_csr_mascons(str(tmp_path), CSR_MONTHS, CSR_LAT, CSR_LON,
                            signal(mid_days(CSR_MONTHS), CSR_LAT, CSR_LON))
    gfz = write_tellus_land(str(tmp_path), "GFZ", MONTHS, LAND_LAT, LAND_LON,
                            signal(mid_days(MONTHS), LAND_LAT, LAND_LON))
    grids = read_products(csr + jpl_v03 + gfz, kind="tws")
    assert [(g.source, g.term) for g in grids] == [("CSR", "tws"), ("GFZ", "tws"), ("JPL", "tws")]


# ------------------------------------------------------------------------------------------ GLDAS

GLDAS_LAT = np.arange(-10.375, -9.0, 0.25)
GLDAS_LON = np.arange(100.125, 101.0, 0.25)
GLDAS_MONTHS = np.arange("2004-01", "2004-07", dtype="datetime64[M]")
NOAH_LAYERS = ("SoilMoi0_10cm_inst", "SoilMoi10_40cm_inst", "SoilMoi40_100cm_inst", "SoilMoi100_200cm_inst")


def gldas_fields(names, count, lat, lon, seed=1):
    """Known kg m-2 fields, as float32 (what the files hold); ocean (NaN) in one corner."""
    rng = np.random.default_rng(seed)
    fields = {}
    for index, name in enumerate(names):
        values = 10.0 * (index + 1) + rng.uniform(0, 5, (count, len(lat), len(lon)))
        values[:, 0, 0] = np.nan
        fields[name] = values.astype(np.float32).astype(np.float64)
    return fields


def days_in(months):
    return ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(float)


def by_term(grids):
    return {grid.term: grid for grid in grids}


def test_gldas_noah_monthly_terms(tmp_path):
    names = NOAH_LAYERS + ("CanopInt_inst", "SWE_inst", "Qs_acc")
    fields = gldas_fields(names, GLDAS_MONTHS.size, GLDAS_LAT, GLDAS_LON)
    paths = write_gldas(str(tmp_path), "NOAH", GLDAS_MONTHS, GLDAS_LAT, GLDAS_LON, fields)
    assert os.path.basename(paths[0]) == "GLDAS_NOAH025_M.A200401.021.nc4"
    grids = read_products(paths, kind="lsm")
    assert [(g.source, g.term) for g in grids] == [("NOAH", "sm"), ("NOAH", "cws"), ("NOAH", "swe"), ("NOAH", "qs")]
    terms = by_term(grids)
    assert terms["sm"].product == "GLDAS-2.1 Noah 0.25° monthly"
    np.testing.assert_array_equal(terms["sm"].months, GLDAS_MONTHS)
    np.testing.assert_array_equal(terms["sm"].lat, GLDAS_LAT)
    assert_close(terms["sm"].values, sum(fields[name] for name in NOAH_LAYERS))
    assert_close(terms["cws"].values, fields["CanopInt_inst"])
    assert_close(terms["swe"].values, fields["SWE_inst"])
    steps = days_in(GLDAS_MONTHS) * 8
    np.testing.assert_array_equal(terms["qs"].steps, steps)
    assert_close(terms["qs"].values, fields["Qs_acc"] * steps[:, None, None])
    assert np.isnan(terms["sm"].values[:, 0, 0]).all()


@pytest.mark.parametrize("model, layers", [
    ("VIC", ("SoilMoi0_30cm_inst", "SoilMoi_depth2_inst", "SoilMoi_depth3_inst")),
    ("CLSM", ("SoilMoist_P_inst",)),
])
def test_gldas_vic_and_clsm_soil_moisture(tmp_path, model, layers):
    lat, lon = np.arange(-9.5, -6.0), np.arange(100.5, 104.0)
    fields = gldas_fields(layers + ("CanopInt_inst", "SWE_inst", "Qs_acc"), 3, lat, lon)
    paths = write_gldas(str(tmp_path), model, GLDAS_MONTHS[:3], lat, lon, fields)
    assert os.path.basename(paths[0]) == f"GLDAS_{model}10_M.A200401.021.nc4"
    terms = by_term(read_products(paths))
    assert terms["sm"].product == f"GLDAS-2.1 {model} 1° monthly"
    assert_close(terms["sm"].values, sum(fields[name] for name in layers))


def test_gldas_3_hourly_files_averaged_per_month(tmp_path):
    stamps = np.datetime64("2004-02-29T09:00") + np.arange(8) * np.timedelta64(3, "h")
    names = NOAH_LAYERS + ("CanopInt_inst", "SWE_inst", "Qs_acc")
    fields = gldas_fields(names, stamps.size, GLDAS_LAT, GLDAS_LON, seed=2)
    paths = write_gldas(str(tmp_path), "NOAH", stamps, GLDAS_LAT, GLDAS_LON, fields, monthly=False)
    assert os.path.basename(paths[1]) == "GLDAS_NOAH025_3H.A20040229.1200.021.nc4"
    terms = by_term(read_products(paths))
    february, march = slice(0, 5), slice(5, 8)  # 09:00 ... 21:00 on 29 February, 00:00 ... 06:00 on 1 March
    assert terms["qs"].product == "GLDAS-2.1 Noah 0.25° 3-hourly"
    np.testing.assert_array_equal(terms["qs"].months, np.array(["2004-02", "2004-03"], dtype="datetime64[M]"))
    np.testing.assert_array_equal(terms["qs"].steps, [5, 3])
    layers = sum(fields[name] for name in NOAH_LAYERS)
    assert_close(terms["sm"].values, np.stack([layers[february].mean(0), layers[march].mean(0)]))
    assert_close(terms["swe"].values, np.stack([fields["SWE_inst"][february].mean(0),
                                                fields["SWE_inst"][march].mean(0)]))
    qs = fields["Qs_acc"]
    assert_close(terms["qs"].values, np.stack([qs[february].sum(0) * 232 / 5, qs[march].sum(0) * 248 / 3]))
    assert "2004-02: 5 of 232 3-hour steps" in terms["qs"].notes


def test_gldas_window_across_the_antimeridian(tmp_path):
    lat, lon = np.arange(-19.5, -16.0), np.arange(-179.5, 180.0)
    fields = gldas_fields(NOAH_LAYERS + ("CanopInt_inst", "SWE_inst", "Qs_acc"), 2, lat, lon)
    paths = write_gldas(str(tmp_path), "NOAH", GLDAS_MONTHS[:2], lat, lon, fields)
    terms = by_term(read_products(paths, bbox=(178.2, -19.2, -178.2, -18.0)))
    np.testing.assert_array_equal(terms["swe"].lon, [178.5, 179.5, 180.5, 181.5])
    np.testing.assert_array_equal(terms["swe"].lat, [-19.5, -18.5])
    assert_close(terms["swe"].values, fields["SWE_inst"][:, 0:2][:, :, [358, 359, 0, 1]])


def test_a_gldas_file_lacking_variables(tmp_path):
    fields = gldas_fields(NOAH_LAYERS[:2] + ("SWE_inst",), 1, GLDAS_LAT, GLDAS_LON)
    paths = write_gldas(str(tmp_path), "NOAH", GLDAS_MONTHS[:1], GLDAS_LAT, GLDAS_LON, fields)
    with pytest.raises(ValueError, match=re.escape(
            "GLDAS_NOAH025_M.A200401.021.nc4: GLDAS Noah file without SoilMoi40_100cm_inst, SoilMoi100_200cm_inst, "
            "CanopInt_inst, Qs_acc; the Noah storage terms need SoilMoi0_10cm_inst, SoilMoi10_40cm_inst, "
            "SoilMoi40_100cm_inst, SoilMoi100_200cm_inst, CanopInt_inst, SWE_inst, Qs_acc")):
        read_products(paths)


def test_gldas_mixed_units(tmp_path):
    fields = gldas_fields(NOAH_LAYERS + ("CanopInt_inst", "SWE_inst", "Qs_acc"), 2, GLDAS_LAT, GLDAS_LON)
    paths = write_gldas(str(tmp_path), "NOAH", GLDAS_MONTHS[:2], GLDAS_LAT, GLDAS_LON, fields)
    set_attribute(paths[1], "SWE_inst", "units", "mm")
    with pytest.raises(ValueError, match=re.escape(
            "Mixed units of SWE_inst (GLDAS-2.1 Noah 0.25° monthly) between files: 'kg m-2' in "
            "GLDAS_NOAH025_M.A200401.021.nc4, 'mm' in GLDAS_NOAH025_M.A200402.021.nc4; convert them to one unit "
            "first")):
        read_products(paths)


# ------------------------------------------------------------------------------------------ the real GLDAS sample

needs_real_gldas = pytest.mark.skipif(not all(os.path.exists(p) for p in REAL_GLDAS),
                                      reason="the real GLDAS sample (../shared/data/gldas-noah025) is not beside this "
                                             "checkout")


def direct_read(path, variable):
    """GDAL's classic raster read (north-up rows) as float64 with NaN at nodata."""
    dataset = gdal.Open(f'NETCDF:"{path}":{variable}')
    band = dataset.GetRasterBand(1)
    values = band.ReadAsArray().astype(np.float64)
    values[values == band.GetNoDataValue()] = np.nan
    return values


@needs_real_gldas
def test_the_real_gldas_files_averaged():
    layers = ["SoilMoi0_10cm_inst", "SoilMoi10_40cm_inst"]
    means = gldas_monthly_means(REAL_GLDAS, layers)
    np.testing.assert_array_equal(means.months, np.array(["2016-01"], dtype="datetime64[M]"))
    np.testing.assert_array_equal(means.steps, [2])
    assert means.values[layers[0]].shape == (1, 600, 1440) and means.resolution == 0.25
    assert means.lat[0] == -59.875 and means.lat[-1] == 89.875
    assert means.lon[0] == -179.875 and means.lon[-1] == 179.875
    box = gldas_monthly_means(REAL_GLDAS, layers, bbox=(10.0, 45.0, 12.0, 47.0))
    rows = np.flatnonzero((means.lat > 45.0) & (means.lat < 47.0))
    columns = np.flatnonzero((means.lon > 10.0) & (means.lon < 12.0))
    np.testing.assert_array_equal(box.lat, means.lat[rows])
    np.testing.assert_array_equal(box.lon, means.lon[columns])
    for layer in layers:
        north_up = np.mean([direct_read(path, layer) for path in REAL_GLDAS], axis=0)
        expected = north_up[::-1][np.ix_(rows, columns)]
        assert np.isfinite(expected).all()
        np.testing.assert_allclose(box.values[layer][0], expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(means.values[layer][0], north_up[::-1], rtol=0, atol=1e-9, equal_nan=True)


@needs_real_gldas
def test_the_trimmed_real_files_lack_the_other_noah_variables():
    with pytest.raises(ValueError, match=re.escape(
            "GLDAS_NOAH025_3H.A20160101.0300.021.nc4: GLDAS Noah file without SoilMoi40_100cm_inst, "
            "SoilMoi100_200cm_inst, CanopInt_inst, SWE_inst, Qs_acc; the Noah storage terms need")):
        read_products(REAL_GLDAS)


# ------------------------------------------------------------------------------------------ bad input

RECOGNISED = ("It reads GRACE / GRACE-FO JPL mascons (GRCTellus.JPL.*.MSCNv0*CRI.nc), CSR mascons "
              "(CSR_GRACE_GRACE-FO_RL06*_Mascons_all-corrections*.nc), Tellus land grids (GRCTellus.*.LND.*, "
              "GRD-3_*_LND_*), their gain-factor and land-mask files (CLM4.SCALE_FACTOR.*.nc, LAND_MASK.CRI.nc, "
              "*_LandMask.nc with LO_val) and GLDAS Noah / CLSM / VIC monthly or 3-hourly files "
              "(GLDAS_*_M.A*.nc4, GLDAS_*_3H.A*.nc4)")


def test_a_netcdf_file_that_is_neither_grace_nor_gldas(tmp_path):
    path = str(tmp_path / "precipitation.nc")
    with netcdf_file(path, "w") as nc:
        nc.createDimension("lat", 2)
        nc.createVariable("lat", "f8", ("lat",))[:] = [1.0, 2.0]
        nc.createVariable("precip", "f8", ("lat",))[:] = [1.0, 2.0]
    message = f"precipitation.nc: not a file this reader recognises. {RECOGNISED}"
    with pytest.raises(ValueError, match=re.escape(message)):
        read_products([path])


def test_a_file_that_is_not_netcdf(tmp_path):
    path = tmp_path / "wells.csv"
    path.write_text("id,level\n1,2\n")
    with pytest.raises(ValueError, match=re.escape(
            f"wells.csv: not a file this reader recognises (GDAL cannot open it as NetCDF). {RECOGNISED}")):
        read_products([str(path)])


def test_files_of_the_other_input(tmp_path, jpl_v03):
    fields = gldas_fields(NOAH_LAYERS + ("CanopInt_inst", "SWE_inst", "Qs_acc"), 1, GLDAS_LAT, GLDAS_LON)
    gldas = write_gldas(str(tmp_path), "NOAH", GLDAS_MONTHS[:1], GLDAS_LAT, GLDAS_LON, fields)
    with pytest.raises(ValueError, match=re.escape(
            "GLDAS_NOAH025_M.A200401.021.nc4: a GLDAS land-surface file among the GRACE (TWS) inputs")):
        read_products(jpl_v03 + gldas, kind="tws")
    with pytest.raises(ValueError, match=re.escape(
            "GRCTellus.JPL.200301_200412.GLO.RL06.1M.MSCNv03CRI.nc: a GRACE file among the land-surface (GLDAS) "
            "inputs")):
        read_products(gldas + jpl_v03, kind="lsm")


def test_gldas_daily_files_are_refused(tmp_path):
    fields = gldas_fields(NOAH_LAYERS, 1, GLDAS_LAT, GLDAS_LON)
    [path] = write_gldas(str(tmp_path), "NOAH", GLDAS_MONTHS[:1], GLDAS_LAT, GLDAS_LON, fields)
    daily = os.path.join(str(tmp_path), "GLDAS_CLSM025_DA1_D.A20040101.022.nc4")
    os.rename(path, daily)
    with pytest.raises(ValueError, match=re.escape(
            "GLDAS_CLSM025_DA1_D.A20040101.022.nc4: GLDAS daily files are not read; use the monthly (_M) or "
            "3-hourly (_3H) files")):
        read_products([daily])
