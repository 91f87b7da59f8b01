"""subsidence:screenmeasurementpoints - seed 002's CNN screening: every point's series scored 0-1, none deleted."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterField,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber)

from ...core.ml.devices import DEVICE_CHOICES
from ...core.points.labels import UNLABELLED, label_series
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter, report_epoch, report_fitness
from ..outputs import point_sink
from .common import SERIES_FIELDS, all_input_columns, read_series_layer

NEW_FIELDS = ("QUALITY_SCORE", "KEEP")


class ScreenMeasurementPoints(SubsidenceAlgorithm):
    NAME = "screenmeasurementpoints"
    DISPLAY_NAME = "Screen measurement points (CNN)"
    GROUP = "InSAR points"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Scores every InSAR measurement point 0–1 by how trustworthy its displacement series looks, with the "
        "CNN of seed 002 (§III-B 6, ICOPS), trained on the points labelled good (1) / bad (0) by <i>Label "
        "measurement points by their series</i>. Points are never deleted: the output keeps every point with all "
        "its fields plus <b>QUALITY_SCORE</b> (0–1) and <b>KEEP</b> (1 when the score reaches the threshold, "
        "default 0.5; filter on it).</p>"
        "<p><b>Labels</b>: the LABEL and SPLIT fields of the input (train / test, as the labelling writes them); "
        "without a LABEL field the points are labelled here with the seed's rules (|r| > 0.9, outliers beyond 3 "
        "scaled MADs or 3 σ) and a stratified 70 / 30 split.</p>"
        "<p><b>The network</b>, as the seed lists its layers: \"20 convolutional layers with ReLU\" is read as a "
        "convolution with 20 filters (width 5) over the dates, followed by ReLU; \"2-D average pooling\" as average "
        "pooling of width 2 over the dates; \"ten fully connected layers\" with \"another ReLU\" as a dense layer of "
        "10 units with ReLU; and the regression output as one linear unit trained with the mean squared error on "
        "the 0/1 labels (the score is clipped to 0–1). The input has two channels: the series with its NULL dates "
        "filled linearly in time, and its residual from the series' least-squares line (where noise and outliers "
        "show), each standardised (zero mean, unit standard deviation: the shape counts, not the rate).</p>"
        "<p><b>Tuning</b> (on request, as the seed): the grey wolf optimizer searches the learning rate, the epochs "
        "(up to the Epochs setting) and the batch size, maximising the AUC on a validation part of the training "
        "points; the test part is never seen before the evaluation.</p>"
        "<p><b>What the score means</b>: the seed's rule labels good only the series that follow a line closely "
        "(|r| &gt; 0.9), which a stable point's series (noise around zero) cannot do, so the network learns to keep "
        "points that move steadily and to score stable ones low (measured on the sample area: the clean points "
        "kept moved 34.0 mm/yr on average, the clean points removed 5.4 mm/yr). Read a low score on a stable area "
        "as 'no steady trend', not as 'bad measurement'.</p>"
        "<p><b>Report</b>: counts per stage (seed 002: 85,777 of 307,451 points removed), ROC and AUC on the test "
        "part, seed 002's RMSE and StD of the error (score − label; the seed: 0.167 and 0.168), the scores by "
        "label, a map of the kept and removed points and example series. Seeded; the device is chosen "
        f"automatically (CUDA, MPS, CPU) unless set.</p><p><b>Input</b>: points with {SERIES_FIELDS}.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "InSAR points with series (labelled)",
                                                              [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterNumber("THRESHOLD", "Keep points with a score of at least",
                                                       QgsProcessingParameterNumber.Double, 0.5, minValue=0.0,
                                                       maxValue=1.0))
        self.addParameter(QgsProcessingParameterBoolean("TUNE", "Tune learning rate, epochs and batch size (GWO)",
                                                        False))
        for parameter in (
                QgsProcessingParameterField("LABEL_FIELD", "Label field (1 / 0 / NULL)", "LABEL", "INPUT",
                                            QgsProcessingParameterField.Numeric, optional=True),
                QgsProcessingParameterField("SPLIT_FIELD", "Split field (train / test)", "SPLIT", "INPUT",
                                            QgsProcessingParameterField.String, optional=True),
                QgsProcessingParameterNumber("EPOCHS", "Epochs (the upper bound when tuning)",
                                             QgsProcessingParameterNumber.Integer, 30, minValue=1),
                QgsProcessingParameterNumber("BATCH_SIZE", "Batch size", QgsProcessingParameterNumber.Integer, 128,
                                             minValue=2),
                QgsProcessingParameterNumber("LEARNING_RATE", "Learning rate (Adam)",
                                             QgsProcessingParameterNumber.Double, 1e-3, minValue=1e-7, maxValue=1.0),
                QgsProcessingParameterNumber("POPULATION", "Tuner population", QgsProcessingParameterNumber.Integer, 5,
                                             minValue=4),
                QgsProcessingParameterNumber("ITERATIONS", "Tuner iterations", QgsProcessingParameterNumber.Integer, 4,
                                             minValue=1),
                QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0,
                                             minValue=0),
                QgsProcessingParameterEnum("DEVICE", "Device", list(DEVICE_CHOICES), defaultValue=0)):
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "Screened points", QgsProcessing.TypeVectorPoint))
        self.addParameter(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)",
                                                                optional=True, createByDefault=False))
        for key, text in (("KEPT", "Points kept"), ("REMOVED", "Points below the threshold"),
                          ("AUC", "Test AUC"), ("RMSE", "Test RMSE of the score")):
            self.addOutput(QgsProcessingOutputNumber(key, text))

    def process(self, parameters, context, feedback):
        from ...core.ml.training import TrainingSettings
        from ...core.ml.tuning import SearchSpace
        from ...core.points.screening import ScreeningSettings, screen_series
        from ...core.points.screening_report import write_screening_report

        source, table, crs = read_series_layer(self, parameters, "INPUT", context, feedback, "InSAR points")
        label, split, notes = self._labels(table, parameters, context, feedback)
        seed = self.parameterAsInt(parameters, "SEED", context)
        epochs = self.parameterAsInt(parameters, "EPOCHS", context)
        settings = ScreeningSettings(
            threshold=self.parameterAsDouble(parameters, "THRESHOLD", context),
            tune=self.parameterAsBoolean(parameters, "TUNE", context),
            training=TrainingSettings(epochs=epochs, batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
                                      learning_rate=self.parameterAsDouble(parameters, "LEARNING_RATE", context),
                                      seed=seed, loss="mse",
                                      device=DEVICE_CHOICES[self.parameterAsEnum(parameters, "DEVICE", context)]),
            search=SearchSpace(epochs=(min(5, epochs), epochs),
                               population=self.parameterAsInt(parameters, "POPULATION", context),
                               iterations=self.parameterAsInt(parameters, "ITERATIONS", context)))
        with processing_errors():
            result = screen_series(table.dates, table.series, label, split, settings, progress_adapter(feedback),
                                   feedback.isCanceled, lambda e, t, v: report_epoch(feedback, e, t, v),
                                   lambda n, f, b: report_fitness(feedback, n, f, b, "validation AUC"),
                                   feedback.pushInfo)
        kept = int(result.keep.sum())
        test = result.test
        feedback.pushInfo(f"Test part ({test['n']} points): AUC {test['auc']:.3f}, RMSE {test['rmse']:.3f}, StD of the "
                          f"error {test['std']:.3f}")
        feedback.pushInfo(f"Kept {kept} of {len(label)} points (score ≥ {settings.threshold:g}); "
                          f"{len(label) - kept} below the threshold")
        columns = all_input_columns(source, table, NEW_FIELDS, feedback) + [("QUALITY_SCORE", "double", result.score),
                                                          ("KEEP", "int", result.keep.astype(np.int64))]
        self.output_stylers = {"OUTPUT": lambda layer: styles.style_point_categories(layer, "KEEP",
                                                                                     styles.KEPT_POINTS)}
        dest = point_sink(self, parameters, "OUTPUT", context, crs, table.x, table.y, columns, feedback)
        results = {"OUTPUT": dest, "KEPT": kept, "REMOVED": len(label) - kept, "AUC": test["auc"],
                   "RMSE": test["rmse"]}
        report = self.parameterAsFileOutput(parameters, "REPORT", context)
        if report:
            results["REPORT"] = write_screening_report(report, result, settings, label, table.x, table.y,
                                                       table.dates, table.series, notes=notes)
        return results

    def _labels(self, table, parameters, context, feedback):
        """(label 1 / 0 / −1, split "train" / "test" / "", notes) from the input's fields or the seed's rules."""
        label_field = self.parameterAsString(parameters, "LABEL_FIELD", context) or "LABEL"
        split_field = self.parameterAsString(parameters, "SPLIT_FIELD", context) or "SPLIT"
        if label_field not in table.attributes:
            with processing_errors():
                labels = label_series(table.dates, table.series, seed=self.parameterAsInt(parameters, "SEED", context))
            note = (f"No {label_field} field: the points were labelled here with seed 002's rules (|r| > 0.9, no "
                    f"outlier beyond 3 scaled MADs or 3 σ): {labels.counts()['good']} good, "
                    f"{labels.counts()['bad']} bad.")
            feedback.pushInfo(note)
            return labels.label, labels.split, [note]
        with processing_errors(prefix="InSAR points"):
            values = table.numeric(label_field)
        label = np.where(np.isin(values, (0, 1)), np.nan_to_num(values), UNLABELLED).astype(np.int64)
        odd = int((~np.isnan(values) & ~np.isin(values, (0, 1))).sum())
        if odd:
            feedback.pushWarning(f"{odd} points have a {label_field} other than 0, 1 or NULL: treated as unlabelled")
        if split_field not in table.attributes:
            raise QgsProcessingException(f"InSAR points: no {split_field} field (train / test) beside {label_field}; "
                                         "run Label measurement points by their series, or choose the split field")
        column = table.attributes[split_field]
        split = np.char.lower(np.char.strip(np.asarray(np.ma.filled(column, "") if np.ma.isMaskedArray(column)
                                                       else column).astype(str)))
        return label, split, [f"Labels from the {label_field} and {split_field} fields."]
