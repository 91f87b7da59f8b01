"""subsidence:groundwaterchange - groundwater-level change between two dates, as a raster (m)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterRasterLayer, QgsProcessingParameterString)

from ...core.groundwater.levels import level_change
from ...core.io.rasters import NODATA, read_raster, write_raster
from ...core.io.stack import Factor, build_factor_stack, reference_grid
from ...core.spatial.interpolation import InterpolationSettings, cross_validate, interpolate_to_grid, make_interpolator
from .. import styles
from ..base import SubsidenceAlgorithm, processing_errors, progress_adapter
from ..inputs import gdal_raster_path, point_series
from ..outputs import finish_raster_output

METHODS = ["Inverse distance weighting (IDW)", "Ordinary kriging (automatic variogram)"]


class GroundwaterChange(SubsidenceAlgorithm):
    NAME = "groundwaterchange"
    DISPLAY_NAME = "Groundwater-level change"
    GROUP = "Factors"
    HELP = (
        "<p>Change of the groundwater level between two dates, in <b>metres</b> (end minus start; "
        "<b>negative = decline</b>): the water-table change factor of seeds 000 and 003.</p>"
        "<p><b>From piezometers</b>: a point layer with one field per date (<i>DYYYYMMDD</i>, "
        "<i>D_YYYYMMDD</i> or <i>YYYYMMDD</i>, levels in m). Each piezometer's level at the two dates is "
        "interpolated linearly in time between its nearest readings (no extrapolation), and the changes are "
        "interpolated to the reference grid by IDW or ordinary kriging.</p>"
        "<p><b>From two surfaces</b>: give a start and an end level raster instead; they are aligned to the "
        "reference grid (bilinear) and subtracted.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference raster (grid)"))
        self.addParameter(QgsProcessingParameterFeatureSource("PIEZOMETERS", "Piezometers with dated levels",
                                                              [QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(QgsProcessingParameterString("START", "Start date (YYYY-MM-DD)", optional=True))
        self.addParameter(QgsProcessingParameterString("END", "End date (YYYY-MM-DD)", optional=True))
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Interpolation", METHODS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("NEIGHBOURS", "Nearest piezometers used (k)",
                                                       QgsProcessingParameterNumber.Integer, 8, minValue=1))
        self.addParameter(QgsProcessingParameterRasterLayer("SURFACE_START", "Or: level surface at the start",
                                                            optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer("SURFACE_END", "Level surface at the end", optional=True))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Groundwater-level change (m)"))

    def process(self, parameters, context, feedback):
        reference = self.parameterAsRasterLayer(parameters, "REFERENCE", context)
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        start_surface = self.parameterAsRasterLayer(parameters, "SURFACE_START", context)
        end_surface = self.parameterAsRasterLayer(parameters, "SURFACE_END", context)
        with processing_errors():
            grid = reference_grid(gdal_raster_path(reference, "Reference raster"))
            if start_surface is not None or end_surface is not None:
                self._from_surfaces(start_surface, end_surface, grid, output, feedback)
            else:
                self._from_piezometers(parameters, context, feedback, reference, grid, output)
        finish_raster_output(context, output, "Groundwater-level change (m)", "OUTPUT",
                             lambda lyr: styles.style_diverging(lyr, "m"))
        return {"OUTPUT": output}

    def _from_surfaces(self, start, end, grid, output, feedback):
        if start is None or end is None:
            raise ValueError("Give both the start and the end level surfaces")
        import os
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            stack = build_factor_stack([Factor(gdal_raster_path(start, "Start surface"), "start"),
                                        Factor(gdal_raster_path(end, "End surface"), "end")], grid,
                                       os.path.join(tmp, "levels.tif"), progress=progress_adapter(feedback),
                                       is_cancelled=feedback.isCanceled)
            levels = read_raster(stack.path)
            write_raster(output, levels.band(1) - levels.band(0), grid.with_nodata(NODATA), ["groundwater_change_m"])

    def _from_piezometers(self, parameters, context, feedback, reference, grid, output):
        source = self.parameterAsSource(parameters, "PIEZOMETERS", context)
        if source is None:
            raise ValueError("Give a piezometer layer, or two level surfaces")
        if grid.is_geographic:
            raise ValueError("The reference raster is in a geographic CRS (degrees); reproject it to metres")
        texts = [self.parameterAsString(parameters, key, context).strip() for key in ("START", "END")]
        if not all(texts):
            raise ValueError("Give the start and end dates (YYYY-MM-DD)")
        try:
            start, end = (np.datetime64(t, "D") for t in texts)
        except ValueError as error:
            raise ValueError(f"Dates must be written YYYY-MM-DD ({error})") from None
        x, y, dates, series = point_series(self, parameters, "PIEZOMETERS", reference.crs(), context, feedback,
                                          "Piezometers")
        change = level_change(dates, series, start, end)
        ok = ~np.isnan(change)
        if ok.sum() < 3:
            raise ValueError(f"Only {ok.sum()} piezometer(s) have readings around both {start} and {end}; "
                             "at least 3 are needed")
        feedback.pushInfo(f"{ok.sum()} of {len(change)} piezometers span {start} .. {end}; "
                          f"change from {change[ok].min():.2f} to {change[ok].max():.2f} m")
        settings = InterpolationSettings(("idw", "kriging")[self.parameterAsEnum(parameters, "METHOD", context)],
                                         k=self.parameterAsInt(parameters, "NEIGHBOURS", context))
        interpolator = make_interpolator(x[ok], y[ok], change[ok], settings)
        stats = cross_validate(interpolator.method)
        feedback.pushInfo(f"Leave-one-out RMSE {stats['rmse']:.3f} m over {stats['n']} piezometers")
        interpolate_to_grid(interpolator.values, grid, output, ["groundwater_change_m"], progress=progress_adapter(feedback),
                            is_cancelled=feedback.isCanceled)
