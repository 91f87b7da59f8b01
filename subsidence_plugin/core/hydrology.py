"""Flow routing on a DEM: depression filling, D8 and multiple-flow-direction accumulation, TWI and SPI.

All functions work on whole arrays with vectorised numpy / scipy operations (no per-cell Python loops); loops
run over pointer-doubling rounds or over flow "waves" (cells whose upstream cells are all done).

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
from .terrain import metric_cell_sizes, terrain_array

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


def _row_blocks(rows: int, cols: int):
    """(start, stop) row ranges of about `_BLOCK_CELLS` cells, for cache-sized work on large rasters."""
    step = max(1, _BLOCK_CELLS // max(cols, 1))
    for start in range(0, rows, step):
        yield start, min(rows, start + step)


def _padded_rows(values: np.ndarray, start: int, stop: int, fill) -> np.ndarray:
    """Rows start..stop-1 of ``values`` with one row / column of neighbours (``fill`` beyond the raster) on
    every side, so that `_shifted` of the result lines up with those rows."""
    rows, cols = values.shape
    out = np.full((stop - start + 2, cols + 2), fill, dtype=values.dtype)
    low, high = max(start - 1, 0), min(stop + 1, rows)
    out[low - start + 1:high - start + 1, 1:-1] = values[low:high]
    return out


def _pointer_roots(parent: np.ndarray) -> np.ndarray:
    """Root of every node of a forest given by parent pointers (roots point to themselves), in place: whole-
    array pointer jumping (reading already-updated pointers only shortens the chains), then jumping on the
    nodes not yet at their root."""
    for _ in range(3):
        np.take(parent, parent, out=parent, mode="clip")
    active = np.flatnonzero(parent[parent] != parent)
    while active.size:
        parent[active] = parent[parent[active]]
        active = active[parent[parent[active]] != parent[active]]
    return parent


def _basins(z: np.ndarray) -> Tuple[np.ndarray, int]:
    """Label each valid cell with the local minimum it reaches by always stepping to its lowest neighbour
    (ties broken by position, so a flat plateau mostly joins one basin); -1 at nodata. Returns (int32 labels,
    number of basins)."""
    rows, cols = z.shape
    index_type = np.int64 if z.size >= 2 ** 31 else np.int32
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
    root = _pointer_roots(parent)
    valid = ~np.isnan(z).ravel()
    roots = np.flatnonzero(valid & (root == np.arange(root.size, dtype=index_type)))
    number = np.full(root.size, -1, dtype=index_type)
    number[roots] = np.arange(roots.size, dtype=index_type)
    labels = np.take(number, root, out=root)
    del number
    labels[~valid] = -1
    return labels.astype(np.int32, copy=False).reshape(z.shape), roots.size


def _ranks(values: np.ndarray):
    """Positive float64 weights with the same order as ``values`` and a function mapping weights back.

    Values that are exact float32 numbers are ranked through their bit patterns (no sorting); others through
    np.unique. Exact either way, so minimum spanning trees keep RichDEM's tie-free result.
    """
    single = values.astype(np.float32)
    if np.array_equal(single, values):
        bits = single.view(np.int32).astype(np.int64)
        ordered = np.where(bits < 0, np.int64(-2 ** 31) - bits, bits)
        lowest = ordered.min() - 1

        def back(weights):
            o = weights.astype(np.int64) + lowest
            b = np.where(o < 0, np.int64(-2 ** 31) - o, o).astype(np.int32)
            return b.view(np.float32).astype(values.dtype)
        return back, (ordered - lowest).astype(np.float64)
    unique, inverse = np.unique(values, return_inverse=True)
    return lambda weights: unique[weights.astype(np.int64) - 1], (inverse + 1).astype(np.float64)


def _lowest_per_key(keys: np.ndarray, levels: np.ndarray, presorted: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` (sorted unless ``presorted`` only merges runs of equal neighbours) with the lowest
    of their ``levels``."""
    if not presorted:
        order = np.argsort(keys, kind="stable")
        keys, levels = keys[order], levels[order]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.minimum.reduceat(levels, first) if first.size else levels[:0]


def _passes(z: np.ndarray, labels: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Lowest pass between each pair of touching basins: (keys a * (count + 1) + b with a < b, sorted, and
    their levels max(z_u, z_v), minimised over neighbouring cells u in a, v in b). b = count is the outside,
    reached from cells on the raster edge or next to nodata at their own elevation."""
    rows, cols = z.shape
    nodes = count + 1
    keys, levels = [], []
    for start, stop in _row_blocks(rows, cols):
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
    return _lowest_per_key(np.concatenate(keys), np.concatenate(levels), presorted=False)


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


def _exact_fill(z: np.ndarray, steps: Steps) -> np.ndarray:
    """Priority-flood fill without gradient: max(z, spill level of the cell's basin)."""
    labels, count = _basins(z)
    steps.advance("Found the basins")
    if not count:
        steps.advance("Found the spill levels")
        return z.copy()
    spill = np.append(_spill_elevations(z, labels, count).astype(z.dtype), -np.inf)
    steps.advance("Found the spill levels")
    filled = np.empty_like(z)
    for start, stop in _row_blocks(*z.shape):
        np.maximum(z[start:stop], spill[labels[start:stop]], out=filled[start:stop])
    return filled


def _lower_and_outlets(z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Cells with a strictly lower valid neighbour, and valid cells on the raster edge or next to nodata."""
    lower = np.zeros(z.shape, dtype=bool)
    outlet = np.zeros(z.shape, dtype=bool)
    for start, stop in _row_blocks(*z.shape):
        block = _padded_rows(z, start, stop, np.nan)
        centre, block_lower, block_outlet = block[1:-1, 1:-1], lower[start:stop], outlet[start:stop]
        for k in range(8):
            neighbour = _shifted(block, k)
            block_lower |= neighbour < centre
            block_outlet |= np.isnan(neighbour)
        block_outlet &= ~np.isnan(centre)
    return lower, outlet


def _flat_distances(z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Steps (cells) from every flat cell to its flat's way out, and the direction of the first step.

    A flat cell is an interior valid cell, not next to nodata, without a lower neighbour. Breadth-first
    search over cells of equal elevation, starting from the cells that drain (lower neighbour) or leave the
    raster (outlets); cardinal steps are preferred at equal distance. Returns (distance, direction): distance
    0 for draining cells and outlets, -1 for nodata and unreached cells (pits of an unfilled DEM); direction
    -1 where there is no flat step. Method: Garbrecht & Martz (1997) gradient towards lower terrain, as a
    breadth-first distance (Barnes et al. 2014).
    """
    lower, outlet = _lower_and_outlets(z)
    drains = lower | outlet
    del lower, outlet
    pending = ~drains & ~np.isnan(z)
    distance = np.where(drains, 0, -1).astype(np.int32)
    direction = np.full(z.shape, -1, dtype=np.int8)
    near_pending = np.zeros(z.shape, dtype=bool)
    for start, stop in _row_blocks(*z.shape):
        block = _padded_rows(pending, start, stop, False)
        for k in range(8):
            near_pending[start:stop] |= _shifted(block, k)
    frontier = np.flatnonzero(near_pending & drains)
    del near_pending, drains
    height, pending = z.ravel(), pending.ravel()
    flat_distance, flat_direction = distance.ravel(), direction.ravel()
    # Targets outside the raster are clipped to a corner, and those wrapping round a row land on an edge
    # cell: neither is ever pending.
    steps = DIRECTION_ROWS * z.shape[1] + DIRECTION_COLS
    level = 0
    while frontier.size:
        level += 1
        reached = []
        for k in CARDINALS_FIRST:
            target = frontier + steps[k]
            take = pending.take(target, mode="clip")
            source, target = frontier[take], target[take]
            target = target[height[target] == height[source]]
            pending[target] = False
            flat_distance[target] = level
            flat_direction[target] = (k + 4) % 8
            reached.append(target)
        frontier = np.concatenate(reached)
    return distance, direction


def _add_ulps(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``values`` (float64) raised by ``count`` units in the last place (np.nextafter applied count times)."""
    bits = values.view(np.int64)
    ordered = np.where(bits < 0, np.int64(-2 ** 63) - bits, bits) + count
    return np.where(ordered < 0, np.int64(-2 ** 63) - ordered, ordered).view(np.float64)


def _undrained(filled: np.ndarray) -> np.ndarray:
    """Valid cells that neither leave the raster nor have a strictly lower neighbour."""
    lower, outlet = _lower_and_outlets(filled)
    return ~np.isnan(filled) & ~lower & ~outlet


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
    z = _as_float(dem)
    steps = Steps(4 if epsilon else 3, progress, is_cancelled)
    steps.check()
    filled = _exact_fill(z, steps)
    steps.advance("Filled the depressions")
    if not epsilon:
        return filled
    surface = filled.astype(np.float64)
    del filled
    while True:
        distance, _ = _flat_distances(surface)
        raised = np.flatnonzero(distance > 0)
        flat = surface.reshape(-1)
        flat[raised] = _add_ulps(flat[raised], distance.reshape(-1)[raised])
        del distance, raised
        if not _undrained(surface).any():
            break
        steps.check()
        surface = _exact_fill(surface, Steps(3))
    steps.advance("Sloped the flats")
    return surface


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
    _, flat_direction = _flat_distances(z)
    np.copyto(direction, flat_direction, where=flat_direction >= 0)
    steps.advance("Resolved the flats")
    return direction


def _wave_accumulate(total: np.ndarray, indegree: np.ndarray, receivers, steps: Steps, message: str):
    """Accumulate ``total`` (flat, in place) downstream in waves: a cell is passed on once all the cells that
    drain into it are done (Kahn's topological order, vectorised per wave).

    ``receivers(cells, totals)`` yields (receiving cells, amounts, number of inflows) for the cells of a wave
    and their accumulated totals, each receiving cell at most once per yield; ``indegree`` (flat) counts the
    cells draining into each cell. A cell joins the next wave when its last inflow arrives.
    """
    wave = np.flatnonzero(indegree == 0)
    wave = wave[~np.isnan(total[wave])]
    rounds = 0
    while wave.size:
        ready = []
        for target, amount, inflows in receivers(wave, total[wave]):
            total[target] += amount
            indegree[target] -= inflows
            ready.append(target[indegree[target] == 0])
        wave = np.concatenate(ready) if ready else wave[:0]
        rounds += 1
        if rounds % 256 == 0:
            steps.check()
            if steps.progress is not None:
                steps.progress(min(99.0, 100.0 * steps.done / steps.total), message)
    return total


def _inflows(down: np.ndarray, z: Optional[np.ndarray] = None, spreads: Optional[np.ndarray] = None) -> np.ndarray:
    """Number of cells passing flow into each cell (int8, flat): neighbours whose direction in ``down`` (D8
    index, never out of the raster) points to the cell, and, with ``z``, higher neighbours in ``spreads``."""
    count = np.zeros(down.shape, dtype=np.int8)
    for start, stop in _row_blocks(*down.shape):
        block_down, block_count = _padded_rows(down, start, stop, -1), count[start:stop]
        if z is not None:
            block_z, block_spreads = _padded_rows(z, start, stop, np.nan), _padded_rows(spreads, start, stop, False)
        for k in range(8):
            block_count += _shifted(block_down, k) == (k + 4) % 8
            if z is not None:
                block_count += _shifted(block_spreads, k) & (_shifted(block_z, k) > block_z[1:-1, 1:-1])
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
    down = np.array(directions, dtype=np.int8)
    rows, cols = down.shape
    steps = Steps(2, progress, is_cancelled)
    steps.check()
    total = np.ones(down.size) if weights is None else np.array(weights, dtype=np.float64).reshape(-1)
    for k in range(8):
        rows_out = [down[0 if DIRECTION_ROWS[k] < 0 else -1, :]] if DIRECTION_ROWS[k] else []
        for edge in rows_out + ([down[:, 0 if DIRECTION_COLS[k] < 0 else -1]] if DIRECTION_COLS[k] else []):
            edge[edge == k] = -1
    indegree = _inflows(down)
    steps.advance("Counted the inflows")
    offsets = DIRECTION_ROWS * cols + DIRECTION_COLS
    down = down.ravel()

    def receivers(cells, totals):
        step = down[cells]
        out = step >= 0
        target, amount = cells[out] + offsets[step[out]], totals[out]
        if not target.size:
            return
        order = np.argsort(target, kind="stable")
        target, amount = target[order], amount[order]
        first = np.flatnonzero(np.concatenate([[True], target[1:] != target[:-1]]))
        yield target[first], np.add.reduceat(amount, first), np.diff(np.append(first, target.size))

    total = _wave_accumulate(total, indegree, receivers, steps, "Accumulating the flow")
    steps.advance("Accumulated the flow")
    return total.reshape(rows, cols)


def mfd_accumulation(filled: np.ndarray, lx, ly, exponent: float = 1.1,
                     progress: Optional[ProgressCallback] = None,
                     is_cancelled: Optional[CancelCheck] = None) -> np.ndarray:
    """Multiple-flow-direction accumulation (cells, float64) of a filled DEM, each cell counted once.

    Freeman (1991): a cell passes its flow to all lower neighbours in proportion to (tan beta)^exponent,
    tan beta = drop / distance (no contour-length weights; RichDEM's ``method="Freeman"``). Edge cells pass
    nothing on; cells of flats pass all their flow along the D8 flat direction of `flow_directions_d8`.
    Computed in topological waves (a cell is passed on once every cell draining into it is done).
    NaN at nodata.
    """
    z = _as_float(filled).astype(np.float64, copy=False)
    rows, cols = z.shape
    steps = Steps(3, progress, is_cancelled)
    steps.check()
    spreads, _ = _lower_and_outlets(z)
    spreads[[0, -1], :] = False
    spreads[:, [0, -1]] = False
    steps.advance("Found the lower neighbours")
    _, flat_direction = _flat_distances(z)
    indegree = _inflows(flat_direction, z, spreads)
    steps.advance("Counted the inflows")
    offsets = (DIRECTION_ROWS * cols + DIRECTION_COLS)[:, None]
    length = _step_lengths(lx, ly, rows)[:, :, 0]
    uniform = bool(np.all(length == length[:, :1]))
    elevation = z.ravel()
    spreads = spreads.ravel()
    flat_direction = flat_direction.ravel()

    def receivers(cells, totals):
        spread = np.flatnonzero(spreads[cells])
        source = cells[spread]
        drop = np.fmax(elevation[source] - elevation[source + offsets], 0.0)
        drop /= length[:, :1] if uniform else length[:, source // cols]
        np.power(drop, exponent, out=drop, where=drop > 0)
        share = np.zeros((8, cells.size))
        share[:, spread] = drop
        flat = np.flatnonzero(flat_direction[cells] >= 0)
        share[flat_direction[cells[flat]], flat] = 1.0
        total = share.sum(axis=0)
        share /= np.where(total > 0, total, 1.0)
        for k in range(8):
            take = np.flatnonzero(share[k])
            yield cells[take] + offsets[k], totals[take] * share[k, take], 1

    total = np.where(np.isnan(z), np.nan, 1.0).ravel()
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


def topographic_wetness_index(sca: np.ndarray, slope_degrees: np.ndarray,
                              min_slope_degrees: float = 0.1) -> np.ndarray:
    """TWI = ln(a / tan beta) (Beven & Kirkby 1979; seed 000 eq. 2), a in m^2/m, beta the local slope.

    Slopes below ``min_slope_degrees`` (default 0.1 degree, flats included) count as that minimum so the
    index stays finite. NaN where either input is NaN.
    """
    return np.log(np.asarray(sca, dtype=np.float64) / _tan_slope(slope_degrees, min_slope_degrees))


def stream_power_index(sca: np.ndarray, slope_degrees: np.ndarray, min_slope_degrees: float = 0.1) -> np.ndarray:
    """SPI = a * tan beta (Moore et al. 1991; seed 000 eq. 3), a in m^2/m; slopes below
    ``min_slope_degrees`` count as that minimum, as for the TWI. NaN where either input is NaN."""
    return np.asarray(sca, dtype=np.float64) * _tan_slope(slope_degrees, min_slope_degrees)


def _part(progress: Optional[ProgressCallback], start: float, end: float) -> Optional[ProgressCallback]:
    """A progress callback reporting 0..100 % of a sub-task as start..end % of the whole."""
    if progress is None:
        return None
    return lambda percent, message: progress(start + (end - start) * percent / 100.0, message)


def hydrology_from_dem(dem: np.ndarray, grid: RasterGrid, method: str = "mfd", epsilon: bool = True,
                       min_slope_degrees: float = 0.1, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> Dict[str, np.ndarray]:
    """Filled DEM (m), flow accumulation (cells), specific catchment area (m^2/m), TWI and SPI of a DEM.

    ``method``: "mfd" (Freeman 1991, exponent 1.1) or "d8". The DEM is filled first (`fill_depressions`,
    with the flat gradient when ``epsilon``). beta is the Horn slope of the original DEM (`terrain_array`),
    the land surface's own slope, so filled lakes get ``min_slope_degrees``-limited values only where the
    land is flat. Cell sizes are true metres (`metric_cell_sizes`). Every output is NaN at nodata.
    """
    if method not in ("mfd", "d8"):
        raise ValueError(f"Unknown flow method {method!r}: use 'mfd' or 'd8'")
    z = _as_float(np.where(valid_mask(dem, grid.nodata), dem, np.nan))
    lx, ly = metric_cell_sizes(grid, np.arange(grid.height))
    filled = fill_depressions(z, epsilon=epsilon, progress=_part(progress, 0, 35), is_cancelled=is_cancelled)
    if method == "d8":
        directions = flow_directions_d8(filled, lx, ly, _part(progress, 35, 60), is_cancelled)
        accumulation = d8_accumulation(directions, np.where(np.isnan(z), np.nan, 1.0), _part(progress, 60, 95),
                                       is_cancelled)
    else:
        accumulation = mfd_accumulation(filled, lx, ly, progress=_part(progress, 35, 95), is_cancelled=is_cancelled)
    sca = specific_catchment_area(accumulation, lx, ly)
    slope = terrain_array(z, grid, ["slope"])["slope"]
    steps = Steps(1, _part(progress, 95, 100), is_cancelled)
    result = {"filled": filled, "accumulation": accumulation, "sca": sca,
              "twi": topographic_wetness_index(sca, slope, min_slope_degrees),
              "spi": stream_power_index(sca, slope, min_slope_degrees)}
    steps.advance("Computed TWI and SPI")
    return result
