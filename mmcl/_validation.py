"""Input checks shared by every public entry point: clear errors, never a crash in
torch."""

from __future__ import annotations

import math
from numbers import Integral, Real

import torch

import numpy as np

_FLOAT_DTYPES = (torch.float32, torch.float64)


class NonFiniteError(FloatingPointError, ValueError):
    """A computation produced NaN or inf from finite input: the message names the cause
    and the argument to change (lr, tau, rho, or the scale of the data)."""


def tiny(t: torch.Tensor) -> float:
    """The smallest positive normal number of t's dtype (a floor for divisions; 1e-300
    is 0 in float32)."""
    return torch.finfo(t.dtype).tiny


def as_tensor(value, name: str, *, dtype=None, device=None) -> torch.Tensor:
    """Convert array-likes (numpy, nested lists) to a tensor; tensors keep their device
    and dtype.

    Lists go through numpy, so Python floats become float64 as they would in numpy;
    integer or boolean arrays become the default float dtype. Anything else is a
    TypeError naming ``name``.
    """
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(
            f"{name} must be a tensor or array-like of numbers, got "
            f"{type(value).__name__}"
        )
    try:
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a tensor or array-like of numbers (a ragged or "
            f"non-numeric list?), got {type(value).__name__}"
        ) from err
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got a {type(value).__name__} of dtype "
            f"{arr.dtype}"
        )
    t = torch.from_numpy(arr if arr.flags.c_contiguous else np.ascontiguousarray(arr))
    if not t.is_floating_point() or t.dtype == torch.float16:
        t = t.to(torch.get_default_dtype())
    return t.to(device=device, dtype=dtype or t.dtype)


def all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of t is finite, by one sum first: a NaN or infinite entry
    makes the sum NaN or infinite, so a finite sum settles it; only a non-finite sum
    (which finite entries can also give, by overflow) is checked entry by entry. The
    sum reads t once and allocates nothing the size of t."""
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def check_matrix(
    value,
    name: str,
    *,
    min_rows: int = 1,
    batch: bool = True,
    square: bool = False,
    finite: bool = True,
) -> torch.Tensor:
    """A float32/float64 tensor of shape (..., rows, cols) (rows == cols if ``square``)
    with finite entries (``finite=False``: the caller checks finiteness itself, e.g.
    folded into a reduction it needs anyway)."""
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
    if square and t.shape[-1] != t.shape[-2]:
        raise ValueError(
            f"{name} must be square, of shape (..., n, n), got shape {tuple(t.shape)}"
        )
    if finite and not all_finite(t):
        raise ValueError(
            f"{name} contains NaN or inf entries; all entries must be finite"
        )
    return t


def check_similarities(value, name: str = "s") -> torch.Tensor:
    """A finite float matrix (..., n, n) with n >= 2 (similarities, logits or
    weights)."""
    t = check_matrix(value, name, square=True)
    if t.shape[-1] < 2:
        raise ValueError(
            f"{name} must be (..., n, n) with n >= 2 pairs (contrastive losses need a "
            f"negative), got shape {tuple(t.shape)}"
        )
    return t


def check_vector(
    value, name: str, *, length: int | None = None, min_length: int = 1
) -> torch.Tensor:
    """A finite float tensor of shape (..., length)."""
    t = as_tensor(value, name)
    if t.dtype not in _FLOAT_DTYPES:
        raise TypeError(f"{name} must be float32 or float64, got {t.dtype}")
    if (
        t.ndim < 1
        or (length is not None and t.shape[-1] != length)
        or t.shape[-1] < min_length
    ):
        want = (
            f"(..., {length})"
            if length is not None
            else f"(..., k) with k >= {min_length}"
        )
        raise ValueError(f"{name} must have shape {want}, got shape {tuple(t.shape)}")
    if not all_finite(t):
        raise ValueError(
            f"{name} contains NaN or inf entries; all entries must be finite"
        )
    return t


def check_bool(value, name: str) -> bool:
    """A plain bool (numpy bools too); 0/1 or strings are not guessed at."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r}")


def check_choice(value, name: str, options) -> str:
    """One of a few names."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def check_index(
    value,
    name: str,
    *,
    shape,
    high: int,
    permutation: bool = False,
    rows: str = "",
    cols: str = "",
) -> torch.Tensor:
    """An integer tensor of the given shape with entries in [0, high) (each once if
    ``permutation``): hidden pairings (``match``)."""
    if not isinstance(value, torch.Tensor):
        value = as_tensor(value, name)
    if value.is_floating_point() or value.is_complex() or value.dtype == torch.bool:
        raise TypeError(
            f"{name} must be an integer (long) tensor of indices, got {value.dtype}"
        )
    if tuple(value.shape) != tuple(shape):
        raise ValueError(
            f"{name} must have shape {tuple(shape)}{rows}, got {tuple(value.shape)}"
        )
    if value.numel() and (int(value.min()) < 0 or int(value.max()) >= high):
        raise ValueError(
            f"{name} must hold indices in [0, {high}){cols}, got values in "
            f"[{int(value.min())}, {int(value.max())}]"
        )
    if permutation and value.numel():
        sorted_ = value.sort(-1).values
        if bool((sorted_[..., 1:] == sorted_[..., :-1]).any()):
            raise ValueError(
                f"{name} must pair each row with a distinct partner (no repeated index)"
            )
    return value.long()


def check_data_rank(X, name: str, r: int, *, what: str = "r") -> None:
    """Degenerate data: X (..., n, d) with zero variance, or centred rank below r."""
    Xc = X - X.mean(-2, keepdim=True)
    sv = torch.linalg.svdvals(Xc)
    top = sv[..., :1]
    if bool((top == 0).any()):
        raise ValueError(
            f"{name} has zero variance (every column constant); it carries no subspace"
        )
    tol = max(X.shape[-2], X.shape[-1]) * torch.finfo(X.dtype).eps * top
    rank = int((sv > tol).sum(-1).min())
    if rank < r:
        raise ValueError(
            f"{name} has (centred) rank {rank} < {what} = {r}: the top-{r} subspace is "
            f"not determined; lower {what} or give data of higher rank"
        )


def check_spectrum(sig: torch.Tensor, r: int, what: str, names: str) -> None:
    """Top-r singular values sig (..., r), decreasing: the r-th must be clearly
    non-zero."""
    top = sig[..., :1]
    dim = max(sig.shape[-1], 1)
    if bool((top <= 0).any()):
        raise ValueError(
            f"{what} is zero: {names} carry no shared direction (zero variance?)"
        )
    eps = torch.finfo(sig.dtype).eps
    if bool((sig[..., r - 1 : r] <= 100 * dim * eps * top).any()):
        raise ValueError(
            f"{what} has rank below r = {r}: the top-{r} subspace of {names} is not "
            "determined; lower r or give data of higher rank"
        )


def check_finite_output(value: torch.Tensor, what: str, knobs: str) -> torch.Tensor:
    """Never return NaN or inf silently: raise naming the cause and the argument to
    turn."""
    if not all_finite(value):
        raise NonFiniteError(f"{what} is not finite (overflow or underflow); {knobs}")
    return value


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
    X, Y, *, min_rows: int = 2, finite: bool = True, names: tuple = ("X", "Y")
) -> tuple[torch.Tensor, torch.Tensor]:
    """Paired data: X (..., n, d1), Y (..., n, d2) with one leading shape (..., n);
    ``names`` are the caller's argument names, used in the errors."""
    nx, ny = names
    X = check_matrix(X, nx, min_rows=min_rows, finite=finite)
    Y = check_matrix(Y, ny, min_rows=min_rows, finite=finite)
    check_same_device(**{nx: X, ny: Y})
    if X.shape[:-1] != Y.shape[:-1]:
        raise ValueError(
            f"{nx} and {ny} must have the same leading shape (..., n): got {nx} "
            f"{tuple(X.shape)} and {ny} {tuple(Y.shape)}"
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


def check_rank(r, d1: int, d2: int, n: int | None = None, *, name: str = "r") -> int:
    """The representation dimension r with 1 <= r <= min(d1, d2) (and <= n when
    given); ``name`` is what the user called it (``n_components`` in the estimators)."""
    high = min(d1, d2) if n is None else min(d1, d2, n)
    what = "min(d1, d2)" if n is None else "min(n, d1, d2)"
    r = check_int(r, name, low=-(2**63))  # the type check; the range is checked below
    if not 1 <= r <= high:
        raise ValueError(
            f"{name} must satisfy 1 <= {name} <= {what} = {high}, got {name} = {r}"
        )
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
        if (
            isinstance(value, torch.Tensor)
            and value.numel() == 1
            and not value.is_complex()
        ):
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


def check_labels(labels, name: str, n: int | None = None) -> torch.Tensor:
    """Class labels: a 1-d integer tensor of indices >= 0 (n of them when given), as
    long."""
    if (
        not isinstance(labels, torch.Tensor)
        or labels.ndim != 1
        or labels.is_floating_point()
        or labels.is_complex()
        or labels.dtype == torch.bool
    ):
        raise TypeError(f"{name} must be a 1-d integer tensor of class indices")
    if n is not None and labels.shape[0] != n:
        raise ValueError(
            f"{name} must have {n} entries (one per row), got {labels.shape[0]}"
        )
    if labels.numel() and int(labels.min()) < 0:
        raise ValueError(f"{name} must hold class indices >= 0")
    return labels.long()


def check_subspace_data(X, r, name: str = "r"):
    """X (..., n, d) with n >= 2 and centred rank >= r (else the top-r subspace is
    arbitrary); returns (X, r)."""
    X = check_matrix(X, "X", min_rows=2)
    r = check_rank(r, X.shape[-1], X.shape[-1], X.shape[-2], name=name)
    check_data_rank(X, "X", r, what=name)
    return X, r
