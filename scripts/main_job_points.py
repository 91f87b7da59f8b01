"""Main-job part for the InSAR measurement points (seed 002 §III-B 5–7, §IV-A) on the sample study area.

The PS and DS points are merged (`native:mergevectorlayers`, as seed 002 combines its PS and DS points), labelled
from their own series (`subsidence:labelmeasurementpoints`), screened by the CNN (`subsidence:screenmeasurementpoints`,
few epochs: the demo's CPU budget), the kept points' velocities analysed for hot spots with the automatic distance
band (`subsidence:hotspots`), and the points compared with the GPS stations before and after the screening
(`subsidence:validatewithgnss`). The sample area knows which DS points carry a simulated defect (their `defect`
field, never an input of the screening): the report says how many of them the screening removed.
"""
from __future__ import annotations

import os

import numpy as np

SCREENING_EPOCHS = 30
POINTS_RADIUS = 1000.0  # m: the GNSS validation radius (the algorithm's default)


def run_points(result, folder, feedback, epochs: int = SCREENING_EPOCHS, outlier_threshold: float = 3.0,
               radius: float = 1000.0, r_threshold: float = 0.9) -> dict:
    """Merge, label, screen, hot spots, GNSS validation; returns the outputs."""
    import processing

    os.makedirs(folder, exist_ok=True)
    out = {}
    print("[main job] native:mergevectorlayers (PS + DS points)", flush=True)
    out["merged"] = processing.run("native:mergevectorlayers", {
        "LAYERS": [result["PS_POINTS"], result["DS_POINTS"]], "OUTPUT": os.path.join(folder, "ps_ds_points.gpkg")},
        feedback=feedback)
    print("[main job] subsidence:labelmeasurementpoints", flush=True)
    out["labels"] = processing.run("subsidence:labelmeasurementpoints", {
        "INPUT": out["merged"]["OUTPUT"], "OUTLIER_THRESHOLD": outlier_threshold, "R_THRESHOLD": r_threshold,
        "OUTPUT": os.path.join(folder, "labelled_points.gpkg")}, feedback=feedback)
    print(f"[main job] subsidence:screenmeasurementpoints ({epochs} epochs)", flush=True)
    out["screening"] = processing.run("subsidence:screenmeasurementpoints", {
        "INPUT": out["labels"]["OUTPUT"], "EPOCHS": epochs, "OUTPUT": os.path.join(folder, "screened_points.gpkg"),
        "REPORT": os.path.join(folder, "screening.html")}, feedback=feedback)
    out["kept"] = processing.run("native:extractbyattribute", {
        "INPUT": out["screening"]["OUTPUT"], "FIELD": "KEEP", "OPERATOR": 0, "VALUE": "1",
        "OUTPUT": os.path.join(folder, "kept_points.gpkg")}, feedback=feedback)
    print("[main job] subsidence:hotspots (automatic band)", flush=True)
    out["hotspots"] = processing.run("subsidence:hotspots", {
        "INPUT": out["kept"]["OUTPUT"], "FIELD": "velocity", "DISTANCE_BAND": 0,
        "OUTPUT": os.path.join(folder, "hotspots.gpkg"), "REPORT": os.path.join(folder, "hotspots.html")},
        feedback=feedback)
    print("[main job] subsidence:validatewithgnss (before / after the screening)", flush=True)
    out["gnss"] = processing.run("subsidence:validatewithgnss", {
        "INPUT": out["merged"]["OUTPUT"], "SCREENED": out["kept"]["OUTPUT"], "GNSS_TABLE": result["GPS_DAILY"],
        "STATIONS": result["GPS_STATIONS"], "RADIUS": radius, "OUTPUT": os.path.join(folder, "gnss_validation.gpkg"),
        "REPORT": os.path.join(folder, "gnss_validation.html")}, feedback=feedback)
    return out


def defect_scores(out) -> dict:
    """The merged points by their simulated defect (PS points: none): {"defects": [(defect, points, share
    removed)], "moving": (mean |velocity| of the clean points kept, of the clean points removed) in mm/yr}."""
    from subsidence_plugin.core.io.points import read_points

    table = read_points(out["screening"]["OUTPUT"])
    defect = np.array(["none" if v is None else str(v) for v in table.attributes["defect"]])
    removed = table.numeric("KEEP") == 0
    speed = np.abs(table.numeric("velocity"))
    clean = defect == "none"
    return {"defects": [(name, int((defect == name).sum()), float(removed[defect == name].mean()))
                        for name in ("none", "unwrapping jump", "spikes") if (defect == name).any()],
            "moving": (float(speed[clean & ~removed].mean()), float(speed[clean & removed].mean()))}


def station_rows(out) -> list:
    """Per GPS station: points within the radius before / after, velocity RMSE and series RMSE before / after."""
    from subsidence_plugin.core.io.points import read_points

    stations = read_points(out["gnss"]["OUTPUT"]).attributes
    keys = ("N_POINTS", "N_POINTS_AFTER", "GNSS_VEL", "VEL_RMSE", "VEL_RMSE_AFTER", "SERIES_RMSE",
            "SERIES_RMSE_AFTER")
    return [[name] + [f"{float(stations[k][i]):.0f}" if k.startswith("N_") else f"{float(stations[k][i]):.2f}"
                      for k in keys] for i, name in enumerate(stations["STATION"])]


def points_section(report, out, epochs: int, radius: float) -> dict:
    """The report's section: counts per stage, defects found, what the score learnt, hot spots, GNSS before /
    after per station, links."""
    report.heading("InSAR measurement points (seed 002)")
    labels, screening, hotspots, gnss = out["labels"], out["screening"], out["hotspots"], out["gnss"]
    report.paragraph(
        "The PS and DS points merged (seed 002 combines its PS and DS points), labelled from their own series "
        "(<i>labelmeasurementpoints</i>: good = |r| with time &gt; 0.9 and no outlier beyond 3 scaled MADs or 3 σ "
        "of the line's residuals; bad = an outlier), screened by the CNN (<i>screenmeasurementpoints</i>, only "
        f"{epochs} epochs: the demo's CPU budget), the kept points' velocities analysed for hot spots "
        "(<i>hotspots</i>, Getis–Ord Gi* with the distance band of the first peak of Moran's I) and compared with "
        f"the GPS stations within {radius:g} m before and after the screening (<i>validatewithgnss</i>).",
        raw_html=True)
    rows = [["points (PS + DS)", labels["GOOD"] + labels["BAD"] + labels["UNLABELLED"]],
            ["labelled good (1)", labels["GOOD"]], ["labelled bad (0)", labels["BAD"]],
            ["unlabelled", labels["UNLABELLED"]], ["kept by the CNN", screening["KEPT"]],
            ["removed by the CNN", screening["REMOVED"]]]
    report.table(rows, ["stage", "points"])
    report.paragraph(f"Screening on the test part of the labels: AUC {screening['AUC']:.3f}, RMSE of the score "
                     f"{screening['RMSE']:.3f} (<a href=\"points/screening.html\">its report</a>).", raw_html=True)
    scores = defect_scores(out)
    report.paragraph("The sample area's simulated defects (the DS points' <i>defect</i> field, never an input): the "
                     "share of each kind the screening removed.", raw_html=True)
    report.table([[name, count, f"{100 * share:.1f} %"] for name, count, share in scores["defects"]],
                 ["simulated defect", "points", "removed"])
    kept_speed, removed_speed = scores["moving"]
    report.paragraph(
        f"What the score learnt: the clean points it kept move {kept_speed:.1f} mm/yr on average, the clean points "
        f"it removed {removed_speed:.1f} mm/yr. The seed's rule calls good only series that follow a line closely "
        "(|r| &gt; 0.9), which a stable point's noise cannot do, so the network keeps steadily moving points and "
        "drops stable ones, defect or not: read a low score on stable ground as 'no steady trend'.", raw_html=True)
    report.paragraph(f"Hot spots: distance band {hotspots['DISTANCE_BAND']:.0f} m, global Moran's I "
                     f"{hotspots['MORAN_I']:.3f} (z {hotspots['MORAN_Z']:.1f}) "
                     "(<a href=\"points/hotspots.html\">its report</a>; the subsiding bowl is a cold spot: negative "
                     "z).", raw_html=True)
    report.paragraph(
        f"GNSS validation (the GPS up component against the points' vertical velocities within {radius:g} m; the "
        "sample area's points are vertical, without LOS vectors): "
        f"velocity RMSE {gnss['VELOCITY_RMSE']:.2f} mm/yr before and {gnss['VELOCITY_RMSE_AFTER']:.2f} mm/yr after "
        f"the screening, series RMSE {gnss['SERIES_RMSE']:.2f} / {gnss['SERIES_RMSE_AFTER']:.2f} mm. Near the "
        "stations in the bowl the differences are those of the bowl's gradient within the radius, which the "
        "screening leaves as it is; near a stable station the screening keeps few points, the moving ones, so the "
        "RMSE there grows (<a href=\"points/gnss_validation.html\">its report</a>).", raw_html=True)
    report.table(station_rows(out), ["station", "points", "points after", "GPS velocity (mm/yr)",
                                     "velocity RMSE", "after", "series RMSE (mm)", "after"])
    return scores
