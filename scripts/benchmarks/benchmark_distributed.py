"""Benchmark the terrain kernels (slope) on a Dask LocalCluster against the in-process algorithm.

    .venv/bin/python scripts/benchmarks/benchmark_distributed.py [--cells 4000000] [--workers 1,2]
        [--tiles 256,512,1024,2048] [--kriging-points 100000] [--kriging-cells 1000000] [--fill-cells 0]
        [--flow-cells 0] [--json OUT.json]

A synthetic float32 DEM (a random walk in rows and columns, 10 m cells, EPSG:25830) of about --cells cells:

* in process: ``core.terrain.derivatives.write_terrain`` (row blocks of 512) -> T_in;
* strong scaling: the same DEM on LocalClusters of p one-thread workers, tiles of 1024 x 1024 -> T_p,
  E_s = T_1 / (p T_p); the same with a Zarr output the workers write themselves;
* weak scaling: p times --cells / 1 cells on p workers -> E_w = T_1 / T_p;
* tile sweep on the largest cluster: seconds, tasks, ms per task, the halo's share of the cells read;
* peak memory of each worker during the strong-scaling run (VmHWM reset before it, MB);
* the in-process output converted to a cloud-optimised GeoTIFF (part of every distributed run, on the client).

Kriging (--kriging-points > 0): the points (uniform, a smooth field plus noise, spherical variogram given) kriged
with k = 32 onto a grid of --kriging-cells cells in process (numpy on every core) and in tiles of 256 x 256 on p
workers; the largest difference between the two rasters.

Exact fill (--fill-cells > 0): a random-walk DEM of that many cells filled in process (read, fill_depressions, the
float64 GeoTIFF subsidence:filldepressions writes) and in tiles of 1024 x 1024 on p workers, to a GeoTIFF written by
the client and to a Zarr store written by the workers; both checked equal to the in-process fill.

Flow accumulation (--flow-cells > 0): the random-walk DEM rounded to 0.5 m (wide flats after the fill) as
subsidence:flowaccumulation computes it with D8 and with MFD in process (read, epsilon fill, routing, the float32
GeoTIFF) and in tiles of 1024 x 1024 on p workers (D8: GeoTIFF and Zarr, MFD: GeoTIFF); D8 checked equal, MFD's
largest relative difference; the rounds the flats' distances and MFD's flow took, and each worker's peak memory.

Every distributed terrain result is checked equal (np.array_equal) to the in-process one. Times exclude the
cluster's start (measured apart) and include writing the cloud-optimised GeoTIFF.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

from osgeo import gdal  # noqa: E402

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg  # noqa: E402
from subsidence_plugin.core.io.rasters import write_raster  # noqa: E402
from subsidence_plugin.core.terrain.derivatives import write_terrain  # noqa: E402
from subsidence_plugin.scale.cluster import dask_client  # noqa: E402
from subsidence_plugin.scale.terrain import DEFAULT_TILE, distributed_terrain  # noqa: E402
from subsidence_plugin.scale.tiles import plan_tiles  # noqa: E402


def synthetic_dem(folder: str, cells: int, seed: int = 0) -> str:
    side = int(round(np.sqrt(cells)))
    rng = np.random.default_rng(seed)
    z = np.cumsum(rng.normal(0, 1, (side, side)).astype(np.float32), axis=0)
    z += np.cumsum(rng.normal(0, 1, (side, side)).astype(np.float32), axis=1)
    grid = RasterGrid.from_origin(400000.0, 4500000.0, 10.0, side, side, crs_wkt_from_epsg(25830), -9999.0)
    return write_raster(os.path.join(folder, f"dem_{side}_{seed}.tif"), z + 500.0, grid)


def _read(path: str) -> np.ndarray:
    dataset = gdal.Open(path)
    return dataset.GetRasterBand(1).ReadAsArray()


def _worker_peak_mb() -> float:
    """A worker's resident-set high-water mark (VmHWM, MB): ru_maxrss would carry the spawning process's peak."""
    return harness.status_mb("VmHWM")


def _reset_worker_peak() -> bool:
    return harness.reset_peak()


def timed_run(client, dem: str, out: str, tile) -> float:
    started = time.perf_counter()
    distributed_terrain(client, dem, {"slope": out}, tile_shape=tile)
    return time.perf_counter() - started


def kriging_scaling(folder: str, points: int, cells: int, workers) -> dict:
    """In-process and tiled kriging times (s) and the largest difference of the rasters."""
    from subsidence_plugin.core.spatial.interpolation import LocalKriging, interpolate_to_grid
    from subsidence_plugin.core.spatial.variogram import Variogram
    from subsidence_plugin.scale.kriging import distributed_kriging

    rng = np.random.default_rng(3)
    side = int(round(np.sqrt(cells)))
    extent = 10.0 * side
    x, y = rng.uniform(0, extent, points), rng.uniform(0, extent, points)
    z = 5 * np.sin(x / (extent / 7)) + 3 * np.cos(y / (extent / 5)) + rng.normal(0, 0.3, points)
    grid = RasterGrid.from_origin(0.0, extent, 10.0, side, side, crs_wkt_from_epsg(25830), -9999.0)
    variogram = Variogram("spherical", 20.0, extent / 5, 0.1)
    names = ["v_kriged", "v_kriging_variance"]
    kriging = LocalKriging(x, y, z, variogram, k=32)
    started = time.perf_counter()
    interpolate_to_grid(lambda px, py: (lambda r: (r.values, r.variance))(kriging.predict(px, py)), grid,
                        os.path.join(folder, "kriged.tif"), names)
    out = {"points": points, "cells": side * side, "in process (s)": time.perf_counter() - started}
    expected = gdal.Open(os.path.join(folder, "kriged.tif")).ReadAsArray()
    for p in workers:
        with dask_client(local=p) as client:
            started = time.perf_counter()
            distributed_kriging(client, x, y, z, variogram, grid, os.path.join(folder, f"kriged_{p}.tif"), names)
            out[f"{p} workers (s)"] = time.perf_counter() - started
        found = gdal.Open(os.path.join(folder, f"kriged_{p}.tif")).ReadAsArray()
        out[f"{p} workers: largest difference"] = float(np.abs(found.astype(float) - expected).max())
    return out


def fill_scaling(folder: str, cells: int, workers) -> dict:
    """In-process and tiled exact-fill times (s)."""
    from subsidence_plugin.core.io.rasters import read_raster, write_raster as write
    from subsidence_plugin.core.terrain.fill import fill_depressions
    from subsidence_plugin.scale.fill import distributed_fill

    dem = synthetic_dem(folder, cells, seed=7)
    started = time.perf_counter()
    raster = read_raster(dem)
    filled = fill_depressions(raster.band(0))
    write(os.path.join(folder, "filled.tif"), filled, raster.grid.with_nodata(-9999.0), ["filled_dem"],
          dtype=np.float64)
    out = {"cells": raster.grid.width * raster.grid.height, "in process (s)": time.perf_counter() - started}
    for p in workers:
        with dask_client(local=p) as client:
            for kind in ("tif", "zarr"):
                target = os.path.join(folder, f"filled_{p}.{kind}")
                started = time.perf_counter()
                distributed_fill(client, dem, target)
                out[f"{p} workers, {kind} (s)"] = time.perf_counter() - started
                found = gdal.Open(target if kind == "tif" else f'ZARR:"{target}":/filled_dem').ReadAsArray()
                assert np.array_equal(found.astype(np.float64), filled), f"{p} workers ({kind}): not the same fill"
    return out


def flow_scaling(folder: str, cells: int, workers) -> dict:
    """In-process and tiled D8 and MFD flow accumulation times (s), rounds and worker peaks (MB)."""
    from subsidence_plugin.core.io.rasters import read_raster, write_raster as write
    from subsidence_plugin.core.terrain.indices import hydrology_from_dem
    from subsidence_plugin.scale.flow import distributed_flow_accumulation

    raster = read_raster(synthetic_dem(folder, cells, seed=11))
    dem = write(os.path.join(folder, "terraced.tif"), np.round(raster.band(0) * 2) / 2, raster.grid,
                dtype=np.float32)
    out = {}
    for method in ("d8", "mfd"):
        started = time.perf_counter()
        raster = read_raster(dem)
        accumulation = hydrology_from_dem(raster.band(0), raster.grid, method=method,
                                          outputs=["accumulation"])["accumulation"].astype(np.float32)
        write(os.path.join(folder, f"accumulation_{method}.tif"), accumulation, raster.grid.with_nodata(-9999.0),
              ["flow_accumulation_cells"], dtype=np.float32)
        out.update({"cells": raster.grid.width * raster.grid.height,
                    f"{method}: in process (s)": time.perf_counter() - started})
        for p in workers:
            with dask_client(local=p) as client:
                for kind in ("tif", "zarr") if method == "d8" else ("tif",):
                    target = os.path.join(folder, f"accumulation_{method}_{p}.{kind}")
                    client.run(_reset_worker_peak)
                    started = time.perf_counter()
                    rounds = distributed_flow_accumulation(client, dem, {"accumulation": target}, method=method)
                    out[f"{method}: {p} workers, {kind} (s)"] = time.perf_counter() - started
                    out[f"{method}: {p} workers, {kind}: worker peak MB"] = max(client.run(_worker_peak_mb).values())
                    found = gdal.Open(target if kind == "tif" else f'ZARR:"{target}":/accumulation').ReadAsArray()
                    if method == "d8":
                        assert np.array_equal(found, accumulation), f"{p} workers ({kind}): not the same accumulation"
                    else:
                        out[f"mfd: {p} workers, {kind}: largest relative difference"] = float(
                            np.nanmax(np.abs(found - accumulation) / accumulation))
        out["rounds of flat distances"] = rounds["rounds"]
        out[f"{method}: rounds of flow"] = rounds["flow rounds"]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=4_000_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--tiles", default="256,512,1024,2048")
    parser.add_argument("--kriging-points", type=int, default=100_000)
    parser.add_argument("--kriging-cells", type=int, default=1_000_000)
    parser.add_argument("--fill-cells", type=int, default=0)
    parser.add_argument("--flow-cells", type=int, default=0)
    parser.add_argument("--json", default="")
    args = parser.parse_args(argv)
    workers = [int(v) for v in args.workers.split(",")]
    tiles = [int(v) for v in args.tiles.split(",")]
    results = {"cells": args.cells, "strong": {}, "weak": {}, "tiles": {}}
    with tempfile.TemporaryDirectory() as folder:
        dem = synthetic_dem(folder, args.cells)
        started = time.perf_counter()
        write_terrain(dem, {"slope": os.path.join(folder, "slope_in_process.tif")})
        results["in process (s)"] = time.perf_counter() - started
        reference = _read(os.path.join(folder, "slope_in_process.tif"))
        started = time.perf_counter()
        gdal.Translate(os.path.join(folder, "cog.tif"), os.path.join(folder, "slope_in_process.tif"), format="COG",
                       creationOptions=["COMPRESS=DEFLATE", "LEVEL=1", "PREDICTOR=YES", "NUM_THREADS=ALL_CPUS"])
        results["COG conversion of the output (s)"] = time.perf_counter() - started
        weak_dems = {p: synthetic_dem(folder, args.cells * p, seed=p) for p in workers}
        for p in workers:
            started = time.perf_counter()
            with dask_client(local=p) as client:
                results["strong"][p] = {"cluster start (s)": time.perf_counter() - started}
                out = os.path.join(folder, f"slope_{p}.tif")
                client.run(_reset_worker_peak)
                seconds = timed_run(client, dem, out, DEFAULT_TILE)
                assert np.array_equal(_read(out), reference), f"{p} workers: not equal to the in-process slope"
                results["strong"][p].update({"seconds": seconds, "worker peak MB": sorted(
                    client.run(_worker_peak_mb).values())})
                started = time.perf_counter()
                distributed_terrain(client, dem, {"slope": out + ".zarr"}, tile_shape=DEFAULT_TILE)
                results["strong"][p]["zarr (s)"] = time.perf_counter() - started
                results["weak"][p] = {"cells": args.cells * p,
                                      "seconds": timed_run(client, weak_dems[p], out + ".weak.tif", DEFAULT_TILE)}
                if p == max(workers):
                    for size in tiles:
                        seconds = timed_run(client, dem, out + f".{size}.tif", (size, size))
                        plan = plan_tiles(reference.shape, (size, size), 1)
                        read = sum(t.window[2] * t.window[3] for t in plan)
                        results["tiles"][size] = {"seconds": seconds, "tasks": len(plan),
                                                  "ms per task": 1000.0 * seconds / len(plan),
                                                  "halo share": read / reference.size - 1.0}
        if args.kriging_points:
            results["kriging"] = kriging_scaling(folder, args.kriging_points, args.kriging_cells, workers)
        if args.fill_cells:
            results["fill"] = fill_scaling(folder, args.fill_cells, workers)
        if args.flow_cells:
            results["flow"] = flow_scaling(folder, args.flow_cells, workers)
        t1 = results["strong"][workers[0]]["seconds"] * workers[0]
        for p in workers:
            results["strong"][p]["E_s"] = t1 / (p * results["strong"][p]["seconds"])
            results["strong"][p]["E_s zarr"] = results["strong"][workers[0]]["zarr (s)"] * workers[0] / (
                p * results["strong"][p]["zarr (s)"])
            results["weak"][p]["E_w"] = results["weak"][workers[0]]["seconds"] / results["weak"][p]["seconds"]
    harness.print_table(["workers", "strong (s)", "E_s", "Zarr written by the workers (s)", "E_s", "weak cells",
                         "weak (s)", "E_w", "worker peak MB", "cluster start (s)"],
                        [[p, f"{results['strong'][p]['seconds']:.2f}", f"{results['strong'][p]['E_s']:.2f}",
                          f"{results['strong'][p]['zarr (s)']:.2f}", f"{results['strong'][p]['E_s zarr']:.2f}",
                          results["weak"][p]["cells"], f"{results['weak'][p]['seconds']:.2f}",
                          f"{results['weak'][p]['E_w']:.2f}",
                          ", ".join(f"{v:.0f}" for v in results["strong"][p]["worker peak MB"]),
                          f"{results['strong'][p]['cluster start (s)']:.1f}"] for p in workers])
    harness.print_table(["tile", "seconds", "tasks", "ms per task", "halo share"],
                        [[f"{s} x {s}", f"{r['seconds']:.2f}", r["tasks"], f"{r['ms per task']:.1f}",
                          f"{100 * r['halo share']:.2f} %"] for s, r in results["tiles"].items()])
    for part in ("kriging", "fill", "flow"):
        if part in results:
            harness.print_table([part, "value"], [[k, f"{v:.4g}" if isinstance(v, float) else v]
                                                  for k, v in results[part].items()])
    print(f"in process: {results['in process (s)']:.2f} s for {args.cells} cells; converting its output to a "
          f"cloud-optimised GeoTIFF {results['COG conversion of the output (s)']:.2f} s")
    harness.write_json(args.json, results)


if __name__ == "__main__":
    main()
