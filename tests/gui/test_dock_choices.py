"""Issue 12: the docks' default layers and fields (a point layer with a velocity-like field, a multi-band
stack, GARDLIF factors by name or none), remembered choices, the weights table's height, the surface dock's
method-specific settings, and the curve plot's series and minimum span."""
import numpy as np
import pytest
from osgeo import gdal, osr
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer
from qgis.PyQt.QtWidgets import QApplication

from subsidence_plugin.core.susceptibility.gardlif import LAYERS
from subsidence_plugin.gui.docks.surface_dock import SurfaceDock
from subsidence_plugin.gui.docks.susceptibility_dock import SusceptibilityDock
from subsidence_plugin.gui.widgets.curve_plot import CurvePlot
from subsidence_plugin.processing.interpolation import VARIOGRAMS
from subsidence_plugin.processing.surface.idw import InverseDistanceWeighting
from subsidence_plugin.processing.surface.kriging import Kriging


def _raster(path, bands, name):
    dataset = gdal.GetDriverByName("GTiff").Create(str(path), 8, 8, bands, gdal.GDT_Float32)
    dataset.SetGeoTransform((500000.0, 10.0, 0.0, 4000080.0, 0.0, -10.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    dataset.SetProjection(srs.ExportToWkt())
    for band in range(bands):
        dataset.GetRasterBand(band + 1).WriteArray(np.full((8, 8), band, dtype=np.float32))
    dataset = None
    return QgsRasterLayer(str(path), name)


def _points(name, fields, count):
    layer = QgsVectorLayer(f"Point?crs=EPSG:32633&{'&'.join(f'field={f}' for f in fields)}", name, "memory")
    from qgis.core import QgsFeature, QgsGeometry, QgsPointXY

    features = []
    for i in range(count):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(500000.0 + i, 4000000.0 + i)))
        feature.setAttributes([i] + [float(i)] * (len(fields) - 1))
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    return layer


@pytest.fixture
def project_layers(qgis_new_project, tmp_path):
    """GPS stations and Aspect come first (the combos' own choice), the PS points and the stack later."""
    gps = _points("GPS stations", ["fid:integer", "up_total:integer"], 5)
    aspect = _raster(tmp_path / "aspect.tif", 1, "Aspect")
    ps = _points("PS points", ["fid:integer", "cum_disp:double", "velocity:double"], 40)
    other = _points("SBAS points", ["fid:integer", "vel_los:double", "cum_disp:double"], 20)
    stack = _raster(tmp_path / "stack.tif", 4, "factor stack")
    QgsProject.instance().addMapLayers([gps, aspect])
    QgsProject.instance().addMapLayers([ps, other, stack])
    return {"gps": gps, "aspect": aspect, "ps": ps, "other": other, "stack": stack}


@pytest.mark.parametrize("dock_class", [SurfaceDock, SusceptibilityDock])
def test_defaults_pick_velocity_points_and_a_multiband_stack(project_layers, dock_class):
    dock = dock_class()
    assert dock.points.currentLayer().name() == "PS points"  # not GPS stations
    assert dock.field.currentField() == "velocity"  # not fid, not cum_disp
    assert dock.stack.currentLayer().name() == "factor stack" and dock.stack.currentLayer().bandCount() == 4
    # another points layer chosen: its velocity-like field follows
    dock.points.setLayer(project_layers["other"])
    assert dock.field.currentField() == "vel_los"


def test_defaults_follow_layers_added_after_the_dock(qgis_new_project, tmp_path):
    gps = _points("GPS stations", ["fid:integer", "up_total:integer"], 5)
    QgsProject.instance().addMapLayer(gps)
    dock = SurfaceDock()
    assert dock.points.currentLayer() is gps  # the only point layer
    ps = _points("PS points", ["fid:integer", "velocity:double"], 30)
    QgsProject.instance().addMapLayer(ps)
    assert dock.points.currentLayer() is ps and dock.field.currentField() == "velocity"


def test_last_choices_are_remembered(project_layers):
    dock = SurfaceDock()
    dock.points.setLayer(project_layers["other"])
    dock.field.setField("cum_disp")
    dock.stack.setLayer(project_layers["aspect"])
    dock.field.activated.emit(dock.field.currentIndex())  # the user picked them
    dock.stack.activated.emit(dock.stack.currentIndex())
    dock.points.activated.emit(dock.points.currentIndex())
    again = SurfaceDock()  # e.g. the next QGIS session
    assert again.points.currentLayer().name() == "SBAS points"
    assert again.field.currentField() == "cum_disp"
    assert again.stack.currentLayer().name() == "Aspect"
    # a user's choice is not overridden by layers added later
    QgsProject.instance().addMapLayer(_points("PS points 2", ["velocity:double"], 99))
    assert dock.points.currentLayer().name() == "SBAS points" and dock.field.currentField() == "cum_disp"


def test_a_run_remembers_its_inputs(project_layers):
    dock = SusceptibilityDock()
    dock.points.setLayer(project_layers["other"])
    dock.choices.remember()  # what run_chain does
    assert SusceptibilityDock().points.currentLayer().name() == "SBAS points"


def test_gardlif_combos_default_to_the_layer_named_for_the_factor_or_none(qgis_new_project, tmp_path):
    names = {"Aspect": None, "groundwater_decline": "groundwater_decline", "Land use 2020": "land_use",
             "Distance to faults": "fault_distance", "aquifer thickness (m)": "aquifer_thickness"}
    layers = {name: _raster(tmp_path / f"l{i}.tif", 1, name) for i, name in enumerate(names)}
    QgsProject.instance().addMapLayers(list(layers.values()))
    dock = SusceptibilityDock()
    expected = {factor: name for name, factor in names.items() if factor}
    for factor in LAYERS:
        layer = dock.layers[factor].currentLayer()
        if factor in expected:
            assert layer is not None and layer.name() == expected[factor], factor
        else:
            assert layer is None, (factor, layer.name())
    assert all(combo.currentLayer() is None or combo.currentLayer().name() != "Aspect"
               for combo in dock.layers.values())


def test_weights_table_shows_all_seven_rows(qgis_new_project):
    dock = SusceptibilityDock()
    dock.resize(420, 700)
    dock.tabs.setCurrentIndex(1)
    dock.show()
    QApplication.processEvents()
    table = dock.weights
    rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
    assert table.rowCount() == 7
    assert table.viewport().height() >= rows
    assert table.verticalScrollBar().maximum() == 0
    dock.hide()


def test_dock_bodies_scroll_and_are_small(qgis_new_project):
    for dock in (SurfaceDock(), SusceptibilityDock()):
        assert dock.widget().objectName() == "landSubsidenceDockScroll"
        hint = dock.minimumSizeHint()
        assert hint.height() < 300 and hint.width() < 500, hint


def test_surface_dock_shows_the_chosen_methods_settings_only(project_layers):
    dock = SurfaceDock()
    body = dock.widget().widget()
    visible = {name: box.isVisibleTo(body) for name, box in
               (("cnn", dock.cnn_settings), ("kriging", dock.kriging_settings), ("idw", dock.idw_settings))}
    assert visible == {"cnn": True, "kriging": False, "idw": False} and dock.loss.isVisibleTo(body)
    dock.method.setCurrentIndex(1)  # kriging
    assert dock.kriging_settings.isVisibleTo(body) and not dock.cnn_settings.isVisibleTo(body)
    assert not dock.idw_settings.isVisibleTo(body) and not dock.loss.isVisibleTo(body)
    assert [dock.variogram.itemText(i) for i in range(dock.variogram.count())] == VARIOGRAMS
    assert dock.variogram.currentIndex() == 0 and dock.neighbours.value() == 32
    dock.variogram.setCurrentIndex(VARIOGRAMS.index("Spherical"))
    dock.drift.setCurrentIndex(1)
    dock.neighbours.setValue(20)
    parameters = dock.parameters()
    assert parameters[Kriging.VARIOGRAM] == VARIOGRAMS.index("Spherical") and parameters[Kriging.DRIFT] == 1
    assert parameters[Kriging.NEIGHBOURS] == 20 and parameters[Kriging.FIELD] == "velocity"
    dock.method.setCurrentIndex(2)  # IDW
    assert dock.idw_settings.isVisibleTo(body) and not dock.kriging_settings.isVisibleTo(body)
    assert not dock.loss.isVisibleTo(body)
    dock.power.setValue(3.0)
    dock.idw_neighbours.setValue(7)
    parameters = dock.parameters()
    assert parameters[InverseDistanceWeighting.POWER] == 3.0 and parameters[InverseDistanceWeighting.NEIGHBOURS] == 7
    assert set(parameters) == {InverseDistanceWeighting.INPUT, InverseDistanceWeighting.FIELD,
                               InverseDistanceWeighting.REFERENCE, InverseDistanceWeighting.POWER,
                               InverseDistanceWeighting.NEIGHBOURS, InverseDistanceWeighting.OUTPUT}


def test_fitness_plot_keeps_a_minimum_span(qgis_app):
    plot = CurvePlot(None, "validation AUC", "candidate", log_scale=False, min_span=0.05, limits=(0.0, 1.0))
    for step, value in enumerate((0.9991, 0.9998, 0.9994, 1.0), start=1):
        plot.add(step, value, max(0.9991, value))
    low, high = plot.value_range()
    assert high == pytest.approx(1.0) and low == pytest.approx(0.95)  # noise is not stretched over the plot
    plot.add(5, 0.6, 1.0)
    assert plot.value_range() == pytest.approx((0.6, 1.0))
    plot.resize(300, 160)
    plot.grab()


def test_loss_curve_starts_a_labelled_series_when_epochs_restart(qgis_app):
    plot = CurvePlot(series_labels=("random split", "blocked split"))
    for epoch in range(1, 101):
        plot.add(epoch, 1.0 / epoch, 2.0 / epoch)
    for epoch in range(1, 51):
        plot.add(epoch, 0.5 / epoch, 1.0 / epoch)
    assert plot.labels == ["random split", "blocked split"]
    assert [len(s.steps) for s in plot.series] == [100, 50]
    assert plot.series[1].steps[0] == 1 and max(plot.steps) == 100  # no 'epoch 150'
    low, high = plot.value_range()
    assert low == pytest.approx(0.01) and high == pytest.approx(2.0)
    plot.resize(300, 160)
    plot.grab()
