"""Model files: ``<name>.pt`` (weights and the JSON description) beside ``<name>.json`` (the same description,
readable). One format for every model of the plugin, ``subsidence-model/1``, whose ``kind`` says what the
weights are and who builds the model from them:

* ``patch-cnn``: the patch CNN of seed 000 (`core.surface.patch_cnn`);
* ``susceptibility-cnn``: the per-pixel factor-vector CNN of seed 002 (`core.susceptibility.cnn`);
* ``frequency-ratio``: seed 002's frequency-ratio model (no weights: the class tables are in the description);
* ``series-network``: the recurrent networks of point series of seeds 001 and 004 (`core.timeseries.series_models`;
  ``series-lstm``, the earlier name of seed 001's LSTM alone, is read too).

The description of a raster model always holds the factor band names and order, the cell size and the CRS of
the training stack (checked by `compatibility_problems` before a model is applied), plus the target, settings,
metrics and plugin version; a series model holds its step features, their scaling and its window instead. Files of the earlier formats (``subsidence-patch-cnn/1``, ``subsidence-susceptibility/1``) are read too.

A damaged file is refused with a ValueError naming the file and what is wrong: `read_model` checks the keys
every kind needs (`COMMON_KEYS`, `KIND_KEYS`) and that a kind with weights holds them; the loaders of each kind
build the declared network (`build_network`) and load the weights only when every name and shape matches it
(`load_weights`).
"""
from __future__ import annotations

import json
import math
import os
import uuid
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from ..io.grid import RasterGrid, spatial_reference

MODEL_FORMAT = "subsidence-model/1"
KINDS = ("patch-cnn", "susceptibility-cnn", "frequency-ratio", "series-network", "series-lstm")
RASTER_KINDS = ("patch-cnn", "susceptibility-cnn", "frequency-ratio")
_EARLIER_FORMATS = {"subsidence-patch-cnn/1": "patch-cnn", "subsidence-susceptibility/1": "susceptibility-cnn"}
COMMON_KEYS = ("band_names", "cell_size", "crs_wkt", "architecture")  # in every raster kind's description
KIND_KEYS = {"patch-cnn": ("normalisation", "target"), "susceptibility-cnn": ("encoder",),
             "frequency-ratio": ("encoder",), "series-network": ("architecture", "features", "scaling"),
             "series-lstm": ("architecture", "features", "scaling")}
WEIGHTED_KINDS = ("patch-cnn", "susceptibility-cnn", "series-network", "series-lstm")


def save_model(path: str, kind: str, state_dict: Optional[dict], description: dict) -> List[str]:
    """Write ``path`` (.pt: weights + description) and the readable .json beside it, each atomically; returns
    both paths. ``state_dict`` is None for a model without weights (``frequency-ratio``)."""
    import torch

    if kind not in KINDS:
        raise ValueError(f"Unknown model kind {kind!r}; use one of {', '.join(KINDS)}")
    description = {"format": MODEL_FORMAT, "kind": kind, **description}
    base = os.path.splitext(path)[0]
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    text = json.dumps(description, indent=2, default=float)
    written = []
    for target, write in ((base + ".pt", lambda f: torch.save({"description": text, "state_dict": state_dict}, f)),
                          (base + ".json", lambda f: f.write(text.encode("utf-8")))):
        tmp = os.path.join(folder, f".{os.path.basename(target)}.{uuid.uuid4().hex}.tmp")
        try:
            with open(tmp, "wb") as fh:
                write(fh)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        written.append(target)
    return written


def read_model(path: str, kinds: Sequence[str] = KINDS) -> Tuple[Optional[dict], dict]:
    """(state dict or None, description with its ``kind``) of a model file; refuses files that are not models
    of this plugin, whose kind is not among ``kinds``, whose description lacks a key its kind needs
    (`COMMON_KEYS`, `KIND_KEYS`) or whose kind needs weights the file does not hold."""
    import torch

    if not os.path.exists(path):
        raise ValueError(f"Model file not found: {path}")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
        description = json.loads(content["description"])
    except Exception as error:  # a file that is not a model of this plugin
        raise ValueError(f"{path} is not a model file of this plugin ({error})") from error
    if not isinstance(description, dict):
        raise ValueError(f"{path} is not a model file of this plugin (its description is not a JSON object)")
    kind = description.get("kind") if description.get("format") == MODEL_FORMAT else \
        _EARLIER_FORMATS.get(description.get("format"))
    architecture = description.get("architecture")
    if kind == "susceptibility-cnn" and isinstance(architecture, dict) and \
            architecture.get("type") == "frequency_ratio":
        kind = "frequency-ratio"
    if kind not in KINDS:
        raise ValueError(f"{path} is not a model file of this plugin (format {description.get('format')!r})")
    if kind not in kinds:
        raise ValueError(f"{path} holds a {kind} model; this needs one of: {', '.join(kinds)}")
    problem = _description_problem(description, kind)
    if problem is not None:
        raise model_file_error(path, problem)
    state = content.get("state_dict") or None
    if kind in WEIGHTED_KINDS:
        if not isinstance(state, dict):
            raise model_file_error(path, f"the file holds no weights (a {kind} model needs them)")
        if not all(isinstance(key, str) and isinstance(value, torch.Tensor) for key, value in state.items()):
            raise model_file_error(path, "the weights are not a table of named tensors")
    description["kind"] = kind
    return state, description


def model_file_error(path: str, problem: str) -> ValueError:
    """The error for a damaged model file: ``<path>: <problem>``."""
    return ValueError(f"{path}: {problem}")


def is_number(value) -> bool:
    """True for a finite int or float of JSON (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _description_problem(description: dict, kind: str) -> Optional[str]:
    """What is wrong with the keys every model of ``kind`` needs, or None."""
    for key in (COMMON_KEYS if kind in RASTER_KINDS else ()) + KIND_KEYS[kind]:
        if key not in description:
            return f"the description lacks {key!r}"
    if kind not in RASTER_KINDS:
        return next((f"the description's {key} is not a JSON object" for key in KIND_KEYS[kind]
                     if not isinstance(description[key], dict)), None)
    names = description["band_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "the description's band_names is not a list of factor band names"
    cell = description["cell_size"]
    if not (isinstance(cell, list) and len(cell) == 2 and all(is_number(v) and v > 0 for v in cell)):
        return f"the description's cell_size {cell!r} is not two positive numbers (x, y)"
    if not isinstance(description["crs_wkt"], str):
        return "the description's crs_wkt is not a text"
    for key in ("architecture",) + KIND_KEYS[kind]:
        if not isinstance(description[key], dict):
            return f"the description's {key} is not a JSON object"
    return None


def check_entries(path: str, what: str, entries: dict, keys: Sequence[str]) -> None:
    """Refuse a part of a description (``what``, e.g. "the normalisation") that lacks one of ``keys``."""
    missing = [key for key in keys if key not in entries]
    if missing:
        raise model_file_error(path, f"{what} lacks {', '.join(repr(k) for k in missing)}")


def check_numbers(path: str, what: str, values, count: Optional[int] = None, nonzero: bool = False) -> None:
    """Refuse ``values`` (``what``) unless they are a list of finite numbers (``count`` of them, when given;
    none of them 0 if ``nonzero``)."""
    if not isinstance(values, list) or not all(is_number(v) for v in values):
        raise model_file_error(path, f"{what} is not a list of finite numbers")
    if count is not None and len(values) != count:
        raise model_file_error(path, f"{what} holds {len(values)} value(s) instead of {count}")
    if nonzero and any(v == 0 for v in values):
        raise model_file_error(path, f"{what} holds a 0")


def build_network(path: str, architecture: dict, keys: Sequence[str], build: Callable):
    """``build(*architecture[k] for k in keys)``: the network a model file declares; refuses an architecture
    that lacks a key or that cannot be built."""
    check_entries(path, "the architecture", architecture, keys)
    try:
        return build(*(architecture[key] for key in keys))
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise model_file_error(path, f"the declared architecture cannot be built ({error})") from error


def _listed(items: List[str], limit: int = 3) -> str:
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def load_weights(path: str, model, state: dict):
    """Load ``state`` into ``model`` (built from the file's declared architecture) and return the model;
    refuses weights whose names or shapes differ from the architecture's, or that are not finite."""
    import torch

    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    shapes = [f"{key} {tuple(state[key].shape)} instead of {tuple(value.shape)}" for key, value in expected.items()
              if key in state and tuple(state[key].shape) != tuple(value.shape)]
    details = [f"{what} {_listed(items)}" for what, items in
               (("missing", missing), ("unexpected", unexpected), ("shapes", shapes)) if items]
    if details:
        raise model_file_error(path, f"the weights do not match the declared architecture ({'; '.join(details)})")
    broken = [key for key, value in state.items()
              if value.is_floating_point() and not bool(torch.isfinite(value).all())]
    if broken:
        raise model_file_error(path, f"the weights hold NaN or infinite values ({_listed(broken)})")
    model.load_state_dict(state)
    return model


def compatibility_problems(description: dict, band_names: Sequence[str], grid: RasterGrid) -> List[str]:
    """What differs between a model's training stack and a stack to apply it to (empty when compatible)."""
    problems = []
    expected = description["band_names"]
    if list(band_names) != list(expected):
        missing = [b for b in expected if b not in band_names]
        extra = [b for b in band_names if b not in expected]
        detail = []
        if missing:
            detail.append(f"missing {', '.join(missing)}")
        if extra:
            detail.append(f"unexpected {', '.join(extra)}")
        if not missing and not extra:
            detail.append("same bands in another order")
        problems.append(f"factor bands differ ({'; '.join(detail)}): the model needs {', '.join(expected)}")
    dx, dy = description["cell_size"]
    if not (np.isclose(grid.dx, dx, rtol=1e-6) and np.isclose(grid.dy, dy, rtol=1e-6)):
        problems.append(f"cell size {grid.dx:g} x {grid.dy:g} differs from the model's {dx:g} x {dy:g}")
    trained_crs = description.get("crs_wkt", "")
    if bool(trained_crs) != bool(grid.crs_wkt) or (
            trained_crs and not spatial_reference(trained_crs).IsSame(spatial_reference(grid.crs_wkt))):
        name = spatial_reference(trained_crs).GetName() if trained_crs else "none"
        problems.append(f"CRS differs from the model's ({name})")
    return problems
