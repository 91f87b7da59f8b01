"""Where torch computations run: chosen once (CUDA, then Apple MPS, then the CPU), overridable by the user,
with a fall-back to the CPU when the GPU runs out of memory.

torch is optional for the plugin as a whole: `torch_available` tells whether it can be imported; callers that
need it say so through `dependencies.missing_message`.
"""
from __future__ import annotations

import importlib.util
from typing import Callable, Optional, TypeVar

T = TypeVar("T")
DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def choose_device(preference: str = "auto"):
    """A ``torch.device``: the preferred one if it works here, else CUDA, then MPS, then the CPU.

    Raises ValueError for an unknown preference or a requested device that is not available.
    """
    import torch

    if preference not in DEVICE_CHOICES:
        raise ValueError(f"Unknown device {preference!r}; use one of {', '.join(DEVICE_CHOICES)}")
    mps = getattr(torch.backends, "mps", None)
    available = {"cuda": torch.cuda.is_available(), "mps": bool(mps and mps.is_available()), "cpu": True}
    if preference != "auto":
        if not available[preference]:
            raise ValueError(f"The {preference} device is not available on this machine")
        return torch.device(preference)
    for name in ("cuda", "mps", "cpu"):
        if available[name]:
            return torch.device(name)
    return torch.device("cpu")


def describe(device) -> str:
    """A line for the log: the device and, for CUDA, the GPU's name."""
    import torch

    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type


def is_out_of_memory(error: BaseException) -> bool:
    """True for a GPU out-of-memory error."""
    import torch

    oom = getattr(torch.cuda, "OutOfMemoryError", ())
    return (oom and isinstance(error, oom)) or "out of memory" in str(error).lower()


def with_cpu_fallback(run: Callable[[object], T], device, report: Optional[Callable[[str], None]] = None) -> T:
    """``run(device)``; if a GPU runs out of memory, report it and run again on the CPU."""
    import torch

    try:
        return run(device)
    except RuntimeError as error:
        if device.type == "cpu" or not is_out_of_memory(error):
            raise
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if report is not None:
            report(f"The {device.type} device ran out of memory ({error}); continuing on the CPU")
        return run(torch.device("cpu"))
