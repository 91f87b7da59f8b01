"""subsidence:slope - slope in degrees (and optionally percent) by Horn's method."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from .. import styles
from ..base import SubsidenceAlgorithm
from .common import CELL_SIZE_NOTE, add_dem_parameters, run_terrain


class Slope(SubsidenceAlgorithm):
    NAME = "slope"
    DISPLAY_NAME = "Slope"
    GROUP = "Terrain"
    HELP = ("<p>Slope of a DEM in <b>degrees</b> (0-90) and optionally in <b>percent</b> (100 tan β), from "
            "Horn's (1981) weighted 3 x 3 differences, the same formula as <i>gdaldem slope</i>. A driving "
            "force of seeds 000 and 002.</p>" + CELL_SIZE_NOTE)

    def initAlgorithm(self, config=None):  # noqa: N802
        add_dem_parameters(self)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Slope (degrees)"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_PERCENT", "Slope (percent)",
                                                                  optional=True, createByDefault=False))

    def process(self, parameters, context, feedback):
        products = {"slope": ("OUTPUT", "Slope (°)", lambda lyr: styles.style_sequential(lyr, "°", colours=styles.WARM))}
        if self.parameterAsOutputLayer(parameters, "OUTPUT_PERCENT", context):
            products["slope_percent"] = ("OUTPUT_PERCENT", "Slope (%)",
                                         lambda lyr: styles.style_sequential(lyr, "%", colours=styles.WARM))
        return run_terrain(self, parameters, context, feedback, products)
