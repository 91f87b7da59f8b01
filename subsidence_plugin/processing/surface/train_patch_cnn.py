"""subsidence:trainpatchcnn - train the patch CNN of seed 000 on InSAR points and a factor stack."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource, QgsProcessingParameterField,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterNumber,
                       QgsProcessingParameterRasterDestination, QgsProcessingParameterRasterLayer,
                       QgsProcessingParameterString)

from ...core.ml.devices import DEVICE_CHOICES
from ...core.ml.samplers import NORMALISATIONS
from ...core.surface.reports import write_training_report
from ...resources import plugin_version
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, report_epoch
from ..inputs import factor_stack, points_with_values
from .common import predict_to_raster


class TrainPatchCnn(SubsidenceAlgorithm):
    NAME = "trainpatchcnn"
    DISPLAY_NAME = "Train patch CNN (subsidence surface)"
    GROUP = "Surface"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Trains the convolutional network of seed 000 to predict an InSAR field (velocity in mm/yr or "
        "displacement in mm, negative = subsidence) from the driving forces around each point, then predicts "
        "a continuous surface for every valid cell of the factor stack.</p>"
        "<p><b>Inputs</b>: the factor stack (<i>Build factor stack</i>), a points layer (reprojected to the "
        "stack's CRS) and its numeric field. Patches of P x P cells (default 30) around each point are read on "
        "the fly; points outside the stack or on nodata are excluded, patches reaching beyond it are padded "
        "with the training mean; both are reported. At least 30 points are needed (otherwise use kriging or "
        "IDW).</p>"
        "<p><b>Network and training, as seed 000</b>: three blocks of 1 x 1 convolution, 3 x 3 convolution "
        "(unpadded), batch normalisation and 2 x 2 max pooling (32, 64, 128 filters); dense layers 1024, 1024, "
        "512, 512, 256 with ReLU and dropout 0.1; linear output; MSE loss; Adam, learning rate 1e-4; batch "
        "128; 150 epochs; random split 80/10/10. All are advanced parameters, with the seed, the device "
        "(CUDA, then MPS, then CPU; out-of-memory falls back to the CPU), early stopping (patience) and the "
        "factor normalisation (learned on the training split).</p>"
        "<p><b>Outputs</b>: the model file (.pt weights + .json description: factor bands, normalisation, patch "
        "and cell size, CRS, target, architecture, settings, metrics), the predicted surface (dense, exact "
        "fully-convolutional evaluation; optional Monte-Carlo-dropout spread as band 2), RMSE / MSE / MAE / R² "
        "on the training, validation and test points, and an HTML report (metrics, loss curves, predicted vs "
        "observed, residual map).</p>")

    # parameter and output keys (stable: saved models, .model3 files and scripts use them)
    INPUT = "INPUT"
    FIELD = "FIELD"
    STACK = "STACK"
    UNCERTAINTY = "UNCERTAINTY"
    UNITS = "UNITS"
    PATCH_SIZE = "PATCH_SIZE"
    EPOCHS = "EPOCHS"
    BATCH_SIZE = "BATCH_SIZE"
    LEARNING_RATE = "LEARNING_RATE"
    TRAIN_SHARE = "TRAIN_SHARE"
    VALIDATION_SHARE = "VALIDATION_SHARE"
    PATIENCE = "PATIENCE"
    NORMALISATION = "NORMALISATION"
    SEED = "SEED"
    DEVICE = "DEVICE"
    MC_SAMPLES = "MC_SAMPLES"
    OUTPUT_MODEL = "OUTPUT_MODEL"
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"
    TRAIN_RMSE = "TRAIN_RMSE"
    VALIDATION_RMSE = "VALIDATION_RMSE"
    TEST_RMSE = "TEST_RMSE"
    TEST_R2 = "TEST_R2"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(self.INPUT, "InSAR points", [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(self.FIELD, "Field to learn (velocity mm/yr or displacement mm)",
                                                      parentLayerParameterName=self.INPUT,
                                                      type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterRasterLayer(self.STACK, "Factor stack"))
        self.addParameter(QgsProcessingParameterBoolean(self.UNCERTAINTY, "Add a Monte-Carlo-dropout spread band", False))
        advanced = [
            QgsProcessingParameterString(self.UNITS, "Units of the field", "mm/yr"),
            QgsProcessingParameterNumber(self.PATCH_SIZE, "Patch size (cells)", QgsProcessingParameterNumber.Integer, 30,
                                         minValue=22, maxValue=256),
            QgsProcessingParameterNumber(self.EPOCHS, "Epochs", QgsProcessingParameterNumber.Integer, 150, minValue=1),
            QgsProcessingParameterNumber(self.BATCH_SIZE, "Batch size", QgsProcessingParameterNumber.Integer, 128,
                                         minValue=2),
            QgsProcessingParameterNumber(self.LEARNING_RATE, "Learning rate (Adam)", QgsProcessingParameterNumber.Double,
                                         1e-4, minValue=1e-8, maxValue=1.0),
            QgsProcessingParameterNumber(self.TRAIN_SHARE, "Training share", QgsProcessingParameterNumber.Double, 0.8,
                                         minValue=0.05, maxValue=1.0),
            QgsProcessingParameterNumber(self.VALIDATION_SHARE, "Validation share", QgsProcessingParameterNumber.Double,
                                         0.1, minValue=0.0, maxValue=0.9),
            QgsProcessingParameterNumber(self.PATIENCE, "Early stopping patience (epochs, 0 = off)",
                                         QgsProcessingParameterNumber.Integer, 0, minValue=0),
            QgsProcessingParameterEnum(self.NORMALISATION, "Factor normalisation", list(NORMALISATIONS), defaultValue=0),
            QgsProcessingParameterNumber(self.SEED, "Random seed", QgsProcessingParameterNumber.Integer, 0, minValue=0),
            QgsProcessingParameterEnum(self.DEVICE, "Device", list(DEVICE_CHOICES), defaultValue=0),
            QgsProcessingParameterNumber(self.MC_SAMPLES, "Monte Carlo dropout samples", QgsProcessingParameterNumber.Integer,
                                         20, minValue=2),
        ]
        for parameter in advanced:
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterFileDestination(self.OUTPUT_MODEL, "Model file", "Model files (*.pt)"))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT, "Predicted surface"))
        self.addParameter(QgsProcessingParameterFileDestination(self.REPORT, "Report", "HTML files (*.html)",
                                                                optional=True, createByDefault=False))
        for split in ("TRAIN", "VALIDATION", "TEST"):
            self.addOutput(QgsProcessingOutputNumber(f"{split}_RMSE", f"{split.title()} RMSE"))
        self.addOutput(QgsProcessingOutputNumber(self.TEST_R2, "Test R²"))

    def process(self, parameters, context, feedback):
        stack_layer = self.parameterAsRasterLayer(parameters, self.STACK, context)
        field = self.parameterAsString(parameters, self.FIELD, context)
        units = self.parameterAsString(parameters, self.UNITS, context)
        train_share = self.parameterAsDouble(parameters, self.TRAIN_SHARE, context)
        val_share = self.parameterAsDouble(parameters, self.VALIDATION_SHARE, context)
        if train_share + val_share > 1.0 + 1e-9:
            raise QgsProcessingException("The training and validation shares add up to more than 1")
        from ...core.ml.training import TrainingSettings
        from ...core.surface.patch_cnn import CnnSettings, model_description, save_patch_cnn, train_surface_cnn

        training = TrainingSettings(
            epochs=self.parameterAsInt(parameters, self.EPOCHS, context),
            batch_size=self.parameterAsInt(parameters, self.BATCH_SIZE, context),
            learning_rate=self.parameterAsDouble(parameters, self.LEARNING_RATE, context),
            patience=self.parameterAsInt(parameters, self.PATIENCE, context),
            seed=self.parameterAsInt(parameters, self.SEED, context),
            device=DEVICE_CHOICES[self.parameterAsEnum(parameters, self.DEVICE, context)])
        settings = CnnSettings(patch_size=self.parameterAsInt(parameters, self.PATCH_SIZE, context),
                               normalisation=NORMALISATIONS[self.parameterAsEnum(parameters, self.NORMALISATION, context)],
                               split=(train_share, val_share, max(0.0, 1.0 - train_share - val_share)),
                               training=training)
        model_path = self.parameterAsFileOutput(parameters, self.OUTPUT_MODEL, context)
        output = self.parameterAsOutputLayer(parameters, self.OUTPUT, context)
        with processing_errors():
            stack = factor_stack(stack_layer)
            stack_values = stack.read_values()
            x, y, values, _ = points_with_values(self, parameters, self.INPUT, field,
                                                       stack_layer.crs(), context, feedback, "InSAR points")
            def on_epoch(epoch, train_loss, val_loss):
                report_epoch(feedback, epoch, train_loss, val_loss)

            trained = train_surface_cnn(stack_values, stack.grid, x, y, values, settings,
                                        progress=lambda p, m: feedback.setProgress(0.9 * p),
                                        is_cancelled=feedback.isCanceled, on_epoch=on_epoch,
                                        report=feedback.pushInfo)
            feedback.pushInfo(f"{len(trained.used)} points used; excluded: {trained.excluded_outside} outside the "
                              f"stack, {trained.excluded_nodata} on nodata; {trained.padded} patches padded")
            for name, stats in trained.metrics.items():
                feedback.pushInfo(f"{name}: RMSE {stats['rmse']:.4g} {units}, MAE {stats['mae']:.4g}, "
                                  f"R² {stats['r2']:.3f} ({stats['n']} points)")
            mc = self.parameterAsInt(parameters, self.MC_SAMPLES, context) \
                if self.parameterAsBoolean(parameters, self.UNCERTAINTY, context) else 0
            predict_to_raster(trained.model, trained.normalisation, trained.target_mean, trained.target_std, stack,
                              stack_values,
                              output, f"{field}_cnn", mc, training.device, context, feedback, units)
            description = model_description(trained, settings, stack.band_names, stack.grid, field, units,
                                             plugin_version())
            model_path = save_patch_cnn(model_path, trained.model, description)[0]
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            write_training_report(report, trained, stack, stack_values, x, y, values, field, units)
        metrics = trained.metrics
        return {self.OUTPUT: output, self.OUTPUT_MODEL: model_path, self.REPORT: report or "",
                self.TRAIN_RMSE: metrics["train"]["rmse"],
                self.VALIDATION_RMSE: metrics.get("validation", {}).get("rmse", np.nan),
                self.TEST_RMSE: metrics.get("test", {}).get("rmse", np.nan),
                self.TEST_R2: metrics.get("test", {}).get("r2", np.nan)}
