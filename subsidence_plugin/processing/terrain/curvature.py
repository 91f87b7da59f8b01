"""subsidence:curvature - total, plan and profile curvature (Zevenbergen & Thorne 1987)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination

from .. import styles
from ..base import SubsidenceAlgorithm
from .common import CELL_SIZE_NOTE, add_dem_parameters, run_terrain

OUTPUTS = {"total": ("OUTPUT", "Total curvature"), "plan": ("PLAN", "Plan curvature"),
           "profile": ("PROFILE", "Profile curvature")}


class Curvature(SubsidenceAlgorithm):
    NAME = "curvature"
    DISPLAY_NAME = "Curvature"
    GROUP = "Terrain"
    HELP = ("<p>Total, plan and profile curvature from the <b>Zevenbergen & Thorne (1987)</b> 3 x 3 polynomial, "
            "in the ArcGIS convention: units <b>1/100 m</b>; total = -(z<sub>xx</sub> + z<sub>yy</sub>) x 100, "
            "positive where the surface is upwardly convex (ridges), negative in hollows; profile curvature "
            "along the slope direction (negative = convex, accelerating flow), plan curvature across it "
            "(positive = divergent). For a bowl z = a r<sup>2</sup>: total = -400a, profile = -200a, "
            "plan = 200a. Total curvature is a driving force of seed 000.</p>" + CELL_SIZE_NOTE)

    def initAlgorithm(self, config=None):  # noqa: N802
        add_dem_parameters(self)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Total curvature (1/100 m)"))
        self.addParameter(QgsProcessingParameterRasterDestination("PLAN", "Plan curvature (1/100 m)",
                                                                  optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination("PROFILE", "Profile curvature (1/100 m)",
                                                                  optional=True, createByDefault=False))

    def process(self, parameters, context, feedback):
        products = {product: (key, name, lambda lyr: styles.style_diverging(lyr, "1/100 m"))
                    for product, (key, name) in OUTPUTS.items() if key == "OUTPUT" or self.parameterAsOutputLayer(parameters, key, context)}
        return run_terrain(self, parameters, context, feedback, products)
