"""subsidence:createsamplearea - write the synthetic sample study area and load it, styled."""
from __future__ import annotations

import json

from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingOutputRasterLayer, QgsProcessingOutputString,
                       QgsProcessingOutputVectorLayer, QgsProcessingParameterFolderDestination,
                       QgsProcessingParameterNumber, QgsRasterLayer, QgsVectorLayer)

from ...core.sample_area import LAND_USE_CLASSES, create_sample_area
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..outputs import load_on_completion

RASTERS = {  # output key -> (file key, layer name)
    "DEM": ("dem", "DEM (m)"),
    "LANDUSE": ("landuse", "Land use"),
    "IMAGE": ("image", "Image (green, red, NIR, SWIR)"),
    "THICKNESS": ("thickness", "Compressible thickness (m)"),
    "INTERBED_THICKNESS": ("interbed_thickness", "Interbed thickness b0 (m)"),
    "VERTICAL_CONDUCTIVITY": ("vertical_conductivity", "Interbed vertical conductivity K'v (m/s)"),
    "GROUNDWATER_DECLINE": ("groundwater_decline", "Groundwater decline (m)"),
    "TRUTH_DISPLACEMENT": ("truth_displacement", "True cumulative displacement (mm)"),
    "TRUTH_VELOCITY": ("truth_velocity", "True velocity (mm/yr)"),
}
VECTORS = {  # output key -> (GeoPackage layer, layer name)
    "PS_POINTS": ("ps_points", "PS points"),
    "DS_POINTS": ("ds_points", "DS points"),
    "RIVERS": ("rivers", "Rivers"),
    "FAULTS": ("faults", "Faults"),
    "WELLS": ("wells", "Pumping wells"),
    "PIEZOMETERS": ("piezometers", "Piezometers"),
    "GPS_STATIONS": ("gps_stations", "GPS stations"),
    "GPS_DAILY": ("gps_daily", "GPS daily series"),
}


def style_sample_area(rasters: dict, vector_path: str, vmax_mm: float, vmax_rate: float) -> None:
    """Style every layer of a written sample area and save the styles as their defaults."""
    stylers = {
        "dem": styles.style_terrain,
        "landuse": lambda lyr: styles.style_categories(
            lyr, {k: (v, styles.LAND_USE[k][1]) for k, v in LAND_USE_CLASSES.items()}),
        "image": lambda lyr: styles.style_false_colour(lyr, 3, 2, 1),
        "thickness": lambda lyr: styles.style_sequential(lyr, "m", colours=styles.WARM),
        "interbed_thickness": lambda lyr: styles.style_sequential(lyr, "m", colours=styles.WARM),
        "vertical_conductivity": lambda lyr: styles.style_sequential(lyr, "m/s"),
        "groundwater_decline": lambda lyr: styles.style_sequential(lyr, "m"),
        "truth_displacement": lambda lyr: styles.style_diverging(lyr, "mm", vmax=vmax_mm),
        "truth_velocity": lambda lyr: styles.style_diverging(lyr, "mm/yr", vmax=vmax_rate),
    }
    for key, path in rasters.items():
        layer = QgsRasterLayer(path, key)
        stylers[key](layer)
        styles.save_default_style(layer)
    vector_stylers = {
        "ps_points": lambda lyr: styles.style_points_diverging(lyr, "velocity", "mm/yr", vmax_rate),
        "ds_points": lambda lyr: styles.style_points_diverging(lyr, "velocity", "mm/yr", vmax_rate, size=1.2),
        "rivers": lambda lyr: styles.style_line(lyr, "#2b83ba", 0.8),
        "faults": lambda lyr: styles.style_line(lyr, "#8b0000", 0.7, dashed=True),
        "wells": lambda lyr: styles.style_marker(lyr, "triangle", "#e31a1c", 3.5),
        "piezometers": lambda lyr: styles.style_marker(lyr, "circle", "#1f78b4", 3.0),
        "gps_stations": lambda lyr: styles.style_marker(lyr, "star", "#ffd700", 5.0),
    }
    for name, styler in vector_stylers.items():
        layer = QgsVectorLayer(f"{vector_path}|layername={name}", name, "ogr")
        styler(layer)
        styles.save_default_style(layer)


class CreateSampleArea(SubsidenceAlgorithm):
    NAME = "createsamplearea"
    DISPLAY_NAME = "Create sample study area"
    GROUP = "Sample data"
    HELP = (
        "<p>Writes a synthetic, physically motivated subsiding basin whose truth is known everywhere, to try "
        "every tool of the plugin and to measure how well it recovers the truth.</p>"
        "<p><b>Contents</b>: DEM with hills, basin floor and river valley (m); rivers and faults (lines); "
        "pumping wells and piezometers with monthly groundwater levels (m a.s.l., <i>D_YYYYMMDD</i> fields); "
        "land use (1 town, 2 fields, 3 rangeland); a four-band image (green, red, NIR, SWIR; reflectance "
        "x 10<sup>4</sup>, a cloud as nodata); compressible-layer thickness (m); the interbeds' equivalent thickness "
        "b<sub>0</sub> (m) and vertical hydraulic conductivity K'<sub>v</sub> (m/s), which with S'<sub>s</sub> = "
        "10<sup>-4</sup> 1/m give the basin's delay; PS points whose density follows "
        "land use (dense in town, rare in fields) with velocity (mm/yr), cumulative displacement (mm) and a "
        "12-day displacement series (<i>DYYYYMMDD</i> fields, mm); noisier DS points (distributed scatterers, "
        "in fields and rangeland) of which a quarter carry a simulated defect, named in their <i>defect</i> field "
        "(a phase-unwrapping jump of 27.7 mm, or one to three spikes of 12-20 mm): what the screening should "
        "find; GPS stations with daily series (table "
        "gps_daily); and the true cumulative displacement (mm) and velocity (mm/yr) rasters.</p>"
        "<p><b>Physics</b>: drawdown cones around the wells grow steadily with a seasonal swing; compaction is "
        "proportional to compressible thickness times drawdown and lags it with a delay growing with thickness "
        "squared (tau = b<sup>2</sup>S'<sub>s</sub>/4K'<sub>v</sub>, seeds 001 and 004). Units mm, negative = "
        "subsidence, EPSG:32613.</p>"
        "<p>The same size, cell size and seed always give the same files.</p>")

    def __init__(self):
        super().__init__()
        self._written = None  # the run's results (committed paths), styled in postProcessAlgorithm

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterNumber("SIZE", "Cells per side", QgsProcessingParameterNumber.Integer,
                                                       200, minValue=32, maxValue=20000))
        self.addParameter(QgsProcessingParameterNumber("CELL_SIZE", "Cell size (m)",
                                                       QgsProcessingParameterNumber.Double, 50.0, minValue=1.0))
        self.addParameter(QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer,
                                                       42, minValue=0))
        advanced = [
            QgsProcessingParameterNumber("WELLS", "Pumping wells", QgsProcessingParameterNumber.Integer, 12,
                                         minValue=1, maxValue=200),
            QgsProcessingParameterNumber("PIEZOMETERS", "Piezometers", QgsProcessingParameterNumber.Integer, 8,
                                         minValue=1, maxValue=200),
            QgsProcessingParameterNumber("PS_NOISE", "PS noise per acquisition (mm)",
                                         QgsProcessingParameterNumber.Double, 2.5, minValue=0.0),
        ]
        for parameter in advanced:
            add_advanced(self, parameter)
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        for key, (_, name) in RASTERS.items():
            self.addOutput(QgsProcessingOutputRasterLayer(key, name))
        for key, (_, name) in VECTORS.items():
            self.addOutput(QgsProcessingOutputVectorLayer(
                key, name, QgsProcessing.TypeVector if key == "GPS_DAILY" else QgsProcessing.TypeVectorAnyGeometry))
        self.addOutput(QgsProcessingOutputString("SUMMARY", "Summary (JSON)"))

    def process(self, parameters, context, feedback):
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        if not folder:
            raise QgsProcessingException("Choose an output folder")
        with processing_errors("no sample area was written"):
            area = create_sample_area(
                folder, size=self.parameterAsInt(parameters, "SIZE", context),
                cell_size=self.parameterAsDouble(parameters, "CELL_SIZE", context),
                seed=self.parameterAsInt(parameters, "SEED", context),
                n_wells=self.parameterAsInt(parameters, "WELLS", context),
                n_piezometers=self.parameterAsInt(parameters, "PIEZOMETERS", context),
                ps_noise_mm=self.parameterAsDouble(parameters, "PS_NOISE", context),
                progress=progress_adapter(feedback), is_cancelled=feedback.isCanceled)
        summary = area.summary
        feedback.pushInfo(f"Sample area: {summary['extent_km']:.1f} km x {summary['extent_km']:.1f} km, "
                          f"{summary['ps_points']} PS and {summary['ds_points']} DS points over "
                          f"{summary['insar_dates']} dates, "
                          f"largest subsidence {summary['max_subsidence_mm']:.0f} mm "
                          f"({summary['max_subsidence_rate_mm_yr']:.1f} mm/yr)")
        results = {"OUTPUT_FOLDER": folder, "SUMMARY": json.dumps(summary)}
        for key, (file_key, name) in RASTERS.items():
            results[key] = area.rasters[file_key]
        for key, (layer, name) in VECTORS.items():
            results[key] = f"{area.vector_path}|layername={layer}"
        for key, (_, name) in list(VECTORS.items()) + list(RASTERS.items()):
            if key != "GPS_DAILY":
                load_on_completion(context, results[key], name, key)
        return results

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        results = super().processAlgorithm(parameters, context, feedback)
        self._written = results  # the committed paths, styled in postProcessAlgorithm
        return results

    def postProcessAlgorithm(self, context, feedback):  # noqa: N802
        """Style the written layers on the main thread, before they are loaded: QGIS 3.22's raster providers made
        in a background task's thread were seen deleted under the styling (CI: test_task_dock)."""
        super().postProcessAlgorithm(context, feedback)
        if self._written:
            summary = json.loads(self._written["SUMMARY"])
            style_sample_area({file_key: self._written[key] for key, (file_key, _) in RASTERS.items()},
                              self._written["PS_POINTS"].split("|")[0], vmax_mm=summary["max_subsidence_mm"],
                              vmax_rate=summary["max_subsidence_rate_mm_yr"])
        return {}

