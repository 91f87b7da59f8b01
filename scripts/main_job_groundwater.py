"""Main-job part for groundwater storage from GRACE and GLDAS (seed 002 §III-C, §IV-B) on the sample study area.

Real GRACE / GLDAS files cannot be downloaded offline, so `subsidence:creategroundwatersample` writes a clearly
labelled synthetic sample in the real products' layouts around the sample area (JPL and CSR mascons, GFZ Tellus land
grids, GLDAS Noah / CLSM / VIC, three rain gauges; storage declining at the basin). `subsidence:groundwaterstorage`
turns it into the area's monthly ΔGWS (table, raster stack, report) and `subsidence:compareseries` relates ΔGWS to
the rain and to the PS points' mean displacement.
"""
from __future__ import annotations

import os

import numpy as np

SAMPLE_DECLINE = -12.0  # mm/yr: the synthetic storage trend at the area


def run_groundwater(result, dem_layer, folder, feedback) -> dict:
    """Sample files, area polygon, storage, comparison; returns the outputs."""
    import processing

    os.makedirs(folder, exist_ok=True)
    extent = dem_layer.extent()
    extent_text = (f"{extent.xMinimum()},{extent.xMaximum()},{extent.yMinimum()},{extent.yMaximum()} "
                   f"[{dem_layer.crs().authid()}]")
    out = {}
    print("[main job] subsidence:creategroundwatersample (synthetic GRACE / GLDAS files)", flush=True)
    out["sample"] = processing.run("subsidence:creategroundwatersample", {
        "EXTENT": extent_text, "DECLINE": SAMPLE_DECLINE, "OUTPUT_FOLDER": os.path.join(folder, "sample_files")},
        feedback=feedback)
    out["area"] = processing.run("native:extenttolayer", {
        "INPUT": extent_text, "OUTPUT": os.path.join(folder, "area.gpkg")}, feedback=feedback)
    print("[main job] subsidence:groundwaterstorage", flush=True)
    out["storage"] = processing.run("subsidence:groundwaterstorage", {
        "TWS": out["sample"]["TWS_FILES"].split(";"), "LSM": out["sample"]["LSM_FILES"].split(";"),
        "AREA": out["area"]["OUTPUT"], "OUTPUT": os.path.join(folder, "groundwater_storage.gpkg"),
        "OUTPUT_RASTER": os.path.join(folder, "groundwater_storage.tif"),
        "REPORT": os.path.join(folder, "groundwater_storage.html")}, feedback=feedback)
    print("[main job] subsidence:compareseries (ΔGWS, rain, PS points)", flush=True)
    out["compare"] = processing.run("subsidence:compareseries", {
        "STORAGE": out["storage"]["OUTPUT"], "PRECIPITATION_TABLE": out["sample"]["PRECIPITATION"],
        "POINTS": result["PS_POINTS"], "AREA": out["area"]["OUTPUT"],
        "OUTPUT": os.path.join(folder, "cross_correlation.gpkg"), "REPORT": os.path.join(folder, "comparison.html")},
        feedback=feedback)
    return out


def _storage_table(path):
    from qgis.core import QgsVectorLayer

    layer = QgsVectorLayer(path, "storage", "ogr")
    rows = [(f["month"], f["gws_mm"], f["gws_spread_mm"], f["n_centres"]) for f in layer.getFeatures()]
    months = np.array([r[0] for r in rows], dtype="datetime64[M]")
    return months, np.array([r[1] for r in rows], float), np.array([r[2] for r in rows], float), \
        np.array([r[3] for r in rows], int)


def groundwater_section(report, out) -> dict:
    """The report's section: ΔGWS with its spread (gaps drawn as gaps), the trend, the lags; links."""
    from subsidence_plugin.core.groundwater.report import on_full_axis
    from subsidence_plugin.core.reports.html import new_figure

    storage, compare = out["storage"], out["compare"]
    report.heading("Groundwater storage from GRACE and GLDAS (seed 002, synthetic files)")
    report.paragraph(
        "<b>Synthetic data</b>: real GRACE / GLDAS files cannot be downloaded offline, so <i>creategroundwatersample"
        "</i> wrote files in the real products' layouts around the sample area (JPL and CSR mascons, GFZ Tellus "
        "land grids, GLDAS Noah / CLSM / VIC, three rain gauges), with storage declining by "
        f"{-SAMPLE_DECLINE:.0f} mm/yr at the basin and recharge two months after the rain. "
        "<i>groundwaterstorage</i>: ΔGWS = ΔTWS − (ΔSM + ΔCWS + ΔSWE + ΔQS) over the sample area; "
        "<i>compareseries</i>: its lag after the rain and its relation to the PS points' mean displacement.",
        raw_html=True)
    months, gws, spread, centres = _storage_table(storage["OUTPUT"])
    fig, ax = new_figure(7.0, 3.4)
    dates, values = on_full_axis(months, gws)
    band = on_full_axis(months, spread)[1]
    ax.fill_between(dates, values - band, values + band, color="#fdae61", alpha=0.4, lw=0, label="± spread")
    ax.plot(dates, values, color="#d7191c", lw=1.5, label="ΔGWS")
    ax.set_ylabel("ΔGWS (mm of water)")
    ax.legend(fontsize=8)
    report.figure(fig, "ΔGWS of the sample area (the line breaks over the 2017-07 … 2018-05 GRACE / GRACE-FO gap)",
                  width=700)
    rows = [["ΔGWS trend (mm/yr, 95 % interval)", f"{storage['TREND_MM_YR']:+.2f} ({storage['TREND_CI_LOW']:+.2f} … "
                                                   f"{storage['TREND_CI_HIGH']:+.2f}); truth {SAMPLE_DECLINE:+.1f}"],
            ["months (with 1 / 2 / 3 centres)", f"{months.size} ({(centres == 1).sum()} / {(centres == 2).sum()} / "
                                                f"{(centres == 3).sum()})"],
            ["area (km²)", f"{storage['AREA_KM2']:,.0f}: far below one GRACE footprint (~300 km)"]]
    for key, label in (("PRECIPITATION_GWS", "rain → ΔGWS"), ("GWS_INSAR", "ΔGWS → PS displacement"),
                       ("PRECIPITATION_INSAR", "rain → PS displacement")):
        rows.append([f"{label}: best lag (months), r, p", f"{compare[f'LAG_{key}']:+.0f}, {compare[f'R_{key}']:.2f}, "
                                                          f"{compare[f'P_{key}']:.2g}"])
    report.table(rows, ["groundwater storage", "value"])
    report.paragraph("Reports: <a href=\"groundwater/groundwater_storage.html\">groundwater storage</a>, "
                     "<a href=\"groundwater/comparison.html\">series compared</a>.", raw_html=True)
    return {"trend": (storage["TREND_MM_YR"], storage["TREND_CI_LOW"], storage["TREND_CI_HIGH"]),
            "lag": compare["LAG_PRECIPITATION_GWS"], "months": int(months.size)}
