"""The factor stack: any number of rasters aligned to one reference grid, written as one multi-band GeoTIFF.

Every model of the plugin (the patch CNN of seed 000, the susceptibility models of seed 002) reads its
driving forces from such a stack. Inputs may come in any CRS, extent and resolution: GDAL warps each one to
the reference grid on the fly (continuous factors bilinear, categorical ones nearest or mode), categorical
factors may be one-hot encoded (one 0/1 band per class), and the nodata mask is the union of all inputs' masks
(a cell is nodata in every band as soon as one factor lacks a value there). The stack is written in row
blocks, so it may be larger than memory. Band names are the factor names; the JSON description of the
factors (kind, source, classes) is stored in the GeoTIFF's metadata item ``FACTORS``.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence

import numpy as np
from osgeo import gdal

from ..progress import CancelCheck, ProgressCallback, Steps
from .gdal_errors import raising_gdal_errors
from .grid import RasterGrid
from .rasters import (NODATA, RasterReadError, RasterWriter, band_names_of, iter_stack_blocks, open_raster, read_grid,
                      read_raster, valid_mask)

RESAMPLING = {"bilinear": gdal.GRA_Bilinear, "nearest": gdal.GRA_NearestNeighbour, "mode": gdal.GRA_Mode,
              "average": gdal.GRA_Average, "cubic": gdal.GRA_Cubic}


@dataclass
class Factor:
    """One input of the stack: a band of a raster file."""

    path: str
    name: str
    band: int = 1
    categorical: bool = False
    one_hot: bool = False
    resampling: str = ""  # default: bilinear for continuous, nearest for categorical
    classes: List[float] = field(default_factory=list)

    @property
    def method(self) -> str:
        return self.resampling or ("nearest" if self.categorical else "bilinear")


def factor_name(text: str) -> str:
    """A band name safe for every consumer: letters, digits and underscores."""
    name = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_").lower()
    return name or "factor"


def factors_of_raster(path: str, name: str, categorical: bool = False, one_hot: bool = False,
                      resampling: str = "") -> List[Factor]:
    """One factor per band of a raster; multi-band rasters get ``name_<band name>``."""
    ds = open_raster(path)
    names = band_names_of(ds)
    if ds.RasterCount == 1:
        return [Factor(path, factor_name(name), 1, categorical, one_hot, resampling)]
    return [Factor(path, factor_name(f"{name}_{names[i]}"), i + 1, categorical, one_hot, resampling)
            for i in range(ds.RasterCount)]


@raising_gdal_errors
def _warped(factor: Factor, grid: RasterGrid):
    """A virtual dataset of the factor's band warped to the grid (nothing is read yet), with the
    single-band source it depends on (keep both alive while reading)."""
    src = open_raster(factor.path)
    if factor.method not in RESAMPLING:
        raise ValueError(f"Unknown resampling {factor.method!r} for {factor.name}; use one of {sorted(RESAMPLING)}")
    single = gdal.Translate("", src, options=gdal.TranslateOptions(format="VRT", bandList=[factor.band]))
    x0, y0, x1, y1 = grid.extent
    options = gdal.WarpOptions(format="VRT", outputBounds=(x0, y0, x1, y1), width=grid.width, height=grid.height,
                               dstSRS=grid.crs_wkt, resampleAlg=RESAMPLING[factor.method], dstNodata=np.nan,
                               outputType=gdal.GDT_Float64, errorThreshold=0.0, multithread=False)
    return gdal.Warp("", single, options=options), single


@raising_gdal_errors
def _classes(factor: Factor, block_rows: int = 1024) -> List[float]:
    """The class values present in a categorical factor (read from the source raster in blocks)."""
    ds = open_raster(factor.path)
    band = ds.GetRasterBand(factor.band)
    nodata = band.GetNoDataValue()
    found = set()
    for row0 in range(0, ds.RasterYSize, block_rows):
        values = band.ReadAsArray(0, row0, ds.RasterXSize, min(block_rows, ds.RasterYSize - row0))
        found.update(np.unique(values[valid_mask(values, nodata)]).tolist())
    if len(found) > 256:
        raise ValueError(f"{factor.name}: {len(found)} distinct values is too many for a categorical factor; "
                         "treat it as continuous")
    return sorted(float(v) for v in found)


@raising_gdal_errors
def build_factor_stack(factors: Sequence[Factor], reference: RasterGrid, path: str, block_rows: int = 512,
                       progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> FactorStack:
    """Align factors to ``reference`` and write them as one float32 multi-band GeoTIFF at ``path``.

    Raises ValueError for no factors, duplicate names, a reference without CRS, a factor that does not
    overlap the reference grid, or a band that is nodata everywhere on the grid.
    """
    if not factors:
        raise ValueError("Give at least one factor raster")
    if not reference.crs_wkt:
        raise ValueError("The reference grid has no CRS")
    factors = [Factor(**asdict(f)) for f in factors]
    for factor in factors:
        if factor.categorical and factor.one_hot:
            factor.classes = _classes(factor)
    names = [name for factor in factors for name in _band_names(factor)]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"Factor names must be unique; repeated: {', '.join(duplicates)}")
    warped = [_warped(f, reference) for f in factors]
    grid = reference.with_nodata(NODATA)
    steps = Steps(reference.height * len(factors), progress, is_cancelled)
    metadata = {"FACTORS": json.dumps(_descriptions(factors))}
    seen_valid = np.zeros(len(factors), dtype=np.int64)
    valid_cells = 0
    with RasterWriter(path, grid, len(names), np.float32, names, NODATA, metadata) as writer:
        for row0 in range(0, reference.height, block_rows):
            rows = min(block_rows, reference.height - row0)
            blocks = []
            for i, (factor, (ds, _)) in enumerate(zip(factors, warped)):
                values = ds.GetRasterBand(1).ReadAsArray(0, row0, reference.width, rows)
                seen_valid[i] += int(np.count_nonzero(~np.isnan(values)))
                blocks.append(values)
                steps.advance(f"{factor.name}: rows {row0}-{row0 + rows}", rows)
            invalid = np.zeros((rows, reference.width), dtype=bool)
            for values in blocks:
                invalid |= np.isnan(values)
            valid_cells += int((~invalid).sum())
            out = []
            for factor, values in zip(factors, blocks):
                if factor.one_hot:
                    out += [(values == c).astype(np.float32) for c in factor.classes]
                else:
                    out.append(values.astype(np.float32))
            stacked = np.stack(out)
            stacked[:, invalid] = np.nan
            writer.write(stacked, row0=row0)
        empty = [f.name for f, n in zip(factors, seen_valid) if n == 0]
        if empty:
            raise ValueError(f"Factor(s) {', '.join(empty)} hold no value on the reference grid (no overlap, "
                             "or nodata everywhere)")
    return FactorStack(path, grid, names, _descriptions(factors),
                       valid_cells / float(reference.width * reference.height))


def _band_names(factor: Factor) -> List[str]:
    if factor.one_hot:
        return [f"{factor.name}_{int(c) if float(c).is_integer() else c}" for c in factor.classes]
    return [factor.name]


def _descriptions(factors: Sequence[Factor]) -> List[dict]:
    return [{**asdict(f), "band_names": _band_names(f)} for f in factors]


@raising_gdal_errors
def read_stack_factors(path: str) -> List[dict]:
    """The factor descriptions stored in a stack written by `build_factor_stack` (empty for other rasters)."""
    ds = open_raster(path)
    text = ds.GetMetadataItem("FACTORS")
    return json.loads(text) if text else []


def reference_grid(path: str) -> RasterGrid:
    """The grid of a reference raster (its CRS is required)."""
    try:
        return read_grid(path)
    except RasterReadError as error:
        raise ValueError(str(error)) from error


@dataclass
class FactorColumn:
    """One factor of a stack: its bands (several for a one-hot factor), whether it is categorical, and the
    class codes of its one-hot bands."""

    name: str
    bands: List[int]
    categorical: bool
    codes: List[float] = field(default_factory=list)

    def values(self, stack_values: np.ndarray) -> np.ndarray:
        """The factor's value (category code for one-hot factors) from (bands, n) stack values, NaN at nodata."""
        if len(self.bands) == 1 and not self.codes:
            return stack_values[self.bands[0]].astype(np.float64)
        group = stack_values[self.bands]
        out = np.asarray(self.codes, dtype=np.float64)[np.argmax(group, axis=0)]
        out[np.isnan(group).any(axis=0)] = np.nan
        return out


def factor_columns(band_names: Sequence[str], stack_factors: Sequence[dict],
                   categorical: Sequence[str] = ()) -> List[FactorColumn]:
    """Factors of a stack from its stored description (`stack.read_stack_factors`), or one per band; band
    names in ``categorical`` are categorical in any case."""
    names = list(band_names)
    unknown = [c for c in categorical if c not in names and c not in {f["name"] for f in stack_factors}]
    if unknown:
        raise ValueError(f"Categorical factor(s) {', '.join(unknown)} are not bands of the stack "
                         f"({', '.join(names)})")
    columns, covered = [], set()
    for f in stack_factors:
        bands = [names.index(b) for b in f.get("band_names", [f["name"]]) if b in names]
        if not bands:
            continue
        covered.update(bands)
        one_hot = bool(f.get("one_hot")) and len(f.get("classes", [])) == len(bands)
        columns.append(FactorColumn(f["name"], bands, bool(f.get("categorical")) or f["name"] in categorical,
                                    list(f["classes"]) if one_hot else []))
    for i, name in enumerate(names):
        if i not in covered:
            columns.append(FactorColumn(name, [i], name in categorical))
    columns.sort(key=lambda c: c.bands[0])
    return columns


@dataclass
class FactorStack:
    """A factor stack on disk, the one type every algorithm reads: its path, grid, band names, the factor
    descriptions stored in it (`build_factor_stack`; empty for other rasters) and, when just written, the share
    of cells valid in every band."""

    path: str
    grid: RasterGrid
    band_names: List[str]
    factors: List[dict]
    valid_share: float = float("nan")

    def columns(self, categorical: Sequence[str] = ()) -> List[FactorColumn]:
        """The factors as columns (one-hot groups joined), ``categorical`` band names categorical in any case."""
        return factor_columns(self.band_names, self.factors, categorical)

    def read_values(self) -> np.ndarray:
        """The whole stack in memory: (bands, rows, cols) float32, NaN at nodata; refuses nodata-only bands."""
        raster = read_raster(self.path)
        values = np.where(raster.valid, raster.array, np.nan).astype(np.float32)
        empty = [name for name, band in zip(raster.band_names, values) if np.isnan(band).all()]
        if empty:
            raise ValueError(f"{self.path}: band(s) {', '.join(empty)} hold only nodata")
        return values

    def read_window(self, row0: int, rows: int, col0: int, cols: int) -> np.ndarray:
        """(bands, rows, cols) float32 of a window, NaN at nodata and where the window reaches beyond the stack."""
        out = np.full((len(self.band_names), rows, cols), np.nan, dtype=np.float32)
        r0, r1 = max(row0, 0), min(row0 + rows, self.grid.height)
        c0, c1 = max(col0, 0), min(col0 + cols, self.grid.width)
        if r1 > r0 and c1 > c0:
            dataset = open_raster(self.path)
            for band in range(len(self.band_names)):
                source = dataset.GetRasterBand(band + 1)
                values = source.ReadAsArray(c0, r0, c1 - c0, r1 - r0)
                out[band, r0 - row0:r1 - row0, c0 - col0:c1 - col0] = np.where(
                    valid_mask(values, source.GetNoDataValue()), values, np.nan)
        return out

    def valid_cells(self, block_rows: int = 256) -> np.ndarray:
        """(rows, cols) True where every band has a value, read in row blocks."""
        return np.concatenate([~np.isnan(values).any(axis=0) for _, values in iter_stack_blocks(self.path, block_rows)],
                              axis=0)


def open_factor_stack(path: str, projected: bool = False) -> FactorStack:
    """The stack at ``path`` (any multi-band raster with a CRS); ``projected`` refuses a geographic CRS, for
    work that needs metres."""
    grid = read_grid(path)
    if projected and grid.is_geographic:
        raise ValueError("The factor stack is in a geographic CRS; blocks and distances need metres: build the "
                         "stack on a projected reference grid")
    return FactorStack(path, grid, band_names_of(open_raster(path)), read_stack_factors(path))
