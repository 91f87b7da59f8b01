"""subsidence:interpolatepoints - station values to a raster: IDW or ordinary kriging with a fitted variogram."""
from __future__ import annotations

from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingOutputNumber,
                       QgsProcessingOutputString, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterField,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from ..core.interpolation import InverseDistance, LocalKriging, cross_validate, interpolate_to_grid, select_variogram
from ..core.progress import Cancelled
from ..core.raster_io import RasterReadError
from ..core.stack import reference_grid
from ..core.variogram import MODELS
from . import styles
from .base import (SubsidenceAlgorithm, add_advanced, finish_raster_output, gdal_raster_path, points_with_values,
                   progress_adapter)

METHODS = ["Inverse distance weighting (IDW)", "Ordinary kriging"]
VARIOGRAMS = ["Automatic (best leave-one-out RMSE)"] + [m.title() for m in MODELS]


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
        "the kriging variance (squared units) as a second band.</p>"
        "<p>Points are reprojected to the reference CRS, which must be projected (metres). Points at the same "
        "place are averaged; features without value are skipped and counted. Leave-one-out RMSE, MAE and R² "
        "are reported.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "Points", [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField("FIELD", "Value field", parentLayerParameterName="INPUT",
                                                      type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference raster (grid)"))
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Method", METHODS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("NEIGHBOURS", "Nearest points used (k)",
                                                       QgsProcessingParameterNumber.Integer, 12, minValue=1))
        advanced = [
            QgsProcessingParameterNumber("POWER", "IDW power", QgsProcessingParameterNumber.Double, 2.0, minValue=0.0),
            QgsProcessingParameterNumber("RADIUS", "IDW search radius (m, 0 = unlimited)",
                                         QgsProcessingParameterNumber.Double, 0.0, minValue=0.0),
            QgsProcessingParameterEnum("VARIOGRAM", "Variogram model (kriging)", VARIOGRAMS, defaultValue=0),
        ]
        for parameter in advanced:
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Interpolated raster"))
        self.addOutput(QgsProcessingOutputNumber("CV_RMSE", "Leave-one-out RMSE"))
        self.addOutput(QgsProcessingOutputNumber("CV_R2", "Leave-one-out R²"))
        self.addOutput(QgsProcessingOutputString("VARIOGRAM_MODEL", "Variogram (JSON)"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        import json

        source = self.parameterAsSource(parameters, "INPUT", context)
        field = self.parameterAsString(parameters, "FIELD", context)
        reference = self.parameterAsRasterLayer(parameters, "REFERENCE", context)
        kriging = self.parameterAsEnum(parameters, "METHOD", context) == 1
        k = self.parameterAsInt(parameters, "NEIGHBOURS", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        try:
            grid = reference_grid(gdal_raster_path(reference, "Reference raster"))
            if grid.is_geographic:
                raise ValueError("The reference raster is in a geographic CRS (degrees); interpolation needs a "
                                 "projected CRS in metres: reproject it first")
            x, y, values, skipped = points_with_values(source, field, reference.crs(), context, feedback)
            if skipped:
                feedback.pushWarning(f"{skipped} feature(s) without geometry or value were skipped")
            variogram_json = ""
            if kriging:
                choice = self.parameterAsEnum(parameters, "VARIOGRAM", context)
                models = list(MODELS) if choice == 0 else [MODELS[choice - 1]]
                variogram, _, table = select_variogram(x, y, values, models, k=k)
                for name, (fitted, stats) in table.items():
                    feedback.pushInfo(f"{name}: psill {fitted.psill:.4g}, range {fitted.range:.4g} m, nugget "
                                      f"{fitted.nugget:.4g}; leave-one-out RMSE {stats['rmse']:.4g}")
                feedback.pushInfo(f"Variogram used: {variogram.model}")
                method = LocalKriging(x, y, values, variogram, k=k)
                variogram_json = json.dumps(variogram.as_dict())

                def predict(px, py):
                    result = method.predict(px, py)
                    return result.values, result.variance

                names = [f"{field}_kriged", f"{field}_kriging_variance"]
            else:
                method = InverseDistance(x, y, values, self.parameterAsDouble(parameters, "POWER", context), k,
                                         self.parameterAsDouble(parameters, "RADIUS", context))
                predict = method.predict
                names = [f"{field}_idw"]
            if method.merged:
                feedback.pushWarning(f"{method.merged} point(s) at duplicate positions were averaged")
            stats = cross_validate(method)
            feedback.pushInfo(f"Leave-one-out over {stats['n']} points: RMSE {stats['rmse']:.4g}, "
                              f"MAE {stats['mae']:.4g}, R² {stats['r2']:.3f}")
            interpolate_to_grid(predict, grid, output, names, progress=progress_adapter(feedback),
                                is_cancelled=feedback.isCanceled)
        except Cancelled:
            raise QgsProcessingException("Cancelled: no output was written") from None
        except (ValueError, RasterReadError) as error:
            raise QgsProcessingException(str(error)) from error
        finish_raster_output(context, output, f"{field} ({'kriging' if kriging else 'IDW'})", "OUTPUT",
                             lambda lyr: styles.style_sequential(lyr, ""))
        return {"OUTPUT": output, "CV_RMSE": stats["rmse"], "CV_R2": stats["r2"], "VARIOGRAM_MODEL": variogram_json}
