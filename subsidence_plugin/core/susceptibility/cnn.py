"""Susceptibility models of seed 002: the CNN on per-pixel factor vectors, optionally tuned by the grey wolf
optimizer (CNN-GWO) or the imperialist competitive algorithm (CNN-ICA), and the frequency-ratio baseline.

Input: per-pixel vectors, not patches. Seed 002 does not describe its susceptibility network beyond
"convolutional, pooling and fully connected layers" and trains it on "the training data and the result from
the FR analysis"; its CNN-GWO/ICA companion (Hakim et al. 2022, seed 002 ref. [67]) arranges each pixel's
factor values as a 1-D sequence. So each inventory cell's factors are encoded (``fr``: every factor replaced by
the frequency ratio of its class, the default; ``zscore``: continuous factors as values, categorical ones as
FR), standardised on the training split, and read by a 1-D CNN: two 3-wide convolutions with ReLU, max
pooling, dropout, one dense layer, one logit (binary cross-entropy). Training uses the plugin's one loop
(`training.train_model`, loss "bce"), seeded, on the device chosen once.

Tuning (seed 002): GWO or ICA search log10(learning rate), epochs and log2(batch size); the cost of a
candidate is 1 - AUC on a stratified validation part of the training split (the test part is never seen).
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..io.grid import RasterGrid
from ..io.rasters import NODATA, RasterWriter, iter_stack_blocks
from ..io.stack import FactorColumn
from ..ml.model_files import (build_network, check_entries, check_numbers, load_weights, model_file_error, read_model,
                              save_model)
from ..ml.optimisers import OptimisationResult
from ..ml.training import EpochCallback, TrainingSettings, train_model
from ..ml.tuning import FitnessCallback, SearchSpace, tune_training
from ..progress import CancelCheck, ProgressCallback, Steps
from ..stats.classes import sample_stride
from ..stats.roc import roc_auc
from ..stats.splits import stratified_test_split
from .factors import FactorClasses, fr_encoded, frequency_ratio_index

MODELS = ("cnn", "cnn_gwo", "cnn_ica", "frequency_ratio")
ENCODINGS = ("fr", "zscore")


class FactorVectorCNN(nn.Module):
    """1-D CNN over one pixel's factor vector (B, factors) -> logits (B,)."""

    def __init__(self, factors: int, filters: Sequence[int] = (32, 64), dense: int = 64, dropout: float = 0.2):
        super().__init__()
        self.factors, self.filters, self.dense_units, self.dropout_rate = factors, list(filters), dense, dropout
        layers: List[nn.Module] = []
        channels = 1
        for width in filters:
            layers += [nn.Conv1d(channels, width, 3, padding=1), nn.ReLU()]
            channels = width
        layers.append(nn.MaxPool1d(2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        pooled = (factors + 1) // 2
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * pooled, dense), nn.ReLU(),
                                  nn.Linear(dense, 1))

    def architecture(self) -> dict:
        return {"type": "FactorVectorCNN", "factors": self.factors, "filters": self.filters,
                "dense": self.dense_units, "dropout": self.dropout_rate}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x[:, None, :]))[:, 0]


@dataclass
class FactorEncoder:
    """Per-pixel input of the CNN: factor values -> encoded, standardised float32 vectors."""

    encoding: str
    definitions: List[FactorClasses]
    ratios: List[np.ndarray]
    mean: np.ndarray = field(default_factory=lambda: np.array([]))
    std: np.ndarray = field(default_factory=lambda: np.array([]))

    def raw(self, values: np.ndarray) -> np.ndarray:
        """(factors, n) values -> (factors, n) encoded, before standardisation."""
        out = np.empty(values.shape, dtype=np.float64)
        for i, (definition, ratio) in enumerate(zip(self.definitions, self.ratios)):
            if self.encoding == "fr" or definition.categorical:
                out[i] = fr_encoded(ratio, definition, values[i])
            else:
                out[i] = np.nan_to_num(values[i], nan=0.0)
        return out

    def fit(self, values: np.ndarray) -> "FactorEncoder":
        raw = self.raw(values)
        self.mean = raw.mean(axis=1)
        std = raw.std(axis=1)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def encode(self, values: np.ndarray) -> np.ndarray:
        """(factors, n) values -> (n, factors) float32 network input."""
        return ((self.raw(values) - self.mean[:, None]) / self.std[:, None]).T.astype(np.float32)

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "factors": [{"name": d.name, "categorical": d.categorical, "edges": d.edges.tolist(),
                             "codes": d.codes.tolist(), "low": d.low, "high": d.high,
                             "frequency_ratio": np.nan_to_num(r, nan=0.0).tolist()}
                            for d, r in zip(self.definitions, self.ratios)]}


@dataclass
class SusceptibilitySettings:
    """Model, encoding, network and training settings; tuner population and iterations; search ranges."""

    model: str = "cnn"
    encoding: str = "fr"
    filters: Sequence[int] = (32, 64)
    dense: int = 64
    dropout: float = 0.2
    validation_share: float = 0.2
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(
        epochs=100, batch_size=64, learning_rate=1e-3, loss="bce"))
    population: int = 6
    iterations: int = 5
    learning_rate_range: Sequence[float] = (1e-4, 1e-2)
    epoch_range: Sequence[int] = (10, 150)
    batch_range: Sequence[int] = (16, 256)

    def as_dict(self) -> dict:
        out = asdict(self)
        for key in ("filters", "learning_rate_range", "epoch_range", "batch_range"):
            out[key] = list(getattr(self, key))
        return out


@dataclass
class TrainedSusceptibility:
    model: Optional[nn.Module]
    encoder: Optional[FactorEncoder]
    definitions: List[FactorClasses]
    ratios: List[np.ndarray]
    settings: SusceptibilitySettings
    history: Optional[object] = None
    tuning: Optional[OptimisationResult] = None
    tuned: Dict[str, float] = field(default_factory=dict)

    def predict(self, values: np.ndarray, batch: int = 65536) -> np.ndarray:
        """Susceptibility index 0-1 from (factors, n) values; NaN where a factor is NaN."""
        return self.predict_with_scores(values, batch)[0]

    def predict_with_scores(self, values: np.ndarray, batch: int = 65536) -> Tuple[np.ndarray, np.ndarray]:
        """(index 0-1, ranking score) from (factors, n) values; NaN where a factor is NaN. The score orders
        cells as the index does without saturating: the network's logit for the CNN (its probability is 1.0 in
        float32 beyond a logit of about 17), the index itself for the frequency-ratio model."""
        if self.model is None:
            index = frequency_ratio_index(self.definitions, self.ratios, values)
            return index, index
        out = np.full(values.shape[1], np.nan)
        scores = np.full(values.shape[1], np.nan)
        ok = ~np.isnan(values).any(axis=0)
        idx = np.flatnonzero(ok)
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(idx), batch):
                sel = idx[start:start + batch]
                logits = self.model(torch.from_numpy(self.encoder.encode(values[:, sel])))
                out[sel] = torch.sigmoid(logits).numpy()
                scores[sel] = logits.numpy()
        return out, scores

    def index_of_score(self, scores: np.ndarray) -> np.ndarray:
        """The index a ranking score stands for (the sigmoid of a logit, in float64)."""
        scores = np.asarray(scores, dtype=np.float64)
        return scores if self.model is None else 1.0 / (1.0 + np.exp(-scores))


def train_susceptibility(values: np.ndarray, label: np.ndarray, train: np.ndarray, definitions: Sequence[FactorClasses],
                         ratios: Sequence[np.ndarray], settings: SusceptibilitySettings,
                         progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                         on_epoch: Optional[EpochCallback] = None, on_fitness: Optional[FitnessCallback] = None,
                         report: Optional[Callable[[str], None]] = None,
                         tuned: Optional[Dict[str, float]] = None) -> TrainedSusceptibility:
    """Train ``settings.model`` on the inventory samples ``train`` (indices into (factors, n) ``values`` and 0/1
    ``label``); ``ratios`` are the frequency ratios of the training split. ``tuned`` reuses hyperparameters
    found earlier (no new search)."""
    if settings.model not in MODELS:
        raise ValueError(f"Unknown susceptibility model {settings.model!r}; use one of {', '.join(MODELS)}")
    if settings.encoding not in ENCODINGS:
        raise ValueError(f"Unknown encoding {settings.encoding!r}; use one of {', '.join(ENCODINGS)}")
    label = np.asarray(label).astype(np.float32)
    if settings.model == "frequency_ratio":
        return TrainedSusceptibility(None, None, list(definitions), list(ratios), settings)
    encoder = FactorEncoder(settings.encoding, list(definitions), list(ratios)).fit(values[:, train])
    inputs = encoder.encode(values)
    holdout = stratified_test_split(label[train], settings.validation_share, settings.training.seed)
    fit_idx, val_idx = train[~holdout], train[holdout]
    if len(np.unique(label[val_idx])) < 2 or len(np.unique(label[fit_idx])) < 2:
        raise ValueError("The training split is too small to hold both classes in its training and validation "
                         "parts; use a larger inventory")

    def batches(idx):
        return inputs[idx], label[idx]

    def build():
        return FactorVectorCNN(inputs.shape[1], settings.filters, settings.dense, settings.dropout)

    result, chosen = None, dict(tuned or {})
    if settings.model in ("cnn_gwo", "cnn_ica") and not chosen:
        result, chosen = _tune(settings, batches, build, inputs, label, fit_idx, val_idx, progress, is_cancelled,
                               on_fitness, report)
    training = copy.deepcopy(settings.training)
    if chosen:
        training.learning_rate = chosen["learning_rate"]
        training.epochs = int(chosen["epochs"])
        training.batch_size = int(chosen["batch_size"])
    final_progress = _scaled(progress, 80.0, 100.0) if result is not None else progress
    model, history = train_model(build, batches, fit_idx, val_idx, training, final_progress, is_cancelled, on_epoch,
                                 report)
    used = {"learning_rate": training.learning_rate, "epochs": training.epochs, "batch_size": training.batch_size}
    if "validation_auc" in chosen:
        used["validation_auc"] = chosen["validation_auc"]
    return TrainedSusceptibility(model, encoder, list(definitions), list(ratios), settings, history, result, used)


def _scaled(progress, start, end):
    if progress is None:
        return None
    return lambda percent, message: progress(start + (end - start) * percent / 100.0, message)


def _tune(settings, batches, build, inputs, label, fit_idx, val_idx, progress, is_cancelled, on_fitness, report):
    """GWO or ICA (`ml.tuning`) over the learning rate, epochs and batch size; cost = 1 - validation AUC."""
    space = SearchSpace(settings.learning_rate_range, settings.epoch_range, settings.batch_range,
                        "gwo" if settings.model == "cnn_gwo" else "ica", settings.population, settings.iterations)

    def fitness(training, candidate_progress):
        model, _ = train_model(build, batches, fit_idx, val_idx, training, candidate_progress, is_cancelled)
        with torch.no_grad():
            scores = model(torch.from_numpy(inputs[val_idx])).numpy()
        return roc_auc(label[val_idx], scores)

    return tune_training(space, settings.training, fitness, progress, is_cancelled, on_fitness, report)


def predict_index(trained: TrainedSusceptibility, stack_path: str, columns: Sequence[FactorColumn], grid: RasterGrid,
                  path: str, progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                  block_rows: int = 256, score_path: Optional[str] = None) -> np.ndarray:
    """Write the susceptibility index (0-1, float32, nodata -9999) of every valid cell, and with ``score_path``
    its ranking score (`TrainedSusceptibility.predict_with_scores`, float32) for classes that do not saturate;
    returns a regular subsample of the scores (of the index without ``score_path``) for class breaks."""
    steps = Steps(grid.height, progress, is_cancelled)
    stride = sample_stride(grid.width * grid.height)
    sample = []
    score_writer = RasterWriter(score_path, grid.with_nodata(NODATA), 1, np.float32, ["ranking_score"]) \
        if score_path else None
    try:
        with RasterWriter(path, grid.with_nodata(NODATA), 1, np.float32, ["susceptibility_index"]) as writer:
            for row0, values in iter_stack_blocks(stack_path, block_rows):
                rows = values.shape[1]
                flat = values.reshape(values.shape[0], -1)
                factors = np.stack([c.values(flat) for c in columns])
                index, scores = trained.predict_with_scores(factors)
                index = index.astype(np.float32)
                writer.write(index.reshape(rows, -1)[None], row0=row0)
                if score_writer is not None:
                    scores = scores.astype(np.float32)
                    score_writer.write(scores.reshape(rows, -1)[None], row0=row0)
                    sample.append(scores[::stride])
                else:
                    sample.append(index[::stride])
                steps.advance(f"susceptibility: rows {row0}-{row0 + rows}", rows)
        if score_writer is not None:
            score_writer.close()
    except BaseException:
        if score_writer is not None:
            score_writer.abort()
        raise
    sample = np.concatenate(sample)
    return sample[~np.isnan(sample)]


def model_description(trained: TrainedSusceptibility, band_names: Sequence[str], grid: RasterGrid,
                      metrics: dict, inventory_settings: dict, plugin_version: str) -> dict:
    encoder = trained.encoder or FactorEncoder("fr", trained.definitions, trained.ratios)
    return {
        "plugin_version": plugin_version,
        "architecture": trained.model.architecture() if trained.model is not None else {"type": "frequency_ratio"},
        "band_names": list(band_names), "encoder": encoder.as_dict(), "cell_size": [grid.dx, grid.dy],
        "crs_wkt": grid.crs_wkt, "settings": trained.settings.as_dict(), "tuned": trained.tuned,
        "tuning_history": trained.tuning.history if trained.tuning is not None else [],
        "history": trained.history.as_dict() if trained.history is not None else {},
        "metrics": metrics, "inventory": inventory_settings,
        "target": {"field": "subsiding", "units": "probability-like index 0-1"},
    }


MODEL_LABELS = ("CNN", "CNN-GWO (grey wolf optimizer tuning)", "CNN-ICA (imperialist competitive algorithm tuning)",
                "Frequency ratio")


MODEL_NAMES = {"cnn": "CNN", "cnn_gwo": "CNN-GWO", "cnn_ica": "CNN-ICA", "frequency_ratio": "Frequency ratio"}
ENCODING_LABELS = ("Frequency ratio of each factor's class (seed 002)", "Values (z-scores; categorical as FR)")


def save_susceptibility_model(path: str, trained: TrainedSusceptibility, description: dict) -> List[str]:
    """Write a trained model as a model file (`ml.model_files`): kind ``susceptibility-cnn`` with the network's
    weights, or ``frequency-ratio`` (no weights; the class tables are in the description)."""
    if trained.model is None:
        return save_model(path, "frequency-ratio", None, description)
    return save_model(path, "susceptibility-cnn", trained.model.state_dict(), description)


_FACTOR_ENTRIES = ("name", "categorical", "edges", "codes", "low", "high", "frequency_ratio")


def _encoded_factors(path: str, encoded: dict) -> Tuple[List[FactorClasses], List[np.ndarray]]:
    """The factor class tables and frequency ratios of a model file's encoder; refuses damaged ones."""
    check_entries(path, "the encoder", encoded, ("encoding", "factors"))
    factors = encoded["factors"]
    if not isinstance(factors, list) or not factors or not all(isinstance(f, dict) for f in factors):
        raise model_file_error(path, "the encoder's factors are not a list of factor tables")
    definitions, ratios = [], []
    for number, entry in enumerate(factors, 1):
        what = f"factor {number} of the encoder"
        check_entries(path, what, entry, _FACTOR_ENTRIES)
        for key in ("edges", "codes", "frequency_ratio"):
            check_numbers(path, f"{what} ({entry['name']!r}): {key}", entry[key])
        if not all(isinstance(entry[k], (int, float)) and not isinstance(entry[k], bool) for k in ("low", "high")):
            raise model_file_error(path, f"{what} ({entry['name']!r}): low and high are not numbers")
        definition = FactorClasses(str(entry["name"]), bool(entry["categorical"]),
                                   edges=np.asarray(entry["edges"], dtype=np.float64),
                                   codes=np.asarray(entry["codes"], dtype=np.float64),
                                   low=entry["low"], high=entry["high"])
        if len(entry["frequency_ratio"]) != definition.count:
            raise model_file_error(path, f"{what} ({entry['name']!r}) has {len(entry['frequency_ratio'])} "
                                         f"frequency ratio(s) for {definition.count} class(es)")
        definitions.append(definition)
        ratios.append(np.asarray(entry["frequency_ratio"], dtype=np.float64))
    return definitions, ratios


def load_susceptibility_model(path: str) -> Tuple[TrainedSusceptibility, dict]:
    """(trained model, description) from a model file of kind ``susceptibility-cnn`` or ``frequency-ratio``;
    ``predict`` of the result gives the index the training wrote. A damaged file (a description without the
    encoder or architecture the model needs, weights that do not match the declared architecture) is refused
    with a ValueError naming the file."""
    state, description = read_model(path, ("susceptibility-cnn", "frequency-ratio"))
    encoded = description["encoder"]
    definitions, ratios = _encoded_factors(path, encoded)
    stored = dict(description.get("settings") or {})
    try:
        training = TrainingSettings(**stored.pop("training", {}))
        settings = SusceptibilitySettings(**stored, training=training)
    except TypeError as error:
        raise model_file_error(path, f"the description's settings are not valid ({error})") from error
    if description["kind"] == "frequency-ratio":
        return TrainedSusceptibility(None, None, definitions, ratios, settings), description
    if encoded["encoding"] not in ENCODINGS:
        raise model_file_error(path, f"unknown encoding {encoded['encoding']!r}")
    check_entries(path, "the encoder", encoded, ("mean", "std"))
    check_numbers(path, "the encoder's mean", encoded["mean"], len(definitions))
    check_numbers(path, "the encoder's std", encoded["std"], len(definitions), nonzero=True)
    model = build_network(path, description["architecture"], ("factors", "filters", "dense", "dropout"),
                          FactorVectorCNN)
    if model.factors != len(definitions):
        raise model_file_error(path, f"the architecture declares {model.factors} factor(s), the encoder "
                                     f"{len(definitions)}")
    load_weights(path, model, state)
    encoder = FactorEncoder(encoded["encoding"], definitions, ratios, np.asarray(encoded["mean"]),
                            np.asarray(encoded["std"]))
    return TrainedSusceptibility(model.eval(), encoder, definitions, ratios, settings,
                                 tuned=description.get("tuned", {})), description
