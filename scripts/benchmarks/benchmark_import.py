"""Benchmark the import of InSAR point series (subsidence:importinsarseries) against ogr2ogr on one CSV file.

    .venv/bin/python scripts/benchmarks/benchmark_import.py [--points 1000000] [--dates 300] [--folder DIR]
                                                            [--json OUT.json] [--keep] [--skip-ogr2ogr]

Writes a synthetic EGMS L2a-style CSV (``pid, mp_type, latitude, longitude, easting, northing, height, ...,
rmse, temporal_coherence, ..., los_east, los_north, los_up, mean_velocity, mean_velocity_std, ...`` and one
``YYYYMMDD`` column every 6 days, mm with two decimals; points on a 5 m grid in EPSG:3035) into a temporary folder
(or ``--folder``; check its free space first: about 2.2 KB a point with 300 dates), then runs, one after the other
and each in its own process:

* ``plugin``: ``subsidence:importinsarseries`` through the Processing framework in a headless QGIS, CSV to a
  new GeoPackage (format detection, the duplicate search, the velocity field, the series in mm, the spatial index,
  the output transaction's rename); timed around ``processing.run`` (QGIS's start excluded), with its phases: the
  CSV read (series to the temporary file), the duplicate search, the GeoPackage written;
* ``ogr2ogr``: the whole command ``ogr2ogr -f GPKG OUT.gpkg IN.csv -oo X_POSSIBLE_NAMES=easting
  -oo Y_POSSIBLE_NAMES=northing -oo HEADERS=YES -oo AUTODETECT_TYPE=YES -a_srs EPSG:3035 -nln points``
  (HEADERS=YES: the date columns look like numbers; AUTODETECT_TYPE=YES: typed fields, as the plugin writes,
  where GDAL would otherwise write text).

Peak MB: for the plugin the resident-set high-water mark during the run (VmHWM reset just before it; it includes
QGIS with the plugin loaded, the "MB before", about 460 MB); for ogr2ogr the ru_maxrss of the process. Both outputs are
checked against each other: feature count, and the series, velocity and coordinates of 1000 random points. The
load average is printed before and after each run (the machine may be shared); the files are flushed to disk
(``os.sync``) before each run.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

ATTRIBUTES = ["pid", "mp_type", "latitude", "longitude", "easting", "northing", "height", "height_wgs84", "line",
              "pixel", "rmse", "temporal_coherence", "amplitude_dispersion", "incidence_angle", "track_angle",
              "los_east", "los_north", "los_up", "mean_velocity", "mean_velocity_std", "acceleration",
              "acceleration_std", "seasonality", "seasonality_std"]
FIRST_DATE = np.datetime64("2018-01-03")
BLOCK = 20000  # rows generated at a time
WIDTH = 8  # bytes of one series value with its separator (at most "-999.99,")


def write_csv(path: str, points: int, dates: int, seed: int = 0) -> None:
    """A synthetic EGMS L2a-style CSV: every value formatted by numpy (a lookup table of the series' hundredths of
    a mm) so that 10^6 x 300 values are written in about a minute."""
    rng = np.random.default_rng(seed)
    days = FIRST_DATE + 6 * np.arange(dates)
    years = (days - days[0]).astype(np.float64) / 365.25
    hundredths = np.arange(-99999, 100000)
    table = np.zeros((hundredths.size, 2, WIDTH), dtype=np.uint8)  # [value, last column?, bytes]
    for i, value in enumerate(hundredths.tolist()):
        text = f"{value / 100:.2f}".encode()
        table[i, :, :len(text)] = np.frombuffer(text, np.uint8)
        table[i, 0, len(text)], table[i, 1, len(text)] = ord(","), ord("\n")
    side = int(np.ceil(np.sqrt(points)))
    with open(path, "wb") as stream:
        stream.write((",".join(ATTRIBUTES + [str(d).replace("-", "") for d in days]) + "\n").encode())
        for start in range(0, points, BLOCK):
            n = min(points, start + BLOCK) - start
            number = np.arange(start, start + n)
            east, north = 4.0e6 + 5.0 * (number % side), 3.0e6 + 5.0 * (number // side)
            velocity = rng.normal(-3.0, 4.0, n)
            series = velocity[:, None] * years[None, :] + rng.normal(0.0, 2.0, (n, dates))
            index = np.clip(np.round(series * 100), -99999, 99999).astype(np.int64) + 99999
            last = np.zeros(dates, dtype=np.int64)
            last[-1] = 1
            values = table[index, last[None, :]].reshape(n, dates * WIDTH)
            prefix = np.array([
                f"{start + i:010X},{'PS' if i % 3 else 'DS'},{40 + north[i] * 1e-7:.6f},{-3.5 + east[i] * 1e-7:.6f},"
                f"{east[i]:.1f},{north[i]:.1f},{600 + i % 50:.1f},{650 + i % 50:.1f},{i % 4000},{i % 9000},"
                f"{rmse:.1f},{0.5 + rmse / 10:.2f},0.25,38.2,-12.4,-0.6,-0.1,0.79,{v:.1f},0.4,0.0,0.1,1.2,0.3,"
                for i, (v, rmse) in enumerate(zip(velocity.tolist(), rng.uniform(0.5, 4.0, n).tolist()))],
                dtype="S256").view(np.uint8).reshape(n, 256)
            rows = np.hstack([prefix, values]).ravel()
            stream.write(rows[rows != 0].tobytes())


def child_plugin(csv_path: str, out: str, result_path: str) -> None:
    """Run the algorithm in this process (a headless QGIS) and write its figures."""
    app, provider = harness.start_qgis()
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    class Phases(QgsProcessingFeedback):
        """Notes when the reading (40 %) and the duplicate search (50 %) are done."""

        def __init__(self):
            super().__init__()
            self.times = {}

        def setProgress(self, progress):  # noqa: N802
            super().setProgress(progress)
            for mark in (40, 50):
                if progress >= mark:
                    self.times.setdefault(mark, time.perf_counter())

    context, feedback = QgsProcessingContext(), Phases()
    result = {"load_before": os.getloadavg()[0], "base_mb": harness.status_mb("VmRSS")}
    reset = harness.reset_peak()
    start = time.perf_counter()
    processing.run("subsidence:importinsarseries", {"INPUT": [csv_path], "OUTPUT": out}, context=context,
                   feedback=feedback)
    result["seconds"] = time.perf_counter() - start
    result["phases"] = {"read": feedback.times[40] - start, "duplicates": feedback.times[50] - feedback.times[40],
                        "write": start + result["seconds"] - feedback.times[50]}
    result["peak_mb"] = harness.status_mb("VmHWM") if reset else harness.self_peak_mb()
    result["load_after"] = os.getloadavg()[0]
    with open(result_path, "w") as fh:
        json.dump(result, fh)
    del context, feedback  # before QGIS exits (a context left to the interpreter's exit crashes it)
    harness.stop_qgis(app, provider)


def run_plugin(csv_path: str, out: str, folder: str) -> dict:
    result_path = os.path.join(folder, "plugin.json")
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", csv_path, out, result_path],
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, capture_output=True, text=True)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    with open(result_path) as fh:
        return json.load(fh)


def run_ogr2ogr(csv_path: str, out: str) -> dict:
    command = ["ogr2ogr", "-f", "GPKG", out, csv_path, "-oo", "X_POSSIBLE_NAMES=easting", "-oo",
               "Y_POSSIBLE_NAMES=northing", "-oo", "HEADERS=YES", "-oo", "AUTODETECT_TYPE=YES", "-a_srs", "EPSG:3035",
               "-nln", "points"]
    result = {"load_before": os.getloadavg()[0]}
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    code, usage = harness.wait_rusage(proc, 3600)
    result.update(seconds=time.perf_counter() - start, peak_mb=usage.ru_maxrss / 1024,
                  load_after=os.getloadavg()[0])
    if code:
        return {"error": f"exit {code}: {proc.stderr.read().decode()[-300:]}"}
    return result


def compare(plugin_out: str, ogr_out: str, dates: int, sample: int = 1000) -> str:
    """Feature counts and the largest differences of the series, velocities and coordinates at random points."""
    first = [str(FIRST_DATE + 6 * i).replace("-", "") for i in (0, dates // 2, dates - 1)]
    query = 'SELECT "pid", "VEL_MM_YR", {}, "{}" FROM "{}" WHERE fid IN ({})'
    geometry_column = "SELECT column_name FROM gpkg_geometry_columns"
    with sqlite3.connect(plugin_out) as ours, sqlite3.connect(ogr_out) as theirs:
        layer = ours.execute("SELECT table_name FROM gpkg_contents").fetchone()[0]
        count = ours.execute(f'SELECT COUNT(*) FROM "{layer}"').fetchone()[0]
        other = theirs.execute('SELECT COUNT(*) FROM "points"').fetchone()[0]
        fids = ",".join(map(str, np.random.default_rng(1).choice(np.arange(1, count + 1), min(sample, count),
                                                               replace=False).tolist()))
        mine = ours.execute(query.format(", ".join(f'"D{d}"' for d in first),
                                         ours.execute(geometry_column).fetchone()[0], layer, fids)).fetchall()
        ref = theirs.execute(query.replace('"VEL_MM_YR"', '"mean_velocity"').format(
            ", ".join(f'"{d}"' for d in first), theirs.execute(geometry_column).fetchone()[0], "points",
            fids)).fetchall()
    mine, ref = sorted(mine), sorted(ref)
    values = np.array([row[1:-1] for row in mine], float) - np.array([row[1:-1] for row in ref], float)
    geometry = max(abs(np.frombuffer(a[-1][-16:], "<f8") - np.frombuffer(b[-1][-16:], "<f8")).max()
                   for a, b in zip(mine, ref))
    same_pid = all(a[0] == b[0] for a, b in zip(mine, ref))
    return (f"features {count} vs {other}; pids {'equal' if same_pid else 'DIFFER'} at {len(mine)} points; max |diff| "
            f"velocity and 3 dates {np.abs(values).max():.2g} mm, coordinates {geometry:.2g} m")


def main(argv=None):
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--points", type=int, default=10 ** 6)
    parser.add_argument("--dates", type=int, default=300)
    parser.add_argument("--folder", default="")
    parser.add_argument("--json", default="")
    parser.add_argument("--keep", action="store_true", help="keep the CSV and the outputs")
    parser.add_argument("--skip-ogr2ogr", action="store_true")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="benchmark-import-", dir=args.folder or None)
    try:
        csv_path = os.path.join(folder, f"EGMS_L2a_{args.points}x{args.dates}.csv")
        start = time.perf_counter()
        write_csv(csv_path, args.points, args.dates)
        size_mb = os.path.getsize(csv_path) / 2 ** 20
        print(f"CSV: {args.points:,} points x {args.dates} dates, {size_mb:,.0f} MB, written in "
              f"{time.perf_counter() - start:.0f} s", flush=True)
        os.sync()  # no run pays for writing back the files of the one before
        rows = {"plugin": run_plugin(csv_path, os.path.join(folder, "plugin.gpkg"), folder)}
        if not args.skip_ogr2ogr:
            os.sync()
            rows["ogr2ogr"] = run_ogr2ogr(csv_path, os.path.join(folder, "ogr2ogr.gpkg"))
        check = compare(os.path.join(folder, "plugin.gpkg"), os.path.join(folder, "ogr2ogr.gpkg"), args.dates) \
            if all("error" not in r for r in rows.values()) and len(rows) == 2 else "not compared"
        table = []
        for tool, r in rows.items():
            if "error" in r:
                table.append([tool] + ["-"] * 7 + [r["error"]])
                continue
            out = os.path.join(folder, f"{tool}.gpkg")
            phases = " / ".join(f"{seconds:.1f}" for seconds in r["phases"].values()) if "phases" in r else ""
            table.append([tool, f"{r['seconds']:.1f}", phases, f"{args.points / r['seconds']:,.0f}",
                          f"{r['peak_mb']:.0f}", f"{r['base_mb']:.0f}" if "base_mb" in r else "",
                          f"{os.path.getsize(out) / 2 ** 20:,.0f}", f"{r['load_before']:.1f} / {r['load_after']:.1f}",
                          ""])
        harness.print_table(["tool", "seconds", "read / duplicates / write s", "points/s", "peak MB", "MB before",
                             "output MB", "load before / after", "error"], table)
        print(f"check: {check}")
        harness.write_json(args.json, {"points": args.points, "dates": args.dates, "csv_mb": size_mb,
                                       "results": rows, "check": check})
    finally:
        if args.keep:
            print(f"kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_plugin(*sys.argv[2:5])
    else:
        main()
