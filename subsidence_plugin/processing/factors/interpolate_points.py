"""subsidence:interpolatepoints - station values to a raster: IDW or ordinary kriging with a fitted variogram."""
from __future__ import annotations

from qgis.core import (QgsProcessingOutputNumber, QgsProcessingOutputString, QgsProcessingParameterEnum,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination)

from ...core.spatial.interpolation import InterpolationSettings
from ..base import SubsidenceAlgorithm, add_advanced
from ..interpolation import VARIOGRAMS, add_points_parameters, run_interpolation, variogram_models

METHODS = ["Inverse distance weighting (IDW)", "Ordinary kriging"]


class InterpolatePoints(SubsidenceAlgorithm):
    NAME = "interpolatepoints"
    DISPLAY_NAME = "Interpolate station values"
    GROUP = "Factors"
    HELP = (
        "<p>Interpolates a numeric field of points (rain gauges, piezometers, boreholes) to a raster on the grid "
        "of a reference raster: precipitation (seed 002 uses IDW), groundwater level or compressible-layer "
        "thickness (seeds 001, 003).</p>"
        "<p><b>IDW</b>: weights 1/d<sup>power</sup> over the k nearest points within an optional radius. "
        "<b>Ordinary kriging</b> over the k nearest points with a variogram (spherical, exponential, gaussian "
        "or linear, PyKrige's definitions) fitted by robust least squares to the experimental variogram; "
        "<i>Automatic</i> fits all four and keeps the one with the lowest leave-one-out RMSE. Kriging writes "
        "the kriging variance (squared units) as a second band. For InSAR surfaces with more options see "
        "<i>Kriging</i> and <i>IDW</i> in the Surface group.</p>"
        "<p>Points are reprojected to the reference CRS, which must be projected (metres). Points at the same "
        "place are averaged; features without value are skipped and counted. Leave-one-out RMSE, MAE and R² "
        "are reported.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_points_parameters(self, "Value field")
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Method", METHODS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("NEIGHBOURS", "Nearest points used (k)",
                                                       QgsProcessingParameterNumber.Integer, 12, minValue=1))
        add_advanced(self, QgsProcessingParameterNumber("POWER", "IDW power", QgsProcessingParameterNumber.Double,
                                                        2.0, minValue=0.0))
        add_advanced(self, QgsProcessingParameterNumber("RADIUS", "IDW search radius (m, 0 = unlimited)",
                                                        QgsProcessingParameterNumber.Double, 0.0, minValue=0.0))
        add_advanced(self, QgsProcessingParameterEnum("VARIOGRAM", "Variogram model (kriging)", VARIOGRAMS,
                                                      defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Interpolated raster"))
        self.addOutput(QgsProcessingOutputNumber("CV_RMSE", "Leave-one-out RMSE"))
        self.addOutput(QgsProcessingOutputNumber("CV_R2", "Leave-one-out R²"))
        self.addOutput(QgsProcessingOutputString("VARIOGRAM_MODEL", "Variogram (JSON)"))

    def process(self, parameters, context, feedback):
        choice = self.parameterAsEnum(parameters, "VARIOGRAM", context)
        settings = InterpolationSettings(
            method="kriging" if self.parameterAsEnum(parameters, "METHOD", context) == 1 else "idw",
            k=self.parameterAsInt(parameters, "NEIGHBOURS", context),
            power=self.parameterAsDouble(parameters, "POWER", context),
            radius=self.parameterAsDouble(parameters, "RADIUS", context),
            models=variogram_models(choice))
        return run_interpolation(self, parameters, "INPUT",
                                 self.parameterAsString(parameters, "FIELD", context),
                                 self.parameterAsRasterLayer(parameters, "REFERENCE", context),
                                 self.parameterAsOutputLayer(parameters, "OUTPUT", context), settings, context,
                                 feedback)
