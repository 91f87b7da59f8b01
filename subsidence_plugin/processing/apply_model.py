"""subsidence:applymodel - apply a saved patch-CNN model to a factor stack."""
from __future__ import annotations

from qgis.core import (QgsProcessingParameterBoolean, QgsProcessingParameterEnum,
                       QgsProcessingParameterFile, QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer)

from ..core.devices import DEVICE_CHOICES
from .base import SubsidenceAlgorithm, add_advanced, gdal_raster_path, processing_errors
from .surface_common import load_stack, predict_to_raster


class ApplyModel(SubsidenceAlgorithm):
    NAME = "applymodel"
    DISPLAY_NAME = "Apply patch CNN model"
    GROUP = "Surface"
    REQUIRES = ("torch",)
    HELP = (
        "<p>Applies a model written by <i>Train patch CNN</i> to a factor stack (the same area later, or "
        "another area) and writes the predicted surface for every valid cell, in the model's target units "
        "(negative = subsidence), with an optional Monte-Carlo-dropout spread band.</p>"
        "<p>The stack must have the model's factor bands in the same order, the same cell size and the same "
        "CRS; otherwise the algorithm stops and says what differs. The factors are normalised with the "
        "statistics stored in the model.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("MODEL", "Model file (.pt)", extension="pt"))
        self.addParameter(QgsProcessingParameterRasterLayer("STACK", "Factor stack"))
        self.addParameter(QgsProcessingParameterBoolean("UNCERTAINTY", "Add a Monte-Carlo-dropout spread band", False))
        add_advanced(self, QgsProcessingParameterNumber("MC_SAMPLES", "Monte Carlo dropout samples",
                                                        QgsProcessingParameterNumber.Integer, 20, minValue=2))
        add_advanced(self, QgsProcessingParameterEnum("DEVICE", "Device", list(DEVICE_CHOICES), defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Predicted surface"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from ..core.patches import Normalisation
        from ..core.surface_cnn import compatibility_problems, load_model

        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with processing_errors():
            model, description = load_model(self.parameterAsFile(parameters, "MODEL", context))
            stack = load_stack(gdal_raster_path(self.parameterAsRasterLayer(parameters, "STACK", context),
                                                "Factor stack"))
            problems = compatibility_problems(description, stack.band_names, stack.grid)
            if problems:
                raise ValueError("The stack does not match the model: " + "; ".join(problems))
            target = description["target"]
            feedback.pushInfo(f"Model for {target['field']} ({target['units']}), trained with plugin "
                              f"{description['plugin_version']}; test RMSE "
                              f"{description['metrics'].get('test', {}).get('rmse', float('nan')):.4g}")
            mc = self.parameterAsInt(parameters, "MC_SAMPLES", context) \
                if self.parameterAsBoolean(parameters, "UNCERTAINTY", context) else 0
            predict_to_raster(model, Normalisation(**description["normalisation"]), target["mean"], target["std"],
                              stack, output, f"{target['field']}_cnn", mc,
                              DEVICE_CHOICES[self.parameterAsEnum(parameters, "DEVICE", context)], context,
                              feedback, target["units"])
        return {"OUTPUT": output}
