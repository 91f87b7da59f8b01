"""Main-job part for susceptibility (seed 002) and GARDLIF + PSO (seed 003) on the sample study area.

Inventory from the PS velocities, factor analysis, the CNN and CNN-GWO (short CPU settings, said in the report),
the seven GARDLIF layers derived from the sample area (synthetic stand-ins, listed in the report), PSO weights,
and how well each map ranks the *true future* subsidence of the basin model (the next five years after the
last InSAR date), which only a synthetic area can tell.
"""
from __future__ import annotations

import json
import os

import numpy as np

INVENTORY = {"THRESHOLD": 5.0, "STABLE_THRESHOLD": 1.0}  # mm/yr
SHORT = {"EPOCHS": 40, "POPULATION": 4, "ITERATIONS": 2}  # paper-free CPU settings for the demo
FUTURE_YEARS = 5.0
# sample-area stand-ins for seed 003's layers: land use code -> GARDLIF land-use code, recharge (cm/yr)
LAND_USE_TO_GARDLIF = {1: 4, 2: 2, 3: 8}  # town -> Residential, fields -> Agriculture, rangeland -> Grassland
RECHARGE_CM_YR = {1: 3.0, 2: 12.0, 3: 18.0}


def run_susceptibility(result, stack_path, factor_outputs, folder, feedback):
    """Inventory, factor analysis, CNN and CNN-GWO, GARDLIF with PSO weights; returns the outputs."""
    import processing

    os.makedirs(folder, exist_ok=True)
    ps = result["PS_POINTS"]
    out = {}
    print("[main job] subsidence:subsidenceinventory", flush=True)
    out["inventory"] = processing.run("subsidence:subsidenceinventory", {
        "INPUT": ps, "FIELD": "velocity", "STACK": stack_path, **INVENTORY,
        "OUTPUT": os.path.join(folder, "inventory.gpkg")}, feedback=feedback)
    print("[main job] subsidence:factoranalysis", flush=True)
    out["analysis"] = processing.run("subsidence:factoranalysis", {
        "INVENTORY": out["inventory"]["OUTPUT"], "STACK": stack_path,
        "REPORT": os.path.join(folder, "factor_analysis.html"),
        "FR_TABLE": os.path.join(folder, "frequency_ratios.gpkg"),
        "STATISTICS": os.path.join(folder, "factor_statistics.gpkg"),
        "CORRELATION": os.path.join(folder, "factor_correlation.gpkg")}, feedback=feedback)
    for name, model in (("CNN", 0), ("CNN-GWO", 1)):
        tag = name.lower().replace("-", "_")
        print(f"[main job] subsidence:trainsusceptibility {name} ({SHORT})", flush=True)
        out[name] = processing.run("subsidence:trainsusceptibility", {
            "INVENTORY": out["inventory"]["OUTPUT"], "STACK": stack_path, "MODEL": model, **SHORT,
            "OUTPUT": os.path.join(folder, f"susceptibility_{tag}.tif"),
            "CLASSES_OUTPUT": os.path.join(folder, f"susceptibility_{tag}_classes.tif"),
            "OUTPUT_MODEL": os.path.join(folder, f"susceptibility_{tag}.pt"),
            "REPORT": os.path.join(folder, f"susceptibility_{tag}.html")}, feedback=feedback)
    layers = gardlif_layers(result, factor_outputs, folder)
    print("[main job] subsidence:gardlif and subsidence:optimizeweights", flush=True)
    inputs = {key.upper(): path for key, path in layers.items()}
    out["GARDLIF"] = processing.run("subsidence:gardlif", {
        **inputs, "OUTPUT": os.path.join(folder, "gardlif.tif"),
        "CLASSES_OUTPUT": os.path.join(folder, "gardlif_classes.tif")}, feedback=feedback)
    out["GARDLIF-PSO"] = processing.run("subsidence:optimizeweights", {
        "POINTS": ps, "FIELD": "velocity", **inputs, "OUTPUT": os.path.join(folder, "gardlif_pso.tif"),
        "CLASSES_OUTPUT": os.path.join(folder, "gardlif_pso_classes.tif"),
        "WEIGHTS_TABLE": os.path.join(folder, "gardlif_pso_weights.gpkg"),
        "REPORT": os.path.join(folder, "gardlif_pso.html")}, feedback=feedback)
    out["layers"] = layers
    return out


def sample_description(result) -> dict:
    with open(os.path.join(os.path.dirname(result["DEM"]), "sample_area.json"), encoding="utf-8") as fh:
        return json.load(fh)


def gardlif_layers(result, factor_outputs, folder):
    """The seven GARDLIF layers from the sample area (stand-ins where the area has no such data)."""
    from subsidence_plugin.core.io.rasters import read_raster, write_raster

    summary = sample_description(result)["summary"]
    years = (np.datetime64(summary["last_date"]) - np.datetime64(summary["first_date"])).astype(float) / 365.25
    landuse = read_raster(result["LANDUSE"])
    code = landuse.array[0]
    grid = landuse.grid.with_nodata(-9999.0)
    decline = read_raster(result["GROUNDWATER_DECLINE"]).band(0) / years
    thickness = read_raster(result["THICKNESS"]).band(0)
    media = np.select([thickness > 60, thickness > 20, thickness > 0], [1.0, 3.0, 5.0], 6.0)
    faults = next(path for path, name, _ in factor_outputs if name == "Distance to faults")
    wells = next(path for path, name, _ in factor_outputs if name == "Distance to wells")
    discharge = 40.0 * np.exp(-read_raster(wells).band(0) / 1500.0)  # pumping proxy, cm/yr near wells
    arrays = {
        "groundwater_decline": decline,
        "aquifer_media": media,
        "recharge": np.vectorize(RECHARGE_CM_YR.get, otypes=[float])(code),
        "discharge": discharge,
        "land_use": np.vectorize(LAND_USE_TO_GARDLIF.get, otypes=[float])(code),
        "aquifer_thickness": thickness,
        "fault_distance": read_raster(faults).band(0),
    }
    return {key: write_raster(os.path.join(folder, f"gardlif_{key}.tif"),
                              np.nan_to_num(values, nan=-9999.0).astype(np.float32), grid, [key])
            for key, values in arrays.items()}


def true_future_subsidence(result):
    """Mean true subsidence rate (mm/yr, positive = sinking) over the five years after the last InSAR date, per
    cell, from the sample area's basin model."""
    from subsidence_plugin.core.io.rasters import read_raster
    from subsidence_plugin.core.sample_area import BasinModel

    description = sample_description(result)
    model = BasinModel(**{k: np.asarray(v) if k in ("wells_xy", "wells_rate") else v
                          for k, v in description["model"].items()})
    grid = read_raster(result["DEM"]).grid
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    x, y = grid.cell_centres(rows.ravel(), cols.ravel())
    start = np.datetime64(description["pumping_start"])
    last = (np.datetime64(description["summary"]["last_date"]) - start).astype(float) / 365.25
    disp = model.displacement(x, y, np.array([last, last + FUTURE_YEARS]))
    return (-(disp[:, 1] - disp[:, 0]) / FUTURE_YEARS).reshape(grid.height, grid.width)


def future_ranking(maps, future):
    """AUC of each map for cells whose true future rate exceeds the inventory threshold, and Spearman's rank
    correlation with the true future rate."""
    from scipy.stats import spearmanr

    from subsidence_plugin.core.io.rasters import read_raster
    from subsidence_plugin.core.stats.roc import roc_auc

    positive = future >= INVENTORY["THRESHOLD"]
    rows = []
    for name, path in maps.items():
        index = read_raster(path).band(0)
        ok = np.isfinite(index)
        rows.append((name, roc_auc(positive[ok], index[ok]), float(spearmanr(index[ok], future[ok])[0]),
                     float(positive[ok].mean() * 100)))
    return rows


def susceptibility_section(report, out, result):
    """Report: model accuracy on both splits, GARDLIF weights, and the ranking of the true future subsidence."""
    from qgis.core import QgsRasterLayer

    from subsidence_plugin.processing.map_images import render_png

    report.heading("Susceptibility (seed 002) and GARDLIF + PSO (seed 003)")
    inv = out["inventory"]
    report.paragraph(f"Inventory from the PS velocities: {inv['SUBSIDING']} subsiding cells (v &le; "
                     f"-{INVENTORY['THRESHOLD']:g} mm/yr) and {inv['STABLE']} stable cells (|v| &le; "
                     f"{INVENTORY['STABLE_THRESHOLD']:g} mm/yr). Models trained with short CPU settings "
                     f"({SHORT['EPOCHS']} epochs at most; GWO with {SHORT['POPULATION']} wolves x "
                     f"{SHORT['ITERATIONS']} iterations); the algorithm's defaults are larger. Factor analysis: "
                     f"<a href='susceptibility/factor_analysis.html'>factor_analysis.html</a>.", raw_html=True)
    rows = []
    for name in ("CNN", "CNN-GWO"):
        r = out[name]
        rows.append((name, r["AUC"], r["RMSE"], r["FR_AUC"], r["BLOCKED_AUC"]))
    report.table(rows, header=("model", "test AUC (random 70/30)", "test RMSE", "FR baseline AUC",
                               "test AUC (blocked split)"), caption="Seed 002 reports AUC 0.762 (CNN), 0.812 "
                                                                   "(CNN-GWO), 0.788 (CNN-ICA) at Pekalongan")
    pso = out["GARDLIF-PSO"]
    report.paragraph(f"GARDLIF weights optimised by PSO: {pso['OPTIMISED_WEIGHTS']} (G, A, R, D, L, I, F; "
                     f"defaults 5, 5, 4, 4, 3, 2, 1). Pearson r with the InSAR rate {pso['R_BEFORE']:.3f} &rarr; "
                     f"{pso['R_AFTER']:.3f}, CI {pso['CI_BEFORE']:.0f} &rarr; {pso['CI_AFTER']:.0f} (seed 003 at "
                     "Tehran: r 0.55 &rarr; 0.67). Layers: decline = head decline / InSAR period; aquifer media from "
                     "the clay thickness (&gt; 60 m clay, &gt; 20 m clay + sand, sand, gravel outside the basin); "
                     "recharge by land use (town 3, fields 12, rangeland 18 cm/yr); discharge = 40 cm/yr x "
                     "exp(-distance to wells / 1.5 km); land use town = residential, fields = agriculture, "
                     "rangeland = grassland; thickness = clay thickness; distance to faults.", raw_html=True)
    future = true_future_subsidence(result)
    maps = {"CNN": out["CNN"]["OUTPUT"], "CNN-GWO": out["CNN-GWO"]["OUTPUT"], "GARDLIF": out["GARDLIF"]["OUTPUT"],
            "GARDLIF-PSO": pso["OUTPUT"]}
    ranking = future_ranking(maps, future)
    report.table(ranking, header=("map", "AUC for true future rate >= threshold", "Spearman rank r",
                                  "cells above the threshold (%)"),
                 caption=f"Ranking of the true subsidence of the next {FUTURE_YEARS:g} years (basin model)")
    images = [QgsRasterLayer(out["CNN-GWO"]["CLASSES_OUTPUT"], "CNN-GWO classes"),
              QgsRasterLayer(pso["CLASSES_OUTPUT"], "GARDLIF-PSO classes")]
    for layer in images:
        report.image(render_png([layer], 300), layer.name(), None)
    return rows, ranking, pso
