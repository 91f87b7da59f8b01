"""InSAR points against GNSS stations (seed 002 §IV-A: the measurement points within 1 km of the GPS station,
RMSE of the velocities before and after the optimisation; 1.79 cm/yr after).

Readers return each station's daily east / north / up displacement in mm relative to its first epoch:

* Nevada Geodetic Laboratory ``.tenv3`` (README_tenv3.txt, geodesy.unr.edu): columns site, YYMMMDD, decimal year,
  MJD, GPS week, day, reference meridian (deg), e0 + east, n0 + north, u0 + up (m, integer + fractional parts),
  antenna height, sigmas, correlations and, in the newer 23-column files, latitude, longitude, height;
* EarthScope / UNAVCO PBO ``.pos`` (format 1.1.0): the field line ``*YYYYMMDD HHMMSS JJJJJ.JJJJ X Y Z ... NLat Elong
  Height dN dE dU ...`` names the columns; dN, dE, dU in m from the NEU reference position of the header;
* a long table ``station, date, east, north, up`` in mm (east / north optional, ``latitude`` / ``longitude``
  optional), as the sample area's ``gps_daily`` (``station, date, up_mm``).

Line of sight (LOS): d_LOS = e·E + n·N + u·U with (e, n, u) the unit vector from the ground to the satellite
(EGMS ``los_east/north/up``, ESA GEP P-SBAS ``cosE/cosN/cosU``), so a positive d_LOS is a motion towards the
satellite and subsidence (U < 0) is negative, as the InSAR products report it. From the incidence angle θ and the
satellite heading α (flight direction, degrees clockwise from north) of a right-looking SAR (Sentinel-1):
(e, n, u) = (−sin θ cos α, sin θ sin α, cos θ) (Fialko, Simons & Agnew 2001, GRL 28(16), eq. 1; Hanssen 2001).

References are aligned by subtracting each series' mean over the dates they share (a single first date would carry
its own noise into every epoch). GNSS days are averaged within ± a half window around each InSAR date.
"""
from __future__ import annotations

import csv
import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy.spatial import cKDTree

from ..progress import CancelCheck, ProgressCallback, Steps

MM_PER_M = 1000.0
DAYS_PER_YEAR = 365.25
MJD_ZERO = np.datetime64("1858-11-17", "D")
WGS84_A = 6378137.0
WGS84_E2 = 6.69437999014e-3

STATION_NAMES = ("station", "site", "name", "station_id", "id", "code")
DATE_NAMES = ("date", "day", "epoch", "time", "yyyymmdd")
EAST_NAMES = ("east", "east_mm", "e", "de", "de_mm")
NORTH_NAMES = ("north", "north_mm", "n", "dn", "dn_mm")
UP_NAMES = ("up", "up_mm", "u", "du", "du_mm", "vertical", "vertical_mm")
LAT_NAMES = ("latitude", "lat")
LON_NAMES = ("longitude", "lon", "long")
LOS_NAMES = (("los_e", "los_east", "cose"), ("los_n", "los_north", "cosn"), ("los_u", "los_up", "cosu"))
INCIDENCE_NAMES = ("incidence", "incidence_angle", "inc_angle", "theta")
HEADING_NAMES = ("heading", "heading_angle", "sat_heading")
TABLE_LAYOUT = "station, date, up (mm; east, north optional)"

_TENV3_DATE = re.compile(r"^\d{2}[A-Z]{3}\d{2}$")
_TENV3_NEEDED = {3: "mjd", 6: "reflon", 7: "e0(m)", 8: "east(m)", 9: "n0(m)", 10: "north(m)", 11: "u0(m)",
                 12: "up(m)"}


@dataclass
class GnssStation:
    """One station's daily displacement (mm, relative to its first epoch; NaN where a component is unknown) at
    ``dates`` (datetime64[D], increasing, one a day), and its WGS84 position (degrees; NaN when the file has none)."""

    name: str
    dates: np.ndarray
    east: np.ndarray
    north: np.ndarray
    up: np.ndarray
    lat: float = math.nan
    lon: float = math.nan
    source: str = ""

    @property
    def has_horizontal(self) -> bool:
        return bool(np.isfinite(self.east).any() and np.isfinite(self.north).any())

    @property
    def enu(self) -> np.ndarray:
        """(3, days) east, north, up in mm."""
        return np.vstack([self.east, self.north, self.up])


def _station(name: str, dates: np.ndarray, enu: np.ndarray, lat: float, lon: float, source: str) -> GnssStation:
    """Daily means of the rows of one station (several epochs a day averaged), each component relative to its first
    value."""
    days, where = np.unique(dates.astype("datetime64[D]"), return_inverse=True)
    total = np.zeros((3, days.size))
    count = np.zeros((3, days.size))
    for k in range(3):
        ok = np.isfinite(enu[k])
        total[k] = np.bincount(where[ok], enu[k][ok], days.size)
        count[k] = np.bincount(where[ok], minlength=days.size)
    with np.errstate(invalid="ignore"):
        daily = total / count
    for k in range(3):
        known = np.flatnonzero(np.isfinite(daily[k]))
        if known.size:
            daily[k] -= daily[k, known[0]]
    return GnssStation(name, days, daily[0], daily[1], daily[2], lat, lon if math.isnan(lon) else
                       (lon + 180.0) % 360.0 - 180.0, source)


def _latitude_of_northing(northing: float) -> float:
    """WGS84 latitude (degrees) whose meridian arc from the equator is ``northing`` (m), by Newton's method."""
    e2 = WGS84_E2
    c = (1 - e2 / 4 - 3 * e2 ** 2 / 64 - 5 * e2 ** 3 / 256, 3 * e2 / 8 + 3 * e2 ** 2 / 32 + 45 * e2 ** 3 / 1024,
         15 * e2 ** 2 / 256 + 45 * e2 ** 3 / 1024, 35 * e2 ** 3 / 3072)
    phi = northing / WGS84_A
    for _ in range(6):
        arc = WGS84_A * (c[0] * phi - c[1] * math.sin(2 * phi) + c[2] * math.sin(4 * phi) - c[3] * math.sin(6 * phi))
        phi += (northing - arc) * (1 - e2 * math.sin(phi) ** 2) ** 1.5 / (WGS84_A * (1 - e2))
    return math.degrees(phi)


def read_tenv3(path: str) -> GnssStation:
    """An NGL ``.tenv3`` file: 20 columns (README_tenv3.txt) or 23 with latitude, longitude and height; the position
    from the last two, else from the reference meridian, the eastings along the parallel and the northings (meridian
    arc from the equator)."""
    with open(path, encoding="utf-8", errors="replace") as stream:
        lines = [line.split() for line in stream if line.strip()]
    if lines and lines[0][0].lower() == "site":
        header = [name.strip("_").lower() for name in lines.pop(0)]
        wrong = {i: name for i, name in _TENV3_NEEDED.items() if i >= len(header) or header[i] != name}
        if wrong:
            raise ValueError(f"{path}: the tenv3 header has {' '.join(header[:13])}; needed in columns 4, 7-13: "
                             f"{', '.join(_TENV3_NEEDED.values())}")
    widths = {len(row) for row in lines}
    if not lines or not widths <= {20, 23} or any(not _TENV3_DATE.match(row[1]) for row in lines[:5]):
        first = " ".join(lines[0][:3]) if lines else "(none)"
        raise ValueError(f"{path}: found rows of {sorted(widths)} columns starting {first!r}; a tenv3 file needs "
                         "20 or 23 columns: site, YYMMMDD, decimal year, MJD, week, day, reference meridian, e0, "
                         "east, n0, north, u0, up (m), ...")
    table = np.array([row[:23] + [""] * (23 - len(row)) for row in lines], dtype=object)
    numbers = table[:, 3:13].astype(np.float64)
    dates = MJD_ZERO + np.floor(numbers[:, 0]).astype("timedelta64[D]")
    enu = np.vstack([numbers[:, 4] + numbers[:, 5], numbers[:, 6] + numbers[:, 7], numbers[:, 8] + numbers[:, 9]])
    if widths == {23}:
        lat, lon = float(table[0, 20]), float(table[0, 21])
    else:
        lat = _latitude_of_northing(enu[1, 0])
        radius = WGS84_A / math.sqrt(1 - WGS84_E2 * math.sin(math.radians(lat)) ** 2) * math.cos(math.radians(lat))
        lon = numbers[0, 3] + math.degrees(enu[0, 0] / radius)
    return _station(str(table[0, 0]), dates, enu * MM_PER_M, lat, lon, path)


def read_pos(path: str) -> GnssStation:
    """An EarthScope / UNAVCO PBO ``.pos`` file (format 1.1.0): the columns named by its ``*YYYYMMDD ...`` field line,
    dN, dE, dU (m) and the station's 4-character ID and NEU reference position (latitude, east longitude) from the
    header."""
    with open(path, encoding="utf-8", errors="replace") as stream:
        lines = stream.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("*")), None)
    if start is None:
        first = lines[0][:60] if lines else ""
        raise ValueError(f"{path}: no field line starting with '*YYYYMMDD' (first line: {first!r}); a PBO .pos file "
                         "names its columns in it")
    names = [name.lower() for name in lines[start].lstrip("*").split()]
    needed = ("yyyymmdd", "dn", "de", "du")
    if any(name not in names for name in needed):
        raise ValueError(f"{path}: the field line has {', '.join(names)}; needed: YYYYMMDD, dN, dE, dU")
    header = {key.strip().lower(): value.strip() for key, _, value in
              (line.partition(":") for line in lines[:start] if ":" in line)}
    rows = [line.split() for line in lines[start + 1:] if line.strip()]
    short = [i for i, row in enumerate(rows) if len(row) < len(names) - 1]
    if not rows or short:
        raise ValueError(f"{path}: {len(short)} row(s) with fewer than {len(names) - 1} columns (first at line "
                         f"{start + 2 + (short[0] if short else 0)})")
    table = np.array([row[:len(names)] for row in rows], dtype=object)
    days = table[:, names.index("yyyymmdd")].astype(str)
    dates = np.array([f"{d[:4]}-{d[4:6]}-{d[6:8]}" for d in days], dtype="datetime64[D]")
    enu = np.vstack([table[:, names.index(name)].astype(np.float64) for name in ("de", "dn", "du")])
    reference = header.get("neu reference position", "").split()
    lat, lon = (float(reference[0]), float(reference[1])) if len(reference) >= 2 else (math.nan, math.nan)
    name = header.get("4-character id") or os.path.basename(path).split(".")[0]
    return _station(name, dates, enu * MM_PER_M, lat, lon, path)


def _find(names: Sequence[str], candidates: Sequence[str]) -> Optional[str]:
    lower = {name.lower(): name for name in reversed(list(names))}
    return next((lower[c] for c in candidates if c in lower), None)


def parse_dates(values: np.ndarray) -> np.ndarray:
    """datetime64[D] of dates given as datetime64 or text (YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD, with or without a
    time); a clear error for anything else."""
    values = np.asarray(values)
    if values.dtype.kind == "M":
        return values.astype("datetime64[D]")
    text = np.array([str(v).strip()[:10].replace("/", "-") for v in values.tolist()], dtype=object)
    compact = np.array([len(t) >= 8 and t[:8].isdigit() for t in text])
    text[compact] = [f"{t[:4]}-{t[4:6]}-{t[6:8]}" for t in text[compact]]
    try:
        return text.astype("datetime64[D]")
    except ValueError:
        bad = next(t for t in text if not re.match(r"^\d{4}-\d{2}-\d{2}$", t))
        raise ValueError(f"the date {bad!r} is not written YYYY-MM-DD or YYYYMMDD") from None


def _numbers(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.dtype.kind in "fiub":
        return values.astype(np.float64)
    text = np.array(["nan" if v is None or str(v).strip() == "" else str(v).replace(",", ".")
                     for v in values.tolist()], dtype=object)
    try:
        return text.astype(np.float64)
    except ValueError:
        raise ValueError(f"column {name!r} holds values that are not numbers") from None


def stations_from_table(columns: Dict[str, np.ndarray], source: str = "table") -> List[GnssStation]:
    """Stations of a long table (one row a station and date): columns station, date, up and optionally east, north
    (mm) and latitude, longitude (degrees), recognised by name (e.g. ``up_mm``)."""
    names = list(columns)
    station, date, up = (_find(names, STATION_NAMES), _find(names, DATE_NAMES), _find(names, UP_NAMES))
    if station is None or date is None or up is None:
        raise ValueError(f"{source}: found the columns {', '.join(names)}; needed {TABLE_LAYOUT}")
    east, north = _find(names, EAST_NAMES), _find(names, NORTH_NAMES)
    try:
        dates = parse_dates(columns[date])
    except ValueError as error:
        raise ValueError(f"{source}: {error}") from None
    n = dates.size
    enu = np.vstack([_numbers(columns[c], c) if c else np.full(n, np.nan) for c in (east, north, up)])
    lat_name, lon_name = _find(names, LAT_NAMES), _find(names, LON_NAMES)
    lat = _numbers(columns[lat_name], lat_name) if lat_name and lon_name else np.full(n, np.nan)
    lon = _numbers(columns[lon_name], lon_name) if lat_name and lon_name else np.full(n, np.nan)
    ids = np.array([str(v).strip() for v in np.asarray(columns[station]).tolist()], dtype=object)
    out = []
    for name in sorted(set(ids.tolist())):
        rows = np.flatnonzero(ids == name)
        out.append(_station(name, dates[rows], enu[:, rows], float(np.nanmean(lat[rows])) if np.isfinite(
            lat[rows]).any() else math.nan, float(np.nanmean(lon[rows])) if np.isfinite(lon[rows]).any() else math.nan,
            source))
    return out


def read_gnss_table(path: str) -> List[GnssStation]:
    """A delimited text file (comma, semicolon or tab) with a header: `stations_from_table`."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as stream:
        lines = stream.read().splitlines()
    if len(lines) < 2:
        raise ValueError(f"{path}: no rows below the header; needed {TABLE_LAYOUT}")
    separator = max((",", ";", "\t"), key=lines[0].count)
    rows = [row for row in csv.reader(lines, delimiter=separator) if row]
    header = [name.strip() for name in rows[0]]
    body = [row + [""] * (len(header) - len(row)) for row in rows[1:]]
    table = np.array([row[:len(header)] for row in body], dtype=object).reshape(len(body), len(header))
    return stations_from_table({name: table[:, i] for i, name in enumerate(header)}, path)


def read_gnss_file(path: str) -> List[GnssStation]:
    """The stations of a GNSS file, its layout recognised from its content: NGL ``.tenv3``, PBO ``.pos`` or a long
    table; a ValueError naming what was found and what is needed otherwise."""
    if not os.path.isfile(path):
        raise ValueError(f"GNSS file not found: {path}")
    with open(path, encoding="utf-8", errors="replace") as stream:
        head = [line for line in (stream.readline() for _ in range(40)) if line.strip()]
    if not head:
        raise ValueError(f"{path}: the file is empty")
    tokens = head[0].split()
    if head[0].startswith("PBO Station Position") or any(line.startswith("*YYYYMMDD") for line in head):
        return [read_pos(path)]
    if tokens[0].lower() == "site" or (len(tokens) > 1 and _TENV3_DATE.match(tokens[1])):
        return [read_tenv3(path)]
    separator = max((",", ";", "\t"), key=head[0].count)
    names = [name.strip().lower() for name in head[0].split(separator)] if head[0].count(separator) else tokens
    if _find(names, STATION_NAMES) is not None or _find(names, DATE_NAMES) is not None:
        return read_gnss_table(path)
    raise ValueError(f"{path}: not a GNSS series this plugin reads (first line: {head[0].strip()[:80]!r}); needed "
                     f"an NGL .tenv3, an EarthScope/UNAVCO PBO .pos or a table with the columns {TABLE_LAYOUT}")


def linear_velocities(dates: np.ndarray, series: np.ndarray) -> tuple:
    """Least-squares slope (units per year of 365.25 days) of each row of ``series`` (rows x dates; NaN = missing)
    and its standard error under white noise, sqrt(RSS / (n − 2) / Σ(t − t̄)²) (optimistic for GNSS, whose noise is
    coloured); NaN below 2 values (slope) or 3 values (error). Vectorised over the rows."""
    values = np.atleast_2d(np.asarray(series, dtype=np.float64))
    t = (np.asarray(dates, dtype="datetime64[D]") - np.asarray(dates, dtype="datetime64[D]").min()).astype(
        np.float64) / DAYS_PER_YEAR
    valid = np.isfinite(values)
    count = valid.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = (valid @ t) / count
        y_mean = np.where(valid, values, 0.0).sum(axis=1) / count
        dt = np.where(valid, t[None, :] - t_mean[:, None], 0.0)
        dy = np.where(valid, values - y_mean[:, None], 0.0)
        sxx, sxy, syy = (dt * dt).sum(axis=1), (dt * dy).sum(axis=1), (dy * dy).sum(axis=1)
        slope = np.where((count >= 2) & (sxx > 0), sxy / sxx, np.nan)
        rss = np.maximum(syy - slope * sxy, 0.0)
        error = np.where(count >= 3, np.sqrt(rss / (count - 2) / sxx), np.nan)
    return slope, error


def average_at_dates(days: np.ndarray, values: np.ndarray, dates: np.ndarray, half_window: int = 3) -> np.ndarray:
    """Mean of the daily ``values`` (rows x days; NaN = missing) within ± ``half_window`` days of each of ``dates``:
    (rows x dates), NaN where no day in the window has a value. Cumulative sums over the days: no loop."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    days = np.asarray(days, dtype="datetime64[D]")
    offset = (days - days[0]).astype(np.int64)
    span = int(offset[-1]) + 1
    grid = np.zeros((values.shape[0], span))
    known = np.zeros((values.shape[0], span))
    ok = np.isfinite(values)
    grid[:, offset] = np.where(ok, values, 0.0)
    known[:, offset] = ok
    total = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(grid, axis=1)], axis=1)
    count = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(known, axis=1)], axis=1)
    centre = (np.asarray(dates, dtype="datetime64[D]") - days[0]).astype(np.int64)
    low = np.clip(centre - half_window, 0, span)
    high = np.clip(centre + half_window + 1, 0, span)
    n = count[:, high] - count[:, low]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (total[:, high] - total[:, low]) / n, np.nan)


def los_from_angles(incidence: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """(points, 3) ground-to-satellite unit vectors (east, north, up) of a right-looking SAR from the incidence angle
    and the heading (flight direction clockwise from north), both in degrees (Fialko et al. 2001)."""
    theta, alpha = np.radians(np.asarray(incidence, dtype=np.float64)), np.radians(np.asarray(heading, np.float64))
    return np.column_stack(np.broadcast_arrays(-np.sin(theta) * np.cos(alpha), np.sin(theta) * np.sin(alpha),
                                               np.cos(theta)))


def unit_los(vectors: np.ndarray) -> tuple:
    """(unit vectors, number flipped): each row of (points, 3) east, north, up scaled to length 1 and turned to point
    from the ground to the satellite (up ≥ 0); rows with a NaN or of length 0 stay NaN."""
    vectors = np.asarray(vectors, dtype=np.float64)
    length = np.linalg.norm(vectors, axis=1)
    ok = np.isfinite(length) & (length > 0)
    out = np.full(vectors.shape, np.nan)
    out[ok] = vectors[ok] / length[ok, None]
    flip = ok & (out[:, 2] < 0)
    out[flip] *= -1.0
    return out, int(flip.sum())


def los_of_attributes(attributes: Dict[str, np.ndarray], incidence: Optional[float] = None,
                      heading: Optional[float] = None) -> tuple:
    """(points, 3) LOS unit vectors (NaN rows where unknown) and a sentence saying where they came from: the
    fields LOS_E/N/U, los_east/north/up or cosE/cosN/cosU; else incidence and heading fields (degrees); else the
    ``incidence`` and ``heading`` given (degrees, the same for every point); else all NaN (no LOS known)."""
    names = list(attributes)
    n = len(next(iter(attributes.values()))) if attributes else 0
    found = [_find(names, candidates) for candidates in LOS_NAMES]
    if all(found):
        vectors, flipped = unit_los(np.column_stack([_numbers(attributes[f], f) for f in found]))
        note = f" ({flipped} pointing down were turned to point to the satellite)" if flipped else ""
        return vectors, f"the LOS vector of the fields {', '.join(found)}{note}"
    angle_fields = _find(names, INCIDENCE_NAMES), _find(names, HEADING_NAMES)
    if all(angle_fields):
        vectors = los_from_angles(_numbers(attributes[angle_fields[0]], angle_fields[0]),
                                  _numbers(attributes[angle_fields[1]], angle_fields[1]))
        return vectors, f"the LOS from the incidence ({angle_fields[0]}) and heading ({angle_fields[1]}) fields"
    if incidence is not None and heading is not None:
        return np.repeat(los_from_angles(incidence, heading), n, axis=0), \
            f"the LOS of incidence {incidence:g}° and heading {heading:g}°"
    return np.full((n, 3), np.nan), "no LOS vector (the InSAR values are taken as vertical)"


@dataclass
class PointSet:
    """InSAR points in metres: x, y, series (points x ``dates``, mm; NaN = missing), velocity (mm/yr; NaN: fitted
    from the series over the common period) and LOS unit vectors (points x 3; NaN rows: unknown)."""

    x: np.ndarray
    y: np.ndarray
    dates: np.ndarray
    series: np.ndarray
    velocity: np.ndarray
    los: np.ndarray

    def __post_init__(self):
        self.tree = cKDTree(np.column_stack([self.x, self.y]))


@dataclass
class StationResult:
    """One station against the points within the radius: velocities in mm/yr in the compared component (the
    points' LOS, or vertical), differences InSAR − GNSS; ``status`` says why a result is missing."""

    station: str
    status: str
    n_points: int = 0
    n_dates: int = 0
    gnss_velocity: float = math.nan
    gnss_velocity_se: float = math.nan
    insar_velocity: float = math.nan
    velocity_rmse: float = math.nan
    velocity_bias: float = math.nan
    series_rmse: float = math.nan
    series_pairs: int = 0
    points: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    velocity_difference: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dates: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="datetime64[D]"))
    insar_series: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    gnss_series: np.ndarray = field(default_factory=lambda: np.zeros(0))
    gnss_days: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="datetime64[D]"))
    gnss_daily: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _aligned(values: np.ndarray, common: np.ndarray) -> np.ndarray:
    """Rows minus their mean over the ``common`` entries (NaN elsewhere)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(common, values, 0.0).sum(axis=1) / common.sum(axis=1)
    return np.where(common, values - mean[:, None], np.nan)


def compare_station(station: GnssStation, x: float, y: float, points: PointSet, radius: float, vertical: bool,
                    half_window: int = 3) -> StationResult:
    """The points within ``radius`` (m) of the station at (x, y): GNSS projected on each point's LOS (U alone where
    the point has none or ``vertical``; with ``vertical`` the InSAR LOS values are divided by the LOS up component,
    assuming no horizontal motion), both velocities by least squares over the period both cover (or the points' own
    velocities), velocity RMSE and bias (InSAR − GNSS), and the series RMSE over the InSAR dates with a GNSS
    average (± ``half_window`` days) after removing each series' mean over those dates, pooled over the points."""
    index = np.asarray(points.tree.query_ball_point([x, y], radius), dtype=np.int64)
    index.sort()
    if index.size == 0:
        return StationResult(station.name, f"no point within {radius:g} m")
    first, last = max(station.dates[0], points.dates[0]), min(station.dates[-1], points.dates[-1])
    if first >= last:
        return StationResult(station.name, f"no overlap in time (GNSS {station.dates[0]} … {station.dates[-1]}, "
                                           f"InSAR {points.dates[0]} … {points.dates[-1]})", n_points=int(index.size))
    columns = np.flatnonzero((points.dates >= first) & (points.dates <= last))
    days = (station.dates >= first) & (station.dates <= last)
    los = points.los[index]
    known = np.isfinite(los).all(axis=1)
    insar = points.series[np.ix_(index, columns)]
    velocity = points.velocity[index].astype(np.float64)
    weights = np.where(known[:, None], los, [0.0, 0.0, 1.0])
    if vertical:
        up = np.where(known & (np.abs(los[:, 2]) > 0.1), los[:, 2], np.nan)
        up = np.where(known, up, 1.0)
        insar, velocity = insar / up[:, None], velocity / up
        weights = np.tile([0.0, 0.0, 1.0], (index.size, 1))
    enu = station.enu
    if not station.has_horizontal:
        enu = np.vstack([np.zeros((2, enu.shape[1])), enu[2:]])
    component_velocity, component_error = linear_velocities(station.dates[days], enu[:, days])
    gnss_velocity = weights @ np.nan_to_num(component_velocity)
    gnss_error = np.sqrt((weights ** 2) @ np.nan_to_num(component_error) ** 2)
    fitted = linear_velocities(points.dates[columns], insar)[0]
    velocity = np.where(np.isfinite(velocity), velocity, fitted)
    difference = velocity - gnss_velocity
    averaged = average_at_dates(station.dates[days], enu[:, days], points.dates[columns], half_window)
    gnss = weights @ averaged
    common = np.isfinite(insar) & np.isfinite(gnss)
    residual = _aligned(insar, common) - _aligned(gnss, common)
    pairs = int(common.sum())
    ok = np.isfinite(difference)
    mean_weights = weights.mean(axis=0)
    daily = mean_weights @ enu[:, days]
    at_dates = mean_weights @ averaged
    present = np.isfinite(at_dates) & common.any(axis=0)
    return StationResult(
        station.name, "ok" if pairs and ok.any() else "no common dates", n_points=int(index.size),
        n_dates=int(common.any(axis=0).sum()), gnss_velocity=float(np.mean(gnss_velocity)),
        gnss_velocity_se=float(np.mean(gnss_error)), insar_velocity=float(np.mean(velocity[ok])) if ok.any() else
        math.nan, velocity_rmse=float(np.sqrt(np.mean(difference[ok] ** 2))) if ok.any() else math.nan,
        velocity_bias=float(np.mean(difference[ok])) if ok.any() else math.nan,
        series_rmse=float(np.sqrt(np.nansum(residual ** 2) / pairs)) if pairs else math.nan, series_pairs=pairs,
        points=index,
        velocity_difference=difference, dates=points.dates[columns], insar_series=_aligned(insar, common),
        gnss_series=np.where(present, at_dates - np.nanmean(at_dates[present]) if present.any() else 0.0, np.nan),
        gnss_days=station.dates[days], gnss_daily=daily - (np.nanmean(at_dates[present]) if present.any() else 0.0))


def compare_stations(stations: Sequence[GnssStation], xy: np.ndarray, points: PointSet, radius: float,
                     vertical: bool, half_window: int = 3, progress: Optional[ProgressCallback] = None,
                     is_cancelled: Optional[CancelCheck] = None) -> List[StationResult]:
    """`compare_station` for each station at ``xy`` (stations x 2, m, the points' metric CRS); a station outside the
    points' extent grown by the radius is reported so, without a search."""
    steps = Steps(max(len(stations), 1), progress, is_cancelled)
    x0, y0, x1, y1 = points.x.min() - radius, points.y.min() - radius, points.x.max() + radius, points.y.max() + radius
    results = []
    for station, (x, y) in zip(stations, np.asarray(xy, dtype=np.float64)):
        if not (x0 <= x <= x1 and y0 <= y <= y1):
            results.append(StationResult(station.name, "outside the points' extent"))
        else:
            results.append(compare_station(station, x, y, points, radius, vertical, half_window))
        steps.advance(f"station {station.name}")
    return results


def gnss_report(path: str, title: str, results: Dict[str, List[StationResult]], xy: np.ndarray,
                point_xy: Dict[str, tuple], component: str, radius: float) -> str:
    """An HTML report: the table of every station and layer, a map of the stations, their radius and the points
    used (coloured by InSAR − GNSS velocity), and each station's GNSS series overlaid with the nearby InSAR series
    (both relative to their mean over the common dates). ``results`` and ``point_xy`` ({layer: (x, y)}, m) by
    layer name (e.g. all points / screened)."""
    from ..reports.html import HtmlReport, new_figure

    report = HtmlReport(title, f"component: {component}; radius {radius:g} m")
    report.paragraph("Velocities in mm/yr by least squares over the period GNSS and InSAR share; differences InSAR − "
                     "GNSS; series RMSE (mm) over the InSAR dates with a GNSS average, after removing each series' "
                     "mean over those dates. Seed 002 (§IV-A) reports a velocity RMSE of 1.79 cm/yr after screening.")
    header = ["layer", "station", "status", "points", "dates", "GNSS (mm/yr)", "± (mm/yr)", "InSAR (mm/yr)",
              "RMSE (mm/yr)", "bias (mm/yr)", "series RMSE (mm)"]
    report.table([[layer, r.station, r.status, r.n_points, r.n_dates, r.gnss_velocity, r.gnss_velocity_se,
                   r.insar_velocity, r.velocity_rmse, r.velocity_bias, r.series_rmse]
                  for layer, rows in results.items() for r in rows], header)
    fig, ax = new_figure(6.0, 5.0)
    layer, rows = next(iter(results.items()))
    px, py = point_xy[layer]
    step = max(1, px.size // 20000)
    ax.scatter(px[::step], py[::step], s=1, color="#b0b0b0", lw=0, label="InSAR points")
    used = [r for r in rows if r.n_points and r.velocity_difference.size]
    if used:
        index = np.concatenate([r.points for r in used])
        difference = np.concatenate([r.velocity_difference for r in used])
        vmax = float(np.nanpercentile(np.abs(difference), 98)) if np.isfinite(difference).any() else 1.0
        dots = ax.scatter(px[index], py[index], c=difference, s=5, cmap="RdBu", vmin=-(vmax or 1.0), vmax=vmax or 1.0)
        fig.colorbar(dots, ax=ax, label="InSAR − GNSS velocity (mm/yr)")
    angles = np.linspace(0, 2 * np.pi, 90)
    for r, (x, y) in zip(rows, xy):
        ax.plot(x + radius * np.cos(angles), y + radius * np.sin(angles), color="#404040", lw=0.7)
        ax.plot(x, y, "^", color="black", ms=7)
        ax.annotate(r.station, (x, y), xytext=(4, 4), textcoords="offset points", fontsize=8)
    ax.set_aspect("equal")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.set_xlabel("easting (m)", fontsize=8)
    ax.set_ylabel("northing (m)", fontsize=8)
    ax.tick_params(labelsize=7)
    report.heading("Map")
    report.figure(fig, "Stations (triangles) with their radius; the points used, coloured by InSAR − GNSS velocity")
    report.heading("Series")
    for k, r in enumerate(rows):
        if not r.n_points or not r.dates.size:
            continue
        fig, ax = new_figure(6.0, 3.2)
        ax.plot(r.gnss_days, r.gnss_daily, ".", ms=1.5, color="#9ecae1", label="GNSS daily")
        for (layer, layer_rows), colour in zip(results.items(), ("#d95f02", "#1b9e77")):
            other = layer_rows[k]
            if other.insar_series.size:
                ax.plot(other.dates, other.insar_series.T, color=colour, lw=0.4, alpha=0.25)
                ax.plot(other.dates, np.nanmean(other.insar_series, axis=0), color=colour, lw=1.8,
                        label=f"InSAR, mean of {other.n_points} points ({layer})")
        ax.plot(r.dates, r.gnss_series, color="#08519c", lw=1.8, label="GNSS averaged at the InSAR dates")
        ax.set_ylabel(f"{component} displacement (mm)")
        ax.set_title(f"{r.station}: series RMSE {r.series_rmse:.2f} mm, velocity RMSE {r.velocity_rmse:.2f} mm/yr",
                     fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.autofmt_xdate()
        report.figure(fig, f"{r.station}: each series relative to its mean over the common dates")
    return report.write(path)
