"""Run by QGIS desktop (--code) after start-up: report what the plugin added, check the docks (hidden at start;
each opened by its menu action is visible and the main window still fits a 1366 x 768 screen; screenshots to
$SUBSIDENCE_CI_SHOTS), run an algorithm the way the toolbox does and report how its outputs were styled, pick a
PS point of that sample area with the Time series dock and report what it plots, then quit."""
import json
import os
import traceback

import qgis.utils
from qgis.core import Qgis, QgsApplication
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QApplication, QToolBar

from subsidence_plugin.dependencies import missing_packages

SCREEN = (1366, 768)
window = qgis.utils.iface.mainWindow()
shots = os.environ.get("SUBSIDENCE_CI_SHOTS") or os.path.dirname(os.environ["SUBSIDENCE_CI_RESULT"])
try:
    import pykrige  # noqa: F401
    import torch

    dependencies = f"torch {torch.__version__}: {float(torch.ones(3).sum())}"
except Exception as error:  # report any import failure inside QGIS
    dependencies = f"failed: {error!r}"
provider = QgsApplication.processingRegistry().providerById("subsidence")
plugin = qgis.utils.plugins.get("subsidence_plugin")
result = {
    "qgis": Qgis.QGIS_VERSION,
    "plugin_loaded": "subsidence_plugin" in qgis.utils.plugins and "subsidence_plugin" in qgis.utils.active_plugins,
    "provider": provider is not None and provider.name() == "Land subsidence",
    "algorithms": len(provider.algorithms()) if provider is not None else 0,
    "menu": any(a.text() == "&Land subsidence" for a in window.menuBar().actions()),
    "toolbar": any(t.windowTitle() == "Land subsidence" for t in window.findChildren(QToolBar)),
    "missing_packages": missing_packages(),
    "dependencies": dependencies,
    "docks": {},
}
DOCKS = (("surface", "Subsidence surface…", "surface_dock"),
         ("susceptibility", "Susceptibility…", "susceptibility_dock"),
         ("series", "Time series…", "series_dock"))


def finish():
    with open(os.environ["SUBSIDENCE_CI_RESULT"], "w", encoding="utf-8") as fh:
        json.dump(result, fh)
    QTimer.singleShot(200, lambda: os._exit(0))


def check_dock(index):
    try:
        if index > 0:  # the previous dock: record, screenshot, close
            name, _, attribute = DOCKS[index - 1]
            dock = getattr(plugin, attribute)
            frame = window.frameGeometry()
            path = os.path.join(shots, f"qgis_{name}_dock_1366x768.png")
            screen = QApplication.primaryScreen()
            screen.grabWindow(0).save(path)
            result["docks"][name] = {
                "visible": dock.isVisible(), "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
                "fits": frame.width() <= SCREEN[0] and frame.height() <= SCREEN[1] and frame.x() >= 0 and
                frame.y() >= 0 and frame.right() < SCREEN[0] and frame.bottom() < SCREEN[1],
                "dock_size": [dock.width(), dock.height()],
                "dock_minimum": [dock.minimumSizeHint().width(), dock.minimumSizeHint().height()],
                "screen": [screen.geometry().width(), screen.geometry().height()],
                "screenshot": path}
            print(f"[probe] screenshot {path}", flush=True)
            dock.hide()
        if index == len(DOCKS):
            run_like_the_toolbox()
            pick_a_point()
            return
        _, text, _ = DOCKS[index]
        action = next(a for a in plugin.actions if a.text() == text)
        action.trigger()  # as the menu does
        QTimer.singleShot(1500, lambda: check_dock(index + 1))
    except Exception:  # noqa: BLE001 - report and quit instead of hanging
        result["probe_error"] = traceback.format_exc()
        finish()


def run_like_the_toolbox():
    """createsamplearea through processing.runAndLoadResults (the toolbox's loading of results): the renderers
    and raster legend headings the outputs arrive with, and a screenshot of the map."""
    import tempfile

    import processing
    from qgis.core import QgsMapLayerLegendUtils, QgsProject

    processing.runAndLoadResults("subsidence:createsamplearea",
                                 {"SIZE": 48, "OUTPUT_FOLDER": os.path.join(tempfile.mkdtemp(), "area")})
    styles = {}
    for node in QgsProject.instance().layerTreeRoot().findLayers():
        layer = node.layer()
        label = QgsMapLayerLegendUtils.legendNodeUserLabel(node, 0) if layer.type() == layer.RasterLayer else ""
        styles[layer.name()] = {"renderer": layer.renderer().type(), "legend": label}
    result["toolbox_styles"] = styles
    canvas = qgis.utils.iface.mapCanvas()
    canvas.setExtent(canvas.fullExtent())
    canvas.refreshAllLayers()
    for _ in range(20):  # let the canvas render before the screenshot
        QApplication.processEvents()
        canvas.waitWhileRendering()
    path = os.path.join(shots, "qgis_toolbox_outputs_1366x768.png")
    QApplication.primaryScreen().grabWindow(0).save(path)
    result["toolbox_screenshot"] = path


def pick_a_point():
    """The Time series dock on the sample area (rasters hidden, so the points show): its pick tool on, two PS points
    picked where the map shows them (the second as a Shift-click adds it); the dock answers once the layer's index
    is built (a background task), then a screenshot and what it plots."""
    from qgis.core import QgsCoordinateTransform, QgsProject, QgsRectangle

    project = QgsProject.instance()
    for node in project.layerTreeRoot().findLayers():
        if node.layer().type() == node.layer().RasterLayer:
            node.setItemVisibilityChecked(False)
    dock = plugin.series_dock
    next(a for a in plugin.actions if a.text() == "Time series…").trigger()
    dock.pick_action.trigger()
    layer = next(lyr for lyr in project.mapLayers().values() if lyr.name() == "PS points")
    canvas = qgis.utils.iface.mapCanvas()
    transform = QgsCoordinateTransform(layer.crs(), canvas.mapSettings().destinationCrs(), project)
    wanted = (layer.featureCount() // 2, layer.featureCount() // 2 + 1)
    points = [transform.transform(f.geometry().asPoint()) for i, f in enumerate(layer.getFeatures()) if i in wanted]
    box = QgsRectangle(points[0], points[1])
    box.grow(400.0)
    canvas.setExtent(box)
    canvas.refresh()
    dock.pick(points[0])
    QTimer.singleShot(500, lambda: record_pick(dock, canvas, points[1], 0))


def record_pick(dock, canvas, second, tries):
    try:
        if (dock.index_tasks or not dock.points) and tries < 60:
            QTimer.singleShot(500, lambda: record_pick(dock, canvas, second, tries + 1))
            return
        dock.pick(second, True)
        for _ in range(20):
            QApplication.processEvents()
            canvas.waitWhileRendering()
        path = os.path.join(shots, "qgis_series_dock_picked_1366x768.png")
        QApplication.primaryScreen().grabWindow(0).save(path)
        dock.plot.figure.savefig(os.path.join(shots, "qgis_series_plot.png"), dpi=100)
        result["series_pick"] = {"points": [p.curve.label for p in dock.points],
                                 "curves": [c.label for c in dock.plotted], "units": [c.unit for c in dock.plotted],
                                 "status": dock.status.text(), "screenshot": path,
                                 "dock_size": [dock.width(), dock.height()]}
    except Exception:  # noqa: BLE001
        result["probe_error"] = traceback.format_exc()
    finish()


def start():
    try:
        result["docks_visible_at_start"] = [name for name, _, attribute in DOCKS
                                            if getattr(plugin, attribute).isVisible()]
        QTimer.singleShot(1500, lambda: check_dock(0))
    except Exception:  # noqa: BLE001
        result["probe_error"] = traceback.format_exc()
        finish()


QTimer.singleShot(1500, start)
