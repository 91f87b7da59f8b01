"""subsidence:importinsarseries - InSAR points with displacement series (EGMS CSV, other CSV, point layers) into
one point layer in the plugin's convention (mm, DYYYYMMDD fields): CSV series streamed through a temporary file,
the output written a block of points at a time."""
from __future__ import annotations

import os

import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsProcessing, QgsProcessingException, QgsProcessingParameterCrs,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber, QgsProcessingParameterPoint, QgsProviderRegistry, QgsUnitTypes)

from ...core.io.csv_points import (EGMS_PROJECTED_EPSG, WGS84_EPSG, coordinate_columns, csv_header, is_geographic_pair,
                                   read_csv_points)
from ...core.io.points import date_field_name, transform_points
from ...core.io.row_store import RowStore
from ...core.spatial.polygons import points_in_polygons
from ...core.timeseries.insar_points import (FORMATS, detect_format, duplicate_points, insar_points, merge_sources,
                                             reference_series, rereferenced)
from .. import styles
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors
from ..inputs import feature_wkbs, ogr_file_of, read_layer_points
from ..outputs import PointOutput

FORMAT_LABELS = ["Automatic", "EGMS L2a / L2b CSV", "EGMS L3 CSV", "Other CSV or point layer"]
UNIT_LABELS = ["Automatic (EGMS: mm; otherwise mm, with a warning)", "mm", "cm", "m"]
UNIT_CODES = [None, "mm", "cm", "m"]
REFERENCE_LABELS = ["None (as the source)", "The measurement point nearest to a location",
                    "The mean of the points inside an area"]
TEXT_EXTENSIONS = (".csv", ".txt", ".tsv")
WRITE_BLOCK = 20000  # points written at a time (20000 x 300 dates: 24 MB of float32 series)


class ImportInsarSeries(SubsidenceAlgorithm):
    NAME = "importinsarseries"
    DISPLAY_NAME = "Import InSAR point time series"
    GROUP = "Time series"
    HELP = (
        "<p>Reads InSAR measurement points with their displacement series and writes one point layer in the "
        "plugin's convention: <b>pid</b> (text), <b>VEL_MM_YR</b> (mm/yr), <b>VEL_STD_MM_YR</b> and "
        "<b>LOS_E</b>, <b>LOS_N</b>, <b>LOS_U</b> (when the source has them), the source's other fields "
        "(quality: rmse, coherence, height ...) as they are, and one <b>DYYYYMMDD</b> field a date with the "
        "line-of-sight displacement in <b>mm</b> (negative = away from the satellite).</p>"
        "<p><b>Sources</b> (one or several; tiles are merged): EGMS L2a / L2b / L3 CSV downloads (columns "
        "<i>pid, easting, northing</i> in EPSG:3035 or <i>latitude, longitude</i>, <i>mean_velocity</i>, "
        "<i>mean_velocity_std</i>, <i>los_east/north/up</i>, one <i>YYYYMMDD</i> column a date, mm); other "
        "CSV files with <i>x, y</i> / <i>easting, northing</i> / <i>lon, lat</i> columns (give their CRS, "
        "longitude / latitude default to EPSG:4326); point layers (GeoPackage, shapefile ...) with "
        "<i>DYYYYMMDD</i>, <i>D_YYYYMMDD</i> or <i>YYYYMMDD</i> fields, such as ESA GEP P-SBAS exports "
        "(<i>ID, Vel, cosE/cosN/cosU</i>; multipoints become one point a part).</p>"
        "<p><b>Units</b>: EGMS is in mm. Other sources carry no units: give them (Doñana's P-SBAS fields are "
        "cm); the velocity field is read in the same unit per year. Everything is converted to mm and the log "
        "says which unit was used. A velocity field is recognised by name (mean_velocity, velocity, vel); "
        "without one the velocity is the least-squares slope of the series.</p>"
        "<p><b>Duplicates</b>: points with the same pid, and points of different inputs closer than the "
        "duplicate distance (the overlaps of neighbouring bursts or tiles), keep the one with the lowest "
        "<i>rmse</i> (else the highest coherence); the others are dropped and counted in the log. Points of one "
        "input at one position are distinct measurement points and kept. Dates missing from one tile are "
        "NULL.</p>"
        "<p><b>Re-referencing</b> (optional): subtract from every series the series of the measurement point "
        "nearest to a location, or the mean series of the points inside an area (a stable zone), and its "
        "velocity from the velocities.</p>"
        "<p><b>Large inputs</b>: CSV files are read in blocks and their series go to a temporary file until they "
        "are written, so memory grows with the points' other fields (about 0.8 GB for 10<sup>6</sup> EGMS points), "
        "not with the dates; a GeoPackage output is written straight through SQLite with its spatial index "
        "(10<sup>6</sup> points × 300 dates: about a minute on two cores, about twice as fast as ogr2ogr). Point "
        "layers are read whole.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers(
            "INPUT", "InSAR points: EGMS CSV files, other CSV files or point layers", QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterEnum("FORMAT", "Format", FORMAT_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("UNITS", "Units of the displacement in the source",
                                                     UNIT_LABELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterCrs(
            "CSV_CRS", "CRS of the coordinate columns of other CSV files (default: EPSG:4326 for longitude / "
            "latitude)", optional=True))
        self.addParameter(QgsProcessingParameterEnum("REFERENCE", "Re-reference the series to", REFERENCE_LABELS,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterPoint("REFERENCE_POINT", "Reference location", optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(
            "REFERENCE_AREA", "Reference area (polygons)", [QgsProcessing.TypeVectorPolygon], optional=True))
        add_advanced(self, QgsProcessingParameterNumber("DUPLICATE_DISTANCE", "Duplicate distance (m)",
                                                        QgsProcessingParameterNumber.Double, 1.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "InSAR points with series (mm)",
                                                            QgsProcessing.TypeVectorPoint))

    def process(self, parameters, context, feedback):
        stores = []  # the temporary files of the CSV files' series, removed however the run ends
        try:
            return self._import(parameters, context, feedback, stores)
        finally:
            for store in stores:
                store.close()

    def _import(self, parameters, context, feedback, stores):
        layers = self.parameterAsLayerList(parameters, "INPUT", context)
        if not layers:
            raise QgsProcessingException("Give at least one file or point layer with InSAR points")
        chosen_format = FORMATS[self.parameterAsEnum(parameters, "FORMAT", context)]
        units = UNIT_CODES[self.parameterAsEnum(parameters, "UNITS", context)]
        csv_crs = self.parameterAsCrs(parameters, "CSV_CRS", context)
        sources, target_crs = [], None
        for number, layer in enumerate(layers, start=1):
            if feedback.isCanceled():
                raise QgsProcessingException("Cancelled: no output was written")
            label = f"{layer.name()}"
            share = (number - 1, len(layers))
            table, crs, source_format = self._read(layer, chosen_format, csv_crs, context, feedback, label, share)
            if isinstance(table.series, RowStore):
                stores.append(table.series)
            if target_crs is None:
                target_crs = crs
            table.x, table.y = transform_points(table.x, table.y, crs.toWkt(), target_crs.toWkt())
            source_units = units or "mm"
            if units is None and not source_format.startswith("egms"):
                feedback.pushWarning(f"{label}: the units of the displacement are not known; mm assumed (set "
                                     "'Units of the displacement in the source' if they are cm or m)")
            with processing_errors(prefix=label):
                points = insar_points(table.x, table.y, table.dates, table.series, table.attributes,
                                      source_units, source_format)
            feedback.pushInfo(f"{label}: {len(points)} points, {points.dates.size} dates "
                              f"({points.dates[0]} .. {points.dates[-1]}), {source_format.replace('_', ' ')}, "
                              f"displacement in {source_units} converted to mm"
                              + ("; velocity refitted from the series" if points.velocity_refitted else ""))
            sources.append(points)
            feedback.setProgress(40.0 * number / len(layers))
        points = merge_sources(sources)
        with processing_errors():
            drop = duplicate_points(points, self._metric_distance(parameters, context, points, target_crs))
        if drop.any():
            feedback.pushInfo(f"{int(drop.sum())} duplicated point(s) (same pid, or within the duplicate distance "
                              "of a point of another input) removed, keeping the lowest rmse (else the highest "
                              "coherence)")
            points = points.take(~drop)
        points = self._rereference(parameters, context, feedback, points, target_crs)
        feedback.setProgress(50)
        dest = self._write(parameters, context, feedback, points, target_crs)
        velocity = points.velocity[np.isfinite(points.velocity)]
        vmax = styles.nice_limit(float(np.percentile(np.abs(velocity), 98))) if velocity.size else 10.0
        self.output_stylers = {"OUTPUT": lambda layer: styles.style_points_diverging(layer, "VEL_MM_YR", "mm/yr",
                                                                                      vmax)}
        feedback.pushInfo(f"Wrote {len(points)} points with {points.dates.size} dates (mm)")
        return {"OUTPUT": dest}

    def _read(self, layer, chosen_format, csv_crs, context, feedback, label, share):
        """(PointTable, its CRS, format) of one input layer or file; ``share``: (inputs read, inputs), for the
        progress of reading a CSV file (its series go to a temporary file)."""
        path = _text_file_of(layer)
        if path is None:
            if chosen_format.startswith("egms"):
                raise QgsProcessingException(f"{label}: EGMS data come as CSV files; this is a "
                                             f"{layer.providerType()} layer")
            if not layer.isSpatial():
                raise QgsProcessingException(f"{label}: the layer has no geometries (a CSV file needs "
                                             "coordinate columns)")
            return read_layer_points(layer, layer.crs(), context, feedback, label), layer.crs(), "generic"
        with processing_errors(prefix=label):
            names, _ = csv_header(path)
            source_format = detect_format(names)
            if chosen_format != "auto" and chosen_format != source_format:
                if chosen_format.startswith("egms") or source_format.startswith("egms"):
                    raise ValueError(f"the columns are those of {source_format.replace('_', ' ')}, not of "
                                     f"{chosen_format.replace('_', ' ')}")
            pair = coordinate_columns(names)
            if pair is None:
                raise ValueError("no coordinate columns (easting / northing, x / y, longitude / latitude)")
            if is_geographic_pair(pair):
                crs = QgsCoordinateReferenceSystem(f"EPSG:{WGS84_EPSG}")
            elif source_format.startswith("egms"):
                crs = QgsCoordinateReferenceSystem(f"EPSG:{EGMS_PROJECTED_EPSG}")
            elif csv_crs.isValid():
                crs = csv_crs
            else:
                raise ValueError(f"the CRS of the columns {pair[0]} / {pair[1]} is not known: give it")
            done, inputs = share

            def progress(percent, _message):
                feedback.setProgress(40.0 * (done + percent / 100.0) / inputs)

            return read_csv_points(path, crs.toWkt(), pair, progress, feedback.isCanceled), crs, source_format

    def _metric_distance(self, parameters, context, points, crs) -> float:
        """The duplicate distance in the units of ``crs`` (degrees for a geographic CRS, at the points'
        latitude, the smaller of the two axes' scales)."""
        metres = self.parameterAsDouble(parameters, "DUPLICATE_DISTANCE", context)
        if not crs.isGeographic():
            return metres
        latitude = float(np.nanmean(points.y)) if len(points) else 0.0
        return metres / (111_320.0 * max(np.cos(np.radians(latitude)), 1e-6))

    def _rereference(self, parameters, context, feedback, points, crs):
        mode = self.parameterAsEnum(parameters, "REFERENCE", context)
        if mode == 0:
            return points
        if mode == 1:
            if parameters.get("REFERENCE_POINT") in (None, ""):
                raise QgsProcessingException("Give the reference location")
            location = self.parameterAsPoint(parameters, "REFERENCE_POINT", context, crs)
            distance = np.hypot(points.x - location.x(), points.y - location.y())
            nearest = int(np.argmin(distance))
            unit = QgsUnitTypes.toAbbreviatedString(crs.mapUnits())
            feedback.pushInfo(f"Re-referenced to point {points.pid[nearest]} ({distance[nearest]:.1f} {unit} from "
                              "the location)")
            members = nearest
        else:
            area = self.parameterAsSource(parameters, "REFERENCE_AREA", context)
            if area is None:
                raise QgsProcessingException("Give the reference area")
            wkbs = feature_wkbs(area, crs, context, feedback, "Reference area")
            members = np.flatnonzero(points_in_polygons(points.x, points.y, wkbs))
            if members.size == 0:
                raise QgsProcessingException("No measurement point lies inside the reference area")
            feedback.pushInfo(f"Re-referenced to the mean series of the {members.size} point(s) inside the area")
        with processing_errors():
            return rereferenced(points, reference_series(points, members))

    def _write(self, parameters, context, feedback, points, crs):
        """Write the points a block at a time (their series are read block by block); count the gaps."""
        columns = [("pid", "string", points.pid), ("VEL_MM_YR", "double", points.velocity)]
        if np.isfinite(points.velocity_std).any():
            columns.append(("VEL_STD_MM_YR", "double", points.velocity_std))
        for index, name in enumerate(("LOS_E", "LOS_N", "LOS_U")):
            if np.isfinite(points.los[:, index]).any():
                columns.append((name, "double", points.los[:, index]))
        date_names = [date_field_name(date) for date in points.dates]
        taken = {name.lower() for name, _, _ in columns} | {name.lower() for name in date_names} | {"fid", "geom"}
        for name, values in points.attributes.items():
            if name.lower() in taken:
                feedback.pushWarning(f"Source field {name!r} left out: the output has a field of that name")
                continue
            columns.append((name, "double" if values.dtype.kind in "fiub" else "string", values))
        fields = [(name, kind) for name, kind, _ in columns] + [(name, "double") for name in date_names]
        gaps, gappy = 0, 0
        with PointOutput(self, parameters, "OUTPUT", context, crs, fields, feedback) as output:
            for start in range(0, len(points), WRITE_BLOCK):
                stop = min(len(points), start + WRITE_BLOCK)
                series = points.displacement[start:stop]
                missing = np.isnan(series)
                gaps, gappy = gaps + int(missing.sum()), gappy + int(missing.any(axis=1).sum())
                output.add(points.x[start:stop], points.y[start:stop],
                           [values[start:stop] for _, _, values in columns] + [series])
                feedback.setProgress(50.0 + 50.0 * stop / len(points))
        if gaps:
            feedback.pushWarning(f"{gaps} value(s) missing in the series of {gappy} point(s) (a tile without the "
                                 "date, or NULL in the source): kept as NULL")
        return output.dest


def _text_file_of(layer):
    """The delimited text file behind a layer (OGR CSV or QGIS delimited text), else None."""
    path, _ = ogr_file_of(layer)
    if path is None and layer.providerType() == "delimitedtext":
        path = QgsProviderRegistry.instance().decodeUri("delimitedtext", layer.source()).get("path")
    if path and os.path.splitext(path)[1].lower() in TEXT_EXTENSIONS:
        return path
    return None
