"""Memory-bounded CLIP: loss, log-normalisers, weights beta and S(beta) in blocks
(chapter 7; notation as in the book).

With the embeddings f1(x_i) = G1 x_i and f2(y_j) = G2 y_j as the rows of zx = X G1^T
(n, r) and zy = Y G2^T (n, r), the logits l_ij = <f1(x_i), f2(y_j)> / tau are formed
one block B of rows at a time, never as the whole n x n matrix:

* one pass gives the row log-normalisers chi_i = LSE_j l_ij exactly and the column ones
  kappa_j = LSE_i l_ij by a streaming (running-maximum) log-sum-exp, hence the CLIP
  loss L = tau / (2n) sum_i (chi_i + kappa_i - 2 l_ii), summed as the gaps
  LSE_j (l_ij - l_ii) and LSE_i (l_ij - l_jj), each >= 0, so that it cannot go
  negative by cancellation;
* a second pass gives S(beta) = (1/n) X^T (I - P_bar) Y with P_bar = (P + Q) / 2,
  P_ij = exp(l_ij - chi_i), Q_ij = exp(l_ij - kappa_j): the CLIP weights are
  beta_ij = P_bar_ij (i != j) and beta_ii = 1 - P_bar_ii.

Peak memory is O(n * block_size) for one block of logits plus O(d1 * d2) for S. The
linear preset needs no blocks at all (its loss uses only row and column sums; S(beta) =
S_n). The sigmoid (SigLIP) preset needs one pass: its weights are local, no normaliser.
"""

from __future__ import annotations

from typing import Iterator, NamedTuple

import torch

from ._validation import (
    check_bool,
    check_finite_output,
    check_int,
    check_matrix,
    check_pair,
    check_same_device,
    check_tau,
)
from .covariance import centered_cross_covariance
from .families import (
    ClipFamily,
    ContrastiveFamily,
    LinearFamily,
    SiglipFamily,
    get_family,
    linear_loss_of_embeddings,
)

__all__ = [
    "ClipNormalizers",
    "auto_block_size",
    "clip_normalizers",
    "blocked_loss",
    "iter_clip_weights",
    "blocked_cross_covariance",
    "DENSE_LIMIT",
    "BLOCKED_FAMILIES",
]

#: entries of one block of logits (per replicate and all replicates together) used by
#: default
BLOCK_ENTRIES = 2**23
#: svd_iteration stays dense while replicates * n * n is at most this many entries
DENSE_LIMIT = 2**24
#: the family presets computed in blocks here
BLOCKED_FAMILIES = (ClipFamily, LinearFamily, SiglipFamily)


class ClipNormalizers(NamedTuple):
    """Row and column log-normalisers chi_i = LSE_j l_ij, kappa_j = LSE_i l_ij and the
    diagonal l_ii of the logits l = zx zy^T / tau; each of shape (..., n)."""

    row: torch.Tensor
    col: torch.Tensor
    diag: torch.Tensor


def auto_block_size(n: int, batch: int = 1, entries: int = BLOCK_ENTRIES) -> int:
    """Rows per block so that one (batch, block, n) slab of logits holds about
    ``entries`` numbers.

    Parameters
    ----------
    n : int
        The number of pairs.
    batch : int, default=1
        The number of replicates.
    entries : int, default=BLOCK_ENTRIES
        The target size of one slab.

    Returns
    -------
    int
    """
    n = check_int(n, "n", low=1)
    batch = check_int(batch, "batch", low=1)
    return max(1, min(n, entries // (n * batch)))


def _check_embeddings(zx, zy, block_size):
    zx = check_matrix(zx, "zx", min_rows=2)
    zy = check_matrix(zy, "zy", min_rows=2)
    check_same_device(zx=zx, zy=zy)
    if zx.shape != zy.shape:
        raise ValueError(
            f"zx and zy must have the same shape (..., n, r), got {tuple(zx.shape)} "
            f"and {tuple(zy.shape)}"
        )
    n, batch = zx.shape[-2], zx[..., 0, 0].numel()
    if block_size is None:
        return zx, zy, auto_block_size(n, batch)
    return zx, zy, check_int(block_size, "block_size", low=1)


def _check_normalizers(normalizers, zx, name: str = "normalizers"):
    """Precomputed :class:`ClipNormalizers` for embeddings zx (..., n, r), or None."""
    if normalizers is None:
        return None
    if not isinstance(normalizers, ClipNormalizers):
        raise TypeError(
            f"{name} must be the ClipNormalizers returned by clip_normalizers or "
            "blocked_loss(..., return_normalizers=True), got "
            f"{type(normalizers).__name__}"
        )
    for field, t in zip(ClipNormalizers._fields, normalizers):
        if (
            not isinstance(t, torch.Tensor)
            or t.shape != zx.shape[:-1]
            or t.dtype != zx.dtype
            or t.device != zx.device
        ):
            raise ValueError(
                f"{name}.{field} must be a {zx.dtype} tensor of shape "
                f"{tuple(zx.shape[:-1])} on {zx.device}: computed from these zx, zy"
            )
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name}.{field} contains NaN or inf entries")
    return normalizers


def _blocks(n: int, block: int) -> Iterator[slice]:
    for start in range(0, n, block):
        yield slice(start, min(start + block, n))


def clip_normalizers(
    zx, zy, tau: float, *, block_size: int | None = None
) -> ClipNormalizers:
    """The log-normalisers of the logits zx zy^T / tau in one pass over blocks of rows.

    Parameters
    ----------
    zx : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of modality 1.
    zy : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of modality 2 (rows paired with zx).
    tau : float
        The temperature (> 0).
    block_size : int, optional
        Rows per block (default: :func:`auto_block_size`).

    Returns
    -------
    ClipNormalizers
        The row and column log-normalisers and the diagonal of the logits.
    """
    tau = check_tau(tau)
    zx, zy, block = _check_embeddings(zx, zy, block_size)
    return _clip_pass(zx, zy, tau, block)[0]


def _clip_pass(zx, zy, tau, block):
    """One pass over blocks: the :class:`ClipNormalizers` and the per-pair gaps LSE_j
    (l_ij - l_ii) and LSE_i (l_ij - l_jj), each >= 0 by construction (the sum inside
    holds exp(0) = 1), so the CLIP loss tau / (2n) sum_i (gap_row_i + gap_col_i) cannot
    go negative.

    Rows are shifted by their own diagonal entry of the block (taken from the same
    product, so l_ii - l_ii is exactly 0); columns stream a running-maximum log-sum-exp
    of l_ij - d_j with d_j = <zx_j, zy_j> / tau and are corrected by the (exact)
    difference l_jj - d_j at the end.
    """
    n = zx.shape[-2]
    row_gap = torch.empty(zx.shape[:-1], dtype=zx.dtype, device=zx.device)
    diag = torch.empty_like(row_gap)
    col_max = torch.full(zx.shape[:-1], float("-inf"), dtype=zx.dtype, device=zx.device)
    col_sum = torch.zeros_like(col_max)
    shift = (zx * zy).sum(-1) / tau  # d_j, close to the diagonal of the logits
    zyt = zy.transpose(-1, -2) / tau
    for rows in _blocks(n, block):
        logits = zx[..., rows, :] @ zyt  # (..., b, n)
        local = torch.arange(rows.stop - rows.start, device=zx.device)
        own = logits[..., local, torch.arange(rows.start, rows.stop, device=zx.device)]
        diag[..., rows] = own
        row_gap[..., rows] = torch.logsumexp(logits - own.unsqueeze(-1), -1)
        shifted = logits.sub_(shift.unsqueeze(-2))  # l_ij - d_j, in place
        new_max = torch.maximum(col_max, shifted.amax(-2))
        col_sum = col_sum * torch.exp(col_max - new_max) + torch.exp(
            shifted - new_max.unsqueeze(-2)
        ).sum(-2)
        col_max = new_max
    col_shifted = col_max + torch.log(col_sum)  # LSE_i (l_ij - d_j)
    norms = ClipNormalizers(row_gap + diag, col_shifted + shift, diag)
    col_gap = (col_shifted - (diag - shift)).clamp_min(0)
    return norms, row_gap.clamp_min(0), col_gap


def blocked_loss(
    zx,
    zy,
    loss="clip",
    *,
    tau: float = 1.0,
    block_size: int | None = None,
    return_normalizers: bool = False,
):
    """The family loss L(s) of s = zx zy^T (no regulariser) without forming s; shape
    zx.shape[:-2].

    Supports the ``"clip"`` and ``"linear"`` presets. With ``return_normalizers`` (CLIP)
    also returns the :class:`ClipNormalizers`, which :func:`blocked_cross_covariance`
    reuses.

    Parameters
    ----------
    zx : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of modality 1.
    zy : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of modality 2.
    loss : {"clip", "linear", "siglip"} or ContrastiveFamily, default="clip"
        The preset.
    tau : float, default=1.0
        The CLIP temperature.
    block_size : int, optional
        Rows per block (default: :func:`auto_block_size`).
    return_normalizers : bool, default=False
        Also return the CLIP log-normalisers.

    Returns
    -------
    torch.Tensor or tuple
        The loss, a tensor of shape (...,); with ``return_normalizers`` the pair
        (loss, ClipNormalizers or None).
    """
    family = get_family(loss, tau)
    zx, zy, block = _check_embeddings(zx, zy, block_size)
    return_normalizers = check_bool(return_normalizers, "return_normalizers")
    n = zx.shape[-2]
    if isinstance(family, ClipFamily):
        norms, row_gap, col_gap = _clip_pass(zx, zy, family.tau, block)
        value = family.tau * (row_gap + col_gap).sum(-1) / (2 * n)
        check_finite_output(
            value, "the blocked CLIP loss", "raise tau or scale the embeddings down"
        )
    elif isinstance(family, LinearFamily):
        norms, value = None, linear_loss_of_embeddings(zx, zy)
    elif isinstance(family, SiglipFamily):
        norms, value = None, _siglip_loss(zx, zy, family, block)
    else:
        raise _unsupported(family)
    return (value, norms) if return_normalizers else value


def _siglip_signed_block(zx, zy, family: SiglipFamily, rows: slice) -> torch.Tensor:
    """l_ij z_ij on a block of rows (..., b, n): z = zx zy^T / tau + bias, + on the
    diagonal, - off it."""
    z = (
        zx[..., rows, :] @ zy.transpose(-1, -2) / family.tau + family.bias
    )  # (..., b, n)
    local = torch.arange(rows.stop - rows.start, device=zx.device)
    idx = torch.arange(rows.start, rows.stop, device=zx.device)
    z.neg_()
    z[..., local, idx] = -z[..., local, idx]
    return z


def _siglip_loss(zx, zy, family: SiglipFamily, block: int) -> torch.Tensor:
    """tau / n sum_ij softplus(-l_ij z_ij), accumulated over blocks of rows."""
    total = torch.zeros(zx.shape[:-2], dtype=zx.dtype, device=zx.device)
    for rows in _blocks(zx.shape[-2], block):
        lz = _siglip_signed_block(zx, zy, family, rows)
        total += torch.nn.functional.softplus(-lz).sum((-1, -2))
    return family.tau * total / zx.shape[-2]


def _siglip_cross_covariance(X, Y, zx, zy, family: SiglipFamily, block: int):
    """S(beta) = (1/n) X^T B Y, B = diag(beta_ii) - offdiag(beta), block by block."""
    S = torch.zeros(
        *X.shape[:-2], X.shape[-1], Y.shape[-1], dtype=X.dtype, device=X.device
    )
    for rows in _blocks(X.shape[-2], block):
        w = torch.sigmoid(-_siglip_signed_block(zx, zy, family, rows))  # (..., b, n)
        local = torch.arange(rows.stop - rows.start, device=X.device)
        idx = torch.arange(rows.start, rows.stop, device=X.device)
        diag = w[..., local, idx].clone()
        w.neg_()
        w[..., local, idx] = diag  # the signed weights B[rows]
        S += X[..., rows, :].transpose(-1, -2) @ (w @ Y)
    return S / X.shape[-2]


def _unsupported(family: ContrastiveFamily) -> TypeError:
    return TypeError(
        "blocked computation supports the 'clip', 'linear' and 'siglip' presets, got "
        f"{family!r}; "
        "use the dense functions for other family members"
    )


def iter_clip_weights(
    zx,
    zy,
    tau: float,
    *,
    block_size: int | None = None,
    normalizers: ClipNormalizers | None = None,
):
    """Yield ``(rows, beta_block)``: the CLIP weights beta[..., rows, :] (shape (..., b,
    n)) block by block, equal to ``ClipFamily(tau).weights(zx @ zy^T)`` restricted to
    those rows.

    Parameters
    ----------
    zx : torch.Tensor
        Tensor of shape (..., n, r).
    zy : torch.Tensor
        Tensor of shape (..., n, r).
    tau : float
        The temperature.
    block_size : int, optional
        Rows per block.
    normalizers : ClipNormalizers, optional
        The log-normalisers if already computed.

    Yields
    ------
    tuple
        A slice of rows and the weights of those rows, a tensor of shape (..., b, n).
    """
    tau = check_tau(tau)
    zx, zy, block = _check_embeddings(zx, zy, block_size)
    norms = _check_normalizers(normalizers, zx)
    norms = (
        norms if norms is not None else clip_normalizers(zx, zy, tau, block_size=block)
    )
    zyt = zy.transpose(-1, -2) / tau
    n = zx.shape[-2]
    for rows in _blocks(n, block):
        avg = _avg_block(zx[..., rows, :] @ zyt, norms, rows)
        idx = torch.arange(rows.start, rows.stop, device=zx.device)
        local = torch.arange(rows.stop - rows.start, device=zx.device)
        avg[..., local, idx] = 1 - avg[..., local, idx]
        yield rows, avg


def _avg_block(logits, norms: ClipNormalizers, rows: slice) -> torch.Tensor:
    """A = (P + Q) / 2 on a block of rows, computed in place in the logits' memory."""
    q = torch.exp(logits - norms.col.unsqueeze(-2))
    logits.sub_(norms.row[..., rows].unsqueeze(-1)).exp_()
    return logits.add_(q).mul_(0.5)


def blocked_cross_covariance(
    X,
    Y,
    zx,
    zy,
    loss="clip",
    *,
    tau: float = 1.0,
    block_size: int | None = None,
    normalizers: ClipNormalizers | None = None,
) -> torch.Tensor:
    """S(beta(s)) for s = zx zy^T, shape (..., d1, d2), without forming s or beta.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, paired with X.
    zx : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of X.
    zy : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of Y.
    loss : {"clip", "linear", "siglip"} or ContrastiveFamily, default="clip"
        The preset.
    tau : float, default=1.0
        The CLIP temperature.
    block_size : int, optional
        Rows per block (default: :func:`auto_block_size`).
    normalizers : ClipNormalizers, optional
        The CLIP log-normalisers if already computed (by :func:`blocked_loss`).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d1, d2).
    """
    X, Y = check_pair(X, Y)
    family = get_family(loss, tau)
    zx, zy, block = _check_embeddings(zx, zy, block_size)
    check_same_device(X=X, zx=zx)
    if zx.shape[:-1] != X.shape[:-1]:
        raise ValueError(
            f"zx must have shape (..., n, r) with (..., n) = {tuple(X.shape[:-1])}, "
            f"got {tuple(zx.shape)}"
        )
    if isinstance(family, LinearFamily):
        return centered_cross_covariance(X, Y)
    if isinstance(family, SiglipFamily):
        return _siglip_cross_covariance(X, Y, zx, zy, family, block)
    if not isinstance(family, ClipFamily):
        raise _unsupported(family)
    norms = _check_normalizers(normalizers, zx)
    norms = (
        norms
        if norms is not None
        else clip_normalizers(zx, zy, family.tau, block_size=block)
    )
    zyt = zy.transpose(-1, -2) / family.tau
    n = X.shape[-2]
    S = torch.zeros(
        *X.shape[:-2], X.shape[-1], Y.shape[-1], dtype=X.dtype, device=X.device
    )
    for rows in _blocks(n, block):
        avg = _avg_block(zx[..., rows, :] @ zyt, norms, rows)
        S += X[..., rows, :].transpose(-1, -2) @ (
            Y[..., rows, :] - avg @ Y
        )  # (I - A)[rows] Y
    return S / n
