"""Shared parameters and run logic of the terrain algorithms (slope, aspect, curvature)."""
from __future__ import annotations

import numpy as np
from qgis.core import QgsProcessingParameterEnum, QgsProcessingParameterNumber, QgsProcessingParameterString

from ...core.io.rasters import NODATA, RasterWriter, read_raster, valid_mask
from ...core.terrain.derivatives import write_terrain
from ...core.terrain.indices import hydrology_from_dem
from ..base import add_advanced, processing_errors, progress_adapter
from ..inputs import add_dem_input, dem_input
from ..outputs import finish_raster_output

CELL_SIZE_NOTE = (
    "<p>Cell sizes are true metres: for a projected CRS from the geotransform and the CRS's unit; for a "
    "geographic CRS (degrees) each row gets its own east-west and north-south size from the ellipsoid at its "
    "latitude. A DEM without CRS is refused. Nodata stays nodata; missing neighbours at edges and holes are "
    "extrapolated linearly from the opposite neighbour (exact on planes). Streamed in row blocks, so DEMs "
    "larger than memory work.</p>"
    "<p><b>Dask scheduler address</b> (advanced): computed in tiles on that Dask cluster's workers (the DEM on "
    "storage every worker reads; the optional packages of requirements/distributed.txt here and on the workers), "
    "the same values cell for cell; the outputs, written here, are cloud-optimised GeoTIFFs.</p>")


def add_dem_parameters(algorithm) -> None:
    add_dem_input(algorithm)
    add_advanced(algorithm, QgsProcessingParameterNumber("BLOCK_ROWS", "Rows per block (memory)",
                                                         QgsProcessingParameterNumber.Integer, 512, minValue=16))
    add_advanced(algorithm, QgsProcessingParameterString(
        "DASK_SCHEDULER", "Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty = this machine)", "",
        optional=True))


def run_on_cluster(scheduler: str, path: str, outputs: dict, band: int, feedback) -> None:
    """The products computed in tiles on the Dask cluster at ``scheduler`` (the workers must read ``path``);
    progress from the completed tiles, Cancel cancels the tiles still pending."""
    from ...scale.cluster import dask_client
    from ...scale.terrain import distributed_terrain

    with dask_client(scheduler=scheduler) as client:
        feedback.pushInfo(f"Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} worker(s)")
        distributed_terrain(client, path, outputs, band, progress=progress_adapter(feedback),
                            is_cancelled=feedback.isCanceled)


def run_terrain(algorithm, parameters, context, feedback, products) -> dict:
    """``products``: {core product: (output parameter, layer name, styler)} for the requested outputs."""
    layer, path, band = dem_input(algorithm, parameters, context)
    outputs = {product: algorithm.parameterAsOutputLayer(parameters, key, context)
               for product, (key, _, _) in products.items()}
    scheduler = (algorithm.parameterAsString(parameters, "DASK_SCHEDULER", context) or "").strip()
    with processing_errors(prefix=layer.name()):
        if scheduler:
            run_on_cluster(scheduler, path, outputs, band, feedback)
        else:
            write_terrain(path, outputs, band=band,
                          block_rows=algorithm.parameterAsInt(parameters, "BLOCK_ROWS", context),
                          progress=progress_adapter(feedback), is_cancelled=feedback.isCanceled)
    results = {}
    for product, (key, name, styler) in products.items():
        finish_raster_output(context, outputs[product], name, key, styler)
        results[key] = outputs[product]
    return results


FLOW_METHODS = [("mfd", "Multiple flow directions (Freeman 1991, exponent 1.1)"),
                ("d8", "D8 (single steepest direction)")]


NOTE = ("<p>The whole DEM is processed in memory (about four float32 arrays of its size besides the DEM itself). "
        "Nodata stays nodata; water leaves through the raster edge and through cells next to nodata. Cell sizes are "
        "true metres, also for a geographic CRS; a DEM without CRS is refused.</p>")


def add_flow_parameters(algorithm, flow_method: bool = True, min_slope: bool = False) -> None:
    add_dem_input(algorithm)
    if flow_method:
        algorithm.addParameter(QgsProcessingParameterEnum("METHOD", "Flow routing",
                                                          [label for _, label in FLOW_METHODS], defaultValue=0))
    if min_slope:
        add_advanced(algorithm, QgsProcessingParameterNumber(
            "MIN_SLOPE", "Minimum slope (degrees) where the land is flat", QgsProcessingParameterNumber.Double, 0.1,
            minValue=1e-6, maxValue=10.0))


def run_hydrology(algorithm, parameters, context, feedback, products) -> dict:
    """``products``: {hydrology_from_dem key: (output parameter, layer name, band name, styler)}."""
    layer, path, band = dem_input(algorithm, parameters, context)
    method = FLOW_METHODS[algorithm.parameterAsEnum(parameters, "METHOD", context)][0]
    min_slope = (algorithm.parameterAsDouble(parameters, "MIN_SLOPE", context)
                 if algorithm.parameterDefinition("MIN_SLOPE") is not None else 0.1)
    outputs = {key: algorithm.parameterAsOutputLayer(parameters, out, context)
               for key, (out, _, _, _) in products.items()}
    outputs = {k: v for k, v in outputs.items() if v}
    with processing_errors(prefix=layer.name()):
        raster = read_raster(path, bands=[band])
        dem = raster.array[0]
        if np.issubdtype(dem.dtype, np.floating):
            dem[~valid_mask(dem, raster.grid.nodata)] = np.nan  # in place: the core then needs no copy
        feedback.pushInfo(f"Flow routing: {method.upper()}, {raster.grid.width} x {raster.grid.height} cells")
        result = hydrology_from_dem(dem, raster.grid, method=method, min_slope_degrees=min_slope,
                                    outputs=list(outputs), progress=progress_adapter(feedback),
                                    is_cancelled=feedback.isCanceled)
    grid = raster.grid.with_nodata(NODATA)
    del raster, dem
    results = {}
    for key, target in outputs.items():
        out, name, band_name, styler = products[key]
        write_rows(target, result.pop(key), grid, band_name)
        finish_raster_output(context, target, name, out, styler)
        results[out] = target
    return results


def write_rows(path: str, values: np.ndarray, grid, band_name: str, dtype=np.float32, block_rows: int = 256) -> None:
    """Write a raster (NaN = nodata) as a GeoTIFF of ``dtype`` in blocks of rows, without a full-size copy."""
    with RasterWriter(path, grid, 1, dtype, [band_name]) as writer:
        for start in range(0, values.shape[0], block_rows):
            writer.write(values[start:start + block_rows].astype(dtype), row0=start)
