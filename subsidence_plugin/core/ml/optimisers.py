"""Population-based optimisers behind one interface: particle swarm (PSO, seed 003 eq. 2; Kennedy and
Eberhart 1995), grey wolf optimizer (GWO; Mirjalili et al. 2014) and the imperialist competitive algorithm
(ICA; Atashpaz-Gargari and Lucas 2007), used by seed 002 to tune the susceptibility CNN and by seed 003 to
optimise the GARDLIF weights.

Every optimiser *minimises* ``objective(candidates) -> costs``: candidates are a (population, dimensions)
array inside ``bounds`` (one (low, high) pair per dimension), costs a (population,) array. Objectives that can
evaluate a whole population at once (the GARDLIF weights) do so; expensive ones (a CNN training per candidate)
loop inside. Dimensions listed in ``integer`` are rounded before evaluation. Seeded: the same settings give the
same result. ``progress(percent, message)`` is called once per iteration; ``is_cancelled()`` stops with
`progress.Cancelled`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..progress import CancelCheck, ProgressCallback, Steps

Objective = Callable[[np.ndarray], np.ndarray]
OPTIMISERS = ("pso", "gwo", "ica")


@dataclass
class Problem:
    """What to minimise and where."""

    objective: Objective
    bounds: Sequence[Tuple[float, float]]
    integer: Sequence[int] = ()

    def __post_init__(self):
        bounds = np.asarray(self.bounds, dtype=np.float64)
        if bounds.ndim != 2 or bounds.shape[1] != 2 or len(bounds) == 0:
            raise ValueError("Bounds must be one (low, high) pair per dimension")
        if np.any(bounds[:, 1] < bounds[:, 0]):
            raise ValueError("Every lower bound must be at most its upper bound")
        self.low, self.high = bounds[:, 0], bounds[:, 1]

    @property
    def dimensions(self) -> int:
        return len(self.low)

    def clip(self, candidates: np.ndarray) -> np.ndarray:
        out = np.clip(candidates, self.low, self.high)
        if len(self.integer):
            idx = list(self.integer)
            out[:, idx] = np.round(out[:, idx])
        return out

    def evaluate(self, candidates: np.ndarray) -> np.ndarray:
        costs = np.asarray(self.objective(self.clip(candidates)), dtype=np.float64).reshape(len(candidates))
        return np.where(np.isfinite(costs), costs, np.inf)

    def random(self, rng: np.random.Generator, count: int) -> np.ndarray:
        return self.low + rng.random((count, self.dimensions)) * (self.high - self.low)


@dataclass
class OptimisationResult:
    """Best position (clipped and rounded as evaluated), its cost, and the best cost after each iteration."""

    best: np.ndarray
    best_cost: float
    history: List[float] = field(default_factory=list)
    evaluations: int = 0
    method: str = ""


def optimise(method: str, problem: Problem, population: int = 20, iterations: int = 50, seed: int = 0,
             progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
             **options) -> OptimisationResult:
    """Minimise with ``method`` ("pso", "gwo" or "ica"); ``options`` are the method's own constants."""
    runners = {"pso": particle_swarm, "gwo": grey_wolf, "ica": imperialist_competitive}
    if method not in runners:
        raise ValueError(f"Unknown optimiser {method!r}; choose one of {', '.join(OPTIMISERS)}")
    if population < 4:
        raise ValueError("The population needs at least 4 members")
    if iterations < 1:
        raise ValueError("Give at least one iteration")
    return runners[method](problem, population, iterations, seed, progress, is_cancelled, **options)


class _Tracker:
    """Keeps the best candidate seen, the history and the iteration steps."""

    def __init__(self, problem: Problem, method: str, iterations: int, progress, is_cancelled):
        self.problem = problem
        self.result = OptimisationResult(np.full(problem.dimensions, np.nan), np.inf, method=method)
        self.steps = Steps(iterations, progress, is_cancelled)

    def evaluate(self, candidates: np.ndarray) -> np.ndarray:
        self.steps.check()
        costs = self.problem.evaluate(candidates)
        self.result.evaluations += len(candidates)
        best = int(np.argmin(costs))
        if costs[best] < self.result.best_cost:
            self.result.best_cost = float(costs[best])
            self.result.best = self.problem.clip(candidates[best:best + 1])[0]
        return costs

    def iteration_done(self) -> None:
        self.result.history.append(self.result.best_cost)
        self.steps.advance(f"{self.result.method.upper()} iteration {len(self.result.history)}: "
                           f"best cost {self.result.best_cost:.6g}")


def particle_swarm(problem: Problem, population: int, iterations: int, seed: int, progress=None, is_cancelled=None,
                   inertia: float = 0.7, c1: float = 1.5, c2: float = 1.5,
                   start: Optional[np.ndarray] = None) -> OptimisationResult:
    """PSO, seed 003 eq. 2: v <- w v + c1 r1 (pbest - x) + c2 r2 (gbest - x); x <- x + v; velocities limited
    to the bounds' span, positions clipped to the bounds. ``start`` (k, dimensions) replaces the first k
    random particles (e.g. the weights in use, so the result is never worse)."""
    rng = np.random.default_rng(seed)
    track = _Tracker(problem, "pso", iterations, progress, is_cancelled)
    span = problem.high - problem.low
    x = problem.random(rng, population)
    if start is not None:
        start = np.atleast_2d(np.asarray(start, dtype=np.float64))[:population]
        x[:len(start)] = np.clip(start, problem.low, problem.high)
    v = (rng.random(x.shape) - 0.5) * span * 0.2
    costs = track.evaluate(x)
    pbest, pbest_cost = x.copy(), costs.copy()
    for _ in range(iterations):
        gbest = pbest[np.argmin(pbest_cost)]
        r1, r2 = rng.random(x.shape), rng.random(x.shape)
        v = inertia * v + c1 * r1 * (pbest - x) + c2 * r2 * (gbest - x)
        v = np.clip(v, -span, span)
        x = np.clip(x + v, problem.low, problem.high)
        costs = track.evaluate(x)
        better = costs < pbest_cost
        pbest[better], pbest_cost[better] = x[better], costs[better]
        track.iteration_done()
    return track.result


def grey_wolf(problem: Problem, population: int, iterations: int, seed: int, progress=None,
              is_cancelled=None) -> OptimisationResult:
    """GWO (Mirjalili et al. 2014): the pack moves to the mean of X_l - A |C X_l - X| over the three leaders
    alpha, beta, delta; a falls linearly from 2 to 0 (exploration to exploitation)."""
    rng = np.random.default_rng(seed)
    track = _Tracker(problem, "gwo", iterations, progress, is_cancelled)
    x = problem.random(rng, population)
    costs = track.evaluate(x)
    for it in range(iterations):
        leaders = x[np.argsort(costs, kind="stable")[:3]]
        a = 2.0 - 2.0 * it / iterations
        moved = np.zeros_like(x)
        for leader in leaders:
            r1, r2 = rng.random(x.shape), rng.random(x.shape)
            big_a, big_c = 2.0 * a * r1 - a, 2.0 * r2
            moved += leader - big_a * np.abs(big_c * leader - x)
        x = np.clip(moved / 3.0, problem.low, problem.high)
        costs = track.evaluate(x)
        track.iteration_done()
    return track.result


def imperialist_competitive(problem: Problem, population: int, iterations: int, seed: int, progress=None,
                            is_cancelled=None, empires: int = 0, beta: float = 2.0, gamma: float = np.pi / 4,
                            revolution: float = 0.1, xi: float = 0.1) -> OptimisationResult:
    """ICA (Atashpaz-Gargari and Lucas 2007): the best countries become imperialists and receive colonies in
    proportion to their normalised power; colonies assimilate (move a U(0, beta) share of the way to their
    imperialist, deviated by a random angle within +-gamma), a share ``revolution`` of them is relocated at
    random, a colony better than its imperialist takes its place; empires compete (total cost = imperialist +
    xi * mean colony cost) and the weakest empire loses its weakest colony to an empire drawn by power; an
    empire without colonies collapses into the others."""
    rng = np.random.default_rng(seed)
    track = _Tracker(problem, "ica", iterations, progress, is_cancelled)
    span = problem.high - problem.low
    n_emp = empires or max(2, population // 5)
    n_emp = min(n_emp, population - 1)
    x = problem.random(rng, population)
    costs = track.evaluate(x)
    order = np.argsort(costs, kind="stable")
    x, costs = x[order], costs[order]
    power = _normalised_power(costs[:n_emp])
    owner = np.full(population, -1)
    colonies = np.arange(n_emp, population)
    owner[colonies] = rng.choice(n_emp, size=len(colonies), p=power)
    owner[:n_emp] = np.arange(n_emp)
    imperialist = np.arange(n_emp)  # index of each empire's imperialist in x
    alive = np.ones(n_emp, dtype=bool)
    for _ in range(iterations):
        col = np.flatnonzero(~np.isin(np.arange(population), imperialist[alive]))
        target = x[imperialist[owner[col]]]
        step = target - x[col]
        deviation = (rng.random(step.shape) * 2 - 1) * np.tan(gamma) * np.linalg.norm(step, axis=1, keepdims=True)
        deviation /= np.sqrt(problem.dimensions)
        moved = x[col] + beta * rng.random((len(col), 1)) * step + deviation * rng.random(step.shape)
        revolt = rng.random(len(col)) < revolution
        moved[revolt] = problem.random(rng, int(revolt.sum()))
        x[col] = np.clip(moved, problem.low, problem.high)
        costs[col] = track.evaluate(x[col]) if len(col) else costs[col]
        for e in np.flatnonzero(alive):
            members = col[owner[col] == e]
            if len(members) and costs[members].min() < costs[imperialist[e]]:
                imperialist[e] = members[np.argmin(costs[members])]
        owner[imperialist[alive]] = np.flatnonzero(alive)
        _compete(rng, x, costs, owner, imperialist, alive, xi)
        track.iteration_done()
        if alive.sum() == 1 and np.all(np.abs(x - x[imperialist[alive][0]]) <= 1e-9 * (span + 1)):
            break
    return track.result


def _normalised_power(costs: np.ndarray) -> np.ndarray:
    shifted = costs.max() - costs
    total = shifted.sum()
    return shifted / total if total > 0 else np.full(len(costs), 1.0 / len(costs))


def _compete(rng, x, costs, owner, imperialist, alive, xi):
    """The weakest empire's weakest colony goes to an empire drawn by power; colony-less empires collapse."""
    live = np.flatnonzero(alive)
    if len(live) < 2:
        return
    is_colony = ~np.isin(np.arange(len(x)), imperialist[live])
    totals = np.array([costs[imperialist[e]] + xi * (costs[is_colony & (owner == e)].mean()
                                                     if np.any(is_colony & (owner == e)) else 0.0) for e in live])
    weakest = live[np.argmax(totals)]
    members = np.flatnonzero(is_colony & (owner == weakest))
    winner = live[rng.choice(len(live), p=_normalised_power(totals))]
    if len(members):
        owner[members[np.argmax(costs[members])]] = winner
    if not np.any(is_colony & (owner == weakest)) and winner != weakest:
        alive[weakest] = False
        owner[imperialist[weakest]] = winner
