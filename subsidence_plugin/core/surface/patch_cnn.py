"""Continuous subsidence surface from InSAR points with the patch CNN of seed 000.

Training: points are located on the factor stack; points outside it or on nodata are excluded (counted),
patches reaching beyond the stack or onto nodata are padded with the training mean (0 after z-scores). The
points are split at random 80 / 10 / 10 (seed 000; or by given indices, for spatial cross-validation),
factors are normalised with statistics of the training patches, the target is standardised on the training
split, and the network is trained with the shared loop (`training.train_model`). Metrics (RMSE, MSE, MAE, R^2)
are reported for the three splits in the target's units.

Prediction: the dense evaluation of `PatchCNN` gives every pixel in one pass per tile (tiles overlap by the
patch size), nodata cells stay nodata; optionally Monte Carlo dropout gives a per-pixel spread.

Model file (`ml.model_files`, kind ``patch-cnn``): factor band names and order, normalisation, patch size,
cell size, CRS, target field and units, architecture, training settings, metrics and plugin version.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from ..io.grid import RasterGrid
from ..io.rasters import NODATA, RasterWriter
from ..ml.model_files import (build_network, check_entries, check_numbers, is_number, load_weights, model_file_error,
                              read_model, save_model)
from ..ml.samplers import NORMALISATIONS, Normalisation, PatchSampler, fit_normalisation
from ..ml.training import EpochCallback, TrainingSettings, predict, seeded_torch, torch_threads, train_model
from ..progress import CancelCheck, ProgressCallback, Steps
from ..stats.metrics import error_statistics
from ..stats.splits import random_split
from .network import DEFAULT_DENSE, DEFAULT_FILTERS, PatchCNN, minimum_patch_size

MODEL_KIND = "patch-cnn"
MIN_POINTS = 30


@dataclass
class CnnSettings:
    patch_size: int = 30
    filters: Sequence[int] = DEFAULT_FILTERS
    dense: Sequence[int] = DEFAULT_DENSE
    dropout: float = 0.1
    normalisation: str = "zscore"
    split: Sequence[float] = (0.8, 0.1, 0.1)
    training: TrainingSettings = field(default_factory=TrainingSettings)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["filters"], out["dense"], out["split"] = list(self.filters), list(self.dense), list(self.split)
        return out


@dataclass
class TrainedSurface:
    model: PatchCNN
    normalisation: Normalisation
    target_mean: float
    target_std: float
    history: object
    splits: Dict[str, np.ndarray]
    metrics: Dict[str, dict]
    used: np.ndarray  # indices of the input points that were usable
    excluded_outside: int
    excluded_nodata: int
    padded: int

    def predict_values(self, sampler: PatchSampler, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Predictions (target units) at cells."""
        out = predict(self.model, lambda idx: sampler.batch(rows[idx], cols[idx]), np.arange(len(rows)))
        return out * self.target_std + self.target_mean


def locate_points(grid: RasterGrid, sampler: PatchSampler, x: np.ndarray, y: np.ndarray):
    """(rows, cols, usable, outside count, nodata count) of points on the stack."""
    rows, cols, inside = grid.cell_of(x, y)
    valid = sampler.centre_valid(rows, cols)
    return rows, cols, valid, int((~inside).sum()), int((inside & ~valid).sum())


def train_surface_cnn(stack: np.ndarray, grid: RasterGrid, x: np.ndarray, y: np.ndarray, values: np.ndarray,
                      settings: CnnSettings, splits: Optional[Dict[str, np.ndarray]] = None,
                      progress: Optional[ProgressCallback] = None, is_cancelled: Optional[CancelCheck] = None,
                      on_epoch: Optional[EpochCallback] = None,
                      report: Optional[Callable[[str], None]] = None) -> TrainedSurface:
    """Train the patch CNN on points (x, y in the stack's CRS) with target ``values``.

    ``splits`` (indices into the usable points: train / validation / test) overrides the random split.
    Refuses a stack smaller than the patch in rows or columns.
    """
    _, height, width = np.shape(stack)
    if min(height, width) < settings.patch_size:
        smallest = minimum_patch_size(len(settings.filters))
        advice = (f"use a patch size of at most {min(height, width)} cells (the network needs at least "
                  f"{smallest})" if min(height, width) >= smallest else
                  f"the network needs at least {smallest} x {smallest} cells; use kriging or IDW")
        raise ValueError(f"The factor stack ({width} x {height} cells) is smaller than the {settings.patch_size} x "
                         f"{settings.patch_size}-cell patch: {advice}")
    sampler = PatchSampler(stack, settings.patch_size)
    finite = np.isfinite(values)
    rows, cols, usable, outside, nodata = locate_points(grid, sampler, x, y)
    usable &= finite
    used = np.flatnonzero(usable)
    if len(used) < MIN_POINTS:
        raise ValueError(f"Only {len(used)} points with a value lie on valid cells of the factor stack; the CNN "
                         f"needs at least {MIN_POINTS}. Use kriging or IDW for so few points.")
    rows, cols, target = rows[used], cols[used], np.asarray(values, dtype=np.float64)[used]
    if splits is None:
        train, val, test = random_split(len(used), settings.split, settings.training.seed)
        splits = {"train": train, "validation": val, "test": test}
    train = splits["train"]
    sampler.normalisation = fit_normalisation(sampler, rows[train], cols[train], settings.normalisation)
    padded = int(sampler.padded(rows, cols).sum())
    mean, std = float(target[train].mean()), float(target[train].std()) or 1.0
    scaled = ((target - mean) / std).astype(np.float32)

    def batches(idx):
        return sampler.batch(rows[idx], cols[idx]), scaled[idx]

    def build():
        return PatchCNN(sampler.bands, settings.patch_size, settings.filters, settings.dense, settings.dropout)

    model, history = train_model(build, batches, train, splits["validation"], settings.training,
                                 progress, is_cancelled, on_epoch, report)
    trained = TrainedSurface(model, sampler.normalisation, mean, std, history, splits, {}, used, outside, nodata,
                             padded)
    trained.metrics = {name: error_statistics(target[idx], trained.predict_values(sampler, rows[idx], cols[idx]))
                       for name, idx in splits.items() if len(idx)}
    return trained


DENSE_TILE = 256  # cells: the dense pass's tile (each tile's window overlaps its neighbours by the patch size)


def tile_seed(seed: int, row0: int, col0: int) -> int:
    """The Monte Carlo dropout seed of the dense tile whose first cell is (row0, col0): the same in process and
    on a cluster, whatever order the tiles run in."""
    return int(np.random.SeedSequence([seed, row0, col0]).generate_state(1)[0])


def predict_tile(model: PatchCNN, normalisation: Normalisation, target_mean: float, target_std: float,
                 stack_path_reader, row0: int, rows: int, col0: int, cols: int, mc_samples: int = 0, device=None,
                 seed: int = 0, steps: Optional[Steps] = None, threads: Optional[int] = None) -> np.ndarray:
    """The prediction (band 0) and, with ``mc_samples`` > 1, the Monte Carlo dropout standard deviation (band 1) of
    the cells [row0, row0 + rows) x [col0, col0 + cols) of a dense tile: (bands, rows, cols) float64, NaN where a
    factor is nodata. The window read reaches p // 2 cells before and p − 1 − p // 2 after the tile (the patch's
    receptive field); dropout draws come from `tile_seed`. ``steps``: checked before the tile's first pass and
    advanced (which checks for a cancel) after every pass. ``threads``: torch's CPU threads for the tile (None: as
    they are; `torch_threads`)."""
    device = device or torch.device("cpu")
    p = model.patch_size
    before = p // 2
    out = np.full((2 if mc_samples > 1 else 1, rows, cols), np.nan)
    passes = 1 + (mc_samples if mc_samples > 1 else 0)
    raw = stack_path_reader(row0 - before, rows + p - 1, col0 - before, cols + p - 1)
    valid = ~np.isnan(raw[:, before:before + rows, before:before + cols]).any(axis=0)
    where = f"rows {row0}-{row0 + rows}, columns {col0}-{col0 + cols}"
    if not valid.any():
        if steps is not None:
            steps.advance(where, passes)
        return out
    x = torch.from_numpy(normalisation.apply(raw)[None]).to(device)
    with torch.no_grad(), torch_threads(threads):
        if steps is not None:
            steps.check()
        mean = model.dense_forward(x)[0].cpu().numpy().astype(np.float64)
        if steps is not None:
            steps.advance(where)
        out[0] = np.where(valid, mean * target_std + target_mean, np.nan)
        if mc_samples > 1:
            draws = []
            with seeded_torch(tile_seed(seed, row0, col0), device):
                for sample in range(mc_samples):  # cancel between samples, not only between tiles
                    draws.append(model.dense_forward(x, mc_dropout=True)[0].cpu().numpy())
                    if steps is not None:
                        steps.advance(f"{where}: Monte Carlo dropout sample {sample + 1}/{mc_samples}")
            out[1] = np.where(valid, np.stack(draws).std(axis=0) * target_std, np.nan)
    return out


def predict_surface(model: PatchCNN, normalisation: Normalisation, target_mean: float, target_std: float,
                    stack_path_reader, grid: RasterGrid, path: str, band_name: str, mc_samples: int = 0,
                    tile: int = DENSE_TILE, device=None, progress: Optional[ProgressCallback] = None,
                    is_cancelled: Optional[CancelCheck] = None, seed: int = 0) -> str:
    """Dense prediction of every valid cell, written as a float32 GeoTIFF (band 1 the prediction; band 2
    the Monte Carlo dropout standard deviation when ``mc_samples`` > 1), tile by tile (`predict_tile`).

    ``stack_path_reader(row0, rows, col0, cols)`` returns raw (bands, rows, cols) float32 with NaN at nodata
    and outside the stack (it is asked for windows reaching beyond the edges). Cancellation is checked before
    every network pass (each tile's mean and each Monte Carlo sample).
    """
    device = device or torch.device("cpu")
    model = model.to(device).eval()
    bands = ["prediction" if not band_name else band_name] + (["mc_dropout_std"] if mc_samples > 1 else [])
    passes = 1 + (mc_samples if mc_samples > 1 else 0)  # network passes a tile: the mean, then each sample
    steps = Steps(int(np.ceil(grid.height / tile)) * int(np.ceil(grid.width / tile)) * passes, progress,
                  is_cancelled)
    with RasterWriter(path, grid.with_nodata(NODATA), len(bands), np.float32, bands) as writer:
        for row0 in range(0, grid.height, tile):
            rows = min(tile, grid.height - row0)
            strip = np.full((len(bands), rows, grid.width), np.nan, dtype=np.float32)
            for col0 in range(0, grid.width, tile):
                cols = min(tile, grid.width - col0)
                strip[:, :, col0:col0 + cols] = predict_tile(model, normalisation, target_mean, target_std,
                                                             stack_path_reader, row0, rows, col0, cols, mc_samples,
                                                             device, seed, steps)
            writer.write(strip, row0=row0)
    return path


def window_reader(stack: np.ndarray) -> Callable[[int, int, int, int], np.ndarray]:
    """Reads (bands, rows, cols) windows of an in-memory stack, NaN beyond its edges."""
    bands, height, width = stack.shape

    def read(row0: int, rows: int, col0: int, cols: int) -> np.ndarray:
        out = np.full((bands, rows, cols), np.nan, dtype=np.float32)
        r0, r1 = max(row0, 0), min(row0 + rows, height)
        c0, c1 = max(col0, 0), min(col0 + cols, width)
        if r1 > r0 and c1 > c0:
            out[:, r0 - row0:r1 - row0, c0 - col0:c1 - col0] = stack[:, r0:r1, c0:c1]
        return out

    return read


def model_description(trained: TrainedSurface, settings: CnnSettings, band_names: Sequence[str], grid: RasterGrid,
                      target_field: str, units: str, plugin_version: str) -> dict:
    return {
        "plugin_version": plugin_version, "architecture": trained.model.architecture(),
        "band_names": list(band_names), "normalisation": trained.normalisation.as_dict(),
        "target": {"field": target_field, "units": units, "mean": trained.target_mean, "std": trained.target_std},
        "patch_size": settings.patch_size, "cell_size": [grid.dx, grid.dy], "crs_wkt": grid.crs_wkt,
        "settings": settings.as_dict(), "metrics": trained.metrics, "history": trained.history.as_dict(),
        "points": {"used": int(len(trained.used)), "excluded_outside": trained.excluded_outside,
                   "excluded_nodata": trained.excluded_nodata, "padded_patches": trained.padded},
    }


def save_patch_cnn(path: str, model: PatchCNN, description: dict) -> List[str]:
    """Write a trained patch CNN as a model file of kind ``patch-cnn`` (`ml.model_files`)."""
    return save_model(path, MODEL_KIND, model.state_dict(), description)


def load_patch_cnn(path: str):
    """(PatchCNN in eval mode, description) from a model file of kind ``patch-cnn``; refuses a damaged file
    (a description without the architecture, normalisation or target the network needs, weights that do not
    match the declared architecture) with a ValueError naming the file."""
    state, description = read_model(path, (MODEL_KIND,))
    bands = len(description["band_names"])
    normalisation = description["normalisation"]
    check_entries(path, "the normalisation", normalisation, ("method", "offset", "scale"))
    extra = sorted(set(normalisation) - {"method", "offset", "scale"})
    if extra:
        raise model_file_error(path, f"the normalisation has unknown entries {', '.join(map(repr, extra))}")
    if normalisation["method"] not in NORMALISATIONS:
        raise model_file_error(path, f"unknown normalisation {normalisation['method']!r}")
    check_numbers(path, "the normalisation's offset", normalisation["offset"], bands)
    check_numbers(path, "the normalisation's scale", normalisation["scale"], bands, nonzero=True)
    target = description["target"]
    check_entries(path, "the target", target, ("field", "units", "mean", "std"))
    if not (is_number(target["mean"]) and is_number(target["std"]) and target["std"] > 0):
        raise model_file_error(path, "the target's mean and std are not finite numbers with std > 0")
    model = build_network(path, description["architecture"], ("bands", "patch_size", "filters", "dense", "dropout"),
                          PatchCNN)
    if model.bands != bands:
        raise model_file_error(path, f"the architecture declares {model.bands} factor band(s), the description "
                                     f"names {bands}")
    return load_weights(path, model, state).eval(), description
