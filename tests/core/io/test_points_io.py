import numpy as np
import pytest
from osgeo import ogr, osr

from subsidence_plugin.core.io import points as points_io
from subsidence_plugin.core.io.points import PointReadError, date_of_field, points_from_wkb, read_points

DATES = ["20200103", "20200115", "20200127"]


def _layer(path, fields, rows, geom_type=ogr.wkbPoint, epsg=32633, driver="GPKG", geometries=None):
    """Write a small layer: fields {name: ogr type}, rows of values (None = null)."""
    ds = ogr.GetDriverByName(driver).CreateDataSource(str(path))
    srs = None
    if epsg:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
    lyr = ds.CreateLayer("pts", srs, geom_type)
    for name, kind in fields.items():
        lyr.CreateField(ogr.FieldDefn(name, kind))
    for i, row in enumerate(rows):
        feature = ogr.Feature(lyr.GetLayerDefn())
        for name, value in zip(fields, row):
            if value is not None:
                feature.SetField(name, value)
        wkt = geometries[i] if geometries else f"POINT ({100 + i} {200 + 2 * i})"
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        lyr.CreateFeature(feature)
    ds = None
    return str(path)


@pytest.mark.parametrize("prefix", ["D", "D_", ""])
def test_three_date_conventions(tmp_path, prefix):
    fields = {"code": ogr.OFTString, "velocity": ogr.OFTReal}
    fields.update({f"{prefix}{d}": ogr.OFTReal for d in reversed(DATES)})
    rows = [("a", -3.5, 2.0, 1.0, 0.0), ("b", 1.0, -2.0, None, 0.0)]
    table = read_points(_layer(tmp_path / "p.gpkg", fields, rows))
    assert table.dates.astype(str).tolist() == ["2020-01-03", "2020-01-15", "2020-01-27"]
    assert table.date_fields == [f"{prefix}{d}" for d in DATES]
    np.testing.assert_array_equal(table.series[0], [0.0, 1.0, 2.0])
    assert table.series[1, 0] == 0.0 and np.isnan(table.series[1, 1]) and table.series[1, 2] == -2.0
    np.testing.assert_array_equal(table.x, [100, 101])
    np.testing.assert_array_equal(table.y, [200, 202])
    np.testing.assert_array_equal(table.numeric("velocity"), [-3.5, 1.0])
    assert table.attributes["code"].tolist() == ["a", "b"]
    np.testing.assert_allclose(table.years_since_first(), [0, 12 / 365.25, 24 / 365.25])


def test_date_field_names():
    assert str(date_of_field("D20200229")) == "2020-02-29"
    assert str(date_of_field("d_20191231")) == "2019-12-31"
    assert str(date_of_field("20150309")) == "2015-03-09"
    for name in ("D20200230", "velocity", "D2020010", "DATE20200101", "X20200101"):
        assert date_of_field(name) is None


def test_multipoints_are_exploded_and_keep_attributes(tmp_path):
    fields = {"id": ogr.OFTInteger, "D20200103": ogr.OFTReal}
    geoms = ["MULTIPOINT ((1 2), (3 4), (5 6))", "MULTIPOINT ((7 8))", "MULTIPOINT EMPTY"]
    path = _layer(tmp_path / "m.gpkg", fields, [(1, 1.5), (2, -1.0), (3, 9.0)], ogr.wkbMultiPoint, geometries=geoms)
    table = read_points(path)
    assert table.x.tolist() == [1, 3, 5, 7] and table.y.tolist() == [2, 4, 6, 8]
    assert table.numeric("id").tolist() == [1, 1, 1, 2]
    assert table.series[:, 0].tolist() == [1.5, 1.5, 1.5, -1.0]
    assert len(set(table.fids[:3])) == 1


def test_wkb_decoder_matches_ogr_for_z_m_and_mixed():
    wkts = ["POINT Z (1 2 3)", "POINT M (4 5 6)", "POINT ZM (7 8 9 10)", "MULTIPOINT Z ((1 1 1), (2 2 2))",
            "POINT (0.5 -0.25)"]
    wkbs = [ogr.CreateGeometryFromWkt(w).ExportToIsoWkb(ogr.wkbNDR) for w in wkts] + [None]
    x, y, owner = points_from_wkb(wkbs)
    assert x.tolist() == [1, 4, 7, 1, 2, 0.5] and y.tolist() == [2, 5, 8, 1, 2, -0.25]
    assert owner.tolist() == [0, 1, 2, 3, 3, 4]
    with pytest.raises(ValueError, match="point"):
        points_from_wkb([ogr.CreateGeometryFromWkt("LINESTRING (0 0, 1 1)").ExportToIsoWkb(ogr.wkbNDR)])


def test_feature_reader_fallback_gives_the_same_table(tmp_path, monkeypatch):
    fields = {"code": ogr.OFTString, "D20200103": ogr.OFTReal, "D20200115": ogr.OFTReal}
    path = _layer(tmp_path / "f.gpkg", fields, [("a", 1.0, None), ("b", 2.0, 3.0)])
    arrow = read_points(path)
    monkeypatch.setattr(points_io, "arrow_batches", lambda lyr, masked=True: [])
    fallback = read_points(path)
    np.testing.assert_array_equal(arrow.series, fallback.series)
    np.testing.assert_array_equal(arrow.x, fallback.x)
    assert fallback.attributes["code"].tolist() == ["a", "b"]


def test_shapefile_with_text_dates(tmp_path):
    fields = {"D20200103": ogr.OFTString, "D20200115": ogr.OFTString}
    path = _layer(tmp_path / "s.shp", fields, [("1.5", "2.5"), ("", "-1")], driver="ESRI Shapefile")
    table = read_points(path)
    assert table.series[0].tolist() == [1.5, 2.5]
    assert np.isnan(table.series[1, 0]) and table.series[1, 1] == -1.0


def test_bad_layers_are_named_in_the_error(tmp_path):
    with pytest.raises(PointReadError, match="not found: .*nothing.gpkg"):
        read_points(str(tmp_path / "nothing.gpkg"))
    empty = _layer(tmp_path / "empty.gpkg", {"v": ogr.OFTReal}, [])
    with pytest.raises(PointReadError, match="empty.gpkg.*is empty"):
        read_points(empty)
    no_crs = _layer(tmp_path / "nocrs.gpkg", {"v": ogr.OFTReal}, [(1.0,)], epsg=None)
    with pytest.raises(PointReadError, match="nocrs.gpkg.*no coordinate reference system"):
        read_points(no_crs)
    text = _layer(tmp_path / "text.gpkg", {"D20200103": ogr.OFTString}, [("1.0",), ("n/a",)])
    with pytest.raises(PointReadError, match="text.gpkg: date field 'D20200103' is not numeric.*'n/a'"):
        read_points(text)
    lines = _layer(tmp_path / "lines.gpkg", {"v": ogr.OFTReal}, [(1.0,)], ogr.wkbLineString,
                   geometries=["LINESTRING (0 0, 1 1)"])
    with pytest.raises(PointReadError, match="Line String geometries, not points"):
        read_points(lines)
    good = read_points(_layer(tmp_path / "good.gpkg", {"name": ogr.OFTString}, [("x",)]))
    with pytest.raises(PointReadError, match="no field 'velocity'"):
        good.numeric("velocity")
    with pytest.raises(PointReadError, match="field 'name' is not numeric"):
        good.numeric("name")
    with pytest.raises(PointReadError, match="no layer 'other'"):
        read_points(str(tmp_path / "good.gpkg"), layer="other")
