"""Tiles of a raster with a halo: the cells a kernel reads around the cells it computes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple


@dataclass(frozen=True)
class Tile:
    """Cells [row0, row0 + rows) x [col0, col0 + cols) of a raster and the halo read around them (cells; 0 where
    the tile touches the raster's edge or the halo would leave it)."""

    row0: int
    col0: int
    rows: int
    cols: int
    halo_top: int
    halo_bottom: int
    halo_left: int
    halo_right: int

    @property
    def window(self) -> Tuple[int, int, int, int]:
        """(row0, col0, rows, cols) of the tile with its halo."""
        return (self.row0 - self.halo_top, self.col0 - self.halo_left, self.rows + self.halo_top + self.halo_bottom,
                self.cols + self.halo_left + self.halo_right)


def plan_tiles(shape: Tuple[int, int], tile_shape: Tuple[int, int], halo: int) -> List[Tile]:
    """Tiles of ``tile_shape`` (the last row and column of tiles smaller) covering a raster of ``shape`` (rows,
    cols), each with up to ``halo`` cells on every side inside the raster, in row-major order."""
    height, width = shape
    tile_rows, tile_cols = tile_shape
    if tile_rows < 1 or tile_cols < 1:
        raise ValueError(f"Tiles need at least one row and column, got {tile_rows} x {tile_cols}")
    tiles = []
    for row0 in range(0, height, tile_rows):
        rows = min(tile_rows, height - row0)
        for col0 in range(0, width, tile_cols):
            cols = min(tile_cols, width - col0)
            tiles.append(Tile(row0, col0, rows, cols, min(halo, row0), min(halo, height - row0 - rows),
                              min(halo, col0), min(halo, width - col0 - cols)))
    return tiles
