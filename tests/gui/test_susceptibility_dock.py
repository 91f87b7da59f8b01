"""The Susceptibility dock: inventory + training chained in background tasks with live curves; PSO weights in
its table; cancel leaves nothing; missing inputs are explained."""
import os
import time

import numpy as np
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QApplication

from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.gui.docks.susceptibility_dock import SusceptibilityDock


def _dock(provider, sample_area, folder):
    import processing

    rasters = sample_area.rasters
    stack = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": rasters["dem"], "CONTINUOUS": [rasters["dem"], rasters["thickness"]],
        "CATEGORICAL": [rasters["landuse"]], "OUTPUT": str(folder / "stack.tif")})["OUTPUT"]
    points = QgsVectorLayer(f"{sample_area.vector_path}|layername=ps_points", "PS points", "ogr")
    stack_layer = QgsRasterLayer(stack, "stack")
    QgsProject.instance().addMapLayers([points, stack_layer])
    dock = SusceptibilityDock()
    dock.points.setLayer(points)
    dock.field.setField("velocity")
    dock.threshold.setValue(5.0)
    dock.stable.setValue(1.0)
    dock.stack.setLayer(stack_layer)
    dock.folder.setFilePath(str(folder))
    dock.epochs.setValue(4)
    dock.population.setValue(4)
    dock.iterations.setValue(1)
    dock.device.setCurrentText("cpu")
    return dock


def test_dock_chains_inventory_and_cnn_gwo(provider, sample_area, qgis_new_project, tmp_path,
        wait_for_dock):
    dock = _dock(provider, sample_area, tmp_path)
    before = len(QgsProject.instance().mapLayers())
    texts = []
    show = dock._show_status
    dock._show_status = lambda text: (texts.append(text), show(text))
    dock.run()
    assert dock.running and not dock.run_button.isEnabled()
    wait_for_dock(dock)
    assert dock.outcome == "done", dock.status.text()
    # issue 12: 'candidate n of N' (4 wolves x (1 + 1) = 8), two labelled loss curves (epochs restart)
    assert any("candidate 3 of 8" in t for t in texts) and any("candidate 8 of 8" in t for t in texts), texts[:3]
    assert dock.loss.labels == ["random split", "blocked split"]
    assert dock.loss.series[1].steps[0] == 1
    results = QgsProject.instance().layerTreeRoot().findGroup("Results")
    names = sorted(layer.name() for layer in results.findLayers())
    assert names == ["velocity susceptibility classes — CNN-GWO (1–5)",
                     "velocity susceptibility index — CNN-GWO (0–1)"], names
    assert os.path.exists(tmp_path / "inventory.gpkg") and os.path.exists(tmp_path / "susceptibility_model.pt")
    assert len(dock.fitness.training) >= 4 and dock.fitness.validation[-1] == max(dock.fitness.validation)
    assert len(dock.loss.training) >= 1
    assert len(QgsProject.instance().mapLayers()) == before + 2
    assert dock.status.text().startswith("Done. Test AUC")
    classes = read_raster(str(tmp_path / "susceptibility_classes.tif")).array[0]
    assert set(np.unique(classes)) <= {0, 1, 2, 3, 4, 5} and classes.max() == 5


def test_cancel_leaves_nothing(provider, sample_area, qgis_new_project, tmp_path,
        wait_for_dock):
    dock = _dock(provider, sample_area, tmp_path)
    dock.field_role.setCurrentIndex(0)
    dock.model.setCurrentIndex(0)
    dock.epochs.setValue(5000)
    dock.run()
    while dock.running and dock.algorithm.id() != "subsidence:trainsusceptibility":
        QApplication.processEvents()
        time.sleep(0.02)
    from qgis.core import Qgis, QgsApplication

    logged = []
    QgsApplication.messageLog().messageReceived.connect(lambda text, tag, level: logged.append((text, level)))
    statuses = []
    QgsApplication.taskManager().statusChanged.connect(lambda task_id, status: statuses.append(status))
    dock.cancel()
    wait_for_dock(dock)
    QApplication.processEvents()
    assert dock.outcome == "cancelled" and "Cancelled" in dock.status.text()
    assert not [p for p in os.listdir(tmp_path) if p.startswith("susceptibility")]
    # issue 12: the kept inventory is named; a cancel is no failure: not Terminated, never critical, logged once
    assert os.path.exists(tmp_path / "inventory.gpkg") and str(tmp_path / "inventory.gpkg") in dock.status.text()
    assert "Nothing was written" not in dock.status.text()
    assert not [t for t, level in logged if level == Qgis.Critical], logged
    assert len([t for t, level in logged if "cancelled" in t.lower()]) == 1, logged
    from qgis.core import QgsTask
    assert QgsTask.Terminated not in statuses


def test_pso_weights_fill_the_table(provider, qgis_new_project, tmp_path, wait_for_dock, gardlif_layers):
    from subsidence_plugin.core.io.vectors import VectorLayer, write_geopackage
    from subsidence_plugin.core.susceptibility import gardlif

    grid, values, paths = gardlif_layers(str(tmp_path))
    table = gardlif.default_table()
    ratings = np.stack([gardlif.rate_layer(values[k].astype(np.float32), table, k) for k in gardlif.LAYERS])
    rate = np.tensordot(np.array([5.0, 1, 1, 4, 1, 3, 2]), ratings, axes=1)
    rows, cols = np.nonzero(np.ones(grid.shape, dtype=bool))
    x, y = grid.cell_centres(rows, cols)
    points_path = write_geopackage(str(tmp_path / "pts.gpkg"), [VectorLayer(
        "pts", {"velocity": -rate[rows, cols]}, points=np.column_stack([x, y]))], grid.crs_wkt)
    points = QgsVectorLayer(f"{points_path}|layername=pts", "pts", "ogr")
    layers = {k: QgsRasterLayer(p, k) for k, p in paths.items()}
    QgsProject.instance().addMapLayers([points] + list(layers.values()))
    dock = SusceptibilityDock()
    dock.tabs.setCurrentIndex(1)
    dock.gardlif_points.setLayer(points)
    dock.gardlif_field.setField("velocity")
    for key, combo in dock.layers.items():
        combo.setLayer(layers[key])
    dock.pso_iterations.setValue(30)
    dock.folder.setFilePath(str(tmp_path))
    dock.run()
    wait_for_dock(dock)
    assert dock.outcome == "done", dock.status.text()
    weights = [float(dock.weights.item(r, 2).text()) for r in range(7)]
    assert all(0 <= w <= 5 for w in weights) and "Pearson r" in dock.status.text()


def test_missing_inputs_are_explained(qgis_new_project):
    dock = SusceptibilityDock()
    dock.run()
    assert "Choose the points" in dock.status.text() and not dock.running
    dock.tabs.setCurrentIndex(1)
    dock.run()
    assert "seven GARDLIF layers" in dock.status.text() and not dock.running
