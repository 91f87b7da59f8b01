"""Device choice and the CPU fall-back on GPU out-of-memory."""
import pytest
import torch

from subsidence_plugin.core.ml.devices import choose_device, describe, with_cpu_fallback


def test_choice_and_refusals():
    assert choose_device("cpu").type == "cpu"
    assert describe(choose_device("cpu")).startswith("cpu (")
    with pytest.raises(ValueError, match="Unknown device"):
        choose_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            choose_device("cuda")


def test_out_of_memory_falls_back_to_the_cpu():
    calls, messages = [], []

    def run(device):
        calls.append(device.type)
        if device.type != "cpu":
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return 42

    assert with_cpu_fallback(run, torch.device("cuda"), messages.append) == 42
    assert calls == ["cuda", "cpu"] and "ran out of memory" in messages[0]
    with pytest.raises(RuntimeError, match="other"):
        with_cpu_fallback(lambda d: (_ for _ in ()).throw(RuntimeError("other")), torch.device("cuda"))


def test_training_and_mc_dropout_leave_the_process_generators_alone(tmp_path):
    """QGIS hosts other plugins: torch's and numpy's global generators are as before a training and a Monte
    Carlo dropout prediction, and a second run gives the same weights (the run's own streams are seeded)."""
    import numpy as np
    from torch import nn

    from subsidence_plugin.core.ml.training import TrainingSettings, train_model

    torch.manual_seed(123)
    np.random.seed(7)
    torch_state, numpy_state = torch.random.get_rng_state(), np.random.get_state()
    inputs = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    targets = inputs.sum(axis=1).astype(np.float32)

    def build():
        return nn.Sequential(nn.Linear(3, 8), nn.Dropout(0.2), nn.Linear(8, 1), nn.Flatten(0))

    settings = TrainingSettings(epochs=3, batch_size=16, learning_rate=1e-2, seed=5)
    runs = [train_model(build, lambda idx: (inputs[idx], targets[idx]), np.arange(48), np.arange(48, 64), settings)[0]
            for _ in range(2)]
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state()[1:2], numpy_state[1:2]))
    for a, b in zip(runs[0].state_dict().values(), runs[1].state_dict().values()):
        assert torch.equal(a, b)


def test_automatic_choice_follows_what_the_machine_has():
    mps = getattr(torch.backends, "mps", None)
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps is not None and mps.is_available() else "cpu"
    assert choose_device().type == expected
    assert choose_device("auto") == choose_device()
