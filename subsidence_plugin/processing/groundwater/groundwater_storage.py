"""subsidence:groundwaterstorage - ΔGWS = ΔTWS − (ΔSM + ΔCWS + ΔSWE + ΔQS) over an area from GRACE / GRACE-FO and
GLDAS files (seed 002 §III-C)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterRasterDestination,
                       QgsProcessingParameterString)

from ...core.groundwater.grids import TERM_NAMES
from ...core.groundwater.products import read_products
from ...core.groundwater.report import write_storage_report
from ...core.groundwater.storage import (GRACE_RESOLUTION_KM, global_grid, groundwater_storage,
                                         groundwater_storage_stack, storage_trend)
from ...core.io.rasters import NODATA, write_raster
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors
from ..outputs import finish_raster_output, table_sink
from .common import area_in_degrees, month_or_none, reading_box

COLUMNS = (("month", "string"), ("tws_mm", "double"), ("sm_mm", "double"), ("cws_mm", "double"),
           ("swe_mm", "double"), ("qs_mm", "double"), ("gws_mm", "double"), ("n_centres", "int"),
           ("gws_spread_mm", "double"))
STACK_GRIDS = {"the first GRACE product's grid": None, "0.25°": 0.25, "0.5°": 0.5, "1°": 1.0}



class GroundwaterStorage(SubsidenceAlgorithm):
    NAME = "groundwaterstorage"
    DISPLAY_NAME = "Groundwater storage (GRACE and GLDAS)"
    GROUP = "Groundwater storage"
    HELP = (
        "<p>Monthly groundwater-storage anomaly of an area from satellite gravimetry and land-surface models, as "
        "seed 002 (§III-C, eq. 1) with snow: <b>ΔGWS = ΔTWS − (ΔSM + ΔCWS + ΔSWE + ΔQS)</b>, in <b>mm of water</b> "
        "(kg/m²).</p>"
        "<p><b>GRACE / GRACE-FO files</b> (total water storage, one or several centres; download them yourself): JPL "
        "mascons (<i>GRCTellus.JPL.*.MSCNv02CRI.nc</i> with <i>LAND_MASK.CRI.nc</i> and "
        "<i>CLM4.SCALE_FACTOR.JPL.MSCNv02CRI.nc</i>, or v03 with both inside), CSR mascons "
        "(<i>CSR_GRACE_GRACE-FO_RL06*_Mascons_all-corrections*.nc</i>, with the land-mask file <i>LO_val</i> "
        "when you have it), or the Tellus land grids of GFZ, JPL and CSR (<i>GRCTellus.*.LND.*</i>). "
        "<b>GLDAS files</b> (one or several of Noah, CLSM, VIC; monthly <i>GLDAS_*_M</i> or 3-hourly <i>GLDAS_*_3H</i> "
        "files, averaged per month): soil moisture (the layers summed), canopy water, snow water and surface runoff "
        "(<i>Qs_acc</i>: the month's total, the 3-hour accumulation × the steps in the month). The files' variables "
        "and grids are recognised; the log lists what was read.</p>"
        "<p>Area means weighted by cell area (cos φ) and by the share of each cell inside the <b>area</b> (its "
        "polygons merged; any CRS, areas across the antimeridian included), per product on its native grid; "
        "anomalies against the <b>baseline</b> months (inclusive, <i>YYYY-MM</i>; empty = the period common to all "
        "products); ΔTWS the mean of the centres, each land-surface term the mean of the models; a term no model "
        "gives counts as 0 (said in the log). Months without a GRACE solution are absent, never filled (the "
        "2017–2018 GRACE / GRACE-FO gap stays a gap); a month one centre misses uses the others.</p>"
        "<p><b>Output table</b> (GeoPackage, CSV, …): one row a month, <i>month</i> (YYYY-MM), <i>tws_mm</i>, "
        "<i>sm_mm</i>, <i>cws_mm</i>, <i>swe_mm</i>, <i>qs_mm</i>, <i>gws_mm</i>, <i>n_centres</i> and "
        "<i>gws_spread_mm</i> = √(variance over the centres' ΔTWS + variance over the models' land-surface sums), "
        "population variances. Results: the ΔGWS trend (mm/yr) fitted with annual and semi-annual terms and its 95 % "
        "interval (Student t with the effective months of autocorrelated residuals). Optional <b>raster stack</b>: "
        "ΔGWS a band a month (band names and metadata the months) on the grid of the first GRACE product (or a global "
        "0.25°, 0.5° or 1° grid: <i>STACK_GRID</i>), the other products regridded to it with area weights, cells "
        "outside the area nodata. Optional <b>report</b> with the "
        "series per centre, the terms, ΔGWS with its spread and trend.</p>"
        f"<p>GRACE resolves about {GRACE_RESOLUTION_KM:.0f} km whatever its grid: an area smaller than that (a city) "
        "gets the regional signal of the cells that overlap it, and the log and the report say so.</p>")

    TWS = "TWS"
    LSM = "LSM"
    AREA = "AREA"
    BASELINE_START = "BASELINE_START"
    BASELINE_END = "BASELINE_END"
    APPLY_GAIN = "APPLY_GAIN"
    APPLY_MASK = "APPLY_MASK"
    STACK_GRID = "STACK_GRID"
    OUTPUT = "OUTPUT"
    OUTPUT_RASTER = "OUTPUT_RASTER"
    REPORT = "REPORT"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(self.TWS, "GRACE / GRACE-FO files (TWS)",
                                                               QgsProcessing.TypeFile))
        self.addParameter(QgsProcessingParameterMultipleLayers(self.LSM, "GLDAS files (land-surface models)",
                                                               QgsProcessing.TypeFile))
        self.addParameter(QgsProcessingParameterFeatureSource(self.AREA, "Area",
                                                              [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterString(self.BASELINE_START, "Baseline from (YYYY-MM; empty = the "
                                                       "common period)", defaultValue="", optional=True))
        self.addParameter(QgsProcessingParameterString(self.BASELINE_END, "Baseline to (YYYY-MM; empty = the "
                                                       "common period)", defaultValue="", optional=True))
        add_advanced(self, QgsProcessingParameterBoolean(self.APPLY_GAIN, "Apply the JPL gain factors (scale_factor; "
                                                         "JPL advises them for land hydrology)", defaultValue=True))
        add_advanced(self, QgsProcessingParameterBoolean(self.APPLY_MASK, "Apply the land masks given with the files",
                                                         defaultValue=True))
        add_advanced(self, QgsProcessingParameterEnum(self.STACK_GRID, "Grid of the raster stack",
                                                      list(STACK_GRIDS), defaultValue=0))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Groundwater storage (monthly table)",
                                                            QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterRasterDestination(self.OUTPUT_RASTER, "ΔGWS raster stack (a band a "
                                                                  "month)", optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination(self.REPORT, "Report", "HTML files (*.html)",
                                                                optional=True, createByDefault=False))
        for key, text in (("TREND_MM_YR", "ΔGWS trend (mm/yr)"), ("TREND_CI_LOW", "Trend, 95 % interval low (mm/yr)"),
                          ("TREND_CI_HIGH", "Trend, 95 % interval high (mm/yr)"), ("MONTHS", "Months in the table"),
                          ("AREA_KM2", "Area (km²)")):
            self.addOutput(QgsProcessingOutputNumber(key, text))

    def _products(self, parameters, key, context, feedback, options, label):
        paths = self.parameterAsFileList(parameters, key, context)
        if not paths:
            raise QgsProcessingException(f"{label}: no file was given")
        with processing_errors(prefix=label):
            grids = read_products(paths, kind="tws" if key == self.TWS else "lsm", **options)
        products = {}
        for grid in grids:
            products.setdefault(grid.product, []).append(grid)
        for product, members in products.items():
            first = members[0]
            feedback.pushInfo(f"{label}: {product}: " + ", ".join(TERM_NAMES[g.term] for g in members)
                              + f"; {first.months.size} months {first.months[0]} … {first.months[-1]}, "
                              f"{first.lat.size} × {first.lon.size} cells read")
            for note in first.notes:
                feedback.pushInfo(f"  {note}")
        return grids

    def process(self, parameters, context, feedback):
        apply_gain = self.parameterAsBoolean(parameters, self.APPLY_GAIN, context)
        apply_mask = self.parameterAsBoolean(parameters, self.APPLY_MASK, context)
        start = month_or_none(self.parameterAsString(parameters, self.BASELINE_START, context), "Baseline from")
        end = month_or_none(self.parameterAsString(parameters, self.BASELINE_END, context), "Baseline to")
        area = area_in_degrees(self, parameters, self.AREA, context, feedback)
        options = {"bbox": reading_box(area), "gain_factors": apply_gain, "masks": apply_mask}
        feedback.setProgressText("Reading the GRACE files")
        tws = self._products(parameters, self.TWS, context, feedback, options, "GRACE files")
        feedback.setProgress(30)
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        feedback.setProgressText("Reading the GLDAS files")
        land = self._products(parameters, self.LSM, context, feedback, options, "GLDAS files")
        feedback.setProgress(60)
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        with processing_errors():
            result = groundwater_storage(tws, land, area, start, end)
            trend = storage_trend(result.months, result.gws_mm)
        self._log(feedback, result, trend)
        dest = table_sink(self, parameters, self.OUTPUT, context, COLUMNS, zip(*result.table().values()))
        results = {self.OUTPUT: dest, "TREND_MM_YR": trend.slope_mm_per_year,
                   "TREND_CI_LOW": trend.ci_low_mm_per_year, "TREND_CI_HIGH": trend.ci_high_mm_per_year,
                   "MONTHS": int(result.months.size), "AREA_KM2": result.area_km2}
        stack = None
        raster = self.parameterAsOutputLayer(parameters, self.OUTPUT_RASTER, context)
        if raster:
            feedback.setProgressText("Regridding to the stack")
            with processing_errors():
                stack = groundwater_storage_stack(tws, land, area, start, end, global_grid(STACK_GRIDS[
                    list(STACK_GRIDS)[self.parameterAsEnum(parameters, self.STACK_GRID, context)]]))
            names = [str(m) for m in stack.months]
            write_raster(raster, stack.gws_mm, stack.grid.with_nodata(NODATA), names,
                         metadata={"units": "mm of water", "quantity": "groundwater storage anomaly (ΔGWS)",
                                   "baseline": f"{result.baseline_start}/{result.baseline_end}",
                                   "months": ",".join(names)})
            feedback.pushInfo(f"Raster stack: {len(names)} bands, {stack.grid.width} × {stack.grid.height} cells")
            finish_raster_output(context, raster, "ΔGWS (mm)", self.OUTPUT_RASTER,
                                 lambda layer: styles.style_diverging(layer, "mm"))
            results[self.OUTPUT_RASTER] = raster
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            results[self.REPORT] = write_storage_report(report, result, trend, stack)
        feedback.setProgress(100)
        return results

    @staticmethod
    def _log(feedback, result, trend):
        feedback.pushInfo(f"Area {result.area_km2:,.0f} km²; baseline {result.baseline_start} … "
                          f"{result.baseline_end}; {result.months.size} months {result.months[0]} … "
                          f"{result.months[-1]}")
        for product in result.products:
            feedback.pushInfo(f"  {product.source} {TERM_NAMES[product.term]}: {product.cells} cells of "
                              f"{product.resolution_deg[0]:g}° × {product.resolution_deg[1]:g}°")
        if result.below_grace_resolution:
            feedback.pushWarning(f"The area ({result.area_km2:,.0f} km²) is smaller than one GRACE footprint (about "
                                 f"{GRACE_RESOLUTION_KM:.0f} km): the series is the regional signal of the cells "
                                 "that overlap it, not the area's own")
        if result.missing_terms:
            feedback.pushWarning("No model gives " + ", ".join(TERM_NAMES[t] for t in result.missing_terms)
                                 + ": counted as 0")
        gaps = np.flatnonzero(np.diff(result.months.astype(np.int64)) > 1)
        for i in gaps:
            feedback.pushInfo(f"No GRACE solution from {result.months[i] + 1} to {result.months[i + 1] - 1} "
                              "(left absent)")
        feedback.pushInfo(f"ΔGWS trend {trend.slope_mm_per_year:+.2f} mm/yr, {100 * trend.confidence:.0f} % interval "
                          f"{trend.ci_low_mm_per_year:+.2f} … {trend.ci_high_mm_per_year:+.2f} "
                          f"({trend.n} months, {trend.n_eff:.0f} effective); annual amplitude "
                          f"{trend.annual_amplitude_mm:.1f} mm")
