"""InSAR points in the plugin's convention: units, velocities, duplicates, merging, re-referencing, reading CSV."""
import numpy as np
import pytest
from osgeo import osr

from subsidence_plugin.core.io.csv_points import read_csv_points
from subsidence_plugin.core.io.row_store import RowStore
from subsidence_plugin.core.spatial.polygons import points_in_polygons
from subsidence_plugin.core.timeseries.insar_points import (detect_format, duplicate_points, insar_points,
                                                            linear_velocity, merge_sources, reference_series,
                                                            rereferenced)

DATES = np.arange(np.datetime64("2020-01-01"), np.datetime64("2021-01-01"), 12)


def _points(n=4, units="mm", **attributes):
    series = np.arange(n * DATES.size, dtype=float).reshape(n, DATES.size)
    return insar_points(np.arange(n) * 100.0, np.zeros(n), DATES, series, attributes, units)


def test_linear_velocity_equals_polyfit_with_gaps():
    rng = np.random.default_rng(1)
    series = rng.normal(0, 2, (50, DATES.size)) - 7.0 * np.arange(DATES.size)[None, :] * 12 / 365.25
    series[rng.random(series.shape) < 0.2] = np.nan
    series[0, 1:] = np.nan  # one value: no slope
    years = (DATES - DATES[0]).astype(float) / 365.25
    velocity = linear_velocity(DATES, series, block=7)
    assert np.isnan(velocity[0])
    for row in range(1, 50):
        ok = ~np.isnan(series[row])
        assert velocity[row] == pytest.approx(np.polyfit(years[ok], series[row, ok], 1)[0], rel=1e-9)


def test_units_roles_and_refitted_velocity():
    """Doñana-style fields: ID, Vel and the series in cm, cosE / cosN / cosU; everything to mm."""
    n = 3
    gep = _points(n, "cm", ID=np.array([101.0, 102.0, 103.0]), Vel=np.array([-1.5, 0.2, 0.0]),
                  cosE=np.full(n, -0.6), cosN=np.full(n, -0.1), cosU=np.full(n, 0.79), Coer=np.full(n, 0.9))
    assert gep.pid.tolist() == ["101", "102", "103"]
    np.testing.assert_allclose(gep.velocity, [-15.0, 2.0, 0.0])
    np.testing.assert_allclose(gep.displacement[1, :3], [10 * DATES.size, 10 * DATES.size + 10, 10 * DATES.size + 20])
    np.testing.assert_allclose(gep.los[0], [-0.6, -0.1, 0.79])
    assert list(gep.attributes) == ["Coer"] and not gep.velocity_refitted
    plain = _points(2, "m")  # no pid, no velocity: numbered points, least-squares velocity
    assert plain.pid.tolist() == ["1", "2"] and plain.velocity_refitted
    np.testing.assert_allclose(plain.velocity, 1000.0 * 365.25 / 12, rtol=1e-9)  # 1 m a date, dates 12 days apart
    with pytest.raises(ValueError, match="units"):
        _points(2, "inch")


def test_duplicates_keep_the_lowest_rmse_else_the_highest_coherence():
    base = _points(5, pid=np.array(["a", "b", "c", "d", "b"], dtype=object), rmse=np.array([2.0, 1.0, 3.0, 1.0, 0.5]))
    base.x[:] = [0.0, 0.4, 50.0, 500.0, 900.0]  # a and b 0.4 m apart; the second "b" far away
    base.source = np.array([0, 1, 1, 1, 1])
    drop = duplicate_points(base, 1.0)
    assert drop.tolist() == [True, True, False, False, False]  # {a, b, b'} keeps b' (rmse 0.5)
    coherent = _points(3, coherence=np.array([0.7, 0.9, 0.8]))
    coherent.x[:] = [0.0, 0.5, 0.9]
    assert not duplicate_points(coherent, 1.0).any()  # one source: points at one place are distinct points
    coherent.source = np.array([0, 1, 2])
    assert duplicate_points(coherent, 1.0).tolist() == [True, False, True]


def test_merge_takes_the_union_of_dates_and_fields():
    first = _points(2, rmse=np.array([1.0, 2.0]))
    later = insar_points(np.zeros(1), np.zeros(1), DATES[1:] + 1, np.ones((1, DATES.size - 1)),
                         {"mp_type": np.array(["DS"], dtype=object)}, "mm")
    merged = merge_sources([first, later])
    assert merged.dates.size == 2 * DATES.size - 1
    assert np.isnan(merged.displacement[2, [0, 1, 3]]).all() and np.isnan(merged.displacement[0, 2::2]).all()
    assert not np.isnan(merged.displacement[0, [0, 1, 3]]).any() and not np.isnan(merged.displacement[2, 2::2]).any()
    assert np.isnan(merged.attributes["rmse"][2]) and merged.attributes["mp_type"].tolist() == [None, None, "DS"]


def test_series_read_by_blocks_equal_the_arithmetic_on_whole_arrays():
    """One source's series in cm on a temporary row store (dates in reverse order), merged with a source of other
    dates in mm, taken and re-referenced: read a block of rows at a time, the same values as on whole arrays."""
    rng = np.random.default_rng(3)
    in_cm = rng.normal(0, 2, (30, DATES.size))
    in_cm[4, 2] = np.nan
    store = RowStore(DATES.size)
    store.append(in_cm[:, ::-1])
    first = insar_points(np.arange(30.0), np.zeros(30), DATES[::-1], store, {}, "cm")
    later = DATES[1:] + 1
    in_mm = rng.normal(0, 20, (5, later.size))
    merged = merge_sources([first, insar_points(np.zeros(5), np.ones(5), later, in_mm, {}, "mm")])
    dates = np.unique(np.concatenate([DATES, later]))
    expected = np.full((35, dates.size), np.nan, dtype=np.float32)
    expected[:30, np.searchsorted(dates, DATES)] = (in_cm.astype(np.float32) * 10.0).astype(np.float32)  # kept as
    # float32 in cm, converted when read
    expected[30:, np.searchsorted(dates, later)] = in_mm.astype(np.float32)
    assert merged.displacement.shape == (35, dates.size)
    np.testing.assert_array_equal(merged.displacement[:], expected)
    keep = np.ones(35, dtype=bool)
    keep[[0, 7, 31]] = False
    taken = merged.take(keep)
    reference = reference_series(taken, np.arange(3, 12), block=4)
    chosen = expected[keep][3:12]
    empty = np.isnan(chosen).all(axis=0)  # the dates of the other source only
    assert empty.any() and np.isnan(reference[empty]).all()
    np.testing.assert_allclose(reference[~empty], np.nanmean(chosen[:, ~empty], axis=0), rtol=1e-6)
    moved = rereferenced(taken, reference)
    blocks = np.concatenate([moved.displacement[start:start + 7] for start in range(0, len(moved), 7)])
    np.testing.assert_array_equal(blocks, (expected[keep] - reference).astype(np.float32))
    np.testing.assert_allclose(linear_velocity(dates, moved.displacement, block=5),
                               linear_velocity(dates, blocks), rtol=1e-12)
    np.testing.assert_array_equal(moved.displacement[-1, 1:], blocks[-1, 1:])
    np.testing.assert_array_equal(moved.displacement[[2, 2, 0]], blocks[[2, 2, 0]])
    with pytest.raises(ValueError, match="Merge the sources before"):
        merge_sources([taken, first])


def test_rereferencing_to_the_mean_of_an_area():
    points = _points(4)
    reference = reference_series(points, np.array([0, 1]))
    np.testing.assert_allclose(reference, (points.displacement[0] + points.displacement[1]) / 2)
    moved = rereferenced(points, reference)
    np.testing.assert_allclose(moved.displacement[[0, 1]].mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(moved.velocity, 0.0, atol=1e-6)  # every series has the same slope here


def test_format_detection():
    assert detect_format(["pid", "easting", "northing", "mean_velocity", "mean_velocity_std", "los_east",
                          "los_north", "los_up", "20200101"]) == "egms_l2"
    assert detect_format(["pid", "easting", "northing", "mean_velocity", "mean_velocity_std", "20200101"]) == \
        "egms_l3"
    assert detect_format(["ID", "x", "y", "D20200101"]) == "generic"


def test_points_in_a_polygon_with_a_hole():
    from osgeo import ogr

    polygon = ogr.CreateGeometryFromWkt("POLYGON ((0 0, 10 0, 10 10, 0 10, 0 0), (4 4, 6 4, 6 6, 4 6, 4 4))")
    x = np.array([1.0, 5.0, 9.5, 11.0, 5.0, 3.0])
    y = np.array([1.0, 5.0, 9.5, 5.0, 2.0, 12.0])
    inside = points_in_polygons(x, y, [polygon.ExportToWkb()])
    assert inside.tolist() == [True, False, True, False, True, False]


def test_read_egms_csv(tmp_path, write_egms_csv):
    series = np.array([[0.0, -1.5, np.nan], [0.0, 2.25, 3.0]])
    path = write_egms_csv(tmp_path / "tile.csv", ["1AbC", "2xYz"], [4.1e6, 4.1e6 + 20], [3.0e6, 3.0e6],
                          DATES[:3], series, [1.0, 2.0], [-3.0, 4.0])
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(3035)
    table = read_csv_points(path, srs.ExportToWkt())
    np.testing.assert_array_equal(table.dates, DATES[:3])
    np.testing.assert_allclose(table.series, series)
    np.testing.assert_allclose(table.x, [4.1e6, 4.1e6 + 20])
    assert table.attributes["pid"].tolist() == ["1AbC", "2xYz"] and "easting" not in table.attributes
    points = insar_points(table.x, table.y, table.dates, table.series, table.attributes, "mm", "egms_l2")
    np.testing.assert_allclose(points.velocity, [-3.0, 4.0])
    assert "latitude" not in points.attributes and set(points.attributes) >= {"rmse", "mp_type", "height"}
