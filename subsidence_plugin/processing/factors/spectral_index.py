"""subsidence:spectralindex - NDVI, NDWI (McFeeters or Gao) or mean annual NDVI change."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingParameterEnum, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterString)

from ...core.terrain.spectral import date_from_name, spectral_index
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import gdal_raster_path
from ..outputs import finish_raster_output

INDICES = [("ndvi", "NDVI (NIR, red)"), ("ndwi_mcfeeters", "NDWI, McFeeters 1996 (green, NIR): open water"),
           ("ndwi_gao", "NDWI, Gao 1996 (NIR, SWIR): vegetation water content"),
           ("ndvi_change", "Mean annual NDVI change (several dated images)")]
ROLES = ("GREEN", "RED", "NIR", "SWIR")


class SpectralIndex(SubsidenceAlgorithm):
    NAME = "spectralindex"
    DISPLAY_NAME = "Spectral index (NDVI, NDWI, NDVI change)"
    GROUP = "Factors"
    HELP = (
        "<p><b>NDVI</b> = (NIR - red) / (NIR + red) (Rouse et al. 1974); <b>NDWI</b> after <b>McFeeters "
        "(1996)</b> = (green - NIR) / (green + NIR), positive over open water (the default NDWI, as used for "
        "water content by seed 002), or after <b>Gao (1996)</b> = (NIR - SWIR) / (NIR + SWIR), the water "
        "content of vegetation; <b>mean annual NDVI change</b>: least-squares slope of NDVI against time over "
        "several images, in NDVI units per year (seed 000).</p>"
        "<p>Bands: give their numbers, or leave 0 to find them from band descriptions (green, red, nir, swir, "
        "B3/B4/B8/B11 ...). Reflectance = value x scale + offset (e.g. scale 0.0001 for reflectance x 10<sup>4"
        "</sup>). Dates for the change: comma-separated YYYY-MM-DD in layer order, or read from the layer / "
        "file names (YYYYMMDD, YYYY-MM-DD or Landsat scene ids). Images must share one grid. Nodata or a "
        "non-positive denominator gives nodata.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers("INPUT", "Image(s)", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterEnum("INDEX", "Index", [label for _, label in INDICES], defaultValue=0))
        for role in ROLES:
            self.addParameter(QgsProcessingParameterNumber(f"{role}_BAND", f"{role.title()} band (0 = from band names)",
                                                           QgsProcessingParameterNumber.Integer, 0, minValue=0))
        advanced = [QgsProcessingParameterNumber("SCALE", "Reflectance scale factor", QgsProcessingParameterNumber.Double,
                                                 1.0),
                    QgsProcessingParameterNumber("OFFSET", "Reflectance offset", QgsProcessingParameterNumber.Double, 0.0),
                    QgsProcessingParameterString("DATES", "Dates (YYYY-MM-DD, comma-separated, in layer order)",
                                                 optional=True)]
        for parameter in advanced:
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Index"))

    def process(self, parameters, context, feedback):
        layers = self.parameterAsLayerList(parameters, "INPUT", context)
        index, label = INDICES[self.parameterAsEnum(parameters, "INDEX", context)]
        bands = {role.lower(): self.parameterAsInt(parameters, f"{role}_BAND", context) for role in ROLES}
        text = self.parameterAsString(parameters, "DATES", context).strip()
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with processing_errors():
            paths = [gdal_raster_path(layer, "Image(s)") for layer in layers]
            dates = None
            if index == "ndvi_change":
                dates = ([np.datetime64(d.strip(), "D") for d in text.split(",")] if text else
                         [_layer_date(layer, path) for layer, path in zip(layers, paths)])
                feedback.pushInfo("Dates: " + ", ".join(str(d) for d in dates))
            spectral_index(paths, output, index, {k: v for k, v in bands.items() if v},
                           scale=self.parameterAsDouble(parameters, "SCALE", context),
                           offset=self.parameterAsDouble(parameters, "OFFSET", context), dates=dates,
                           progress=progress_adapter(feedback), is_cancelled=feedback.isCanceled)
        finish_raster_output(context, output, label.split(" (")[0].split(",")[0], "OUTPUT",
                             lambda lyr: styles.style_diverging(lyr, "/yr" if index == "ndvi_change" else ""))
        return {"OUTPUT": output}


def _layer_date(layer, path: str) -> np.datetime64:
    try:
        return date_from_name(layer.name())
    except ValueError:
        return date_from_name(path)
