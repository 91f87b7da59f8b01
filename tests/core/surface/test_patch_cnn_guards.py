"""Patch CNN guards (issue 11): a stack smaller than the patch is refused; a cancel during Monte Carlo dropout
stops between samples; the written prediction and spread are those of the plain computation."""
import numpy as np
import pytest
import torch

from subsidence_plugin.core.io.grid import RasterGrid, crs_wkt_from_epsg
from subsidence_plugin.core.io.rasters import read_raster
from subsidence_plugin.core.ml.samplers import Normalisation
from subsidence_plugin.core.ml.training import seeded_torch, torch_threads
from subsidence_plugin.core.progress import Cancelled
from subsidence_plugin.core.surface.network import PatchCNN
from subsidence_plugin.core.surface.patch_cnn import (CnnSettings, predict_surface, predict_tile, tile_seed,
                                                   train_surface_cnn, window_reader)

UTM = crs_wkt_from_epsg(32633)


def _stack(rows, cols):
    rng = np.random.default_rng(0)
    grid = RasterGrid.from_origin(500000.0, 4000000.0 + rows * 30, 30.0, cols, rows, UTM)
    return rng.standard_normal((2, rows, cols)).astype(np.float32), grid


@pytest.mark.parametrize("rows, cols, patch, advice", [
    (20, 40, 22, r"smaller than the 22 x 22-cell patch: the network needs at least 22 x 22 cells; use kriging or "
                 r"IDW"),
    (40, 25, 30, r"\(25 x 40 cells\) is smaller than the 30 x 30-cell patch: use a patch size of at most 25 cells "
                 r"\(the network needs at least 22\)"),
])
def test_a_stack_smaller_than_the_patch_is_refused(rows, cols, patch, advice):
    stack, grid = _stack(rows, cols)
    x, y = grid.cell_centres(np.arange(100) % rows, np.arange(100) % cols)
    settings = CnnSettings(patch_size=patch, filters=(4, 8, 8), dense=(16, 8))
    with pytest.raises(ValueError, match=advice):
        train_surface_cnn(stack, grid, x, y, np.arange(100.0), settings)


def _model():
    torch.manual_seed(1)
    return PatchCNN(2, 22, (4, 8, 8), (16, 8), dropout=0.3).eval()


def test_cancel_stops_between_monte_carlo_samples(tmp_path):
    """Cancel used to be checked once per tile, after all its samples (28 s on a real stack)."""
    stack, grid = _stack(30, 30)
    model = _model()
    passes = []
    dense_forward = model.dense_forward
    model.dense_forward = lambda *args, **kwargs: passes.append(1) or dense_forward(*args, **kwargs)
    checks = []

    def cancelled_after_three_checks():
        checks.append(1)
        return len(checks) > 3

    with pytest.raises(Cancelled):
        predict_surface(model, Normalisation("none", [0.0, 0.0], [1.0, 1.0]), 0.0, 1.0, window_reader(stack), grid,
                        str(tmp_path / "surface.tif"), "v", mc_samples=50, is_cancelled=cancelled_after_three_checks)
    assert len(checks) == 4 and len(passes) == 3  # the mean and two samples of one tile, not 51 passes
    assert list(tmp_path.iterdir()) == []


def test_monte_carlo_prediction_reports_each_pass_and_equals_the_plain_computation(tmp_path):
    stack, grid = _stack(30, 30)
    model = _model()
    normalisation = Normalisation("none", [0.0, 0.0], [1.0, 1.0])
    reports = []
    path = predict_surface(model, normalisation, 2.0, 3.0, window_reader(stack), grid, str(tmp_path / "s.tif"), "v",
                           mc_samples=4, tile=20, progress=lambda percent, message: reports.append(percent))
    percents = np.array(reports)
    assert len(percents) == 4 * 5 and np.all(np.diff(percents) > 0) and percents[-1] == 100.0
    written = read_raster(path)
    x = torch.from_numpy(normalisation.apply(window_reader(stack)(-11, 30 + 21, -11, 30 + 21))[None])
    with seeded_torch(0), torch.no_grad():  # one tile at a time, as predict_surface draws them
        mean = model.dense_forward(x)[0].numpy().astype(np.float64)
    np.testing.assert_allclose(written.band(0), mean * 3.0 + 2.0, rtol=1e-6)
    with seeded_torch(tile_seed(0, 0, 0)), torch.no_grad():  # each tile's draws from its own seed
        tile = torch.from_numpy(normalisation.apply(window_reader(stack)(-11, 20 + 21, -11, 20 + 21))[None])
        model.dense_forward(tile)
        draws = np.stack([model.dense_forward(tile, mc_dropout=True)[0].numpy() for _ in range(4)])
    np.testing.assert_array_equal(written.band(1)[:20, :20], (draws.std(axis=0) * 3.0).astype(np.float32))


def test_a_tile_predicted_on_one_torch_thread_leaves_the_thread_count_as_it_was():
    stack, _ = _stack(30, 30)
    model = _model()
    normalisation = Normalisation("none", [0.0, 0.0], [1.0, 1.0])
    before = torch.get_num_threads()
    one = predict_tile(model, normalisation, 2.0, 3.0, window_reader(stack), 0, 20, 0, 20, threads=1)
    assert torch.get_num_threads() == before
    with torch_threads(1):
        assert torch.get_num_threads() == 1
        with torch.no_grad():
            x = torch.from_numpy(normalisation.apply(window_reader(stack)(-11, 20 + 21, -11, 20 + 21))[None])
            mean = model.dense_forward(x)[0].numpy().astype(np.float64)
    assert torch.get_num_threads() == before
    np.testing.assert_array_equal(one[0], mean * 3.0 + 2.0)
