"""Shared parameters and raster passes of the GARDLIF algorithms (seed 003)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional

import numpy as np
from qgis.core import (QgsProcessingParameterMatrix, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)

from ...core.io.grid import RasterGrid
from ...core.io.rasters import NODATA, RasterWriter, iter_blocks, open_raster, read_grid, valid_mask
from ...core.progress import Steps
from ...core.stats.classes import sample_stride
from ...core.susceptibility import gardlif
from .. import styles
from ..inputs import gdal_raster_path
from ..outputs import finish_raster_output
from .common import finish_classes

TABLE_HEADERS = ["layer", "from", "to", "rating", "label"]
WEIGHT_ORDER = "G, A, R, D, L, I, F"


def key_of(layer: str) -> str:
    return layer.upper()


def add_gardlif_parameters(algorithm, weights_label: str = "Weights") -> None:
    """The seven layers, the class table and the weights."""
    for layer in gardlif.LAYERS:
        algorithm.addParameter(QgsProcessingParameterRasterLayer(key_of(layer), gardlif.LAYER_TITLES[layer]))
    default = [v for row in gardlif.table_rows(gardlif.default_table()) for v in row]
    algorithm.addParameter(QgsProcessingParameterMatrix(
        "TABLE", "Rating classes (layer, from, to, rating 1-10, label; empty = open; a category: from = to = code)",
        hasFixedNumberRows=False, headers=TABLE_HEADERS, defaultValue=default, optional=True))
    algorithm.addParameter(QgsProcessingParameterString(
        "WEIGHTS", f"{weights_label} ({WEIGHT_ORDER})",
        ", ".join(f"{gardlif.DEFAULT_WEIGHTS[layer]:g}" for layer in gardlif.LAYERS), optional=True))


def add_map_outputs(algorithm) -> None:
    algorithm.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Vulnerability index"))
    algorithm.addParameter(QgsProcessingParameterRasterDestination("CLASSES_OUTPUT", "Vulnerability classes"))


def table_of(algorithm, parameters, context) -> List[gardlif.RatingClass]:
    """The class table given, or seed 003's Table 1 when none is."""
    flat = algorithm.parameterAsMatrix(parameters, "TABLE", context)
    if not flat:
        return gardlif.default_table()
    width = len(TABLE_HEADERS)
    if len(flat) % width:
        raise ValueError(f"The class table must have {width} columns ({', '.join(TABLE_HEADERS)})")
    return gardlif.parse_table([flat[i:i + width] for i in range(0, len(flat), width)])


def weights_of(algorithm, parameters, context) -> np.ndarray:
    """The seven weights given, or seed 003's defaults when none are."""
    text = algorithm.parameterAsString(parameters, "WEIGHTS", context)
    if not text.strip():
        return gardlif.weights_vector(gardlif.DEFAULT_WEIGHTS)
    try:
        weights = np.array([float(t) for t in text.replace(";", ",").split(",") if t.strip()])
    except ValueError:
        raise ValueError(f"Weights must be seven numbers ({WEIGHT_ORDER}); got {text!r}") from None
    if len(weights) != len(gardlif.LAYERS) or np.any(weights < 0):
        raise ValueError(f"Give seven non-negative weights in the order {WEIGHT_ORDER}; got {text!r}")
    return weights


def layer_paths(algorithm, parameters, context) -> List[str]:
    """GDAL paths of the seven layers; refuses missing layers and layers on other grids than the first."""
    paths = []
    for layer in gardlif.LAYERS:
        raster = algorithm.parameterAsRasterLayer(parameters, key_of(layer), context)
        if raster is None:
            raise ValueError(f"The {gardlif.LAYER_TITLES[layer]} layer is missing")
        paths.append(gdal_raster_path(raster, gardlif.LAYER_TITLES[layer]))
    reference = read_grid(paths[0])
    for layer, path in zip(gardlif.LAYERS[1:], paths[1:]):
        grid = read_grid(path)
        if not grid.same_as(reference):
            raise ValueError(f"{gardlif.LAYER_TITLES[layer]} is not on the grid of "
                             f"{gardlif.LAYER_TITLES[gardlif.LAYERS[0]]} ({_difference(grid, reference)}); align "
                             "the layers first, e.g. with Build factor stack or Align rasters")
    return paths


def _difference(grid: RasterGrid, reference: RasterGrid) -> str:
    if grid.shape != reference.shape:
        return f"{grid.width} x {grid.height} cells instead of {reference.width} x {reference.height}"
    if not np.allclose([grid.dx, grid.dy], [reference.dx, reference.dy]):
        return f"cell size {grid.dx:g} instead of {reference.dx:g}"
    if not np.allclose(grid.extent, reference.extent):
        return "another extent"
    return "another CRS"


def _rated_blocks(paths: List[str], table, block_rows: int = 256):
    """(row0, ratings (7, rows, cols)) streamed over the layers; NaN where a layer is nodata."""
    datasets = [open_raster(p) for p in paths]
    nodata = [ds.GetRasterBand(1).GetNoDataValue() for ds in datasets]
    valid = np.zeros(len(paths), dtype=np.int64)
    for blocks in zip(*[iter_blocks(p, block_rows) for p in paths]):
        ratings = []
        for i, (layer, block, nd) in enumerate(zip(gardlif.LAYERS, blocks, nodata)):
            values = block.data.astype(np.float64)
            ok = valid_mask(block.data, nd)
            valid[i] += int(ok.sum())
            values[~ok] = np.nan
            ratings.append(gardlif.rate_layer(values, table, layer))
        yield blocks[0].row0, np.stack(ratings)
    empty = [f"{gardlif.LAYER_TITLES[layer]} ({path})" for layer, path, n in zip(gardlif.LAYERS, paths, valid) if n == 0]
    if empty:
        raise ValueError(f"GARDLIF layer(s) {'; '.join(empty)} hold only nodata")


@dataclass
class IndexClasses:
    """The four vulnerability classes of a written index: cells per class and bounds (low, 3 breaks, high)."""

    counts: np.ndarray
    bounds: np.ndarray


def write_index(paths: List[str], table, weights: np.ndarray, output: str, classes_output: str,
                progress: Optional[Callable] = None, is_cancelled=None) -> IndexClasses:
    """Write SPI = sum w r (float32, nodata -9999) and its four classes (uint8, nodata 0; breaks by
    `gardlif.class_bounds`: seed 003's intervals for its weights, quartiles for any others). Two passes over
    the layers: a sample of the index for the breaks, then the maps."""
    grid = read_grid(paths[0])
    steps = Steps(2 * grid.height, progress, is_cancelled)
    stride = sample_stride(grid.width * grid.height)
    sample = []
    for row0, ratings in _rated_blocks(paths, table):
        sample.append(gardlif.vulnerability_index(ratings, weights).ravel()[::stride])
        steps.advance(f"GARDLIF index (class breaks): rows {row0}-{row0 + ratings.shape[1]}", ratings.shape[1])
    bounds = gardlif.class_bounds(weights, np.concatenate(sample))
    counts = np.zeros(len(gardlif.VULNERABILITY_CLASSES) + 1, dtype=np.int64)
    with RasterWriter(output, grid.with_nodata(NODATA), 1, np.float32, ["vulnerability_index"]) as index_writer, \
            RasterWriter(classes_output, grid.with_nodata(0), 1, np.uint8, ["vulnerability_class"], 0) as class_writer:
        for row0, ratings in _rated_blocks(paths, table):
            index = gardlif.vulnerability_index(ratings, weights)
            classes = gardlif.classify_vulnerability(index, bounds)
            counts += np.bincount(classes.ravel(), minlength=len(counts))
            index_writer.write(index.astype(np.float32)[None], row0=row0)
            class_writer.write(classes[None], row0=row0)
            steps.advance(f"GARDLIF index: rows {row0}-{row0 + ratings.shape[1]}", ratings.shape[1])
    return IndexClasses(counts[1:], bounds)


def ratings_at(paths: List[str], table, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Ratings (n, 7) of the seven layers at cells."""
    out = np.full((len(rows), len(gardlif.LAYERS)), np.nan)
    for row0, ratings in _rated_blocks(paths, table):
        sel = np.flatnonzero((rows >= row0) & (rows < row0 + ratings.shape[1]))
        if len(sel):
            out[sel] = ratings[:, rows[sel] - row0, cols[sel]].T
    return out


def finish_maps(context, output: str, classes_output: str, weights: np.ndarray, title: str) -> None:
    total = float(weights.sum())
    finish_raster_output(context, output, f"{title} index", "OUTPUT",
                         lambda lyr: styles.style_susceptibility_index(lyr, lo=total, hi=10 * total))
    finish_classes(context, classes_output, f"{title} classes", "CLASSES_OUTPUT", styles.VULNERABILITY)


def class_rows(classes: IndexClasses):
    """(class name, from, to, cells, % of the valid cells) of each vulnerability class."""
    counts, edges = classes.counts, classes.bounds
    share = 100.0 * counts / max(int(counts.sum()), 1)
    return [(name, edges[k], edges[k + 1], int(counts[k]), share[k])
            for k, name in enumerate(gardlif.VULNERABILITY_CLASSES)]


GARDLIF_HELP = (
    "<p>Seven layers, all on one grid: <b>G</b>roundwater decline (m/yr), <b>A</b>quifer media (category "
    "code), net <b>R</b>echarge (cm/yr), <b>D</b>ischarge / pumping (cm/yr), <b>L</b>and use (category code), "
    "aquifer thickness <b>I</b> (m) and distance to <b>F</b>aults (m). Each is rated 1-10 by the class table "
    "(default: seed 003 Table 1 in these units; land use codes 1 Mine, 2 Agriculture, 3 Dam site, 4 "
    "Residential, 5 Transportation, 6 Dry areas, 7 Wasteland, 8 Grassland; aquifer media codes 1 Clay, 2 Clay + "
    "silt, 3 Clay + sand, 4 Silt-clay + sand, 5 Sand, 6 Gravel, 7 Organic soils, 8 Rubble; where the table "
    "gives a range of ratings the default is its midpoint). Continuous classes are [from, to); an empty bound "
    "is open. A value no class covers stops the algorithm with the layer and the values to add.</p>")
