"""HTML report of an interpolation (IDW or kriging): the surface, variogram, cross-validation, settings."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..reports.html import HtmlReport
from ..reports.plots import scatter_figure, squared_unit, surface_map_figure, variogram_figure

_STAT_UNITS = {"rmse": "value", "mae": "value", "bias": "value", "mean_error": "value", "me": "value",
               "std": "value", "error_std": "value", "mse": "squared", "r2": "-", "n": "points"}


_STAT_NAMES = {"rmse": "RMSE", "mse": "MSE", "mae": "MAE", "me": "mean error (bias)",
               "std": "error standard deviation", "r2": "R²", "n": "points"}


def _stat_unit(name: str, unit: str) -> str:
    kind = _STAT_UNITS.get(name.lower(), "value")
    if kind == "value":
        return unit or "value unit"
    if kind == "squared":
        return squared_unit(unit) or "squared value unit"
    return kind


def variogram_rows(table: dict, unit: str) -> tuple:
    """Rows and header of the fitted-model table; the linear model's psill is a slope (no sill, no range)."""
    sq = squared_unit(unit) or "value²"
    rows = []
    for name, (v, s) in table.items():
        if v.model == "linear":
            parameters = f"slope {v.psill:.4g} {sq}/m (no sill, no range)"
        else:
            parameters = f"partial sill {v.psill:.4g} {sq}, range {v.range:.4g} m"
        rows.append((name, parameters, v.nugget, s["rmse"], s["mae"], s["r2"]))
    header = ("model", "parameters", f"nugget ({sq})", f"LOO RMSE ({unit or 'value unit'})",
              f"LOO MAE ({unit or 'value unit'})", "LOO R²")
    return rows, header


def write_interpolation_report(path: str, field_name: str, label: str, interpolator, stats: dict, unit: str,
                               surface_path: Optional[str] = None) -> None:
    """The surface (when ``surface_path`` is given), leave-one-out statistics with their units, the variogram
    models and fits (kriging), predicted against observed."""
    method, table = interpolator.method, interpolator.fitted
    unit_text = unit or "value unit"
    report = HtmlReport(f"Interpolation of {field_name} ({label})", "Land subsidence plugin")
    report.paragraph(f"Values of {field_name} in {unit_text}; coordinates and distances in metres."
                     + (" Negative = subsidence." if unit.startswith("mm") else ""))
    if surface_path:
        from ..io.rasters import read_raster

        surface = read_raster(surface_path, bands=[1])
        report.heading("Surface")
        report.figure(surface_map_figure(surface.band(0), surface.grid.extent, f"{field_name} ({label})", unit_text,
                                         diverging=True, points=(method.x, method.y)),
                      f"{label} surface of {field_name} ({unit_text}; red = negative = subsidence, blue = positive) "
                      "with the points")
    report.heading("Leave-one-out cross-validation")
    report.table([(_STAT_NAMES.get(k, k), v, _stat_unit(k, unit)) for k, v in stats.items()], header=("statistic", "value", "unit"))
    if table:
        report.heading("Variogram")
        rows, header = variogram_rows(table, unit)
        report.table(rows, header=header,
                     caption=f"Models fitted; leave-one-out on up to {interpolator.settings.cv_points} points")
        lags, gamma, counts = interpolator.experimental
        chosen = interpolator.variogram.model
        report.figure(variogram_figure(lags, gamma, counts, {k: v for k, (v, _) in table.items()}, chosen, unit),
                      f"Experimental variogram (semivariance in {squared_unit(unit) or 'squared value units'}, lag "
                      "in m; marker size: pair count) and fitted models")
    result = method.predict(method.x, method.y, exclude_self=True)
    predicted = getattr(result, "values", result)
    report.figure(scatter_figure(method.z, np.asarray(predicted), f"Leave-one-out, {label}", unit),
                  "Leave-one-out prediction at every point against its value")
    report.write(path)
