"""Groundwater storage (seed 002 eq. 1) on in-memory grids with known fields: cell weights and area means by
hand (spherical cell areas, partial cells), longitudes in 0 … 360 and −180 … 180, the antimeridian, an area smaller
than a cell, every term of the table against analytic values (1e-6 mm), the GRACE gap, the spread, conservative
regridding, the ΔGWS stack, the trend and its interval, and the error messages."""
import numpy as np
import pytest
from osgeo import ogr
from scipy import stats

from subsidence_plugin.core.groundwater.grids import MonthlyGrid
from subsidence_plugin.core.groundwater.storage import (EARTH_RADIUS_KM, area_mean, cell_weights, groundwater_storage,
                                                        groundwater_storage_stack, regrid_conservative, storage_trend)

AREA = "POLYGON((20 40, 23 40, 23 42, 20 42, 20 40))"  # on the cell edges of every grid below


def _band(low, high):
    """sin φ_north − sin φ_south (the cell area is R² Δλ (sin φ_n − sin φ_s))."""
    return np.sin(np.radians(high)) - np.sin(np.radians(low))


def _axis(first_edge, last_edge, step, descending=False):
    centres = np.arange(first_edge + step / 2, last_edge, step)
    return centres[::-1] if descending else centres


def _years(months):
    """Decimal years at mid-month, from 2010."""
    return 1970.0 + (months.astype(np.int64) + 0.5) / 12.0 - 2010.0


def _months(first, last, drop=()):
    months = np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 1)
    return months[~np.isin(months, np.array(drop, dtype="datetime64[M]"))]


def _signal(months, trend, amplitude, peak):
    t = _years(months)
    return trend * t + amplitude * np.cos(2 * np.pi * (t - peak / 12.0))


def _grid(source, term, months, lat, lon, trend, amplitude, peak, gradient=0.0):
    """A field (mm) = spatial pattern 100 + 3 φ − 2 λ + a trend growing by ``gradient`` mm/yr a degree north of
    41° + an annual cycle peaking at month ``peak``."""
    t = _years(months)[:, None, None]
    pattern = 100 + 3 * lat[:, None] - 2 * np.mod(lon, 360)[None, :]
    values = pattern[None] + (trend + gradient * (lat[None, :, None] - 41)) * t \
        + amplitude * np.cos(2 * np.pi * (t - peak / 12.0))
    return MonthlyGrid(source, f"{source} test", term, months, lat, lon, values)


def _mean_lat(step):
    """Area-weighted mean cell-centre latitude of the rows between 40° and 42° of a grid with ``step``."""
    centres = np.arange(40 + step / 2, 42, step)
    weights = _band(centres - step / 2, centres + step / 2)
    return float(np.sum(weights * centres) / np.sum(weights))


# --- cell weights and area means ---------------------------------------------------------------------------------

def test_cell_weights_are_spherical_areas_of_the_cells_parts():
    lat, lon = _axis(30, 35, 1.0), _axis(10, 15, 1.0)
    weights = cell_weights(lat, lon, "POLYGON((11.25 31.5, 13 31.5, 13 33.75, 11.25 33.75, 11.25 31.5))")
    expected = np.zeros((5, 5))
    for row, (south, north) in enumerate([(31.5, 32), (32, 33), (33, 33.75)], start=1):
        for col, (west, east) in enumerate([(11.25, 12), (12, 13)], start=1):
            expected[row, col] = EARTH_RADIUS_KM ** 2 * np.radians(east - west) * _band(south, north)
    np.testing.assert_allclose(weights, expected, rtol=1e-12, atol=1e-9)


def test_area_mean_by_hand_with_partial_cells_and_nan_cells():
    lat, lon = _axis(30, 35, 1.0, descending=True), _axis(10, 15, 1.0)
    values = np.arange(2 * 5 * 5, dtype=float).reshape(2, 5, 5)
    values[1, 2, 2] = np.nan  # lat 32.5, lon 12.5 missing in the second month: its weight drops out
    grid = MonthlyGrid("X", "X test", "tws", np.array(["2020-01", "2020-02"], dtype="datetime64[M]"), lat, lon,
                       values)
    weights = cell_weights(lat, lon, "POLYGON((11.25 31.5, 13 31.5, 13 33.75, 11.25 33.75, 11.25 31.5))")
    hand = {}  # (row in the descending grid, col) -> weight up to R²
    for row, (south, north) in zip((3, 2, 1), [(31.5, 32), (32, 33), (33, 33.75)]):
        for col, (west, east) in zip((1, 2), [(11.25, 12), (12, 13)]):
            hand[row, col] = np.radians(east - west) * _band(south, north)
    first = sum(w * values[0][cell] for cell, w in hand.items()) / sum(hand.values())
    kept = {cell: w for cell, w in hand.items() if cell != (2, 2)}
    second = sum(w * values[1][cell] for cell, w in kept.items()) / sum(kept.values())
    np.testing.assert_allclose(area_mean(grid, weights), [first, second], rtol=0, atol=1e-9)


def _both_conventions(area, lat=None):
    """The same field on a 0.5° grid in 0 … 360 and in −180 … 180 (longitudes rolled)."""
    lat = _axis(-20, 20, 0.5) if lat is None else lat
    east = _axis(0, 360, 0.5)
    west = _axis(-180, 180, 0.5)
    months = _months("2010-01", "2010-03")

    def field(lon):
        return 10 * np.cos(np.radians(lon))[None, None, :] + lat[None, :, None] + np.arange(3)[:, None, None]

    grids = [MonthlyGrid("A", "A", "tws", months, lat, lon, field(lon)) for lon in (east, west)]
    return [area_mean(g, cell_weights(g.lat, g.lon, area)) for g in grids]


def test_grids_in_0_360_and_minus_180_180_give_the_same_mean():
    first, second = _both_conventions("POLYGON((-2.3 10, 1.7 10, 1.7 12.2, -2.3 12.2, -2.3 10))")
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-9)


def test_an_area_across_the_antimeridian_in_either_form():
    beyond = "POLYGON((178.5 -5, 182.5 -5, 182.5 5, 178.5 5, 178.5 -5))"
    split = "MULTIPOLYGON(((178.5 -5, 180 -5, 180 5, 178.5 5, 178.5 -5)),((-180 -5, -177.5 -5, -177.5 5, -180 5, " \
            "-180 -5)))"
    lat = _axis(-20, 20, 0.5)
    means = _both_conventions(beyond, lat) + _both_conventions(split, lat)
    for other in means[1:]:
        np.testing.assert_allclose(other, means[0], rtol=0, atol=1e-9)
    lon = _axis(178.5, 182.5, 0.5)
    rows = _axis(-5, 5, 0.5)
    w = _band(rows - 0.25, rows + 0.25)
    expected = np.sum(w * rows) / w.sum() + 10 * np.cos(np.radians(lon)).mean() + np.arange(3)
    np.testing.assert_allclose(means[0], expected, rtol=0, atol=1e-9)
    area = 2 * np.pi / 90 * _band(-5, 5) * EARTH_RADIUS_KM ** 2
    weights = cell_weights(lat, _axis(-180, 180, 0.5), beyond)
    assert weights.sum() == pytest.approx(area, rel=1e-12)
    assert np.count_nonzero(weights) == 8 * 20


def test_an_area_smaller_than_a_cell_uses_the_cells_it_overlaps():
    lat, lon = _axis(36, 46, 1.0), _axis(16, 27, 1.0)
    months = _months("2010-01", "2011-12")
    grid = _grid("GFZ", "tws", months, lat, lon, 2.0, 30.0, 3.0, gradient=1.0)
    inside = cell_weights(lat, lon, "POLYGON((20.2 40.1, 20.4 40.1, 20.4 40.3, 20.2 40.3, 20.2 40.1))")
    assert np.count_nonzero(inside) == 1
    np.testing.assert_allclose(area_mean(grid, inside), grid.values[:, 4, 4], rtol=0, atol=1e-9)
    across = cell_weights(lat, lon, "POLYGON((20.8 40.1, 21.4 40.1, 21.4 40.3, 20.8 40.3, 20.8 40.1))")
    assert np.count_nonzero(across) == 2
    expected = (0.2 * grid.values[:, 4, 4] + 0.4 * grid.values[:, 4, 5]) / 0.6
    np.testing.assert_allclose(area_mean(grid, across), expected, rtol=0, atol=1e-9)
    series = groundwater_storage([grid], [], "POLYGON((20.2 40.1, 20.4 40.1, 20.4 40.3, 20.2 40.3, 20.2 40.1))")
    assert series.products[0].cells == 1 and series.products[0].resolution_deg == (1.0, 1.0)
    assert series.below_grace_resolution and series.area_km2 == pytest.approx(inside.sum(), rel=1e-9)
    assert series.missing_terms == ("sm", "cws", "swe", "qs")


def test_weights_of_a_triangle_and_a_hole_sum_to_their_areas():
    lat, lon = _axis(-60, 90, 0.25, descending=True), _axis(-180, 180, 0.25)
    triangle = cell_weights(lat, lon, "POLYGON((5 0, 15 0, 5 30, 5 0))")  # straight in (λ, sin φ)
    assert triangle.sum() == pytest.approx(0.5 * np.radians(10) * _band(0, 30) * EARTH_RADIUS_KM ** 2, rel=1e-12)
    ring = ogr.CreateGeometryFromWkt("POLYGON((0 0, 0 10, 10 10, 10 0, 0 0),(2 2, 4 2, 4 4, 2 4, 2 2))")  # clockwise
    holed = cell_weights(lat, lon, [ring])
    expected = np.radians(10) * _band(0, 10) - np.radians(2) * _band(2, 4)
    assert holed.sum() == pytest.approx(expected * EARTH_RADIUS_KM ** 2, rel=1e-12)
    assert holed[np.argmin(np.abs(lat - 3.125)), np.argmin(np.abs(lon - 3.125))] == 0.0


# --- the storage table -------------------------------------------------------------------------------------------

GAP = _months("2017-07", "2018-05")  # between GRACE and GRACE-FO
CENTRES = {  # source: (resolution, lon 16 … 27 (else −4 … 27), lat descending, months dropped, first month,
    #          trend, amplitude, peak)
    "CSR": (0.25, True, False, (), "2002-04", -8.0, 60.0, 3.0),
    "JPL": (0.5, True, False, ("2003-06", "2012-01"), "2002-04", -7.0, 55.0, 3.5),
    "GFZ": (1.0, False, True, ("2015-03",), "2003-01", -9.0, 65.0, 2.5),
}
MODELS = {  # (source, term): (resolution, trend, amplitude, peak)
    ("NOAH", "sm"): (0.25, -1.5, 40.0, 2.0), ("NOAH", "cws"): (0.25, 0.0, 0.3, 1.0),
    ("NOAH", "qs"): (0.25, 0.1, 4.0, 2.5),
    ("CLSM", "sm"): (1.0, -1.0, 45.0, 2.2), ("CLSM", "cws"): (1.0, 0.05, 0.4, 1.2),
    ("CLSM", "qs"): (1.0, 0.2, 5.0, 2.4),
    ("VIC", "sm"): (0.5, -2.0, 35.0, 1.8),
}
GRADIENT = 1.5  # mm/yr a degree of latitude


def _products():
    tws = []
    for source, (step, east, descending, drop, first, trend, amplitude, peak) in CENTRES.items():
        months = _months(first, "2021-12", tuple(GAP.astype(str)) + drop)
        lon = _axis(16, 27, step) if east else _axis(-4, 27, step)
        tws.append(_grid(source, "tws", months, _axis(36, 46, step, descending), lon, trend, amplitude, peak,
                         GRADIENT))
    land = [_grid(source, term, _months("2000-01", "2021-12"), _axis(36, 46, step), _axis(16, 27, step), trend,
                  amplitude, peak, GRADIENT) for (source, term), (step, trend, amplitude, peak) in MODELS.items()]
    return tws, land


def _expected_anomaly(months, step, trend, amplitude, peak, start, end):
    """The analytic area mean of a product less its mean over its months inside the baseline."""
    t = _years(months)
    mean = (trend + GRADIENT * (_mean_lat(step) - 41)) * t + amplitude * np.cos(2 * np.pi * (t - peak / 12.0))
    inside = (months >= np.datetime64(start, "M")) & (months <= np.datetime64(end, "M"))
    return mean - mean[inside].mean()


def _expected_table(months, start, end):
    def placed(product_months, values):
        out = np.full(months.size, np.nan)
        hit = np.isin(months, product_months)
        out[hit] = values[np.isin(product_months, months)]
        return out

    centres = []
    for step, east, descending, drop, first, trend, amplitude, peak in CENTRES.values():
        own = _months(first, "2021-12", tuple(GAP.astype(str)) + drop)
        centres.append(placed(own, _expected_anomaly(own, step, trend, amplitude, peak, start, end)))
    land_months = _months("2000-01", "2021-12")
    model = {key: placed(land_months, _expected_anomaly(land_months, step, trend, amplitude, peak, start, end))
             for key, (step, trend, amplitude, peak) in MODELS.items()}
    centres = np.array(centres)
    n = np.isfinite(centres).sum(axis=0)
    tws = np.nansum(centres, axis=0) / n
    terms = {term: np.mean([v for (s, t), v in model.items() if t == term], axis=0) for term in ("sm", "cws", "qs")}
    sums = [sum(model.get((source, term), terms[term]) for term in terms) for source in ("NOAH", "CLSM", "VIC")]
    spread = np.sqrt(np.nanvar(centres, axis=0, ddof=0) + np.var(sums, axis=0, ddof=0))
    gws = tws - terms["sm"] - terms["cws"] - terms["qs"]
    return tws, terms, gws, n, spread


def test_every_term_of_the_table_against_the_analytic_values():
    tws, land = _products()
    result = groundwater_storage(tws, land, AREA)
    assert str(result.baseline_start) == "2003-01" and str(result.baseline_end) == "2021-12"  # the common period
    expected_months = _months("2002-04", "2021-12", tuple(GAP.astype(str)))
    np.testing.assert_array_equal(result.months, expected_months)
    assert not np.isin(GAP, result.months).any()  # the GRACE / GRACE-FO gap stays a gap
    e_tws, e_terms, e_gws, e_n, e_spread = _expected_table(result.months, "2003-01", "2021-12")
    np.testing.assert_allclose(result.tws_mm, e_tws, rtol=0, atol=1e-6)
    for term in ("sm", "cws", "qs"):
        np.testing.assert_allclose(getattr(result, f"{term}_mm"), e_terms[term], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(result.swe_mm, 0.0)
    assert result.missing_terms == ("swe",)
    np.testing.assert_allclose(result.gws_mm, e_gws, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(result.n_centres, e_n)
    np.testing.assert_allclose(result.gws_spread_mm, e_spread, rtol=0, atol=1e-6)
    by_month = dict(zip(result.months.astype(str), result.n_centres))
    assert by_month["2002-04"] == 2 and by_month["2003-06"] == 2 and by_month["2012-01"] == 2
    assert by_month["2015-03"] == 2 and by_month["2016-01"] == 3
    table = result.table()
    assert list(table) == ["month", "tws_mm", "sm_mm", "cws_mm", "swe_mm", "qs_mm", "gws_mm", "n_centres",
                           "gws_spread_mm"]
    assert table["month"][0] == "2002-04"
    cells = {p.source + " " + p.term: (p.cells, p.resolution_deg) for p in result.products}
    assert cells["CSR tws"] == (8 * 12, (0.25, 0.25)) and cells["GFZ tws"] == (2 * 3, (1.0, 1.0))
    assert result.below_grace_resolution  # 56,000 km² < (300 km)²
    assert result.area_km2 == pytest.approx(np.radians(3) * _band(40, 42) * EARTH_RADIUS_KM ** 2, rel=1e-12)


def test_a_given_baseline():
    tws, land = _products()
    result = groundwater_storage(tws, land, AREA, np.datetime64("2004-01"), np.datetime64("2009-12"))
    e_tws, e_terms, e_gws, e_n, e_spread = _expected_table(result.months, "2004-01", "2009-12")
    np.testing.assert_allclose(result.gws_mm, e_gws, rtol=0, atol=1e-6)
    np.testing.assert_allclose(result.gws_spread_mm, e_spread, rtol=0, atol=1e-6)
    inside = (result.months >= np.datetime64("2004-01")) & (result.months <= np.datetime64("2009-12"))
    for product in result.products:
        kept = (product.months >= np.datetime64("2004-01")) & (product.months <= np.datetime64("2009-12"))
        assert abs(product.anomaly_mm[kept].mean()) < 1e-9
    assert inside.any()


def test_the_spread_of_one_centre_and_one_model_is_zero():
    tws, land = _products()
    result = groundwater_storage(tws[:1], [g for g in land if g.source == "NOAH"], AREA)
    np.testing.assert_array_equal(result.gws_spread_mm, 0.0)
    np.testing.assert_array_equal(result.n_centres, 1)


# --- errors ------------------------------------------------------------------------------------------------------

def test_centres_or_models_that_do_not_overlap_in_time():
    lat, lon = _axis(36, 46, 1.0), _axis(16, 27, 1.0)
    early = _grid("CSR", "tws", _months("2002-04", "2005-12"), lat, lon, 1, 1, 1)
    late = _grid("JPL", "tws", _months("2010-01", "2012-12"), lat, lon, 1, 1, 1)
    with pytest.raises(ValueError) as error:
        groundwater_storage([early, late], [], AREA)
    assert str(error.value) == ("The GRACE centres do not overlap in time: CSR tws 2002-04 to 2005-12, "
                                "JPL tws 2010-01 to 2012-12")
    noah = _grid("NOAH", "sm", _months("2000-01", "2001-12"), lat, lon, 1, 1, 1)
    clsm = _grid("CLSM", "sm", _months("2003-01", "2004-12"), lat, lon, 1, 1, 1)
    with pytest.raises(ValueError) as error:
        groundwater_storage([early], [noah, clsm], AREA)
    assert str(error.value) == ("The land-surface models do not overlap in time: NOAH 2000-01 to 2001-12, "
                                "CLSM 2003-01 to 2004-12")
    with pytest.raises(ValueError) as error:
        groundwater_storage([late], [noah], AREA)
    assert str(error.value) == ("The GRACE centres (2010-01 to 2012-12) and the land-surface models (2000-01 to "
                                "2001-12) do not overlap in time")


def test_a_baseline_outside_the_data():
    tws, land = _products()
    with pytest.raises(ValueError) as error:
        groundwater_storage(tws, land, AREA, np.datetime64("2002-01"), np.datetime64("2005-12"))
    assert str(error.value) == "The baseline 2002-01 to 2005-12 is outside the data of CSR tws (2002-04 to 2021-12)"
    with pytest.raises(ValueError) as error:
        groundwater_storage(tws, land, AREA, np.datetime64("2010-01"), np.datetime64("2005-12"))
    assert str(error.value) == "The baseline start 2010-01 comes after its end 2005-12"


def test_an_area_outside_the_grid_or_without_data():
    lat, lon = _axis(36, 46, 1.0), _axis(16, 27, 1.0)
    grid = _grid("CSR", "tws", _months("2005-01", "2005-12"), lat, lon, 1, 1, 1)
    with pytest.raises(ValueError) as error:
        groundwater_storage([grid], [], "POLYGON((-60 0, -59 0, -59 1, -60 1, -60 0))")
    assert str(error.value) == "The area lies outside the grid of CSR test (lon 16 to 27, lat 36 to 46)"
    grid.values[:, 4:6, 4:7] = np.nan  # the area's cells are ocean
    with pytest.raises(ValueError) as error:
        groundwater_storage([grid], [], AREA)
    assert str(error.value) == "The area covers only cells without data in CSR test (ocean or masked)"
    with pytest.raises(ValueError) as error:
        groundwater_storage([grid], [], "POINT(20 40)")
    assert str(error.value) == "The area must be polygons, got Point"
    with pytest.raises(ValueError) as error:
        groundwater_storage([grid], [grid], AREA)
    assert str(error.value) == ("Products in the wrong list (TWS products take term 'tws', land-surface products "
                                "sm, cws, swe or qs): CSR test")


# --- regridding and the stack ------------------------------------------------------------------------------------

def test_conservative_regridding_keeps_constants_and_the_area_weighted_sum():
    rng = np.random.default_rng(3)
    lat, lon = _axis(30, 40, 0.25, descending=True), _axis(0, 10, 0.25)
    values = rng.normal(50, 20, (2, lat.size, lon.size))
    grid = MonthlyGrid("CSR", "CSR test", "tws", _months("2010-01", "2010-02"), lat, lon, values)
    t_lat, t_lon = _axis(30, 40, 1.0), _axis(0, 10, 1.0)
    out = regrid_conservative(grid, t_lat, t_lon)
    source_area = _band(lat - 0.125, lat + 0.125)[:, None] * np.full(lon.size, np.radians(0.25))[None, :]
    target_area = _band(t_lat - 0.5, t_lat + 0.5)[:, None] * np.full(t_lon.size, np.radians(1.0))[None, :]
    np.testing.assert_allclose((out * target_area).sum(axis=(1, 2)), (values * source_area).sum(axis=(1, 2)),
                               rtol=1e-12)
    constant = MonthlyGrid("CSR", "CSR test", "tws", grid.months, lat, lon, np.full(values.shape, 7.5))
    constant.values[:, :3, :3] = np.nan  # missing source cells leave the rest's mean
    np.testing.assert_allclose(regrid_conservative(constant, t_lat, t_lon), 7.5, rtol=0, atol=1e-12)
    west = regrid_conservative(grid, t_lat, t_lon - 360.0)  # the target in another longitude convention
    np.testing.assert_allclose(west, out, rtol=0, atol=1e-12)
    fine = regrid_conservative(grid, _axis(30, 40, 0.125), _axis(0, 10, 0.125))
    np.testing.assert_allclose(fine[:, ::2, ::2], values[:, ::-1], rtol=0, atol=1e-12)


def test_the_stack_on_the_first_products_grid_matches_the_table():
    tws, land = _products()
    series = groundwater_storage(tws, land, AREA)
    stack = groundwater_storage_stack(tws, land, AREA)
    assert stack.grid.geotransform == (20.0, 0.25, 0.0, 42.0, 0.0, -0.25)
    assert (stack.grid.width, stack.grid.height) == (12, 8) and "4326" in stack.grid.crs_wkt
    np.testing.assert_array_equal(stack.months, series.months)
    weights = cell_weights(stack.lat, stack.lon, AREA)
    mean = np.nansum(stack.gws_mm * weights, axis=(1, 2)) / weights.sum()
    np.testing.assert_allclose(mean, series.gws_mm, rtol=0, atol=1e-6)
    one = (stack.lat == 40.125)[:, None] & (stack.lon == 22.875)[None, :]
    cell = stack.gws_mm[:, one][:, 0]
    assert np.isfinite(cell).all() and np.std(cell) > 1.0


def test_the_stack_on_a_given_grid_is_clipped_to_the_area():
    tws, land = _products()
    area = "POLYGON((20.5 40, 23 40, 23 42, 20.5 42, 20.5 40))"
    stack = groundwater_storage_stack(tws, land, area, target=(_axis(30, 50, 1.0), _axis(-180, 180, 1.0)))
    assert stack.grid.geotransform == (20.0, 1.0, 0.0, 42.0, 0.0, -1.0)
    np.testing.assert_array_equal(stack.lat, [41.5, 40.5])
    np.testing.assert_array_equal(stack.lon, [20.5, 21.5, 22.5])
    assert np.isfinite(stack.gws_mm).all()  # the partial cell at 20.5 is inside
    clipped = groundwater_storage_stack(tws, land, "POLYGON((20 40, 21 40, 21 41, 22 41, 22 42, 20 42, 20 40))",
                                        target=(_axis(30, 50, 1.0), _axis(-180, 180, 1.0)))
    assert np.isnan(clipped.gws_mm[:, 1, 1]).all() and np.isfinite(clipped.gws_mm[:, 0, 1]).all()


def test_the_stack_across_the_antimeridian_is_one_contiguous_window():
    lat = _axis(-10, 10, 0.5)
    months = _months("2010-01", "2011-12")
    east = _axis(0, 360, 0.5)
    field = np.broadcast_to(np.cos(np.radians(east))[None, None, :] + np.arange(24)[:, None, None],
                            (24, lat.size, east.size)).copy()
    grid = MonthlyGrid("JPL", "JPL test", "tws", months, lat, east, field)
    stack = groundwater_storage_stack([grid], [], "POLYGON((178.5 -5, 182.5 -5, 182.5 5, 178.5 5, 178.5 -5))")
    assert stack.grid.geotransform == (178.5, 0.5, 0.0, 5.0, 0.0, -0.5)
    np.testing.assert_allclose(stack.lon, _axis(178.5, 182.5, 0.5))
    anomaly = np.arange(24) - 11.5  # the spatial pattern drops out of the anomalies
    np.testing.assert_allclose(stack.gws_mm, np.broadcast_to(anomaly[:, None, None], stack.gws_mm.shape), atol=1e-9)
    west = groundwater_storage_stack([grid], [], "POLYGON((-3 -5, 2 -5, 2 5, -3 5, -3 -5))")
    assert west.grid.geotransform[0] == -3.0 and west.grid.width == 10


# --- the trend ---------------------------------------------------------------------------------------------------

def test_the_trend_and_the_seasonal_terms_of_a_noise_free_series():
    months = _months("2003-01", "2022-12", tuple(GAP.astype(str)))
    t = _years(months)
    values = 12.0 - 3.25 * t + 40.0 * np.cos(2 * np.pi * (t - 4.5 / 12)) + 6.0 * np.sin(4 * np.pi * t)
    trend = storage_trend(months, values)
    assert trend.slope_mm_per_year == pytest.approx(-3.25, abs=1e-9)
    assert trend.annual_amplitude_mm == pytest.approx(40.0, abs=1e-9)
    assert trend.annual_peak_month == pytest.approx(4.5, abs=1e-9)
    assert trend.semiannual_amplitude_mm == pytest.approx(6.0, abs=1e-9)
    np.testing.assert_allclose(trend.fitted_mm, values, atol=1e-9)
    assert np.isnan(trend.residual_lag1) and trend.n_eff == trend.n  # no residuals, no autocorrelation


def test_a_plain_trend_matches_linregress():
    rng = np.random.default_rng(5)
    months = _months("2005-01", "2014-12")
    values = 2.0 * _years(months) + rng.normal(0, 3, months.size)
    trend = storage_trend(months, values, harmonics=0, autocorrelation=False)
    reference = stats.linregress(_years(months), values)
    assert trend.slope_mm_per_year == pytest.approx(reference.slope, rel=1e-10)
    assert trend.stderr_mm_per_year == pytest.approx(reference.stderr, rel=1e-10)
    half = stats.t.ppf(0.975, months.size - 2) * reference.stderr
    assert trend.ci_high_mm_per_year - trend.slope_mm_per_year == pytest.approx(half, rel=1e-10)


def _ar1(rng, size, phi, sigma):
    noise = rng.normal(0, sigma, size)
    out = np.empty(size)
    out[0] = noise[0] / np.sqrt(1 - phi ** 2)
    for k in range(1, size):  # an AR(1) process is a recursion
        out[k] = phi * out[k - 1] + noise[k]
    return out


def test_the_interval_covers_the_true_trend_with_autocorrelated_noise():
    rng = np.random.default_rng(11)
    months = _months("2003-01", "2022-12", tuple(GAP.astype(str)))
    t = _years(months)
    truth = -4.0
    covered, covered_plain, widths = 0, 0, []
    for _ in range(300):
        values = truth * t + 30 * np.cos(2 * np.pi * (t - 0.3)) + _ar1(rng, months.size, 0.6, 8.0)
        trend = storage_trend(months, values)
        plain = storage_trend(months, values, autocorrelation=False)
        covered += trend.ci_low_mm_per_year <= truth <= trend.ci_high_mm_per_year
        covered_plain += plain.ci_low_mm_per_year <= truth <= plain.ci_high_mm_per_year
        widths.append(trend.ci_high_mm_per_year - trend.ci_low_mm_per_year)
        assert trend.n_eff < trend.n
    assert 0.90 <= covered / 300 <= 0.99  # near the nominal 95 %
    assert covered_plain < covered  # ignoring the autocorrelation gives too narrow intervals
    assert np.median(widths) < 1.0


def test_trend_errors():
    months = _months("2010-01", "2010-06")
    with pytest.raises(ValueError) as error:
        storage_trend(months, np.arange(6.0))
    assert str(error.value) == "A trend with 2 seasonal harmonics needs at least 8 months, got 6"
