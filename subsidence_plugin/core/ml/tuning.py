"""Hyperparameter search of seed 002: the grey wolf optimizer (or ICA) over the learning rate, the number of epochs
and the batch size of a network, each candidate trained in full and scored on a validation part (the test part is
never seen). Used by the susceptibility CNN (CNN-GWO / CNN-ICA) and by the measurement-point screening CNN.

The search runs over (log10 learning rate, epochs, log2 batch size); the cost of a candidate is 1 − its fitness
(a validation AUC). Progress: the first ``share`` percent move with every epoch of every candidate and are
reported after every evaluated candidate (population × (iterations + 1) of them).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

import numpy as np

from ..progress import CancelCheck, ProgressCallback
from .optimisers import OptimisationResult, Problem, optimise
from .training import TrainingSettings

FitnessCallback = Callable[[int, float, float], None]  # (evaluations, candidate fitness, best fitness)
CandidateFitness = Callable[[TrainingSettings, Optional[ProgressCallback]], float]


@dataclass
class SearchSpace:
    """Ranges searched (inclusive), the optimiser and its population and iterations."""

    learning_rate: Sequence[float] = (1e-4, 1e-2)
    epochs: Sequence[int] = (10, 150)
    batch_size: Sequence[int] = (16, 256)
    method: str = "gwo"
    population: int = 6
    iterations: int = 5


def candidate_training(base: TrainingSettings, candidate: np.ndarray) -> TrainingSettings:
    """The training settings a candidate (log10 learning rate, epochs, log2 batch size) stands for."""
    training = copy.deepcopy(base)
    training.learning_rate = float(10.0 ** candidate[0])
    training.epochs = int(candidate[1])
    training.batch_size = int(round(2.0 ** candidate[2]))
    training.patience = 0
    return training


def tune_training(space: SearchSpace, base: TrainingSettings, fitness: CandidateFitness,
                  progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                  on_fitness: Optional[FitnessCallback] = None, report: Optional[Callable[[str], None]] = None,
                  share: float = 80.0, name: str = "validation AUC") -> Tuple[OptimisationResult, dict]:
    """Search ``space`` from ``base``; ``fitness(training, progress)`` trains one candidate and returns its score
    (higher is better). Returns the optimiser's result and the chosen learning_rate, epochs, batch_size and
    ``validation_auc`` (the best fitness)."""
    lr, ep, bs = space.learning_rate, space.epochs, space.batch_size
    bounds = [(np.log10(lr[0]), np.log10(lr[1])), (ep[0], ep[1]), (np.log2(bs[0]), np.log2(bs[1]))]
    state = {"evaluations": 0, "best": 0.0, "percent": 0.0}
    expected = space.population * (space.iterations + 1)  # GWO: exactly; ICA: at most
    label = space.method.upper()

    def candidate_progress(percent, message):  # within a candidate: its epochs move the bar across its share
        step = share / expected
        within = min(share * min(1.0, (state["evaluations"] + 1) / expected), state["percent"] + step * percent / 100.0)
        progress(max(within, state["percent"]), f"{label} candidate {state['evaluations'] + 1} of {expected}: {message}")

    def objective(candidates):
        costs = []
        for candidate in candidates:
            score = fitness(candidate_training(base, candidate), candidate_progress if progress is not None else None)
            state["evaluations"] += 1
            state["best"] = max(state["best"], score)
            if on_fitness is not None:
                on_fitness(state["evaluations"], score, state["best"])
            state["percent"] = share * min(1.0, state["evaluations"] / expected)
            if progress is not None:
                progress(state["percent"], f"{label} candidate {state['evaluations']}: {name} {score:.3f} "
                                           f"(best {state['best']:.3f})")
            costs.append(1.0 - score)
        return np.array(costs)

    def iteration_progress(_percent, message):  # the optimiser's messages, at the candidates' percentage
        progress(state["percent"], message)

    if report is not None:
        report(f"Tuning the CNN with {label}: {space.population} candidates x {space.iterations} iterations "
               f"(cost = 1 - {name})")
    result = optimise(space.method, Problem(objective, bounds, integer=[1]), space.population, space.iterations,
                      base.seed, iteration_progress if progress is not None else None, is_cancelled)
    best = candidate_training(base, result.best)
    chosen = {"learning_rate": best.learning_rate, "epochs": best.epochs, "batch_size": best.batch_size,
              "validation_auc": 1.0 - result.best_cost}
    if report is not None:
        report(f"Best: learning rate {best.learning_rate:.3g}, {best.epochs} epochs, batch {best.batch_size} "
               f"({name} {1.0 - result.best_cost:.3f})")
    return result, chosen
