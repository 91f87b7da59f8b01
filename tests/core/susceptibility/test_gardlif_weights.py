"""GARDLIF weights that make no index (issue 11): all 0 gave an index of 0 everywhere and 100 % "very high";
negative and non-finite weights are refused too, by the index, the classes and the PSO."""
import numpy as np
import pytest

from subsidence_plugin.core.susceptibility import gardlif

RATINGS = np.arange(1.0, 8.0)[:, None] * np.ones((7, 3))  # (7 layers, 3 cells)


@pytest.mark.parametrize("weights, message", [
    (np.zeros(7), r"All seven GARDLIF weights are 0, so the index would be 0 everywhere; give at least one positive"),
    (np.array([5, 5, 4, -1, 3, 2, 1.0]), r"GARDLIF weights must not be negative; got Discharge / pumping \(cm/yr\) -1"),
    (np.array([5, 5, 4, 4, 3, np.nan, 1.0]), r"Every GARDLIF weight must be a finite number; got Aquifer thickness "
                                             r"\(m\) nan"),
    (np.array([5, 5, 4, 4, 3, 2, np.inf]), r"finite number; got Distance to faults \(m\) inf"),
    (np.ones(6), r"Give 7 GARDLIF weights, one per layer"),
])
def test_weights_that_make_no_index_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        gardlif.vulnerability_index(RATINGS, weights)
    with pytest.raises(ValueError, match=message):
        gardlif.vulnerability_classes(np.array([24.0, 100.0]), weights)
    rng = np.random.default_rng(0)
    ratings = rng.integers(1, 11, (50, 7)).astype(float)
    with pytest.raises(ValueError, match=message):
        gardlif.optimise_weights(ratings, ratings @ np.arange(1.0, 8.0), weights, population=5, iterations=2)


def test_one_positive_weight_is_enough_and_values_are_unchanged():
    weights = np.array([0, 0, 0, 0, 0, 0, 2.0])
    np.testing.assert_array_equal(gardlif.vulnerability_index(RATINGS, weights), [14.0, 14.0, 14.0])
    np.testing.assert_array_equal(gardlif.vulnerability_classes(np.array([2.0, 6.6, 20.0]), weights), [1, 2, 4])


@pytest.mark.parametrize("bounds", [(-1.0, 5.0), (0.0, 0.0), (0.0, np.inf), (3.0, 2.0)])
def test_pso_bounds_that_allow_negative_or_no_weights_are_refused(bounds):
    rng = np.random.default_rng(1)
    ratings = rng.integers(1, 11, (50, 7)).astype(float)
    default = gardlif.weights_vector(gardlif.DEFAULT_WEIGHTS)
    with pytest.raises(ValueError, match="The weight bounds must be finite with 0 <= smallest <= largest and a "
                                         "positive largest weight"):
        gardlif.optimise_weights(ratings, ratings @ np.arange(1.0, 8.0), default, bounds, population=5, iterations=2)


def test_class_bounds_follow_the_weights_actually_used():
    rng = np.random.default_rng(0)
    default = gardlif.weights_vector(gardlif.DEFAULT_WEIGHTS)
    index = rng.gamma(2.0, 20.0, 10_000) + 24.0  # skewed, like a PSO-weighted index
    np.testing.assert_allclose(gardlif.class_bounds(default, index), [24, 78, 132, 186, 240])
    pso = np.array([1.651, 0, 0, 0, 0, 5.0, 0])
    bounds = gardlif.class_bounds(pso, np.r_[index, np.nan])
    np.testing.assert_allclose(bounds[1:-1], np.quantile(index, [0.25, 0.5, 0.75]), rtol=1e-3)
    classes = gardlif.classify_vulnerability(np.r_[index, np.nan], bounds)
    shares = np.bincount(classes, minlength=5)[1:] / index.size
    np.testing.assert_allclose(shares, 0.25, atol=0.001)
    assert classes[-1] == 0
    with pytest.raises(ValueError, match="distinct value"):
        gardlif.class_bounds(pso, np.array([1.0, 1.0, 2.0, 2.0]))


def test_class_bounds_of_an_index_with_few_distinct_values_leave_no_class_empty():
    """A PSO-weighted index that is a sum of a few class ratings: quantiles would put two breaks on one value."""
    index = np.repeat([10.0, 16.6, 21.5, 30.0, 45.0], [5000, 300, 2500, 1500, 700])
    pso = np.array([1.651, 0, 0, 0, 0, 5.0, 0])
    quartiles = np.r_[index.min(), np.quantile(index, [0.25, 0.5, 0.75]), index.max()]
    assert (np.bincount(gardlif.classify_vulnerability(index, quartiles), minlength=5)[1:] == 0).any()  # before
    classes = gardlif.classify_vulnerability(index, gardlif.class_bounds(pso, index))
    counts = np.bincount(classes, minlength=5)[1:]
    assert (counts > 0).all() and counts.sum() == index.size
    assert counts.tolist() == [5000, 300, 2500, 2200]  # each break nearest to its quarter, tied cells together
