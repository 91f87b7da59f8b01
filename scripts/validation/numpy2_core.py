"""The core's pure-numpy modules on numpy 2.x (users' QGIS builds ship it; Debian 12 has 1.24).

    bash .ci/numpy2_check.sh      (makes a throw-away venv with numpy 2.x and scipy, then runs this)

Imports the shared statistics, optimiser, sampler and variogram modules (no GDAL or torch in that venv) and checks
values against oracles: AUC against the Mann-Whitney count, GWO against the known minimum, Jenks breaks between
two separated groups, the VIF of independent columns near 1.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from subsidence_plugin.core.ml import optimisers, samplers  # noqa: E402
from subsidence_plugin.core.spatial import variogram  # noqa: E402
from subsidence_plugin.core.stats import classes, correlation, metrics, roc, splits  # noqa: E402


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
    print(f"numpy {np.__version__}: core statistics, optimisers, samplers and variograms agree with their oracles")


if __name__ == "__main__":
    main()
