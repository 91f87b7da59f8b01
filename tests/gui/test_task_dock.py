"""The task dock adds every output of a finished chain to the project, vector layers as well as rasters, and
draws its curves at the steps it is given."""
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QVBoxLayout, QWidget

from subsidence_plugin.gui.widgets.curve_plot import CurvePlot
from subsidence_plugin.gui.widgets.task_dock import TaskDock


class SampleAreaDock(TaskDock):
    """The smallest dock: one chain step, the sample area, whose outputs are rasters and GeoPackage layers."""

    def __init__(self, folder):
        super().__init__("test")
        self.folder = folder
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.add_controls(layout, body)
        self.add_status(layout, body)
        self.setWidget(body)
        self.results = None

    def run(self):
        self.run_chain([("subsidence:createsamplearea", lambda _: {"SIZE": 40, "SEED": 3,
                                                                    "OUTPUT_FOLDER": self.folder})])

    def succeeded(self, results):
        self.results = results


def test_vector_and_raster_outputs_are_added(provider, qgis_new_project, tmp_path, wait_for_dock):
    dock = SampleAreaDock(str(tmp_path))
    dock.run()
    wait_for_dock(dock)
    assert dock.outcome == "done", dock.status.text()
    layers = list(QgsProject.instance().mapLayers().values())
    vectors = [lyr for lyr in layers if isinstance(lyr, QgsVectorLayer)]
    rasters = [lyr for lyr in layers if isinstance(lyr, QgsRasterLayer)]
    assert rasters and any("layername=ps_points" in lyr.source() for lyr in vectors)
    assert all(lyr.isValid() for lyr in layers)


def test_curve_plot_places_points_at_their_steps(qgis_app):
    plot = CurvePlot()
    for step, value in ((5, 1.0), (6, 0.5), (9, 0.25)):
        plot.add(step, value, value * 2)
    assert plot.steps == [5, 6, 9] and plot.training == [1.0, 0.5, 0.25]
    plot.resize(300, 200)
    plot.grab()  # paints without error at uneven steps
    plot.clear()
    assert plot.steps == [] and plot.training == []
