"""Class breaks of a degenerate index (issue 11): a constant index or fewer valid values than classes is
refused instead of giving undefined classes (100 % in one class)."""
import numpy as np
import pytest

from subsidence_plugin.core.stats.classes import CLASSIFICATIONS, class_breaks


@pytest.mark.parametrize("method", CLASSIFICATIONS)
def test_a_constant_index_is_refused(method):
    with pytest.raises(ValueError, match=r"^The index is constant \(value 0\.25\): classes are undefined$"):
        class_breaks(np.array([0.25] * 50 + [np.nan] * 5), method)


@pytest.mark.parametrize("method", CLASSIFICATIONS)
def test_fewer_valid_values_than_classes_are_refused(method):
    with pytest.raises(ValueError, match=r"^The index has 4 valid value\(s\), fewer than the 5 classes: classes are "
                                         r"undefined$"):
        class_breaks(np.array([0.1, 0.2, np.nan, 0.3, 0.4]), method, classes=5)
    with pytest.raises(ValueError, match="no valid value"):
        class_breaks(np.full(3, np.nan), method)


def test_an_index_with_as_many_values_as_classes_still_has_breaks():
    values = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    np.testing.assert_allclose(class_breaks(values, "quantile"), [0.18, 0.26, 0.34, 0.42])
    np.testing.assert_allclose(class_breaks(values, "equal_interval"), [0.18, 0.26, 0.34, 0.42])
    np.testing.assert_allclose(class_breaks(values, "natural_breaks"), [0.1, 0.2, 0.3, 0.4])


def test_balanced_breaks_fall_between_distinct_values_nearest_to_equal_shares():
    from subsidence_plugin.core.stats.classes import balanced_breaks

    values = np.arange(100.0)
    np.testing.assert_allclose(balanced_breaks(values, 4), [24.5, 49.5, 74.5])  # = quartiles without ties
    tied = np.repeat([1.0, 2.0, 3.0, 4.0, 5.0], [70, 10, 10, 5, 5])
    np.testing.assert_allclose(balanced_breaks(tied, 4), [1.5, 2.5, 3.5])
    with pytest.raises(ValueError, match="3 distinct value"):
        balanced_breaks(np.array([1.0, 2.0, 3.0, 3.0]), 4)
