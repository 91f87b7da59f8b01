"""Shared parameters and run logic of the terrain algorithms (slope, aspect, curvature)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterNumber

from ..core.terrain import write_terrain
from .base import add_advanced, add_dem_input, dem_input, finish_raster_output, processing_errors, progress_adapter

CELL_SIZE_NOTE = (
    "<p>Cell sizes are true metres: for a projected CRS from the geotransform and the CRS's unit; for a "
    "geographic CRS (degrees) each row gets its own east-west and north-south size from the ellipsoid at its "
    "latitude. A DEM without CRS is refused. Nodata stays nodata; missing neighbours at edges and holes are "
    "extrapolated linearly from the opposite neighbour (exact on planes). Streamed in row blocks, so DEMs "
    "larger than memory work.</p>")


def add_dem_parameters(algorithm) -> None:
    add_dem_input(algorithm)
    add_advanced(algorithm, QgsProcessingParameterNumber("BLOCK_ROWS", "Rows per block (memory)",
                                                         QgsProcessingParameterNumber.Integer, 512, minValue=16))


def run_terrain(algorithm, parameters, context, feedback, products) -> dict:
    """``products``: {core product: (output parameter, layer name, styler)} for the requested outputs."""
    layer, path, band = dem_input(algorithm, parameters, context)
    outputs = {product: algorithm.parameterAsOutputLayer(parameters, key, context)
               for product, (key, _, _) in products.items()}
    with processing_errors(prefix=layer.name()):
        write_terrain(path, outputs, band=band,
                      block_rows=algorithm.parameterAsInt(parameters, "BLOCK_ROWS", context),
                      progress=progress_adapter(feedback), is_cancelled=feedback.isCanceled)
    results = {}
    for product, (key, name, styler) in products.items():
        finish_raster_output(context, outputs[product], name, key, styler)
        results[key] = outputs[product]
    return results
