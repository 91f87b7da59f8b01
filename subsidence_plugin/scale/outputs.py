"""Rasters written tile by tile on the client and finished as cloud-optimised GeoTIFFs, all or nothing."""
from __future__ import annotations

import os
import uuid
from typing import Optional, Sequence

import numpy as np
from osgeo import gdal

from ..core.io.gdal_errors import raising_gdal_errors
from ..core.io.grid import RasterGrid
from ..core.io.rasters import RasterWriter

COG_OPTIONS = ("COMPRESS=DEFLATE", "LEVEL=1", "PREDICTOR=YES", "BIGTIFF=IF_SAFER", "NUM_THREADS=ALL_CPUS")


class TiledOutput:
    """A float32 raster on ``grid`` (one band per band name, else one) filled tile by tile (`write`), then `close`
    turns it into a cloud-optimised GeoTIFF at ``path`` (written beside it and renamed into place); `abort` leaves
    nothing behind."""

    def __init__(self, path: str, grid: RasterGrid, band_names: Optional[Sequence[str]] = None):
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        self._tiles = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tiles.tif")
        self._writer = RasterWriter(self._tiles, grid, len(band_names) if band_names else 1, np.float32, band_names)

    def write(self, values: np.ndarray, row0: int, col0: int) -> None:
        """A tile's (rows, cols) or (bands, rows, cols) values, its first cell at (row0, col0)."""
        self._writer.write(values.astype(np.float32, copy=False), row0=row0, col0=col0)

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
