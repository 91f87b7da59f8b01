"""The plugin's main job on the built-in sample study area, run headless through Processing algorithms.

Writes into OUTPUT: the sample area's files, ``sample_area.qgz`` (every layer styled, in groups) and
``report.html``, then prints a short summary. Later capabilities extend this one script.

    scripts/demo.sh [OUTPUT] [--size N] [--seed S]
"""
from __future__ import annotations

import json
import os
import sys
import time

import harness  # scripts/, beside this file; puts the repository root on sys.path
import numpy as np
from main_job_groundwater import groundwater_section, run_groundwater
from main_job_points import POINTS_RADIUS, SCREENING_EPOCHS, points_section, run_points
from main_job_series import run_series, series_section
from main_job_susceptibility import run_susceptibility, susceptibility_section
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsProject, QgsRasterLayer, QgsRectangle,
                       QgsVectorLayer)


def add_group(project, name, layers):
    """Add valid layers under a new layer-tree group (first layer on top)."""
    group = project.layerTreeRoot().addGroup(name)
    for layer in layers:
        if not layer.isValid():
            raise RuntimeError(f"Layer {layer.name()} ({layer.source()}) did not load")
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    return group


def sample_area_section(report, result, layers):
    """Report: what the sample area holds, maps and its time series."""
    from subsidence_plugin.core.io.points import read_points
    from subsidence_plugin.core.io.vectors import read_table
    from subsidence_plugin.core.reports.html import new_figure
    from subsidence_plugin.processing.map_images import render_png

    summary = json.loads(result["SUMMARY"])
    report.heading("Sample study area")
    report.paragraph(
        "A synthetic basin with known truth (subsidence from aquifer compaction: drawdown cones around pumping "
        "wells, compaction proportional to compressible thickness and drawdown, delayed in time). Units: mm, "
        "negative = subsidence.")
    report.table([
        ("Extent", f"{summary['extent_km']:.1f} km x {summary['extent_km']:.1f} km"),
        ("Grid", f"{summary['size_cells']} x {summary['size_cells']} cells of {summary['cell_size_m']:g} m"),
        ("Seed", summary["seed"]),
        ("InSAR period", f"{summary['first_date']} to {summary['last_date']} ({summary['insar_dates']} dates)"),
        ("PS points", summary["ps_points"]),
        ("Largest true subsidence", f"{summary['max_subsidence_mm']:.1f} mm"),
        ("Largest true rate", f"{summary['max_subsidence_rate_mm_yr']:.1f} mm/yr"),
        ("Wells / piezometers / GPS stations",
         f"{summary['wells']} / {summary['piezometers']} / {summary['gps_stations']}"),
        ("Land use (town / fields / rangeland)",
         f"{summary['town_share']:.1%} / {summary['fields_share']:.1%} / {summary['rangeland_share']:.1%}"),
    ], header=("Property", "Value"))
    maps = [
        ([layers["RIVERS"], layers["FAULTS"], layers["DEM"]], "DEM (m) with rivers and faults"),
        ([layers["PS_POINTS"], layers["LANDUSE"]], "PS points (velocity, mm/yr) on land use"),
        ([layers["WELLS"], layers["PIEZOMETERS"], layers["TRUTH_VELOCITY"]],
         "True velocity (mm/yr) with pumping wells (triangles) and piezometers"),
        ([layers["IMAGE"]], "Image, false colour (NIR, red, green); the cloud is nodata"),
        ([layers["THICKNESS"]], "Compressible-layer thickness (m)"),
        ([layers["GPS_STATIONS"], layers["GROUNDWATER_DECLINE"]], "Groundwater decline over the InSAR period (m)"),
    ]
    for map_layers, caption in maps:
        report.image(render_png(map_layers, 420), caption, None)

    ps = read_points(result["PS_POINTS"].split("|")[0], "ps_points")
    velocity = ps.numeric("velocity")
    landuse = ps.numeric("landuse")
    fig, ax = new_figure(6.4, 3.6)
    for code, label in ((1, "town"), (2, "fields"), (3, "rangeland")):
        candidates = np.flatnonzero(landuse == code)
        if candidates.size:
            pick = candidates[np.argmin(velocity[candidates])]
            ax.plot(ps.dates.astype("datetime64[D]"), ps.series[pick], ".", ms=3,
                    label=f"{ps.attributes['ps_id'][pick]} ({label}, {velocity[pick]:.1f} mm/yr)")
    ax.set_ylabel("displacement (mm)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    report.figure(fig, "Fastest-subsiding PS point per land use: 12-day displacement series")

    gps = read_table(result["GPS_DAILY"].split("|")[0], "gps_daily")
    fig, ax = new_figure(6.4, 3.6)
    for name in np.unique(gps["station"]):
        sel = gps["station"] == name
        ax.plot(gps["date"][sel], gps["up_mm"][sel], lw=0.6, label=name)
    ax.set_ylabel("vertical displacement (mm)")
    ax.legend(fontsize=8, ncol=3)
    ax.grid(alpha=0.3)
    report.figure(fig, "GPS stations: daily vertical displacement")

    piezo = read_points(result["PIEZOMETERS"].split("|")[0], "piezometers")
    fig, ax = new_figure(6.4, 3.6)
    for i in range(len(piezo)):
        ax.plot(piezo.dates, piezo.series[i], lw=1, label=piezo.attributes["piezo_id"][i])
    ax.set_ylabel("groundwater level (m a.s.l.)")
    ax.legend(fontsize=7, ncol=4)
    ax.grid(alpha=0.3)
    report.figure(fig, "Piezometers: monthly groundwater levels")
    return summary


FACTOR_STEPS = [  # (algorithm, parameters (paths filled in by run_factors), output file, layer name, unit)
    ("subsidence:slope", {}, "slope.tif", "Slope", "degrees"),
    ("subsidence:aspect", {}, "aspect.tif", "Aspect", "degrees from north, -1 flat"),
    ("subsidence:curvature", {}, "curvature.tif", "Total curvature", "1/100 m"),
    ("subsidence:topographicwetnessindex", {}, "twi.tif", "TWI", "-"),
    ("subsidence:streampowerindex", {}, "spi.tif", "SPI", "m2/m"),
    ("subsidence:spectralindex", {"INDEX": 0, "SCALE": 0.0001}, "ndvi.tif", "NDVI", "-"),
    ("subsidence:spectralindex", {"INDEX": 1, "SCALE": 0.0001}, "ndwi.tif", "NDWI (McFeeters)", "-"),
    ("subsidence:distancetofeatures", {"INPUT": "RIVERS"}, "distance_to_rivers.tif", "Distance to rivers", "m"),
    ("subsidence:distancetofeatures", {"INPUT": "FAULTS"}, "distance_to_faults.tif", "Distance to faults", "m"),
    ("subsidence:distancetofeatures", {"INPUT": "WELLS"}, "distance_to_wells.tif", "Distance to wells", "m"),
    ("subsidence:drainagedensity", {"INPUT": "RIVERS", "RADIUS": 1000}, "drainage_density.tif",
     "Drainage density", "km/km2"),
    ("subsidence:groundwaterchange", {"PIEZOMETERS": "PIEZOMETERS", "START": "2016-01-15", "END": "2020-12-15",
                                      "METHOD": 1}, "groundwater_change.tif", "Groundwater-level change", "m"),
]


def run_factors(result, folder, feedback):
    """Every driving force of seeds 000 / 002 from the sample area, then the aligned factor stack."""
    import processing

    os.makedirs(folder, exist_ok=True)
    dem, image = result["DEM"], result["IMAGE"]
    outputs = []
    for algorithm, extra, filename, name, unit in FACTOR_STEPS:
        params = {"OUTPUT": os.path.join(folder, filename)}
        if algorithm in ("subsidence:slope", "subsidence:aspect", "subsidence:curvature",
                         "subsidence:topographicwetnessindex", "subsidence:streampowerindex"):
            params["INPUT"] = dem
        elif algorithm == "subsidence:spectralindex":
            params["INPUT"] = [image]
        else:
            params["REFERENCE"] = dem
        params.update({k: result.get(v, v) if isinstance(v, str) else v for k, v in extra.items()})
        print(f"[main job] {algorithm} -> {filename}", flush=True)
        outputs.append((processing.run(algorithm, params, feedback=feedback)["OUTPUT"], name, unit))
    continuous = [dem] + [path for path, _, _ in outputs] + [result["THICKNESS"]]
    print("[main job] subsidence:buildfactorstack", flush=True)
    stack = processing.run("subsidence:buildfactorstack", {
        "REFERENCE": dem, "CONTINUOUS": continuous, "CATEGORICAL": [result["LANDUSE"]],
        "OUTPUT": os.path.join(folder, "factor_stack.tif")}, feedback=feedback)["OUTPUT"]
    return outputs, stack


def factor_section(report, outputs, stack_path):
    """Report: one row per factor band of the stack with its statistics, and a map of each factor."""
    from subsidence_plugin.core.io.rasters import read_raster
    from subsidence_plugin.processing.map_images import render_png

    stack = read_raster(stack_path)
    report.heading("Driving-force factors")
    report.paragraph(f"{len(stack.band_names)} factors aligned on the DEM grid in {os.path.basename(stack_path)} "
                     f"({stack.grid.width} x {stack.grid.height} cells, {stack.valid[0].mean():.1%} valid: the "
                     "image's cloud is nodata in every band).")
    rows = []
    for i, name in enumerate(stack.band_names):
        values = stack.band(i)
        rows.append((name, float(np.nanmin(values)), float(np.nanmean(values)), float(np.nanmax(values))))
    report.table(rows, header=("band", "min", "mean", "max"), caption="Factor stack bands")
    for path, name, unit in outputs:
        layer = QgsRasterLayer(path, name)
        report.image(render_png([layer], 260), f"{name} ({unit})", None)


MAIN_JOB_EPOCHS = 30  # the algorithm's default is the paper's 150; the demo keeps the CPU run short
SERIES_EPOCHS = 30  # the series models' seeds train up to 300 (LSTM) and 2,000 (physics RNN) epochs


def run_surfaces(result, stack_path, folder, feedback, epochs):
    """Kriging, IDW and the patch CNN of the PS velocities (mm/yr)."""
    import processing

    os.makedirs(folder, exist_ok=True)
    ps = result["PS_POINTS"]
    common = {"INPUT": ps, "FIELD": "velocity", "REFERENCE": result["DEM"]}
    print("[main job] subsidence:kriging", flush=True)
    kriging = processing.run("subsidence:kriging", {**common, "OUTPUT": os.path.join(folder, "kriging.tif"),
                                                    "REPORT": os.path.join(folder, "kriging.html")},
                             feedback=feedback)
    print("[main job] subsidence:idw", flush=True)
    idw = processing.run("subsidence:idw", {**common, "OUTPUT": os.path.join(folder, "idw.tif")}, feedback=feedback)
    print(f"[main job] subsidence:trainpatchcnn ({epochs} epochs; the paper's default is 150)", flush=True)
    cnn = processing.run("subsidence:trainpatchcnn", {
        "INPUT": ps, "FIELD": "velocity", "STACK": stack_path, "EPOCHS": epochs, "UNCERTAINTY": True,
        "MC_SAMPLES": 5, "OUTPUT_MODEL": os.path.join(folder, "patch_cnn.pt"),
        "OUTPUT": os.path.join(folder, "patch_cnn.tif"), "REPORT": os.path.join(folder, "patch_cnn.html")},
        feedback=feedback)
    return {"Kriging": kriging, "IDW": idw, "Patch CNN": cnn}


def truth_vmax(result):
    """The end of the true velocity's symmetric diverging ramp (its saved style), shared by the surfaces."""
    return QgsRasterLayer(result["TRUTH_VELOCITY"], "truth").renderer().classificationMax()


def surface_section(report, surfaces, result, epochs):
    """Report: each surface against the truth in the cells without PS points, overall and per land use."""
    from subsidence_plugin.core.io.points import read_points
    from subsidence_plugin.core.io.rasters import read_raster
    from subsidence_plugin.core.stats.metrics import error_statistics
    from subsidence_plugin.processing import styles
    from subsidence_plugin.processing.map_images import render_png

    truth = read_raster(result["TRUTH_VELOCITY"]).band(0)
    landuse = read_raster(result["LANDUSE"]).array[0]
    ps = read_points(result["PS_POINTS"].split("|")[0], "ps_points")
    grid = read_raster(result["TRUTH_VELOCITY"]).grid
    rows, cols, inside = grid.cell_of(ps.x, ps.y)
    has_ps = np.zeros(truth.shape, dtype=bool)
    has_ps[rows[inside], cols[inside]] = True
    report.heading("Continuous surface of the PS velocity")
    report.paragraph(f"Kriging (automatic variogram, 32 neighbours), IDW (power 2, 12 neighbours) and the patch CNN "
                     f"of seed 000 ({epochs} epochs here to keep the demo short on a CPU; the algorithm's default "
                     "is the paper's 150). The truth is known everywhere: the table scores each surface in the "
                     "cells without any PS point (the gaps InSAR leaves), overall and per land use.")
    rows_out = []
    for name, out in surfaces.items():
        surface = read_raster(out["OUTPUT"]).band(0)
        at_points = (f"{out['CV_RMSE']:.2f} (leave-one-out)" if "CV_RMSE" in out else
                     f"{out['TEST_RMSE']:.2f} (test split)")
        row = [name, at_points]
        for code in (None, 1, 2, 3):
            mask = ~has_ps & ~np.isnan(truth) & (True if code is None else landuse == code)
            row.append(error_statistics(truth[mask], surface[mask])["rmse"])
        rows_out.append(row)
    report.table(rows_out, header=("method", "RMSE at points (mm/yr)", "gap RMSE, all (mm/yr)", "town", "fields",
                                   "rangeland"), caption="Velocity RMSE against the truth")
    vmax = truth_vmax(result)
    for name, out in surfaces.items():
        layer = QgsRasterLayer(out["OUTPUT"], f"{name} (mm/yr)")
        styles.style_diverging(layer, "mm/yr", vmax=vmax)  # the truth's scale: the panels compare directly
        report.image(render_png([layer], 300),
                     f"{name} velocity (mm/yr; red = subsidence), same diverging style as the truth and PS points",
                     None)
    return rows_out


def save_canvas_view(project, extent, crs):
    """Save ``extent`` as the map canvas's view: a <mapcanvas name="theMapCanvas"> element (what QGIS restores
    when it opens a project) written into the project document on every write, and the default view extent.
    Headless there is no canvas to write it. Returns the connected handler."""
    from qgis.core import QgsMapSettings, QgsReferencedRectangle
    from qgis.PyQt.QtCore import QSize

    project.viewSettings().setDefaultViewExtent(QgsReferencedRectangle(extent, crs))
    settings = QgsMapSettings()
    settings.setDestinationCrs(crs)
    settings.setOutputSize(QSize(1000, max(1, int(round(1000 * extent.height() / max(extent.width(), 1e-9))))))
    settings.setExtent(extent)

    def write(document):
        root = document.documentElement()
        canvases = root.elementsByTagName("mapcanvas")
        for i in reversed(range(canvases.count())):
            node = canvases.at(i)
            if node.toElement().attribute("name") == "theMapCanvas":
                node.parentNode().removeChild(node)
        element = document.createElement("mapcanvas")
        element.setAttribute("name", "theMapCanvas")
        element.setAttribute("annotationsVisible", "1")
        settings.writeXml(element, document)
        root.appendChild(element)

    project.writeProject.connect(write)
    return write


def main(argv=None):
    parser = harness.argument_parser(__doc__)
    parser.add_argument("--output", default=os.path.join(harness.ROOT, "demo_output"))
    parser.add_argument("--size", type=int, default=200, help="cells per side of the sample area")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--epochs", type=int, default=MAIN_JOB_EPOCHS, help="patch-CNN epochs (paper: 150)")
    parser.add_argument("--series-epochs", type=int, default=SERIES_EPOCHS,
                        help="epochs of the series models (seeds: 300 and 2,000 with early stopping)")
    parser.add_argument("--screening-epochs", type=int, default=SCREENING_EPOCHS,
                        help="epochs of the measurement-point screening CNN")
    args = parser.parse_args(argv)
    output = os.path.abspath(args.output)
    os.makedirs(output, exist_ok=True)
    started = time.time()
    app, provider = harness.start_qgis()
    import processing

    from subsidence_plugin.core.reports.html import HtmlReport
    from subsidence_plugin.processing import styles
    from subsidence_plugin.resources import plugin_version

    feedback = harness.console_feedback()
    print("[main job] subsidence:createsamplearea", flush=True)
    result = processing.run("subsidence:createsamplearea", {
        "SIZE": args.size, "SEED": args.seed, "OUTPUT_FOLDER": os.path.join(output, "sample_area")},
        feedback=feedback)

    project = QgsProject.instance()
    project.clear()
    project.setTitle("Land subsidence - sample study area")
    layers = {}
    names = {"PS_POINTS": "PS points", "GPS_STATIONS": "GPS stations", "PIEZOMETERS": "Piezometers",
             "WELLS": "Pumping wells", "RIVERS": "Rivers", "FAULTS": "Faults"}
    for key, name in names.items():
        layers[key] = QgsVectorLayer(result[key], name, "ogr")
    raster_names = {"TRUTH_DISPLACEMENT": "True cumulative displacement (mm)",
                    "TRUTH_VELOCITY": "True velocity (mm/yr)", "DEM": "DEM (m)", "LANDUSE": "Land use",
                    "IMAGE": "Image (NIR, red, green)", "THICKNESS": "Compressible thickness (m)",
                    "INTERBED_THICKNESS": "Interbed thickness b0 (m)",
                    "VERTICAL_CONDUCTIVITY": "Interbed vertical conductivity K'v (m/s)",
                    "GROUNDWATER_DECLINE": "Groundwater decline (m)"}
    for key, name in raster_names.items():
        layers[key] = QgsRasterLayer(result[key], name)
    project.setCrs(layers["DEM"].crs() if layers["DEM"].crs().isValid() else QgsCoordinateReferenceSystem("EPSG:32613"))
    add_group(project, "Observations", [layers[k] for k in ("GPS_STATIONS", "PIEZOMETERS", "WELLS", "PS_POINTS")])
    add_group(project, "Rivers and faults", [layers["RIVERS"], layers["FAULTS"]])
    add_group(project, "Truth", [layers["TRUTH_VELOCITY"], layers["TRUTH_DISPLACEMENT"]])
    add_group(project, "Inputs", [layers[k] for k in ("THICKNESS", "INTERBED_THICKNESS", "VERTICAL_CONDUCTIVITY",
                                                     "GROUNDWATER_DECLINE", "LANDUSE", "IMAGE", "DEM")])

    factor_outputs, stack_path = run_factors(result, os.path.join(output, "factors"), feedback)
    factor_layers = [QgsRasterLayer(path, name) for path, name, _ in factor_outputs]
    add_group(project, "Factors", [QgsRasterLayer(stack_path, "Factor stack")] + factor_layers)
    for group in project.layerTreeRoot().findGroups():
        group.setExpanded(group.name() != "Factors")
        if group.name() == "Factors":
            for child in group.children():
                child.setItemVisibilityChecked(False)

    surfaces = run_surfaces(result, stack_path, os.path.join(output, "surfaces"), feedback, args.epochs)
    surface_layers = [QgsRasterLayer(out["OUTPUT"], f"{name} velocity (mm/yr)") for name, out in surfaces.items()]
    for layer in surface_layers:  # in the project, on the truth's scale (the .qml beside each file keeps its own)
        styles.style_diverging(layer, "mm/yr", vmax=truth_vmax(result))
    variance = QgsRasterLayer(surfaces["Kriging"]["OUTPUT"], "Kriging variance ((mm/yr)²)")
    styles.style_sequential(variance, "(mm/yr)²", band=2)  # project only: the .qml beside the file keeps band 1
    surfaces_group = add_group(project, "Surfaces", surface_layers + [variance])
    surfaces_group.findLayer(variance.id()).setItemVisibilityChecked(False)
    susceptibility = run_susceptibility(result, stack_path, factor_outputs, os.path.join(output, "susceptibility"),
                                        feedback)
    susceptibility_layers = [QgsVectorLayer(susceptibility["inventory"]["OUTPUT"], "Subsidence inventory", "ogr")]
    for name in ("CNN-GWO", "CNN", "GARDLIF-PSO", "GARDLIF"):
        susceptibility_layers += [QgsRasterLayer(susceptibility[name]["CLASSES_OUTPUT"], f"{name} classes"),
                                  QgsRasterLayer(susceptibility[name]["OUTPUT"], f"{name} index")]
    add_group(project, "Susceptibility", susceptibility_layers)
    series = run_series(result, os.path.join(output, "series"), feedback, args.series_epochs)
    series_layers = [QgsVectorLayer(series["import"]["OUTPUT"], "PS series (mm)", "ogr"),
                     QgsVectorLayer(series["heads"]["OUTPUT"], "Heads at the PS points (m)", "ogr")]
    styles.style_points_diverging(series_layers[0], "VEL_MM_YR", "mm/yr", styles.nice_limit(truth_vmax(result)))
    for name in ("LSTM", "Physics RNN"):
        layer = QgsVectorLayer(series[name]["OUTPUT"], f"{name}: held-out forecast RMSE (mm)", "ogr")
        styles.style_points_sequential(layer, "RMSE_MM", "mm", 10.0)
        series_layers.append(layer)
    series_group = add_group(project, "Time series", series_layers)
    series_group.findLayer(series_layers[1].id()).setItemVisibilityChecked(False)
    series_group.setExpanded(False)

    points = run_points(result, os.path.join(output, "points"), feedback, args.screening_epochs,
                        radius=POINTS_RADIUS)
    point_layers = [QgsVectorLayer(points["hotspots"]["OUTPUT"], "Hot spots of the kept points' velocity (Gi*)", "ogr"),
                    QgsVectorLayer(points["screening"]["OUTPUT"], "PS + DS points screened (CNN)", "ogr"),
                    QgsVectorLayer(points["gnss"]["OUTPUT"], "GNSS validation per station", "ogr")]
    styles.style_hot_spots(point_layers[0])
    styles.style_point_categories(point_layers[1], "KEEP", styles.KEPT_POINTS)
    styles.style_marker(point_layers[2], "star", "#ffd700", 5.0)
    points_group = add_group(project, "InSAR points", point_layers)
    points_group.findLayer(point_layers[1].id()).setItemVisibilityChecked(False)
    points_group.setExpanded(False)

    groundwater = run_groundwater(result, layers["DEM"], os.path.join(output, "groundwater"), feedback)
    stack = QgsRasterLayer(groundwater["storage"]["OUTPUT_RASTER"], "ΔGWS, synthetic GRACE (mm, a band a month)")
    styles.style_diverging(stack, "mm")
    storage_table = QgsVectorLayer(groundwater["storage"]["OUTPUT"], "Groundwater storage (monthly table)", "ogr")
    groundwater_group = add_group(project, "Groundwater storage (synthetic GRACE / GLDAS)", [stack, storage_table])
    groundwater_group.setItemVisibilityChecked(False)
    groundwater_group.setExpanded(False)

    for tree_layer in project.layerTreeRoot().findLayers():
        styles.set_legend_title(tree_layer)  # no 'Band 1: ... (Gray)' line above the colour ramps
    canvas_writer = save_canvas_view(project, QgsRectangle(layers["DEM"].extent()), project.crs())

    report = HtmlReport("Land subsidence - main job on the sample study area",
                        f"Land subsidence plugin {plugin_version()}, QGIS {QgsApplication.instance().applicationVersion() or ''}")
    summary = sample_area_section(report, result, layers)
    factor_section(report, factor_outputs, stack_path)
    scores = surface_section(report, surfaces, result, args.epochs)
    models, ranking, pso = susceptibility_section(report, susceptibility, result)
    series_scores = series_section(report, series, result, args.series_epochs)
    point_scores = points_section(report, points, args.screening_epochs, POINTS_RADIUS)
    groundwater_scores = groundwater_section(report, groundwater)
    report_path = report.write(os.path.join(output, "report.html"))
    project_path = os.path.join(output, "sample_area.qgz")
    if not project.write(project_path):
        raise RuntimeError(f"Could not write {project_path}: {project.error()}")
    elapsed = time.time() - started
    print("\n[main job] summary")
    print(f"  sample area : {summary['extent_km']:.1f} km square, {summary['size_cells']}^2 cells, seed {summary['seed']}")
    print(f"  PS points   : {summary['ps_points']} over {summary['insar_dates']} dates "
          f"({summary['first_date']} .. {summary['last_date']})")
    print(f"  subsidence  : up to {summary['max_subsidence_mm']:.0f} mm "
          f"({summary['max_subsidence_rate_mm_yr']:.1f} mm/yr), negative = subsidence")
    print(f"  factors     : {len(factor_outputs)} computed, stack {stack_path}")
    for name, at_points, gap, *_ in scores:
        print(f"  {name:<12}: RMSE at points {at_points}, in PS gaps {gap:.2f} mm/yr against the truth")
    for name, auc, rmse, fr_auc, blocked in models:
        print(f"  {name:<12}: susceptibility test AUC {auc:.3f} (FR baseline {fr_auc:.3f}, blocked split {blocked:.3f})")
    print(f"  GARDLIF-PSO : weights {pso['OPTIMISED_WEIGHTS']}, Pearson r {pso['R_BEFORE']:.3f} -> {pso['R_AFTER']:.3f}")
    for name, auc, rho, _ in ranking:
        print(f"  {name:<12}: ranks the true future subsidence with AUC {auc:.3f}, Spearman {rho:.3f}")
    for name, truth, observed in series_scores:
        print(f"  {name[:34]:<34}: held-out RMSE {truth:.2f} mm against the truth, {observed:.2f} mm observed")
    screening, hotspots, gnss = points["screening"], points["hotspots"], points["gnss"]
    print(f"  screening   : kept {screening['KEPT']} of {screening['KEPT'] + screening['REMOVED']} PS + DS points, "
          f"test AUC {screening['AUC']:.3f}; removed " + ", ".join(
              f"{100 * share:.0f} % of '{name}' ({count})" for name, count, share in point_scores["defects"]))
    print(f"  screening   : clean points kept move {point_scores['moving'][0]:.1f} mm/yr on average, removed ones "
          f"{point_scores['moving'][1]:.1f} mm/yr")
    print(f"  hot spots   : band {hotspots['DISTANCE_BAND']:.0f} m, Moran's I {hotspots['MORAN_I']:.3f} "
          f"(z {hotspots['MORAN_Z']:.1f}), {hotspots['COLD_99']} cold spots at 99 %")
    print(f"  GNSS        : velocity RMSE {gnss['VELOCITY_RMSE']:.2f} mm/yr before, "
          f"{gnss['VELOCITY_RMSE_AFTER']:.2f} mm/yr after the screening; series RMSE {gnss['SERIES_RMSE']:.2f} / "
          f"{gnss['SERIES_RMSE_AFTER']:.2f} mm")
    trend, low, high = groundwater_scores["trend"]
    print(f"  groundwater : ΔGWS trend {trend:+.2f} mm/yr ({low:+.2f} … {high:+.2f}) over "
          f"{groundwater_scores['months']} months of the synthetic GRACE sample; rain leads storage by {groundwater_scores['lag']:.0f} months")
    print(f"  project     : {project_path} ({len(project.mapLayers())} layers)")
    print(f"  report      : {report_path}")
    print(f"  time        : {elapsed:.1f} s")
    project.writeProject.disconnect(canvas_writer)
    project.clear()
    harness.stop_qgis(app, provider)
    return 0


if __name__ == "__main__":
    sys.exit(main())
