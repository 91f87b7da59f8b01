"""subsidence:aspect - aspect in degrees clockwise from north, flat = -1."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from .. import styles
from ..base import SubsidenceAlgorithm
from .common import CELL_SIZE_NOTE, add_dem_parameters, run_terrain


class Aspect(SubsidenceAlgorithm):
    NAME = "aspect"
    DISPLAY_NAME = "Aspect"
    GROUP = "Terrain"
    HELP = ("<p>Aspect of a DEM: the direction of steepest descent in <b>degrees clockwise from north</b> "
            "(0 = north-facing, 90 = east, 0-360); <b>flat cells get -1</b>. Horn's (1981) gradient, as "
            "<i>gdaldem aspect</i> (which marks flat cells as nodata instead). A driving force of seeds 000 and "
            "002.</p>" + CELL_SIZE_NOTE)

    def initAlgorithm(self, config=None):  # noqa: N802
        add_dem_parameters(self)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Aspect (degrees)"))

    def process(self, parameters, context, feedback):
        return run_terrain(self, parameters, context, feedback,
                           {"aspect": ("OUTPUT", "Aspect (°)", styles.style_aspect)})
