"""The provider's algorithms: names, groups, help; running createsamplearea through Processing."""
import json
import os

import pytest
from qgis.core import QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback, QgsRasterLayer

from subsidence_plugin.processing.base import SubsidenceAlgorithm


def test_every_algorithm_is_documented(provider):
    algorithms = provider.algorithms()
    assert algorithms
    for algorithm in algorithms:
        assert algorithm.id().startswith("subsidence:") and algorithm.name() == algorithm.name().lower()
        assert algorithm.displayName() and algorithm.group() and algorithm.groupId()
        assert len(algorithm.shortHelpString()) > 100
        assert not algorithm.icon().isNull()


def test_create_sample_area_through_processing(provider, tmp_path):
    import processing

    folder = str(tmp_path / "area")
    context = QgsProcessingContext()
    result = processing.run("subsidence:createsamplearea", {"SIZE": 48, "SEED": 3, "OUTPUT_FOLDER": folder},
                            context=context, feedback=QgsProcessingFeedback())
    summary = json.loads(result["SUMMARY"])
    assert summary["size_cells"] == 48 and summary["seed"] == 3
    assert os.path.exists(result["TRUTH_VELOCITY"])
    assert result["PS_POINTS"].endswith("|layername=ps_points")
    # styles were saved as the layers' defaults: displacement gets a diverging ramp centred on 0
    layer = QgsRasterLayer(result["TRUTH_DISPLACEMENT"], "d")
    renderer = layer.renderer()
    assert renderer.type() == "singlebandpseudocolor"
    assert renderer.classificationMin() == pytest.approx(-renderer.classificationMax())
    assert renderer.classificationMax() == pytest.approx(summary["max_subsidence_mm"], rel=1e-6)
    assert QgsRasterLayer(result["LANDUSE"], "l").renderer().type() == "paletted"
    assert QgsRasterLayer(result["IMAGE"], "i").renderer().type() == "multibandcolor"
    assert set(context.layersToLoadOnCompletion()) >= {result["DEM"], result["PS_POINTS"]}


def test_toolbox_loads_outputs_with_their_styles(provider, qgis_new_project, tmp_path):
    """What the toolbox does after a run (Processing's own loading, which in QGIS 3.22 skips saved default
    styles): rasters and GeoPackage vectors arrive in the project with the plugin's styles."""
    import processing
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsApplication, QgsProject

    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = QgsProcessingFeedback()
    algorithm = QgsApplication.processingRegistry().algorithmById("subsidence:createsamplearea")
    result = processing.run(algorithm, {"SIZE": 48, "SEED": 3, "OUTPUT_FOLDER": str(tmp_path / "area")},
                            context=context, feedback=feedback)
    assert handleAlgorithmResults(algorithm, context, feedback, showResults=False)
    loaded = {layer.source(): layer for layer in QgsProject.instance().mapLayers().values()}
    assert loaded[result["DEM"]].renderer().type() == "singlebandpseudocolor"
    assert loaded[result["LANDUSE"]].renderer().type() == "paletted"
    points = next(layer for source, layer in loaded.items() if source.endswith("|layername=ps_points"))
    assert points.renderer().type() == "graduatedSymbol"


def test_bad_parameters_raise_processing_errors(provider, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException):
        processing.run("subsidence:createsamplearea", {"SIZE": 8, "OUTPUT_FOLDER": str(tmp_path / "x")})


class NeedsMissingPackage(SubsidenceAlgorithm):
    NAME = "needsmissing"
    DISPLAY_NAME = "Needs a missing package"
    GROUP = "Test"
    HELP = "Test algorithm"
    REQUIRES = ("a_package_that_does_not_exist",)

    def initAlgorithm(self, config=None):  # noqa: N802
        pass

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        return {}


def test_missing_dependency_is_reported_clearly(qgis_processing):
    algorithm = NeedsMissingPackage()
    algorithm.initAlgorithm()
    ok, message = algorithm.checkParameterValues({}, QgsProcessingContext())
    assert not ok
    assert "a_package_that_does_not_exist" in message and "Install dependencies" in message
    assert "Missing dependency" in algorithm.shortHelpString()
