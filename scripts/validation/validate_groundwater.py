"""Validate the GRACE / GLDAS readers and the storage computation on real files.

    .venv/bin/python scripts/validation/validate_groundwater.py [DATA_FOLDER] [--grace FOLDER] [--gldas FOLDER]
        [--area WEST,SOUTH,EAST,NORTH] [--baseline YYYY-MM,YYYY-MM] [--json out.json]

1. Always: the two real GLDAS-2.1 Noah 0.25° 3-hourly files of DATA_FOLDER/gldas-noah025 (2016-01-01 03:00 and
   15:00, trimmed to the 0-10 and 10-40 cm soil moisture) through the plugin's reader (`gldas_monthly_means`, the
   month's mean of its steps over the area's cells) against GDAL's classic netCDF driver read independently
   (`NETCDF:"file":variable`, rows flipped to south-up), over the Iberian Peninsula (-10,36,4,44); the largest
   difference (kg m-2) and the area's mean soil moisture.
2. With --grace and --gldas (folders of the user's download, see the README): `read_products` of every file in them,
   the monthly table of --area (ΔTWS, the land-surface terms, ΔGWS, centres, spread) and the ΔGWS trend with its
   95 % interval, as `subsidence:groundwaterstorage` computes them.
"""
from __future__ import annotations

import glob
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)
from osgeo import gdal, ogr  # noqa: E402

from subsidence_plugin.core.groundwater.products import gldas_monthly_means, read_products  # noqa: E402
from subsidence_plugin.core.groundwater.storage import groundwater_storage, storage_trend  # noqa: E402

LAYERS = ("SoilMoi0_10cm_inst", "SoilMoi10_40cm_inst")
IBERIA = (-10.0, 36.0, 4.0, 44.0)  # the area of the GLDAS reader check (west, south, east, north)


def direct_read(paths, name, bbox):
    """Mean over the files of GDAL's classic read of one variable, cut to the cells whose centres fall in bbox."""
    grids = []
    for path in paths:
        dataset = gdal.Open(f'NETCDF:"{path}":{name}')
        values = dataset.GetRasterBand(1).ReadAsArray().astype(np.float64)[::-1]  # north-up -> south-up
        nodata = dataset.GetRasterBand(1).GetNoDataValue()
        values[values == nodata] = np.nan
        west, dx, _, north, _, dy = dataset.GetGeoTransform()
        grids.append(values)
    lat = north + dy * (np.arange(values.shape[0]) + 0.5)
    lon = west + dx * (np.arange(values.shape[1]) + 0.5)
    rows = np.flatnonzero((lat[::-1] >= bbox[1]) & (lat[::-1] <= bbox[3]))
    cols = np.flatnonzero((lon >= bbox[0]) & (lon <= bbox[2]))
    return np.mean(grids, axis=0)[np.ix_(rows, cols)]


def gldas_check(data, bbox):
    paths = sorted(glob.glob(os.path.join(data, "gldas-noah025", "GLDAS_NOAH025_3H.*.nc4")))
    if not paths:
        raise SystemExit(f"No GLDAS files in {os.path.join(data, 'gldas-noah025')}")
    started = time.perf_counter()
    means = gldas_monthly_means(paths, LAYERS, bbox)
    seconds = time.perf_counter() - started
    inside = (means.lat >= bbox[1]) & (means.lat <= bbox[3])
    inside_lon = (means.lon >= bbox[0]) & (means.lon <= bbox[2])
    out = {"files": [os.path.basename(p) for p in paths], "month": str(means.months[0]),
           "steps in the month": int(means.steps[0]), "reader seconds": seconds}
    for name in LAYERS:
        ours = means.values[name][0][np.ix_(inside, inside_lon)]
        theirs = direct_read(paths, name, bbox)
        out[f"{name}: cells"] = int(np.isfinite(ours).sum())
        out[f"{name}: largest difference from GDAL's classic read (kg m-2)"] = float(np.nanmax(np.abs(ours - theirs)))
        out[f"{name}: area mean (kg m-2)"] = float(np.nanmean(ours))
    return out


def storage_check(grace, gldas, bbox, baseline):
    area = ogr.CreateGeometryFromWkt(f"POLYGON(({bbox[0]} {bbox[1]},{bbox[2]} {bbox[1]},{bbox[2]} {bbox[3]},"
                                      f"{bbox[0]} {bbox[3]},{bbox[0]} {bbox[1]}))")
    margin = (bbox[0] - 2, max(bbox[1] - 2, -90), bbox[2] + 2, min(bbox[3] + 2, 90))
    started = time.perf_counter()
    tws = read_products(sorted(glob.glob(os.path.join(grace, "*.nc*"))), bbox=margin, kind="tws")
    land = read_products(sorted(glob.glob(os.path.join(gldas, "*.nc*"))), bbox=margin, kind="lsm")
    start, end = (np.datetime64(m, "M") for m in baseline.split(",")) if baseline else (None, None)
    result = groundwater_storage(tws, land, area, start, end)
    trend = storage_trend(result.months, result.gws_mm)
    seconds = time.perf_counter() - started
    table = result.table()
    harness.print_table(list(table), [[str(v) if k == "month" else f"{float(v):.2f}" for k, v in zip(table, row)]
                                      for row in zip(*table.values())])
    print(f"ΔGWS trend {trend.slope_mm_per_year:+.2f} mm/yr (95 %: {trend.ci_low_mm_per_year:+.2f} … "
          f"{trend.ci_high_mm_per_year:+.2f}), {trend.n} months; products: "
          + ", ".join(f"{g.source} {g.term}" for g in tws + land) + f"; {seconds:.1f} s")
    return {"months": int(result.months.size), "trend (mm/yr)": trend.slope_mm_per_year,
            "95 % interval (mm/yr)": [trend.ci_low_mm_per_year, trend.ci_high_mm_per_year],
            "area (km2)": result.area_km2, "seconds": seconds}


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--grace", default="", help="folder of GRACE / GRACE-FO files (and their mask / gain files)")
    parser.add_argument("--gldas", default="", help="folder of GLDAS files")
    parser.add_argument("--area", default="-10,36,4,44", help="west,south,east,north in degrees (with --grace)")
    parser.add_argument("--baseline", default="", help="first,last month of the anomaly baseline (YYYY-MM,YYYY-MM)")
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    bbox = tuple(float(v) for v in args.area.split(","))
    results = {"gldas reader": gldas_check(args.data, IBERIA)}
    harness.print_table(["measure", "value"], [[k, v] for k, v in results["gldas reader"].items()])
    if args.grace and args.gldas:
        results["storage"] = storage_check(args.grace, args.gldas, bbox, args.baseline)
    harness.write_json(args.json, results)


if __name__ == "__main__":
    main()
