"""HTML report of an interpolation (IDW or kriging): variogram, cross-validation, settings."""
from __future__ import annotations

from ..reports.html import HtmlReport
from ..reports.plots import scatter_figure, variogram_figure


def write_interpolation_report(path: str, field_name: str, label: str, interpolator, stats: dict, unit: str) -> None:
    """Leave-one-out statistics, the variogram models and fits (kriging), predicted against observed."""
    method, table = interpolator.method, interpolator.fitted
    report = HtmlReport(f"Interpolation of {field_name} ({label})", "Land subsidence plugin")
    report.heading("Leave-one-out cross-validation")
    report.table([(k, v) for k, v in stats.items()], header=("statistic", "value"))
    if table:
        report.heading("Variogram")
        report.table([(name, v.psill, v.range, v.nugget, s["rmse"], s["mae"], s["r2"])
                      for name, (v, s) in table.items()],
                     header=("model", "partial sill", "range (m)", "nugget", "LOO RMSE", "LOO MAE", "LOO R²"),
                     caption=f"Models fitted; leave-one-out on up to {interpolator.settings.cv_points} points")
        lags, gamma, counts = interpolator.experimental
        chosen = interpolator.variogram.model
        report.figure(variogram_figure(lags, gamma, counts, {k: v for k, (v, _) in table.items()}, chosen, unit),
                      "Experimental variogram (marker size: pair count) and fitted models")
    result = method.predict(method.x, method.y, exclude_self=True)
    predicted = getattr(result, "values", result)
    report.figure(scatter_figure(method.z, predicted, f"Leave-one-out, {label}", unit),
                  "Leave-one-out prediction at every point against its value")
    report.write(path)
