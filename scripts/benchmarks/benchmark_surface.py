"""Benchmark of the surface methods: local kriging against PyKrige, and the dense patch-CNN evaluation.

    .venv/bin/python scripts/benchmarks/benchmark_surface.py [--json out.json] [--quick]

Every measurement runs in its own subprocess, so its peak memory (max RSS) is its own. Kriging: random points
(N = 10^3 ... 10^6) of a smooth field with noise, a spherical variogram, k = 32 neighbours, predicted on a
1000 x 1000 grid (10^6 cells) by this plugin (numpy and torch backends); PyKrige's moving window (C backend)
on 20,000 of the cells where it can run, its cells/s extrapolated to 10^6. PyKrige's `execute` builds the
full N x N kriging matrix, so it is not run beyond N = 10^4 (10^5 points would need 80 GB). The plugin's
predictions are compared with PyKrige's on the same cells. Patch CNN: the default network of seed 000 on a
random 12-band stack (1000 x 1000 and 2000 x 2000), dense "a trous" evaluation of every pixel against the
plugin's per-patch prediction (patches cut by PatchSampler, batches of 512) of a sample of pixels
(extrapolated), with the largest difference; training throughput on 10^5 points. Columns: wall-clock and CPU
seconds of the timed part (CPU over wall shows how many cores it had), the 1-minute load average at its end:
the machine may be shared, so compare rows of one run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)


def _field(n, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, 100000, (2, n))
    return x, y, np.sin(x / 7000) + np.cos(y / 5000) + rng.normal(0, 0.05, n)


def task_ours(n, backend, cells):
    import numpy as np

    from subsidence_plugin.core.ml.devices import choose_device
    from subsidence_plugin.core.spatial.interpolation import LocalKriging
    from subsidence_plugin.core.spatial.variogram import Variogram

    x, y, z = _field(n)
    side = int(round(np.sqrt(cells)))
    gx, gy = np.meshgrid(np.linspace(0, 100000, side), np.linspace(0, 100000, side))
    device = choose_device("cpu") if backend == "torch" else None
    started, cpu = time.perf_counter(), time.process_time()
    kriging = LocalKriging(x, y, z, Variogram("spherical", 1.0, 20000.0, 0.01), k=32, device=device)
    result = kriging.predict(gx.ravel(), gy.ravel())
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    np.save(f"/tmp/bench_ours_{n}.npy", result.values[:20000])
    return {"seconds": seconds, "cpu_seconds": cpu, "cells": side * side}


def task_pykrige(n, cells):
    import numpy as np
    from pykrige.ok import OrdinaryKriging

    x, y, z = _field(n)
    side = int(round(np.sqrt(cells)))
    gx, gy = np.meshgrid(np.linspace(0, 100000, side), np.linspace(0, 100000, side))
    tx, ty = gx.ravel()[:20000], gy.ravel()[:20000]
    ok = OrdinaryKriging(x, y, z, variogram_model="spherical", variogram_parameters=[1.01, 20000.0, 0.01])
    started, cpu = time.perf_counter(), time.process_time()
    values, _ = ok.execute("points", tx, ty, n_closest_points=32, backend="C")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    ours = f"/tmp/bench_ours_{n}.npy"
    diff = float(np.abs(np.load(ours) - values).max()) if os.path.exists(ours) else float("nan")
    return {"seconds": seconds, "cpu_seconds": cpu, "cells": len(tx), "max_diff_vs_plugin": diff}


def task_variogram(n):
    from subsidence_plugin.core.spatial.variogram import fit_models

    x, y, z = _field(n)
    started, cpu = time.perf_counter(), time.process_time()
    fit_models(x, y, z, ["spherical", "exponential", "gaussian", "linear"])
    return {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu, "cells": n}


def task_cnn_dense(size, sample):
    import numpy as np
    import torch

    from subsidence_plugin.core.ml.samplers import Normalisation, PatchSampler
    from subsidence_plugin.core.ml.training import predict
    from subsidence_plugin.core.surface.network import PatchCNN

    torch.manual_seed(0)
    model = PatchCNN(12, 30).eval()
    stack = np.random.default_rng(0).standard_normal((12, size + 29, size + 29)).astype(np.float32)
    started, cpu = time.perf_counter(), time.process_time()
    dense = model.dense_forward(torch.from_numpy(stack)[None])[0].numpy()
    dense_s, cpu = time.perf_counter() - started, time.process_time() - cpu
    # the plugin's per-patch prediction: patches cut by PatchSampler, the network on batches of 512
    sampler = PatchSampler(stack, 30, Normalisation("none", [0.0] * 12, [1.0] * 12))
    rows, cols = np.random.default_rng(0).integers(0, size, (2, sample))
    started = time.perf_counter()
    per_patch = predict(model, lambda i: sampler.batch(rows[i] + 15, cols[i] + 15), np.arange(sample))
    per_patch_s = (time.perf_counter() - started) * size * size / sample
    return {"seconds": dense_s, "cpu_seconds": cpu, "cells": size * size, "speed_up": per_patch_s / dense_s,
            "per_patch_seconds_extrapolated": per_patch_s,
            "max_diff": float(np.abs(per_patch - dense[rows, cols]).max())}


def task_cnn_training(points, batches):
    import numpy as np

    from subsidence_plugin.core.io.grid import RasterGrid
    from subsidence_plugin.core.ml.training import TrainingSettings
    from subsidence_plugin.core.surface.patch_cnn import CnnSettings, train_surface_cnn

    rng = np.random.default_rng(0)
    size = 1000
    stack = rng.standard_normal((12, size, size)).astype(np.float32)
    grid = RasterGrid.from_origin(0, size * 10.0, 10.0, size, size, "EPSG:32633")
    x, y = rng.uniform(0, size * 10.0, (2, points))
    values = rng.standard_normal(points)
    settings = CnnSettings(split=(1.0, 0.0, 0.0), training=TrainingSettings(epochs=1, batch_size=128, device="cpu"))
    subset = rng.choice(points, batches * 128, replace=False)
    trained = train_surface_cnn(stack, grid, x, y, values, settings,
                                splits={"train": subset, "validation": np.array([], int), "test": np.array([], int)})
    return {"seconds": trained.history.seconds, "cells": len(subset)}


TASKS = {"ours": task_ours, "pykrige": task_pykrige, "variogram": task_variogram, "cnn_dense": task_cnn_dense,
         "cnn_training": task_cnn_training}


def run(name, *args):
    """Run a task in a subprocess; returns its result with peak memory (MB), or an error."""
    code = (f"import sys, json, os; sys.path.insert(0, {HERE!r}); import benchmark_surface as b; "
            f"r = b.TASKS[{name!r}](*{list(args)!r}); "
            "r.update(peak_mb=b.harness.self_peak_mb(), load=os.getloadavg()[0]); "
            "print(json.dumps(r))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--json", default="")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the script")
    parser.add_argument("--tasks", nargs="+", default=["kriging", "variogram", "cnn"],
                        choices=["kriging", "variogram", "cnn"])
    args = parser.parse_args(argv)
    cells = 10 ** 4 if args.quick else 10 ** 6
    counts = [10 ** 3, 10 ** 4] if args.quick else [10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6]
    rows = []
    for n in counts if "kriging" in args.tasks else []:
        for backend in ("numpy", "torch"):
            r = run("ours", n, backend, cells)
            rows.append({"task": "kriging k=32", "points": n, "tool": f"plugin ({backend})", **r})
        if n <= 10 ** 4:
            r = run("pykrige", n, cells)
            rows.append({"task": "kriging k=32", "points": n, "tool": "PyKrige C moving window", **r})
        else:
            rows.append({"task": "kriging k=32", "points": n, "tool": "PyKrige C moving window",
                         "error": f"not run: builds an N x N matrix ({n * n * 8 / 1e9:.0f} GB)"})
    if "variogram" in args.tasks:
        rows.append({"task": "variogram fit (4 models)", "points": counts[-1], "tool": "plugin",
                     **run("variogram", counts[-1])})
    if "cnn" in args.tasks:
        for size in [200] if args.quick else [1000, 2000]:
            rows.append({"task": f"patch CNN dense, {size}x{size}x12", "points": size * size, "tool": "plugin (cpu)",
                         **run("cnn_dense", size, 2000 if args.quick else 20000)})
        rows.append({"task": "patch CNN training (patches/s), 10^5 points", "points": 10 ** 5,
                     "tool": "plugin (cpu)", **run("cnn_training", 10 ** 5, 5 if args.quick else 40)})
    table = []
    for r in rows:
        if "error" in r:
            table.append([r["task"], f"{r['points']:,}", r["tool"]] + ["-"] * 6 + [r["error"]])
            continue
        rate = r["cells"] / r["seconds"]
        notes = []
        if "max_diff_vs_plugin" in r:
            notes.append(f"max diff vs plugin {r['max_diff_vs_plugin']:.1e}")
        if "speed_up" in r:
            notes.append(f"per-patch {r['per_patch_seconds_extrapolated']:.0f} s, {r['speed_up']:.1f}x, "
                         f"max diff {r['max_diff']:.1e}")
        table.append([r["task"], f"{r['points']:,}", r["tool"], f"{r['seconds']:.2f}", f"{rate:,.0f}",
                      f"{1e6 / rate:.1f}", f"{r.get('cpu_seconds', float('nan')):.1f}", f"{r['peak_mb']:.0f}",
                      f"{r['load']:.1f}", "; ".join(notes)])
    harness.print_table(["task", "points", "tool", "seconds", "cells/s", "to 10^6 cells (s)", "CPU s", "peak MB",
                         "load", "notes"], table)
    harness.write_json(args.json, rows)


if __name__ == "__main__":
    main()
