"""CNN-GWO / CNN-ICA tuning reports progress after every evaluated candidate (issue 11: only once per optimiser
iteration, minutes apart), with increasing percentages, and stops on cancel."""
import numpy as np
import pytest

from subsidence_plugin.core.ml.training import TrainingSettings
from subsidence_plugin.core.progress import Cancelled
from subsidence_plugin.core.susceptibility.cnn import SusceptibilitySettings, train_susceptibility
from subsidence_plugin.core.susceptibility.factors import FactorClasses


def _problem(n=160):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, n))
    label = (values[0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    definitions = [FactorClasses(f"f{i}", False, edges=np.array([-0.5, 0.0, 0.5]), low=-3.0, high=3.0)
                   for i in range(3)]
    ratios = [np.array([0.5, 0.8, 1.2, 1.5])] * 3
    return values, label, np.arange(n), definitions, ratios


def _settings(model):
    return SusceptibilitySettings(model=model, encoding="zscore", filters=(4, 8), dense=8, population=4, iterations=2,
                                  epoch_range=(1, 3), batch_range=(16, 64),
                                  training=TrainingSettings(epochs=2, batch_size=32, learning_rate=1e-3, loss="bce"))


@pytest.mark.parametrize("model", ["cnn_gwo", "cnn_ica"])
def test_tuning_reports_every_candidate_with_increasing_percentages(model):
    calls = []
    trained = train_susceptibility(*_problem(), _settings(model), progress=lambda p, m: calls.append((p, m)))
    percents = np.array([p for p, _ in calls])
    assert np.all(np.diff(percents) >= 0) and percents[-1] == 100.0
    candidates = [(p, m) for p, m in calls if " candidate " in m and ": validation AUC " in m]
    epochs = [(p, m) for p, m in calls if " of 12: epoch " in m or " of 8: epoch " in m]
    assert epochs and all(m.split(": epoch ")[0].split(" candidate ")[1][0].isdigit() for _, m in epochs)
    assert np.all(np.diff([p for p, _ in calls if p <= 80.0]) >= 0)  # the bar never goes back, epochs included
    assert len(candidates) == trained.tuning.evaluations
    assert np.all(np.diff([p for p, _ in candidates]) > 0) and candidates[-1][0] <= 80.0
    assert candidates[0][1].startswith(f"{model[4:].upper()} candidate 1: validation AUC ")
    if model == "cnn_gwo":  # GWO evaluates population x (iterations + 1) candidates: the tuning ends at 80 %
        assert len(candidates) == 4 * 3 and candidates[-1][0] == 80.0
    iterations = [p for p, m in calls if " iteration " in m]  # the optimiser's messages, at the candidates' percent
    assert len(iterations) == 2


def test_tuning_stops_on_cancel_between_candidates():
    evaluated = []
    with pytest.raises(Cancelled):
        train_susceptibility(*_problem(), _settings("cnn_gwo"), progress=lambda p, m: None,
                             is_cancelled=lambda: len(evaluated) >= 5,
                             on_fitness=lambda count, auc, best: evaluated.append(count))
    assert len(evaluated) == 5
