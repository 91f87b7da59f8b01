"""NetCDF variables, attributes and CF time through GDAL's multidimensional API (GDAL >= 3.1, as QGIS ships it).

`NetCDFFile` keeps the GDAL dataset open while its arrays and attributes are used (GDAL objects outlive a dropped
dataset only as dangling pointers). What GDAL does and does not do, checked on GDAL 3.6:

- ``MDArray.ReadAsArray`` returns the packed values: ``scale_factor`` / ``add_offset`` (``GetScale`` /
  ``GetOffset``) and ``_FillValue`` / ``missing_value`` are applied here, the fill compared with the packed values
  as CF says. ``valid_min`` / ``valid_max`` are not applied (JPL mascon files write their data range there).
- ``GetAttributes()`` hides the attributes GDAL interprets (``units``, ``_FillValue``, ``missing_value``,
  ``scale_factor``, ``add_offset``), comparing names without case: a CSR mascon file's ``time:Units`` (capital U)
  is hidden too, yet ``GetUnit()`` reads only ``units``. Attributes are listed with ``SHOW_ALL=YES`` and the unit
  is looked up case-insensitively, so ``Units`` is found.

CF time (CF conventions §4.4): ``<unit> since <reference>`` with unit days, hours, minutes or seconds; the
reference as ``2002-01-01T00:00:00Z``, ``2000-01-01 03:00:00`` (GLDAS files write ``" minutes since
2000-01-01 03:00:00"`` with a leading space), a date alone, or with a UTC offset; calendars standard / gregorian
(from 1582-10-15 on) and proleptic_gregorian, which numpy's datetime64 is.
"""
from __future__ import annotations

import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal

from .gdal_errors import raising_gdal_errors

_UNIT_MS = {"day": 86_400_000, "days": 86_400_000, "d": 86_400_000,
            "hour": 3_600_000, "hours": 3_600_000, "hr": 3_600_000, "hrs": 3_600_000, "h": 3_600_000,
            "minute": 60_000, "minutes": 60_000, "min": 60_000, "mins": 60_000,
            "second": 1000, "seconds": 1000, "sec": 1000, "secs": 1000, "s": 1000}
_CALENDARS = ("standard", "gregorian", "proleptic_gregorian")
_GREGORIAN_START = np.datetime64("1582-10-15", "ms")
_SINCE = re.compile(r"^\s*([A-Za-z]+)\s+since\s+(.+?)\s*$", re.IGNORECASE)
_REFERENCE = re.compile(r"^(-?\d{1,4})-(\d{1,2})-(\d{1,2})"
                        r"(?:[T ]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?)?"
                        r"\s*(Z|UTC|GMT|[+-]\d{1,2}(?::?\d{2})?)?$", re.IGNORECASE)


class NetCDFError(ValueError):
    """A NetCDF file or variable that cannot be used; the message names the file and what is missing."""


def decode_cf_time(values, units: str, calendar: Optional[str] = None) -> np.ndarray:
    """CF time values (``units`` "<unit> since <reference>", days / hours / minutes / seconds) as
    datetime64[ms]; ``ValueError`` for other units, other calendars or missing values."""
    match = _SINCE.match(units or "")
    if not match:
        raise ValueError(f"time units {units!r} are not of the form '<unit> since <date>'")
    unit, reference = match.group(1).lower(), match.group(2)
    if unit not in _UNIT_MS:
        raise ValueError(f"time unit {match.group(1)!r} is not supported (days, hours, minutes or seconds; "
                         "months and years have no fixed length)")
    origin = _parse_reference(reference)
    kind = (calendar or "standard").strip().lower()
    if kind not in _CALENDARS:
        raise ValueError(f"calendar {calendar!r} is not supported ({', '.join(_CALENDARS)})")
    numbers = np.asarray(values, dtype=np.float64)
    if np.isnan(numbers).any():
        raise ValueError("time has missing values")
    times = origin + np.round(numbers * _UNIT_MS[unit]).astype(np.int64).astype("timedelta64[ms]")
    if kind != "proleptic_gregorian" and times.size and (origin < _GREGORIAN_START or times.min() < _GREGORIAN_START):
        raise ValueError(f"{kind} calendar dates before 1582-10-15 are Julian; only proleptic_gregorian is "
                         "read there")
    return times


def _parse_reference(text: str) -> np.datetime64:
    """A CF reference date-time as datetime64[ms] in UTC."""
    match = _REFERENCE.match(text.strip())
    if not match:
        raise ValueError(f"time reference {text!r} is not a date (YYYY-MM-DD[ hh:mm[:ss]][Z|±hh:mm])")
    year, month, day, hour, minute, second, zone = match.groups()
    origin = np.datetime64(f"{int(year):04d}-{int(month):02d}-{int(day):02d}T{int(hour or 0):02d}:"
                           f"{int(minute or 0):02d}", "ms")
    origin += np.timedelta64(int(round(float(second or 0) * 1000)), "ms")
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = int(digits[:-2] or 0) * 60 + int(digits[-2:]) if len(digits) > 2 else int(digits) * 60
        origin -= np.timedelta64(offset if zone[0] == "+" else -offset, "m")
    return origin


class NetCDFFile:
    """A NetCDF file open through GDAL's multidimensional API; use as a context manager (``with
    NetCDFFile(path) as nc:``). Variables are the root group's arrays; values are read as float64 with fill and
    missing values as NaN and packing applied."""

    @raising_gdal_errors
    def __init__(self, path: str):
        self.path = path
        if not os.path.exists(path):
            raise NetCDFError(f"NetCDF file not found: {path}")
        try:
            self._dataset = gdal.OpenEx(path, gdal.OF_MULTIDIM_RASTER, allowed_drivers=["netCDF"])
        except RuntimeError as error:
            raise NetCDFError(f"{path} is not a NetCDF file GDAL can read: {error}") from error
        self._root = self._dataset.GetRootGroup()
        self.variables: List[str] = list(self._root.GetMDArrayNames() or [])

    def close(self) -> None:
        """Drop the arrays' group before the dataset (the order GDAL needs)."""
        self._root = None
        self._dataset = None

    def __enter__(self) -> "NetCDFFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def name(self) -> str:
        """The file's base name."""
        return os.path.basename(self.path)

    def _array(self, name: str) -> gdal.MDArray:
        if name not in self.variables:
            raise NetCDFError(f"{self.path}: no variable {name!r} (it has {', '.join(self.variables) or 'none'})")
        return self._root.OpenMDArray(name)

    @raising_gdal_errors
    def attributes(self, name: Optional[str] = None) -> Dict[str, object]:
        """The attributes of variable ``name`` (the global ones without a name), GDAL's hidden ones included."""
        holder = self._root if name is None else self._array(name)
        return {attribute.GetName(): attribute.Read() for attribute in holder.GetAttributes(["SHOW_ALL=YES"])}

    def unit(self, name: str) -> str:
        """The variable's ``units`` attribute ('' when absent), any case (CSR writes ``Units``)."""
        attributes = self.attributes(name)
        if "units" in attributes:
            return str(attributes["units"])
        return next((str(value) for key, value in attributes.items() if key.lower() == "units"), "")

    @raising_gdal_errors
    def dimensions(self, name: str) -> Tuple[str, ...]:
        """The names of the variable's dimensions, in storage order."""
        return tuple(dimension.GetName() for dimension in self._array(name).GetDimensions())

    @raising_gdal_errors
    def shape(self, name: str) -> Tuple[int, ...]:
        """The variable's size along each dimension."""
        return tuple(int(dimension.GetSize()) for dimension in self._array(name).GetDimensions())

    @raising_gdal_errors
    def read(self, name: str, start: Optional[Sequence[int]] = None,
             count: Optional[Sequence[int]] = None) -> np.ndarray:
        """The variable (or the hyperslab from ``start`` with ``count`` per dimension) as float64, NaN at
        ``_FillValue`` / ``missing_value``, ``scale_factor`` and ``add_offset`` applied."""
        array = self._array(name)
        raw = np.asarray(array.ReadAsArray(array_start_idx=None if start is None else [int(i) for i in start],
                                           count=None if count is None else [int(n) for n in count]))
        if raw.dtype.kind not in "biuf":
            raise NetCDFError(f"{self.path}: variable {name!r} is not numeric ({raw.dtype})")
        attributes = self.attributes(name)
        missing = np.zeros(raw.shape, dtype=bool)
        for key in ("_FillValue", "missing_value"):
            for value in np.atleast_1d(np.asarray(attributes.get(key, []), dtype=np.float64)):
                missing |= np.isnan(raw) if np.isnan(value) else raw == np.asarray(value).astype(raw.dtype)
        values = raw.astype(np.float64)
        scale, offset = array.GetScale(), array.GetOffset()
        if scale is not None:
            values *= scale
        if offset is not None:
            values += offset
        values[missing] = np.nan
        return values

    def times(self, name: str = "time") -> np.ndarray:
        """The CF time variable ``name`` decoded to datetime64[ms]."""
        return self._decode(name, self.read(name), name)

    def time_bounds(self, name: str = "time") -> Optional[np.ndarray]:
        """The bounds of time variable ``name`` (its ``bounds`` attribute, else ``time_bounds`` / ``time_bnds``)
        as datetime64[ms] (n x 2) in the time's units, or None when the file has none."""
        declared = self.attributes(name).get("bounds")
        candidates = [str(declared)] if declared else [f"{name}_bounds", f"{name}_bnds"]
        bounds = next((candidate for candidate in candidates if candidate in self.variables), None)
        if bounds is None:
            return None
        values = self.read(bounds)
        if values.ndim != 2 or values.shape[1] != 2:
            raise NetCDFError(f"{self.path}: {bounds} has shape {values.shape}, expected (n, 2)")
        return self._decode(name, values, bounds)

    def _decode(self, name: str, values: np.ndarray, what: str) -> np.ndarray:
        units = self.unit(name)
        if not units:
            raise NetCDFError(f"{self.path}: variable {name!r} has no units attribute ('units' or 'Units'), so its "
                              "dates are unknown")
        attributes = self.attributes(name)
        calendar = next((str(value) for key, value in attributes.items() if key.lower() == "calendar"), None)
        try:
            return decode_cf_time(values, units, calendar)
        except ValueError as error:
            raise NetCDFError(f"{self.path}: {what}: {error}") from error
