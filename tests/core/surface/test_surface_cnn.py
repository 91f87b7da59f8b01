"""The patch CNN: patches, exact dense evaluation, training that learns and repeats, model files."""
import json
import os

import numpy as np
import pytest
import torch

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.core.ml.model_files import compatibility_problems, read_model, save_model
from subsidence_plugin.core.ml.samplers import PatchSampler, fit_normalisation
from subsidence_plugin.core.ml.training import TrainingSettings
from subsidence_plugin.core.progress import Cancelled
from subsidence_plugin.core.stats.splits import random_split
from subsidence_plugin.core.surface.network import PatchCNN
from subsidence_plugin.core.surface.patch_cnn import (CnnSettings, load_patch_cnn, locate_points, model_description,
                                                      predict_surface, save_patch_cnn, train_surface_cnn, window_reader)

SMALL = dict(patch_size=22, filters=(4, 8, 8), dense=(32, 16))


def _problem(n_points=400, size=64, seed=0):
    """Two smooth factors; the target is a known function of the factors at each point's cell."""
    rng = np.random.default_rng(seed)
    grid = RasterGrid.from_origin(500000.0, 4000000.0 + size * 30, 30.0, size, size, crs_wkt_from_epsg(32633))
    yy, xx = np.mgrid[0:size, 0:size] / size
    stack = np.stack([np.sin(3 * xx) + yy, np.cos(2 * yy) * xx]).astype(np.float32)
    stack[:, 40:44, 40:44] = np.nan
    cols, rows = rng.integers(0, size, (2, n_points))
    x, y = grid.cell_centres(rows, cols)
    target = 10 * stack[0, rows, cols] - 5 * stack[1, rows, cols]
    return stack, grid, x, y, target


def test_patch_centre_padding_and_normalisation():
    stack = np.arange(2 * 6 * 7, dtype=np.float32).reshape(2, 6, 7)
    sampler = PatchSampler(stack, 4)  # rows r-2 .. r+1
    raw = sampler.raw(np.array([0, 3]), np.array([0, 3]))
    assert raw.shape == (2, 2, 4, 4)
    assert raw[1, 0, 2, 2] == stack[0, 3, 3] and raw[1, 1, 0, 0] == stack[1, 1, 1]
    assert np.isnan(raw[0, :, :2, :]).all() and raw[0, 0, 2, 2] == stack[0, 0, 0]
    norm = fit_normalisation(sampler, np.array([3]), np.array([3]))
    np.testing.assert_allclose(norm.offset, [stack[0, 1:5, 1:5].mean(), stack[1, 1:5, 1:5].mean()], rtol=1e-6)
    sampler.normalisation = norm
    assert sampler.batch(np.array([0]), np.array([0]))[0, 0, 0, 0] == 0.0  # outside -> the training mean
    train, val, test = random_split(100, (0.8, 0.1, 0.1), seed=3)
    assert (len(train), len(val), len(test)) == (80, 10, 10) and len(set(train) | set(val) | set(test)) == 100


@pytest.mark.parametrize("patch_size", [22, 30, 31])
def test_dense_prediction_equals_per_patch(patch_size):
    torch.manual_seed(patch_size)
    model = PatchCNN(3, patch_size, (4, 8, 8), (16, 8))
    for block in model.blocks:
        block["norm"].running_mean.uniform_(-0.5, 0.5)
        block["norm"].running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.randn(1, 3, patch_size + 20, patch_size + 13)
    dense = model.dense_forward(x)[0]
    patches = torch.stack([x[0, :, i:i + patch_size, j:j + patch_size] for i in range(21) for j in range(14)])
    with torch.no_grad():
        np.testing.assert_allclose(dense.detach().numpy(), model(patches).reshape(21, 14).numpy(), atol=1e-5)


def test_dense_prediction_of_the_default_network_in_strips_equals_per_patch(monkeypatch):
    from subsidence_plugin.core.surface import network as patch_cnn

    torch.manual_seed(0)
    model = PatchCNN(12, 30)  # the default filters and dense layers
    for block in model.blocks:
        block["norm"].running_mean.uniform_(-0.5, 0.5)
        block["norm"].running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.randn(2, 12, 30 + 12, 30 + 9)
    monkeypatch.setattr(patch_cnn, "STRIP_PIXELS", 33 * x.shape[-1])  # strips of 4 output rows
    monkeypatch.setattr(patch_cnn, "HEAD_PIXELS", 64)  # dense layers 3 rows at a time
    dense = model.dense_forward(x)
    patches = x.unfold(2, 30, 1).unfold(3, 30, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12, 30, 30)
    with torch.no_grad():
        np.testing.assert_allclose(dense.numpy(), model(patches).reshape(2, 13, 10).numpy(), atol=1e-5)


def test_training_learns_repeats_and_predicts_densely(tmp_path):
    stack, grid, x, y, target = _problem()
    settings = CnnSettings(**SMALL, training=TrainingSettings(epochs=25, batch_size=32, learning_rate=3e-3, seed=4))
    first = train_surface_cnn(stack, grid, x, y, target, settings)
    again = train_surface_cnn(stack, grid, x, y, target, settings)
    assert first.history.train_loss == again.history.train_loss  # seeded: identical on the CPU
    rows, cols, _ = grid.cell_of(x, y)
    in_hole = (rows >= 40) & (rows < 44) & (cols >= 40) & (cols < 44)
    assert first.excluded_nodata == in_hole.sum() and len(first.used) == len(x) - in_hole.sum()
    assert first.metrics["test"]["r2"] > 0.9
    assert first.history.train_loss[-1] < 0.2 * first.history.train_loss[0]
    out = predict_surface(first.model, first.normalisation, first.target_mean, first.target_std,
                          window_reader(stack), grid, str(tmp_path / "surface.tif"), "v", mc_samples=4, tile=17)
    surface = read_raster(out)
    assert surface.band_names == ["v", "mc_dropout_std"]
    assert np.isnan(surface.band(0)[40:44, 40:44]).all()
    sampler = PatchSampler(stack, 22, first.normalisation)
    rows, cols, ok, _, _ = locate_points(grid, sampler, x, y)
    per_point = first.predict_values(sampler, rows[ok], cols[ok])
    np.testing.assert_allclose(surface.band(0)[rows[ok], cols[ok]], per_point, atol=1e-4)
    assert np.nanmean(surface.band(1)) > 0


def test_model_file_round_trip_and_compatibility(tmp_path):
    stack, grid, x, y, target = _problem(n_points=120)
    settings = CnnSettings(**SMALL, training=TrainingSettings(epochs=2, batch_size=32, seed=1))
    trained = train_surface_cnn(stack, grid, x, y, target, settings)
    description = model_description(trained, settings, ["a", "b"], grid, "velocity", "mm/yr", "0.1.0")
    written = save_patch_cnn(str(tmp_path / "model.pt"), trained.model, description)
    assert sorted(os.path.basename(p) for p in written) == ["model.json", "model.pt"]
    readable = json.load(open(tmp_path / "model.json"))
    assert readable["band_names"] == ["a", "b"] and readable["target"]["units"] == "mm/yr"
    assert readable["format"] == "subsidence-model/1" and readable["kind"] == "patch-cnn"
    model, loaded = load_patch_cnn(str(tmp_path / "model.pt"))
    probe = torch.randn(3, 2, 22, 22)
    with torch.no_grad():
        np.testing.assert_array_equal(model(probe).numpy(), trained.model(probe).numpy())
    assert compatibility_problems(loaded, ["a", "b"], grid) == []
    other = RasterGrid.from_origin(0, 0, 10.0, 5, 5, crs_wkt_from_epsg(32634))
    problems = compatibility_problems(loaded, ["b", "a"], other)
    assert len(problems) == 3 and "another order" in problems[0] and "cell size" in problems[1]
    assert "missing b" in compatibility_problems(loaded, ["a", "c"], grid)[0]
    (tmp_path / "junk.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a model file"):
        load_patch_cnn(str(tmp_path / "junk.pt"))
    save_model(str(tmp_path / "fr.pt"), "frequency-ratio", None, description)
    with pytest.raises(ValueError, match="holds a frequency-ratio model"):
        load_patch_cnn(str(tmp_path / "fr.pt"))


def test_model_files_of_the_earlier_format_are_read(tmp_path):
    """A patch-CNN file written before model files had a kind (format subsidence-patch-cnn/1, with the keys its
    model_description wrote)."""
    model = PatchCNN(2, 22, (4, 8, 8), (32, 16))
    description = {"format": "subsidence-patch-cnn/1", "plugin_version": "0.1.0", "architecture": model.architecture(),
                   "band_names": ["a", "b"], "normalisation": {"method": "zscore", "offset": [0.0, 1.0],
                                                               "scale": [1.0, 2.0]},
                   "target": {"field": "v", "units": "mm/yr", "mean": 0.0, "std": 1.0}, "patch_size": 22,
                   "cell_size": [30.0, 30.0], "crs_wkt": crs_wkt_from_epsg(32633)}
    torch.save({"description": json.dumps(description), "state_dict": model.state_dict()}, str(tmp_path / "old.pt"))
    state, loaded = read_model(str(tmp_path / "old.pt"))
    assert loaded["kind"] == "patch-cnn" and set(state) == set(model.state_dict())
    again, _ = load_patch_cnn(str(tmp_path / "old.pt"))
    probe = torch.randn(2, 2, 22, 22)
    with torch.no_grad():
        np.testing.assert_array_equal(again(probe).numpy(), model.eval()(probe).numpy())


def test_refusals_and_cancel():
    stack, grid, x, y, target = _problem(n_points=20)
    with pytest.raises(ValueError, match="at least 30.*kriging or IDW"):
        train_surface_cnn(stack, grid, x, y, target, CnnSettings(**SMALL))
    stack, grid, x, y, target = _problem(n_points=100)
    with pytest.raises(Cancelled):
        train_surface_cnn(stack, grid, x, y, target, CnnSettings(**SMALL, training=TrainingSettings(epochs=3)),
                          is_cancelled=lambda: True)
    with pytest.raises(ValueError, match="too small"):
        PatchCNN(2, 16)


def test_padded_patches_by_summed_area_equal_a_direct_check():
    rng = np.random.default_rng(5)
    stack = rng.standard_normal((2, 40, 50)).astype(np.float32)
    stack[1, 10:12, 30:33] = np.nan
    sampler = PatchSampler(stack, 22)
    rows, cols = rng.integers(-3, 43, 300), rng.integers(-3, 53, 300)
    direct = np.isnan(sampler.raw(rows, cols)).any(axis=(1, 2, 3))
    np.testing.assert_array_equal(sampler.padded(rows, cols), direct)
