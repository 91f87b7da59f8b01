"""subsidence:drainagedensity - line length (km/km^2) or point count (per km^2) within a radius."""
from __future__ import annotations

from qgis.core import (QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer)

from ...core.io.rasters import NODATA, write_raster
from ...core.io.stack import reference_grid
from ...core.spatial.proximity import features_from_wkb, line_density, point_density
from .. import styles
from ..base import SubsidenceAlgorithm, processing_errors
from ..inputs import feature_wkbs, gdal_raster_path
from ..outputs import finish_raster_output

KINDS = ["Line length per area (km/km²), e.g. drainage density", "Points per area (per km²), e.g. well density"]


class DrainageDensity(SubsidenceAlgorithm):
    NAME = "drainagedensity"
    DISPLAY_NAME = "Drainage density / point density"
    GROUP = "Factors"
    HELP = (
        "<p><b>Drainage density</b>: total length of the lines (streams) within a search radius of every cell "
        "centre divided by the circle's area, in <b>km/km²</b> (seed 002). For point layers (wells), the "
        "<b>number of points per km²</b> within the radius.</p>"
        "<p>Lines are cut into pieces of a quarter cell and summed per cell, then convolved with a disk of the "
        "radius; features just outside the grid count near its edges. The layer is reprojected to the "
        "reference raster's CRS, which must be projected (metres).</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "Lines (streams) or points (wells)"))
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference raster (grid)"))
        self.addParameter(QgsProcessingParameterEnum("KIND", "Density of", KINDS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("RADIUS", "Search radius (m)",
                                                       QgsProcessingParameterNumber.Double, 1000.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Density"))

    def process(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        reference = self.parameterAsRasterLayer(parameters, "REFERENCE", context)
        lines = self.parameterAsEnum(parameters, "KIND", context) == 0
        radius = self.parameterAsDouble(parameters, "RADIUS", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with processing_errors():
            grid = reference_grid(gdal_raster_path(reference, "Reference raster"))
            features = features_from_wkb(feature_wkbs(source, reference.crs(), context, feedback, "Features"))
            density = (line_density if lines else point_density)(features, grid, radius)
        unit = "km/km²" if lines else "per km²"
        write_raster(output, density, grid.with_nodata(NODATA), ["drainage_density_km_km2" if lines else
                                                                  "point_density_per_km2"])
        feedback.pushInfo(f"Density from {density.min():.3g} to {density.max():.3g} {unit}")
        finish_raster_output(context, output, f"Density ({unit})", "OUTPUT",
                             lambda lyr: styles.style_sequential(lyr, unit))
        return {"OUTPUT": output}
