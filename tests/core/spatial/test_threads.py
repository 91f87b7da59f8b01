"""Kriging with torch leaves torch's process-wide thread setting alone (never calls set_num_threads)."""
import numpy as np
import torch

from subsidence_plugin.core.spatial.interpolation import LocalKriging
from subsidence_plugin.core.spatial.variogram import Variogram


def test_kriging_never_changes_torch_threads(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n))
    rng = np.random.default_rng(0)
    x, y = rng.uniform(0, 1000, (2, 200))
    z = rng.normal(size=200)
    LocalKriging(x, y, z, Variogram("spherical", 1.0, 300.0, 0.0), k=16, device=torch.device("cpu")).predict(x, y)
    assert calls == []
