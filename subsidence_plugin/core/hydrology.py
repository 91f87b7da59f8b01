"""Flow routing on a DEM: depression filling, D8 and multiple-flow-direction accumulation, TWI and SPI.

All functions work on whole arrays with vectorised numpy / scipy operations (no per-cell Python loops); loops
run over pointer-doubling rounds or over flow "waves" (cells whose upstream cells are all done). Full-size
work arrays are int8 / int16 / bool / int32, the epsilon-filled DEM is kept compact (`EpsilonFilledDem`) and
temporaries are made per block of rows or per chunk of cells, so that memory stays within about four times the
DEM's size (float32) besides the DEM and any extra output (measured by scripts/benchmark_factors.py).

Conventions shared by every function:

* Nodata is NaN and stays NaN in every output.
* Water leaves the raster through its edge and through cells next to nodata (as in RichDEM): those cells are
  outlets of the depression fill; edge cells never pass flow on; a cell next to nodata passes flow on only
  when it has a lower valid neighbour.
* D8 direction index k = 0..7 means east, south-east, south, south-west, west, north-west, north, north-east
  (ESRI code 2**k); -1 means no outflow (outlet, nodata, or a pit of an unfilled DEM).
* ``lx``, ``ly``: cell sizes in metres east-west and north-south, scalars or one value per row (see
  `terrain.metric_cell_sizes`). A diagonal step is hypot(lx, ly) long.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

from .grid import RasterGrid
from .progress import CancelCheck, ProgressCallback, Steps
from .raster_io import valid_mask
from .terrain import iter_terrain_rows, metric_cell_sizes

DIRECTION_ROWS = np.array([0, 1, 1, 1, 0, -1, -1, -1])
DIRECTION_COLS = np.array([1, 1, 0, -1, -1, -1, 0, 1])
CARDINALS_FIRST = (0, 2, 4, 6, 1, 3, 5, 7)


def _shifted(padded: np.ndarray, k: int) -> np.ndarray:
    """View of the padded array aligned so that element (r, c) is the k-th neighbour of cell (r, c)."""
    r, c = padded.shape[0] - 2, padded.shape[1] - 2
    dr, dc = DIRECTION_ROWS[k], DIRECTION_COLS[k]
    return padded[1 + dr:1 + dr + r, 1 + dc:1 + dc + c]


def _row_sizes(size, rows: int) -> np.ndarray:
    """A per-row cell size (metres) from a scalar or a per-row array."""
    size = np.asarray(size, dtype=np.float64)
    return np.broadcast_to(size, (rows,)).copy() if size.ndim == 0 else size.reshape(rows)


def _step_lengths(lx, ly, rows: int) -> np.ndarray:
    """Distance (m) to each of the eight neighbours, shape (8, rows, 1)."""
    lx, ly = _row_sizes(lx, rows), _row_sizes(ly, rows)
    diagonal = np.hypot(lx, ly)
    return np.stack([lx, diagonal, ly, diagonal, lx, diagonal, ly, diagonal])[:, :, None]


def _as_float(dem: np.ndarray) -> np.ndarray:
    dem = np.asarray(dem)
    return dem if np.issubdtype(dem.dtype, np.floating) else dem.astype(np.float64)


_BLOCK_CELLS = 1 << 18
_CHUNK_CELLS = 1 << 20
_WAVE_CELLS = 1 << 16


def _index_type(size: int):
    """Cell index type: int32 below 2**31 cells (half the memory of int64), int64 above."""
    return np.int32 if size < 2 ** 31 else np.int64


def _row_blocks(rows: int, cols: int, cells: int = _BLOCK_CELLS):
    """(start, stop) row ranges of about ``cells`` cells, for cache-sized work on large rasters."""
    step = max(1, cells // max(cols, 1))
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


def _chunks(size: int):
    """(start, stop) ranges of at most `_CHUNK_CELLS` elements of a flat array, to keep temporaries small."""
    for start in range(0, max(size, 1), _CHUNK_CELLS):
        yield start, min(size, start + _CHUNK_CELLS)


def _padded_rows(values: np.ndarray, start: int, stop: int, fill) -> np.ndarray:
    """Rows start..stop-1 of ``values`` with one row / column of neighbours (``fill`` beyond the raster) on
    every side, so that `_shifted` of the result lines up with those rows."""
    rows, cols = values.shape
    out = np.full((stop - start + 2, cols + 2), fill, dtype=values.dtype)
    low, high = max(start - 1, 0), min(stop + 1, rows)
    out[low - start + 1:high - start + 1, 1:-1] = values[low:high]
    return out


def _pointer_roots(parent: np.ndarray) -> np.ndarray:
    """Root of every node of a forest given by parent pointers (roots point to themselves), in place: pointer
    jumping over the whole array chunk by chunk (reading already-updated pointers only shortens the chains)
    until fewer than 1/64 of the pointers change in a round, then on the nodes not yet at their root."""
    changed = parent.size
    while changed >= parent.size // 64 and changed:
        changed = 0
        for start, stop in _chunks(parent.size):
            part = parent[start:stop]
            jumped = parent[part]
            changed += np.count_nonzero(jumped != part)
            part[...] = jumped
    active = np.concatenate([np.flatnonzero(parent[parent[start:stop]] != parent[start:stop]) + start
                             for start, stop in _chunks(parent.size)])
    while active.size:
        parent[active] = parent[parent[active]]
        active = active[parent[parent[active]] != parent[active]]
    return parent


def _basins(z: np.ndarray) -> Tuple[np.ndarray, int]:
    """Label each valid cell with the local minimum it reaches by always stepping to its lowest neighbour
    (ties broken by position, so a flat plateau mostly joins one basin); -1 at nodata. Returns (labels of
    `_index_type`, number of basins)."""
    rows, cols = z.shape
    index_type = _index_type(z.size)
    offsets = DIRECTION_ROWS * cols + DIRECTION_COLS
    candidates = sorted([(int(offsets[k]), k) for k in range(8)] + [(0, -1)])
    parent = np.empty(z.size, dtype=index_type)
    for start, stop in _row_blocks(rows, cols):
        block = _padded_rows(z, start, stop, np.nan)
        best = np.full((stop - start, cols), np.inf, dtype=z.dtype)
        best_step = np.zeros(best.shape, dtype=index_type)
        lower = np.empty(best.shape, dtype=bool)
        for step, k in candidates:
            neighbour = z[start:stop] if k < 0 else _shifted(block, k)
            np.less(neighbour, best, out=lower)
            np.copyto(best, neighbour, where=lower)
            np.copyto(best_step, step, where=lower)
        best_step += np.arange(start * cols, stop * cols, dtype=index_type).reshape(best.shape)
        parent[start * cols:stop * cols] = best_step.ravel()
    _pointer_roots(parent)
    height = z.reshape(-1)
    roots = []
    for start, stop in _chunks(parent.size):
        cells = np.arange(start, stop, dtype=index_type)
        roots.append(cells[(parent[start:stop] == cells) & ~np.isnan(height[start:stop])])
    roots = np.concatenate(roots)
    # Labels in place: each root holds -1 - its number, every cell copies its root's value, then the signs flip.
    parent[roots] = -1 - np.arange(roots.size, dtype=index_type)
    for start, stop in _chunks(parent.size):
        part = parent[start:stop]
        np.copyto(part, parent[np.maximum(part, 0)], where=part >= 0)
    for start, stop in _chunks(parent.size):
        part = parent[start:stop]
        np.negative(part, out=part)
        part -= 1
        part[np.isnan(height[start:stop])] = -1
    return parent.reshape(z.shape), roots.size


def _ranks(values: np.ndarray):
    """Positive float64 weights with the same order as ``values`` and a function mapping weights back.

    Values that are exact float32 numbers are ranked through their bit patterns (no sorting, int32 work
    arrays); others through np.unique. Exact either way, so minimum spanning trees keep RichDEM's tie-free
    result.
    """
    single = values.astype(np.float32, copy=False)
    if single is values or np.array_equal(single, values):
        bits = single.view(np.int32)
        ordered = np.where(bits < 0, np.int32(-2 ** 31) - bits, bits)  # -0.0 and 0.0 both give 0
        lowest = int(ordered.min()) - 1
        rank = ordered.astype(np.float64)
        rank -= lowest

        def back(weights):
            o = weights.astype(np.int64) + lowest
            b = np.where(o < 0, np.int64(-2 ** 31) - o, o).astype(np.int32)
            return b.view(np.float32).astype(values.dtype)
        return back, rank
    unique, inverse = np.unique(values, return_inverse=True)
    return lambda weights: unique[weights.astype(np.int64) - 1], (inverse + 1).astype(np.float64)


def _lowest_per_key(keys: np.ndarray, levels: np.ndarray, presorted: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` (sorted unless ``presorted`` only merges runs of equal neighbours) with the lowest
    of their ``levels``."""
    if not keys.size:
        return keys, levels
    if not presorted:
        order = np.argsort(keys, kind="stable")
        keys, levels = keys[order], levels[order]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.minimum.reduceat(levels, first)


def _passes(z: np.ndarray, labels: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Lowest pass between each pair of touching basins: (keys a * (count + 1) + b with a < b, sorted, and
    their levels max(z_u, z_v), minimised over neighbouring cells u in a, v in b). b = count is the outside,
    reached from cells on the raster edge or next to nodata at their own elevation."""
    rows, cols = z.shape
    nodes = count + 1
    keys, levels = [], []
    for start, stop in _row_blocks(rows, cols, _BLOCK_CELLS // 4):  # about 70 bytes of work arrays a cell
        label_block = _padded_rows(labels, start, stop, -1).astype(np.int64)
        z_block = _padded_rows(z, start, stop, np.nan)
        inner, height = label_block[1:-1, 1:-1], z_block[1:-1, 1:-1]
        key = np.full(inner.shape + (5,), -1, dtype=np.int64)
        level = np.empty(inner.shape + (5,), dtype=z.dtype)
        outlet = np.zeros(inner.shape, dtype=bool)
        for k in range(4, 8):
            outlet |= _shifted(label_block, k) < 0
        for slot, k in enumerate((3, 2, 1, 0), start=1):
            other = _shifted(label_block, k)
            outlet |= other < 0
            low, high = np.minimum(inner, other), np.maximum(inner, other)
            np.copyto(key[..., slot], low * nodes + high, where=(low >= 0) & (low != high))
            np.maximum(height, _shifted(z_block, k), out=level[..., slot])
        np.copyto(key[..., 0], inner * nodes + count, where=outlet & (inner >= 0))
        level[..., 0] = height
        key, level = key.ravel(), level.ravel()
        border = key >= 0
        block_keys, block_levels = _lowest_per_key(key[border], level[border], presorted=True)
        block_keys, block_levels = _lowest_per_key(block_keys, block_levels, presorted=False)
        keys.append(block_keys)
        levels.append(block_levels)
    keys = np.concatenate(keys)
    levels = np.concatenate(levels)
    order = np.argsort(keys)
    keys = keys[order]
    levels = levels[order]
    del order
    return _lowest_per_key(keys, levels, presorted=True)


def _spill_elevations(z: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Lowest level (m) at which water from each basin can leave the raster (minimax path to the outside).

    Basins are nodes of a graph whose edges carry the lowest pass between two basins, max(z_u, z_v) minimised
    over neighbouring cells u, v; an extra node is the outside, joined to each basin by its lowest cell on the
    raster edge or next to nodata. The minimax path runs along the minimum spanning tree, so the spill level
    of a basin is the highest edge on its tree path to the outside.
    """
    keys, levels = _passes(z, labels, count)
    level_of, rank = _ranks(levels)
    del levels
    first = (keys // (count + 1)).astype(np.int32)
    second = (keys % (count + 1)).astype(np.int32)
    del keys
    indptr = np.concatenate([[0], np.cumsum(np.bincount(first, minlength=count + 1))])
    graph = sparse.csr_matrix((rank, second, indptr), shape=(count + 1, count + 1))
    del first, second, rank
    tree = minimum_spanning_tree(graph, overwrite=True).tocoo()
    del graph
    _, predecessor = breadth_first_order(tree, count, directed=False, return_predecessors=True)
    child = np.where(predecessor[tree.col] == tree.row, tree.col, tree.row)
    highest = np.zeros(count + 1)
    highest[child] = tree.data
    ancestor = predecessor.astype(np.int64)
    ancestor[count] = count
    while np.any(ancestor != count):
        highest = np.maximum(highest, highest[ancestor])
        ancestor = ancestor[ancestor]
    return level_of(highest[:count])


def _exact_fill(z: np.ndarray, steps: Steps, in_place: bool = False) -> np.ndarray:
    """Priority-flood fill without gradient: max(z, spill level of the cell's basin), written ``in_place`` into
    z or returned in z's type. A float32 result overwrites the basin labels chunk by chunk (no second buffer).
    """
    labels, count = _basins(z)
    steps.advance("Found the basins")
    spill = np.append(_spill_elevations(z, labels, count).astype(z.dtype), -np.inf) if count else None
    steps.advance("Found the spill levels")
    labels, height = labels.reshape(-1), z.reshape(-1)
    if in_place:
        filled = height
    elif labels.itemsize == z.itemsize:
        filled = labels.view(z.dtype)
    else:
        filled = np.empty(z.size, dtype=z.dtype)
    for start, stop in _chunks(z.size):
        if count:
            filled[start:stop] = np.maximum(height[start:stop], spill[labels[start:stop]])
        elif filled is not height:
            filled[start:stop] = height[start:stop]
    return filled.reshape(z.shape)


def _lower_and_outlets(z: np.ndarray):
    """Per block of rows: (start, stop, cells with a strictly lower valid neighbour, valid cells on the raster
    edge or next to nodata), the two as bool arrays of the block's shape."""
    for start, stop in _row_blocks(*z.shape):
        block = _padded_rows(z, start, stop, np.nan)
        centre = block[1:-1, 1:-1]
        lower = np.zeros(centre.shape, dtype=bool)
        outlet = np.zeros(centre.shape, dtype=bool)
        for k in range(8):
            neighbour = _shifted(block, k)
            lower |= neighbour < centre
            outlet |= np.isnan(neighbour)
        outlet &= ~np.isnan(centre)
        yield start, stop, lower, outlet


def _flat_steps(z: np.ndarray):
    """Breadth-first steps across the flats of ``z``: yields (distance, k, cells), the flat cells (flat
    indices) first reached ``distance`` steps (cells) from their flat's way out, by a step in D8 direction k
    away from it (so they drain towards (k + 4) % 8). Cardinal steps come first at equal distance.

    A flat cell is a valid cell, not on the edge or next to nodata, without a lower neighbour. The search
    starts from the cells that drain (lower neighbour) or leave the raster (outlets) and stays within cells of
    equal elevation; cells it never reaches are pits of an unfilled DEM. The caller may raise the cells just
    yielded in z: the search compares against the heights they had when reached. Method: Garbrecht & Martz
    (1997) gradient towards lower terrain, as a breadth-first distance (Barnes et al. 2014).
    """
    rows, cols = z.shape
    drains = np.empty(z.shape, dtype=bool)
    pending = np.empty(z.shape, dtype=bool)
    for start, stop, lower, outlet in _lower_and_outlets(z):
        np.logical_or(lower, outlet, out=drains[start:stop])
        np.logical_not(drains[start:stop] | np.isnan(z[start:stop]), out=pending[start:stop])
    frontier = [np.zeros(0, dtype=np.int64)]
    for start, stop in _row_blocks(rows, cols):
        block, z_block = _padded_rows(pending, start, stop, False), _padded_rows(z, start, stop, np.nan)
        near_flat = np.zeros((stop - start, cols), dtype=bool)
        for k in range(8):
            near_flat |= _shifted(block, k) & (_shifted(z_block, k) == z_block[1:-1, 1:-1])
        frontier.append(np.flatnonzero(near_flat & drains[start:stop]) + start * cols)
    del drains
    height, pending = z.reshape(-1), pending.reshape(-1)
    frontier = np.concatenate(frontier)
    frontier_height = height[frontier]
    # Targets outside the raster are clipped to a corner, and those wrapping round a row land on an edge
    # cell: neither is ever pending.
    steps = [int(step) for step in DIRECTION_ROWS * cols + DIRECTION_COLS]
    distance = 0
    while frontier.size:
        distance += 1
        reached, reached_height = [], []
        for k in CARDINALS_FIRST:
            target = frontier + steps[k]
            take = pending.take(target, mode="clip")
            target, source_height = target[take], frontier_height[take]
            target_height = height[target]
            same = target_height == source_height
            target, target_height = target[same], target_height[same]
            pending[target] = False
            reached.append(target)
            reached_height.append(target_height)
            yield distance, k, target
        frontier, frontier_height = np.concatenate(reached), np.concatenate(reached_height)


def _add_ulps(values: np.ndarray, count) -> np.ndarray:
    """``values`` (float64) raised by ``count`` units in the last place (np.nextafter applied count times)."""
    bits = values.view(np.int64)
    ordered = np.where(bits < 0, np.int64(-2 ** 63) - bits, bits) + count
    return np.where(ordered < 0, np.int64(-2 ** 63) - ordered, ordered).view(np.float64)


def _undrained(filled: np.ndarray) -> bool:
    """Whether some valid cell neither leaves the raster nor has a strictly lower neighbour."""
    return any(np.any(~lower & ~outlet & ~np.isnan(filled[start:stop]))
               for start, stop, lower, outlet in _lower_and_outlets(filled))


_LIST_BITS = 15  # a block of 2**15 cells lists its own levels, so that codes fit in int16
_MAX_STEPS = 2 ** 15 - 1


class EpsilonFilledDem:
    """The float64 surface of `fill_depressions(dem, epsilon=True)` (m) in 2 bytes a cell and a short list,
    rebuilt on demand from the DEM it was filled from (NaN at nodata) and one int16 code a cell:

    * code >= 0: the DEM's value raised by ``code`` units in the last place of float64 (the gradient across a
      plateau);
    * code < 0: a listed value, ``levels[first[cell >> 15] - 1 - code]``, for the cells raised by the fill
      (filled depressions) and plateau cells more than 32767 steps from their way out; each block of 2**15
      cells lists its own distinct values (sorted), so that codes fit in int16.

    Without codes, ``dem`` is a float surface used as it is (``flats``: whether some cells may lack a lower
    neighbour, as in a DEM filled without gradient).
    """

    def __init__(self, dem: np.ndarray, codes: Optional[np.ndarray] = None, levels: Optional[np.ndarray] = None,
                 first: Optional[np.ndarray] = None, flats: bool = False):
        self.dem, self.codes, self.levels, self.first = np.ascontiguousarray(dem), codes, levels, first
        self.flats = flats
        self.shape = dem.shape

    def _rebuild(self, values: np.ndarray, codes: np.ndarray, cells) -> None:
        """DEM ``values`` (float64) made surface values in place; ``cells``: their flat indices (an array
        shaped like ``codes``) or the index of the first of consecutive cells."""
        raised = codes > 0
        values[raised] = _add_ulps(values[raised], codes[raised])
        listed = codes < 0
        index = cells[listed] if isinstance(cells, np.ndarray) else np.flatnonzero(listed) + cells
        values[listed] = self.levels[self.first[index >> _LIST_BITS] - 1 - codes[listed]]

    def values(self, cells: np.ndarray) -> np.ndarray:
        """Surface values (m, float64) at flat cell indices (any shape)."""
        out = self.dem.reshape(-1)[cells].astype(np.float64)
        if self.codes is not None:
            self._rebuild(out, self.codes.reshape(-1)[cells], cells)
        return out

    def padded_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows start..stop-1 (float64) with one row / column of neighbours on every side, NaN beyond the
        raster (see `_padded_rows`)."""
        rows, cols = self.shape
        out = np.full((stop - start + 2, cols + 2), np.nan)
        low, high = max(start - 1, 0), min(stop + 1, rows)
        inner = out[low - start + 1:high - start + 1, 1:-1]
        inner[...] = self.dem[low:high]
        if self.codes is not None:
            self._rebuild(inner, self.codes[low:high], low * cols)
        return out

    def array(self) -> np.ndarray:
        """The whole surface (m, float64)."""
        if self.codes is None:
            return self.dem.astype(np.float64, copy=False)
        out = np.empty(self.shape)
        for start, stop in _row_blocks(*self.shape):
            out[start:stop] = self.dem[start:stop]
            self._rebuild(out[start:stop], self.codes[start:stop], start * self.shape[1])
        return out


def _as_float32(dem: np.ndarray) -> Optional[np.ndarray]:
    """``dem`` as float32 when no value changes (float32 DEMs, integers below 2**24, float64 holding float32
    values; NaN stays NaN), else None."""
    if dem.dtype == np.float32:
        return dem
    single = np.empty(dem.shape, dtype=np.float32)
    for start, stop in _row_blocks(*dem.shape):
        single[start:stop] = dem[start:stop]
        if not np.array_equal(single[start:stop], dem[start:stop], equal_nan=True):
            return None
    return single


def _codes(z: np.ndarray, filled: np.ndarray, distance: np.ndarray):
    """(codes, levels, first) of `EpsilonFilledDem` from the exact fill of ``z`` and the breadth-first
    ``distance`` of each flat cell (int32, 0 elsewhere)."""
    codes = np.empty(z.shape, dtype=np.int16)
    first = np.zeros(((z.size - 1) >> _LIST_BITS) + 1, dtype=np.int64)
    levels = []
    height, level, away, code = z.reshape(-1), filled.reshape(-1), distance.reshape(-1), codes.reshape(-1)
    listed_count = 0
    for start in range(0, z.size, _BLOCK_CELLS):  # whole blocks of 2**15 cells
        stop = min(z.size, start + _BLOCK_CELLS)
        code[start:stop] = np.minimum(away[start:stop], _MAX_STEPS)
        cells = np.flatnonzero((level[start:stop] > height[start:stop]) | (away[start:stop] > _MAX_STEPS)) + start
        value = _add_ulps(level[cells].astype(np.float64), away[cells])
        block = cells >> _LIST_BITS
        order = np.lexsort((value, block))
        cells, value, block = cells[order], value[order], block[order]
        new_block = np.ones(cells.size, dtype=bool)
        new_block[1:] = block[1:] != block[:-1]
        new = new_block.copy()
        new[1:] |= value[1:] != value[:-1]
        index = np.cumsum(new) - 1 + listed_count
        first[block[new_block]] = index[new_block]
        code[cells] = -1 - (index - first[block])
        levels.append(value[new])
        listed_count += levels[-1].size
    return codes, np.concatenate(levels), first


def _epsilon_filled(dem: np.ndarray, steps: Steps) -> EpsilonFilledDem:
    """`epsilon_filled_dem` with ``steps`` (4).

    A DEM whose values are float32 numbers (most DEMs) is filled in float32 and stored compactly: its exact
    fill spaces neighbouring levels by at least a float32 step, 2**29 float64 units, more than any flat's
    breadth-first distance, so one pass of increments drains every cell. Other DEMs are filled in float64,
    refilled and sloped again until every cell drains, and stored as they are.
    """
    single = _as_float32(dem)
    if single is None:
        filled = _exact_fill(dem.astype(np.float64, copy=False), steps)
        steps.advance("Filled the depressions")
        flat = filled.reshape(-1)
        while True:
            for distance, _, cells in _flat_steps(filled):
                flat[cells] = _add_ulps(flat[cells], distance)
            if not _undrained(filled):
                break
            steps.check()
            _exact_fill(filled, Steps(3), in_place=True)
        steps.advance("Sloped the flats")
        return EpsilonFilledDem(filled)
    filled = _exact_fill(single, steps)
    steps.advance("Filled the depressions")
    distance = np.zeros(dem.shape, dtype=np.int32)
    flat = distance.reshape(-1)
    for away, _, cells in _flat_steps(filled):
        flat[cells] = away
    codes, levels, first = _codes(single, filled, distance)
    steps.advance("Sloped the flats")
    return EpsilonFilledDem(dem, codes, levels, first)


def epsilon_filled_dem(dem: np.ndarray, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> EpsilonFilledDem:
    """`fill_depressions(dem, epsilon=True)` as an `EpsilonFilledDem`: the same float64 values in about a
    third of the memory (besides the DEM), for `mfd_accumulation`."""
    steps = Steps(4, progress, is_cancelled)
    steps.check()
    return _epsilon_filled(np.asarray(dem), steps)


def fill_depressions(dem: np.ndarray, epsilon: bool = False, progress: Optional[ProgressCallback] = None,
                     is_cancelled: Optional[CancelCheck] = None) -> np.ndarray:
    """Fill closed depressions so that every cell can drain to the raster edge or to nodata (m).

    The filled value of a cell is max(own elevation, lowest spill level of any 8-connected path to an edge or
    nodata cell): Priority-Flood (Barnes, Lehman & Mulla 2014), computed with basins, a minimum spanning tree
    of their lowest passes and pointer doubling; identical to RichDEM's ``FillDepressions(epsilon=False)``.

    ``epsilon=True`` returns float64 in which every flat (filled lake or plateau) slopes towards its way out:
    a flat cell k steps (breadth-first, 8-connected, within the flat) from the nearest cell that drains is
    raised by k units in the last place of float64 (like RichDEM's nextafter increments, about 1e-13 m per
    step at 1000 m, so a float32 DEM's values never cross). Then every valid cell that is not an outlet has a
    strictly lower neighbour. Nodata (NaN) stays NaN.
    """
    if epsilon:
        return epsilon_filled_dem(dem, progress, is_cancelled).array()
    steps = Steps(3, progress, is_cancelled)
    steps.check()
    filled = _exact_fill(_as_float(dem), steps)
    steps.advance("Filled the depressions")
    return filled


def flow_directions_d8(filled: np.ndarray, lx, ly, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> np.ndarray:
    """D8 flow direction (int8 index 0..7, -1 = none) of a filled DEM (m).

    Each cell drains to the neighbour of steepest descent, drop / distance (O'Callaghan & Mark 1984); ties go
    to the lower index. Edge cells are outlets (-1); a cell next to nodata drains to a lower valid neighbour
    if it has one, else it is an outlet. Cells of a flat drain along the shortest 8-connected path within the
    flat to its nearest draining cell (Garbrecht & Martz 1997 gradient towards lower terrain, as in Barnes et
    al. 2014), so after `fill_depressions` every cell that is not an outlet drains.
    """
    z = _as_float(filled)
    steps = Steps(2, progress, is_cancelled)
    steps.check()
    length = _step_lengths(lx, ly, z.shape[0])
    direction = np.full(z.shape, -1, dtype=np.int8)
    for start, stop in _row_blocks(*z.shape):
        block = _padded_rows(z, start, stop, np.nan)
        centre, block_direction = block[1:-1, 1:-1], direction[start:stop]
        steepest = np.zeros(centre.shape)
        slope = np.empty(centre.shape)
        steeper = np.empty(centre.shape, dtype=bool)
        for k in range(8):
            np.divide(centre - _shifted(block, k), length[k, start:stop], out=slope)
            np.greater(slope, steepest, out=steeper)
            np.copyto(steepest, slope, where=steeper)
            np.copyto(block_direction, k, where=steeper)
    direction[0, :] = direction[-1, :] = -1
    direction[:, 0] = direction[:, -1] = -1
    steps.advance("Found the steepest descents")
    flat = direction.reshape(-1)
    for _, k, cells in _flat_steps(z):
        flat[cells] = (k + 4) % 8
    steps.advance("Resolved the flats")
    return direction


def _wave_accumulate(total: np.ndarray, indegree: np.ndarray, receivers, steps: Steps, message: str):
    """Accumulate ``total`` (flat, in place) downstream in waves: a cell is passed on once all the cells that
    drain into it are done (Kahn's topological order, vectorised per wave).

    ``receivers(cells, totals)`` yields (receiving cells, amounts) for up to `_WAVE_CELLS` cells of a wave and
    their accumulated totals, each receiving cell at most once per yield; ``indegree`` (flat int8) counts the
    cells draining into each cell and loses one per amount received: a cell joins the next wave when it
    reaches 0. The first wave, the valid cells without inflow, is marked -1 in ``indegree`` and read chunk by
    chunk; later waves are arrays of int32 cell indices (`_index_type`).
    """
    index_type = _index_type(total.size)
    for start, stop in _chunks(total.size):
        part = indegree[start:stop]
        part[(part == 0) & ~np.isnan(total[start:stop])] = -1
    wave = ((np.flatnonzero(indegree[start:stop] == -1) + start).astype(index_type)
            for start, stop in _chunks(total.size))
    rounds = 0
    while True:
        ready = []
        for part in wave:
            for start in range(0, part.size, _WAVE_CELLS):
                cells = part[start:start + _WAVE_CELLS]
                for target, amount in receivers(cells, total[cells]):
                    total[target] += amount
                    indegree[target] -= 1
                    ready.append(target[indegree[target] == 0])
        if not ready:
            break
        wave = [np.concatenate(ready)]
        rounds += 1
        if rounds % 256 == 0:
            steps.check()
            if steps.progress is not None:
                steps.progress(min(99.0, 100.0 * steps.done / steps.total), message)
    return total


def _inflows(route: np.ndarray) -> np.ndarray:
    """Number of cells passing flow into each cell (int8, flat): neighbours whose D8 direction in ``route``
    points to the cell (never out of the raster)."""
    count = np.zeros(route.shape, dtype=np.int8)
    for start, stop in _row_blocks(*route.shape):
        block_route, block_count = _padded_rows(route, start, stop, -1), count[start:stop]
        for k in range(8):
            block_count += _shifted(block_route, k) == (k + 4) % 8
    return count.ravel()


def d8_accumulation(directions: np.ndarray, weights: Optional[np.ndarray] = None,
                    progress: Optional[ProgressCallback] = None,
                    is_cancelled: Optional[CancelCheck] = None) -> np.ndarray:
    """Number of cells (or sum of ``weights``) draining through each cell along D8 directions, itself
    included (float64; O'Callaghan & Mark 1984), computed in topological waves.

    Directions alone cannot tell nodata from outlets (both -1): give ``weights`` NaN at nodata (e.g. 1.0
    where the DEM is valid, NaN elsewhere) to get NaN there; without weights every cell counts as 1. A
    direction pointing out of the raster passes nothing on.
    """
    down = np.asarray(directions, dtype=np.int8)
    rows, cols = down.shape
    steps = Steps(2, progress, is_cancelled)
    steps.check()
    exits = [(k, (0 if DIRECTION_ROWS[k] < 0 else -1, slice(None))) for k in range(8) if DIRECTION_ROWS[k]] + \
        [(k, (slice(None), 0 if DIRECTION_COLS[k] < 0 else -1)) for k in range(8) if DIRECTION_COLS[k]]
    if any(np.any(down[edge] == k) for k, edge in exits):
        down = down.copy()  # directions leaving the raster pass nothing on
        for k, edge in exits:
            leaving = down[edge]
            leaving[leaving == k] = -1
    indegree = _inflows(down)
    steps.advance("Counted the inflows")
    offsets = [int(offset) for offset in DIRECTION_ROWS * cols + DIRECTION_COLS]
    down = down.ravel()

    def receivers(cells, totals):
        step = down[cells]
        for k in range(8):
            take = np.flatnonzero(step == k)
            if take.size:
                yield cells[take] + offsets[k], totals[take]

    total = np.ones(down.size) if weights is None else np.array(weights, dtype=np.float64).reshape(-1)
    total = _wave_accumulate(total, indegree, receivers, steps, "Accumulating the flow")
    steps.advance("Accumulated the flow")
    return total.reshape(rows, cols)


def _mfd_start(surface: EpsilonFilledDem, flat_direction: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """Flow of each cell before accumulation (1.0, NaN at nodata; float64, flat) and the number of cells
    passing flow into it (int8, flat): higher neighbours off the raster edge (edge cells pass nothing on), and
    flat cells whose ``flat_direction`` points to it."""
    rows, cols = surface.shape
    total = np.empty(rows * cols)
    count = np.zeros(surface.shape, dtype=np.int8)
    for start, stop in _row_blocks(rows, cols):
        block = surface.padded_rows(start, stop)
        centre, block_count = block[1:-1, 1:-1], count[start:stop]
        passes = np.zeros(block.shape, dtype=bool)  # padded row i is raster row start - 1 + i
        passes[max(2 - start, 0):rows - start, 2:cols] = True
        if flat_direction is not None:
            block_direction = _padded_rows(flat_direction, start, stop, -1)
        for k in range(8):
            block_count += _shifted(passes, k) & (_shifted(block, k) > centre)
            if flat_direction is not None:
                block_count += _shifted(block_direction, k) == (k + 4) % 8
        total[start * cols:stop * cols] = np.where(np.isnan(centre), np.nan, 1.0).ravel()
    return total, count.ravel()


def mfd_accumulation(filled, lx, ly, exponent: float = 1.1, progress: Optional[ProgressCallback] = None,
                     is_cancelled: Optional[CancelCheck] = None) -> np.ndarray:
    """Multiple-flow-direction accumulation (cells, float64) of a filled DEM (m, an array or an
    `EpsilonFilledDem`), each cell counted once.

    Freeman (1991): a cell passes its flow to all lower neighbours in proportion to (tan beta)^exponent,
    tan beta = drop / distance (no contour-length weights; RichDEM's ``method="Freeman"``). Edge cells pass
    nothing on; cells of flats pass all their flow along the D8 flat direction of `flow_directions_d8`.
    Computed in topological waves (a cell is passed on once every cell draining into it is done), with the
    drops worked out per wave. NaN at nodata.
    """
    surface = filled if isinstance(filled, EpsilonFilledDem) else EpsilonFilledDem(_as_float(filled), flats=True)
    rows, cols = surface.shape
    steps = Steps(3, progress, is_cancelled)
    steps.check()
    flat_direction = None
    if surface.flats:
        for _, k, cells in _flat_steps(surface.dem):
            if flat_direction is None:
                flat_direction = np.full(surface.shape, -1, dtype=np.int8)
            flat_direction.reshape(-1)[cells] = (k + 4) % 8
    steps.advance("Found the flat directions")
    total, indegree = _mfd_start(surface, flat_direction)
    steps.advance("Counted the inflows")
    step = [int(offset) for offset in DIRECTION_ROWS * cols + DIRECTION_COLS]
    offsets = np.array([0] + step, dtype=_index_type(rows * cols))[:, None]
    length = _step_lengths(lx, ly, rows)[:, :, 0]
    uniform = bool(np.all(length == length[:, :1]))
    size = rows * cols

    def receivers(cells, totals):
        column = cells % cols
        inner = np.flatnonzero((cells >= cols) & (cells < size - cols) & (column > 0) & (column < cols - 1))
        source, totals = cells[inner], totals[inner]
        share = np.empty((8, source.size))
        for part in range(0, source.size, _WAVE_CELLS // 8):  # drops in parts: small temporaries
            height = surface.values(source[part:part + _WAVE_CELLS // 8] + offsets)
            np.fmax(height[0] - height[1:], 0.0, out=share[:, part:part + _WAVE_CELLS // 8])
        share /= length[:, :1] if uniform else length[:, source // cols]
        np.power(share, exponent, out=share, where=share > 0)
        if flat_direction is not None:
            direction = flat_direction.reshape(-1)[source]
            flat = np.flatnonzero(direction >= 0)
            share[direction[flat], flat] = 1.0
        total = share.sum(axis=0)
        share /= np.where(total > 0, total, 1.0)
        for k in range(8):
            take = np.flatnonzero(share[k])
            yield source[take] + step[k], totals[take] * share[k, take]

    total = _wave_accumulate(total, indegree, receivers, steps, "Accumulating the flow")
    steps.advance("Accumulated the flow")
    return total.reshape(rows, cols)


def specific_catchment_area(accumulation_cells: np.ndarray, lx, ly) -> np.ndarray:
    """Specific catchment area a (m^2/m): contributing area (cells x lx x ly) per unit contour width.

    The contour width is the side of a square cell of the same area, sqrt(lx * ly) (the cell size for
    square cells, as in RichDEM, SAGA and Whitebox), for D8 and MFD alike.
    """
    accumulation_cells = np.asarray(accumulation_cells, dtype=np.float64)
    rows = accumulation_cells.shape[0]
    width = np.sqrt(_row_sizes(lx, rows) * _row_sizes(ly, rows))
    return accumulation_cells * width[:, None]


def _tan_slope(slope_degrees: np.ndarray, min_slope_degrees: float) -> np.ndarray:
    return np.tan(np.radians(np.fmax(slope_degrees, min_slope_degrees)))


def _chunkwise(formula, sca, slope_degrees) -> np.ndarray:
    """``formula(a, slope)`` (float64) evaluated chunk by chunk when both have one shape, so that its
    temporaries stay small."""
    sca, slope_degrees = np.asarray(sca, dtype=np.float64), np.asarray(slope_degrees)
    if sca.shape != slope_degrees.shape:
        return formula(sca, slope_degrees)
    out = np.empty(sca.shape)
    flat, a, slope = out.reshape(-1), sca.reshape(-1), slope_degrees.reshape(-1)
    for start, stop in _chunks(out.size):
        flat[start:stop] = formula(a[start:stop], slope[start:stop])
    return out


def topographic_wetness_index(sca: np.ndarray, slope_degrees: np.ndarray,
                              min_slope_degrees: float = 0.1) -> np.ndarray:
    """TWI = ln(a / tan beta) (Beven & Kirkby 1979; seed 000 eq. 2), a in m^2/m, beta the local slope.

    Slopes below ``min_slope_degrees`` (default 0.1 degree, flats included) count as that minimum so the
    index stays finite. NaN where either input is NaN.
    """
    return _chunkwise(lambda a, slope: np.log(a / _tan_slope(slope, min_slope_degrees)), sca, slope_degrees)


def stream_power_index(sca: np.ndarray, slope_degrees: np.ndarray, min_slope_degrees: float = 0.1) -> np.ndarray:
    """SPI = a * tan beta (Moore et al. 1991; seed 000 eq. 3), a in m^2/m; slopes below
    ``min_slope_degrees`` count as that minimum, as for the TWI. NaN where either input is NaN."""
    return _chunkwise(lambda a, slope: a * _tan_slope(slope, min_slope_degrees), sca, slope_degrees)


def _part(progress: Optional[ProgressCallback], start: float, end: float) -> Optional[ProgressCallback]:
    """A progress callback reporting 0..100 % of a sub-task as start..end % of the whole."""
    if progress is None:
        return None
    return lambda percent, message: progress(start + (end - start) * percent / 100.0, message)


def _nan_at_nodata(dem: np.ndarray, nodata) -> np.ndarray:
    """The DEM as floats (`_as_float`) with NaN at nodata: the DEM itself when it already is, else a copy."""
    valid = valid_mask(dem, nodata)
    if np.issubdtype(dem.dtype, np.floating) and np.all(valid | np.isnan(dem)):
        return dem
    return _as_float(np.where(valid, dem, np.nan))


def _catchment_products(z: np.ndarray, grid: RasterGrid, accumulation: np.ndarray, outputs, lx, ly,
                        min_slope_degrees: float) -> Dict[str, np.ndarray]:
    """The ``outputs`` among accumulation (cells), specific catchment area (m^2/m), TWI and SPI (float64),
    computed in row blocks with the Horn slope of ``z``; the first one after the accumulation takes over its
    buffer when the accumulation itself is not asked for."""
    rows, cols = z.shape
    width = np.sqrt(_row_sizes(lx, rows) * _row_sizes(ly, rows))[:, None]
    names = [key for key in ("sca", "twi", "spi") if key in outputs]
    out = {"accumulation": accumulation} if "accumulation" in outputs else {}
    for key in names:
        out[key] = accumulation if not out else np.empty(z.shape)
    block_rows = max(1, _BLOCK_CELLS // max(cols, 1))
    slopes = iter_terrain_rows(z, grid, ["slope"], block_rows) if {"twi", "spi"} & set(names) else None
    index = {"twi": topographic_wetness_index, "spi": stream_power_index}
    for start in range(0, rows if names else 0, block_rows):
        stop = min(rows, start + block_rows)
        sca = accumulation[start:stop] * width[start:stop]
        slope = next(slopes)[1]["slope"] if slopes is not None else None
        for key in names:
            out[key][start:stop] = sca if key == "sca" else index[key](sca, slope, min_slope_degrees)
    return out


OUTPUTS = ("filled", "accumulation", "sca", "twi", "spi")


def hydrology_from_dem(dem: np.ndarray, grid: RasterGrid, method: str = "mfd", epsilon: bool = True,
                       min_slope_degrees: float = 0.1, outputs=OUTPUTS, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> Dict[str, np.ndarray]:
    """Filled DEM (m), flow accumulation (cells), specific catchment area (m^2/m), TWI and SPI of a DEM: the
    ``outputs`` asked for (all by default; each one fewer saves a float64 array of the DEM's size).

    ``method``: "mfd" (Freeman 1991, exponent 1.1) or "d8". The DEM is filled first (`fill_depressions`,
    with the flat gradient when ``epsilon``). beta is the Horn slope of the original DEM (`iter_terrain_rows`),
    the land surface's own slope, so filled lakes get ``min_slope_degrees``-limited values only where the
    land is flat. Cell sizes are true metres (`metric_cell_sizes`). Every output is NaN at nodata; all are
    float64 but the filled DEM without ``epsilon`` (the DEM's float type).
    """
    if method not in ("mfd", "d8"):
        raise ValueError(f"Unknown flow method {method!r}: use 'mfd' or 'd8'")
    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"Unknown outputs {sorted(unknown)}: choose from {list(OUTPUTS)}")
    z = _nan_at_nodata(np.asarray(dem), grid.nodata)
    lx, ly = metric_cell_sizes(grid, np.arange(grid.height))
    fill_progress = _part(progress, 0, 35)
    if method == "d8":
        surface = fill_depressions(z, epsilon, fill_progress, is_cancelled)
        directions = flow_directions_d8(surface, lx, ly, _part(progress, 35, 60), is_cancelled)
        filled = surface if "filled" in outputs else None
        del surface
        accumulation = d8_accumulation(directions, None, _part(progress, 60, 95), is_cancelled)
        del directions
        accumulation[np.isnan(z)] = np.nan  # nodata cells have no direction: they counted 1 and passed nothing
    else:
        surface = epsilon_filled_dem(z, fill_progress, is_cancelled) if epsilon else \
            fill_depressions(z, False, fill_progress, is_cancelled)
        filled = (surface.array() if epsilon else surface) if "filled" in outputs else None
        accumulation = mfd_accumulation(surface, lx, ly, progress=_part(progress, 35, 95), is_cancelled=is_cancelled)
        del surface
    steps = Steps(1, _part(progress, 95, 100), is_cancelled)
    result = {} if filled is None else {"filled": filled}
    result.update(_catchment_products(z, grid, accumulation, outputs, lx, ly, min_slope_degrees))
    steps.advance("Computed TWI and SPI")
    return result
