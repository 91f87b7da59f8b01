"""subsidence:groundwaterstorage, subsidence:compareseries and subsidence:creategroundwatersample through Processing
(issue 15): every column of the table against analytic values from files in the real layouts, the gap months, an
area across the antimeridian, the raster stack, the sample's trend and recharge lag, bad inputs refused with
nothing written."""
import os

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsProject, QgsVectorLayer

from subsidence_plugin.core.groundwater.compare import cross_correlation
from subsidence_plugin.core.groundwater.sample import RECHARGE_LAG_MONTHS
from subsidence_plugin.core.groundwater.sample_files import write_gldas, write_jpl_mascons
from subsidence_plugin.core.io.long_tables import read_long_table

MONTHS = np.arange("2010-01", "2013-01", dtype="datetime64[M]")
GAP = (MONTHS >= np.datetime64("2011-03")) & (MONTHS <= np.datetime64("2011-05"))


def _run(algorithm, parameters, feedback=None):
    import processing

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    return processing.run(f"subsidence:{algorithm}", parameters, context=context,
                          feedback=feedback or QgsProcessingFeedback())


def _table(path):
    layer = QgsVectorLayer(str(path), "table", "ogr")
    assert layer.isValid()
    rows = [f.attributes() for f in layer.getFeatures()]
    names = layer.fields().names()
    return {name: [row[i] for row in rows] for i, name in enumerate(names)}


def _truth():
    """Spatially uniform fields (mm) per month: TWS and the four land-surface terms."""
    t = (MONTHS - MONTHS[0]).astype(np.float64) / 12.0
    season = np.cos(2 * np.pi * t)
    terms = {"sm": 300.0 + 30.0 * season, "cws": 0.5 + 0.2 * season, "swe": 5.0 + 4.0 * season,
             "qs": 10.0 + 3.0 * np.sin(2 * np.pi * t)}
    gws = -15.0 * t + 8.0 * np.sin(2 * np.pi * (t - 0.2))
    return gws + sum(terms.values()), terms


def _write_products(folder, lat_jpl, lon_jpl, lat_lsm, lon_lsm, land=1.0):
    """JPL v03 mascons (gain factors varying in space, applied they give the uniform truth) and Noah monthly
    files carrying `_truth()`."""
    tws, terms = _truth()
    shape = (lat_jpl.size, lon_jpl.size)
    gain = 1.0 + 0.1 * np.arange(shape[0] * shape[1]).reshape(shape) / (shape[0] * shape[1])
    keep = ~GAP
    lwe = np.broadcast_to(tws[keep][:, None, None], (keep.sum(),) + shape) / gain / 10.0
    paths = write_jpl_mascons(str(folder), MONTHS[keep], lat_jpl, lon_jpl, lwe, version=3, scale=gain,
                              land_mask=np.full(shape, land))
    days = ((MONTHS + 1).astype("datetime64[D]") - MONTHS.astype("datetime64[D]")).astype(np.float64)
    grid = (MONTHS.size, lat_lsm.size, lon_lsm.size)
    fields = {"SoilMoi0_10cm_inst": 0.1 * terms["sm"], "SoilMoi10_40cm_inst": 0.2 * terms["sm"],
              "SoilMoi40_100cm_inst": 0.3 * terms["sm"], "SoilMoi100_200cm_inst": 0.4 * terms["sm"],
              "CanopInt_inst": terms["cws"], "SWE_inst": terms["swe"], "Qs_acc": terms["qs"] / (8.0 * days)}
    fields = {k: np.broadcast_to(v[:, None, None], grid) for k, v in fields.items()}
    lsm = write_gldas(str(folder), "NOAH", MONTHS, lat_lsm, lon_lsm, fields, monthly=True)
    return paths, lsm


def _stored(terms):
    """The land-surface terms as the float32 GLDAS files hold them (layers and runoff rounded to float32)."""
    days = ((MONTHS + 1).astype("datetime64[D]") - MONTHS.astype("datetime64[D]")).astype(np.float64)
    f32 = lambda values: values.astype(np.float32).astype(np.float64)  # noqa: E731
    return {"sm": sum(f32(share * terms["sm"]) for share in (0.1, 0.2, 0.3, 0.4)), "cws": f32(terms["cws"]),
            "swe": f32(terms["swe"]), "qs": f32(terms["qs"] / (8.0 * days)) * 8.0 * days}


def _expected():
    tws, terms = _truth()
    terms = _stored(terms)
    keep = ~GAP
    anomaly = {"tws_mm": tws - tws[keep].mean()}
    anomaly.update({f"{k}_mm": v - v.mean() for k, v in terms.items()})  # per product: every baseline month
    anomaly["gws_mm"] = anomaly["tws_mm"] - sum(anomaly[f"{k}_mm"] for k in terms)
    return {k: v[keep] for k, v in anomaly.items()}


def _check_table(table, tolerance):
    expected = _expected()
    assert table["month"] == [str(m) for m in MONTHS[~GAP]]  # the gap months are absent, not filled
    for name, values in expected.items():
        np.testing.assert_allclose(np.array(table[name], dtype=float), values, atol=tolerance, rtol=0)
    assert {int(n) for n in table["n_centres"]} == {1}  # (a CSV reads back as text)
    np.testing.assert_allclose(np.array(table["gws_spread_mm"], dtype=float), 0.0, atol=1e-9)  # one centre, one model


def test_every_column_against_the_analytic_values(provider, tmp_path, write_polygon_layer):
    tws, lsm = _write_products(tmp_path, np.arange(40.25, 44.0, 0.5), np.arange(10.25, 14.0, 0.5),
                               np.arange(40.5, 44.0), np.arange(10.5, 14.0))
    area = write_polygon_layer(tmp_path / "area.gpkg", ["POLYGON((11.1 41.1,12.9 41.1,11.1 42.9,"
                                                        "11.1 41.1))"], "EPSG:4326")
    out = _run("groundwaterstorage", {"TWS": tws, "LSM": lsm, "AREA": area, "OUTPUT": str(tmp_path / "gws.gpkg"),
                                      "OUTPUT_RASTER": str(tmp_path / "gws.tif"),
                                      "REPORT": str(tmp_path / "gws.html")})
    _check_table(_table(out["OUTPUT"]), 1e-6)
    assert out["MONTHS"] == int((~GAP).sum())
    assert out["TREND_CI_LOW"] < -15.0 < out["TREND_CI_HIGH"]
    stack = gdal.Open(out["OUTPUT_RASTER"])
    assert stack.RasterCount == int((~GAP).sum())
    assert stack.GetRasterBand(1).GetDescription() == str(MONTHS[0])
    assert stack.GetMetadataItem("units") == "mm of water"
    values = stack.ReadAsArray().astype(float)
    nodata = stack.GetRasterBand(1).GetNoDataValue()
    inside = values[0] != nodata
    assert inside.any() and (~inside).any()  # cells of the window outside the triangle are nodata
    np.testing.assert_allclose(values[:, inside], np.repeat(_expected()["gws_mm"][:, None], inside.sum(), 1),
                               atol=1e-3)  # uniform field: every cell is the area mean (float32 GeoTIFF)
    assert "GRACE footprint" in open(out["REPORT"], encoding="utf-8").read()
    coarse = _run("groundwaterstorage", {"TWS": tws, "LSM": lsm, "AREA": area, "STACK_GRID": 3,
                                         "OUTPUT": str(tmp_path / "gws1.gpkg"),
                                         "OUTPUT_RASTER": str(tmp_path / "g1.tif")})
    one_degree = gdal.Open(coarse["OUTPUT_RASTER"])
    assert one_degree.GetGeoTransform()[1] == 1.0 and one_degree.GetGeoTransform()[0] == 11.0  # a global 1° grid
    np.testing.assert_allclose(one_degree.GetRasterBand(2).ReadAsArray()[0, 0], _expected()["gws_mm"][1], atol=1e-3)


def test_an_area_across_the_antimeridian_in_a_projected_crs(provider, tmp_path, write_polygon_layer):
    tws, lsm = _write_products(tmp_path, np.arange(-1.75, 2.0, 0.5), np.arange(178.25, 182.0, 0.5),
                               np.arange(-1.5, 2.0), np.arange(-179.5, 180.0))
    # EPSG:3832 (PDC Mercator, central meridian 150° E): 179° E … 179° W, 1° S … 1° N
    west, east, south, north = 3228575.0, 3451231.0, -110579.0, 110579.0
    area = write_polygon_layer(tmp_path / "area.gpkg", [f"POLYGON(({west} {south},{east} {south},{east} {north},"
                                                        f"{west} {north},{west} {south}))"], "EPSG:3832")
    feedback = QgsProcessingFeedback()
    messages = []
    feedback.pushInfo = messages.append
    out = _run("groundwaterstorage", {"TWS": tws, "LSM": lsm, "AREA": area, "OUTPUT": str(tmp_path / "gws.csv")},
               feedback)
    _check_table(_table(out["OUTPUT"]), 1e-6)
    assert any("antimeridian" in m for m in messages)


def test_sample_storage_trend_and_the_recharge_lag(provider, groundwater_sample, sample_area, tmp_path):
    sample, area, _, _ = groundwater_sample
    storage = _run("groundwaterstorage", {"TWS": sample.tws_files, "LSM": sample.lsm_files, "AREA": area,
                                          "OUTPUT": str(tmp_path / "gws.gpkg"), "REPORT": str(tmp_path / "g.html")})
    table = _table(storage["OUTPUT"])
    assert "2017-07" not in table["month"] and "2018-05" not in table["month"]
    assert table["n_centres"][table["month"].index("2016-03")] == 2  # GFZ misses it; CSR's odd month moved in
    assert table["n_centres"][table["month"].index("2016-07")] == 3
    assert storage["TREND_CI_LOW"] < -12.0 < storage["TREND_CI_HIGH"]
    points = f"{sample_area.vector_path}|layername=ps_points"
    compared = _run("compareseries", {"STORAGE": storage["OUTPUT"], "PRECIPITATION_TABLE": sample.precipitation_table,
                                      "POINTS": points, "AREA": area, "OUTPUT": str(tmp_path / "cc.gpkg"),
                                      "REPORT": str(tmp_path / "cc.html")})
    assert compared["LAG_PRECIPITATION_GWS"] == RECHARGE_LAG_MONTHS
    months = np.array(table["month"], dtype="datetime64[M]")
    gauges = read_long_table(sample.precipitation_table)
    core = cross_correlation(gauges.dates.astype("datetime64[M]"), gauges.values.mean(axis=0), months,
                             np.array(table["gws_mm"]), 12, detrend=True, following=True)
    assert compared["R_PRECIPITATION_GWS"] == pytest.approx(core.best_r, abs=1e-9)
    assert compared["P_PRECIPITATION_GWS"] < 0.01
    rows = _table(compared["OUTPUT"])
    assert len(rows["pair"]) == 3 * 25 and set(rows["pair"]) == {"precipitation → ΔGWS", "ΔGWS → InSAR",
                                                                 "precipitation → InSAR"}
    assert os.path.getsize(compared["REPORT"]) > 10000


def test_gridded_precipitation(provider, groundwater_sample, tmp_path):
    sample, area, _, _ = groundwater_sample
    storage = _run("groundwaterstorage", {"TWS": sample.tws_files, "LSM": sample.lsm_files, "AREA": area,
                                          "OUTPUT": str(tmp_path / "gws.gpkg")})
    noah = [path for path in sample.lsm_files if "_NOAH" in path]
    compared = _run("compareseries", {"STORAGE": storage["OUTPUT"], "PRECIPITATION_FILES": noah, "AREA": area,
                                      "OUTPUT": str(tmp_path / "cc.gpkg")})
    assert compared["LAG_PRECIPITATION_GWS"] == RECHARGE_LAG_MONTHS
    table = _table(storage["OUTPUT"])
    months = np.array(table["month"], dtype="datetime64[M]")
    core = cross_correlation(sample.truth["months"], sample.truth["precipitation"], months,
                             np.array(table["gws_mm"]), 12, detrend=True, following=True)
    assert compared["R_PRECIPITATION_GWS"] == pytest.approx(core.best_r, abs=1e-6)  # the rate is stored in float32
    output = tmp_path / "refused.gpkg"
    with pytest.raises(QgsProcessingException, match="not both"):
        _run("compareseries", {"STORAGE": storage["OUTPUT"], "PRECIPITATION_FILES": noah, "AREA": area,
                               "PRECIPITATION_TABLE": sample.precipitation_table, "OUTPUT": str(output)})
    with pytest.raises(QgsProcessingException, match="give the area"):
        _run("compareseries", {"STORAGE": storage["OUTPUT"], "PRECIPITATION_FILES": noah, "OUTPUT": str(output)})
    assert not output.exists()


def test_create_groundwater_sample(provider, tmp_path):
    out = _run("creategroundwatersample", {"EXTENT": "400000,410000,3600000,3610000 [EPSG:32613]",
                                           "OUTPUT_FOLDER": str(tmp_path / "sample")})
    names = sorted(os.path.basename(p) for p in out["TWS_FILES"].split(";"))
    assert names[0].startswith("CSR_GRACE_GRACE-FO_RL06") and len(out["LSM_FILES"].split(";")) == 3 * 84
    assert "SYNTHETIC" in gdal.Info(out["TWS_FILES"].split(";")[0])
    assert open(out["PRECIPITATION"]).readline().strip() == "station,date,precipitation"


def _refused(parameters, message, output):
    with pytest.raises(QgsProcessingException, match=message):
        _run("groundwaterstorage", dict(parameters, OUTPUT=str(output)))
    assert not os.path.exists(output)


def test_bad_inputs_write_nothing(provider, tmp_path, write_polygon_layer):
    lat, lon, lat1, lon1 = np.arange(40.25, 44.0, 0.5), np.arange(10.25, 14.0, 0.5), np.arange(40.5, 44.0), \
        np.arange(10.5, 14.0)
    tws, lsm = _write_products(tmp_path, lat, lon, lat1, lon1)
    area = write_polygon_layer(tmp_path / "area.gpkg", ["POLYGON((11 41,12 41,12 42,11 42,11 41))"], "EPSG:4326")
    out = tmp_path / "out.gpkg"
    notes = tmp_path / "notes.txt"
    notes.write_text("not a grid")
    _refused({"TWS": [str(notes)], "LSM": lsm, "AREA": area}, "It reads GRACE", out)
    _refused({"TWS": lsm, "LSM": lsm, "AREA": area}, "GLDAS land-surface file among the GRACE", out)
    far = write_polygon_layer(tmp_path / "far.gpkg", ["POLYGON((-60 -10,-59 -10,-59 -9,-60 -9,-60 -10))"],
                              "EPSG:4326")
    _refused({"TWS": tws, "LSM": lsm, "AREA": far}, "outside|no cell|overlap", out)
    ocean = tmp_path / "ocean"
    ocean.mkdir()
    ocean_tws, _ = _write_products(ocean, lat, lon, lat1, lon1, land=0.0)
    _refused({"TWS": ocean_tws, "LSM": lsm, "AREA": area}, "only cells without data", out)
    late = tmp_path / "late"
    late.mkdir()
    days = np.full(12, 30.0)
    shape = (12, lat1.size, lon1.size)
    late_lsm = write_gldas(str(late), "NOAH", np.arange("2015-01", "2016-01", dtype="datetime64[M]"), lat1, lon1,
                           {name: np.full(shape, 10.0) for name in ("SoilMoi0_10cm_inst", "SoilMoi10_40cm_inst",
                                                                    "SoilMoi40_100cm_inst", "SoilMoi100_200cm_inst",
                                                                    "CanopInt_inst", "SWE_inst")}
                           | {"Qs_acc": np.full(shape, 1.0) / days[:, None, None]})
    _refused({"TWS": tws, "LSM": late_lsm, "AREA": area}, "overlap", out)
    _refused({"TWS": tws, "LSM": lsm, "AREA": area, "BASELINE_START": "spring"}, "not a month", out)
    no_crs = write_polygon_layer(tmp_path / "no_crs.shp", ["POLYGON((11 41,12 41,12 42,11 42,11 41))"], "")
    _refused({"TWS": tws, "LSM": lsm, "AREA": no_crs}, "no coordinate reference system", out)


def test_compare_needs_two_series(provider, groundwater_sample, tmp_path):
    sample, _, _, _ = groundwater_sample
    output = tmp_path / "cc.gpkg"
    with pytest.raises(QgsProcessingException, match="at least two series"):
        _run("compareseries", {"PRECIPITATION_TABLE": sample.precipitation_table, "OUTPUT": str(output)})
    assert not output.exists()


class _CancelWhileReading(QgsProcessingFeedback):
    def setProgressText(self, text):  # noqa: N802
        super().setProgressText(text)
        if "GLDAS" in text:
            self.cancel()


def test_cancel_writes_nothing(provider, groundwater_sample, tmp_path):
    sample, area, _, _ = groundwater_sample
    output = tmp_path / "gws.gpkg"
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        _run("groundwaterstorage", {"TWS": sample.tws_files, "LSM": sample.lsm_files, "AREA": area,
                                    "OUTPUT": str(output)}, _CancelWhileReading())
    assert not output.exists()
