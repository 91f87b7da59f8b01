"""The D8 neighbourhood and the block / chunk helpers shared by depression filling (`terrain.fill`), flow routing
(`terrain.routing`) and the hydrological indices (`terrain.indices`).

All functions work on whole arrays with vectorised numpy / scipy operations (no per-cell Python loops); loops
run over pointer-doubling rounds or over flow "waves" (cells whose upstream cells are all done). Full-size
work arrays are int8 / int16 / bool / int32, the epsilon-filled DEM is kept compact (`EpsilonFilledDem`) and
temporaries are made per block of rows or per chunk of cells, so that memory stays within about four times the
DEM's size (float32) besides the DEM and any extra output (measured by scripts/benchmarks/benchmark_factors.py).

Conventions shared by every function:

* Nodata is NaN and stays NaN in every output.
* Water leaves the raster through its edge and through cells next to nodata (as in RichDEM): those cells are
  outlets of the depression fill; edge cells never pass flow on; a cell next to nodata passes flow on only
  when it has a lower valid neighbour.
* D8 direction index k = 0..7 means east, south-east, south, south-west, west, north-west, north, north-east
  (ESRI code 2**k); -1 means no outflow (outlet, nodata, or a pit of an unfilled DEM).
* ``lx``, ``ly``: cell sizes in metres east-west and north-south, scalars or one value per row (see
  `terrain.derivatives.metric_cell_sizes`). A diagonal step is hypot(lx, ly) long.
"""
from __future__ import annotations

import numpy as np

DIRECTION_ROWS = np.array([0, 1, 1, 1, 0, -1, -1, -1])
DIRECTION_COLS = np.array([1, 1, 0, -1, -1, -1, 0, 1])
CARDINALS_FIRST = (0, 2, 4, 6, 1, 3, 5, 7)


def shifted(padded: np.ndarray, k: int) -> np.ndarray:
    """View of the padded array aligned so that element (r, c) is the k-th neighbour of cell (r, c)."""
    r, c = padded.shape[0] - 2, padded.shape[1] - 2
    dr, dc = DIRECTION_ROWS[k], DIRECTION_COLS[k]
    return padded[1 + dr:1 + dr + r, 1 + dc:1 + dc + c]


def row_sizes(size, rows: int) -> np.ndarray:
    """A per-row cell size (metres) from a scalar or a per-row array."""
    size = np.asarray(size, dtype=np.float64)
    return np.broadcast_to(size, (rows,)).copy() if size.ndim == 0 else size.reshape(rows)


def step_lengths(lx, ly, rows: int) -> np.ndarray:
    """Distance (m) to each of the eight neighbours, shape (8, rows, 1)."""
    lx, ly = row_sizes(lx, rows), row_sizes(ly, rows)
    diagonal = np.hypot(lx, ly)
    return np.stack([lx, diagonal, ly, diagonal, lx, diagonal, ly, diagonal])[:, :, None]


def as_float(dem: np.ndarray) -> np.ndarray:
    dem = np.asarray(dem)
    return dem if np.issubdtype(dem.dtype, np.floating) else dem.astype(np.float64)


BLOCK_CELLS = 1 << 18
CHUNK_CELLS = 1 << 20
WAVE_CELLS = 1 << 16


def index_dtype(size: int):
    """Cell index type: int32 below 2**31 cells (half the memory of int64), int64 above."""
    return np.int32 if size < 2 ** 31 else np.int64


def row_blocks(rows: int, cols: int, cells: int = BLOCK_CELLS):
    """(start, stop) row ranges of about ``cells`` cells, for cache-sized work on large rasters."""
    step = max(1, cells // max(cols, 1))
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


def cell_chunks(size: int):
    """(start, stop) ranges of at most `CHUNK_CELLS` elements of a flat array, to keep temporaries small."""
    for start in range(0, max(size, 1), CHUNK_CELLS):
        yield start, min(size, start + CHUNK_CELLS)


def rows_with_halo(values: np.ndarray, start: int, stop: int, fill) -> np.ndarray:
    """Rows start..stop-1 of ``values`` with one row / column of neighbours (``fill`` beyond the raster) on
    every side, so that `shifted` of the result lines up with those rows."""
    rows, cols = values.shape
    out = np.full((stop - start + 2, cols + 2), fill, dtype=values.dtype)
    low, high = max(start - 1, 0), min(stop + 1, rows)
    out[low - start + 1:high - start + 1, 1:-1] = values[low:high]
    return out


def require_3x3(shape, what: str, name: str = "The DEM") -> None:
    """Refuse a raster (``name``) smaller than 3 x 3 cells: ``what`` needs every cell's 3 x 3 neighbourhood."""
    rows, cols = shape[-2:]
    if rows < 3 or cols < 3:
        raise ValueError(f"{name} is {cols} x {rows} cells (columns x rows); {what} needs at least 3 x 3 cells")


def require_valid_cell(dem: np.ndarray, name: str = "The DEM") -> None:
    """Refuse a DEM (NaN = nodata) whose every cell is nodata; checked chunk by chunk (small temporaries)."""
    dem = np.asarray(dem)
    if not np.issubdtype(dem.dtype, np.floating):
        return
    flat = dem.reshape(-1)
    if all(np.isnan(flat[start:stop]).all() for start, stop in cell_chunks(flat.size)):
        raise ValueError(f"{name} has no valid cell: every cell is nodata")
