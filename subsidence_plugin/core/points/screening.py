"""Screening of InSAR measurement points by a CNN over their series (seed 002 §III-B 6, after ICOPS): trained on the
points labelled good (1) / bad (0) from their own series (`labels.label_series`), it scores every point 0–1; a
point is kept when its score reaches a threshold. Points are never deleted.

The network as the seed describes it (a MATLAB layer list): "20 convolutional layers with a ReLU" — read as one
convolution with 20 filters over the dates —, "2-D average pooling" (over the dates, width 2), "ten fully connected
layers" with "another ReLU" before the output — read as a dense layer of 10 units —, and a regression output
trained with the mean squared error on the 0/1 labels. Its input is each series with its gaps filled linearly in
time, and the series' residual from its least-squares line (where outliers and noise show), each standardised (zero
mean, unit standard deviation: the network sees the shape, not the rate); inputs are built per batch (never all at
once). Learning rate, epochs and batch size are the seed's GWO search (`ml.tuning`) on
request, with the cost 1 − AUC on a validation part of the training points.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, Optional

import numpy as np
import torch
from torch import nn

from ..ml.devices import choose_device
from ..ml.optimisers import OptimisationResult
from ..ml.training import EpochCallback, History, TrainingSettings, predict, train_model
from ..ml.tuning import FitnessCallback, SearchSpace, tune_training
from ..progress import CancelCheck, ProgressCallback
from ..stats.roc import classification_statistics, roc_auc, roc_curve
from ..stats.splits import stratified_test_split
from .labels import BAD, GOOD


class SeriesCNN(nn.Module):
    """(B, 2, dates) standardised series and residuals -> (B,) quality score (regression on the 0/1 labels)."""

    def __init__(self, dates: int, filters: int = 20, kernel: int = 5, dense: int = 10):
        super().__init__()
        self.dates, self.filters, self.kernel, self.dense_units = dates, filters, kernel, dense
        self.features = nn.Sequential(nn.Conv1d(2, filters, kernel, padding=kernel // 2), nn.ReLU(),
                                      nn.AvgPool1d(2, ceil_mode=True))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(filters * ((dates + 1) // 2), dense), nn.ReLU(),
                                  nn.Linear(dense, 1))

    def forward(self, series: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(series)).squeeze(1)


def standardised_series(series: np.ndarray, t: np.ndarray) -> np.ndarray:
    """float32 (points, 2, dates): each row's gaps filled linearly in time ``t`` (held at the ends); channel 0 the
    filled series, channel 1 its residual from the least-squares line, each scaled to zero mean and unit standard
    deviation (a constant row, or one without values, becomes zeros)."""
    values = np.asarray(series, dtype=np.float64)
    valid = ~np.isnan(values)
    n, m = values.shape
    columns = np.broadcast_to(np.arange(m), (n, m))
    previous = np.maximum.accumulate(np.where(valid, columns, -1), axis=1)
    following = np.minimum.accumulate(np.where(valid, columns, m)[:, ::-1], axis=1)[:, ::-1]
    has_previous, has_following = previous >= 0, following < m
    rows = np.arange(n)[:, None]
    before = values[rows, np.clip(previous, 0, m - 1)]
    after = values[rows, np.clip(following, 0, m - 1)]
    t_before, t_after = t[np.clip(previous, 0, m - 1)], t[np.clip(following, 0, m - 1)]
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(t_after > t_before, (t - t_before) / (t_after - t_before), 0.0)
    filled = np.where(has_previous & has_following, before + weight * (after - before),
                      np.where(has_previous, before, after))
    filled = np.where(valid.any(axis=1, keepdims=True), filled, 0.0)
    centred_t = t - t.mean()
    slope = (filled * centred_t).sum(axis=1, keepdims=True) / (centred_t ** 2).sum()
    residual = filled - filled.mean(axis=1, keepdims=True) - slope * centred_t
    return np.stack([_standardised(filled), _standardised(residual)], axis=1).astype(np.float32)


def _standardised(values: np.ndarray) -> np.ndarray:
    mean = values.mean(axis=1, keepdims=True)
    std = values.std(axis=1, keepdims=True)
    keep = std > 1e-9 * (1.0 + np.abs(values).max(axis=1, keepdims=True))
    return np.where(keep, (values - mean) / np.where(keep, std, 1.0), 0.0)


@dataclass
class ScreeningSettings:
    """Network, split, threshold and training settings (Adam, learning rate 1e-3, batch 128, 30 epochs, MSE:
    the seed gives no values); ``tune``: search the learning rate, epochs and batch size with ``search``."""

    filters: int = 20
    kernel: int = 5
    dense: int = 10
    validation_share: float = 0.2
    threshold: float = 0.5
    tune: bool = False
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(
        epochs=30, batch_size=128, learning_rate=1e-3, loss="mse"))
    search: SearchSpace = field(default_factory=lambda: SearchSpace(epochs=(5, 60), population=5, iterations=4))

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Screening:
    """Scores 0–1 of every point, ``keep`` (score ≥ threshold), the test statistics (seed 002: AUC, RMSE, StD of
    the error), the test ROC curve, the training history, the hyperparameters used and the search's result."""

    score: np.ndarray
    keep: np.ndarray
    test: Dict[str, float]
    roc: tuple
    history: History
    used: Dict[str, float]
    tuning: Optional[OptimisationResult] = None
    device: str = ""


def screen_series(dates: np.ndarray, series: np.ndarray, label: np.ndarray, split: np.ndarray,
                  settings: ScreeningSettings = None, progress: Optional[ProgressCallback] = None,
                  is_cancelled: Optional[CancelCheck] = None, on_epoch: Optional[EpochCallback] = None,
                  on_fitness: Optional[FitnessCallback] = None,
                  report: Optional[Callable[[str], None]] = None) -> Screening:
    """Train the screening CNN on the points with ``label`` 1 / 0 and ``split`` "train", test it on those with
    "test", and score every point of ``series`` (points, dates; NaN = no value)."""
    settings = settings or ScreeningSettings()
    label = np.asarray(label)
    split = np.asarray(split).astype(str)
    labelled = np.isin(label, (GOOD, BAD))
    train = np.flatnonzero(labelled & (split == "train"))
    test = np.flatnonzero(labelled & (split == "test"))
    for part, idx in (("training", train), ("test", test)):
        classes = set(np.unique(label[idx]).tolist())
        if classes != {GOOD, BAD}:
            found = ", ".join({GOOD: "good (1)", BAD: "bad (0)"}[c] for c in sorted(classes)) or "no labelled point"
            raise ValueError(f"The {part} part holds {found}: the CNN needs good (1) and bad (0) points in both "
                             "parts. Lower the correlation threshold or the outlier threshold of the labels, or "
                             "label more points")
    t = (np.asarray(dates, dtype="datetime64[D]") - np.asarray(dates, dtype="datetime64[D]")[0]).astype(
        np.float64) / 365.25
    targets = label.astype(np.float32)
    holdout = stratified_test_split(label[train], settings.validation_share, settings.training.seed)
    fit_idx, val_idx = train[~holdout], train[holdout]
    if len(np.unique(label[val_idx])) < 2:
        raise ValueError("Too few labelled points to hold both classes in the validation part; label more points")

    def inputs_of(idx):
        return standardised_series(series[idx], t)

    def batches(idx):
        return inputs_of(idx), targets[idx]

    def build():
        return SeriesCNN(len(t), settings.filters, settings.kernel, settings.dense)

    device = choose_device(settings.training.device)
    training, result, used = copy.deepcopy(settings.training), None, {}
    final_progress = progress
    if settings.tune:
        def fitness(candidate, candidate_progress):
            model, _ = train_model(build, batches, fit_idx, val_idx, candidate, candidate_progress, is_cancelled)
            return roc_auc(label[val_idx], predict(model, inputs_of, val_idx, device=device))

        result, used = tune_training(settings.search, training, fitness, progress, is_cancelled, on_fitness, report)
        training.learning_rate, training.epochs = used["learning_rate"], int(used["epochs"])
        training.batch_size = int(used["batch_size"])
        if progress is not None:
            def final_progress(percent, message):
                progress(80.0 + 0.15 * percent, message)
    model, history = train_model(build, batches, fit_idx, val_idx, training, final_progress, is_cancelled, on_epoch,
                                 report)
    used.update({"learning_rate": training.learning_rate, "epochs": training.epochs,
                 "batch_size": training.batch_size})
    everything = np.arange(len(label))
    score = np.clip(predict(model, inputs_of, everything, batch_size=4096, device=device), 0.0, 1.0)
    statistics = classification_statistics(label[test], score[test])
    return Screening(score, score >= settings.threshold, statistics, roc_curve(label[test], score[test])[:2],
                     history, used, result, history.device)
