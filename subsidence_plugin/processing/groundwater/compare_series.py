"""subsidence:compareseries - cross-correlation and lag between monthly ΔGWS, precipitation and the mean InSAR
displacement of an area (seed 002 §IV-B)."""
from __future__ import annotations

import numpy as np
from qgis.core import (QgsProcessing, QgsProcessingException, QgsProcessingOutputNumber, QgsProcessingParameterBoolean,
                       QgsProcessingParameterEnum, QgsProcessingParameterFeatureSink,
                       QgsProcessingParameterFeatureSource, QgsProcessingParameterField, QgsProcessingParameterFile,
                       QgsProcessingParameterFileDestination, QgsProcessingParameterMultipleLayers,
                       QgsProcessingParameterNumber)

from ...core.groundwater.compare import cross_correlation, monthly_displacement, monthly_totals, remove_trend_and_season
from ...core.groundwater.products import read_gldas_precipitation
from ...core.groundwater.report import write_comparison_report
from ...core.groundwater.storage import area_mean, cell_weights
from ...core.io.long_tables import read_long_table
from ...core.spatial.polygons import points_in_polygons
from ..base import SubsidenceAlgorithm, add_advanced, processing_errors
from ..inputs import feature_wkbs, point_series
from ..outputs import table_sink
from .common import area_in_degrees, reading_box

TREATMENTS = ("as they are", "with their linear trends removed", "with trends and mean seasonal cycles removed")
COLUMNS = (("pair", "string"), ("first", "string"), ("second", "string"), ("lag_months", "int"), ("r", "double"),
           ("n", "int"), ("n_eff", "double"), ("p_value", "double"), ("threshold", "double"))
KEYS = {("precipitation", "ΔGWS"): "PRECIPITATION_GWS", ("ΔGWS", "InSAR"): "GWS_INSAR",
        ("precipitation", "InSAR"): "PRECIPITATION_INSAR"}


def _storage_series(source, field: str):
    """Months and values of a storage table (a ``month`` field, YYYY-MM, and a numeric field)."""
    names = source.fields().names()
    if "month" not in names:
        raise QgsProcessingException("Groundwater storage: the table has no 'month' field (YYYY-MM); give the "
                                     "output of 'Groundwater storage (GRACE and GLDAS)'")
    rows = [(feature["month"], feature[field]) for feature in source.getFeatures()]
    if not rows:
        raise QgsProcessingException("Groundwater storage: the table is empty")
    try:
        months = np.array([str(month)[:7] for month, _ in rows], dtype="datetime64[M]")
    except ValueError:
        raise QgsProcessingException("Groundwater storage: a month is not written YYYY-MM") from None
    values = np.array([np.nan if value is None or value == "" else float(value) for _, value in rows])
    order = np.argsort(months)
    return months[order], values[order]


def _precipitation_series(path: str):
    """Monthly precipitation (mm/month) of a gauge table (station, date, value in mm): monthly values as they are
    (one reading a station and month) averaged over the stations, daily ones summed per month (at least 90 % of a
    month's days read) and averaged over the stations."""
    with processing_errors(prefix="Precipitation"):
        table = read_long_table(path)
    month_of_date = table.dates.astype("datetime64[M]")
    readings = np.isfinite(table.values)
    monthly = all(np.unique(month_of_date[row]).size == row.sum() for row in readings)
    if not monthly:
        with processing_errors(prefix="Precipitation"):
            months, values = monthly_totals(table.dates, table.values)
        return months, values, "daily amounts summed per month"
    months = np.arange(month_of_date.min(), month_of_date.max() + 1, dtype="datetime64[M]")
    slot = (month_of_date - months[0]).astype(np.int64)
    wide = np.full((table.values.shape[0], months.size), np.nan)
    stations, dates = np.nonzero(readings)
    wide[stations, slot[dates]] = table.values[stations, dates]
    counts = np.isfinite(wide).sum(axis=0)
    values = np.divide(np.nansum(wide, axis=0), counts, out=np.full(months.size, np.nan), where=counts > 0)
    return months, values, "monthly totals"


class CompareSeries(SubsidenceAlgorithm):
    NAME = "compareseries"
    DISPLAY_NAME = "Compare monthly series (ΔGWS, precipitation, InSAR)"
    GROUP = "Groundwater storage"
    HELP = (
        "<p>How the groundwater storage moves with the rain and with the subsidence (seed 002 §IV-B: the phase shift "
        "between rain and storage): the cross-correlation of two or three monthly series over lags of "
        "−<i>MAX_LAG</i> … +<i>MAX_LAG</i> months, the lag of the largest correlation and its significance.</p>"
        "<ul><li><b>Groundwater storage</b>: the table of <i>Groundwater storage (GRACE and GLDAS)</i> (its "
        "<i>month</i> field and <i>gws_mm</i>, or another field).</li>"
        "<li><b>Precipitation</b>: a gauge table (CSV / TXT: station, date, value in mm; daily amounts are summed per "
        "month where at least 90 % of the days were read, monthly totals are taken as they are), averaged over the "
        "stations.</li>"
        "<li>or <b>gridded precipitation</b>: GLDAS files of one model (<i>Rainf_f_tavg</i>, the total precipitation "
        "rate, kg m⁻² s⁻¹ × the seconds of the month), averaged over the <b>area</b> with cell-area weights.</li>"
        "<li><b>InSAR points</b> with series fields (DYYYYMMDD, mm): the mean displacement of the points inside the "
        "<b>area</b> (all points without one), per acquisition, then per month.</li></ul>"
        "<p>Pairs: precipitation → ΔGWS, ΔGWS → InSAR, precipitation → InSAR (those whose series are given). Lag k "
        "pairs the first series at month m with the second at m + k: a positive lag means the second follows the "
        "first (storage after rain). The best lag is that of the largest r (a positive relation: rain raises "
        "storage; storage loss goes with subsidence, negative displacement), by default among lags ≥ 0 only: "
        "seasonal series correlate as well at k and k − 12 months, and only the physics (storage cannot lead the rain) "
        "tells them apart; the correlogram shows every lag. Only months both series have count; "
        "nothing is interpolated. Trends inflate correlations: by default the linear trends are removed first.</p>"
        "<p>Significance: a two-sided t test with the effective number of pairs n_eff = n (1 − r1a r1b) / "
        "(1 + r1a r1b) of two autocorrelated series (Bretherton et al. 1999, J. Climate 12); the best lag's p-value "
        "is not corrected for searching the lags. Output: one row a pair and lag (r, n, n_eff, p, the r needed for "
        "95 % significance); results: the best lag, r and p of each pair; report with the series and the "
        "correlograms.</p>")

    STORAGE = "STORAGE"
    STORAGE_FIELD = "STORAGE_FIELD"
    PRECIPITATION_TABLE = "PRECIPITATION_TABLE"
    PRECIPITATION_FILES = "PRECIPITATION_FILES"
    POINTS = "POINTS"
    AREA = "AREA"
    MAX_LAG = "MAX_LAG"
    TREATMENT = "TREATMENT"
    FOLLOWING = "FOLLOWING"
    OUTPUT = "OUTPUT"
    REPORT = "REPORT"

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource(self.STORAGE, "Groundwater storage table",
                                                              [QgsProcessing.TypeVector], optional=True))
        self.addParameter(QgsProcessingParameterField(self.STORAGE_FIELD, "Storage field", "gws_mm", self.STORAGE,
                                                      QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(QgsProcessingParameterFile(self.PRECIPITATION_TABLE, "Precipitation gauge table (station, "
                                                     "date, value in mm)", optional=True,
                                                     fileFilter="Tables (*.csv *.txt *.tsv)"))
        self.addParameter(QgsProcessingParameterMultipleLayers(self.PRECIPITATION_FILES, "Gridded precipitation "
                                                               "(GLDAS files of one model, over the area)",
                                                               QgsProcessing.TypeFile, optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(self.POINTS, "InSAR points with series",
                                                              [QgsProcessing.TypeVectorPoint], optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource(self.AREA, "Area (points inside it)",
                                                              [QgsProcessing.TypeVectorPolygon], optional=True))
        self.addParameter(QgsProcessingParameterNumber(self.MAX_LAG, "Largest lag (months)",
                                                       QgsProcessingParameterNumber.Integer, 12, minValue=0,
                                                       maxValue=60))
        add_advanced(self, QgsProcessingParameterEnum(self.TREATMENT, "Correlate the series",
                                                      list(TREATMENTS), defaultValue=1))
        add_advanced(self, QgsProcessingParameterBoolean(self.FOLLOWING, "Best lag among lags ≥ 0 only (the second "
                                                         "series follows the first)", defaultValue=True))
        self.addParameter(QgsProcessingParameterFeatureSink(self.OUTPUT, "Cross-correlations",
                                                            QgsProcessing.TypeVector))
        self.addParameter(QgsProcessingParameterFileDestination(self.REPORT, "Report", "HTML files (*.html)",
                                                                optional=True, createByDefault=False))
        for key in KEYS.values():
            self.addOutput(QgsProcessingOutputNumber(f"LAG_{key}", f"Best lag, {key.lower()} (months)"))
            self.addOutput(QgsProcessingOutputNumber(f"R_{key}", f"r at the best lag, {key.lower()}"))
            self.addOutput(QgsProcessingOutputNumber(f"P_{key}", f"p-value at the best lag, {key.lower()}"))

    def _gridded_precipitation(self, parameters, paths, context, feedback):
        """Area-mean monthly precipitation (mm/month) of GLDAS files."""
        if self.parameterAsSource(parameters, self.AREA, context) is None:
            raise QgsProcessingException("Gridded precipitation: give the area to average it over")
        area = area_in_degrees(self, parameters, self.AREA, context, feedback)
        with processing_errors(prefix="Gridded precipitation"):
            grid = read_gldas_precipitation(paths, reading_box(area))
            values = area_mean(grid, cell_weights(grid.lat, grid.lon, area))
        feedback.pushInfo(f"Precipitation: {grid.product}, the month's total rate over the area, "
                          f"{int(np.isfinite(values).sum())} months")
        return grid.months, values

    def _insar_series(self, parameters, context, feedback):
        source = self.parameterAsSource(parameters, self.POINTS, context)
        crs = source.sourceCrs()
        x, y, dates, series = point_series(self, parameters, self.POINTS, crs, context, feedback, "InSAR points")
        area = self.parameterAsSource(parameters, self.AREA, context)
        if area is not None:
            inside = points_in_polygons(x, y, feature_wkbs(area, crs, context, feedback, "Area"))
            if not inside.any():
                raise QgsProcessingException("InSAR points: no point lies inside the area")
            feedback.pushInfo(f"InSAR points: {int(inside.sum())} of {x.size} inside the area")
            series = series[inside]
        with processing_errors(prefix="InSAR points"):
            return monthly_displacement(dates, series)

    def process(self, parameters, context, feedback):
        max_lag = self.parameterAsInt(parameters, self.MAX_LAG, context)
        treatment = self.parameterAsEnum(parameters, self.TREATMENT, context)
        following = self.parameterAsBoolean(parameters, self.FOLLOWING, context)
        series = {}
        storage = self.parameterAsSource(parameters, self.STORAGE, context)
        if storage is not None:
            field = self.parameterAsString(parameters, self.STORAGE_FIELD, context) or "gws_mm"
            if storage.fields().lookupField(field) < 0:
                raise QgsProcessingException(f"Groundwater storage: there is no field {field!r}")
            series["ΔGWS"] = (*_storage_series(storage, field), "mm")
        precipitation = self.parameterAsFile(parameters, self.PRECIPITATION_TABLE, context)
        gridded = [path for path in self.parameterAsFileList(parameters, self.PRECIPITATION_FILES, context) if path]
        if precipitation and gridded:
            raise QgsProcessingException("Precipitation: give a gauge table or gridded files, not both")
        if precipitation:
            months, values, how = _precipitation_series(precipitation)
            feedback.pushInfo(f"Precipitation: {how}, {int(np.isfinite(values).sum())} months")
            series["precipitation"] = (months, values, "mm/month")
        elif gridded:
            series["precipitation"] = (*self._gridded_precipitation(parameters, gridded, context, feedback),
                                       "mm/month")
        if self.parameterAsSource(parameters, self.POINTS, context) is not None:
            series["InSAR"] = (*self._insar_series(parameters, context, feedback), "mm")
        if len(series) < 2:
            raise QgsProcessingException("Give at least two series: a groundwater-storage table, a precipitation "
                                         "table or InSAR points")
        if feedback.isCanceled():
            raise QgsProcessingException("Cancelled: no output was written")
        results, rows, pairs = {}, [], []
        for (first, second), key in KEYS.items():
            if first not in series or second not in series:
                continue
            with processing_errors(prefix=f"{first} → {second}"):
                c = cross_correlation(series[first][0], series[first][1], series[second][0], series[second][1],
                                      max_lag, detrend=treatment >= 1, deseasonalise=treatment == 2,
                                      following=following)
            pairs.append((first, second, c))
            rows += [(f"{first} → {second}", first, second, lag, r, n, n_eff, p, t) for lag, r, n, n_eff, p, t in
                     zip(c.lags, c.r, c.n, c.n_eff, c.p_value, c.threshold)]
            results.update({f"LAG_{key}": c.best_lag, f"R_{key}": c.best_r, f"P_{key}": c.best_p_value})
            significant = "significant" if c.best_p_value < 1 - c.confidence else "not significant"
            feedback.pushInfo(f"{first} → {second}: best lag {c.best_lag:+d} months, r {c.best_r:.3f}, "
                              f"p {c.best_p_value:.3g} ({significant} at {100 * c.confidence:.0f} %)")
        results[self.OUTPUT] = table_sink(self, parameters, self.OUTPUT, context, COLUMNS, rows)
        report = self.parameterAsFileOutput(parameters, self.REPORT, context)
        if report:
            correlated = {name: (months, remove_trend_and_season(months, values, treatment >= 1, treatment == 2), unit)
                          for name, (months, values, unit) in series.items()}
            results[self.REPORT] = write_comparison_report(report, correlated, pairs, TREATMENTS[treatment])
        return results
