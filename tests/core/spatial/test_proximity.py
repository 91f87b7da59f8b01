"""Distances against GEOS (through OGR) on small cases; densities against geometry."""
import numpy as np
import pytest
from osgeo import ogr

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.spatial.proximity import (distance_to_features, features_from_wkb, line_density,
                                                      point_density)

UTM = crs_wkt_from_epsg(32633)


def _grid(n=40, cell=25.0):
    return RasterGrid.from_origin(500000.0, 5001000.0, cell, n, n, UTM)


def _geos_distance(wkts, grid):
    geoms = [ogr.CreateGeometryFromWkt(w) for w in wkts]
    union = geoms[0]
    for g in geoms[1:]:
        union = union.Union(g)
    xs, ys = grid.centre_axes()
    out = np.empty(grid.shape)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            p = ogr.Geometry(ogr.wkbPoint)
            p.AddPoint_2D(float(x), float(y))
            out[i, j] = union.Distance(p)
    return out


def _wkb(wkts):
    return [ogr.CreateGeometryFromWkt(w).ExportToWkb() for w in wkts]


def test_lines_points_and_polygons_equal_geos(tmp_path):
    grid = _grid()
    rng = np.random.default_rng(1)
    wkts = []
    for _ in range(4):
        pts = rng.uniform([500000, 5000000], [501000, 5001000], size=(5, 2))
        wkts.append("LINESTRING (" + ", ".join(f"{x} {y}" for x, y in pts) + ")")
    wkts += [f"POINT ({x} {y})" for x, y in rng.uniform([499500, 5000000], [501500, 5001000], size=(6, 2))]
    wkts.append("MULTILINESTRING ((499000 4999000, 499100 4999050), (502000 5002000, 502500 5002000))")
    wkts.append("POLYGON ((500300 5000300, 500500 5000300, 500500 5000420, 500300 5000420, 500300 5000300))")
    ours = distance_to_features(features_from_wkb(_wkb(wkts)), grid, block_rows=7)
    np.testing.assert_allclose(ours, _geos_distance(wkts, grid), atol=1e-6)
    assert (ours == 0).sum() == 8 * 5  # cell centres inside the 200 m x 120 m polygon


def test_dense_vertices_force_a_wider_search():
    grid = _grid(n=20, cell=50.0)
    # a zig-zag with hundreds of short segments next to one long straight line
    zig = np.column_stack([np.linspace(500100, 500900, 400), 5000500 + 3 * (np.arange(400) % 2)])
    wkts = ["LINESTRING (" + ", ".join(f"{x} {y}" for x, y in zig) + ")",
            "LINESTRING (499000 5000000, 502000 5000990)"]
    ours = distance_to_features(features_from_wkb(_wkb(wkts)), grid)
    np.testing.assert_allclose(ours, _geos_distance(wkts, grid), atol=1e-6)
    np.testing.assert_array_equal(distance_to_features(features_from_wkb(_wkb(wkts)), grid, threads=1), ours)


def test_refusals():
    wgs = RasterGrid.from_origin(10, 50, 0.01, 5, 5, crs_wkt_from_epsg(4326))
    features = features_from_wkb(_wkb(["POINT (10.02 49.98)"]))
    with pytest.raises(ValueError, match="geographic"):
        distance_to_features(features, wgs)
    with pytest.raises(ValueError, match="no feature"):
        distance_to_features(features_from_wkb([]), _grid())
    with pytest.raises(ValueError, match="at least one cell"):
        line_density(features_from_wkb(_wkb(["LINESTRING (0 0, 1 1)"])), _grid(), 5.0)
    with pytest.raises(ValueError, match="no point"):
        point_density(features_from_wkb(_wkb(["LINESTRING (0 0, 1 1)"])), _grid(), 100.0)


def test_line_density_of_a_straight_line_is_the_chord():
    grid = RasterGrid.from_origin(500000.0, 5004000.0, 20.0, 200, 200, UTM)
    radius = 600.0
    line = ["LINESTRING (495000 5002010, 509000 5002010)"]  # crosses the whole grid and beyond, horizontal
    density = line_density(features_from_wkb(_wkb(line)), grid, radius)
    _, ys = grid.centre_axes()
    d = np.abs(ys - 5002010.0)
    chord = np.where(d < radius, 2 * np.sqrt(np.clip(radius ** 2 - d ** 2, 0, None)), 0.0)
    expected = chord / (np.pi * radius ** 2) * 1000.0  # km per km^2
    column = density[:, 100]
    near = d < radius - 40
    np.testing.assert_allclose(column[near], expected[near], rtol=0.04)
    assert np.all(column[d > radius + 40] < 1e-9)
    np.testing.assert_allclose(density[:, 0], density[:, 100], rtol=1e-6)  # no edge effect: padded grid


def test_point_density_of_a_regular_well_field():
    grid = RasterGrid.from_origin(500000.0, 5002000.0, 20.0, 100, 100, UTM)
    xs = np.arange(498000, 504000, 100.0) + 50
    wells = [f"POINT ({x} {y})" for x in xs for y in np.arange(4998000, 5006000, 100.0) + 50]
    density = point_density(features_from_wkb(_wkb(wells)), grid, 500.0)
    np.testing.assert_allclose(density, 100.0, rtol=0.04)  # one well per hectare = 100 per km^2


