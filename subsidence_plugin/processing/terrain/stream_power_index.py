"""subsidence:streampowerindex - SPI = a tan beta from a DEM in one step (seed 000, eq. 3)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from .. import styles
from ..base import SubsidenceAlgorithm
from .common import NOTE, add_flow_parameters, run_hydrology


class StreamPowerIndex(SubsidenceAlgorithm):
    NAME = "streampowerindex"
    DISPLAY_NAME = "Stream power index (SPI)"
    GROUP = "Hydrology"
    HELP = ("<p><b>SPI = a · tan β</b> (Moore et al. 1991; seed 000, eq. 3) from a DEM in one step: fill "
            "depressions, accumulate flow (MFD by default, or D8), a = specific catchment area in m²/m, β = the "
            "DEM's Horn slope, at least the <b>minimum slope</b> (default 0.1°). Units m²/m; high values mark "
            "erosive concentrated flow.</p>" + NOTE)

    def initAlgorithm(self, config=None):  # noqa: N802
        add_flow_parameters(self, min_slope=True)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "SPI"))

    def process(self, parameters, context, feedback):
        return run_hydrology(self, parameters, context, feedback, {
            "spi": ("OUTPUT", "SPI", "spi_m2_m", lambda lyr: styles.style_sequential(lyr, "m²/m"))})
