"""Slope, aspect and curvature on a Dask cluster: tiles with a one-cell halo (the 3 x 3 window), padded by
extrapolation only on the raster's true edges, each computed by `core.terrain.derivatives.terrain_tile`, the
function the in-process algorithms stream their row blocks through: the result equals theirs cell for cell."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np

from ..core.io.rasters import NODATA, read_grid, read_window
from ..core.progress import CancelCheck, ProgressCallback
from ..core.terrain.derivatives import finish_terrain_outputs, terrain_input_grid, terrain_tile
from .cluster import check_workers_read, completed
from .outputs import TiledOutput, ZarrOutput, is_zarr, write_zarr_tile
from .tiles import Tile, plan_tiles

TERRAIN_HALO = 1
DEFAULT_TILE = (1024, 1024)  # cells: tasks cost about 1.2 ms each on a LocalCluster, so tiles of 10^6 cells


def terrain_task(tile: Tile, path: str, band: int, products, stores: Dict[str, str]
                 ) -> Tuple[Dict[str, np.ndarray], int]:
    """On a worker: the tile's products (float32, NaN = nodata) and its number of cells with a value; the products
    with a Zarr store in ``stores`` are written there by the worker and not returned."""
    grid = read_grid(path, band=band)
    values = read_window(path, *tile.window, band=band)
    edges = (tile.halo_top == 0, tile.halo_bottom == 0, tile.halo_left == 0, tile.halo_right == 0)
    out = terrain_tile(values, grid, tile.row0, products, edges)
    count = int(np.count_nonzero(~np.isnan(next(iter(out.values())))))
    for product, store in stores.items():
        write_zarr_tile(store, product, out.pop(product).astype(np.float32), tile.row0, tile.col0)
    return {k: v.astype(np.float32) for k, v in out.items()}, count


def distributed_terrain(client, path: str, outputs: Dict[str, str], band: int = 1,
                        tile_shape: Tuple[int, int] = DEFAULT_TILE, progress: Optional[ProgressCallback] = None,
                        is_cancelled: Optional[CancelCheck] = None) -> None:
    """`core.terrain.derivatives.write_terrain` on the workers of ``client``: ``outputs`` maps products (slope,
    slope_percent, aspect, total, profile, plan) to output files: cloud-optimised float32 GeoTIFFs written here,
    or, for a path ending in .zarr, a Zarr store the workers write their tiles into (on storage they share);
    nothing is left behind on cancel or error."""
    grid = terrain_input_grid(path, band)
    check_workers_read(client, path)
    tiles = plan_tiles(grid.shape, tile_shape, TERRAIN_HALO)
    writers = {}
    try:
        for product, output in outputs.items():
            writers[product] = ZarrOutput(output, grid, [product], tile_shape) if is_zarr(output) else \
                TiledOutput(output, grid.with_nodata(NODATA), [product])
        stores = {product: writer.store for product, writer in writers.items() if isinstance(writer, ZarrOutput)}
        for store in stores.values():
            check_workers_read(client, store, raster=False)
        valid = 0
        for tile, (blocks, count) in completed(client, terrain_task, tiles, path, band, list(outputs), stores,
                                               progress=progress, is_cancelled=is_cancelled):
            for product, values in blocks.items():
                writers[product].write(values, tile.row0, tile.col0)
            valid += count
        finish_terrain_outputs(writers, valid, path)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
