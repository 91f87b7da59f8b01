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


def _offsets(columns: int) -> np.ndarray:
    """Flat-index steps to the eight neighbours in a raster padded by one cell on every side."""
    return DIRECTION_ROWS * (columns + 2) + DIRECTION_COLS


def _pad(values: np.ndarray, fill) -> np.ndarray:
    """``values`` surrounded by one row / column of ``fill``."""
    out = np.full((values.shape[0] + 2, values.shape[1] + 2), fill, dtype=values.dtype)
    out[1:-1, 1:-1] = values
    return out


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


def _outlet_cells(valid: np.ndarray) -> np.ndarray:
    """Valid cells on the raster edge or next to nodata (8-connectivity)."""
    invalid = _pad(~valid, True)
    out = np.zeros_like(valid)
    for k in range(8):
        out |= _shifted(invalid, k)
    return out & valid


def _pointer_roots(parent: np.ndarray) -> np.ndarray:
    """Root of every node of a forest given by parent pointers (roots point to themselves), by pointer
    jumping on the nodes not yet at their root."""
    root = parent.copy()
    active = np.flatnonzero(root[root] != root)
    while active.size:
        root[active] = root[root[active]]
        active = active[root[root[active]] != root[active]]
    return root


def _basins(z: np.ndarray, valid: np.ndarray) -> Tuple[np.ndarray, int]:
    """Label each valid cell with the local minimum it reaches by always stepping to its lowest neighbour
    (ties broken by position, so a flat plateau mostly joins one basin); -1 elsewhere. Works on the raster
    padded by one cell; returns (labels of the padded raster, number of basins)."""
    cols = z.shape[1]
    zp = _pad(np.where(valid, z, np.nan), np.nan)
    best = np.full(z.shape, np.inf)
    best_step = np.zeros(z.shape, dtype=np.int32)
    steps = _offsets(cols)
    candidates = [(steps[k], _shifted(zp, k)) for k in range(8)] + [(0, z)]
    for step, neighbour in sorted(candidates, key=lambda item: item[0]):
        lower = neighbour < best
        best[lower] = neighbour[lower]
        best_step[lower] = step
    del best
    index = np.arange(zp.size, dtype=np.int64 if zp.size >= 2 ** 31 else np.int32).reshape(zp.shape)
    parent = index.copy()
    parent[1:-1, 1:-1] += best_step.astype(parent.dtype)
    del best_step
    root = _pointer_roots(parent.ravel())
    del parent
    valid_padded = _pad(valid, False).ravel()
    is_root = valid_padded & (root == index.ravel())
    del index
    number = np.full(root.size, -1, dtype=np.int32)
    count = int(is_root.sum())
    number[is_root] = np.arange(count, dtype=np.int32)
    labels = number[root]
    labels[~valid_padded] = -1
    return labels.reshape(zp.shape), count


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


def _spill_elevations(z: np.ndarray, valid: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Lowest level (m) at which water from each basin can leave the raster (minimax path to the outside).

    Basins are nodes of a graph whose edges carry the lowest pass between two basins, max(z_u, z_v) minimised
    over neighbouring cells u, v; an extra node is the outside, joined to each basin by its lowest edge or
    nodata-adjacent cell. The minimax path runs along the minimum spanning tree, so the spill level of a basin
    is the highest edge on its tree path to the outside.
    """
    zp = _pad(np.where(valid, z, np.nan), np.nan)
    inner = labels[1:-1, 1:-1]
    first, second, level = [], [], []
    for k in (0, 1, 2, 3):
        other = _shifted(labels, k)
        border = (inner != other) & (inner >= 0) & (other >= 0)
        first.append(inner[border])
        second.append(other[border])
        level.append(np.fmax(z[border], _shifted(zp, k)[border]))
    outlets = _outlet_cells(valid)
    first.append(inner[outlets])
    second.append(np.full(int(outlets.sum()), count, dtype=np.int32))
    level.append(z[outlets])
    first, second, level = np.concatenate(first), np.concatenate(second), np.concatenate(level)
    level_of, rank = _ranks(level)
    del level
    edges = first.size
    grouped = sparse.coo_matrix((np.arange(1, edges + 1, dtype=np.float64), (first, np.arange(edges))),
                                shape=(count + 1, edges)).tocsr()
    del first
    order = grouped.data.astype(np.int64) - 1
    graph = sparse.csr_matrix((rank[order], second[order], grouped.indptr), shape=(count + 1, count + 1))
    del grouped, second, rank, order
    tree = minimum_spanning_tree(graph).tocoo()
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
    valid = ~np.isnan(z)
    labels, count = _basins(z, valid)
    steps.advance("Found the basins")
    spill = _spill_elevations(z, valid, labels, count)
    steps.advance("Found the spill levels")
    basin = labels[1:-1, 1:-1]
    del labels
    filled = z.copy()
    raised = valid & (z < spill.astype(z.dtype)[np.maximum(basin, 0)])
    filled[raised] = spill.astype(z.dtype)[basin[raised]]
    return filled


def _has_lower_neighbour(z: np.ndarray) -> np.ndarray:
    """Cells with a strictly lower valid neighbour."""
    zp = _pad(z, np.nan)
    lower = np.zeros(z.shape, dtype=bool)
    for k in range(8):
        lower |= _shifted(zp, k) < z
    return lower


def _flat_distances(z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Steps (cells) from every flat cell to its flat's way out, and the direction of the first step.

    A flat cell is an interior valid cell, not next to nodata, without a lower neighbour. Breadth-first
    search over cells of equal elevation, starting from the cells that drain (lower neighbour) or leave the
    raster (outlets); cardinal steps are preferred at equal distance. Returns (distance, direction), both
    padded by one cell; distance 0 for draining cells and outlets, -1 for nodata and unreached cells (pits
    of an unfilled DEM); direction -1 where there is no flat step. Method: Garbrecht & Martz (1997) gradient
    towards lower terrain, as a breadth-first distance (Barnes et al. 2014).
    """
    rows, cols = z.shape
    valid = ~np.isnan(z)
    drains = valid & (_has_lower_neighbour(z) | _outlet_cells(valid))
    pending = valid & ~drains
    near_pending = np.zeros_like(pending)
    padded_pending = _pad(pending, False)
    for k in range(8):
        near_pending |= _shifted(padded_pending, k)
    frontier = np.flatnonzero(_pad(drains & near_pending, False))
    del near_pending, padded_pending
    zp = _pad(z, np.nan).ravel()
    distance = np.where(_pad(drains, False), 0, -1).astype(np.int32).ravel()
    direction = np.full(zp.size, -1, dtype=np.int8)
    pending = _pad(pending, False).ravel()
    steps = _offsets(cols)
    level = 0
    while frontier.size:
        level += 1
        reached = []
        for k in CARDINALS_FIRST:
            target = frontier + steps[k]
            take = pending[target] & (zp[target] == zp[frontier])
            target = target[take]
            pending[target] = False
            distance[target] = level
            direction[target] = (k + 4) % 8
            reached.append(target)
        frontier = np.concatenate(reached)
    return distance.reshape(rows + 2, cols + 2), direction.reshape(rows + 2, cols + 2)


def _add_ulps(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``values`` (float64) raised by ``count`` units in the last place (np.nextafter applied count times)."""
    bits = values.view(np.int64)
    ordered = np.where(bits < 0, np.int64(-2 ** 63) - bits, bits) + count
    return np.where(ordered < 0, np.int64(-2 ** 63) - ordered, ordered).view(np.float64)


def _undrained(filled: np.ndarray) -> np.ndarray:
    """Valid cells that neither leave the raster nor have a strictly lower neighbour."""
    valid = ~np.isnan(filled)
    return valid & ~_has_lower_neighbour(filled) & ~_outlet_cells(valid)


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
    while True:
        distance, _ = _flat_distances(surface)
        rise = np.maximum(distance[1:-1, 1:-1], 0).astype(np.int64)
        surface = _add_ulps(surface, rise)
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
    rows = z.shape[0]
    length = _step_lengths(lx, ly, rows)
    zp = _pad(z, np.nan)
    steepest = np.zeros(z.shape)
    direction = np.full(z.shape, -1, dtype=np.int8)
    for k in range(8):
        slope = (z - _shifted(zp, k)) / length[k]
        steeper = slope > steepest
        steepest[steeper] = slope[steeper]
        direction[steeper] = k
    del steepest, zp
    direction[0, :] = direction[-1, :] = -1
    direction[:, 0] = direction[:, -1] = -1
    steps.advance("Found the steepest descents")
    _, flat_direction = _flat_distances(z)
    flat = flat_direction[1:-1, 1:-1] >= 0
    direction[flat] = flat_direction[1:-1, 1:-1][flat]
    steps.advance("Resolved the flats")
    return direction


def _wave_accumulate(receivers, start: np.ndarray, indegree: np.ndarray, steps: Steps, message: str):
    """Accumulate ``start`` (padded, flat) downstream in waves: a cell is passed on once all the cells that
    drain into it are done (Kahn's topological order, vectorised per wave).

    ``receivers(cells, totals)`` returns (receiving cells, amounts) for the cells of a wave and their
    accumulated totals. ``indegree`` (padded, flat) counts the cells draining into each cell.
    """
    total = start
    wave = np.flatnonzero(indegree == 0)
    wave = wave[~np.isnan(total[wave])]
    rounds = 0
    while wave.size:
        target, amount = receivers(wave, total[wave])
        if not target.size:
            break
        order = np.argsort(target, kind="stable")
        target, amount = target[order], amount[order]
        first = np.flatnonzero(np.concatenate([[True], target[1:] != target[:-1]]))
        cells = target[first]
        total[cells] += np.add.reduceat(amount, first)
        indegree[cells] -= np.diff(np.concatenate([first, [target.size]])).astype(indegree.dtype)
        wave = cells[indegree[cells] == 0]
        rounds += 1
        if rounds % 256 == 0:
            steps.check()
            if steps.progress is not None:
                steps.progress(min(99.0, 100.0 * steps.done / steps.total), message)
    return total


def d8_accumulation(directions: np.ndarray, weights: Optional[np.ndarray] = None,
                    progress: Optional[ProgressCallback] = None,
                    is_cancelled: Optional[CancelCheck] = None) -> np.ndarray:
    """Number of cells (or sum of ``weights``) draining through each cell along D8 directions, itself
    included (float64; O'Callaghan & Mark 1984), computed in topological waves.

    Directions alone cannot tell nodata from outlets (both -1): give ``weights`` NaN at nodata (e.g. 1.0
    where the DEM is valid, NaN elsewhere) to get NaN there; without weights every cell counts as 1.
    """
    directions = np.asarray(directions)
    rows, cols = directions.shape
    steps = Steps(2, progress, is_cancelled)
    steps.check()
    if weights is None:
        weights = np.ones(directions.shape)
    start = _pad(np.asarray(weights, dtype=np.float64), np.nan).ravel()
    offsets = _offsets(cols)
    indegree = np.zeros((rows + 2, cols + 2), dtype=np.int8)
    for k in range(8):
        _shifted(indegree, k)[...] += directions == k
    flat_directions = _pad(directions.astype(np.int8), -1).ravel()
    steps.advance("Counted the inflows")

    def receivers(cells, totals):
        down = flat_directions[cells]
        out = down >= 0
        return cells[out] + offsets[down[out]], totals[out]

    total = _wave_accumulate(receivers, start, indegree.ravel(), steps, "Accumulating the flow")
    steps.advance("Accumulated the flow")
    return total.reshape(rows + 2, cols + 2)[1:-1, 1:-1].copy()


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
    valid = ~np.isnan(z)
    interior = np.zeros(z.shape, dtype=bool)
    interior[1:-1, 1:-1] = True
    zp = _pad(z, np.nan)
    spreads = valid & interior & _has_lower_neighbour(z)
    indegree = np.zeros((rows + 2, cols + 2), dtype=np.int8)
    for k in range(8):
        _shifted(indegree, k)[...] += spreads & (_shifted(zp, k) < z)
    steps.advance("Counted the inflows")
    _, flat_direction = _flat_distances(z)
    for k in range(8):
        _shifted(indegree, k)[...] += flat_direction[1:-1, 1:-1] == k
    steps.advance("Resolved the flats")
    offsets = _offsets(cols)
    length = _step_lengths(lx, ly, rows)[:, :, 0]
    elevation = zp.ravel()
    spreads = _pad(spreads, False).ravel()
    flat_direction = flat_direction.ravel()

    def receivers(cells, totals):
        parts, amounts = [], []
        down = spreads[cells]
        source, total = cells[down], totals[down]
        row = source // (cols + 2) - 1
        height = elevation[source]
        share = np.zeros((8, source.size))
        with np.errstate(invalid="ignore"):
            for k in range(8):
                drop = height - elevation[source + offsets[k]]
                lower = drop > 0
                share[k, lower] = (drop[lower] / length[k, row[lower]]) ** exponent
        share /= share.sum(axis=0)
        for k in range(8):
            take = share[k] > 0
            parts.append(source[take] + offsets[k])
            amounts.append(total[take] * share[k, take])
        step = flat_direction[cells]
        flat = step >= 0
        parts.append(cells[flat] + offsets[step[flat]])
        amounts.append(totals[flat])
        return np.concatenate(parts), np.concatenate(amounts)

    start = _pad(np.where(valid, 1.0, np.nan), np.nan).ravel()
    total = _wave_accumulate(receivers, start, indegree.ravel(), steps, "Accumulating the flow")
    steps.advance("Accumulated the flow")
    return total.reshape(rows + 2, cols + 2)[1:-1, 1:-1].copy()


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
