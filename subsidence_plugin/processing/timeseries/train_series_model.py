"""subsidence:trainseriesmodel - a recurrent network of point displacement series with the groundwater (seed 001's
LSTM, seed 004's lag-aware attention GRU, physics-constrained RNN and GW-LSTM), trained on the first dates, scored
on the rest against the baselines, saved as a model file."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber)

from ...core.io.points import date_field_name
from ...core.ml.devices import DEVICE_CHOICES
from ...core.ml.training import OPTIMISERS
from ...core.stats.splits import spatial_folds
from ...core.timeseries.baselines import month_starts
from ...core.timeseries.reports import describe_notes, settings_summary, write_series_report
from ...core.timeseries.series_models import (KINDS, LABELS, PointDrivers, SeriesSettings, default_settings,
                                              save_series_model, train_with_holdout)
from ...resources import plugin_version
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter, report_epoch
from ..inputs import metric_coordinates
from ..outputs import point_sink
from .common import add_series_inputs, heads_at_months, interbed_delays, read_series_points, static_factors

MODELS = ["LSTM (seed 001)", "Lag-aware attention GRU (seed 004, case 2)",
          "Physics-constrained RNN (seed 004, case 3)", "GW-LSTM (seed 004, case 1)"]
OPTIMISER_NAMES = list(OPTIMISERS)
OPTIMISER_CHOICES = ["Gradient descent", "Adam", "The model's default (LSTM: gradient descent; others: Adam)"]


def heads_end_note(months, heads) -> str:
    """What the models do past the last month with a head, when the heads end before the series ("" if not)."""
    known = np.flatnonzero(np.isfinite(heads).any(axis=tuple(i for i in range(heads.ndim) if i != 1)))
    if known.size == 0 or known[-1] == len(months) - 1:
        return ""
    return (f"The heads end in {str(months[known[-1]])[:7]} and the series in {str(months[-1])[:7]}: beyond the "
            "last head every model (and the delayed-compaction baseline) holds the last heads.")


class TrainSeriesModel(SubsidenceAlgorithm):
    NAME = "trainseriesmodel"
    DISPLAY_NAME = "Train a series model"
    GROUP = "Time series"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Trains a recurrent network on the InSAR points' displacement series (<i>DYYYYMMDD</i> fields, mm) with "
        "the groundwater heads and static factors, on the first (1 − hold-out share) of the dates of all points, "
        "and forecasts the held-out dates month by month from the last training month with the observed heads. "
        "The series are resampled to the first day of each month; the heads are the piezometers' heads "
        "interpolated to the points by IDW, as <i>groundwaterseries</i>; with an aquifer field, the heads of each "
        "aquifer from its own piezometers, each an input of its own (seed 004 uses the three confined "
        "aquifers'). <b>Static factors</b>, in this order: "
        "compressible thickness (m), interbed thickness b₀ (m), vertical hydraulic conductivity K′v (m/s), then any "
        "others; all are static inputs of the windowed models, and with the first three the interbeds' delay "
        "τ = (b₀/2)² S′s / K′v (days) gives the lagged heads and the delayed-compaction baseline.</p>"
        "<p><b>LSTM</b> (seed 001): each month of a window holds the change of displacement, the change of head "
        "and the static factors, min-max scaled on the training months; the target is the next month's change, "
        "cumulated back to displacement. The seed's \"hidden layers 8\" is read as one LSTM layer of 8 units. "
        "Defaults as the seed (gradient descent, learning rate 0.001, batch 38); the 20 % of the points kept for "
        "early stopping are also seed 001's split by point (80 / 20, as its counts 13,190 / 3,297; its table says "
        "70 / 30), scored as the seed does: one-step predictions of the monthly change over the training months "
        "(RMSE, MAE, cumulative RMSE).</p>"
        "<p><b>Lag-aware attention GRU</b> (seed 004, case 2): the same window with, in addition, the change of "
        "the lagged head h(t − τ); three GRU layers (32 units: the slides do not say), additive attention over "
        "the window's months (the mean attention weight of each month is in the report), Adam 0.001, batch 16, "
        "500 epochs, 7 : 3. Without b₀ and K′v it runs without the lag (the AM-GRU the seed compares with).</p>"
        "<p><b>Physics-constrained RNN</b> (seed 004, case 3): x_t = [Δσ′_t = −γ_w Δh_t, H], "
        "S_t = tanh(S_{t−1} + W_fᵀ x_t / Eⁿ + b_f), y_t = W_g S_t + b_g, the cumulative displacement, run over the "
        "whole series from the heads alone (no past displacement enters: a simulator driven by the groundwater). "
        "E is trainable; n trainable or fixed (advanced). The slides' \"hidden layers 7\" is read as 7 state "
        "units of the one recurrence they write; with one E, only W_f / Eⁿ is determined by the data, so E and n "
        "are reported as fitted, not as measured moduli. Adam 0.001, batch 16, 2,000 epochs, 8 : 2 (the slides "
        "also say 7 : 3). It is compared with the same network with n fixed at 1 and with the delayed-compaction "
        "model.</p>"
        "<p><b>GW-LSTM</b> (seed 004, case 1): each month also holds the geographically weighted mean of the "
        "changes of displacement and head over the point and its 16 nearest neighbours (Gaussian kernel; the "
        "bandwidth chosen by leave-one-out cross-validation unless given); 4 LSTM layers of 64 units over 36 "
        "months; Adam 0.001, batch 64 (not in the slides).</p>"
        "<p><b>Honest evaluation</b>: the held-out dates are forecast with the observed heads (the seeds' setting) "
        "and with the heads held at their last training value (a true forecast). A spatial hold-out leaves one "
        "fold of five of square blocks of points out of the training altogether: their forecasts are scored "
        "apart (\"unseen blocks\"). The baselines are always in the table: persistence, linear trend, last-year "
        "trend, trend + annual and, with heads, the delayed-compaction model (d = a + k h_r, h_r the head relaxed "
        "with τ; τ from the rasters or chosen per point). Every model stops early on its validation points "
        "(patience 20 epochs).</p>"
        "<p><b>Output</b>: every input point with its fields, one <b>PYYYYMMDD</b> field a held-out date (the "
        "forecast cumulative displacement, mm, on the same reference as the D fields) and <b>RMSE_MM</b> over "
        "those dates. The log and the report give the RMSE by horizon (each point's RMSE over the lead months "
        "1 … h, averaged over points). The model file can be kept and applied later (forecastseries); it keeps the 5 % "
        "and 95 % quantiles over the points of the held-out errors at each lead month, the 90 % band that "
        "forecastseries adds to its forecasts.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_inputs(self, groundwater_optional=True)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "FACTORS", "Static factors (rasters: compressible thickness, interbed thickness b₀, K′v, others)",
            QgsProcessing.TypeRaster, optional=True))
        self.addParameter(QgsProcessingParameterEnum("MODEL", "Model", MODELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("HOLDOUT_SHARE", "Share of the last dates held out",
                                                       QgsProcessingParameterNumber.Double, 0.2, minValue=0.01,
                                                       maxValue=0.9))
        integer, double = QgsProcessingParameterNumber.Integer, QgsProcessingParameterNumber.Double
        advanced = [
            QgsProcessingParameterNumber("SPECIFIC_STORAGE", "Specific storage S′s of the interbeds (1/m)", double,
                                         1e-4, minValue=1e-12),
            QgsProcessingParameterNumber("WINDOW", "Window (months; 0 = the model's: 12, GW-LSTM 36)", integer, 0,
                                         minValue=0),
            QgsProcessingParameterNumber("HIDDEN", "Units per layer (0 = the model's: 8, 32, 7, 64)", integer, 0,
                                         minValue=0),
            QgsProcessingParameterNumber("LAYERS", "Recurrent layers (0 = the model's: 1, 3, 1, 4)", integer, 0,
                                         minValue=0),
            QgsProcessingParameterNumber("EPOCHS", "Epochs at most (0 = the model's: 300, 500, 2000, 300)", integer,
                                         0, minValue=0),
            QgsProcessingParameterNumber("BATCH_SIZE", "Batch size (0 = the model's: 38, 16, 16, 64)", integer, 0,
                                         minValue=0),
            QgsProcessingParameterNumber("LEARNING_RATE", "Learning rate (0 = the model's: 0.001)", double, 0.0,
                                         minValue=0.0),
            QgsProcessingParameterEnum("OPTIMISER", "Optimiser", OPTIMISER_CHOICES, defaultValue=2),
            QgsProcessingParameterNumber("VALIDATION_SHARE", "Share of the points for early stopping (0 = the "
                                         "model's: 0.2, 0.3, 0.2, 0.2)", double, 0.0, minValue=0.0, maxValue=0.9),
            QgsProcessingParameterNumber("PATIENCE", "Early-stopping patience (epochs; 0 = off)", integer, 20,
                                         minValue=0),
            QgsProcessingParameterNumber("EXPONENT", "Physics RNN: non-linearity n (0 = trainable)", double, 0.0,
                                         minValue=0.0),
            QgsProcessingParameterBoolean("COMPARE_WITHOUT_N", "Physics RNN: compare with the network without n",
                                          True),
            QgsProcessingParameterNumber("BANDWIDTH", "GW-LSTM: kernel bandwidth (m; 0 = cross-validation)", double,
                                         0.0, minValue=0.0),
            QgsProcessingParameterNumber("NEIGHBOURS", "GW-LSTM: neighbours in the kernel", integer, 16,
                                         minValue=1),
            QgsProcessingParameterNumber("BLOCK_SIZE", "Spatial hold-out: block size (m; 0 = a fifth of the "
                                         "points' extent, -1 = none)", double, 0.0, minValue=-1.0),
            QgsProcessingParameterNumber("SEED", "Random seed", integer, 0, minValue=0),
            QgsProcessingParameterEnum("DEVICE", "Device", list(DEVICE_CHOICES), defaultValue=0),
        ]
        for parameter in advanced:
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "Points with held-out forecasts (mm)",
                                                            QgsProcessing.TypeVectorPoint))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_MODEL", "Model file",
                                                                "Model files (*.pt)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)",
                                                                optional=True))

    def settings(self, parameters, context) -> SeriesSettings:
        """The chosen model's seed defaults with the advanced parameters that are set."""
        kind = KINDS[self.parameterAsEnum(parameters, "MODEL", context)]
        base = default_settings(kind)

        def chosen(name, default, read=self.parameterAsInt):
            value = read(parameters, name, context)
            return value if value > 0 else default

        optimiser = self.parameterAsEnum(parameters, "OPTIMISER", context)
        exponent = self.parameterAsDouble(parameters, "EXPONENT", context)
        training = replace(
            base.training, epochs=chosen("EPOCHS", base.training.epochs),
            batch_size=chosen("BATCH_SIZE", base.training.batch_size),
            learning_rate=chosen("LEARNING_RATE", base.training.learning_rate, self.parameterAsDouble),
            patience=self.parameterAsInt(parameters, "PATIENCE", context),
            seed=self.parameterAsInt(parameters, "SEED", context),
            device=DEVICE_CHOICES[self.parameterAsEnum(parameters, "DEVICE", context)],
            optimiser=OPTIMISER_NAMES[optimiser] if optimiser < len(OPTIMISER_NAMES) else base.training.optimiser)
        return replace(base, window=chosen("WINDOW", base.window), hidden=chosen("HIDDEN", base.hidden),
                       layers=chosen("LAYERS", base.layers),
                       validation_share=chosen("VALIDATION_SHARE", base.validation_share, self.parameterAsDouble),
                       exponent=exponent if exponent > 0 else None,
                       bandwidth=self.parameterAsDouble(parameters, "BANDWIDTH", context),
                       neighbours=self.parameterAsInt(parameters, "NEIGHBOURS", context), training=training)

    def process(self, parameters, context, feedback):
        points, crs = read_series_points(self, parameters, context, feedback)
        months = month_starts(points.dates)
        settings = self.settings(parameters, context)
        heads, aquifers, held_note = None, [], ""
        if self.parameterAsSource(parameters, "GROUNDWATER", context) is None:
            if settings.kind != "lstm":
                raise QgsProcessingException(f"The {LABELS[settings.kind]} needs the groundwater: give the "
                                             "piezometers (GROUNDWATER)")
            feedback.pushWarning("No piezometers: the model learns from the displacement series alone")
        else:
            heads, aquifers = heads_at_months(self, parameters, context, feedback, points, crs, months)
            held_note = heads_end_note(months, heads)
            if held_note:
                feedback.pushWarning(held_note)
        names, static = static_factors(self, parameters, context, points, crs)
        storage = self.parameterAsDouble(parameters, "SPECIFIC_STORAGE", context)
        x, y = metric_coordinates(crs, points)
        drivers = PointDrivers(heads, static, x, y, interbed_delays(static, storage, feedback))
        share = self.parameterAsDouble(parameters, "HOLDOUT_SHARE", context)
        unseen = self._unseen_blocks(parameters, context, feedback, points, x, y, settings.training.seed)
        with processing_errors():
            result = train_with_holdout(
                points.dates, points.series, drivers, settings, share, unseen, progress_adapter(feedback),
                feedback.isCanceled, lambda epoch, train, validation: report_epoch(feedback, epoch, train, validation),
                feedback.pushInfo, self.parameterAsBool(parameters, "COMPARE_WITHOUT_N", context))
        history = result.model.history
        feedback.pushInfo(f"{result.model.label} trained for {len(history.train_loss)} epochs on {history.device} "
                          f"(best epoch {history.best_epoch}); training months up to {result.months[result.origin]}, "
                          f"{result.holdout_dates.size} held-out dates from {result.holdout_dates[0]}")
        for line in describe_notes(result.notes):
            feedback.pushInfo(line)
        self._report_errors(feedback, result.errors)
        split = result.point_split
        if split:
            kept = settings.validation_share
            feedback.pushInfo(f"Seed 001's split by point ({1 - kept:.0%} / {kept:.0%}; the {kept:.0%} were never "
                              "trained on): "
                              f"one-step monthly change RMSE {split['change RMSE (mm)']:.2f} mm, MAE "
                              f"{split['change MAE (mm)']:.2f} mm, cumulative RMSE {split['cumulative RMSE (mm)']:.2f} "
                              f"mm over the training months ({split['points']} points)")
        truth = points.series[:, -result.holdout_dates.size:]
        with np.errstate(invalid="ignore"):
            rmse = np.sqrt(np.nanmean((result.forecast - truth) ** 2, axis=1))
        columns = [(name, "double" if values.dtype.kind in "fiub" else "string", values)
                   for name, values in points.attributes.items() if name.lower() != "fid"]
        columns += [(name, "double", points.series[:, i]) for i, name in enumerate(points.date_fields)]
        columns += [(date_field_name(date, "P"), "double", result.forecast[:, i])
                    for i, date in enumerate(result.holdout_dates)]
        columns.append(("RMSE_MM", "double", rmse))
        vmax = styles.nice_limit(float(np.nanpercentile(rmse, 98))) if np.isfinite(rmse).any() else 10.0
        self.output_stylers = {"OUTPUT": lambda layer: styles.style_points_sequential(layer, "RMSE_MM", "mm", vmax)}
        dest = point_sink(self, parameters, "OUTPUT", context, crs, points.x, points.y, columns, feedback)
        results = {"OUTPUT": dest}
        model_path = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)
        if model_path:
            save_series_model(model_path, result.model, names, {
                "target": "LOS displacement", "units": "mm", "crs_wkt": crs.toWkt(),
                "training_dates": [str(points.dates[0]), str(points.dates[-result.holdout_dates.size - 1])],
                "groundwater": heads is not None, "aquifers": aquifers, "specific_storage_per_m": storage,
                "metrics": {name: values.tolist() for name, values in result.errors.rmse.items()},
                "point_split": result.point_split, "band": result.band,
                "horizons_months": result.errors.horizons.tolist(), "plugin_version": plugin_version()})
            results["OUTPUT_MODEL"] = model_path
        report_path = self.parameterAsFileOutput(parameters, "REPORT", context)
        if report_path:
            training = settings.training
            text = (f"{result.model.label}: {settings_summary(settings)}, {training.optimiser} (learning rate "
                    f"{training.learning_rate:g}, batch {training.batch_size}), at most {training.epochs} epochs with "
                    f"patience {training.patience}, seed {training.seed}; groundwater: "
                    f"{'heads at the points' if heads is not None else 'none'}; static factors: "
                    f"{', '.join(names) or 'none'}. {held_note}")
            results["REPORT"] = write_series_report(report_path, result, points.dates, points.series, heads,
                                                    points.x, points.y, points.attributes.get("pid", np.arange(
                                                        len(points)).astype(str)), text)
        return results

    def _unseen_blocks(self, parameters, context, feedback, points, x, y, seed):
        """Mask of the points in one fold of five of square blocks, left out of the training, or None."""
        size = self.parameterAsDouble(parameters, "BLOCK_SIZE", context)
        if size < 0:
            return None
        if size == 0:
            size = max(np.ptp(x), np.ptp(y)) / 5.0 or 1.0
        with processing_errors():
            unseen = spatial_folds(x, y, size, folds=5, seed=seed) == 0
        feedback.pushInfo(f"Spatial hold-out: {int(unseen.sum())} of {len(points)} points in blocks of {size:.0f} m "
                          "are never seen in training and are scored apart")
        return unseen

    @staticmethod
    def _report_errors(feedback, errors) -> None:
        horizons = " / ".join(f"{h}" for h in errors.horizons)
        feedback.pushInfo(f"RMSE (mm) at horizons {horizons} months from the last training month:")
        for name, values in errors.rmse.items():
            feedback.pushInfo(f"  {name}: " + " / ".join("n/a" if np.isnan(v) else f"{v:.2f}" for v in values))
