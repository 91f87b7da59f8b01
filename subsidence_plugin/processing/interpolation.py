"""Shared run logic of the point-interpolation algorithms (interpolatepoints, idw, kriging)."""
from __future__ import annotations

import json
import os
from typing import Optional

from qgis.core import (QgsProcessing, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)

from ..core.io.stack import reference_grid
from ..core.ml.devices import choose_device, describe, torch_available
from ..core.spatial.interpolation import InterpolationSettings, cross_validate, interpolate_to_grid, make_interpolator
from ..core.spatial.reports import write_interpolation_report
from ..core.spatial.variogram import MODELS
from . import styles
from .base import processing_errors, progress_adapter
from .inputs import gdal_raster_path, points_with_values
from .outputs import finish_raster_output

VARIOGRAMS = ["Automatic (best leave-one-out RMSE)"] + [m.title() for m in MODELS]


def variogram_models(choice: int) -> list:
    """The variogram models to fit for an index into VARIOGRAMS (0: all, the best by cross-validation)."""
    return list(MODELS) if choice == 0 else [MODELS[choice - 1]]


class PointInterpolation:
    """Mixin of the algorithms that interpolate points to a grid (idw, kriging): the keys of the parameters and
    outputs the helpers below add, as class constants, and the units the user gave."""

    INPUT = "INPUT"
    FIELD = "FIELD"
    REFERENCE = "REFERENCE"
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"
    UNITS = "UNITS"
    CV_RMSE = "CV_RMSE"
    CV_MAE = "CV_MAE"
    CV_R2 = "CV_R2"

    def _units(self, parameters, context) -> str:
        return (self.parameterAsString(parameters, self.UNITS, context) or "").strip()


def add_points_parameters(algorithm, field_label: str = "Value field (e.g. velocity, mm/yr)") -> None:
    """INPUT (points), FIELD (numeric) and REFERENCE (grid raster)."""
    algorithm.addParameter(QgsProcessingParameterFeatureSource("INPUT", "Points", [QgsProcessing.TypeVectorPoint]))
    algorithm.addParameter(QgsProcessingParameterField("FIELD", field_label, parentLayerParameterName="INPUT",
                                                       type=QgsProcessingParameterField.Numeric))
    algorithm.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference raster (grid)"))


def add_units_parameter(algorithm) -> None:
    """UNITS (optional string, default mm/yr): the value field's unit, for the legend and the report."""
    algorithm.addParameter(QgsProcessingParameterString("UNITS", "Units of the value field", "mm/yr",
                                                        optional=True))


def add_report_and_cv_outputs(algorithm) -> None:
    """REPORT (optional HTML) and the leave-one-out statistics as outputs."""
    algorithm.addParameter(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)",
                                                                 optional=True, createByDefault=False))
    for key, name in (("CV_RMSE", "Leave-one-out RMSE"), ("CV_MAE", "Leave-one-out MAE"),
                      ("CV_R2", "Leave-one-out R²")):
        algorithm.addOutput(QgsProcessingOutputNumber(key, name))


def krige_on_cluster(scheduler: str, x, y, values, interpolator, grid, output: str, field_name: str,
                     feedback) -> None:
    """The grid kriged in tiles on the Dask cluster at ``scheduler`` with the interpolator's variogram (fitted here
    once); progress from the completed tiles, Cancel cancels the tiles still pending."""
    from ..scale.cluster import dask_client
    from ..scale.kriging import distributed_kriging

    fitting = progress_adapter(feedback)
    with dask_client(scheduler=scheduler) as client:
        feedback.pushInfo(f"Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} worker(s)")
        distributed_kriging(client, x, y, values, interpolator.variogram, grid, output,
                            interpolator.band_names(field_name), interpolator.settings.k, interpolator.settings.drift,
                            progress=lambda p, m: fitting(50.0 + 0.5 * p, m), is_cancelled=feedback.isCanceled)


def run_interpolation(algorithm, parameters, points_key: str, field_name: str, reference, output: str,
                      settings: InterpolationSettings, context, feedback, report_path: Optional[str] = None,
                      unit: str = "", device_name: str = "auto", diverging: bool = False,
                      scheduler: str = "") -> dict:
    """Interpolate a numeric field of the points parameter ``points_key`` to the reference grid; returns the
    algorithm's results. ``diverging``: the values are a displacement / velocity (negative = subsidence), styled on
    the red-white-blue ramp symmetric about 0 like every other displacement output; otherwise sequential. Legend
    labels carry ``unit``. ``scheduler``: a Dask scheduler address to krige the grid's tiles on (kriging only)."""
    with processing_errors():
        grid = reference_grid(gdal_raster_path(reference, "Reference raster"))
        if grid.is_geographic:
            raise ValueError("The reference raster is in a geographic CRS (degrees); interpolation needs a "
                             "projected CRS in metres: reproject it first")
        x, y, values, _ = points_with_values(algorithm, parameters, points_key, field_name, reference.crs(),
                                                   context, feedback)
        feedback.pushInfo(f"{len(values)} points, {field_name} from {values.min():.4g} to {values.max():.4g}")
        device = choose_device(device_name) if settings.method == "kriging" and torch_available() else None
        if device is not None and device.type == "cpu":
            device = None  # on the CPU numpy's thread pool is faster, and torch's thread settings stay untouched
        if settings.method == "kriging":
            feedback.pushInfo("Kriging systems solved with " +
                              (describe(device) if device is not None else f"numpy ({os.cpu_count()} threads)"))
        fitting = progress_adapter(feedback)
        interpolator = make_interpolator(x, y, values, settings, device,
                                         lambda p, m: fitting(0.5 * p, m), feedback.isCanceled)
        for name, (fitted, stats) in interpolator.fitted.items():
            feedback.pushInfo(f"{name}: psill {fitted.psill:.4g}, range {fitted.range:.4g} m, nugget "
                              f"{fitted.nugget:.4g}; leave-one-out RMSE {stats['rmse']:.4g}")
        variogram_json = ""
        if interpolator.variogram is not None:
            feedback.pushInfo(f"Variogram used: {interpolator.variogram.model}")
            variogram_json = json.dumps(interpolator.variogram.as_dict())
        if interpolator.merged:
            feedback.pushWarning(f"{interpolator.merged} point(s) at duplicate positions were averaged")
        stats = cross_validate(interpolator.method)
        feedback.pushInfo(f"Leave-one-out over {stats['n']} points: RMSE {stats['rmse']:.4g}, "
                          f"MAE {stats['mae']:.4g}, R² {stats['r2']:.3f}")
        if scheduler and interpolator.variogram is not None:
            krige_on_cluster(scheduler, x, y, values, interpolator, grid, output, field_name, feedback)
        else:
            interpolate_to_grid(interpolator.bands, grid, output, interpolator.band_names(field_name),
                                progress=lambda p, m: fitting(50.0 + 0.5 * p, m), is_cancelled=feedback.isCanceled)
    label = "kriging" if settings.method == "kriging" else "IDW"
    finish_raster_output(context, output, f"{field_name} ({label})", "OUTPUT",
                         lambda lyr: (styles.style_diverging if diverging else styles.style_sequential)(lyr, unit))
    if report_path:
        write_interpolation_report(report_path, field_name, label, interpolator, stats, unit, surface_path=output)
    return {"OUTPUT": output, "CV_RMSE": stats["rmse"], "CV_MAE": stats["mae"], "CV_R2": stats["r2"],
            "VARIOGRAM_MODEL": variogram_json, "REPORT": report_path or ""}


