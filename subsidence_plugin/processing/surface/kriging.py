"""subsidence:kriging - ordinary / universal kriging of a point field to a raster, with variance and a report."""
from __future__ import annotations

from qgis.core import (QgsProcessingOutputString, QgsProcessingParameterEnum, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterString)

from ...core.ml.devices import DEVICE_CHOICES
from ...core.spatial.interpolation import InterpolationSettings
from ..base import SubsidenceAlgorithm, add_advanced
from ..interpolation import (VARIOGRAMS, PointInterpolation, add_points_parameters, add_report_and_cv_outputs,
                             add_units_parameter, run_interpolation, variogram_models)

DRIFTS = ["Ordinary (constant unknown mean)", "Universal (linear drift in x and y)"]


class Kriging(PointInterpolation, SubsidenceAlgorithm):
    NAME = "kriging"
    DISPLAY_NAME = "Kriging"
    GROUP = "Surface"
    HELP = (
        "<p>Kriging of a point field (InSAR velocity in mm/yr, displacement in mm, or any value) to a raster "
        "on the grid of a reference raster, with the <b>kriging variance</b> (squared units) as band 2.</p>"
        "<p><b>Ordinary</b> kriging (unknown constant mean) or <b>universal</b> kriging with a linear drift. "
        "Variogram: spherical, exponential, gaussian or linear (PyKrige's definitions), fitted by robust least "
        "squares to the experimental variogram of a random subsample of pairs (so 10<sup>6</sup> points never "
        "need all pairwise distances); <i>Automatic</i> fits all four and keeps the lowest leave-one-out RMSE.</p>"
        "<p>Each cell is kriged from its <b>k nearest points</b> (KD-tree); the small systems are solved in "
        "batches (torch on the GPU when there is one, else numpy on the CPU's threads), streamed over the grid in "
        "row blocks, so "
        "memory does not grow with the number of points. Predictions equal PyKrige's moving-window kriging. "
        "Points at identical positions are averaged.</p>"
        "<p><b>Dask scheduler address</b> (advanced): the variogram is fitted here once, and the grid kriged in tiles "
        "on that cluster's workers, each tile with exactly the points that can be among its cells' k nearest (the "
        "optional packages of requirements/distributed.txt here and on the workers); the same values to round-off, "
        "written as a cloud-optimised GeoTIFF.</p>"
        "<p>The optional HTML report holds the leave-one-out statistics, the variogram with its fitted models "
        "and the predicted-against-observed plot. Points are reprojected to the reference CRS, which must be "
        "projected (metres).</p>"
        "<p><b>Units</b> (default mm/yr) label the legend; the surface is styled like every displacement / velocity "
        "output: red (negative = subsidence) - white (0) - blue, symmetric about 0.</p>")

    # parameter and output keys (stable: saved models, .model3 files and scripts use them)
    DRIFT = "DRIFT"
    VARIOGRAM = "VARIOGRAM"
    NEIGHBOURS = "NEIGHBOURS"
    N_LAGS = "N_LAGS"
    MAX_LAG = "MAX_LAG"
    CV_POINTS = "CV_POINTS"
    SEED = "SEED"
    DEVICE = "DEVICE"
    DASK_SCHEDULER = "DASK_SCHEDULER"
    VARIOGRAM_MODEL = "VARIOGRAM_MODEL"

    def initAlgorithm(self, config=None):  # noqa: N802
        add_points_parameters(self)
        add_units_parameter(self)
        self.addParameter(QgsProcessingParameterEnum(self.DRIFT, "Kriging type", DRIFTS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(self.VARIOGRAM, "Variogram model", VARIOGRAMS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.NEIGHBOURS, "Nearest points per cell (k)",
                                                       QgsProcessingParameterNumber.Integer, 32, minValue=3))
        add_advanced(self, QgsProcessingParameterNumber(self.N_LAGS, "Variogram lag classes",
                                                        QgsProcessingParameterNumber.Integer, 20, minValue=3))
        add_advanced(self, QgsProcessingParameterNumber(self.MAX_LAG, "Largest lag (m, 0 = half the extent's diagonal)",
                                                        QgsProcessingParameterNumber.Double, 0.0, minValue=0.0))
        add_advanced(self, QgsProcessingParameterNumber(self.CV_POINTS, "Points used for leave-one-out model choice",
                                                        QgsProcessingParameterNumber.Integer, 1000, minValue=10))
        add_advanced(self, QgsProcessingParameterNumber(self.SEED, "Random seed", QgsProcessingParameterNumber.Integer,
                                                        0, minValue=0))
        add_advanced(self, QgsProcessingParameterEnum(self.DEVICE, "Device", list(DEVICE_CHOICES), defaultValue=0))
        add_advanced(self, QgsProcessingParameterString(
            self.DASK_SCHEDULER, "Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty = this machine)", "",
            optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Kriged surface and variance"))
        add_report_and_cv_outputs(self)
        self.addOutput(QgsProcessingOutputString(self.VARIOGRAM_MODEL, "Variogram (JSON)"))


    def process(self, parameters, context, feedback):
        choice = self.parameterAsEnum(parameters, self.VARIOGRAM, context)
        settings = InterpolationSettings(
            method="kriging", k=self.parameterAsInt(parameters, self.NEIGHBOURS, context),
            models=variogram_models(choice),
            drift=self.parameterAsEnum(parameters, self.DRIFT, context) == 1,
            n_lags=self.parameterAsInt(parameters, self.N_LAGS, context),
            max_lag=self.parameterAsDouble(parameters, self.MAX_LAG, context),
            cv_points=self.parameterAsInt(parameters, self.CV_POINTS, context),
            seed=self.parameterAsInt(parameters, self.SEED, context))
        return run_interpolation(self, parameters, self.INPUT,
                                 self.parameterAsString(parameters, self.FIELD, context),
                                 self.parameterAsRasterLayer(parameters, self.REFERENCE, context),
                                 self.parameterAsOutputLayer(parameters, self.OUTPUT, context), settings, context,
                                 feedback, self.parameterAsFileOutput(parameters, self.REPORT, context),
                                 unit=self._units(parameters, context), diverging=True,
                                 device_name=DEVICE_CHOICES[self.parameterAsEnum(parameters, self.DEVICE, context)],
                                 scheduler=(self.parameterAsString(parameters, self.DASK_SCHEDULER, context)
                                            or "").strip())
