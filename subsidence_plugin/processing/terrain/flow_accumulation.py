"""subsidence:flowaccumulation - D8 or MFD flow accumulation (cells) and specific catchment area (m^2/m)."""
from __future__ import annotations

from qgis.core import QgsProcessingParameterRasterDestination, QgsProcessingParameterString

from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import dem_input
from ..outputs import finish_raster_output
from .common import FLOW_METHODS, NOTE, add_flow_parameters, run_hydrology


def _log_style(layer) -> None:
    styles.style_sequential(layer, "", colours=styles.SEQUENTIAL)


class FlowAccumulation(SubsidenceAlgorithm):
    NAME = "flowaccumulation"
    DISPLAY_NAME = "Flow accumulation"
    GROUP = "Hydrology"
    HELP = ("<p>Fills the DEM's depressions (epsilon gradient, so flats drain towards their outlet), then "
            "accumulates flow by <b>D8</b> (all flow to the steepest of eight neighbours, O'Callaghan & Mark "
            "1984) or by <b>multiple flow directions</b> (MFD, Freeman 1991: flow split among all lower "
            "neighbours in proportion to slope<sup>1.1</sup>).</p>"
            "<p>Outputs: accumulation in <b>cells</b> (each cell counts itself) and the <b>specific catchment "
            "area</b> a in <b>m²/m</b>: contributing area divided by the contour width (the cell width).</p>" + NOTE +
            "<p><b>Dask scheduler address</b> (advanced): computed in tiles on that cluster's workers: the fill by "
            "Barnes (2016)'s three phases and the flats' distances exchanged across tile edges until they settle; "
            "D8 by Barnes (2017)'s three phases (local accumulation per tile, the flow passed between the tiles' "
            "edges on this machine, each tile again with its inflows), equal cell for cell; MFD in rounds (each tile "
            "with the flow its neighbours pass into it, again until nothing changes, as TauDEM does), equal but for "
            "the order of floating-point sums (relative differences about 1e-15). The DEM must be on storage every "
            "worker reads and its values float32 numbers (most DEMs).</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_flow_parameters(self)
        add_advanced(self, QgsProcessingParameterString(
            "DASK_SCHEDULER", "Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty = this machine)", "",
            optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Flow accumulation (cells)"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_SCA", "Specific catchment area (m²/m)",
                                                                  optional=True))

    PRODUCTS = {"accumulation": ("OUTPUT", "Flow accumulation (cells)", "flow_accumulation_cells", _log_style),
                "sca": ("OUTPUT_SCA", "Specific catchment area (m²/m)", "specific_catchment_area_m2_m", _log_style)}

    def process(self, parameters, context, feedback):
        scheduler = (self.parameterAsString(parameters, "DASK_SCHEDULER", context) or "").strip()
        if not scheduler:
            return run_hydrology(self, parameters, context, feedback, self.PRODUCTS)
        return self._on_cluster(scheduler, parameters, context, feedback)

    def _on_cluster(self, scheduler, parameters, context, feedback) -> dict:
        """In tiles on the Dask cluster at ``scheduler`` (the DEM on storage every worker reads)."""
        from ...scale.cluster import dask_client
        from ...scale.flow import distributed_flow_accumulation

        method = FLOW_METHODS[self.parameterAsEnum(parameters, "METHOD", context)][0]
        layer, path, band = dem_input(self, parameters, context)
        outputs = {product: self.parameterAsOutputLayer(parameters, key, context)
                   for product, (key, _, _, _) in self.PRODUCTS.items()}
        outputs = {product: output for product, output in outputs.items() if output}
        with processing_errors(prefix=layer.name()), dask_client(scheduler=scheduler) as client:
            feedback.pushInfo(f"Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} worker(s), "
                              f"{method.upper()}")
            rounds = distributed_flow_accumulation(client, path, outputs, band, method=method,
                                                   progress=progress_adapter(feedback),
                                                   is_cancelled=feedback.isCanceled)
            feedback.pushInfo(f"The flats' distances settled after {rounds['rounds']} round(s) across the tiles"
                              + (f", the flow after {rounds['flow rounds']}" if method == "mfd" else ""))
        results = {}
        for product, output in outputs.items():
            key, name, _, styler = self.PRODUCTS[product]
            finish_raster_output(context, output, name, key, styler)
            results[key] = output
        return results
