"""One diverging style for every displacement / velocity output, legend labels rounded with units, report maps
with a colour bar and a scale bar, the interpolation report with units (issue 12)."""
import re

import numpy as np
import pytest
from qgis.core import QgsColorRampShader, QgsRasterLayer, QgsSingleBandPseudoColorRenderer

from subsidence_plugin.processing import styles
from subsidence_plugin.processing.map_images import legend_entries, render_image, scale_bar

RED, WHITE, BLUE = "#b2182b", "#f7f7f7", "#2166ac"
LABEL = re.compile(r"^\u2212?\d+(\.\d)? (?P<unit>.+)$")  # at most one decimal for ranges of tens


def ramp_items(layer):
    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    return renderer.band(), renderer.shader().rasterShaderFunction()


def assert_diverging(layer, unit):
    band, ramp = ramp_items(layer)
    items = ramp.colorRampItemList()
    assert band == 1 and ramp.colorRampType() == QgsColorRampShader.Interpolated
    assert [i.color.name() for i in items] == list(styles.DIVERGING)
    assert items[0].color.name() == RED and items[3].color.name() == WHITE and items[-1].color.name() == BLUE
    assert items[0].value < 0 and items[0].value == pytest.approx(-items[-1].value) and items[3].value == 0
    for item in items:
        match = LABEL.match(item.label)
        assert match and match["unit"] == unit, item.label
    assert items[0].label.startswith("\u2212") and items[3].label == f"0 {unit}"
    settings = ramp.legendSettings()
    assert settings.suffix() == f" {unit}" and settings.numericFormat().numberDecimalPlaces() <= 1
    return items


def test_kriging_and_idw_share_the_diverging_style_with_units(provider, sample_area, tmp_path):
    import processing

    ps = f"{sample_area.vector_path}|layername=ps_points"
    common = {"INPUT": ps, "FIELD": "velocity", "REFERENCE": sample_area.rasters["dem"]}
    kriging = processing.run("subsidence:kriging", {**common, "NEIGHBOURS": 16, "OUTPUT": str(tmp_path / "k.tif"),
                                                    "REPORT": str(tmp_path / "k.html")})
    idw = processing.run("subsidence:idw", {**common, "UNITS": "mm", "OUTPUT": str(tmp_path / "i.tif")})
    assert (tmp_path / "k.qml").exists() and (tmp_path / "i.qml").exists()
    k_items = assert_diverging(QgsRasterLayer(kriging["OUTPUT"], "k"), "mm/yr")  # default UNITS
    assert_diverging(QgsRasterLayer(idw["OUTPUT"], "i"), "mm")
    # the truth and the CNN use the same function: the same colours and labels for the same range
    truth = QgsRasterLayer(sample_area.rasters["truth_velocity"], "truth")
    styles.style_diverging(truth, "mm/yr", vmax=-k_items[0].value)
    _, ramp = ramp_items(truth)
    assert [(i.value, i.color.name(), i.label) for i in ramp.colorRampItemList()] == \
        [(i.value, i.color.name(), i.label) for i in k_items]
    # the ramp bounds the 2-98 % range of the surface, rounded up so that every item is a round value
    surface = QgsRasterLayer(kriging["OUTPUT"], "k")
    bound = max(abs(v) for v in styles.raster_range(surface))
    assert bound <= -k_items[0].value <= 4 / 3 * bound
    assert all(float(i.label.split()[0].replace("\u2212", "-")) == pytest.approx(i.value) for i in k_items)

    html = open(kriging["REPORT"]).read()
    assert html.count("data:image/png;base64,") == 3  # surface map, variogram, leave-one-out
    assert "Surface" in html and "mm/yr; red = negative = subsidence" in html
    assert re.search(r"<td>RMSE</td><td>[0-9.]+</td><td>mm/yr</td>", html)
    assert "<td>R²</td>" in html and "LOO RMSE (mm/yr)" in html and "nugget ((mm/yr)²)" in html
    linear = re.search(r"<td>linear</td><td>([^<]*)</td>", html).group(1)
    assert linear.startswith("slope ") and "(mm/yr)²/m" in linear and "no range" in linear
    assert re.search(r"<td>spherical</td><td>partial sill [0-9.e+-]+ \(mm/yr\)², range [0-9.e+]+ m</td>", html)
    assert "semivariance in (mm/yr)²" in html


def test_label_precision_and_units():
    assert styles.label_decimals(10.0) == 0 and styles.label_decimals(6.67) == 1
    assert styles.label_decimals(0.167) == 2
    assert styles.format_value(69.157848, 0, "m") == "69 m"
    assert styles.format_value(-20.0, 0, "mm/yr") == "\u221220 mm/yr"
    assert styles.format_value(-0.04, 1, "mm") == "0 mm"  # no '-0'
    assert styles.format_value(6.666, 1, "mm") == "6.7 mm" and styles.format_value(15.0, 1, "mm") == "15 mm"
    assert styles.nice_limit(29.2) == 30 and styles.nice_limit(52.0) == 60 and styles.nice_limit(17.0) == 18
    assert styles.nice_limit(0.0843) == pytest.approx(0.09) and styles.nice_limit(30.0) == 30


def test_sequential_labels_rounded_and_no_gray_in_the_legend(sample_area):
    from qgis.core import QgsLayerTree, QgsLayerTreeModel, QgsProject
    from qgis.PyQt.QtCore import Qt

    dem = QgsRasterLayer(sample_area.rasters["dem"], "DEM (m)")
    styles.style_terrain(dem)
    _, ramp = ramp_items(dem)
    labels = [i.label for i in ramp.colorRampItemList()]
    assert all(re.match(r"^\d+ m$", label) for label in labels), labels  # whole metres, not '69.157848'
    assert ramp.legendSettings().numericFormat().numberDecimalPlaces() == 0
    assert ramp.legendSettings().suffix() == " m"

    project = QgsProject()
    project.addMapLayer(dem)
    model = QgsLayerTreeModel(project.layerTreeRoot())
    node = project.layerTreeRoot().findLayer(dem.id())
    before = [n.data(Qt.DisplayRole) for n in model.layerLegendNodes(node)]
    assert "(Gray)" in before[0]
    styles.set_legend_title(node)
    model.refreshLayerLegend(node)
    after = [n.data(Qt.DisplayRole) for n in model.layerLegendNodes(node)]
    assert after[0] == "Band 1: altitude_m" and not any("Gray" in str(text) for text in after)
    assert QgsLayerTree.isLayer(node)


def test_tiny_values_are_labelled_in_scientific_notation(sample_area):
    """K'v in m/s (about 1e-10): not '0 m/s' but 1.23e-10 m/s, in the ramp and the continuous legend."""
    from qgis.core import QgsScientificNumericFormat

    layer = QgsRasterLayer(sample_area.rasters["vertical_conductivity"], "K'v")
    styles.style_sequential(layer, "m/s")
    _, ramp = ramp_items(layer)
    labels = [i.label for i in ramp.colorRampItemList()]
    assert all(re.fullmatch(r"\d\.\d\de-\d\d m/s", label) for label in labels), labels
    assert isinstance(ramp.legendSettings().numericFormat(), QgsScientificNumericFormat)


def test_points_diverging_labels_rounded():
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer("Point?crs=EPSG:32613&field=velocity:double", "ps", "memory")
    styles.style_points_diverging(layer, "velocity", "mm/yr", 21.0)
    labels = [r.label() for r in layer.renderer().ranges()]
    assert labels[0] == "< \u221215 mm/yr" and labels[3] == "\u22123 to 3 mm/yr" and labels[-1] == "> 15 mm/yr"


def test_report_maps_have_a_colour_bar_and_a_scale_bar(sample_area):
    velocity = QgsRasterLayer(sample_area.rasters["truth_velocity"], "True velocity (mm/yr)")
    styles.style_diverging(velocity, "mm/yr", vmax=30.0)
    title, kind, items = legend_entries(velocity)
    assert kind == "ramp" and [label for _, _, label in items] == [
        "\u221230 mm/yr", "\u221220 mm/yr", "\u221210 mm/yr", "0 mm/yr", "10 mm/yr", "20 mm/yr", "30 mm/yr"]
    image, drawn = render_image([velocity], 300)
    width, height = drawn["map_size"]
    assert drawn["legend"] == ["True velocity (mm/yr)"]
    extent_m = velocity.extent().width()
    assert drawn["scale_bar"] == scale_bar(extent_m / 300, 300)[1]
    assert image.width() > width + 60 and image.height() >= height

    def colours(x0, x1, y0, y1):
        return {image.pixelColor(x, y).name() for x in range(x0, x1) for y in range(y0, y1)}

    def near(found, target, tolerance=12):
        rgb = np.array([[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in found])
        want = np.array([int(target[i:i + 2], 16) for i in (1, 3, 5)])
        return bool((np.abs(rgb - want).max(axis=1) <= tolerance).any())

    panel = colours(width, image.width(), 0, image.height())
    assert near(panel, RED) and near(panel, BLUE) and near(panel, WHITE)  # the colour bar's ends and middle
    corner = colours(0, width // 2, height - 30, height)
    assert "#000000" in corner and "#ffffff" in corner  # the scale bar's black and white halves
    plain, undecorated = render_image([velocity], 300, legend=False, scale=False)
    assert plain.width() == 300 and undecorated["scale_bar"] is None


def test_scale_bar_lengths():
    assert scale_bar(10.0, 300) == (500.0, "500 m", 50.0)
    assert scale_bar(50.0, 260)[:2] == (2000.0, "2 km")
    length, label, pixels = scale_bar(16.67, 420)
    assert label == "2 km" and pixels == pytest.approx(2000 / 16.67)


def test_variance_band_stays_sequential_in_squared_units(sample_area, tmp_path):
    from subsidence_plugin.core.io.rasters import read_raster
    from subsidence_plugin.core.reports.plots import squared_unit

    dem = read_raster(sample_area.rasters["dem"])
    layer = QgsRasterLayer(sample_area.rasters["dem"], "variance")
    styles.style_sequential(layer, squared_unit("mm/yr"), band=1)
    _, ramp = ramp_items(layer)
    items = ramp.colorRampItemList()
    assert [i.color.name() for i in items] == list(styles.SEQUENTIAL)
    assert all(i.label.endswith(" (mm/yr)²") for i in items)
    assert np.nanmin(dem.band(0)) <= items[0].value < items[-1].value <= np.nanmax(dem.band(0))


def test_aspect_legend_shows_only_the_labelled_directions(sample_area, tmp_path):
    """The aspect style's colour stop just below north has no label: the legend draws no number for it."""
    from subsidence_plugin.core.terrain.derivatives import write_terrain

    path = str(tmp_path / "aspect.tif")
    write_terrain(sample_area.rasters["dem"], {"aspect": path})
    layer = QgsRasterLayer(path, "Aspect")
    styles.style_aspect(layer)
    _, kind, items = legend_entries(layer)
    labels = [label for _, _, label in items if label]
    assert kind == "ramp" and len(labels) == 10 and labels[0].lower() == "flat"
    assert not any(re.fullmatch(r"-?\d+(\.\d+)?", label) for label in labels)


def test_processing_outputs_load_styled_without_gray_legend_line(provider, sample_area, qgis_new_project, tmp_path):
    """An output Processing adds to the project (toolbox, batch, modeler) gets its style (QGIS 3.22 loads it
    without the saved .qml) and the same legend heading as the main job's project: the band's name, no
    '(Gray)'."""
    import processing
    from qgis.core import (QgsApplication, QgsMapLayerLegendUtils, QgsProcessingContext, QgsProcessingFeedback,
                           QgsProject)
    from processing.gui.Postprocessing import handleAlgorithmResults

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    output = str(tmp_path / "slope.tif")
    algorithm = QgsApplication.processingRegistry().algorithmById("subsidence:slope")
    processing.run(algorithm, {"INPUT": sample_area.rasters["dem"], "OUTPUT": output}, context=context,
                   feedback=feedback)
    assert handleAlgorithmResults(algorithm, context, feedback, showResults=False)
    nodes = [node for node in QgsProject.instance().layerTreeRoot().findLayers() if node.layer().source() == output]
    assert len(nodes) == 1
    assert isinstance(nodes[0].layer().renderer(), QgsSingleBandPseudoColorRenderer)
    assert nodes[0].layer().renderer().shader().rasterShaderFunction().colorRampItemList()[-1].label.endswith("°")
    label = QgsMapLayerLegendUtils.legendNodeUserLabel(nodes[0], 0)
    assert label.startswith("Band 1") and "Gray" not in label, label
