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
Every series model of `--models` (default all four: seed 001's LSTM with --optimiser sgd as the seed or adam; seed
004's attention GRU, physics-constrained RNN and GW-LSTM) is trained once per origin on the months before it with its
seed defaults (at most --epochs epochs, --physics-epochs for the physics RNN, early stopping with patience 20 on
its validation points) and forecasts with
the observed heads and with the heads held at the origin; the delayed-compaction baseline (tau chosen per point) is
scored beside them. Doñana has no thickness, b0 or K'v maps: the attention GRU runs without the lag (the seed's
AM-GRU) and the physics RNN takes H = 1 m. The heads end in 2019-08 and the InSAR in 2020-01: beyond the last head
every model and the compaction baseline hold the last heads.
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
from subsidence_plugin.core.stats.resampling import interpolate_in_time  # noqa: E402
from subsidence_plugin.core.timeseries.baselines import BASELINES, monthly_series, rolling_origin_errors  # noqa: E402
from subsidence_plugin.core.timeseries.series_models import (KINDS, LABELS, PointDrivers,  # noqa: E402
                                                             default_settings, forecast_series, train_series_model)

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


class ModelForecasts:
    """A series model as forecasters of `rolling_origin_errors`: trained once per origin on the months up to it
    (no static factors: Doñana has no thickness or permeability maps), forecast with the observed heads or with
    the heads held at the origin (a true forecast)."""

    def __init__(self, values: np.ndarray, heads: np.ndarray, x: np.ndarray, y: np.ndarray, settings):
        self.values, self.settings = values, settings
        self.drivers = PointDrivers(heads, np.zeros((len(values), 0)), x, y)
        self.models = {}
        self.seconds = 0.0

    def forecaster(self, hold_heads: bool):
        def forecast(history, leads):
            origin = history.shape[1] - 1
            if origin not in self.models:
                started = time.perf_counter()
                self.models[origin] = train_series_model(self.values, self.drivers, origin + 1, self.settings)
                self.seconds += time.perf_counter() - started
                history = self.models[origin].history
                print(f"  {self.settings.kind} at origin month {origin} of {len(self.values)} points: "
                      f"{len(history.train_loss)} epochs (best {history.best_epoch}), "
                      f"{time.perf_counter() - started:.0f} s", flush=True)
            return forecast_series(self.models[origin], self.values, self.drivers, origin, int(max(leads)),
                                   hold_heads)[:, np.asarray(leads) - 1]
        return forecast


def compaction_forecaster(heads: np.ndarray, hold_heads: bool):
    """The delayed-compaction baseline, fitted to each history (tau chosen per point)."""
    from subsidence_plugin.core.timeseries.compaction import fit_delayed_compaction, forecast_delayed_compaction

    def forecast(history, leads):
        origin = history.shape[1] - 1
        fitted = fit_delayed_compaction(history, heads[:, :origin + 1])
        scenario = heads[:, :origin + int(max(leads)) + 1].copy()
        if hold_heads:
            scenario[:, origin + 1:] = scenario[:, origin:origin + 1]
        return forecast_delayed_compaction(fitted, history[:, -1], scenario, origin, np.asarray(leads))
    return forecast


def series_errors(tables: dict, models: dict) -> tuple:
    """({setting: {method: RMSE by horizon}} averaged over both tracks, {model: training seconds});
    ``models``: {label: SeriesSettings}."""
    settings = {"rolling origins 12 / 24 / 36 months before the end": lambda months: [months - 13, months - 25,
                                                                                       months - 37],
                "last 20 % of the months held out": lambda months: [int(round(0.8 * months)) - 1]}
    results, seconds = {}, {label: 0.0 for label in models}
    for setting, origins in settings.items():
        per_track = []
        for imported, heads_table, _ in tables.values():
            months, values = monthly_series(imported.dates, imported.series)
            head_columns = [name for name in heads_table.attributes if name.startswith("H_")]
            heads = interpolate_in_time(imported.dates, np.column_stack(
                [heads_table.numeric(name) for name in head_columns]), months)
            forecasters = dict(BASELINES)
            forecasters["delayed compaction, observed heads"] = compaction_forecaster(heads, False)
            forecasters["delayed compaction, heads held"] = compaction_forecaster(heads, True)
            trained = {}
            for label, model_settings in models.items():
                trained[label] = ModelForecasts(values, heads, imported.x, imported.y, model_settings)
                forecasters[f"{label}, observed heads"] = trained[label].forecaster(False)
                forecasters[f"{label}, heads held"] = trained[label].forecaster(True)
            per_track.append(rolling_origin_errors(values, origins(values.shape[1]), HORIZONS, forecasters).rmse)
            for label, model in trained.items():
                seconds[label] += model.seconds
        results[setting] = {name: np.mean([track[name] for track in per_track], axis=0) for name in per_track[0]}
    return results, seconds


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--models", default=",".join(KINDS), help="comma-separated: " + ", ".join(KINDS))
    parser.add_argument("--epochs", type=int, default=100, help="at most this many epochs a model (early stopping, "
                        "patience 20)")
    parser.add_argument("--physics-epochs", type=int, default=2000, help="at most this many epochs of the physics "
                        "RNN (its seed's 2,000; a cheap network)")
    parser.add_argument("--gw-window", type=int, default=12, help="GW-LSTM window in months (the seed's 36 leaves no "
                        "training window before the early origins of Doñana's 58 months)")
    parser.add_argument("--optimiser", default="sgd", choices=["sgd", "adam"], help="LSTM optimiser (seed 001: sgd)")
    args = parser.parse_args(argv)
    app, provider = harness.start_qgis()
    try:
        with tempfile.TemporaryDirectory() as folder:
            tables = import_tracks(args.data, folder)
            checks = check_import(args.data, tables)
            models = {}
            for kind in args.models.split(","):
                settings = default_settings(kind)
                cap = args.physics_epochs if kind == "physics_rnn" else args.epochs
                settings.training.epochs = min(settings.training.epochs, cap)
                if kind == "lstm":
                    settings.training.optimiser = args.optimiser
                if kind == "gw_lstm":
                    settings.window = args.gw_window
                models[LABELS[kind] + (f" ({args.optimiser})" if kind == "lstm" else "")] = settings
            errors, seconds = series_errors(tables, models)
    finally:
        harness.stop_qgis(app, provider)
    print("\nImport and heads (Doñana)\n")
    print(harness.measure_table(checks, "g"))
    print("\nTraining time, all origins and both tracks (s): " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()))
    for setting, table in errors.items():
        print(f"\n{setting}: RMSE (mm) at horizons {HORIZONS} months, mean of both tracks\n")
        rows = [[name] + [f"{value:.2f}" for value in values] + [", ".join(f"{a:.2f}" for a in ANCHORS[name])
                                                                 if name in ANCHORS and "rolling" in setting else ""]
                for name, values in table.items()]
        harness.print_table(["method"] + [f"{h} mo" for h in HORIZONS] + ["issue's anchors"], rows)
    if args.json:
        harness.write_json(args.json, {"import": checks, "training_seconds": seconds,
                                       "errors": {s: {m: v.tolist() for m, v in t.items()} for s, t in errors.items()}})


if __name__ == "__main__":
    main()
