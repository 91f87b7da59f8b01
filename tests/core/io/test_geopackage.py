"""The SQLite GeoPackage point writer, read back by GDAL/OGR (the oracle): CRS, field types, values and NULLs,
feature count, extent, a spatial index that answers like a brute-force search, GDAL's own validator and edits."""
import os
import sqlite3

import numpy as np
import pytest
from osgeo import ogr, osr

from subsidence_plugin.core.io import geopackage
from subsidence_plugin.core.io.geopackage import GeoPackagePointWriter, hilbert_index, write_points


def _points(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(4.0e6, 4.1e6, n), rng.uniform(3.0e6, 3.05e6, n)


def _columns(n, seed=0):
    rng = np.random.default_rng(seed)
    pid = np.array([f"P{i}" for i in range(n)], dtype=object)
    pid[1::7] = None
    velocity = rng.normal(-3.0, 2.0, n)
    velocity[::5] = np.nan
    count = np.arange(n, dtype=np.float64) * 1e6
    count[2::9] = np.nan
    series = rng.normal(0, 5, (n, 3)).astype(np.float32)
    series[0, 1] = np.nan
    return [("pid", "string", pid), ("VEL_MM_YR", "double", velocity), ("count", "int", count)], series


def _read_all(path):
    """{fid: (values by field name, x, y)}, the field types, the layer, through OGR."""
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    definition = layer.GetLayerDefn()
    names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    types = {name: definition.GetFieldDefn(i).GetType() for i, name in enumerate(names)}
    rows = {}
    for feature in layer:
        values = {name: None if feature.IsFieldNull(name) else feature.GetField(name) for name in names}
        geometry = feature.GetGeometryRef()
        rows[feature.GetFID()] = (values, geometry.GetX() if geometry else None, geometry.GetY() if geometry else None)
    return ds, layer, rows, types


def test_values_types_nulls_and_crs_read_back_by_ogr(tmp_path, monkeypatch):
    monkeypatch.setattr(geopackage, "BATCH_VALUES", 64)  # several executemany batches
    n = 300
    x, y = _points(n)
    x[4] = np.nan  # no geometry
    columns, series = _columns(n)
    path = str(tmp_path / "points.gpkg")
    fields = [(name, kind) for name, kind, _ in columns] + [("D20200101", "double"), ("D20200113", "double"),
                                                            ("D20200125", "double")]
    with GeoPackagePointWriter(path, "insar points", "EPSG:3035", fields) as writer:
        for start in range(0, n, 70):  # blocks: 1-D columns and a 2-D block of three fields
            part = slice(start, start + 70)
            writer.add(x[part], y[part], [values[part] for _, _, values in columns] + [series[part]])
    ds, layer, rows, types = _read_all(path)
    assert layer.GetName() == "insar points" and layer.GetFeatureCount() == n
    assert layer.GetGeomType() == ogr.wkbPoint and layer.GetGeometryColumn() == "geom"
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "3035"
    expected_srs = osr.SpatialReference()
    expected_srs.ImportFromEPSG(3035)
    expected_srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)  # as OGR gives a layer's CRS
    assert layer.GetSpatialRef().IsSame(expected_srs)
    assert types == {"pid": ogr.OFTString, "VEL_MM_YR": ogr.OFTReal, "count": ogr.OFTInteger64,
                     "D20200101": ogr.OFTReal, "D20200113": ogr.OFTReal, "D20200125": ogr.OFTReal}
    assert sorted(rows) == list(range(1, n + 1))
    pid, velocity, count = (values for _, _, values in columns)
    for i in range(n):
        values, px, py = rows[i + 1]
        assert values["pid"] == pid[i]  # None where NULL
        assert (values["VEL_MM_YR"] is None) == np.isnan(velocity[i])
        if not np.isnan(velocity[i]):
            assert values["VEL_MM_YR"] == velocity[i]
        assert values["count"] == (None if np.isnan(count[i]) else int(count[i]))
        got = [values[f"D202001{d}"] for d in ("01", "13", "25")]
        assert [np.nan if v is None else v for v in got] == pytest.approx(series[i].astype(float).tolist(),
                                                                          nan_ok=True)
        if i == 4:
            assert px is None
        else:
            assert (px, py) == (x[i], y[i])
    located = ~np.isnan(x)
    assert layer.GetExtent() == pytest.approx((x[located].min(), x[located].max(), y[located].min(),
                                               y[located].max()))


@pytest.mark.parametrize("n", [0, 1, 51, 52, 2700, 5000])
def test_spatial_index_answers_like_a_brute_force_search(tmp_path, n):
    x, y = _points(n, seed=n)
    if n > 100:
        x[:100], y[:100] = x[0], y[0]  # one hundred points at one place
    path = write_points(str(tmp_path / "p.gpkg"), "p", "EPSG:3035", x, y, [("v", "double", np.arange(n) * 1.0)])
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT rtreecheck('rtree_p_geom')").fetchone()[0] == "ok"
        assert connection.execute("SELECT COUNT(*) FROM rtree_p_geom").fetchone()[0] == n
        root = connection.execute("SELECT data FROM rtree_p_geom_node WHERE nodeno = 1").fetchone()[0]
    levels, entries = 1, n
    while entries > 51:  # full nodes of 51 cells, level by level
        levels, entries = levels + 1, -(-entries // 51)
    assert int.from_bytes(root[:2], "big") == levels - 1  # the depth the root records
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    assert ds.ExecuteSQL("SELECT HasSpatialIndex('p', 'geom')").GetNextFeature().GetField(0) == 1
    rng = np.random.default_rng(1)
    for _ in range(20):
        x0, y0 = rng.uniform(4.0e6, 4.1e6), rng.uniform(3.0e6, 3.05e6)
        x1, y1 = x0 + rng.uniform(100, 20000), y0 + rng.uniform(100, 20000)
        layer.SetSpatialFilterRect(x0, y0, x1, y1)
        found = sorted(feature.GetFID() for feature in layer)
        assert found == (np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)) + 1).tolist()
    if n:
        layer.SetSpatialFilterRect(x[0], y[0], x[0], y[0])
        assert len(list(layer)) >= (100 if n > 100 else 1)


def test_gdal_validator_and_edits_through_gdal(tmp_path):
    validate = pytest.importorskip("osgeo_utils.samples.validate_gpkg")
    x, y = _points(500)
    columns, _ = _columns(500)
    path = write_points(str(tmp_path / "v.gpkg"), "v", "EPSG:3035", x, y, columns)
    validate.check(path)
    ds = ogr.Open(path, update=1)  # GDAL's triggers keep the index and the count
    layer = ds.GetLayer(0)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetField("pid", "new")
    feature.SetGeometry(ogr.CreateGeometryFromWkt("POINT (4200000 3100000)"))
    assert layer.CreateFeature(feature) == 0
    assert layer.DeleteFeature(3) == 0
    ds = None
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT feature_count FROM gpkg_ogr_contents").fetchone()[0] == 500
        assert connection.execute("SELECT rtreecheck('rtree_v_geom')").fetchone()[0] == "ok"
        ids = {i for (i,) in connection.execute("SELECT id FROM rtree_v_geom")}
    assert len(ids) == 500 and 3 not in ids and 501 in ids
    ds = ogr.Open(path)  # kept: a layer lives as long as its dataset
    layer = ds.GetLayer(0)
    layer.SetSpatialFilterRect(4199999, 3099999, 4200001, 3100001)
    assert [f.GetField("pid") for f in layer] == ["new"]
    odd = write_points(str(tmp_path / "odd.gpkg"), 'o\'dd "name"', "EPSG:3035", x[:3], y[:3], [])
    ds = ogr.Open(odd, update=1)
    layer = ds.GetLayer(0)
    assert layer.GetName() == 'o\'dd "name"' and layer.DeleteFeature(2) == 0
    ds = None
    ds = ogr.Open(odd)
    assert ds.GetLayer(0).GetFeatureCount() == 2


def test_crs_without_epsg_code_and_geographic_crs(tmp_path):
    custom = osr.SpatialReference()
    custom.SetFromUserInput("+proj=laea +lat_0=40 +lon_0=-3.7 +x_0=0 +y_0=0 +ellps=GRS80 +units=m +no_defs")
    custom.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    path = write_points(str(tmp_path / "c.gpkg"), "c", custom.ExportToWkt(), np.array([1.0]), np.array([2.0]), [])
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT srs_id, organization FROM gpkg_geometry_columns JOIN "
                                  "gpkg_spatial_ref_sys USING (srs_id)").fetchone() == (100000, "NONE")
    ds = ogr.Open(path)
    assert ds.GetLayer(0).GetSpatialRef().IsSame(custom)
    path = write_points(str(tmp_path / "g.gpkg"), "g", "EPSG:4326", np.array([-3.5]), np.array([40.1]), [])
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    assert layer.GetSpatialRef().GetAuthorityCode(None) == "4326"
    feature = layer.GetNextFeature()  # kept: a geometry lives as long as its feature
    point = feature.GetGeometryRef()
    assert (point.GetX(), point.GetY()) == (-3.5, 40.1)  # x = longitude, as GeoPackage stores it


def test_failures_leave_no_file_and_bad_fields_are_refused(tmp_path):
    path = str(tmp_path / "f.gpkg")
    with pytest.raises(RuntimeError, match="stop"):
        with GeoPackagePointWriter(path, "f", "EPSG:3035", [("v", "double")]) as writer:
            writer.add(np.zeros(3), np.zeros(3), [np.ones(3)])
            raise RuntimeError("stop")
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="2 columns of values for 1 fields"):
        write_points(path, "f", "", np.zeros(2), np.zeros(2), [("v", "double", np.ones((2, 2)))])
    assert os.listdir(tmp_path) == []
    for fields in ([("V", "double"), ("v", "string")], [("FID", "int")], [("geom", "double")]):
        with pytest.raises(ValueError, match="used twice or reserved"):
            GeoPackagePointWriter(path, "f", "", fields)
    with pytest.raises(ValueError, match="Unknown field kinds"):
        GeoPackagePointWriter(path, "f", "", [("d", "date")])
    write_points(path, "f", "", np.zeros(1), np.zeros(1), [])
    with pytest.raises(ValueError, match="exists"):
        write_points(path, "f", "", np.zeros(1), np.zeros(1), [])


def test_hilbert_index_visits_neighbours_in_turn():
    cells = np.arange(4)
    x, y = np.meshgrid(cells, cells)
    order = np.argsort(hilbert_index(x.ravel().astype(float), y.ravel().astype(float), bits=2))
    steps = np.abs(np.diff(x.ravel()[order])) + np.abs(np.diff(y.ravel()[order]))
    assert sorted(hilbert_index(x.ravel().astype(float), y.ravel().astype(float), bits=2).tolist()) == \
        list(range(16)) and (steps == 1).all()  # a curve through every cell, one cell a step
