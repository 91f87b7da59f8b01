"""Splits of samples into training / validation / test parts: seeded random (seed 000: 80/10/10),
stratified by class (seed 002: 70/30) and spatially blocked (whole square blocks, folds, low-density gaps)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def stratified_test_split(label: np.ndarray, test_share: float = 0.3, seed: int = 0) -> np.ndarray:
    """True for the test part: ``test_share`` of each class drawn at random (seed 002: 70 / 30)."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(label), dtype=bool)
    for value in np.unique(label):
        members = np.flatnonzero(label == value)
        take = int(round(test_share * len(members)))
        test[rng.permutation(members)[:take]] = True
    return test


def blocked_test_split(x: np.ndarray, y: np.ndarray, label: np.ndarray, block_size: float,
                       test_share: float = 0.3, seed: int = 0, attempts: int = 200) -> np.ndarray:
    """True for the test part: whole square blocks (side ``block_size``) drawn at random until about
    ``test_share`` of the cells, so test cells have no training neighbour inside their block; both parts must
    hold both classes."""
    blocks = block_ids(x, y, block_size)
    unique, inverse = np.unique(blocks, return_inverse=True)
    if len(unique) < 2:
        raise ValueError(f"Blocks of {block_size:g} m hold the whole inventory; use smaller blocks")
    pos = np.bincount(inverse, weights=label, minlength=len(unique))
    total = np.bincount(inverse, minlength=len(unique)).astype(np.float64)
    rng = np.random.default_rng(seed)
    for _ in range(attempts):
        order = rng.permutation(len(unique))
        taken = order[:int(np.searchsorted(np.cumsum(total[order]), test_share * len(label)) + 1)]
        chosen = np.zeros(len(unique), dtype=bool)
        chosen[taken] = True
        test_pos, test_all = pos[chosen].sum(), total[chosen].sum()
        if 0 < test_pos < test_all and 0 < pos[~chosen].sum() < total[~chosen].sum():
            return chosen[inverse]
    raise ValueError(f"No blocked split of blocks of {block_size:g} m puts both classes into both parts; "
                     "use smaller blocks")


def block_ids(x: np.ndarray, y: np.ndarray, block_size: float) -> np.ndarray:
    """Index of the square block (side ``block_size``, from the points' lower-left corner) of each point."""
    if block_size <= 0:
        raise ValueError("The block size must be positive")
    bx = np.floor((x - x.min()) / block_size).astype(np.int64)
    by = np.floor((y - y.min()) / block_size).astype(np.int64)
    return by * (bx.max() + 1) + bx


def spatial_folds(x: np.ndarray, y: np.ndarray, block_size: float, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number (0..folds-1) of every point: whole blocks are dealt to folds at random."""
    blocks = block_ids(x, y, block_size)
    unique, inverse = np.unique(blocks, return_inverse=True)
    if len(unique) < folds:
        raise ValueError(f"Only {len(unique)} blocks of {block_size:g} m hold points; use smaller blocks or fewer "
                         f"folds than {folds}")
    fold_of_block = np.random.default_rng(seed).permutation(len(unique)) % folds
    return fold_of_block[inverse]


def low_density_holdout(x: np.ndarray, y: np.ndarray, block_size: float, share: float = 0.1) -> np.ndarray:
    """Points of the sparsest blocks (fewest points first) until at least ``share`` of all points: True = held out."""
    blocks = block_ids(x, y, block_size)
    unique, inverse, counts = np.unique(blocks, return_inverse=True, return_counts=True)
    order = np.argsort(counts, kind="stable")
    taken = np.cumsum(counts[order]) <= max(share * len(x), counts[order][0])
    held_blocks = np.zeros(len(unique), dtype=bool)
    held_blocks[order[taken]] = True
    return held_blocks[inverse]


def random_split(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0):
    """Seeded random train / validation / test indices with the given fractions (seed 000: 80/10/10)."""
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError("The split needs three non-negative fractions summing to 1")
    order = np.random.default_rng(seed).permutation(n)
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]
