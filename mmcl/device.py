"""Where to compute: the available devices and a default with overrides (chapter 7).

Every mmcl function computes on the device of the tensors it is given; this module only
answers "where should new tensors go?". The choice, first match wins: an explicit
``device`` argument, the environment variable ``MMCL_DEVICE`` (e.g.
``MMCL_DEVICE=cpu``), CUDA when available, the CPU.
"""

from __future__ import annotations

import os

import torch

__all__ = ["ENV_VAR", "available_devices", "default_device", "to_device"]

#: The environment variable that overrides the default device (e.g.
#: ``MMCL_DEVICE=cpu``).
ENV_VAR = "MMCL_DEVICE"


def available_devices() -> list[str]:
    """Device types usable here, CPU first: ``"cpu"``, then ``"cuda"``, ``"mps"`` if
    present."""
    devs = ["cpu"]
    if torch.cuda.is_available():
        devs.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devs.append("mps")
    return devs


def _parse(device, source: str) -> torch.device:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"{source} must name a torch device such as 'cpu' or 'cuda', got {device!r}"
        ) from err
    if dev.type not in available_devices():
        raise ValueError(
            f"{source} asks for device {str(dev)!r}, but only {available_devices()} "
            "are "
            "available here"
        )
    if (
        dev.type == "cuda"
        and dev.index is not None
        and dev.index >= torch.cuda.device_count()
    ):
        raise ValueError(
            f"{source} asks for {str(dev)!r}, but there are "
            f"{torch.cuda.device_count()} CUDA devices"
        )
    return dev


def default_device(device=None) -> torch.device:
    """The device to put new tensors on.

    Parameters
    ----------
    device : str or torch.device, optional  an explicit choice (wins over everything).

    Returns the argument if given, else ``$MMCL_DEVICE`` if set (and not empty), else
    ``cuda`` when available, else ``cpu``. Raises ValueError for an unknown or
    unavailable device, naming its source.
    """
    if device is not None:
        return _parse(device, "device")
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _parse(env, f"the environment variable {ENV_VAR}")
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_device(*tensors, device=None):
    """Move tensors to ``default_device(device)``.

    Parameters
    ----------
    *tensors : torch.Tensor
        The tensors to move.
    device : str or torch.device, optional
        An explicit device (see :func:`default_device`).

    Returns
    -------
    torch.Tensor or tuple of torch.Tensor
        One tensor for one argument, else a tuple.
    """
    dev = default_device(device)
    moved = tuple(t.to(dev) for t in tensors)
    return moved[0] if len(moved) == 1 else moved
