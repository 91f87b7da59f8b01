"""Terrain derivatives of a DEM: slope, aspect and curvature from a 3 x 3 window, streamed in row blocks.

* Slope and aspect: Horn (1981) weighted differences, as ``gdaldem`` computes them.
* Curvature: Zevenbergen & Thorne (1987) second-order polynomial, in the ArcGIS convention (units 1/100 m;
  total = -(z_xx + z_yy) * 100, positive = upwardly convex; profile along the slope, plan across it).
* Cell sizes are true metres: for a projected CRS the geotransform times the CRS's linear unit; for a
  geographic CRS every row gets its own east-west and north-south size from the ellipsoid's radii of curvature
  at that row's latitude, so degrees are never treated as metres.
* Arithmetic in float32 for float32 and 8/16-bit DEMs (as gdaldem), float64 for float64 DEMs.
* Edges and nodata: a missing neighbour (outside the raster or nodata) is extrapolated linearly from the
  opposite neighbour (2 e - opposite; exact for planes), or replaced by the centre when that is missing too.
  Nodata cells stay nodata, and so does a cell without any valid neighbour (nothing to take a slope from).
* A DEM smaller than 3 x 3 cells, or (`write_terrain`) without any cell that gets a value, is refused.
"""
from __future__ import annotations

from typing import Dict, Iterator, Optional, Tuple

import numpy as np

from ..io.grid import RasterGrid, spatial_reference
from ..io.rasters import NODATA, RasterWriter, iter_blocks, read_grid, valid_mask
from ..progress import CancelCheck, ProgressCallback, Steps
from .neighbours import require_3x3

FLAT_ASPECT = -1.0


def metric_cell_sizes(grid: RasterGrid, rows: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """East-west and north-south cell sizes in metres for the given rows (arrays of the rows' length).

    Raises ValueError for a raster without CRS (its units are unknown).
    """
    rows = np.asarray(rows)
    if not grid.crs_wkt:
        raise ValueError("The DEM has no coordinate reference system, so its cell size in metres is unknown; "
                         "assign a CRS first")
    if not grid.is_geographic:
        unit = grid.linear_unit_metres
        return np.full(rows.shape, grid.dx * unit), np.full(rows.shape, grid.dy * unit)
    srs = spatial_reference(grid.crs_wkt)
    a = srs.GetSemiMajor()
    inv_f = srs.GetInvFlattening()
    e2 = 0.0 if inv_f == 0 else (2.0 - 1.0 / inv_f) / inv_f
    angular = srs.GetAngularUnits()  # radians per CRS unit
    _, lat = grid.cell_centres(rows, np.zeros_like(rows))
    phi = lat * angular
    w = np.sqrt(1.0 - e2 * np.sin(phi) ** 2)
    prime_vertical = a / w
    meridional = a * (1.0 - e2) / w ** 3
    return prime_vertical * np.cos(phi) * grid.dx * angular, meridional * grid.dy * angular


def _neighbours(window: np.ndarray) -> Dict[str, np.ndarray]:
    """The nine 3 x 3 neighbours (a b c / d e f / g h i, north up) of every interior cell of ``window``."""
    r, c = window.shape[0] - 2, window.shape[1] - 2
    names = "abcdefghi"
    return {names[3 * i + j]: window[i:i + r, j:j + c] for i in range(3) for j in range(3)}


def compute_dtype(dtype) -> np.dtype:
    """float32 for float32 and 8/16-bit DEMs (as gdaldem computes), float64 for float64 and 32-bit integers."""
    return np.result_type(dtype, np.float32)


def pad_window(values: np.ndarray, top: bool, bottom: bool, left: bool = True, right: bool = True) -> np.ndarray:
    """Pad a block with one extrapolated row/column where the raster ends.

    ``values`` holds the block plus its halo; ``top`` / ``bottom`` / ``left`` / ``right`` say whether a padding
    row or column is needed there (the block touches the raster's edge; elsewhere the halo is in ``values``).
    Returns floats (`compute_dtype`).
    """
    z = values.astype(compute_dtype(values.dtype), copy=False)
    if top:
        z = np.vstack([2 * z[:1] - z[1:2] if z.shape[0] > 1 else z[:1], z])
    if bottom:
        z = np.vstack([z, 2 * z[-1:] - z[-2:-1] if z.shape[0] > 1 else z[-1:]])
    columns = [z]
    if left:
        columns.insert(0, 2 * z[:, :1] - z[:, 1:2] if z.shape[1] > 1 else z[:, :1])
    if right:
        columns.append(2 * z[:, -1:] - z[:, -2:-1] if z.shape[1] > 1 else z[:, -1:])
    return np.hstack(columns) if len(columns) > 1 else z


def _undefined(window: np.ndarray) -> np.ndarray:
    """True for the interior cells of ``window`` that are NaN or have no valid neighbour (no value is
    written for them)."""
    missing = np.isnan(window)
    centre = missing[1:-1, 1:-1]
    if not missing.any():
        return centre
    has_neighbour = np.zeros(centre.shape, dtype=bool)
    for name, valid in _neighbours(~missing).items():
        if name != "e":
            has_neighbour |= valid
    return centre | ~has_neighbour


def _fill_missing_neighbours(window: np.ndarray) -> Dict[str, np.ndarray]:
    """Neighbours with NaN replaced by 2 e - opposite, else by the centre."""
    n = _neighbours(window)
    if not np.isnan(window).any():
        return n
    e = n["e"]
    opposite = {"a": "i", "b": "h", "c": "g", "d": "f", "f": "d", "g": "c", "h": "b", "i": "a"}
    out = {"e": e}
    for k, o in opposite.items():
        v = n[k]
        missing = np.isnan(v)
        if missing.any():
            v = np.where(missing, 2 * e - n[o], v)
            v = np.where(np.isnan(v), e, v)
        out[k] = v
    return out


def horn_gradient(window: np.ndarray, lx, ly) -> Tuple[np.ndarray, np.ndarray]:
    """dz/dx (east) and dz/dy (north) by Horn's method; ``window`` has a one-cell border, lx/ly in metres
    (scalars or one value per row)."""
    n = _fill_missing_neighbours(window)
    lx = np.asarray(lx, dtype=window.dtype).reshape(-1, 1) if np.ndim(lx) else window.dtype.type(lx)
    ly = np.asarray(ly, dtype=window.dtype).reshape(-1, 1) if np.ndim(ly) else window.dtype.type(ly)
    zx = ((n["c"] + 2 * n["f"] + n["i"]) - (n["a"] + 2 * n["d"] + n["g"])) / (8.0 * lx)
    zy = ((n["a"] + 2 * n["b"] + n["c"]) - (n["g"] + 2 * n["h"] + n["i"])) / (8.0 * ly)
    return zx, zy


def slope_degrees(zx: np.ndarray, zy: np.ndarray) -> np.ndarray:
    return np.degrees(np.arctan(np.hypot(zx, zy)))


def slope_percent(zx: np.ndarray, zy: np.ndarray) -> np.ndarray:
    return 100.0 * np.hypot(zx, zy)


def aspect_degrees(zx: np.ndarray, zy: np.ndarray) -> np.ndarray:
    """Direction of steepest descent, degrees clockwise from north in [0, 360); flat cells get -1."""
    aspect = np.degrees(np.arctan2(-zx, -zy)) % 360.0
    aspect = np.where(aspect >= 360.0, 0.0, aspect)
    return np.where((zx == 0) & (zy == 0), FLAT_ASPECT, aspect)


def zevenbergen_thorne(window: np.ndarray, lx, ly) -> Dict[str, np.ndarray]:
    """Total, profile and plan curvature (1/100 m, ArcGIS convention) of the Zevenbergen-Thorne polynomial."""
    n = _fill_missing_neighbours(window)
    lx = np.asarray(lx, dtype=window.dtype).reshape(-1, 1) if np.ndim(lx) else window.dtype.type(lx)
    ly = np.asarray(ly, dtype=window.dtype).reshape(-1, 1) if np.ndim(ly) else window.dtype.type(ly)
    zxx = (n["d"] + n["f"] - 2 * n["e"]) / lx ** 2
    zyy = (n["b"] + n["h"] - 2 * n["e"]) / ly ** 2
    zxy = (-n["a"] + n["c"] + n["g"] - n["i"]) / (4 * lx * ly)
    zx = (n["f"] - n["d"]) / (2 * lx)
    zy = (n["b"] - n["h"]) / (2 * ly)
    p = zx * zx + zy * zy
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(p > 0, -(zxx * zx * zx + 2 * zxy * zx * zy + zyy * zy * zy) / p, 0.0)
        plan = np.where(p > 0, (zxx * zy * zy - 2 * zxy * zx * zy + zyy * zx * zx) / p, 0.0)
    return {"total": -100.0 * (zxx + zyy), "profile": 100.0 * profile, "plan": 100.0 * plan}


def terrain_products(window: np.ndarray, lx, ly, products) -> Dict[str, np.ndarray]:
    """Compute the requested products (slope, slope_percent, aspect, total/profile/plan curvature)."""
    out = {}
    if {"slope", "slope_percent", "aspect"} & set(products):
        zx, zy = horn_gradient(window, lx, ly)
        if "slope" in products:
            out["slope"] = slope_degrees(zx, zy)
        if "slope_percent" in products:
            out["slope_percent"] = slope_percent(zx, zy)
        if "aspect" in products:
            out["aspect"] = aspect_degrees(zx, zy)
    curvatures = [p for p in products if p in ("total", "profile", "plan")]
    if curvatures:
        curv = zevenbergen_thorne(window, lx, ly)
        out.update({k: curv[k] for k in curvatures})
    return out


def iter_terrain_rows(dem: np.ndarray, grid: RasterGrid, products,
                      block_rows: Optional[int] = None) -> Iterator[Tuple[int, Dict[str, np.ndarray]]]:
    """Terrain products of an in-memory DEM in blocks of ``block_rows`` rows (default: about 2**18 cells):
    yields (first row, {product: rows}), NaN where the DEM is nodata."""
    require_3x3(dem.shape, "slope, aspect and curvature")
    rows, cols = dem.shape
    lx, ly = metric_cell_sizes(grid, np.arange(rows))
    dtype = compute_dtype(dem.dtype)
    step = block_rows or max(1, (1 << 18) // max(cols, 1))
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        values = dem[max(start - 1, 0):stop + 1]
        values = np.where(valid_mask(values, grid.nodata), values, np.nan).astype(dtype, copy=False)
        window = pad_window(values, start == 0, stop == rows)
        out = terrain_products(window, lx[start:stop], ly[start:stop], products)
        undefined = _undefined(window)
        yield start, {k: np.where(undefined, np.nan, v) for k, v in out.items()}


def terrain_array(dem: np.ndarray, grid: RasterGrid, products) -> Dict[str, np.ndarray]:
    """Terrain products of an in-memory DEM (NaN = nodata); outputs NaN where the DEM is nodata. Computed in
    row blocks, so the outputs are the only full-size arrays."""
    out = {}
    for start, blocks in iter_terrain_rows(dem, grid, products):
        for k, v in blocks.items():
            if k not in out:
                out[k] = np.empty(dem.shape, dtype=v.dtype)
            out[k][start:start + v.shape[0]] = v
    return out


def terrain_tile(values: np.ndarray, grid: RasterGrid, row0: int, products, edges: Tuple[bool, bool, bool, bool]
                 ) -> Dict[str, np.ndarray]:
    """Terrain products of one tile of a DEM (NaN at nodata): ``values`` is the tile with a one-cell halo on every
    side that is not on the raster's edge, ``row0`` the raster row of the tile's first row, ``edges`` (top, bottom,
    left, right) True where the tile touches the raster's edge (padded by extrapolation there). Row blocks and
    tiles of any size give the same values as the whole raster."""
    z = np.where(valid_mask(values, grid.nodata), values, np.nan).astype(compute_dtype(values.dtype), copy=False)
    window = pad_window(z, *edges)
    lx, ly = metric_cell_sizes(grid, np.arange(row0, row0 + window.shape[0] - 2))
    out = terrain_products(window, lx, ly, products)
    undefined = _undefined(window)
    return {k: np.where(undefined, np.nan, v) for k, v in out.items()}


def iter_terrain_blocks(path: str, products, block_rows: int = 512,
                        band: int = 1) -> Iterator[Tuple[int, Dict[str, np.ndarray]]]:
    """Stream a DEM file in row blocks and yield (first row, {product: block}) with NaN at nodata."""
    grid = read_grid(path, band=band)
    require_3x3(grid.shape, "slope, aspect and curvature", f"{path}: the DEM")
    for block in iter_blocks(path, block_rows=block_rows, halo=1, band=band):
        yield block.row0, terrain_tile(block.data, grid, block.row0, products,
                                       (block.halo_top == 0, block.halo_bottom == 0, True, True))


def terrain_input_grid(path: str, band: int = 1) -> RasterGrid:
    """The grid of a DEM for slope, aspect and curvature; refuses one without CRS or smaller than 3 x 3 cells."""
    grid = read_grid(path, band=band)
    metric_cell_sizes(grid, np.arange(1))  # refuses a DEM without CRS before anything is written
    require_3x3(grid.shape, "slope, aspect and curvature", f"{path}: the DEM")
    return grid


def finish_terrain_outputs(writers: dict, valid: int, path: str) -> None:
    """Close the output writers when ``valid`` cells got a value; refuse a DEM that gave none."""
    if not valid:
        raise ValueError(f"{path}: the DEM has no valid cell (every cell is nodata, or has no valid "
                         "neighbour); nothing was written")
    for writer in writers.values():
        writer.close()


def write_terrain(path: str, outputs: Dict[str, str], band: int = 1, block_rows: int = 512,
                  progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None) -> None:
    """Write terrain products of the DEM at ``path``: ``outputs`` maps product name to output file.

    Float32 GeoTIFFs with nodata -9999, streamed in row blocks; nothing is left behind on cancel or error.
    Refuses a DEM smaller than 3 x 3 cells, and (after streaming it) one without a cell that gets a value.
    """
    grid = terrain_input_grid(path, band)
    steps = Steps(grid.height, progress, is_cancelled)
    writers = {k: RasterWriter(p, grid.with_nodata(NODATA), 1, np.float32, [k]) for k, p in outputs.items()}
    try:
        valid = 0
        for row0, blocks in iter_terrain_blocks(path, list(outputs), block_rows, band):
            for name, values in blocks.items():
                writers[name].write(values.astype(np.float32), row0=row0)
            first = next(iter(blocks.values()))
            valid += int(np.count_nonzero(~np.isnan(first)))
            steps.advance(f"rows {row0}-{row0 + len(first)}", len(first))
        finish_terrain_outputs(writers, valid, path)
    except BaseException:
        for writer in writers.values():
            writer.abort()  # a writer already closed has nothing left to remove
        raise
