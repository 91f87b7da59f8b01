"""Benchmark the series models: training throughput and memory, forecast time and memory.

    .venv/bin/python scripts/benchmarks/benchmark_series.py [--points 100000] [--months 150]
                                                            [--forecast-points 1000000] [--batches 300]
                                                            [--models lstm,attention_gru,physics_rnn,gw_lstm]
                                                            [--json OUT.json]

Synthetic points (a seeded random walk of monthly displacement in mm and heads with a decline and a seasonal swing,
two static factors), float32, so the series alone is points x months x 4 bytes.

* Training: `train_series_model` with each model's seed defaults on ``--points`` x ``--months``: the features,
  the scaling and the samples are built as in a real run, then ``--batches`` training batches run and the run is
  cancelled (the loop's own cancel check): sequences per second = batches x batch size / their seconds. Peak MB:
  the resident set's high-water mark during the call (reset just before; the inputs already in memory, and a
  small training run once before the first model, see `warm_up`), and that peak above the resident set before
  it, also as a multiple of the float32 series.
* Forecast: a model of each kind trained for one epoch on 2,000 points, then `forecast_series` of
  ``--forecast-points`` points x ``--months`` for 12 months with the observed heads (the computation only;
  writing the output layer is the import writer's figure), its seconds and peak MB above the inputs.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

from subsidence_plugin.core.progress import Cancelled  # noqa: E402
from subsidence_plugin.core.timeseries.series_models import (KINDS, LABELS, PointDrivers,  # noqa: E402
                                                             default_settings, forecast_series, train_series_model)


def synthetic(points: int, months: int, seed: int = 0):
    """(displacement mm, drivers) float32: heads with a decline and a seasonal swing, displacement following the
    head drop plus a random walk, two static factors, coordinates on a 10 km square, a 2-month delay."""
    rng = np.random.default_rng(seed)
    t = np.arange(months, dtype=np.float32)
    heads = (50.0 - 0.05 * t[None, :] + rng.uniform(1, 3, (points, 1)).astype(np.float32)
             * np.sin(2 * np.pi * t / 12)[None, :]).astype(np.float32)
    c = rng.uniform(1.0, 4.0, points).astype(np.float32)
    displacement = np.cumsum(c[:, None] * np.diff(heads, axis=1, prepend=heads[:, :1])
                             + rng.normal(0, 0.5, (points, months)).astype(np.float32), axis=1, dtype=np.float32)
    static = np.column_stack([c, rng.uniform(10, 50, points)]).astype(np.float32)
    x, y = rng.uniform(0, 10000, points), rng.uniform(0, 10000, points)
    return displacement, PointDrivers(heads, static, x, y, np.full(points, 61.0))


def warm_up(device: str) -> None:
    """Train a small LSTM once before the measures: torch's first optimiser imports torch._dynamo and its first
    backward pass sets up autograd (some 80 MB, once a process), which would otherwise count in the first model's
    peak."""
    displacement, drivers = synthetic(200, 24, seed=3)
    settings = default_settings("lstm")
    settings.training.epochs, settings.training.device = 1, device
    train_series_model(displacement, drivers, 24, settings)


def measure_training(kind: str, displacement, drivers, batches: int, device: str) -> dict:
    settings = default_settings(kind)
    settings.training.epochs, settings.training.device = 1, device
    counted = {"batches": 0, "started": None}

    def cancel_after():
        if counted["started"] is None:
            counted["started"] = time.perf_counter()
        counted["batches"] += 1
        return counted["batches"] > batches

    series_mb = displacement.nbytes / 2 ** 20
    before = harness.status_mb("VmRSS")
    harness.reset_peak()
    started = time.perf_counter()
    try:
        train_series_model(displacement, drivers, displacement.shape[1], settings, is_cancelled=cancel_after)
    except Cancelled:
        pass
    peak = harness.status_mb("VmHWM")
    batch_seconds = time.perf_counter() - counted["started"]
    return {"setup s": counted["started"] - started, "sequences/s": batches * settings.training.batch_size
            / batch_seconds, "peak MB": peak, "MB above inputs": peak - before,
            "x float32 series": (peak - before) / series_mb}


def measure_forecast(kind: str, points: int, months: int, device: str) -> dict:
    small, small_drivers = synthetic(2000, months, seed=1)
    settings = default_settings(kind)
    settings.training.epochs, settings.training.device = 1, device
    if kind == "gw_lstm":
        settings.bandwidth = 500.0
    model = train_series_model(small, small_drivers, months - 12, settings)
    displacement, drivers = synthetic(points, months, seed=2)
    before = harness.status_mb("VmRSS")
    harness.reset_peak()
    started = time.perf_counter()
    forecast = forecast_series(model, displacement, drivers, months - 13, 12)
    seconds = time.perf_counter() - started
    peak = harness.status_mb("VmHWM")
    return {"seconds": seconds, "points/s": points / seconds, "peak MB": peak, "MB above inputs": peak - before,
            "forecast points": int(np.isfinite(forecast[:, -1]).sum())}


def main(argv=None):
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=150)
    parser.add_argument("--forecast-points", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--models", default=",".join(KINDS))
    parser.add_argument("--forecast-models", default="lstm,physics_rnn")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps"],
                        help="the device training runs on (a lent GPU: cuda)")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, training on {args.device}")
    warm_up(args.device)
    displacement, drivers = synthetic(args.points, args.months)
    training = {LABELS[kind]: measure_training(kind, displacement, drivers, args.batches, args.device)
                for kind in args.models.split(",")}
    del displacement, drivers
    print(f"\nTraining, {args.points} points x {args.months} months ({args.batches} batches)\n")
    print(harness.measure_table(training, ".1f"))
    forecast = {LABELS[kind]: measure_forecast(kind, args.forecast_points, args.months, args.device)
                for kind in args.forecast_models.split(",") if kind}
    print(f"\nForecast of {args.forecast_points} points x {args.months} months, 12 months ahead\n")
    print(harness.measure_table(forecast, ".1f"))
    harness.write_json(args.json, {"training": training, "forecast": forecast, "points": args.points,
                                   "months": args.months, "forecast_points": args.forecast_points})


if __name__ == "__main__":
    main()
