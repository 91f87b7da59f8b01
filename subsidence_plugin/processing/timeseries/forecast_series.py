"""subsidence:forecastseries - a saved series model applied to points for a number of months, with the groundwater
as observed, held at its last heads, or with the drawdown rate changed by a percentage."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFile,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber)

from ...core.io.points import date_field_name
from ...core.timeseries.baselines import monthly_series
from ...core.timeseries.series_models import (PointDrivers, band_limits, forecast_series, load_series_model,
                                              scenario_heads)
from ..base import SubsidenceAlgorithm, processing_errors
from ..inputs import metric_coordinates
from ..outputs import point_sink
from .common import add_series_inputs, heads_at_months, interbed_delays, read_series_points, static_factors

SCENARIOS = ["Observed heads (held where the record ends)", "Hold the last heads",
             "Change the drawdown rate by a percentage", "A table of future heads"]


class ForecastSeries(SubsidenceAlgorithm):
    NAME = "forecastseries"
    DISPLAY_NAME = "Forecast point series"
    GROUP = "Time series"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Applies a series model saved by <i>trainseriesmodel</i> to InSAR points (the same or others) and "
        "forecasts their cumulative displacement (mm, on the reference of their D fields) for the months after "
        "the last month of their series: one <b>FYYYYMMDD</b> field a month (the first day).</p>"
        "<p><b>Groundwater scenario</b>: the observed heads (piezometer readings after the series' end, where "
        "there are any; beyond the record the heads are held), the last heads held, or the drawdown rate "
        "changed: the heads continue from their last value along the least-squares trend of the last 12 months "
        "times (1 + change / 100), so −100 % holds them and +50 % draws down half as fast again; or a table of "
        "future heads (station, date, value, as the piezometer table; joined to the piezometers the same way), "
        "whose heads replace the others at its dates.</p>"
        "<p><b>Band</b>: <b>FLO_YYYYMMDD</b> / <b>FHI_YYYYMMDD</b> add to each forecast the 5 % and 95 % quantiles "
        "of the model's own held-out errors at that lead month (over the points, with the observed heads), for "
        "as many months as its hold-out covered: a 90 % band if the new forecast errs like the hold-out did "
        "(a scenario's own uncertainty is not in it).</p>"
        "<p>The static factors must be the rasters the model was trained with, in the same order (the lag-aware "
        "attention GRU computes its delay from the 2nd and 3rd, b₀ and K′v, with the S′s it was trained with). "
        "The GW-LSTM weighs each point with its neighbours among the points given, with the bandwidth it was "
        "trained with; the physics-constrained RNN runs over the heads from the series' first month.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_inputs(self, groundwater_optional=True)
        self.addParameter(QgsProcessingParameterFile("MODEL_FILE", "Series model file",
                                                     fileFilter="Model files (*.pt)"))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "FACTORS", "Static factors (the model's rasters, in its order)", QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterNumber("HORIZON_MONTHS", "Horizon (months)",
                                                       QgsProcessingParameterNumber.Integer, 12, minValue=1,
                                                       maxValue=240))
        self.addParameter(QgsProcessingParameterEnum("SCENARIO", "Groundwater scenario", SCENARIOS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("DRAWDOWN_CHANGE", "Change of the drawdown rate (%)",
                                                       QgsProcessingParameterNumber.Double, 0.0, minValue=-100.0))
        self.addParameter(QgsProcessingParameterFile(
            "FUTURE_HEADS", "Future heads (long table: station, date, value)", optional=True,
            fileFilter="Delimited text (*.csv *.txt *.tsv);;All files (*)"))
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "Points with forecasts (mm)",
                                                            QgsProcessing.TypeVectorPoint))

    def process(self, parameters, context, feedback):
        with processing_errors():
            model, description = load_series_model(self.parameterAsFile(parameters, "MODEL_FILE", context))
        points, crs = read_series_points(self, parameters, context, feedback)
        names, static = static_factors(self, parameters, context, points, crs)
        expected = description["features"]["static"]
        if len(names) != len(expected):
            raise QgsProcessingException(f"The model was trained with {len(expected)} static factor(s) "
                                         f"({', '.join(expected) or 'none'}); {len(names)} were given")
        horizon = self.parameterAsInt(parameters, "HORIZON_MONTHS", context)
        months, values = monthly_series(points.dates, points.series)
        origin = len(months) - 1
        if origin < model.settings.window:
            raise QgsProcessingException(f"The series span {len(months)} months; the model's window needs "
                                         f"{model.settings.window + 1}")
        future = (months[-1].astype("datetime64[M]") + np.arange(1, horizon + 1)).astype("datetime64[D]")
        all_months = np.concatenate([months, future])
        scenario = self.parameterAsEnum(parameters, "SCENARIO", context)
        future_table = self.parameterAsFile(parameters, "FUTURE_HEADS", context) if scenario == 3 else ""
        if scenario == 3 and not future_table:
            raise QgsProcessingException("Give the table of future heads (FUTURE_HEADS)")
        heads = self._heads(parameters, context, feedback, points, crs, all_months, description, future_table)
        if heads is not None and scenario in (1, 2):
            change = self.parameterAsDouble(parameters, "DRAWDOWN_CHANGE", context) if scenario == 2 else -100.0
            heads = scenario_heads(heads, origin, change)
        x, y = metric_coordinates(crs, points)
        delays = interbed_delays(static, description.get("specific_storage_per_m", 1e-4), feedback) \
            if model.use_lag else None
        with processing_errors():
            forecast = forecast_series(model, values, PointDrivers(heads, static, x, y, delays), origin, horizon)
        known = np.isfinite(forecast[:, 0])
        feedback.pushInfo(f"Forecast {int(known.sum())} of {len(points)} points for {horizon} months "
                          f"({future[0]} .. {future[-1]}), {SCENARIOS[scenario].lower()}"
                          + (f" ({self.parameterAsDouble(parameters, 'DRAWDOWN_CHANGE', context):+g} %)"
                             if scenario == 2 else ""))
        if (~known).any():
            feedback.pushWarning(f"{int((~known).sum())} point(s) lack a full window of monthly values before the "
                                 "end of their series (or a static factor): no forecast")
        columns = [(name, "double" if values_.dtype.kind in "fiub" else "string", values_)
                   for name, values_ in points.attributes.items() if name.lower() != "fid"]
        columns += [(name, "double", points.series[:, i]) for i, name in enumerate(points.date_fields)]
        columns += [(date_field_name(month, "F"), "double", forecast[:, i]) for i, month in enumerate(future)]
        band = description.get("band")
        if band:
            low, high = band_limits(band, forecast)
            reach = min(horizon, len(band["leads_months"]))
            columns += [(date_field_name(month, "FLO_"), "double", low[:, i]) for i, month in enumerate(future[:reach])]
            columns += [(date_field_name(month, "FHI_"), "double", high[:, i])
                        for i, month in enumerate(future[:reach])]
            feedback.pushInfo(f"{band['level']:.0%} band (FLO_ / FHI_) from the model's held-out errors for the first "
                              f"{reach} month(s)" + (f"; none beyond its hold-out of {reach} months"
                                                     if reach < horizon else ""))
        return {"OUTPUT": point_sink(self, parameters, "OUTPUT", context, crs, points.x, points.y, columns, feedback)}

    def _heads(self, parameters, context, feedback, points, crs, months, description, future_table):
        if future_table and self.parameterAsSource(parameters, "GROUNDWATER", context) is None:
            raise QgsProcessingException("The table of future heads needs the piezometer points (GROUNDWATER)")
        if self.parameterAsSource(parameters, "GROUNDWATER", context) is None:
            if description.get("groundwater") and description["architecture"].get("type", "lstm") != "lstm":
                raise QgsProcessingException("The model was trained with the groundwater: give the piezometers "
                                             "(GROUNDWATER)")
            if description.get("groundwater"):
                feedback.pushWarning("The model was trained with heads; without piezometers they are held")
            return None
        if not description.get("groundwater"):
            feedback.pushWarning("The model was trained without heads: the piezometers are not used")
            return None
        heads, aquifers = heads_at_months(self, parameters, context, feedback, points, crs, months, future_table)
        trained = description.get("aquifers", [""])
        if aquifers != trained:
            raise QgsProcessingException(
                "The model was trained with the heads of " + (f"the aquifers {', '.join(trained)}" if trained != [""]
                                                              else "one aquifer (no aquifer field)")
                + "; these piezometers give " + (f"the aquifers {', '.join(aquifers)}" if aquifers != [""]
                                                 else "one aquifer (no aquifer field)"))
        return heads
