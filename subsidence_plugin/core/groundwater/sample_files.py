"""Small NetCDF files in the layouts of the real GRACE / GRACE-FO and GLDAS products (see `products` for the
layouts and their sources), for the synthetic sample area and for tests. Every file says in its global
``comment`` that it is synthetic. Written as NetCDF-3 (64-bit offset) with scipy, which keeps attribute names as
given (CSR's ``Units``); GDAL reads them as it reads the real NetCDF-4 files.

Values are given in the products' own units (lwe_thickness in cm, GLDAS in kg m-2); NaN is written as the
product's fill value. Grids may be any part of the real ones; the real global grids are JPL 0.5° (lon 0.25 …
359.75), CSR 0.25° (lon 0.125 … 359.875), Tellus land 1° (lon 0.5 … 359.5), GLDAS 0.25° / 1° (lon −179.875 …
179.875, lat from −59.875). GLDAS monthly files' time encoding (days since 2000-01-01) is not checked against a
real file here; the 3-hourly one is.
"""
from __future__ import annotations

import os
from typing import Dict, List

import numpy as np
from scipy.io import netcdf_file

from ..io.rasters import NODATA
from .products import GLDAS_LAYOUT, PRECIPITATION_NAMES

GRACE_EPOCH = np.datetime64("2002-01-01", "D")
GLDAS_3H_EPOCH = np.datetime64("2000-01-01T03:00", "m")
GLDAS_MONTH_EPOCH = np.datetime64("2000-01-01", "D")
GRACE_FILL = -99999.0
GLDAS_FILL = np.float32(NODATA)  # GLDAS's fill value, −9999 like the plugin's raster nodata
SYNTHETIC = ("SYNTHETIC sample written by the Land subsidence plugin in the layout of {}; not real data, "
             "do not use it for science")


def _write(path: str, dimensions: Dict[str, int], variables, attributes: Dict[str, str]) -> str:
    """One NetCDF-3 file: ``variables`` are (name, dimensions, numpy array, attributes)."""
    with netcdf_file(path, "w", version=2) as nc:
        for key, value in attributes.items():
            setattr(nc, key, value)
        for name, size in dimensions.items():
            nc.createDimension(name, size)
        for name, dims, data, attrs in variables:
            variable = nc.createVariable(name, data.dtype, dims)
            for key, value in attrs.items():
                setattr(variable, key, value)
            variable[:] = data
    return path


def _filled(values, fill, dtype=np.float64) -> np.ndarray:
    data = np.asarray(values, dtype=np.float64)
    return np.where(np.isnan(data), fill, data).astype(dtype)


def _coordinates(lat, lon):
    return [("lat", ("lat",), np.asarray(lat, dtype=np.float64),
             {"units": "degrees_north", "long_name": "latitude", "standard_name": "latitude", "axis": "Y"}),
            ("lon", ("lon",), np.asarray(lon, dtype=np.float64),
             {"units": "degrees_east", "long_name": "longitude", "standard_name": "longitude", "axis": "X"})]


def _grace_times(months, time_days, bounds_days):
    """Mid-times and bounds in days since 2002-01-01 (default: each month's first day to the next's)."""
    months = np.asarray(months, dtype="datetime64[M]")
    start = (months.astype("datetime64[D]") - GRACE_EPOCH).astype(np.float64)
    end = ((months + 1).astype("datetime64[D]") - GRACE_EPOCH).astype(np.float64)
    bounds = np.stack([start, end], axis=1) if bounds_days is None else np.asarray(bounds_days, dtype=np.float64)
    times = bounds.mean(axis=1) if time_days is None else np.asarray(time_days, dtype=np.float64)
    first, last = (GRACE_EPOCH + np.timedelta64(int(day), "D") for day in (times.min(), times.max()))
    span = f"{str(first)[:7].replace('-', '')}_{str(last)[:7].replace('-', '')}"
    return times, bounds, span


def _grace_variables(lat, lon, lwe_cm, times, bounds, time_units="units"):
    time_attrs = {time_units: "days since 2002-01-01T00:00:00Z", "long_name": "time", "standard_name": "time",
                  "axis": "T", "calendar": "gregorian"}
    variables = _coordinates(lat, lon) + [("time", ("time",), times, time_attrs)]
    if bounds is not None:
        time_attrs["bounds"] = "time_bounds"
        variables.append(("time_bounds", ("time", "bounds"), bounds,
                          {"long_name": "time boundaries", time_units: "days since 2002-01-01T00:00:00Z"}))
    variables.append(("lwe_thickness", ("time", "lat", "lon"), _filled(lwe_cm, GRACE_FILL),
                      {"_FillValue": np.float64(GRACE_FILL), "units": "cm",
                       "long_name": "Liquid_Water_Equivalent_Thickness",
                       "standard_name": "Liquid_Water_Equivalent_Thickness", "coordinates": "time lat lon",
                       "grid_mapping": "WGS84"}))
    return variables


def _field(name: str, values, long_name: str, units: str = "1"):
    return (name, ("lat", "lon"), _filled(values, GRACE_FILL),
            {"_FillValue": np.float64(GRACE_FILL), "units": units, "long_name": long_name})


def _write_field_file(folder: str, name: str, lat, lon, field, title: str, what: str) -> str:
    """A file of one (lat, lon) field beside a product (gain factors, land mask)."""
    return _write(os.path.join(folder, name), {"lat": len(lat), "lon": len(lon)}, _coordinates(lat, lon) + [field],
                  {"title": title, "comment": SYNTHETIC.format(what)})


def write_jpl_mascons(folder: str, months, lat, lon, lwe_cm, version: int = 3, scale=None, land_mask=None,
                      time_days=None, bounds_days=None) -> List[str]:
    """JPL RL06 CRI mascons (``lwe_thickness`` cm, months x lat x lon): v03 keeps ``scale_factor`` and
    ``land_mask`` in the file, v02 writes them to CLM4.SCALE_FACTOR.JPL.MSCNv02CRI.nc and LAND_MASK.CRI.nc.
    Times default to mid-month with the month as bounds. Returns the paths written."""
    if version not in (2, 3):
        raise ValueError(f"JPL mascon version {version} is not written (2 or 3)")
    times, bounds, span = _grace_times(months, time_days, bounds_days)
    dims = {"lat": len(lat), "lon": len(lon), "time": times.size, "bounds": 2}
    release = "RL06.1M.MSCNv03CRI" if version == 3 else "RL06M.MSCNv02CRI"
    attributes = {"title": f"JPL GRACE and GRACE-FO MASCON {release}", "institution": "NASA/JPL",
                  "comment": SYNTHETIC.format(f"JPL {release} mascons")}
    variables = _grace_variables(lat, lon, lwe_cm, times, bounds)
    extra = []
    if scale is not None:
        extra.append(("CLM4.SCALE_FACTOR.JPL.MSCNv02CRI.nc", _field("scale_factor", scale, "scale_factor")))
    if land_mask is not None:
        extra.append(("LAND_MASK.CRI.nc", _field("land_mask", land_mask, "land_mask", "binary")))
    paths = []
    if version == 3:
        variables += [entry for _, entry in extra]
    else:
        for name, entry in extra:
            paths.append(_write_field_file(folder, name, lat, lon, entry, f"JPL {entry[0]} for {release}",
                                           f"JPL {release} {entry[0]}"))
    main = os.path.join(folder, f"GRCTellus.JPL.{span}.GLO.{release}.nc")
    return [_write(main, dims, variables, attributes)] + paths


def write_csr_mascons(folder: str, months, lat, lon, lwe_cm, time_bounds: bool = True, land_mask=None,
                      time_days=None, bounds_days=None) -> List[str]:
    """CSR RL06 mascons (``lwe_thickness`` cm; time units in ``Units`` as CSR writes them; ``time_bounds``
    optional), and with ``land_mask`` the LO_val file. Returns the paths written."""
    times, bounds, _ = _grace_times(months, time_days, bounds_days)
    dims = {"lat": len(lat), "lon": len(lon), "time": times.size, "bounds": 2}
    variables = _grace_variables(lat, lon, lwe_cm, times, bounds if time_bounds else None, time_units="Units")
    attributes = {"title": "CSR GRACE and GRACE-FO MASCON RL06Mv2",
                  "institution": "The University of Texas - Center for Space Research (CSR)",
                  "comment": SYNTHETIC.format("CSR RL06 mascons")}
    paths = [_write(os.path.join(folder, "CSR_GRACE_GRACE-FO_RL0602_Mascons_all-corrections.nc"), dims, variables,
                    attributes)]
    if land_mask is not None:
        paths.append(_write_field_file(folder, "CSR_GRACE_GRACE-FO_RL06_Mascons_v02_LandMask.nc", lat, lon,
                                       _field("LO_val", land_mask, "land (1) / ocean (0)"),
                                       "CSR GRACE and GRACE-FO MASCON RL06 land mask", "the CSR mascon land mask"))
    return paths


def write_tellus_land(folder: str, centre: str, months, lat, lon, lwe_cm, scale=None, time_days=None,
                      bounds_days=None) -> List[str]:
    """A Tellus land grid (GRCTellus.<centre>.*.LND.RL05 layout, ``lwe_thickness`` cm) and with ``scale`` the
    CLM4.SCALE_FACTOR.DS.G300KM file (``SCALE_FACTOR``). Returns the paths written."""
    centre = centre.upper()
    if centre not in ("CSR", "JPL", "GFZ"):
        raise ValueError(f"Tellus land grids come from CSR, JPL or GFZ, not {centre}")
    times, bounds, span = _grace_times(months, time_days, bounds_days)
    release = "RL05_1.DSTvSCS1411" if centre == "JPL" else "RL05.DSTvSCS1409"
    dims = {"lat": len(lat), "lon": len(lon), "time": times.size, "bounds": 2}
    paths = [_write(os.path.join(folder, f"GRCTellus.{centre}.{span}.LND.{release}.nc"), dims,
                    _grace_variables(lat, lon, lwe_cm, times, bounds),
                    {"title": f"GRACE Tellus {centre} monthly land grids", "institution": centre,
                     "comment": SYNTHETIC.format(f"GRACE Tellus {centre} land grids")})]
    if scale is not None:
        paths.append(_write_field_file(folder, "CLM4.SCALE_FACTOR.DS.G300KM.RL05.DSTvSCS1409.nc", lat, lon,
                                       _field("SCALE_FACTOR", scale, "gain factor"),
                                       "CLM4 gain factors for GRACE Tellus land grids",
                                       "the Tellus land-grid gain factors"))
    return paths


def write_gldas(folder: str, model: str, times, lat, lon, fields: Dict[str, np.ndarray], monthly: bool = True,
                version: str = "2.1") -> List[str]:
    """GLDAS files, one per time: monthly ``GLDAS_<MODEL><res>_M.AYYYYMM.021.nc4`` (``times`` months) or 3-hourly
    ``..._3H.AYYYYMMDD.HHMM.021.nc4`` (``times`` the end of each 3-hour window). ``fields`` maps variable names
    (see `products.GLDAS_LAYOUT`; `products.PRECIPITATION_NAMES` in kg m-2 s-1) to arrays (times x lat x lon,
    kg m-2). Returns the paths written."""
    model = model.upper()
    if model not in GLDAS_LAYOUT:
        raise ValueError(f"GLDAS model {model!r} is not written ({', '.join(GLDAS_LAYOUT)})")
    lat, lon = np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)
    spacing = float(np.median(np.abs(np.diff(lon))))
    codes = {0.25: "025", 1.0: "10"}
    code = next((value for key, value in codes.items() if abs(key - spacing) < 1e-9), None)
    if code is None:
        raise ValueError(f"GLDAS grids are 0.25° or 1°, not {spacing:g}°")
    suffix = f"0{version.replace('.', '')}"
    paths = []
    for index, when in enumerate(np.asarray(times, dtype="datetime64[M]" if monthly else "datetime64[m]")):
        if monthly:
            name = f"GLDAS_{model}{code}_M.A{str(when).replace('-', '')}.{suffix}.nc4"
            start = (when.astype("datetime64[D]") - GLDAS_MONTH_EPOCH).astype(np.float64)
            end = ((when + 1).astype("datetime64[D]") - GLDAS_MONTH_EPOCH).astype(np.float64)
            time_value, time_bounds, units = start, [start, end], "days since 2000-01-01 00:00:00"
            time_attrs = {"begin_date": str(when.astype("datetime64[D]")).replace("-", ""), "begin_time": "000000",
                          "time_increment": "one month"}
        else:
            stamp = str(when)
            name = f"GLDAS_{model}{code}_3H.A{stamp[:10].replace('-', '')}.{stamp[11:13]}{stamp[14:16]}.{suffix}.nc4"
            minutes = float((when - GLDAS_3H_EPOCH).astype(np.int64))
            time_value, time_bounds, units = minutes, [minutes - 180.0, minutes], " minutes since 2000-01-01 03:00:00"
            time_attrs = {"begin_date": stamp[:10].replace("-", ""), "begin_time": f"{stamp[11:13]}{stamp[14:16]}00",
                          "time_increment": "180"}
        variables = _coordinates(lat, lon) + [
            ("time", ("time",), np.array([time_value]),
             {"units": units, "long_name": "time", "bounds": "time_bnds", **time_attrs}),
            ("time_bnds", ("time", "bnds"), np.array([time_bounds]), {})]
        for variable, values in fields.items():
            variables.append((variable, ("time", "lat", "lon"),
                              _filled(np.asarray(values)[index][None], GLDAS_FILL, np.float32),
                              {"_FillValue": GLDAS_FILL, "missing_value": GLDAS_FILL,
                               "units": "kg m-2 s-1" if variable in PRECIPITATION_NAMES else "kg m-2",
                               "long_name": variable}))
        attributes = {"missing_value": GLDAS_FILL, "title": f"GLDAS{version} LIS land surface model output",
                      "institution": "NASA GSFC", "source": {"NOAH": "Noah_v3.6", "CLSM": "CLSM-F2.5",
                                                             "VIC": "VIC_v4.1.2"}[model],
                      "conventions": "CF-1.6", "comment": SYNTHETIC.format(f"GLDAS-{version} {model}"),
                      "MAP_PROJECTION": "EQUIDISTANT CYLINDRICAL", "SOUTH_WEST_CORNER_LAT": np.float32(lat.min()),
                      "SOUTH_WEST_CORNER_LON": np.float32(lon.min()), "DX": np.float32(spacing),
                      "DY": np.float32(spacing)}
        paths.append(_write(os.path.join(folder, name), {"time": 1, "lat": lat.size, "lon": lon.size, "bnds": 2},
                            variables, attributes))
    return paths
