"""InSAR points with displacement series in the plugin's convention (DESIGN.md): one ``DYYYYMMDD`` value a date
in mm of line-of-sight displacement (negative = away from the satellite, subsidence on an ascending or descending
track), velocity in mm/yr, a string ``pid``.

Sources name the same things differently: EGMS L2a / L2b / L3 CSV (``pid``, ``easting`` / ``northing`` in
EPSG:3035 or ``latitude`` / ``longitude``, ``mean_velocity``, ``mean_velocity_std``, ``los_east/north/up``, one
``YYYYMMDD`` column a date, mm), ESA GEP P-SBAS exports such as Doñana's (``ID``, ``Vel`` in cm/yr, ``cosE`` /
``cosN`` / ``cosU``, ``DYYYYMMDD`` in cm), SARPROZ / StaMPS / MintPy exports with ``D_YYYYMMDD`` fields. This
module recognises the columns, converts units, refits velocities, merges tiles and removes the duplicated points
of overlapping bursts; reading and writing files is the caller's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..io.row_store import row_index, split_key

MILLIMETRES_PER_UNIT = {"mm": 1.0, "cm": 10.0, "m": 1000.0}
DAYS_PER_YEAR = 365.25

# Lower-case source names of each role, in order of preference.
PID_NAMES = ("pid", "id", "code", "point_id", "ps_id")
VELOCITY_NAMES = ("mean_velocity", "velocity", "vel", "vel_mm_yr", "v")
VELOCITY_STD_NAMES = ("mean_velocity_std", "velocity_std", "vel_std", "v_stdev", "vel_std_mm_yr")
LOS_NAMES = {"LOS_E": ("los_east", "cose", "los_e"), "LOS_N": ("los_north", "cosn", "los_n"),
             "LOS_U": ("los_up", "cosu", "los_u")}
RMSE_NAMES = ("rmse",)
COHERENCE_NAMES = ("temporal_coherence", "coherence", "coer", "coh")
X_NAMES = ("easting", "x", "lon", "longitude")
Y_NAMES = ("northing", "y", "lat", "latitude")
EGMS_COLUMNS = {"pid", "mean_velocity", "mean_velocity_std"}
EGMS_LOS_COLUMNS = {"los_east", "los_north", "los_up"}

FORMATS = ("auto", "egms_l2", "egms_l3", "generic")


def find_column(names: Sequence[str], candidates: Sequence[str]) -> Optional[str]:
    """The first of ``names`` whose lower-case form is one of ``candidates`` (in the candidates' order)."""
    lower = {name.lower(): name for name in reversed(list(names))}
    return next((lower[c] for c in candidates if c in lower), None)


def detect_format(names: Sequence[str]) -> str:
    """``egms_l2`` (EGMS L2a / L2b: with the line-of-sight vector), ``egms_l3`` (EGMS L3 ortho: without it) or
    ``generic`` from a file's column names."""
    lower = {name.lower() for name in names}
    if EGMS_COLUMNS <= lower:
        return "egms_l2" if EGMS_LOS_COLUMNS <= lower else "egms_l3"
    return "generic"


@dataclass
class Series:
    """Displacement of points, (points, dates) float32 in mm with NaN where missing, read by rows on demand: a
    source's rows stay where they are (an array, or a `RowStore` on a temporary file) in its units until asked for.

    ``parts``: (rows in the source's units, the output column of each of their columns, factor to mm) of each
    source, their points one after the other; ``rows``: the points of the parts taken, in order (None: all);
    ``reference``: mm a date, subtracted from every row. Indexed like a read-only array by rows (an integer, a
    slice, indices or a mask, optionally followed by columns): only those rows are read and converted, so a
    caller holds one block of points at a time."""

    parts: List[Tuple[object, np.ndarray, float]]
    columns: int
    rows: Optional[np.ndarray] = None
    reference: Optional[np.ndarray] = None

    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return sum(len(values) for values, _, _ in self.parts) if self.rows is None else len(self.rows)

    @property
    def shape(self) -> Tuple[int, int]:
        return len(self), self.columns

    def __getitem__(self, key) -> np.ndarray:
        rows_key, columns_key = split_key(key)
        index, single = row_index(rows_key, len(self))
        out = self._read(index if self.rows is None else self.rows[index])
        if single:
            out = out[0]
        return out if columns_key is None else out[..., columns_key]

    def _read(self, index: np.ndarray) -> np.ndarray:
        out = None
        start = 0
        for values, columns, factor in self.parts:
            inside = np.flatnonzero((index >= start) & (index < start + len(values)))
            if inside.size:
                block = values[index[inside] - start]
                if factor != 1.0 or block.dtype != np.float32:  # float32 in mm: as it is
                    block = (np.asarray(block, dtype=np.float64) * factor).astype(np.float32)
                if inside.size == index.size and np.array_equal(columns, np.arange(self.columns)):
                    out = block
                else:
                    out = np.full((index.size, self.columns), np.nan, dtype=np.float32) if out is None else out
                    out[np.ix_(inside, columns)] = block
            start += len(values)
        if out is None:
            out = np.full((index.size, self.columns), np.nan, dtype=np.float32)
        return out if self.reference is None else (out - self.reference[None, :]).astype(np.float32)

    def take(self, index) -> "Series":
        """The series of the points at ``index`` (indices or a mask)."""
        rows, _ = row_index(index, len(self))
        return replace(self, rows=rows if self.rows is None else self.rows[rows])

    def minus(self, reference: np.ndarray) -> "Series":
        """The series less ``reference`` (mm a date) at every point."""
        reference = np.asarray(reference, dtype=np.float64)
        return replace(self, reference=reference if self.reference is None else self.reference + reference)


@dataclass
class InsarPoints:
    """Measurement points of one or several sources in one CRS.

    ``displacement``: a `Series`, (points, dates) float32 in mm, NaN where a date has no value, read by rows;
    ``velocity`` / ``velocity_std``: mm/yr (NaN where unknown); ``los``: (points, 3) east, north, up components of
    the unit vector (NaN where unknown); ``attributes``: the source's other fields (quality: rmse, coherence,
    height ...).
    """

    def sources(self) -> np.ndarray:
        """The source number of every point."""
        return np.zeros(len(self.x), dtype=np.int64) if self.source is None else self.source

    pid: np.ndarray
    x: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    displacement: Series
    velocity: np.ndarray
    velocity_std: np.ndarray
    los: np.ndarray
    attributes: Dict[str, np.ndarray] = field(default_factory=dict)
    velocity_refitted: bool = False
    source: Optional[np.ndarray] = None  # the file or layer (0, 1, ...) each point came from; None: one source

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: np.ndarray) -> "InsarPoints":
        """The points at ``index`` (indices or a mask)."""
        return replace(self, pid=self.pid[index], x=self.x[index], y=self.y[index],
                       displacement=self.displacement.take(index), velocity=self.velocity[index],
                       velocity_std=self.velocity_std[index], los=self.los[index],
                       attributes={name: values[index] for name, values in self.attributes.items()},
                       source=None if self.source is None else self.source[index])


def _numeric(values: np.ndarray, name: str) -> np.ndarray:
    """A column as float64: numbers as they are, text parsed (empty and NULL = NaN)."""
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    text = np.char.strip(values.astype(str))
    text[(text == "") | (text == "None")] = "nan"
    try:
        return text.astype(np.float64)
    except ValueError:
        raise ValueError(f"Field {name!r} is not numeric") from None


def identifiers(values: np.ndarray) -> np.ndarray:
    """Point or station identifiers as strings (whole numbers without a decimal point)."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(str).astype(object)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64).astype(str).astype(object)
    return values.astype(str).astype(object)


def insar_points(x: np.ndarray, y: np.ndarray, dates: np.ndarray, series,
                 attributes: Dict[str, np.ndarray], units: str, source_format: str = "generic") -> InsarPoints:
    """Points in the plugin's convention from one source's coordinates, dates, (points, dates) series in
    ``units`` (mm, cm or m, also used for the velocity per year; an array or a `RowStore`, read when needed) and
    attribute columns, whose roles (pid, velocity, its standard deviation, line-of-sight vector) are recognised by
    name. A missing pid becomes the point's number; a missing velocity is refitted from the series
    (`linear_velocity`)."""
    if units not in MILLIMETRES_PER_UNIT:
        raise ValueError(f"Unknown displacement units {units!r}: use one of {', '.join(MILLIMETRES_PER_UNIT)}")
    dates = np.asarray(dates, dtype="datetime64[D]")
    if dates.size == 0:
        raise ValueError("No date fields (DYYYYMMDD, D_YYYYMMDD or YYYYMMDD) with the displacement series")
    if np.unique(dates).size != dates.size:
        raise ValueError("Several fields hold the same date")
    factor = MILLIMETRES_PER_UNIT[units]
    n = len(x)
    names = list(attributes)
    pid_name = find_column(names, PID_NAMES)
    if pid_name is None:
        pid = np.arange(1, n + 1).astype(str).astype(object)
    else:
        pid = identifiers(attributes[pid_name])
    used = {pid_name}
    velocity_name = find_column(names, VELOCITY_NAMES)
    std_name = find_column(names, VELOCITY_STD_NAMES)
    if tuple(series.shape) != (n, dates.size):
        raise ValueError(f"A series of shape {tuple(series.shape)} for {n} points and {dates.size} dates")
    order = np.argsort(dates, kind="stable")
    columns = np.empty_like(order)
    columns[order] = np.arange(order.size)  # the output column of each of the source's columns
    displacement = Series([(series, columns, factor)], dates.size)
    dates = dates[order]
    if velocity_name is not None:
        velocity = _numeric(attributes[velocity_name], velocity_name) * factor
        refitted = False
        used.add(velocity_name)
    else:
        velocity = linear_velocity(dates, displacement)
        refitted = True
    velocity_std = np.full(n, np.nan)
    if std_name is not None:
        velocity_std = _numeric(attributes[std_name], std_name) * factor
        used.add(std_name)
    los = np.full((n, 3), np.nan)
    for column, role in enumerate(("LOS_E", "LOS_N", "LOS_U")):
        name = find_column(names, LOS_NAMES[role])
        if name is not None:
            los[:, column] = _numeric(attributes[name], name)
            used.add(name)
    coordinate_names = {find_column(names, X_NAMES), find_column(names, Y_NAMES)} - {None}
    if source_format.startswith("egms"):
        coordinate_names |= {name for name in names if name.lower() in X_NAMES + Y_NAMES}
    kept = {name: values for name, values in attributes.items() if name not in used | coordinate_names}
    return InsarPoints(pid=pid, x=np.asarray(x, dtype=np.float64), y=np.asarray(y, dtype=np.float64),
                       dates=dates, displacement=displacement, velocity=velocity, velocity_std=velocity_std,
                       los=los, attributes=kept, velocity_refitted=refitted)


def linear_velocity(dates: np.ndarray, displacement: np.ndarray, block: int = 65536) -> np.ndarray:
    """Least-squares slope of each row of ``displacement`` (points, dates; NaN = missing) against time, in the
    series' units per year (365.25 days); NaN for a point with fewer than two values. Vectorised in blocks of
    points (``displacement``: an array or a `Series`, read a block at a time)."""
    t = (np.asarray(dates, dtype="datetime64[D]") - np.asarray(dates, dtype="datetime64[D]").min()).astype(
        np.float64) / DAYS_PER_YEAR
    out = np.full(displacement.shape[0], np.nan)
    for start in range(0, displacement.shape[0], block):
        values = np.asarray(displacement[start:start + block], dtype=np.float64)
        valid = ~np.isnan(values)
        y = np.where(valid, values, 0.0)
        count = valid.sum(axis=1).astype(np.float64)
        sum_t, sum_tt = valid @ t, valid @ (t * t)
        sum_y, sum_ty = y.sum(axis=1), y @ t
        denominator = count * sum_tt - sum_t ** 2
        ok = (count >= 2) & (denominator > 1e-12 * np.maximum(count * sum_tt, 1e-300))
        out[start:start + block][ok] = (count * sum_ty - sum_t * sum_y)[ok] / denominator[ok]
    return out


def merge_sources(sources: List[InsarPoints]) -> InsarPoints:
    """Points of several sources (tiles, bursts) in one set: dates are the union (NaN where a source has no
    value), attributes the union of the fields (NaN / None where a source lacks one). The series stay where they
    are (sources not yet taken from or re-referenced)."""
    if len(sources) == 1:
        return sources[0]
    if any(s.displacement.rows is not None or s.displacement.reference is not None for s in sources):
        raise ValueError("Merge the sources before taking points from them or re-referencing them")
    dates = np.unique(np.concatenate([s.dates for s in sources]))
    parts = [(values, np.searchsorted(dates, source.dates)[columns], factor) for source in sources
             for values, columns, factor in source.displacement.parts]
    names = list(dict.fromkeys(name for s in sources for name in s.attributes))
    attributes = {}
    for name in names:
        present = [s.attributes[name] for s in sources if name in s.attributes]
        numeric = all(values.dtype.kind in "fiub" for values in present)
        attributes[name] = np.concatenate([
            (s.attributes[name].astype(np.float64) if numeric else s.attributes[name].astype(object))
            if name in s.attributes else np.full(len(s), np.nan if numeric else None, dtype=float if numeric
                                                 else object)
            for s in sources])
    return InsarPoints(pid=np.concatenate([s.pid for s in sources]), x=np.concatenate([s.x for s in sources]),
                       y=np.concatenate([s.y for s in sources]), dates=dates,
                       displacement=Series(parts, dates.size),
                       velocity=np.concatenate([s.velocity for s in sources]),
                       velocity_std=np.concatenate([s.velocity_std for s in sources]),
                       los=np.concatenate([s.los for s in sources]), attributes=attributes,
                       velocity_refitted=any(s.velocity_refitted for s in sources),
                       source=np.repeat(np.arange(len(sources)), [len(s) for s in sources]))


def duplicate_points(points: InsarPoints, distance: float = 1.0) -> np.ndarray:
    """Mask of the points to drop as duplicates: points with the same pid, and points of different sources
    (tiles, bursts) within ``distance`` (CRS units, m) of each other, form a group (transitively), of which one
    is kept: the lowest ``rmse`` where the source has it, else the highest coherence, else the first. Points of
    one source at one position are distinct measurement points (P-SBAS exports hold such pairs) and all kept."""
    n = len(points)
    if n < 2:
        return np.zeros(n, dtype=bool)
    close = cKDTree(np.column_stack([points.x, points.y])).query_pairs(distance, output_type="ndarray")
    source = points.sources()
    pairs = [close[source[close[:, 0]] != source[close[:, 1]]]]
    _, first_of_pid, pid_group = np.unique(points.pid.astype(str), return_index=True, return_inverse=True)
    pairs.append(np.column_stack([np.arange(n), first_of_pid[pid_group.ravel()]]))
    links = np.concatenate(pairs)
    graph = sparse.coo_matrix((np.ones(len(links), dtype=np.int8), (links[:, 0], links[:, 1])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    names = list(points.attributes)
    rmse_name, coherence_name = find_column(names, RMSE_NAMES), find_column(names, COHERENCE_NAMES)
    score = np.zeros(n)
    if rmse_name is not None:
        score = np.nan_to_num(_numeric(points.attributes[rmse_name], rmse_name), nan=np.inf)
    elif coherence_name is not None:
        score = -np.nan_to_num(_numeric(points.attributes[coherence_name], coherence_name), nan=-np.inf)
    order = np.lexsort((np.arange(n), score, group))  # by group, best score first, then first in the input
    best = np.zeros(n, dtype=bool)
    first_in_group = np.r_[True, group[order][1:] != group[order][:-1]]
    best[order[first_in_group]] = True
    return ~best


def reference_series(points: InsarPoints, members, block: int = 65536) -> np.ndarray:
    """The series (mm, one value a date) the points are re-referenced to: the mean of the ``members`` (an index,
    indices or a mask: one point, or the points of an area) at each date, NaN where none has a value. Read
    ``block`` members at a time."""
    index, single = row_index(members, len(points))
    if single:
        return points.displacement[index[0]].astype(np.float64)
    if index.size == 0:
        raise ValueError("No measurement point lies in the reference area")
    count, total = np.zeros(points.dates.size), np.zeros(points.dates.size)
    for start in range(0, index.size, block):
        chosen = points.displacement[index[start:start + block]].astype(np.float64)
        count += (~np.isnan(chosen)).sum(axis=0)
        total += np.nansum(chosen, axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def rereferenced(points: InsarPoints, reference: np.ndarray) -> InsarPoints:
    """The points with ``reference`` (mm a date) subtracted from every series and its linear velocity from the
    velocities (a date where the reference has no value becomes NaN)."""
    reference = np.asarray(reference, dtype=np.float64)
    if np.isnan(reference).all():
        raise ValueError("The reference has no value at any date")
    shift = linear_velocity(points.dates, reference[None, :])[0]
    return replace(points, displacement=points.displacement.minus(reference), velocity=points.velocity - shift)
