"""subsidence:groundwaterseries - piezometer heads at every InSAR point and date (m), optionally lagged by each
point's delay time."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber, QgsProcessingParameterRasterLayer)

from ...core.io.points import date_field_name, transform_points
from ...core.io.rasters import values_at_points
from ...core.spatial.interpolation import InterpolationSettings
from ...core.timeseries.groundwater import delay_days, equivalent_interbed_thickness, heads_at_points
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import gdal_raster_path, metric_crs
from ..outputs import point_sink
from .common import add_series_inputs, aquifer_groups, piezometer_heads, read_series_points, warn_if_far

METHODS = ["Inverse distance weighting (IDW)", "Ordinary kriging (variogram of the mean heads)"]


class GroundwaterSeries(SubsidenceAlgorithm):
    NAME = "groundwaterseries"
    DISPLAY_NAME = "Groundwater heads at InSAR points"
    GROUP = "Time series"
    HELP = (
        "<p>The groundwater head (<b>m</b>) at every InSAR point and date, for the time-series models of seeds "
        "001 and 004: every input point with its fields plus one <b>H_YYYYMMDD</b> field a date of its "
        "<i>DYYYYMMDD</i> series, and with delay rasters <b>LAG_DAYS</b> and one <b>HL_YYYYMMDD</b> field a "
        "date (the head at that date minus the point's delay).</p>"
        "<p><b>Piezometers</b>: a point layer whose heads are wide fields (<i>D_YYYYMMDD</i>, <i>DYYYYMMDD</i> or "
        "<i>YYYYMMDD</i>; NULL gaps allowed), or a long table file (station, date, value; e.g. Doñana's "
        "tab-separated <i>bd_piezo.txt</i> with <i>Nombre, Fechas, Valores</i>) joined to the piezometer points "
        "by the ID field (found automatically: the field whose values match the table's stations).</p>"
        "<p><b>In time</b>: linear between each piezometer's readings; before its first or after its last reading "
        "the first / last head is held for at most the hold limit (days), no further: beyond it the head is "
        "NULL, never extrapolated. <b>In space</b>: IDW or ordinary kriging over the piezometers that have a head "
        "that date (kriging fits one variogram to the piezometers' mean heads).</p>"
        "<p><b>Delay</b> (seed 004): tau = (b0 / 2)² S′s / K′v, b0 the equivalent interbed thickness "
        "√(Σ bᵢ² / N) of the interbed-thickness rasters (m), K′v the vertical hydraulic conductivity raster "
        "(m/s), S′s the specific storage (1/m; clay interbeds are about 1e-5 … 1e-3).</p>"
        "<p><b>Aquifers</b>: with an aquifer field, each aquifer's heads are interpolated from its own "
        "piezometers, in fields <b>H1_YYYYMMDD</b>, <b>H2_YYYYMMDD</b> … (and <b>HL1_</b> …) in the sorted order of "
        "the aquifers' values, which the log lists.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        add_series_inputs(self, groundwater_optional=False)
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Interpolation in space", METHODS, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("NEIGHBOURS", "Nearest piezometers used (k)",
                                                       QgsProcessingParameterNumber.Integer, 8, minValue=1))
        self.addParameter(QgsProcessingParameterNumber("HOLD_DAYS", "Hold the first / last head for at most (days)",
                                                       QgsProcessingParameterNumber.Double, 45.0, minValue=0.0))
        add_advanced(self, QgsProcessingParameterNumber("POWER", "IDW power", QgsProcessingParameterNumber.Double,
                                                        2.0, minValue=0.1))
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "INTERBED_THICKNESS", "Interbed thickness rasters b_i (m), for the delay", QgsProcessing.TypeRaster,
            optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(
            "VERTICAL_CONDUCTIVITY", "Vertical hydraulic conductivity K′v (m/s), for the delay", optional=True))
        add_advanced(self, QgsProcessingParameterNumber("SPECIFIC_STORAGE", "Specific storage S′s (1/m)",
                                                        QgsProcessingParameterNumber.Double, 1e-4, minValue=0.0))
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "InSAR points with heads (m)",
                                                            QgsProcessing.TypeVectorPoint))

    def process(self, parameters, context, feedback):
        points, crs = read_series_points(self, parameters, context, feedback)
        metric = metric_crs(crs, points)
        x, y = transform_points(points.x, points.y, crs.toWkt(), metric.toWkt())
        px, py, piezometer_dates, heads, aquifers = piezometer_heads(self, parameters, context, feedback, metric)
        warn_if_far(feedback, px, py, x, y)
        delays = self._delays(parameters, context, feedback, points, crs)
        settings = InterpolationSettings(("idw", "kriging")[self.parameterAsEnum(parameters, "METHOD", context)],
                                         k=self.parameterAsInt(parameters, "NEIGHBOURS", context),
                                         power=self.parameterAsDouble(parameters, "POWER", context))
        hold = self.parameterAsDouble(parameters, "HOLD_DAYS", context)
        groups = aquifer_groups(aquifers)
        columns = [(name, "double" if values.dtype.kind in "fiub" else "string", values)
                   for name, values in points.attributes.items() if name.lower() != "fid"]
        columns += [(name, "double", points.series[:, i]) for i, name in enumerate(points.date_fields)]
        if delays is not None:
            columns.append(("LAG_DAYS", "double", delays))
        for number, (label, mask) in enumerate(groups, start=1):
            prefix = f"H{number}_" if aquifers is not None else "H_"
            with processing_errors():
                result = heads_at_points(px[mask], py[mask], piezometer_dates, heads[mask], x, y, points.dates,
                                         settings, hold, delays, progress=progress_adapter(feedback),
                                         is_cancelled=feedback.isCanceled)
            missing = np.isnan(result.heads).all(axis=0)
            if missing.any():
                feedback.pushWarning(f"{int(missing.sum())} of {points.dates.size} InSAR dates have no head (beyond "
                                     f"the piezometer records by more than {hold:g} days): their {prefix} fields are "
                                     "NULL")
            if aquifers is not None:
                feedback.pushInfo(f"Aquifer {label!r}: {int(mask.sum())} piezometers, fields {prefix}YYYYMMDD")
            columns += [(date_field_name(date, prefix), "double", result.heads[:, i])
                        for i, date in enumerate(points.dates)]
            if result.lagged is not None:
                columns += [(date_field_name(date, prefix.replace("H", "HL", 1)), "double", result.lagged[:, i])
                            for i, date in enumerate(points.dates)]
        dest = point_sink(self, parameters, "OUTPUT", context, crs, points.x, points.y, columns, feedback)
        feedback.pushInfo(f"Heads at {len(points)} points and {points.dates.size} dates from {len(px)} piezometers")
        return {"OUTPUT": dest}

    def _delays(self, parameters, context, feedback, points, crs):
        """Delay tau (days) at the points, or None without the rasters."""
        thickness = self.parameterAsLayerList(parameters, "INTERBED_THICKNESS", context)
        conductivity = self.parameterAsRasterLayer(parameters, "VERTICAL_CONDUCTIVITY", context)
        if not thickness and conductivity is None:
            return None
        if not thickness or conductivity is None:
            raise QgsProcessingException("The delay needs both the interbed-thickness raster(s) and the vertical "
                                         "conductivity raster")
        with processing_errors():
            b = equivalent_interbed_thickness(np.stack([
                values_at_points(gdal_raster_path(layer, "Interbed thickness"), points.x, points.y, crs.toWkt())
                for layer in thickness]))
            k = values_at_points(gdal_raster_path(conductivity, "Vertical conductivity"), points.x, points.y,
                                 crs.toWkt())
            delays = delay_days(b, k, self.parameterAsDouble(parameters, "SPECIFIC_STORAGE", context))
        known = np.isfinite(delays)
        if not known.any():
            raise QgsProcessingException("No InSAR point lies on valid cells of the delay rasters")
        feedback.pushInfo(f"Delay tau: {np.nanmin(delays):.1f} .. {np.nanmax(delays):.1f} days "
                          f"(median {np.nanmedian(delays):.1f}); {int((~known).sum())} point(s) off the rasters")
        return delays
