"""subsidence:filldepressions - priority-flood depression filling (Barnes et al. 2014)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessingParameterBoolean, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterString)

from ...core.io.rasters import NODATA, read_raster, valid_mask
from ...core.terrain.fill import fill_depressions
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import dem_input
from ..outputs import finish_raster_output
from .common import NOTE, add_flow_parameters, write_rows


class FillDepressions(SubsidenceAlgorithm):
    NAME = "filldepressions"
    DISPLAY_NAME = "Fill depressions"
    GROUP = "Hydrology"
    HELP = ("<p>Fills closed depressions (pits, sinks) of a DEM so every cell can drain to the raster edge or to "
            "nodata: each cell is raised to the lowest elevation at which water could spill out of it "
            "(priority-flood semantics, Barnes, Lehman & Mulla 2014; identical to RichDEM's FillDepressions). "
            "With <b>epsilon gradient</b>, filled flats also get the smallest possible increments (one "
            "floating-point step per cell away from the outlet) so that every cell drains along strictly "
            "decreasing elevations.</p><p>Units: the DEM's (m).</p>"
            "<p><b>Dask scheduler address</b> (advanced): the fill in tiles on that cluster's workers (Barnes 2016's "
            "three phases: basins and passes per tile, the spill levels of the tiles' edges on this machine, the "
            "filled tiles; with the epsilon gradient, the flats' distances computed per tile and exchanged across "
            "tile edges until they settle; the DEM on storage every worker reads), equal cell for cell. The epsilon "
            "gradient runs there for DEMs whose values are float32 numbers (most DEMs).</p>" + NOTE)

    def initAlgorithm(self, config=None):  # noqa: N802
        add_flow_parameters(self, flow_method=False)
        self.addParameter(QgsProcessingParameterBoolean("EPSILON", "Epsilon gradient so every cell drains", False))
        add_advanced(self, QgsProcessingParameterString(
            "DASK_SCHEDULER", "Dask scheduler address (e.g. tcp://10.0.0.5:8786; empty = this machine)",
            "", optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Filled DEM"))

    def process(self, parameters, context, feedback):
        layer, path, band = dem_input(self, parameters, context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        scheduler = (self.parameterAsString(parameters, "DASK_SCHEDULER", context) or "").strip()
        if scheduler:
            self._fill_on_cluster(scheduler, layer, path, band, output, parameters, context, feedback)
            finish_raster_output(context, output, "Filled DEM", "OUTPUT", styles.style_terrain)
            return {"OUTPUT": output}
        with processing_errors(prefix=layer.name()):
            raster = read_raster(path, bands=[band])
            dem = raster.array[0]
            if np.issubdtype(dem.dtype, np.floating):
                dem[~valid_mask(dem, raster.grid.nodata)] = np.nan  # in place, instead of a float64 copy
            else:
                dem = raster.band(0)
            filled = fill_depressions(dem, epsilon=self.parameterAsBoolean(parameters, "EPSILON", context),
                                      progress=progress_adapter(feedback), is_cancelled=feedback.isCanceled)
        raised, rise = 0, 0.0
        for start in range(0, dem.shape[0], 256):
            rises = filled[start:start + 256] - dem[start:start + 256]
            rises = rises[rises > 0]
            raised += rises.size
            rise = max(rise, float(rises.max(initial=0.0)))
        feedback.pushInfo(f"{raised} cells raised, by up to {rise:.3f}")
        write_rows(output, filled, raster.grid.with_nodata(NODATA), "filled_dem", dtype=np.float64)
        finish_raster_output(context, output, "Filled DEM", "OUTPUT", styles.style_terrain)
        return {"OUTPUT": output}

    def _fill_on_cluster(self, scheduler, layer, path, band, output, parameters, context, feedback) -> None:
        """The exact fill in tiles on the Dask cluster at ``scheduler`` (the DEM on storage every worker reads)."""
        from ...scale.cluster import dask_client
        from ...scale.fill import distributed_fill
        from ...scale.flow import distributed_epsilon_fill

        epsilon = self.parameterAsBoolean(parameters, "EPSILON", context)
        with processing_errors(prefix=layer.name()), dask_client(scheduler=scheduler) as client:
            feedback.pushInfo(f"Dask cluster at {scheduler}: {len(client.scheduler_info()['workers'])} worker(s)")
            if epsilon:
                rounds = distributed_epsilon_fill(client, path, output, band, progress=progress_adapter(feedback),
                                                  is_cancelled=feedback.isCanceled)["rounds"]
                feedback.pushInfo(f"The flats' distances settled after {rounds} round(s) across the tiles")
            else:
                distributed_fill(client, path, output, band, progress=progress_adapter(feedback),
                                 is_cancelled=feedback.isCanceled)

