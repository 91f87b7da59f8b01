"""subsidence:classifysusceptibility - any index raster to five classes (seed 002) with class areas."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingParameterBand, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from ...core.stats.classes import CLASSIFICATION_LABELS, CLASSIFICATIONS, class_breaks, sample_stride
from ...core.susceptibility.factors import CLASS_NAMES
from .. import styles
from ..base import SubsidenceAlgorithm, processing_errors, progress_adapter
from ..inputs import gdal_raster_path
from ..outputs import table_sink
from .common import class_table, finish_classes, write_classes


class ClassifySusceptibility(SubsidenceAlgorithm):
    NAME = "classifysusceptibility"
    DISPLAY_NAME = "Classify susceptibility (five classes)"
    GROUP = "Susceptibility"
    HELP = (
        "<p>Cuts any index raster (susceptibility, vulnerability) into five classes: very low, low, moderate, "
        "high, very high.</p>"
        "<ul><li><b>Quantiles</b> (seed 002): every class covers a fifth of the valid cells.</li>"
        "<li><b>Natural breaks</b> (Jenks): the breaks minimising the within-class sum of squared deviations, "
        "computed exactly on up to 2000 evenly spaced order statistics of a sample of at most 10⁶ cells.</li>"
        "<li><b>Equal intervals</b> of the index range.</li></ul>"
        "<p>Class k holds values in (break k-1, break k]. Outputs: the class raster (1-5, nodata 0) with a "
        "five-colour style and legend, and a table of the classes with their ranges, cell counts and area "
        "percentages.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Index raster"))
        self.addParameter(QgsProcessingParameterBand("BAND", "Band", 1, "INPUT", optional=True))
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Classes by", list(CLASSIFICATION_LABELS),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Susceptibility classes"))
        self.addParameter(QgsProcessingParameterFeatureSink("TABLE", "Class areas", QgsProcessing.TypeVector,
                                                            optional=True, createByDefault=True))

    def process(self, parameters, context, feedback):
        from ...core.io.rasters import iter_blocks, open_raster, read_grid, valid_mask

        layer = self.parameterAsRasterLayer(parameters, "INPUT", context)
        band = self.parameterAsInt(parameters, "BAND", context) or 1
        method = CLASSIFICATIONS[self.parameterAsEnum(parameters, "METHOD", context)]
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        progress = progress_adapter(feedback)
        with processing_errors():
            path = gdal_raster_path(layer, "Index raster")
            grid = read_grid(path, band=band)
            dataset = open_raster(path)  # kept alive while its band is used
            nodata = dataset.GetRasterBand(band).GetNoDataValue()
            stride = sample_stride(grid.width * grid.height)
            sample = []
            for block in iter_blocks(path, 256, band=band):
                values = block.data.astype(np.float64).ravel()
                values = values[valid_mask(values, nodata)]
                sample.append(values[::stride])
                progress(40.0 * (block.row0 + block.rows) / grid.height, "sampling the index")
            sample = np.concatenate(sample)
            breaks = class_breaks(sample, method)
            counts = write_classes(path, breaks, output, grid, lambda p, m: progress(40 + 0.6 * p, m),
                                   feedback.isCanceled, band)
        table = class_table(counts, breaks, float(sample.min()), float(sample.max()), CLASS_NAMES)
        for row in table:
            feedback.pushInfo(f"class {row[0]} ({row[1]}): {row[2]:.4g} - {row[3]:.4g}, {row[5]:.1f} % of the area")
        dest = table_sink(self, parameters, "TABLE", context,
                          (("class", "int"), ("name", "string"), ("from", "double"), ("to", "double"),
                           ("cells", "int"), ("area_pct", "double")), table)
        finish_classes(context, output, "Susceptibility classes", "OUTPUT", styles.SUSCEPTIBILITY)
        return {"OUTPUT": output, "TABLE": dest}
