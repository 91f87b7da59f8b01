"""Susceptibility core (seed 002) and GARDLIF (seed 003) against oracles: scikit-learn (ROC, AUC, mutual
information), statsmodels (VIF), hand computations and brute force."""
import itertools

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score, roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve
from statsmodels.stats.outliers_influence import variance_inflation_factor

from subsidence_plugin.core.io.grid import RasterGrid
from subsidence_plugin.core.io.rasters import write_raster
from subsidence_plugin.core.io.stack import factor_columns
from subsidence_plugin.core.ml import optimisers as mh
from subsidence_plugin.core.progress import Cancelled
from subsidence_plugin.core.stats.classes import class_breaks, classify_index, natural_breaks
from subsidence_plugin.core.stats.roc import roc_auc, roc_curve
from subsidence_plugin.core.susceptibility import factors as sus
from subsidence_plugin.core.susceptibility import gardlif
from subsidence_plugin.core.susceptibility.inventory import build_inventory

CRS = 'PROJCS["WGS 84 / UTM zone 33N",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],' \
      'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],' \
      'PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",15],PARAMETER["scale_factor",0.9996],' \
      'PARAMETER["false_easting",500000],PARAMETER["false_northing",0],UNIT["metre",1],AUTHORITY["EPSG","32633"]]'


def test_roc_and_auc_equal_scikit_learn_with_ties():
    rng = np.random.default_rng(1)
    label = rng.random(500) < 0.3
    score = np.round(rng.random(500) + 0.4 * label, 1)  # many ties
    fpr, tpr, thr = roc_curve(label, score)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(label, score, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    assert roc_auc(label, score) == pytest.approx(roc_auc_score(label, score), abs=1e-12)


def test_roc_refuses_one_class():
    with pytest.raises(ValueError, match="both"):
        roc_auc(np.ones(5), np.arange(5.0))


def test_information_gain_is_mutual_information_in_bits():
    rng = np.random.default_rng(2)
    cls = rng.integers(0, 4, 1000)
    label = (rng.random(1000) < 0.2 + 0.15 * cls).astype(int)
    expected = mutual_info_score(cls, label) / np.log(2)
    assert sus.information_gain(cls, label, 4) == pytest.approx(expected, abs=1e-12)


def test_frequency_ratio_by_hand():
    # 100 cells in 2 classes (80 / 20); 10 subsiding cells, 4 of them in the small class
    fr = sus.frequency_ratio([80, 20, 0], [6, 4, 0])
    np.testing.assert_allclose(fr[:2], [(6 / 10) / 0.8, (4 / 10) / 0.2])
    assert np.isnan(fr[2])


def test_vif_equals_statsmodels_and_flags_collinearity():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=400), rng.normal(size=400)
    c = 0.8 * a + 0.5 * b + 0.3 * rng.normal(size=400)
    x = np.stack([a, b, c])
    design = np.column_stack([np.ones(400), x.T])
    expected = [variance_inflation_factor(design, i) for i in range(1, 4)]
    np.testing.assert_allclose(sus.variance_inflation(x), expected, rtol=1e-10)
    dependent = np.stack([a, b, a + b, rng.normal(size=400)])
    vif = sus.variance_inflation(dependent)
    assert np.all(np.isinf(vif[:3])) and np.isfinite(vif[3])


def test_zero_variance_factor_is_refused():
    x = np.stack([np.arange(10.0), np.ones(10)])
    with pytest.raises(ValueError, match="zero variance"):
        sus.pearson_matrix(x)


def _brute_force_jenks(values, k):
    values = np.sort(values)
    best, best_breaks = np.inf, None
    for cut in itertools.combinations(range(1, len(values)), k - 1):
        parts = np.split(values, cut)
        cost = sum(((p - p.mean()) ** 2).sum() for p in parts)
        if cost < best - 1e-12:
            best, best_breaks = cost, [p[-1] for p in parts[:-1]]
    return np.array(best_breaks)


def test_natural_breaks_equal_brute_force():
    rng = np.random.default_rng(4)
    for _ in range(5):
        values = np.concatenate([rng.normal(0, 1, 5), rng.normal(6, 1, 5), rng.normal(12, 1, 4)])
        np.testing.assert_allclose(natural_breaks(values, 3), _brute_force_jenks(values, 3))


def test_quantile_classes_have_equal_areas():
    values = np.arange(1000.0)
    classes = classify_index(values, class_breaks(values, "quantile"))
    assert np.bincount(classes)[1:].tolist() == [200] * 5
    equal = classify_index(values, class_breaks(values, "equal_interval"))
    assert equal.min() == 1 and equal.max() == 5


def _grid(size=60, cell=100.0):
    return RasterGrid.from_origin(500000.0, 4000000.0 + size * cell, cell, size, size, CRS, -9999.0)


def test_inventory_labels_split_and_errors():
    grid = _grid()
    rng = np.random.default_rng(5)
    n = 3000
    x = 500000 + rng.random(n) * 6000
    y = 4000000 + rng.random(n) * 6000
    v = np.where(x < 503000, -20.0, 0.5) + rng.normal(0, 0.3, n)
    valid = np.ones(grid.shape, dtype=bool)
    inv = build_inventory(x, y, v, grid, valid, threshold=10, stable_threshold=2, seed=1)
    assert set(np.unique(inv.label)) == {0, 1}
    assert np.all(inv.label[inv.x < 503000] == 1) and np.all(inv.label[inv.x > 503000] == 0)
    for part in (inv.random_test, inv.block_test):
        for value in (0, 1):
            share = part[inv.label == value].mean()
            assert 0.05 < share < 0.7
    assert inv.random_test[inv.label == 1].mean() == pytest.approx(0.3, abs=0.01)
    # per-cell mean velocity: every point of a cell counts once
    assert inv.points.sum() == n
    with pytest.raises(ValueError, match="only one class"):
        build_inventory(x, y, np.full(n, 0.1), grid, valid)
    with pytest.raises(ValueError, match="Too few"):
        few = np.where(np.arange(n) < 3, -50.0, 0.0)
        build_inventory(x, y, few, grid, valid)


def test_factor_analysis_on_a_stack(tmp_path):
    grid = _grid(40)
    rng = np.random.default_rng(6)
    altitude = np.add.outer(np.arange(40.0), np.zeros(40)) + rng.normal(0, 0.1, (40, 40))
    landuse = np.where(np.arange(40)[None, :] < 20, 1.0, 2.0) * np.ones((40, 1))
    stack = np.stack([altitude, landuse]).astype(np.float32)
    path = write_raster(str(tmp_path / "stack.tif"), stack, grid, ["altitude", "landuse"])
    columns = factor_columns(["altitude", "landuse"], [], categorical=["landuse"])
    rows, cols = np.nonzero(np.ones((40, 40), dtype=bool))
    label = ((cols < 20) & (rows < 10)).astype(int)  # subsiding: land use 1, low rows
    values = sus.sample_values(path, columns, rows, cols)
    analysis = sus.analyse_factors(path, columns, values, label, "quantile", 4)
    # land use: all 80 subsiding cells in class 1, which covers half of the area -> FR 2 and 0
    np.testing.assert_allclose(analysis.frequency_ratios[1], [2.0, 0.0])
    assert analysis.class_cells[1].tolist() == [800, 800]
    # altitude quartiles: rows 0-9 hold every subsiding cell
    np.testing.assert_allclose(analysis.frequency_ratios[0], [4.0, 0.0, 0.0, 0.0])
    expected_ig = mutual_info_score(analysis.definitions[1].classify(values[1]), label) / np.log(2)
    assert analysis.information_gain[1] == pytest.approx(expected_ig)
    index = sus.frequency_ratio_index(analysis.definitions, analysis.frequency_ratios, values)
    assert index[label == 1].min() == pytest.approx(1.0) and roc_auc(label, index) == pytest.approx(1.0)


@pytest.mark.parametrize("method", mh.OPTIMISERS)
def test_optimisers_find_the_minimum_of_a_shifted_sphere(method):
    target = np.array([1.5, -2.0, 0.5])
    problem = mh.Problem(lambda c: ((c - target) ** 2).sum(axis=1), [(-5, 5)] * 3)
    result = mh.optimise(method, problem, population=30, iterations=150, seed=3)
    np.testing.assert_allclose(result.best, target, atol=0.05)
    assert len(result.history) >= 1 and np.all(np.diff(result.history) <= 0)
    again = mh.optimise(method, problem, population=30, iterations=150, seed=3)
    np.testing.assert_array_equal(result.best, again.best)


def test_optimiser_rounds_integer_dimensions_and_cancels():
    problem = mh.Problem(lambda c: (c[:, 0] - 3.4) ** 2, [(0, 10)], integer=[0])
    result = mh.optimise("gwo", problem, population=8, iterations=30, seed=0)
    assert result.best[0] == 3.0
    with pytest.raises(Cancelled):
        mh.optimise("pso", problem, population=8, iterations=30, is_cancelled=lambda: True)


def test_gardlif_default_table_rates_seed_table_1():
    table = gardlif.default_table()
    np.testing.assert_array_equal(gardlif.rate_layer(np.array([-0.3, 0.1, 0.2, 1.0, 6.0]), table,
                                                     "groundwater_decline"), [1, 1, 2, 4, 10])
    np.testing.assert_array_equal(gardlif.rate_layer(np.array([500.0, 1500, 4999, 9000]), table, "fault_distance"),
                                  [10, 8, 2, 1])
    np.testing.assert_array_equal(gardlif.rate_layer(np.array([2.0, 30, np.nan]), table, "recharge"),
                                  [10, 1, np.nan])
    np.testing.assert_array_equal(gardlif.rate_layer(np.array([1.0, 6.0]), table, "aquifer_media"), [10, 3])
    with pytest.raises(ValueError, match="category code"):
        gardlif.rate_layer(np.array([1.0, 12.0]), table, "land_use")
    weights = gardlif.weights_vector(gardlif.DEFAULT_WEIGHTS)
    assert weights.sum() == 24
    np.testing.assert_array_equal(gardlif.vulnerability_index(np.ones((7, 2)), weights), [24, 24])
    np.testing.assert_array_equal(gardlif.vulnerability_classes(np.array([24.0, 80, 133, 239, np.nan]), weights),
                                  [1, 2, 3, 4, 0])


def test_gardlif_table_parsing_errors():
    rows = gardlif.table_rows(gardlif.default_table())
    assert gardlif.parse_table(rows)[0].rating == 1
    with pytest.raises(ValueError, match="no row for fault_distance"):
        gardlif.parse_table([r for r in rows if r[0] != "fault_distance"])
    with pytest.raises(ValueError, match="not a number"):
        gardlif.parse_table([["recharge", "a", 1, 3]] + rows)


def test_correlation_index_by_hand():
    index = np.array([1.0, 2, 3, 4, 5, 6, 7, 8])
    ci, table = gardlif.correlation_index(index, index)
    assert ci == 32 and np.trace(table) == 8
    reversed_ci, _ = gardlif.correlation_index(index, -index)
    assert reversed_ci == 16  # class differences 3, 3, 1, 1, 1, 1, 3, 3 -> scores 1, 1, 3, 3, 3, 3, 1, 1


def test_pso_recovers_weights_that_explain_the_rate():
    rng = np.random.default_rng(7)
    ratings = rng.integers(1, 11, (300, 7)).astype(float)
    true = np.array([5, 0.5, 4, 1, 3, 0.2, 2.0])
    rate = ratings @ true
    default = gardlif.weights_vector(gardlif.DEFAULT_WEIGHTS)
    out = gardlif.optimise_weights(ratings, rate, default, population=30, iterations=150, seed=1)
    assert out.r_after > 0.999 > out.r_before
    np.testing.assert_allclose(out.weights / out.weights.sum(), true / true.sum(), atol=0.02)
    assert out.ci_after >= out.ci_before
