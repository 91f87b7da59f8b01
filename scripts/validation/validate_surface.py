"""Validate the surface methods on real InSAR data from the shared data folder.

    .venv/bin/python scripts/validation/validate_surface.py [DATA_FOLDER] [--epochs 150] [--json out.json]

Mexico City (mexico-city-pyrate): the 30 unwrapped interferograms (radians, 13 dates 2018-01-06 .. 2018-07-17)
are inverted pixel by pixel to a LOS velocity by least squares (phase = 4 pi / lambda * v * dt, no per-ifg
re-referencing), converted to mm/yr (LOS displacement = -lambda / 4 pi * phase, lambda = 55.465763 mm;
negative = away from the satellite = subsidence) and kept as the truth. Sparse "PS" points are sampled at 15 %
of the cells whose mean coherence exceeds 0.6; every other valid cell is held out. Kriging, IDW and the patch
CNN (factors from the DEM: altitude, slope, aspect, total curvature, TWI) predict the held-out cells. Grids are
warped to UTM 14N (metres) first.

Donana (donana-wasar): the ascending and descending Sentinel-1 P-SBAS velocities (cm/yr, converted to mm/yr)
are interpolated by kriging and IDW under the paper's random split and spatially blocked 5-fold
cross-validation.
"""
from __future__ import annotations

import glob
import os
import re
import sys
import tempfile

import numpy as np
from osgeo import gdal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

from subsidence_plugin.core.io.grid import RasterGrid  # noqa: E402
from subsidence_plugin.core.io.points import read_points  # noqa: E402
from subsidence_plugin.core.io.rasters import read_raster, write_raster  # noqa: E402
from subsidence_plugin.core.ml.training import TrainingSettings  # noqa: E402
from subsidence_plugin.core.spatial.interpolation import (InterpolationSettings, make_interpolator,  # noqa: E402
                                                          select_variogram)
from subsidence_plugin.core.spatial.variogram import MODELS  # noqa: E402
from subsidence_plugin.core.stats.metrics import error_statistics  # noqa: E402
from subsidence_plugin.core.surface.comparison import compare_methods  # noqa: E402
from subsidence_plugin.core.surface.patch_cnn import (CnnSettings, predict_surface, train_surface_cnn,  # noqa: E402
                                                      window_reader)
from subsidence_plugin.core.terrain.derivatives import terrain_array  # noqa: E402
from subsidence_plugin.core.terrain.indices import hydrology_from_dem  # noqa: E402

WAVELENGTH_MM = 55.465763
UTM14N = "EPSG:32614"


def invert_velocity(folder: str):
    """(velocity mm/yr, mean coherence, grid) from the unwrapped interferograms (least squares per pixel)."""
    unw = sorted(glob.glob(os.path.join(folder, "geotiffs", "*_unw.tif")))
    phases, coherences, spans = [], [], []
    for path in unw:
        first, second = re.search(r"(\d{8})-(\d{8})", os.path.basename(path)).groups()
        span = (np.datetime64(f"{second[:4]}-{second[4:6]}-{second[6:]}") -
                np.datetime64(f"{first[:4]}-{first[4:6]}-{first[6:]}")).astype(float) / 365.25
        phase = read_raster(path, require_crs=False)
        phases.append(phase.band(0))
        coherences.append(read_raster(path.replace("_eqa_unw", "_flat_eqa_cc"), require_crs=False).band(0))
        spans.append(span)
    phase = np.stack(phases)
    dt = np.array(spans)[:, None, None]
    valid = ~np.isnan(phase)
    weight = np.where(valid, 1.0, 0.0)
    rate = np.nansum(weight * dt * np.nan_to_num(phase), axis=0) / np.maximum((weight * dt * dt).sum(axis=0), 1e-12)
    rate[valid.sum(axis=0) < 10] = np.nan  # at least 10 of the 30 interferograms
    velocity = -WAVELENGTH_MM / (4 * np.pi) * rate
    grid = read_raster(unw[0], require_crs=False).grid
    stacked = np.stack(coherences)
    counted = (~np.isnan(stacked)).sum(axis=0)
    mean = np.where(counted > 0, np.nansum(stacked, axis=0) / np.maximum(counted, 1), np.nan)
    return velocity, mean, grid


def warp(path: str, out: str, resolution: float, like: RasterGrid = None) -> str:
    """Bilinear warp to UTM 14N at ``resolution`` metres, or onto the grid ``like``."""
    extra = {}
    if like is not None:
        extra = dict(outputBounds=like.extent, width=like.width, height=like.height)
    else:
        extra = dict(xRes=resolution, yRes=resolution)
    gdal.Warp(out, path, options=gdal.WarpOptions(dstSRS=UTM14N, resampleAlg="bilinear", dstNodata=-9999.0,
                                                  outputType=gdal.GDT_Float32, **extra))
    return out


def mexico_city_utm(data: str, tmp: str):
    """(velocity mm/yr, mean coherence, DEM path, grid) of Mexico City: the inverted velocity and the coherence
    warped to UTM 14N at 150 m, the DEM onto the same grid (files in ``tmp``)."""
    folder = os.path.join(data, "mexico-city-pyrate")
    velocity, coherence, grid = invert_velocity(folder)
    wgs = RasterGrid(grid.width, grid.height, grid.geotransform, "EPSG:4326", -9999.0)
    truth_path = warp(write_raster(os.path.join(tmp, "v.tif"), velocity, wgs), os.path.join(tmp, "v_utm.tif"), 150.0)
    truth = read_raster(truth_path)
    utm = truth.grid
    coh_path = warp(write_raster(os.path.join(tmp, "c.tif"), coherence, wgs), os.path.join(tmp, "c_utm.tif"), 0, utm)
    coh = read_raster(coh_path).band(0)
    dem_path = warp(os.path.join(folder, "geotiffs", "cropA_T005A_dem.tif"), os.path.join(tmp, "dem.tif"), 0, utm)
    return truth.band(0), coh, dem_path, utm


KRIGING = InterpolationSettings("kriging", k=32, selection_k=16)  # variogram chosen with 16 neighbours
IDW = InterpolationSettings("idw", k=12)

def mexico_city(data: str, epochs: int, tmp: str) -> list:
    v, coh, dem_path, utm = mexico_city_utm(data, tmp)
    z = read_raster(dem_path).band(0)
    rng = np.random.default_rng(0)
    candidates = np.flatnonzero((coh.ravel() > 0.6) & ~np.isnan(v.ravel()) & ~np.isnan(z.ravel()))
    ps = rng.choice(candidates, max(30, int(0.15 * len(candidates))), replace=False)
    held = np.setdiff1d(np.flatnonzero(~np.isnan(v.ravel()) & ~np.isnan(z.ravel())), ps)
    rows, cols = np.unravel_index(ps, v.shape)
    px, py = utm.cell_centres(rows, cols)
    pv = v.ravel()[ps]
    hr, hc = np.unravel_index(held, v.shape)
    hx, hy = utm.cell_centres(hr, hc)
    results = []
    kriging = make_interpolator(px, py, pv, KRIGING)
    kriged = kriging.values(hx, hy)
    results.append(("Mexico City", "Kriging (" + kriging.variogram.model + ")",
                    error_statistics(v.ravel()[held], kriged)))
    idw = make_interpolator(px, py, pv, IDW).values(hx, hy)
    results.append(("Mexico City", "IDW", error_statistics(v.ravel()[held], idw)))
    dem_grid = utm.with_nodata(None)
    factors = terrain_array(z, dem_grid, ["slope", "aspect", "total"])
    hydro = hydrology_from_dem(z, dem_grid)
    stack = np.stack([z, factors["slope"], factors["aspect"], factors["total"], hydro["twi"]]).astype(np.float32)
    settings = CnnSettings(training=TrainingSettings(epochs=epochs, seed=0))
    trained = train_surface_cnn(stack, utm, px, py, pv, settings)
    out = predict_surface(trained.model, trained.normalisation, trained.target_mean, trained.target_std,
                          window_reader(stack), utm, os.path.join(tmp, "cnn.tif"), "v")
    cnn = read_raster(out).band(0).ravel()[held]
    results.append(("Mexico City", f"Patch CNN ({epochs} epochs)", error_statistics(v.ravel()[held], cnn)))
    print(f"Mexico City: {len(ps)} PS points, {len(held)} held-out cells, truth velocity "
          f"{np.nanmin(v):.1f} .. {np.nanmax(v):.1f} mm/yr")
    return results


def donana(data: str) -> list:
    results = []
    for track in ("Sentinel_Asc", "Sentinel_Desc"):
        points = read_points(os.path.join(data, "donana-wasar", "shapefiles", f"{track}.shp"))
        values = points.numeric("Vel") * 10.0  # cm/yr -> mm/yr
        ok = np.isfinite(values)
        x, y, values = points.x[ok], points.y[ok], values[ok]
        variogram, _, _ = select_variogram(x, y, values, MODELS)

        def kriging(train, val, test):
            return make_interpolator(x[train], y[train], values[train], KRIGING).values(x[test], y[test])

        def idw(train, val, test):
            return make_interpolator(x[train], y[train], values[train], IDW).values(x[test], y[test])

        # blocks as large as the variogram range, but small enough for at least about 16 blocks
        block = max(min(variogram.range, max(np.ptp(x), np.ptp(y)) / 4.0), 500.0)
        rows = compare_methods(values, x, y, {"Kriging": kriging, "IDW": idw}, block, folds=5,
                               protocols=("paper", "spatial"))
        for row in rows:
            results.append((f"Donana {track[9:]} ({row['protocol']})", row["method"], row))
        print(f"Donana {track}: {len(values)} points, velocity {values.min():.1f} .. {values.max():.1f} mm/yr, "
              f"blocks {block:.0f} m")
    return results


def main(argv=None):
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = mexico_city(args.data, args.epochs, tmp) + donana(args.data)
    harness.print_table(["data set", "method", "RMSE (mm/yr)", "MAE", "R²", "points scored"],
                        [[name, method, f"{stats['rmse']:.2f}", f"{stats['mae']:.2f}", f"{stats['r2']:.3f}", stats["n"]]
                         for name, method, stats in results])
    harness.write_json(args.json, [{"data": n, "method": m, **{k: v for k, v in s.items() if np.isscalar(v)}}
                                   for n, m, s in results])


if __name__ == "__main__":
    main()
