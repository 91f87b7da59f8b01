"""subsidence:trainsusceptibility - CNN, CNN-GWO, CNN-ICA or frequency-ratio susceptibility (seed 002)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination)

from ..core.devices import DEVICE_CHOICES
from ..core.susceptibility import CLASS_NAMES
from ..resources import plugin_version
from . import styles
from .base import (SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter, report_epoch,
                   report_fitness)
from .factor_analysis import CLASS_METHODS, add_analysis_sections, add_factor_class_parameters, categorical_names
from .susceptibility_common import (INVENTORY_FIELDS, add_inventory_parameters, class_table, finish_classes,
                                    finish_index, inventory_cells, read_inventory, stack_factors, valid_cells,
                                    write_classes)

MODEL_LABELS = ("CNN", "CNN-GWO (grey wolf optimizer tuning)", "CNN-ICA (imperialist competitive algorithm tuning)",
                "Frequency ratio")
MODEL_NAMES = {"cnn": "CNN", "cnn_gwo": "CNN-GWO", "cnn_ica": "CNN-ICA", "frequency_ratio": "Frequency ratio"}
ENCODING_LABELS = ("Frequency ratio of each factor's class (seed 002)", "Values (z-scores; categorical as FR)")
CLASSIFICATION_LABELS = ("Quantiles (seed 002)", "Natural breaks (Jenks)", "Equal intervals")


class TrainSusceptibility(SubsidenceAlgorithm):
    NAME = "trainsusceptibility"
    DISPLAY_NAME = "Train susceptibility model (CNN, CNN-GWO, CNN-ICA, FR)"
    GROUP = "Susceptibility"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Land subsidence susceptibility after seed 002: trains a model on the inventory (<i>Subsidence "
        "inventory from InSAR points</i>) and the factor stack, and maps the susceptibility index (0-1) of every "
        "valid cell and its five classes (very low ... very high).</p>"
        "<p><b>Models</b>: the <b>CNN</b> reads per-pixel factor vectors (not patches; seed 002 trains on \"the "
        "training data and the result from the FR analysis\"): every factor is replaced by the frequency ratio of "
        "its class (or by its standardised value), and a 1-D CNN (two 3-wide convolutions, max pooling, dropout, "
        "a dense layer, a logistic output) is trained with binary cross-entropy. <b>CNN-GWO</b> and "
        "<b>CNN-ICA</b> tune its learning rate, epochs and batch size with the grey wolf optimizer or the "
        "imperialist competitive algorithm, maximising the AUC on a validation part of the training split. The "
        "<b>frequency-ratio</b> model sums the class FR of every factor. The FR model is always fitted too, as "
        "the baseline.</p>"
        "<p><b>Evaluation</b>: on the test part of the paper's stratified random split and, beside it, of the "
        "spatially blocked split (the model is trained again on the blocked training part, with the tuned "
        "settings): AUC, RMSE, MSE, MAE and the StD of the error (index - label), for the model and the FR "
        "baseline; ROC curves, FR charts, the correlation matrix and the class areas in the report.</p>"
        "<p><b>Outputs</b>: the index raster, the five-class map (quantiles as seed 002, or natural breaks / equal "
        "intervals), the model file (.pt + .json: factors, classes and frequency ratios, encoding, network, "
        "settings, tuned values, metrics) and the HTML report. Seeded; the device is chosen automatically "
        "(CUDA, MPS, CPU) unless set.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_inventory_parameters(self)
        self.addParameter(QgsProcessingParameterEnum("MODEL", "Model", list(MODEL_LABELS), defaultValue=1))
        self.addParameter(QgsProcessingParameterEnum("CLASSIFICATION", "Five classes by",
                                                     list(CLASSIFICATION_LABELS), defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean("BLOCKED", "Also evaluate on the spatially blocked split",
                                                        True))
        add_factor_class_parameters(self)
        for parameter in (
                QgsProcessingParameterField("SPLIT_FIELD", "Random split field (train / test)",
                                            INVENTORY_FIELDS["random"], "INVENTORY", optional=True),
                QgsProcessingParameterField("BLOCK_FIELD", "Blocked split field (train / test)",
                                            INVENTORY_FIELDS["block"], "INVENTORY", optional=True),
                QgsProcessingParameterEnum("ENCODING", "CNN input", list(ENCODING_LABELS), defaultValue=0),
                QgsProcessingParameterNumber("EPOCHS", "Epochs (CNN; the upper bound when tuning)",
                                             QgsProcessingParameterNumber.Integer, 100, minValue=1),
                QgsProcessingParameterNumber("BATCH_SIZE", "Batch size", QgsProcessingParameterNumber.Integer, 64,
                                             minValue=2),
                QgsProcessingParameterNumber("LEARNING_RATE", "Learning rate (Adam)",
                                             QgsProcessingParameterNumber.Double, 1e-3, minValue=1e-7, maxValue=1.0),
                QgsProcessingParameterNumber("POPULATION", "Tuner population", QgsProcessingParameterNumber.Integer,
                                             6, minValue=4),
                QgsProcessingParameterNumber("ITERATIONS", "Tuner iterations", QgsProcessingParameterNumber.Integer,
                                             5, minValue=1),
                QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0,
                                             minValue=0),
                QgsProcessingParameterEnum("DEVICE", "Device", list(DEVICE_CHOICES), defaultValue=0)):
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Susceptibility index"))
        self.addParameter(QgsProcessingParameterRasterDestination("CLASSES_OUTPUT", "Susceptibility classes"))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_MODEL", "Model file", "Model files (*.pt)"))
        self.addParameter(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)"))
        for key, text in (("AUC", "Test AUC (random split)"), ("RMSE", "Test RMSE (random split)"),
                          ("FR_AUC", "Frequency-ratio baseline test AUC"), ("BLOCKED_AUC", "Test AUC (blocked split)")):
            self.addOutput(QgsProcessingOutputNumber(key, text))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..core.susceptibility import (analyse_factors, class_breaks, classification_statistics,
                                           frequency_ratio_index, roc_curve, sample_values, split_ratios)
        from ..core.susceptibility_cnn import (MODELS, SusceptibilitySettings, model_description, predict_index,
                                               train_susceptibility)
        from ..core.surface_cnn import save_model
        from ..core.training import TrainingSettings

        model_key = MODELS[self.parameterAsEnum(parameters, "MODEL", context)]
        settings = SusceptibilitySettings(
            model=model_key, encoding=("fr", "zscore")[self.parameterAsEnum(parameters, "ENCODING", context)],
            population=self.parameterAsInt(parameters, "POPULATION", context),
            iterations=self.parameterAsInt(parameters, "ITERATIONS", context),
            training=TrainingSettings(epochs=self.parameterAsInt(parameters, "EPOCHS", context),
                                      batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
                                      learning_rate=self.parameterAsDouble(parameters, "LEARNING_RATE", context),
                                      seed=self.parameterAsInt(parameters, "SEED", context), loss="bce",
                                      device=DEVICE_CHOICES[self.parameterAsEnum(parameters, "DEVICE", context)]))
        settings.epoch_range = (min(10, settings.training.epochs), settings.training.epochs)
        blocked = self.parameterAsBoolean(parameters, "BLOCKED", context)
        stack_layer = self.parameterAsRasterLayer(parameters, "STACK", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        classes_output = self.parameterAsOutputLayer(parameters, "CLASSES_OUTPUT", context)
        model_path = self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)
        report_path = self.parameterAsFileOutput(parameters, "REPORT", context)
        progress = progress_adapter(feedback)

        def part(start, end):
            return lambda p, m: progress(start + (end - start) * p / 100.0, m)

        with processing_errors():
            stack = stack_factors(stack_layer, categorical_names(self, parameters, context))
            split_fields = [self.parameterAsString(parameters, "SPLIT_FIELD", context) or INVENTORY_FIELDS["random"]]
            if blocked:
                split_fields.append(self.parameterAsString(parameters, "BLOCK_FIELD", context) or INVENTORY_FIELDS["block"])
            label_field = self.parameterAsString(parameters, "LABEL_FIELD", context) or INVENTORY_FIELDS["label"]
            x, y, label, tests = read_inventory(self.parameterAsSource(parameters, "INVENTORY", context),
                                                stack_layer.crs(), context, feedback, label_field, split_fields)
            rows, cols, ok = inventory_cells(stack.grid, valid_cells(stack.path), x, y, feedback)
            label, tests = label[ok], [t[ok] for t in tests]
            values = sample_values(stack.path, stack.columns, rows[ok], cols[ok])
            analysis = analyse_factors(stack.path, stack.columns, values, label,
                                       CLASS_METHODS[self.parameterAsEnum(parameters, "CLASS_METHOD", context)],
                                       self.parameterAsInt(parameters, "CLASSES", context), part(0, 10),
                                       feedback.isCanceled)
            for warning in analysis.warnings:
                feedback.pushWarning(warning)
            evaluations = {}
            trained = None
            for s, (split_name, test) in enumerate(zip(("random", "blocked"), tests)):
                train_idx = np.flatnonzero(~test)
                if len(np.unique(label[test])) < 2 or len(np.unique(label[train_idx])) < 2:
                    raise ValueError(f"The {split_name} split needs both classes in its training and test parts")
                ratios = split_ratios(analysis, values, label, ~test)
                feedback.pushInfo(f"{split_name} split: {len(train_idx)} training and {int(test.sum())} test cells")
                model = train_susceptibility(
                    values, label, train_idx, analysis.definitions, ratios, settings,
                    part(10, 70) if s == 0 else part(70, 85), feedback.isCanceled,
                    on_epoch=lambda e, t, v: report_epoch(feedback, e, t, v),
                    on_fitness=lambda n, f, b: report_fitness(feedback, n, f, b, "validation AUC"),
                    report=feedback.pushInfo, tuned=trained.tuned if trained is not None else None)
                if s == 0:
                    trained = model
                scores = {MODEL_NAMES[model_key]: model.predict(values[:, test])}
                if model_key != "frequency_ratio":
                    scores["Frequency ratio"] = frequency_ratio_index(analysis.definitions, ratios, values[:, test])
                for name, score in scores.items():
                    stats = classification_statistics(label[test], score)
                    fpr, tpr, _ = roc_curve(label[test], score)
                    evaluations[(split_name, name)] = (stats, fpr, tpr)
                    feedback.pushInfo(f"{split_name} split, {name}: AUC {stats['auc']:.3f}, RMSE {stats['rmse']:.3f}")
            feedback.setProgressText("Mapping the susceptibility index")
            sample = predict_index(trained, stack.path, stack.columns, stack.grid, output, part(85, 95),
                                   feedback.isCanceled)
            method = ("quantile", "natural_breaks", "equal_interval")[
                self.parameterAsEnum(parameters, "CLASSIFICATION", context)]
            breaks = class_breaks(sample, method)
            counts = write_classes(output, breaks, classes_output, stack.grid, part(95, 99), feedback.isCanceled)
            metrics = {f"{split}/{name}": stats for (split, name), (stats, _, _) in evaluations.items()}
            description = model_description(trained, stack.band_names, stack.grid, metrics,
                                             {"label_field": label_field}, plugin_version())
            save_model(model_path, trained.model if trained.model is not None else _empty_module(), description)
        table = class_table(counts, breaks, float(sample.min()), float(sample.max()), CLASS_NAMES)
        for row in table:
            feedback.pushInfo(f"class {row[0]} ({row[1]}): {row[5]:.1f} % of the area")
        write_report(report_path, MODEL_NAMES[model_key], analysis, evaluations, trained, table, method, label)
        finish_index(context, output, f"Susceptibility index ({MODEL_NAMES[model_key]})", "OUTPUT", 0.0, 1.0)
        finish_classes(context, classes_output, f"Susceptibility classes ({MODEL_NAMES[model_key]})",
                       "CLASSES_OUTPUT", styles.SUSCEPTIBILITY)
        main = evaluations[("random", MODEL_NAMES[model_key])][0]
        fr = evaluations.get(("random", "Frequency ratio"), evaluations[("random", MODEL_NAMES[model_key])])[0]
        block = evaluations.get(("blocked", MODEL_NAMES[model_key]), (None,))[0]
        return {"OUTPUT": output, "CLASSES_OUTPUT": classes_output, "OUTPUT_MODEL": model_path,
                "REPORT": report_path, "AUC": main["auc"], "RMSE": main["rmse"], "FR_AUC": fr["auc"],
                "BLOCKED_AUC": block["auc"] if block else np.nan}


def _empty_module():
    from torch import nn
    return nn.Module()


def write_report(path, model_name, analysis, evaluations, trained, table, method, label) -> None:
    from ..core.plots import class_area_figure, fitness_figure, loss_figure, roc_figure
    from ..core.report import HtmlReport

    report = HtmlReport(f"Susceptibility: {model_name}", "Land subsidence plugin - seed 002")
    report.paragraph(f"{len(label)} inventory cells ({int(label.sum())} subsiding). Test parts: the paper's "
                     "stratified random 70 / 30 split, and the spatially blocked split.")
    report.heading("Accuracy on the test parts")
    report.table([(split, name, s["auc"], s["rmse"], s["mse"], s["mae"], s["std"], s["n"])
                  for (split, name), (s, _, _) in evaluations.items()],
                 header=("split", "model", "AUC", "RMSE", "MSE", "MAE", "StD of error", "test cells"))
    for split in ("random", "blocked"):
        curves = {name: (fpr, tpr, s["auc"]) for (sp, name), (s, fpr, tpr) in evaluations.items() if sp == split}
        if curves:
            report.figure(roc_figure(curves, f"ROC, {split} split"), f"ROC curves, test part of the {split} split",
                          width=420)
    if trained.tuned:
        report.heading("Training")
        report.table([(k, v) for k, v in trained.tuned.items()], header=("setting", "value"))
    if trained.tuning is not None:
        report.figure(fitness_figure([1.0 - c for c in trained.tuning.history],
                                     f"{model_name}: best validation AUC", "AUC"), width=420)
    if trained.history is not None:
        report.figure(loss_figure(trained.history.train_loss, trained.history.validation_loss, "Loss (BCE)"),
                      width=420)
    report.heading("Susceptibility classes")
    report.table([(r[1], r[2], r[3], r[4], r[5]) for r in table],
                 header=("class", "from", "to", "cells", "area %"), caption=f"classes by {method}")
    report.figure(class_area_figure({model_name: [r[5] for r in table]}, [r[1] for r in table],
                                    [styles.SUSCEPTIBILITY[k][1] for k in range(1, 6)]), width=460)
    add_analysis_sections(report, analysis)
    report.write(path)
