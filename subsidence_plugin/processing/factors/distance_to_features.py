"""subsidence:distancetofeatures - exact Euclidean distance in metres to the features of a vector layer."""
from __future__ import annotations

from qgis.core import (QgsProcessingParameterFeatureSource, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from ...core.io.rasters import NODATA, write_raster
from ...core.io.stack import reference_grid
from ...core.spatial.proximity import distance_to_features, features_from_wkb
from .. import styles
from ..base import SubsidenceAlgorithm, processing_errors, progress_adapter
from ..inputs import feature_wkbs, gdal_raster_path
from ..outputs import finish_raster_output


class DistanceToFeatures(SubsidenceAlgorithm):
    NAME = "distancetofeatures"
    DISPLAY_NAME = "Distance to features"
    GROUP = "Factors"
    HELP = (
        "<p>Euclidean distance in <b>metres</b> from every cell centre of a reference raster's grid to the "
        "nearest feature of a vector layer: rivers, faults, wells, roads (driving forces of seeds 000 and "
        "002). Distances are <b>exact</b> to the geometry (points, line segments, polygon outlines; 0 inside "
        "polygons), not chamfer or rasterised approximations.</p>"
        "<p>The layer is reprojected to the reference raster's CRS, which must be projected (metres); a "
        "geographic reference is refused. Features outside the grid count too.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "Features (rivers, faults, wells, ...)"))
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference raster (grid)"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Distance (m)"))

    def process(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        reference = self.parameterAsRasterLayer(parameters, "REFERENCE", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with processing_errors():
            grid = reference_grid(gdal_raster_path(reference, "Reference raster"))
            features = features_from_wkb(feature_wkbs(source, reference.crs(), context, feedback, "Features"))
            distance = distance_to_features(features, grid, progress=progress_adapter(feedback),
                                            is_cancelled=feedback.isCanceled)
        write_raster(output, distance, grid.with_nodata(NODATA), ["distance_m"])
        feedback.pushInfo(f"Distance from 0 to {distance.max():.0f} m")
        finish_raster_output(context, output, "Distance (m)", "OUTPUT",
                             lambda lyr: styles.style_sequential(lyr, "m", colours=styles.SEQUENTIAL[::-1]))
        return {"OUTPUT": output}
