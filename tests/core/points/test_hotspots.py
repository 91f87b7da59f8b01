"""Getis–Ord Gi* (Ord & Getis 1995) and global Moran's I over distance bands (issue 14): hand-computed values, a
subsiding bowl as a cold spot, esda as an oracle (Gi* on data shifted positive, Moran's z_rand), identical
coordinates, Benjamini–Hochberg against statsmodels, the automatic band."""
import warnings

import numpy as np
import pytest

from subsidence_plugin.core.points.hotspots import (automatic_bands, band_index, benjamini_hochberg, first_peak,
                                                    gi_classes, hot_spots, nearest_distances)


def _bowl(n=500, seed=3):
    """Points over 2 km with a subsiding bowl (−20 mm/yr at the centre) on a −5 mm/yr background with noise."""
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 2000, n), rng.uniform(0, 2000, n)
    values = -5.0 - 20.0 * np.exp(-((x - 1000) ** 2 + (y - 1000) ** 2) / 300.0 ** 2) + rng.normal(0, 1.0, n)
    return x, y, values


def _brute_gi(x, y, values, band):
    """Ord & Getis (1995) as the issue writes it, from the full distance matrix; NaN without another neighbour."""
    n = len(values)
    w = (np.hypot(x[:, None] - x[None], y[:, None] - y[None]) <= band).astype(float)
    mean, s = values.mean(), np.sqrt((values ** 2).mean() - values.mean() ** 2)
    total = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (w @ values - mean * total) / (s * np.sqrt((n * (w ** 2).sum(axis=1) - total ** 2) / (n - 1)))
    return np.where(total > 1, z, np.nan)


def _pysal_weights(x, y, band):
    """libpysal weights of the binary band without self-weights, identical coordinates as neighbours."""
    from libpysal.weights import W

    near = np.hypot(x[:, None] - x[None], y[:, None] - y[None]) <= band
    np.fill_diagonal(near, False)
    return W({i: list(np.flatnonzero(near[i])) for i in range(len(x))}, silence_warnings=True)


def test_hand_computed_four_points():
    """Four points on a line 10 m apart, band 10 m: point 0 has neighbours {0, 1}; by hand
    z_0 = (x0 + x1 − 2 x̄) / (S √((4·2 − 4) / 3))."""
    x, y, values = np.array([0.0, 10, 20, 30]), np.zeros(4), np.array([1.0, 2.0, 4.0, 8.0])
    result = hot_spots(x, y, values, band=10.0, fdr=False)
    mean, s = 3.75, np.sqrt((1 + 4 + 16 + 64) / 4 - 3.75 ** 2)
    expected0 = (1 + 2 - 2 * mean) / (s * np.sqrt((4 * 2 - 4) / 3))
    expected1 = (1 + 2 + 4 - 3 * mean) / (s * np.sqrt((4 * 3 - 9) / 3))
    np.testing.assert_allclose(result.z[:2], [expected0, expected1], rtol=1e-12)
    np.testing.assert_array_equal(result.neighbours, [2, 3, 3, 2])
    assert result.band == 10.0 and result.how == "given"


def test_subsiding_bowl_is_a_cold_spot_with_a_negative_mean():
    x, y, values = _bowl()
    assert values.mean() < 0
    result = hot_spots(x, y, values, band=250.0)
    centre = np.hypot(x - 1000, y - 1000) < 150
    assert np.all(result.z[centre] < -3) and np.all(result.classes[centre] == -3)
    np.testing.assert_allclose(result.z, _brute_gi(x, y, values, 250.0), rtol=1e-10, atol=1e-12)
    assert result.counts()[3] == 0


def test_gi_star_matches_esda_on_data_shifted_positive():
    from esda.getisord import G_Local

    x, y, values = _bowl(400, seed=5)
    shifted = values - values.min() + 1.0
    result = hot_spots(x, y, shifted, band=180.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        esda = G_Local(shifted, _pysal_weights(x, y, 180.0), transform="B", star=True, permutations=0)
    np.testing.assert_allclose(result.z, esda.Zs, rtol=0, atol=1e-10)
    # the z-score does not depend on a shift of the values (esda's does: it divides by Σ x)
    np.testing.assert_allclose(hot_spots(x, y, values, band=180.0).z, result.z, atol=1e-10)


def test_moran_matches_esda_z_rand_at_every_band():
    from esda.moran import Moran

    x, y, values = _bowl(300, seed=11)
    result = hot_spots(x, y, values)
    curve = result.moran
    assert curve.bands.size == 20
    for k in (0, 7, 19):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            esda = Moran(values, _pysal_weights(x, y, curve.bands[k]), transformation="B", permutations=0)
        np.testing.assert_allclose([curve.i[k], curve.z[k], curve.p[k]], [esda.I, esda.z_rand, esda.p_rand],
                                   rtol=1e-9)
        assert curve.expected == pytest.approx(esda.EI)


def test_identical_coordinates_are_neighbours_and_isolated_points_have_no_z():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 100, 60), rng.uniform(0, 100, 60)
    x[:3], y[:3] = 50.0, 50.0  # three points at one position
    x = np.append(x, 5000.0)  # one point far away
    y = np.append(y, 5000.0)
    values = rng.normal(0, 1, 61)
    result = hot_spots(x, y, values, band=1e-6 + nearest_distances(x[:-1], y[:-1]).max())
    assert np.all(result.neighbours[:3] >= 3)
    assert np.isnan(result.z[-1]) and result.classes[-1] == 0 and result.isolated == 1
    np.testing.assert_allclose(result.z, _brute_gi(x, y, values, result.band), atol=1e-10)


def test_automatic_band_leaves_out_locational_outliers():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 1000, 400), rng.uniform(0, 1000, 400)
    x, y = np.append(x, 20000.0), np.append(y, 20000.0)
    nearest = nearest_distances(x, y)
    bands, start, outliers = automatic_bands(nearest, float(np.hypot(np.ptp(x), np.ptp(y))))
    assert outliers == 1 and start == pytest.approx(nearest[:-1].max())
    np.testing.assert_allclose(np.diff(bands), nearest.mean())
    values = rng.normal(0, 1, 401)
    result = hot_spots(x, y, values)
    assert np.isnan(result.z[-1]) and result.outliers == 1 and result.band in bands


def test_first_peak_or_largest():
    assert first_peak(np.array([1.0, 3.0, 2.0, 5.0])) == (1, "first peak of Moran's I z-score")
    index, how = first_peak(np.array([1.0, 2.0, 3.0, np.nan]))
    assert index == 2 and "no peak" in how


def test_band_index_is_exact_at_the_band_limits():
    bands = 0.1 + 0.7 * np.arange(20)
    distances = np.concatenate([bands, np.nextafter(bands, np.inf)[:-1], [0.0, 0.05]])
    np.testing.assert_array_equal(band_index(distances, bands), np.searchsorted(bands, distances, side="left"))


def test_benjamini_hochberg_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(4).uniform(0, 1, 300) ** 3
    p[::50] = np.nan
    for alpha in (0.01, 0.05, 0.10):
        finite = np.isfinite(p)
        expected = multipletests(p[finite], alpha=alpha, method="fdr_bh")[0]
        np.testing.assert_array_equal(benjamini_hochberg(p, alpha)[finite], expected)
        assert not benjamini_hochberg(p, alpha)[~finite].any()


def test_classes_with_and_without_fdr():
    z = np.array([-3.0, -2.2, -1.7, 0.1, 1.7, 2.2, 3.0, np.nan])
    from scipy.stats import norm

    p = 2 * norm.sf(np.abs(z))
    np.testing.assert_array_equal(gi_classes(z, p, fdr=False), [-3, -2, -1, 0, 1, 2, 3, 0])
    corrected = gi_classes(z, p, fdr=True)
    assert np.all(np.abs(corrected) <= np.abs(gi_classes(z, p, fdr=False)))


@pytest.mark.parametrize("case, message", [
    ("few", "at least 4"), ("equal", "equal"), ("one place", "one position"), ("short", "shorter"),
    ("long", "across")])
def test_bad_inputs(case, message):
    x, y, values = _bowl(50)
    if case == "few":
        x, y, values = x[:3], y[:3], values[:3]
    elif case == "equal":
        values = np.full(50, -3.0)
    elif case == "one place":
        x, y = np.full(50, 7.0), np.full(50, 9.0)
    band = {"short": 1e-3, "long": 1e5}.get(case, 0.0)
    with pytest.raises(ValueError, match=message):
        hot_spots(x, y, values, band=band)
