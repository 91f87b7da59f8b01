"""GARDLIF subsidence vulnerability index (seed 003, Tehran-Karaj-Shahriyar; Nadiri et al.) and its weights
optimised by particle swarm optimisation.

Seven layers are rated 1-10 by an editable class table (default: seed 003 Table 1) and combined as
SPI = sum_i w_i r_i (seed 003 eq. 1) with the default weights G 5, A 5, R 4, D 4, L 3, I 2, F 1. PSO (seed 003
eq. 2) searches the weights (0-5 each) that maximise the Pearson correlation (eq. 3) between the index and the
InSAR subsidence rate (mm/yr, positive = sinking, i.e. minus the plugin's velocity) at the points. The
correlation index CI (seed 003 after Nadiri et al. 2018) splits the index and the rate at the points into four
classes (quartiles: low, moderate, high, very high) and scores each point 4 when both classes agree, 3, 2, 1 when
they differ by 1, 2, 3 classes.

Units of the default table (seed 003 Table 1 in the plugin's units): groundwater decline m/yr, fault distance
metres (the table's km x 1000), aquifer thickness m, recharge and discharge (pumping) cm/yr; land use and
aquifer media are category codes listed in `LAND_USE_CODES` / `AQUIFER_MEDIA_CODES`. Where Table 1 gives a
range of ratings for a category (land use "Mine 9-10"), the default is its midpoint. The lowest class of each
continuous layer is open below, the highest open above, so rises (negative decline) rate 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..ml.optimisers import OptimisationResult, Problem, optimise
from ..progress import CancelCheck, ProgressCallback
from ..stats.classes import balanced_breaks
from ..stats.correlation import pearson_columns

LAYERS = ("groundwater_decline", "aquifer_media", "recharge", "discharge", "land_use", "aquifer_thickness",
          "fault_distance")
LAYER_TITLES = {"groundwater_decline": "Groundwater decline (m/yr)", "aquifer_media": "Aquifer media (code)",
                "recharge": "Net recharge (cm/yr)", "discharge": "Discharge / pumping (cm/yr)",
                "land_use": "Land use (code)", "aquifer_thickness": "Aquifer thickness (m)",
                "fault_distance": "Distance to faults (m)"}
DEFAULT_WEIGHTS = {"groundwater_decline": 5.0, "aquifer_media": 5.0, "recharge": 4.0, "discharge": 4.0,
                   "land_use": 3.0, "aquifer_thickness": 2.0, "fault_distance": 1.0}
PAPER_PSO_WEIGHTS = {"groundwater_decline": 5.0, "aquifer_media": 4.6, "recharge": 4.3, "discharge": 3.6,
                     "land_use": 4.1, "aquifer_thickness": 2.67, "fault_distance": 0.2}
LAND_USE_CODES = {1: ("Mine", 9.5), 2: ("Agriculture", 8.0), 3: ("Dam site", 7.5), 4: ("Residential", 5.5),
                  5: ("Transportation", 3.5), 6: ("Dry areas", 2.0), 7: ("Wasteland", 1.0), 8: ("Grassland", 1.0)}
AQUIFER_MEDIA_CODES = {1: ("Clay", 10.0), 2: ("Clay + silt", 9.0), 3: ("Clay + sand", 8.0),
                       4: ("Silt-clay + sand", 4.0), 5: ("Sand", 4.0), 6: ("Gravel", 3.0),
                       7: ("Organic soils", 9.0), 8: ("Rubble", 2.0)}
VULNERABILITY_CLASSES = ("low", "moderate", "high", "very high")
CI_CLASSES = 4


@dataclass
class RatingClass:
    """One row of the class table: values in [low, high) get ``rating``; None = open bound; a category has
    low == high == its code."""

    layer: str
    low: Optional[float]
    high: Optional[float]
    rating: float
    label: str = ""

    @property
    def is_category(self) -> bool:
        return self.low is not None and self.low == self.high


def _continuous(layer: str, edges: Sequence[float], ratings: Sequence[float], scale: float = 1.0,
                unit: str = "") -> List[RatingClass]:
    bounds = [None] + [e * scale for e in edges] + [None]
    rows = []
    for i, rating in enumerate(ratings):
        low, high = bounds[i], bounds[i + 1]
        label = (f"< {high:g}" if low is None else f">= {low:g}" if high is None else f"{low:g} - {high:g}") + unit
        rows.append(RatingClass(layer, low, high, float(rating), label))
    return rows


def default_table() -> List[RatingClass]:
    """Seed 003 Table 1 in the plugin's units (see the module docstring)."""
    table = _continuous("groundwater_decline", [0.2, 0.5, 0.9, 1.4, 2.0, 2.7, 3.5, 4.4, 5.4], range(1, 11),
                        unit=" m/yr")
    table += [RatingClass("aquifer_media", c, c, r, name) for c, (name, r) in AQUIFER_MEDIA_CODES.items()]
    table += _continuous("recharge", [4, 9, 14, 19, 24], [10, 9, 7, 5, 3, 1], unit=" cm/yr")
    table += _continuous("discharge", [0.0001, 0.005, 0.01, 0.5, 1, 5, 20, 40, 65], range(1, 11), unit=" cm/yr")
    table += [RatingClass("land_use", c, c, r, name) for c, (name, r) in LAND_USE_CODES.items()]
    table += _continuous("aquifer_thickness", [25, 55, 90, 130, 175, 225, 280, 340, 405], range(1, 11), unit=" m")
    table += _continuous("fault_distance", [1, 2, 3, 4, 5], [10, 8, 6, 4, 2, 1], scale=1000.0, unit=" m")
    return table


def table_rows(table: Sequence[RatingClass]) -> List[list]:
    """The table as rows [layer, from, to, rating, label] ("" = open bound)."""
    return [[c.layer, "" if c.low is None else c.low, "" if c.high is None else c.high, c.rating, c.label]
            for c in table]


def parse_table(rows: Sequence[Sequence]) -> List[RatingClass]:
    """Class table from rows [layer, from, to, rating(, label)]; empty from/to = open bound."""
    def number(value, what, row):
        if value is None or (isinstance(value, str) and value.strip() == ""):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"Class table row {row + 1}: {what} {value!r} is not a number") from None

    table = []
    for i, row in enumerate(rows):
        if len(row) < 4:
            raise ValueError(f"Class table row {i + 1} needs layer, from, to and rating")
        layer = str(row[0]).strip()
        if layer not in LAYERS:
            raise ValueError(f"Class table row {i + 1}: unknown layer {layer!r}; use one of {', '.join(LAYERS)}")
        low, high, rating = number(row[1], "from", i), number(row[2], "to", i), number(row[3], "rating", i)
        if rating is None or not 0 <= rating <= 10:
            raise ValueError(f"Class table row {i + 1}: the rating must be a number from 0 to 10")
        if low is not None and high is not None and high < low:
            raise ValueError(f"Class table row {i + 1}: 'to' ({high:g}) is below 'from' ({low:g})")
        table.append(RatingClass(layer, low, high, rating, str(row[4]) if len(row) > 4 else ""))
    missing = [layer for layer in LAYERS if not any(c.layer == layer for c in table)]
    if missing:
        raise ValueError(f"The class table has no row for {', '.join(missing)}")
    return table


def rate_layer(values: np.ndarray, table: Sequence[RatingClass], layer: str) -> np.ndarray:
    """Ratings of a layer's values (NaN stays NaN); refuses values that no class of the table covers."""
    values = np.asarray(values, dtype=np.float64)
    rows = [c for c in table if c.layer == layer]
    out = np.full(values.shape, np.nan)
    valid = ~np.isnan(values)
    for c in rows:
        if c.is_category:
            hit = values == c.low
        else:
            hit = np.ones(values.shape, dtype=bool)
            if c.low is not None:
                hit &= values >= c.low
            if c.high is not None:
                hit &= values < c.high
        out[hit & valid & np.isnan(out)] = c.rating
    uncovered = valid & np.isnan(out)
    if uncovered.any():
        bad = values[uncovered]
        if all(c.is_category for c in rows):
            codes = ", ".join(f"{v:g}" for v in np.unique(bad)[:10])
            detail = f"category code(s) {codes}"
        else:
            detail = f"values from {bad.min():g} to {bad.max():g}"
        raise ValueError(f"The class table does not cover {int(uncovered.sum())} cell(s) of {layer} ({detail}); "
                         "add classes for them")
    return out


def weights_vector(weights: Dict[str, float]) -> np.ndarray:
    return np.array([float(weights[layer]) for layer in LAYERS])


def checked_weights(weights) -> np.ndarray:
    """The seven layer weights as float64; refuses a wrong count, non-finite or negative weights and weights
    that are all 0 (the index would be 0 everywhere and every class "very high")."""
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(LAYERS),):
        raise ValueError(f"Give {len(LAYERS)} GARDLIF weights, one per layer ({', '.join(LAYERS)}); got "
                         f"{weights.size}")
    named = ", ".join(f"{LAYER_TITLES[layer]} {w:g}" for layer, w in zip(LAYERS, weights)
                      if not np.isfinite(w) or w < 0)
    if not np.all(np.isfinite(weights)):
        raise ValueError(f"Every GARDLIF weight must be a finite number; got {named}")
    if np.any(weights < 0):
        raise ValueError(f"GARDLIF weights must not be negative; got {named}")
    if not np.any(weights > 0):
        raise ValueError("All seven GARDLIF weights are 0, so the index would be 0 everywhere; give at least one "
                         "positive weight")
    return weights


def vulnerability_index(ratings: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """SPI = sum_i w_i r_i over the seven layers (ratings: (7, ...) array); NaN where a rating is NaN. Refuses
    weights `checked_weights` refuses."""
    return np.tensordot(checked_weights(weights), ratings, axes=1)


def vulnerability_classes(index: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Seed 003's four classes (1 low ... 4 very high): equal intervals of the possible range
    [sum w, 10 sum w] (24-78, 78-132, 132-186, 186-240 for the default weights); 0 = nodata. Refuses weights
    `checked_weights` refuses."""
    total = float(np.sum(checked_weights(weights)))
    edges = total + (10 * total - total) * np.array([0.25, 0.5, 0.75])
    out = (np.searchsorted(edges, index, side="right") + 1).astype(np.uint8)
    out[np.isnan(index)] = 0
    return out


def class_bounds(weights: np.ndarray, index_sample: np.ndarray) -> np.ndarray:
    """Bounds (low, three breaks, high) of the four vulnerability classes for the weights actually used.

    Seed 003's own weights: its equal intervals of the possible range [sum w, 10 sum w] (24-78-132-186-240).
    Any other weights (PSO's, a user's): quartiles of the index over the valid cells (``index_sample``, a
    regular sample), as near to a quarter each as ties allow (`stats.classes.balanced_breaks`: the index is a
    sum of class ratings and takes few distinct values), the classes the correlation index CI compares too.
    Seed 003's fixed intervals fit only its weights: with PSO's weights the sample area's index fell into two of
    the four classes. Refuses an index with fewer than four distinct values."""
    weights = checked_weights(weights)
    if np.allclose(weights, weights_vector(DEFAULT_WEIGHTS)):
        total = float(weights.sum())
        return total + 9 * total * np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    values = np.asarray(index_sample, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(np.unique(values)) < len(VULNERABILITY_CLASSES):
        raise ValueError(f"The GARDLIF index takes {len(np.unique(values))} distinct value(s) on the valid cells: "
                         "four vulnerability classes are undefined")
    return np.concatenate([[values.min()], balanced_breaks(values, len(VULNERABILITY_CLASSES)), [values.max()]])


def classify_vulnerability(index: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Classes 1 (low) ... 4 (very high) of an index by `class_bounds` (class k = [break k-1, break k)); 0 = NaN."""
    out = (np.searchsorted(np.asarray(bounds)[1:-1], index, side="right") + 1).astype(np.uint8)
    out[np.isnan(index)] = 0
    return out


def quartile_classes(values: np.ndarray) -> np.ndarray:
    """Four classes 0..3 by the quartiles of the values."""
    return np.searchsorted(np.quantile(values, [0.25, 0.5, 0.75]), values, side="right")


def correlation_index(index: np.ndarray, subsidence: np.ndarray) -> Tuple[int, np.ndarray]:
    """CI (seed 003) and the 4 x 4 table (rows: index class, columns: subsidence class, low to very high)."""
    a, b = quartile_classes(index), quartile_classes(subsidence)
    table = np.zeros((CI_CLASSES, CI_CLASSES), dtype=np.int64)
    np.add.at(table, (a, b), 1)
    return int((CI_CLASSES - np.abs(a - b)).sum()), table


@dataclass
class WeightOptimisation:
    default_weights: np.ndarray
    weights: np.ndarray
    r_before: float
    r_after: float
    ci_before: int
    ci_after: int
    ci_table_before: np.ndarray
    ci_table_after: np.ndarray
    points: int
    result: OptimisationResult

    @property
    def r2_before(self) -> float:
        return self.r_before ** 2

    @property
    def r2_after(self) -> float:
        return self.r_after ** 2


def optimise_weights(ratings_at_points: np.ndarray, subsidence_rate: np.ndarray, default_weights: np.ndarray,
                     bounds: Tuple[float, float] = (0.0, 5.0), population: int = 30, iterations: int = 100,
                     seed: int = 0, inertia: float = 0.7, c1: float = 1.5, c2: float = 1.5,
                     progress: Optional[ProgressCallback] = None,
                     is_cancelled: Optional[CancelCheck] = None) -> WeightOptimisation:
    """PSO of the seven weights maximising Pearson r between the index and the subsidence rate at the points
    (ratings_at_points: (n, 7); subsidence_rate: mm/yr, positive = sinking). Refuses start weights
    `checked_weights` refuses and bounds below 0 (negative weights) or without a positive largest weight."""
    default_weights = checked_weights(default_weights)
    low, high = (float(b) for b in bounds)
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high <= 0 or high < low:
        raise ValueError(f"The weight bounds must be finite with 0 <= smallest <= largest and a positive largest "
                         f"weight; got {low:g} to {high:g}")
    ratings_at_points = np.asarray(ratings_at_points, dtype=np.float64)
    rate = np.asarray(subsidence_rate, dtype=np.float64)
    ok = ~np.isnan(ratings_at_points).any(axis=1) & np.isfinite(rate)
    ratings_at_points, rate = ratings_at_points[ok], rate[ok]
    if len(rate) < 10:
        raise ValueError(f"Only {len(rate)} points have a rate and all seven ratings; PSO needs at least 10")
    if np.std(rate) == 0:
        raise ValueError("The subsidence rate is the same at every point: no correlation to maximise")

    def objective(candidates):
        return -pearson_columns(ratings_at_points @ candidates.T, rate)

    result = optimise("pso", Problem(objective, [bounds] * len(LAYERS)), population, iterations, seed, progress,
                      is_cancelled, inertia=inertia, c1=c1, c2=c2,
                      start=np.asarray(default_weights, float))
    before = ratings_at_points @ default_weights
    after = ratings_at_points @ result.best
    r_before = float(pearson_columns(before[:, None], rate)[0])
    ci_before, table_before = correlation_index(before, rate)
    ci_after, table_after = correlation_index(after, rate)
    return WeightOptimisation(np.asarray(default_weights, float), result.best, r_before, -result.best_cost,
                              ci_before, ci_after, table_before, table_after, int(len(rate)), result)
