"""Rasters written tile by tile, all or nothing: on the client and finished as cloud-optimised GeoTIFFs, or by the
workers into a Zarr store GDAL reads (an output ending in .zarr)."""
from __future__ import annotations

import os
import shutil
import uuid
from typing import Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal

from ..core.io.gdal_errors import raising_gdal_errors
from ..core.io.grid import RasterGrid
from ..core.io.rasters import NODATA, RasterWriter

COG_OPTIONS = ("COMPRESS=DEFLATE", "LEVEL=1", "PREDICTOR=YES", "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS")


class TiledOutput:
    """A raster on ``grid`` (float32 unless ``dtype``; one band per band name, else one) filled tile by tile
    (`write`), then `close` turns it into a cloud-optimised GeoTIFF at ``path`` (written beside it and renamed into
    place); `abort` leaves nothing behind."""

    def __init__(self, path: str, grid: RasterGrid, band_names: Optional[Sequence[str]] = None, dtype=np.float32):
        self.path = path
        self.dtype = np.dtype(dtype)
        folder = os.path.dirname(os.path.abspath(path))
        self._tiles = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tiles.tif")
        self._writer = RasterWriter(self._tiles, grid, len(band_names) if band_names else 1, self.dtype, band_names)

    def write(self, values: np.ndarray, row0: int, col0: int) -> None:
        """A tile's (rows, cols) or (bands, rows, cols) values, its first cell at (row0, col0)."""
        self._writer.write(values.astype(self.dtype, copy=False), row0=row0, col0=col0)

    @raising_gdal_errors
    def close(self) -> str:
        self._writer.close()
        folder = os.path.dirname(os.path.abspath(self.path))
        finished = os.path.join(folder, f".{os.path.basename(self.path)}.{uuid.uuid4().hex}.cog.tif")
        try:
            dataset = gdal.Translate(finished, self._tiles, format="COG", creationOptions=list(COG_OPTIONS))
            if dataset is None:
                raise RuntimeError(f"{self.path}: the cloud-optimised GeoTIFF could not be written")
            dataset = None  # closed: written out
            os.replace(finished, self.path)
        finally:
            for leftover in (finished, self._tiles):
                if os.path.exists(leftover):
                    os.remove(leftover)
        return self.path

    def abort(self) -> None:
        self._writer.abort()
        if os.path.exists(self._tiles):
            os.remove(self._tiles)


def is_zarr(path: str) -> bool:
    """True for an output the workers write themselves, as a Zarr store (a folder ending in .zarr)."""
    return path.rstrip("/").lower().endswith(".zarr")


class ZarrOutput:
    """Float32 bands on ``grid``, one array a band name, as a Zarr (v2) store that GDAL's Zarr driver reads with its
    georeferencing (the ``_CRS`` attribute and X / Y coordinate arrays): ``ZARR:"path":/name``. Created here in a
    temporary store beside ``path``; the workers write their chunk-aligned tiles into it (`write_zarr_tile`); `close`
    consolidates the metadata and renames the store into place; `abort` removes it."""

    def __init__(self, path: str, grid: RasterGrid, names: Sequence[str], chunk: Tuple[int, int]):
        import zarr

        self.path = path.rstrip("/")
        self.names = list(names)
        folder = os.path.dirname(os.path.abspath(self.path))
        self.store = os.path.join(folder, f".{os.path.basename(self.path)}.{uuid.uuid4().hex}.tmp.zarr")
        root = zarr.open_group(self.store, mode="w")
        for name in self.names:
            array = root.create_dataset(name, shape=grid.shape, chunks=chunk, dtype="f4",
                                        fill_value=np.float32(NODATA))
            array.attrs["_ARRAY_DIMENSIONS"] = ["Y", "X"]
            array.attrs["_CRS"] = {"wkt": grid.crs_wkt}
        xs, ys = grid.centre_axes()
        for axis, values in (("X", xs), ("Y", ys)):
            root.create_dataset(axis, data=np.asarray(values, dtype=np.float64)).attrs["_ARRAY_DIMENSIONS"] = [axis]

    def close(self) -> str:
        import zarr

        zarr.consolidate_metadata(self.store)
        previous = None
        if os.path.exists(self.path):
            previous = f"{self.store}.previous"
            os.replace(self.path, previous)
        os.replace(self.store, self.path)
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        shutil.rmtree(self.store, ignore_errors=True)


def write_zarr_tile(store: str, name: str, values: np.ndarray, row0: int, col0: int) -> None:
    """On a worker: a tile (NaN = nodata) into the array ``name`` of the Zarr store, its first cell at (row0, col0);
    tiles aligned with the chunks, so no two workers write one chunk."""
    import zarr

    array = zarr.open_array(os.path.join(store, name), mode="r+")
    array[row0:row0 + values.shape[0], col0:col0 + values.shape[1]] = np.where(
        np.isnan(values), np.float32(NODATA), values).astype(np.float32)
