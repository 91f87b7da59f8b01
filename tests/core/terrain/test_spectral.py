"""Spectral indices against hand computation; dates; NDVI change; Processing on the sample image."""
import numpy as np
import pytest

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import read_raster, write_raster
from subsidence_plugin.core.terrain.spectral import date_from_name, spectral_index

GRID = RasterGrid.from_origin(500000.0, 4000000.0, 30.0, 3, 2, crs_wkt_from_epsg(32615), 0)


def _image(path, green, red, nir, swir, names=("green", "red", "nir", "swir")):
    return write_raster(str(path), np.stack([green, red, nir, swir]).astype(np.uint16), GRID, list(names))


def test_indices_by_hand_with_scale_offset_and_nodata(tmp_path):
    g = np.array([[1000, 2000, 0], [500, 500, 3000]])
    r = np.array([[1000, 1000, 800], [500, 500, 100]])
    n = np.array([[3000, 1000, 4000], [1500, 0, 100]])
    s = np.array([[2000, 1000, 1000], [500, 500, 100]])
    path = _image(tmp_path / "img.tif", g, r, n, s)
    ndvi = read_raster(spectral_index([path], str(tmp_path / "ndvi.tif"), "ndvi", scale=1e-4)).band(0)
    np.testing.assert_allclose(ndvi[0, :2], [(0.3 - 0.1) / 0.4, 0.0], rtol=1e-6)
    assert ndvi[1, 0] == pytest.approx(0.5, rel=1e-6)
    assert np.isnan(ndvi[1, 1])  # NIR is nodata (0)
    mcf = read_raster(spectral_index([path], str(tmp_path / "m.tif"), "ndwi_mcfeeters", scale=1e-4)).band(0)
    assert mcf[0, 0] == pytest.approx((0.1 - 0.3) / 0.4, rel=1e-6) and np.isnan(mcf[0, 2])  # green nodata
    gao = read_raster(spectral_index([path], str(tmp_path / "g.tif"), "ndwi_gao", scale=1e-4)).band(0)
    assert gao[0, 0] == pytest.approx(0.2, rel=1e-6) and gao[0, 2] == pytest.approx(0.6, rel=1e-6)
    # an offset changes the index: reflectance = DN * 1e-4 - 0.05
    off = read_raster(spectral_index([path], str(tmp_path / "o.tif"), "ndvi", scale=1e-4, offset=-0.05)).band(0)
    assert off[0, 0] == pytest.approx((0.25 - 0.05) / 0.30, rel=1e-6)
    # the bands can be given by number when descriptions do not name them
    anonymous = _image(tmp_path / "anon.tif", g, r, n, s, names=("b1", "b2", "b3", "b4"))
    with pytest.raises(ValueError, match="no band is named as nir"):
        spectral_index([anonymous], str(tmp_path / "x.tif"), "ndvi")
    numbered = spectral_index([anonymous], str(tmp_path / "y.tif"), "ndvi", bands={"nir": 3, "red": 2}, scale=1e-4)
    np.testing.assert_array_equal(read_raster(numbered).band(0), ndvi)


def test_annual_ndvi_change_and_dates(tmp_path):
    paths = []
    for k, day in enumerate(["20140101", "20150101", "20170101"]):
        red = np.full((2, 3), 1000)
        ndvi = 0.2 + 0.1 * k
        nir = np.full((2, 3), np.round(1000 * (1 + ndvi) / (1 - ndvi)))
        paths.append(_image(tmp_path / f"scene_{day}.tif", red, red, nir, red))
    out = read_raster(spectral_index(paths, str(tmp_path / "c.tif"), "ndvi_change")).band(0)
    years = np.array([0, 365, 1096]) / 365.25
    achieved = [(np.round(1000 * (1 + v) / (1 - v)) - 1000) / (np.round(1000 * (1 + v) / (1 - v)) + 1000)
                for v in (0.2, 0.3, 0.4)]
    expected = np.polyfit(years, achieved, 1)[0]
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert str(date_from_name("LE70220491999322EDC01_stack")) == "1999-11-18"
    assert str(date_from_name("S2_2020-06-30_B04")) == "2020-06-30"
    with pytest.raises(ValueError, match="No date"):
        date_from_name("image.tif")
    with pytest.raises(ValueError, match="at least two"):
        spectral_index(paths[:1], str(tmp_path / "d.tif"), "ndvi_change")
    other = RasterGrid.from_origin(0, 0, 30.0, 3, 2, GRID.crs_wkt, 0)
    moved = write_raster(str(tmp_path / "moved_20180101.tif"), np.ones((4, 2, 3), np.uint16), other,
                         ["green", "red", "nir", "swir"])
    with pytest.raises(ValueError, match="not on the grid"):
        spectral_index(paths + [moved], str(tmp_path / "e.tif"), "ndvi_change")
    assert not (tmp_path / "e.tif").exists()




def test_an_all_nodata_image_is_refused_and_nothing_is_written(tmp_path):
    """Issue 11: an image whose every cell is nodata gave an all-nodata index raster."""
    zeros = np.zeros((2, 3))
    empty = _image(tmp_path / "empty_20150101.tif", zeros, zeros, zeros, zeros)  # nodata 0 everywhere
    with pytest.raises(ValueError, match=r"empty_20150101\.tif: no cell has a valid nir and red pair \(every cell is "
                                         r"nodata, or nir \+ red is not positive\); nothing was written"):
        spectral_index([empty], str(tmp_path / "ndvi.tif"), "ndvi")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty_20150101.tif"]
    # NDVI change: the empty image is named, not the usable one
    red, nir = np.full((2, 3), 1000), np.full((2, 3), 3000)
    good = _image(tmp_path / "good_20140101.tif", red, red, nir, red)
    with pytest.raises(ValueError, match=r"^\S*empty_20150101\.tif: no cell has a valid"):
        spectral_index([good, empty], str(tmp_path / "change.tif"), "ndvi_change")
    # two usable images without a common valid cell
    left = _image(tmp_path / "left_20160101.tif", red, red, np.where(np.arange(3) < 1, nir, 0), red)
    right = _image(tmp_path / "right_20170101.tif", red, red, np.where(np.arange(3) > 1, nir, 0), red)
    with pytest.raises(ValueError, match="the images share no cell with a valid ndvi_change"):
        spectral_index([left, right], str(tmp_path / "change.tif"), "ndvi_change")
    assert not (tmp_path / "change.tif").exists() and not (tmp_path / "ndvi.tif").exists()
    assert len(list(tmp_path.iterdir())) == 4
