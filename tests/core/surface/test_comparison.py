"""Evaluation protocols: blocked folds, low-density gaps, the same held-out points for every method."""
import numpy as np
import pytest

from subsidence_plugin.core.stats.splits import block_ids, low_density_holdout, spatial_folds
from subsidence_plugin.core.surface.comparison import compare_methods


def test_blocks_and_folds_keep_blocks_whole():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1000, (2, 500))
    blocks = block_ids(x, y, 250.0)
    assert len(np.unique(blocks)) == 16
    folds = spatial_folds(x, y, 250.0, folds=4, seed=1)
    for b in np.unique(blocks):
        assert len(np.unique(folds[blocks == b])) == 1  # a block never straddles folds
    assert set(folds) == {0, 1, 2, 3}
    with pytest.raises(ValueError, match="blocks"):
        spatial_folds(x, y, 2000.0, folds=4)


def test_gap_holds_out_the_sparsest_blocks():
    rng = np.random.default_rng(1)
    dense = rng.uniform(0, 500, (2, 900))
    sparse = rng.uniform(500, 1000, (2, 40))
    x, y = np.concatenate([dense[0], sparse[0]]), np.concatenate([dense[1], sparse[1]])
    held = low_density_holdout(x, y, 250.0, share=0.04)
    assert held[900:].sum() >= 20 and held[:900].sum() == 0 and held.mean() <= 0.05


def test_every_method_sees_the_same_test_points():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 1000, (2, 300))
    values = x / 100.0
    seen = {}

    def recorder(name, offset):
        def fit_predict(train, val, test):
            assert not set(train) & set(test) and not set(val) & set(test)
            seen.setdefault(name, []).append(tuple(sorted(test)))
            return values[test] + offset
        return fit_predict

    rows = compare_methods(values, x, y, {"exact": recorder("exact", 0.0), "biased": recorder("biased", 2.0)},
                           block_size=200.0, folds=3)
    assert seen["exact"] == seen["biased"] and len(seen["exact"]) == 1 + 3 + 1
    by = {(r["protocol"], r["method"]): r for r in rows}
    assert by[("spatial", "exact")]["rmse"] == 0 and by[("spatial", "biased")]["rmse"] == pytest.approx(2.0)
    assert by[("spatial", "exact")]["n"] == 300  # pooled over folds: every point tested once
    assert by[("paper", "biased")]["me"] == pytest.approx(2.0) and by[("paper", "biased")]["n"] == 30
    spatial = by[("spatial", "biased")]
    assert sorted(spatial["test"]) == list(range(300))
    np.testing.assert_allclose(spatial["predicted"], values[spatial["test"]] + 2.0)


