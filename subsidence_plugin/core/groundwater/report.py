"""HTML report of a groundwater-storage run (seed 002 §III-C, Fig. 8c): the products, the area and what its size
allows, ΔTWS per centre, the land-surface terms, ΔGWS with its spread and trend; months without a GRACE solution
are drawn as gaps, never joined."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..reports.html import HtmlReport, new_figure
from .grids import TERM_NAMES
from .storage import GRACE_RESOLUTION_KM, StorageSeries, StorageStack, Trend

TERM_COLOURS = {"sm": "#8c510a", "cws": "#35978f", "swe": "#4393c3", "qs": "#762a83"}


def on_full_axis(months: np.ndarray, values: np.ndarray):
    """Dates (first of each month) and values on every month from the first to the last, NaN where a month is
    absent, so a plotted line breaks over gaps."""
    months = np.asarray(months, dtype="datetime64[M]")
    axis = np.arange(months[0], months[-1] + 1, dtype="datetime64[M]")
    full = np.full(axis.size, np.nan)
    full[(months - axis[0]).astype(np.int64)] = values
    return axis.astype("datetime64[D]").astype(object), full


def _gaps(months: np.ndarray):
    """(first missing month, last missing month) of every run of absent months between the first and the last."""
    months = np.asarray(months, dtype="datetime64[M]")
    step = np.diff(months.astype(np.int64))
    return [(months[i] + 1, months[i + 1] - 1) for i in np.flatnonzero(step > 1)]


def _shade_gaps(ax, months) -> None:
    for first, last in _gaps(months):
        ax.axvspan(first.astype("datetime64[D]").astype(object), (last + 1).astype("datetime64[D]").astype(object),
                   color="#eeeeee", zorder=0)


def _tws_figure(result: StorageSeries):
    fig, ax = new_figure(7.0, 3.4)
    _shade_gaps(ax, result.months)
    for product in (p for p in result.products if p.term == "tws"):
        ax.plot(*on_full_axis(product.months, product.anomaly_mm), lw=0.9, label=product.source)
    ax.plot(*on_full_axis(result.months, result.tws_mm), color="black", lw=1.6, label="mean of the centres")
    ax.set_ylabel("ΔTWS (mm of water)")
    ax.legend(fontsize=8, ncol=4)
    return fig


def _terms_figure(result: StorageSeries):
    fig, ax = new_figure(7.0, 3.4)
    _shade_gaps(ax, result.months)
    for term, colour in TERM_COLOURS.items():
        if term not in result.missing_terms:
            ax.plot(*on_full_axis(result.months, getattr(result, f"{term}_mm")), color=colour, lw=1.1,
                    label=f"Δ{term.upper()} ({TERM_NAMES[term]})")
    ax.set_ylabel("anomaly (mm of water)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2)
    return fig


def _gws_figure(result: StorageSeries, trend: Trend):
    fig, ax = new_figure(7.0, 3.6)
    _shade_gaps(ax, result.months)
    dates, gws = on_full_axis(result.months, result.gws_mm)
    spread = on_full_axis(result.months, result.gws_spread_mm)[1]
    ax.fill_between(dates, gws - spread, gws + spread, color="#fdae61", alpha=0.4, lw=0, label="± spread")
    ax.plot(dates, gws, color="#d7191c", lw=1.5, label="ΔGWS")
    ax.plot(dates, on_full_axis(result.months, trend.fitted_mm)[1], color="#2c7bb6", lw=1.0, ls="--",
            label=f"trend + season: {trend.slope_mm_per_year:+.1f} mm/yr")
    ax.axhline(0.0, color="#888888", lw=0.6)
    ax.set_ylabel("ΔGWS (mm of water)")
    ax.legend(fontsize=8)
    return fig


def _stack_figure(stack: StorageStack):
    fig, ax = new_figure(5.0, 4.0)
    values = stack.gws_mm.reshape(stack.months.size, -1)
    ok = np.isfinite(values)
    count = ok.sum(axis=0)
    years = np.where(ok, stack.months.astype(np.float64)[:, None] / 12.0, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.where(ok, years - years.sum(axis=0) / count, 0.0)
        y = np.where(ok, values - np.where(ok, values, 0.0).sum(axis=0) / count, 0.0)
        slope = np.where(count > 2, (x * y).sum(axis=0) / (x * x).sum(axis=0), np.nan)
    slope = slope.reshape(stack.gws_mm.shape[1:])
    west, dx, _, north, _, dy = stack.grid.geotransform
    extent = (west, west + dx * stack.grid.width, north + dy * stack.grid.height, north)
    limit = float(np.nanmax(np.abs(slope))) if np.isfinite(slope).any() else 1.0
    image = ax.imshow(slope, extent=extent, cmap="RdBu", vmin=-limit, vmax=limit, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="ΔGWS trend (mm/yr)")
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    return fig


def write_storage_report(path: str, result: StorageSeries, trend: Trend,
                         stack: Optional[StorageStack] = None) -> str:
    """The report: products, area, baseline, the three figures, the trend table and (with ``stack``) a map of the
    per-cell ΔGWS trend."""
    report = HtmlReport("Groundwater storage from GRACE and GLDAS", "Land subsidence plugin")
    area = result.area_km2
    report.paragraph(
        f"ΔGWS = ΔTWS − (ΔSM + ΔCWS + ΔSWE + ΔQS) (seed 002 eq. 1, with snow), area means of mm of water over an area "
        f"of {area:,.0f} km², anomalies against {result.baseline_start} … {result.baseline_end}; ΔTWS the mean of "
        "the GRACE centres, each land-surface term the mean of the models. Grey bands: months without a GRACE "
        "solution (never filled).")
    if result.below_grace_resolution:
        report.paragraph(
            f"The area ({area:,.0f} km²) is smaller than one GRACE footprint (about {GRACE_RESOLUTION_KM:.0f} km, "
            f"{GRACE_RESOLUTION_KM ** 2:,.0f} km²): the series is the regional signal of the cells that overlap "
            "it, not the area's own. Do not read a city-scale signal into it.")
    if result.missing_terms:
        report.paragraph("No model gives " + ", ".join(f"Δ{t.upper()} ({TERM_NAMES[t]})" for t in
                                                          result.missing_terms) + ": counted as 0.")
    report.table([(p.source, p.product, TERM_NAMES[p.term], f"{p.months[0]} … {p.months[-1]}", p.months.size,
                   p.cells, f"{p.resolution_deg[0]:g}° × {p.resolution_deg[1]:g}°") for p in result.products],
                 header=("source", "product", "term", "months", "count", "cells used", "grid"))
    report.heading("Total water storage")
    report.figure(_tws_figure(result), "ΔTWS per centre and their mean", width=700)
    report.heading("Land-surface terms")
    report.figure(_terms_figure(result), "Mean of the models per term (ΔQS: the month's total surface runoff)",
                  width=700)
    report.heading("Groundwater storage")
    report.figure(_gws_figure(result, trend), "ΔGWS, its spread over centres and models, and the fitted trend "
                                               "with annual and semi-annual terms", width=700)
    report.table([("trend (mm/yr)", trend.slope_mm_per_year),
                  (f"{100 * trend.confidence:.0f} % interval (mm/yr)",
                   f"{trend.ci_low_mm_per_year:+.2f} … {trend.ci_high_mm_per_year:+.2f}"),
                  ("months", trend.n), ("effective months (lag-1 autocorrelation of the residuals)", trend.n_eff),
                  ("annual amplitude (mm)", trend.annual_amplitude_mm),
                  ("annual peak (month of the year, 0 = 1 January)", trend.annual_peak_month),
                  ("semi-annual amplitude (mm)", trend.semiannual_amplitude_mm),
                  ("mean spread (mm)", float(np.mean(result.gws_spread_mm)))], header=("ΔGWS", "value"))
    if stack is not None and stack.months.size > 1:
        report.heading("Raster stack")
        report.figure(_stack_figure(stack), f"Least-squares ΔGWS trend per cell of the stack ({stack.months.size} "
                                            "monthly bands, the area's cells)", width=460)
    return report.write(path)


def _scaled(values: np.ndarray) -> np.ndarray:
    """Values as standard scores over the present months (for drawing series of other units together)."""
    ok = np.isfinite(values)
    if not ok.any():
        return values
    centred = values - values[ok].mean()
    spread = values[ok].std()
    return centred / spread if spread > 0 else centred


def write_comparison_report(path: str, series: dict, results: list, treatment: str) -> str:
    """The report of a comparison: ``series`` name -> (months, values as correlated, unit), ``results`` a list of
    (first name, second name, `CrossCorrelation`), ``treatment`` how the series were prepared (text); every series
    drawn as standard scores (gaps as gaps) and each pair's r by lag with its significance threshold."""
    report = HtmlReport("Monthly series compared: cross-correlation and lag", "Land subsidence plugin")
    report.paragraph(f"Pearson r between the first series at month m and the second at month m + k, on the months "
                     f"both have (never interpolated); a positive lag k means the second follows the first. "
                     f"Series used {treatment}. Significance from the effective number of pairs of two "
                     "autocorrelated series, n_eff = n (1 − r1a r1b) / (1 + r1a r1b) (Bretherton et al. 1999), "
                     "two-sided t test; the best lag's p-value is not corrected for the search over lags.")
    fig, ax = new_figure(7.0, 3.4)
    for name, (months, values, unit) in series.items():
        ax.plot(*on_full_axis(months, _scaled(np.asarray(values, dtype=np.float64))), lw=1.2,
                label=f"{name} ({unit})")
    ax.set_ylabel("standard score")
    ax.legend(fontsize=8)
    report.figure(fig, f"The series as correlated ({treatment}), as standard scores (each minus its mean, over "
                       "its standard deviation)", width=700)
    report.table([(f"{first} → {second}", c.best_lag, c.best_r, int(c.n[c.lags == c.best_lag][0]),
                   float(c.n_eff[c.lags == c.best_lag][0]), c.best_p_value,
                   "yes" if c.best_p_value < 1 - c.confidence else "no") for first, second, c in results],
                 header=("pair (first → second)", "best lag (months)", "r", "pairs", "effective pairs", "p-value",
                         f"significant at {100 * results[0][2].confidence:.0f} %"))
    for first, second, c in results:
        fig, ax = new_figure(5.2, 3.2)
        ax.bar(c.lags, c.r, color=np.where(np.abs(c.r) > c.threshold, "#2166ac", "#9ecae1"), width=0.8)
        ax.plot(c.lags, c.threshold, color="#b2182b", lw=1.0, ls="--",
                label=f"±{100 * c.confidence:.0f} % significance")
        ax.plot(c.lags, -c.threshold, color="#b2182b", lw=1.0, ls="--")
        ax.axvline(c.best_lag, color="#444444", lw=0.8)
        ax.set_xlabel(f"lag (months; > 0: {second} follows {first})")
        ax.set_ylabel("Pearson r")
        ax.legend(fontsize=8)
        report.figure(fig, f"{first} → {second}: best lag {c.best_lag} months, r {c.best_r:.2f}, "
                           f"p {c.best_p_value:.2g}")
    return report.write(path)
