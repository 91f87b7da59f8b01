"""Groundwater storage from GRACE / GRACE-FO TWS and GLDAS land-surface terms (seed 002 §III-C, eq. 1).

ΔGWS = ΔTWS − (ΔSM + ΔCWS + ΔSWE + ΔQS), in mm of water: area means per product on its native grid, anomalies
per product against one baseline period, ΔTWS the mean of the GRACE centres given (seed 002: CSR, JPL, GFZ), each
land-surface term the mean of the GLDAS models given (CLSM, VIC, Noah); a term no model gives counts as 0 and the
result names it. Months without a GRACE solution stay absent (the 2017-07 … 2018-05 GRACE / GRACE-FO gap too).

The area is polygons in longitude / latitude degrees (EPSG:4326): an ``ogr.Geometry``, WKT, WKB, or a list of
these (merged). Longitudes may go beyond 180 (an area across the antimeridian) or be split at ±180; grids in
0 … 360 and −180 … 180 are handled alike. Cell weights are the spherical area (km², R = 6371 km) of each cell's
part inside the area, exact: the polygon is cut by the grid lines in the cylindrical equal-area plane
(λ, sin φ), where plane areas are spherical areas (polygon edges are straight lines in that plane), and each
part's area follows from the boundary integral −∮ y dx (Green's theorem), all edge pieces at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import ogr
from scipy import stats

from ..io.gdal_errors import raising_gdal_errors
from ..io.grid import RasterGrid, crs_wkt_from_epsg
from .compare import lag1_autocorrelation
from .grids import MonthlyGrid

EARTH_RADIUS_KM = 6371.0  # mean Earth radius
GRACE_RESOLUTION_KM = 300.0  # GRACE / GRACE-FO spatial resolution (~300 km; JPL mascons are 3° caps), not the grid
LAND_TERMS = ("sm", "cws", "swe", "qs")
_SLIVER = 1e-9  # overlaps below this share of a cell are rounding, not area


@dataclass
class ProductSeries:
    """One product's area mean (mm, as read) and anomaly (mm, against the baseline) for the months it has data,
    the number of its cells the area uses and its native grid spacing (degrees of latitude, longitude)."""

    source: str
    product: str
    term: str
    months: np.ndarray
    mean_mm: np.ndarray
    anomaly_mm: np.ndarray
    cells: int
    resolution_deg: Tuple[float, float]


@dataclass
class StorageSeries:
    """Area-mean anomalies (mm of water) per month: ΔTWS (mean of the centres), the land-surface terms (mean of
    the models; 0 for the ``missing_terms``), ΔGWS, the number of centres and the spread √(var over the centres'
    ΔTWS + var over the models' ΔSM + ΔCWS + ΔSWE + ΔQS), population variances (0 for a single centre / model)."""

    months: np.ndarray
    tws_mm: np.ndarray
    sm_mm: np.ndarray
    cws_mm: np.ndarray
    swe_mm: np.ndarray
    qs_mm: np.ndarray
    gws_mm: np.ndarray
    n_centres: np.ndarray
    gws_spread_mm: np.ndarray
    products: List[ProductSeries]
    missing_terms: Tuple[str, ...]
    baseline_start: np.datetime64
    baseline_end: np.datetime64
    area_km2: float

    @property
    def below_grace_resolution(self) -> bool:
        """True when the area is smaller than one GRACE footprint (`GRACE_RESOLUTION_KM` squared)."""
        return self.area_km2 < GRACE_RESOLUTION_KM ** 2

    def table(self) -> Dict[str, np.ndarray]:
        """The output table's columns in order: ``month`` (``YYYY-MM`` strings) and the ``*_mm`` / count columns."""
        columns = {"month": self.months.astype(str)}
        for name in ("tws_mm", "sm_mm", "cws_mm", "swe_mm", "qs_mm", "gws_mm", "n_centres", "gws_spread_mm"):
            columns[name] = getattr(self, name)
        return columns


@dataclass
class StorageStack:
    """ΔGWS (mm) per month on a north-up window of the target grid around the area (months x rows x cols, NaN
    outside the area and where no data), its grid (EPSG:4326, no nodata set) and the cell centres."""

    months: np.ndarray
    gws_mm: np.ndarray
    grid: RasterGrid
    lat: np.ndarray
    lon: np.ndarray


@dataclass
class Trend:
    """Linear trend (mm/yr) of a monthly series fitted with annual (and semi-annual) harmonics by OLS, its
    Student-t interval at ``confidence`` with ``n_eff`` from the residuals' lag-1 autocorrelation, the annual
    amplitude (mm) and the month of its peak (0 … 12, 0 = 1 January 00:00), and the fit at every input month."""

    slope_mm_per_year: float
    ci_low_mm_per_year: float
    ci_high_mm_per_year: float
    stderr_mm_per_year: float
    confidence: float
    n: int
    n_eff: float
    residual_lag1: float
    annual_amplitude_mm: float
    annual_peak_month: float
    semiannual_amplitude_mm: float
    fitted_mm: np.ndarray = field(repr=False)


def _month_text(month) -> str:
    return str(np.datetime64(month, "M"))


@raising_gdal_errors
def _area_geometry(area) -> ogr.Geometry:
    """The union of the area's polygons (``ogr.Geometry``, WKT, WKB, or a list / tuple of these)."""
    parts = area if isinstance(area, (list, tuple)) else [area]
    merged = ogr.Geometry(ogr.wkbMultiPolygon)
    for part in parts:
        if isinstance(part, ogr.Geometry):
            geometry = part.Clone()
        elif isinstance(part, (bytes, bytearray, memoryview)):
            geometry = ogr.CreateGeometryFromWkb(bytes(part))
        else:
            geometry = ogr.CreateGeometryFromWkt(str(part))
        geometry.FlattenTo2D()
        kind = ogr.GT_Flatten(geometry.GetGeometryType())
        if kind == ogr.wkbPolygon:
            merged.AddGeometry(geometry)
        elif kind == ogr.wkbMultiPolygon:
            for index in range(geometry.GetGeometryCount()):
                merged.AddGeometry(geometry.GetGeometryRef(index))
        else:
            raise ValueError(f"The area must be polygons, got {ogr.GeometryTypeToName(geometry.GetGeometryType())}")
    if merged.IsEmpty():
        raise ValueError("The area is empty")
    return merged.UnionCascaded()


def _rings(geometry: ogr.Geometry) -> List[Tuple[np.ndarray, np.ndarray, bool]]:
    """(lon, lat, exterior) of every ring of a polygon or multipolygon, closed."""
    kind = ogr.GT_Flatten(geometry.GetGeometryType())
    polygons = [geometry] if kind == ogr.wkbPolygon else \
        [geometry.GetGeometryRef(i) for i in range(geometry.GetGeometryCount())]
    rings = []
    for polygon in polygons:
        for index in range(polygon.GetGeometryCount()):
            points = np.asarray(polygon.GetGeometryRef(index).GetPoints() or [], dtype=np.float64).reshape(-1, 2)
            if len(points) >= 3:
                points = np.vstack([points, points[:1]])
                rings.append((points[:, 0], points[:, 1], index == 0))
    return rings


def _axis_bounds(centres: np.ndarray, name: str, product: str,
                 spacing: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray, float]:
    """Lower and upper bound of each cell of a regular axis (in the axis' order) and its spacing (degrees; given
    for an axis of one cell)."""
    centres = np.asarray(centres, dtype=np.float64)
    if centres.size < 2 and spacing is None:
        raise ValueError(f"{product}: the {name} axis needs at least two cells")
    step = spacing if centres.size < 2 else (centres[-1] - centres[0]) / (centres.size - 1)
    if step == 0 or not np.allclose(np.diff(centres), step, rtol=1e-6, atol=0.0):
        raise ValueError(f"{product}: the {name} axis is not regular")
    spacing = abs(step)
    lower, upper = centres - spacing / 2, centres + spacing / 2
    if name == "latitude":
        lower, upper = np.clip(lower, -90.0, 90.0), np.clip(upper, -90.0, 90.0)
    elif centres.size * spacing > 360.0 + 1e-6:
        raise ValueError(f"{product}: the longitude axis spans more than 360°")
    return lower, upper, spacing


def _crossings(start: np.ndarray, end: np.ndarray, lines: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(edge index, parameter t in (0, 1)) of every crossing of the edges start → end with the sorted lines."""
    first = np.searchsorted(lines, np.minimum(start, end), "right")
    count = np.maximum(np.searchsorted(lines, np.maximum(start, end), "left") - first, 0)
    edge = np.repeat(np.arange(start.size), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    values = lines[np.repeat(first, count) + offset]
    return edge, (values - start[edge]) / (end[edge] - start[edge])


def _coverage(rings, x_edges: np.ndarray, y_edges: np.ndarray) -> np.ndarray:
    """Plane area of the rings' region in each cell (rows of ``y_edges`` x columns of ``x_edges``, both
    ascending; x repeats every 360). ``rings``: (x, y, exterior), holes subtracted. Every edge is cut at the grid
    lines; a piece in cell (i, j) adds −∫(y − Y_i) dx there and −h_k ∫dx to every cell k < i of its column."""
    signs = []
    for x, y, exterior in rings:
        twice_area = np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])
        signs.append(np.full(x.size - 1, np.sign(twice_area) * (1.0 if exterior else -1.0)))
    x0, x1 = np.concatenate([r[0][:-1] for r in rings]), np.concatenate([r[0][1:] for r in rings])
    y0, y1 = np.concatenate([r[1][:-1] for r in rings]), np.concatenate([r[1][1:] for r in rings])
    sign = np.concatenate(signs)
    keep = (x0 != x1) & (sign != 0)
    x0, x1, y0, y1, sign = x0[keep], x1[keep], y0[keep], y1[keep], sign[keep]
    rows, cols = y_edges.size - 1, x_edges.size - 1
    cover = np.zeros((rows, cols))
    if x0.size == 0:
        return cover
    low = max(int(np.searchsorted(y_edges, min(y0.min(), y1.min()), "right")) - 1, 0)
    high = min(int(np.searchsorted(y_edges, max(y0.max(), y1.max()), "left")), rows)
    if high <= low:
        return cover
    y_edges = y_edges[low:high + 1]
    band = high - low
    repeated = np.concatenate([x_edges - 360.0, x_edges, x_edges + 360.0])
    folded = np.concatenate([np.arange(cols), [-1], np.arange(cols), [-1], np.arange(cols)])
    count = x0.size
    ex, tx = _crossings(x0, x1, repeated)
    ey, ty = _crossings(y0, y1, y_edges)
    edge = np.concatenate([np.arange(count), np.arange(count), ex, ey])
    t = np.concatenate([np.zeros(count), np.ones(count), tx, ty])
    order = np.lexsort((t, edge))
    edge, t = edge[order], t[order]
    same = edge[1:] == edge[:-1]
    piece, ta, tb = edge[:-1][same], t[:-1][same], t[1:][same]
    dx, dy = x1[piece] - x0[piece], y1[piece] - y0[piece]
    x_mid = x0[piece] + (ta + tb) / 2 * dx
    y_mid = y0[piece] + (ta + tb) / 2 * dy
    length = (tb - ta) * dx * sign[piece]
    slot = np.searchsorted(repeated, x_mid, "right") - 1
    col = np.where((slot >= 0) & (slot < folded.size), folded[np.clip(slot, 0, folded.size - 1)], -1)
    row = np.searchsorted(y_edges, y_mid, "right") - 1
    ok = (col >= 0) & (row >= 0)
    row, col, length, y_mid = row[ok], col[ok], length[ok], y_mid[ok]
    inside = row < band
    own = np.bincount(row[inside] * cols + col[inside],
                      weights=length[inside] * (y_mid[inside] - y_edges[row[inside]]), minlength=band * cols)
    column = np.bincount(row * cols + col, weights=length, minlength=(band + 1) * cols).reshape(band + 1, cols)
    above = np.cumsum(column[::-1], axis=0)[::-1][1:]
    cover[low:high] = -(own.reshape(band, cols) + np.diff(y_edges)[:, None] * above)
    return cover


def cell_weights(lat: np.ndarray, lon: np.ndarray, area, spacing: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Area (km² on the sphere, R = 6371 km) of each cell (lat x lon centres, regular, degrees; ``spacing`` (lat,
    lon) for axes of one cell) inside ``area`` (polygons in EPSG:4326 degrees, see the module notes); 0 outside.
    Exact for straight edges in (λ, sin φ)."""
    geometry = _area_geometry(area)
    lat_low, lat_high, _ = _axis_bounds(lat, "latitude", "The grid", spacing and spacing[0])
    lon_low, lon_high, _ = _axis_bounds(lon, "longitude", "The grid", spacing and spacing[1])
    descending = lat_low[0] > lat_low[-1]
    y_edges = np.sin(np.radians(np.append(lat_low, lat_high[-1]) if not descending
                                else np.append(lat_low[::-1], lat_high[0])))
    x_edges = np.append(lon_low, lon_high[-1]) if lon_low[0] < lon_low[-1] else np.append(lon_low[::-1], lon_high[0])
    rings = [(x, np.sin(np.radians(np.clip(y, -90.0, 90.0))), exterior) for x, y, exterior in _rings(geometry)]
    cover = _coverage(rings, x_edges, y_edges) if rings else np.zeros((lat_low.size, lon_low.size))
    cell = np.diff(y_edges)[:, None] * np.diff(x_edges)[None, :]
    cover = np.where(cover > _SLIVER * cell, np.minimum(cover, cell), 0.0)
    if descending:
        cover = cover[::-1]
    if lon_low[0] > lon_low[-1]:
        cover = cover[:, ::-1]
    return cover * np.radians(1.0) * EARTH_RADIUS_KM ** 2


def _extent_text(grid: MonthlyGrid) -> str:
    lat_low, lat_high, _ = _axis_bounds(grid.lat, "latitude", grid.product)
    lon_low, lon_high, _ = _axis_bounds(grid.lon, "longitude", grid.product)
    return (f"lon {min(lon_low.min(), lon_high.min()):g} to {max(lon_low.max(), lon_high.max()):g}, "
            f"lat {min(lat_low.min(), lat_high.min()):g} to {max(lat_low.max(), lat_high.max()):g}")


def area_mean(grid: MonthlyGrid, weights: np.ndarray) -> np.ndarray:
    """Weighted mean (mm) per month of ``grid`` with cell ``weights`` (lat x lon, e.g. `cell_weights`); NaN
    cells drop out and the weights are renormalised per month; NaN for a month with no data in the area."""
    rows, cols = np.nonzero(weights)
    if rows.size == 0:
        raise ValueError(f"The area lies outside the grid of {grid.product} ({_extent_text(grid)})")
    w = weights[rows, cols]
    values = grid.values[:, rows, cols]
    valid = np.isfinite(values)
    if not valid.any():
        raise ValueError(f"The area covers only cells without data in {grid.product} (ocean or masked)")
    total = valid.astype(np.float64) @ w
    weighted = np.where(valid, values, 0.0) @ w
    return np.divide(weighted, total, out=np.full(total.shape, np.nan), where=total > 0)


def _label(grid: MonthlyGrid) -> str:
    return f"{grid.source} {grid.term}"


def _check_products(tws: Sequence[MonthlyGrid], land: Sequence[MonthlyGrid]):
    if not tws:
        raise ValueError("At least one GRACE TWS product is needed")
    wrong = [g.product for g in tws if g.term != "tws"] + [g.product for g in land if g.term == "tws"]
    if wrong:
        raise ValueError(f"Products in the wrong list (TWS products take term 'tws', land-surface products "
                         f"sm, cws, swe or qs): {', '.join(wrong)}")
    labels = [_label(g) for g in list(tws) + list(land)]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"Two products give the same source and term: {', '.join(repeated)}")


def _period_text(series: Sequence[ProductSeries]) -> str:
    return ", ".join(f"{s.source} {s.term} {_month_text(s.months[0])} to {_month_text(s.months[-1])}"
                     for s in series)


def _check_overlap(what: str, series: Sequence[ProductSeries]):
    if series and max(s.months[0] for s in series) > min(s.months[-1] for s in series):
        raise ValueError(f"The {what} do not overlap in time: {_period_text(series)}")


def _baseline(series: Sequence[ProductSeries], start, end) -> Tuple[np.datetime64, np.datetime64]:
    first = max(s.months[0] for s in series)
    last = min(s.months[-1] for s in series)
    start = first if start is None else np.datetime64(start, "M")
    end = last if end is None else np.datetime64(end, "M")
    if start > end:
        raise ValueError(f"The baseline start {_month_text(start)} comes after its end {_month_text(end)}")
    for s in series:
        inside = (s.months >= start) & (s.months <= end)
        if start < s.months[0] or end > s.months[-1] or not inside.any():
            raise ValueError(f"The baseline {_month_text(start)} to {_month_text(end)} is outside the data of "
                             f"{s.source} {s.term} ({_month_text(s.months[0])} to {_month_text(s.months[-1])})")
    return start, end


def _prepare(tws, land, area, baseline_start, baseline_end):
    """The area's geometry, area means and anomalies per product (periods checked) and the baseline."""
    _check_products(tws, land)
    geometry = _area_geometry(area)
    series = []
    for grid in list(tws) + list(land):
        weights = cell_weights(grid.lat, grid.lon, geometry)
        mean = area_mean(grid, weights)
        has = np.isfinite(mean)
        _, _, dlat = _axis_bounds(grid.lat, "latitude", grid.product)
        _, _, dlon = _axis_bounds(grid.lon, "longitude", grid.product)
        cells = int(np.count_nonzero(weights * np.isfinite(grid.values).any(axis=0)))
        series.append(ProductSeries(grid.source, grid.product, grid.term, grid.months[has], mean[has],
                                    mean[has], cells, (dlat, dlon)))  # anomalies once the baseline is known
    centres, models = series[:len(tws)], series[len(tws):]
    _check_overlap("GRACE centres", centres)
    by_model = {}
    for s in models:
        first, last = by_model.get(s.source, (s.months[0], s.months[-1]))
        by_model[s.source] = (min(first, s.months[0]), max(last, s.months[-1]))
    land_span = (max((first for first, _ in by_model.values()), default=None),
                 min((last for _, last in by_model.values()), default=None))
    if models and land_span[0] > land_span[1]:
        periods = ", ".join(f"{name} {_month_text(first)} to {_month_text(last)}"
                            for name, (first, last) in by_model.items())
        raise ValueError(f"The land-surface models do not overlap in time: {periods}")
    if models:
        tws_span = (max(s.months[0] for s in centres), min(s.months[-1] for s in centres))
        if max(tws_span[0], land_span[0]) > min(tws_span[1], land_span[1]):
            raise ValueError(f"The GRACE centres ({_month_text(tws_span[0])} to {_month_text(tws_span[1])}) and "
                             f"the land-surface models ({_month_text(land_span[0])} to "
                             f"{_month_text(land_span[1])}) do not overlap in time")
    start, end = _baseline(series, baseline_start, baseline_end)
    for s in series:
        inside = (s.months >= start) & (s.months <= end)
        s.anomaly_mm = s.mean_mm - s.mean_mm[inside].mean()
    return geometry, series, start, end


def _mean_over(stack: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 ignoring NaN (NaN where none) and the count of values."""
    valid = np.isfinite(stack)
    count = valid.sum(axis=0)
    total = np.where(valid, stack, 0.0).sum(axis=0)
    return np.divide(total, count, out=np.full(count.shape, np.nan), where=count > 0), count


def _variance_over(stack: np.ndarray) -> np.ndarray:
    """Population variance over axis 0 ignoring NaN (0 for one value, 0 where none)."""
    mean, count = _mean_over(stack)
    squares = np.where(np.isfinite(stack), (stack - mean) ** 2, 0.0).sum(axis=0)
    return np.divide(squares, count, out=np.zeros(count.shape), where=count > 0)


def _combine(centres: List[np.ndarray], terms: Dict[str, Dict[str, np.ndarray]]) -> Tuple[dict, Tuple[str, ...]]:
    """The output columns (ΔTWS, land-surface terms, ΔGWS, n_centres, spread) from the centres' ΔTWS anomalies
    and the models' term anomalies ({model: {term: anomaly}}), all on one month axis (months x ...), and the terms
    no model gives. A model's land-surface sum takes the models' mean for a term it lacks."""
    tws, n_centres = _mean_over(np.stack(centres))
    out = {"tws_mm": tws, "n_centres": n_centres}
    missing = []
    for term in LAND_TERMS:
        given = [by_term[term] for by_term in terms.values() if term in by_term]
        out[f"{term}_mm"] = _mean_over(np.stack(given))[0] if given else np.zeros_like(tws)
        if not given:
            missing.append(term)
    sums = [sum(by_term.get(term, out[f"{term}_mm"]) for term in LAND_TERMS) for by_term in terms.values()]
    land_variance = _variance_over(np.stack(sums)) if sums else 0.0
    out["gws_mm"] = tws - sum(out[f"{term}_mm"] for term in LAND_TERMS)
    out["gws_spread_mm"] = np.sqrt(_variance_over(np.stack(centres)) + land_variance)
    return out, tuple(missing)


def _month_axis(grids: Sequence[MonthlyGrid]) -> np.ndarray:
    first = min(g.months[0] for g in grids)
    last = max(g.months[-1] for g in grids)
    return np.arange(first, last + 1, dtype="datetime64[M]")


def _polygon_area_km2(geometry: ogr.Geometry) -> float:
    return float(cell_weights(np.arange(-89.5, 90.0), np.arange(-179.5, 180.0), geometry).sum())


def groundwater_storage(tws: Sequence[MonthlyGrid], land: Sequence[MonthlyGrid], area,
                        baseline_start: Optional[np.datetime64] = None,
                        baseline_end: Optional[np.datetime64] = None) -> StorageSeries:
    """Area-mean ΔTWS, land-surface terms and ΔGWS per month (seed 002 eq. 1) from GRACE centres (``tws``, term
    tws) and GLDAS models (``land``, terms sm / cws / swe / qs, models told apart by ``source``), anomalies against
    the baseline (inclusive months; default the period common to all products). Months are those with a centre's
    solution and, for every term some model gives, a model's value."""
    geometry, series, start, end = _prepare(tws, land, area, baseline_start, baseline_end)
    months = _month_axis(list(tws) + list(land))
    placed = []
    for s in series:
        values = np.full(months.size, np.nan)
        values[(s.months - months[0]).astype(np.int64)] = s.anomaly_mm
        placed.append(values)
    terms: Dict[str, Dict[str, np.ndarray]] = {}
    for s, values in zip(series[len(tws):], placed[len(tws):]):
        terms.setdefault(s.source, {})[s.term] = values
    out, missing = _combine(placed[:len(tws)], terms)
    keep = np.isfinite(out["gws_mm"])
    return StorageSeries(months=months[keep], **{k: v[keep] for k, v in out.items()}, products=series,
                         missing_terms=missing, baseline_start=start, baseline_end=end,
                         area_km2=_polygon_area_km2(geometry))


def _overlaps(target_low, target_high, source_low, source_high, period: float = 0.0) -> np.ndarray:
    """Overlap length (target cells x source cells) of two sets of intervals; with a period, the source also
    shifted by ± period (longitudes)."""
    shifts = (-period, 0.0, period) if period else (0.0,)
    total = np.zeros((target_low.size, source_low.size))
    for shift in shifts:
        low = np.maximum(target_low[:, None], source_low[None, :] + shift)
        high = np.minimum(target_high[:, None], source_high[None, :] + shift)
        total += np.clip(high - low, 0.0, None)
    smallest = np.minimum((target_high - target_low)[:, None], (source_high - source_low)[None, :])
    return np.where(total > _SLIVER * smallest, total, 0.0)


def regrid_conservative(grid: MonthlyGrid, lat: np.ndarray, lon: np.ndarray,
                        spacing: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """``grid``'s values (mm) on the cells centred at ``lat`` x ``lon`` (regular, degrees, any order and
    longitude convention; ``spacing`` (lat, lon) for axes of one cell): each target cell the spherical-area-weighted
    mean of the source cells it overlaps, NaN source cells left out (months x lat x lon; NaN where no source data)."""
    t_lat_low, t_lat_high, _ = _axis_bounds(lat, "latitude", "The target grid", spacing and spacing[0])
    t_lon_low, t_lon_high, _ = _axis_bounds(lon, "longitude", "The target grid", spacing and spacing[1])
    s_lat_low, s_lat_high, _ = _axis_bounds(grid.lat, "latitude", grid.product)
    s_lon_low, s_lon_high, _ = _axis_bounds(grid.lon, "longitude", grid.product)
    rows = _overlaps(*(np.sin(np.radians(bound)) for bound in (t_lat_low, t_lat_high, s_lat_low, s_lat_high)))
    cols = _overlaps(t_lon_low, t_lon_high, s_lon_low, s_lon_high, period=360.0)
    used_rows, used_cols = np.flatnonzero(rows.any(axis=0)), np.flatnonzero(cols.any(axis=0))
    rows, cols = rows[:, used_rows], cols[:, used_cols]
    values = grid.values[:, used_rows][:, :, used_cols]
    valid = np.isfinite(values)
    weighted = rows @ np.where(valid, values, 0.0) @ cols.T
    total = rows @ valid.astype(np.float64) @ cols.T
    return np.divide(weighted, total, out=np.full(total.shape, np.nan), where=total > 0)


def _window(lat: np.ndarray, lon: np.ndarray, weights: np.ndarray, geometry: ogr.Geometry):
    """Centres (lat descending, lon increasing and contiguous, near the area's longitudes) of the smallest
    window of the grid holding every cell of the area."""
    rows = np.flatnonzero(weights.any(axis=1))
    used = np.flatnonzero(weights.any(axis=0))
    lat_rows = lat[rows.min():rows.max() + 1]
    order = np.argsort(lon)
    positions = np.flatnonzero(np.isin(order, used))
    step = abs(lon[1] - lon[0])
    size = lon.size
    if size * step > 360.0 - 1e-6:
        gaps = np.diff(np.append(positions, positions[0] + size))
        first = positions[(np.argmax(gaps) + 1) % positions.size]
        width = size - gaps.max() + 1
    else:
        first, width = positions[0], positions[-1] - positions[0] + 1
    lon_window = lon[order[first]] + step * np.arange(width)
    west, east, _, _ = geometry.GetEnvelope()
    lon_window += 360.0 * np.round(((west + east) / 2 - lon_window.mean()) / 360.0)
    return np.sort(lat_rows)[::-1], lon_window


def global_grid(spacing: Optional[float]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """(lat, lon) cell centres of a global grid of ``spacing`` degrees (lon −180 … 180); None for None."""
    if spacing is None:
        return None
    return np.arange(-90.0 + spacing / 2, 90.0, spacing), np.arange(-180.0 + spacing / 2, 180.0, spacing)


def groundwater_storage_stack(tws: Sequence[MonthlyGrid], land: Sequence[MonthlyGrid], area,
                              baseline_start: Optional[np.datetime64] = None,
                              baseline_end: Optional[np.datetime64] = None,
                              target: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> StorageStack:
    """ΔGWS (mm) per month and cell on the grid of the first TWS product, or ``target`` (lat, lon centres):
    every product regridded conservatively to it, anomalies per cell against the baseline (as in
    `groundwater_storage`), combined per cell, cells outside the area NaN; cropped to the area's window. Memory:
    about (products + 4) x months x window cells x 8 bytes."""
    geometry, _, start, end = _prepare(tws, land, area, baseline_start, baseline_end)
    lat, lon = target if target is not None else (tws[0].lat, tws[0].lon)
    spacing = (_axis_bounds(lat, "latitude", "The target grid")[2],
               _axis_bounds(lon, "longitude", "The target grid")[2])
    lat_w, lon_w = _window(np.asarray(lat, float), np.asarray(lon, float),
                           cell_weights(lat, lon, geometry), geometry)
    outside = cell_weights(lat_w, lon_w, geometry, spacing) == 0
    months = _month_axis(list(tws) + list(land))
    baseline = (months >= start) & (months <= end)
    placed = []
    for grid in list(tws) + list(land):
        values = np.full((months.size, lat_w.size, lon_w.size), np.nan)
        values[(grid.months - months[0]).astype(np.int64)] = regrid_conservative(grid, lat_w, lon_w, spacing)
        values -= _mean_over(values[baseline])[0]
        values[:, outside] = np.nan
        placed.append(values)
    terms: Dict[str, Dict[str, np.ndarray]] = {}
    for grid, values in zip(land, placed[len(tws):]):
        terms.setdefault(grid.source, {})[grid.term] = values
    gws = _combine(placed[:len(tws)], terms)[0]["gws_mm"]
    keep = np.isfinite(gws).any(axis=(1, 2))
    dlat, dlon = spacing
    grid = RasterGrid(lon_w.size, lat_w.size, (float(lon_w[0] - dlon / 2), float(dlon), 0.0,
                                               float(lat_w[0] + dlat / 2), 0.0, -float(dlat)),
                      crs_wkt_from_epsg(4326))
    return StorageStack(months[keep], gws[keep], grid, lat_w, lon_w)


def storage_trend(months: np.ndarray, values: np.ndarray, harmonics: int = 2, autocorrelation: bool = True,
                  confidence: float = 0.95) -> Trend:
    """Linear trend (mm/yr) of a monthly series (NaN = absent) by OLS with ``harmonics`` seasonal terms (0, 1:
    annual, 2: annual and semi-annual) at mid-month times; with ``autocorrelation`` the standard error and the
    Student-t degrees of freedom use n_eff = n (1 − r1) / (1 + r1) of the residuals' lag-1 autocorrelation
    r1 > 0 (Santer et al. 2000, J. Geophys. Res. 105(D6): SE · √((n − p) / (n_eff − p)), n_eff − p dof)."""
    months = np.asarray(months, dtype="datetime64[M]")
    values = np.asarray(values, dtype=np.float64)
    if harmonics not in (0, 1, 2):
        raise ValueError(f"harmonics must be 0, 1 or 2, got {harmonics}")
    ok = np.isfinite(values)
    n, p = int(ok.sum()), 2 + 2 * harmonics
    if n < p + 2:
        raise ValueError(f"A trend with {harmonics} seasonal harmonics needs at least {p + 2} months, got {n}")
    years = 1970.0 + (months.astype(np.int64) + 0.5) / 12.0
    columns = [np.ones_like(years), years - years[ok].mean()]
    for k in range(1, harmonics + 1):
        columns += [np.cos(2 * np.pi * k * years), np.sin(2 * np.pi * k * years)]
    design = np.column_stack(columns)
    coef, *_ = np.linalg.lstsq(design[ok], values[ok], rcond=None)
    residuals = values[ok] - design[ok] @ coef
    squares = float(residuals @ residuals)
    covariance = squares / (n - p) * np.linalg.inv(design[ok].T @ design[ok])
    stderr = float(np.sqrt(covariance[1, 1]))
    exact = np.sqrt(squares / n) <= 1e-10 * np.abs(values[ok]).max()  # residuals are rounding: no autocorrelation
    r1 = float("nan") if exact else lag1_autocorrelation(months[ok], residuals)
    n_eff = n * (1 - r1) / (1 + r1) if autocorrelation and np.isfinite(r1) and r1 > 0 else float(n)
    if n_eff <= p + 1:
        raise ValueError(f"The residuals are too autocorrelated (lag-1 r = {r1:.2f}) for a trend: "
                         f"{n_eff:.1f} effective months")
    stderr = float(stderr * np.sqrt((n - p) / (n_eff - p)))
    half = float(stats.t.ppf(0.5 + confidence / 2, n_eff - p)) * stderr
    slope = float(coef[1])
    amplitude = peak = semiannual = float("nan")
    if harmonics >= 1:
        amplitude = float(np.hypot(coef[2], coef[3]))
        peak = float(12.0 * (np.arctan2(coef[3], coef[2]) / (2 * np.pi) % 1.0))
    if harmonics == 2:
        semiannual = float(np.hypot(coef[4], coef[5]))
    return Trend(slope, slope - half, slope + half, stderr, confidence, n, float(n_eff), r1, amplitude, peak,
                 semiannual, design @ coef)
