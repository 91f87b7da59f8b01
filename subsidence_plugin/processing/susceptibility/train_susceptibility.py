"""subsidence:trainsusceptibility - CNN, CNN-GWO, CNN-ICA or frequency-ratio susceptibility (seed 002)."""
from __future__ import annotations

import os

import numpy as np
from qgis.core import (QgsProcessingOutputNumber, QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination)

from ...core.ml.devices import DEVICE_CHOICES
from ...core.stats.classes import CLASSIFICATION_LABELS
from ...core.susceptibility.cnn import ENCODING_LABELS, MODEL_LABELS, MODEL_NAMES
from ...core.susceptibility.factors import CLASS_NAMES
from ...core.susceptibility.reports import write_susceptibility_report
from ...resources import plugin_version
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter, report_epoch, report_fitness
from ..inputs import factor_stack
from .common import (CLASS_METHODS, INVENTORY_FIELDS, add_factor_class_parameters, add_inventory_parameters,
                     categorical_names, class_table, finish_classes, finish_index, inventory_cells, read_inventory,
                     write_classes)


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

    # parameter and output keys (stable: saved models, .model3 files and scripts use them)
    INVENTORY = "INVENTORY"
    LABEL_FIELD = "LABEL_FIELD"
    STACK = "STACK"
    MODEL = "MODEL"
    CLASSIFICATION = "CLASSIFICATION"
    BLOCKED = "BLOCKED"
    CATEGORICAL = "CATEGORICAL"
    CLASS_METHOD = "CLASS_METHOD"
    CLASSES = "CLASSES"
    SPLIT_FIELD = "SPLIT_FIELD"
    BLOCK_FIELD = "BLOCK_FIELD"
    ENCODING = "ENCODING"
    EPOCHS = "EPOCHS"
    BATCH_SIZE = "BATCH_SIZE"
    LEARNING_RATE = "LEARNING_RATE"
    POPULATION = "POPULATION"
    ITERATIONS = "ITERATIONS"
    SEED = "SEED"
    DEVICE = "DEVICE"
    OUTPUT = "OUTPUT"
    CLASSES_OUTPUT = "CLASSES_OUTPUT"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    REPORT = "REPORT"
    AUC = "AUC"
    RMSE = "RMSE"
    FR_AUC = "FR_AUC"
    BLOCKED_AUC = "BLOCKED_AUC"

    def initAlgorithm(self, config=None):  # noqa: N802
        add_inventory_parameters(self)
        self.addParameter(QgsProcessingParameterEnum(self.MODEL, "Model", list(MODEL_LABELS), defaultValue=1))
        self.addParameter(QgsProcessingParameterEnum(self.CLASSIFICATION, "Five classes by",
                                                     list(CLASSIFICATION_LABELS), defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean(self.BLOCKED, "Also evaluate on the spatially blocked split",
                                                        True))
        add_factor_class_parameters(self)
        for parameter in (
                QgsProcessingParameterField(self.SPLIT_FIELD, "Random split field (train / test)",
                                            INVENTORY_FIELDS["random"], self.INVENTORY, optional=True),
                QgsProcessingParameterField(self.BLOCK_FIELD, "Blocked split field (train / test)",
                                            INVENTORY_FIELDS["block"], self.INVENTORY, optional=True),
                QgsProcessingParameterEnum(self.ENCODING, "CNN input", list(ENCODING_LABELS), defaultValue=0),
                QgsProcessingParameterNumber(self.EPOCHS, "Epochs (CNN; the upper bound when tuning)",
                                             QgsProcessingParameterNumber.Integer, 100, minValue=1),
                QgsProcessingParameterNumber(self.BATCH_SIZE, "Batch size", QgsProcessingParameterNumber.Integer, 64,
                                             minValue=2),
                QgsProcessingParameterNumber(self.LEARNING_RATE, "Learning rate (Adam)",
                                             QgsProcessingParameterNumber.Double, 1e-3, minValue=1e-7, maxValue=1.0),
                QgsProcessingParameterNumber(self.POPULATION, "Tuner population", QgsProcessingParameterNumber.Integer,
                                             6, minValue=4),
                QgsProcessingParameterNumber(self.ITERATIONS, "Tuner iterations", QgsProcessingParameterNumber.Integer,
                                             5, minValue=1),
                QgsProcessingParameterNumber(self.SEED, "Random seed", QgsProcessingParameterNumber.Integer, 0,
                                             minValue=0),
                QgsProcessingParameterEnum(self.DEVICE, "Device", list(DEVICE_CHOICES), defaultValue=0)):
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Susceptibility index"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.CLASSES_OUTPUT, "Susceptibility classes"))
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Model file", "Model files (*.pt)"))
        self.addParameter(QgsProcessingParameterFileDestination(self.REPORT, "Report", "HTML files (*.html)"))
        for key, text in ((self.AUC, "Test AUC (random split)"), (self.RMSE, "Test RMSE (random split)"),
                          (self.FR_AUC, "Frequency-ratio baseline test AUC"), (self.BLOCKED_AUC, "Test AUC (blocked split)")):
            self.addOutput(QgsProcessingOutputNumber(key, text))

    def process(self, parameters, context, feedback):
        from ...core.ml.training import TrainingSettings
        from ...core.stats.classes import CLASSIFICATIONS, class_breaks
        from ...core.stats.roc import classification_statistics, roc_curve
        from ...core.susceptibility.cnn import (MODELS, SusceptibilitySettings, model_description, predict_index,
                                                save_susceptibility_model, train_susceptibility)
        from ...core.susceptibility.factors import analyse_factors, frequency_ratio_index, sample_values, split_ratios

        model_key = MODELS[self.parameterAsEnum(parameters, self.MODEL, context)]
        settings = SusceptibilitySettings(
            model=model_key, encoding=("fr", "zscore")[self.parameterAsEnum(parameters, self.ENCODING, context)],
            population=self.parameterAsInt(parameters, self.POPULATION, context),
            iterations=self.parameterAsInt(parameters, self.ITERATIONS, context),
            training=TrainingSettings(epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
                                      batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
                                      learning_rate=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
                                      seed=self.parameterAsInt(parameters, self.SEED, context), loss="bce",
                                      device=DEVICE_CHOICES[self.parameterAsEnum(parameters, self.DEVICE, context)]))
        settings.epoch_range = (min(10, settings.training.epochs), settings.training.epochs)
        blocked = self.parameterAsBoolean(parameters, self.BLOCKED, context)
        stack_layer = self.parameterAsRasterLayer(parameters, self.STACK, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        classes_output = self.parameterAsOutputLayer(parameters, self.CLASSES_OUTPUT, context)
        model_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        report_path = self.parameterAsFileOutput(parameters, self.REPORT, context)
        progress = progress_adapter(feedback)

        def part(start, end):
            return lambda p, m: progress(start + (end - start) * p / 100.0, m)

        with processing_errors():
            stack = factor_stack(stack_layer, projected=True)
            columns = stack.columns(categorical_names(self, parameters, context))
            split_fields = [self.parameterAsString(parameters, self.SPLIT_FIELD, context) or INVENTORY_FIELDS["random"]]
            if blocked:
                split_fields.append(self.parameterAsString(parameters, self.BLOCK_FIELD, context) or INVENTORY_FIELDS["block"])
            label_field = self.parameterAsString(parameters, self.LABEL_FIELD, context) or INVENTORY_FIELDS["label"]
            x, y, label, tests = read_inventory(self, parameters,
                                                stack_layer.crs(), context, feedback, label_field, split_fields)
            rows, cols, ok = inventory_cells(stack.grid, stack.valid_cells(), x, y, feedback)
            label, tests = label[ok], [t[ok] for t in tests]
            values = sample_values(stack.path, columns, rows[ok], cols[ok])
            analysis = analyse_factors(stack.path, columns, values, label,
                                       CLASS_METHODS[self.parameterAsEnum(parameters, self.CLASS_METHOD, context)],
                                       self.parameterAsInt(parameters, self.CLASSES, context), part(0, 10),
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
            score_path = os.path.splitext(output)[0] + ".ranking_score.tif"  # classes rank on it; removed below
            try:
                scores = predict_index(trained, stack.path, columns, stack.grid, output, part(85, 95),
                                       feedback.isCanceled, score_path=score_path)
                method = CLASSIFICATIONS[self.parameterAsEnum(parameters, self.CLASSIFICATION, context)]
                breaks = class_breaks(scores, method)
                counts = write_classes(score_path, breaks, classes_output, stack.grid, part(95, 99),
                                       feedback.isCanceled)
            finally:
                for leftover in (score_path, score_path + ".aux.xml"):
                    if os.path.exists(leftover):
                        os.remove(leftover)
            sample = trained.index_of_score(scores)
            breaks = trained.index_of_score(breaks)
            metrics = {f"{split}/{name}": stats for (split, name), (stats, _, _) in evaluations.items()}
            description = model_description(trained, stack.band_names, stack.grid, metrics,
                                             {"label_field": label_field}, plugin_version())
            model_path = save_susceptibility_model(model_path, trained, description)[0]
        table = class_table(counts, breaks, float(sample.min()), float(sample.max()), CLASS_NAMES)
        for row in table:
            feedback.pushInfo(f"class {row[0]} ({row[1]}): {row[5]:.1f} % of the area")
        write_susceptibility_report(report_path, MODEL_NAMES[model_key], analysis, evaluations, trained, table, method,
                                    label, [styles.SUSCEPTIBILITY[k][1] for k in range(1, 6)])
        finish_index(context, output, f"Susceptibility index ({MODEL_NAMES[model_key]})", self.OUTPUT, 0.0, 1.0)
        finish_classes(context, classes_output, f"Susceptibility classes ({MODEL_NAMES[model_key]})",
                       self.CLASSES_OUTPUT, styles.SUSCEPTIBILITY)
        main = evaluations[("random", MODEL_NAMES[model_key])][0]
        fr = evaluations.get(("random", "Frequency ratio"), evaluations[("random", MODEL_NAMES[model_key])])[0]
        block = evaluations.get(("blocked", MODEL_NAMES[model_key]), (None,))[0]
        return {self.OUTPUT: output, self.CLASSES_OUTPUT: classes_output, self.OUTPUT_MODEL: model_path,
                self.REPORT: report_path, self.AUC: main["auc"], self.RMSE: main["rmse"], self.FR_AUC: fr["auc"],
                self.BLOCKED_AUC: block["auc"] if block else np.nan}



