"""Validate the susceptibility models (seed 002) on real InSAR data: Mexico City, through the Processing tools.

    .venv/bin/python scripts/validation/validate_susceptibility.py [DATA_FOLDER] [--epochs 100] [--json out.json]

Mexico City (mexico-city-pyrate): the 30 interferograms are inverted to a LOS velocity (mm/yr) as in
scripts/validation/validate_surface.py. The inversion has no reference point, so the velocity is re-referenced to the
median of the cells above 2,250 m (the volcanic hills around the former lake bed, stable ground: the lake-bed cells
below 2,240 m move about 120 mm/yr away from the satellite relative to them). Everything is warped to UTM 14N at
150 m. Sparse "PS" points are a seeded 30 % of the cells whose mean coherence exceeds 0.6.

Then the plugin's own algorithms run as a user would chain them: slope, aspect, curvature, TWI and SPI from the
DEM, buildfactorstack (altitude + those five), subsidenceinventory (subsiding: v <= -50 mm/yr; stable:
|v| <= 20 mm/yr), and trainsusceptibility with the frequency-ratio model, the CNN, CNN-GWO and CNN-ICA on frequency-ratio
inputs (seed 002), and the CNN and CNN-GWO on z-scored factor values (the algorithm's defaults unless --epochs / --population / --iterations are given). Printed: the test AUC of each
model on the random 70/30 and the blocked split, and how well each index ranks the cells that are *not* PS
points (never seen in training): AUC for their true class by the same thresholds, and Spearman's rank
correlation of the index with their subsidence rate (-v). As a yardstick, the same two figures for the altitude
alone (the former lake bed is the low ground).
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)
from validate_surface import UTM14N, mexico_city_utm  # noqa: E402

from subsidence_plugin.core.io.rasters import read_raster  # noqa: E402

STABLE_GROUND_M = 2250.0  # cells above this altitude (m) reference the velocity
THRESHOLD = 50.0  # mm/yr, subsiding
STABLE_THRESHOLD = 20.0  # mm/yr, |v| for stable ground (the 6-month series is noisy)
PS_SHARE = 0.3
MODELS = {"Frequency ratio": (3, 0), "CNN": (0, 0), "CNN-GWO": (1, 0), "CNN-ICA": (2, 0),
          "CNN, z-score input": (0, 1), "CNN-GWO, z-score input": (1, 1)}  # (MODEL, ENCODING) enum values


def mexico_city_rasters(data: str, tmp: str):
    """(velocity mm/yr re-referenced, mean coherence, DEM path) on a UTM 14N grid of 150 m."""
    v, coh, dem_path, utm = mexico_city_utm(data, tmp)
    z = read_raster(dem_path).band(0)
    reference = float(np.nanmedian(v[z > STABLE_GROUND_M]))
    return v - reference, coh, dem_path, utm, reference


def ps_layer(v, coh, grid, seed=0):
    """A memory layer of PS points (cell centres) with their velocity, and the flat indices of those cells."""
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsPointXY, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    candidates = np.flatnonzero((coh.ravel() > 0.6) & np.isfinite(v.ravel()))
    ps = np.sort(np.random.default_rng(seed).choice(candidates, int(PS_SHARE * len(candidates)), replace=False))
    rows, cols = np.unravel_index(ps, v.shape)
    x, y = grid.cell_centres(rows, cols)
    layer = QgsVectorLayer(f"Point?crs={UTM14N}", "PS points", "memory")
    layer.dataProvider().addAttributes([QgsField("velocity", QVariant.Double)])
    layer.updateFields()
    features = []
    for xi, yi, vi in zip(x, y, v.ravel()[ps]):
        feature = QgsFeature(layer.fields())
        feature.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(float(xi), float(yi))))
        feature.setAttributes([float(vi)])
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer, ps


def factor_stack(dem, folder, feedback):
    """Altitude, slope, aspect, total curvature, TWI and SPI from the DEM, aligned into one stack."""
    import processing

    paths = [dem]
    for algorithm in ("slope", "aspect", "curvature", "topographicwetnessindex", "streampowerindex"):
        paths.append(processing.run(f"subsidence:{algorithm}", {
            "INPUT": dem, "OUTPUT": os.path.join(folder, f"{algorithm}.tif")}, feedback=feedback)["OUTPUT"])
    return processing.run("subsidence:buildfactorstack", {
        "REFERENCE": dem, "CONTINUOUS": paths, "CATEGORICAL": [],
        "OUTPUT": os.path.join(folder, "stack.tif")}, feedback=feedback)["OUTPUT"]


def held_out_ranking(index, v, held):
    """AUC for the held-out cells' true class and Spearman's r of the index (a grid) with their subsidence rate."""
    from scipy.stats import spearmanr

    from subsidence_plugin.core.stats.roc import roc_auc

    index = index.ravel()[held]
    rate = -v.ravel()[held]
    ok = np.isfinite(index) & np.isfinite(rate)
    classified = ok & ((rate >= THRESHOLD) | (np.abs(rate) <= STABLE_THRESHOLD))
    auc = roc_auc(rate[classified] >= THRESHOLD, index[classified])
    return auc, float(spearmanr(index[ok], rate[ok])[0]), int(classified.sum())


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--population", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    app, provider = harness.start_qgis()
    import processing

    feedback = harness.console_feedback()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        v, coh, dem, grid, reference = mexico_city_rasters(args.data, tmp)
        layer, ps = ps_layer(v, coh, grid)
        held = np.setdiff1d(np.flatnonzero(np.isfinite(v.ravel())), ps)
        stack = factor_stack(dem, tmp, feedback)
        inventory = processing.run("subsidence:subsidenceinventory", {
            "INPUT": layer, "FIELD": "velocity", "STACK": stack, "THRESHOLD": THRESHOLD,
            "STABLE_THRESHOLD": STABLE_THRESHOLD, "OUTPUT": os.path.join(tmp, "inventory.gpkg")}, feedback=feedback)
        print(f"Mexico City: velocity re-referenced by {reference:+.1f} mm/yr (median above {STABLE_GROUND_M:g} m); "
              f"{len(ps)} PS points -> {inventory['SUBSIDING']} subsiding and {inventory['STABLE']} stable cells; "
              f"{len(held)} cells held out", flush=True)
        auc, spearman, scored = held_out_ranking(-read_raster(dem).band(0), v, held)
        rows.append({"model": "Altitude alone (lower = more susceptible; no training)", "auc_random": np.nan,
                     "auc_blocked": np.nan, "rmse_random": np.nan, "fr_auc_random": np.nan,
                     "auc_held_out": auc, "spearman_held_out": spearman, "held_out_scored": scored})
        for name, (model, encoding) in MODELS.items():
            tag = name.lower().replace(" ", "_").replace("-", "_")
            result = processing.run("subsidence:trainsusceptibility", {
                "INVENTORY": inventory["OUTPUT"], "STACK": stack, "MODEL": model, "ENCODING": encoding, "EPOCHS": args.epochs,
                "POPULATION": args.population, "ITERATIONS": args.iterations,
                "OUTPUT": os.path.join(tmp, f"{tag}.tif"), "CLASSES_OUTPUT": os.path.join(tmp, f"{tag}_classes.tif"),
                "OUTPUT_MODEL": os.path.join(tmp, f"{tag}.pt"), "REPORT": os.path.join(tmp, f"{tag}.html")},
                feedback=feedback)
            auc, spearman, scored = held_out_ranking(read_raster(result["OUTPUT"]).band(0), v, held)
            rows.append({"model": name, "auc_random": result["AUC"], "auc_blocked": result["BLOCKED_AUC"],
                         "rmse_random": result["RMSE"], "fr_auc_random": result["FR_AUC"],
                         "auc_held_out": auc, "spearman_held_out": spearman, "held_out_scored": scored})
    harness.stop_qgis(app, provider)
    harness.print_table(["model", "test AUC, random 70/30", "test AUC, blocked", "test RMSE, random",
                         "held-out cells: AUC", "held-out cells: Spearman r with -v"],
                        [[r["model"], f"{r['auc_random']:.3f}", f"{r['auc_blocked']:.3f}", f"{r['rmse_random']:.3f}",
                          f"{r['auc_held_out']:.3f} ({r['held_out_scored']} cells)", f"{r['spearman_held_out']:.3f}"]
                         for r in rows])
    harness.write_json(args.json, rows)


if __name__ == "__main__":
    main()
