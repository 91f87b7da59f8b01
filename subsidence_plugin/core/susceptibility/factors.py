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
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..io.rasters import iter_stack_blocks, open_raster
from ..io.stack import FactorColumn
from ..progress import CancelCheck, ProgressCallback, Steps
from ..stats.classes import sample_stride
from ..stats.correlation import _checked_variance, information_gain, pearson_matrix, variance_inflation

CLASS_NAMES = ("very low", "low", "moderate", "high", "very high")


# ---------------------------------------------------------------- factors of a stack


# ---------------------------------------------------------------- inventory


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
    """A regular subsample (at most `stats.classes.SAMPLE_CELLS`) of the factor values on cells valid in every
    band, and the number of such cells."""
    ds = open_raster(stack_path)
    total = ds.RasterXSize * ds.RasterYSize
    stride = sample_stride(total)
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


# ---------------------------------------------------------------- five classes




# ---------------------------------------------------------------- tables

VIF_LIMIT, TOLERANCE_LIMIT = 10.0, 0.1
FR_COLUMNS = (("factor", "string"), ("class", "int"), ("range", "string"), ("cells", "int"),
              ("cell_share", "double"), ("inventory", "int"), ("subsiding", "int"), ("subsiding_share", "double"),
              ("fr", "double"))


STAT_COLUMNS = (("factor", "string"), ("categorical", "int"), ("info_gain", "double"), ("vif", "double"),
                ("tolerance", "double"), ("flagged", "int"))


def fr_rows(analysis: FactorAnalysis) -> list:
    """Rows of FR_COLUMNS: one per class of every factor."""
    rows = []
    for i, definition in enumerate(analysis.definitions):
        cells, hits = analysis.class_cells[i], analysis.class_positives[i]
        for k, label in enumerate(definition.labels()):
            rows.append((definition.name, k + 1, label, cells[k], cells[k] / max(cells.sum(), 1),
                         analysis.class_samples[i][k], hits[k], hits[k] / max(hits.sum(), 1),
                         analysis.frequency_ratios[i][k]))
    return rows


def statistics_rows(analysis: FactorAnalysis) -> list:
    """Rows of STAT_COLUMNS: one per factor; flagged when VIF > 10 or tolerance < 0.1."""
    vif = analysis.vif
    return [(name, int(d.categorical), gain, v, 1.0 / v, int(v > VIF_LIMIT or 1.0 / v < TOLERANCE_LIMIT))
            for name, d, gain, v in zip(analysis.names, analysis.definitions, analysis.information_gain, vif)]
