"""subsidence:applymodel - apply a saved model (patch CNN, susceptibility CNN, frequency ratio) to a factor stack."""
from __future__ import annotations

from qgis.core import (QgsProcessingParameterBoolean, QgsProcessingParameterEnum, QgsProcessingParameterFile,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)

from ...core.ml.devices import DEVICE_CHOICES
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import factor_stack
from ..outputs import finish_raster_output
from .common import predict_to_raster


class ApplyModel(SubsidenceAlgorithm):
    NAME = "applymodel"
    DISPLAY_NAME = "Apply saved model"
    GROUP = "Surface"
    REQUIRES = ("torch",)
    MODEL = "MODEL"
    STACK = "STACK"
    UNCERTAINTY = "UNCERTAINTY"
    MC_SAMPLES = "MC_SAMPLES"
    DEVICE = "DEVICE"
    DASK_SCHEDULER = "DASK_SCHEDULER"
    OUTPUT = "OUTPUT"
    HELP = (
        "<p>Applies a saved model to a factor stack (the same area later, or another area) and writes its map "
        "for every valid cell. The model file says what it holds: a <b>patch CNN</b> (<i>Train patch CNN</i>; "
        "the predicted surface in the model's target units, negative = subsidence, with an optional "
        "Monte-Carlo-dropout spread band), or a <b>susceptibility CNN</b> / <b>frequency-ratio</b> model "
        "(<i>Train susceptibility model</i>; the susceptibility index 0-1, from the class tables and frequency "
        "ratios stored in the model).</p>"
        "<p>The stack must have the model's factor bands in the same order, the same cell size and the same "
        "CRS; otherwise the algorithm stops and says what differs. The factors are normalised with the "
        "statistics stored in the model.</p>"
        "<p><b>Dask scheduler address</b> (advanced, patch-CNN models): the prediction in chunks of whole dense tiles "
        "on that cluster's workers (model file and stack on storage every worker reads; the optional packages of "
        "requirements/distributed.txt), each tile with its receptive field and its own Monte Carlo dropout seed: "
        "the same values as here, written as a cloud-optimised GeoTIFF.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("MODEL", "Model file (.pt)", extension="pt"))
        self.addParameter(QgsProcessingParameterRasterLayer("STACK", "Factor stack"))
        self.addParameter(QgsProcessingParameterBoolean("UNCERTAINTY", "Add a Monte-Carlo-dropout spread band", False))
        add_advanced(self, QgsProcessingParameterNumber("MC_SAMPLES", "Monte Carlo dropout samples",
                                                        QgsProcessingParameterNumber.Integer, 20, minValue=2))
        add_advanced(self, QgsProcessingParameterEnum("DEVICE", "Device", list(DEVICE_CHOICES), defaultValue=0))
        add_advanced(self, QgsProcessingParameterString(
            self.DASK_SCHEDULER, "Dask scheduler address (patch-CNN models; e.g. tcp://10.0.0.5:8786)", "",
            optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT,
                                                                  "Predicted surface or susceptibility index"))

    def process(self, parameters, context, feedback):
        from ...core.ml.model_files import RASTER_KINDS, compatibility_problems, read_model

        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with processing_errors():
            path = self.parameterAsFile(parameters, "MODEL", context)
            _, description = read_model(path, RASTER_KINDS)
            stack = factor_stack(self.parameterAsRasterLayer(parameters, "STACK", context))
            problems = compatibility_problems(description, stack.band_names, stack.grid)
            if problems:
                raise ValueError("The stack does not match the model: " + "; ".join(problems))
            feedback.pushInfo(f"{description['kind']} model trained with plugin "
                              f"{description.get('plugin_version', 'unknown')}")
            if description["kind"] == "patch-cnn":
                self._apply_patch_cnn(path, stack, output, parameters, context, feedback)
            else:
                self._apply_susceptibility(path, stack, output, parameters, context, feedback)
        return {"OUTPUT": output}

    def _apply_patch_cnn(self, path, stack, output, parameters, context, feedback) -> None:
        from ...core.ml.samplers import Normalisation
        from ...core.surface.patch_cnn import load_patch_cnn

        model, description = load_patch_cnn(path)
        size = model.patch_size
        if stack.grid.width < size or stack.grid.height < size:
            raise ValueError(f"The factor stack ({stack.grid.width} x {stack.grid.height} cells) is smaller than the "
                             f"model's {size} x {size}-cell patch: every prediction would be mostly padding")
        target = description["target"]
        feedback.pushInfo(f"Model for {target['field']} ({target['units']}); test RMSE "
                          f"{description.get('metrics', {}).get('test', {}).get('rmse', float('nan')):.4g}")
        mc = self.parameterAsInt(parameters, self.MC_SAMPLES, context) \
            if self.parameterAsBoolean(parameters, self.UNCERTAINTY, context) else 0
        scheduler = (self.parameterAsString(parameters, self.DASK_SCHEDULER, context) or "").strip()
        if scheduler:
            self._apply_on_cluster(scheduler, path, stack, output, mc, description, context, feedback)
            return
        predict_to_raster(model, Normalisation(**description["normalisation"]), target["mean"], target["std"],
                          stack, stack.read_values(), output, f"{target['field']}_cnn", mc,
                          DEVICE_CHOICES[self.parameterAsEnum(parameters, self.DEVICE, context)], context, feedback,
                          target["units"])

    def _apply_on_cluster(self, scheduler, path, stack, output, mc, description, context, feedback) -> None:
        """The prediction in chunks of dense tiles on the Dask cluster at ``scheduler`` (model file and stack on
        storage every worker reads)."""
        from ...scale.cluster import dask_client
        from ...scale.surface import distributed_surface

        target = description["target"]
        with dask_client(scheduler=scheduler) as client:
            feedback.pushInfo(f"Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} worker(s), "
                              "one torch thread each")
            distributed_surface(client, path, stack.path, output, mc, progress=progress_adapter(feedback),
                                is_cancelled=feedback.isCanceled)
        finish_raster_output(context, output, f"{target['field']}_cnn ({target['units']})", "OUTPUT",
                             lambda lyr: styles.style_diverging(lyr, target["units"]))

    def _apply_susceptibility(self, path, stack, output, parameters, context, feedback) -> None:
        from ...core.susceptibility.cnn import load_susceptibility_model, predict_index

        if self.parameterAsBoolean(parameters, self.UNCERTAINTY, context):
            feedback.pushWarning("The Monte-Carlo-dropout spread exists for patch-CNN models only; not written")
        if (self.parameterAsString(parameters, self.DASK_SCHEDULER, context) or "").strip():
            feedback.pushWarning("Susceptibility models run on this machine: the Dask scheduler is used for "
                                 "patch-CNN models only")
        trained, description = load_susceptibility_model(path)
        columns = stack.columns([d.name for d in trained.definitions if d.categorical])
        names, expected = [c.name for c in columns], [d.name for d in trained.definitions]
        if names != expected:
            raise ValueError(f"The stack's factors ({', '.join(names)}) differ from the model's "
                             f"({', '.join(expected)}): one-hot groups or categorical factors differ")
        predict_index(trained, stack.path, columns, stack.grid, output, progress_adapter(feedback),
                      feedback.isCanceled)
        kind = "frequency ratio" if description["kind"] == "frequency-ratio" else "CNN"
        finish_raster_output(context, output, f"Susceptibility index ({kind}, applied)", self.OUTPUT,
                             lambda layer: styles.style_susceptibility_index(layer, lo=0.0, hi=1.0))
