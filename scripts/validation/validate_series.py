"""Validate the time-series tools on real InSAR series (Doñana, donana-wasar).

    .venv/bin/python scripts/validation/validate_series.py [DATA_FOLDER] [--json out.json]

Both Sentinel-1 P-SBAS tracks (Sentinel_Asc: 573 points x 134 dates, Sentinel_Desc: 914 x 146, LOS displacement in
cm, MultiPoint, EPSG:25830) go through `subsidence:importinsarseries` (UNITS cm -> mm) and
`subsidence:groundwaterseries` (the six piezometers' monthly heads of bds/bd_piezo.txt joined to Piezometros by the
detected ID field, IDW, heads held at most 45 days). The imported series are checked against the shapefiles (x 10),
and the baselines are scored the issue's way: series linearly interpolated to the first day of each month; origins
12, 24 and 36 months before the end, and the origin at 80 % of the months (the last 20 % held out); at horizons 1,
3, 6 and 12 months each point's RMSE over the lead times 1 .. h, averaged over points, then over origins and both
tracks. The issue's anchors (mm): persistence 1.00 / 1.57 / 2.29 / 3.21, linear trend 2.05 / 2.32 / 2.75 / 3.50.
Seed 001's LSTM (window 12 months, 8 units; --optimiser sgd as the seed or adam, learning rate 0.001, batch 38,
--epochs with early stopping on 20 % of the points) is trained once per origin on the months before it and
forecasts with the observed heads and with the heads held at the origin.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

from subsidence_plugin.core.io.points import read_points  # noqa: E402
from subsidence_plugin.core.ml.training import TrainingSettings  # noqa: E402
from subsidence_plugin.core.stats.resampling import interpolate_in_time  # noqa: E402
from subsidence_plugin.core.timeseries.baselines import BASELINES, monthly_series, rolling_origin_errors  # noqa: E402
from subsidence_plugin.core.timeseries.series_models import (SeriesSettings, forecast_series,  # noqa: E402
                                                             train_series_lstm)

HORIZONS = [1, 3, 6, 12]
ANCHORS = {"persistence": [1.00, 1.57, 2.29, 3.21], "linear trend": [2.05, 2.32, 2.75, 3.50]}


def import_tracks(data: str, folder: str) -> dict:
    """Each track through the two algorithms: {track: (imported table, heads table, seconds)}."""
    import processing

    out = {}
    wasar = os.path.join(data, "donana-wasar")
    for track in ("Asc", "Desc"):
        started = time.perf_counter()
        imported = processing.run("subsidence:importinsarseries", {
            "INPUT": [os.path.join(wasar, "shapefiles", f"Sentinel_{track}.shp")], "UNITS": 2,
            "OUTPUT": os.path.join(folder, f"{track}.gpkg")}, feedback=harness.console_feedback())["OUTPUT"]
        heads = processing.run("subsidence:groundwaterseries", {
            "INPUT": imported, "GROUNDWATER": os.path.join(wasar, "shapefiles", "Piezometros.shp"),
            "GROUNDWATER_TABLE": os.path.join(wasar, "bds", "bd_piezo.txt"), "METHOD": 0, "NEIGHBOURS": 6,
            "OUTPUT": os.path.join(folder, f"{track}_heads.gpkg")}, feedback=harness.console_feedback())["OUTPUT"]
        out[track] = (read_points(imported), read_points(heads), time.perf_counter() - started)
    return out


def check_import(data: str, tables: dict) -> dict:
    """Largest difference (mm) between the imported series / velocities and the shapefiles' cm values x 10."""
    checks = {}
    for track, (imported, heads, seconds) in tables.items():
        source = read_points(os.path.join(data, "donana-wasar", "shapefiles", f"Sentinel_{track}.shp"))
        order_source = np.argsort(source.numeric("ID"))
        order_imported = np.argsort(imported.numeric("pid"))
        series = 10.0 * source.series[order_source]
        head_columns = [name for name in heads.attributes if name.startswith("H_")]
        head_values = np.column_stack([heads.numeric(name) for name in head_columns])
        checks[track] = {
            "points": len(imported), "dates": int(imported.dates.size),
            "max |series - 10 x source| (mm)": float(np.nanmax(np.abs(imported.series[order_imported] - series))),
            "max |VEL_MM_YR - 10 x Vel|": float(np.nanmax(np.abs(imported.numeric("VEL_MM_YR")[order_imported]
                                                                 - 10.0 * source.numeric("Vel")[order_source]))),
            "dates with heads": int((~np.isnan(head_values)).any(axis=0).sum()),
            "lowest head (m)": float(np.nanmin(head_values)), "highest head (m)": float(np.nanmax(head_values)),
            "import + heads (s)": round(seconds, 1)}
    return checks


class LstmForecasts:
    """Seed 001's LSTM as forecasters of `rolling_origin_errors`: trained once per origin on the months up to it
    (no static factors: Doñana has no thickness or permeability maps), forecast with the observed heads or with
    the heads held at the origin (a true forecast)."""

    def __init__(self, values: np.ndarray, heads: np.ndarray, training: TrainingSettings):
        self.values, self.heads, self.training = values, heads, training
        self.models = {}
        self.seconds = 0.0

    def forecaster(self, hold_heads: bool):
        def forecast(history, leads):
            origin = history.shape[1] - 1
            if origin not in self.models:
                started = time.perf_counter()
                self.models[origin] = train_series_lstm(self.values, self.heads, np.zeros((len(history), 0)),
                                                        origin + 1, SeriesSettings(training=self.training))
                self.seconds += time.perf_counter() - started
            return forecast_series(self.models[origin], self.values, self.heads, np.zeros((len(history), 0)), origin,
                                   int(max(leads)), hold_heads)[:, np.asarray(leads) - 1]
        return forecast


def series_errors(tables: dict, lstm: dict) -> dict:
    """{setting: {method: RMSE by horizon}} averaged over both tracks; ``lstm``: {label: TrainingSettings}."""
    settings = {"rolling origins 12 / 24 / 36 months before the end": lambda months: [months - 13, months - 25,
                                                                                       months - 37],
                "last 20 % of the months held out": lambda months: [int(round(0.8 * months)) - 1]}
    results = {}
    for setting, origins in settings.items():
        per_track = []
        for imported, heads_table, _ in tables.values():
            months, values = monthly_series(imported.dates, imported.series)
            head_columns = [name for name in heads_table.attributes if name.startswith("H_")]
            heads = interpolate_in_time(imported.dates, np.column_stack(
                [heads_table.numeric(name) for name in head_columns]), months)
            forecasters = dict(BASELINES)
            for label, training in lstm.items():
                model = LstmForecasts(values, heads, training)
                forecasters[f"LSTM {label}, observed heads"] = model.forecaster(False)
                forecasters[f"LSTM {label}, heads held"] = model.forecaster(True)
            per_track.append(rolling_origin_errors(values, origins(values.shape[1]), HORIZONS, forecasters).rmse)
        results[setting] = {name: np.mean([track[name] for track in per_track], axis=0) for name in per_track[0]}
    return results


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--epochs", type=int, default=100, help="LSTM epochs (early stopping, patience 20)")
    parser.add_argument("--optimiser", default="sgd", choices=["sgd", "adam"], help="LSTM optimiser (seed 001: sgd)")
    parser.add_argument("--learning-rate", type=float, default=0.001)
    args = parser.parse_args(argv)
    app, provider = harness.start_qgis()
    try:
        with tempfile.TemporaryDirectory() as folder:
            tables = import_tracks(args.data, folder)
            checks = check_import(args.data, tables)
            lstm = {f"({args.optimiser}, lr {args.learning_rate:g}, batch 38)": TrainingSettings(
                epochs=args.epochs, batch_size=38, learning_rate=args.learning_rate, patience=20,
                optimiser=args.optimiser)}
            errors = series_errors(tables, lstm)
    finally:
        harness.stop_qgis(app, provider)
    print("\nImport and heads (Doñana)\n")
    print(harness.measure_table(checks, "g"))
    for setting, table in errors.items():
        print(f"\n{setting}: RMSE (mm) at horizons {HORIZONS} months, mean of both tracks\n")
        rows = [[name] + [f"{value:.2f}" for value in values] + [", ".join(f"{a:.2f}" for a in ANCHORS[name])
                                                                 if name in ANCHORS and "rolling" in setting else ""]
                for name, values in table.items()]
        harness.print_table(["method"] + [f"{h} mo" for h in HORIZONS] + ["issue's anchors"], rows)
    if args.json:
        harness.write_json(args.json, {"import": checks, "baselines": {s: {m: v.tolist() for m, v in t.items()}
                                                                       for s, t in errors.items()}})


if __name__ == "__main__":
    main()
