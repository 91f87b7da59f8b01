"""A synthetic GRACE / GLDAS / rain-gauge sample around a study area, in the real products' file layouts, to try the
groundwater-storage tools offline (real files are the user's download). Every file says it is synthetic.

The truth on a 0.25° grid over a 4° x 4° box around the area, per month (mm of water): groundwater storage that
declines by ``decline_mm_per_year`` at the area (half as fast 2° away, as a pumped basin would) with a seasonal
recharge peaking two months after the rain; soil moisture, canopy water, snow and the month's surface runoff with
their own seasons. GRACE: JPL mascons v03 (0.5°, with gain factors), CSR mascons (0.25°, no time bounds, the
2016-07 solution centred in late June as CSR's odd months are) and GFZ Tellus land grids (1°, 2016-03 missing),
each with its own noise and the 2017-07 … 2018-05 GRACE / GRACE-FO gap; GLDAS Noah, CLSM and VIC monthly files
(1°) with model differences and the gauges' mean precipitation as their rate; monthly totals at three rain
gauges.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, List

import numpy as np

from .sample_files import write_csr_mascons, write_gldas, write_jpl_mascons, write_tellus_land

SAMPLE_MONTHS = np.arange("2015-01", "2022-01", dtype="datetime64[M]")
GRACE_GAP = (np.datetime64("2017-07"), np.datetime64("2018-05"))
RAIN_PEAK_MONTH = 7.0  # mid-August (0 = mid-January): a summer monsoon
RECHARGE_LAG_MONTHS = 2.0  # groundwater storage peaks this long after the rain
BOX_DEGREES = 4
FINE = 0.25


@dataclass
class GroundwaterSample:
    """Paths of the written sample and the truth at the area's cell (months, mm of water)."""

    tws_files: List[str]
    lsm_files: List[str]
    precipitation_table: str
    truth: Dict[str, np.ndarray]


def _season(months: np.ndarray, peak: float) -> np.ndarray:
    """cos of the month of the year (mid-month) against a peak month (0 = mid-January)."""
    return np.cos(2 * np.pi * ((months.astype(np.int64) % 12) - peak) / 12.0)


def _blocks(fine: np.ndarray, factor: int) -> np.ndarray:
    """Means of factor x factor blocks of the last two axes."""
    months, rows, cols = fine.shape
    return fine.reshape(months, rows // factor, factor, cols // factor, factor).mean(axis=(2, 4))


def _centres(start: float, count: int, step: float) -> np.ndarray:
    return start + step * (np.arange(count) + 0.5)


def write_groundwater_sample(folder: str, lon: float, lat: float, seed: int = 42,
                             decline_mm_per_year: float = -12.0) -> GroundwaterSample:
    """Write the sample for an area centred at ``lon``, ``lat`` (degrees) into ``folder`` (grace/, gldas/,
    precipitation_synthetic.csv: monthly totals, mm) and return the paths and the truth at the area's 0.25° cell."""
    rng = np.random.default_rng(seed)
    west, south = float(np.floor(lon)) - BOX_DEGREES / 2, float(np.floor(lat)) - BOX_DEGREES / 2
    n = int(BOX_DEGREES / FINE)
    lat_fine, lon_fine = _centres(south, n, FINE), _centres(west, n, FINE)
    months = SAMPLE_MONTHS
    years = (months - months[0]).astype(np.float64)[:, None, None] / 12.0
    distance = np.hypot(lat_fine[:, None] - lat, (lon_fine[None, :] - lon) * np.cos(np.radians(lat)))
    basin = 0.5 + 0.5 * np.exp(-(distance / 2.0) ** 2)
    rain_season = _season(months, RAIN_PEAK_MONTH)[:, None, None]
    truth_fine = {
        "gws": decline_mm_per_year * basin * (years - years.mean())
        + 12.0 * _season(months, RAIN_PEAK_MONTH + RECHARGE_LAG_MONTHS)[:, None, None] * basin
        + rng.normal(0.0, 2.0, (months.size, 1, 1)),
        "sm": 25.0 * _season(months, RAIN_PEAK_MONTH + 1.0)[:, None, None] * (0.8 + 0.4 * basin),
        "cws": 0.15 * rain_season + 0.2,
        "swe": 4.0 * np.clip(_season(months, 0.0), 0.0, None)[:, None, None] ** 2 * np.ones((1, n, n)),
        "qs": (1.5 + 2.0 * np.clip(rain_season, 0.0, None)) * np.ones((1, n, n)),
    }
    truth_fine = {k: np.broadcast_to(v, (months.size, n, n)).astype(np.float64) for k, v in truth_fine.items()}
    tws = sum(truth_fine.values())
    grace = os.path.join(folder, "grace")
    gldas = os.path.join(folder, "gldas")
    os.makedirs(grace, exist_ok=True)
    os.makedirs(gldas, exist_ok=True)
    observed = months[(months < GRACE_GAP[0]) | (months > GRACE_GAP[1])]
    index = (observed - months[0]).astype(np.int64)

    jpl = _blocks(tws[index] + rng.normal(0.0, 6.0, (index.size, n, n)), 2)
    gain = _blocks((1.0 + 0.25 * basin)[None], 2)[0]
    tws_files = write_jpl_mascons(grace, observed, _centres(south, n // 2, 0.5), _centres(west, n // 2, 0.5) % 360,
                                  jpl / gain / 10.0, version=3, scale=gain, land_mask=np.ones_like(gain))

    csr = tws[index] + rng.normal(0.0, 6.0, (index.size, n, n))
    mid = ((observed.astype("datetime64[D]") - np.datetime64("2002-01-01")).astype(np.float64)
           + (((observed + 1).astype("datetime64[D]") - observed.astype("datetime64[D]")).astype(np.float64) / 2))
    moved = observed == np.datetime64("2016-07")
    mid[moved] = (np.datetime64("2016-06-29") - np.datetime64("2002-01-01")).astype(np.float64)
    tws_files += write_csr_mascons(grace, observed, lat_fine, lon_fine % 360, csr / 10.0, time_bounds=False,
                                   time_days=mid)

    gfz_months = observed[observed != np.datetime64("2016-03")]
    gfz_index = (gfz_months - months[0]).astype(np.int64)
    gfz = _blocks(tws[gfz_index] + rng.normal(0.0, 8.0, (gfz_index.size, n, n)), 4)
    tws_files += write_tellus_land(grace, "GFZ", gfz_months, _centres(south, n // 4, 1.0),
                                   _centres(west, n // 4, 1.0) % 360, gfz / 10.0)

    rain = np.clip(30.0 + 25.0 * _season(months, RAIN_PEAK_MONTH)[:, None] + rng.normal(0.0, 8.0, (months.size, 3)),
                   0.0, None)
    lat_1, lon_1 = _centres(south, n // 4, 1.0), _centres(west, n // 4, 1.0)
    days = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.float64)
    rain_rate = np.broadcast_to((rain.mean(axis=1) / (days * 86400.0))[:, None, None], (months.size, n // 4, n // 4))
    lsm_files: List[str] = []
    for model, scale in (("NOAH", 1.0), ("CLSM", 1.1), ("VIC", 0.9)):
        noise = rng.normal(0.0, 1.5, (months.size, n, n))
        sm = _blocks(scale * truth_fine["sm"] + noise, 4) + 250.0
        cws = _blocks(truth_fine["cws"], 4)
        swe = _blocks(scale * truth_fine["swe"], 4)
        runoff_per_step = _blocks(scale * truth_fine["qs"], 4) / (8.0 * days[:, None, None])
        if model == "NOAH":
            layers = {"SoilMoi0_10cm_inst": 0.05 * sm, "SoilMoi10_40cm_inst": 0.15 * sm,
                      "SoilMoi40_100cm_inst": 0.3 * sm, "SoilMoi100_200cm_inst": 0.5 * sm}
        elif model == "VIC":
            layers = {"SoilMoi0_30cm_inst": 0.2 * sm, "SoilMoi_depth2_inst": 0.5 * sm,
                      "SoilMoi_depth3_inst": 0.3 * sm}
        else:
            layers = {"SoilMoist_P_inst": sm}
        fields = {**layers, "CanopInt_inst": cws, "SWE_inst": swe, "Qs_acc": runoff_per_step,
                  "Rainf_f_tavg": rain_rate}
        lsm_files += write_gldas(gldas, model, months, lat_1, lon_1, fields, monthly=True)

    precipitation = os.path.join(folder, "precipitation_synthetic.csv")
    with open(precipitation, "w", encoding="utf-8") as stream:
        stream.write("station,date,precipitation\n")
        stream.writelines(f"G{g + 1},{m},{rain[i, g]:.1f}\n" for i, m in enumerate(months) for g in range(3))
    row, col = int((lat - south) // FINE), int((lon - west) // FINE)
    truth = {"months": months, **{k: v[:, row, col] for k, v in truth_fine.items()},
             "precipitation": rain.mean(axis=1)}
    return GroundwaterSample(tws_files, lsm_files, precipitation, truth)
