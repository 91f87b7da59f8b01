"""The factor algorithms through Processing (as the toolbox runs them)."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import ogr

from subsidence_plugin.core.io.rasters import read_raster


def test_build_factor_stack_through_processing(provider, sample_area, tmp_path):
    import processing

    rasters = sample_area.rasters
    result = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["dem"], rasters["thickness"], rasters["image"]],
        "CATEGORICAL": [rasters["landuse"]], "ONE_HOT": True, "OUTPUT": str(tmp_path / "stack.tif")})
    out = read_raster(result["OUTPUT"])
    assert out.band_names == ["dem", "thickness", "image_green", "image_red", "image_nir", "image_swir",
                              "landuse_1", "landuse_2", "landuse_3"]
    assert result["BANDS"] == 9
    cloud = ~read_raster(rasters["image"]).valid[0]
    assert np.all(~out.valid[:, cloud])  # the image's cloud is nodata in every band
    np.testing.assert_array_equal(out.band(1)[~cloud], read_raster(rasters["thickness"]).band(0)[~cloud].astype(np.float32))


def test_spectral_index_through_processing(provider, sample_area, tmp_path):
    import processing

    result = processing.run("subsidence:spectralindex", {"INPUT": [sample_area.rasters["image"]], "INDEX": 0,
                                                         "SCALE": 0.0001, "OUTPUT": str(tmp_path / "ndvi.tif")})
    ndvi = read_raster(result["OUTPUT"]).band(0)
    landuse = read_raster(sample_area.rasters["landuse"]).array[0]
    assert np.nanmedian(ndvi[landuse == 2]) > 0.5 > np.nanmedian(ndvi[landuse == 1])
    assert np.isnan(ndvi[~read_raster(sample_area.rasters["image"]).valid[0]]).all()  # the cloud
    water = processing.run("subsidence:spectralindex", {"INPUT": [sample_area.rasters["image"]], "INDEX": 1,
                                                        "OUTPUT": str(tmp_path / "ndwi.tif")})
    assert np.nanmax(read_raster(water["OUTPUT"]).band(0)) > 0.4  # the river


def test_interpolate_points_through_processing(provider, sample_area, tmp_path):
    import processing

    piezo = f"{sample_area.vector_path}|layername=piezometers"
    common = {"INPUT": piezo, "FIELD": "D_20200115", "REFERENCE": sample_area.rasters["dem"], "NEIGHBOURS": 8}
    idw = processing.run("subsidence:interpolatepoints", {**common, "METHOD": 0, "OUTPUT": str(tmp_path / "i.tif")})
    krig = processing.run("subsidence:interpolatepoints", {**common, "METHOD": 1, "VARIOGRAM": 4,
                                                           "OUTPUT": str(tmp_path / "k.tif")})
    assert read_raster(idw["OUTPUT"]).band_names == ["D_20200115_idw"]
    kr = read_raster(krig["OUTPUT"])
    assert kr.band_names == ["D_20200115_kriged", "D_20200115_kriging_variance"]
    assert '"model": "linear"' in krig["VARIOGRAM_MODEL"] and krig["CV_RMSE"] > 0
    levels = read_raster(idw["OUTPUT"]).band(0)
    assert 1400 < np.nanmin(levels) and np.nanmax(levels) < 1500
    from qgis.core import QgsProcessingException
    with pytest.raises(QgsProcessingException):
        processing.run("subsidence:interpolatepoints", {**common, "FIELD": "piezo_id", "OUTPUT": str(tmp_path / "x.tif")})


def test_groundwater_change_through_processing(provider, sample_area, tmp_path):
    import processing
    from qgis.core import QgsProcessingException

    piezo = f"{sample_area.vector_path}|layername=piezometers"
    result = processing.run("subsidence:groundwaterchange", {
        "REFERENCE": sample_area.rasters["dem"], "PIEZOMETERS": piezo, "START": "2016-01-15", "END": "2020-12-15",
        "METHOD": 0, "NEIGHBOURS": 8, "OUTPUT": str(tmp_path / "gw.tif")})
    change = read_raster(result["OUTPUT"])
    from subsidence_plugin.core.io.points import read_points
    from subsidence_plugin.core.sample_area import years_since
    p = read_points(sample_area.vector_path, "piezometers")
    model = sample_area.model
    t = years_since(np.array(["2016-01-15", "2020-12-15"], dtype="datetime64[D]"), sample_area.pumping_start)
    truth = -model.drawdown_rate(p.x, p.y) * (model.forcing(t[1]) - model.forcing(t[0]))
    rows, cols, _ = change.grid.cell_of(p.x, p.y)
    # IDW honours the data: at the piezometers' cells it returns (nearly) their own change, which is the true
    # change plus the difference of two readings' noise (sigma 0.1 m each) and the sub-cell offset
    np.testing.assert_allclose(change.band(0)[rows, cols], truth, atol=0.45)
    assert np.nanmax(change.band(0)) < 0  # the water table declined everywhere
    twice = processing.run("subsidence:groundwaterchange", {
        "REFERENCE": sample_area.rasters["dem"], "SURFACE_START": sample_area.rasters["dem"],
        "SURFACE_END": sample_area.rasters["dem"], "OUTPUT": str(tmp_path / "zero.tif")})
    assert np.nanmax(np.abs(read_raster(twice["OUTPUT"]).band(0))) == 0
    with pytest.raises(QgsProcessingException):
        processing.run("subsidence:groundwaterchange", {"REFERENCE": sample_area.rasters["dem"], "PIEZOMETERS": piezo,
                                                       "START": "2030-01-01", "END": "2031-01-01",
                                                       "OUTPUT": str(tmp_path / "none.tif")})


def test_proximity_algorithms_through_processing(provider, sample_area, tmp_path):
    import processing

    rivers = f"{sample_area.vector_path}|layername=rivers"
    result = processing.run("subsidence:distancetofeatures", {"INPUT": rivers, "REFERENCE": sample_area.rasters["dem"],
                                                             "OUTPUT": str(tmp_path / "d.tif")})
    distance = read_raster(result["OUTPUT"])
    assert distance.band_names == ["distance_m"]
    ds = ogr.Open(sample_area.vector_path)
    layer = ds.GetLayerByName("rivers")
    wkts = [f.GetGeometryRef().ExportToWkt() for f in layer]
    grid = distance.grid
    xs, ys = grid.centre_axes()
    union = ogr.CreateGeometryFromWkt(wkts[0]).Union(ogr.CreateGeometryFromWkt(wkts[1]))
    for r, c in [(0, 0), (10, 50), (95, 3), (48, 48)]:
        p = ogr.Geometry(ogr.wkbPoint)
        p.AddPoint_2D(float(xs[c]), float(ys[r]))
        assert distance.band(0)[r, c] == pytest.approx(union.Distance(p), abs=1e-3)
    density = processing.run("subsidence:drainagedensity", {"INPUT": rivers, "REFERENCE": sample_area.rasters["dem"],
                                                           "RADIUS": 500, "OUTPUT": str(tmp_path / "dd.tif")})
    values = read_raster(density["OUTPUT"]).band(0)
    assert values.max() > 0.5 and values.min() == 0
    wells = processing.run("subsidence:drainagedensity", {"INPUT": f"{sample_area.vector_path}|layername=wells",
                                                         "REFERENCE": sample_area.rasters["dem"], "KIND": 1,
                                                         "RADIUS": 1000, "OUTPUT": str(tmp_path / "w.tif")})
    assert read_raster(wells["OUTPUT"]).band(0).max() >= 1 / np.pi  # at least one well per pi km^2
