"""subsidence:optimizeweights - PSO of the GARDLIF weights against InSAR rates (seed 003)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination, QgsProcessingParameterNumber)

from ...core.susceptibility import gardlif
from ...core.susceptibility.reports import write_weights_report
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import points_with_values
from ..outputs import table_sink
from .gardlif_common import (GARDLIF_HELP, add_gardlif_parameters, add_map_outputs, class_rows, finish_maps,
                             layer_paths, ratings_at, table_of, weights_of, write_index)


class OptimizeWeights(SubsidenceAlgorithm):
    NAME = "optimizeweights"
    DISPLAY_NAME = "Optimize GARDLIF weights (PSO)"
    GROUP = "Susceptibility"
    HELP = (
        "<p>Particle swarm optimisation of the seven GARDLIF weights (seed 003, eq. 2: v ← w·v + c₁·r₁·(pbest − "
        "x) + c₂·r₂·(gbest − x)) maximising the Pearson correlation (eq. 3) between the index and the InSAR "
        "subsidence rate at the points. The rate is minus the velocity field (mm/yr, negative = subsidence), so "
        "faster sinking counts as more subsidence. Weights are searched in [min, max] (default 0-5, seed 003: "
        "1-5 with 0.2 found for faults); the default weights are one of the starting particles, so the result "
        "never correlates worse.</p>" + GARDLIF_HELP +
        "<p>Reported: the optimised weights beside the given ones, r and R² before and after, and the "
        "correlation index CI (seed 003): index and rate at the points are each cut into four classes by their "
        "quartiles and every point scores 4, 3, 2 or 1 when the classes agree or differ by 1, 2 or 3 (maximum "
        "4 × points). Outputs: the index and classes with the optimised weights, a weights table and an HTML "
        "report with the PSO convergence.</p>")

    # parameter and output keys (stable: saved models, .model3 files and scripts use them)
    POINTS = "POINTS"
    FIELD = "FIELD"
    GROUNDWATER_DECLINE = "GROUNDWATER_DECLINE"
    AQUIFER_MEDIA = "AQUIFER_MEDIA"
    RECHARGE = "RECHARGE"
    DISCHARGE = "DISCHARGE"
    LAND_USE = "LAND_USE"
    AQUIFER_THICKNESS = "AQUIFER_THICKNESS"
    FAULT_DISTANCE = "FAULT_DISTANCE"
    TABLE = "TABLE"
    WEIGHTS = "WEIGHTS"
    PARTICLES = "PARTICLES"
    ITERATIONS = "ITERATIONS"
    MIN_WEIGHT = "MIN_WEIGHT"
    MAX_WEIGHT = "MAX_WEIGHT"
    INERTIA = "INERTIA"
    C1 = "C1"
    C2 = "C2"
    SEED = "SEED"
    OUTPUT = "OUTPUT"
    CLASSES_OUTPUT = "CLASSES_OUTPUT"
    WEIGHTS_TABLE = "WEIGHTS_TABLE"
    REPORT = "REPORT"
    R_BEFORE = "R_BEFORE"
    R_AFTER = "R_AFTER"
    CI_BEFORE = "CI_BEFORE"
    CI_AFTER = "CI_AFTER"
    OPTIMISED_WEIGHTS = "OPTIMISED_WEIGHTS"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(self.POINTS, "InSAR points",
                                                              [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(self.FIELD, "Velocity field (mm/yr, negative = subsidence)",
                                                      parentLayerParameterName=self.POINTS,
                                                      type=QgsProcessingParameterField.Numeric))
        add_gardlif_parameters(self, "Starting weights")
        for parameter in (
                QgsProcessingParameterNumber(self.PARTICLES, "Particles", QgsProcessingParameterNumber.Integer, 30,
                                             minValue=4),
                QgsProcessingParameterNumber(self.ITERATIONS, "Iterations", QgsProcessingParameterNumber.Integer, 100,
                                             minValue=1),
                QgsProcessingParameterNumber(self.MIN_WEIGHT, "Smallest weight", QgsProcessingParameterNumber.Double,
                                             0.0, minValue=0.0),
                QgsProcessingParameterNumber(self.MAX_WEIGHT, "Largest weight", QgsProcessingParameterNumber.Double,
                                             5.0, minValue=0.1),
                QgsProcessingParameterNumber(self.INERTIA, "Inertia w", QgsProcessingParameterNumber.Double, 0.7,
                                             minValue=0.0, maxValue=1.5),
                QgsProcessingParameterNumber(self.C1, "Cognitive coefficient c1", QgsProcessingParameterNumber.Double,
                                             1.5, minValue=0.0),
                QgsProcessingParameterNumber(self.C2, "Social coefficient c2", QgsProcessingParameterNumber.Double,
                                             1.5, minValue=0.0),
                QgsProcessingParameterNumber(self.SEED, "Random seed", QgsProcessingParameterNumber.Integer, 0,
                                             minValue=0)):
            add_advanced(self, parameter)
        add_map_outputs(self)
        self.addParameter(QgsProcessingParameterFeatureSink(self.WEIGHTS_TABLE, "Weights", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination(self.REPORT, "Report", "HTML files (*.html)"))
        for key, text in ((self.R_BEFORE, "Pearson r with the starting weights"), (self.R_AFTER, "Pearson r, optimised"),
                          (self.CI_BEFORE, "CI with the starting weights"), (self.CI_AFTER, "CI, optimised")):
            self.addOutput(QgsProcessingOutputNumber(key, text))
        self.addOutput(QgsProcessingOutputString(self.OPTIMISED_WEIGHTS, "Optimised weights (G, A, R, D, L, I, F)"))

    def process(self, parameters, context, feedback):
        from ...core.io.rasters import read_grid

        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        classes_output = self.parameterAsOutputLayer(parameters, self.CLASSES_OUTPUT, context)
        low = self.parameterAsDouble(parameters, self.MIN_WEIGHT, context)
        high = self.parameterAsDouble(parameters, self.MAX_WEIGHT, context)
        progress = progress_adapter(feedback)
        with processing_errors():
            if high <= low:
                raise ValueError("The largest weight must exceed the smallest")
            table = table_of(self, parameters, context)
            start = weights_of(self, parameters, context)
            paths = layer_paths(self, parameters, context)
            grid = read_grid(paths[0])
            crs_layer = self.parameterAsRasterLayer(parameters, self.GROUNDWATER_DECLINE, context)
            x, y, velocity, _ = points_with_values(self, parameters, self.POINTS,
                                                   self.parameterAsString(parameters, self.FIELD, context),
                                                   crs_layer.crs(), context, feedback, "InSAR points")
            rows, cols, inside = grid.cell_of(x, y)
            feedback.pushInfo(f"{int(inside.sum())} of {len(x)} points lie on the layers")
            ratings = ratings_at(paths, table, rows[inside], cols[inside])
            result = gardlif.optimise_weights(
                ratings, -velocity[inside], np.clip(start, low, high), (low, high),
                self.parameterAsInt(parameters, self.PARTICLES, context),
                self.parameterAsInt(parameters, self.ITERATIONS, context),
                self.parameterAsInt(parameters, self.SEED, context),
                self.parameterAsDouble(parameters, self.INERTIA, context),
                self.parameterAsDouble(parameters, self.C1, context), self.parameterAsDouble(parameters, self.C2, context),
                lambda p, m: progress(0.6 * p, m), feedback.isCanceled)
            classes = write_index(paths, table, result.weights, output, classes_output,
                                 lambda p, m: progress(60 + 0.4 * p, m), feedback.isCanceled)
        rows_out = [(gardlif.LAYER_TITLES[layer], float(s), float(w))
                    for layer, s, w in zip(gardlif.LAYERS, start, result.weights)]
        for name, s, w in rows_out:
            feedback.pushInfo(f"{name}: {s:g} -> {w:.3f}")
        feedback.pushInfo(f"Pearson r {result.r_before:.3f} -> {result.r_after:.3f}; CI {result.ci_before} -> "
                          f"{result.ci_after} (maximum {4 * result.points}) over {result.points} points")
        dest = table_sink(self, parameters, self.WEIGHTS_TABLE, context,
                          (("layer", "string"), ("start_weight", "double"), ("pso_weight", "double")), rows_out)
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        write_weights_report(report, result, rows_out, class_rows(classes))
        finish_maps(context, output, classes_output, result.weights, "GARDLIF-PSO")
        return {self.OUTPUT: output, self.CLASSES_OUTPUT: classes_output, self.WEIGHTS_TABLE: dest, self.REPORT: report,
                self.R_BEFORE: result.r_before, self.R_AFTER: result.r_after, self.CI_BEFORE: result.ci_before,
                self.CI_AFTER: result.ci_after,
                self.OPTIMISED_WEIGHTS: ", ".join(f"{w:.3f}" for w in result.weights)}


