"""Exact depression filling (`core.terrain.fill.fill_depressions`, ``epsilon=False``) on a Dask cluster, in tiles:
Barnes (2016)'s three phases in the core's basins -> passes -> spanning tree -> spill levels form, equal to the
in-process fill cell for cell.

In process every valid cell points to its lowest neighbour or to itself (ties broken in one fixed order); the cells
reaching one minimum make a basin; touching basins join at their lowest pass, max(z_u, z_v) over neighbouring cells,
and cells on the raster's edge or next to nodata join an OUTSIDE node at their own height; a basin's spill level is
its minimax level to OUTSIDE (the highest edge of its path in the minimum spanning tree); filled = max(z, spill).

1. Per tile (read with a one-cell halo, so every pointer is the global one): cells labelled by their local root, a
   cell pointing to itself or an *exit* pointing into another tile. Terminals are the labels with a cell on the
   tile's perimeter: the exits, and every label an exit of another tile points into. The tile's graph (passes
   between its labels, OUTSIDE edges) is reduced to its terminals and OUTSIDE (`terminal_graph`), which keeps their
   minimax levels to one another.
2. On the client: each exit is one node with the label it points into; the pieces of a basin split across tiles
   chain through exits to the piece holding its minimum, so this joins exactly the basins. Passes across tile edges
   join perimeter cells of neighbouring tiles. A path of the in-process basin graph splits at terminals and OUTSIDE
   into pieces inside one tile, whose minimax levels the reduced graphs keep, and cross-tile passes: the minimax
   level of every terminal to OUTSIDE in the graph of all reduced tiles (`spill_levels`) is its basin's spill level.
3. Per tile again: the tile's graph plus an edge (terminal t, OUTSIDE) at spill(t) gives every label its spill
   level (`fill_task`): a path from a label to OUTSIDE stays in the tile's labels or leaves them first through a
   terminal t, from which no path does better than spill(t), the level of that edge.

Levels stay the DEM's own values (ranked exactly for the spanning trees, `exact_ranks`), so the filled raster equals the
in-process one with np.array_equal. The output is a float64 GeoTIFF with nodata -9999 like subsidence:filldepressions
writes (cloud-optimised), or a float32 Zarr store the workers write when the DEM's values are float32 numbers.
"""
from __future__ import annotations

from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import breadth_first_order, connected_components, minimum_spanning_tree

from ..core.io.rasters import NODATA, read_grid, read_window, valid_mask
from ..core.progress import CancelCheck, ProgressCallback
from ..core.terrain.fill import basin_passes, exact_ranks, highest_on_paths, lowest_per_key, pointer_roots
from ..core.terrain.neighbours import DIRECTION_COLS, DIRECTION_ROWS, require_3x3, require_valid_cell, shifted
from .cluster import check_workers_read, completed
from .outputs import TiledOutput, ZarrOutput, is_zarr, write_zarr_tile
from .tiles import Tile, plan_tiles

DEFAULT_FILL_TILE = (1024, 1024)
BAND_NAME = "filled_dem"
OUTSIDE = -1  # the outside's id in the graph of all tiles; labels are named by their root cell's index (>= 0)
_STEP_ROWS = np.append(DIRECTION_ROWS, 0)  # direction -1: the cell itself
_STEP_COLS = np.append(DIRECTION_COLS, 0)


class TileBasins(NamedTuple):
    """Phase 1's summary of a tile: its graph reduced to terminals (edges ``first``-``second`` at ``levels``, ids of
    root cells or `OUTSIDE`), its exits (cells) and the cells they point to (``targets``), and its valid perimeter
    cells (flat indices, sorted) with their heights and labels' ids; ``valid``: whether it has a valid cell;
    ``single``: whether its values are float32 numbers."""

    first: np.ndarray
    second: np.ndarray
    levels: np.ndarray
    exits: np.ndarray
    targets: np.ndarray
    cells: np.ndarray
    heights: np.ndarray
    ids: np.ndarray
    valid: bool
    single: bool


def _read_tile(tile: Tile, path: str, band: int, nodata: Optional[float]) -> np.ndarray:
    """The tile and a ring of one cell around it as the in-process fill sees the DEM: floats as stored, integers as
    float64, NaN at nodata and beyond the raster's edges."""
    values = read_window(path, *tile.window, band=band)
    z = values.astype(values.dtype if np.issubdtype(values.dtype, np.floating) else np.float64)
    z[~valid_mask(values, nodata)] = np.nan
    padded = np.full((tile.rows + 2, tile.cols + 2), np.nan, dtype=z.dtype)
    padded[1 - tile.halo_top:tile.rows + 1 + tile.halo_bottom, 1 - tile.halo_left:tile.cols + 1 + tile.halo_right] = z
    return padded


def perimeter_mask(shape: Tuple[int, int]) -> np.ndarray:
    """True on the first and last rows and columns."""
    perimeter = np.zeros(shape, dtype=bool)
    perimeter[[0, -1], :] = perimeter[:, [0, -1]] = True
    return perimeter


def _tile_labels(z: np.ndarray, tile: Tile, width: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels of the tile's cells, -1 at nodata; each label's root cell and the cell it points to, -1 for a minimum,
    as flat indices of the raster ``width`` cells wide) from the padded tile ``z``. Pointers as in `_basins`: the
    lowest neighbour or the cell itself, the first in the order of their offsets on the raster."""
    rows, cols = tile.rows, tile.cols
    offsets = DIRECTION_ROWS * width + DIRECTION_COLS
    order = [k for _, k in sorted([(int(offsets[k]), k) for k in range(8)] + [(0, -1)])]
    centre = z[1:-1, 1:-1]
    best = np.full(centre.shape, np.inf, dtype=z.dtype)
    direction = np.full(centre.shape, -1, dtype=np.int8)
    lower = np.empty(centre.shape, dtype=bool)
    for k in order:
        np.less(centre if k < 0 else shifted(z, k), best, out=lower)
        np.copyto(best, centre if k < 0 else shifted(z, k), where=lower)
        np.copyto(direction, k, where=lower)
    direction = direction.ravel()
    cells = np.arange(rows * cols, dtype=np.int64)
    parent = cells + (_STEP_ROWS * cols + _STEP_COLS)[direction]
    edge = np.flatnonzero(perimeter_mask(centre.shape))  # only these may point out of the tile
    to_row, to_col = edge // cols + _STEP_ROWS[direction[edge]], edge % cols + _STEP_COLS[direction[edge]]
    leaving = (to_row < 0) | (to_row >= rows) | (to_col < 0) | (to_col >= cols)
    parent[edge[leaving]] = edge[leaving]
    valid = ~np.isnan(centre).ravel()
    roots = np.flatnonzero((parent == cells) & valid)
    pointer_roots(parent)
    label_of = np.full(cells.size, -1, dtype=np.int64)
    label_of[roots] = np.arange(roots.size)
    labels = np.where(valid, label_of[parent], -1).reshape(centre.shape)
    targets = np.full(cells.size, -1, dtype=np.int64)
    targets[edge[leaving]] = (tile.row0 + to_row[leaving]) * width + tile.col0 + to_col[leaving]
    return labels, (tile.row0 + roots // cols) * width + tile.col0 + roots % cols, targets[roots]


def _tile_graph(z: np.ndarray, labels: np.ndarray, count: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tile's passes between its ``count`` labels and their OUTSIDE edges (node ``count``), by the in-process
    `basin_passes` over the padded tile: its valid halo cells form one more node, whose edges are dropped."""
    padded = np.where(np.isnan(z), -1, count)
    padded[1:-1, 1:-1] = labels
    keys, levels = basin_passes(z, padded, count + 1)
    first, second = np.divmod(keys, count + 2)
    inner = (first != count) & (second != count)
    return first[inner], np.minimum(second[inner], count), levels[inner]


def _graph(first: np.ndarray, second: np.ndarray, levels: np.ndarray, nodes: int):
    """A CSR matrix of positive ranks (`exact_ranks`) with one edge for each pair of distinct nodes joined, at the
    lowest of its levels, and the function mapping ranks back to levels."""
    low, high = np.minimum(first, second).astype(np.int64), np.maximum(first, second).astype(np.int64)
    apart = low != high
    keys, levels = lowest_per_key(low[apart] * nodes + high[apart], levels[apart], presorted=False)
    level_of, rank = exact_ranks(levels)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(keys // nodes, minlength=nodes))])
    return sparse.csr_matrix((rank, keys % nodes, indptr), shape=(nodes, nodes)), level_of


def _minimax_levels(first: np.ndarray, second: np.ndarray, levels: np.ndarray, nodes: int, source: int) -> np.ndarray:
    """Every node's minimax level to ``source``: the highest edge of its path in the minimum spanning tree."""
    graph, level_of = _graph(first, second, levels, nodes)
    return level_of(highest_on_paths(minimum_spanning_tree(graph).tocoo(), source))


def subtree_sums(parent: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The sum of ``values`` over every node's subtree in a forest of ``parent`` pointers whose roots point to an
    extra last node (which points to itself): (I + P)(I + P^2)(I + P^4)... by pointer doubling."""
    total = np.append(values, 0).astype(np.float64)
    up = parent.copy()
    while np.any(up[:-1] != up.size - 1):
        total += np.bincount(up, weights=total, minlength=up.size)
        up = up[up]
    return total[:-1]


def terminal_graph(first: np.ndarray, second: np.ndarray, levels: np.ndarray, terminal: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A graph on ``terminal.size`` nodes (edges ``first``-``second`` at ``levels``) reduced to its ``terminal`` nodes
    and the branch points between them: the edges of its minimum spanning forest without the branches that reach no
    terminal, each chain of other nodes of degree 2 replaced by one edge at the chain's highest level. Minimax levels
    between terminals (the highest edge of their path in the forest) stay the same, and fewer than 2 x terminals
    nodes keep edges (the branch points are fewer than the leaves, all terminals)."""
    nodes = terminal.size
    if not levels.size:
        return first, second, levels
    graph, level_of = _graph(first, second, levels, nodes)
    tree = minimum_spanning_tree(graph).tocoo()
    count, component = connected_components(tree, directed=False)
    top = np.full(count, -1)
    terminals = np.flatnonzero(terminal)
    top[component[terminals]] = terminals  # a terminal of each component (where it has one) as its root
    top = top[top >= 0]
    row, col = np.concatenate([tree.row, np.full(top.size, nodes)]), np.concatenate([tree.col, top])
    rooted = sparse.coo_matrix((np.concatenate([tree.data, np.ones(top.size)]), (row, col)), shape=(nodes + 1,) * 2)
    _, parent = breadth_first_order(rooted.tocsr(), nodes, directed=False, return_predecessors=True)
    parent[parent < 0] = nodes  # roots, components without a terminal and the extra node point to the extra node
    child = np.where(parent[tree.col] == tree.row, tree.col, tree.row)
    high = np.zeros(nodes)
    high[child] = tree.data
    needed = subtree_sums(parent, terminal) > 0  # on a path between terminals: a terminal in its subtree
    branches = np.bincount(parent[:nodes][needed], minlength=nodes + 1)[:nodes]
    keep = needed & (terminal | (branches >= 2))
    chain = np.append(needed & ~keep, False)
    up = parent[:nodes].astype(np.int64)
    hop = needed & chain[up]
    while hop.any():  # pointer doubling along the chains, carrying their highest edge
        index = np.flatnonzero(hop)
        high[index] = np.maximum(high[index], high[up[index]])
        up[index] = up[up[index]]
        hop = needed & chain[up]
    kept = np.flatnonzero(keep & (parent[:nodes] != nodes))
    return kept, up[kept], level_of(high[kept])


def basins_task(tile: Tile, path: str, band: int, nodata: Optional[float], width: int) -> TileBasins:
    """Phase 1 on a worker: the tile's `TileBasins`."""
    z = _read_tile(tile, path, band, nodata)
    labels, roots, targets = _tile_labels(z, tile, width)
    count = roots.size
    perimeter = perimeter_mask(labels.shape) & (labels >= 0)
    terminal = np.zeros(count + 1, dtype=bool)
    terminal[labels[perimeter]] = terminal[count] = True
    first, second, levels = terminal_graph(*_tile_graph(z, labels, count), terminal)
    ids = np.append(roots, OUTSIDE)
    row, col = np.nonzero(perimeter)
    exits = targets >= 0
    return TileBasins(ids[first], ids[second], levels, roots[exits], targets[exits],
                      (tile.row0 + row) * width + tile.col0 + col, z[1:-1, 1:-1][perimeter], roots[labels[perimeter]],
                      count > 0, np.array_equal(z.astype(np.float32), z, equal_nan=True))


def spill_levels(summaries: List[TileBasins], shape: Tuple[int, int], tile_shape: Tuple[int, int]
                 ) -> Tuple[np.ndarray, np.ndarray]:
    """Phase 2 on the client: (every terminal's id, sorted; its spill level) from all tiles' `TileBasins`."""
    height, width = shape
    cells = np.concatenate([s.cells for s in summaries])
    order = np.argsort(cells)
    cells = cells[order]
    heights = np.concatenate([s.heights for s in summaries])[order]
    ids = np.concatenate([s.ids for s in summaries])[order]
    if not ids.size:  # no valid cell on a tile's edge: no terminals
        return ids, heights
    first, second = [s.first for s in summaries], [s.second for s in summaries]
    levels = [s.levels for s in summaries]
    row, col = np.divmod(cells, width)
    tile_row, tile_col = row // tile_shape[0], col // tile_shape[1]
    for dr, dc in ((0, 1), (1, 1), (1, 0), (1, -1)):  # every pair of neighbours once
        to_row, to_col = row + dr, col + dc
        other = np.minimum(np.searchsorted(cells, to_row * width + to_col), cells.size - 1)
        across = ((to_row < height) & (to_col >= 0) & (to_col < width) & (cells[other] == to_row * width + to_col)
                  & ((to_row // tile_shape[0] != tile_row) | (to_col // tile_shape[1] != tile_col)))
        first.append(ids[across])
        second.append(ids[other[across]])
        levels.append(np.maximum(heights[across], heights[other[across]]))
    exits = np.concatenate([s.exits for s in summaries])
    into = ids[np.searchsorted(cells, np.concatenate([s.targets for s in summaries]))]
    first, second = np.concatenate(first), np.concatenate(second)
    nodes = np.unique(np.concatenate([first, second, ids, [OUTSIDE]]))
    joined = sparse.coo_matrix((np.ones(exits.size), (np.searchsorted(nodes, exits), np.searchsorted(nodes, into))),
                               shape=(nodes.size, nodes.size))
    count, basin = connected_components(joined, directed=False)
    level = _minimax_levels(basin[np.searchsorted(nodes, first)], basin[np.searchsorted(nodes, second)],
                            np.concatenate(levels), count, basin[np.searchsorted(nodes, OUTSIDE)])
    terminals = np.unique(ids)
    return terminals, level[basin[np.searchsorted(nodes, terminals)]]


def fill_task(item: Tuple[Tile, np.ndarray, np.ndarray], path: str, band: int, nodata: Optional[float], width: int,
              store: str) -> Optional[np.ndarray]:
    """Phase 3 on a worker: the filled tile of ``item`` (the tile, its terminals' ids and spill levels), written into
    the Zarr ``store`` when there is one, else returned."""
    tile, terminals, spills = item
    z = _read_tile(tile, path, band, nodata)
    labels, roots, _ = _tile_labels(z, tile, width)
    count = roots.size
    filled = z[1:-1, 1:-1]
    if count:
        first, second, levels = _tile_graph(z, labels, count)
        local = np.searchsorted(roots, terminals)
        level = _minimax_levels(np.concatenate([first, local]), np.concatenate([second, np.full(local.size, count)]),
                                np.concatenate([levels, spills]), count + 1, count)
        filled = np.maximum(filled, level[labels])  # NaN (label -1) stays NaN
    if store:
        write_zarr_tile(store, BAND_NAME, filled, tile.row0, tile.col0)
        return None
    return filled


def fill_items(summaries: Dict[Tile, TileBasins], terminals: np.ndarray, levels: np.ndarray) -> Iterator[tuple]:
    """(tile, its terminals' ids, their spill levels) for every tile."""
    for tile, summary in summaries.items():
        own = np.unique(summary.ids)
        yield tile, own, levels[np.searchsorted(terminals, own)]


def _half(progress: Optional[ProgressCallback], start: float) -> Optional[ProgressCallback]:
    """``progress`` of one of the two worker phases: half of the bar from ``start`` (%)."""
    return None if progress is None else lambda percent, text: progress(start + percent / 2, text)


def distributed_fill(client, path: str, output: str, band: int = 1, tile_shape: Tuple[int, int] = DEFAULT_FILL_TILE,
                     progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None) -> str:
    """`fill_depressions(dem)` (exact, no epsilon gradient) of the DEM at ``path`` on the workers of ``client``, in
    tiles (see the module notes): a cloud-optimised float64 GeoTIFF (nodata -9999) as subsidence:filldepressions
    writes, or for a path ending in .zarr a float32 Zarr store the workers write (refused for a DEM whose values
    float32 cannot hold). Refuses what the algorithm refuses (no CRS, under 3 x 3 cells, no valid cell) and inputs
    the workers cannot read; nothing is left behind on cancel or error. Returns ``output``."""
    grid = read_grid(path, band=band)
    require_3x3(grid.shape, "depression filling")
    check_workers_read(client, path)
    tiles = plan_tiles(grid.shape, tile_shape, 1)
    common = (path, band, grid.nodata, grid.width)
    summaries = dict(completed(client, basins_task, tiles, *common, progress=_half(progress, 0.0),
                               is_cancelled=is_cancelled, label="tiles: basins and passes"))
    # one value a tile, NaN where it has no valid cell: refused as in process when every tile is empty
    require_valid_cell(np.array([0.0 if summary.valid else np.nan for summary in summaries.values()]))
    zarr = is_zarr(output)
    if zarr and not all(summary.single for summary in summaries.values()):
        raise ValueError(f"{output}: a Zarr store holds float32 and this DEM has values float32 cannot hold exactly; "
                         "write a GeoTIFF")
    items = list(fill_items(summaries, *spill_levels(list(summaries.values()), grid.shape, tile_shape)))
    writer = None
    try:
        writer = ZarrOutput(output, grid, [BAND_NAME], tile_shape) if zarr else \
            TiledOutput(output, grid.with_nodata(NODATA), [BAND_NAME], np.float64)
        store = writer.store if zarr else ""
        if store:
            check_workers_read(client, store, raster=False)
        for (tile, _, _), filled in completed(client, fill_task, items, *common, store,
                                              progress=_half(progress, 50.0), is_cancelled=is_cancelled,
                                              label="tiles: filled"):
            if filled is not None:
                writer.write(filled, tile.row0, tile.col0)
        return writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
