"""subsidence:buildfactorstack - align rasters to a reference grid as one multi-band factor stack."""
from __future__ import annotations

from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer)

from ...core.io.stack import build_factor_stack, factors_of_raster, reference_grid
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import gdal_raster_path
from ..outputs import finish_raster_output

CATEGORICAL_METHODS = ["nearest", "mode"]


def _style_stack(layer) -> None:
    """Show the first band with a grey stretch (the stack is for models, not for looking at)."""
    from .. import styles

    styles.style_sequential(layer, "", colours=("#000000", "#ffffff"))


class BuildFactorStack(SubsidenceAlgorithm):
    NAME = "buildfactorstack"
    DISPLAY_NAME = "Build factor stack"
    GROUP = "Factors"
    HELP = (
        "<p>Aligns any number of driving-force rasters to the grid of a <b>reference raster</b> and writes them "
        "as one multi-band float32 GeoTIFF whose band names are the factor names: the input of every model of "
        "the plugin (the patch CNN of seed 000, the susceptibility models of seed 002).</p>"
        "<p>Inputs may have any CRS, extent and resolution; they are reprojected on the fly. "
        "<b>Continuous</b> factors are resampled bilinearly; <b>categorical</b> factors (land use, lithology) by "
        "nearest neighbour or by mode (majority, for coarsening), and optionally <b>one-hot</b> encoded as one "
        "0/1 band per class (<i>landuse_1</i>, <i>landuse_2</i>, ...). Every band of a multi-band input becomes "
        "a factor (<i>layer_bandname</i>).</p>"
        "<p>Nodata: the mask is the union of the inputs' masks, so a cell missing in any factor is nodata "
        "(-9999) in every band. A factor with no value on the reference grid is refused. Factor descriptions "
        "(kind, source, classes) are stored in the GeoTIFF metadata item FACTORS. Streamed in row blocks.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference raster (grid, extent, CRS)"))
        self.addParameter(QgsProcessingParameterMultipleLayers("CONTINUOUS", "Continuous factors",
                                                               QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers("CATEGORICAL", "Categorical factors",
                                                               QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterEnum("CATEGORICAL_RESAMPLING", "Categorical resampling",
                                                     CATEGORICAL_METHODS, defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean("ONE_HOT", "One-hot encode categorical factors", False))
        rows = QgsProcessingParameterNumber("BLOCK_ROWS", "Rows per block (memory)",
                                            QgsProcessingParameterNumber.Integer, 512, minValue=16)
        add_advanced(self, rows)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Factor stack"))

    def process(self, parameters, context, feedback):
        reference = self.parameterAsRasterLayer(parameters, "REFERENCE", context)
        continuous = self.parameterAsLayerList(parameters, "CONTINUOUS", context)
        categorical = self.parameterAsLayerList(parameters, "CATEGORICAL", context)
        if not continuous and not categorical:
            raise QgsProcessingException("Choose at least one continuous or categorical factor")
        method = CATEGORICAL_METHODS[self.parameterAsEnum(parameters, "CATEGORICAL_RESAMPLING", context)]
        one_hot = self.parameterAsBoolean(parameters, "ONE_HOT", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with processing_errors("no stack was written"):
            factors = []
            for layer in continuous:
                factors += factors_of_raster(gdal_raster_path(layer, "Continuous factors"), layer.name())
            for layer in categorical:
                factors += factors_of_raster(gdal_raster_path(layer, "Categorical factors"), layer.name(),
                                             categorical=True, one_hot=one_hot, resampling=method)
            grid = reference_grid(gdal_raster_path(reference, "Reference raster"))
            stack = build_factor_stack(factors, grid, output,
                                       block_rows=self.parameterAsInt(parameters, "BLOCK_ROWS", context),
                                       progress=progress_adapter(feedback), is_cancelled=feedback.isCanceled)
        feedback.pushInfo(f"Factor stack: {len(stack.band_names)} bands ({', '.join(stack.band_names)}), "
                          f"{stack.grid.width} x {stack.grid.height} cells, {stack.valid_share:.1%} valid")
        finish_raster_output(context, output, "Factor stack", "OUTPUT", _style_stack)
        return {"OUTPUT": output, "BANDS": len(stack.band_names)}
