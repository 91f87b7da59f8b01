"""subsidence:trainseriesmodel - a recurrent network of point displacement series with the groundwater (seed 001's
LSTM), trained on the first dates, scored on the rest against the baselines, saved as a model file."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber)

from ...core.io.points import date_field_name, transform_points
from ...core.ml.devices import DEVICE_CHOICES
from ...core.ml.training import OPTIMISERS, TrainingSettings
from ...core.stats.splits import spatial_folds
from ...core.timeseries.baselines import month_starts
from ...core.timeseries.reports import write_series_report
from ...core.timeseries.series_models import SeriesSettings, save_series_model, train_with_holdout
from ...resources import plugin_version
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter, report_epoch
from ..outputs import point_sink
from .common import add_series_inputs, heads_at_months, metric_crs, read_series_points, static_factors

MODELS = ["LSTM (seed 001)"]
OPTIMISER_NAMES = list(OPTIMISERS)


class TrainSeriesModel(SubsidenceAlgorithm):
    NAME = "trainseriesmodel"
    DISPLAY_NAME = "Train a series model"
    GROUP = "Time series"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Trains a recurrent network on the InSAR points' displacement series (<i>DYYYYMMDD</i> fields, mm) with "
        "the groundwater heads and static factors, on the first (1 − hold-out share) of the dates of all points, "
        "and forecasts the held-out dates step by step from the last training month with the observed heads.</p>"
        "<p><b>LSTM</b> (seed 001): the series are resampled to the first day of each month; each step of a "
        "window of months holds the change of displacement, the change of head (the piezometers' heads "
        "interpolated to the points by IDW, as <i>groundwaterseries</i>) and the static factors (e.g. compressible "
        "thickness and permeability rasters, sampled at the points), min-max scaled on the training months; the "
        "target is the next month's change, cumulated back to displacement. The seed's \"hidden layers 8\" is "
        "read as one LSTM layer of 8 units. Defaults as the seed (gradient descent, learning rate 0.001, batch "
        "38), with early stopping on 20 % of the training points: they are also seed 001's split by point (80 / 20, "
        "as its counts 13,190 / 3,297; its table says 70 / 30), scored as the seed does: one-step predictions of "
        "the monthly change over the training months (RMSE, MAE, cumulative RMSE). The temporal hold-out is the "
        "honest test. A spatial hold-out leaves one fold of five of square blocks of points out of the "
        "training altogether: their forecasts are scored apart (\"unseen blocks\").</p>"
        "<p><b>Output</b>: every input point with its fields, one <b>PYYYYMMDD</b> field a held-out date (the "
        "forecast cumulative displacement, mm, on the same reference as the D fields) and <b>RMSE_MM</b> over "
        "those dates. The log and the report give the RMSE by horizon (each point's RMSE over the lead months "
        "1 … h, averaged over points) of the model with the observed heads and with the heads held at their last "
        "value, and of the baselines (persistence, linear trend, last-year trend, trend + annual). The model file "
        "can be kept and applied later (forecastseries).</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_inputs(self, groundwater_optional=True)
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "FACTORS", "Static factors (rasters: compressible thickness, permeability ...)", QgsProcessing.TypeRaster,
            optional=True))
        self.addParameter(QgsProcessingParameterEnum("MODEL", "Model", MODELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("HOLDOUT_SHARE", "Share of the last dates held out",
                                                       QgsProcessingParameterNumber.Double, 0.2, minValue=0.01,
                                                       maxValue=0.9))
        advanced = [
            QgsProcessingParameterNumber("WINDOW", "Window (months)", QgsProcessingParameterNumber.Integer, 12,
                                         minValue=1),
            QgsProcessingParameterNumber("HIDDEN", "LSTM units", QgsProcessingParameterNumber.Integer, 8, minValue=1),
            QgsProcessingParameterNumber("EPOCHS", "Epochs (at most)", QgsProcessingParameterNumber.Integer, 300,
                                         minValue=1),
            QgsProcessingParameterNumber("BATCH_SIZE", "Batch size", QgsProcessingParameterNumber.Integer, 38,
                                         minValue=1),
            QgsProcessingParameterNumber("LEARNING_RATE", "Learning rate", QgsProcessingParameterNumber.Double,
                                         0.001, minValue=1e-7),
            QgsProcessingParameterEnum("OPTIMISER", "Optimiser", ["Gradient descent (seed 001)", "Adam"],
                                       defaultValue=OPTIMISER_NAMES.index("sgd")),
            QgsProcessingParameterNumber("PATIENCE", "Early-stopping patience (epochs; 0 = off)",
                                         QgsProcessingParameterNumber.Integer, 20, minValue=0),
            QgsProcessingParameterNumber("BLOCK_SIZE", "Spatial hold-out: block size (m; 0 = a fifth of the "
                                         "points' extent, -1 = none)", QgsProcessingParameterNumber.Double, 0.0,
                                         minValue=-1.0),
            QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0, minValue=0),
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

    def process(self, parameters, context, feedback):
        points, crs = read_series_points(self, parameters, context, feedback)
        months = month_starts(points.dates)
        heads = None
        if self.parameterAsSource(parameters, "GROUNDWATER", context) is None:
            feedback.pushWarning("No piezometers: the model learns from the displacement series alone")
        else:
            heads = heads_at_months(self, parameters, context, feedback, points, crs, months)
        names, static = static_factors(self, parameters, context, points, crs)
        enum = self.parameterAsEnum
        settings = SeriesSettings(
            window=self.parameterAsInt(parameters, "WINDOW", context),
            hidden=self.parameterAsInt(parameters, "HIDDEN", context),
            training=TrainingSettings(
                epochs=self.parameterAsInt(parameters, "EPOCHS", context),
                batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
                learning_rate=self.parameterAsDouble(parameters, "LEARNING_RATE", context),
                patience=self.parameterAsInt(parameters, "PATIENCE", context),
                seed=self.parameterAsInt(parameters, "SEED", context),
                device=DEVICE_CHOICES[enum(parameters, "DEVICE", context)],
                optimiser=OPTIMISER_NAMES[enum(parameters, "OPTIMISER", context)]))
        share = self.parameterAsDouble(parameters, "HOLDOUT_SHARE", context)
        unseen = self._unseen_blocks(parameters, context, feedback, points, crs, settings.training.seed)
        with processing_errors():
            result = train_with_holdout(
                points.dates, points.series, heads, static, settings, share, unseen, progress_adapter(feedback),
                feedback.isCanceled, lambda epoch, train, validation: report_epoch(feedback, epoch, train, validation),
                feedback.pushInfo)
        history = result.model.history
        feedback.pushInfo(f"LSTM trained for {len(history.train_loss)} epochs on {history.device} (best epoch "
                          f"{history.best_epoch}); training months up to {result.months[result.origin]}, "
                          f"{result.holdout_dates.size} held-out dates from {result.holdout_dates[0]}")
        self._report_errors(feedback, result.errors)
        split = result.point_split
        if split:
            feedback.pushInfo(f"Seed 001's split by point (80 / 20, its counts; the 20 % were never trained on): "
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
        dest = point_sink(self, parameters, "OUTPUT", context, crs, points.x, points.y, columns, feedback)
        results = {"OUTPUT": dest}
        model_path = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)
        if model_path:
            save_series_model(model_path, result.model, names, {
                "target": "LOS displacement", "units": "mm", "crs_wkt": crs.toWkt(),
                "training_dates": [str(points.dates[0]), str(points.dates[-result.holdout_dates.size - 1])],
                "groundwater": heads is not None,
                "metrics": {name: values.tolist() for name, values in result.errors.rmse.items()},
                "point_split": result.point_split,
                "horizons_months": result.errors.horizons.tolist(), "plugin_version": plugin_version()})
            results["OUTPUT_MODEL"] = model_path
        report_path = self.parameterAsFileOutput(parameters, "REPORT", context)
        if report_path:
            text = (f"Window {settings.window} months, {settings.hidden} LSTM units, {settings.training.optimiser} "
                    f"(learning rate {settings.training.learning_rate:g}, batch {settings.training.batch_size}), "
                    f"at most {settings.training.epochs} epochs with patience {settings.training.patience}, seed "
                    f"{settings.training.seed}; groundwater: {'heads at the points' if heads is not None else 'none'}"
                    f"; static factors: {', '.join(names) or 'none'}.")
            results["REPORT"] = write_series_report(report_path, result, points.dates, points.series, heads,
                                                    points.x, points.y, points.attributes.get("pid", np.arange(
                                                        len(points)).astype(str)), text)
        return results

    def _unseen_blocks(self, parameters, context, feedback, points, crs, seed):
        """Mask of the points in one fold of five of square blocks, left out of the training, or None."""
        size = self.parameterAsDouble(parameters, "BLOCK_SIZE", context)
        if size < 0:
            return None
        metric = metric_crs(crs, points)
        x, y = transform_points(points.x, points.y, crs.toWkt(), metric.toWkt())
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
