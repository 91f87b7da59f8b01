"""Hydrological indices from a DEM: specific catchment area (m^2/m), TWI = ln(a / tan beta) and SPI = a tan beta,
and `hydrology_from_dem`, the whole chain (fill, D8 or MFD accumulation, SCA, TWI, SPI) computed in row blocks
into the accumulation's buffer. Conventions: see `terrain.neighbours`.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ..io.grid import RasterGrid
from ..io.rasters import valid_mask
from ..progress import CancelCheck, ProgressCallback, Steps
from .derivatives import iter_terrain_rows, metric_cell_sizes
from .fill import epsilon_filled_dem, fill_depressions
from .neighbours import BLOCK_CELLS, as_float, cell_chunks, require_3x3, require_valid_cell, row_sizes
from .routing import d8_accumulation, flow_directions_d8, mfd_accumulation


def specific_catchment_area(accumulation_cells: np.ndarray, lx, ly) -> np.ndarray:
    """Specific catchment area a (m^2/m): contributing area (cells x lx x ly) per unit contour width.

    The contour width is the side of a square cell of the same area, sqrt(lx * ly) (the cell size for
    square cells, as in RichDEM, SAGA and Whitebox), for D8 and MFD alike.
    """
    accumulation_cells = np.asarray(accumulation_cells, dtype=np.float64)
    rows = accumulation_cells.shape[0]
    width = np.sqrt(row_sizes(lx, rows) * row_sizes(ly, rows))
    return accumulation_cells * width[:, None]


def _tan_slope(slope_degrees: np.ndarray, min_slope_degrees: float) -> np.ndarray:
    """tan of the slope, at least ``min_slope_degrees``; NaN stays NaN (a cell without a slope, e.g. one
    without any valid neighbour, gets no index)."""
    return np.tan(np.radians(np.maximum(slope_degrees, min_slope_degrees)))


def _chunkwise(formula, sca, slope_degrees) -> np.ndarray:
    """``formula(a, slope)`` (float64) evaluated chunk by chunk when both have one shape, so that its
    temporaries stay small."""
    sca, slope_degrees = np.asarray(sca, dtype=np.float64), np.asarray(slope_degrees)
    if sca.shape != slope_degrees.shape:
        return formula(sca, slope_degrees)
    out = np.empty(sca.shape)
    flat, a, slope = out.reshape(-1), sca.reshape(-1), slope_degrees.reshape(-1)
    for start, stop in cell_chunks(out.size):
        flat[start:stop] = formula(a[start:stop], slope[start:stop])
    return out


def topographic_wetness_index(sca: np.ndarray, slope_degrees: np.ndarray,
                              min_slope_degrees: float = 0.1) -> np.ndarray:
    """TWI = ln(a / tan beta) (Beven & Kirkby 1979; seed 000 eq. 2), a in m^2/m, beta the local slope.

    Slopes below ``min_slope_degrees`` (default 0.1 degree, flats included) count as that minimum so the
    index stays finite. NaN where either input is NaN.
    """
    return _chunkwise(lambda a, slope: np.log(a / _tan_slope(slope, min_slope_degrees)), sca, slope_degrees)


def stream_power_index(sca: np.ndarray, slope_degrees: np.ndarray, min_slope_degrees: float = 0.1) -> np.ndarray:
    """SPI = a * tan beta (Moore et al. 1991; seed 000 eq. 3), a in m^2/m; slopes below
    ``min_slope_degrees`` count as that minimum, as for the TWI. NaN where either input is NaN."""
    return _chunkwise(lambda a, slope: a * _tan_slope(slope, min_slope_degrees), sca, slope_degrees)


def _part(progress: Optional[ProgressCallback], start: float, end: float) -> Optional[ProgressCallback]:
    """A progress callback reporting 0..100 % of a sub-task as start..end % of the whole."""
    if progress is None:
        return None
    return lambda percent, message: progress(start + (end - start) * percent / 100.0, message)


def _nan_at_nodata(dem: np.ndarray, nodata) -> np.ndarray:
    """The DEM as floats (`as_float`) with NaN at nodata: the DEM itself when it already is, else a copy."""
    valid = valid_mask(dem, nodata)
    if np.issubdtype(dem.dtype, np.floating) and np.all(valid | np.isnan(dem)):
        return dem
    return as_float(np.where(valid, dem, np.nan))


def _catchment_products(z: np.ndarray, grid: RasterGrid, accumulation: np.ndarray, outputs, lx, ly,
                        min_slope_degrees: float) -> Dict[str, np.ndarray]:
    """The ``outputs`` among accumulation (cells), specific catchment area (m^2/m), TWI and SPI (float64),
    computed in row blocks with the Horn slope of ``z``; the first one after the accumulation takes over its
    buffer when the accumulation itself is not asked for."""
    rows, cols = z.shape
    width = np.sqrt(row_sizes(lx, rows) * row_sizes(ly, rows))[:, None]
    names = [key for key in ("sca", "twi", "spi") if key in outputs]
    out = {"accumulation": accumulation} if "accumulation" in outputs else {}
    for key in names:
        out[key] = accumulation if not out else np.empty(z.shape)
    block_rows = max(1, BLOCK_CELLS // max(cols, 1))
    slopes = iter_terrain_rows(z, grid, ["slope"], block_rows) if {"twi", "spi"} & set(names) else None
    index = {"twi": topographic_wetness_index, "spi": stream_power_index}
    for start in range(0, rows if names else 0, block_rows):
        stop = min(rows, start + block_rows)
        sca = accumulation[start:stop] * width[start:stop]
        slope = next(slopes)[1]["slope"] if slopes is not None else None
        for key in names:
            out[key][start:stop] = sca if key == "sca" else index[key](sca, slope, min_slope_degrees)
    return out


OUTPUTS = ("filled", "accumulation", "sca", "twi", "spi")


def hydrology_from_dem(dem: np.ndarray, grid: RasterGrid, method: str = "mfd", epsilon: bool = True,
                       min_slope_degrees: float = 0.1, outputs=OUTPUTS, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> Dict[str, np.ndarray]:
    """Filled DEM (m), flow accumulation (cells), specific catchment area (m^2/m), TWI and SPI of a DEM: the
    ``outputs`` asked for (all by default; each one fewer saves a float64 array of the DEM's size).

    ``method``: "mfd" (Freeman 1991, exponent 1.1) or "d8". The DEM is filled first (`fill_depressions`,
    with the flat gradient when ``epsilon``). beta is the Horn slope of the original DEM (`iter_terrain_rows`),
    the land surface's own slope, so filled lakes get ``min_slope_degrees``-limited values only where the
    land is flat. Cell sizes are true metres (`metric_cell_sizes`). Every output is NaN at nodata; all are
    float64 but the filled DEM without ``epsilon`` (the DEM's float type). Refuses a DEM smaller than 3 x 3
    cells or without a valid cell.
    """
    if method not in ("mfd", "d8"):
        raise ValueError(f"Unknown flow method {method!r}: use 'mfd' or 'd8'")
    unknown = set(outputs) - set(OUTPUTS)
    if unknown:
        raise ValueError(f"Unknown outputs {sorted(unknown)}: choose from {list(OUTPUTS)}")
    require_3x3(np.shape(dem), "flow routing, TWI and SPI")
    z = _nan_at_nodata(np.asarray(dem), grid.nodata)
    require_valid_cell(z)
    lx, ly = metric_cell_sizes(grid, np.arange(grid.height))
    fill_progress = _part(progress, 0, 35)
    if method == "d8":
        surface = fill_depressions(z, epsilon, fill_progress, is_cancelled)
        directions = flow_directions_d8(surface, lx, ly, _part(progress, 35, 60), is_cancelled)
        filled = surface if "filled" in outputs else None
        del surface
        accumulation = d8_accumulation(directions, None, _part(progress, 60, 95), is_cancelled)
        del directions
        accumulation[np.isnan(z)] = np.nan  # nodata cells have no direction: they counted 1 and passed nothing
    else:
        surface = epsilon_filled_dem(z, fill_progress, is_cancelled) if epsilon else \
            fill_depressions(z, False, fill_progress, is_cancelled)
        filled = (surface.array() if epsilon else surface) if "filled" in outputs else None
        accumulation = mfd_accumulation(surface, lx, ly, progress=_part(progress, 35, 95), is_cancelled=is_cancelled)
        del surface
    steps = Steps(1, _part(progress, 95, 100), is_cancelled)
    result = {} if filled is None else {"filled": filled}
    result.update(_catchment_products(z, grid, accumulation, outputs, lx, ly, min_slope_degrees))
    steps.advance("Computed TWI and SPI")
    return result
