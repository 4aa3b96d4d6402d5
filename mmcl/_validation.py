"""Input checks shared by every public entry point: clear errors, never a crash in
torch."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch

_FLOAT_DTYPES = (torch.float32, torch.float64)


def as_tensor(value, name: str, *, dtype=None, device=None) -> torch.Tensor:
    """Convert array-likes (numpy, lists) to a tensor; tensors keep device and dtype."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            t = torch.from_numpy(np.ascontiguousarray(value))
            if not t.is_floating_point():
                t = t.to(torch.get_default_dtype())
            return t.to(device=device, dtype=dtype or t.dtype)
    except ImportError:  # pragma: no cover
        pass
    try:
        return torch.as_tensor(
            value, dtype=dtype or torch.get_default_dtype(), device=device
        )
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a tensor or array-like of numbers, got "
            f"{type(value).__name__}"
        ) from err


def check_matrix(
    value, name: str, *, min_rows: int = 1, batch: bool = True, finite: bool = True
) -> torch.Tensor:
    """A float32/float64 tensor of shape (..., rows, cols) with finite entries
    (``finite=False``: the caller checks finiteness itself, e.g. folded into a reduction
    it needs anyway)."""
    t = as_tensor(value, name)
    if t.ndim < 2 or (not batch and t.ndim != 2):
        allowed = (
            "(rows, cols) or (replicates, rows, cols)" if batch else "(rows, cols)"
        )
        raise ValueError(
            f"{name} must have shape {allowed}, got shape {tuple(t.shape)}"
        )
    if t.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if t.shape[-2] < min_rows or t.shape[-1] < 1:
        raise ValueError(
            f"{name} needs at least {min_rows} rows and 1 column, got shape "
            f"{tuple(t.shape)}"
        )
    if finite and not bool(torch.isfinite(t).all()):
        raise ValueError(
            f"{name} contains NaN or inf entries; all entries must be finite"
        )
    return t


def check_same_device(**tensors: torch.Tensor) -> None:
    """All tensors on one device and of one dtype."""
    items = [(k, v) for k, v in tensors.items() if v is not None]
    if not items:
        return
    k0, v0 = items[0]
    for k, v in items[1:]:
        if v.device != v0.device:
            raise ValueError(
                f"{k} is on {v.device} but {k0} is on {v0.device}; move them to one "
                "device"
            )
        if v.dtype != v0.dtype:
            raise TypeError(
                f"{k} has dtype {v.dtype} but {k0} has {v0.dtype}; use one dtype"
            )


def check_pair(
    X, Y, *, min_rows: int = 2, finite: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paired data: X (..., n, d1), Y (..., n, d2) with one leading shape (..., n)."""
    X = check_matrix(X, "X", min_rows=min_rows, finite=finite)
    Y = check_matrix(Y, "Y", min_rows=min_rows, finite=finite)
    check_same_device(X=X, Y=Y)
    if X.shape[:-1] != Y.shape[:-1]:
        raise ValueError(
            "X and Y must have the same leading shape (..., n): got X "
            f"{tuple(X.shape)} and Y {tuple(Y.shape)}"
        )
    return X, Y


def check_int(value, name: str, *, low: int = 1, high: int | None = None) -> int:
    """An integer in [low, high]."""
    if (
        isinstance(value, torch.Tensor)
        and value.ndim == 0
        and not value.is_floating_point()
    ):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        rng = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {rng}, got {value}")
    return value


def check_rank(r, d1: int, d2: int, n: int | None = None) -> int:
    """The representation dimension: 1 <= r <= min(d1, d2) (and r <= n when given)."""
    high = min(d1, d2) if n is None else min(d1, d2, n)
    what = "min(d1, d2)" if n is None else "min(n, d1, d2)"
    r = check_int(r, "r", low=-(2**63))  # the type check; the range is checked below
    if not 1 <= r <= high:
        raise ValueError(f"r must satisfy 1 <= r <= {what} = {high}, got r = {r}")
    return r


def check_real(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real number in the given (open or closed) interval."""
    if isinstance(value, bool) or not isinstance(value, Real):
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        else:
            raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be finite, got {value}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        lo_value = "-inf" if low is None else low
        hi_value = "inf" if high is None else high
        rng = f"{lo}{lo_value}, {hi_value}{hi}"
        raise ValueError(f"{name} must be in {rng}, got {value}")
    return value


def check_tau(tau) -> float:
    """The temperature: tau > 0."""
    return check_real(tau, "tau", low=0.0, low_open=True)


def check_rho(rho) -> float:
    """The regularisation strength: rho > 0."""
    return check_real(rho, "rho", low=0.0, low_open=True)


def check_fraction(value, name: str = "eta") -> float:
    """A fraction in [0, 1]."""
    return check_real(value, name, low=0.0, high=1.0)


def check_dtype(dtype, name: str = "dtype") -> torch.dtype:
    """A floating dtype argument: torch.float32 or torch.float64."""
    if dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must be torch.float32 or torch.float64, got {dtype}")
    return dtype


def check_similarities(s, name: str = "similarities") -> int:
    """A square similarity (or weight) matrix (..., n, n) with n >= 2; returns n."""
    if not isinstance(s, torch.Tensor) or s.ndim < 2 or s.shape[-1] != s.shape[-2]:
        got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
        raise ValueError(f"{name} must be a tensor of shape (..., n, n), got {got}")
    if s.shape[-1] < 2:
        raise ValueError(f"contrastive losses need n >= 2 pairs, got n = {s.shape[-1]}")
    return s.shape[-1]


def check_labels(labels, name: str, n: int | None = None) -> torch.Tensor:
    """Class labels: a 1-d integer tensor of indices >= 0 (n of them when given), as
    long."""
    if (
        not isinstance(labels, torch.Tensor)
        or labels.ndim != 1
        or labels.is_floating_point()
    ):
        raise TypeError(f"{name} must be a 1-d integer tensor of class indices")
    if n is not None and labels.shape[0] != n:
        raise ValueError(
            f"{name} must have {n} entries (one per row), got {labels.shape[0]}"
        )
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"{name} must hold class indices >= 0")
    return labels.long()
