"""Time a default run of `subsidence:trainseriesmodel` per model on the sample area (the issue's "10^3 points x 200
dates within minutes on 2 cores").

    .venv/bin/python scripts/benchmarks/benchmark_series_defaults.py [--models 0,1,2,3] [--size 200] [--json OUT.json]

The sample area (`createsamplearea`, default size and seed: 1,522 PS points x 152 dates, 8 piezometers) with the
thickness, interbed-thickness and K'v rasters as FACTORS; each model with every default (its seed's settings, early
stopping with patience 20, the spatial hold-out, the physics RNN also trained without n), on the CPU. Reported:
wall seconds of the whole algorithm, epochs run and the best epoch, and the RMSE (mm) at 1 / 3 / 6 / 12 months of
the model with the observed heads against persistence and linear trend, from the algorithm's log.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

MODELS = {0: "LSTM", 1: "attention GRU", 2: "physics RNN", 3: "GW-LSTM"}


class LogFeedback:
    """A Processing feedback that keeps its info lines."""

    def __new__(cls):
        from qgis.core import QgsProcessingFeedback

        class Keeping(QgsProcessingFeedback):
            def __init__(self):
                super().__init__()
                self.lines = []

            def pushInfo(self, info):  # noqa: N802
                self.lines.append(info)

        return Keeping()


def row(lines, name):
    line = next((line for line in lines if line.strip().startswith(name + ":")), "")
    return line.split(":", 1)[1].strip() if line else "n/a"


def main(argv=None):
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--models", default="0,1,2,3")
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    app, provider = harness.start_qgis()
    import processing

    results = {}
    try:
        with tempfile.TemporaryDirectory() as folder:
            area = processing.run("subsidence:createsamplearea", {"SIZE": args.size, "OUTPUT_FOLDER": folder})
            factors = [area[key] for key in ("THICKNESS", "INTERBED_THICKNESS", "VERTICAL_CONDUCTIVITY")]
            for model in (int(m) for m in args.models.split(",")):
                feedback = LogFeedback()
                started = time.perf_counter()
                processing.run("subsidence:trainseriesmodel", {
                    "INPUT": area["PS_POINTS"], "GROUNDWATER": area["PIEZOMETERS"], "FACTORS": factors,
                    "MODEL": model, "DEVICE": 3, "OUTPUT": os.path.join(folder, f"held_{model}.gpkg")},
                    feedback=feedback)
                seconds = time.perf_counter() - started
                label = MODELS[model]
                trained = next(line for line in feedback.lines if " trained for " in line)
                results[label] = {"seconds": round(seconds, 1), "trained": trained.split(";")[0],
                                  f"{label}, observed heads": row(feedback.lines, f"{label}, observed heads"),
                                  f"{label}, heads held": row(feedback.lines, f"{label}, heads held"),
                                  "persistence": row(feedback.lines, "persistence"),
                                  "linear trend": row(feedback.lines, "linear trend"),
                                  "delayed compaction, observed heads": row(feedback.lines,
                                                                            "delayed compaction, observed heads")}
                print(f"{label}: {seconds:.0f} s; {results[label]}", flush=True)
    finally:
        harness.stop_qgis(app, provider)
    harness.write_json(args.json, results)


if __name__ == "__main__":
    main()
