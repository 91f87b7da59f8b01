"""Recurrent networks that forecast point displacement series from their past and the groundwater (seed 001's
LSTM; seed 004's lag-aware attention GRU, physics-constrained RNN and GW-LSTM), trained with the plugin's one
training loop on samples cut on demand from the monthly series (never a copy per window), and forecast month by
month.

Data: monthly displacement (mm, points x months) and its drivers (`PointDrivers`): heads (m, points x months, one
series an aquifer),
static factors (points x factors, in the order compressible thickness, interbed thickness b0, K'v, others), the
points' metric coordinates and the interbeds' delay tau.

Windowed models (``lstm``, ``attention_gru``, ``gw_lstm``): a sample is a point and a month t; the input is the
window of the ``window`` months t - window + 1 .. t, each step k holding [change of displacement from k - 1 to k,
change of head from k to k + 1, (attention GRU with delays) change of the lagged head h(t - tau) from k to k + 1,
(GW-LSTM) the geographically weighted mean of both changes over the neighbours, the static factors] (the head
change of the month being forecast is known in the "observed groundwater" setting and 0 when the heads are held);
the target is the change of displacement from t to t + 1. Every feature and the target are min-max scaled on the
training months (seed 001). Forecasts cumulate the predicted changes from the last known displacement.

The physics-constrained RNN (``physics_rnn``) reads the whole sequence of [change of effective stress
-gamma_w dh (kPa), compressible thickness H (m)] from the first month, both scaled by their largest magnitude on
the training months (0 stays 0), and gives the cumulative displacement relative to an anchor month (the point's
first value in training, the origin in a forecast), scaled by four times its largest training magnitude (the
bounded state keeps room to go on beyond the training range).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..ml.model_files import (build_network, check_entries, check_numbers, load_weights, model_file_error, read_model,
                              save_model)
from ..ml.training import TrainingSettings, train_model
from ..progress import CancelCheck, ProgressCallback
from ..stats.resampling import interpolate_in_time
from .baselines import BASELINES, HorizonErrors, last_year_trend, monthly_series, rolling_origin_errors
from .compaction import DAYS_PER_MONTH, fit_delayed_compaction, forecast_delayed_compaction
from .groundwater import lagged_monthly
from .neighbours import choose_bandwidth, kernel_weights, weighted_mean
from .networks import NETWORKS, AttentionGru, PhysicsRnn

FORECAST_BLOCK = 65536  # points forecast together by the windowed models without a kernel
ROW_BLOCK = 4096  # points whose features are computed together (bounded temporaries)
OUTPUT_HEADROOM = 4.0  # physics RNN: the training range fills a quarter of the output's, room for the forecast
GAMMA_W = 9.81  # unit weight of water, kN/m^3: kPa of effective stress per m of head
KINDS = ("lstm", "attention_gru", "physics_rnn", "gw_lstm")
LABELS = {"lstm": "LSTM", "attention_gru": "attention GRU", "physics_rnn": "physics RNN", "gw_lstm": "GW-LSTM"}


@dataclass
class MinMax:
    """Min-max scaling of each feature to [0, 1] (a constant feature maps to 0)."""

    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, rows: Optional[np.ndarray] = None, months: Optional[int] = None) -> "MinMax":
        """Scaling of the last axis of ``values`` (points, months, features; NaN ignored), over the points
        ``rows`` (default all) and their first ``months`` months (default all), a block of points at a time."""
        low, high = _extremes(values, rows, months)
        return cls(low, high)

    @classmethod
    def magnitude(cls, values: np.ndarray, rows: Optional[np.ndarray] = None) -> "MinMax":
        """Scaling by the largest magnitude of each feature (0 stays 0; NaN ignored)."""
        low, high = _extremes(values, rows, None)
        return cls(np.zeros(low.size), np.fmax(np.abs(low), np.abs(high)))

    def apply(self, values: np.ndarray, in_place: bool = False) -> np.ndarray:
        """Scaled float32 values; ``in_place`` scales a float32 array itself (no copy)."""
        span = np.where(self.high > self.low, self.high - self.low, 1.0)
        if in_place and values.dtype == np.float32:
            values -= self.low.astype(np.float32)
            values /= span.astype(np.float32)
            return values
        return ((values - self.low) / span).astype(np.float32)

    def columns(self, start: int, stop: Optional[int] = None) -> "MinMax":
        """The scaling of the features ``start`` .. ``stop`` - 1 (to the last by default)."""
        return MinMax(self.low[start:stop], self.high[start:stop])

    def joined(self, other: "MinMax") -> "MinMax":
        """This scaling's features followed by ``other``'s."""
        return MinMax(np.concatenate([self.low, other.low]), np.concatenate([self.high, other.high]))

    def invert(self, scaled: np.ndarray, column: int = 0) -> np.ndarray:
        span = self.high[column] - self.low[column] if self.high[column] > self.low[column] else 1.0
        return scaled * span + self.low[column]


def _extremes(values: np.ndarray, rows: Optional[np.ndarray], months: Optional[int], block: int = 4096):
    """(lowest, highest) of each feature (last axis; NaN ignored, 0 for a feature without values) over ``rows``
    and their first ``months`` months, read a block of rows at a time (no copy of the whole array)."""
    rows = np.arange(values.shape[0]) if rows is None else np.asarray(rows)
    features = values.shape[-1]
    low, high = np.full(features, np.inf), np.full(features, -np.inf)
    for start in range(0, rows.size, block):
        part = values[rows[start:start + block]]
        part = part[:, :months] if months is not None else part
        part = part.reshape(part.shape[0] * part.shape[1], features)  # no -1: a scaling of no features too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature without values in the block
            low = np.fmin(low, np.nanmin(part, axis=0))
            high = np.fmax(high, np.nanmax(part, axis=0))
    empty = ~np.isfinite(low)
    return np.where(empty, 0.0, low).astype(np.float64), np.where(empty, 0.0, high).astype(np.float64)


@dataclass
class SeriesSettings:
    """A series model's settings; `default_settings` gives each model the seeds' defaults."""

    kind: str = "lstm"
    window: int = 12  # months of input (windowed models)
    hidden: int = 8  # units per recurrent layer (physics RNN: state units)
    layers: int = 1
    validation_share: float = 0.2
    training: TrainingSettings = field(default_factory=lambda: TrainingSettings(
        epochs=300, batch_size=38, learning_rate=0.001, patience=20, optimiser="sgd"))
    exponent: Optional[float] = None  # physics RNN: the non-linearity n (None = trainable)
    bandwidth: float = 0.0  # GW-LSTM: kernel bandwidth (m); 0 = chosen by cross-validation
    neighbours: int = 16  # GW-LSTM: neighbours in the kernel

    def as_dict(self) -> dict:
        return {"kind": self.kind, "window": self.window, "hidden": self.hidden, "layers": self.layers,
                "validation_share": self.validation_share, "exponent": self.exponent, "bandwidth": self.bandwidth,
                "neighbours": self.neighbours, "training": self.training.as_dict()}


def default_settings(kind: str) -> SeriesSettings:
    """The seeds' settings of each model, with early stopping (patience 20) on the validation share:
    ``lstm`` seed 001 (window 12, 8 units, gradient descent 1e-3, batch 38, split 80 / 20); ``attention_gru`` seed
    004 case 2 (3 layers, Adam 1e-3, batch 16, 500 epochs, 7 : 3; 32 units and a window of 12 months are not in
    the slides); ``physics_rnn`` case 3 (7 state units, Adam 1e-3, batch 16, 2,000 epochs, 8 : 2, n trainable);
    ``gw_lstm`` case 1 (4 layers x 64 units, 36 time steps; Adam 1e-3, batch 64, 300 epochs: not in the
    slides)."""
    if kind == "lstm":
        return SeriesSettings()
    if kind == "attention_gru":
        return SeriesSettings(kind, window=12, hidden=32, layers=3, validation_share=0.3, training=TrainingSettings(
            epochs=500, batch_size=16, learning_rate=0.001, patience=20, optimiser="adam"))
    if kind == "physics_rnn":
        return SeriesSettings(kind, window=0, hidden=7, layers=1, validation_share=0.2, training=TrainingSettings(
            epochs=2000, batch_size=16, learning_rate=0.001, patience=20, optimiser="adam", loss="masked_mse"))
    if kind == "gw_lstm":
        return SeriesSettings(kind, window=36, hidden=64, layers=4, validation_share=0.2, training=TrainingSettings(
            epochs=300, batch_size=64, learning_rate=0.001, patience=20, optimiser="adam"))
    raise ValueError(f"Unknown series model {kind!r}; use one of {', '.join(KINDS)}")


@dataclass
class PointDrivers:
    """What drives the points' series besides their own past: heads (m, points x months x aquifers, or None; points
    x months for one aquifer), static factors (points x factors), metric coordinates (m; the GW-LSTM's kernel) and
    the interbeds' delay tau (days a point, NaN where unknown; the attention GRU's lag and the delayed-compaction
    baseline)."""

    heads: Optional[np.ndarray]
    static: np.ndarray
    x: Optional[np.ndarray] = None
    y: Optional[np.ndarray] = None
    delays: Optional[np.ndarray] = None

    def __post_init__(self):
        if self.heads is not None and self.heads.ndim == 2:
            self.heads = self.heads[..., None]

    @property
    def aquifers(self) -> int:
        return 0 if self.heads is None else self.heads.shape[2]

    def mean_heads(self) -> Optional[np.ndarray]:
        """The aquifers' mean head (points x months), NaN where none has a head."""
        if self.heads is None:
            return None
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(self.heads, axis=2)

    def rows(self, index: np.ndarray) -> "PointDrivers":
        def take(values):
            return None if values is None else values[index]

        return PointDrivers(take(self.heads), self.static[index], take(self.x), take(self.y), take(self.delays))

    def lag_months(self) -> Optional[np.ndarray]:
        """tau in months, the median where unknown (None without delays)."""
        if self.delays is None or not np.isfinite(self.delays).any():
            return None
        days = np.where(np.isfinite(self.delays), self.delays, np.nanmedian(self.delays))
        return days / DAYS_PER_MONTH


def _row_blocks(points: int):
    """Slices of ``ROW_BLOCK`` points covering ``points``."""
    return (slice(start, start + ROW_BLOCK) for start in range(0, points, ROW_BLOCK))


def _change_out_of(heads: Optional[np.ndarray], points: int, months: int) -> np.ndarray:
    """Change of head from month k to k + 1 (points, months, aquifers; 0 where unknown and in the last month;
    one aquifer of zeros without heads)."""
    if heads is None:
        return np.zeros((points, months, 1), dtype=np.float32)
    heads = heads[..., None] if heads.ndim == 2 else heads
    change = np.zeros((points, months, heads.shape[2]), dtype=np.float32)
    change[:, :-1] = np.nan_to_num(np.diff(heads[:, :months], axis=1), nan=0.0)
    return change


def _lagged(heads: Optional[np.ndarray], lag: np.ndarray, months: int) -> Optional[np.ndarray]:
    """Each aquifer's heads (points, months, aquifers) read back by the points' lag (months; None without heads)."""
    if heads is None:
        return None
    return np.stack([lagged_monthly(heads[:, :months, a], lag) for a in range(heads.shape[2])], axis=2)


def step_features(displacement: np.ndarray, heads: Optional[np.ndarray], static: np.ndarray,
                  lag: Optional[np.ndarray] = None, weights=None) -> np.ndarray:
    """(points, months, features) float32: [change of displacement into month k, change of head out of month k
    (0 where unknown; one column an aquifer), with ``lag`` (months a point) the change of the lagged head
    h(k - lag) out of month k, with the kernel ``weights`` the weighted means of the change of displacement and
    of head, the static factors]; month 0 has no change of displacement (NaN). Written a block of points at a
    time into the one array, the weighted means read from its own change columns."""
    points, months = displacement.shape
    heads = heads[..., None] if heads is not None and heads.ndim == 2 else heads
    aquifers = 1 if heads is None else heads.shape[2]
    static = np.asarray(static, dtype=np.float32)
    steps = 1 + aquifers * (1 + (lag is not None) + (weights is not None)) + (weights is not None)
    out = np.empty((points, months, steps + static.shape[1]), dtype=np.float32)
    for rows in _row_blocks(points):
        part = None if heads is None else heads[rows]
        count = out[rows].shape[0]
        out[rows, 0, 0] = np.nan
        np.subtract(displacement[rows, 1:], displacement[rows, :-1], out=out[rows, 1:, 0], casting="unsafe")
        out[rows, :, 1:1 + aquifers] = _change_out_of(part, count, months)
        if lag is not None:
            out[rows, :, 1 + aquifers:1 + 2 * aquifers] = _change_out_of(_lagged(part, lag[rows], months), count,
                                                                         months)
        out[rows, :, steps:] = static[rows, None, :]
    if weights is not None:
        weighted = steps - 1 - aquifers
        weighted_mean(weights, out[:, :, 0], out=out[:, :, weighted])
        weighted_mean(weights, out[:, :, 1:1 + aquifers], out=out[:, :, weighted + 1:steps])
    return out


@dataclass
class Kernel:
    """The GW-LSTM's geographic kernel: the bandwidth (m), its neighbours, and the cross-validation scores."""

    bandwidth: float
    neighbours: int
    scores: Dict[float, float] = field(default_factory=dict)

    def weights(self, drivers: PointDrivers):
        if drivers.x is None:
            raise ValueError("The GW-LSTM needs the points' coordinates")
        return kernel_weights(drivers.x, drivers.y, self.bandwidth, self.neighbours)


def windowed_features(kind: str, displacement: np.ndarray, drivers: PointDrivers, kernel: Optional[Kernel] = None,
                      use_lag: bool = False, static: bool = True) -> Tuple[np.ndarray, list]:
    """(features, names of the step features before the static ones) of a windowed model; without ``static`` the
    step features alone (the training's sampler reads the static factors apart, not once a month)."""
    points = displacement.shape[0]
    aquifers = max(drivers.aquifers, 1)
    names = ["displacement_change_mm"] + _per_aquifer("head_change_m", aquifers)
    lag = weights = None
    if kind == "attention_gru" and use_lag:
        lag = drivers.lag_months()
        if drivers.heads is not None and lag is None:
            raise ValueError("The model reads the lagged heads: give the interbed thickness b₀ and K′v (the 2nd and "
                             "3rd static factors)")
        lag = np.zeros(points) if lag is None else lag  # without heads a column of zeros
        names += _per_aquifer("lagged_head_change_m", aquifers)
    if kind == "gw_lstm":
        weights = kernel.weights(drivers)
        names += ["weighted_displacement_change_mm"] + _per_aquifer("weighted_head_change_m", aquifers)
    factors = drivers.static if static else np.zeros((points, 0), dtype=np.float32)
    return step_features(displacement, drivers.heads, factors, lag, weights), names


def _per_aquifer(name: str, aquifers: int) -> list:
    """Feature names of one value an aquifer (the name alone for one aquifer)."""
    return [name] if aquifers == 1 else [f"{name}_{a + 1}" for a in range(aquifers)]


def _stress_changes(heads: np.ndarray, months: int, out: np.ndarray) -> np.ndarray:
    """``out`` (points, months, aquifers) float32 = the change of effective stress into month k in each aquifer,
    -gamma_w dh (kPa; 0 in month 0 and where unknown), written a block of points at a time."""
    out[:, 0] = 0.0
    for rows in _row_blocks(heads.shape[0]):
        out[rows, 1:] = -GAMMA_W * np.nan_to_num(np.diff(heads[rows, :months], axis=1), nan=0.0)
    return out


def physics_inputs(heads: np.ndarray, thickness: np.ndarray, months: int) -> np.ndarray:
    """(points, months, aquifers + 1) float32: [change of effective stress into month k in each aquifer
    (`_stress_changes`), compressible thickness H (m)]."""
    out = np.empty((heads.shape[0], months, heads.shape[2] + 1), dtype=np.float32)
    _stress_changes(heads, months, out[..., :-1])
    out[..., -1] = np.asarray(thickness, np.float32)[:, None]
    return out


def _thickness(drivers: PointDrivers) -> np.ndarray:
    """The first static factor (compressible thickness, m), 1 where unknown or without factors."""
    if drivers.static.shape[1] == 0:
        return np.ones(drivers.static.shape[0])
    return np.nan_to_num(drivers.static[:, 0].astype(np.float64), nan=np.nanmedian(drivers.static[:, 0])
                         if np.isfinite(drivers.static[:, 0]).any() else 1.0)


class WindowSampler:
    """The training loop's batch source over (point, month) samples of scaled step features, each sample one
    flat index point x months + month: windows are cut from the one features array when a batch is asked for,
    the points' ``static`` features (points x static features, scaled; none by default) added to each month."""

    def __init__(self, scaled: np.ndarray, window: int, static: Optional[np.ndarray] = None):
        self.scaled = scaled
        self.static = np.zeros((scaled.shape[0], 0), dtype=np.float32) if static is None else static
        self.window = window
        self.offsets = np.arange(-window + 1, 1)

    @classmethod
    def scaled_by(cls, scaling: MinMax, steps: np.ndarray, static: np.ndarray, window: int,
                  in_place: bool = False) -> "WindowSampler":
        """The sampler of the step features ``steps`` and the ``static`` factors scaled by ``scaling`` (the step
        features' columns first); ``in_place`` scales float32 ``steps`` themselves."""
        count = steps.shape[2]
        static = scaling.columns(count).apply(np.array(static, dtype=np.float32), in_place=in_place)
        return cls(scaling.columns(0, count).apply(steps, in_place=in_place), window, static)

    def _missing_before(self, points: np.ndarray) -> np.ndarray:
        """(points, months + 1) int32: how many of each point's months before month k lack a value (a step or a
        static feature)."""
        out = np.zeros((points.size, self.scaled.shape[1] + 1), np.int32)
        known = np.isfinite(self.scaled[points]).all(axis=2) & np.isfinite(self.static[points]).all(axis=1)[:, None]
        np.cumsum(~known, axis=1, out=out[:, 1:])
        return out

    def samples(self, points: np.ndarray, last_month: int) -> np.ndarray:
        """Flat indices of the samples [point, month t] whose window and target month t + 1 lie in months
        1 .. ``last_month`` and have values (point-major order), found a block of points at a time and written
        into the one array."""
        months = self.scaled.shape[1]
        t = np.arange(self.window, min(last_month, months - 1))
        points = np.asarray(points, dtype=np.int64)
        if t.size == 0 or points.size == 0:
            return np.zeros(0, dtype=np.int64)
        ok = np.empty((points.size, t.size), dtype=bool)
        for rows in _row_blocks(points.size):
            before = self._missing_before(points[rows])
            ok[rows] = (before[:, t + 1] - before[:, t + 1 - self.window] == 0) & np.isfinite(
                self.scaled[points[rows, None], t[None, :] + 1, 0])
        index = np.int32 if self.scaled.shape[0] * months < 2 ** 31 else np.int64
        out = np.empty(np.count_nonzero(ok), dtype=index)
        first = index(months) * points.astype(index)
        filled = 0
        for rows in _row_blocks(points.size):
            flat = (first[rows, None] + t.astype(index)[None, :])[ok[rows]]
            out[filled:filled + flat.size] = flat
            filled += flat.size
        return out

    def split(self, samples: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(points, months t) of flat samples."""
        point, t = np.divmod(samples, samples.dtype.type(self.scaled.shape[1]))
        return point.astype(np.int64), t.astype(np.int64)

    def batch(self, samples: np.ndarray) -> tuple:
        point, t = self.split(samples)
        inputs = np.empty((len(samples), self.window, self.scaled.shape[2] + self.static.shape[1]), np.float32)
        inputs[..., :self.scaled.shape[2]] = self.scaled[point[:, None], t[:, None] + self.offsets[None, :]]
        inputs[..., self.scaled.shape[2]:] = self.static[point, None, :]
        return inputs, self.scaled[point, t + 1, 0].astype(np.float32)


class SequenceSampler:
    """The physics RNN's batch source: a sample is a point, its inputs the scaled stress changes of the training
    months, the point's scaled thickness (points, 1; kept once a point) in every month and the anchor channel,
    its targets the scaled cumulative displacement relative to the anchor (NaN gaps)."""

    def __init__(self, stress: np.ndarray, thickness: np.ndarray, relative: np.ndarray, anchor: np.ndarray):
        self.stress, self.thickness, self.relative, self.anchor = stress, thickness, relative, anchor

    def batch(self, points: np.ndarray) -> tuple:
        stress = self.stress[points]
        inputs = np.zeros(stress.shape[:2] + (stress.shape[2] + 2,), dtype=np.float32)
        inputs[..., :-2] = stress
        inputs[..., -2] = self.thickness[points]
        inputs[np.arange(len(points)), self.anchor[points], -1] = 1.0
        return inputs, self.relative[points].astype(np.float32)


@dataclass
class SeriesModel:
    """A trained series network with its scaling and settings; ``output_scale`` (physics RNN) the largest
    training magnitude of the relative cumulative displacement (mm); ``kernel`` (GW-LSTM); ``use_lag``
    (attention GRU with the lagged heads)."""

    network: nn.Module
    scaling: MinMax
    settings: SeriesSettings
    history: object
    validation_points: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    step_names: list = field(default_factory=lambda: ["displacement_change_mm", "head_change_m"])
    output_scale: float = 1.0
    kernel: Optional[Kernel] = None
    use_lag: bool = False

    @property
    def label(self) -> str:
        if self.settings.kind == "physics_rnn" and self.settings.exponent is not None:
            return f"{LABELS['physics_rnn']} with n fixed at {self.settings.exponent:g}"
        return LABELS[self.settings.kind]


def _training_split(points: np.ndarray, settings: SeriesSettings) -> Tuple[np.ndarray, np.ndarray]:
    """(training points, validation points), sorted: a random ``validation_share`` drawn with the seed."""
    order = np.random.default_rng(settings.training.seed).permutation(points)
    held = int(round(settings.validation_share * len(order)))
    return np.sort(order[held:]), np.sort(order[:held])


def train_series_model(displacement: np.ndarray, drivers: PointDrivers, training_months: int,
                       settings: SeriesSettings, seed_points: Optional[np.ndarray] = None,
                       progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                       on_epoch: Optional[Callable] = None, report: Optional[Callable[[str], None]] = None
                       ) -> SeriesModel:
    """Train the model ``settings.kind`` on the first ``training_months`` months of the points ``seed_points``
    (default all; the scaling, and the GW-LSTM's bandwidth, are fitted on them too); a random
    ``validation_share`` of those points (drawn with the training seed) is kept for early stopping."""
    if settings.kind not in KINDS:
        raise ValueError(f"Unknown series model {settings.kind!r}; use one of {', '.join(KINDS)}")
    points = np.arange(displacement.shape[0]) if seed_points is None else np.asarray(seed_points)
    if settings.kind == "physics_rnn":
        return _train_physics(displacement, drivers, training_months, settings, points, progress, is_cancelled,
                              on_epoch, report)
    if settings.kind != "lstm" and drivers.heads is None:
        raise ValueError(f"The {LABELS[settings.kind]} needs the groundwater heads: give the piezometers")
    kernel = None
    if settings.kind == "gw_lstm":
        kernel = _kernel(displacement, drivers, training_months, settings, points, report)
    use_lag = settings.kind == "attention_gru" and drivers.lag_months() is not None
    features, names = windowed_features(settings.kind, displacement, drivers, kernel, use_lag, static=False)
    static = np.asarray(drivers.static, dtype=np.float32)
    scaling = MinMax.fit(features, points, training_months).joined(MinMax.fit(static[:, None], points))
    sampler = WindowSampler.scaled_by(scaling, features, static, settings.window, in_place=True)
    train_points, validation_points = _training_split(points, settings)
    train_samples = sampler.samples(train_points, training_months - 1)
    validation_samples = sampler.samples(validation_points, training_months - 1)
    if len(train_samples) == 0:
        raise ValueError(f"No point has {settings.window + 2} consecutive monthly values in the training months: "
                         "shorten the window or give longer series")
    network_class = NETWORKS[settings.kind]
    # the samples (int32 below 2^31) are the loop's indices: an epoch's shuffled copy is no larger than they are
    network, history = train_model(lambda: network_class(features_count(scaling), settings.hidden, settings.layers),
                                   sampler.batch, train_samples, validation_samples, settings.training, progress,
                                   is_cancelled, on_epoch, report)
    return SeriesModel(network, scaling, settings, history, validation_points, names, kernel=kernel, use_lag=use_lag)


def features_count(scaling: MinMax) -> int:
    return int(len(scaling.low))


def _kernel(displacement, drivers, training_months, settings, points, report) -> Kernel:
    """The GW-LSTM's kernel: the bandwidth given, or chosen by leave-one-out cross-validation on the training
    points' monthly changes."""
    if drivers.x is None:
        raise ValueError("The GW-LSTM needs the points' coordinates")
    if settings.bandwidth > 0:
        return Kernel(settings.bandwidth, settings.neighbours)
    changes = np.diff(displacement[points, :training_months], axis=1)
    bandwidth, scores = choose_bandwidth(drivers.x[points], drivers.y[points], changes, settings.neighbours)
    if report is not None:
        report("GW-LSTM kernel bandwidth by leave-one-out cross-validation: " + ", ".join(
            f"{b:.0f} m: {s:.3g} mm²" for b, s in scores.items()) + f" -> {bandwidth:.0f} m")
    return Kernel(bandwidth, settings.neighbours, scores)


def _anchors(values: np.ndarray) -> np.ndarray:
    """Each row's first month with a value (0 for a row without any)."""
    known = np.isfinite(values)
    return np.where(known.any(axis=1), known.argmax(axis=1), 0)


def _train_physics(displacement, drivers, training_months, settings, points, progress, is_cancelled, on_epoch,
                   report) -> SeriesModel:
    if drivers.heads is None:
        raise ValueError("The physics-constrained RNN needs the groundwater heads: give the piezometers")
    if drivers.static.shape[1] == 0 and report is not None:
        report("No compressible-thickness raster: the physics RNN takes H = 1 m at every point")
    history = displacement[:, :training_months]
    anchor = _anchors(history)
    relative = (history - history[np.arange(len(history)), anchor][:, None]).astype(np.float32, copy=False)
    usable = points[np.isfinite(relative).sum(axis=1)[points] >= 3]
    if usable.size < 2:
        raise ValueError("Fewer than 2 points have 3 monthly values in the training months")
    aquifers = drivers.aquifers
    stress = _stress_changes(drivers.heads, training_months,
                             np.empty((len(history), training_months, aquifers), dtype=np.float32))
    thickness = np.array(_thickness(drivers), dtype=np.float32)[:, None]
    scaling = MinMax.magnitude(stress, usable).joined(MinMax.magnitude(thickness[:, None], usable))
    largest = MinMax.magnitude(relative[..., None], usable).high[0]
    output_scale = OUTPUT_HEADROOM * (float(largest) or 1.0)
    relative /= np.float32(output_scale)
    sampler = SequenceSampler(scaling.columns(0, aquifers).apply(stress, in_place=True),
                              scaling.columns(aquifers).apply(thickness, in_place=True), relative, anchor)
    train_points, validation_points = _training_split(usable, settings)
    if train_points.size == 0:
        raise ValueError("No point is left to train on after the validation share")
    network, history_ = train_model(lambda: PhysicsRnn(settings.hidden, settings.exponent, aquifers + 1),
                                    sampler.batch, train_points, validation_points, settings.training, progress,
                                    is_cancelled, on_epoch, report)
    names = _per_aquifer("effective_stress_change_kpa", drivers.aquifers) + ["compressible_thickness_m"]
    return SeriesModel(network, scaling, settings, history_, validation_points, names, output_scale=output_scale)


def point_split_scores(model: SeriesModel, displacement: np.ndarray, drivers: PointDrivers,
                       training_months: int) -> dict:
    """Seed 001's evaluation on its split by point (windowed models): the model's one-step predictions of the
    monthly change (each from the observed window) at the points it kept for early stopping (never trained on),
    over the training months: RMSE and MAE of the change (mm) and RMSE of the cumulated change over those months
    (mm); an empty dict without such points or for the physics RNN."""
    if model.validation_points.size == 0 or model.settings.kind == "physics_rnn":
        return {}
    features, _ = windowed_features(model.settings.kind, displacement, drivers, model.kernel, model.use_lag,
                                    static=False)
    sampler = WindowSampler.scaled_by(model.scaling, features, drivers.static, model.settings.window)
    samples = sampler.samples(model.validation_points, training_months - 1)
    if len(samples) == 0:
        return {}
    predicted = np.empty(len(samples))
    network = model.network.eval()
    with torch.no_grad():
        for start in range(0, len(samples), 4096):
            inputs, _ = sampler.batch(samples[start:start + 4096])
            predicted[start:start + 4096] = network(torch.from_numpy(inputs)).numpy()
    _, target = sampler.batch(samples)
    change, observed = model.scaling.invert(predicted, 0), model.scaling.invert(target.astype(np.float64), 0)
    point, inverse = np.unique(sampler.split(samples)[0], return_inverse=True)
    cumulated = np.bincount(inverse, weights=change - observed)
    return {"points": int(point.size), "changes": int(len(samples)),
            "change RMSE (mm)": float(np.sqrt(np.mean((change - observed) ** 2))),
            "change MAE (mm)": float(np.mean(np.abs(change - observed))),
            "cumulative RMSE (mm)": float(np.sqrt(np.mean(cumulated ** 2)))}


def _scenario(heads: Optional[np.ndarray], months: int, origin: int, hold_heads: bool) -> Optional[np.ndarray]:
    """Heads over ``months`` months (NaN past the given ones), held at the origin's value after it when asked."""
    if heads is None:
        return None
    scenario = np.full((heads.shape[0], months) + heads.shape[2:], np.nan, dtype=np.float32)
    available = min(months, heads.shape[1])
    scenario[:, :available] = heads[:, :available]
    if hold_heads:
        scenario[:, origin + 1:] = scenario[:, origin:origin + 1]
    return scenario


def forecast_series(model: SeriesModel, displacement: np.ndarray, drivers: PointDrivers, origin: int, steps: int,
                    hold_heads: bool = False) -> np.ndarray:
    """Displacement (mm, points x ``steps``) for months origin + 1 .. origin + steps from the displacement at
    ``origin``. The heads are the observed ones (``drivers.heads`` covering the forecast months) or, with
    ``hold_heads``, held at their value at the origin. Windowed models go step by step, each predicted change
    entering the next window (the GW-LSTM's weighted changes too); the physics RNN runs over the heads from the
    first month. NaN for a point without a full window of values up to the origin."""
    points = displacement.shape[0]
    if model.kernel is None and points > FORECAST_BLOCK:  # memory bounded: the features of one block at a time
        return np.concatenate([forecast_series(model, displacement[start:start + FORECAST_BLOCK], drivers.rows(
            slice(start, start + FORECAST_BLOCK)), origin, steps, hold_heads)
            for start in range(0, points, FORECAST_BLOCK)])
    start = _first_month_needed(model, drivers, origin)
    if start > 0:  # the windowed models read only the months of the last window (and the lag before it)
        heads = None if drivers.heads is None else drivers.heads[:, start:]
        return forecast_series(model, displacement[:, start:], replace(drivers, heads=heads), origin - start, steps,
                               hold_heads)
    months = origin + steps + 1
    scenario = replace(drivers, heads=_scenario(drivers.heads, months, origin, hold_heads))
    if model.settings.kind == "physics_rnn":
        if drivers.heads is None:
            raise ValueError("The physics-constrained RNN is driven by the heads alone: give the piezometers")
        return _forecast_physics(model, displacement, scenario, origin, steps)
    window = model.settings.window
    known = np.full((points, months), np.nan, dtype=np.float32)
    known[:, :origin + 1] = displacement[:, :origin + 1]
    raw, _ = windowed_features(model.settings.kind, known, scenario, model.kernel, model.use_lag)
    scaled = model.scaling.apply(raw)
    level = displacement[:, origin].astype(np.float64)
    out = np.full((displacement.shape[0], steps), np.nan)
    ok = ~np.isnan(scaled[:, origin - window + 1:origin + 1]).any(axis=(1, 2)) & ~np.isnan(level)
    if not ok.any():
        return out
    weights = model.kernel.weights(scenario) if model.kernel is not None else None
    network = model.network.eval()
    with torch.no_grad():
        for step in range(steps):
            t = origin + step
            change = network(torch.from_numpy(np.ascontiguousarray(scaled[ok, t - window + 1:t + 1]))).numpy()
            scaled[ok, t + 1, 0] = change
            level[ok] += model.scaling.invert(change, 0)
            out[ok, step] = level[ok]
            if weights is not None and step + 1 < steps:
                column = model.step_names.index("weighted_displacement_change_mm")
                raw[ok, t + 1, 0] = model.scaling.invert(change, 0)
                raw[:, t + 1, column] = weighted_mean(weights, raw[:, t + 1, 0])
                scaled[:, t + 1, column] = model.scaling.apply(raw[:, t + 1])[:, column]
    return out


def _first_month_needed(model: SeriesModel, drivers: PointDrivers, origin: int) -> int:
    """The first month a windowed model's forecast from ``origin`` reads (0 for the physics RNN)."""
    if model.settings.kind == "physics_rnn":
        return 0
    margin = 0
    if model.use_lag and drivers.lag_months() is not None:
        margin = int(np.ceil(np.nanmax(drivers.lag_months()))) + 1
    return max(0, origin - model.settings.window - margin)


def _forecast_physics(model: SeriesModel, displacement, drivers, origin, steps, batch: int = 65536) -> np.ndarray:
    months = origin + steps + 1
    inputs = model.scaling.apply(physics_inputs(drivers.heads, _thickness(drivers), months))
    level = displacement[:, origin].astype(np.float64)
    out = np.full((displacement.shape[0], steps), np.nan)
    network = model.network.eval()
    with torch.no_grad():
        for start in range(0, len(level), batch):
            part = np.zeros((min(batch, len(level) - start), months, inputs.shape[2] + 1), dtype=np.float32)
            part[..., :-1] = inputs[start:start + batch]
            part[:, origin, -1] = 1.0
            relative = network(torch.from_numpy(part)).numpy()[:, origin + 1:] * model.output_scale
            out[start:start + len(part)] = level[start:start + len(part), None] + relative
    return out


def fitted_series(model: SeriesModel, displacement: np.ndarray, drivers: PointDrivers, training_months: int,
                  rows: np.ndarray) -> np.ndarray:
    """The model's fit of the training months at the points ``rows`` (mm, rows x training months; NaN where it
    gives none): windowed models one month ahead, each month the observed displacement of the month before plus
    the predicted change (from the observed window); the physics RNN simulated from the heads alone, from each
    point's first value."""
    rows = np.asarray(rows, dtype=np.int64)
    history = displacement[:, :training_months]
    heads = None if drivers.heads is None else drivers.heads[:, :training_months]
    out = np.full((rows.size, training_months), np.nan)
    network = model.network.eval()
    if model.settings.kind == "physics_rnn":
        anchor = _anchors(history[rows])
        inputs = model.scaling.apply(physics_inputs(heads[rows], _thickness(drivers.rows(rows)), training_months))
        sequence = np.zeros(inputs.shape[:2] + (inputs.shape[2] + 1,), dtype=np.float32)
        sequence[..., :-1] = inputs
        sequence[np.arange(rows.size), anchor, -1] = 1.0
        with torch.no_grad():
            relative = network(torch.from_numpy(sequence)).numpy() * model.output_scale
        return history[rows, anchor][:, None] + relative
    features, _ = windowed_features(model.settings.kind, history, replace(drivers, heads=heads), model.kernel,
                                    model.use_lag, static=False)
    sampler = WindowSampler.scaled_by(model.scaling, features, drivers.static, model.settings.window)
    samples = sampler.samples(rows, training_months - 1)
    if samples.size == 0:
        return out
    point, t = sampler.split(samples)
    inputs, _ = sampler.batch(samples)
    with torch.no_grad():
        change = model.scaling.invert(network(torch.from_numpy(inputs)).numpy().astype(np.float64), 0)
    out[np.searchsorted(rows, point), t + 1] = history[point, t] + change
    return out


def attention_profile(model: SeriesModel, displacement: np.ndarray, drivers: PointDrivers, origin: int
                      ) -> Optional[np.ndarray]:
    """The attention GRU's mean attention weight of each month of the window (oldest first) over the points'
    windows ending at ``origin`` (the first forecast step); None for the other models."""
    if not isinstance(model.network, AttentionGru):
        return None
    known = displacement[:, :origin + 2].astype(np.float32)
    features, _ = windowed_features(model.settings.kind, known, replace(
        drivers, heads=None if drivers.heads is None else drivers.heads[:, :origin + 2]), model.kernel, model.use_lag)
    window = model.scaling.apply(features)[:, origin - model.settings.window + 1:origin + 1]
    window = window[~np.isnan(window).any(axis=(1, 2))]
    if len(window) == 0:
        return None
    with torch.no_grad():
        _, weights = model.network.eval().attend(torch.from_numpy(np.ascontiguousarray(window)))
    return weights.numpy().mean(axis=0)


MODEL_KIND = "series-network"


def save_series_model(path: str, model: SeriesModel, static_names: Sequence[str], description: dict) -> list:
    """Write the model file (`core.ml.model_files`, kind ``series-network``): weights, the network's kind and
    architecture, the step features (then the static factors in order), their scaling and the settings, plus
    ``description`` (units, dates, metrics, plugin version)."""
    settings = model.settings
    return save_model(path, MODEL_KIND, model.network.state_dict(), {
        "architecture": {"type": settings.kind, "features": features_count(model.scaling), "hidden": settings.hidden,
                         "layers": settings.layers, "window": settings.window, "exponent": settings.exponent},
        "features": {"step": list(model.step_names), "static": list(static_names)},
        "scaling": {"low": model.scaling.low.tolist(), "high": model.scaling.high.tolist()},
        "output_scale": model.output_scale, "lagged_heads": model.use_lag,
        "kernel": None if model.kernel is None else {"bandwidth_m": model.kernel.bandwidth,
                                                     "neighbours": model.kernel.neighbours},
        "training": settings.training.as_dict(), "validation_share": settings.validation_share,
        "history": {"train_loss": model.history.train_loss, "validation_loss": model.history.validation_loss,
                    "best_epoch": model.history.best_epoch, "device": model.history.device},
        **description})


def _network_for(path: str, architecture: dict):
    kind = architecture.get("type", "lstm")
    if kind == "physics_rnn":
        exponent = architecture.get("exponent")
        if exponent is not None and not isinstance(exponent, (int, float)):
            raise model_file_error(path, f"the exponent {exponent!r} is not a number")
        return build_network(path, {**architecture, "exponent": exponent}, ("hidden", "exponent", "features"),
                             PhysicsRnn)
    if kind not in NETWORKS:
        raise model_file_error(path, f"unknown series network {kind!r}")
    return build_network(path, {"layers": 1, **architecture}, ("features", "hidden", "layers"), NETWORKS[kind])


def load_series_model(path: str) -> Tuple[SeriesModel, dict]:
    """(model, description) of a ``series-network`` model file (or an earlier ``series-lstm`` one); refuses a
    damaged file with a clear message."""
    state, description = read_model(path, (MODEL_KIND, "series-lstm"))
    architecture = description["architecture"]
    network = _network_for(path, architecture)
    count = architecture.get("features")
    check_entries(path, "the scaling", description["scaling"], ("low", "high"))
    check_numbers(path, "the scaling's low values", description["scaling"]["low"], count)
    check_numbers(path, "the scaling's high values", description["scaling"]["high"], count)
    kind = architecture.get("type", "lstm")
    window = architecture.get("window")
    if kind != "physics_rnn" and (not isinstance(window, int) or window < 1):
        raise model_file_error(path, f"the architecture's window {window!r} is not a positive whole number")
    kernel_entry = description.get("kernel")
    kernel = None
    if kind == "gw_lstm":
        if not isinstance(kernel_entry, dict):
            raise model_file_error(path, "the GW-LSTM's kernel is missing")
        check_entries(path, "the kernel", kernel_entry, ("bandwidth_m", "neighbours"))
        kernel = Kernel(float(kernel_entry["bandwidth_m"]), int(kernel_entry["neighbours"]))
    settings = SeriesSettings(kind=kind, window=window, hidden=architecture["hidden"],
                              layers=architecture.get("layers", 1), exponent=architecture.get("exponent"),
                              training=TrainingSettings(**description.get("training", {})))
    scaling = MinMax(np.array(description["scaling"]["low"]), np.array(description["scaling"]["high"]))
    model = SeriesModel(load_weights(path, network, state).eval(), scaling, settings, None,
                        step_names=description["features"].get("step", []),
                        output_scale=float(description.get("output_scale", 1.0)), kernel=kernel,
                        use_lag=bool(description.get("lagged_heads", False)))
    return model, description


HORIZONS = (1, 3, 6, 12)


@dataclass
class HoldoutResult:
    """A model trained on the first dates of every point and scored on the rest: ``forecast`` (points, held-out
    dates, mm) from the last training month ``origin`` with the observed heads; ``errors`` the RMSE by horizon
    of the model (observed and held heads) and of the baselines from that origin (`rolling_origin_errors`);
    ``point_split`` seed 001's own scores on its split by point (`point_split_scores`); ``notes`` what else the
    model tells (the physics RNN's E and n, the attention profile, the kernel bandwidth, the delayed-compaction
    fit)."""

    model: SeriesModel
    months: np.ndarray
    origin: int
    holdout_dates: np.ndarray
    forecast: np.ndarray
    errors: HorizonErrors
    point_split: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    band: Optional[dict] = None
    fitted: Optional[Callable[[np.ndarray], np.ndarray]] = None  # sorted rows -> their fit of the training months


def error_band(monthly_forecast: np.ndarray, truth: np.ndarray, level: float = 0.9) -> Optional[dict]:
    """The empirical band of the forecast errors by lead month: the (1 - level) / 2 and (1 + level) / 2 quantiles
    over the points of (observed - forecast) at each lead (mm), for leads with at least 20 scored points; None if
    there are none. Added to a later forecast it is a ``level`` band, if its errors are like the hold-out's."""
    error = truth - monthly_forecast
    counts = np.isfinite(error).sum(axis=0)
    leads = np.flatnonzero(counts >= 20)
    if leads.size == 0 or leads[0] != 0:
        return None
    leads = leads[:np.argmax(np.diff(np.append(leads, -1)) != 1) + 1]  # consecutive from the first lead
    tail = (1.0 - level) / 2.0
    low, high = np.nanquantile(error[:, leads], [tail, 1.0 - tail], axis=0)
    return {"level": level, "leads_months": (leads + 1).tolist(), "low_mm": low.tolist(), "high_mm": high.tolist()}


def band_limits(band: Optional[dict], forecast: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """(low, high) of ``forecast`` (points, leads 1 .. n) with the model's error band; NaN past its leads."""
    low, high = np.full(forecast.shape, np.nan), np.full(forecast.shape, np.nan)
    if band:
        count = min(forecast.shape[1], len(band["leads_months"]))
        low[:, :count] = forecast[:, :count] + np.asarray(band["low_mm"][:count])[None, :]
        high[:, :count] = forecast[:, :count] + np.asarray(band["high_mm"][:count])[None, :]
    return low, high


def _holdout_origin(dates: np.ndarray, months: np.ndarray, holdout_share: float, settings: SeriesSettings):
    if not 0 < holdout_share < 1:
        raise ValueError("The hold-out share must lie between 0 and 1")
    held = max(1, int(round(holdout_share * dates.size)))
    if held >= dates.size:
        raise ValueError(f"{dates.size} dates are too few to hold out {holdout_share:.0%} of them")
    origin = int(np.searchsorted(months, dates[-held - 1], side="right")) - 1
    needed = settings.window + 2 if settings.kind != "physics_rnn" else 3
    if origin < needed - 1:
        raise ValueError(f"The training dates span {max(origin + 1, 0)} months; the model's window needs at least "
                         f"{needed}: give longer series or a smaller window or hold-out share")
    return held, origin


def train_with_holdout(dates: np.ndarray, series: np.ndarray, drivers: PointDrivers, settings: SeriesSettings,
                       holdout_share: float = 0.2, unseen: Optional[np.ndarray] = None,
                       progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                       on_epoch: Optional[Callable] = None, report: Optional[Callable[[str], None]] = None,
                       compare_without_exponent: bool = True) -> HoldoutResult:
    """Train the model on the monthly series (`monthly_series`) up to the last month before the held-out last
    ``holdout_share`` of the dates, forecast those dates (monthly forecasts interpolated in time) and score the
    model and the baselines (with heads, also the delayed-compaction model). ``drivers.heads``: (points, months
    of `month_starts(dates)`) or None. ``unseen``: a mask of points left out of the training altogether (spatial
    blocks), scored apart as well. The physics RNN with a trainable n is compared with the same network without n
    (n fixed at 1) unless ``compare_without_exponent`` is off."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    months, values = monthly_series(dates, series)
    held, origin = _holdout_origin(dates, months, holdout_share, settings)
    unseen = np.zeros(values.shape[0], dtype=bool) if unseen is None else np.asarray(unseen, dtype=bool)
    if unseen.all():
        raise ValueError("Every point lies in the unseen blocks: nothing is left to train on")
    seen = np.flatnonzero(~unseen)
    model = train_series_model(values, drivers, origin + 1, settings, seen, progress=progress,
                               is_cancelled=is_cancelled, on_epoch=on_epoch, report=report)
    steps = len(months) - origin
    monthly = forecast_series(model, values, drivers, origin, steps)
    levels = np.column_stack([values[:, origin], monthly])
    forecast_months = (months[origin].astype("datetime64[M]") + np.arange(steps + 1)).astype("datetime64[D]")
    forecast = interpolate_in_time(forecast_months, levels, dates[-held:])

    def forecaster(fitted, rows, hold_heads):
        part = drivers.rows(rows)
        return lambda history, leads: forecast_series(fitted, values[rows], part, origin, int(max(leads)),
                                                      hold_heads)[:, np.asarray(leads) - 1]

    everyone = np.arange(values.shape[0])
    methods = dict(BASELINES)
    notes = {}
    if drivers.heads is not None:
        methods.update(_compaction_forecasters(drivers, notes))
    methods[f"{model.label}, observed heads"] = forecaster(model, everyone, False)
    if drivers.heads is not None:
        methods[f"{model.label}, heads held"] = forecaster(model, everyone, True)
    if settings.kind == "physics_rnn" and settings.exponent is None and compare_without_exponent:
        notes["modulus"] = model.network.modulus()
        plain = train_series_model(values, drivers, origin + 1, replace(settings, exponent=1.0), seen,
                                   is_cancelled=is_cancelled, report=report)
        notes["modulus without n"] = plain.network.modulus()
        methods[f"{plain.label}, observed heads"] = forecaster(plain, everyone, False)
    elif settings.kind == "physics_rnn":
        notes["modulus"] = model.network.modulus()
    if model.kernel is not None:
        notes["bandwidth"] = (model.kernel.bandwidth, model.kernel.scores)
    profile = attention_profile(model, values, drivers, origin)
    if profile is not None:
        notes["attention"] = profile
    errors = rolling_origin_errors(values, [origin], HORIZONS, methods)
    if unseen.any():
        rows = np.flatnonzero(unseen)
        apart = rolling_origin_errors(values[unseen], [origin], HORIZONS, {
            "persistence, unseen blocks": BASELINES["persistence"],
            f"{model.label}, observed heads, unseen blocks": forecaster(model, rows, False)})
        errors.rmse.update(apart.rmse)
    band = error_band(monthly[:, :-1], values[:, origin + 1:])
    return HoldoutResult(model, months, origin, dates[-held:], forecast, errors,
                         point_split_scores(model, values, drivers, origin + 1), notes, band,
                         lambda rows: fitted_series(model, values, drivers, origin + 1, rows))


def _compaction_forecasters(drivers: PointDrivers, notes: dict) -> dict:
    """The delayed-compaction baseline (`core.timeseries.compaction`) with the observed and the held heads, fitted
    to each history; its fit at the last origin goes into ``notes``."""
    tau = drivers.lag_months()
    mean_heads = drivers.mean_heads()

    def make(hold_heads):
        def forecast(history, leads):
            origin = history.shape[1] - 1
            fitted = fit_delayed_compaction(history, mean_heads[:, :origin + 1], tau)
            notes["delayed compaction"] = fitted
            heads = _scenario(mean_heads, origin + int(max(leads)) + 1, origin, hold_heads)
            return forecast_delayed_compaction(fitted, history[:, -1], heads, origin, np.asarray(leads))
        return forecast

    return {"delayed compaction, observed heads": make(False), "delayed compaction, heads held": make(True)}


def scenario_heads(heads: np.ndarray, origin: int, change_percent: float) -> np.ndarray:
    """Heads (points, months[, aquifers]) whose months after ``origin`` follow a scenario: from the head at the
    origin (the trend line's value there where it is missing), the least-squares trend of the last 12 months times
    (1 + ``change_percent`` / 100); -100 holds the heads."""
    if heads.ndim == 3:
        return np.stack([scenario_heads(heads[..., a], origin, change_percent) for a in range(heads.shape[2])],
                        axis=2)
    history = heads[:, :origin + 1]
    line = last_year_trend(history, np.array([0.0, 1.0]))
    slope = line[:, 1] - line[:, 0]
    base = np.where(np.isfinite(history[:, -1]), history[:, -1], line[:, 0])
    ahead = np.arange(1, heads.shape[1] - origin, dtype=np.float64)
    out = np.array(heads, dtype=np.float64)
    out[:, origin + 1:] = base[:, None] + (1.0 + change_percent / 100.0) * slope[:, None] * ahead[None, :]
    return out
