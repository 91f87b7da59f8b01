"""The InSAR subsidence inventory of seed 002 on the factor grid: subsiding and stable cells by sign-aware
thresholds (mm/yr, negative = subsidence), with a stratified random and a spatially blocked test split."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

import numpy as np

from ..io.grid import RasterGrid
from ..stats.splits import blocked_test_split, stratified_test_split

DIRECTIONS = ("subsidence", "uplift", "both")
MIN_CLASS_CELLS = 10


@dataclass
class Inventory:
    """Inventory cells on the factor grid: subsiding (1) or stable (0), and the two splits."""

    rows: np.ndarray
    cols: np.ndarray
    x: np.ndarray
    y: np.ndarray
    label: np.ndarray
    velocity: np.ndarray
    points: np.ndarray
    random_test: np.ndarray
    block_test: np.ndarray
    excluded: Dict[str, int]
    settings: dict

    def __len__(self) -> int:
        return len(self.label)


def subsiding_flags(velocity: np.ndarray, threshold: float, direction: str) -> np.ndarray:
    """True where the velocity (mm/yr, negative = subsidence) passes ``threshold`` (> 0) in ``direction``."""
    if direction == "subsidence":
        return velocity <= -threshold
    if direction == "uplift":
        return velocity >= threshold
    if direction == "both":
        return np.abs(velocity) >= threshold
    raise ValueError(f"Unknown direction {direction!r}; use one of {', '.join(DIRECTIONS)}")


def build_inventory(x: np.ndarray, y: np.ndarray, velocity: np.ndarray, grid: RasterGrid, valid: np.ndarray,
                    threshold: float = 10.0, stable_threshold: float = 2.0, direction: str = "subsidence",
                    test_share: float = 0.3, block_size: float = 0.0, seed: int = 0) -> Inventory:
    """Inventory cells from InSAR points (x, y in the grid's CRS, velocity in mm/yr).

    ``valid`` (rows, cols) marks the cells where every factor has a value. ``block_size`` (m) of the blocked
    split defaults to a fifth of the shorter side of the grid.
    """
    if threshold <= 0:
        raise ValueError("The subsidence threshold must be a positive rate in mm/yr")
    if not 0 <= stable_threshold < threshold:
        raise ValueError("The stable threshold must be at least 0 and below the subsidence threshold")
    if not 0 < test_share < 1:
        raise ValueError("The test share must lie between 0 and 1")
    velocity = np.asarray(velocity, dtype=np.float64)
    finite = np.isfinite(velocity)
    rows, cols, inside = grid.cell_of(x, y)
    on_valid = np.zeros(len(velocity), dtype=bool)
    on_valid[inside] = valid[rows[inside], cols[inside]]
    use = finite & on_valid
    excluded = {"no_value": int((~finite).sum()), "outside": int((finite & ~inside).sum()),
                "nodata": int((finite & inside & ~on_valid).sum())}
    if not use.any():
        raise ValueError("No point with a velocity lies on a valid cell of the factor stack")
    cell = rows[use].astype(np.int64) * grid.width + cols[use]
    cells, inverse, counts = np.unique(cell, return_inverse=True, return_counts=True)
    mean_v = np.bincount(inverse, weights=velocity[use]) / counts
    positive = subsiding_flags(mean_v, threshold, direction)
    stable = np.abs(mean_v) <= stable_threshold
    keep = positive | stable
    excluded["between_thresholds_cells"] = int((~keep).sum())
    n_pos, n_neg = int(positive.sum()), int(stable.sum())
    if n_pos == 0 or n_neg == 0:
        which = "subsiding" if n_pos == 0 else "stable"
        raise ValueError(f"The inventory has only one class: no {which} cell at threshold {threshold:g} mm/yr "
                         f"(stable: |v| <= {stable_threshold:g} mm/yr). Adjust the thresholds.")
    if min(n_pos, n_neg) < MIN_CLASS_CELLS:
        raise ValueError(f"Too few inventory cells: {n_pos} subsiding and {n_neg} stable (at least "
                         f"{MIN_CLASS_CELLS} of each are needed). Lower the subsidence threshold "
                         f"({threshold:g} mm/yr) or raise the stable one ({stable_threshold:g} mm/yr).")
    cells, label, mean_v, counts = cells[keep], positive[keep].astype(np.uint8), mean_v[keep], counts[keep]
    r, c = cells // grid.width, cells % grid.width
    cx, cy = grid.cell_centres(r, c)
    random_test = stratified_test_split(label, test_share, seed)
    size = block_size or min(grid.width * grid.dx, grid.height * grid.dy) / 5.0
    block_test = blocked_test_split(cx, cy, label, size, test_share, seed)
    settings = {"threshold_mm_yr": threshold, "stable_threshold_mm_yr": stable_threshold, "direction": direction,
                "test_share": test_share, "block_size_m": size, "seed": seed}
    return Inventory(r, c, cx, cy, label, mean_v, counts, random_test, block_test, excluded, settings)
