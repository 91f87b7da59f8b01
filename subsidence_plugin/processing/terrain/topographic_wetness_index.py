"""subsidence:topographicwetnessindex - TWI = ln(a / tan beta) from a DEM in one step (seed 000, eq. 2)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from .. import styles
from ..base import SubsidenceAlgorithm
from .common import NOTE, add_flow_parameters, run_hydrology


class TopographicWetnessIndex(SubsidenceAlgorithm):
    NAME = "topographicwetnessindex"
    DISPLAY_NAME = "Topographic wetness index (TWI)"
    GROUP = "Hydrology"
    HELP = ("<p><b>TWI = ln(a / tan β)</b> (Beven & Kirkby 1979; seed 000, eq. 2) from a DEM in one step: "
            "fill depressions, accumulate flow (MFD by default, or D8), a = specific catchment area in m²/m, "
            "β = the DEM's Horn slope. Where the land is flat, β is taken as the <b>minimum slope</b> "
            "(default 0.1°) so the index stays finite. Dimensionless; high values are wet, converging "
            "lowlands.</p>" + NOTE)

    def initAlgorithm(self, config=None):  # noqa: N802
        add_flow_parameters(self, min_slope=True)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "TWI"))

    def process(self, parameters, context, feedback):
        return run_hydrology(self, parameters, context, feedback, {
            "twi": ("OUTPUT", "TWI", "twi", lambda lyr: styles.style_sequential(lyr, ""))})
