"""The data behind the Time series dock's plot, without Qt or QGIS: curves of displacement (mm) and groundwater
head (m) by date, the mean and spread of the points in an area, re-referencing to one point, the forecast fields
of the series algorithms and the CSV export.

Forecast fields: ``PYYYYMMDD`` (held-out forecast of subsidence:trainseriesmodel), ``FYYYYMMDD`` (forecast of
subsidence:forecastseries) with an optional band ``FLO_YYYYMMDD`` / ``FHI_YYYYMMDD``; the date part is read by
the plugin's one date-field parser (`core.io.points.date_of_field`).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ...core.io.points import date_of_field

DISPLACEMENT, HEAD = "mm", "m"
HELDOUT, FORECAST, LOW, HIGH = "P", "F", "FLO_", "FHI_"


@dataclass
class Curve:
    """One plotted quantity: ``values`` at ``dates`` (datetime64[D]) in ``unit`` (mm: displacement, left axis;
    m: head, right axis). ``kind`` is observed, area, heldout, forecast or head; curves of one point share
    ``colour``. An area curve carries the standard deviation and count per date, a forecast its band; a curve
    re-referenced to a point names it in ``reference``."""

    label: str
    dates: np.ndarray
    values: np.ndarray
    unit: str = DISPLACEMENT
    kind: str = "observed"
    colour: int = 0
    std: Optional[np.ndarray] = None
    count: Optional[np.ndarray] = None
    low: Optional[np.ndarray] = None
    high: Optional[np.ndarray] = None
    reference: str = ""

    def band(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """(low, high): mean ± 1 standard deviation of an area, a forecast's band, else None."""
        if self.std is not None:
            return self.values - self.std, self.values + self.std
        if self.low is not None and self.high is not None:
            return self.low, self.high
        return None


def dated_fields(names: Sequence[str], prefix: str = "") -> List[Tuple[np.datetime64, str]]:
    """(date, field name) of the fields named ``prefix`` + a date, by date. Prefix "": the series fields
    (``DYYYYMMDD``, ``D_YYYYMMDD``, ``YYYYMMDD``); "P", "F", "FLO_", "FHI_": the forecast fields."""
    found = []
    for name in names:
        if prefix and not (name.startswith(prefix) and len(name) == len(prefix) + 8):
            continue
        date = date_of_field(name[len(prefix):])
        if date is not None:
            found.append((date, name))
    return sorted(found)


class AreaStatistics:
    """Mean, sample standard deviation (n − 1) and count per date of many points' series, added block by block
    (the pairwise update of Chan, Golub and LeVeque, 1983) so memory stays bounded; NaN is no value."""

    def __init__(self, dates: int):
        self.n = np.zeros(dates)
        self.mean = np.zeros(dates)
        self.m2 = np.zeros(dates)

    def add(self, block: np.ndarray) -> None:
        """Add the series of some points: (points, dates)."""
        block = np.asarray(block, dtype=np.float64)
        valid = np.isfinite(block)
        count = valid.sum(axis=0).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, np.where(valid, block, 0.0).sum(axis=0) / count, 0.0)
            m2 = np.where(valid, (block - mean) ** 2, 0.0).sum(axis=0)
            total = self.n + count
            delta = mean - self.mean
            self.mean = np.where(total > 0, self.mean + delta * count / np.maximum(total, 1.0), 0.0)
            self.m2 = self.m2 + m2 + delta ** 2 * self.n * count / np.maximum(total, 1.0)
        self.n = total

    def result(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mean, standard deviation, count) per date; NaN mean without values, NaN spread below two."""
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(self.n > 0, self.mean, np.nan)
            std = np.where(self.n > 1, np.sqrt(self.m2 / (self.n - 1)), np.nan)
        return mean, std, self.n.astype(np.int64)


def merged_series(curves: Sequence[Curve]) -> Tuple[np.ndarray, np.ndarray]:
    """(dates, values) of one point's displacement curves joined: the first curve's values, then each further
    curve's values after the last date so far (a series followed by its forecast)."""
    dates, values = np.array([], dtype="datetime64[D]"), np.array([])
    for curve in curves:
        keep = np.isfinite(curve.values)
        if dates.size:
            keep &= curve.dates > dates[-1]
        dates = np.concatenate([dates, curve.dates[keep]])
        values = np.concatenate([values, curve.values[keep]])
    return dates, values


def values_at(dates: np.ndarray, series_dates: np.ndarray, series: np.ndarray) -> np.ndarray:
    """A series linearly interpolated in time at ``dates``; NaN outside its first and last value."""
    if series_dates.size == 0:
        return np.full(len(dates), np.nan)
    days = series_dates.astype("datetime64[D]").astype(np.float64)
    return np.interp(np.asarray(dates, dtype="datetime64[D]").astype(np.float64), days, series,
                     left=np.nan, right=np.nan)


def rereferenced(curves: Sequence[Curve], reference: Sequence[Curve], name: str) -> List[Curve]:
    """The displacement curves minus the reference point's displacement (its ``reference`` curves joined by
    `merged_series`, interpolated at each curve's dates); heads unchanged. NaN where the reference has no value
    (before its first or after its last date)."""
    dates, values = merged_series(reference)
    out = []
    for curve in curves:
        if curve.unit != DISPLACEMENT:
            out.append(curve)
            continue
        offset = values_at(curve.dates, dates, values)
        out.append(replace(curve, reference=name, values=curve.values - offset,
                           low=None if curve.low is None else curve.low - offset,
                           high=None if curve.high is None else curve.high - offset))
    return out


def _columns(curve: Curve) -> List[Tuple[str, np.ndarray]]:
    unit = f"{curve.unit}, relative to {curve.reference}" if curve.reference else curve.unit
    columns = [(f"{curve.label} ({unit})", curve.values)]
    if curve.std is not None:
        columns.append((f"{curve.label} std ({curve.unit})", curve.std))
    if curve.count is not None:
        columns.append((f"{curve.label} count", curve.count))
    if curve.low is not None and curve.high is not None:
        columns += [(f"{curve.label} low ({unit})", curve.low), (f"{curve.label} high ({unit})", curve.high)]
    return columns


def write_csv(path: str, curves: Sequence[Curve]) -> int:
    """Write the curves as one row a date (ISO 8601) and one column a quantity, ``label (unit)`` or ``label (unit,
    relative to reference)`` (an area's standard deviation and count, a forecast's band beside it); empty where a
    curve has no value that date.
    Returns the number of dates written."""
    dates = np.unique(np.concatenate([c.dates for c in curves])) if curves else np.array([], "datetime64[D]")
    header, table = ["date"], []
    for curve in curves:
        where = np.searchsorted(dates, curve.dates)
        for name, values in _columns(curve):
            column = np.full(dates.size, np.nan)
            column[where] = values
            header.append(name)
            table.append(column)
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for row, date in enumerate(dates):
            writer.writerow([str(date)] + ["" if np.isnan(column[row]) else format(float(column[row]), ".10g")
                                           for column in table])
    return int(dates.size)

