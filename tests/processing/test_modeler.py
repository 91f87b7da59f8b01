"""The algorithms work in the Graphical Modeler: DEM -> fill -> TWI -> factor stack, saved and reloaded."""
import numpy as np
from qgis.core import (QgsProcessingModelAlgorithm, QgsProcessingModelChildAlgorithm,
                       QgsProcessingModelChildParameterSource, QgsProcessingModelOutput, QgsProcessingModelParameter,
                       QgsProcessingParameterRasterLayer)

from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.core.terrain.fill import fill_depressions
from subsidence_plugin.core.terrain.indices import hydrology_from_dem


def _with_defaults(child):
    """Fill every parameter the model does not set with its default, as the Modeler dialog does."""
    from qgis.core import QgsApplication

    algorithm = QgsApplication.processingRegistry().algorithmById(child.algorithmId())
    for parameter in algorithm.parameterDefinitions():
        if parameter.name() not in child.parameterSources() and not parameter.isDestination():
            child.addParameterSources(parameter.name(),
                                      [QgsProcessingModelChildParameterSource.fromStaticValue(parameter.defaultValue())])
    return child


def _model():
    model = QgsProcessingModelAlgorithm("DEM to factor stack", "Land subsidence tests")
    model.addModelParameter(QgsProcessingParameterRasterLayer("dem", "DEM"), QgsProcessingModelParameter("dem"))
    source = QgsProcessingModelChildParameterSource
    fill = QgsProcessingModelChildAlgorithm("subsidence:filldepressions")
    fill.setChildId("fill")
    fill.addParameterSources("INPUT", [source.fromModelParameter("dem")])
    fill.addParameterSources("EPSILON", [source.fromStaticValue(True)])
    model.addChildAlgorithm(_with_defaults(fill))
    twi = QgsProcessingModelChildAlgorithm("subsidence:topographicwetnessindex")
    twi.setChildId("twi")
    twi.addParameterSources("INPUT", [source.fromChildOutput("fill", "OUTPUT")])
    twi.addParameterSources("METHOD", [source.fromStaticValue(0)])
    model.addChildAlgorithm(_with_defaults(twi))
    stack = QgsProcessingModelChildAlgorithm("subsidence:buildfactorstack")
    stack.setChildId("stack")
    stack.addParameterSources("REFERENCE", [source.fromModelParameter("dem")])
    stack.addParameterSources("CONTINUOUS", [source.fromModelParameter("dem"), source.fromChildOutput("twi", "OUTPUT")])
    output = QgsProcessingModelOutput("factor_stack", "Factor stack")
    output.setChildId("stack")
    output.setChildOutputName("OUTPUT")
    stack.setModelOutputs({"factor_stack": output})
    model.addChildAlgorithm(_with_defaults(stack))
    return model


def test_model_chains_fill_twi_and_stack(provider, sample_area, tmp_path):
    import processing

    path = str(tmp_path / "dem_to_stack.model3")
    assert _model().toFile(path)
    model = QgsProcessingModelAlgorithm()
    assert model.fromFile(path)
    assert [p.name() for p in model.parameterDefinitions()][0] == "dem"
    ok, errors = model.validate()
    assert ok, errors
    result = processing.run(model, {"dem": sample_area.rasters["dem"],
                                    "stack:factor_stack": str(tmp_path / "stack.tif")})
    stack = read_raster(result["stack:factor_stack"])
    assert len(stack.band_names) == 2
    dem = read_raster(sample_area.rasters["dem"])
    np.testing.assert_array_equal(stack.band(0), dem.band(0).astype(np.float32))
    # the model's TWI is the one-step TWI of the epsilon-filled DEM
    filled = fill_depressions(dem.band(0), epsilon=True)
    expected = hydrology_from_dem(filled, dem.grid, method="mfd")["twi"]
    np.testing.assert_allclose(stack.band(1), expected.astype(np.float32), rtol=1e-5, atol=1e-5)
