"""The sample study area: deterministic, readable by QGIS, and physically consistent with its own truth."""
import hashlib
import json
import os

import numpy as np
import pytest
from scipy import stats

from subsidence_plugin.core.io.points import read_points
from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.core.io.vectors import read_table
from subsidence_plugin.core.progress import Cancelled
from subsidence_plugin.core.sample_area import create_sample_area, years_since


def _digest(area):
    h = hashlib.sha256()
    for key in sorted(area.rasters):
        h.update(read_raster(area.rasters[key]).array.tobytes())
    ps = read_points(area.vector_path, "ps_points")
    h.update(ps.x.tobytes() + ps.y.tobytes() + ps.series.tobytes())
    return h.hexdigest()


def test_deterministic_for_a_seed(tmp_path, sample_area):
    again = create_sample_area(str(tmp_path / "again"), size=96, seed=7)
    other = create_sample_area(str(tmp_path / "other"), size=96, seed=8)
    assert _digest(again) == _digest(sample_area)
    assert _digest(other) != _digest(sample_area)
    assert again.summary == sample_area.summary


def test_contents_and_units(sample_area):
    files = sorted(os.listdir(sample_area.folder))
    for name in ("dem.tif", "landuse.tif", "image.tif", "thickness.tif", "interbed_thickness.tif",
                 "vertical_conductivity.tif", "groundwater_decline.tif",
                 "truth_displacement.tif", "truth_velocity.tif", "sample_area.gpkg", "sample_area.json"):
        assert name in files
    assert not [f for f in files if f.startswith(".")]
    assert set(sample_area.vector_layers) == {"rivers", "faults", "wells", "piezometers", "ps_points", "ds_points",
                                              "gps_stations", "gps_daily"}
    image = read_raster(sample_area.rasters["image"])
    assert image.band_names == ["green", "red", "nir", "swir"] and image.grid.nodata == 0
    assert 0 < (~image.valid[0]).mean() < 0.05  # the cloud
    landuse = read_raster(sample_area.rasters["landuse"]).array[0]
    assert set(np.unique(landuse)) == {1, 2, 3}
    refl = image.array.astype(float) / 1e4
    ndvi = (refl[2] - refl[1]) / (refl[2] + refl[1] + 1e-12)
    valid = image.valid[0]
    town, fields = np.median(ndvi[valid & (landuse == 1)]), np.median(ndvi[valid & (landuse == 2)])
    assert fields > 0.5 > town
    description = json.load(open(sample_area.description_path))
    assert description["crs"] == "EPSG:32613" and "negative = subsidence" in description["units"]["displacement"]


def test_ds_points_carry_the_defects_they_say(sample_area):
    """DS points: the truth plus noise of 1.5 x 2.5 mm, plus their simulated defect, which the defect field names."""
    from subsidence_plugin.core.sample_area import UNWRAPPING_JUMP_MM

    ds = read_points(sample_area.vector_path, "ds_points")
    t = years_since(sample_area.insar_dates, sample_area.pumping_start)
    truth = sample_area.model.displacement(ds.x, ds.y, t)
    residual = ds.series - (truth - truth[:, :1])
    defect = ds.attributes["defect"]
    clean, jump, spikes = defect == "none", defect == "unwrapping jump", defect == "spikes"
    assert 0.2 < (jump | spikes).mean() < 0.3 and jump.any() and spikes.any()
    assert residual[clean, 1:].std() == pytest.approx(3.75, rel=0.05)
    steps = np.abs(np.diff(residual[jump], axis=1)).max(axis=1)
    assert np.all(steps > UNWRAPPING_JUMP_MM - 6 * 3.75)
    assert np.all(np.abs(residual[spikes]).max(axis=1) > 12.0 - 4 * 3.75)
    assert sample_area.summary["ds_points"] == len(ds) and sample_area.summary["ds_defects"] == (~clean).sum()


def test_ps_points_equal_truth_within_noise(sample_area):
    ps = read_points(sample_area.vector_path, "ps_points")
    model = sample_area.model
    t = years_since(sample_area.insar_dates, sample_area.pumping_start)
    np.testing.assert_array_equal(ps.dates, sample_area.insar_dates)
    truth = model.displacement(ps.x, ps.y, t)
    truth -= truth[:, :1]
    residual = ps.series - truth
    assert np.all(residual[:, 0] == 0)
    assert abs(residual[:, 1:].mean()) < 0.05
    assert residual[:, 1:].std() == pytest.approx(2.5, rel=0.03)
    # cumulative displacement against the truth raster at each point's cell: noise plus sub-cell variation
    cum = read_raster(sample_area.rasters["truth_displacement"])
    rows, cols, inside = cum.grid.cell_of(ps.x, ps.y)
    assert inside.all()
    cell_truth = cum.band(0)[rows, cols]
    point_truth = truth[:, -1]
    sub_cell = np.abs(point_truth - cell_truth)
    assert np.all(np.abs(ps.numeric("cum_disp") - cell_truth) <= 5 * 2.5 + sub_cell + 1e-3)
    assert np.median(sub_cell) < 2.5
    # velocity: least-squares slope of the noisy series; its error std is sigma / sqrt(sum (t - mean t)^2)
    tc = t - t.mean()
    point_velocity = truth @ tc / (tc @ tc)
    expected = 2.5 / np.sqrt(tc @ tc)
    assert (ps.numeric("velocity") - point_velocity).std() == pytest.approx(expected, rel=0.15)
    cell_velocity = read_raster(sample_area.rasters["truth_velocity"]).band(0)[rows, cols]
    assert np.all(np.abs(ps.numeric("velocity") - cell_velocity)
                  <= 5 * expected + np.abs(point_velocity - cell_velocity) + 1e-3)


def test_truth_rasters_equal_the_model_at_cell_centres(sample_area):
    cum = read_raster(sample_area.rasters["truth_displacement"])
    rows, cols = np.mgrid[0:cum.grid.height:7, 0:cum.grid.width:7]
    x, y = cum.grid.cell_centres(rows.ravel(), cols.ravel())
    t = years_since(sample_area.insar_dates, sample_area.pumping_start)
    d = sample_area.model.displacement(x, y, t[[0, -1]])
    np.testing.assert_allclose(cum.band(0)[rows.ravel(), cols.ravel()], d[:, 1] - d[:, 0], rtol=1e-5, atol=1e-3)
    assert np.nanmax(cum.band(0)) <= 0.0  # subsidence only


def test_subsidence_largest_where_drawdown_and_thickness_largest(sample_area):
    velocity = read_raster(sample_area.rasters["truth_velocity"]).band(0)
    thickness = read_raster(sample_area.rasters["thickness"]).band(0)
    decline = read_raster(sample_area.rasters["groundwater_decline"]).band(0)
    load = (thickness * decline).ravel()
    rho = stats.spearmanr(-velocity.ravel(), load).correlation
    assert rho > 0.95
    fastest = np.argmin(velocity.ravel())
    assert load[fastest] >= np.quantile(load, 0.98)
    assert np.all(velocity[thickness == 0] == 0)


def test_interbed_rasters_give_the_basins_delay(sample_area):
    """tau = (b0 / 2)^2 S's / K'v from the two rasters, with S's = 1e-4 1/m, is the delay of the basin model."""
    import json

    from subsidence_plugin.core.sample_area import BasinModel
    from subsidence_plugin.core.timeseries.groundwater import delay_days

    b0 = read_raster(sample_area.rasters["interbed_thickness"])
    kv = read_raster(sample_area.rasters["vertical_conductivity"]).band(0)
    with open(f"{sample_area.folder}/sample_area.json", encoding="utf-8") as fh:
        model = BasinModel(**{k: np.array(v) if isinstance(v, list) else v
                              for k, v in json.load(fh)["model"].items()})
    rows, cols = np.meshgrid(np.arange(0, b0.grid.height, 17), np.arange(0, b0.grid.width, 13), indexing="ij")
    x, y = b0.grid.cell_centres(rows.ravel(), cols.ravel())
    tau = delay_days(b0.band(0)[rows, cols].ravel(), kv[rows, cols].ravel(), 1e-4)
    np.testing.assert_allclose(tau, model.delay(x, y) * 365.25, rtol=1e-5)
    assert b0.band(0).min() >= 1.0 and np.isclose(b0.band(0).max(), 0.25 * 120.0, rtol=0.2)


def test_groundwater_observations_follow_the_drawdown(sample_area):
    for layer, count in (("piezometers", 8), ("wells", 12)):
        piezo = read_points(sample_area.vector_path, layer)
        assert piezo.date_fields[0].startswith("D_") and piezo.series.shape == (count, 84)
        t = years_since(piezo.dates, sample_area.pumping_start)
        slopes = np.polyfit(t, piezo.series.T, 1)[0]
        rates = sample_area.model.drawdown_rate(piezo.x, piezo.y)
        np.testing.assert_allclose(-slopes, rates, rtol=0.05, atol=0.02)
    gps = read_table(sample_area.vector_path, "gps_daily")
    stations = read_points(sample_area.vector_path, "gps_stations")
    assert len(gps["date"]) == len(stations) * len(np.unique(gps["date"]))
    stable = stations.attributes["station"][stations.numeric("landuse") == 3][0]
    sel = gps["station"] == stable
    assert abs(np.polyfit(years_since(gps["date"][sel], gps["date"][0]), gps["up_mm"][sel], 1)[0]) < 1.0


def test_cancel_leaves_nothing_and_bad_sizes_are_refused(tmp_path):
    calls = []

    def cancel_after_three():
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        create_sample_area(str(tmp_path / "cancelled"), size=64, is_cancelled=cancel_after_three)
    assert not os.path.exists(tmp_path / "cancelled") or os.listdir(tmp_path / "cancelled") == []
    with pytest.raises(ValueError, match="at least 32"):
        create_sample_area(str(tmp_path / "tiny"), size=8)
    with pytest.raises(ValueError, match="cell size"):
        create_sample_area(str(tmp_path / "neg"), size=64, cell_size=0)


