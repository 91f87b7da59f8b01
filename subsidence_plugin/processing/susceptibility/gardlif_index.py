"""subsidence:gardlif - the GARDLIF subsidence vulnerability index (seed 003)."""
from __future__ import annotations

from ..base import SubsidenceAlgorithm, processing_errors, progress_adapter
from .gardlif_common import (GARDLIF_HELP, add_gardlif_parameters, add_map_outputs, class_rows, finish_maps,
                             layer_paths, table_of, weights_of)


class Gardlif(SubsidenceAlgorithm):
    NAME = "gardlif"
    DISPLAY_NAME = "GARDLIF vulnerability index"
    GROUP = "Susceptibility"
    HELP = (
        "<p>The GARDLIF subsidence vulnerability index of seed 003 (Tehran-Karaj-Shahriyar): SPI = Σ wᵢ·rᵢ over "
        "seven rated layers, with the seed's weights G 5, A 5, R 4, D 4, L 3, I 2, F 1 by default (use "
        "<i>Optimize GARDLIF weights (PSO)</i> to fit them to InSAR rates).</p>" + GARDLIF_HELP +
        "<p>Outputs: the index raster and seed 003's four classes (low, moderate, high, very high: equal "
        "intervals of the possible range Σw to 10 Σw, i.e. 24-78-132-186-240 for the default weights), styled, "
        "with the class areas in the log.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_gardlif_parameters(self)
        add_map_outputs(self)

    def process(self, parameters, context, feedback):
        from .gardlif_common import write_index

        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        classes_output = self.parameterAsOutputLayer(parameters, "CLASSES_OUTPUT", context)
        with processing_errors():
            table = table_of(self, parameters, context)
            weights = weights_of(self, parameters, context)
            paths = layer_paths(self, parameters, context)
            classes = write_index(paths, table, weights, output, classes_output, progress_adapter(feedback),
                                  feedback.isCanceled)
        for name, low, high, cells, share in class_rows(classes):
            feedback.pushInfo(f"{name}: index {low:g}-{high:g}, {share:.1f} % of the area")
        finish_maps(context, output, classes_output, weights, "GARDLIF")
        return {"OUTPUT": output, "CLASSES_OUTPUT": classes_output}
