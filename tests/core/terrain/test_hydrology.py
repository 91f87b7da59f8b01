"""Depression filling, D8 / MFD accumulation, SCA, TWI and SPI against analytic surfaces and RichDEM."""
import numpy as np
import pytest
import richdem as rd

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.progress import Cancelled
from subsidence_plugin.core.terrain import fill
from subsidence_plugin.core.terrain.fill import epsilon_filled_dem, fill_depressions
from subsidence_plugin.core.terrain.indices import (hydrology_from_dem, specific_catchment_area, stream_power_index,
                                                    topographic_wetness_index)
from subsidence_plugin.core.terrain.routing import d8_accumulation, flow_directions_d8, mfd_accumulation

UTM = crs_wkt_from_epsg(32633)
RD_NODATA = -9999.0


def fractal_dem(n, seed, step=0.05, beta=2.4, relief=100.0):
    """Seeded spectral-synthesis fractal surface (m) with many closed basins, rounded to ``step`` so that
    filled lakes and plateaus make flats."""
    rng = np.random.default_rng(seed)
    k = np.hypot(np.fft.fftfreq(n)[:, None], np.fft.rfftfreq(n)[None, :])
    k[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.standard_normal((n, n))) / k ** (beta / 2)
    spectrum[0, 0] = 0.0
    z = np.fft.irfft2(spectrum, s=(n, n))
    z = (z - z.min()) / (z.max() - z.min()) * relief
    return (np.round(z / step) * step).astype(np.float32)


def with_nodata(z):
    """A round study area (nodata collar) with a nodata hole joined to the collar by a channel."""
    n = z.shape[0]
    yy, xx = np.mgrid[:n, :n]
    z = z.copy()
    z[np.hypot(yy - n / 2, xx - n / 2) > 0.47 * n] = np.nan
    z[n // 3:n // 3 + 30, n // 2:n // 2 + 10] = np.nan
    z[:n // 3, n // 2 + 4:n // 2 + 6] = np.nan
    return z


def rd_array(z):
    return rd.rdarray(np.where(np.isnan(z), RD_NODATA, z).astype(np.float32), no_data=RD_NODATA)


def from_rd(a):
    a = np.asarray(a, dtype=np.float64)
    return np.where(a == RD_NODATA, np.nan, a)


def rd_fill(z, epsilon=False):
    return from_rd(rd.FillDepressions(rd_array(z), epsilon=epsilon, in_place=False))


def rd_props_from_d8(directions, nodata):
    """RichDEM flow proportions for our D8 directions (RichDEM neighbours 1..8 = W, NW, N, NE, E, SE, S, SW)."""
    props = np.zeros(directions.shape + (9,), dtype=np.float32)
    props[..., 0] = np.where(directions >= 0, 0, -1)
    props[nodata, 0] = -2
    r, c = np.nonzero(directions >= 0)
    props[r, c, (directions[r, c] + 4) % 8 + 1] = 1
    return rd.rd3array(props, no_data=-2)


def drains_everywhere(surface):
    """Every valid cell that is not on the edge or next to nodata has a strictly lower neighbour."""
    p = np.pad(surface, 1, constant_values=np.nan)
    n = surface.shape
    lower = np.zeros(n, bool)
    touches_nodata = np.zeros(n, bool)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            neighbour = p[1 + dr:1 + dr + n[0], 1 + dc:1 + dc + n[1]]
            lower |= neighbour < surface
            touches_nodata |= np.isnan(neighbour)
    need = ~np.isnan(surface) & ~touches_nodata
    return bool(np.all(lower[need]))


@pytest.fixture(scope="module")
def rough():
    return fractal_dem(300, seed=11)


@pytest.fixture(scope="module")
def rough_nodata():
    return with_nodata(fractal_dem(300, seed=12))


# ---- depression filling -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["rough", "rough_nodata"])
def test_fill_equals_richdem_exactly(name, request):
    z = request.getfixturevalue(name)
    filled = fill_depressions(z)
    expected = rd_fill(z)
    assert filled.dtype == np.float32
    assert np.array_equal(np.isnan(filled), np.isnan(z))
    assert np.nanmax(np.abs(filled - expected)) == 0.0
    assert np.nanmean(filled > z) > 0.2  # many closed basins were filled


def test_fill_with_whole_blocks_of_nodata_rows_equals_richdem():
    # wide enough that the first blocks of rows processed together hold nodata only (it raised IndexError)
    z = np.tile(fractal_dem(120, seed=13), (1, 25))
    z[:90] = np.nan
    filled = fill_depressions(z)
    assert np.nanmax(np.abs(filled - rd_fill(z))) == 0.0
    assert np.nanmean(filled > z) > 0.05
    np.testing.assert_array_equal(filled[90:], fill_depressions(z[90:]))


def test_single_pit_is_filled_to_its_spill_level():
    z = np.full((7, 7), 10.0)
    z[1:6, 1:6] = 8.0
    z[3, 3] = 2.0           # the pit
    z[0, 4] = 6.0           # the lowest gap in the rim ...
    z[1, 4] = 7.0           # ... reached over a pass at 8 m
    filled = fill_depressions(z)
    expected = z.copy()
    expected[3, 3] = 8.0
    np.testing.assert_array_equal(filled, expected)


def test_nodata_hole_is_an_outlet_and_stays_nodata():
    yy, xx = np.mgrid[:21, :21]
    bowl = np.hypot(yy - 10, xx - 10) + 5.0   # lowest rim cells: the edge midpoints at 15 m
    np.testing.assert_array_equal(fill_depressions(bowl), np.maximum(bowl, 15.0))
    holed = bowl.copy()
    holed[10, 10] = np.nan
    filled = fill_depressions(holed)
    assert np.isnan(filled[10, 10])
    np.testing.assert_array_equal(filled, holed)  # the bowl drains into the hole: nothing to fill


def test_epsilon_fill_drains_every_cell_and_stays_within_richdem_increments(rough_nodata):
    z = rough_nodata
    exact = fill_depressions(z)
    sloped = fill_depressions(z, epsilon=True)
    assert sloped.dtype == np.float64
    assert np.array_equal(np.isnan(sloped), np.isnan(z))
    assert not drains_everywhere(exact)
    assert drains_everywhere(sloped)
    assert np.all(sloped[~np.isnan(z)] >= exact[~np.isnan(z)])
    assert np.nanmax(sloped - exact) < 1e-9
    richdem_sloped = rd_fill(z, epsilon=True)
    richdem_rise = np.nanmax(richdem_sloped - rd_fill(z))
    assert 0 < np.nanmax(np.abs(sloped - richdem_sloped)) <= richdem_rise


@pytest.mark.parametrize("name", ["rough", "rough_nodata"])
def test_compact_epsilon_fill_equals_the_float64_one(name, request, monkeypatch):
    z = request.getfixturevalue(name)
    compact = epsilon_filled_dem(z)
    assert compact.codes.dtype == np.int16 and compact.levels.size < 0.1 * z.size
    with monkeypatch.context() as patch:
        patch.setattr(fill, "_as_float32", lambda dem: None)  # float64 fill, refilled until every cell drains
        dense = epsilon_filled_dem(z)
    assert dense.codes is None
    expected = dense.array()
    np.testing.assert_array_equal(compact.array(), expected)
    np.testing.assert_array_equal(fill_depressions(z, epsilon=True), expected)
    np.testing.assert_array_equal(epsilon_filled_dem(z.astype(np.float64)).array(), expected)
    # plateau cells over 2 steps from their way out listed too (3 blocks of 2**15 cells, each with its list)
    monkeypatch.setattr(fill, "_MAX_STEPS", 2)
    listed = epsilon_filled_dem(z)
    assert listed.codes.max() == 2 and listed.first.size == 3 and listed.levels.size > compact.levels.size
    np.testing.assert_array_equal(listed.array(), expected)
    cells = np.flatnonzero(~np.isnan(z))[::7]
    np.testing.assert_array_equal(listed.values(cells), expected.ravel()[cells])
    np.testing.assert_array_equal(listed.padded_rows(0, 5)[1:-1, 1:-1], expected[:5])
    # and the same accumulation, to the last bit, from either form
    accumulation = mfd_accumulation(expected, 30.0, 20.0)
    for surface in (compact, listed):
        np.testing.assert_array_equal(mfd_accumulation(surface, 30.0, 20.0), accumulation)


def test_integer_dem_fills_like_its_float_values():
    z = np.round(fractal_dem(120, seed=14) * 10).astype(np.int16)
    expected = fill_depressions(z.astype(np.float64), epsilon=True)
    np.testing.assert_array_equal(fill_depressions(z, epsilon=True), expected)
    np.testing.assert_array_equal(fill_depressions(z), fill_depressions(z.astype(np.float64)))


# ---- D8 ----------------------------------------------------------------------------------------------

def test_d8_on_a_plane_sloping_south():
    rows, cols, cell = 30, 12, 10.0
    z = np.tile(100.0 - 0.5 * np.arange(rows)[:, None], (1, cols))
    directions = flow_directions_d8(fill_depressions(z), cell, cell)
    assert np.all(directions[1:-1, 1:-1] == 2)  # south
    assert np.all(directions[[0, -1], :] == -1) and np.all(directions[:, [0, -1]] == -1)
    accumulation = d8_accumulation(directions)
    # edge cells are outlets, so interior column cells of row i collect rows 1..i
    np.testing.assert_array_equal(accumulation[1:, 1:-1], np.repeat(np.arange(1, rows)[:, None], cols - 2, 1))
    sca = specific_catchment_area(accumulation, cell, cell)
    np.testing.assert_allclose(sca[1:, 1:-1], accumulation[1:, 1:-1] * cell)


def test_d8_steepest_descent_uses_drop_over_distance():
    z = np.full((5, 5), 10.0)
    z[2, 2] = 5.0
    z[2, 3] = 4.0   # east: drop 1 over 10 m
    z[3, 3] = 3.7   # south-east: drop 1.3 over 14.1 m -> gentler although lower
    assert flow_directions_d8(z, 10.0, 10.0)[2, 2] == 0
    assert flow_directions_d8(z, 10.0, 1.0)[2, 2] == 1  # with 1 m rows the diagonal is 10.05 m


def test_d8_accumulation_equals_richdem_for_the_same_directions(rough_nodata):
    filled = fill_depressions(rough_nodata, epsilon=True)
    directions = flow_directions_d8(filled, 1.0, 1.0)
    nodata = np.isnan(rough_nodata)
    accumulation = d8_accumulation(directions, np.where(nodata, np.nan, 1.0))
    expected = from_rd(rd.FlowAccumFromProps(rd_props_from_d8(directions, nodata)))
    assert np.array_equal(np.isnan(accumulation), nodata)
    np.testing.assert_array_equal(accumulation[~nodata], expected[~nodata])


def test_d8_directions_out_of_the_raster_pass_nothing_and_stay_unchanged():
    directions = np.full((4, 5), 2, dtype=np.int8)   # all south: the last row points out of the raster
    given = directions.copy()
    np.testing.assert_array_equal(d8_accumulation(directions), np.repeat(np.arange(1, 5)[:, None], 5, 1))
    np.testing.assert_array_equal(directions, given)


@pytest.mark.parametrize("epsilon", [False, True])
def test_d8_every_cell_reaches_an_outlet(rough_nodata, epsilon):
    z = rough_nodata
    valid = ~np.isnan(z)
    directions = flow_directions_d8(fill_depressions(z, epsilon=epsilon), 1.0, 1.0)
    p = np.pad(~valid, 1, constant_values=True)
    outlet = valid & np.any([p[1 + dr:1 + dr + 300, 1 + dc:1 + dc + 300]
                             for dr in (-1, 0, 1) for dc in (-1, 0, 1)], axis=0)
    assert np.all(directions[valid & ~outlet] >= 0)
    assert np.all(directions[~valid] == -1)
    accumulation = d8_accumulation(directions, np.where(valid, 1.0, np.nan))
    # mass balance: all the cells arrive at outlets without flow (cycles would lose cells)
    assert accumulation[valid & (directions < 0)].sum() == valid.sum()


# ---- MFD ---------------------------------------------------------------------------------------------

def test_mfd_equals_richdem_freeman_on_the_same_surface(rough_nodata):
    surface = rd.FillDepressions(rd_array(rough_nodata), epsilon=True, in_place=False)
    expected = from_rd(rd.FlowAccumulation(surface, method="Freeman", exponent=1.1))
    accumulation = mfd_accumulation(from_rd(surface), 1.0, 1.0, exponent=1.1)
    valid = ~np.isnan(rough_nodata)
    assert np.array_equal(np.isnan(accumulation), ~valid)
    np.testing.assert_allclose(accumulation[valid], expected[valid], rtol=1e-5)  # RichDEM keeps float32 shares
    # the whole pipeline against RichDEM's epsilon fill (flats sloped straight towards the outlet): close, but
    # our flats also drain away from higher terrain
    ours = mfd_accumulation(fill_depressions(rough_nodata, epsilon=True), 1.0, 1.0)
    assert np.corrcoef(np.log(ours[valid]), np.log(expected[valid]))[0, 1] > 0.98
    quinn = from_rd(rd.FlowAccumulation(surface, method="Quinn"))
    assert np.corrcoef(np.log(ours[valid]), np.log(quinn[valid]))[0, 1] > 0.98


def ulps_between(low, high):
    """Float64 units in the last place from ``low`` up to ``high`` (negative values included)."""
    def key(x):
        k = np.asarray(x, dtype=np.float64).view(np.int64)
        return np.where(k < 0, np.int64(-2 ** 63) - k, k)
    return key(high) - key(low)


def test_flat_gradient_equals_richdem_resolve_flats(rough):
    """Garbrecht & Martz flats as Barnes et al. (2014): the units each cell of the exact fill rises equal
    RichDEM's ResolveFlats; and the whole MFD pipeline equals RichDEM's Freeman on that surface."""
    from subsidence_plugin.core.terrain.fill import flat_increments

    walled = np.full((9, 11), 10.0)
    walled[1:-1, 1:-1] = 5.0  # a flat basin floor with one outlet in the middle of its left side
    walled[4, 0] = 4.0
    def rd64(z):  # float64, so RichDEM's units in the last place are float64 ones as ours
        return rd.rdarray(np.where(np.isnan(z), RD_NODATA, z).astype(np.float64), no_data=RD_NODATA)

    joined = np.full((9, 19), 10.0)  # two floors at 5 (6 and 10 cells wide) joined through a low edge at (4, 7)
    joined[1:-1, 1:-1] = 5.0
    joined[1:-1, 7] = 10.0
    joined[4, 7] = 5.0
    joined[5:8, 7] = 4.0  # the channel the low edge drains into, leaving the raster at the bottom
    joined[8, 7] = 3.0
    for z in (walled, joined, fill_depressions(rough).astype(np.float64)):
        resolved = np.asarray(rd.ResolveFlats(rd64(z), in_place=False))
        np.testing.assert_array_equal(flat_increments(z), ulps_between(z, resolved))
    assert flat_increments(walled)[4].tolist() == [0, 2, 5, 7, 8, 10, 12, 15, 18, 21, 0]  # converges mid-basin
    assert flat_increments(joined)[4, 7] == 2
    resolved = rd.ResolveFlats(rd64(fill_depressions(rough).astype(np.float64)), in_place=False)
    expected = from_rd(rd.FlowAccumulation(resolved, method="Freeman", exponent=1.1))
    ours = mfd_accumulation(fill_depressions(rough.astype(np.float64), epsilon=True), 1.0, 1.0)
    np.testing.assert_allclose(ours, expected, rtol=1e-5)


def test_flat_distance_grows_beyond_int16():
    """Breadth-first steps start in int16 and widen to int32 when a flat is more than 32767 steps long."""
    flat = np.zeros((3, 33003), dtype=bool)
    flat[1, 1:-1] = True
    start = np.zeros_like(flat)
    start[1, 1] = True
    distance = fill._flat_distance(flat, start)
    assert distance.dtype == np.int32
    np.testing.assert_array_equal(distance[1, 1:-1], np.arange(1, 33002))
    assert not distance[0].any() and not distance[2].any()


def test_mfd_on_a_cone_gives_sca_of_half_the_radius():
    n, cell = 201, 5.0
    yy, xx = (np.mgrid[:n, :n] - n // 2) * cell
    r = np.hypot(xx, yy)
    z = 1000.0 - 0.3 * r
    accumulation = mfd_accumulation(z, cell, cell)
    sca = specific_catchment_area(accumulation, cell, cell)
    ring = (r > 100) & (r < 480)   # away from the apex and the edge
    error = sca[ring] / (r[ring] / 2) - 1
    # Freeman's MFD overestimates r / 2 slightly (the cell's own area, dispersion): measured 4-10 %
    assert 0.03 < error.min() and error.max() < 0.11 and np.median(error) < 0.075
    expected = from_rd(rd.FlowAccumulation(rd.rdarray(z.astype(np.float32), no_data=RD_NODATA),
                                           method="Freeman", exponent=1.1))
    np.testing.assert_allclose(accumulation, expected, rtol=1e-4)


def test_mfd_conserves_mass_over_flats(rough_nodata):
    valid = ~np.isnan(rough_nodata)
    filled = fill_depressions(rough_nodata)  # flats left in place: routed by the D8 flat directions
    accumulation = mfd_accumulation(filled, 1.0, 1.0)
    directions = flow_directions_d8(filled, 1.0, 1.0)
    assert accumulation[valid & (directions < 0)].sum() == pytest.approx(valid.sum(), rel=1e-9)


# ---- TWI, SPI, pipeline ------------------------------------------------------------------------------

def test_twi_and_spi_formulas_and_minimum_slope():
    sca = np.array([100.0, 100.0, 50.0, np.nan])
    slope = np.array([45.0, 0.0, 30.0, 10.0])
    tan_min = np.tan(np.radians(0.1))
    np.testing.assert_allclose(topographic_wetness_index(sca, slope),
                               [np.log(100.0), np.log(100.0 / tan_min), np.log(50 / np.tan(np.pi / 6)), np.nan])
    np.testing.assert_allclose(stream_power_index(sca, slope), [100.0, 100.0 * tan_min, 50 * np.tan(np.pi / 6),
                                                                 np.nan])
    assert stream_power_index(sca, slope, min_slope_degrees=1.0)[1] == pytest.approx(100 * np.tan(np.radians(1)))


@pytest.mark.parametrize("method", ["d8", "mfd"])
def test_hydrology_from_dem_on_a_plane_with_nodata(method):
    rows, cols, cell, gradient = 40, 80, 10.0, 0.05
    z = np.tile(200.0 - gradient * cell * np.arange(rows)[:, None], (1, cols)).astype(np.float32)
    z[5, 5] = -9999.0
    grid = RasterGrid.from_origin(500000.0, 4000000.0, cell, cols, rows, UTM, -9999.0)
    out = hydrology_from_dem(z, grid, method=method)
    assert set(out) == {"filled", "accumulation", "sca", "twi", "spi"}
    for key, value in out.items():
        assert np.isnan(value[5, 5]) and np.count_nonzero(np.isnan(value)) == 1, key
    # away from the side edges (outlets) and the hole, the flow of rows 1..i crosses row i (MFD spreads
    # sideways, but symmetrically)
    sca = out["sca"][10:, 30:50]
    np.testing.assert_allclose(sca, np.broadcast_to(np.arange(10, rows)[:, None] * cell, sca.shape), rtol=1e-6)
    np.testing.assert_allclose(out["twi"][10:, 30:50], np.log(sca / gradient), rtol=1e-6)
    np.testing.assert_allclose(out["spi"][10:, 30:50], sca * gradient, rtol=1e-6)


@pytest.mark.parametrize("method", ["d8", "mfd"])
def test_hydrology_from_dem_computes_only_the_outputs_asked_for(method, rough_nodata):
    grid = RasterGrid.from_origin(500000.0, 4000000.0, 10.0, 300, 300, UTM, -9999.0)
    every = hydrology_from_dem(rough_nodata, grid, method=method)
    for outputs in (["twi"], ["spi"], ["sca", "spi"], ["accumulation", "twi"], ["filled"]):
        out = hydrology_from_dem(rough_nodata, grid, method=method, outputs=outputs)
        assert sorted(out) == sorted(outputs)
        for key in outputs:
            np.testing.assert_array_equal(out[key], every[key])
    integers = np.where(np.isnan(rough_nodata), -9999, np.round(rough_nodata * 20)).astype(np.int16)
    as_floats = np.where(integers == -9999, np.nan, integers.astype(np.float64))
    for key, value in hydrology_from_dem(integers, grid, method=method).items():
        np.testing.assert_array_equal(value, hydrology_from_dem(as_floats, grid, method=method)[key])
    with pytest.raises(ValueError, match="Unknown outputs"):
        hydrology_from_dem(rough_nodata, grid, outputs=["wetness"])


def test_cancellation_and_progress(rough):
    grid = RasterGrid.from_origin(0.0, 3000.0, 10.0, 300, 300, UTM)
    for call in (lambda **kw: fill_depressions(rough, epsilon=True, **kw),
                 lambda **kw: flow_directions_d8(rough, 10.0, 10.0, **kw),
                 lambda **kw: d8_accumulation(np.full(rough.shape, 2, np.int8), **kw),
                 lambda **kw: mfd_accumulation(rough, 10.0, 10.0, **kw),
                 lambda **kw: hydrology_from_dem(rough, grid, **kw)):
        with pytest.raises(Cancelled):
            call(is_cancelled=lambda: True)
    reported = []
    hydrology_from_dem(rough, grid, method="d8", progress=lambda p, m: reported.append(p))
    assert reported == sorted(reported) and reported[-1] == pytest.approx(100.0)
