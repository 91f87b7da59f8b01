"""A saved patch CNN applied to a factor stack on a Dask cluster: chunks of whole dense tiles (`DENSE_TILE`), each
dense tile computed by `core.surface.patch_cnn.predict_tile` on a worker (one torch thread) with the window it reads
around itself (the patch's receptive field, p // 2 cells before and p − 1 − p // 2 after) and its Monte Carlo
dropout seeded per tile: the same tiles as in process, so the same values."""
from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np

from ..core.io.rasters import NODATA
from ..core.io.stack import open_factor_stack
from ..core.progress import CancelCheck, ProgressCallback
from .cluster import check_workers_read, completed
from .outputs import TiledOutput, ZarrOutput, is_zarr, write_zarr_tile
from .tiles import Tile, plan_tiles

CHUNK_TILES = 4  # dense tiles a side in a task: 1024 x 1024 cells


def surface_task(chunk: Tile, model_path: str, stack_path: str, mc_samples: int, seed: int, dense_tile: int,
                 store: Optional[str] = None, names: Sequence[str] = ()) -> Optional[np.ndarray]:
    """On a worker: (bands, rows, cols) float64 of a chunk, dense tile by dense tile; written into the Zarr
    ``store`` (arrays ``names``) instead of returned when one is given."""
    import torch

    from ..core.ml.samplers import Normalisation
    from ..core.surface.patch_cnn import load_patch_cnn, predict_tile

    model, description = load_patch_cnn(model_path)
    stack = open_factor_stack(stack_path)
    target = description["target"]
    normalisation = Normalisation(**description["normalisation"])
    out = np.full((2 if mc_samples > 1 else 1, chunk.rows, chunk.cols), np.nan)
    device = torch.device("cpu")
    for row0 in range(chunk.row0, chunk.row0 + chunk.rows, dense_tile):
        rows = min(dense_tile, chunk.row0 + chunk.rows - row0)
        for col0 in range(chunk.col0, chunk.col0 + chunk.cols, dense_tile):
            cols = min(dense_tile, chunk.col0 + chunk.cols - col0)
            out[:, row0 - chunk.row0:row0 - chunk.row0 + rows, col0 - chunk.col0:col0 - chunk.col0 + cols] = \
                predict_tile(model, normalisation, target["mean"], target["std"], stack.read_window, row0, rows, col0,
                             cols, mc_samples, device, seed, threads=1)
    if store is None:
        return out
    for name, band in zip(names, out):
        write_zarr_tile(store, name, band, chunk.row0, chunk.col0)
    return None


def distributed_surface(client, model_path: str, stack_path: str, output: str, mc_samples: int = 0, seed: int = 0,
                        chunk_tiles: int = CHUNK_TILES, progress: Optional[ProgressCallback] = None,
                        is_cancelled: Optional[CancelCheck] = None) -> Tuple[str, ...]:
    """`subsidence:applymodel` of a patch-CNN model file on the workers of ``client``: the prediction (and with
    ``mc_samples`` > 1 the Monte Carlo dropout spread) of every valid cell of the stack, a cloud-optimised float32
    GeoTIFF (or, for an output ending in .zarr, a Zarr store the workers write), nothing left behind on cancel or
    error; returns the band names."""
    from ..core.ml.model_files import compatibility_problems, read_model
    from ..core.surface.patch_cnn import DENSE_TILE, MODEL_KIND

    _, description = read_model(model_path, (MODEL_KIND,))
    stack = open_factor_stack(stack_path)
    problems = compatibility_problems(description, stack.band_names, stack.grid)
    if problems:
        raise ValueError("The stack does not match the model: " + "; ".join(problems))
    check_workers_read(client, stack_path)
    check_workers_read(client, model_path, raster=False)
    bands = (f"{description['target']['field']}_cnn",) + (("mc_dropout_std",) if mc_samples > 1 else ())
    chunk = chunk_tiles * DENSE_TILE
    zarr = is_zarr(output)
    writer = ZarrOutput(output, stack.grid, bands, (chunk, chunk)) if zarr else \
        TiledOutput(output, stack.grid.with_nodata(NODATA), list(bands))
    try:
        store = writer.store if zarr else None
        if zarr:
            check_workers_read(client, store, raster=False)
        for tile, values in completed(client, surface_task, plan_tiles(stack.grid.shape, (chunk, chunk), 0),
                                      model_path, stack_path, mc_samples, seed, DENSE_TILE, store, list(bands),
                                      progress=progress, is_cancelled=is_cancelled):
            if values is not None:
                writer.write(values, tile.row0, tile.col0)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return bands
