"""The core's pure-numpy modules on numpy 2.x (users' QGIS builds ship it; Debian 12 has 1.24).

    bash .ci/numpy2_check.sh      (makes a throw-away venv with numpy 2.x and scipy, then runs this)

Imports the shared statistics, optimiser, sampler and variogram modules and the series baselines and velocities
(no GDAL or torch in that venv) and checks values against oracles: AUC against the Mann-Whitney count, GWO against
the known minimum, Jenks breaks between two separated groups, the VIF of independent columns near 1, linear time
interpolation, persistence's RMSE on a line, least-squares velocities against np.polyfit, the lag of a shifted
season, monthly totals of daily amounts.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from subsidence_plugin.core.groundwater import compare  # noqa: E402
from subsidence_plugin.core.ml import optimisers, samplers  # noqa: E402
from subsidence_plugin.core.spatial import variogram  # noqa: E402
from subsidence_plugin.core.stats import classes, correlation, metrics, resampling, roc, splits  # noqa: E402
from subsidence_plugin.core.timeseries import baselines, insar_points  # noqa: E402


def main() -> None:
    assert int(np.__version__.split(".")[0]) >= 2, f"numpy {np.__version__}: run this with numpy 2.x"
    rng = np.random.default_rng(1)
    label = rng.random(500) < 0.3
    score = np.round(rng.random(500) + 0.4 * label, 1)
    pos, neg = score[label], score[~label]
    mann_whitney = ((pos[:, None] > neg).sum() + 0.5 * (pos[:, None] == neg).sum()) / (len(pos) * len(neg))
    assert abs(roc.roc_auc(label, score) - mann_whitney) < 1e-12
    breaks = classes.natural_breaks(np.r_[rng.normal(0, 1, 200), rng.normal(10, 1, 200)], 2)
    assert 2 < breaks[0] < 8
    assert np.all(np.abs(correlation.variance_inflation(rng.normal(size=(3, 4000))) - 1) < 0.01)
    result = optimisers.optimise("gwo", optimisers.Problem(lambda p: ((p - 0.3) ** 2).sum(axis=1), [(-1, 1)] * 3),
                                 10, 30, 0)
    assert np.allclose(result.best, 0.3, atol=0.01)
    assert [len(s) for s in splits.random_split(100)] == [80, 10, 10]
    assert metrics.error_statistics(np.arange(5.0), np.arange(5.0) + 1)["rmse"] == 1.0
    sampler = samplers.PatchSampler(rng.normal(size=(2, 20, 20)).astype(np.float32), 5)
    assert samplers.fit_normalisation(sampler, np.arange(5, 15), np.arange(5, 15)).method == "zscore"
    x, y = rng.uniform(0, 1000, (2, 300))
    fitted = variogram.fit_models(x, y, np.sin(x / 200.0), ["spherical"], 10, 0.0, seed=0)[3]["spherical"]
    assert fitted.range > 0
    months = np.arange(np.datetime64("2020-01"), np.datetime64("2020-05"))
    dates = months.astype("datetime64[D]")
    heads = np.array([[0.0, 31.0, np.nan, 91.0]])
    assert np.allclose(resampling.interpolate_in_time(dates, heads, dates[2:3]), [[60.0]])  # linear in days
    line = -2.0 * np.arange(40.0)[None, :]
    errors = baselines.rolling_origin_errors(line, [20], [1, 12], baselines.BASELINES)
    assert np.allclose(errors.rmse["persistence"], 2.0 * np.sqrt([1.0, 13 * 25 / 6]))
    assert np.allclose(errors.rmse["linear trend"], 0.0, atol=1e-9)
    series = rng.normal(0, 1, (20, 30)) + np.arange(30.0) * 12 / 365.25 * -5.0
    days = np.datetime64("2020-01-01") + 12 * np.arange(30)
    years = (days - days[0]).astype(float) / 365.25
    assert np.allclose(insar_points.linear_velocity(days, series), [np.polyfit(years, row, 1)[0] for row in series])
    months = np.arange("2010-01", "2016-01", dtype="datetime64[M]")
    rain = np.cos(2 * np.pi * np.arange(months.size) / 12.0) + rng.normal(0, 0.1, months.size)
    storage = np.cos(2 * np.pi * (np.arange(months.size) - 2) / 12.0)
    assert compare.cross_correlation(months, rain, months, storage, 6, following=True).best_lag == 2
    days = np.arange("2020-01-01", "2020-03-01", dtype="datetime64[D]")
    assert np.allclose(compare.monthly_totals(days, np.ones(days.size))[1], [31.0, 29.0])
    print(f"numpy {np.__version__}: core statistics, optimisers, samplers, variograms, time interpolation, "
          "series baselines and velocities, cross-correlation and monthly totals agree with their oracles")


if __name__ == "__main__":
    main()
