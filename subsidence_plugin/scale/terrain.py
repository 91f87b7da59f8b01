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
from .outputs import TiledOutput
from .tiles import Tile, plan_tiles

TERRAIN_HALO = 1
DEFAULT_TILE = (1024, 1024)  # cells: tasks cost about 1.2 ms each on a LocalCluster, so tiles of 10^6 cells


def terrain_task(tile: Tile, path: str, band: int, products) -> Tuple[Dict[str, np.ndarray], int]:
    """On a worker: the tile's products (float32, NaN = nodata) and its number of cells with a value."""
    grid = read_grid(path, band=band)
    values = read_window(path, *tile.window, band=band)
    edges = (tile.halo_top == 0, tile.halo_bottom == 0, tile.halo_left == 0, tile.halo_right == 0)
    out = terrain_tile(values, grid, tile.row0, products, edges)
    first = next(iter(out.values()))
    return {k: v.astype(np.float32) for k, v in out.items()}, int(np.count_nonzero(~np.isnan(first)))


def distributed_terrain(client, path: str, outputs: Dict[str, str], band: int = 1,
                        tile_shape: Tuple[int, int] = DEFAULT_TILE, progress: Optional[ProgressCallback] = None,
                        is_cancelled: Optional[CancelCheck] = None) -> None:
    """`core.terrain.derivatives.write_terrain` on the workers of ``client``: ``outputs`` maps products (slope,
    slope_percent, aspect, total, profile, plan) to output files (cloud-optimised float32 GeoTIFFs, the plugin's
    nodata); nothing is left behind on cancel or error."""
    grid = terrain_input_grid(path, band)
    check_workers_read(client, path)
    tiles = plan_tiles(grid.shape, tile_shape, TERRAIN_HALO)
    writers = {}
    try:
        for product, output in outputs.items():
            writers[product] = TiledOutput(output, grid.with_nodata(NODATA), [product])
        valid = 0
        for tile, (blocks, count) in completed(client, terrain_task, tiles, path, band, list(outputs),
                                               progress=progress, is_cancelled=is_cancelled):
            for product, values in blocks.items():
                writers[product].write(values, tile.row0, tile.col0)
            valid += count
        finish_terrain_outputs(writers, valid, path)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
