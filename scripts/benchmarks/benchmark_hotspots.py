"""Benchmark the Gi* hot spots (core of subsidence:hotspots) against libpysal DistanceBand + esda G_Local.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/benchmarks/benchmark_hotspots.py [--points 300000]
                                                                               [--esda-max 100000] [--json OUT.json]

Synthetic InSAR-like points: uniform over a square whose side grows with the square root of the count (30 km for
3 x 10^5 points, about 55 m between points), velocities (mm/yr) of two subsiding bowls (−20 and −12 mm/yr, 3 and
1.5 km wide) on a −2 mm/yr background with 2 mm/yr noise (negative mean). Each tool runs in its own process, one
after the other:

* ``plugin``: ``core.points.hotspots.hot_spots`` with the automatic band (Moran's I over 20 bands, first peak or
  largest z), Gi* and the Benjamini–Hochberg classes;
* ``esda``: libpysal ``DistanceBand`` (binary) at the band the plugin chose + esda ``G_Local(transform="B",
  star=True, permutations=0)``, on the velocities shifted positive (esda divides by Σ x); skipped above
  ``--esda-max`` points. Its Moran's I over the 20 bands is not run (it would build 20 weights).

Seconds exclude the imports; peak MB is the process's ru_maxrss (Python, numpy, scipy and the tool's imports
included). The z-scores of the two are compared (largest absolute difference).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)


def synthetic_points(points: int, seed: int = 0):
    """x, y (m) and velocities (mm/yr) of the benchmark."""
    rng = np.random.default_rng(seed)
    side = 30000.0 * np.sqrt(points / 3e5)
    x, y = rng.uniform(0, side, points), rng.uniform(0, side, points)
    bowls = -20 * np.exp(-((x - 0.4 * side) ** 2 + (y - 0.5 * side) ** 2) / 3000.0 ** 2) \
        - 12 * np.exp(-((x - 0.75 * side) ** 2 + (y - 0.3 * side) ** 2) / 1500.0 ** 2)
    return x, y, -2.0 + bowls + rng.normal(0, 2.0, points)


def child(tool: str, points: int, band: float, out: str) -> None:
    """Run one tool and write its seconds, band and z-scores."""
    x, y, velocity = synthetic_points(points)
    if tool == "plugin":
        from subsidence_plugin.core.points.hotspots import hot_spots

        start = time.perf_counter()
        result = hot_spots(x, y, velocity)
        seconds = time.perf_counter() - start
        z, band = result.z, result.band
        extra = {"how": result.how, "bands": int(result.moran.bands.size), "moran_z": float(result.moran.z[
            result.chosen]), "mean_neighbours": float(result.neighbours.mean()), "counts": result.counts()}
    else:
        import warnings

        from esda.getisord import G_Local
        from libpysal.weights import DistanceBand

        warnings.filterwarnings("ignore")
        start = time.perf_counter()
        weights = DistanceBand(np.column_stack([x, y]), threshold=band, binary=True, silence_warnings=True)
        built = time.perf_counter() - start
        z = G_Local(velocity - velocity.min() + 1.0, weights, transform="B", star=True, permutations=0).Zs
        seconds = time.perf_counter() - start
        extra = {"weights_seconds": built, "gi_seconds": seconds - built}
    np.save(out + ".npy", z)
    with open(out, "w") as fh:
        json.dump({"seconds": seconds, "band": band, **extra}, fh)


def run(tool: str, points: int, band: float, folder: str) -> dict:
    out = os.path.join(folder, f"{tool}.json")
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", tool, "--points", str(points),
                             "--band", repr(band), "--out", out])
    status, usage = harness.wait_rusage(proc, 3600)
    if status != 0:
        raise SystemExit(f"{tool} failed ({status})")
    with open(out) as fh:
        result = json.load(fh)
    result.update(peak_mb=usage.ru_maxrss / 1024.0, z=np.load(out + ".npy"))
    return result


def main(argv=None):
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--points", type=int, default=300000)
    parser.add_argument("--esda-max", type=int, default=100000,
                        help="skip esda above this many points (it needed 10 GB at 10^5 and ran out of memory at 3x10^5)")
    parser.add_argument("--json", default="")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    parser.add_argument("--band", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.points, args.band, args.out)
        return
    with tempfile.TemporaryDirectory() as folder:
        results = {"plugin": run("plugin", args.points, 0.0, folder)}
        if args.points <= args.esda_max:
            results["esda"] = run("esda", args.points, results["plugin"]["band"], folder)
    ours = results["plugin"]
    rows = [("plugin (auto band, 20 Moran bands + Gi*)", f"{ours['seconds']:.2f}", f"{ours['peak_mb']:.0f}",
             f"{ours['band']:.1f} m, {ours['how']}")]
    if "esda" in results:
        other = results["esda"]
        difference = float(np.nanmax(np.abs(other["z"] - ours["z"])))
        rows.append(("libpysal DistanceBand + esda G_Local (one band)", f"{other['seconds']:.2f}",
                     f"{other['peak_mb']:.0f}", f"weights {other['weights_seconds']:.1f} s + Gi* "
                     f"{other['gi_seconds']:.1f} s; max |z difference| {difference:.2e}"))
        results["esda"]["max_z_difference"] = difference
    print(f"{args.points} points, mean {ours['mean_neighbours']:.0f} neighbours a point at the band used")
    harness.print_table(["tool", "seconds", "peak MB", "notes"], rows)
    if args.json:
        harness.write_json(args.json, {"points": args.points, **{
            tool: {k: v for k, v in r.items() if k != "z"} for tool, r in results.items()}})


if __name__ == "__main__":
    main()
