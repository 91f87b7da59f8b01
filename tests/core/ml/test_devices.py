"""Device choice and the CPU fall-back on GPU out-of-memory."""
import pytest
import torch

from subsidence_plugin.core.ml.devices import choose_device, describe, with_cpu_fallback


def test_choice_and_refusals():
    assert choose_device("cpu").type == "cpu"
    auto = choose_device()
    assert auto.type == ("cuda" if torch.cuda.is_available() else auto.type)
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
