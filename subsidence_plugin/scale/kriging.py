"""Local kriging on a Dask cluster: the variogram fitted once on the client, duplicates merged once, and each tile of
the grid kriged on a worker by `core.spatial.interpolation.LocalKriging` (one thread) over exactly the points that
can be among the k nearest of its cells.

A tile's cells lie within h of its centre c (h: the distance from c to its farthest cell centre). The k nearest
points of c lie within d_k(c) of c, so every cell t has k points within d_k(c) + h and its own k nearest lie within
d_k(t) + h <= d_k(c) + 2h of c: the tile receives the points within that radius of c (a KD-tree ball query), and
its cells' neighbour sets equal those of the global KD-tree (tested). Predictions equal the in-process ones to
round-off (the systems are the same; only the grouping of cells that share a neighbour set differs).
"""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.spatial import cKDTree

from ..core.io.grid import RasterGrid
from ..core.io.rasters import NODATA
from ..core.progress import CancelCheck, ProgressCallback
from ..core.spatial.interpolation import LocalKriging, merge_duplicates
from ..core.spatial.variogram import Variogram
from .cluster import check_workers_read, completed
from .outputs import TiledOutput, ZarrOutput, is_zarr, write_zarr_tile
from .tiles import Tile, plan_tiles

DEFAULT_KRIGING_TILE = (256, 256)  # cells: a kriging tile costs about 0.1-1 s, so task overhead stays below 1 %
RADIUS_MARGIN = 1e-9  # relative: points exactly at the radius are kept despite rounding


def tile_targets(grid: RasterGrid, tile: Tile) -> Tuple[np.ndarray, np.ndarray]:
    """Cell-centre coordinates of a tile's cells, row by row."""
    rows = np.repeat(np.arange(tile.row0, tile.row0 + tile.rows), tile.cols)
    cols = np.tile(np.arange(tile.col0, tile.col0 + tile.cols), tile.rows)
    return grid.cell_centres(rows, cols)


def tile_points(tree: cKDTree, grid: RasterGrid, tile: Tile, k: int) -> np.ndarray:
    """Indices of the points within d_k(c) + 2h of the tile's centre c (see the module notes)."""
    tx, ty = tile_targets(grid, tile)
    cx, cy = (tx.min() + tx.max()) / 2.0, (ty.min() + ty.max()) / 2.0
    h = float(np.hypot(tx - cx, ty - cy).max())
    kth = min(k, tree.n)
    distance, _ = tree.query([cx, cy], k=kth)
    d_k = float(np.atleast_1d(distance)[-1])
    radius = (d_k + 2.0 * h) * (1.0 + RADIUS_MARGIN)
    return np.asarray(tree.query_ball_point([cx, cy], radius), dtype=np.int64)


def kriging_task(tile: Tile, grid: RasterGrid, x: np.ndarray, y: np.ndarray, z: np.ndarray, variogram: Variogram,
                 k: int, drift: bool) -> Tuple[np.ndarray, np.ndarray]:
    """On a worker: kriged values and variances (float64, tile.rows x tile.cols) of a tile from its points."""
    tx, ty = tile_targets(grid, tile)
    result = LocalKriging(x, y, z, variogram, k=k, drift=drift, threads=1).predict(tx, ty)
    return result.values.reshape(tile.rows, tile.cols), result.variance.reshape(tile.rows, tile.cols)


def _tiles_with_points(tiles: Sequence[Tile], grid, x, y, z, k):
    """(tile, its points' x, y, z) for every tile."""
    tree = cKDTree(np.column_stack([x, y]))
    for tile in tiles:
        members = tile_points(tree, grid, tile, k)
        yield tile, x[members], y[members], z[members]


def _kriging_tile(item, grid, variogram, k, drift, store: Optional[str] = None, names: Sequence[str] = ()):
    """A tile's values and variances, returned, or written into the Zarr ``store`` (arrays ``names``) by the
    worker (then None is returned)."""
    tile, x, y, z = item
    values, variance = kriging_task(tile, grid, x, y, z, variogram, k, drift)
    if store is None:
        return values, variance
    for name, band in zip(names, (values, variance)):
        write_zarr_tile(store, name, band, tile.row0, tile.col0)
    return None


def distributed_kriging(client, x: np.ndarray, y: np.ndarray, z: np.ndarray, variogram: Variogram, grid: RasterGrid,
                        output: str, band_names: Sequence[str], k: int = 32, drift: bool = False,
                        tile_shape: Tuple[int, int] = DEFAULT_KRIGING_TILE,
                        progress: Optional[ProgressCallback] = None,
                        is_cancelled: Optional[CancelCheck] = None) -> int:
    """Krige the points (x, y in the grid's CRS, metres) onto ``grid`` in tiles on the workers of ``client`` and
    write the values and the kriging variance: two float32 bands of a cloud-optimised GeoTIFF written here, or, for
    an output ending in .zarr, two arrays of a Zarr store the workers write; nothing left behind on cancel or
    error. Returns the number of points merged away as duplicates."""
    x, y, z, merged = merge_duplicates(np.asarray(x, float), np.asarray(y, float), np.asarray(z, float))
    tiles = plan_tiles(grid.shape, tile_shape, 0)
    zarr = is_zarr(output)
    writer = ZarrOutput(output, grid, band_names, tile_shape) if zarr else \
        TiledOutput(output, grid.with_nodata(NODATA), list(band_names))
    try:
        store = writer.store if zarr else None
        if zarr:
            check_workers_read(client, store, raster=False)
        for (tile, *_), result in completed(
                client, _kriging_tile, list(_tiles_with_points(tiles, grid, x, y, z, k)), grid, variogram, k, drift,
                store, list(band_names), progress=progress, is_cancelled=is_cancelled):
            if result is not None:
                writer.write(np.stack(result), tile.row0, tile.col0)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return merged


def krige_files(client, points: str, field: str, reference: str, output: str, models: Sequence[str], k: int = 32,
                drift: bool = False, n_lags: int = 20, max_lag: float = 0.0, cv_points: int = 1000, seed: int = 0,
                tile_shape: Tuple[int, int] = DEFAULT_KRIGING_TILE, progress: Optional[ProgressCallback] = None,
                is_cancelled: Optional[CancelCheck] = None) -> Variogram:
    """`subsidence:kriging` from files on the cluster: the points' ``field`` (a point layer, ``path`` or
    ``path|layername=name``, reprojected to the reference raster's CRS, which must be projected), the variogram
    chosen among ``models`` by leave-one-out RMSE on the client (as the algorithm chooses it), the grid kriged in
    tiles; returns the variogram used."""
    from ..core.io.points import read_points, transform_points
    from ..core.io.stack import reference_grid
    from ..core.spatial.interpolation import select_variogram

    grid = reference_grid(reference)
    if grid.is_geographic:
        raise ValueError("The reference raster is in a geographic CRS (degrees); kriging needs a projected CRS in "
                         "metres: reproject it first")
    path, _, layer = points.partition("|layername=")
    table = read_points(path, layer or None)
    z = table.numeric(field)
    known = np.isfinite(z)
    x, y = transform_points(table.x[known], table.y[known], table.crs_wkt, grid.crs_wkt)
    variogram, _, _ = select_variogram(x, y, z[known], models, k=k, cv_points=cv_points, n_lags=n_lags,
                                       max_lag=max_lag, seed=seed, drift=drift)
    distributed_kriging(client, x, y, z[known], variogram, grid, output,
                        [f"{field}_kriged", f"{field}_kriging_variance"], k, drift, tile_shape, progress,
                        is_cancelled)
    return variogram
