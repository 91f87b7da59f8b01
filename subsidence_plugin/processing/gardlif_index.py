"""subsidence:gardlif - the GARDLIF subsidence vulnerability index (seed 003)."""
from __future__ import annotations

from .base import SubsidenceAlgorithm, processing_errors, progress_adapter
from .gardlif_common import (add_gardlif_parameters, add_map_outputs, class_rows, finish_maps, layer_paths, table_of,
                             weights_of)

GARDLIF_HELP = (
    "<p>Seven layers, all on one grid: <b>G</b>roundwater decline (m/yr), <b>A</b>quifer media (category "
    "code), net <b>R</b>echarge (cm/yr), <b>D</b>ischarge / pumping (cm/yr), <b>L</b>and use (category code), "
    "aquifer thickness <b>I</b> (m) and distance to <b>F</b>aults (m). Each is rated 1-10 by the class table "
    "(default: seed 003 Table 1 in these units; land use codes 1 Mine, 2 Agriculture, 3 Dam site, 4 "
    "Residential, 5 Transportation, 6 Dry areas, 7 Wasteland, 8 Grassland; aquifer media codes 1 Clay, 2 Clay + "
    "silt, 3 Clay + sand, 4 Silt-clay + sand, 5 Sand, 6 Gravel, 7 Organic soils, 8 Rubble; where the table "
    "gives a range of ratings the default is its midpoint). Continuous classes are [from, to); an empty bound "
    "is open. A value no class covers stops the algorithm with the layer and the values to add.</p>")


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

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        from .gardlif_common import write_index

        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        classes_output = self.parameterAsOutputLayer(parameters, "CLASSES_OUTPUT", context)
        with processing_errors():
            table = table_of(self, parameters, context)
            weights = weights_of(self, parameters, context)
            paths = layer_paths(self, parameters, context)
            counts = write_index(paths, table, weights, output, classes_output, progress_adapter(feedback),
                                 feedback.isCanceled)
        for name, low, high, cells, share in class_rows(counts, weights):
            feedback.pushInfo(f"{name}: index {low:g}-{high:g}, {share:.1f} % of the area")
        finish_maps(context, output, classes_output, weights, "GARDLIF")
        return {"OUTPUT": output, "CLASSES_OUTPUT": classes_output}
