"""D8 flow accumulation (subsidence:flowaccumulation with D8: `core.terrain.indices.hydrology_from_dem(method="d8")`,
the depression fill with the epsilon gradient, D8 directions, accumulation) on a Dask cluster in tiles, equal to the
in-process result cell for cell; phases 1 and 2 alone are the depression fill with the epsilon gradient
(`distributed_epsilon_fill`). The tiles' arrays stay in the workers' memory between the phases (futures); only their
edges and small summaries travel.

1. The exact fill by Barnes (2016)'s three phases (`scale.fill`), kept on the workers as float32 tiles with a halo of
   two cells copied from the neighbouring tiles (NaN beyond the raster).
2. The flat gradient (`core.terrain.fill.flat_increments`: Garbrecht & Martz 1997 as Barnes et al. 2014 define it):
   its breadth-first distances d_low (steps to the flat's way out) and d_high (steps from higher terrain) cross
   tiles, so every tile computes them from its own sources and the distances of its neighbours' edge cells, and the
   tiles whose halo changed compute again until none changes: a distributed Bellman-Ford whose fixed point is the
   breadth-first distance, reached after as many rounds as the flats cross tiles. The largest d_high H of each flat
   (flats joined through low edges of their height) is one small step on the client: the tiles' components of flat
   and low-edge cells joined across tile edges where equal heights touch. Then each cell's rise over the fill,
   2 (d_low + 1) + (H - d_high) units in the last place of float64 (2 at low edges), gives the epsilon-filled surface.
3. D8 directions per tile from the surface with a one-cell halo, as `core.terrain.routing.flow_directions_d8`.
4. Accumulation by Barnes (2017)'s three phases: per tile, the local accumulation and, for each perimeter cell, the
   next perimeter cell on its way down (in the tile, or the neighbouring tile's cell it drains into); on the client,
   the flow each perimeter cell gets from beyond its tile (sums over that forest by pointer doubling); per tile
   again, the accumulation with those inflows added where they enter. Accumulations are whole numbers of cells, so
   the sums are exact in any order.
5. MFD (Freeman 1991) instead of 3 and 4, in rounds as TauDEM passes flow between partitions: every tile passes
   on the flow of each cell whose inflows are all in (its cells next to a neighbour's higher cells wait for them),
   keeps its state on the worker, and sends what it passed into its neighbours' cells; the tiles that received
   flow add it and go on, until none receives any (as many rounds as flow paths cross tile edges one after
   another; each cell is passed on once). Shares are fractions, so the sums run in another order than in
   process: equal to round-off.

Refused on a cluster: DEMs whose values float32 cannot hold (the in-process epsilon fill then refills in float64
until every cell drains).
"""
from __future__ import annotations

import copy
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ..core.io.rasters import NODATA, read_grid
from ..core.progress import CancelCheck, Cancelled, ProgressCallback
from ..core.terrain.derivatives import metric_cell_sizes
from ..core.terrain.fill import EpsilonFilledDem, add_ulps, lower_and_outlet, pointer_roots
from ..core.terrain.neighbours import (CARDINALS_FIRST, DIRECTION_COLS, DIRECTION_ROWS, require_3x3, require_valid_cell,
                                       shifted, step_lengths)
from ..core.terrain.routing import MfdRouting, d8_accumulation
from .cluster import check_workers_read, completed, finished
from .fill import basins_task, fill_items, fill_task, perimeter_mask, spill_levels, subtree_sums
from .outputs import TiledOutput, ZarrOutput, is_zarr, write_zarr_tile
from .tiles import Tile

DEFAULT_FLOW_TILE = (1024, 1024)
PRODUCTS = ("accumulation", "sca")
BAND_NAMES = {"accumulation": "flow_accumulation_cells", "sca": "specific_catchment_area_m2_m"}
FAR = np.iinfo(np.int32).max  # no distance (yet)
SIDES = tuple((a, b) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b)
_STEP_ROWS = np.append(DIRECTION_ROWS, 0)
_STEP_COLS = np.append(DIRECTION_COLS, 0)


class Layout:
    """Tiles of ``tile_shape`` over a raster of ``shape`` in a grid of rows and columns of tiles; a last row or column
    thinner than 3 cells joins the one before it, so every tile has the 3 x 3 cells D8 accumulation needs and its
    halo of 2 comes from its direct neighbours."""

    def __init__(self, shape: Tuple[int, int], tile_shape: Tuple[int, int]):
        if min(tile_shape) < 3:
            raise ValueError(f"Flow accumulation needs tiles of at least 3 x 3 cells, got {tile_shape[0]} x "
                             f"{tile_shape[1]}")
        self.shape = shape
        self.row_starts = self._starts(shape[0], tile_shape[0])
        self.col_starts = self._starts(shape[1], tile_shape[1])
        self.tiles = [self._tile(i, j) for i in range(len(self.row_starts) - 1)
                      for j in range(len(self.col_starts) - 1)]
        self.position = {tile: divmod(n, len(self.col_starts) - 1) for n, tile in enumerate(self.tiles)}

    @staticmethod
    def _starts(size: int, step: int) -> np.ndarray:
        starts = list(range(0, size, step))
        if len(starts) > 1 and size - starts[-1] < 3:
            starts.pop()
        return np.array(starts + [size])

    def _tile(self, i: int, j: int) -> Tile:
        row0, row1 = int(self.row_starts[i]), int(self.row_starts[i + 1])
        col0, col1 = int(self.col_starts[j]), int(self.col_starts[j + 1])
        height, width = self.shape
        return Tile(row0, col0, row1 - row0, col1 - col0, min(1, row0), min(1, height - row1), min(1, col0),
                    min(1, width - col1))

    def neighbours(self, tile: Tile) -> Dict[Tuple[int, int], Tile]:
        """{(row step, column step): the neighbouring tile} for the neighbours inside the raster."""
        i, j = self.position[tile]
        rows, cols = len(self.row_starts) - 1, len(self.col_starts) - 1
        return {(a, b): self.tiles[(i + a) * cols + j + b] for a, b in SIDES
                if 0 <= i + a < rows and 0 <= j + b < cols}

    def tile_index(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """The number of the tile holding each cell (row-major)."""
        i = np.searchsorted(self.row_starts, rows, side="right") - 1
        j = np.searchsorted(self.col_starts, cols, side="right") - 1
        return i * (len(self.col_starts) - 1) + j


def edge_pieces(values: np.ndarray, width: int) -> Dict[Tuple[int, int], np.ndarray]:
    """{side: the cells of ``values`` a neighbour on that side reads as its halo}: the last ``width`` rows for the
    neighbour below (1, 0), the first ``width`` columns and rows for the one above left (-1, -1), and so on."""
    def part(step, size):
        return slice(size - width, size) if step > 0 else slice(0, width) if step < 0 else slice(0, size)
    return {(a, b): values[part(a, values.shape[0]), part(b, values.shape[1])].copy() for a, b in SIDES}


def with_halo(centre: np.ndarray, neighbours: Dict[Tuple[int, int], dict], width: int, fill) -> np.ndarray:
    """``centre`` with a halo of ``width`` cells: the facing `edge_pieces` of the ``neighbours`` ({side: their
    pieces}), ``fill`` where there is none (beyond the raster)."""
    rows, cols = centre.shape
    out = np.full((rows + 2 * width, cols + 2 * width), fill, dtype=centre.dtype)
    out[width:width + rows, width:width + cols] = centre

    def place(step, size):
        return slice(0, width) if step < 0 else slice(width + size, 2 * width + size) if step > 0 else \
            slice(width, width + size)
    for (a, b), pieces in neighbours.items():
        out[place(a, rows), place(b, cols)] = pieces[(-a, -b)]
    return out


def _filled_tile(item, path: str, band: int, nodata, width: int) -> np.ndarray:
    """Phase 3 of the exact fill (`scale.fill.fill_task`) as float32: the DEM's values are float32 numbers."""
    return fill_task(item, path, band, nodata, width, "").astype(np.float32)


class FlatCells(NamedTuple):
    """The tile's cells (padded by one) as `core.terrain.fill.flat_increments` classes them: ``flat`` (no lower
    neighbour, not an outlet; also on the ring), ``valid`` (also on the ring), and for the tile's own cells
    ``edges`` (low edges: draining, not outlets, next to a flat cell of their height) and ``high`` (flat cells next to
    higher terrain)."""

    z: np.ndarray
    flat: np.ndarray
    valid: np.ndarray
    edges: np.ndarray
    high: np.ndarray


def flat_cells(padded: np.ndarray) -> FlatCells:
    """`FlatCells` of a tile from its filled values with a halo of two cells (NaN beyond the raster)."""
    z = padded[1:-1, 1:-1]
    lower, outlet = lower_and_outlet(padded)
    valid = ~np.isnan(z)
    flat = ~lower & ~outlet & valid
    centre = z[1:-1, 1:-1]
    near_flat = np.zeros(centre.shape, dtype=bool)
    higher = np.zeros(centre.shape, dtype=bool)
    for k in range(8):
        neighbour = shifted(z, k)
        near_flat |= shifted(flat, k) & (neighbour == centre)
        higher |= neighbour > centre
    own_flat, own_outlet = flat[1:-1, 1:-1], outlet[1:-1, 1:-1]
    edges = near_flat & ~own_flat & valid[1:-1, 1:-1] & ~own_outlet
    return FlatCells(z, flat, valid, edges, higher & own_flat)


def breadth_first(z: np.ndarray, pending: np.ndarray, distance: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """``distance`` (int32, `FAR` where unknown) lowered in place for the ``pending`` cells to 1 + the distance of an
    8-neighbour of the same height wherever that is lower: breadth-first steps from the ``seeds`` (flat indices of
    cells with a distance: sources of any distances, e.g. a neighbouring tile's edge) in the order of their
    distances, cardinal steps first. From scratch every cell with a distance is a seed; after a run, seeds whose
    distance fell correct the others (distances only fall, and a step that lowers nothing goes no further).
    ``pending`` cells are never on the array's border, so steps wrapping round a row land on a cell that is not
    pending."""
    cols = z.shape[1]
    height, flat_distance, open_cells = z.reshape(-1), distance.reshape(-1), pending.reshape(-1)
    seeds = seeds[np.argsort(flat_distance[seeds], kind="stable")]
    seed_levels = flat_distance[seeds]
    steps = [int(step) for step in DIRECTION_ROWS * cols + DIRECTION_COLS]
    frontier = np.zeros(0, dtype=np.int64)
    used, level = 0, 0
    while True:
        if not frontier.size:
            if used == seeds.size:
                break
            level = int(seed_levels[used])
        # the level in the array's type: with a Python int numpy would cast a copy of the array at every level
        last = np.searchsorted(seed_levels, seed_levels.dtype.type(level), side="right")
        frontier = np.concatenate([frontier, seeds[used:last]])
        used = last
        reached = []
        for k in CARDINALS_FIRST:
            target = frontier + steps[k]
            take = open_cells.take(target, mode="clip")
            target, source = target[take], frontier[take]
            target = target[(height[target] == height[source]) & (flat_distance[target] > level + 1)]
            flat_distance[target] = level + 1
            reached.append(target)
        frontier = np.concatenate(reached)
        level += 1
    return distance


def distance_task(cells: FlatCells, previous: Optional[Tuple[np.ndarray, np.ndarray]], low_ring: dict,
                  high_ring: dict) -> Tuple[np.ndarray, np.ndarray]:
    """One round on a worker: the tile's (d_low, d_high) at its flat cells (int32, `FAR` elsewhere and where unknown)
    from its own sources and its neighbours' last distances (``low_ring``, ``high_ring``: {side: their
    `edge_pieces`}); after its first round, from its ``previous`` distances corrected from its edges."""
    rows, cols = cells.z.shape[0] - 2, cells.z.shape[1] - 2
    unknown = np.full((rows, cols), FAR, dtype=np.int32)
    ring = np.ones(cells.flat.shape, dtype=bool)
    ring[1:-1, 1:-1] = False
    ring_flat = cells.flat & ring
    own_flat = cells.flat & ~ring
    low = np.where(cells.valid & ~cells.flat, 0, FAR).astype(np.int32)
    low[ring_flat] = with_halo(unknown, low_ring, 1, FAR)[ring_flat]
    high = np.where(ring_flat, with_halo(unknown, high_ring, 1, FAR), FAR).astype(np.int32)
    if previous is None:
        high[1:-1, 1:-1][cells.high] = 1
        seeds = [np.flatnonzero(low < FAR), np.flatnonzero(high < FAR)]
    else:
        np.copyto(low[1:-1, 1:-1], previous[0], where=own_flat[1:-1, 1:-1])
        high[1:-1, 1:-1] = previous[1]
        seeds = [np.flatnonzero(ring & (low < FAR)), np.flatnonzero(ring & (high < FAR))]
    breadth_first(cells.z, own_flat, low, seeds[0])
    breadth_first(cells.z, own_flat, high, seeds[1])
    return np.where(cells.flat[1:-1, 1:-1], low[1:-1, 1:-1], FAR).astype(np.int32), high[1:-1, 1:-1]


def _distance_edges(distances: Tuple[np.ndarray, np.ndarray]) -> Tuple[dict, dict]:
    return edge_pieces(distances[0], 1), edge_pieces(distances[1], 1)


def flat_components(cells: FlatCells) -> Tuple[np.ndarray, int]:
    """(labels, -1 elsewhere; count) of the tile's own flat and low-edge cells joined where 8-neighbours have one
    height: `core.terrain.fill._joined_flats` within the tile."""
    z = cells.z[1:-1, 1:-1]
    member = cells.flat[1:-1, 1:-1] | cells.edges
    rows, cols = z.shape
    index = np.full(z.shape, -1, dtype=np.int64)
    count = int(np.count_nonzero(member))
    index[member] = np.arange(count)
    first, second = [], []
    for k in range(4):  # east, south-east, south, south-west: each pair of neighbours once
        dr, dc = int(DIRECTION_ROWS[k]), int(DIRECTION_COLS[k])
        a = (slice(0, rows - dr), slice(max(0, -dc), cols - max(0, dc)))
        b = (slice(dr, rows), slice(max(0, dc), cols - max(0, -dc)))
        joined = member[a] & member[b] & (z[a] == z[b])
        first.append(index[a][joined])
        second.append(index[b][joined])
    first, second = np.concatenate(first), np.concatenate(second)
    graph = sparse.coo_matrix((np.ones(first.size, dtype=np.int8), (first, second)), shape=(count, count))
    number, component = connected_components(graph, directed=False)
    labels = np.full(z.shape, -1, dtype=np.int32)
    labels[member] = component
    return labels, number


class TileFlats(NamedTuple):
    """A tile's flat components: the largest d_high of each (``tallest``), and its perimeter cells in a component
    (flat indices of the raster) with their heights and components."""

    tallest: np.ndarray
    cells: np.ndarray
    heights: np.ndarray
    labels: np.ndarray


def components_task(cells: FlatCells, components: Tuple[np.ndarray, int], distances, tile: Tile,
                    width: int) -> TileFlats:
    """On a worker: the tile's `TileFlats` from its `flat_components` once the distances are final."""
    labels, count = components
    high = distances[1]
    reached = cells.flat[1:-1, 1:-1] & (high < FAR)
    tallest = np.zeros(count, dtype=np.int64)
    np.maximum.at(tallest, labels[reached], high[reached])
    edge = perimeter_mask(labels.shape) & (labels >= 0)
    row, col = np.nonzero(edge)
    return TileFlats(tallest, (tile.row0 + row) * width + tile.col0 + col, cells.z[1:-1, 1:-1][edge], labels[edge])


def tallest_of_flats(flats: List[TileFlats], layout: Layout) -> List[np.ndarray]:
    """On the client: for every tile, H of each of its components, the largest d_high of the flat it belongs to
    once components touching across tile edges at one height are joined."""
    counts = np.array([f.tallest.size for f in flats])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    nodes = int(offsets[-1])
    if not nodes:
        return [f.tallest for f in flats]
    ids = np.concatenate([f.labels + offsets[n] for n, f in enumerate(flats)])
    cells = np.concatenate([f.cells for f in flats])
    heights = np.concatenate([f.heights for f in flats])
    order = np.argsort(cells)
    cells, heights, ids = cells[order], heights[order], ids[order]
    height, width = layout.shape
    row, col = np.divmod(cells, width)
    tile = layout.tile_index(row, col)
    first, second = [], []
    for dr, dc in ((0, 1), (1, 1), (1, 0), (1, -1)):
        to_row, to_col = row + dr, col + dc
        inside = (to_row < height) & (to_col >= 0) & (to_col < width)
        target = to_row * width + to_col
        other = np.minimum(np.searchsorted(cells, target), cells.size - 1)
        across = inside & (cells[other] == target) & (heights[other] == heights)
        across &= layout.tile_index(np.minimum(to_row, height - 1), np.clip(to_col, 0, width - 1)) != tile
        first.append(ids[across])
        second.append(ids[other[across]])
    first, second = np.concatenate(first), np.concatenate(second)
    graph = sparse.coo_matrix((np.ones(first.size, dtype=np.int8), (first, second)), shape=(nodes, nodes))
    number, joined = connected_components(graph, directed=False)
    tallest = np.concatenate([f.tallest for f in flats])
    largest = np.zeros(number, dtype=np.int64)
    np.maximum.at(largest, joined, tallest)
    per_component = largest[joined]
    return [per_component[offsets[n]:offsets[n + 1]] for n in range(len(flats))]


def surface_task(cells: FlatCells, components: Tuple[np.ndarray, int], distances, tallest: np.ndarray
                 ) -> np.ndarray:
    """On a worker: the tile's epsilon-filled surface (float64, NaN at nodata): the fill raised by
    2 (d_low + 1) + (H - d_high) units in the last place at flat cells, 2 at low edges."""
    labels = components[0]
    low, high = distances
    flat = cells.flat[1:-1, 1:-1]
    away = np.where(flat & (high < FAR), np.append(tallest, 0)[labels] - high, 0)
    rise = np.where(flat & (low < FAR), 2 * low.astype(np.int64) + 2 + away, 0)
    rise[cells.edges] = 2
    surface = cells.z[1:-1, 1:-1].astype(np.float64)
    raised = rise > 0
    surface[raised] = add_ulps(surface[raised], rise[raised])
    return surface


def _surface_edges(surface: np.ndarray) -> dict:
    return edge_pieces(surface, 1)


def directions_task(surface: np.ndarray, neighbours: dict, lx: np.ndarray, ly: np.ndarray,
                    raster_edges: Tuple[bool, bool, bool, bool]) -> np.ndarray:
    """On a worker: the tile's D8 directions (int8, -1 = none) as `flow_directions_d8` finds them on the
    epsilon-filled surface (which has no flats): the steepest descent, drop / distance, ties to the lower index;
    cells on the raster's edge are outlets. ``lx``, ``ly``: the tile's rows' cell sizes (m); ``raster_edges``:
    whether its top, bottom, left and right sides are the raster's."""
    block = with_halo(surface, neighbours, 1, np.nan)
    length = step_lengths(lx, ly, surface.shape[0])
    direction = np.full(surface.shape, -1, dtype=np.int8)
    steepest = np.zeros(surface.shape)
    slope = np.empty(surface.shape)
    steeper = np.empty(surface.shape, dtype=bool)
    for k in range(8):
        np.divide(surface - shifted(block, k), length[k], out=slope)
        np.greater(slope, steepest, out=steeper)
        np.copyto(steepest, slope, where=steeper)
        np.copyto(direction, k, where=steeper)
    top, bottom, left, right = raster_edges
    for edge, part in ((top, (0, slice(None))), (bottom, (-1, slice(None))), (left, (slice(None), 0)),
                       (right, (slice(None), -1))):
        if edge:
            direction[part] = -1
    return direction


class TileLinks(NamedTuple):
    """Barnes (2017)'s summary of a tile: its perimeter cells (flat indices of the raster), their local accumulation,
    the next perimeter cell on their way down (-1: none) and whether that one is in another tile."""

    cells: np.ndarray
    local: np.ndarray
    next: np.ndarray
    across: np.ndarray


def links_task(directions: np.ndarray, tile: Tile, width: int) -> TileLinks:
    """Phase 1 on a worker: the tile's `TileLinks`."""
    rows, cols = directions.shape
    local = d8_accumulation(directions)
    down = directions.ravel().astype(np.int64)
    cell = np.arange(rows * cols, dtype=np.int64)
    to_row, to_col = cell // cols + _STEP_ROWS[down], cell % cols + _STEP_COLS[down]
    leaving = (down >= 0) & ((to_row < 0) | (to_row >= rows) | (to_col < 0) | (to_col >= cols))
    perimeter = perimeter_mask(directions.shape).ravel()
    parent = np.where(perimeter | (down < 0) | leaving, cell, to_row * cols + to_col)
    edge = np.flatnonzero(perimeter)
    after = np.where(down[edge] >= 0, to_row[edge] * cols + to_col[edge], edge)
    inside = (down[edge] >= 0) & ~leaving[edge]
    pointer_roots(parent)
    root = parent[np.where(inside, after, edge)]
    within = inside & perimeter[root]
    following = np.full(edge.size, -1, dtype=np.int64)
    following[within] = (tile.row0 + root[within] // cols) * width + tile.col0 + root[within] % cols
    out = leaving[edge]
    following[out] = (tile.row0 + to_row[edge[out]]) * width + tile.col0 + to_col[edge[out]]
    return TileLinks((tile.row0 + edge // cols) * width + tile.col0 + edge % cols, local.ravel()[edge], following, out)


def inflows(links: List[TileLinks]) -> Tuple[np.ndarray, np.ndarray]:
    """Phase 2 on the client: (perimeter cells, sorted; the flow each gets from other tiles, cells). A cell's extra
    flow beyond its local accumulation is the sum, over the perimeter cells upstream of it, of the local
    accumulations passed across a tile edge (`subtree_sums` over the forest of next pointers)."""
    cells = np.concatenate([link.cells for link in links])
    order = np.argsort(cells)
    cells = cells[order]
    local = np.concatenate([link.local for link in links])[order]
    following = np.concatenate([link.next for link in links])[order]
    across = np.concatenate([link.across for link in links])[order]
    parent = np.full(cells.size + 1, cells.size, dtype=np.int64)
    has_next = following >= 0
    parent[:-1][has_next] = np.searchsorted(cells, following[has_next])
    passed = np.where(across, local, 0.0)
    extra = subtree_sums(parent, passed) - passed
    received = np.bincount(parent[:-1][across], weights=(local + extra)[across], minlength=cells.size + 1)
    return cells, received[:-1]


def accumulation_task(directions: np.ndarray, padded: np.ndarray, entries: np.ndarray, amounts: np.ndarray,
                      sizes: np.ndarray, products, stores: Dict[str, str], row0: int, col0: int
                      ) -> Dict[str, np.ndarray]:
    """Phase 3 on a worker: the tile's accumulation (cells; NaN at nodata) with the inflows ``amounts`` added at
    their ``entries`` (flat indices in the tile), and its other products (`products_of`)."""
    weights = np.ones(directions.size)
    weights[entries] += amounts
    accumulation = d8_accumulation(directions, weights)
    accumulation[np.isnan(padded[2:-2, 2:-2])] = np.nan
    return products_of(accumulation, sizes, products, stores, row0, col0)


def products_of(accumulation: np.ndarray, sizes: np.ndarray, products, stores: Dict[str, str], row0: int,
                col0: int) -> Dict[str, np.ndarray]:
    """On a worker: the tile's ``products`` (float32): the accumulation (cells) and the specific catchment area
    (m^2/m; ``sizes``: the contour width of each row, m); those with a Zarr store in ``stores`` are written there
    and not returned."""
    out = {}
    for product in products:
        out[product] = accumulation if product == "accumulation" else accumulation * sizes[:, None]
    for product, store in stores.items():
        write_zarr_tile(store, product, out.pop(product).astype(np.float32), row0, col0)
    return {product: values.astype(np.float32) for product, values in out.items()}


class TileFlow(NamedTuple):
    """A tile's MFD between rounds: its `MfdRouting` (the tile with a ring of its neighbours' cells) and how many
    cells still pass flow into each ring cell (to tell how many passed flow in a round)."""

    routing: MfdRouting
    ring: np.ndarray
    ring_waiting: np.ndarray


class FlowMessage(NamedTuple):
    """What a tile passed into its neighbours' cells in a round: {side: amounts (cells)} and {side: how many of its
    cells passed them}, for the ring cells on that side."""

    amounts: dict
    counts: dict


def mfd_start_task(surface: np.ndarray, lx: np.ndarray, ly: np.ndarray, raster_edge: np.ndarray,
                   exponent: float) -> Tuple[TileFlow, FlowMessage]:
    """MFD's first round on a worker: the tile (``surface`` with a ring of its neighbours' cells, NaN beyond the
    raster; ``raster_edge``: which of those cells are on the raster's edge, which pass nothing on) passes on the
    flow of every cell whose inflows are all in; its cells next to neighbours' cells that will pass flow into them
    wait. ``lx``, ``ly``: cell sizes (m) of the rows with the ring."""
    ring = np.ones(surface.shape, dtype=bool)
    ring[1:-1, 1:-1] = False
    weights = np.where(ring, 0.0, 1.0)
    passing = ring & ~raster_edge
    waiting = np.zeros(surface.shape, dtype=np.int8)
    inner = surface[1:-1, 1:-1]
    for k in range(8):
        waiting[1:-1, 1:-1] += shifted(passing, k) & (shifted(surface, k) > inner)
    routing = MfdRouting(EpsilonFilledDem(surface), lx, ly, exponent, weights=weights, sinks=raster_edge & ~ring,
                         waiting=waiting)
    cells = np.flatnonzero(ring)
    flow = TileFlow(routing, cells, _still_waiting(routing, cells))
    routing.accumulate()
    return flow, _passed(flow)


def _passed(flow: TileFlow) -> FlowMessage:
    """The flow the tile passed into its ring since the last message, as a `FlowMessage`; the ring's flow is then
    emptied (in place) for the next round."""
    routing, rows, cols = flow.routing, flow.routing.shape[0] - 2, flow.routing.shape[1] - 2
    total = np.zeros(routing.shape)
    count = np.zeros(routing.shape, dtype=np.int8)
    total.reshape(-1)[flow.ring] = np.nan_to_num(routing.total[flow.ring])  # flow into nodata: none
    waiting = _still_waiting(routing, flow.ring)
    count.reshape(-1)[flow.ring] = flow.ring_waiting - waiting
    routing.total[flow.ring] = 0.0
    flow.ring_waiting[...] = waiting
    parts = {(a, b): (_side(a, rows, 0), _side(b, cols, 0)) for a, b in SIDES}
    return FlowMessage({side: total[part].copy() for side, part in parts.items()},
                       {side: count[part].copy() for side, part in parts.items()})


def _still_waiting(routing: MfdRouting, cells: np.ndarray) -> np.ndarray:
    """How many cells still pass flow into each of ``cells`` (a cell without inflow marked -1 counts 0)."""
    return np.maximum(routing.indegree[cells], 0)


def mfd_resume_task(state: Tuple[TileFlow, FlowMessage], incoming: Dict[Tuple[int, int], FlowMessage]
                    ) -> Tuple[TileFlow, FlowMessage]:
    """A later round of MFD on a worker: the flow the neighbours passed into the tile's edge cells (``incoming``:
    {side: their last `FlowMessage`}) added, and passed on from every cell that completes."""
    flow = state[0]
    routing = copy.copy(flow.routing)
    routing.total, routing.indegree = routing.total.copy(), routing.indegree.copy()
    flow = TileFlow(routing, flow.ring, flow.ring_waiting.copy())
    rows, cols = routing.shape[0] - 2, routing.shape[1] - 2
    index = np.arange(routing.total.size).reshape(routing.shape)
    cells, amounts, counts = [], [], []
    for (a, b), message in incoming.items():
        part = (_side(a, rows, 1), _side(b, cols, 1))
        cells.append(index[part].ravel())
        amounts.append(message.amounts[(-a, -b)].ravel())
        counts.append(message.counts[(-a, -b)].ravel())
    cells, amounts, counts = np.concatenate(cells), np.concatenate(amounts), np.concatenate(counts)
    unique, inverse = np.unique(cells, return_inverse=True)
    routing.receive(unique, np.bincount(inverse, weights=amounts, minlength=unique.size),
                    np.bincount(inverse, weights=counts, minlength=unique.size).astype(np.int64))
    return flow, _passed(flow)


def _side(step: int, size: int, inner: int) -> slice:
    """Rows (or columns) of a side of a tile of ``size`` padded by one (indices of the padded array): the ring's
    (``inner`` 0) or the tile's edge cells (``inner`` 1) at the start (step -1) or the end (+1), or the tile's
    whole length (0)."""
    if step < 0:
        return slice(inner, inner + 1)
    if step > 0:
        return slice(size + 1 - inner, size + 2 - inner)
    return slice(1, size + 1)


def _message(state: Tuple[TileFlow, FlowMessage]) -> FlowMessage:
    return state[1]


def _mfd_products(state: Tuple[TileFlow, FlowMessage], sizes: np.ndarray, products, stores: Dict[str, str],
                  row0: int, col0: int) -> Dict[str, np.ndarray]:
    routing = state[0].routing
    return products_of(routing.total.reshape(routing.shape)[1:-1, 1:-1], sizes, products, stores, row0, col0)


def _stage(progress: Optional[ProgressCallback], start: float, end: float) -> Optional[ProgressCallback]:
    return None if progress is None else lambda percent, text: progress(start + (end - start) * percent / 100, text)


def _wait(client, futures: dict, progress, is_cancelled, label: str) -> dict:
    """{item: future} once all ``futures`` ({future: item}) have finished."""
    return dict(finished(client, futures, progress, is_cancelled, label))


def _epsilon_surfaces(client, path: str, band: int, grid, layout: Layout, tile_shape: Tuple[int, int], progress,
                      is_cancelled) -> Tuple[dict, dict, int]:
    """Phases 1 and 2 (module notes): ({tile: future of its filled values with a halo of 2}, {tile: future of its
    epsilon-filled surface}, rounds of flat distances)."""
    require_3x3(grid.shape, "depression filling")
    check_workers_read(client, path)
    common = (path, band, grid.nodata, grid.width)
    summaries = dict(completed(client, basins_task, layout.tiles, *common, progress=_stage(progress, 0, 30),
                               is_cancelled=is_cancelled, label="tiles: basins and passes"))
    require_valid_cell(np.array([0.0 if summary.valid else np.nan for summary in summaries.values()]))
    if not all(summary.single for summary in summaries.values()):
        raise ValueError("The DEM has values float32 cannot hold exactly: its epsilon fill then refills in float64 "
                         "until every cell drains, which does not run on a cluster; run it in process")
    spills = spill_levels(list(summaries.values()), grid.shape, tile_shape)
    filled = _wait(client, {client.submit(_filled_tile, item, *common, pure=False): item[0]
                            for item in fill_items(summaries, *spills)},
                   _stage(progress, 30, 45), is_cancelled, "tiles: filled")
    del summaries, spills
    strips = {tile: client.submit(edge_pieces, future, 2, pure=False) for tile, future in filled.items()}
    padded = {tile: client.submit(with_halo, filled[tile], {side: strips[other] for side, other in
                                                           layout.neighbours(tile).items()}, 2, np.nan, pure=False)
              for tile in layout.tiles}
    del filled, strips
    cells = {tile: client.submit(flat_cells, padded[tile], pure=False) for tile in layout.tiles}
    distances, rounds = _flat_distances(client, layout, cells, _stage(progress, 45, 80), is_cancelled)
    components = {tile: client.submit(flat_components, cells[tile], pure=False) for tile in layout.tiles}
    flats = {item[0]: result for item, result in completed(
        client, _components_item, [(tile, cells[tile], components[tile], distances[tile]) for tile in layout.tiles],
        grid.width, progress=_stage(progress, 80, 90), is_cancelled=is_cancelled, label="tiles: flats")}
    tallest = tallest_of_flats([flats[tile] for tile in layout.tiles], layout)
    surfaces = _wait(client, {client.submit(surface_task, cells[tile], components[tile], distances[tile], tallest[n],
                                            pure=False): tile
                              for n, tile in enumerate(layout.tiles)}, _stage(progress, 90, 100), is_cancelled,
                     "tiles: sloped flats")
    return padded, surfaces, rounds


def distributed_epsilon_fill(client, path: str, output: str, band: int = 1,
                             tile_shape: Tuple[int, int] = DEFAULT_FLOW_TILE,
                             progress: Optional[ProgressCallback] = None,
                             is_cancelled: Optional[CancelCheck] = None) -> dict:
    """`fill_depressions(dem, epsilon=True)` of the DEM at ``path`` on the workers of ``client``, in tiles (module
    notes, phases 1 and 2): a cloud-optimised float64 GeoTIFF (nodata -9999) as subsidence:filldepressions writes.
    Refuses a Zarr output (float32 cannot hold the gradient), DEMs whose values float32 cannot hold, what the
    algorithm refuses and inputs the workers cannot read; nothing is left behind on cancel or error. Returns
    {"rounds": the rounds of flat distances}."""
    if is_zarr(output):
        raise ValueError(f"{output}: a Zarr store holds float32, which loses the epsilon gradient; write a GeoTIFF")
    grid = read_grid(path, band=band)
    layout = Layout(grid.shape, tile_shape)
    _, surfaces, rounds = _epsilon_surfaces(client, path, band, grid, layout, tile_shape, _stage(progress, 0, 90),
                                            is_cancelled)
    writer = TiledOutput(output, grid.with_nodata(NODATA), ["filled_dem"], np.float64)
    try:
        for n, tile in enumerate(layout.tiles):
            if is_cancelled is not None and is_cancelled():
                raise Cancelled()
            writer.write(surfaces.pop(tile).result(), tile.row0, tile.col0)
            if progress is not None:
                progress(90 + 10 * (n + 1) / len(layout.tiles), f"{n + 1} of {len(layout.tiles)} tiles written")
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return {"rounds": rounds}


def distributed_flow_accumulation(client, path: str, outputs: Dict[str, str], band: int = 1,
                                  tile_shape: Tuple[int, int] = DEFAULT_FLOW_TILE, method: str = "d8",
                                  exponent: float = 1.1, progress: Optional[ProgressCallback] = None,
                                  is_cancelled: Optional[CancelCheck] = None) -> dict:
    """Flow accumulation (cells) and specific catchment area (m^2/m) of the DEM at ``path`` as
    subsidence:flowaccumulation computes them, on the workers of ``client`` in tiles (see the module notes):
    ``method`` "d8" (equal cell for cell) or "mfd" (Freeman 1991 with ``exponent``; equal to the in-process result
    but for the order of its floating-point sums). ``outputs`` maps "accumulation" and / or "sca" to output files:
    cloud-optimised float32 GeoTIFFs written here, or Zarr stores (paths ending in .zarr) the workers write. Refuses
    what the algorithm refuses, DEMs whose values float32 cannot hold and inputs the workers cannot read; nothing is
    left behind on cancel or error. Returns {"rounds": the rounds of flat distances, "flow rounds": MFD's rounds}."""
    unknown = set(outputs) - set(PRODUCTS)
    if unknown or not outputs:
        raise ValueError(f"Choose outputs among {list(PRODUCTS)}, got {sorted(outputs)}")
    if method not in ("mfd", "d8"):
        raise ValueError(f"Unknown flow method {method!r}: use 'mfd' or 'd8'")
    grid = read_grid(path, band=band)
    require_3x3(grid.shape, "flow routing, TWI and SPI")
    lx, ly = metric_cell_sizes(grid, np.arange(grid.height))
    layout = Layout(grid.shape, tile_shape)
    padded, surfaces, rounds = _epsilon_surfaces(client, path, band, grid, layout, tile_shape,
                                                 _stage(progress, 0, 55), is_cancelled)
    edges = {tile: client.submit(_surface_edges, future, pure=False) for tile, future in surfaces.items()}
    neighbours = {tile: {side: edges[other] for side, other in layout.neighbours(tile).items()}
                  for tile in layout.tiles}
    contour = np.sqrt(lx * ly)
    if method == "mfd":
        with_ring = {tile: client.submit(with_halo, surfaces[tile], neighbours[tile], 1, np.nan, pure=False)
                     for tile in layout.tiles}
        del surfaces, edges, padded
        rows = {tile: np.clip(np.arange(tile.row0 - 1, tile.row0 + tile.rows + 1), 0, grid.height - 1)
                for tile in layout.tiles}
        flows, flow_rounds = _mfd_rounds(client, layout, {
            tile: (with_ring[tile], lx[rows[tile]], ly[rows[tile]], _raster_edge_cells(tile, grid.shape), exponent)
            for tile in layout.tiles}, _stage(progress, 55, 85), is_cancelled)
        del with_ring
        _write_products(client, grid, layout, outputs, tile_shape, lambda tile, stores: client.submit(
            _mfd_products, flows[tile], contour[tile.row0:tile.row0 + tile.rows], list(outputs), stores, tile.row0,
            tile.col0, pure=False), _stage(progress, 85, 100), is_cancelled)
        return {"rounds": rounds, "flow rounds": flow_rounds}
    directions = _wait(client, {client.submit(
        directions_task, surfaces[tile], neighbours[tile], lx[tile.row0:tile.row0 + tile.rows],
        ly[tile.row0:tile.row0 + tile.rows], _raster_edges(tile), pure=False): tile for tile in layout.tiles},
        _stage(progress, 55, 65), is_cancelled, "tiles: directions")
    del surfaces, edges, neighbours
    links = {item[0]: result for item, result in completed(
        client, _links_item, [(tile, directions[tile]) for tile in layout.tiles], grid.width,
        progress=_stage(progress, 65, 80), is_cancelled=is_cancelled, label="tiles: local flow")}
    cells, received = inflows([links[tile] for tile in layout.tiles])
    del links
    entering = np.flatnonzero(received)
    row, col = np.divmod(cells[entering], grid.width)
    owner = layout.tile_index(row, col)
    number = {tile: n for n, tile in enumerate(layout.tiles)}

    def accumulate(tile, stores):
        mine = owner == number[tile]
        entries = (row[mine] - tile.row0) * tile.cols + col[mine] - tile.col0
        return client.submit(accumulation_task, directions[tile], padded[tile], entries, received[entering[mine]],
                             contour[tile.row0:tile.row0 + tile.rows], list(outputs), stores, tile.row0, tile.col0,
                             pure=False)
    _write_products(client, grid, layout, outputs, tile_shape, accumulate, _stage(progress, 80, 100), is_cancelled)
    return {"rounds": rounds, "flow rounds": 1}


def _mfd_rounds(client, layout: Layout, arguments: dict, progress, is_cancelled) -> Tuple[dict, int]:
    """MFD in rounds (TauDEM's exchange between partitions): every tile passes on the flow of its cells whose inflows
    are all in; then the tiles that were passed flow add it and go on, until no tile passes any. Each cell is passed
    on once. Returns ({tile: future of its final state}, rounds)."""
    states = _wait(client, {client.submit(mfd_start_task, *arguments[tile], pure=False): tile
                            for tile in layout.tiles}, progress, is_cancelled, "tiles: flow")
    messages = dict(zip(states, client.gather([client.submit(_message, states[tile], pure=False)
                                               for tile in states])))
    rounds = 1
    while True:
        run = {}
        for tile in layout.tiles:
            incoming = {side: messages[other] for side, other in layout.neighbours(tile).items()
                        if other in messages and messages[other].counts[(-side[0], -side[1])].any()}
            if incoming:
                run[tile] = incoming
        if not run:
            return states, rounds
        rounds += 1
        done = _wait(client, {client.submit(mfd_resume_task, states[tile], incoming, pure=False): tile
                              for tile, incoming in run.items()}, None, is_cancelled, "tiles: flow")
        states.update(done)
        messages = dict(zip(done, client.gather([client.submit(_message, done[tile], pure=False) for tile in done])))


def _raster_edge_cells(tile: Tile, shape: Tuple[int, int]) -> np.ndarray:
    """Which cells of the tile with a ring around it are on the raster's edge (bool, the padded shape)."""
    rows = np.arange(tile.row0 - 1, tile.row0 + tile.rows + 1)
    cols = np.arange(tile.col0 - 1, tile.col0 + tile.cols + 1)
    return ((rows == 0) | (rows == shape[0] - 1))[:, None] | ((cols == 0) | (cols == shape[1] - 1))[None, :]


def _raster_edges(tile: Tile) -> Tuple[bool, bool, bool, bool]:
    """Whether the tile's top, bottom, left and right sides are the raster's."""
    return tile.halo_top == 0, tile.halo_bottom == 0, tile.halo_left == 0, tile.halo_right == 0


def _components_item(item, width: int) -> TileFlats:
    tile, cells, components, distances = item
    return components_task(cells, components, distances, tile, width)


def _links_item(item, width: int) -> TileLinks:
    tile, directions = item
    return links_task(directions, tile, width)


def _flat_distances(client, layout: Layout, cells: dict, progress, is_cancelled) -> Tuple[dict, int]:
    """Rounds until the flats' distances agree across the tile edges: ({tile: future of its last (d_low, d_high)},
    rounds). Every tile runs `distance_task` once; then every tile whose neighbours' distances facing it changed
    since its last run (none yet counts as all `FAR`) runs again from its previous distances, until none changed."""
    pieces: Dict[Tile, tuple] = {}
    read: Dict[Tile, dict] = {}
    results = {}
    run, rounds = list(layout.tiles), 0
    while run:
        rounds += 1
        futures = {}
        for tile in run:
            ring = {side: pieces[other] for side, other in layout.neighbours(tile).items() if other in pieces}
            read[tile] = {side: _facing(ring[side], side) for side in ring}
            futures[client.submit(distance_task, cells[tile], results.get(tile),
                                  {side: parts[0] for side, parts in ring.items()},
                                  {side: parts[1] for side, parts in ring.items()}, pure=False)] = tile
        done = _wait(client, futures, progress if rounds == 1 else None, is_cancelled, "tiles: flat distances")
        results.update(done)
        pieces.update(zip(done, client.gather([client.submit(_distance_edges, done[tile], pure=False)
                                               for tile in done])))
        run = [tile for tile in layout.tiles if _ring_changed(tile, layout, pieces, read[tile])]
    return results, rounds


def _facing(pieces: tuple, side: Tuple[int, int]) -> tuple:
    """The (d_low, d_high) edge pieces of a neighbour on ``side`` that face the tile."""
    return tuple(kind[(-side[0], -side[1])] for kind in pieces)


def _ring_changed(tile: Tile, layout: Layout, pieces: dict, read: dict) -> bool:
    """Whether the neighbours' distances facing the tile differ from those its last run read (none read: all
    `FAR`)."""
    for side, other in layout.neighbours(tile).items():
        now = _facing(pieces[other], side)
        before = read.get(side)
        if before is None:
            if any(np.any(part != FAR) for part in now):
                return True
        elif any(not np.array_equal(a, b) for a, b in zip(before, now)):
            return True
    return False


def _write_products(client, grid, layout: Layout, outputs: Dict[str, str], tile_shape, submit, progress,
                    is_cancelled) -> None:
    """The last phase: ``submit(tile, stores)`` gives the future of every tile's products (`products_of`), written
    into the outputs here (GeoTIFF) or by the workers (Zarr ``stores``)."""
    writers = {}
    try:
        for product, output in outputs.items():
            writers[product] = ZarrOutput(output, grid, [product], tile_shape) if is_zarr(output) else \
                TiledOutput(output, grid.with_nodata(NODATA), [BAND_NAMES[product]])
        stores = {product: writer.store for product, writer in writers.items() if isinstance(writer, ZarrOutput)}
        for store in stores.values():
            check_workers_read(client, store, raster=False)
        futures = {submit(tile, stores): tile for tile in layout.tiles}
        for tile, future in finished(client, futures, progress, is_cancelled, "tiles: accumulated"):
            for product, values in future.result().items():
                writers[product].write(values, tile.row0, tile.col0)
        for writer in writers.values():
            writer.close()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
