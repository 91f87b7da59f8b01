"""IDW and local kriging: equality with PyKrige, duplicates, collinear drift, variogram fitting, grids."""
import numpy as np
import pytest
from pykrige.ok import OrdinaryKriging
from pykrige.uk import UniversalKriging

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.core.spatial.interpolation import (InverseDistance, LocalKriging, cross_validate,
                                                          interpolate_to_grid, merge_duplicates, select_variogram)
from subsidence_plugin.core.spatial.variogram import MODELS, Variogram, experimental_variogram, fit_variogram


def _field(n=400, seed=0):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 5000, (2, n))
    return x, y, np.sin(x / 900) + np.cos(y / 700) + rng.normal(0, 0.05, n), rng


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("model", MODELS)
def test_ordinary_kriging_equals_pykrige_moving_window(model, backend):
    x, y, z, rng = _field()
    v = Variogram(model, 0.0004, 0.0, 0.01) if model == "linear" else Variogram(model, 0.9, 2000.0, 0.01)
    tx, ty = rng.uniform(-200, 5200, (2, 500))
    tx[:5], ty[:5] = x[:5], y[:5]  # targets on data points
    ok = OrdinaryKriging(x, y, z, variogram_model=model, variogram_parameters=v.pykrige_parameters())
    expected, variance = ok.execute("points", tx, ty, n_closest_points=24, backend="loop")
    device = None
    if backend == "torch":
        from subsidence_plugin.core.ml.devices import choose_device
        device = choose_device("cpu")
    ours = LocalKriging(x, y, z, v, k=24, chunk=97, device=device).predict(tx, ty)
    np.testing.assert_allclose(ours.values, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.variance, variance, rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.values[:5], z[:5], atol=1e-10)  # exact at the data


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_targets_sharing_neighbourhoods_equal_pykrige(backend):
    # a grid much finer than the point spacing: most cells share their 16 nearest points with other cells, and
    # share one system; with all keys equal every set "collides" and the element-wise check must split them
    x, y, z, _ = _field(n=150)
    v = Variogram("exponential", 0.9, 2000.0, 0.01)
    gx, gy = np.meshgrid(np.linspace(0, 5000, 60), np.linspace(0, 5000, 60))
    tx, ty = gx.ravel(), gy.ravel()
    ok = OrdinaryKriging(x, y, z, variogram_model="exponential", variogram_parameters=v.pykrige_parameters())
    expected, variance = ok.execute("points", tx, ty, n_closest_points=16, backend="loop")
    device = None
    if backend == "torch":
        from subsidence_plugin.core.ml.devices import choose_device
        device = choose_device("cpu")
    kriging = LocalKriging(x, y, z, v, k=16, chunk=1000, device=device)
    _, first = kriging._group(kriging._neighbours(tx[:1000], ty[:1000], False))
    assert len(first) < 400
    for keys in (kriging.keys, np.zeros_like(kriging.keys)):
        kriging.keys = keys
        ours = kriging.predict(tx, ty)
        np.testing.assert_allclose(ours.values, expected, rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours.variance, variance, rtol=0, atol=1e-10)


def test_universal_kriging_with_all_points_equals_pykrige():
    x, y, z, rng = _field(n=60)
    z = z + 0.0004 * x - 0.0002 * y
    v = Variogram("exponential", 0.8, 1500.0, 0.02)
    uk = UniversalKriging(x, y, z, variogram_model="exponential", variogram_parameters=v.pykrige_parameters(),
                          drift_terms=["regional_linear"])
    tx, ty = rng.uniform(0, 5000, (2, 50))
    expected, variance = uk.execute("points", tx, ty)
    ours = LocalKriging(x, y, z, v, k=60, drift=True).predict(tx, ty)
    np.testing.assert_allclose(ours.values, expected, atol=1e-9)
    np.testing.assert_allclose(ours.variance, variance, atol=1e-9)


def test_duplicates_and_collinear_neighbourhoods_do_not_break_systems():
    x = np.array([0.0, 0.0, 100.0, 200.0, 300.0, 400.0])
    y = np.zeros(6)  # all on one line: the linear drift in y is singular
    z = np.array([1.0, 3.0, 2.0, 3.0, 4.0, 5.0])  # first two share a position
    mx, my, mz, merged = merge_duplicates(x, y, z)
    assert merged == 1 and mz[0] == 2.0
    v = Variogram("linear", 0.01, 0.0, 0.0)
    ok = LocalKriging(x, y, z, v, k=5).predict(np.array([0.0, 150.0]), np.array([0.0, 50.0]))
    assert ok.values[0] == pytest.approx(2.0) and np.all(np.isfinite(ok.values))
    uk = LocalKriging(x, y, z, v, k=5, drift=True).predict(np.array([150.0]), np.array([0.0]))
    assert np.isfinite(uk.values).all() and 2.0 <= uk.values[0] <= 3.0
    from subsidence_plugin.core.ml.devices import choose_device
    on_torch = LocalKriging(x, y, z, v, k=5, drift=True, device=choose_device("cpu")).predict(
        np.array([150.0]), np.array([0.0]))
    np.testing.assert_allclose(on_torch.values, uk.values, atol=1e-9)


def test_idw_by_hand():
    idw = InverseDistance([0, 10, 0], [0, 0, 10], [1.0, 2.0, 4.0], power=2, k=3)
    # target (5, 0): distances 5, 5, sqrt(125) -> weights 1/25, 1/25, 1/125
    expected = (1 / 25 + 2 / 25 + 4 / 125) / (2 / 25 + 1 / 125)
    assert idw.predict(np.array([5.0, 0.0]), np.array([0.0, 10.0])) == pytest.approx([expected, 4.0])
    far = InverseDistance([0, 10], [0, 0], [1.0, 2.0], radius=3.0)
    assert np.isnan(far.predict(np.array([5.0]), np.array([0.0])))[0]
    loo = cross_validate(InverseDistance([0, 10, 20], [0, 0, 0], [1.0, 2.0, 3.0], k=1))
    assert loo["mae"] == pytest.approx(1.0)
    one_thread = InverseDistance([0, 10, 0], [0, 0, 10], [1.0, 2.0, 4.0], power=2, k=3, threads=1)
    assert one_thread.predict(np.array([5.0, 0.0]), np.array([0.0, 10.0])) == pytest.approx([expected, 4.0])


@pytest.mark.parametrize("model", MODELS)
def test_fit_recovers_the_parameters_of_a_noise_free_variogram(model):
    truth = Variogram(model, 2e-4, 0.0, 0.3) if model == "linear" else Variogram(model, 2.0, 1800.0, 0.3)
    lags = np.linspace(50, 4000, 20)
    fitted = fit_variogram(lags, truth(lags), np.full(20, 1000), model)
    assert fitted.psill == pytest.approx(truth.psill, rel=1e-3)
    assert fitted.nugget == pytest.approx(truth.nugget, rel=1e-3, abs=1e-6)
    if model != "linear":
        assert fitted.range == pytest.approx(truth.range, rel=1e-3)


def test_variogram_recovers_a_known_model_and_selection_prefers_it():
    # one realisation of a Gaussian field with exponential covariance (sill 1, practical range 1500 m) plus a
    # nugget of 0.1, simulated exactly by Cholesky factorisation
    rng = np.random.default_rng(3)
    n = 1500
    x, y = rng.uniform(0, 10000, (2, n))
    truth = Variogram("exponential", 1.0, 1500.0, 0.0)
    d = np.hypot(x[:, None] - x[None], y[:, None] - y[None])
    covariance = truth.sill - truth(d) + 1e-9 * np.eye(n)
    z = np.linalg.cholesky(covariance) @ rng.standard_normal(n) + rng.normal(0, np.sqrt(0.1), n)
    lags, gamma, counts = experimental_variogram(x, y, z, n_lags=15, max_lag=4000)
    assert counts.sum() > 100000 and np.all(np.diff(lags) > 0)
    fitted = fit_variogram(lags, gamma, counts, "exponential")
    # one realisation only: its sample sill and range scatter around the truth (1.1, 1500 m)
    assert fitted.sill == pytest.approx(1.1, rel=0.3)
    assert 750 < fitted.range < 3000
    best, _, table = select_variogram(x, y, z, MODELS, k=16, cv_points=300)
    assert set(table) == set(MODELS)
    assert table[best.model][1]["rmse"] == min(stats["rmse"] for _, stats in table.values())
    assert table[best.model][1]["rmse"] < 0.75 * z.std()


def test_grid_interpolation_streams_blocks(tmp_path):
    x, y, z, _ = _field(n=200)
    grid = RasterGrid.from_origin(0, 5000, 100, 50, 50, crs_wkt_from_epsg(32633))
    k = LocalKriging(x, y, z, Variogram("spherical", 0.9, 2000.0, 0.01), k=16)

    def predict(px, py):
        r = k.predict(px, py)
        return r.values, r.variance

    out = read_raster(interpolate_to_grid(predict, grid, str(tmp_path / "k.tif"), ["v", "var"], block_rows=7))
    xs, ys = grid.centre_axes()
    direct = k.predict(np.tile(xs, 50), np.repeat(ys, 50))
    np.testing.assert_allclose(out.band(0).ravel(), direct.values.astype(np.float32), rtol=1e-6)
    assert out.band_names == ["v", "var"] and np.all(out.band(1) >= -1e-6)


def test_groundwater_levels_interpolate_in_time():
    from subsidence_plugin.core.groundwater.levels import level_at, level_change

    dates = np.array(["2020-01-01", "2020-01-11", "2020-01-31"], dtype="datetime64[D]")
    series = np.array([[10.0, 12.0, 8.0], [5.0, np.nan, 7.0], [np.nan, 1.0, 2.0]])
    np.testing.assert_allclose(level_at(dates, series, np.datetime64("2020-01-06")), [11.0, 5 + 2 * 5 / 30, np.nan])
    np.testing.assert_allclose(level_at(dates, series, np.datetime64("2020-01-11")), [12.0, 5 + 2 * 10 / 30, 1.0])
    change = level_change(dates, series, np.datetime64("2020-01-11"), np.datetime64("2020-01-21"))
    np.testing.assert_allclose(change, [-2.0, 2 * 10 / 30, 0.5])
    with pytest.raises(ValueError, match="after"):
        level_change(dates, series, np.datetime64("2020-01-21"), np.datetime64("2020-01-11"))




def test_the_one_factory_equals_the_methods_it_configures():
    from subsidence_plugin.core.spatial.interpolation import InterpolationSettings, make_interpolator

    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, 5000, (2, 300))
    z = np.sin(x / 700.0) + 0.5 * np.cos(y / 900.0) + rng.normal(0, 0.02, 300)
    tx, ty = rng.uniform(0, 5000, (2, 50))
    idw = make_interpolator(x, y, z, InterpolationSettings("idw", k=10, power=1.5, radius=2000.0))
    np.testing.assert_array_equal(idw.values(tx, ty), InverseDistance(x, y, z, 1.5, 10, 2000.0).predict(tx, ty))
    assert idw.band_names("v") == ["v_idw"] and len(idw.bands(tx, ty)) == 1
    settings = InterpolationSettings("kriging", k=24, models=("spherical", "exponential"), selection_k=12, seed=3)
    kriging = make_interpolator(x, y, z, settings)
    best, _, table = select_variogram(x, y, z, ("spherical", "exponential"), k=12, seed=3)
    assert kriging.variogram == best and set(kriging.fitted) == set(table)
    direct = LocalKriging(x, y, z, best, k=24).predict(tx, ty)
    values, variance = kriging.bands(tx, ty)
    np.testing.assert_array_equal(values, direct.values)
    np.testing.assert_array_equal(variance, direct.variance)
    assert kriging.band_names("v") == ["v_kriged", "v_kriging_variance"]
    with pytest.raises(ValueError, match="Unknown interpolation method"):
        make_interpolator(x, y, z, InterpolationSettings("spline"))
