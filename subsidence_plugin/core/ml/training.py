"""One training loop for every network of the plugin (the surface CNN of seed 000, the susceptibility CNN of
seed 002, the series networks of seeds 001 and 004): Adam (or plain gradient descent), mini-batches drawn by a seeded generator, validation loss per epoch, optional early stopping
with patience (the best validation weights are kept), progress, cancel and a per-epoch callback for live loss
curves. Runs on the device chosen once (`devices.choose_device`) and starts again on the CPU if the GPU runs
out of memory. Seeded with torch's generators forked for the run (`seeded_torch`): the same settings give
the same weights on the CPU, and the process's generators are as before.
"""
from __future__ import annotations

import copy
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Callable, List, Optional

import numpy as np
import torch
from torch import nn

from ..progress import CancelCheck, Cancelled, ProgressCallback
from .devices import choose_device, describe, with_cpu_fallback

BatchSource = Callable[[np.ndarray], tuple]  # indices -> (inputs (B, ...) float32, targets (B,) float32)
EpochCallback = Callable[[int, float, float], None]
OPTIMISERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}


@dataclass
class TrainingSettings:
    """Seed 000 defaults: Adam, learning rate 1e-4, batch 128, 150 epochs, MSE loss, no early stopping."""

    epochs: int = 150
    batch_size: int = 128
    learning_rate: float = 1e-4
    patience: int = 0  # 0 = train every epoch; n = stop after n epochs without a better validation loss
    seed: int = 0
    device: str = "auto"
    loss: str = "mse"  # "mse" (regression), "masked_mse" (NaN targets left out) or "bce" (classes, on logits)
    optimiser: str = "adam"  # "adam", or "sgd" (plain gradient descent, seed 001)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class History:
    train_loss: List[float] = field(default_factory=list)
    validation_loss: List[float] = field(default_factory=list)
    best_epoch: int = 0
    stopped_early: bool = False
    device: str = ""
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@contextmanager
def seeded_torch(seed: int, device=None):
    """Torch's default generators (CPU, and the GPU trained on) seeded for the block and restored on leaving:
    weight initialisation and dropout draw from them, and QGIS hosts other plugins that use torch too."""
    if device is not None and device.type in ("cuda", "mps"):
        device_type, devices = device.type, [device.index or 0]
    else:
        device_type, devices = "cuda", []
    with torch.random.fork_rng(devices=devices, device_type=device_type):
        torch.manual_seed(seed)
        yield


@contextmanager
def torch_threads(threads: Optional[int]):
    """Torch's CPU threads limited to ``threads`` for the block and restored on leaving (None: left as they are),
    so that several Dask workers on one machine do not each use every core."""
    if threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def masked_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the targets that are not NaN (months without a value in a sequence)."""
    known = ~torch.isnan(target)
    return ((output - torch.nan_to_num(target)) ** 2 * known).sum() / known.sum().clamp(min=1)


def _loss(name: str):
    if name == "mse":
        return nn.MSELoss()
    if name == "masked_mse":
        return masked_mse
    if name == "bce":
        return nn.BCEWithLogitsLoss()
    raise ValueError(f"Unknown loss {name!r}")


def train_model(build: Callable[[], nn.Module], batches: BatchSource, train_idx: np.ndarray, val_idx: np.ndarray,
                settings: TrainingSettings, progress: Optional[ProgressCallback] = None,
                is_cancelled: Optional[CancelCheck] = None, on_epoch: Optional[EpochCallback] = None,
                report: Optional[Callable[[str], None]] = None):
    """Train a freshly built model; returns (model on the CPU in eval mode, History).

    ``build`` creates the untrained model (called after seeding, again if training restarts on the CPU).
    """
    if len(train_idx) == 0:
        raise ValueError("The training split is empty")
    device = choose_device(settings.device)
    if report is not None:
        report(f"Training on {describe(device)}")
    return with_cpu_fallback(lambda dev: _train(build, batches, train_idx, val_idx, settings, dev, progress,
                                                is_cancelled, on_epoch), device, report)


def _train(build, batches, train_idx, val_idx, settings, device, progress, is_cancelled, on_epoch):
    with seeded_torch(settings.seed, device):
        return _train_seeded(build, batches, train_idx, val_idx, settings, device, progress, is_cancelled, on_epoch)


def _train_seeded(build, batches, train_idx, val_idx, settings, device, progress, is_cancelled, on_epoch):
    started = time.time()
    model = build().to(device)
    if settings.optimiser not in OPTIMISERS:
        raise ValueError(f"Unknown optimiser {settings.optimiser!r}; use one of {', '.join(OPTIMISERS)}")
    optimiser = OPTIMISERS[settings.optimiser](model.parameters(), lr=settings.learning_rate)
    criterion = _loss(settings.loss)
    rng = np.random.default_rng(settings.seed)
    history = History(device=device.type)
    best_state, best_val, waited = None, np.inf, 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        order = rng.permutation(train_idx)
        total, count = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            if is_cancelled is not None and is_cancelled():
                raise Cancelled()
            idx = order[start:start + settings.batch_size]
            if len(idx) < 2 and count > 0:
                continue  # batch normalisation needs more than one sample
            inputs, targets = batches(idx)
            inputs = torch.from_numpy(inputs).to(device)
            targets = torch.from_numpy(targets).to(device)
            optimiser.zero_grad()
            loss = criterion(model(inputs), targets)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        history.train_loss.append(total / max(count, 1))
        val = evaluate_loss(model, batches, val_idx, criterion, settings.batch_size, device) if len(val_idx) else np.nan
        history.validation_loss.append(val)
        if on_epoch is not None:
            on_epoch(epoch, history.train_loss[-1], val)
        if progress is not None:
            progress(100.0 * epoch / settings.epochs, f"epoch {epoch}/{settings.epochs}: training loss "
                     f"{history.train_loss[-1]:.4g}, validation loss {val:.4g}")
        if len(val_idx) and val < best_val:
            best_val, waited, history.best_epoch = val, 0, epoch
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            waited += 1
            if settings.patience and waited >= settings.patience:
                history.stopped_early = True
                break
    model = model.cpu()
    if settings.patience and best_state is not None:
        model.load_state_dict(best_state)
    else:
        history.best_epoch = len(history.train_loss)
    history.seconds = time.time() - started
    return model.eval(), history


def evaluate_loss(model, batches: BatchSource, indices: np.ndarray, criterion, batch_size: int, device) -> float:
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            idx = indices[start:start + batch_size]
            inputs, targets = batches(idx)
            out = model(torch.from_numpy(inputs).to(device))
            total += float(criterion(out, torch.from_numpy(targets).to(device))) * len(idx)
    return total / len(indices)


def predict(model, inputs_of: Callable[[np.ndarray], np.ndarray], indices: np.ndarray, batch_size: int = 512,
            device=None) -> np.ndarray:
    """Model outputs for the samples ``indices`` (eval mode, no gradients)."""
    device = device or torch.device("cpu")
    model = model.to(device).eval()
    out = np.empty(len(indices), dtype=np.float64)
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            idx = indices[start:start + batch_size]
            out[start:start + len(idx)] = model(torch.from_numpy(inputs_of(idx)).to(device)).cpu().numpy()
    return out
