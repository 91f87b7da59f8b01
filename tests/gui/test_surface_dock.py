"""The Subsidence surface dock runs the algorithms in a background task, live loss curve, cancel, results."""
import os

import numpy as np
from qgis.core import QgsMapLayerLegendUtils, QgsProject, QgsRasterLayer, QgsVectorLayer

from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.gui.docks.surface_dock import SurfaceDock


def _dock(sample_area, qgis_new_project, folder):
    points = QgsVectorLayer(f"{sample_area.vector_path}|layername=ps_points", "PS points", "ogr")
    dem = QgsRasterLayer(sample_area.rasters["dem"], "DEM")
    QgsProject.instance().addMapLayers([points, dem], False)
    root = QgsProject.instance().layerTreeRoot()
    root.addLayer(dem)
    root.insertGroup(0, "Observations").addLayer(points)
    dock = SurfaceDock()
    dock.points.setLayer(points)
    dock.field.setField("velocity")
    dock.stack.setLayer(dem)
    dock.folder.setFilePath(str(folder))
    dock.epochs.setValue(3)
    dock.device.setCurrentText("cpu")
    return dock


def test_dock_trains_in_a_task_with_a_live_loss_curve(provider, sample_area, qgis_new_project, tmp_path,
        wait_for_dock):
    dock = _dock(sample_area, qgis_new_project, tmp_path)
    before = len(QgsProject.instance().mapLayers())
    dock.run()
    assert dock.running and not dock.run_button.isEnabled()
    wait_for_dock(dock)
    assert dock.outcome == "done", dock.status.text()
    assert len(dock.loss.training) == 3 and len(dock.loss.validation) == 3
    assert os.path.exists(tmp_path / "patch_cnn.pt") and os.path.exists(tmp_path / "patch_cnn.tif")
    assert len(QgsProject.instance().mapLayers()) == before + 1
    assert dock.status.text().startswith("Done.") and dock.run_button.isEnabled()
    dock.method.setCurrentIndex(2)  # IDW through the same dock
    dock.run()
    wait_for_dock(dock)
    assert np.isfinite(read_raster(str(tmp_path / "idw.tif")).band(0)).all()
    # issue 12: results in a "Results" group right below the points' group, named by field, method and units
    root = QgsProject.instance().layerTreeRoot()
    top = [child.name() for child in root.children()]
    assert top.index("Results") == top.index("Observations") + 1, top
    names = [layer.name() for layer in root.findGroup("Results").findLayers()]
    assert names == ["velocity — IDW (mm/yr)", "velocity — patch CNN (mm/yr)"], names
    for node in root.findGroup("Results").findLayers():  # legend heading without the band's '(Gray)'
        label = QgsMapLayerLegendUtils.legendNodeUserLabel(node, 0)
        assert label.startswith("Band 1") and "Gray" not in label, label


def test_cancel_leaves_nothing(provider, sample_area, qgis_new_project, tmp_path,
        wait_for_dock):
    dock = _dock(sample_area, qgis_new_project, tmp_path)
    dock.epochs.setValue(500)
    dock.run()
    dock.cancel()
    wait_for_dock(dock)
    assert dock.outcome == "cancelled" and "Cancelled" in dock.status.text()
    assert not [p for p in os.listdir(tmp_path) if p.endswith((".pt", ".tif"))]


def test_a_cancel_from_the_task_bar_reaches_the_algorithm(provider, sample_area, qgis_new_project, tmp_path,
        wait_for_dock):
    """QGIS's task bar calls QgsTask.cancel() (the docks themselves only `stop()` their tasks: cancel() on a task
    the thread pool is just starting crashes QGIS 3.22); the running algorithm must still see it."""
    import time

    from qgis.core import QgsTask
    from qgis.PyQt.QtWidgets import QApplication
    dock = _dock(sample_area, qgis_new_project, tmp_path)
    dock.epochs.setValue(500)
    dock.run()
    start = time.time()
    while dock.task.status() != QgsTask.Running:
        QApplication.processEvents()
        assert time.time() - start < 60
    QgsTask.cancel(dock.task)
    wait_for_dock(dock)
    assert dock.outcome == "cancelled" and "Cancelled" in dock.status.text()
    assert len(dock.loss.training) < 500
    assert not [p for p in os.listdir(tmp_path) if p.endswith((".pt", ".tif"))]


def test_missing_inputs_are_explained(qgis_new_project):
    dock = SurfaceDock()
    dock.run()
    assert "Choose the points" in dock.status.text() and not dock.running
