"""subsidence:creategroundwatersample - synthetic GRACE / GLDAS / rain-gauge files around an area, in the real
products' layouts, to try the groundwater-storage tools offline."""
from __future__ import annotations

from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsPointXY, QgsProcessingException,
                       QgsProcessingOutputFile, QgsProcessingOutputString, QgsProcessingParameterExtent,
                       QgsProcessingParameterFolderDestination, QgsProcessingParameterNumber)

from ...core.groundwater.sample import GRACE_GAP, RECHARGE_LAG_MONTHS, write_groundwater_sample
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors


class CreateGroundwaterSample(SubsidenceAlgorithm):
    NAME = "creategroundwatersample"
    DISPLAY_NAME = "Create sample GRACE and GLDAS files (synthetic)"
    GROUP = "Sample data"
    HELP = (
        "<p>Writes <b>synthetic</b> monthly files in the layouts of the real products around an area, to try "
        "<i>Groundwater storage (GRACE and GLDAS)</i> and <i>Compare monthly series</i> without downloading "
        "anything. Every file says in its metadata that it is synthetic: <b>not real data</b>.</p>"
        "<p>Over a 4° × 4° box around the centre of the <b>extent</b>, 2015-01 … 2021-12: groundwater storage "
        "declining by <b>DECLINE</b> mm/yr at the area (half as fast 2° away, as around a pumped basin) with a "
        f"seasonal recharge {RECHARGE_LAG_MONTHS:.0f} months after the rain, and soil moisture, canopy water, snow "
        "and surface runoff with their own seasons. <i>grace/</i>: JPL mascons v03 (0.5°, gain factors and land "
        "mask inside), CSR mascons (0.25°, time units in <i>Units</i>, no time bounds, one solution centred in the "
        "neighbouring month) and GFZ Tellus land grids (1°, one month missing), each with its own noise and the "
        f"{GRACE_GAP[0]} … {GRACE_GAP[1]} GRACE / GRACE-FO gap; <i>gldas/</i>: GLDAS Noah, CLSM and VIC monthly "
        "files (1°); <i>precipitation_synthetic.csv</i>: monthly totals of three rain gauges (station, date, "
        "precipitation in mm).</p>"
        "<p>For the area polygon the storage tool needs, <i>Vector ▸ Research tools ▸ Extract layer extent</i> "
        "gives one from any layer. The same extent and seed always give the same files.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterExtent("EXTENT", "Area (its centre)"))
        self.addParameter(QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer,
                                                       42, minValue=0))
        add_advanced(self, QgsProcessingParameterNumber("DECLINE", "Groundwater-storage trend at the area (mm/yr)",
                                                        QgsProcessingParameterNumber.Double, -12.0))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputString("TWS_FILES", "GRACE files (separated by ';')"))
        self.addOutput(QgsProcessingOutputString("LSM_FILES", "GLDAS files (separated by ';')"))
        self.addOutput(QgsProcessingOutputFile("PRECIPITATION", "Rain-gauge table"))

    def process(self, parameters, context, feedback):
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        if not folder:
            raise QgsProcessingException("Choose an output folder")
        extent = self.parameterAsExtent(parameters, "EXTENT", context)
        crs = self.parameterAsExtentCrs(parameters, "EXTENT", context)
        if extent.isNull() or not crs.isValid():
            raise QgsProcessingException("Area: give an extent with a coordinate reference system")
        centre = QgsCoordinateTransform(crs, QgsCoordinateReferenceSystem("EPSG:4326"), context.transformContext()) \
            .transform(QgsPointXY(extent.center()))
        with processing_errors("no sample was written"):
            sample = write_groundwater_sample(folder, centre.x(), centre.y(),
                                              seed=self.parameterAsInt(parameters, "SEED", context),
                                              decline_mm_per_year=self.parameterAsDouble(parameters, "DECLINE",
                                                                                         context))
        feedback.pushInfo(f"Synthetic sample around {centre.x():.3f}°, {centre.y():.3f}°: {len(sample.tws_files)} "
                          f"GRACE files, {len(sample.lsm_files)} GLDAS files, a rain-gauge table")
        return {"OUTPUT_FOLDER": folder, "TWS_FILES": ";".join(sample.tws_files),
                "LSM_FILES": ";".join(sample.lsm_files), "PRECIPITATION": sample.precipitation_table}
