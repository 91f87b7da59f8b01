"""Main-job part for the point time series (seeds 001 and 004) on the sample study area.

The PS points' series go through `subsidence:importinsarseries` (mm) and `subsidence:groundwaterseries` (the
piezometers' heads at the points, and the heads lagged by the delay tau = (b0 / 2)^2 S's / K'v from the area's
interbed-thickness and K'v rasters, which give the delay the basin model uses). Seed 001's LSTM and seed 004's
physics-constrained RNN are trained by `subsidence:trainseriesmodel` on the first 80 % of the dates with few epochs
(the demo's CPU budget, said in the report; the README gives the default runs) and forecast the last 20 %: scored
against the baselines on the observed series (the algorithm's table) and against the basin model's noise-free true
displacement at the points, which only a synthetic area knows.
"""
from __future__ import annotations

import os

import numpy as np

SERIES_MODELS = {"LSTM": 0, "Physics RNN": 2}  # trainseriesmodel's MODEL


def run_series(result, folder, feedback, epochs: int) -> dict:
    """Import, heads at the points, the two models; returns the outputs."""
    import processing

    os.makedirs(folder, exist_ok=True)
    out = {}
    print("[main job] subsidence:importinsarseries", flush=True)
    out["import"] = processing.run("subsidence:importinsarseries", {
        "INPUT": [result["PS_POINTS"]], "UNITS": 1, "OUTPUT": os.path.join(folder, "ps_series.gpkg")},
        feedback=feedback)
    print("[main job] subsidence:groundwaterseries", flush=True)
    out["heads"] = processing.run("subsidence:groundwaterseries", {
        "INPUT": out["import"]["OUTPUT"], "GROUNDWATER": result["PIEZOMETERS"],
        "INTERBED_THICKNESS": [result["INTERBED_THICKNESS"]], "VERTICAL_CONDUCTIVITY": result["VERTICAL_CONDUCTIVITY"],
        "OUTPUT": os.path.join(folder, "ps_heads.gpkg")}, feedback=feedback)
    factors = [result[key] for key in ("THICKNESS", "INTERBED_THICKNESS", "VERTICAL_CONDUCTIVITY")]
    for name, model in SERIES_MODELS.items():
        print(f"[main job] subsidence:trainseriesmodel ({name}, {epochs} epochs)", flush=True)
        stem = name.lower().replace(" ", "_")
        out[name] = processing.run("subsidence:trainseriesmodel", {
            "INPUT": out["import"]["OUTPUT"], "GROUNDWATER": result["PIEZOMETERS"], "FACTORS": factors,
            "MODEL": model, "EPOCHS": epochs, "OUTPUT": os.path.join(folder, f"{stem}_held_out.gpkg"),
            "OUTPUT_MODEL": os.path.join(folder, f"{stem}.pt"), "REPORT": os.path.join(folder, f"{stem}.html")},
            feedback=feedback)
    return out


def true_series(result, x, y, dates):
    """The basin model's noise-free displacement (mm) at the points and dates, relative to the first InSAR date
    (the PS series' reference)."""
    from main_job_susceptibility import sample_description

    from subsidence_plugin.core.sample_area import BasinModel, years_since

    description = sample_description(result)
    model = BasinModel(**{k: np.asarray(v) if k in ("wells_xy", "wells_rate") else v
                          for k, v in description["model"].items()})
    start = np.datetime64(description["pumping_start"])
    first = np.datetime64(description["summary"]["first_date"])
    times = years_since(np.concatenate([[first], np.asarray(dates, "datetime64[D]")]), start)
    displacement = model.displacement(x, y, times)
    return displacement[:, 1:] - displacement[:, :1]


def _trend_forecast(dates, series, held):
    """Per point, the least-squares line of the training dates evaluated at the held-out dates (mm)."""
    years = (dates - dates[0]).astype(float) / 365.25
    design = np.column_stack([np.ones(dates.size - held), years[:-held]])
    known = np.isfinite(series[:, :-held]).all(axis=1)
    out = np.full((series.shape[0], held), np.nan)
    coefficients, *_ = np.linalg.lstsq(design, series[known, :-held].T, rcond=None)
    out[known] = (np.column_stack([np.ones(held), years[-held:]]) @ coefficients).T
    return out


def truth_scores(result, out) -> list:
    """[(method, RMSE against the truth (mm), RMSE against the observed series (mm))] over the held-out dates,
    each point's RMSE averaged over the points; the observed series' own error against the truth first."""
    from subsidence_plugin.core.io.points import read_points

    rows = []
    table = read_points(out["LSTM"]["OUTPUT"])
    held_dates = np.array([np.datetime64(f"{n[1:5]}-{n[5:7]}-{n[7:9]}") for n in table.attributes
                           if n.startswith("P") and n[1:].isdigit()])
    held = held_dates.size
    truth = true_series(result, table.x, table.y, table.dates[-held:])
    observed = table.series[:, -held:]

    def score(forecast):
        with np.errstate(invalid="ignore"):
            return (float(np.nanmean(np.sqrt(np.nanmean((forecast - truth) ** 2, axis=1)))),
                    float(np.nanmean(np.sqrt(np.nanmean((forecast - observed) ** 2, axis=1)))))

    rows.append(("observed PS series (noise)", score(observed)[0], 0.0))
    rows.append(("persistence (last training date)", *score(np.repeat(table.series[:, -held - 1:-held], held,
                                                                       axis=1))))
    rows.append(("linear trend of the training dates", *score(_trend_forecast(table.dates, table.series, held))))
    for name in SERIES_MODELS:
        model_table = read_points(out[name]["OUTPUT"])
        forecast = np.column_stack([model_table.numeric("P" + str(d).replace("-", "")) for d in held_dates])
        rows.append((f"{name}, observed heads", *score(forecast)))
    return rows


def series_section(report, out, result, epochs: int) -> list:
    """The report's section: the horizon table of each model file, the truth scores, links to the reports."""
    from subsidence_plugin.core.timeseries.series_models import load_series_model

    report.heading("Point time series (seeds 001 and 004)")
    report.paragraph(
        "The PS points' series imported (<i>importinsarseries</i>), the piezometers' heads at the points and the "
        "heads lagged by the interbeds' delay (<i>groundwaterseries</i>, tau from the interbed-thickness and K′v "
        "rasters, the basin model's own delay), then seed 001's LSTM and seed 004's physics-constrained RNN "
        f"(<i>trainseriesmodel</i>) trained on the first 80 % of the dates with only {epochs} epochs (the demo's "
        "CPU budget; the seeds' defaults train for up to 300 and 2,000 epochs with early stopping) and forecast "
        "month by month over the last 20 % with the observed heads.", raw_html=True)
    for name in SERIES_MODELS:
        description = load_series_model(out[name]["OUTPUT_MODEL"])[1]
        horizons = description["horizons_months"]
        rows = [[method] + ["n/a" if value is None or np.isnan(value) else f"{value:.2f}" for value in values]
                for method, values in description["metrics"].items()]
        report.paragraph(f"<b>{name}</b>: RMSE (mm) by horizon from the last training month, on the observed "
                         f"series (<a href=\"series/{os.path.basename(out[name]['REPORT'])}\">its report</a>).",
                         raw_html=True)
        report.table(rows, ["method"] + [f"{h} month{'s' if h > 1 else ''} (mm)" for h in horizons])
    scores = truth_scores(result, out)
    report.paragraph("Against the basin model's true displacement at the points (noise-free; the PS series carry "
                     "2.5 mm of noise): each point's RMSE over the held-out dates, averaged over the points.")
    report.table([[name, f"{truth:.2f}", f"{observed:.2f}"] for name, truth, observed in scores],
                 ["method", "RMSE against the truth (mm)", "RMSE against the observed series (mm)"])
    return scores
