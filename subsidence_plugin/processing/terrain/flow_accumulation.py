"""subsidence:flowaccumulation - D8 or MFD flow accumulation (cells) and specific catchment area (m^2/m)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from .. import styles
from ..base import SubsidenceAlgorithm
from .common import NOTE, add_flow_parameters, run_hydrology


def _log_style(layer) -> None:
    styles.style_sequential(layer, "", colours=styles.SEQUENTIAL)


class FlowAccumulation(SubsidenceAlgorithm):
    NAME = "flowaccumulation"
    DISPLAY_NAME = "Flow accumulation"
    GROUP = "Hydrology"
    HELP = ("<p>Fills the DEM's depressions (epsilon gradient, so flats drain towards their outlet), then "
            "accumulates flow by <b>D8</b> (all flow to the steepest of eight neighbours, O'Callaghan & Mark "
            "1984) or by <b>multiple flow directions</b> (MFD, Freeman 1991: flow split among all lower "
            "neighbours in proportion to slope<sup>1.1</sup>).</p>"
            "<p>Outputs: accumulation in <b>cells</b> (each cell counts itself) and the <b>specific catchment "
            "area</b> a in <b>m²/m</b>: contributing area divided by the contour width (the cell width).</p>" + NOTE)

    def initAlgorithm(self, config=None):  # noqa: N802
        add_flow_parameters(self)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Flow accumulation (cells)"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_SCA", "Specific catchment area (m²/m)",
                                                                  optional=True))

    def process(self, parameters, context, feedback):
        return run_hydrology(self, parameters, context, feedback, {
            "accumulation": ("OUTPUT", "Flow accumulation (cells)", "flow_accumulation_cells", _log_style),
            "sca": ("OUTPUT_SCA", "Specific catchment area (m²/m)", "specific_catchment_area_m2_m", _log_style)})
