"""Shared steps of the susceptibility algorithms (seed 002) and GARDLIF (seed 003): the stack's factors, the
inventory layer, class rasters and the report sections."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from qgis.core import (QgsProcessingException, QgsProcessingParameterEnum, QgsProcessingParameterNumber,
                       QgsProcessingParameterString)

from ...core.io.grid import RasterGrid
from .. import styles
from ..base import add_advanced
from ..inputs import read_point_layer, report_point_quality
from ..outputs import finish_raster_output

INVENTORY_FIELDS = {"label": "subsiding", "random": "random_split", "block": "block_split"}


def add_inventory_parameters(algorithm) -> None:
    """INVENTORY points, LABEL_FIELD (default ``subsiding``) and the factor STACK."""
    from qgis.core import (QgsProcessing, QgsProcessingParameterFeatureSource, QgsProcessingParameterField,
                           QgsProcessingParameterRasterLayer)

    algorithm.addParameter(QgsProcessingParameterFeatureSource("INVENTORY", "Subsidence inventory",
                                                               [QgsProcessing.TypeVectorPoint]))
    algorithm.addParameter(QgsProcessingParameterField("LABEL_FIELD", "Label field (1 subsiding, 0 stable)",
                                                       INVENTORY_FIELDS["label"], "INVENTORY",
                                                       QgsProcessingParameterField.Numeric, optional=True))
    algorithm.addParameter(QgsProcessingParameterRasterLayer("STACK", "Factor stack"))


def read_inventory(algorithm, parameters, crs, context, feedback, label_field: str, split_fields: Sequence[str] = ()):
    """x, y (in ``crs``), 0/1 labels and the test flags of the named split fields ("test" = True) of the
    INVENTORY layer (`subsidence:subsidenceinventory`); points without a label are left out, multipoints
    exploded (every part a point)."""
    source = algorithm.parameterAsSource(parameters, "INVENTORY", context)
    if source is None or source.featureCount() == 0:
        raise QgsProcessingException("Inventory: the layer is missing or empty")
    fields = source.fields()
    for name in [label_field] + list(split_fields):
        if fields.lookupField(name) < 0:
            raise QgsProcessingException(f"Inventory: there is no field {name!r} (make the inventory with "
                                         "'Subsidence inventory from InSAR points')")
    if not fields.at(fields.lookupField(label_field)).isNumeric():
        raise QgsProcessingException(f"Inventory: field {label_field!r} must hold 1 (subsiding) and 0 (stable)")
    table = read_point_layer(algorithm, parameters, "INVENTORY", context, crs, feedback, "Inventory")
    label = table.numeric(label_field)
    keep = ~np.isnan(label)
    report_point_quality(feedback, "Inventory", table.x[keep], table.y[keep], int((~keep).sum()), label_field)
    label = label[keep]
    if not np.isin(label, (0.0, 1.0)).all():
        raise QgsProcessingException(f"Inventory: field {label_field!r} must hold only 1 (subsiding) and 0 (stable)")
    if len(np.unique(label)) < 2:
        raise QgsProcessingException("Inventory: it holds only one class; susceptibility needs subsiding and "
                                     "stable cells (change the thresholds of the inventory)")
    tests = [np.char.lower(table.attributes[name][keep].astype(str)) == "test" for name in split_fields]
    return table.x[keep], table.y[keep], label.astype(np.int64), tests


def inventory_cells(grid: RasterGrid, valid: np.ndarray, x, y, feedback):
    """Rows, cols and a mask of inventory points on valid cells of the stack (the others are reported)."""
    rows, cols, inside = grid.cell_of(x, y)
    ok = np.zeros(len(x), dtype=bool)
    ok[inside] = valid[rows[inside], cols[inside]]
    if (~ok).any():
        feedback.pushWarning(f"{int((~ok).sum())} inventory point(s) outside the stack or on nodata were left out")
    return rows, cols, ok


def finish_classes(context, path: str, name: str, output_name: str, classes: dict) -> None:
    finish_raster_output(context, path, name, output_name, lambda lyr: styles.style_categories(lyr, classes))


def finish_index(context, path: str, name: str, output_name: str, lo=None, hi=None) -> None:
    finish_raster_output(context, path, name, output_name,
                         lambda lyr: styles.style_susceptibility_index(lyr, lo=lo, hi=hi))


def write_classes(index_path: str, breaks: np.ndarray, path: str, grid: RasterGrid, steps_progress, is_cancelled,
                  band: int = 1) -> np.ndarray:
    """Classify an index raster (streamed) into classes 1..len(breaks)+1 (uint8, nodata 0); returns the cells
    per class."""
    from ...core.io.rasters import RasterWriter, iter_blocks, open_raster, valid_mask
    from ...core.progress import Steps
    from ...core.stats.classes import classify_index

    dataset = open_raster(index_path)  # kept alive while its band is used
    nodata = dataset.GetRasterBand(band).GetNoDataValue()
    steps = Steps(grid.height, steps_progress, is_cancelled)
    counts = np.zeros(len(breaks) + 2, dtype=np.int64)
    with RasterWriter(path, grid.with_nodata(0), 1, np.uint8, ["susceptibility_class"], 0) as writer:
        for block in iter_blocks(index_path, 256, band=band):
            values = block.data.astype(np.float64)
            values[~valid_mask(block.data, nodata)] = np.nan
            classes = classify_index(values, breaks)
            counts += np.bincount(classes.ravel(), minlength=len(counts))
            writer.write(classes[None], row0=block.row0)
            steps.advance(f"classes: rows {block.row0}-{block.row0 + block.rows}", block.rows)
    return counts[1:]


def class_table(counts: np.ndarray, breaks: np.ndarray, low: float, high: float, names: Sequence[str]):
    """Rows (class, name, from, to, cells, area %) of a classified index."""
    bounds = [low] + list(breaks) + [high]
    total = max(int(counts.sum()), 1)
    return [(k + 1, names[k], bounds[k], bounds[k + 1], int(counts[k]), 100.0 * counts[k] / total)
            for k in range(len(counts))]


CLASS_METHODS = ("quantile", "equal_interval")


def categorical_names(algorithm, parameters, context):
    text = algorithm.parameterAsString(parameters, "CATEGORICAL", context)
    return [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]


def add_factor_class_parameters(algorithm) -> None:
    """CATEGORICAL band names, CLASS_METHOD and CLASSES, shared with the susceptibility training."""
    algorithm.addParameter(QgsProcessingParameterString(
        "CATEGORICAL", "Categorical bands (comma-separated; stacks built by the plugin know theirs)", "",
        optional=True))
    add_advanced(algorithm, QgsProcessingParameterEnum("CLASS_METHOD", "Classes of continuous factors",
                                                       ["Quantiles", "Equal intervals"], defaultValue=0))
    add_advanced(algorithm, QgsProcessingParameterNumber("CLASSES", "Classes per continuous factor",
                                                         QgsProcessingParameterNumber.Integer, 5, minValue=2,
                                                         maxValue=20))
