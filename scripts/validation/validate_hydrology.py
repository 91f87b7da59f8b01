"""Validate the plugin's depression fill, D8 / MFD accumulation and TWI against RichDEM, pysheds and Whitebox.

    .venv/bin/python scripts/validation/validate_hydrology.py [DATA_FOLDER] [--json OUT.json] [--fractal-size 1000]

DEMs: the real DFW DEM (``DATA_FOLDER/dem-dfw-pysheds/dem.tif``: HydroSHEDS 3", 367 x 359, Int16, EPSG:4326, no
nodata cells) used as it is (geographic), and a seeded synthetic fractal DEM with many closed basins
(``benchmark_factors.fractal_dem``, float32, 30 m cells, EPSG:32613).

How conventions are aligned (and what still differs; also printed under the table):

* Fill: plain fills (no gradient on flats) of the same float64 DEM, compared cell by cell. Whitebox Workflows
  2.0.6 also raises basins that open onto the raster edge (it does not let water leave through every edge
  cell), so it differs there; not alignable from outside (padding with nodata does not change it).
* D8, aligned: every tool gets the *same* flow surface, the plugin's ``fill_depressions(epsilon=True)`` (no
  flats left), so only direction choice and accumulation are compared. Cell sizes: pysheds and RichDEM work
  in grid units (square cells in degrees for the geographic DEM), so the plugin is run with square cells
  (lx = ly = 1) for them; its own metric per-row cells (narrower east-west at 32.7 N) are shown as a second
  row. Ties (equal drop / distance, frequent on integer DEMs) go to the first direction in each tool's scan
  order: the plugin scans E, SE, S, ... (clockwise from east), pysheds N, NE, E, ... (clockwise from north),
  so pysheds is run on the DEM rotated 90 degrees counter-clockwise (its first direction is then the original
  east) and its result rotated back. Whitebox scans NE, E, SE, ...: cardinal ties agree with the plugin,
  diagonal ties involving NE do not (not alignable). Edge cells: the plugin's are outlets; pysheds and
  Whitebox route edge cells inward, so their edge pointers are set to "no flow" before their own
  accumulation is run from the pointers. RichDEM's D8 routes to the lowest neighbour (not drop / distance):
  shown for information only.
* MFD: RichDEM ``Freeman`` (exponent 1.1) and the plugin's ``mfd_accumulation`` on the same epsilon-filled
  surface, square cells for RichDEM (it ignores the geotransform). Whitebox FD8 (exponent 1.1, its own fill
  and flat handling) for information.
* TWI: the plugin's ``hydrology_from_dem(method="mfd")`` against (a) Whitebox end to end (fill, FD8 sca, its
  slope, ``wetness_index``; its own handling of geographic cells and flats) and (b) RichDEM Freeman
  accumulation on the same surface turned into sca with the plugin's cell widths and the plugin's slope
  (RichDEM has no TWI tool; this isolates the accumulation). Only cells where both are finite.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # scripts/: the harness
import harness  # noqa: E402  (puts the repository root on sys.path)

sys.path.insert(0, os.path.join(harness.SCRIPTS, "benchmarks"))  # benchmark_factors.fractal_dem

# pysheds pointer codes (its default dirmap: N, NE, E, SE, S, SW, W, NW) and Whitebox's (NE=1, E=2, ... N=128)
PYSHEDS_DIRMAP = (64, 128, 1, 2, 4, 8, 16, 32)


# --------------------------------------------------------------------------------------------- metrics

def _both(a, b, mask=None):
    ok = np.isfinite(a) & np.isfinite(b)
    return ok if mask is None else ok & mask


def share_equal(a, b, mask=None):
    ok = _both(a, b, mask)
    return float(np.mean(a[ok] == b[ok])) if ok.any() else float("nan")


def max_abs_diff(a, b, mask=None):
    ok = _both(a, b, mask)
    return float(np.max(np.abs(a[ok] - b[ok]))) if ok.any() else float("nan")


def share_within_relative(a, b, tol=1e-3, mask=None):
    ok = _both(a, b, mask)
    x, y = a[ok], b[ok]
    return float(np.mean(np.abs(x - y) <= tol * np.maximum(np.abs(x), np.abs(y))))


def share_within(a, b, tol, mask=None):
    ok = _both(a, b, mask)
    return float(np.mean(np.abs(a[ok] - b[ok]) <= tol))


def pearson(a, b, mask=None):
    ok = _both(a, b, mask)
    return float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else float("nan")


def log_pearson(a, b, mask=None):
    with np.errstate(divide="ignore", invalid="ignore"):
        return pearson(np.log(np.where(a > 0, a, np.nan)), np.log(np.where(b > 0, b, np.nan)), mask)


def interior(shape):
    m = np.zeros(shape, dtype=bool)
    m[1:-1, 1:-1] = True
    return m


# --------------------------------------------------------------------------------------------- pysheds (own process)

def pysheds_worker(inp: str, out: str) -> None:
    """Run pysheds on the arrays of ``inp`` (no GDAL from osgeo in this process: pysheds brings rasterio)."""
    Affine, Grid, Raster, ViewFinder = harness.import_pysheds()
    data = np.load(inp)
    gt = tuple(data["geotransform"])

    def build(arr):
        arr = np.ascontiguousarray(arr, dtype=np.float64)
        vf = ViewFinder(affine=Affine.from_gdal(*gt), shape=arr.shape, nodata=np.nan)
        return Grid(viewfinder=vf), Raster(arr, viewfinder=vf)

    results = {}
    grid, dem = build(data["dem"])
    results["fill"] = np.asarray(grid.fill_depressions(dem))
    # end to end, as pysheds users run it
    filled = grid.fill_depressions(dem)
    fdir = grid.flowdir(grid.resolve_flats(filled))
    results["d8_own"] = np.asarray(grid.accumulation(fdir), dtype=np.float64)
    # aligned: the plugin's epsilon surface rotated so that pysheds scans the plugin's order; edges are outlets
    rotated = np.rot90(data["surface"], 1)
    grid, surface = build(rotated)
    fdir = grid.flowdir(surface)
    fdir[0, :] = fdir[-1, :] = 0
    fdir[:, 0] = fdir[:, -1] = 0
    results["d8_aligned"] = np.rot90(np.asarray(grid.accumulation(fdir), dtype=np.float64), -1)
    raw = np.asarray(fdir).copy()
    codes = {c: k for k, c in enumerate(PYSHEDS_DIRMAP)}  # pysheds index k: N=0, NE=1, ... clockwise
    index = np.full(raw.shape, -1, dtype=np.int8)
    for code, k in codes.items():
        index[raw == code] = k
    # rotated frame: pysheds N == original E; plugin index 0 = E, clockwise: so plugin index = pysheds index
    results["d8_aligned_dirs"] = np.rot90(index, -1)
    np.savez(out, **results)


def run_pysheds(dem, surface, geotransform, tmp):
    inp, out = os.path.join(tmp, "ps_in.npz"), os.path.join(tmp, "ps_out.npz")
    np.savez(inp, dem=dem, surface=surface, geotransform=np.asarray(geotransform))
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--pysheds-worker", inp, out],
                          capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-800:])
    return dict(np.load(out))


# --------------------------------------------------------------------------------------------- whitebox

class Whitebox:
    def __init__(self, tmp):
        import whitebox_workflows as wbw
        self.wbe = wbw.WbEnvironment()
        self.wbe.verbose = False
        self.h, self.te = self.wbe.hydrology, self.wbe.terrain
        self.tmp = tmp
        self.count = 0

    def load(self, values, grid, dtype=np.float64):
        from osgeo import gdal
        self.count += 1
        path = os.path.join(self.tmp, f"wbt_{self.count}.tif")
        gtype = {np.dtype(np.float64): gdal.GDT_Float64, np.dtype(np.float32): gdal.GDT_Float32,
                 np.dtype(np.int16): gdal.GDT_Int16}[np.dtype(dtype)]
        ds = gdal.GetDriverByName("GTiff").Create(path, grid.width, grid.height, 1, gtype)
        ds.SetGeoTransform(grid.geotransform)
        ds.SetProjection(grid.crs_wkt)
        band = ds.GetRasterBand(1)
        band.SetNoDataValue(-32768.0)
        band.WriteArray(np.where(np.isnan(values), -32768, values).astype(dtype))
        ds = None
        return self.wbe.read_raster(path, file_mode="m")

    @staticmethod
    def array(raster, valid):
        out = np.asarray(raster.to_numpy(), dtype=np.float64)
        out[~valid | (out == -32768.0)] = np.nan
        return out


# --------------------------------------------------------------------------------------------- checks

def load_dems(data, fractal_size):
    from benchmark_factors import fractal_dem

    from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
    from subsidence_plugin.core.io.rasters import read_raster
    src = read_raster(os.path.join(data, "dem-dfw-pysheds", "dem.tif"))
    dems = {"DFW (geographic, Int16)": (src.band(0), src.grid)}
    grid = RasterGrid.from_origin(500000.0, 4000000.0, 30.0, fractal_size, fractal_size,
                                  crs_wkt_from_epsg(32613), -9999.0)
    dems[f"fractal {fractal_size}x{fractal_size} (30 m, UTM)"] = (fractal_dem(fractal_size).astype(np.float64), grid)
    return dems


def validate(z, grid, tmp, notes):
    import contextlib
    import io

    import richdem as rd

    from subsidence_plugin.core.terrain import indices as hy
    from subsidence_plugin.core.terrain.derivatives import metric_cell_sizes
    out = {}
    valid = ~np.isnan(z)
    inner = interior(z.shape) & valid
    lx, ly = metric_cell_sizes(grid, np.arange(grid.height))

    def rdarray(values):
        arr = rd.rdarray(np.where(np.isnan(values), -9999.0, values).astype(np.float64), no_data=-9999.0)
        arr.geotransform = list(grid.geotransform)
        return arr

    def rd_np(arr):
        a = np.asarray(arr, dtype=np.float64).copy()
        a[~valid] = np.nan
        return a

    quiet = contextlib.redirect_stdout(io.StringIO())
    # ---- fill
    filled = hy.fill_depressions(z, epsilon=False)
    with quiet:
        rd_filled = rd_np(rd.FillDepressions(rdarray(z), epsilon=False))
    out["fill vs richdem: max |diff| (m)"] = max_abs_diff(filled, rd_filled)
    out["fill vs richdem: share equal"] = share_equal(filled, rd_filled)
    out["fill: share of cells raised"] = float(np.mean((filled > z)[valid]))
    surface = hy.fill_depressions(z, epsilon=True)
    try:
        ps = run_pysheds(z, surface, grid.geotransform, tmp)
        out["fill vs pysheds: max |diff| (m)"] = max_abs_diff(filled, ps["fill"])
        out["fill vs pysheds: share equal"] = share_equal(filled, ps["fill"])
    except Exception as error:  # noqa: BLE001 - report and go on
        ps = None
        notes.append(f"pysheds failed: {error}")
    try:
        wbt = Whitebox(tmp)
        wz = wbt.load(z, grid)
        wb_filled = wbt.array(wbt.h.fill_depressions(dem=wz, fix_flats=False), valid)
        out["fill vs whitebox: max |diff| (m)"] = max_abs_diff(filled, wb_filled)
        out["fill vs whitebox: share equal"] = share_equal(filled, wb_filled)
    except Exception as error:  # noqa: BLE001
        wbt = None
        notes.append(f"whitebox failed: {error}")

    # ---- D8 on the common epsilon surface
    ones = np.where(valid, 1.0, np.nan)
    dirs_square = hy.flow_directions_d8(surface, 1.0, 1.0)
    acc_square = hy.d8_accumulation(dirs_square, ones)
    dirs_metric = hy.flow_directions_d8(surface, lx, ly)
    acc_metric = hy.d8_accumulation(dirs_metric, ones)
    if ps is not None:
        out["D8 vs pysheds (aligned, square cells): share same direction"] = share_equal(
            dirs_square.astype(float), ps["d8_aligned_dirs"].astype(float), inner)
        out["D8 vs pysheds (aligned, square cells): share identical acc"] = share_equal(
            acc_square, ps["d8_aligned"], inner)
        out["D8 vs pysheds (aligned, square cells): r(log acc)"] = log_pearson(acc_square, ps["d8_aligned"], inner)
        out["D8 vs pysheds (plugin metric cells): share identical acc"] = share_equal(
            acc_metric, ps["d8_aligned"], inner)
        out["D8 vs pysheds (each end to end): share identical acc"] = share_equal(
            hy.d8_accumulation(hy.flow_directions_d8(filled, lx, ly), ones), ps["d8_own"], inner)
        out["D8 vs pysheds (each end to end): r(log acc)"] = log_pearson(
            hy.d8_accumulation(hy.flow_directions_d8(filled, lx, ly), ones), ps["d8_own"], inner)
    if wbt is not None:
        pointer = wbt.array(wbt.h.d8_pointer(dem=wbt.load(surface, grid)), valid)
        pointer[~interior(z.shape)] = 0
        wb_acc = wbt.array(wbt.h.d8_flow_accum(input=wbt.load(np.nan_to_num(pointer), grid, np.int16),
                                               input_is_pointer=True, out_type="cells"), valid)
        wb_codes = (2, 4, 8, 16, 32, 64, 128, 1)  # plugin index 0..7 = E, SE, S, SW, W, NW, N, NE
        wb_index = np.full(z.shape, -1.0)
        for k, code in enumerate(wb_codes):
            wb_index[pointer == code] = k
        for label, dirs, acc in (("square cells", dirs_square, acc_square), ("metric cells", dirs_metric, acc_metric)):
            out[f"D8 vs whitebox (same surface, {label}): share same direction"] = share_equal(
                dirs.astype(float), wb_index, inner)
            out[f"D8 vs whitebox (same surface, {label}): share identical acc"] = share_equal(acc, wb_acc, inner)
            out[f"D8 vs whitebox (same surface, {label}): r(log acc)"] = log_pearson(acc, wb_acc, inner)
        wb_own = wbt.array(wbt.h.d8_flow_accum(input=wbt.h.fill_depressions(dem=wz, fix_flats=True),
                                               out_type="cells"), valid)
        own = hy.d8_accumulation(hy.flow_directions_d8(surface, lx, ly), ones)
        out["D8 vs whitebox (each end to end): share identical acc"] = share_equal(own, wb_own, inner)
        out["D8 vs whitebox (each end to end): r(log acc)"] = log_pearson(own, wb_own, inner)
    with contextlib.redirect_stdout(io.StringIO()):
        rd_d8 = rd_np(rd.FlowAccumulation(rdarray(surface), method="D8"))
    out["D8 vs richdem D8 (lowest neighbour; info): share identical acc"] = share_equal(acc_square, rd_d8, inner)
    out["D8 vs richdem D8 (lowest neighbour; info): r(log acc)"] = log_pearson(acc_square, rd_d8, inner)

    # ---- MFD
    mfd_square = hy.mfd_accumulation(surface, 1.0, 1.0, exponent=1.1)
    with contextlib.redirect_stdout(io.StringIO()):
        rd_mfd = rd_np(rd.FlowAccumulation(rdarray(surface), method="Freeman", exponent=1.1))
    out["MFD vs richdem Freeman (same surface): r(log acc)"] = log_pearson(mfd_square, rd_mfd)
    out["MFD vs richdem Freeman (same surface): share within 1e-3 rel"] = share_within_relative(mfd_square, rd_mfd)
    out["MFD vs richdem Freeman (same surface): max rel diff"] = float(np.nanmax(
        np.abs(mfd_square - rd_mfd) / np.maximum(np.abs(mfd_square), np.abs(rd_mfd))))
    with contextlib.redirect_stdout(io.StringIO()):
        rd_eps = rd.FillDepressions(rdarray(z), epsilon=True)
        rd_mfd_own = rd_np(rd.FlowAccumulation(rd_eps, method="Freeman", exponent=1.1))
    out["MFD vs richdem Freeman (each own epsilon fill): r(log acc)"] = log_pearson(mfd_square, rd_mfd_own)
    out["MFD vs richdem Freeman (each own epsilon fill): share within 1e-3 rel"] = share_within_relative(
        mfd_square, rd_mfd_own)
    if wbt is not None:
        wb_fd8 = wbt.array(wbt.h.fd8_flow_accum(dem=wbt.h.fill_depressions(dem=wz, fix_flats=True),
                                                out_type="cells", exponent=1.1), valid)
        out["MFD vs whitebox FD8 (end to end; info): r(log acc)"] = log_pearson(mfd_square, wb_fd8, inner)
        out["MFD vs whitebox FD8 (end to end; info): share within 1e-3 rel"] = share_within_relative(
            mfd_square, wb_fd8, mask=inner)

    # ---- TWI
    result = hy.hydrology_from_dem(np.where(valid, z, grid.nodata if grid.nodata is not None else np.nan), grid,
                                   method="mfd")
    twi = result["twi"]
    from subsidence_plugin.core.terrain.derivatives import terrain_array
    slope = terrain_array(np.where(valid, z, np.nan), grid, ["slope"])["slope"]
    mfd_metric = result["accumulation"]
    rd_twi = hy.topographic_wetness_index(hy.specific_catchment_area(rd_mfd, lx, ly), slope)
    plugin_twi_same_surface = hy.topographic_wetness_index(hy.specific_catchment_area(mfd_square, lx, ly), slope)
    out["TWI vs richdem Freeman sca + plugin slope: r"] = pearson(plugin_twi_same_surface, rd_twi)
    out["TWI vs richdem Freeman sca + plugin slope: share within 0.1"] = share_within(
        plugin_twi_same_surface, rd_twi, 0.1)
    out["TWI (metric cells) vs (square cells) plugin: r"] = pearson(twi, plugin_twi_same_surface)
    if wbt is not None:
        sca = wbt.h.fd8_flow_accum(dem=wbt.h.fill_depressions(dem=wz, fix_flats=True), out_type="sca",
                                   exponent=1.1)
        wslope = wbt.te.slope(input=wz)
        wb_twi = wbt.array(wbt.h.wetness_index(sca=sca, slope=wslope), valid)
        wb_slope = wbt.array(wslope, valid)
        out["TWI vs whitebox (end to end): r"] = pearson(twi, wb_twi, inner)
        out["TWI vs whitebox (end to end): share within 0.1"] = share_within(twi, wb_twi, 0.1, inner)
        out["TWI vs whitebox: share of cells compared"] = float(np.mean(_both(twi, wb_twi, inner)[valid]))
        out["slope vs whitebox slope: max |diff| (deg, interior)"] = max_abs_diff(slope, wb_slope, inner)
    out["MFD: plugin metric vs square cells: r(log acc)"] = log_pearson(mfd_metric, mfd_square)
    return out


def main(argv=None):
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--pysheds-worker":
        pysheds_worker(sys.argv[2], sys.argv[3])
        return
    parser = harness.argument_parser(__doc__, data=True)
    parser.add_argument("--json", default="")
    parser.add_argument("--fractal-size", type=int, default=1000)
    args = parser.parse_args(argv)
    results, notes = {}, []
    numba_cache = tempfile.TemporaryDirectory(prefix="validate_numba_")  # pysheds' numba cache, fresh per run
    os.environ["NUMBA_CACHE_DIR"] = numba_cache.name
    for name, (z, grid) in load_dems(args.data, args.fractal_size).items():
        with tempfile.TemporaryDirectory(prefix="validate_hydro_") as tmp:
            results[name] = validate(np.asarray(z, dtype=np.float64), grid, tmp, notes)
    print(harness.measure_table(results, ".6g"))
    print("\nConventions (details in the module docstring): accumulation shares and correlations are over interior "
          "valid cells (pysheds gives 0 at cells whose pointer is 'no flow', i.e. at the edge); 'aligned' / 'same "
          "surface' rows give every tool the plugin's epsilon-filled surface; pysheds runs on the DEM rotated 90 deg "
          "so that its tie order equals the plugin's; pysheds / Whitebox edge pointers are set to no-flow; RichDEM "
          "D8 routes to the lowest neighbour; Whitebox breaks diagonal ties from NE and converts geographic cells "
          "its own way; Whitebox Workflows 2.0.6 fill_depressions also raises basins that open onto the raster edge "
          "(every cell it raises more than the others lies in a region touching the edge: it does not treat every "
          "edge cell as an outlet, the plugin, RichDEM and pysheds do), hence its fill differences; the Whitebox slope is not the "
          "Horn slope of gdaldem / the plugin, so its TWI differs on flats and steep cells alike.")
    for note in dict.fromkeys(notes):
        print("Note:", note)
    harness.write_json(args.json, {"results": results, "notes": list(dict.fromkeys(notes))})


if __name__ == "__main__":
    main()
