"""A synthetic subsiding basin whose truth is known everywhere: the plugin's sample study area.

The basin is a sediment-filled valley between hills, crossed by a river, bounded by faults and pumped by
wells in its fields and town. Subsidence follows the aquifer-system compaction model used by the seeds
(001, 004): compaction is proportional to compressible-layer thickness and drawdown, and it lags the drawdown
by a time constant that grows with the square of the thickness (tau = b0^2 S's / 4 K'v, seed 004).

Physics (t in years since the pumping began, x, y in metres):

* drawdown  s(x, t) = r(x) * f(t), with f(t) = t + A sin(2 pi t) (a steady decline plus seasonal pumping);
  r(x) [m/yr] is a sum of smoothed Thiem cones r_i(d) = q_i * ln(1 + R^2 / (d^2 + d0^2)) around the wells;
* compaction  c(x, t) = Ssk * b(x) * r(x) * F(t), where F solves tau F' + F = f, F(0) = 0 (first-order delay);
* displacement (mm, negative = subsidence) = -1000 * c, referenced to the first InSAR acquisition.

Everything is deterministic for a (size, cell size, seed). Units: metres for coordinates, heights and
thicknesses; millimetres and mm/yr for displacement and velocity; m a.s.l. for groundwater levels.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional

import numpy as np
from scipy.spatial import cKDTree

from .io.grid import RasterGrid, crs_wkt_from_epsg
from .io.points import date_field_name
from .io.rasters import NODATA, write_raster
from .io.vectors import VectorLayer, write_geopackage
from .progress import CancelCheck, ProgressCallback, Steps

SAMPLE_EPSG = 32613  # WGS 84 / UTM zone 13N: a metric CRS; the basin itself is synthetic
LAND_USE_CLASSES = {1: "town", 2: "fields", 3: "rangeland"}
IMAGE_BANDS = ["green", "red", "nir", "swir"]
SECONDS_PER_YEAR = 365.25 * 86400.0

# Surface reflectance (green, red, NIR, SWIR) per land use, and of open water.
_REFLECTANCE = {
    1: (0.12, 0.14, 0.20, 0.26),
    2: (0.07, 0.05, 0.42, 0.18),
    3: (0.10, 0.14, 0.22, 0.31),
}
_WATER = (0.07, 0.04, 0.02, 0.01)
# Probability that a cell holds a persistent scatterer, per land use (dense in town, rare in fields).
_PS_DENSITY = {1: 0.35, 2: 0.004, 3: 0.04}
_DS_DENSITY = {1: 0.02, 2: 0.03, 3: 0.06}  # distributed scatterers: fields and rangeland
UNWRAPPING_JUMP_MM = 27.7  # half the Sentinel-1 C-band wavelength (55.5 mm): one phase-unwrapping error


@dataclass
class BasinModel:
    """Analytic parameters of the basin: every physical field can be evaluated at any (x, y, t)."""

    x0: float
    y0: float
    length: float
    wells_xy: np.ndarray
    wells_rate: np.ndarray  # m/yr of drawdown growth contributed at the cone's centre scale (q_i)
    basin_centre: tuple = (0.5, 0.45)
    basin_radii: tuple = (0.44, 0.36)
    basin_angle_deg: float = 20.0
    max_thickness_m: float = 120.0
    cone_radius_m: float = 1800.0
    cone_core_m: float = 150.0
    seasonal_amplitude_yr: float = 0.25
    skeletal_storage_per_m: float = 4.0e-4
    max_delay_yr: float = 2.5
    interbed_share: float = 0.25
    interbed_specific_storage_per_m: float = 1.0e-4

    def _uv(self, x, y):
        return (np.asarray(x, float) - self.x0) / self.length, (np.asarray(y, float) - self.y0) / self.length

    def basin_radius(self, x, y) -> np.ndarray:
        """Elliptical radius: 0 at the basin centre, 1 at its rim."""
        u, v = self._uv(x, y)
        a = np.deg2rad(self.basin_angle_deg)
        du, dv = u - self.basin_centre[0], v - self.basin_centre[1]
        p = (du * np.cos(a) + dv * np.sin(a)) / self.basin_radii[0]
        q = (-du * np.sin(a) + dv * np.cos(a)) / self.basin_radii[1]
        return np.sqrt(p * p + q * q)

    def thickness(self, x, y) -> np.ndarray:
        """Compressible (clay) thickness b in metres: thickest in the basin centre, zero beyond its rim."""
        u, v = self._uv(x, y)
        r = self.basin_radius(x, y)
        shape = np.clip(1.0 - r * r, 0.0, None) ** 0.8
        return self.max_thickness_m * shape * (1.0 + 0.15 * np.sin(2 * np.pi * (1.3 * u + 0.7 * v)))

    def drawdown_rate(self, x, y) -> np.ndarray:
        """Long-term groundwater decline rate r(x) in m/yr: the sum of the wells' smoothed cones."""
        x = np.asarray(x, float).ravel()
        y = np.asarray(y, float).ravel()
        out = np.zeros(x.shape)
        for start in range(0, x.size, 65536):
            sl = slice(start, start + 65536)
            d2 = (x[sl, None] - self.wells_xy[None, :, 0]) ** 2 + (y[sl, None] - self.wells_xy[None, :, 1]) ** 2
            cones = np.log1p(self.cone_radius_m ** 2 / (d2 + self.cone_core_m ** 2))
            out[sl] = cones @ self.wells_rate
        return out

    def delay(self, x, y) -> np.ndarray:
        """Compaction delay tau in years, growing with thickness squared."""
        return np.maximum(self.max_delay_yr * (self.thickness(x, y) / self.max_thickness_m) ** 2, 1e-3)

    def interbed_thickness(self, x, y) -> np.ndarray:
        """Equivalent interbed thickness b0 in metres: a quarter of the compressible thickness, at least 1 m."""
        return np.maximum(self.interbed_share * self.thickness(x, y), 1.0)

    def vertical_conductivity(self, x, y) -> np.ndarray:
        """Vertical hydraulic conductivity K'v of the interbeds (m/s) that gives the model's delay with b0 and the
        specific storage S's: tau = (b0 / 2)^2 S's / K'v (seed 004)."""
        seconds = self.delay(x, y) * SECONDS_PER_YEAR
        return (self.interbed_thickness(x, y) / 2.0) ** 2 * self.interbed_specific_storage_per_m / seconds

    def forcing(self, t) -> np.ndarray:
        """f(t): normalised drawdown history (years of decline), zero before pumping began."""
        t = np.asarray(t, float)
        return np.where(t > 0, t + self.seasonal_amplitude_yr * np.sin(2 * np.pi * t), 0.0)

    def delayed_forcing(self, t, tau) -> np.ndarray:
        """F(t; tau): solution of tau F' + F = f(t), F(0) = 0, broadcast over t and tau."""
        t = np.asarray(t, float)
        tau = np.asarray(tau, float)
        decay = np.exp(-np.clip(t, 0, None) / tau)
        w = 2 * np.pi * tau
        trend = t - tau * (1.0 - decay)
        season = (np.sin(2 * np.pi * t) - w * np.cos(2 * np.pi * t) + w * decay) / (1.0 + w * w)
        return np.where(t > 0, trend + self.seasonal_amplitude_yr * season, 0.0)

    def compaction_scale_mm(self, x, y) -> np.ndarray:
        """1000 * Ssk * b * r: compaction rate (mm/yr) that the delayed forcing multiplies."""
        return 1000.0 * self.skeletal_storage_per_m * self.thickness(x, y) * self.drawdown_rate(x, y)

    def displacement(self, x, y, t) -> np.ndarray:
        """Vertical displacement in mm (negative = subsidence) since pumping began, shape (points, times)."""
        scale = self.compaction_scale_mm(x, y).ravel()
        tau = self.delay(x, y).ravel()
        return -scale[:, None] * self.delayed_forcing(np.asarray(t, float)[None, :], tau[:, None])


@dataclass
class SampleArea:
    """Paths and summary of a written sample area."""

    folder: str
    rasters: Dict[str, str]
    vector_path: str
    vector_layers: List[str]
    description_path: str
    summary: Dict[str, float] = field(default_factory=dict)
    model: Optional[BasinModel] = None
    insar_dates: np.ndarray = field(default_factory=lambda: np.array([], dtype="datetime64[D]"))
    pumping_start: np.datetime64 = np.datetime64("2012-01-01")


def _fractal_noise(rng: np.random.Generator, shape, beta: float = 3.2) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian random field with power spectrum ~ k^-beta."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    k = np.sqrt(kx * kx + ky * ky)
    k[0, 0] = 1.0
    spectrum = np.fft.rfft2(rng.standard_normal(shape)) * k ** (-beta / 2.0)
    spectrum[0, 0] = 0.0
    field_ = np.fft.irfft2(spectrum, s=shape)
    return (field_ - field_.mean()) / field_.std()


def _densify(vertices: np.ndarray, spacing: float) -> np.ndarray:
    seg = np.diff(vertices, axis=0)
    n = np.maximum(np.ceil(np.hypot(seg[:, 0], seg[:, 1]) / spacing).astype(int), 1)
    parts = [vertices[i] + np.linspace(0, 1, n[i], endpoint=False)[:, None] * seg[i] for i in range(len(seg))]
    return np.vstack(parts + [vertices[-1:]])


def _rivers(rng: np.random.Generator, model: BasinModel) -> List[np.ndarray]:
    """Main river crossing the basin west to east, and a tributary from the northern hills (metres)."""
    L, x0, y0 = model.length, model.x0, model.y0
    phase = rng.uniform(0, 2 * np.pi, 2)
    u = np.linspace(0.0, 1.0, 41)
    v = 0.46 + 0.07 * np.sin(2 * np.pi * 1.1 * u + phase[0]) + 0.025 * np.sin(2 * np.pi * 3.1 * u + phase[1])
    main = np.column_stack([x0 + u * L, y0 + v * L])
    join = 24
    s = np.linspace(0.0, 1.0, 16)
    tu = u[join] + 0.05 * np.sin(3.0 * s) * (1 - s)
    tv = 1.0 - s * (1.0 - v[join])
    tributary = np.column_stack([x0 + tu * L, y0 + tv * L])
    return [main, tributary]


def _faults(rng: np.random.Generator, model: BasinModel) -> List[np.ndarray]:
    """Two basin-bounding faults (metres), slightly bent."""
    L, x0, y0 = model.length, model.x0, model.y0
    out = []
    for (ua, va), (ub, vb) in (((0.08, 0.64), (0.62, 0.90)), ((0.55, 0.04), (0.96, 0.42))):
        s = np.linspace(0, 1, 6)
        u = ua + s * (ub - ua) + rng.normal(0, 0.008, s.size)
        v = va + s * (vb - va) + rng.normal(0, 0.008, s.size)
        out.append(np.column_stack([x0 + u * L, y0 + v * L]))
    return out


def _wells(rng: np.random.Generator, model_args: dict, n_wells: int) -> tuple:
    """Pumping wells inside the basin (rejection sampling on the basin radius)."""
    probe = BasinModel(wells_xy=np.zeros((0, 2)), wells_rate=np.zeros(0), **model_args)
    L, x0, y0 = probe.length, probe.x0, probe.y0
    candidates = rng.uniform(0.1, 0.9, size=(20 * n_wells, 2))
    r = probe.basin_radius(x0 + candidates[:, 0] * L, y0 + candidates[:, 1] * L)
    chosen = candidates[r < 0.75][:n_wells]
    xy = np.column_stack([x0 + chosen[:, 0] * L, y0 + chosen[:, 1] * L])
    rates = rng.uniform(0.08, 0.22, len(xy))
    return xy, rates


def _insar_dates(start: str, end: str, step_days: int) -> np.ndarray:
    return np.arange(np.datetime64(start), np.datetime64(end), np.timedelta64(step_days, "D"))


def years_since(dates: np.ndarray, origin: np.datetime64) -> np.ndarray:
    """Decimal years (365.25 days) from ``origin`` to each date."""
    return (dates - origin).astype("timedelta64[D]").astype(float) / 365.25


def create_sample_area(folder: str, size: int = 200, cell_size: float = 50.0, seed: int = 42,
                       n_wells: int = 12, n_piezometers: int = 8, ps_noise_mm: float = 2.5,
                       gps_noise_mm: float = 3.0, progress: Optional[ProgressCallback] = None,
                       is_cancelled: Optional[CancelCheck] = None) -> SampleArea:
    """Write the sample study area into ``folder`` and return its paths and a summary.

    ``size`` cells per side of ``cell_size`` metres. Written: ``dem.tif`` (m), ``landuse.tif`` (1 town,
    2 fields, 3 rangeland), ``image.tif`` (green, red, NIR, SWIR reflectance x 10^4, a cloud as nodata),
    ``thickness.tif`` (compressible thickness, m), ``interbed_thickness.tif`` (b0, m) and
    ``vertical_conductivity.tif`` (K'v, m/s; with S's = 1e-4 1/m they give the model's delay),
    ``groundwater_decline.tif`` (head decline over the InSAR
    period, m), ``truth_displacement.tif`` (cumulative over the InSAR period, mm), ``truth_velocity.tif``
    (mm/yr), ``sample_area.gpkg`` (rivers, faults, wells, piezometers with monthly levels ``D_YYYYMMDD``,
    PS points with ``DYYYYMMDD`` displacement series, noisier DS points of which a quarter carry a simulated
    defect, GPS stations and their daily series as a long table)
    and ``sample_area.json`` (settings and units). Files appear only when all are written.
    """
    if size < 32:
        raise ValueError(f"The sample area needs at least 32 x 32 cells (got {size})")
    if cell_size <= 0:
        raise ValueError(f"The cell size must be positive (got {cell_size})")
    steps = Steps(10, progress, is_cancelled)
    rng = np.random.default_rng(seed)
    length = size * cell_size
    x0, y0 = 400000.0, 3600000.0
    crs = crs_wkt_from_epsg(SAMPLE_EPSG)
    grid = RasterGrid.from_origin(x0, y0 + length, cell_size, size, size, crs, NODATA)
    model_args = dict(x0=x0, y0=y0, length=length)
    wells_xy, wells_rate = _wells(rng, model_args, n_wells)
    model = BasinModel(wells_xy=wells_xy, wells_rate=wells_rate, **model_args)

    pumping_start = np.datetime64("2012-01-01", "D")
    insar_dates = _insar_dates("2016-01-06", "2021-01-01", 12)
    gw_dates = np.arange(np.datetime64("2014-01"), np.datetime64("2021-01"), np.timedelta64(1, "M"))
    gw_dates = gw_dates.astype("datetime64[D]") + np.timedelta64(14, "D")
    gps_dates = np.arange(np.datetime64("2016-01-06"), np.datetime64("2021-01-01"), np.timedelta64(1, "D"))
    t_insar = years_since(insar_dates, pumping_start)

    xs, ys = grid.centre_axes()
    gx, gy = np.meshgrid(xs, ys)
    steps.advance("terrain")

    rivers = _rivers(rng, model)
    faults = _faults(rng, model)
    river_points = np.vstack([_densify(r, cell_size / 3.0) for r in rivers])
    river_distance, _ = cKDTree(river_points).query(np.column_stack([gx.ravel(), gy.ravel()]))
    river_distance = river_distance.reshape(grid.shape)
    basin_r = model.basin_radius(gx, gy)
    relief = _fractal_noise(rng, grid.shape)
    hills = np.clip((basin_r - 0.85) / 0.6, 0.0, 1.0)
    hills = hills * hills * (3 - 2 * hills)
    valleys = hills * (1.0 - np.exp(-(river_distance / 600.0) ** 2))  # the rivers cut through the hills
    dem = (1500.0 + 6.0 * basin_r - 40.0 * (gx - x0) / length + 320.0 * valleys + (40.0 * hills + 1.5) * relief
           - 14.0 * np.exp(-(river_distance / 180.0) ** 2))
    steps.advance("land use")

    blob = _fractal_noise(rng, grid.shape, beta=3.0)
    town_centre = np.array([x0 + 0.40 * length, y0 + 0.52 * length])
    town_r = np.hypot(gx - town_centre[0], gy - town_centre[1]) / (0.13 * length)
    landuse = np.full(grid.shape, 2, dtype=np.uint8)
    landuse[basin_r + 0.08 * blob > 0.93] = 3
    landuse[town_r + 0.12 * blob < 1.0] = 1
    steps.advance("image")

    parcel = max(4, int(round(400.0 / cell_size)))
    vigour = rng.uniform(0.35, 1.0, size=(size // parcel + 1, size // parcel + 1))
    vigour = np.kron(vigour, np.ones((parcel, parcel)))[:size, :size]
    reflect = np.zeros((4,) + grid.shape)
    for code, values in _REFLECTANCE.items():
        reflect[:, landuse == code] = np.asarray(values)[:, None]
    bare = np.asarray((0.11, 0.13, 0.20, 0.28))[:, None]
    fields_mask = landuse == 2
    reflect[:, fields_mask] = (vigour[fields_mask] * reflect[:, fields_mask]
                               + (1 - vigour[fields_mask]) * bare)
    water = river_distance < max(0.75 * cell_size, 30.0)
    reflect[:, water] = np.asarray(_WATER)[:, None]
    reflect *= 1.0 + 0.03 * rng.standard_normal(reflect.shape)
    image = np.clip(np.round(reflect * 10000.0), 1, 10000).astype(np.uint16)
    cloud_c = (x0 + 0.85 * length, y0 + 0.85 * length)
    cloud = np.hypot((gx - cloud_c[0]) / (0.07 * length), (gy - cloud_c[1]) / (0.05 * length)) < 1.0
    image[:, cloud] = 0
    steps.advance("aquifer")

    thickness = model.thickness(gx, gy)
    rate = model.drawdown_rate(gx, gy).reshape(grid.shape)
    decline = rate * (model.forcing(t_insar[-1]) - model.forcing(t_insar[0]))
    steps.advance("subsidence")

    cum, vel = _truth_rasters(model, gx.ravel(), gy.ravel(), t_insar, steps)
    cum, vel = cum.reshape(grid.shape), vel.reshape(grid.shape)
    steps.advance("PS points")

    ps = _ps_points(rng, model, grid, landuse, gx, gy, t_insar, insar_dates, ps_noise_mm)
    ds = _ds_points(np.random.default_rng([seed, 2]), model, grid, landuse, gx, gy, t_insar, insar_dates,
                    1.5 * ps_noise_mm)
    steps.advance("wells and piezometers")

    well_columns = {
        "well_id": np.array([f"W{i + 1:02d}" for i in range(len(wells_xy))], dtype=object),
        "decline_rate_m_yr": np.round(wells_rate, 4),
        "depth_m": np.round(rng.uniform(150, 350, len(wells_xy)), 1),
        "start_date": np.full(len(wells_xy), pumping_start),
    }
    well_columns.update(_monthly_levels(rng, model, wells_xy, gw_dates, pumping_start))
    wells = VectorLayer("wells", well_columns, points=wells_xy,
                        description="Pumping wells; decline_rate_m_yr scales each well's drawdown cone; monthly "
                                    "groundwater level in m a.s.l. (D_YYYYMMDD fields)")
    piezometers = _piezometers(rng, model, n_piezometers, gw_dates, pumping_start)
    gps_layers = _gps(rng, model, landuse, grid, gps_dates, pumping_start, gps_noise_mm)
    steps.advance("writing")

    lines_rivers = VectorLayer("rivers", {"name": np.array(["main river", "tributary"], dtype=object),
                                          "order": np.array([2, 1])}, lines=rivers)
    lines_faults = VectorLayer("faults", {"name": np.array(["northern fault", "southern fault"], dtype=object),
                                          "kind": np.array(["normal", "normal"], dtype=object)}, lines=faults)
    tmp = os.path.join(os.path.abspath(folder), f".sample_area.{uuid.uuid4().hex}.tmp")
    os.makedirs(tmp)
    try:
        rasters = {
            "dem": write_raster(os.path.join(tmp, "dem.tif"), dem.astype(np.float32), grid, ["altitude_m"]),
            "landuse": write_raster(os.path.join(tmp, "landuse.tif"), landuse, grid.with_nodata(0), ["landuse"]),
            "image": write_raster(os.path.join(tmp, "image.tif"), image, grid.with_nodata(0), IMAGE_BANDS,
                                  metadata={"scale_factor": "0.0001", "content": "surface reflectance x 10000"}),
            "thickness": write_raster(os.path.join(tmp, "thickness.tif"), thickness.astype(np.float32), grid,
                                      ["compressible_thickness_m"]),
            "interbed_thickness": write_raster(os.path.join(tmp, "interbed_thickness.tif"),
                                               model.interbed_thickness(gx, gy).astype(np.float32), grid,
                                               ["interbed_thickness_m"]),
            "vertical_conductivity": write_raster(os.path.join(tmp, "vertical_conductivity.tif"),
                                                  model.vertical_conductivity(gx, gy).astype(np.float32), grid,
                                                  ["vertical_conductivity_m_s"]),
            "groundwater_decline": write_raster(os.path.join(tmp, "groundwater_decline.tif"),
                                                decline.astype(np.float32), grid, ["groundwater_decline_m"]),
            "truth_displacement": write_raster(os.path.join(tmp, "truth_displacement.tif"), cum, grid,
                                               ["displacement_mm"], metadata={"units": "mm",
                                                                              "sign": "negative = subsidence"}),
            "truth_velocity": write_raster(os.path.join(tmp, "truth_velocity.tif"), vel, grid,
                                           ["velocity_mm_yr"], metadata={"units": "mm/yr",
                                                                         "sign": "negative = subsidence"}),
        }
        steps.check()
        layers = [lines_rivers, lines_faults, wells, piezometers, ps, ds] + gps_layers
        write_geopackage(os.path.join(tmp, "sample_area.gpkg"), layers, crs)
        summary = {
            "size_cells": size, "cell_size_m": cell_size, "seed": seed, "extent_km": length / 1000.0,
            "ps_points": len(ps), "ds_points": len(ds), "ds_defects": int((ds.columns["defect"] != "none").sum()),
            "insar_dates": len(insar_dates),
            "first_date": str(insar_dates[0]), "last_date": str(insar_dates[-1]),
            "max_subsidence_mm": float(-cum.min()), "max_subsidence_rate_mm_yr": float(-vel.min()),
            "wells": len(wells_xy), "piezometers": n_piezometers, "gps_stations": len(gps_layers[0]),
            "town_share": float((landuse == 1).mean()), "fields_share": float((landuse == 2).mean()),
            "rangeland_share": float((landuse == 3).mean()),
        }
        description = {
            "summary": summary,
            "crs": f"EPSG:{SAMPLE_EPSG}",
            "units": {"displacement": "mm, negative = subsidence, vertical, relative to the first InSAR date",
                      "velocity": "mm/yr", "dem": "m", "thickness": "m", "interbed_thickness": "m",
                      "vertical_conductivity": "m/s (with S's 1e-4 1/m)", "groundwater_level": "m a.s.l.",
                      "image": "reflectance x 10000 (scale factor 1e-4)"},
            "land_use_classes": LAND_USE_CLASSES,
            "model": {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in asdict(model).items()},
            "pumping_start": str(pumping_start),
        }
        with open(os.path.join(tmp, "sample_area.json"), "w", encoding="utf-8") as fh:
            json.dump(description, fh, indent=2, default=str)
        steps.check()
        os.makedirs(folder, exist_ok=True)
        for name in sorted(os.listdir(tmp)):
            os.replace(os.path.join(tmp, name), os.path.join(folder, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    steps.advance("done")
    return SampleArea(folder=folder, rasters={k: os.path.join(folder, os.path.basename(v)) for k, v in rasters.items()},
                      vector_path=os.path.join(folder, "sample_area.gpkg"),
                      vector_layers=[layer.name for layer in layers],
                      description_path=os.path.join(folder, "sample_area.json"), summary=summary, model=model,
                      insar_dates=insar_dates, pumping_start=pumping_start)


def _truth_rasters(model: BasinModel, x: np.ndarray, y: np.ndarray, t: np.ndarray, steps: Steps):
    """Cumulative displacement over the InSAR period and its least-squares velocity, in chunks."""
    cum = np.empty(x.size)
    vel = np.empty(x.size)
    tc = t - t.mean()
    for start in range(0, x.size, 32768):
        steps.check()
        sl = slice(start, start + 32768)
        d = model.displacement(x[sl], y[sl], t)
        cum[sl] = d[:, -1] - d[:, 0]
        vel[sl] = (d @ tc) / (tc @ tc)
    return cum, vel


def _ps_points(rng, model: BasinModel, grid: RasterGrid, landuse, gx, gy, t, dates, noise_mm) -> VectorLayer:
    """PS points sampled by land-use density, each with a noisy displacement series and velocity."""
    density = np.zeros(landuse.shape)
    for code, p in _PS_DENSITY.items():
        density[landuse == code] = p
    rows, cols = np.nonzero(rng.random(landuse.shape) < density)
    x = gx[rows, cols] + rng.uniform(-0.5, 0.5, rows.size) * grid.dx
    y = gy[rows, cols] + rng.uniform(-0.5, 0.5, rows.size) * grid.dy
    d = model.displacement(x, y, t)
    series = d - d[:, :1] + rng.normal(0.0, noise_mm, d.shape)
    series[:, 0] = 0.0
    tc = t - t.mean()
    velocity = (series @ tc) / (tc @ tc)
    columns = {
        "ps_id": np.array([f"PS{i:06d}" for i in range(rows.size)], dtype=object),
        "velocity": np.round(velocity, 3),
        "cum_disp": np.round(series[:, -1], 3),
        "coherence": np.round(rng.uniform(0.7, 0.99, rows.size), 3),
        "landuse": landuse[rows, cols].astype(np.int32),
    }
    for j, date in enumerate(dates):
        columns[date_field_name(date, "D")] = np.round(series[:, j], 2)
    return VectorLayer("ps_points", columns, points=np.column_stack([x, y]),
                       description="Persistent scatterers: velocity mm/yr, cum_disp and DYYYYMMDD in mm, "
                                   "vertical, negative = subsidence, relative to the first date")


def _monthly_levels(rng, model: BasinModel, xy: np.ndarray, dates, origin) -> Dict[str, np.ndarray]:
    """Groundwater level (m a.s.l., noise 0.1 m) at points and dates, as ``D_YYYYMMDD`` columns."""
    head0 = 1490.0 - 30.0 * (xy[:, 0] - model.x0) / model.length
    t = years_since(dates, origin)
    levels = head0[:, None] - model.drawdown_rate(xy[:, 0], xy[:, 1])[:, None] * model.forcing(t)[None, :]
    levels += rng.normal(0.0, 0.1, levels.shape)
    return {date_field_name(date, "D_"): np.round(levels[:, j], 3) for j, date in enumerate(dates)}


def _piezometers(rng, model: BasinModel, n: int, dates, origin) -> VectorLayer:
    """Observation wells with monthly groundwater levels (m a.s.l.) in ``D_YYYYMMDD`` fields."""
    L = model.length
    u = rng.uniform(0.2, 0.8, size=(8 * n, 2))
    xy = np.column_stack([model.x0 + u[:, 0] * L, model.y0 + u[:, 1] * L])
    xy = xy[model.basin_radius(xy[:, 0], xy[:, 1]) < 0.85][:n]
    columns = {"piezo_id": np.array([f"P{i + 1:02d}" for i in range(len(xy))], dtype=object),
               "screen_depth_m": np.round(rng.uniform(60, 200, len(xy)), 1)}
    columns.update(_monthly_levels(rng, model, xy, dates, origin))
    return VectorLayer("piezometers", columns, points=xy,
                       description="Piezometers: monthly groundwater level in m a.s.l. (D_YYYYMMDD fields)")


def _ds_points(rng, model: BasinModel, grid: RasterGrid, landuse, gx, gy, t, dates, noise_mm) -> VectorLayer:
    """Distributed scatterers (fields and rangeland), noisier than the PS; a quarter carry a defect the screening
    should find: half a phase-unwrapping error (a jump of 27.7 mm from a random date on), half one to three spikes
    of 12-20 mm (atmosphere). The ``defect`` field says which (none, unwrapping jump, spikes)."""
    density = np.zeros(landuse.shape)
    for code, p in _DS_DENSITY.items():
        density[landuse == code] = p
    rows, cols = np.nonzero(rng.random(landuse.shape) < density)
    n, m = rows.size, len(dates)
    x = gx[rows, cols] + rng.uniform(-0.5, 0.5, n) * grid.dx
    y = gy[rows, cols] + rng.uniform(-0.5, 0.5, n) * grid.dy
    d = model.displacement(x, y, t)
    series = d - d[:, :1] + rng.normal(0.0, noise_mm, d.shape)
    defect = np.full(n, "none", dtype=object)
    kind = rng.random(n)
    jumps = np.flatnonzero(kind < 0.125)
    start = rng.integers(m // 5, m - m // 5, jumps.size)
    sign = rng.choice([-1.0, 1.0], jumps.size)
    series[jumps] += sign[:, None] * UNWRAPPING_JUMP_MM * (np.arange(m)[None, :] >= start[:, None])
    defect[jumps] = "unwrapping jump"
    spiky = np.flatnonzero((kind >= 0.125) & (kind < 0.25))
    spikes = rng.integers(1, 4, spiky.size)
    for count in (1, 2, 3):
        chosen = spiky[spikes >= count]
        series[chosen, rng.integers(1, m, chosen.size)] += rng.choice([-1.0, 1.0], chosen.size) * rng.uniform(
            12.0, 20.0, chosen.size)
    defect[spiky] = "spikes"
    series[:, 0] = 0.0
    tc = t - t.mean()
    columns = {
        "ds_id": np.array([f"DS{i:06d}" for i in range(n)], dtype=object),
        "velocity": np.round((series @ tc) / (tc @ tc), 3),
        "coherence": np.round(rng.uniform(0.3, 0.75, n), 3),
        "landuse": landuse[rows, cols].astype(np.int32),
        "defect": defect,
    }
    for j, date in enumerate(dates):
        columns[date_field_name(date, "D")] = np.round(series[:, j], 2)
    return VectorLayer("ds_points", columns, points=np.column_stack([x, y]),
                       description="Distributed scatterers: velocity mm/yr and DYYYYMMDD in mm, vertical, negative = "
                                   "subsidence, relative to the first date; defect: the simulated error (none, "
                                   "unwrapping jump, spikes)")


def _gps(rng, model: BasinModel, landuse, grid: RasterGrid, dates, origin, noise_mm) -> List[VectorLayer]:
    """GPS stations (one stable, on rangeland) and their daily vertical series as a long table."""
    L = model.length
    sites = np.array([[0.40, 0.52], [0.52, 0.44], [0.30, 0.38], [0.62, 0.58], [0.08, 0.08]])
    xy = np.column_stack([model.x0 + sites[:, 0] * L, model.y0 + sites[:, 1] * L])
    names = np.array([f"GPS{i + 1}" for i in range(len(xy))], dtype=object)
    t = years_since(dates, origin)
    d = model.displacement(xy[:, 0], xy[:, 1], t)
    up = d - d[:, :1] + rng.normal(0.0, noise_mm, d.shape)
    rows, cols, _ = grid.cell_of(xy[:, 0], xy[:, 1])
    stations = VectorLayer("gps_stations", {"station": names, "landuse": landuse[rows, cols].astype(np.int32)},
                           points=xy, description="GPS stations; daily series in table gps_daily")
    n_days = len(dates)
    table = VectorLayer("gps_daily", {
        "station": np.repeat(names, n_days),
        "date": np.tile(dates, len(xy)),
        "up_mm": np.round(up.ravel(), 2),
    }, description="Daily vertical GPS displacement, mm, negative = subsidence, relative to the first day")
    return [stations, table]
