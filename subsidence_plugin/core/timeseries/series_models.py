"""Recurrent networks that forecast point displacement series from their past and the groundwater (seed 001's
LSTM), trained with the plugin's one training loop on windows cut on demand from the monthly series (never a copy
per window), and forecast step by step.

Data: monthly displacement (mm, points x months), heads (m, points x months) and static factors (points x factors,
e.g. compressible thickness and permeability). A sample is a point and a month t: the input is the window of the
``window`` months t - window + 1 .. t, each step k holding [change of displacement from k - 1 to k, change of head
from k to k + 1, the static factors] (the head change of the month being forecast is known in the "observed
groundwater" setting and 0 when the heads are held at their last value); the target is the change of
displacement from t to t + 1. Every feature and the target are min-max scaled on the training months (seed 001).
Forecasts cumulate the predicted changes from the last known displacement.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..ml.model_files import (build_network, check_entries, check_numbers, load_weights, model_file_error, read_model,
                              save_model)
from ..ml.training import TrainingSettings, train_model
from ..progress import CancelCheck, ProgressCallback
from ..stats.resampling import interpolate_in_time
from .baselines import BASELINES, HorizonErrors, last_year_trend, monthly_series, rolling_origin_errors


class SeriesLstm(nn.Module):
    """Seed 001: one LSTM layer of ``hidden`` units (tanh inside the cell; the seed's "hidden layers 8" read as 8
    units, a single layer) and a linear output: the next step's (scaled) change of displacement."""

    def __init__(self, features: int, hidden: int = 8, layers: int = 1):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, num_layers=layers, batch_first=True)
        self.output = nn.Linear(hidden, 1)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        sequence, _ = self.lstm(windows)
        return self.output(sequence[:, -1]).squeeze(-1)


@dataclass
class MinMax:
    """Min-max scaling of each feature to [0, 1] (a constant feature maps to 0)."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> "MinMax":
        """Scaling of the last axis of ``values`` (NaN ignored)."""
        flat = values.reshape(-1, values.shape[-1])
        return cls(np.nanmin(flat, axis=0), np.nanmax(flat, axis=0))

    def apply(self, values: np.ndarray) -> np.ndarray:
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        return ((values - self.low) / span).astype(np.float32)

    def invert(self, scaled: np.ndarray, column: int = 0) -> np.ndarray:
        span = self.high[column] - self.low[column] if self.high[column] > self.low[column] else 1.0
        return scaled * span + self.low[column]


@dataclass
class SeriesSettings:
    """Seed 001 defaults: a window of 12 months, 8 LSTM units, gradient descent with learning rate 0.001 and
    batch 38; 20 % of the training points kept for early stopping (patience 20 epochs)."""

    window: int = 12
    hidden: int = 8
    validation_share: float = 0.2
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(
        epochs=300, batch_size=38, learning_rate=0.001, patience=20, optimiser="sgd"))


def step_features(displacement: np.ndarray, heads: Optional[np.ndarray], static: np.ndarray) -> np.ndarray:
    """(points, months, features) float32: [change of displacement into month k, change of head out of month k
    (0 where unknown), the static factors]; month 0 has no change of displacement (NaN)."""
    points, months = displacement.shape
    change = np.full((points, months), np.nan, dtype=np.float32)
    change[:, 1:] = np.diff(displacement, axis=1)
    head_change = np.zeros((points, months), dtype=np.float32)
    if heads is not None:
        head_change[:, :-1] = np.nan_to_num(np.diff(heads, axis=1), nan=0.0)
    parts = [change[..., None], head_change[..., None],
             np.repeat(np.asarray(static, dtype=np.float32)[:, None, :], months, axis=1)]
    return np.concatenate(parts, axis=2)


class WindowSampler:
    """The training loop's batch source over (point, month) samples of scaled step features: windows are cut
    from the one features array when a batch is asked for."""

    def __init__(self, scaled: np.ndarray, window: int):
        self.scaled = scaled
        self.window = window
        self.offsets = np.arange(-window + 1, 1)

    def samples(self, points: np.ndarray, last_month: int) -> np.ndarray:
        """(count, 2) [point, month t] of the samples whose window and target month t + 1 lie in months
        1 .. ``last_month`` and have values."""
        t = np.arange(self.window, last_month)  # the window starts at month 1 (month 0 has no change)
        grid_points, grid_t = np.meshgrid(points, t, indexing="ij")
        pairs = np.column_stack([grid_points.ravel(), grid_t.ravel()])
        if pairs.size == 0:
            return pairs
        ok = ~np.isnan(self.scaled[pairs[:, 0], pairs[:, 1] + 1, 0])
        for offset in self.offsets:
            ok &= ~np.isnan(self.scaled[pairs[:, 0], pairs[:, 1] + offset]).any(axis=1)
        return pairs[ok]

    def batch(self, pairs: np.ndarray) -> tuple:
        months = pairs[:, 1:2] + self.offsets[None, :]
        inputs = self.scaled[pairs[:, :1], months]
        return np.ascontiguousarray(inputs), self.scaled[pairs[:, 0], pairs[:, 1] + 1, 0].astype(np.float32)


@dataclass
class SeriesModel:
    """A trained series network with its scaling and settings."""

    network: nn.Module
    scaling: MinMax
    settings: SeriesSettings
    history: object
    validation_points: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def train_series_lstm(displacement: np.ndarray, heads: Optional[np.ndarray], static: np.ndarray,
                      training_months: int, settings: SeriesSettings, seed_points: Optional[np.ndarray] = None,
                      progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                      on_epoch: Optional[Callable] = None, report: Optional[Callable[[str], None]] = None
                      ) -> SeriesModel:
    """Train seed 001's LSTM on the first ``training_months`` months of the points ``seed_points`` (default all;
    the scaling is fitted on them too); a random ``validation_share`` of those points (drawn with the training
    seed) is kept for early stopping."""
    features = step_features(displacement, heads, static)
    points = np.arange(displacement.shape[0]) if seed_points is None else np.asarray(seed_points)
    scaling = MinMax.fit(features[points, :training_months])  # the training points' months only
    sampler = WindowSampler(scaling.apply(features), settings.window)
    order = np.random.default_rng(settings.training.seed).permutation(points)
    held = int(round(settings.validation_share * len(order)))
    train_pairs = sampler.samples(np.sort(order[held:]), training_months - 1)
    validation_pairs = sampler.samples(np.sort(order[:held]), training_months - 1)
    if len(train_pairs) == 0:
        raise ValueError(f"No point has {settings.window + 2} consecutive monthly values in the training months: "
                         "shorten the window or give longer series")
    train_index, validation_index = np.arange(len(train_pairs)), len(train_pairs) + np.arange(len(validation_pairs))
    pairs = np.concatenate([train_pairs, validation_pairs])
    network, history = train_model(lambda: SeriesLstm(features.shape[2], settings.hidden),
                                   lambda index: sampler.batch(pairs[index]), train_index, validation_index,
                                   settings.training, progress, is_cancelled, on_epoch, report)
    return SeriesModel(network, scaling, settings, history, np.sort(order[:held]))


def point_split_scores(model: SeriesModel, displacement: np.ndarray, heads: Optional[np.ndarray],
                       static: np.ndarray, training_months: int) -> dict:
    """Seed 001's evaluation on its split by point: the model's one-step predictions of the monthly change
    (each from the observed window) at the points it kept for early stopping (never trained on), over the
    training months: RMSE and MAE of the change (mm) and RMSE of the cumulated change over those months (mm);
    an empty dict without such points."""
    if model.validation_points.size == 0:
        return {}
    sampler = WindowSampler(model.scaling.apply(step_features(displacement, heads, static)), model.settings.window)
    pairs = sampler.samples(model.validation_points, training_months - 1)
    if len(pairs) == 0:
        return {}
    predicted = np.empty(len(pairs))
    network = model.network.eval()
    with torch.no_grad():
        for start in range(0, len(pairs), 4096):
            inputs, _ = sampler.batch(pairs[start:start + 4096])
            predicted[start:start + 4096] = network(torch.from_numpy(inputs)).numpy()
    _, target = sampler.batch(pairs)
    change, observed = model.scaling.invert(predicted, 0), model.scaling.invert(target.astype(np.float64), 0)
    point, inverse = np.unique(pairs[:, 0], return_inverse=True)
    cumulated = np.bincount(inverse, weights=change - observed)
    return {"points": int(point.size), "changes": int(len(pairs)),
            "change RMSE (mm)": float(np.sqrt(np.mean((change - observed) ** 2))),
            "change MAE (mm)": float(np.mean(np.abs(change - observed))),
            "cumulative RMSE (mm)": float(np.sqrt(np.mean(cumulated ** 2)))}


def forecast_series(model: SeriesModel, displacement: np.ndarray, heads: Optional[np.ndarray], static: np.ndarray,
                    origin: int, steps: int, hold_heads: bool = False) -> np.ndarray:
    """Displacement (mm, points x ``steps``) for months origin + 1 .. origin + steps, step by step from the
    displacement at ``origin``: each predicted change enters the next window. The heads are the observed ones
    (``heads`` covering the forecast months) or, with ``hold_heads``, held at their value at the origin. NaN for
    a point without a full window of values up to the origin."""
    points, window = displacement.shape[0], model.settings.window
    months = origin + steps + 1
    known = np.full((points, months), np.nan, dtype=np.float32)
    known[:, :origin + 1] = displacement[:, :origin + 1]
    scenario = None
    if heads is not None:
        scenario = np.full((points, months), np.nan, dtype=np.float32)
        available = min(months, heads.shape[1])
        scenario[:, :available] = heads[:, :available]
        if hold_heads:
            scenario[:, origin + 1:] = scenario[:, origin:origin + 1]
    scaled = model.scaling.apply(step_features(known, scenario, static))
    level = displacement[:, origin].astype(np.float64)
    out = np.full((points, steps), np.nan)
    ok = ~np.isnan(scaled[:, origin - window + 1:origin + 1]).any(axis=(1, 2)) & ~np.isnan(level)
    if not ok.any():
        return out
    network = model.network.eval()
    with torch.no_grad():
        for step in range(steps):
            t = origin + step
            inputs = torch.from_numpy(np.ascontiguousarray(scaled[ok, t - window + 1:t + 1]))
            change = network(inputs).numpy()
            scaled[ok, t + 1, 0] = change
            level[ok] += model.scaling.invert(change, 0)
            out[ok, step] = level[ok]
    return out


MODEL_KIND = "series-lstm"
STEP_FEATURES = ["displacement_change_mm", "head_change_m"]


def save_series_model(path: str, model: SeriesModel, static_names: Sequence[str], description: dict) -> list:
    """Write the model file (`core.ml.model_files`, kind ``series-lstm``): weights, architecture, the step
    features (the two changes, then the static factors in order), their scaling and the training settings, plus
    ``description`` (units, dates, metrics, plugin version)."""
    return save_model(path, MODEL_KIND, model.network.state_dict(), {
        "architecture": {"type": "lstm", "features": len(STEP_FEATURES) + len(static_names),
                         "hidden": model.settings.hidden, "window": model.settings.window},
        "features": {"step": STEP_FEATURES, "static": list(static_names)},
        "scaling": {"low": model.scaling.low.tolist(), "high": model.scaling.high.tolist()},
        "training": model.settings.training.as_dict(), "validation_share": model.settings.validation_share,
        "history": {"train_loss": model.history.train_loss, "validation_loss": model.history.validation_loss,
                    "best_epoch": model.history.best_epoch, "device": model.history.device},
        **description})


def load_series_model(path: str) -> Tuple[SeriesModel, dict]:
    """(model, description) of a ``series-lstm`` model file; refuses a damaged file with a clear message."""
    state, description = read_model(path, (MODEL_KIND,))
    architecture = description["architecture"]
    network = build_network(path, architecture, ("features", "hidden"), SeriesLstm)
    count = architecture["features"]
    check_entries(path, "the scaling", description["scaling"], ("low", "high"))
    check_numbers(path, "the scaling's low values", description["scaling"]["low"], count)
    check_numbers(path, "the scaling's high values", description["scaling"]["high"], count)
    window = architecture.get("window")
    if not isinstance(window, int) or window < 1:
        raise model_file_error(path, f"the architecture's window {window!r} is not a positive whole number")
    settings = SeriesSettings(window=window, hidden=architecture["hidden"],
                              training=TrainingSettings(**description.get("training", {})))
    scaling = MinMax(np.array(description["scaling"]["low"]), np.array(description["scaling"]["high"]))
    return SeriesModel(load_weights(path, network, state).eval(), scaling, settings, None), description


HORIZONS = (1, 3, 6, 12)


@dataclass
class HoldoutResult:
    """A model trained on the first dates of every point and scored on the rest: ``forecast`` (points, held-out
    dates, mm) from the last training month ``origin`` with the observed heads; ``errors`` the RMSE by horizon
    of the model (observed and held heads) and of the baselines from that origin (`rolling_origin_errors`);
    ``point_split`` seed 001's own scores on its split by point (`point_split_scores`)."""

    model: SeriesModel
    months: np.ndarray
    origin: int
    holdout_dates: np.ndarray
    forecast: np.ndarray
    errors: HorizonErrors
    point_split: dict = field(default_factory=dict)


def train_with_holdout(dates: np.ndarray, series: np.ndarray, heads: Optional[np.ndarray], static: np.ndarray,
                       settings: SeriesSettings, holdout_share: float = 0.2, unseen: Optional[np.ndarray] = None,
                       progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                       on_epoch: Optional[Callable] = None, report: Optional[Callable[[str], None]] = None
                       ) -> HoldoutResult:
    """Train seed 001's LSTM on the monthly series (`monthly_series`) up to the last month before the held-out
    last ``holdout_share`` of the dates, forecast those dates (monthly forecasts interpolated in time) and score
    the model and the baselines. ``heads``: (points, months of `month_starts(dates)`) or None. ``unseen``: a mask
    of points left out of the training altogether (spatial blocks), scored apart as well."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    if not 0 < holdout_share < 1:
        raise ValueError("The hold-out share must lie between 0 and 1")
    held = max(1, int(round(holdout_share * dates.size)))
    if held >= dates.size:
        raise ValueError(f"{dates.size} dates are too few to hold out {holdout_share:.0%} of them")
    months, values = monthly_series(dates, series)
    origin = int(np.searchsorted(months, dates[-held - 1], side="right")) - 1
    if origin < settings.window + 1:
        raise ValueError(f"The training dates span {max(origin + 1, 0)} months; the model's window needs at least "
                         f"{settings.window + 2}: give longer series or a smaller window or hold-out share")
    unseen = np.zeros(values.shape[0], dtype=bool) if unseen is None else np.asarray(unseen, dtype=bool)
    if unseen.all():
        raise ValueError("Every point lies in the unseen blocks: nothing is left to train on")
    model = train_series_lstm(values, heads, static, origin + 1, settings, np.flatnonzero(~unseen),
                              progress=progress, is_cancelled=is_cancelled, on_epoch=on_epoch, report=report)
    steps = len(months) - origin
    monthly = forecast_series(model, values, heads, static, origin, steps)
    levels = np.column_stack([values[:, origin], monthly])
    forecast_months = (months[origin].astype("datetime64[M]") + np.arange(steps + 1)).astype("datetime64[D]")
    forecast = interpolate_in_time(forecast_months, levels, dates[-held:])

    def model_forecaster(rows, hold_heads):
        return lambda history, leads: forecast_series(
            model, values[rows], None if heads is None else heads[rows], static[rows], origin, int(max(leads)),
            hold_heads)[:, np.asarray(leads) - 1]

    everyone = np.arange(values.shape[0])
    errors = rolling_origin_errors(values, [origin], HORIZONS, {
        **BASELINES, "LSTM, observed heads": model_forecaster(everyone, False),
        "LSTM, heads held": model_forecaster(everyone, True)})
    if unseen.any():
        apart = rolling_origin_errors(values[unseen], [origin], HORIZONS, {
            "persistence, unseen blocks": BASELINES["persistence"],
            "LSTM, observed heads, unseen blocks": model_forecaster(np.flatnonzero(unseen), False)})
        errors.rmse.update(apart.rmse)
    return HoldoutResult(model, months, origin, dates[-held:], forecast, errors,
                         point_split_scores(model, values, heads, static, origin + 1))


def scenario_heads(heads: np.ndarray, origin: int, change_percent: float) -> np.ndarray:
    """Heads (points, months) whose months after ``origin`` follow a scenario: from the head at the origin (the
    trend line's value there where it is missing), the least-squares trend of the last 12 months times
    (1 + ``change_percent`` / 100); -100 holds the heads."""
    history = heads[:, :origin + 1]
    line = last_year_trend(history, np.array([0.0, 1.0]))
    slope = line[:, 1] - line[:, 0]
    base = np.where(np.isfinite(history[:, -1]), history[:, -1], line[:, 0])
    ahead = np.arange(1, heads.shape[1] - origin, dtype=np.float64)
    out = np.array(heads, dtype=np.float64)
    out[:, origin + 1:] = base[:, None] + (1.0 + change_percent / 100.0) * slope[:, None] * ahead[None, :]
    return out
