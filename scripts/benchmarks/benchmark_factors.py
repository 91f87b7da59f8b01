"""Benchmark the terrain and hydrology factors against RichDEM, pysheds, Whitebox Workflows and gdaldem.

    .venv/bin/python scripts/benchmarks/benchmark_factors.py [DATA_FOLDER] [--sizes 2000 4000] [--json OUT.json]
                                                             [--quick] [--skip-tasks spi ...]
                                                             [--skip-tools pysheds ...]

Tasks (each tool from the DEM, in memory unless said otherwise):

* ``slope``  Horn slope in degrees. ``plugin`` = ``terrain.terrain_array`` on the in-memory DEM;
  ``plugin-file`` = ``terrain.write_terrain`` file to file (reading and writing timed, like gdaldem);
  ``gdaldem`` = the whole ``gdaldem slope`` command (``-s 111120`` on the geographic DEM); ``richdem``
  = ``TerrainAttribute(slope_degrees)``; ``whitebox`` = ``terrain.slope``.
* ``fill``   depression fill. ``plugin`` / ``richdem`` / ``whitebox``: plain fill (flats stay flat);
  ``plugin-eps`` / ``richdem-eps`` / ``whitebox-flats``: with the gradient across flats; ``pysheds`` =
  ``fill_depressions`` (plain).
* ``d8``     D8 pipeline: fill (with flat resolution) + directions + accumulation in cells. ``plugin`` =
  ``fill_depressions(epsilon=True)`` + ``flow_directions_d8`` + ``d8_accumulation`` (what
  ``hydrology_from_dem(method="d8")`` runs), as nested calls like RichDEM's, so that an intermediate is
  freed once the next step has used it; ``richdem`` = ``FillDepressions(epsilon=True)`` +
  ``FlowAccumulation("D8")``; ``pysheds`` = ``fill_depressions`` + ``resolve_flats`` + ``flowdir`` +
  ``accumulation``; ``whitebox`` = ``fill_depressions(fix_flats)`` + ``d8_flow_accum``.
* ``mfd``    MFD pipeline, same fills, then ``mfd_accumulation`` (Freeman, exponent 1.1) / RichDEM
  ``Freeman`` 1.1 / pysheds ``routing="mfd"`` / Whitebox ``fd8_flow_accum`` 1.1 (``whitebox``) and
  ``quinn_flow_accumulation`` (``whitebox-quinn``). ``plugin`` = ``epsilon_filled_dem`` (the epsilon fill
  stored compactly) + ``mfd_accumulation``, what ``hydrology_from_dem(method="mfd")`` runs.
* ``twi`` / ``spi``  DEM to TWI / SPI end to end: the MFD pipeline + specific catchment area + slope +
  the index. ``plugin`` = ``hydrology_from_dem(outputs=[task])``, what the Processing algorithm runs;
  ``richdem`` = RichDEM fill, Freeman and slope plus the numpy formula (RichDEM has no TWI tool);
  ``whitebox`` = fill + ``fd8_flow_accum`` (sca) + ``slope`` + ``wetness_index`` /
  ``relative_stream_power_index``. pysheds has no slope: not run.

DEMs (both Float32 GeoTIFFs handed to every tool as float32 arrays, NaN / -9999 nodata; prepared once):

* ``fractal``: seeded spectral-synthesis fractal surface (power spectrum ~ k^-3.2, plus white noise so that
  there are many closed basins), 30 m cells, EPSG:32613 (projected).
* ``dfw``: ``DATA_FOLDER/dem-dfw-pysheds/dem.tif`` (HydroSHEDS 3", 367 x 359, Int16) mirrored and tiled to the
  size, kept in EPSG:4326 so that the plugin's per-row metric cell sizes are exercised (the other tools use
  degrees or their own conversion; only their times matter here). Converted to float32 (no nodata in it).

Every (task, DEM, size, tool) runs in its own subprocess. Timed: only the computation, after the input is
in memory and, for pysheds, after a warm-up call that compiles its numba functions; for ``gdaldem`` and
``plugin-file`` the whole command / call including reading and writing files. Peak MB: the child's resident
set high-water mark during the computation (VmHWM reset just before it via /proc/self/clear_refs; it includes
the interpreter, the libraries and the input already in memory); for gdaldem, the ru_maxrss of the gdaldem
process. MB above input: that peak less the resident set just before the computation (the memory the
computation itself needs, outputs included), also as a multiple of the float32 DEM's size (x DEM). RichDEM,
the plugin and gdaldem use one core; Whitebox uses all cores by default (``--wbt-procs``) and pysheds' numba
``parallel`` functions may use both cores. pysheds' numba cache goes to a fresh folder per run (a stale shared
cache made it fail with a numba ``KeyError``). Needs ``affine<3`` for pysheds 0.5 (affine 3 breaks its deepcopy).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

TASKS = ["slope", "fill", "d8", "mfd", "twi", "spi"]
TOOLS = {
    "slope": ["plugin", "plugin-file", "gdaldem", "richdem", "whitebox"],
    "fill": ["plugin", "plugin-eps", "richdem", "richdem-eps", "pysheds", "whitebox", "whitebox-flats"],
    "d8": ["plugin", "richdem", "pysheds", "whitebox"],
    "mfd": ["plugin", "richdem", "pysheds", "whitebox", "whitebox-quinn"],
    "twi": ["plugin", "richdem", "whitebox"],
    "spi": ["plugin", "richdem", "whitebox"],
}
DEM_NAMES = ["fractal", "dfw"]
NODATA = -9999.0
MIN_SLOPE = 0.1
EXPONENT = 1.1
UTM13N = 32613


# ----------------------------------------------------------------------------------------------- DEMs

def fractal_dem(size: int, seed: int = 7, cell: float = 30.0) -> np.ndarray:
    """A seeded fractal surface (m, float32) with many closed basins: 1/f noise plus a little white noise."""
    rng = np.random.default_rng(seed)
    ky = np.fft.fftfreq(size)[:, None]
    kx = np.fft.rfftfreq(size)[None, :]
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    amplitude = k ** (-3.2 / 2)
    amplitude[0, 0] = 0.0
    phase = rng.uniform(0, 2 * np.pi, amplitude.shape)
    spectrum = amplitude * (rng.standard_normal(amplitude.shape) * np.exp(1j * phase))
    surface = np.fft.irfft2(spectrum, s=(size, size))
    surface = (surface - surface.min()) / np.ptp(surface) * 600.0 + 100.0
    surface += rng.normal(0.0, 0.5, surface.shape)  # small pits everywhere
    return surface.astype(np.float32)


def mirror_tile(tile: np.ndarray, size: int) -> np.ndarray:
    """``tile`` mirrored at its edges (no cliffs) and repeated to size x size."""
    block = np.block([[tile, tile[:, ::-1]], [tile[::-1, :], tile[::-1, ::-1]]])
    reps = (-(-size // block.shape[0]), -(-size // block.shape[1]))
    return np.tile(block, reps)[:size, :size]


def make_dem(name: str, size: int, data: str):
    """(float32 array with NaN nodata, RasterGrid) of a benchmark DEM."""
    from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
    from subsidence_plugin.core.io.rasters import read_raster
    if name == "fractal":
        cell = 30.0
        grid = RasterGrid.from_origin(500000.0, 4000000.0, cell, size, size, crs_wkt_from_epsg(UTM13N), NODATA)
        return fractal_dem(size), grid
    src = read_raster(os.path.join(data, "dem-dfw-pysheds", "dem.tif"))
    values = mirror_tile(src.band(0), size).astype(np.float32)
    gt = src.grid.geotransform
    grid = RasterGrid(size, size, tuple(gt), src.grid.crs_wkt, NODATA)
    return values, grid


def write_dem(path: str, values: np.ndarray, grid) -> None:
    """Plain (uncompressed, tiled) Float32 GeoTIFF with nodata -9999, for the file-based tools."""
    from osgeo import gdal
    ds = gdal.GetDriverByName("GTiff").Create(path, grid.width, grid.height, 1, gdal.GDT_Float32,
                                              ["TILED=YES", "BIGTIFF=IF_SAFER"])
    ds.SetGeoTransform(grid.geotransform)
    ds.SetProjection(grid.crs_wkt)
    band = ds.GetRasterBand(1)
    band.SetNoDataValue(NODATA)
    band.WriteArray(np.where(np.isnan(values), NODATA, values).astype(np.float32))
    ds = None


# ----------------------------------------------------------------------------------------------- child

def _pysheds_inputs(values, meta):
    Affine, Grid, Raster, ViewFinder = harness.import_pysheds()
    gt = meta["geotransform"]

    def build(arr):
        vf = ViewFinder(affine=Affine.from_gdal(*gt), shape=arr.shape, nodata=np.float32(np.nan))
        return Grid(viewfinder=vf), Raster(np.ascontiguousarray(arr), viewfinder=vf)
    return build


def pysheds_pipeline(grid, dem, routing):
    filled = grid.fill_depressions(dem)
    inflated = grid.resolve_flats(filled)
    fdir = grid.flowdir(inflated, routing=routing)
    return grid.accumulation(fdir, routing=routing)


def prepare(task: str, tool: str, values: np.ndarray, meta: dict, workdir: str):
    """A no-argument function doing the timed work; everything before it is untimed preparation."""
    from subsidence_plugin.core.io.grid import RasterGrid
    grid = RasterGrid(meta["width"], meta["height"], tuple(meta["geotransform"]), meta["crs_wkt"], NODATA)
    tif = meta["tif"]
    if tool.startswith("plugin"):
        from subsidence_plugin.core.terrain import indices as hy
        from subsidence_plugin.core.terrain.derivatives import metric_cell_sizes, terrain_array, write_terrain
        lx, ly = metric_cell_sizes(grid, np.arange(grid.height))
        if task == "slope":
            if tool == "plugin-file":
                return lambda: write_terrain(tif, {"slope": os.path.join(workdir, "slope.tif")})
            return lambda: terrain_array(values, grid, ["slope"])["slope"]
        if task == "fill":
            return lambda: hy.fill_depressions(values, epsilon=tool == "plugin-eps")
        if task == "d8":
            weights = np.where(np.isnan(values), np.nan, 1.0)
            return lambda: hy.d8_accumulation(hy.flow_directions_d8(hy.fill_depressions(values, epsilon=True),
                                                                    lx, ly), weights)
        if task == "mfd":
            return lambda: hy.mfd_accumulation(hy.epsilon_filled_dem(values), lx, ly, exponent=EXPONENT)
        return lambda: hy.hydrology_from_dem(values, grid, outputs=[task], min_slope_degrees=MIN_SLOPE)[task]
    if tool == "gdaldem":
        cmd = ["gdaldem", "slope", "-q"] + (["-s", "111120"] if meta["geographic"] else []) + \
              [tif, os.path.join(workdir, "g_slope.tif")]
        return ("command", cmd)
    if tool.startswith("richdem"):
        import richdem as rd
        arr = np.where(np.isnan(values), NODATA, values).astype(np.float32)

        def rdem():
            out = rd.rdarray(arr.copy(), no_data=NODATA)
            out.geotransform = list(meta["geotransform"])
            out.projection = meta["crs_wkt"]
            return out
        import contextlib
        import io

        def quiet(fn):
            def run():
                with contextlib.redirect_stdout(io.StringIO()):
                    return fn()
            return run
        dem = rdem()
        if task == "slope":
            return quiet(lambda: rd.TerrainAttribute(dem, attrib="slope_degrees"))
        if task == "fill":
            return quiet(lambda: rd.FillDepressions(dem, epsilon=tool == "richdem-eps", in_place=True))
        if task == "d8":
            return quiet(lambda: rd.FlowAccumulation(rd.FillDepressions(dem, epsilon=True), method="D8"))
        slope_dem = rdem()
        cell = float(np.sqrt(abs(meta["geotransform"][1] * meta["geotransform"][5])))

        def run():
            acc = rd.FlowAccumulation(rd.FillDepressions(dem, epsilon=True), method="Freeman", exponent=EXPONENT)
            if task == "mfd":
                return acc
            slope = np.asarray(rd.TerrainAttribute(slope_dem, attrib="slope_degrees"), dtype=np.float64)
            sca = np.asarray(acc, dtype=np.float64) * cell
            tan = np.tan(np.radians(np.fmax(slope, MIN_SLOPE)))
            return np.log(sca / tan) if task == "twi" else sca * tan
        return quiet(run)
    if tool == "pysheds":
        build = _pysheds_inputs(values, meta)
        routing = "mfd" if task == "mfd" else "d8"
        small_grid, small = build(fractal_dem(64)[:64, :64])
        if task == "fill":
            small_grid.fill_depressions(small)  # compile numba before timing
            pgrid, dem = build(values)
            return lambda: pgrid.fill_depressions(dem)
        pysheds_pipeline(small_grid, small, routing)
        pgrid, dem = build(values)
        return lambda: pysheds_pipeline(pgrid, dem, routing)
    if tool.startswith("whitebox"):
        import whitebox_workflows as wbw
        wbe = wbw.WbEnvironment()
        wbe.verbose = False
        if meta.get("wbt_procs"):
            wbe.max_procs = int(meta["wbt_procs"])
        h, te = wbe.hydrology, wbe.terrain
        dem = wbe.read_raster(tif, file_mode="m")
        dem.num_valid_cells()  # make sure the raster is in memory
        if task == "slope":
            return lambda: te.slope(input=dem)
        if task == "fill":
            return lambda: h.fill_depressions(dem=dem, fix_flats=tool == "whitebox-flats")
        if task == "d8":
            return lambda: h.d8_flow_accum(input=h.fill_depressions(dem=dem, fix_flats=True), out_type="cells")
        if task == "mfd":
            if tool == "whitebox-quinn":
                return lambda: h.quinn_flow_accumulation(dem=h.fill_depressions(dem=dem, fix_flats=True),
                                                         out_type="cells", exponent=EXPONENT)
            return lambda: h.fd8_flow_accum(dem=h.fill_depressions(dem=dem, fix_flats=True), out_type="cells",
                                            exponent=EXPONENT)

        def run():
            sca = h.fd8_flow_accum(dem=h.fill_depressions(dem=dem, fix_flats=True), out_type="sca",
                                   exponent=EXPONENT)
            slope = te.slope(input=dem)
            if task == "twi":
                return h.wetness_index(sca=sca, slope=slope)
            return h.relative_stream_power_index(sca=sca, slope=slope)
        return run
    raise ValueError(f"unknown tool {tool}")


def child(task: str, tool: str, npy: str, meta_path: str, result_path: str) -> None:
    with open(meta_path) as fh:
        meta = json.load(fh)
    values = np.load(npy)
    with tempfile.TemporaryDirectory(dir=meta["workdir"]) as workdir:
        work = prepare(task, tool, values, meta, workdir)
        result = {"task": task, "tool": tool}
        if isinstance(work, tuple) and work[0] == "command":
            start = time.perf_counter()
            proc = subprocess.Popen(work[1], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            code, usage = harness.wait_rusage(proc, meta["timeout"])
            result["seconds"] = time.perf_counter() - start
            result["peak_mb"] = usage.ru_maxrss / 1024
            result["timed"] = "whole command"
            if code:
                raise RuntimeError(f"{work[1]} exited with {code}: {proc.stderr.read().decode()[-500:]}")
        else:
            result["base_mb"] = harness.status_mb("VmRSS")
            result["dem_mb"] = values.size * 4 / 2 ** 20
            reset = harness.reset_peak()
            start = time.perf_counter()
            output = work()
            result["seconds"] = time.perf_counter() - start
            result["peak_mb"] = harness.status_mb("VmHWM") if reset else float("nan")
            result["timed"] = "file to file" if tool == "plugin-file" else "computation"
            result["output_type"] = type(output).__name__
    with open(result_path, "w") as fh:
        json.dump(result, fh)


# ----------------------------------------------------------------------------------------------- parent

def run_one(task, tool, dem_name, size, npy, meta_path, workdir, timeout):
    result_path = os.path.join(workdir, f"{task}-{tool}-{dem_name}-{size}.json")
    log_path = result_path[:-5] + ".log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", task, tool, npy,
                                 meta_path, result_path], stdout=log, stderr=subprocess.STDOUT)
        wall = time.perf_counter()
        code, usage = harness.wait_rusage(proc, timeout)
        wall = time.perf_counter() - wall
    row = {"task": task, "dem": dem_name, "size": size, "tool": tool, "child_wall_s": wall,
           "child_maxrss_mb": usage.ru_maxrss / 1024}
    if code == 0 and os.path.exists(result_path):
        with open(result_path) as fh:
            row.update(json.load(fh))
        row["mcells_per_s"] = size * size / row["seconds"] / 1e6
    else:
        with open(log_path) as fh:
            tail = fh.read()[-400:].strip().replace("\n", " / ")
        row["error"] = (f"timed out after {timeout:.0f} s" if code in (-9, 137) else f"exit {code}") + \
            (f": {tail}" if tail else "")
    return row


def markdown(rows) -> str:
    columns = ["task", "DEM", "size", "tool", "seconds", "Mcells/s", "peak MB", "MB above input", "x DEM",
               "x fastest"]
    groups = {}
    for row in rows:
        if "seconds" in row:
            key = (row["task"], row["dem"], row["size"])
            groups[key] = min(groups.get(key, np.inf), row["seconds"])
    cells = []
    for row in rows:
        size = f"{row['size']}x{row['size']}"
        if "seconds" not in row:
            cells.append([row["task"], row["dem"], size, row["tool"], f"failed: {row['error'][:120]}"] + [None] * 5)
            continue
        fastest = groups[(row["task"], row["dem"], row["size"])]
        above = row["peak_mb"] - row["base_mb"] if "base_mb" in row else float("nan")
        multiple = above / row["dem_mb"] if "dem_mb" in row else float("nan")
        cells.append([row["task"], row["dem"], size, row["tool"], f"{row['seconds']:.2f}",
                      f"{row['mcells_per_s']:.2f}", f"{row['peak_mb']:.0f}", f"{above:.0f}", f"{multiple:.1f}",
                      f"{row['seconds'] / fastest:.1f}"])
    return harness.markdown_table(columns, cells)


def available_tools():
    """Tool families whose package imports here."""
    families = {"plugin": True, "gdaldem": subprocess.run(["which", "gdaldem"], capture_output=True).returncode == 0}
    for family, module in (("richdem", "richdem"), ("pysheds", "pysheds.grid"), ("whitebox", "whitebox_workflows")):
        code = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                              env=dict(os.environ, PROJ_DATA="/usr/share/proj")).returncode
        families[family] = code == 0
    return families


def main(argv=None):
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:7])
        return
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--sizes", nargs="+", type=int, default=[2000, 4000])
    parser.add_argument("--json", default="")
    parser.add_argument("--quick", action="store_true", help="500 x 500 only")
    parser.add_argument("--tasks", nargs="+", default=TASKS, choices=TASKS)
    parser.add_argument("--skip-tasks", nargs="+", default=[], choices=TASKS)
    parser.add_argument("--skip-tools", nargs="+", default=[],
                        help="tool names (e.g. whitebox-quinn) or families (pysheds, whitebox, richdem, ...)")
    parser.add_argument("--dems", nargs="+", default=DEM_NAMES, choices=DEM_NAMES)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per subprocess")
    parser.add_argument("--wbt-procs", type=int, default=0, help="Whitebox max_procs (0 = its default, all cores)")
    args = parser.parse_args(argv)
    sizes = [500] if args.quick else args.sizes
    tasks = [t for t in args.tasks if t not in args.skip_tasks]
    families = available_tools()
    missing = sorted(f for f, ok in families.items() if not ok)
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_factors_") as workdir:
        for size in sizes:
            for dem_name in args.dems:
                values, grid = make_dem(dem_name, size, args.data)
                npy = os.path.join(workdir, f"{dem_name}-{size}.npy")
                np.save(npy, values)
                tif = os.path.join(workdir, f"{dem_name}-{size}.tif")
                write_dem(tif, values, grid)
                os.environ["NUMBA_CACHE_DIR"] = os.path.join(workdir, "numba_cache")  # a fresh cache per run
                meta = {"width": grid.width, "height": grid.height, "geotransform": list(grid.geotransform),
                        "crs_wkt": grid.crs_wkt, "geographic": grid.is_geographic, "tif": tif,
                        "workdir": workdir, "timeout": args.timeout, "wbt_procs": args.wbt_procs}
                meta_path = os.path.join(workdir, f"{dem_name}-{size}.meta.json")
                with open(meta_path, "w") as fh:
                    json.dump(meta, fh)
                del values
                for task in tasks:
                    for tool in TOOLS[task]:
                        family = tool.split("-")[0]
                        if tool in args.skip_tools or family in args.skip_tools or not families.get(family):
                            continue
                        row = run_one(task, tool, dem_name, size, npy, meta_path, workdir, args.timeout)
                        rows.append(row)
                        status = f"{row['seconds']:.2f} s" if "seconds" in row else row["error"][:200]
                        print(f"  {task:5s} {dem_name:7s} {size:5d} {tool:15s} {status}", file=sys.stderr, flush=True)
                os.remove(npy)
                os.remove(tif)
    wall = time.perf_counter() - start
    table = markdown(rows)
    print(table)
    print("\nTimed: the computation only, input already in memory (pysheds after a numba warm-up); gdaldem and "
          "plugin-file: the whole command / call with file reading and writing. Peak MB: resident-set high-water "
          "mark of the child during the timed part (input included); gdaldem: its ru_maxrss. MB above input: peak "
          "MB less the resident set just before the timed part; x DEM: that over the float32 DEM's size. Whitebox "
          "uses all cores (--wbt-procs), pysheds' numba-parallel kernels may use several, the others one. twi / spi "
          "run from the DEM (fill + MFD + slope + index). x fastest: seconds / fastest tool of the same task, DEM, "
          "size.")
    print(f"Wall time of the whole run: {wall:.0f} s. Tools not available here: {', '.join(missing) or 'none'}. "
          f"Load average at the end: {os.getloadavg()[0]:.2f}.")
    if args.json:
        info = {"machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                            "load_average_at_end": os.getloadavg()},
                "sizes": sizes, "wall_seconds": wall, "missing_tools": missing, "rows": rows}
        versions = {}
        for module in ("numpy", "scipy", "richdem", "pysheds", "whitebox_workflows", "numba"):
            try:
                if module == "whitebox_workflows":
                    import whitebox_workflows
                    versions[module] = whitebox_workflows.WbEnvironment().version()
                    continue
                if module == "richdem":
                    from importlib.metadata import version
                    versions[module] = version("richdem-fork")
                    continue
                versions[module] = __import__(module).__version__
            except Exception:  # noqa: BLE001 - an absent tool is reported, not fatal
                versions[module] = None
        info["versions"] = {k: str(v) for k, v in versions.items()}
        harness.write_json(args.json, info, default=str)


if __name__ == "__main__":
    main()
