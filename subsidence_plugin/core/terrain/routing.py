"""Flow routing on a filled DEM: D8 directions and accumulation, Freeman (1991) multiple-flow-direction
accumulation, computed in flow waves (cells whose upstream cells are all done)."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..progress import CancelCheck, ProgressCallback, Steps
from .fill import EpsilonFilledDem, flat_increments
from .neighbours import (DIRECTION_COLS, DIRECTION_ROWS, WAVE_CELLS, as_float, cell_chunks, index_dtype, require_3x3,
                         row_blocks, rows_with_halo, shifted, step_lengths)


def flow_directions_d8(filled: np.ndarray, lx, ly, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> np.ndarray:
    """D8 flow direction (int8 index 0..7, -1 = none) of a filled DEM (m).

    Each cell drains to the neighbour of steepest descent, drop / distance (O'Callaghan & Mark 1984); ties go
    to the lower index. Edge cells are outlets (-1); a cell next to nodata drains to a lower valid neighbour
    if it has one, else it is an outlet. Cells of a flat follow the flat gradient of `fill.flat_increments`
    (Garbrecht & Martz 1997 towards lower and away from higher terrain, as Barnes et al. 2014 and RichDEM), so
    after `fill_depressions` every cell that is not an outlet drains, and flats drain like valleys, not in
    straight lines to the nearest outlet.
    """
    z = as_float(filled)
    require_3x3(z.shape, "D8 flow directions")
    steps = Steps(2, progress, is_cancelled)
    steps.check()
    length = step_lengths(lx, ly, z.shape[0])
    direction = np.full(z.shape, -1, dtype=np.int8)
    for start, stop in row_blocks(*z.shape):
        block = rows_with_halo(z, start, stop, np.nan)
        centre, block_direction = block[1:-1, 1:-1], direction[start:stop]
        steepest = np.zeros(centre.shape)
        slope = np.empty(centre.shape)
        steeper = np.empty(centre.shape, dtype=bool)
        for k in range(8):
            np.divide(centre - shifted(block, k), length[k, start:stop], out=slope)
            np.greater(slope, steepest, out=steeper)
            np.copyto(steepest, slope, where=steeper)
            np.copyto(block_direction, k, where=steeper)
    direction[0, :] = direction[-1, :] = -1
    direction[:, 0] = direction[:, -1] = -1
    steps.advance("Found the steepest descents")
    cells, k = flat_directions(z, length)
    direction.reshape(-1)[cells] = k
    steps.advance("Resolved the flats")
    return direction


def flat_directions(z: np.ndarray, length: np.ndarray):
    """(flat indices, D8 direction) of the cells of flats: the steepest descent, increment drop / step length,
    on the flat gradient of `fill.flat_increments` (towards lower and away from higher terrain, Garbrecht &
    Martz 1997), among the neighbours of the same height; ties go to the lower index. ``length``: (8, rows)
    step lengths (`step_lengths`, shape (8, rows, 1))."""
    rows, cols = z.shape
    increments = flat_increments(z)
    flat_rise = increments.reshape(-1)
    height = z.reshape(-1)
    low = np.zeros(z.shape, dtype=bool)  # flat cells: raised, with no lower neighbour (low edges drain already)
    for start, stop in row_blocks(rows, cols):
        block = rows_with_halo(z, start, stop, np.nan)
        centre = block[1:-1, 1:-1]
        lower = np.zeros(centre.shape, dtype=bool)
        for k in range(8):
            lower |= shifted(block, k) < centre
        low[start:stop] = (increments[start:stop] > 0) & ~lower
    cells = np.flatnonzero(low)
    del low
    row = cells // cols
    best = np.zeros(cells.size)
    direction = np.full(cells.size, -1, dtype=np.int8)
    steps = [int(step) for step in DIRECTION_ROWS * cols + DIRECTION_COLS]
    for k in range(8):
        neighbour = cells + steps[k]  # flat cells are never on the raster edge
        drop = (flat_rise[cells] - flat_rise[neighbour]) / length[k, row, 0]
        drop[height[neighbour] != height[cells]] = 0.0
        steeper = drop > best
        best[steeper] = drop[steeper]
        direction[steeper] = k
    return cells, direction


def _wave_accumulate(total: np.ndarray, indegree: np.ndarray, receivers, steps: Steps, message: str,
                     first: Optional[np.ndarray] = None):
    """Accumulate ``total`` (flat, in place) downstream in waves: a cell is passed on once all the cells that
    drain into it are done (Kahn's topological order, vectorised per wave).

    ``receivers(cells, totals)`` yields (receiving cells, amounts) for up to `WAVE_CELLS` cells of a wave and
    their accumulated totals, each receiving cell at most once per yield; ``indegree`` (flat int8) counts the
    cells draining into each cell and loses one per amount received: a cell joins the next wave when it
    reaches 0. The first wave, the valid cells without inflow, is marked -1 in ``indegree`` and read chunk by
    chunk; later waves are arrays of int32 cell indices (`index_dtype`). ``first``: the cells of the first wave
    instead (flow resumed once more flow reached them, `MfdRouting.receive`).
    """
    index_type = index_dtype(total.size)
    if first is None:
        for start, stop in cell_chunks(total.size):
            part = indegree[start:stop]
            part[(part == 0) & ~np.isnan(total[start:stop])] = -1
        wave = ((np.flatnonzero(indegree[start:stop] == -1) + start).astype(index_type)
                for start, stop in cell_chunks(total.size))
    else:
        wave = [first.astype(index_type)]
    rounds = 0
    while True:
        ready = []
        for part in wave:
            for start in range(0, part.size, WAVE_CELLS):
                cells = part[start:start + WAVE_CELLS]
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
    for start, stop in row_blocks(*route.shape):
        block_route, block_count = rows_with_halo(route, start, stop, -1), count[start:stop]
        for k in range(8):
            block_count += shifted(block_route, k) == (k + 4) % 8
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
    require_3x3(down.shape, "flow accumulation", "The flow direction raster")
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


def _mfd_start(surface: EpsilonFilledDem, flat_direction: Optional[np.ndarray], weights: Optional[np.ndarray],
               sinks: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """Flow of each cell before accumulation (``weights``, default 1.0; NaN at nodata; float64, flat) and the number
    of cells passing flow into it (int8, flat): higher neighbours off the raster edge and not ``sinks`` (those pass
    nothing on), and flat cells whose ``flat_direction`` points to it."""
    rows, cols = surface.shape
    total = np.empty(rows * cols)
    count = np.zeros(surface.shape, dtype=np.int8)
    for start, stop in row_blocks(rows, cols):
        block = surface.padded_rows(start, stop)
        centre, block_count = block[1:-1, 1:-1], count[start:stop]
        passes = np.zeros(block.shape, dtype=bool)  # padded row i is raster row start - 1 + i
        passes[max(2 - start, 0):rows - start, 2:cols] = True
        if sinks is not None:
            passes &= ~rows_with_halo(sinks, start, stop, True)
        if flat_direction is not None:
            block_direction = rows_with_halo(flat_direction, start, stop, -1)
        for k in range(8):
            block_count += shifted(passes, k) & (shifted(block, k) > centre)
            if flat_direction is not None:
                block_count += shifted(block_direction, k) == (k + 4) % 8
        start_flow = 1.0 if weights is None else weights[start:stop]
        total[start * cols:stop * cols] = np.where(np.isnan(centre), np.nan, start_flow).ravel()
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
    steps = Steps(3, progress, is_cancelled)
    routing = MfdRouting(filled, lx, ly, exponent, steps=steps)
    routing.accumulate()
    steps.advance("Accumulated the flow")
    return routing.total.reshape(routing.shape)


class MfdRouting:
    """`mfd_accumulation` that can wait for flow from beyond the array and resume when it arrives (a tile of a
    larger raster, `scale.flow`): ``weights`` each cell's own flow (default 1 cell), ``sinks`` cells that, like the
    edge cells, pass nothing on, ``waiting`` (int8) how many cells beyond the array still pass flow into each cell.
    `accumulate` passes on the flow of every cell whose inflows are all in; `receive` adds flow from beyond the
    array and passes on what that completes. ``total``: the flow so far (flat, float64; cells on the array's edge
    gather what the array passes into them)."""

    def __init__(self, filled, lx, ly, exponent: float = 1.1, weights: Optional[np.ndarray] = None,
                 sinks: Optional[np.ndarray] = None, waiting: Optional[np.ndarray] = None,
                 steps: Optional[Steps] = None):
        surface = filled if isinstance(filled, EpsilonFilledDem) else EpsilonFilledDem(as_float(filled), flats=True)
        require_3x3(surface.shape, "flow accumulation")
        self.steps = steps or Steps(3)
        self.steps.check()
        self.surface, self.shape, self.exponent, self.sinks = surface, surface.shape, exponent, sinks
        rows, cols = surface.shape
        self.flat_direction = None
        if surface.flats:
            cells, k = flat_directions(surface.dem, step_lengths(lx, ly, rows))
            if cells.size:
                self.flat_direction = np.full(surface.shape, -1, dtype=np.int8)
                self.flat_direction.reshape(-1)[cells] = k
        self.steps.advance("Found the flat directions")
        self.total, self.indegree = _mfd_start(surface, self.flat_direction, weights, sinks)
        if waiting is not None:
            self.indegree += waiting.reshape(-1)
        self.steps.advance("Counted the inflows")
        self.step = [int(offset) for offset in DIRECTION_ROWS * cols + DIRECTION_COLS]
        self.offsets = np.array([0] + self.step, dtype=index_dtype(rows * cols))[:, None]
        self.length = step_lengths(lx, ly, rows)[:, :, 0]
        self.uniform = bool(np.all(self.length == self.length[:, :1]))

    def accumulate(self, first: Optional[np.ndarray] = None) -> None:
        """Pass on the flow of every cell whose inflows are all in (``first``: only from these cells on)."""
        _wave_accumulate(self.total, self.indegree, self._receivers, self.steps, "Accumulating the flow", first)

    def receive(self, cells: np.ndarray, amounts: np.ndarray, counts: np.ndarray) -> None:
        """Flow from beyond the array: ``amounts`` into ``cells`` (flat indices) from ``counts`` cells each, then
        passed on from the cells that completes."""
        self.total[cells] += amounts
        self.indegree[cells] -= counts.astype(self.indegree.dtype)
        ready = cells[(self.indegree[cells] == 0) & (counts > 0)]
        if ready.size:
            self.accumulate(ready)

    def _receivers(self, cells, totals):
        rows, cols = self.shape
        size = rows * cols
        column = cells % cols
        inner = np.flatnonzero((cells >= cols) & (cells < size - cols) & (column > 0) & (column < cols - 1))
        if self.sinks is not None:
            inner = inner[~self.sinks.reshape(-1)[cells[inner]]]
        source, totals = cells[inner], totals[inner]
        share = np.empty((8, source.size))
        for part in range(0, source.size, WAVE_CELLS // 8):  # drops in parts: small temporaries
            height = self.surface.values(source[part:part + WAVE_CELLS // 8] + self.offsets)
            np.fmax(height[0] - height[1:], 0.0, out=share[:, part:part + WAVE_CELLS // 8])
        share /= self.length[:, :1] if self.uniform else self.length[:, source // cols]
        np.power(share, self.exponent, out=share, where=share > 0)
        if self.flat_direction is not None:
            direction = self.flat_direction.reshape(-1)[source]
            flat = np.flatnonzero(direction >= 0)
            share[direction[flat], flat] = 1.0
        total = share.sum(axis=0)
        share /= np.where(total > 0, total, 1.0)
        for k in range(8):
            take = np.flatnonzero(share[k])
            yield source[take] + self.step[k], totals[take] * share[k, take]
