"""subsidence:validatewithgnss - InSAR points against GNSS stations: for every station the points within a radius,
velocity RMSE and bias, series RMSE, before and after screening (seed 002 §IV-A)."""
from __future__ import annotations

import math

import numpy as np
from qgis.core import (QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeatureRequest, QgsPointXY,
                       QgsProcessing, QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterEnum,
                       QgsProcessingParameterFeatureSink, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterMultipleLayers, QgsProcessingParameterNumber)

from ...core.io.points import transform_points
from ...core.io.vectors import read_table
from ...core.points.gnss import (TABLE_LAYOUT, PointSet, compare_stations, gnss_report, los_of_attributes,
                                 read_gnss_file, stations_from_table)
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors, progress_adapter
from ..inputs import metric_crs, ogr_file_of, read_point_layer
from ..outputs import point_sink

COMPONENTS = ["Line of sight (GNSS projected on each point's LOS vector; vertical where a point has none)",
              "Vertical (InSAR LOS divided by the LOS up component, assuming no horizontal motion)"]
SERIES_FIELDS = "one field a date named DYYYYMMDD, D_YYYYMMDD or YYYYMMDD (mm)"
RESULT_FIELDS = (("N_POINTS", "int", "n_points"), ("N_DATES", "int", "n_dates"),
                 ("GNSS_VEL", "double", "gnss_velocity"), ("GNSS_VEL_SE", "double", "gnss_velocity_se"),
                 ("INSAR_VEL", "double", "insar_velocity"), ("VEL_RMSE", "double", "velocity_rmse"),
                 ("VEL_BIAS", "double", "velocity_bias"), ("SERIES_RMSE", "double", "series_rmse"))


class ValidateWithGnss(SubsidenceAlgorithm):
    NAME = "validatewithgnss"
    DISPLAY_NAME = "Validate with GNSS stations"
    GROUP = "InSAR points"
    HELP = (
        "<p>Compares InSAR points with GNSS stations as seed 002 (§IV-A) does: for every station the points within "
        "the <b>radius</b> (m, default 1000), the velocity <b>RMSE</b> and <b>bias</b> (InSAR − GNSS, mm/yr) and the "
        "series RMSE (mm); given the screened points too, before and after screening (the seed: 1.79 cm/yr "
        "after).</p>"
        "<p><b>GNSS series</b>: files of the Nevada Geodetic Laboratory (<i>.tenv3</i>, east / north / up in m), "
        "EarthScope / UNAVCO PBO <i>.pos</i> (dN, dE, dU in m) or tables, and / or a table layer, with the columns "
        f"<i>{TABLE_LAYOUT}</i> (as the sample area's <i>gps_daily</i>). Positions from the files' latitude and "
        "longitude (WGS84), or from the <b>stations</b> point layer, joined by the station field (found "
        "automatically: the field whose values match the stations' names), which takes precedence.</p>"
        f"<p><b>InSAR points</b>: {SERIES_FIELDS}, negative = away from the satellite / subsidence; an optional "
        "velocity field (mm/yr; else the velocity is fitted over the period shared with each station); the LOS "
        "unit vector from the ground to the satellite from the fields <i>LOS_E/N/U</i> (importinsarseries), "
        "<i>los_east/north/up</i> (EGMS) or <i>cosE/cosN/cosU</i> (P-SBAS), or from incidence and heading (fields "
        "or the advanced parameters, degrees; heading = flight direction clockwise from north, right-looking: "
        "(e, n, u) = (−sin θ cos α, sin θ sin α, cos θ), Fialko et al. 2001). d_LOS = e·E + n·N + u·U.</p>"
        "<p><b>Method</b>: velocities by least squares over the period GNSS and InSAR share; GNSS days averaged within "
        "± the half window (days) of each InSAR date; each series' mean over the dates both have is removed before "
        "the series RMSE (pooled over the points). A station without east / north is projected with U alone "
        "(horizontal motion taken as zero). A geographic CRS is handled in an azimuthal equidistant projection "
        "centred on the points (metres).</p>"
        "<p><b>Output</b>: one point a station (the points' CRS) with <i>STATION, STATUS, N_POINTS, N_DATES, "
        "GNSS_VEL, GNSS_VEL_SE, INSAR_VEL, VEL_RMSE, VEL_BIAS</i> (mm/yr) and <i>SERIES_RMSE</i> (mm), and the same "
        "with <i>_AFTER</i> for the screened points; the optional HTML report has the table, a map and each "
        "station's GNSS series over the nearby InSAR series.</p>")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("INPUT", "InSAR points with DYYYYMMDD series (mm)",
                                                              [QgsProcessing.TypeVectorPoint]))
        self.addParameter(QgsProcessingParameterField("VELOCITY_FIELD", "Velocity field (mm/yr; empty: fitted)",
                                                      parentLayerParameterName="INPUT", optional=True,
                                                      type=QgsProcessingParameterField.Numeric))
        self.addParameter(QgsProcessingParameterFeatureSource("SCREENED", "Screened points (after), optional",
                                                              [QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers("GNSS_FILES", "GNSS files (.tenv3, .pos, .csv)",
                                                               QgsProcessing.TypeFile, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource("GNSS_TABLE", f"GNSS table ({TABLE_LAYOUT})",
                                                              [QgsProcessing.TypeVector], optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource("STATIONS", "GNSS stations (points)",
                                                              [QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(QgsProcessingParameterField("STATION_FIELD", "Station name field (empty: found)",
                                                      parentLayerParameterName="STATIONS", optional=True))
        self.addParameter(QgsProcessingParameterNumber("RADIUS", "Radius (m)", QgsProcessingParameterNumber.Double,
                                                       1000.0, minValue=1.0))
        self.addParameter(QgsProcessingParameterEnum("COMPONENT", "Compare", COMPONENTS, defaultValue=0))
        add_advanced(self, QgsProcessingParameterNumber("INCIDENCE", "Incidence angle (degrees) when the points have "
                                                        "no LOS fields", QgsProcessingParameterNumber.Double,
                                                        optional=True, minValue=0.0, maxValue=90.0))
        add_advanced(self, QgsProcessingParameterNumber("HEADING", "Satellite heading (degrees clockwise from north)",
                                                        QgsProcessingParameterNumber.Double, optional=True,
                                                        minValue=-360.0, maxValue=360.0))
        add_advanced(self, QgsProcessingParameterNumber("WINDOW_DAYS", "GNSS averaged within ± days of an InSAR date",
                                                        QgsProcessingParameterNumber.Integer, 3, minValue=0))
        self.addParameter(QgsProcessingParameterFeatureSink("OUTPUT", "GNSS stations compared",
                                                            QgsProcessing.TypeVectorPoint))
        self.addParameter(QgsProcessingParameterFileDestination("REPORT", "Report", "HTML files (*.html)",
                                                                optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("VELOCITY_RMSE", "Velocity RMSE over all stations (mm/yr)"))
        self.addOutput(QgsProcessingOutputNumber("VELOCITY_RMSE_AFTER", "Velocity RMSE after screening (mm/yr)"))
        self.addOutput(QgsProcessingOutputNumber("SERIES_RMSE", "Series RMSE over all stations (mm)"))
        self.addOutput(QgsProcessingOutputNumber("SERIES_RMSE_AFTER", "Series RMSE after screening (mm)"))

    def process(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, "INPUT", context)
        if source is None:
            raise QgsProcessingException("InSAR points: no layer was given")
        crs = source.sourceCrs()
        tables = {"all points": self._series_points(parameters, "INPUT", context, crs, feedback, "InSAR points")}
        if self.parameterAsSource(parameters, "SCREENED", context) is not None:
            tables["screened"] = self._series_points(parameters, "SCREENED", context, crs, feedback,
                                                     "Screened points")
        metric = metric_crs(crs, tables["all points"])
        if crs.isGeographic():
            feedback.pushInfo(f"The points' CRS is geographic: distances in {metric.toProj()}")
        sets = {label: self._point_set(parameters, table, context, crs, metric, feedback, label)
                for label, table in tables.items()}
        stations, xy = self._stations(parameters, context, crs, feedback)
        dates = sets["all points"].dates
        overlapping = [s for s in stations if s.dates[0] < dates[-1] and s.dates[-1] > dates[0]]
        if not overlapping:
            raise QgsProcessingException(
                f"No GNSS station overlaps the InSAR in time (InSAR {dates[0]} … {dates[-1]}; " + "; ".join(
                    f"{s.name} {s.dates[0]} … {s.dates[-1]}" for s in stations[:5]) + ")")
        mx, my = transform_points(xy[:, 0], xy[:, 1], crs.toWkt(), metric.toWkt())
        radius = self.parameterAsDouble(parameters, "RADIUS", context)
        vertical = self.parameterAsEnum(parameters, "COMPONENT", context) == 1
        window = self.parameterAsInt(parameters, "WINDOW_DAYS", context)
        with_los = any(np.isfinite(p.los).all(axis=1).any() for p in sets.values())
        for station in stations:
            if not station.has_horizontal and with_los and not vertical:
                feedback.pushInfo(f"{station.name}: no east / north; projected on the LOS with U alone (horizontal "
                                  "motion taken as zero)")
        results = {}
        for label, points in sets.items():
            with processing_errors():
                results[label] = compare_stations(stations, np.column_stack([mx, my]), points, radius, vertical,
                                                  window, progress_adapter(feedback), feedback.isCanceled)
        compared = [r for r in results["all points"] if r.status == "ok"]
        for r in results["all points"]:
            if r.status != "ok":
                feedback.pushWarning(f"Station {r.station}: {r.status}")
        if not compared:
            raise QgsProcessingException("No GNSS station could be compared: " + "; ".join(
                f"{r.station}: {r.status}" for r in results["all points"]))
        columns = [("STATION", "string", np.array([s.name for s in stations], dtype=object)),
                   ("STATUS", "string", np.array([r.status for r in results["all points"]], dtype=object))]
        for suffix, label in (("", "all points"), ("_AFTER", "screened")):
            if label in results:
                columns += [(name + suffix, kind, np.array([getattr(r, key) for r in results[label]], dtype=float))
                            for name, kind, key in RESULT_FIELDS]
        dest = point_sink(self, parameters, "OUTPUT", context, crs, xy[:, 0], xy[:, 1], columns, feedback)
        outputs = {"OUTPUT": dest}
        for suffix, label in (("", "all points"), ("_AFTER", "screened")):
            outputs["VELOCITY_RMSE" + suffix] = _pooled_rmse(results[label]) if label in results else math.nan
            outputs["SERIES_RMSE" + suffix] = _pooled_series_rmse(results[label]) if label in results else math.nan
            if label in results:
                feedback.pushInfo(f"Velocity RMSE ({label}): {outputs['VELOCITY_RMSE' + suffix]:.2f} mm/yr, series "
                                  f"RMSE {outputs['SERIES_RMSE' + suffix]:.2f} mm over "
                                  f"{sum(r.n_points for r in results[label] if r.status == 'ok')} points near "
                                  f"{sum(r.status == 'ok' for r in results[label])} station(s)")
        report = self.parameterAsFileOutput(parameters, "REPORT", context)
        if report:
            gnss_report(report, "InSAR points against GNSS stations", results, np.column_stack([mx, my]),
                        {label: (p.x, p.y) for label, p in sets.items()},
                        "vertical" if vertical or not with_los else "LOS", radius)
            outputs["REPORT"] = report
        return outputs

    def _series_points(self, parameters, key, context, crs, feedback, label):
        """The `PointTable` of a point layer in ``crs``; a clear error without series."""
        table = read_point_layer(self, parameters, key, context, crs, feedback, label)
        if not table.has_series:
            raise QgsProcessingException(f"{label}: the layer has no displacement series; it needs {SERIES_FIELDS}")
        feedback.pushInfo(f"{label}: {len(table)} points, {table.dates.size} dates ({table.dates[0]} … "
                          f"{table.dates[-1]})")
        return table

    def _point_set(self, parameters, table, context, crs, metric, feedback, label) -> PointSet:
        """A layer's points in metres with their series, velocity (field or NaN) and LOS vectors."""
        field = self.parameterAsString(parameters, "VELOCITY_FIELD", context)
        if field and field not in table.attributes:
            feedback.pushWarning(f"{label}: no field {field!r}; the velocities are fitted to the series")
        with processing_errors(prefix=label):
            velocity = table.numeric(field) if field in table.attributes else np.full(len(table), np.nan)
            los, note = los_of_attributes(table.attributes, *self._angles(parameters))
        feedback.pushInfo(f"{label}: {note}")
        x, y = transform_points(table.x, table.y, crs.toWkt(), metric.toWkt())
        return PointSet(x, y, table.dates, table.series, velocity, los)

    @staticmethod
    def _angles(parameters):
        """(incidence, heading) in degrees when both are given, else (None, None)."""
        values = [parameters.get(key) for key in ("INCIDENCE", "HEADING")]
        if any(value is None or value == "" for value in values):
            return None, None
        return float(values[0]), float(values[1])

    def _stations(self, parameters, context, crs, feedback):
        """The GNSS stations (files and table) that have a position, and their positions (stations x 2) in ``crs``."""
        stations = []
        for path in filter(None, self.parameterAsFileList(parameters, "GNSS_FILES", context)):
            with processing_errors(prefix="GNSS file"):
                stations += read_gnss_file(path)
        table = self.parameterAsVectorLayer(parameters, "GNSS_TABLE", context)
        if table is not None:
            with processing_errors(prefix="GNSS table"):
                stations += stations_from_table(_table_columns(table, feedback), table.name())
        if not stations:
            raise QgsProcessingException("No GNSS series: give GNSS files (.tenv3, .pos, .csv) or a GNSS table "
                                         f"({TABLE_LAYOUT})")
        for station in stations:
            feedback.pushInfo(f"GNSS {station.name}: {station.dates.size} days, {station.dates[0]} … "
                              f"{station.dates[-1]}{'' if station.has_horizontal else ', up only'}")
        xy = np.array([[s.lon, s.lat] for s in stations], dtype=np.float64)
        to_points = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), crs, context.transformContext())
        for row in np.flatnonzero(np.isfinite(xy).all(axis=1)):
            point = to_points.transform(QgsPointXY(*xy[row]))
            xy[row] = point.x(), point.y()
        if self.parameterAsSource(parameters, "STATIONS", context) is not None:
            xy = self._layer_positions(parameters, context, crs, feedback, stations, xy)
        placed = np.isfinite(xy).all(axis=1)
        for station in [s for s, ok in zip(stations, placed) if not ok]:
            feedback.pushWarning(f"GNSS {station.name}: no position (no latitude / longitude in its file and no "
                                 "point in the stations layer); left out")
        if not placed.any():
            raise QgsProcessingException("No GNSS station has a position: give the stations as a point layer with "
                                         "their names, or files with latitude and longitude")
        return [s for s, ok in zip(stations, placed) if ok], xy[placed]

    def _layer_positions(self, parameters, context, crs, feedback, stations, xy):
        """``xy`` with the positions of the stations layer's points whose name field matches a station."""
        layer = read_point_layer(self, parameters, "STATIONS", context, crs, feedback, "GNSS stations")
        names = {s.name for s in stations}
        field = self.parameterAsString(parameters, "STATION_FIELD", context) or max(
            layer.attributes, key=lambda f: len(names & {str(v).strip() for v in layer.attributes[f].tolist()}),
            default=None)
        keys = [str(v).strip() for v in layer.attributes[field].tolist()] if field else []
        if not names & set(keys):
            raise QgsProcessingException(f"GNSS stations: no field matches the stations' names "
                                         f"({', '.join(sorted(names)[:5])}); choose the station field")
        where = {key: i for i, key in enumerate(keys)}
        xy = xy.copy()
        for row, station in enumerate(stations):
            if station.name in where:
                xy[row] = layer.x[where[station.name]], layer.y[where[station.name]]
        feedback.pushInfo(f"GNSS stations joined to the layer by {field!r}")
        return xy


def _pooled_rmse(results) -> float:
    """RMSE of the velocity differences of every point of every compared station (mm/yr)."""
    differences = np.concatenate([r.velocity_difference for r in results if r.status == "ok"] or [np.zeros(0)])
    differences = differences[np.isfinite(differences)]
    return float(np.sqrt(np.mean(differences ** 2))) if differences.size else math.nan


def _pooled_series_rmse(results) -> float:
    """RMSE of the aligned series differences of every point and common date of every compared station (mm)."""
    pairs = sum(r.series_pairs for r in results if r.status == "ok")
    squares = sum(r.series_rmse ** 2 * r.series_pairs for r in results if r.status == "ok" and r.series_pairs)
    return float(math.sqrt(squares / pairs)) if pairs else math.nan


def _table_columns(layer, feedback) -> dict:
    """The attribute columns of a table layer: column-wise from an OGR file, else feature by feature (dates as
    ISO text)."""
    from qgis.core import NULL
    from qgis.PyQt.QtCore import QDate, QDateTime

    path, name = ogr_file_of(layer)
    if path is not None and name is not None:
        return read_table(path, name)
    names = layer.fields().names()
    rows = []
    for feature in layer.getFeatures(QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)):
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        rows.append(feature.attributes())

    def plain(value):
        if isinstance(value, QDateTime):
            value = value.date()
        if isinstance(value, QDate):
            return value.toString("yyyy-MM-dd")
        return None if value == NULL else value

    return {n: np.array([plain(row[i]) for row in rows], dtype=object) for i, n in enumerate(names)}
