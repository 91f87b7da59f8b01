"""Validate slope and aspect against gdaldem on the real DEMs of the shared data folder.

    .venv/bin/python scripts/validation/validate_terrain.py [DATA_FOLDER] [--json OUT.json]

For each DEM (geographic, EPSG:4326): warp it to its UTM zone, run gdaldem slope/aspect and the plugin's
core on the projected DEM and compare away from edges (the oracle: identical formula, so differences are
floating-point noise). Then compare the plugin on the *geographic* DEM (true metric cell size per row)
and gdaldem's usual degree trick (-s 111120, one scale for both axes) with the projected result.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

from subsidence_plugin.core.io.rasters import read_grid, read_raster  # noqa: E402
from subsidence_plugin.core.terrain.derivatives import write_terrain  # noqa: E402

DEMS = {"DFW (HydroSHEDS 3\")": "dem-dfw-pysheds/dem.tif",
        "Mexico City (PyRate)": "mexico-city-pyrate/geotiffs/cropA_T005A_dem.tif"}


def utm_epsg(path: str) -> int:
    grid = read_grid(path)
    x0, y0, x1, y1 = grid.extent
    lon, lat = (x0 + x1) / 2, (y0 + y1) / 2
    return (32600 if lat >= 0 else 32700) + int((lon + 180) // 6) + 1


def run(cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def compare(dem_path: str, tmp: str) -> dict:
    projected = os.path.join(tmp, "utm.tif")
    grid = read_grid(dem_path)
    res = grid.dx * 111320 * np.cos(np.radians(sum(grid.extent[1::2]) / 2))
    run(["gdalwarp", "-q", "-overwrite", "-t_srs", f"EPSG:{utm_epsg(dem_path)}", "-tr", f"{res:.3f}", f"{res:.3f}",
         "-r", "bilinear", "-ot", "Float32", "-dstnodata", "-9999", dem_path, projected])
    run(["gdaldem", "slope", "-q", projected, os.path.join(tmp, "g_slope.tif")])
    run(["gdaldem", "aspect", "-q", projected, os.path.join(tmp, "g_aspect.tif")])
    write_terrain(projected, {"slope": os.path.join(tmp, "slope.tif"), "aspect": os.path.join(tmp, "aspect.tif")})
    inner = (slice(1, -1), slice(1, -1))
    ours = read_raster(os.path.join(tmp, "slope.tif")).band(0)[inner]
    gdal_slope = read_raster(os.path.join(tmp, "g_slope.tif")).band(0)[inner]
    both = ~np.isnan(ours) & ~np.isnan(gdal_slope)
    d_slope = np.abs(ours - gdal_slope)[both]
    asp = read_raster(os.path.join(tmp, "aspect.tif")).band(0)[inner]
    g_asp = read_raster(os.path.join(tmp, "g_aspect.tif")).band(0)[inner]
    steep = both & (ours > 1.0) & ~np.isnan(g_asp)
    d_asp = np.abs(asp - g_asp)[steep]
    d_asp = np.minimum(d_asp, 360 - d_asp)
    # geographic DEM: the plugin's per-row metric cells versus gdaldem -s 111120
    write_terrain(dem_path, {"slope": os.path.join(tmp, "geo_slope.tif")})
    run(["gdaldem", "slope", "-q", "-s", "111120", dem_path, os.path.join(tmp, "g_geo_slope.tif")])
    geo = read_raster(os.path.join(tmp, "geo_slope.tif")).band(0)[inner]
    g_geo = read_raster(os.path.join(tmp, "g_geo_slope.tif")).band(0)[inner]
    return {
        "cells compared": int(both.sum()),
        "max |slope diff| vs gdaldem (deg)": float(d_slope.max()),
        "mean |slope diff| vs gdaldem (deg)": float(d_slope.mean()),
        "max |aspect diff| where slope > 1 deg": float(d_asp.max()) if d_asp.size else float("nan"),
        "mean slope, projected DEM (deg)": float(np.nanmean(ours)),
        "mean slope, geographic DEM, plugin (deg)": float(np.nanmean(geo)),
        "mean slope, geographic DEM, gdaldem -s 111120 (deg)": float(np.nanmean(g_geo)),
    }


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    results = {}
    for name, rel in DEMS.items():
        with tempfile.TemporaryDirectory() as tmp:
            results[name] = compare(os.path.join(args.data, rel), tmp)
    print(harness.measure_table(results, ".4g"))
    harness.write_json(args.json, results)


if __name__ == "__main__":
    main()
