"""subsidence:comparesurfacemethods - CNN, kriging and IDW on the same held-out points under three protocols."""
from __future__ import annotations

from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterLayer)

from ...core.ml.devices import DEVICE_CHOICES
from ...core.surface.comparison import STATS
from ...core.surface.reports import write_comparison_report
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import factor_stack, points_with_values
from ..interpolation import add_units_parameter
from ..outputs import table_sink

METHODS = ["Patch CNN", "Kriging", "IDW"]


class CompareSurfaceMethods(SubsidenceAlgorithm):
    NAME = "comparesurfacemethods"
    DISPLAY_NAME = "Compare surface methods"
    GROUP = "Surface"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Runs the patch CNN (seed 000), ordinary kriging and IDW on the <b>same held-out points</b> under "
        "three protocols and reports them side by side (RMSE, MSE, MAE, mean error, error standard deviation, "
        "R², in the field's units):</p><ul>"
        "<li><b>paper</b>: seed 000's random 80/10/10 split (test part);</li>"
        "<li><b>spatial</b>: spatially blocked k-fold cross-validation; blocks are larger than the CNN patch "
        "and the variogram range (automatic block size), so neighbouring points cannot leak;</li>"
        "<li><b>gap</b>: the sparsest blocks (fewest points) held out whole until the chosen share of points, as "
        "the gaps InSAR leaves over fields and vegetation.</li></ul>"
        "<p>Only points on valid cells of the factor stack take part, so every method sees the same points. The "
        "CNN is retrained for each fold (epochs are an advanced parameter: the paper's 150 by default). "
        "Outputs: a table layer and an HTML report.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "InSAR points", [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField("FIELD", "Field (velocity mm/yr or displacement mm)",
                                                      parentLayerParameterName="INPUT",
                                                      type=QgsProcessingParameterField.Numeric))
        add_units_parameter(self)
        self.addParameter(QgsProcessingParameterRasterLayer("STACK", "Factor stack"))
        self.addParameter(QgsProcessingParameterEnum("METHODS", "Methods", METHODS, allowMultiple=True,
                                                     defaultValue=[0, 1, 2]))
        self.addParameter(QgsProcessingParameterNumber("FOLDS", "Spatial folds", QgsProcessingParameterNumber.Integer,
                                                       5, minValue=2, maxValue=20))
        self.addParameter(QgsProcessingParameterNumber("BLOCK_SIZE", "Block size (m, 0 = automatic)",
                                                       QgsProcessingParameterNumber.Double, 0.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber("GAP_SHARE", "Share of points in held-out gaps",
                                                       QgsProcessingParameterNumber.Double, 0.1, minValue=0.01,
                                                       maxValue=0.5))
        for parameter in (
                QgsProcessingParameterNumber("EPOCHS", "CNN epochs", QgsProcessingParameterNumber.Integer, 150,
                                             minValue=1),
                QgsProcessingParameterNumber("PATCH_SIZE", "CNN patch size (cells)",
                                             QgsProcessingParameterNumber.Integer, 30, minValue=22, maxValue=256),
                QgsProcessingParameterNumber("KRIGING_NEIGHBOURS", "Kriging neighbours",
                                             QgsProcessingParameterNumber.Integer, 32, minValue=3),
                QgsProcessingParameterNumber("IDW_NEIGHBOURS", "IDW neighbours", QgsProcessingParameterNumber.Integer,
                                             12, minValue=1),
                QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0,
                                             minValue=0),
                QgsProcessingParameterEnum("DEVICE", "Device", list(DEVICE_CHOICES), defaultValue=0)):
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "Comparison table", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)",
                                                                optional=True, createByDefault=False))

    def process(self, parameters, context, feedback):
        from ...core.ml.samplers import PatchSampler
        from ...core.ml.training import TrainingSettings
        from ...core.spatial.interpolation import InterpolationSettings, make_interpolator, select_variogram
        from ...core.spatial.variogram import MODELS
        from ...core.surface.comparison import compare_methods
        from ...core.surface.patch_cnn import CnnSettings, locate_points, train_surface_cnn

        chosen = [METHODS[i] for i in self.parameterAsEnums(parameters, "METHODS", context)]
        if not chosen:
            raise QgsProcessingException("Choose at least one method")
        stack_layer = self.parameterAsRasterLayer(parameters, "STACK", context)
        field = self.parameterAsString(parameters, "FIELD", context)
        seed = self.parameterAsInt(parameters, "SEED", context)
        with processing_errors():
            stack = factor_stack(stack_layer)
            stack_values = stack.read_values()
            if stack.grid.is_geographic:
                raise ValueError("The factor stack is in a geographic CRS; kriging and blocks need metres")
            x, y, values, _ = points_with_values(self, parameters, "INPUT", field,
                                                 stack_layer.crs(), context, feedback, "InSAR points")
            settings = CnnSettings(patch_size=self.parameterAsInt(parameters, "PATCH_SIZE", context),
                                   training=TrainingSettings(
                                       epochs=self.parameterAsInt(parameters, "EPOCHS", context), seed=seed,
                                       device=DEVICE_CHOICES[self.parameterAsEnum(parameters, "DEVICE", context)]))
            sampler = PatchSampler(stack_values, settings.patch_size)
            rows, cols, usable, outside, nodata = locate_points(stack.grid, sampler, x, y)
            x, y, values, rows, cols = x[usable], y[usable], values[usable], rows[usable], cols[usable]
            feedback.pushInfo(f"{usable.sum()} points on valid cells ({outside} outside the stack, {nodata} on "
                              "nodata excluded)")
            variogram, experimental, fitted = select_variogram(x, y, values, MODELS, seed=seed)
            block = self.parameterAsDouble(parameters, "BLOCK_SIZE", context) or \
                max(settings.patch_size * stack.grid.dx * stack.grid.linear_unit_metres, variogram.range)
            feedback.pushInfo(f"Blocks of {block:.0f} m (variogram range {variogram.range:.0f} m, "
                              f"patch {settings.patch_size} cells)")
            k_krige = self.parameterAsInt(parameters, "KRIGING_NEIGHBOURS", context)
            k_idw = self.parameterAsInt(parameters, "IDW_NEIGHBOURS", context)

            kriging_settings = InterpolationSettings("kriging", k=k_krige, seed=seed, selection_k=16)
            idw_settings = InterpolationSettings("idw", k=k_idw)

            def kriging(train, val, test):
                return make_interpolator(x[train], y[train], values[train], kriging_settings).values(x[test], y[test])

            def idw(train, val, test):
                return make_interpolator(x[train], y[train], values[train], idw_settings).values(x[test], y[test])

            losses = []

            def cnn(train, val, test):
                trained = train_surface_cnn(stack_values, stack.grid, x, y, values, settings,
                                            splits={"train": train, "validation": val, "test": test},
                                            is_cancelled=feedback.isCanceled)
                losses.append((trained.history.train_loss, trained.history.validation_loss))
                fold_sampler = PatchSampler(stack_values, settings.patch_size, trained.normalisation)
                return trained.predict_values(fold_sampler, rows[test], cols[test])

            available = {"Patch CNN": cnn, "Kriging": kriging, "IDW": idw}
            results = compare_methods(values, x, y, {name: available[name] for name in chosen}, block,
                                      folds=self.parameterAsInt(parameters, "FOLDS", context),
                                      gap_share=self.parameterAsDouble(parameters, "GAP_SHARE", context), seed=seed,
                                      progress=progress_adapter(feedback), is_cancelled=feedback.isCanceled)
        columns = [("protocol", "string"), ("method", "string")] + [(s, "double") for s in STATS] + [("n", "int")]
        dest = table_sink(self, parameters, "OUTPUT", context, columns,
                          [[r["protocol"], r["method"]] + [r[s] for s in STATS] + [r["n"]] for r in results])
        for row in results:
            feedback.pushInfo(f"{row['protocol']:>8} {row['method']:<10} RMSE {row['rmse']:.4g}  R² {row['r2']:.3f} "
                              f"({row['n']} points)")
        report = self.parameterAsFileOutput(parameters, "REPORT", context)
        if report:
            write_comparison_report(report, results, field, block, x, y, values,
                                    (experimental, fitted, variogram.model), losses[0] if losses else None,
                                    (self.parameterAsString(parameters, "UNITS", context) or "").strip())
        return {"OUTPUT": dest, "REPORT": report or ""}


