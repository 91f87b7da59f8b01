"""Getis–Ord Gi* hot spots with global Moran's I over distance bands (seed 002 §III-B 7, optimised hot-spot
analysis).

Gi* (Ord & Getis 1995, eq. 4.1 with binary weights): for every point i and a distance band d (metres),
w_ij = 1 when the distance between i and j is at most d, the point itself included (identical coordinates are
neighbours), and

    z_i = (Σ_j w_ij x_j − x̄ Σ_j w_ij) / (S √[(n Σ_j w_ij² − (Σ_j w_ij)²) / (n − 1)]),

with x̄ and S = √(Σ x² / n − x̄²) over the n points that have a value, in float64. The sign follows the values:
a subsiding bowl (negative velocities) is a cold spot (negative z) whatever the mean (esda's ``G_Local`` divides by
Σ x and flips the sign when the mean is negative). A point whose only neighbour is itself has no z (NaN).
p is two-sided from z. Classes (``GI_CLASS``) −3 … +3: cold / hot at 99, 95 and 90 % confidence, after the
Benjamini–Hochberg false-discovery-rate correction by default (as ArcGIS's Optimized Hot Spot Analysis), 0 not
significant.

Global Moran's I (Moran 1950; Cliff & Ord 1981) uses the same binary band weights without the point itself;
its z-score is under randomisation (esda's ``z_rand``, ArcGIS's Spatial Autocorrelation), p two-sided.

Automatic band (optimised hot-spot analysis, Incremental Spatial Autocorrelation): the start distance is the
smallest band that gives every point a neighbour, the largest nearest-neighbour distance, leaving out locational
outliers (points whose nearest-neighbour distance exceeds the mean by more than three standard deviations, ArcGIS's
rule for locational outliers), so one isolated point does not set the scale; those points may end up without a
neighbour (no z, counted). 20 bands follow, the first at the start distance and each one the mean
nearest-neighbour distance further (ArcGIS's default increment; whole multiples of the start distance reach
~100 point spacings, thousands of neighbours a point, too coarse for hot spots and too slow to count exactly).
Bands reaching the extent's diagonal are left out. The band is the first peak of Moran's z (a band whose z
exceeds both neighbours' z), the band of the largest z when the curve has no peak.

Every pair of points closer than the largest band is visited once (a KD-tree of each block of points, in Hilbert
order, against the points after it), and its band found by bisection; counts and sums for all bands come in the
same pass, a block at a time, so memory stays linear in the points (about 12 bytes a point and band) and no
per-point Python loop runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..io.geopackage import hilbert_index
from ..progress import CancelCheck, ProgressCallback, Steps

BAND_COUNT = 20
OUTLIER_SD = 3.0
CONFIDENCE = ((3, 0.01), (2, 0.05), (1, 0.10))  # class, significance level
PAIRS_A_BLOCK = 4_000_000
CLASSES = {-3: ("cold spot, 99 % confidence", "#2166ac"), -2: ("cold spot, 95 % confidence", "#67a9cf"),
           -1: ("cold spot, 90 % confidence", "#d1e5f0"), 0: ("not significant", "#bdbdbd"),
           1: ("hot spot, 90 % confidence", "#fddbc7"), 2: ("hot spot, 95 % confidence", "#ef8a62"),
           3: ("hot spot, 99 % confidence", "#b2182b")}  # GI_CLASS: (meaning, colour: ColorBrewer RdBu)


@dataclass
class MoranCurve:
    """Global Moran's I at each band (m): I, its expectation −1/(n − 1), z under randomisation, two-sided p."""

    bands: np.ndarray
    i: np.ndarray
    expected: float
    z: np.ndarray
    p: np.ndarray


@dataclass
class HotSpots:
    """Gi* of every point (z, two-sided p, class −3 … +3; NaN z and class 0 without a neighbour), the neighbour
    count (the point itself included), the band used (m), how it was chosen, Moran's I over the bands (one band
    when the band was given) and the index of the band used, the start distance, the locational outliers left out
    of it."""

    z: np.ndarray
    p: np.ndarray
    classes: np.ndarray
    neighbours: np.ndarray
    band: float
    how: str
    moran: MoranCurve
    chosen: int
    start: float
    outliers: int

    @property
    def isolated(self) -> int:
        """Points whose only neighbour within the band is themselves (no z)."""
        return int((self.neighbours <= 1).sum())

    def counts(self) -> dict:
        """Points per class, −3 … +3."""
        return {c: int((self.classes == c).sum()) for c in range(-3, 4)}


def nearest_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance (m) from every point to its nearest other point (0 for a point that shares its position)."""
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(np.column_stack([x, y])).query(np.column_stack([x, y]), k=2)
    return distances[:, 1]


def automatic_bands(nearest: np.ndarray, diagonal: float, count: int = BAND_COUNT):
    """(bands (m), start distance (m), locational outliers): ``count`` bands from the largest nearest-neighbour
    distance of the points that are not locational outliers (more than three standard deviations above the mean),
    each the mean nearest-neighbour distance further; bands at or beyond the extent's ``diagonal`` left out."""
    outlier = nearest > nearest.mean() + OUTLIER_SD * nearest.std()
    start = float(nearest[~outlier].max())
    step = float(nearest.mean())
    if start <= 0:
        raise ValueError("The points without a locational outlier share a few positions only; give the distance band")
    bands = start + step * np.arange(count)
    bands = bands[bands < diagonal]
    if bands.size == 0:
        raise ValueError(f"The start distance ({start:.4g} m, the farthest nearest neighbour) reaches across the "
                         f"points' extent ({diagonal:.4g} m): too few points for a distance band")
    return bands, start, int(outlier.sum())


def band_sums(x: np.ndarray, y: np.ndarray, z: np.ndarray, bands: np.ndarray, steps: Optional[Steps] = None):
    """Pair counts and sums within each band (m, increasing), the point itself excluded: (pairs (bands,) unordered,
    Σ z_i z_j over unordered pairs (bands,), neighbour counts (points, bands), Σ_j z_j over the neighbours
    (points, bands)). Cumulative over the bands."""
    from scipy.spatial import cKDTree

    n, nb = len(x), len(bands)
    order = np.argsort(hilbert_index(x, y), kind="stable")
    xy, zs = np.column_stack([x, y])[order], z[order]
    counts, sums = np.zeros(n * nb, dtype=np.int32), np.zeros(n * nb)
    pairs, products = np.zeros(nb, dtype=np.int64), np.zeros(nb)
    sample = xy[np.linspace(0, n - 1, min(n, 2000)).astype(np.int64)]
    per_point = max(1.0, cKDTree(xy).query_ball_point(sample, bands[-1], return_length=True).mean())
    block = int(np.clip(PAIRS_A_BLOCK / per_point, 64, n))
    starts = range(0, n, block)
    for start in starts:
        if steps is not None:
            steps.advance("Counting neighbours", 1.0 / len(starts))
        end = min(n, start + block)
        found = cKDTree(xy[start:end]).sparse_distance_matrix(cKDTree(xy[start:]), bands[-1],
                                                              output_type="ndarray")
        i, j = found["i"] + start, found["j"] + start
        later = j > i
        i, j, band = i[later], j[later], band_index(found["v"][later], bands)
        del found, later
        pairs += np.bincount(band, minlength=nb)
        products += np.bincount(band, weights=zs[i] * zs[j], minlength=nb)
        last = int(j.max()) + 1 if j.size else end
        for a, b, low, high in ((i, j, start, end), (j, i, start, last)):
            flat = (a - low) * nb + band
            counts[low * nb:high * nb] += np.bincount(flat, minlength=(high - low) * nb)
            sums[low * nb:high * nb] += np.bincount(flat, weights=zs[b], minlength=(high - low) * nb)
    counts = np.cumsum(counts.reshape(n, nb), axis=1)
    sums = np.cumsum(sums.reshape(n, nb), axis=1)
    back = np.empty(n, dtype=np.int64)
    back[order] = np.arange(n)
    return np.cumsum(pairs), np.cumsum(products), counts[back], sums[back]


def band_index(distances: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """Index of the first of the equally spaced ``bands`` (m) that reaches each distance (distance <= band)."""
    if bands.size == 1:
        return np.zeros(distances.size, dtype=np.int64)
    step = (bands[-1] - bands[0]) / (bands.size - 1)
    index = np.clip(np.ceil((distances - bands[0]) / step), 0, bands.size - 1).astype(np.int64)
    index += distances > bands[index]  # rounding of the division, corrected exactly
    index -= (index > 0) & (distances <= bands[np.maximum(index - 1, 0)])
    return index


def moran_curve(z: np.ndarray, bands: np.ndarray, pairs: np.ndarray, products: np.ndarray,
                counts: np.ndarray) -> MoranCurve:
    """Global Moran's I with binary band weights (no self-weight) from `band_sums`, z under randomisation (Cliff &
    Ord 1981; esda's ``z_rand``), two-sided p. NaN at bands without a pair."""
    from scipy.stats import norm

    n = float(len(z))
    squares = float(np.sum(z * z))
    kurtosis = n * float(np.sum(z ** 4)) / squares ** 2
    s0 = 2.0 * pairs.astype(np.float64)
    s1 = 2.0 * s0
    s2 = 4.0 * np.sum(counts.astype(np.float64) ** 2, axis=0)
    expected = -1.0 / (n - 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        i = n / s0 * 2.0 * products / squares
        a = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0)
        b = kurtosis * ((n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0)
        variance = (a - b) / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - expected ** 2
        score = (i - expected) / np.sqrt(variance)
    return MoranCurve(bands=bands, i=i, expected=expected, z=score, p=2.0 * norm.sf(np.abs(score)))


def first_peak(scores: np.ndarray):
    """(index, how): the first band whose z exceeds both neighbours' (both known), else the band of the largest z."""
    finite = np.where(np.isfinite(scores), scores, -np.inf)
    peaks = np.flatnonzero((finite[1:-1] > finite[:-2]) & (finite[1:-1] > finite[2:]) & np.isfinite(scores[2:])) + 1
    if peaks.size:
        return int(peaks[0]), "first peak of Moran's I z-score"
    return int(np.argmax(finite)), "largest Moran's I z-score (the curve has no peak)"


def gi_star(z: np.ndarray, neighbours: np.ndarray, sums: np.ndarray):
    """Ord & Getis (1995) Gi* z-scores with binary weights from the centred values ``z`` (x − x̄), the neighbour
    counts and the neighbours' sums of z, both including the point itself; NaN for a point without another
    neighbour (or with every point as neighbour). Returns (z, two-sided p)."""
    from scipy.stats import norm

    n = float(len(z))
    s = np.sqrt(np.mean(z * z))
    w = neighbours.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = sums / (s * np.sqrt((n * w - w * w) / (n - 1.0)))
    score[(neighbours <= 1) | (neighbours >= len(z))] = np.nan
    return score, 2.0 * norm.sf(np.abs(score))


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """Which p-values are significant at false-discovery rate ``alpha`` (Benjamini & Hochberg 1995); NaN never."""
    tested = np.flatnonzero(np.isfinite(p))
    ranked = np.sort(p[tested])
    passed = np.flatnonzero(ranked <= alpha * np.arange(1, ranked.size + 1) / max(ranked.size, 1))
    out = np.zeros(p.shape, dtype=bool)
    if passed.size:
        out[tested] = p[tested] <= ranked[passed[-1]]
    return out


def gi_classes(z: np.ndarray, p: np.ndarray, fdr: bool = True) -> np.ndarray:
    """``GI_CLASS`` −3 … +3: the sign of z times 3, 2, 1 for significance at 99, 95, 90 % confidence (after the
    Benjamini–Hochberg correction with ``fdr``), 0 not significant or without z."""
    classes = np.zeros(z.shape, dtype=np.int64)
    for level, alpha in reversed(CONFIDENCE):
        significant = benjamini_hochberg(p, alpha) if fdr else np.isfinite(p) & (p < alpha)
        classes[significant] = level
    return classes * np.sign(np.nan_to_num(z)).astype(np.int64)


def hot_spots(x: np.ndarray, y: np.ndarray, values: np.ndarray, band: float = 0.0, fdr: bool = True,
              progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None) -> HotSpots:
    """Gi* hot spots of ``values`` at points x, y (metres, a projected CRS) within ``band`` (m; 0 = automatic,
    see the module). Raises ValueError for fewer than 4 points, equal values, all points at one position, a band
    that gives no point a neighbour or reaches across the extent."""
    x, y, values = (np.asarray(a, dtype=np.float64) for a in (x, y, values))
    if len(values) < 4:
        raise ValueError(f"{len(values)} point(s) with a value: Gi* and Moran's I need at least 4")
    z = values - values.mean()
    if not np.any(z):
        raise ValueError("All values are equal: there is nothing to cluster")
    diagonal = float(np.hypot(np.ptp(x), np.ptp(y)))
    if diagonal == 0:
        raise ValueError("All points lie at one position: no distance band can be formed")
    steps = Steps(1.2, progress, is_cancelled)
    nearest = nearest_distances(x, y)
    steps.advance("Nearest neighbours", 0.1)
    if band > 0:
        if band < nearest.min():
            raise ValueError(f"The distance band ({band:g} m) is shorter than the shortest nearest-neighbour distance "
                             f"({nearest.min():.4g} m): no point would have a neighbour")
        if band >= diagonal:
            raise ValueError(f"The distance band ({band:g} m) reaches across the points' extent ({diagonal:.4g} m, "
                             "its diagonal): every point would be a neighbour of every other")
        bands, start, outliers = np.array([float(band)]), float(band), 0
    else:
        bands, start, outliers = automatic_bands(nearest, diagonal)
    pairs, products, counts, sums = band_sums(x, y, z, bands, steps)
    moran = moran_curve(z, bands, pairs, products, counts)
    chosen, how = first_peak(moran.z) if band <= 0 else (0, "given")
    neighbours = counts[:, chosen] + 1
    score, p = gi_star(z, neighbours, sums[:, chosen] + z)
    steps.advance("Gi* z-scores", 0.1)
    return HotSpots(z=score, p=p, classes=gi_classes(score, p, fdr), neighbours=neighbours, band=float(bands[chosen]),
                    how=how, moran=moran, chosen=chosen, start=start, outliers=outliers)


def _class_map(x: np.ndarray, y: np.ndarray, result: HotSpots):
    """The points coloured by class, cold and hot spots drawn over the not significant ones."""
    from ..reports.html import new_figure

    fig, ax = new_figure(5.4, 4.6)
    step = max(1, len(x) // 50000)
    for value in sorted(CLASSES, key=abs):
        chosen = (result.classes == value)[::step]
        if chosen.any():
            name, colour = CLASSES[value]
            ax.scatter(x[::step][chosen], y[::step][chosen], s=3, color=colour, lw=0,
                       label=f"{value:+d} {name} ({int((result.classes == value).sum())})".replace("+0", "0"))
    ax.set_aspect("equal", adjustable="datalim")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("x (m)", fontsize=8)
    handles, labels = ax.get_legend_handles_labels()
    order = np.argsort([int(label.split()[0]) for label in labels])
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=6, markerscale=3)
    if step > 1:
        ax.set_title(f"every {step}th point drawn", fontsize=8)
    return fig


def write_hotspot_report(path: str, result: HotSpots, field: str, fdr: bool, x: np.ndarray, y: np.ndarray,
                         kept: Optional[int] = None) -> str:
    """HTML report: the band and how it was chosen, global Moran's I (I, z, p), the Moran's I z-score over the bands
    with the band used marked, a map of the classes at x, y (m) and the points per class."""
    from ..reports.html import HtmlReport, new_figure

    moran, k = result.moran, result.chosen
    report = HtmlReport(f"Hot spots of {field} (Getis–Ord Gi*)", "Land subsidence plugin")
    correction = " after the Benjamini–Hochberg FDR correction" if fdr else ""
    report.paragraph(f"Distance band {result.band:.1f} m ({result.how}); binary weights, the point itself included "
                     "(Ord & Getis 1995). Negative z = cold spot (low values, e.g. subsidence), positive = hot spot. "
                     f"Classes at 99 / 95 / 90 % confidence{correction}.")
    report.heading("Global Moran's I")
    report.table([("distance band (m)", result.band), ("Moran's I", float(moran.i[k])),
                  ("expected I", moran.expected), ("z-score (randomisation)", float(moran.z[k])),
                  ("p-value (two-sided)", float(moran.p[k]))], header=("statistic", "value"))
    if moran.bands.size > 1:
        fig, ax = new_figure()
        ax.plot(moran.bands, moran.z, "o-", color="#2166ac")
        ax.plot([moran.bands[k]], [moran.z[k]], "o", color="#b2182b", markersize=10, label="band used")
        ax.set_xlabel("distance band (m)")
        ax.set_ylabel("Moran's I z-score")
        ax.legend()
        report.figure(fig, f"Moran's I z-score over {moran.bands.size} bands from {result.start:.1f} m "
                           f"({result.outliers} locational outlier(s) left out of the start distance)")
        report.table([(float(b), float(i), float(z), float(p)) for b, i, z, p in
                      zip(moran.bands, moran.i, moran.z, moran.p)],
                     header=("band (m)", "Moran's I", "z-score", "p-value"))
    report.heading("Points per class")
    report.figure(_class_map(np.asarray(x), np.asarray(y), result), "Gi* classes (in the metric CRS of the run)")
    rows = [(c, CLASSES[c][0], n) for c, n in result.counts().items()]
    rows.append(("", "without a neighbour (no z)", result.isolated))
    if kept is not None:
        rows.append(("", "kept (99 % only)", kept))
    report.table(rows, header=("GI_CLASS", "meaning", "points"))
    return report.write(path)
