"""Depression filling by priority-flood equivalents on whole arrays: exact fill (spill elevations of basins)
and the epsilon fill that gives flats a drainable gradient, kept compact (`EpsilonFilledDem`)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from ..progress import CancelCheck, ProgressCallback, Steps
from .neighbours import (BLOCK_CELLS, CARDINALS_FIRST, DIRECTION_COLS, DIRECTION_ROWS, as_float, cell_chunks,
                         index_dtype, require_3x3, require_valid_cell, row_blocks, rows_with_halo, shifted)


def pointer_roots(parent: np.ndarray) -> np.ndarray:
    """Root of every node of a forest given by parent pointers (roots point to themselves), in place: pointer
    jumping over the whole array chunk by chunk (reading already-updated pointers only shortens the chains)
    until fewer than 1/64 of the pointers change in a round, then on the nodes not yet at their root."""
    changed = parent.size
    while changed >= parent.size // 64 and changed:
        changed = 0
        for start, stop in cell_chunks(parent.size):
            part = parent[start:stop]
            jumped = parent[part]
            changed += np.count_nonzero(jumped != part)
            part[...] = jumped
    active = np.concatenate([np.flatnonzero(parent[parent[start:stop]] != parent[start:stop]) + start
                             for start, stop in cell_chunks(parent.size)])
    while active.size:
        parent[active] = parent[parent[active]]
        active = active[parent[parent[active]] != parent[active]]
    return parent


def _basins(z: np.ndarray) -> Tuple[np.ndarray, int]:
    """Label each valid cell with the local minimum it reaches by always stepping to its lowest neighbour
    (ties broken by position, so a flat plateau mostly joins one basin); -1 at nodata. Returns (labels of
    `index_dtype`, number of basins)."""
    rows, cols = z.shape
    index_type = index_dtype(z.size)
    offsets = DIRECTION_ROWS * cols + DIRECTION_COLS
    candidates = sorted([(int(offsets[k]), k) for k in range(8)] + [(0, -1)])
    parent = np.empty(z.size, dtype=index_type)
    for start, stop in row_blocks(rows, cols):
        block = rows_with_halo(z, start, stop, np.nan)
        best = np.full((stop - start, cols), np.inf, dtype=z.dtype)
        best_step = np.zeros(best.shape, dtype=index_type)
        lower = np.empty(best.shape, dtype=bool)
        for step, k in candidates:
            neighbour = z[start:stop] if k < 0 else shifted(block, k)
            np.less(neighbour, best, out=lower)
            np.copyto(best, neighbour, where=lower)
            np.copyto(best_step, step, where=lower)
        best_step += np.arange(start * cols, stop * cols, dtype=index_type).reshape(best.shape)
        parent[start * cols:stop * cols] = best_step.ravel()
    pointer_roots(parent)
    height = z.reshape(-1)
    roots = []
    for start, stop in cell_chunks(parent.size):
        cells = np.arange(start, stop, dtype=index_type)
        roots.append(cells[(parent[start:stop] == cells) & ~np.isnan(height[start:stop])])
    roots = np.concatenate(roots)
    # Labels in place: each root holds -1 - its number, every cell copies its root's value, then the signs flip.
    parent[roots] = -1 - np.arange(roots.size, dtype=index_type)
    for start, stop in cell_chunks(parent.size):
        part = parent[start:stop]
        np.copyto(part, parent[np.maximum(part, 0)], where=part >= 0)
    for start, stop in cell_chunks(parent.size):
        part = parent[start:stop]
        np.negative(part, out=part)
        part -= 1
        part[np.isnan(height[start:stop])] = -1
    return parent.reshape(z.shape), roots.size


def exact_ranks(values: np.ndarray):
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


def lowest_per_key(keys: np.ndarray, levels: np.ndarray, presorted: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Distinct ``keys`` (sorted unless ``presorted`` only merges runs of equal neighbours) with the lowest
    of their ``levels``."""
    if not keys.size:
        return keys, levels
    if not presorted:
        order = np.argsort(keys, kind="stable")
        keys, levels = keys[order], levels[order]
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    return keys[first], np.minimum.reduceat(levels, first)


def basin_passes(z: np.ndarray, labels: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray]:
    """Lowest pass between each pair of touching basins: (keys a * (count + 1) + b with a < b, sorted, and
    their levels max(z_u, z_v), minimised over neighbouring cells u in a, v in b). b = count is the outside,
    reached from cells on the raster edge or next to nodata at their own elevation."""
    rows, cols = z.shape
    nodes = count + 1
    keys, levels = [], []
    for start, stop in row_blocks(rows, cols, BLOCK_CELLS // 4):  # about 70 bytes of work arrays a cell
        label_block = rows_with_halo(labels, start, stop, -1).astype(np.int64)
        z_block = rows_with_halo(z, start, stop, np.nan)
        inner, height = label_block[1:-1, 1:-1], z_block[1:-1, 1:-1]
        key = np.full(inner.shape + (5,), -1, dtype=np.int64)
        level = np.empty(inner.shape + (5,), dtype=z.dtype)
        outlet = np.zeros(inner.shape, dtype=bool)
        for k in range(4, 8):
            outlet |= shifted(label_block, k) < 0
        for slot, k in enumerate((3, 2, 1, 0), start=1):
            other = shifted(label_block, k)
            outlet |= other < 0
            low, high = np.minimum(inner, other), np.maximum(inner, other)
            np.copyto(key[..., slot], low * nodes + high, where=(low >= 0) & (low != high))
            np.maximum(height, shifted(z_block, k), out=level[..., slot])
        np.copyto(key[..., 0], inner * nodes + count, where=outlet & (inner >= 0))
        level[..., 0] = height
        key, level = key.ravel(), level.ravel()
        border = key >= 0
        block_keys, block_levels = lowest_per_key(key[border], level[border], presorted=True)
        block_keys, block_levels = lowest_per_key(block_keys, block_levels, presorted=False)
        keys.append(block_keys)
        levels.append(block_levels)
    keys = np.concatenate(keys)
    levels = np.concatenate(levels)
    order = np.argsort(keys)
    keys = keys[order]
    levels = levels[order]
    del order
    return lowest_per_key(keys, levels, presorted=True)


def _spill_elevations(z: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Lowest level (m) at which water from each basin can leave the raster (minimax path to the outside).

    Basins are nodes of a graph whose edges carry the lowest pass between two basins, max(z_u, z_v) minimised
    over neighbouring cells u, v; an extra node is the outside, joined to each basin by its lowest cell on the
    raster edge or next to nodata. The minimax path runs along the minimum spanning tree, so the spill level
    of a basin is the highest edge on its tree path to the outside.
    """
    keys, levels = basin_passes(z, labels, count)
    level_of, rank = exact_ranks(levels)
    del levels
    first = (keys // (count + 1)).astype(np.int32)
    second = (keys % (count + 1)).astype(np.int32)
    del keys
    indptr = np.concatenate([[0], np.cumsum(np.bincount(first, minlength=count + 1))])
    graph = sparse.csr_matrix((rank, second, indptr), shape=(count + 1, count + 1))
    del first, second, rank
    tree = minimum_spanning_tree(graph, overwrite=True).tocoo()
    del graph
    return level_of(highest_on_paths(tree, count)[:count])


def highest_on_paths(tree: sparse.coo_matrix, root: int) -> np.ndarray:
    """The highest edge weight on the path from every node of a spanning tree (undirected, COO) to ``root`` (0 at
    the root), by pointer doubling over the breadth-first predecessors."""
    _, predecessor = breadth_first_order(tree, root, directed=False, return_predecessors=True)
    child = np.where(predecessor[tree.col] == tree.row, tree.col, tree.row)
    highest = np.zeros(tree.shape[0])
    highest[child] = tree.data
    ancestor = predecessor.astype(np.int64)
    ancestor[root] = root
    while np.any(ancestor != root):
        highest = np.maximum(highest, highest[ancestor])
        ancestor = ancestor[ancestor]
    return highest


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
    for start, stop in cell_chunks(z.size):
        if count:
            filled[start:stop] = np.maximum(height[start:stop], spill[labels[start:stop]])
        elif filled is not height:
            filled[start:stop] = height[start:stop]
    return filled.reshape(z.shape)


def lower_and_outlet(block: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(cells with a strictly lower valid neighbour, valid cells next to NaN) of the inner cells of ``block``, an
    array with one ring of neighbours (NaN beyond the raster and at nodata)."""
    centre = block[1:-1, 1:-1]
    lower = np.zeros(centre.shape, dtype=bool)
    outlet = np.zeros(centre.shape, dtype=bool)
    for k in range(8):
        neighbour = shifted(block, k)
        lower |= neighbour < centre
        outlet |= np.isnan(neighbour)
    outlet &= ~np.isnan(centre)
    return lower, outlet


def _lower_and_outlets(z: np.ndarray):
    """Per block of rows: (start, stop, cells with a strictly lower valid neighbour, valid cells on the raster
    edge or next to nodata), the two as bool arrays of the block's shape."""
    for start, stop in row_blocks(*z.shape):
        yield (start, stop) + lower_and_outlet(rows_with_halo(z, start, stop, np.nan))


def flat_steps(z: np.ndarray):
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
    for start, stop in row_blocks(rows, cols):
        block, z_block = rows_with_halo(pending, start, stop, False), rows_with_halo(z, start, stop, np.nan)
        near_flat = np.zeros((stop - start, cols), dtype=bool)
        for k in range(8):
            near_flat |= shifted(block, k) & (shifted(z_block, k) == z_block[1:-1, 1:-1])
        frontier.append(np.flatnonzero(near_flat & drains[start:stop]) + start * cols)
    del drains
    height, pending = z.reshape(-1), pending.reshape(-1)
    frontier = np.concatenate(frontier).astype(index_dtype(z.size))  # int32 where it fits: half the memory
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


def flat_increments(z: np.ndarray) -> np.ndarray:
    """Garbrecht & Martz (1997) flat gradient as Barnes et al. (2014) define it, in units (float64 ULPs) above
    ``z`` (int32; 0 where nothing is raised): a flat cell (no lower neighbour, not an outlet) rises by
    2 (d_low + 1) + (H - d_high), a low edge (a cell with a lower neighbour next to a flat cell of its height;
    outlets on the raster edge or next to nodata are not raised) by 2.
    d_low counts steps within the flat to its way out (`flat_steps`), d_high steps from the flat cells next to
    higher terrain (1 there, 0 in flats without higher terrain), H is the largest d_high of the flat. Water on
    the flat then flows towards lower terrain and away from higher terrain, converging like a valley instead
    of running straight to the nearest outlet. The same increments as RichDEM's ResolveFlats."""
    rows, cols = z.shape
    flat = np.zeros(z.shape, dtype=bool)  # no lower neighbour, not an outlet
    for start, stop, lower, outlet in _lower_and_outlets(z):
        flat[start:stop] = ~lower & ~outlet & ~np.isnan(z[start:stop])
    if not flat.any():
        return np.zeros(z.shape, dtype=np.int32)
    edge_cells = []  # low edges (flat indices): draining cells next to a flat cell of their height
    high = np.zeros(z.shape, dtype=bool)  # high edges: flat cells next to higher terrain
    kind = index_dtype(z.size)
    for (start, stop, _, outlet) in _lower_and_outlets(z):
        block, z_block = rows_with_halo(flat, start, stop, False), rows_with_halo(z, start, stop, np.nan)
        centre = z_block[1:-1, 1:-1]
        near_flat = np.zeros((stop - start, cols), dtype=bool)
        higher = np.zeros((stop - start, cols), dtype=bool)
        for k in range(8):
            neighbour = shifted(z_block, k)
            near_flat |= shifted(block, k) & (neighbour == centre)
            higher |= neighbour > centre
        edges = near_flat & ~flat[start:stop] & ~np.isnan(centre) & ~outlet
        edge_cells.append(np.flatnonzero(edges).astype(kind) + kind(start * cols))
        high[start:stop] = higher & flat[start:stop]
    edge_cells = np.concatenate(edge_cells)
    high_distance = _flat_distance(flat, high)  # d_high (int16 while it fits)
    del high
    labels, count = ndimage.label(flat, structure=np.ones((3, 3), dtype=bool))  # flat cells: labels > 0
    del flat
    joined = _joined_flats(z, labels, count, edge_cells)
    rise = _start_away_from_higher(labels, high_distance, joined)  # the labels' int32 buffer, for memory
    del labels, high_distance
    rise.reshape(-1)[edge_cells] = 2  # low edges are never flat: nothing below writes them again
    flat_rise = rise.reshape(-1)
    for distance, _, cells in flat_steps(z):
        flat_rise[cells] = 2 * distance + 1 - flat_rise[cells]  # 2 (d_low + 1) + (H - d_high)
    rise[rise < 0] = 0  # flats no way out reaches (pits of an unfilled DEM) stay as they are
    return rise


def _start_away_from_higher(labels: np.ndarray, high_distance: np.ndarray, joined: np.ndarray) -> np.ndarray:
    """``labels`` (int32, > 0 at flat cells) turned in place into the start of the rise: -(H - d_high + 1) at
    flat cells (d_high: ``high_distance``; H: the largest d_high of the cell's joined flat, ``joined`` from
    `_joined_flats`), 0 elsewhere. Block by block, so no temporary is the size of all flat cells."""
    rows, cols = labels.shape
    tallest_label = np.zeros(joined.size + 1, dtype=np.int32)
    for start, stop in row_blocks(rows, cols):
        block_labels = labels[start:stop]
        cells = block_labels > 0
        np.maximum.at(tallest_label, block_labels[cells], high_distance[start:stop][cells])
    tallest = np.zeros(int(joined.max()) + 1, dtype=np.int32)
    np.maximum.at(tallest, joined, tallest_label[1:])
    height_of_label = np.r_[0, tallest[joined]].astype(np.int32)
    for start, stop in row_blocks(rows, cols):
        block_labels = labels[start:stop]
        cells = block_labels > 0
        distance = high_distance[start:stop][cells].astype(np.int32)
        away = np.where(distance > 0, height_of_label[block_labels[cells]] - distance, 0)
        block_labels[cells] = -1 - away
    return labels


def _joined_flats(z: np.ndarray, labels: np.ndarray, count: int, edge_cells: np.ndarray) -> np.ndarray:
    """``joined[label - 1]``: the flat that flat ``label`` (of ``count``, 8-connected flat cells; next to each
    other flat cells always have one height) belongs to once flats touching through low edges of their height
    (``edge_cells``, sorted flat indices) are joined. Every low edge touches a flat cell of its height, so each
    edge stands for the first such flat it touches (its owner) and the graph's nodes are the flats alone: a
    link joins an edge's owner to every other flat it touches and to the owners of the edges of its height
    next to it."""
    cols = z.shape[1]
    kind = edge_cells.dtype
    height, label_of = z.reshape(-1), labels.reshape(-1)
    edge_height = height[edge_cells]
    owner = np.zeros(edge_cells.size, dtype=np.int32)
    first, second = [], []
    for k in range(8):  # never off the raster: outlets on the edge are not low edges
        neighbour = edge_cells + kind.type(DIRECTION_ROWS[k] * cols + DIRECTION_COLS[k])
        label = label_of[neighbour]
        touching = (label > 0) & (height[neighbour] == edge_height)
        np.copyto(owner, label, where=touching & (owner == 0))
        other = touching & (label != owner)
        first.append(owner[other])
        second.append(label[other])
    for k in range(4):  # an edge-to-edge link is seen from both of its cells: one direction is enough
        neighbour = edge_cells + kind.type(DIRECTION_ROWS[k] * cols + DIRECTION_COLS[k])
        candidate = np.flatnonzero((label_of[neighbour] == 0) & (height[neighbour] == edge_height))
        position = np.minimum(np.searchsorted(edge_cells, neighbour[candidate]), edge_cells.size - 1)
        hit = edge_cells[position] == neighbour[candidate]
        a, b = owner[candidate[hit]], owner[position[hit]]
        first.append(a[a != b])
        second.append(b[a != b])
    first, second = np.concatenate(first) - 1, np.concatenate(second) - 1
    graph = sparse.coo_matrix((np.ones(first.size, dtype=np.int8), (first, second)), shape=(count, count))
    return connected_components(graph, directed=False)[1].astype(np.int32)


def _flat_distance(flat: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Breadth-first steps (8-connected) within ``flat`` from the ``start`` cells (1 there; 0 where never
    reached); int16 while the steps fit, int32 beyond. Flat cells are never on the raster edge, so steps that
    wrap round a row land on a non-flat cell. ``start`` is overwritten (it becomes the cells still to reach)."""
    rows, cols = flat.shape
    kind = index_dtype(flat.size)
    frontier = np.concatenate([np.flatnonzero(start[low:high]).astype(kind) + kind(low * cols)
                               for low, high in row_blocks(rows, cols)])
    pending = start.reshape(-1)
    for low, high in row_blocks(rows, cols):
        np.greater(flat[low:high], start[low:high], out=start[low:high])  # flat and not a start cell
    distance = np.zeros(flat.shape, dtype=np.int16)
    distance.reshape(-1)[frontier] = 1
    steps = [int(step) for step in DIRECTION_ROWS * cols + DIRECTION_COLS]
    level = 1
    while frontier.size:
        level += 1
        if level > np.iinfo(distance.dtype).max:
            distance = distance.astype(np.int32)
        reached = []
        for k in CARDINALS_FIRST:
            target = frontier + kind(steps[k])
            target = target[pending.take(target, mode="clip")]
            pending[target] = False
            reached.append(target)
        frontier = np.concatenate(reached)
        distance.reshape(-1)[frontier] = level
    return distance


def add_ulps(values: np.ndarray, count) -> np.ndarray:
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
        values[raised] = add_ulps(values[raised], codes[raised])
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
        raster (see `rows_with_halo`)."""
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
        for start, stop in row_blocks(*self.shape):
            out[start:stop] = self.dem[start:stop]
            self._rebuild(out[start:stop], self.codes[start:stop], start * self.shape[1])
        return out


def _as_float32(dem: np.ndarray) -> Optional[np.ndarray]:
    """``dem`` as float32 when no value changes (float32 DEMs, integers below 2**24, float64 holding float32
    values; NaN stays NaN), else None."""
    if dem.dtype == np.float32:
        return dem
    single = np.empty(dem.shape, dtype=np.float32)
    for start, stop in row_blocks(*dem.shape):
        single[start:stop] = dem[start:stop]
        if not np.array_equal(single[start:stop], dem[start:stop], equal_nan=True):
            return None
    return single


def _codes(z: np.ndarray, filled: np.ndarray, distance: np.ndarray):
    """(codes, levels, first) of `EpsilonFilledDem` from the exact fill of ``z`` and the units each cell rises
    over it (`flat_increments`; int32, 0 elsewhere)."""
    codes = np.empty(z.shape, dtype=np.int16)
    first = np.zeros(((z.size - 1) >> _LIST_BITS) + 1, dtype=np.int64)
    levels = []
    height, level, away, code = z.reshape(-1), filled.reshape(-1), distance.reshape(-1), codes.reshape(-1)
    listed_count = 0
    for start in range(0, z.size, BLOCK_CELLS):  # whole blocks of 2**15 cells
        stop = min(z.size, start + BLOCK_CELLS)
        code[start:stop] = np.minimum(away[start:stop], _MAX_STEPS)
        cells = np.flatnonzero((level[start:stop] > height[start:stop]) | (away[start:stop] > _MAX_STEPS)) + start
        value = add_ulps(level[cells].astype(np.float64), away[cells])
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
            increments = flat_increments(filled).reshape(-1)
            cells = np.flatnonzero(increments)
            flat[cells] = add_ulps(flat[cells], increments[cells])
            del increments, cells
            if not _undrained(filled):
                break
            steps.check()
            _exact_fill(filled, Steps(3), in_place=True)
        steps.advance("Sloped the flats")
        return EpsilonFilledDem(filled)
    filled = _exact_fill(single, steps)
    steps.advance("Filled the depressions")
    codes, levels, first = _codes(single, filled, flat_increments(filled))
    steps.advance("Sloped the flats")
    return EpsilonFilledDem(dem, codes, levels, first)


def epsilon_filled_dem(dem: np.ndarray, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> EpsilonFilledDem:
    """`fill_depressions(dem, epsilon=True)` as an `EpsilonFilledDem`: the same float64 values in about a
    third of the memory (besides the DEM), for `mfd_accumulation`."""
    dem = np.asarray(dem)
    require_3x3(dem.shape, "depression filling")
    require_valid_cell(dem)
    steps = Steps(4, progress, is_cancelled)
    steps.check()
    return _epsilon_filled(dem, steps)


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
    strictly lower neighbour. Nodata (NaN) stays NaN. Refuses a DEM smaller than 3 x 3 cells or without a
    valid cell.
    """
    if epsilon:
        return epsilon_filled_dem(dem, progress, is_cancelled).array()
    require_3x3(np.shape(dem), "depression filling")
    require_valid_cell(dem)
    steps = Steps(3, progress, is_cancelled)
    steps.check()
    filled = _exact_fill(as_float(dem), steps)
    steps.advance("Filled the depressions")
    return filled
