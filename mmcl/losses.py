"""Contrastive losses for linear representations (book chapter 2), in the style of
open_clip.

``contrastive_loss`` evaluates L(G1, G2) = L_family(s) + (rho/2) ||G1^T G2||_F^2 with
s_ij = <G1 x_i, G2 y_j> (or cosine similarities when ``normalize=True``, as CLIP does in
practice). ``clip_loss`` is the standard CLIP loss on a logits matrix: the mean of the
row and column cross-entropies, so that ``ClipFamily(tau).loss_from_similarities(s) ==
tau * clip_loss(s / tau)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._validation import (
    NonFiniteError,
    check_bool,
    check_finite_output,
    check_matrix,
    check_pair,
    check_real,
    check_same_device,
    check_similarities,
)
from .families import ContrastiveFamily, clip_loss_from_normalizers, get_family

__all__ = [
    "similarities",
    "cross_similarities",
    "regularizer",
    "contrastive_loss",
    "clip_loss",
    "ContrastiveLoss",
    "check_representation",
]


def check_representation(G1, G2, X, Y) -> tuple[torch.Tensor, ...]:
    """Validate G1 (..., r, d1), G2 (..., r, d2) against data X (..., n, d1), Y (..., n,
    d2).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    X : torch.Tensor
        Tensor of shape (..., n, d1).
    Y : torch.Tensor
        Tensor of shape (..., n, d2).

    Returns
    -------
    tuple of torch.Tensor
        (G1, G2, X, Y) as tensors.
    """
    X, Y = check_pair(X, Y)
    G1, G2 = _check_factor(G1, "G1"), _check_factor(G2, "G2")
    check_same_device(X=X, G1=G1, G2=G2)
    if G1.shape[-1] != X.shape[-1] or G2.shape[-1] != Y.shape[-1]:
        raise ValueError(
            f"G1 must be (r, d1) and G2 (r, d2) with d1 = {X.shape[-1]} the columns of "
            "X "
            f"and d2 = {Y.shape[-1]} those of Y; got G1 {tuple(G1.shape)} and G2 "
            f"{tuple(G2.shape)} for X {tuple(X.shape)} and Y {tuple(Y.shape)}"
        )
    if G1.shape[-2] != G2.shape[-2]:
        raise ValueError(
            f"G1 and G2 must have the same number r of rows, got {G1.shape[-2]} and "
            f"{G2.shape[-2]}"
        )
    return G1, G2, X, Y


def _check_factor(G, name: str) -> torch.Tensor:
    """check_matrix, except that a non-finite trainable factor is blamed on training
    (lr)."""
    if (
        isinstance(G, torch.Tensor)
        and G.requires_grad
        and G.is_floating_point()
        and not bool(torch.isfinite(G.detach()).all())
    ):
        raise NonFiniteError(
            f"{name} became NaN or inf during training: the steps overshoot; "
            "lower lr (or raise tau, or scale the data down)"
        )
    return check_matrix(G, name)


def similarities(G1, G2, X, Y, *, normalize: bool = False) -> torch.Tensor:
    """The similarities s_ij = <G1 x_i, G2 y_j> (cosines if ``normalize``).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1): the map of modality 1.
    G2 : torch.Tensor
        Tensor of shape (..., r, d2): the map of modality 2.
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    normalize : bool, default=False
        Cosine similarities of the embeddings instead of inner products.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., n, n).
    """
    G1, G2, X, Y = check_representation(G1, G2, X, Y)
    normalize = check_bool(normalize, "normalize")
    return cross_similarities(G1, G2, X, Y, normalize=normalize)


def cross_similarities(G1, G2, X, Y, *, normalize: bool = False) -> torch.Tensor:
    """<G1 x_i, G2 y_j> for every row x_i of X and y_j of Y, unchecked (the core of
    :func:`similarities`, for callers that validated their inputs).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    X : torch.Tensor
        Tensor of shape (..., m, d1).
    Y : torch.Tensor
        Tensor of shape (..., m', d2); m' may differ from m.
    normalize : bool, default=False
        Cosine similarities of the embeddings instead of inner products.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., m, m').
    """
    zx, zy = X @ G1.transpose(-1, -2), Y @ G2.transpose(-1, -2)
    if normalize:
        zx, zy = F.normalize(zx, dim=-1), F.normalize(zy, dim=-1)
    return zx @ zy.transpose(-1, -2)


def regularizer(G1, G2, rho: float) -> torch.Tensor:
    """R(G1, G2) = (rho/2) ||G1^T G2||_F^2, computed as (rho/2) tr(G1 G1^T G2 G2^T).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    rho : float
        The regularisation strength (>= 0).

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    G1, G2 = _check_factor(G1, "G1"), _check_factor(G2, "G2")
    check_same_device(G1=G1, G2=G2)
    if G1.shape[:-1] != G2.shape[:-1]:
        raise ValueError(
            f"G1 (..., r, d1) and G2 (..., r, d2) must have the same leading shape "
            f"(..., r), got G1 {tuple(G1.shape)} and G2 {tuple(G2.shape)}"
        )
    rho = check_real(rho, "rho", low=0.0)
    return _regularizer(G1, G2, rho)


def _regularizer(G1, G2, rho: float) -> torch.Tensor:
    """Unchecked core of :func:`regularizer` (training loops call it every step)."""
    return (
        0.5
        * rho
        * ((G1 @ G1.transpose(-1, -2)) * (G2 @ G2.transpose(-1, -2))).sum((-1, -2))
    )


def contrastive_loss(
    G1,
    G2,
    X,
    Y,
    loss="clip",
    *,
    tau: float = 1.0,
    rho: float = 0.0,
    normalize: bool = False,
) -> torch.Tensor:
    """L(G1, G2) = L_family(s) + (rho/2) ||G1^T G2||_F^2 for a family member.

    Raises FloatingPointError rather than returning NaN or inf (e.g. psi = exp
    overflowing).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1): the map of modality 1.
    G2 : torch.Tensor
        Tensor of shape (..., r, d2): the map of modality 2.
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature.
    rho : float, default=0.0
        The regularisation strength.
    normalize : bool, default=False
        Cosine similarities instead of inner products.

    Returns
    -------
    torch.Tensor
        Tensor of shape X.shape[:-2] (a scalar without replicates).
    """
    G1, G2, X, Y = check_representation(G1, G2, X, Y)
    rho = check_real(rho, "rho", low=0.0)
    family = get_family(loss, tau)
    hint = (
        ""
        if isinstance(loss, str) and loss == "clip"
        else ", or use the stable 'clip' preset"
    )
    knobs = (
        "lower lr if this happened while training (the step overshot), "
        f"else scale the data down, raise tau or lower rho{hint}"
    )
    s = check_finite_output(
        similarities(G1, G2, X, Y, normalize=normalize), "the similarities", knobs
    )
    value = family.loss_from_similarities(s) + _regularizer(G1, G2, rho)
    return check_finite_output(value, f"the {family.name} loss", knobs)


def clip_loss(logits: torch.Tensor) -> torch.Tensor:
    """The standard CLIP loss: (cross_entropy(rows) + cross_entropy(columns)) / 2, each
    averaged over the n pairs, computed by
    :func:`mmcl.families.clip_loss_from_normalizers`.

    Parameters
    ----------
    logits : torch.Tensor
        Tensor of shape (..., n, n) whose diagonal holds the positives.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    logits = check_similarities(logits, "logits")
    diag = torch.diagonal(logits, dim1=-2, dim2=-1)
    return clip_loss_from_normalizers(
        torch.logsumexp(logits, -1), torch.logsumexp(logits, -2), diag
    )


class ContrastiveLoss(nn.Module):
    """Module form: ``ContrastiveLoss("clip", tau=0.5, rho=0.1)(G1, G2, X, Y)``.

    ``__init__`` stores configuration only; ``forward`` computes similarities, the
    family's loss and the regulariser, as in :func:`contrastive_loss`.
    """

    def __init__(
        self,
        loss="clip",
        *,
        tau: float = 1.0,
        rho: float = 0.0,
        normalize: bool = False,
    ):
        super().__init__()
        self.family: ContrastiveFamily = get_family(loss, tau)
        self.rho = check_real(rho, "rho", low=0.0)
        self.normalize = check_bool(normalize, "normalize")

    def forward(self, G1, G2, X, Y):
        return contrastive_loss(
            G1, G2, X, Y, self.family, rho=self.rho, normalize=self.normalize
        )
