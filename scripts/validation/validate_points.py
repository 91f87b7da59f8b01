"""Validate the InSAR measurement-point tools on real SBAS points (Doñana, donana-wasar; issue 14).

    .venv/bin/python scripts/validation/validate_points.py [DATA_FOLDER] [--epochs 30] [--folder OUT] [--json out.json]

Each Sentinel-1 track (Sentinel_Asc.shp 573 points, Sentinel_Desc.shp 914, displacement in cm, MultiPoint,
EPSG:25830) goes through the chain as a user runs it: `subsidence:importinsarseries` (UNITS cm -> mm),
`subsidence:labelmeasurementpoints` (seed 002's rule, defaults: |r| > 0.9, outliers beyond 3 scaled MADs or 3 σ),
`subsidence:screenmeasurementpoints` (the CNN, defaults, --epochs) and `subsidence:hotspots` on the imported
velocities (VEL_MM_YR, automatic band), with their reports in --folder.

The oracle for Gi* and Moran's I is esda 2.6 (a test dependency) at the band the automatic search chose, on the
same velocities: esda's `G_Local(transform="B", star=True)` on the values shifted positive (its z divides by Σx, so
on the raw, negative-mean velocities its sign flips: the correlation with the plugin's z is printed), with weights
that keep points at identical coordinates as neighbours; libpysal's own `DistanceBand` drops those, and the points
whose neighbour counts it gets wrong are counted. Moran's I and its z under randomisation against esda's `Moran`.
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
from subsidence_plugin.core.points.hotspots import hot_spots  # noqa: E402

TRACKS = ("Asc", "Desc")


def run_chain(data: str, folder: str, track: str, epochs: int) -> dict:
    """Import, label, screen and hot spots of one track; the algorithms' results and seconds."""
    import processing

    feedback = harness.console_feedback()
    shapefile = os.path.join(data, "donana-wasar", "shapefiles", f"Sentinel_{track}.shp")
    out = {}
    started = time.perf_counter()
    out["import"] = processing.run("subsidence:importinsarseries", {
        "INPUT": [shapefile], "UNITS": 2, "OUTPUT": os.path.join(folder, f"{track}.gpkg")}, feedback=feedback)
    out["labels"] = processing.run("subsidence:labelmeasurementpoints", {
        "INPUT": out["import"]["OUTPUT"], "OUTPUT": os.path.join(folder, f"{track}_labelled.gpkg")},
        feedback=feedback)
    out["screening"] = processing.run("subsidence:screenmeasurementpoints", {
        "INPUT": out["labels"]["OUTPUT"], "EPOCHS": epochs, "DEVICE": 3,
        "OUTPUT": os.path.join(folder, f"{track}_screened.gpkg"),
        "REPORT": os.path.join(folder, f"{track}_screening.html")}, feedback=feedback)
    out["hotspots"] = processing.run("subsidence:hotspots", {
        "INPUT": out["import"]["OUTPUT"], "FIELD": "VEL_MM_YR", "DISTANCE_BAND": 0,
        "OUTPUT": os.path.join(folder, f"{track}_hotspots.gpkg"),
        "REPORT": os.path.join(folder, f"{track}_hotspots.html")}, feedback=feedback)
    out["seconds"] = time.perf_counter() - started
    return out


def exact_weights(x: np.ndarray, y: np.ndarray, band: float):
    """libpysal weights of the binary band without self-weights, points at identical coordinates neighbours."""
    from libpysal.weights import W
    from scipy.spatial import cKDTree

    near = cKDTree(np.column_stack([x, y])).query_ball_point(np.column_stack([x, y]), band)
    return W({i: [j for j in sorted(found) if j != i] for i, found in enumerate(near)}, silence_warnings=True)


def against_esda(table, band: float) -> dict:
    """The plugin's Gi* and Moran's I at ``band`` against esda on the table's VEL_MM_YR."""
    from esda.getisord import G_Local
    from esda.moran import Moran
    from libpysal.weights import DistanceBand

    velocity = table.numeric("VEL_MM_YR")
    ok = np.isfinite(velocity)
    x, y, velocity = table.x[ok], table.y[ok], velocity[ok]
    started = time.perf_counter()
    ours = hot_spots(x, y, velocity, band=band)
    seconds = time.perf_counter() - started
    weights = exact_weights(x, y, band)
    shifted = velocity - velocity.min() + 1.0
    started = time.perf_counter()
    esda = G_Local(shifted, weights, transform="B", star=True, permutations=0)
    esda_seconds = time.perf_counter() - started
    raw = G_Local(velocity, weights, transform="B", star=True, permutations=0)
    moran = Moran(velocity, exact_weights(x, y, band), transformation="B", permutations=0)
    pysal_band = DistanceBand(np.column_stack([x, y]), threshold=band, binary=True, silence_warnings=True)
    own_counts = np.array([len(weights.neighbors[i]) for i in range(len(x))])
    pysal_counts = np.array([len(pysal_band.neighbors[i]) for i in range(len(x))])
    defined = np.isfinite(ours.z)
    return {
        "points with a velocity": int(ok.sum()), "mean velocity (mm/yr)": float(velocity.mean()),
        "band (m)": band, "Gi* max |z - esda z| (shifted positive)": float(np.max(np.abs(ours.z[defined] - esda.Zs[
            defined]))),
        "Gi* correlation with esda on the raw velocities": float(np.corrcoef(ours.z[defined], raw.Zs[defined])[0, 1]),
        "cold spots (99 %) esda on the raw velocities calls hot": int(
            ((ours.classes == -3) & (raw.Zs > 0)).sum()),
        "points DistanceBand gives wrong neighbour counts": int((own_counts != pysal_counts).sum()),
        "Moran's I": float(ours.moran.i[0]), "Moran's I, esda": float(moran.I),
        "Moran's z": float(ours.moran.z[0]), "Moran's z_rand, esda": float(moran.z_rand),
        "Gi* seconds (plugin, one band)": seconds, "G_Local seconds (esda, weights given)": esda_seconds}


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--epochs", type=int, default=30, help="screening CNN epochs (the algorithm's default)")
    parser.add_argument("--folder", default="", help="where the outputs and reports go (default: a temporary one)")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    folder = args.folder or tempfile.mkdtemp(prefix="validate_points_")
    os.makedirs(folder, exist_ok=True)
    app, provider = harness.start_qgis()
    results = {}
    try:
        for track in TRACKS:
            chain = run_chain(args.data, folder, track, args.epochs)
            labels, screening, spots = chain["labels"], chain["screening"], chain["hotspots"]
            table = read_points(chain["import"]["OUTPUT"])
            classes = read_points(spots["OUTPUT"]).numeric("GI_CLASS")
            results[track] = {
                "points": len(table), "dates": int(table.dates.size),
                "labelled good": labels["GOOD"], "labelled bad": labels["BAD"], "unlabelled": labels["UNLABELLED"],
                "screening test AUC": screening["AUC"], "screening test RMSE": screening["RMSE"],
                "kept by the CNN": screening["KEPT"], "removed by the CNN": screening["REMOVED"],
                "hot-spot band (m)": spots["DISTANCE_BAND"], "Moran's I (automatic band)": spots["MORAN_I"],
                "Moran's z (automatic band)": spots["MORAN_Z"], "cold spots 99 %": int((classes == -3).sum()),
                "hot spots 99 %": int((classes == 3).sum()),
                "not significant": int((classes == 0).sum()), "chain seconds": chain["seconds"],
                **against_esda(table, spots["DISTANCE_BAND"])}
    finally:
        harness.stop_qgis(app, provider)
    rows = [[key] + [format(r[key], ".4g") if isinstance(r[key], float) else r[key] for r in results.values()]
            for key in next(iter(results.values()))]
    harness.print_table(["measure", *results], rows)
    print(f"outputs and reports: {folder}")
    harness.write_json(args.json, results)


if __name__ == "__main__":
    main()
