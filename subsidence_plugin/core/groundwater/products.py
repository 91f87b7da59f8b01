"""Readers of the GRACE / GRACE-FO and GLDAS files users download: each product becomes `MonthlyGrid`s in mm of
water (seed 002 §III-C: ΔGWS = ΔTWS − (ΔSM + ΔCWS + ΔQS), TWS from CSR, JPL and GFZ, the rest from GLDAS).

`read_products` takes the paths a user picked for one input (GRACE files, or GLDAS files), tells each file's
product from its variables, global attributes and name, groups the files of one product and returns one
`MonthlyGrid` per (source, term). A bounding box reads only the cells that overlap it (a CSR file is 2 GB as
float64). Layouts, and where they were checked:

- JPL mascons ``GRCTellus.JPL.*.GLO.RL06*M.MSCNv0*CRI.nc``: ``lwe_thickness`` (time, lat, lon) in cm, _FillValue
  −99999, ``time`` in "days since 2002-01-01T00:00:00Z" (gregorian) with ``time_bounds``, 0.5° cells, lat −89.75
  … 89.75, lon 0.25 … 359.75 (CDL of GRCTellus.JPL.200204_202501.GLO.RL06.3M.MSCNv04CRI.nc on the Jülich THREDDS
  server). Gain factors "provided within the netCDF ... for continental hydrology" and the land mask beside it
  (PO.DAAC TELLUS_GRAC-GRFO_MASCON_CRI_GRID_RL06.3_V4 description); v03 files carry ``land_mask`` and
  ``scale_factor`` variables, v02 the files LAND_MASK.CRI.nc (``land_mask``) and CLM4.SCALE_FACTOR.JPL.MSCNv02CRI.nc
  (``scale_factor``) (public scripts reading them by those names). Each 0.5° cell belongs to one of 4,551 3°
  mascons: the signal's resolution is ~300 km.
- CSR mascons ``CSR_GRACE_GRACE-FO_RL06*_Mascons_all-corrections*.nc``: ``lwe_thickness`` in cm on 0.25° cells
  (720 x 1440), lon 0 … 360, ``time`` whose units attribute is ``Units`` (QGIS TimeManager's reader handles that
  exception for this very file), ``time_bounds`` in RL06.3 (bounds [94, 120] for 2002-04 in a public reader);
  land mask ``LO_val`` in CSR_GRACE_GRACE-FO_RL06_Mascons_v02_LandMask.nc; title "CSR GRACE and GRACE-FO MASCON
  RL06Mv2" (ncdisp of the v02 file).
- Tellus land grids ``GRCTellus.{CSR,JPL,GFZ}.*.LND.*`` (RL05, one file) and ``GRD-3_*_{UTCSR,JPLEM,GFZOP}_*_LND_*``
  (RL06, a file a month): ``lwe_thickness`` in cm on 1° cells, lat −89.5 … 89.5, lon 0.5 … 359.5, time in days
  since 2002-01-01 (public scripts reading the RL05 files; PO.DAAC TELLUS_GRAC_L3_JPL_RL06_LND_v04: 1°, monthly);
  gain factors ``SCALE_FACTOR`` in CLM4.SCALE_FACTOR.DS.G300KM.RL05.*.nc.
- GLDAS-2 Noah, CLSM, VIC ``GLDAS_<MODEL><res>_M.AYYYYMM.02x.nc4`` and ``GLDAS_<MODEL><res>_3H.AYYYYMMDD.HHMM.02x.nc4``:
  kg m-2 (= mm), fill −9999, lat −59.875 … 89.875, lon −179.875 … 179.875 at 0.25° (the two real 3-hourly Noah
  files in ../shared/data/gldas-noah025, whose time is the end of a "past 3-hour" window). Variables (GES DISC
  variable lists; public GRACE–GLDAS scripts): Noah soil moisture ``SoilMoi0_10cm_inst`` + ``SoilMoi10_40cm_inst``
  + ``SoilMoi40_100cm_inst`` + ``SoilMoi100_200cm_inst``; VIC ``SoilMoi0_30cm_inst`` + ``SoilMoi_depth2_inst`` +
  ``SoilMoi_depth3_inst`` (VIC's lower layers vary in depth per cell, hence the names); CLSM the profile
  ``SoilMoist_P_inst`` (``SoilMoist_P_tavg`` in GLDAS-2.2); ``CanopInt_inst``, ``SWE_inst``, ``Qs_acc``. Monthly
  files are straight averages of the 3-hourly files, so a monthly ``Qs_acc`` is the mean 3-hour accumulation and
  the month's total is it x 8 x days (README_GLDAS2.pdf, GES DISC); 3-hourly files are averaged per month here
  the same way (by their time stamp, i.e. their name's date), the step count kept in ``MonthlyGrid.steps``.

GRACE months: a solution's month is the one holding the midpoint of its ``time_bounds`` where the file has them,
else its mid-time; where two solutions fall in one month and none in a neighbouring month, the one nearer that
month moves there (CSR and JPL both have such months). Gaps stay gaps.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..io.netcdf import NetCDFError, NetCDFFile
from .grids import TERMS, MonthlyGrid

#: GLDAS variables (each layer: accepted names, the first present is read) summed into each term, per model.
GLDAS_LAYOUT: Dict[str, Dict[str, Tuple[Tuple[str, ...], ...]]] = {
    "NOAH": {"sm": (("SoilMoi0_10cm_inst",), ("SoilMoi10_40cm_inst",), ("SoilMoi40_100cm_inst",),
                    ("SoilMoi100_200cm_inst",)),
             "cws": (("CanopInt_inst",),), "swe": (("SWE_inst",),), "qs": (("Qs_acc",),)},
    "VIC": {"sm": (("SoilMoi0_30cm_inst",), ("SoilMoi_depth2_inst",), ("SoilMoi_depth3_inst",)),
            "cws": (("CanopInt_inst",),), "swe": (("SWE_inst",),), "qs": (("Qs_acc",),)},
    "CLSM": {"sm": (("SoilMoist_P_inst", "SoilMoist_P_tavg"),), "cws": (("CanopInt_inst", "CanopInt_tavg"),),
             "swe": (("SWE_inst", "SWE_tavg"),), "qs": (("Qs_acc",),)},
}
MODEL_NAMES = {"NOAH": "Noah", "VIC": "VIC", "CLSM": "CLSM"}
STEPS_PER_DAY = 8  # GLDAS 3-hour steps

RECOGNISED = ("It reads GRACE / GRACE-FO JPL mascons (GRCTellus.JPL.*.MSCNv0*CRI.nc), CSR mascons "
              "(CSR_GRACE_GRACE-FO_RL06*_Mascons_all-corrections*.nc), Tellus land grids (GRCTellus.*.LND.*, "
              "GRD-3_*_LND_*), their gain-factor and land-mask files (CLM4.SCALE_FACTOR.*.nc, LAND_MASK.CRI.nc, "
              "*_LandMask.nc with LO_val) and GLDAS Noah / CLSM / VIC monthly or 3-hourly files "
              "(GLDAS_*_M.A*.nc4, GLDAS_*_3H.A*.nc4)")

_JPL_MASCON = re.compile(r"GRCTellus\.JPL\.\d{6}_\d{6}\.GLO\.(RL[\d.]+M?(?:_\d+)?)\.MSCN(v\d+)(CRI)?", re.I)
_CSR_MASCON = re.compile(r"CSR_GRACE_GRACE-FO_(RL\d+)_Mascons_all-corrections(?:_(v\d+))?", re.I)
_TELLUS_LAND = re.compile(r"GRCTellus\.(CSR|JPL|GFZ)\.\d{6}_\d{6}\.LND\.(RL[\d_]+)", re.I)
_GRD3_LAND = re.compile(r"GRD-3_\d{7}-\d{7}_GR(?:AC|FO)_(JPLEM|UTCSR|GFZOP)_\w+?_(\d{4})_LND_(v\d+)", re.I)
_GLDAS = re.compile(r"^GLDAS_(NOAH|CLSM|VIC)\d+(?:_[A-Z0-9]+?)*_(M|3H|D)\.A\d+(?:\.\d{4})?\.(\d)(\d)(\d)", re.I)
_CENTRE_CODES = {"JPLEM": "JPL", "UTCSR": "CSR", "GFZOP": "GFZ"}
_CENTRE_WORDS = (("JPL", ("jet propulsion", "jpl")), ("CSR", ("center for space research", "csr")),
                 ("GFZ", ("geoforschungszentrum", "gfz")))
_FIELDS = {"gain": ("scale_factor", "SCALE_FACTOR"), "mask": ("land_mask", "LO_val")}
_TWS_UNITS = {"cm": 10.0, "mm": 1.0, "m": 1000.0}
_MASS_UNITS = {"kgm-2", "kg/m2", "kg/m^2", "kgm^-2", "kgm**-2", "mm"}
RATE_UNITS = {"kgm-2s-1", "kg/m2/s", "kgm^-2s^-1", "kgm**-2s**-1", "mm/s"}
PRECIPITATION_NAMES = ("Rainf_f_tavg", "Rainf_tavg")  # GLDAS total precipitation rate (Rainf_f: rain + snow)


@dataclass
class _Window:
    """The cells of a grid overlapping a bounding box: rows [row0, row0 + rows), column runs (start, count) in
    the order they are joined, and their centres (longitudes made continuous)."""

    row0: int
    rows: int
    runs: List[Tuple[int, int]]
    lat: np.ndarray
    lon: np.ndarray
    spacing: float


@dataclass
class _File:
    """One recognised input file: its role ('tws', 'lsm' or 'aux' for gain factors and land masks) and, for
    data, its product."""

    path: str
    role: str
    source: str = ""
    product: str = ""
    model: str = ""
    frequency: str = ""
    variables: Tuple[str, ...] = ()


@dataclass
class _Auxiliary:
    """The gain-factor and land-mask fields (by variable name) of an auxiliary file over the window."""

    path: str
    lat: np.ndarray
    lon: np.ndarray
    fields: Dict[str, np.ndarray]


@dataclass
class MonthlyMeans:
    """GLDAS variables averaged per month: ``values[name]`` (months x lat x lon, kg m-2 = mm, NaN = no data),
    ``steps`` the number of time steps found in each month."""

    months: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    values: Dict[str, np.ndarray]
    steps: np.ndarray
    resolution: float


def read_products(paths: Sequence[str], bbox: Optional[Sequence[float]] = None, gain_factors: bool = True,
                  masks: bool = True, kind: Optional[str] = None) -> List[MonthlyGrid]:
    """One `MonthlyGrid` (mm of water) per source and term from the files in ``paths``: ``tws`` for each GRACE
    centre, ``sm``, ``cws``, ``swe``, ``qs`` for each GLDAS model. ``bbox`` (west, south, east, north, degrees;
    east < west or east > 180 crosses the antimeridian) limits the reading to the cells overlapping it.
    ``gain_factors`` applies the gain factors the inputs carry (refusing JPL mascons without them), ``masks`` the
    land masks given. ``kind`` "tws" or "lsm" refuses files of the other input."""
    if not paths:
        raise ValueError("No GRACE or GLDAS file was given")
    if kind not in (None, "tws", "lsm"):
        raise ValueError(f"kind must be 'tws' or 'lsm', not {kind!r}")
    files = [_identify(path) for path in dict.fromkeys(os.path.realpath(path) for path in paths)]
    for item in files:
        if kind == "tws" and item.role == "lsm":
            raise ValueError(f"{os.path.basename(item.path)}: a GLDAS land-surface file among the GRACE (TWS) inputs")
        if kind == "lsm" and item.role != "lsm":
            raise ValueError(f"{os.path.basename(item.path)}: a GRACE file among the land-surface (GLDAS) inputs")
    groups: Dict[Tuple[str, str], List[_File]] = {}
    for item in files:
        if item.role in ("tws", "lsm"):
            groups.setdefault((item.source, item.product), []).append(item)
    _refuse_two_products(groups)
    auxiliary = [_read_auxiliary(item.path, bbox) for item in files if item.role == "aux"]
    grids: List[MonthlyGrid] = []
    used = set()
    for (source, product), members in groups.items():
        if members[0].role == "lsm":
            grids.extend(_read_gldas(members, bbox))
        else:
            grid, matched = _read_grace(source, product, members, auxiliary, bbox, gain_factors, masks)
            used.update(matched)
            grids.append(grid)
    for entry in auxiliary:
        if entry.path not in used:
            raise ValueError(f"{os.path.basename(entry.path)}: its grid ({entry.lat.size} x {entry.lon.size} cells "
                             f"of {_spacing(entry.lat, entry.lon, entry.path):g}°) matches none of the GRACE files "
                             "given")
    return sorted(grids, key=lambda grid: (grid.source, TERMS.index(grid.term)))


def _refuse_two_products(groups: Dict[Tuple[str, str], List[_File]]) -> None:
    """One product per centre or model."""
    by_source: Dict[str, List[Tuple[str, List[_File]]]] = {}
    for (source, product), members in groups.items():
        by_source.setdefault(source, []).append((product, members))
    for source, products in by_source.items():
        if len(products) > 1:
            listed = "; ".join(f"{product} ({', '.join(os.path.basename(m.path) for m in members)})"
                               for product, members in products)
            raise ValueError(f"Two {source} products among the inputs: {listed}. Give one product per centre or "
                             "model")


# ------------------------------------------------------------------------------------------ identification

def _identify(path: str) -> _File:
    """What a file is, from its variables, global attributes and name."""
    name = os.path.basename(path)
    if not os.path.exists(path):
        raise ValueError(f"File not found: {path}")
    try:
        nc = NetCDFFile(path)
    except NetCDFError as error:
        raise ValueError(f"{name}: not a file this reader recognises (GDAL cannot open it as NetCDF). "
                         f"{RECOGNISED}") from error
    with nc:
        variables = set(nc.variables)
        text = " ".join(str(value) for value in nc.attributes().values()).lower()
        if "lwe_thickness" in variables:
            source, product = _grace_product(name, text)
            if source:
                return _File(path, "tws", source, product)
        elif variables & set(_FIELDS["gain"] + _FIELDS["mask"]):
            return _File(path, "aux")
        gldas = _GLDAS.match(name)
        if gldas:
            model, frequency = gldas.group(1).upper(), gldas.group(2).upper()
            if frequency not in ("M", "3H"):
                raise ValueError(f"{name}: GLDAS daily files are not read; use the monthly (_M) or 3-hourly (_3H) "
                                 "files")
            version = f"{gldas.group(4)}.{gldas.group(5)}"
            lat, lon = (nc.read(coordinate) for coordinate in _coordinates(nc))
            step = "monthly" if frequency == "M" else "3-hourly"
            product = f"GLDAS-{version} {MODEL_NAMES[model]} {_spacing(lat, lon, path):g}° {step}"
            return _File(path, "lsm", model, product, model, frequency, tuple(sorted(variables)))
    raise ValueError(f"{name}: not a file this reader recognises. {RECOGNISED}")


def _grace_product(name: str, text: str) -> Tuple[str, str]:
    """(centre, product) of a file with ``lwe_thickness``, from its name or else its global attributes."""
    match = _JPL_MASCON.search(name)
    if match:
        return "JPL", f"JPL {match.group(1)} mascons {match.group(2)}{' CRI' if match.group(3) else ''}"
    match = _CSR_MASCON.search(name)
    if match:
        return "CSR", f"CSR {match.group(1)} mascons{' ' + match.group(2) if match.group(2) else ''}"
    match = _TELLUS_LAND.search(name)
    if match:
        return match.group(1).upper(), f"{match.group(1).upper()} Tellus land grid {match.group(2)}"
    match = _GRD3_LAND.search(name)
    if match:
        centre, release = _CENTRE_CODES[match.group(1).upper()], match.group(2)
        return centre, f"{centre} Tellus land grid RL{release[:2]}.{int(release[2:])} {match.group(3)}"
    centre = next((code for code, words in _CENTRE_WORDS if any(word in text for word in words)), "")
    return centre, f"{centre} {'mascons' if 'mascon' in text else 'land grid'}" if centre else ""


# ------------------------------------------------------------------------------------------ grids and windows

def _coordinates(nc: NetCDFFile) -> Tuple[str, str]:
    """The names of the latitude and longitude variables."""
    lat = next((n for n in ("lat", "latitude", "Latitude", "LAT") if n in nc.variables), None)
    lon = next((n for n in ("lon", "longitude", "Longitude", "LON") if n in nc.variables), None)
    if lat is None or lon is None:
        raise ValueError(f"{nc.path}: no latitude / longitude variables (lat, lon)")
    return lat, lon


def _spacing(lat: np.ndarray, lon: np.ndarray, path: str) -> float:
    """The grid's cell size in degrees (from longitude, else latitude)."""
    for axis in (lon, lat):
        if axis.size > 1:
            return float(np.median(np.abs(np.diff(axis))))
    raise ValueError(f"{path}: a grid of one cell has no spacing to read")


def _window(lat: np.ndarray, lon: np.ndarray, bbox: Optional[Sequence[float]], path: str) -> _Window:
    """The cells overlapping ``bbox`` (all cells without one); longitudes continuous and increasing."""
    spacing = _spacing(lat, lon, path)
    if lon.size > 1 and np.any(np.diff(lon) <= 0):
        raise ValueError(f"{path}: longitudes do not increase")
    if bbox is None:
        return _Window(0, lat.size, [(0, lon.size)], lat, lon, spacing)
    west, south, east, north = (float(value) for value in bbox)
    if not south < north:
        raise ValueError(f"The area's south ({south:g}°) must lie below its north ({north:g}°)")
    half = spacing / 2
    rows = np.flatnonzero((lat - half < north) & (lat + half > south))
    if rows.size == 0:
        raise ValueError(f"{os.path.basename(path)}: the area ({south:g}° to {north:g}° N) lies outside the grid's "
                         f"latitudes ({lat.min() - half:g}° to {lat.max() + half:g}°)")
    if east <= west:
        east += 360.0
    if east - west >= 360.0:
        columns, centres = np.arange(lon.size), lon
    else:
        shifted = lon[None, :] + np.array([-360.0, 0.0, 360.0])[:, None]
        shift, columns = np.nonzero((shifted - half < east) & (shifted + half > west))
        centres = shifted[shift, columns]
        order = np.argsort(centres, kind="stable")
        centres, columns = centres[order], columns[order]
        first = np.sort(np.unique(columns, return_index=True)[1])
        centres, columns = centres[first], columns[first]
        if columns.size == 0:
            raise ValueError(f"{os.path.basename(path)}: the area ({west:g}° to {east:g}° E) lies outside the grid's "
                             f"longitudes ({lon.min() - half:g}° to {lon.max() + half:g}°)")
        if centres.max() > 360.0:
            centres = centres - 360.0
        if centres.min() < -180.0:
            centres = centres + 360.0
    breaks = np.flatnonzero(np.diff(columns) != 1) + 1
    runs = [(int(run[0]), int(run.size)) for run in np.split(columns, breaks)]
    return _Window(int(rows[0]), int(rows.size), runs, lat[rows], np.asarray(centres, dtype=np.float64), spacing)


def _read_grid(nc: NetCDFFile, name: str, window: _Window) -> np.ndarray:
    """Variable ``name`` over the window, as (other dimensions..., lat, lon)."""
    lat_name, lon_name = _coordinates(nc)
    dims = nc.dimensions(name)
    lat_dim, lon_dim = nc.dimensions(lat_name)[0], nc.dimensions(lon_name)[0]
    if lat_dim not in dims or lon_dim not in dims:
        raise ValueError(f"{nc.path}: {name} does not lie on the latitude / longitude grid (dimensions "
                         f"{', '.join(dims)})")
    lat_axis, lon_axis = dims.index(lat_dim), dims.index(lon_dim)
    pieces = []
    for first, count in window.runs:
        start, size = [0] * len(dims), list(nc.shape(name))
        start[lat_axis], size[lat_axis] = window.row0, window.rows
        start[lon_axis], size[lon_axis] = first, count
        pieces.append(nc.read(name, start, size))
    values = np.concatenate(pieces, axis=lon_axis)
    others = [axis for axis in range(len(dims)) if axis not in (lat_axis, lon_axis)]
    return np.transpose(values, others + [lat_axis, lon_axis])


def _same_grid(lat_a: np.ndarray, lon_a: np.ndarray, lat_b: np.ndarray, lon_b: np.ndarray) -> bool:
    return (lat_a.shape == lat_b.shape and lon_a.shape == lon_b.shape and np.allclose(lat_a, lat_b, atol=1e-6)
            and np.allclose(lon_a, lon_b, atol=1e-6))


def _refuse_mixed_units(what: str, units: Dict[str, str]) -> None:
    """One unit string for ``what`` across the files (path -> unit)."""
    distinct = sorted(set(units.values()))
    if len(distinct) > 1:
        listed = ", ".join(f"{unit!r} in {os.path.basename(next(p for p, u in units.items() if u == unit))}"
                           for unit in distinct)
        raise ValueError(f"Mixed units of {what} between files: {listed}; convert them to one unit first")


# ------------------------------------------------------------------------------------------ GRACE

def _read_auxiliary(path: str, bbox: Optional[Sequence[float]]) -> _Auxiliary:
    """The gain factors and land mask of a separate file over the window."""
    with NetCDFFile(path) as nc:
        lat, lon = (nc.read(coordinate) for coordinate in _coordinates(nc))
        window = _window(lat, lon, bbox, path)
        fields = {name: _plane(nc, name, window) for names in _FIELDS.values() for name in names
                  if name in nc.variables}
    return _Auxiliary(path, window.lat, window.lon, fields)


def _plane(nc: NetCDFFile, name: str, window: _Window) -> np.ndarray:
    """A 2-D (lat, lon) field over the window (leading dimensions of size 1 dropped)."""
    values = _read_grid(nc, name, window)
    if values.size == window.lat.size * window.lon.size:
        values = values.reshape(window.lat.size, window.lon.size)
    if values.ndim != 2:
        raise ValueError(f"{nc.path}: {name} is not a single latitude / longitude field (shape {values.shape})")
    return values


def _read_grace(source: str, product: str, members: List[_File], auxiliary: List[_Auxiliary], bbox,
                gain_factors: bool, masks: bool) -> Tuple[MonthlyGrid, List[str]]:
    """The TWS grid of one GRACE product (files joined along time), gains and masks applied; the auxiliary
    files used."""
    values, mids, units, notes = [], [], {}, []
    window, in_file, by_bounds = None, {}, []
    for member in members:
        with NetCDFFile(member.path) as nc:
            lat, lon = (nc.read(coordinate) for coordinate in _coordinates(nc))
            here = _window(lat, lon, bbox, member.path)
            if window is not None and not _same_grid(window.lat, window.lon, here.lat, here.lon):
                raise ValueError(f"{product}: {os.path.basename(members[0].path)} and {nc.name} are on different "
                                 "grids")
            window = here
            cube = _read_grid(nc, "lwe_thickness", window)
            if cube.ndim != 3:
                raise ValueError(f"{nc.path}: lwe_thickness has {cube.ndim - 2} dimensions besides lat / lon, "
                                 "expected time only")
            units[member.path] = nc.unit("lwe_thickness").strip()
            grid_dims = {nc.dimensions(coordinate)[0] for coordinate in _coordinates(nc)}
            time_name = next(d for d in nc.dimensions("lwe_thickness") if d not in grid_dims)
            time_name = time_name if time_name in nc.variables else "time"
            bounds = nc.time_bounds(time_name)
            times = nc.times(time_name)
            mids.append(times if bounds is None else bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) // 2)
            by_bounds.append(bounds is not None)
            values.append(cube)
            for role, names in _FIELDS.items():
                found = next((n for n in names if n in nc.variables), None)
                if found and role not in in_file:
                    in_file[role] = (_plane(nc, found, window), f"{found} in {nc.name}")
    _refuse_mixed_units(f"lwe_thickness ({product})", units)
    unit = next(iter(units.values()))
    if unit not in _TWS_UNITS:
        raise ValueError(f"{product}: lwe_thickness in {unit!r}; expected cm, mm or m")
    cube, mid = np.concatenate(values, axis=0), np.concatenate(mids)
    first = np.unique(mid, return_index=True)[1]
    if first.size < mid.size:
        twice = mid[np.setdiff1d(np.arange(mid.size), first)[0]]
        holders = [os.path.basename(m.path) for m, t in zip(members, mids) if np.any(t == twice)]
        raise ValueError(f"{product}: the solution centred {twice.astype('datetime64[D]')} comes twice "
                         f"({', '.join(holders)})")
    months, moved = _assign_months(mid, product)
    order = np.argsort(months)
    cube, months = cube[order], months[order]
    notes.append("months from the midpoints of time_bounds" if all(by_bounds) else
                 "months from the solutions' mid-times (no time_bounds)" if not any(by_bounds) else
                 "months from time_bounds where given, else from the solutions' mid-times")
    notes.extend(moved)
    matched = [entry for entry in auxiliary if _same_grid(entry.lat, entry.lon, window.lat, window.lon)]
    for role, applies in (("gain", gain_factors), ("mask", masks)):
        field_, label = _field_for(role, in_file, matched)
        if not applies:
            if field_ is not None:
                notes.append(f"{'gain factors' if role == 'gain' else 'land mask'} not applied ({label})")
            continue
        if field_ is None:
            if role == "gain" and source == "JPL" and "mascons" in product:
                raise ValueError(f"{product}: JPL advises its gain factors for land hydrology, and these files carry "
                                 "none: add CLM4.SCALE_FACTOR.JPL.MSCNv02CRI.nc (v02 mascons) to the inputs, or "
                                 "switch gain factors off")
            continue
        if role == "gain":
            cube = cube * np.where(np.isfinite(field_), field_, 1.0)
            notes.append(f"gain factors applied ({label}; 1 where a cell has none)")
        else:
            cube = np.where(field_ > 0.5, cube, np.nan)
            notes.append(f"land mask applied ({label}): ocean cells are no data")
    notes.append(f"{product}: {window.spacing:g}° cells; GRACE resolves ~300 km")
    grid = MonthlyGrid(source, f"{product} ({window.spacing:g}°)", "tws", months, window.lat, window.lon,
                       cube * _TWS_UNITS[unit], resolution=window.spacing, notes=tuple(notes))
    return grid, [entry.path for entry in matched]


def _field_for(role: str, in_file: dict, matched: List[_Auxiliary]) -> Tuple[Optional[np.ndarray], str]:
    """The gain or mask field for a product: its own file's, else a matching auxiliary file's."""
    if role in in_file:
        return in_file[role]
    for entry in matched:
        found = next((n for n in _FIELDS[role] if n in entry.fields), None)
        if found:
            return entry.fields[found], f"{found} in {os.path.basename(entry.path)}"
    return None, ""


def _assign_months(mid: np.ndarray, product: str) -> Tuple[np.ndarray, List[str]]:
    """The month of each solution (mid-times, datetime64[ms]): the month holding its mid-time; where two fall
    in one month and none in a neighbouring month, the one nearer that month moves there."""
    months = mid.astype("datetime64[M]")
    order = np.argsort(mid, kind="stable")
    ranked = months[order]
    labels, counts = np.unique(ranked, return_counts=True)
    if counts.size and counts.max() > 2:
        raise ValueError(f"{product}: {counts.max()} solutions fall in {labels[np.argmax(counts)]}")
    taken = set(labels.astype(np.int64).tolist())
    notes = []
    for first in np.flatnonzero(ranked[1:] == ranked[:-1]):
        month = ranked[first]
        early, late = order[first], order[first + 1]
        before, after = month - 1, month + 1
        free_before, free_after = int(before.astype(np.int64)) not in taken, int(after.astype(np.int64)) not in taken
        gap_before = mid[early] - month.astype("datetime64[ms]")
        gap_after = after.astype("datetime64[ms]") - mid[late]
        if free_before and (not free_after or gap_before <= gap_after):
            mover, target = early, before
        elif free_after:
            mover, target = late, after
        else:
            raise ValueError(f"{product}: two solutions fall in {month} (centred {mid[early].astype('datetime64[D]')} "
                             f"and {mid[late].astype('datetime64[D]')}) and both neighbouring months have one")
        months[mover] = target
        taken.add(int(target.astype(np.int64)))
        notes.append(f"the solution centred {mid[mover].astype('datetime64[D]')} counts as {target} (two solutions "
                     f"in {month}, none in {target})")
    if np.unique(months).size != months.size:
        raise ValueError(f"{product}: solutions left sharing a month after moving: {', '.join(notes)}")
    return months, notes


# ------------------------------------------------------------------------------------------ GLDAS

def gldas_monthly_means(paths: Sequence[str], variables: Sequence[str], bbox: Optional[Sequence[float]] = None,
                        product: str = "GLDAS", accepted_units=_MASS_UNITS) -> MonthlyMeans:
    """The GLDAS ``variables`` (kg m-2, or a rate with ``accepted_units`` = `RATE_UNITS`) averaged over the time
    steps of each calendar month of the files (the month of each step's time stamp), over the cells overlapping
    ``bbox``.
    Refuses missing variables, other units, mixed units between files, different grids and repeated time steps."""
    sums: Dict[np.datetime64, Dict[str, np.ndarray]] = {}
    counts: Dict[np.datetime64, int] = {}
    seen: Dict[np.datetime64, str] = {}
    units: Dict[str, Dict[str, str]] = {name: {} for name in variables}
    window = None
    for path in paths:
        with NetCDFFile(path) as nc:
            missing = [name for name in variables if name not in nc.variables]
            if missing:
                raise ValueError(f"{nc.name}: no {', '.join(missing)} (expected {', '.join(variables)})")
            lat, lon = (nc.read(coordinate) for coordinate in _coordinates(nc))
            here = _window(lat, lon, bbox, path)
            if window is not None and not _same_grid(window.lat, window.lon, here.lat, here.lon):
                raise ValueError(f"{product}: {os.path.basename(paths[0])} and {nc.name} are on different grids")
            window = here
            times = nc.times("time")
            for when in times:
                if when in seen:
                    raise ValueError(f"{product}: {os.path.basename(seen[when])} and {nc.name} hold the same time "
                                     f"step ({when})")
                seen[when] = path
            month_of_step = times.astype("datetime64[M]")
            for name in variables:
                units[name][path] = nc.unit(name).strip()
                cube = _read_grid(nc, name, window).reshape(times.size, window.lat.size, window.lon.size)
                for month in np.unique(month_of_step):
                    total = cube[month_of_step == month].sum(axis=0)
                    sums.setdefault(month, {})[name] = sums.get(month, {}).get(name, 0.0) + total
            for month in np.unique(month_of_step):
                counts[month] = counts.get(month, 0) + int(np.count_nonzero(month_of_step == month))
    for name, by_file in units.items():
        _refuse_mixed_units(f"{name} ({product})", by_file)
        unit = next(iter(by_file.values()))
        if unit.replace(" ", "").lower() not in accepted_units:
            expected = "kg m-2 s-1" if accepted_units is RATE_UNITS else "kg m-2 (= mm)"
            raise ValueError(f"{product}: {name} in {unit!r}; expected {expected}")
    months = np.array(sorted(sums), dtype="datetime64[M]")
    steps = np.array([counts[month] for month in months], dtype=np.int64)
    values = {name: np.stack([sums[month][name] for month in months]) / steps[:, None, None] for name in variables}
    return MonthlyMeans(months, window.lat, window.lon, values, steps, window.spacing)


def _read_gldas(members: List[_File], bbox) -> List[MonthlyGrid]:
    """The sm, cws, swe and qs grids of one GLDAS product (mm; qs the month's total runoff)."""
    first = members[0]
    model, product = first.model, first.product
    layout = GLDAS_LAYOUT[model]
    chosen: Dict[str, List[str]] = {}
    for term, layers in layout.items():
        chosen[term] = [next((name for name in alternatives if name in first.variables), alternatives[0])
                        for alternatives in layers]
    expected = [" or ".join(alternatives) for layers in layout.values() for alternatives in layers]
    for member in members:
        missing = [" or ".join(alt) for layers in layout.values() for alt in layers
                   if not any(name in member.variables for name in alt)]
        if missing:
            raise ValueError(f"{os.path.basename(member.path)}: GLDAS {MODEL_NAMES[model]} file without "
                             f"{', '.join(missing)}; the {MODEL_NAMES[model]} storage terms need {', '.join(expected)}")
    names = [name for term in layout for name in chosen[term]]
    means = gldas_monthly_means([member.path for member in members], names, bbox, product)
    days = ((means.months + 1).astype("datetime64[D]") - means.months.astype("datetime64[D]")).astype(np.int64)
    full = days * STEPS_PER_DAY
    notes = []
    if first.frequency == "M":
        if np.any(means.steps > 1):
            month = means.months[np.argmax(means.steps > 1)]
            raise ValueError(f"{product}: more than one monthly file for {month}")
        steps = full
        notes.append("monthly files: GES DISC's means of the month's 3-hourly steps")
    else:
        steps = means.steps
        notes.append("3-hourly files averaged per month (by their time stamp)")
        notes.extend(f"{month}: {found} of {whole} 3-hour steps" for month, found, whole in
                     zip(means.months, steps, full) if found != whole)
    grids = []
    for term in layout:
        values = sum(means.values[name] for name in chosen[term])
        term_notes = [f"{term} = {' + '.join(chosen[term])} (kg m-2 = mm)"] + notes
        if term == "qs":
            values = values * full[:, None, None]
            term_notes[0] = f"qs = mean {chosen[term][0]} x 3-hour steps in the month (8 x days): the month's total"
        grids.append(MonthlyGrid(model, product, term, means.months, means.lat, means.lon, values,
                                 resolution=means.resolution, steps=steps, notes=tuple(term_notes)))
    return grids


def read_gldas_precipitation(paths: Sequence[str], bbox: Optional[Sequence[float]] = None) -> MonthlyGrid:
    """Monthly precipitation totals (mm/month) from GLDAS files (one model, monthly or 3-hourly): the month's mean
    total precipitation rate ``Rainf_f_tavg`` (else ``Rainf_tavg``, rain only; kg m-2 s-1) x the seconds in the
    month, over the cells overlapping ``bbox``."""
    if not paths:
        raise ValueError("No GLDAS file was given for the precipitation")
    files = [_identify(path) for path in paths]
    if any(item.role != "lsm" for item in files) or len({item.product for item in files}) > 1:
        raise ValueError("Gridded precipitation: give GLDAS files of one model (monthly or 3-hourly)")
    name = next((n for n in PRECIPITATION_NAMES if all(n in item.variables for item in files)), None)
    if name is None:
        raise ValueError(f"{os.path.basename(paths[0])}: no precipitation rate ({' or '.join(PRECIPITATION_NAMES)}) "
                         "in every file")
    first = files[0]
    means = gldas_monthly_means(paths, [name], bbox, first.product, RATE_UNITS)
    seconds = ((means.months + 1).astype("datetime64[s]") - means.months.astype("datetime64[s]")).astype(np.float64)
    notes = (f"precip = mean {name} x seconds in the month (kg m-2 = mm)",)
    return MonthlyGrid(first.source, first.product, "precip", means.months, means.lat, means.lon,
                       means.values[name] * seconds[:, None, None], resolution=means.resolution, steps=means.steps,
                       notes=notes)

