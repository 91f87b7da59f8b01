"""subsidence:subsidenceinventory - InSAR points to an inventory of subsiding and stable cells (seed 002)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingOutputNumber, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer)

from ...core.susceptibility.inventory import DIRECTIONS, build_inventory
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors
from ..inputs import factor_stack, points_with_values
from ..outputs import point_sink
from .common import INVENTORY_FIELDS

DIRECTION_LABELS = ("Subsidence: velocity <= -threshold", "Uplift: velocity >= threshold",
                    "Both: |velocity| >= threshold")


class SubsidenceInventory(SubsidenceAlgorithm):
    NAME = "subsidenceinventory"
    DISPLAY_NAME = "Subsidence inventory from InSAR points"
    GROUP = "Susceptibility"
    HELP = (
        "<p>Turns InSAR points and their velocity (mm/yr, negative = subsidence) into the inventory of seed 002: "
        "cells of the factor stack that are <b>subsiding</b> (1) or <b>stable</b> (0).</p>"
        "<p>Velocities are averaged per stack cell (points outside the stack or on nodata are left out and "
        "counted). A cell is subsiding when its velocity passes the threshold in the chosen direction (default "
        "v &le; -10 mm/yr) and stable when |v| &le; the stable threshold (default 2 mm/yr: seed 002's \"zero "
        "data\"); cells in between are left out. At least 10 cells of each class are required.</p>"
        "<p>Two splits are written: <i>random_split</i>, stratified random 70 / 30 (seed 002), and "
        "<i>block_split</i>, whole square blocks (default: a fifth of the stack's shorter side) to the test "
        "part, so that test cells have no training neighbour in their block.</p>"
        "<p>Output: points at the cell centres with <i>subsiding</i>, <i>velocity</i> (mm/yr), <i>points</i>, "
        "<i>row</i>, <i>col</i>, <i>random_split</i> and <i>block_split</i> (train / test).</p>")

    # parameter and output keys (stable: saved models, .model3 files and scripts use them)
    INPUT = "INPUT"
    FIELD = "FIELD"
    STACK = "STACK"
    THRESHOLD = "THRESHOLD"
    STABLE_THRESHOLD = "STABLE_THRESHOLD"
    DIRECTION = "DIRECTION"
    TEST_SHARE = "TEST_SHARE"
    BLOCK_SIZE = "BLOCK_SIZE"
    SEED = "SEED"
    OUTPUT = "OUTPUT"
    SUBSIDING = "SUBSIDING"
    STABLE = "STABLE"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(self.INPUT, "InSAR points", [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField(self.FIELD, "Velocity field (mm/yr, negative = subsidence)",
                                                      parentLayerParameterName=self.INPUT,
                                                      type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterRasterLayer(self.STACK, "Factor stack"))
        self.addParameter(QgsProcessingParameterNumber(self.THRESHOLD, "Subsidence threshold (mm/yr)",
                                                       QgsProcessingParameterNumber.Double, 10.0, minValue=1e-6))
        self.addParameter(QgsProcessingParameterNumber(self.STABLE_THRESHOLD, "Stable threshold |v| (mm/yr)",
                                                       QgsProcessingParameterNumber.Double, 2.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterEnum(self.DIRECTION, "Direction", list(DIRECTION_LABELS),
                                                     defaultValue=0))
        for parameter in (
                QgsProcessingParameterNumber(self.TEST_SHARE, "Test share", QgsProcessingParameterNumber.Double, 0.3,
                                             minValue=0.05, maxValue=0.95),
                QgsProcessingParameterNumber(self.BLOCK_SIZE, "Block size of the blocked split (m, 0 = automatic)",
                                             QgsProcessingParameterNumber.Double, 0.0, minValue=0.0),
                QgsProcessingParameterNumber(self.SEED, "Random seed", QgsProcessingParameterNumber.Integer, 0,
                                             minValue=0)):
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Subsidence inventory",
                                                            QgsProcessing.TypeVectorPoint))
        self.addOutput(QgsProcessingOutputNumber(self.SUBSIDING, "Subsiding cells"))
        self.addOutput(QgsProcessingOutputNumber(self.STABLE, "Stable cells"))

    def process(self, parameters, context, feedback):
        stack_layer = self.parameterAsRasterLayer(parameters, self.STACK, context)
        with processing_errors():
            stack = factor_stack(stack_layer, projected=True)
            x, y, velocity, _ = points_with_values(self, parameters, self.INPUT,
                                                         self.parameterAsString(parameters, self.FIELD, context),
                                                         stack_layer.crs(), context, feedback, "InSAR points")
            feedback.setProgressText("Reading the stack's valid cells")
            valid = stack.valid_cells()
            feedback.setProgress(50)
            inventory = build_inventory(
                x, y, velocity, stack.grid, valid,
                threshold=self.parameterAsDouble(parameters, self.THRESHOLD, context),
                stable_threshold=self.parameterAsDouble(parameters, self.STABLE_THRESHOLD, context),
                direction=DIRECTIONS[self.parameterAsEnum(parameters, self.DIRECTION, context)],
                test_share=self.parameterAsDouble(parameters, self.TEST_SHARE, context),
                block_size=self.parameterAsDouble(parameters, self.BLOCK_SIZE, context) *
                (1.0 / (stack.grid.linear_unit_metres or 1.0)),
                seed=self.parameterAsInt(parameters, self.SEED, context))
        excluded = inventory.excluded
        feedback.pushInfo(f"{len(x)} points: {excluded['outside']} outside the stack, {excluded['nodata']} on "
                          f"nodata; {excluded['between_thresholds_cells']} cells between the thresholds left out")
        n_pos = int(inventory.label.sum())
        feedback.pushInfo(f"Inventory: {n_pos} subsiding and {len(inventory) - n_pos} stable cells; blocks of "
                          f"{inventory.settings['block_size_m']:.0f} for the blocked split")
        split = np.array(["train", "test"])
        dest = point_sink(self, parameters, self.OUTPUT, context, stack_layer.crs(), inventory.x, inventory.y, [
            ("row", "int", inventory.rows), ("col", "int", inventory.cols), ("velocity", "double", inventory.velocity),
            ("points", "int", inventory.points), (INVENTORY_FIELDS["label"], "int", inventory.label),
            (INVENTORY_FIELDS["random"], "string", split[inventory.random_test.astype(int)]),
            (INVENTORY_FIELDS["block"], "string", split[inventory.block_test.astype(int)])], feedback)
        return {self.OUTPUT: dest, self.SUBSIDING: n_pos, self.STABLE: len(inventory) - n_pos}
