"""Spectral indices from multispectral imagery, streamed in row blocks (seeds 000 and 002).

* NDVI = (NIR - red) / (NIR + red) (Rouse et al. 1974);
* NDWI after McFeeters (1996) = (green - NIR) / (green + NIR): open water and wet surfaces positive;
* NDWI after Gao (1996) = (NIR - SWIR) / (NIR + SWIR): water content of vegetation (also called NDMI);
* mean annual NDVI change: the least-squares slope of NDVI against time over several dated images, in NDVI
  units per year (seed 000 uses the average annual change 2014-2020).

Reflectance = digital number x scale + offset (e.g. scale 0.0001 for products stored as reflectance x 10^4;
Landsat Collection 2: scale 0.0000275, offset -0.2). Cells where a band is nodata, or where the denominator is
not positive, are nodata.
"""
from __future__ import annotations

import datetime as _dt
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..io.gdal_errors import raising_gdal_errors
from ..io.rasters import NODATA, RasterWriter, band_names_of, open_raster, read_grid, valid_mask
from ..progress import CancelCheck, ProgressCallback, Steps

INDEX_BANDS = {"ndvi": ("nir", "red"), "ndwi_mcfeeters": ("green", "nir"), "ndwi_gao": ("nir", "swir"),
               "ndvi_change": ("nir", "red")}
_BAND_ALIASES = {
    "green": ("green", "b3", "green_band", "sr_b3"),
    "red": ("red", "b4", "red_band", "sr_b4"),
    "nir": ("nir", "b8", "nir_band", "near infrared", "near-infrared", "b5", "sr_b5", "nir08"),
    "swir": ("swir", "swir1", "swir16", "b11", "swir1_band", "sr_b6", "swir_1"),
}


def find_band(path: str, role: str) -> int:
    """1-based index of the band whose description names ``role`` (green, red, nir, swir)."""
    names = [n.strip().lower() for n in band_names_of(open_raster(path))]
    for alias in _BAND_ALIASES[role]:
        if alias in names:
            return names.index(alias) + 1
    raise ValueError(f"{path}: no band is named as {role} (bands: {', '.join(names)}); give its number")


def date_from_name(text: str) -> np.datetime64:
    """A date in a file or layer name: YYYYMMDD, YYYY-MM-DD, or a Landsat scene id (sensor path row YYYYDDD)."""
    for pattern, fmt in ((r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)", "%Y-%m-%d"), (r"(?<!\d)(\d{8})(?!\d)", "%Y%m%d")):
        for match in re.finditer(pattern, text):
            try:
                return np.datetime64(_dt.datetime.strptime(match.group(1), fmt).date(), "D")
            except ValueError:
                continue
    landsat = re.search(r"L[CETOM]\d{7}(\d{4})(\d{3})", text)
    if landsat:
        day = _dt.date(int(landsat.group(1)), 1, 1) + _dt.timedelta(days=int(landsat.group(2)) - 1)
        return np.datetime64(day, "D")
    raise ValueError(f"No date found in {text!r}; give the dates explicitly")


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a - b) / (a + b), NaN where a + b is not positive or an input is NaN."""
    total = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (a - b) / total, np.nan)


@raising_gdal_errors
def spectral_index(paths: Sequence[str], out_path: str, index: str = "ndvi", bands: Optional[Dict[str, int]] = None,
                   scale: float = 1.0, offset: float = 0.0, dates: Optional[Sequence[np.datetime64]] = None,
                   block_rows: int = 512, progress: Optional[ProgressCallback] = None,
                   is_cancelled: Optional[CancelCheck] = None) -> str:
    """Write an index raster (float32, nodata -9999) from one image, or NDVI change from several dated ones.

    ``bands`` maps roles (green, red, nir, swir) to 1-based band numbers; missing roles are found from band
    descriptions. All images must share one grid. Refuses images (named in the message) without a cell that
    gets an index value (all nodata); the partial output is removed.
    """
    if index not in INDEX_BANDS:
        raise ValueError(f"Unknown index {index!r}; use one of {', '.join(INDEX_BANDS)}")
    if not paths:
        raise ValueError("Give at least one image")
    change = index == "ndvi_change"
    if change:
        if len(paths) < 2:
            raise ValueError("The annual NDVI change needs at least two dated images")
        dates = np.array(dates if dates is not None else [date_from_name(p) for p in paths], dtype="datetime64[D]")
        if len(dates) != len(paths):
            raise ValueError(f"{len(dates)} dates given for {len(paths)} images")
        years = (dates - dates.min()).astype(float) / 365.25
        if np.ptp(years) == 0:
            raise ValueError("The images must have different dates")
        tc = years - years.mean()
    elif len(paths) != 1:
        raise ValueError(f"{index} is computed from one image; use the annual change for several")
    grid = read_grid(paths[0])
    for path in paths[1:]:
        if not read_grid(path).same_as(grid):
            raise ValueError(f"{path} is not on the grid of {paths[0]}; align the images first "
                             "(Build factor stack or Raster > Align rasters)")
    roles = INDEX_BANDS[index]
    numbers: List[Dict[str, int]] = []
    for path in paths:
        ds = open_raster(path)
        chosen = {role: (bands or {}).get(role) or find_band(path, role) for role in roles}
        bad = {r: n for r, n in chosen.items() if not 1 <= n <= ds.RasterCount}
        if bad:
            raise ValueError(f"{path} has {ds.RasterCount} bands; cannot use {bad}")
        numbers.append(chosen)
    datasets = [open_raster(p) for p in paths]
    steps = Steps(grid.height, progress, is_cancelled)
    name = "ndvi_change_per_year" if change else index
    usable = np.zeros(len(paths), dtype=bool)  # whether an image has a cell with a valid index
    valid = 0  # cells of the output with a value
    with RasterWriter(out_path, grid.with_nodata(NODATA), 1, np.float32, [name]) as writer:
        for row0 in range(0, grid.height, block_rows):
            rows = min(block_rows, grid.height - row0)
            values = []
            for ds, chosen in zip(datasets, numbers):
                reflectance = []
                for role in roles:
                    band = ds.GetRasterBand(chosen[role])
                    dn = band.ReadAsArray(0, row0, grid.width, rows)
                    refl = dn.astype(np.float64) * scale + offset
                    refl[~valid_mask(dn, band.GetNoDataValue())] = np.nan
                    reflectance.append(refl)
                values.append(normalized_difference(*reflectance))
            if change:
                stack = np.stack(values)
                out = np.tensordot(tc, stack, axes=1) / (tc @ tc)
                out[np.isnan(stack).any(axis=0)] = np.nan
            else:
                out = values[0]
            usable |= [not np.isnan(v).all() for v in values]
            valid += int(np.count_nonzero(~np.isnan(out)))
            writer.write(out.astype(np.float32), row0=row0)
            steps.advance(f"rows {row0}-{row0 + rows}", rows)
        if not valid:  # raised inside the writer's block: the partial output is removed
            bands_used = " and ".join(roles)
            empty = [p for p, ok in zip(paths, usable) if not ok]
            if empty:
                raise ValueError(f"{', '.join(empty)}: no cell has a valid {bands_used} pair (every cell is nodata, "
                                 f"or {' + '.join(roles)} is not positive); nothing was written")
            raise ValueError(f"{', '.join(paths)}: the images share no cell with a valid {index} (their valid "
                             "cells do not overlap); nothing was written")
    return out_path
