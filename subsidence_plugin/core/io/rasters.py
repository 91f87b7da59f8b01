"""GDAL raster reading and writing that carry nodata, CRS and band names.

Outputs are tiled, DEFLATE-compressed GeoTIFFs (level 1, compressed on all cores: about as small as level 6
and three times faster) written to a temporary file beside the target and renamed
into place only when complete, so a failure or a cancel never leaves a half-written raster. Rasters larger
than memory are read and written in row blocks (`iter_blocks`, `RasterWriter`).
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence

import numpy as np
from osgeo import gdal

from .gdal_errors import quiet_gdal, raising_gdal_errors
from .grid import RasterGrid

NODATA = -9999.0  # the nodata value of every float raster the plugin writes
GTIFF_OPTIONS = ("TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "COMPRESS=DEFLATE", "ZLEVEL=1", "NUM_THREADS=ALL_CPUS",
                 "BIGTIFF=IF_SAFER")

_GDAL_TYPES = {
    np.dtype(np.uint8): gdal.GDT_Byte,
    np.dtype(np.uint16): gdal.GDT_UInt16,
    np.dtype(np.int16): gdal.GDT_Int16,
    np.dtype(np.uint32): gdal.GDT_UInt32,
    np.dtype(np.int32): gdal.GDT_Int32,
    np.dtype(np.float32): gdal.GDT_Float32,
    np.dtype(np.float64): gdal.GDT_Float64,
}


class RasterReadError(ValueError):
    """A raster that cannot be used; the message names the file and the problem."""


class RasterWriteError(ValueError):
    """A raster that could not be finished (disk full, folder gone or read-only); the message names the file.
    Nothing is left behind: the temporary file is removed."""


@dataclass
class Raster:
    """Pixel values (bands, rows, cols), their grid and band names."""

    array: np.ndarray
    grid: RasterGrid
    band_names: List[str]

    @property
    def valid(self) -> np.ndarray:
        """(bands, rows, cols) True where a value is not nodata (and not NaN)."""
        return valid_mask(self.array, self.grid.nodata)

    def band(self, index: int = 0, masked: bool = True) -> np.ndarray:
        """One band as float64 with NaN at nodata (or raw values with ``masked=False``)."""
        values = self.array[index]
        if not masked:
            return values
        out = values.astype(np.float64)
        out[~valid_mask(values, self.grid.nodata)] = np.nan
        return out


def valid_mask(values: np.ndarray, nodata: Optional[float]) -> np.ndarray:
    """True where values are neither the nodata value nor NaN."""
    valid = np.ones(values.shape, dtype=bool)
    if np.issubdtype(values.dtype, np.floating):
        valid &= ~np.isnan(values)
    if nodata is not None and not np.isnan(nodata):
        valid &= values != nodata
    return valid


@raising_gdal_errors
def open_raster(path: str, require_crs: bool = True) -> gdal.Dataset:
    """Open a raster for reading, or raise `RasterReadError` naming the file and the problem."""
    if not path:
        raise RasterReadError("No raster was given")
    if not os.path.exists(path) and not path.startswith(("/vsi", "NETCDF:", "HDF5:")):
        raise RasterReadError(f"Raster not found: {path}")
    try:
        ds = gdal.Open(path)
    except RuntimeError as error:
        raise RasterReadError(f"Cannot open {path} as a raster: {error}") from error
    if ds is None or ds.RasterCount == 0:
        raise RasterReadError(f"{path} holds no raster band")
    if ds.RasterXSize == 0 or ds.RasterYSize == 0:
        raise RasterReadError(f"{path} is empty (0 cells)")
    if require_crs and not ds.GetProjection():
        raise RasterReadError(
            f"{path} has no coordinate reference system; assign one (Raster > Projections > Assign Projection) "
            "before using it")
    return ds


@raising_gdal_errors
def grid_of(ds: gdal.Dataset, band: int = 1) -> RasterGrid:
    """The grid of an open dataset; nodata from the given band."""
    return RasterGrid(ds.RasterXSize, ds.RasterYSize, tuple(ds.GetGeoTransform()), ds.GetProjection() or "",
                      ds.GetRasterBand(band).GetNoDataValue())


@raising_gdal_errors
def band_names_of(ds: gdal.Dataset) -> List[str]:
    """Band descriptions, or ``band_1`` ... where a band has none."""
    return [ds.GetRasterBand(i + 1).GetDescription() or f"band_{i + 1}" for i in range(ds.RasterCount)]


def read_grid(path: str, require_crs: bool = True, band: int = 1) -> RasterGrid:
    """The grid of a raster file (nodata of ``band``) without reading its pixels."""
    ds = open_raster(path, require_crs)
    if not 1 <= band <= ds.RasterCount:
        raise RasterReadError(f"{path} has {ds.RasterCount} band(s); band {band} does not exist")
    return grid_of(ds, band)


@raising_gdal_errors
def read_raster(path: str, bands: Optional[Sequence[int]] = None, require_crs: bool = True) -> Raster:
    """Read whole bands (1-based indices, default all) of a raster into memory."""
    ds = open_raster(path, require_crs)
    indices = list(bands) if bands else list(range(1, ds.RasterCount + 1))
    bad = [i for i in indices if not 1 <= i <= ds.RasterCount]
    if bad:
        raise RasterReadError(f"{path} has {ds.RasterCount} band(s); band(s) {bad} do not exist")
    array = np.stack([ds.GetRasterBand(i).ReadAsArray() for i in indices])
    names = band_names_of(ds)
    return Raster(array, grid_of(ds, indices[0]), [names[i - 1] for i in indices])


@dataclass
class Block:
    """Rows [row0, row0 + rows) of a raster, read with ``halo`` extra rows above and below where they exist."""

    row0: int
    rows: int
    data: np.ndarray
    halo_top: int
    halo_bottom: int

    @property
    def core(self) -> np.ndarray:
        """The block's own rows, without the halo."""
        return self.data[..., self.halo_top:self.data.shape[-2] - self.halo_bottom, :]


@raising_gdal_errors
def read_window(path: str, row0: int, col0: int, rows: int, cols: int, band: int = 1) -> np.ndarray:
    """Cells [row0, row0 + rows) x [col0, col0 + cols) of one band, as stored (nodata not replaced)."""
    dataset = open_raster(path, require_crs=False)
    return dataset.GetRasterBand(band).ReadAsArray(col0, row0, cols, rows)


@raising_gdal_errors
def iter_blocks(path: str, block_rows: int = 512, halo: int = 0, band: int = 1,
                require_crs: bool = True) -> Iterator[Block]:
    """Stream one band in row blocks with an optional halo, for rasters larger than memory."""
    ds = open_raster(path, require_crs)
    rb = ds.GetRasterBand(band)
    height = ds.RasterYSize
    for row0 in range(0, height, block_rows):
        rows = min(block_rows, height - row0)
        top = min(halo, row0)
        bottom = min(halo, height - row0 - rows)
        data = rb.ReadAsArray(0, row0 - top, ds.RasterXSize, rows + top + bottom)
        yield Block(row0, rows, data, top, bottom)


@raising_gdal_errors
def iter_stack_blocks(path: str, block_rows: int = 256, require_crs: bool = True) -> Iterator[tuple]:
    """Stream every band of a multi-band raster in row blocks: (row0, float32 (bands, rows, cols) with NaN at
    each band's nodata)."""
    ds = open_raster(path, require_crs)
    bands = [ds.GetRasterBand(i + 1) for i in range(ds.RasterCount)]
    for row0 in range(0, ds.RasterYSize, block_rows):
        rows = min(block_rows, ds.RasterYSize - row0)
        values = np.stack([b.ReadAsArray(0, row0, ds.RasterXSize, rows) for b in bands]).astype(np.float32)
        for i, band in enumerate(bands):
            values[i][~valid_mask(values[i], band.GetNoDataValue())] = np.nan
        yield row0, values


@raising_gdal_errors
def _gdal_type(dtype: np.dtype) -> int:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return gdal.GDT_Byte
    if dtype == np.int64:
        return gdal.GDT_Float64
    if dtype not in _GDAL_TYPES:
        raise ValueError(f"Cannot write rasters of type {dtype}")
    return _GDAL_TYPES[dtype]


class RasterWriter:
    """Block-wise GeoTIFF writer: written to a temporary file, renamed into place by `close()`.

    Use as a context manager; an exception inside the block (a cancel, an error) deletes the temporary
    file and leaves any existing target untouched.
    """

    @raising_gdal_errors
    def __init__(self, path: str, grid: RasterGrid, bands: int = 1, dtype=np.float32,
                 band_names: Optional[Sequence[str]] = None, nodata: Optional[float] = None,
                 metadata: Optional[dict] = None):
        self.path = path
        self.grid = grid
        self.nodata = grid.nodata if nodata is None else nodata
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        self._tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp.tif")
        options = list(GTIFF_OPTIONS)
        options.append("PREDICTOR=3" if np.issubdtype(np.dtype(dtype), np.floating) else "PREDICTOR=2")
        self.ds = gdal.GetDriverByName("GTiff").Create(self._tmp, grid.width, grid.height, bands,
                                                       _gdal_type(dtype), options)
        self.ds.SetGeoTransform(grid.geotransform)
        if grid.crs_wkt:
            self.ds.SetProjection(grid.crs_wkt)
        names = list(band_names) if band_names else []
        if names and len(names) != bands:
            raise ValueError(f"{len(names)} band names given for {bands} bands")
        for i in range(bands):
            rb = self.ds.GetRasterBand(i + 1)
            if self.nodata is not None:
                rb.SetNoDataValue(float(self.nodata))
            if names:
                rb.SetDescription(str(names[i]))
        if metadata:
            self.ds.SetMetadata({str(k): str(v) for k, v in metadata.items()})

    def write(self, array: np.ndarray, row0: int = 0, band: Optional[int] = None, col0: int = 0) -> None:
        """Write a (rows, cols) array to one band (1-based) or a (bands, rows, cols) array to all bands, its first
        cell at (row0, col0). NaN becomes the nodata value.
        """
        array = np.asarray(array)
        if band is not None:
            self._write_band(band, array, row0, col0)
            return
        if array.ndim == 2:
            array = array[None]
        for i in range(array.shape[0]):
            self._write_band(i + 1, array[i], row0, col0)

    @raising_gdal_errors
    def _write_band(self, band: int, values: np.ndarray, row0: int, col0: int = 0) -> None:
        if np.issubdtype(values.dtype, np.floating) and self.nodata is not None:
            values = np.where(np.isnan(values), self.nodata, values)
        self.ds.GetRasterBand(band).WriteArray(values, col0, row0)

    @raising_gdal_errors
    def close(self) -> str:
        """Finish the file and move it to its path; returns the path. When finishing fails (e.g. the disk is
        full), the temporary file is removed and `RasterWriteError` raised."""
        try:
            self.ds.FlushCache()
            gdal.ErrorReset()
            self.ds = None  # closing writes what is left; its errors are only recorded
            if gdal.GetLastErrorType() >= gdal.CE_Failure:
                raise RuntimeError(gdal.GetLastErrorMsg())
            if os.path.exists(self.path):
                gdal.GetDriverByName("GTiff").Delete(self.path)
            os.replace(self._tmp, self.path)
        except Exception as error:
            self.abort()
            raise RasterWriteError(f"Could not finish writing {self.path}: {error}. Is the disk full or the folder "
                                   "read-only? Nothing was written.") from error
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the target is left as it was."""
        with quiet_gdal():  # a dataset that failed to flush fails again when dropped: nothing left to report
            self.ds = None
        if os.path.exists(self._tmp):
            try:
                os.remove(self._tmp)
            except OSError:
                pass  # removed by someone else, or the folder is gone

    def __enter__(self) -> "RasterWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_raster(path: str, array: np.ndarray, grid: RasterGrid, band_names: Optional[Sequence[str]] = None,
                 nodata: Optional[float] = None, dtype=None, metadata: Optional[dict] = None) -> str:
    """Write a (rows, cols) or (bands, rows, cols) array as a compressed tiled GeoTIFF; NaN becomes nodata.

    Without ``dtype``, float64 arrays are stored as float32 and other types as they are.
    """
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    if array.shape[1:] != grid.shape:
        raise ValueError(f"Array of shape {array.shape[1:]} does not match the grid {grid.shape}")
    if dtype is None:
        dtype = np.float32 if array.dtype == np.float64 else array.dtype
    dtype = np.dtype(dtype)
    if np.issubdtype(array.dtype, np.floating) and not np.issubdtype(dtype, np.floating):
        fill = grid.nodata if nodata is None else nodata
        if np.isnan(array).any():
            if fill is None:
                raise ValueError("NaN values cannot be written to an integer raster without a nodata value")
            array = np.where(np.isnan(array), fill, array)
    with RasterWriter(path, grid, array.shape[0], dtype, band_names, nodata, metadata) as writer:
        writer.write(array.astype(dtype, copy=False))
    return path


@raising_gdal_errors
def values_at_points(path: str, x: np.ndarray, y: np.ndarray, crs_wkt: str, band: int = 1) -> np.ndarray:
    """Values (float64) of one band at points (x, y in ``crs_wkt``): the cell holding each point; NaN outside
    the raster and at nodata. Only the rows the points fall in are read."""
    from .points import transform_points

    ds = open_raster(path)
    grid = grid_of(ds, band)
    px, py = transform_points(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), crs_wkt,
                              grid.crs_wkt)
    rows, cols, inside = grid.cell_of(px, py)
    out = np.full(len(px), np.nan)
    if inside.any():
        top, bottom = int(rows[inside].min()), int(rows[inside].max()) + 1
        values = ds.GetRasterBand(band).ReadAsArray(0, top, grid.width, bottom - top).astype(np.float64)
        values[~valid_mask(values, grid.nodata)] = np.nan
        out[inside] = values[rows[inside] - top, cols[inside]]
    return out
