"""Susceptibility mapping after seed 002 (Pekalongan): the InSAR inventory, factor analysis (frequency ratio,
information gain, Pearson correlation, VIF and tolerance), the frequency-ratio model, ROC / AUC and the
five-class maps.

* Inventory: velocities (mm/yr, negative = subsidence) averaged per cell of the factor grid; a cell is
  *subsiding* when its velocity passes the threshold in the chosen direction and *stable* when
  |v| <= the stable threshold (seed 002: "zero data ... stable measurements"); cells in between are left out.
  Stratified random 70 / 30 split (seed 002) and a spatially blocked split (whole blocks to the test part).
* Frequency ratio of a class (seed 002 after Samanta et al. 2018): share of subsiding cells in the class divided
  by the share of all cells of the study area in the class; > 1 means the class favours subsidence.
* Information gain of a factor (bits): H(label) - sum_c p(c) H(label | c) over the inventory cells.
* VIF_j = 1 / (1 - R_j^2) = diag(inverse correlation matrix); tolerance = 1 / VIF (flag VIF > 10, tolerance
  < 0.1). Continuous factors enter with their values, categorical ones with the frequency ratio of their class.
* AUC = the Mann-Whitney probability that a subsiding cell scores above a stable one (ties count half).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .evaluation import block_ids
from .grid import RasterGrid
from .progress import CancelCheck, ProgressCallback, Steps
from .raster_io import iter_stack_blocks, open_raster

DIRECTIONS = ("subsidence", "uplift", "both")
CLASSIFICATIONS = ("quantile", "natural_breaks", "equal_interval")
CLASS_NAMES = ("very low", "low", "moderate", "high", "very high")
MIN_CLASS_CELLS = 10
SAMPLE_CELLS = 1_000_000


# ---------------------------------------------------------------- factors of a stack

@dataclass
class FactorColumn:
    """One factor of a stack: its bands (several for a one-hot factor), whether it is categorical, and the
    class codes of its one-hot bands."""

    name: str
    bands: List[int]
    categorical: bool
    codes: List[float] = field(default_factory=list)

    def values(self, stack_values: np.ndarray) -> np.ndarray:
        """The factor's value (category code for one-hot factors) from (bands, n) stack values, NaN at nodata."""
        if len(self.bands) == 1 and not self.codes:
            return stack_values[self.bands[0]].astype(np.float64)
        group = stack_values[self.bands]
        out = np.asarray(self.codes, dtype=np.float64)[np.argmax(group, axis=0)]
        out[np.isnan(group).any(axis=0)] = np.nan
        return out


def factor_columns(band_names: Sequence[str], stack_factors: Sequence[dict],
                   categorical: Sequence[str] = ()) -> List[FactorColumn]:
    """Factors of a stack from its stored description (`stack.read_stack_factors`), or one per band; band
    names in ``categorical`` are categorical in any case."""
    names = list(band_names)
    unknown = [c for c in categorical if c not in names and c not in {f["name"] for f in stack_factors}]
    if unknown:
        raise ValueError(f"Categorical factor(s) {', '.join(unknown)} are not bands of the stack "
                         f"({', '.join(names)})")
    columns, covered = [], set()
    for f in stack_factors:
        bands = [names.index(b) for b in f.get("band_names", [f["name"]]) if b in names]
        if not bands:
            continue
        covered.update(bands)
        one_hot = bool(f.get("one_hot")) and len(f.get("classes", [])) == len(bands)
        columns.append(FactorColumn(f["name"], bands, bool(f.get("categorical")) or f["name"] in categorical,
                                    list(f["classes"]) if one_hot else []))
    for i, name in enumerate(names):
        if i not in covered:
            columns.append(FactorColumn(name, [i], name in categorical))
    columns.sort(key=lambda c: c.bands[0])
    return columns


# ---------------------------------------------------------------- inventory

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


# ---------------------------------------------------------------- classes and frequency ratios

@dataclass
class FactorClasses:
    """Classes of one factor: inner ``edges`` of a continuous factor (class i = [edge i-1, edge i)), or the
    category ``codes`` of a categorical one."""

    name: str
    categorical: bool
    edges: np.ndarray = field(default_factory=lambda: np.array([]))
    codes: np.ndarray = field(default_factory=lambda: np.array([]))
    low: float = np.nan
    high: float = np.nan

    @property
    def count(self) -> int:
        return len(self.codes) if self.categorical else len(self.edges) + 1

    def classify(self, values: np.ndarray) -> np.ndarray:
        """Class index of each value; -1 for NaN and unknown categories."""
        values = np.asarray(values, dtype=np.float64)
        if self.categorical:
            pos = np.searchsorted(self.codes, values)
            pos = np.clip(pos, 0, max(len(self.codes) - 1, 0))
            out = np.where(self.codes[pos] == values, pos, -1) if len(self.codes) else np.full(values.shape, -1)
        else:
            out = np.searchsorted(self.edges, values, side="right")
        return np.where(np.isnan(values), -1, out).astype(np.int64)

    def labels(self) -> List[str]:
        if self.categorical:
            return [f"{c:g}" for c in self.codes]
        bounds = [self.low] + list(self.edges) + [self.high]
        return [f"{bounds[i]:.4g} - {bounds[i + 1]:.4g}" for i in range(self.count)]


def _sample_columns(stack_path: str, columns: Sequence[FactorColumn], steps: Steps,
                    block_rows: int = 256) -> Tuple[np.ndarray, int]:
    """A regular subsample (at most SAMPLE_CELLS) of the factor values on cells valid in every band, and the
    number of such cells."""
    ds = open_raster(stack_path)
    total = ds.RasterXSize * ds.RasterYSize
    stride = max(1, int(np.ceil(total / SAMPLE_CELLS)))
    samples, valid_cells, offset = [], 0, 0
    for row0, values in iter_stack_blocks(stack_path, block_rows):
        flat = values.reshape(values.shape[0], -1)
        ok = ~np.isnan(flat).any(axis=0)
        valid_cells += int(ok.sum())
        pick = np.arange((-offset) % stride, flat.shape[1], stride)
        offset += flat.shape[1]
        pick = pick[ok[pick]]
        samples.append(np.stack([c.values(flat[:, pick]) for c in columns]))
        steps.advance(f"sampling factors: rows {row0}-{row0 + values.shape[1]}", values.shape[1])
    return np.concatenate(samples, axis=1), valid_cells


def class_definitions(samples: np.ndarray, columns: Sequence[FactorColumn], method: str = "quantile",
                      classes: int = 5, max_categories: int = 50) -> List[FactorClasses]:
    """Classes of every factor from sampled values (factors x cells): quantile or equal-interval edges for
    continuous factors, the categories of categorical ones."""
    if method not in ("quantile", "equal_interval"):
        raise ValueError("Factor classes are made by 'quantile' or 'equal_interval'")
    if classes < 2:
        raise ValueError("Use at least two classes per factor")
    out = []
    for column, values in zip(columns, samples):
        values = values[~np.isnan(values)]
        if column.categorical:
            codes = np.unique(values)
            if len(codes) > max_categories:
                raise ValueError(f"Factor {column.name} has {len(codes)} categories (more than {max_categories}); "
                                 "is it really categorical?")
            out.append(FactorClasses(column.name, True, codes=codes))
            continue
        low, high = float(values.min()), float(values.max())
        if method == "quantile":
            edges = np.unique(np.quantile(values, np.linspace(0, 1, classes + 1)[1:-1]))
            edges = edges[(edges > low) & (edges <= high)]
        else:
            edges = np.linspace(low, high, classes + 1)[1:-1] if high > low else np.array([])
        out.append(FactorClasses(column.name, False, edges=edges, low=low, high=high))
    return out


def count_classes(stack_path: str, columns: Sequence[FactorColumn], definitions: Sequence[FactorClasses],
                  steps: Steps, block_rows: int = 256) -> List[np.ndarray]:
    """Number of valid cells (valid in every band) in each class of every factor, over the whole stack."""
    counts = [np.zeros(d.count, dtype=np.int64) for d in definitions]
    for row0, values in iter_stack_blocks(stack_path, block_rows):
        flat = values.reshape(values.shape[0], -1)
        flat = flat[:, ~np.isnan(flat).any(axis=0)]
        for i, (column, definition) in enumerate(zip(columns, definitions)):
            idx = definition.classify(column.values(flat))
            counts[i] += np.bincount(idx[idx >= 0], minlength=definition.count)
        steps.advance(f"counting classes: rows {row0}-{row0 + values.shape[1]}", values.shape[1])
    return counts


def frequency_ratio(class_cells: np.ndarray, class_positives: np.ndarray) -> np.ndarray:
    """FR per class = (positives in class / all positives) / (cells in class / all cells); NaN for empty
    classes."""
    class_cells = np.asarray(class_cells, dtype=np.float64)
    class_positives = np.asarray(class_positives, dtype=np.float64)
    if class_positives.sum() == 0:
        raise ValueError("No subsiding cell: frequency ratios are undefined")
    with np.errstate(invalid="ignore", divide="ignore"):
        area = class_cells / class_cells.sum()
        return np.where(class_cells > 0, (class_positives / class_positives.sum()) / area, np.nan)


def entropy_bits(counts: np.ndarray) -> np.ndarray:
    """Shannon entropy (bits) of count vectors along the last axis."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(total > 0, counts / total, 0.0)
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=-1)


def information_gain(class_index: np.ndarray, label: np.ndarray, classes: int) -> float:
    """H(label) - H(label | class) in bits, over samples with a class (index >= 0)."""
    ok = class_index >= 0
    idx, lab = class_index[ok], np.asarray(label)[ok].astype(np.int64)
    table = np.zeros((classes, 2))
    np.add.at(table, (idx, lab), 1.0)
    n = table.sum()
    conditional = (table.sum(axis=1) / n * entropy_bits(table)).sum()
    return float(entropy_bits(table.sum(axis=0)) - conditional)


def pearson_matrix(values: np.ndarray) -> np.ndarray:
    """Pearson correlation between rows (factors x samples); refuses factors of zero variance."""
    return np.corrcoef(_checked_variance(values))


def variance_inflation(values: np.ndarray) -> np.ndarray:
    """VIF of every factor (rows of factors x samples) = diag of the inverse correlation matrix; inf where a
    factor is an exact linear combination of the others."""
    corr = pearson_matrix(values)
    if np.linalg.matrix_rank(corr) < len(corr):
        inv = np.linalg.pinv(corr)
        vif = np.diag(inv).copy()
        _, s, vt = np.linalg.svd(corr)
        dependent = np.abs(vt[s < 1e-10 * s.max()]).max(axis=0) > 1e-8
        vif[dependent] = np.inf
        return vif
    return np.diag(np.linalg.inv(corr)).copy()


def _checked_variance(values: np.ndarray, names: Optional[Sequence[str]] = None) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    flat = values.std(axis=1) == 0
    if np.any(flat):
        which = [names[i] for i in np.flatnonzero(flat)] if names else [str(i) for i in np.flatnonzero(flat)]
        raise ValueError(f"Factor(s) {', '.join(which)} have zero variance over the inventory cells: correlation "
                         "and VIF are undefined. Remove them from the stack.")
    return values


@dataclass
class FactorAnalysis:
    """Frequency ratios, information gain, Pearson correlation and VIF of every factor (seed 002)."""

    names: List[str]
    definitions: List[FactorClasses]
    class_cells: List[np.ndarray]
    class_positives: List[np.ndarray]
    class_samples: List[np.ndarray]
    frequency_ratios: List[np.ndarray]
    information_gain: np.ndarray
    correlation: np.ndarray
    vif: np.ndarray
    valid_cells: int
    warnings: List[str]

    @property
    def tolerance(self) -> np.ndarray:
        return 1.0 / self.vif


def sample_values(stack_path: str, columns: Sequence[FactorColumn], rows: np.ndarray, cols: np.ndarray,
                  block_rows: int = 256) -> np.ndarray:
    """Factor values (factors x samples) at the given cells, read block by block."""
    out = np.full((len(columns), len(rows)), np.nan)
    for row0, values in iter_stack_blocks(stack_path, block_rows):
        sel = np.flatnonzero((rows >= row0) & (rows < row0 + values.shape[1]))
        if len(sel):
            picked = values[:, rows[sel] - row0, cols[sel]]
            out[:, sel] = np.stack([c.values(picked) for c in columns])
    return out


def analyse_factors(stack_path: str, columns: Sequence[FactorColumn], sample_factors: np.ndarray,
                    label: np.ndarray, method: str = "quantile", classes: int = 5,
                    progress: Optional[ProgressCallback] = None,
                    is_cancelled: Optional[CancelCheck] = None) -> FactorAnalysis:
    """Factor analysis of seed 002 for inventory samples (factors x samples values and 0/1 labels): class
    cells over the whole stack, FR, IG, Pearson and VIF."""
    height = open_raster(stack_path).RasterYSize
    steps = Steps(2 * height + 1, progress, is_cancelled)
    sampled, valid_cells = _sample_columns(stack_path, columns, steps)
    if valid_cells == 0:
        raise ValueError("The factor stack has no cell where every factor has a value")
    definitions = class_definitions(sampled, columns, method, classes)
    cells = count_classes(stack_path, columns, definitions, steps)
    label = np.asarray(label).astype(np.int64)
    names = [c.name for c in columns]
    ratios, positives, in_sample, gains, warnings = [], [], [], [], []
    for i, definition in enumerate(definitions):
        idx = definition.classify(sample_factors[i])
        positives.append(np.bincount(idx[(idx >= 0) & (label == 1)], minlength=definition.count))
        in_sample.append(np.bincount(idx[idx >= 0], minlength=definition.count))
        ratios.append(frequency_ratio(cells[i], positives[-1]))
        gains.append(information_gain(idx, label, definition.count))
        if definition.categorical:
            absent = [lab for lab, n, m in zip(definition.labels(), in_sample[-1], cells[i]) if n == 0 and m > 0]
            if absent:
                warnings.append(f"Categorical factor {definition.name}: class(es) {', '.join(absent)} cover cells "
                                "of the stack but hold no inventory cell; their frequency ratio is 0 and models "
                                "learn nothing about them.")
    encoded = np.stack([fr_encoded(ratios[i], definitions[i], sample_factors[i]) if definitions[i].categorical
                        else sample_factors[i] for i in range(len(columns))])
    _checked_variance(encoded, names)
    corr = pearson_matrix(encoded)
    vif = variance_inflation(encoded)
    steps.advance("statistics")
    return FactorAnalysis(names, definitions, cells, positives, in_sample, ratios, np.asarray(gains), corr, vif,
                          valid_cells, warnings)


def fr_encoded(ratios: np.ndarray, definition: FactorClasses, values: np.ndarray) -> np.ndarray:
    """Values replaced by the frequency ratio of their class (0 for NaN, unknown categories, empty classes)."""
    idx = definition.classify(values)
    table = np.nan_to_num(ratios, nan=0.0)
    return np.where(idx >= 0, table[np.clip(idx, 0, None)], 0.0)


def split_ratios(analysis: FactorAnalysis, sample_factors: np.ndarray, label: np.ndarray,
                 use: np.ndarray) -> List[np.ndarray]:
    """Frequency ratios of every factor's classes from the subsiding samples selected by ``use`` (a training
    split) and the class cells of the whole stack."""
    out = []
    for i, definition in enumerate(analysis.definitions):
        idx = definition.classify(sample_factors[i][use])
        hits = np.bincount(idx[(idx >= 0) & (np.asarray(label)[use] == 1)], minlength=definition.count)
        out.append(frequency_ratio(analysis.class_cells[i], hits))
    return out


def frequency_ratio_index(definitions: Sequence[FactorClasses], ratios: Sequence[np.ndarray],
                          factor_values: np.ndarray) -> np.ndarray:
    """Frequency-ratio model: the sum of the factors' class FR, scaled to 0-1 by the smallest and largest
    possible sums (NaN where a factor is NaN; unknown categories count 0)."""
    total = np.zeros(factor_values.shape[1])
    low = high = 0.0
    for definition, ratio, values in zip(definitions, ratios, factor_values):
        table = np.nan_to_num(ratio, nan=0.0)
        idx = definition.classify(values)
        total += np.where(idx >= 0, table[np.clip(idx, 0, None)], 0.0)
        low, high = low + table.min(), high + table.max()
    total[np.isnan(factor_values).any(axis=0)] = np.nan
    return (total - low) / (high - low) if high > low else np.zeros_like(total)


# ---------------------------------------------------------------- ROC and statistics

def roc_curve(label: np.ndarray, score: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds) at every distinct score, highest first, starting
    at (0, 0); the same points as scikit-learn's ``roc_curve(drop_intermediate=False)``."""
    label = np.asarray(label).astype(bool)
    score = np.asarray(score, dtype=np.float64)
    if label.all() or not label.any():
        raise ValueError("ROC needs both subsiding and stable cells in the test part")
    order = np.argsort(-score, kind="mergesort")
    s, lab = score[order], label[order]
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tps = np.cumsum(lab)[last]
    fps = (last + 1) - tps
    tpr = np.r_[0.0, tps / lab.sum()]
    fpr = np.r_[0.0, fps / (~lab).sum()]
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(label: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids over the tied-score steps)."""
    fpr, tpr, _ = roc_curve(label, score)
    return float(np.trapz(tpr, fpr))


def classification_statistics(label: np.ndarray, score: np.ndarray) -> dict:
    """AUC plus seed 002's RMSE, MSE, MAE and StD of the error (score - label) on 0-1 scores."""
    label = np.asarray(label, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    err = score - label
    return {"auc": roc_auc(label, score), "rmse": float(np.sqrt(np.mean(err ** 2))), "mse": float(np.mean(err ** 2)),
            "mae": float(np.mean(np.abs(err))), "std": float(np.std(err)), "n": int(len(label)),
            "positives": int(label.sum())}


# ---------------------------------------------------------------- five classes

def natural_breaks(values: np.ndarray, classes: int = 5, max_values: int = 2000) -> np.ndarray:
    """Inner breaks of Jenks natural breaks (minimum within-class sum of squares; exact dynamic programming)
    on at most ``max_values`` evenly spaced order statistics of the values."""
    values = np.sort(np.asarray(values, dtype=np.float64)[~np.isnan(values)])
    if len(values) > max_values:
        values = values[np.linspace(0, len(values) - 1, max_values).round().astype(np.int64)]
    n = len(values)
    if n < classes:
        raise ValueError(f"Natural breaks into {classes} classes need at least {classes} values")
    c1 = np.r_[0.0, np.cumsum(values)]
    c2 = np.r_[0.0, np.cumsum(values * values)]

    def ssd(i, j):  # sum of squared deviations of values[i:j], arrays broadcast
        count = j - i
        s = c1[j] - c1[i]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, c2[j] - c2[i] - s * s / np.maximum(count, 1), np.inf)

    j = np.arange(n + 1)
    cost = ssd(np.zeros_like(j), j)  # one class over values[:j]
    choice = []
    for _ in range(1, classes):
        i = np.arange(n + 1)
        total = cost[i][None, :] + ssd(i[None, :], j[:, None])  # (j, i): split at i
        total[i[None, :] >= j[:, None]] = np.inf
        best = np.argmin(total, axis=1)
        choice.append(best)
        cost = total[j, best]
    breaks, end = [], n
    for best in reversed(choice):
        end = int(best[end])
        breaks.append(values[end - 1])
    return np.array(sorted(breaks))


def class_breaks(values: np.ndarray, method: str = "quantile", classes: int = 5) -> np.ndarray:
    """Inner class breaks of an index: class k holds values in (break k-1, break k]."""
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        raise ValueError("The index has no valid value")
    if method == "quantile":
        return np.quantile(values, np.linspace(0, 1, classes + 1)[1:-1])
    if method == "equal_interval":
        return np.linspace(values.min(), values.max(), classes + 1)[1:-1]
    if method == "natural_breaks":
        return natural_breaks(values, classes)
    raise ValueError(f"Unknown classification {method!r}; use one of {', '.join(CLASSIFICATIONS)}")


def classify_index(values: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Classes 1..len(breaks)+1 (0 for NaN) with class k = (break k-1, break k]."""
    out = (np.searchsorted(breaks, values, side="left") + 1).astype(np.uint8)
    out[np.isnan(values)] = 0
    return out
