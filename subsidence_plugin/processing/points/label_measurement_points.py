"""subsidence:labelmeasurementpoints - seed 002's good / bad / unlabelled measurement points from their own series."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingOutputNumber, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterNumber)

from ...core.points.labels import label_series
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..outputs import point_sink
from .common import SERIES_FIELDS, all_input_columns, read_series_layer

NEW_FIELDS = ("LABEL", "SPLIT", "R_TIME", "OUTLIERS")


class LabelMeasurementPoints(SubsidenceAlgorithm):
    NAME = "labelmeasurementpoints"
    DISPLAY_NAME = "Label measurement points by their series"
    GROUP = "InSAR points"
    HELP = (
        "<p>Labels InSAR measurement points from their own displacement series, as seed 002 (§III-B 5, the ICOPS "
        "sample preparation) does before its CNN screening:</p>"
        "<ul><li><b>good (1)</b>: the displacement follows time closely, |Pearson r| of displacement with time "
        "above the <i>correlation threshold</i> (0.9; a subsiding series has r ≈ −1), and no date is an outlier;"
        "</li><li><b>bad (0)</b>: at least one date is an outlier;</li><li><b>unlabelled (NULL)</b>: the rest "
        "(stable or irregular points; the screening CNN scores them).</li></ul>"
        "<p><b>Outliers</b> are dates whose residual from the series' least-squares line lies more than <i>k</i> "
        "scaled median absolute deviations (1.4826 · MAD) from the residuals' median, or more than <i>k</i> "
        "standard deviations from their mean (k = 3, as MATLAB's isoutlier, which the seed names). With many "
        "dates a few normal residuals pass 3 σ by chance (0.27 % of the dates each), so a series of 300 noisy "
        "dates is often labelled bad: that is the seed's rule; raise k to be more lenient.</p>"
        "<p><b>Output</b>: every input point with all its fields plus <b>LABEL</b> (1 / 0 / NULL), <b>SPLIT</b> "
        "(train / test: a stratified 70 / 30 random split of the labelled points, seed 002), <b>R_TIME</b> "
        "(Pearson r with time) and <b>OUTLIERS</b> (number of outlier dates). NULL dates are left out of every "
        "statistic; a point with fewer than 3 dates stays unlabelled. The counts are in the log.</p>"
        f"<p><b>Input</b>: points with {SERIES_FIELDS}.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "InSAR points with series",
                                                              [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterNumber("R_THRESHOLD", "Correlation threshold |r| for good points",
                                                       QgsProcessingParameterNumber.Double, 0.9, minValue=0.01,
                                                       maxValue=0.99))
        self.addParameter(QgsProcessingParameterNumber(
            "OUTLIER_THRESHOLD", "Outlier threshold k (scaled MADs / standard deviations)",
            QgsProcessingParameterNumber.Double, 3.0, minValue=0.5))
        add_advanced(self, QgsProcessingParameterNumber("TEST_SHARE", "Test share of the labelled points",
                                                        QgsProcessingParameterNumber.Double, 0.3, minValue=0.05,
                                                        maxValue=0.9))
        add_advanced(self, QgsProcessingParameterNumber("SEED", "Random seed of the split",
                                                        QgsProcessingParameterNumber.Integer, 0, minValue=0))
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "Labelled points",
                                                            QgsProcessing.TypeVectorPoint))
        for key, text in (("GOOD", "Good points (1)"), ("BAD", "Bad points (0)"), ("UNLABELLED", "Unlabelled points")):
            self.addOutput(QgsProcessingOutputNumber(key, text))

    def process(self, parameters, context, feedback):
        source, table, crs = read_series_layer(self, parameters, "INPUT", context, feedback, "InSAR points")
        with processing_errors():
            labels = label_series(table.dates, table.series, self.parameterAsDouble(parameters, "R_THRESHOLD", context),
                                  self.parameterAsDouble(parameters, "OUTLIER_THRESHOLD", context),
                                  self.parameterAsDouble(parameters, "TEST_SHARE", context),
                                  self.parameterAsInt(parameters, "SEED", context), progress=progress_adapter(feedback),
                                  is_cancelled=feedback.isCanceled)
        counts = labels.counts()
        feedback.pushInfo(f"{len(table)} points, {len(table.dates)} dates: {counts['good']} good (1), {counts['bad']} "
                          f"bad (0), {counts['unlabelled']} unlabelled; split {counts['train']} train / "
                          f"{counts['test']} test")
        if counts["too_short"]:
            feedback.pushWarning(f"{counts['too_short']} points have fewer than 3 dates with a value: unlabelled")
        if counts["good"] == 0 or counts["bad"] == 0:
            feedback.pushWarning("Only one class was found: the screening CNN needs good and bad points; change the "
                                 "correlation or outlier threshold")
        columns = all_input_columns(source, table, NEW_FIELDS, feedback) + [
            ("LABEL", "int", np.where(labels.label >= 0, labels.label, np.nan)),
            ("SPLIT", "string", np.where(labels.split == "", None, labels.split)),
            ("R_TIME", "double", labels.r), ("OUTLIERS", "int", labels.outliers)]
        self.output_stylers = {"OUTPUT": lambda layer: styles.style_point_categories(
            layer, "LABEL", styles.POINT_LABELS, other="unlabelled")}
        dest = point_sink(self, parameters, "OUTPUT", context, crs, table.x, table.y, columns, feedback)
        return {"OUTPUT": dest, "GOOD": counts["good"], "BAD": counts["bad"], "UNLABELLED": counts["unlabelled"]}
