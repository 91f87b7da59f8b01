"""subsidence:idw - inverse-distance weighting of a point field to a raster (the baseline of seed 000)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination

from ...core.spatial.interpolation import InterpolationSettings
from ..base import SubsidenceAlgorithm
from ..interpolation import (PointInterpolation, add_points_parameters, add_report_and_cv_outputs, add_units_parameter,
                             run_interpolation)


class InverseDistanceWeighting(PointInterpolation, SubsidenceAlgorithm):
    NAME = "idw"
    DISPLAY_NAME = "Inverse distance weighting (IDW)"
    GROUP = "Surface"
    HELP = (
        "<p>Inverse-distance weighting of a point field (InSAR velocity in mm/yr, displacement in mm, or any "
        "value) to a raster on the grid of a reference raster: z = Σ w<sub>i</sub> z<sub>i</sub> / Σ "
        "w<sub>i</sub> with w<sub>i</sub> = d<sub>i</sub><sup>-power</sup> over the <b>k nearest points</b> "
        "within an optional <b>radius</b> (cells with no point in the radius are nodata); a cell centre on a "
        "point takes its value. The baseline the patch CNN and kriging are compared with (seed 000).</p>"
        "<p>Leave-one-out RMSE, MAE and R² are reported (and in the optional HTML report). Points are "
        "reprojected to the reference CRS, which must be projected (metres); points at the same place are "
        "averaged.</p>"
        "<p><b>Units</b> (default mm/yr) label the legend; the surface is styled like every displacement / velocity "
        "output: red (negative = subsidence) - white (0) - blue, symmetric about 0.</p>")

    # parameter and output keys (stable: saved models, .model3 files and scripts use them)
    POWER = "POWER"
    NEIGHBOURS = "NEIGHBOURS"
    RADIUS = "RADIUS"

    def initAlgorithm(self, config=None):  # noqa: N802
        add_points_parameters(self)
        add_units_parameter(self)
        self.addParameter(QgsProcessingParameterNumber(self.POWER, "Power", QgsProcessingParameterNumber.Double, 2.0,
                                                       minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(self.NEIGHBOURS, "Nearest points per cell (k)",
                                                       QgsProcessingParameterNumber.Integer, 12, minValue=1))
        self.addParameter(QgsProcessingParameterNumber(self.RADIUS, "Search radius (m, 0 = unlimited)",
                                                       QgsProcessingParameterNumber.Double, 0.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "IDW surface"))
        add_report_and_cv_outputs(self)


    def process(self, parameters, context, feedback):
        settings = InterpolationSettings(method="idw", k=self.parameterAsInt(parameters, self.NEIGHBOURS, context),
                                         power=self.parameterAsDouble(parameters, self.POWER, context),
                                         radius=self.parameterAsDouble(parameters, self.RADIUS, context))
        return run_interpolation(self, parameters, self.INPUT,
                                 self.parameterAsString(parameters, self.FIELD, context),
                                 self.parameterAsRasterLayer(parameters, self.REFERENCE, context),
                                 self.parameterAsOutputLayer(parameters, self.OUTPUT, context), settings, context,
                                 feedback, self.parameterAsFileOutput(parameters, self.REPORT, context),
                                 unit=self._units(parameters, context), diverging=True)
