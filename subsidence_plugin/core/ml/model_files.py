"""Model files: ``<name>.pt`` (weights and the JSON description) beside ``<name>.json`` (the same description,
readable). One format for every model of the plugin, ``subsidence-model/1``, whose ``kind`` says what the
weights are and who builds the model from them:

* ``patch-cnn``: the patch CNN of seed 000 (`core.surface.patch_cnn`);
* ``susceptibility-cnn``: the per-pixel factor-vector CNN of seed 002 (`core.susceptibility.cnn`);
* ``frequency-ratio``: seed 002's frequency-ratio model (no weights: the class tables are in the description).

The description always holds the factor band names and order, the cell size and the CRS of the training stack
(checked by `compatibility_problems` before a model is applied), plus the target, settings, metrics and plugin
version. Files of the earlier formats (``subsidence-patch-cnn/1``, ``subsidence-susceptibility/1``) are read too.
"""
from __future__ import annotations

import json
import os
import uuid
from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..io.grid import RasterGrid, spatial_reference

MODEL_FORMAT = "subsidence-model/1"
KINDS = ("patch-cnn", "susceptibility-cnn", "frequency-ratio")
_EARLIER_FORMATS = {"subsidence-patch-cnn/1": "patch-cnn", "subsidence-susceptibility/1": "susceptibility-cnn"}


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
    of this plugin or whose kind is not among ``kinds``."""
    import torch

    if not os.path.exists(path):
        raise ValueError(f"Model file not found: {path}")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
        description = json.loads(content["description"])
    except Exception as error:  # a file that is not a model of this plugin
        raise ValueError(f"{path} is not a model file of this plugin ({error})") from error
    kind = description.get("kind") if description.get("format") == MODEL_FORMAT else \
        _EARLIER_FORMATS.get(description.get("format"))
    if kind == "susceptibility-cnn" and description.get("architecture", {}).get("type") == "frequency_ratio":
        kind = "frequency-ratio"
    if kind not in KINDS:
        raise ValueError(f"{path} is not a model file of this plugin (format {description.get('format')!r})")
    if kind not in kinds:
        raise ValueError(f"{path} holds a {kind} model; this needs one of: {', '.join(kinds)}")
    description["kind"] = kind
    return (content.get("state_dict") or None), description


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
