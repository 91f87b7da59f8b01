"""subsidence:hotspots - Getis–Ord Gi* hot and cold spots of a point field with global Moran's I (seed 002's
optimised hot-spot analysis)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination, QgsProcessingParameterNumber)

from ...core.io.points import transform_points
from ...core.points.hotspots import hot_spots, write_hotspot_report
from .. import styles
from ..base import SubsidenceAlgorithm, processing_errors, progress_adapter
from ..inputs import metric_crs, read_point_layer
from ..outputs import point_sink
from .common import all_input_columns

GI_FIELDS = ("GI_Z", "GI_P", "GI_CLASS")
COUNTS = {-3: "COLD_99", -2: "COLD_95", -1: "COLD_90", 0: "NOT_SIGNIFICANT", 1: "HOT_90", 2: "HOT_95", 3: "HOT_99"}


class Hotspots(SubsidenceAlgorithm):
    NAME = "hotspots"
    DISPLAY_NAME = "Hot spots (Getis–Ord Gi*)"
    GROUP = "InSAR points"
    HELP = (
        "<p>Hot and cold spots of a point field (e.g. the InSAR velocity, <b>mm/yr</b>, negative = subsidence) by "
        "the Getis–Ord <b>Gi*</b> statistic (Ord &amp; Getis 1995), as the optimised hot-spot analysis of seed 002 "
        "(§III-B 7): every input point with all its fields plus <b>GI_Z</b> (z-score), <b>GI_P</b> (two-sided "
        "p-value from z) and <b>GI_CLASS</b>: −3 … −1 cold spots and +1 … +3 hot spots at 99, 95 and 90 % "
        "confidence, 0 not significant. A subsiding bowl is a cold spot (negative z) whatever the mean of the "
        "field.</p>"
        "<p><b>Weights</b>: 1 for every point within the distance band (<b>m</b>), the point itself and points at "
        "the same position included, else 0; x̄ and S over the points with a value (NULL values are left out and "
        "counted; their GI fields are NULL). A point whose only neighbour is itself has no z (NULL).</p>"
        "<p><b>Distance band</b> 0 = automatic (ArcGIS's Optimized Hot Spot Analysis and Incremental Spatial "
        "Autocorrelation): global Moran's I (binary weights, z under randomisation) over 20 bands, the first at the "
        "distance that gives every point a neighbour — leaving out locational outliers, points whose "
        "nearest-neighbour distance exceeds the mean by more than three standard deviations — each further one the "
        "mean nearest-neighbour distance longer; the band is the <b>first peak</b> of Moran's z-score, or the largest "
        "z-score when the curve has no peak (the log and the report say which). A band shorter than the shortest "
        "nearest-neighbour distance or reaching across the points' extent is refused.</p>"
        "<p><b>False discovery rate</b> (on by default, as ArcGIS's optimised hot-spot analysis): the classes come "
        "from the Benjamini–Hochberg (1995) correction at 1, 5 and 10 %; GI_P itself is not corrected. <b>Keep only "
        "99 % hot and cold spots</b> (off by default): the output holds only the points of classes ±3 (p &lt; 0.01, "
        "after the correction when it is on), as seed 002 keeps its measurement points.</p>"
        "<p>Distances are in metres: a geographic CRS (or one in other units) is reprojected to an azimuthal "
        "equidistant projection centred on the points for the computation (the log says so); the output keeps the "
        "input's CRS. Multipoints are exploded. The optional report shows Moran's I z-score over the bands with the "
        "band used, global Moran's I and the points per class. Sources: Ord &amp; Getis (1995) Geogr. Anal. 27(4); "
        "Benjamini &amp; Hochberg (1995) J. R. Stat. Soc. B 57; Cliff &amp; Ord (1981) Spatial Processes; seed 002 "
        "(ICOPS, OHSA).</p>")

    INPUT = "INPUT"
    FIELD = "FIELD"
    DISTANCE_BAND = "DISTANCE_BAND"
    FDR = "FDR"
    KEEP_SIGNIFICANT_ONLY = "KEEP_SIGNIFICANT_ONLY"
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"

    output_stylers = {"OUTPUT": styles.style_hot_spots}

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(self.INPUT, "Points", [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(self.FIELD, "Field (e.g. velocity, mm/yr)",
                                                      parentLayerParameterName=self.INPUT,
                                                      type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterNumber(self.DISTANCE_BAND, "Distance band (m, 0 = automatic)",
                                                       QgsProcessingParameterNumber.Double, 0.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterBoolean(
            self.FDR, "False discovery rate correction (Benjamini–Hochberg)", defaultValue=True))
        self.addParameter(QgsProcessingParameterBoolean(self.KEEP_SIGNIFICANT_ONLY,
                                                        "Keep only hot and cold spots at 99 % (p < 0.01, seed 002)",
                                                        defaultValue=False))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Hot spots", QgsProcessing.TypeVectorPoint))
        self.addParameter(QgsProcessingParameterFileDestination(self.REPORT, "Report", "HTML files (*.html)",
                                                                optional=True, createByDefault=False))
        for key, text in (("DISTANCE_BAND", "Distance band used (m)"), ("MORAN_I", "Global Moran's I"),
                          ("MORAN_Z", "Moran's I z-score"), ("MORAN_P", "Moran's I p-value"),
                          ("NO_NEIGHBOUR", "Points without a neighbour"), ("SKIPPED", "Points without a value")):
            self.addOutput(QgsProcessingOutputNumber(key, text))
        for key in COUNTS.values():
            self.addOutput(QgsProcessingOutputNumber(key, f"Points of class {key.lower().replace('_', ' ')}"))

    def process(self, parameters, context, feedback):
        field = self.parameterAsString(parameters, self.FIELD, context)
        band = self.parameterAsDouble(parameters, self.DISTANCE_BAND, context)
        fdr = self.parameterAsBoolean(parameters, self.FDR, context)
        keep_only = self.parameterAsBoolean(parameters, self.KEEP_SIGNIFICANT_ONLY, context)
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException("Points: no layer was given")
        index = source.fields().lookupField(field)
        if index < 0:
            raise QgsProcessingException(f"Points: there is no field {field!r}")
        if not source.fields().at(index).isNumeric():
            raise QgsProcessingException(f"Points: field {field!r} is not numeric")
        crs = source.sourceCrs()
        if not crs.isValid():
            raise QgsProcessingException("Points: the layer has no coordinate reference system; assign one first")
        points = read_point_layer(self, parameters, self.INPUT, context, crs, feedback)
        with processing_errors(prefix="Points"):
            values = points.numeric(field)
        known = np.isfinite(values)
        skipped = int((~known).sum())
        if skipped:
            feedback.pushWarning(f"{skipped} point(s) without a value in {field!r} (NULL) were left out; their GI "
                                 "fields are NULL")
        metric = metric_crs(crs, points, feedback)
        x, y = transform_points(points.x[known], points.y[known], crs.toWkt(), metric.toWkt())
        with processing_errors(prefix="Hot spots"):
            result = hot_spots(x, y, values[known], band, fdr, progress_adapter(feedback), feedback.isCanceled)
        self._log(feedback, result, band, fdr)
        gi_z, gi_p, gi_class = np.full(len(points), np.nan), np.full(len(points), np.nan), np.full(len(points), np.nan)
        gi_z[known], gi_p[known], gi_class[known] = result.z, result.p, result.classes
        keep = np.abs(np.nan_to_num(gi_class)) == 3 if keep_only else np.ones(len(points), dtype=bool)
        if keep_only:
            feedback.pushInfo(f"Kept {int(keep.sum())} of {len(points)} points (hot and cold spots at 99 %)")
        columns = all_input_columns(source, points, GI_FIELDS, feedback, keep)
        columns += [("GI_Z", "double", gi_z[keep]), ("GI_P", "double", gi_p[keep]), ("GI_CLASS", "int", gi_class[keep])]
        dest = point_sink(self, parameters, self.OUTPUT, context, crs, points.x[keep], points.y[keep], columns,
                          feedback)
        moran, chosen = result.moran, result.chosen
        results = {self.OUTPUT: dest, "DISTANCE_BAND": result.band, "MORAN_I": float(moran.i[chosen]),
                   "MORAN_Z": float(moran.z[chosen]), "MORAN_P": float(moran.p[chosen]),
                   "NO_NEIGHBOUR": result.isolated, "SKIPPED": skipped}
        results.update({COUNTS[c]: n for c, n in result.counts().items()})
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            results[self.REPORT] = write_hotspot_report(report, result, field, fdr, x, y,
                                                        int(keep.sum()) if keep_only else None)
        return results

    @staticmethod
    def _log(feedback, result, band, fdr):
        moran, chosen = result.moran, result.chosen
        if band > 0:
            feedback.pushInfo(f"Distance band {result.band:.2f} m (given)")
        else:
            feedback.pushInfo(f"Distance band {result.band:.2f} m: {result.how} over {moran.bands.size} bands from "
                              f"{result.start:.2f} m (the farthest nearest neighbour; {result.outliers} locational "
                              f"outlier(s) left out) to {moran.bands[-1]:.2f} m")
        feedback.pushInfo(f"Global Moran's I {moran.i[chosen]:.4f} (expected {moran.expected:.4g}), "
                          f"z {moran.z[chosen]:.3f}, p {moran.p[chosen]:.3g}")
        if result.isolated:
            feedback.pushWarning(f"{result.isolated} point(s) have no neighbour within {result.band:.2f} m but "
                                 "themselves: no z (GI_Z and GI_P NULL, GI_CLASS 0)")
        names = {c: styles.HOT_SPOT_CLASSES[c][0] for c in range(-3, 4)}
        feedback.pushInfo("Points per class" + (" (Benjamini–Hochberg FDR)" if fdr else "") + ": " + ", ".join(
            f"{c:+d} {names[c]}: {n}" for c, n in result.counts().items()))
