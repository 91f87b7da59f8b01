"""Susceptibility and GARDLIF through Processing on the sample area: inventory, factor analysis, training with
every model, classes, GARDLIF by hand, PSO weights, and the refusals of bad input."""
import json
import os

import numpy as np
import pytest
from qgis.core import QgsProcessingException, QgsVectorLayer

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.points import read_points
from subsidence_plugin.core.io.rasters import read_raster, write_raster
from subsidence_plugin.core.susceptibility import gardlif


@pytest.fixture
def stack_and_inventory(provider, sample_area, tmp_path):
    import processing

    rasters = sample_area.rasters
    stack = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["dem"], rasters["thickness"],
                                                    rasters["groundwater_decline"]],
        "CATEGORICAL": [rasters["landuse"]], "OUTPUT": str(tmp_path / "stack.tif")})["OUTPUT"]
    inventory = processing.run("subsidence:subsidenceinventory", {
        "INPUT": f"{sample_area.vector_path}|layername=ps_points", "FIELD": "velocity", "STACK": stack,
        "THRESHOLD": 5.0, "STABLE_THRESHOLD": 1.0, "OUTPUT": str(tmp_path / "inventory.gpkg")})
    return stack, inventory


def test_inventory_cells_match_the_points(stack_and_inventory, sample_area):
    stack, result = stack_and_inventory
    layer = QgsVectorLayer(result["OUTPUT"], "inventory", "ogr")
    values = {f["subsiding"]: 0 for f in layer.getFeatures()}
    assert set(values) == {0, 1}
    assert result["SUBSIDING"] + result["STABLE"] == layer.featureCount()
    features = list(layer.getFeatures())
    velocity = np.array([f["velocity"] for f in features])
    label = np.array([f["subsiding"] for f in features])
    assert np.all(velocity[label == 1] <= -5.0) and np.all(np.abs(velocity[label == 0]) <= 1.0)
    tests = np.array([f["random_split"] == "test" for f in features])
    assert tests[label == 1].mean() == pytest.approx(0.3, abs=0.01)
    # a cell's velocity is the mean of its points
    points = read_points(sample_area.vector_path, "ps_points")
    grid = read_raster(stack).grid
    rows, cols, _ = grid.cell_of(points.x, points.y)
    f = features[0]
    in_cell = (rows == f["row"]) & (cols == f["col"])
    assert f["velocity"] == pytest.approx(points.numeric("velocity")[in_cell].mean())


def test_factor_analysis_tables_and_report(stack_and_inventory, tmp_path):
    import processing

    stack, inventory = stack_and_inventory
    result = processing.run("subsidence:factoranalysis", {
        "INVENTORY": inventory["OUTPUT"], "STACK": stack, "REPORT": str(tmp_path / "fa.html"),
        "FR_TABLE": str(tmp_path / "fr.gpkg"), "STATISTICS": str(tmp_path / "stats.gpkg"),
        "CORRELATION": str(tmp_path / "corr.gpkg")})
    fr = QgsVectorLayer(result["FR_TABLE"], "fr", "ogr")
    rows = [f.attributes() for f in fr.getFeatures()]
    by_factor = {}
    for row in rows:
        by_factor.setdefault(row[1], []).append(row)
    assert set(by_factor) == {"dem", "thickness", "groundwater_decline", "landuse"}
    assert len(by_factor["landuse"]) == 3 and len(by_factor["dem"]) == 5
    for factor_rows in by_factor.values():  # FR = subsiding share / area share, shares sum to 1
        cell_share = np.array([r[5] for r in factor_rows])
        hit_share = np.array([r[8] for r in factor_rows])
        frs = np.array([r[9] if r[9] is not None else np.nan for r in factor_rows], dtype=float)
        assert cell_share.sum() == pytest.approx(1.0) and hit_share.sum() == pytest.approx(1.0)
        ok = cell_share > 0
        np.testing.assert_allclose(frs[ok], hit_share[ok] / cell_share[ok], rtol=1e-9)
    # the basin's thick clay subsides: FR rises to well above 1 in the thickest class
    assert by_factor["thickness"][-1][9] > 1.5 > by_factor["thickness"][0][9]
    stats = QgsVectorLayer(result["STATISTICS"], "stats", "ogr")
    assert all(f["vif"] >= 1.0 and f["tolerance"] == pytest.approx(1 / f["vif"]) for f in stats.getFeatures())
    html = open(result["REPORT"]).read()
    assert "Frequency ratio per class" in html and html.count("data:image/png") == 5


@pytest.mark.parametrize("model", [0, 1, 2, 3])
def test_train_susceptibility_models(stack_and_inventory, tmp_path, model):
    import processing

    stack, inventory = stack_and_inventory
    result = processing.run("subsidence:trainsusceptibility", {
        "INVENTORY": inventory["OUTPUT"], "STACK": stack, "MODEL": model, "EPOCHS": 12, "POPULATION": 4,
        "ITERATIONS": 1, "DEVICE": 3, "OUTPUT": str(tmp_path / "index.tif"),
        "CLASSES_OUTPUT": str(tmp_path / "classes.tif"), "OUTPUT_MODEL": str(tmp_path / "model.pt"),
        "REPORT": str(tmp_path / "report.html")})
    index = read_raster(result["OUTPUT"]).band(0)
    valid = np.isfinite(index)
    assert valid.mean() > 0.9 and index[valid].min() >= 0 and index[valid].max() <= 1
    classes = read_raster(result["CLASSES_OUTPUT"]).array[0]
    # quintiles ranked on the network's logit (the index, for FR): no class collapses where probabilities
    # saturate (FR-encoded inputs are discrete, so tied cells share a class and shares are not exactly 20 %),
    # and never a higher class for a lower index
    shares = np.bincount(classes[valid], minlength=6)[1:] / valid.sum()
    assert shares.min() > 0.01, shares
    order = np.argsort(index[valid], kind="stable")
    assert (np.diff(classes[valid][order].astype(int)) >= 0).all() or model == 3
    assert (classes[~valid] == 0).all()
    assert not any(name.endswith("ranking_score.tif") for name in os.listdir(tmp_path))
    assert result["AUC"] > 0.75 and result["FR_AUC"] > 0.75 and 0 < result["BLOCKED_AUC"] <= 1
    description = json.load(open(tmp_path / "model.json"))
    assert description["format"] == "subsidence-model/1"
    assert description["kind"] == ("frequency-ratio" if model == 3 else "susceptibility-cnn")
    applied = processing.run("subsidence:applymodel", {"MODEL": result["OUTPUT_MODEL"], "STACK": stack,
                                                       "OUTPUT": str(tmp_path / "applied.tif")})
    again = read_raster(applied["OUTPUT"]).band(0)
    np.testing.assert_array_equal(np.isfinite(again), valid)
    np.testing.assert_allclose(again[valid], index[valid], rtol=0, atol=1e-6)
    assert [f["name"] for f in description["encoder"]["factors"]][-1] == "landuse"
    html = open(result["REPORT"]).read()
    assert "ROC curves, test part of the random split" in html and "test part of the blocked split" in html
    if model in (1, 2):  # GWO, ICA
        assert description["tuned"]["epochs"] <= 12 and len(description["tuning_history"]) == 1


def test_training_is_reproducible(stack_and_inventory, tmp_path):
    import processing

    stack, inventory = stack_and_inventory
    runs = []
    for name in ("a", "b"):
        runs.append(processing.run("subsidence:trainsusceptibility", {
            "INVENTORY": inventory["OUTPUT"], "STACK": stack, "MODEL": 0, "EPOCHS": 5, "DEVICE": 3,
            "BLOCKED": False, "OUTPUT": str(tmp_path / f"{name}.tif"), "CLASSES_OUTPUT": str(tmp_path / f"c{name}.tif"),
            "OUTPUT_MODEL": str(tmp_path / f"{name}.pt"), "REPORT": str(tmp_path / f"{name}.html")}))
    np.testing.assert_array_equal(read_raster(runs[0]["OUTPUT"]).array, read_raster(runs[1]["OUTPUT"]).array)


def test_classify_susceptibility_methods(provider, tmp_path):
    import processing

    grid = RasterGrid.from_origin(500000.0, 4001000.0, 10.0, 100, 100, crs_wkt_from_epsg(32633), -9999.0)
    values = np.add.outer(np.arange(100.0), np.zeros(100)).astype(np.float32)
    values[0, :] = -9999.0
    path = write_raster(str(tmp_path / "index.tif"), values, grid, ["index"])
    quantile = processing.run("subsidence:classifysusceptibility", {
        "INPUT": path, "METHOD": 0, "OUTPUT": str(tmp_path / "q.tif"), "TABLE": str(tmp_path / "q.gpkg")})
    classes = read_raster(quantile["OUTPUT"]).array[0]
    assert (classes[0] == 0).all() and classes[1, 0] == 1 and classes[99, 0] == 5
    table = [f.attributes() for f in QgsVectorLayer(quantile["TABLE"], "t", "ogr").getFeatures()]
    assert [r[2] for r in table] == ["very low", "low", "moderate", "high", "very high"]
    assert sum(r[6] for r in table) == pytest.approx(100.0)
    equal = processing.run("subsidence:classifysusceptibility", {
        "INPUT": path, "METHOD": 2, "OUTPUT": str(tmp_path / "e.tif")})
    # equal intervals of 1..99: breaks 20.6, 40.2, 59.8, 79.4
    np.testing.assert_array_equal(read_raster(equal["OUTPUT"]).array[0][[20, 21, 40, 41, 79, 80], 0], [1, 2, 2, 3, 4, 5])


def test_gardlif_equals_a_hand_computation(provider, tmp_path, gardlif_layers):
    import processing

    grid, values, paths = gardlif_layers(str(tmp_path))
    result = processing.run("subsidence:gardlif", {**{k.upper(): p for k, p in paths.items()},
                                                   "OUTPUT": str(tmp_path / "spi.tif"),
                                                   "CLASSES_OUTPUT": str(tmp_path / "cls.tif")})
    table = gardlif.default_table()
    expected = sum(gardlif.DEFAULT_WEIGHTS[k] * gardlif.rate_layer(values[k].astype(np.float32), table, k)
                   for k in gardlif.LAYERS)
    np.testing.assert_allclose(read_raster(result["OUTPUT"]).array[0], expected, rtol=1e-6)
    # one cell by hand: decline 1.0 m/yr -> 4, media code 1 clay -> 10, recharge 10 cm/yr -> 7, discharge 3 -> 6,
    # land use 2 agriculture -> 8, thickness 100 m -> 4, fault 2500 m -> 6
    assert 5 * 4 + 5 * 10 + 4 * 7 + 4 * 6 + 3 * 8 + 2 * 4 + 1 * 6 == 160
    cell = {"groundwater_decline": 1.0, "aquifer_media": 1, "recharge": 10, "discharge": 3, "land_use": 2,
            "aquifer_thickness": 100, "fault_distance": 2500}
    rated = [gardlif.rate_layer(np.array([float(cell[k])]), table, k)[0] for k in gardlif.LAYERS]
    assert float(np.dot(gardlif.weights_vector(gardlif.DEFAULT_WEIGHTS), rated)) == 160
    classes = read_raster(result["CLASSES_OUTPUT"]).array[0]
    np.testing.assert_array_equal(classes, gardlif.vulnerability_classes(expected, np.array([5, 5, 4, 4, 3, 2, 1.0])))


def test_gardlif_refusals(provider, tmp_path, gardlif_layers):
    import processing

    grid, values, paths = gardlif_layers(str(tmp_path))
    params = {**{k.upper(): p for k, p in paths.items()}, "OUTPUT": str(tmp_path / "spi.tif"),
              "CLASSES_OUTPUT": str(tmp_path / "cls.tif")}
    other = RasterGrid.from_origin(500000.0, 4002000.0, 50.0, 40, 40, grid.crs_wkt, -9999.0)
    params["FAULT_DISTANCE"] = write_raster(str(tmp_path / "f50.tif"), np.ones((40, 40), np.float32), other, ["f"])
    with pytest.raises(QgsProcessingException, match="not on the grid"):
        processing.run("subsidence:gardlif", params)
    params["FAULT_DISTANCE"] = paths["fault_distance"]
    rows = [r for r in gardlif.table_rows(gardlif.default_table()) if not (r[0] == "land_use" and r[1] == 8)]
    params["TABLE"] = [v for row in rows for v in row]
    with pytest.raises(QgsProcessingException, match="does not cover .* land_use .*code"):
        processing.run("subsidence:gardlif", params)
    params.pop("TABLE")
    params["WEIGHTS"] = "5, 5, 4"
    with pytest.raises(QgsProcessingException, match="seven"):
        processing.run("subsidence:gardlif", params)
    assert not (tmp_path / "spi.tif").exists() and not (tmp_path / "cls.tif").exists()


def test_optimize_weights_raises_the_correlation(provider, tmp_path, gardlif_layers):
    import processing

    from subsidence_plugin.core.io.vectors import VectorLayer, write_geopackage

    grid, values, paths = gardlif_layers(str(tmp_path))
    table = gardlif.default_table()
    ratings = np.stack([gardlif.rate_layer(values[k].astype(np.float32), table, k) for k in gardlif.LAYERS])
    truth = np.array([5.0, 0.5, 1.0, 4.0, 0.5, 3.0, 2.0])
    rate = np.tensordot(truth, ratings, axes=1)
    rows, cols = np.nonzero(np.ones(grid.shape, dtype=bool))
    x, y = grid.cell_centres(rows, cols)
    points = write_geopackage(str(tmp_path / "pts.gpkg"), [VectorLayer(
        "pts", {"velocity": -rate[rows, cols]}, points=np.column_stack([x, y]))], grid.crs_wkt)
    result = processing.run("subsidence:optimizeweights", {
        "POINTS": f"{points}|layername=pts", "FIELD": "velocity", **{k.upper(): p for k, p in paths.items()},
        "ITERATIONS": 80, "OUTPUT": str(tmp_path / "spi.tif"), "CLASSES_OUTPUT": str(tmp_path / "cls.tif"),
        "WEIGHTS_TABLE": str(tmp_path / "w.gpkg"), "REPORT": str(tmp_path / "pso.html")})
    assert result["R_AFTER"] > 0.999 and result["R_AFTER"] > result["R_BEFORE"]
    assert result["CI_AFTER"] >= result["CI_BEFORE"] and result["CI_AFTER"] > 0.9 * 4 * 400
    weights = np.array([float(w) for w in result["OPTIMISED_WEIGHTS"].split(",")])
    np.testing.assert_allclose(weights / weights.sum(), truth / truth.sum(), atol=0.02)
    np.testing.assert_allclose(read_raster(result["OUTPUT"]).array[0],
                               np.tensordot(weights, ratings, axes=1), rtol=1e-3)
    assert "PSO convergence" in open(result["REPORT"]).read()
    classes = read_raster(result["CLASSES_OUTPUT"]).array[0]  # quartiles of the PSO-weighted index
    shares = np.bincount(classes.ravel(), minlength=5)[1:] / classes.size
    assert shares.min() >= 0.01 and abs(shares - 0.25).max() < 0.05


def test_inventory_refusals(provider, sample_area, tmp_path):
    import processing

    base = {"INPUT": f"{sample_area.vector_path}|layername=ps_points", "FIELD": "velocity",
            "STACK": sample_area.rasters["dem"], "OUTPUT": str(tmp_path / "inv.gpkg")}
    with pytest.raises(QgsProcessingException, match="only one class"):
        processing.run("subsidence:subsidenceinventory", {**base, "THRESHOLD": 1e6, "STABLE_THRESHOLD": 1.0})
    with pytest.raises(QgsProcessingException, match="Too few"):
        processing.run("subsidence:subsidenceinventory", {**base, "THRESHOLD": 5.0, "STABLE_THRESHOLD": 0.0001})
    assert not (tmp_path / "inv.gpkg").exists()
