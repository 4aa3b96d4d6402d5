"""Gradient baselines for the SVD view: full-batch gradient descent (or Adam) and
minibatch training on (G1, G2) through autograd, as CLIP is trained (chapters 2 and 7).

* ``gradient_descent``: every step on the whole sample; the comparison in chapter 2.
* ``minibatch_gradient``: one minibatch at a time (the paper's recipe and the race of
  chapter 7).

Both use torch's optimisers by their own names (``OPTIMIZERS``) and return a
:class:`mmcl.solvers.SolverResult`.
"""

from __future__ import annotations

import time

import torch

from ._validation import (
    check_int,
    check_pair,
    check_rank,
    check_real,
    tiny,
)
from .sampling import make_generator
from .families import get_family
from .losses import check_representation, contrastive_loss
from .lowrank import truncated_svd
from .solvers import SolverResult

__all__ = ["gradient_descent", "minibatch_gradient"]


def _trainable_factors(X, Y, r, init, g):
    """Leaf tensors (G1, G2) to optimise: ``init`` or small random factors drawn from
    ``g``."""
    if init is None:
        shape = X.shape[:-2]
        G1 = 0.1 * torch.randn(
            *shape, r, X.shape[-1], generator=g, dtype=torch.float64
        ).to(X)
        G2 = 0.1 * torch.randn(
            *shape, r, Y.shape[-1], generator=g, dtype=torch.float64
        ).to(X)
    else:
        G1, G2, _, _ = check_representation(init[0], init[1], X, Y)
    return G1.detach().clone().requires_grad_(True), G2.detach().clone().requires_grad_(
        True
    )


def _relative_change(G1, G2, M_old):
    """(M, max over replicates of ||M - M_old||_F / ||M_old||_F) for M = G1^T G2."""
    with torch.no_grad():
        M = G1.transpose(-1, -2) @ G2
        change = torch.linalg.matrix_norm(M - M_old) / torch.linalg.matrix_norm(
            M_old
        ).clamp_min(tiny(M_old))
    return M, float(change.max())


#: The optimiser names of :func:`gradient_descent` and :func:`minibatch_gradient`
#: (torch's own): "sgd" is a plain gradient step (full-batch in gradient_descent),
#: "adam" is Adam.
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}


def _check_optimizer(optimizer) -> str:
    if optimizer not in OPTIMIZERS:
        raise ValueError(
            f"optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}"
        )
    return optimizer


def gradient_descent(
    X,
    Y,
    r: int,
    loss="clip",
    *,
    tau: float = 1.0,
    rho: float = 1.0,
    lr: float = 0.1,
    n_steps: int = 1000,
    init=None,
    optimizer: str = "sgd",
    normalize: bool = False,
    tol: float | None = None,
    record_every: int = 0,
    seed=0,
) -> SolverResult:
    """Plain gradient descent (``optimizer="sgd"``, full batch) or Adam on (G1, G2)
    through autograd.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1 (replicates batched in front).
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    r : int
        The representation dimension, 1 <= r <= min(d1, d2).
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength.
    lr : float, default=0.1
        The learning rate.
    n_steps : int, default=1000
        The most steps.
    init : tuple of torch.Tensor, optional
        The start (G1, G2); default: small random factors drawn from ``seed``.
    optimizer : {"sgd", "adam"}, default="sgd"
        A plain gradient step or Adam (see ``OPTIMIZERS``).
    normalize : bool, default=False
        Cosine similarities instead of inner products.
    tol : float, optional
        Stop once the relative change of G1^T G2 in one step falls below it.
    record_every : int, default=0
        Keep every k-th iterate (0: none).
    seed : int or torch.Generator, default=0
        The seed of the random start.

    Returns
    -------
    SolverResult
        The representation and its history (loss, change, time per step).
    """
    X, Y = check_pair(X, Y)
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    rho = check_real(rho, "rho", low=0.0)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    n_steps = check_int(n_steps, "n_steps", low=1)
    optimizer = _check_optimizer(optimizer)
    family = get_family(loss, tau)
    G1, G2 = _trainable_factors(X, Y, r, init, make_generator(seed))
    opt = OPTIMIZERS[optimizer]([G1, G2], lr=lr)
    hist = {"loss": [], "change": [], "time": []}
    iterates, converged, t0 = [], False, time.perf_counter()
    M_old = (G1.transpose(-1, -2) @ G2).detach()
    for step in range(1, n_steps + 1):
        opt.zero_grad()
        L = contrastive_loss(G1, G2, X, Y, family, rho=rho, normalize=normalize)
        L.sum().backward()
        opt.step()
        M_old, change = _relative_change(G1, G2, M_old)
        hist["loss"].append(L.detach())
        hist["change"].append(change)
        hist["time"].append(time.perf_counter() - t0)
        if record_every and step % record_every == 0:
            iterates.append((G1.detach().clone(), G2.detach().clone()))
        if tol is not None and change < tol:
            converged = True
            break
    G1, G2 = G1.detach(), G2.detach()
    U, sig, V = truncated_svd(G1.transpose(-1, -2) @ G2, r)
    return SolverResult(
        G1,
        G2,
        U,
        V,
        sig,
        n_iter=step,
        converged=converged,
        history=hist,
        iterates=iterates,
    )


def minibatch_gradient(
    X,
    Y,
    r: int,
    loss="clip",
    *,
    tau: float = 1.0,
    rho: float = 1.0,
    lr: float = 2e-3,
    batch_size: int = 50,
    n_epochs: int = 100,
    optimizer: str = "adam",
    normalize: bool = False,
    init=None,
    record_iterates: bool = False,
    seed=0,
) -> SolverResult:
    """The usual recipe: Adam (or SGD) on (G1, G2) through autograd, one step per
    minibatch.

    Each epoch visits the n pairs once in a seeded random order, in minibatches of
    ``batch_size`` pairs (the negatives of a pair are the other pairs of its minibatch,
    as in CLIP training).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1 (replicates batched in front).
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    r : int
        The representation dimension, 1 <= r <= min(d1, d2).
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength.
    lr : float, default=2e-3
        The learning rate.
    batch_size : int, default=50
        Pairs per minibatch (2 <= batch_size <= n).
    n_epochs : int, default=100
        Passes over the pairs.
    optimizer : {"sgd", "adam"}, default="adam"
        A plain gradient step or Adam (see ``OPTIMIZERS``).
    normalize : bool, default=False
        Cosine similarities instead of inner products.
    init : tuple of torch.Tensor, optional
        The start (G1, G2); default: small random factors drawn from ``seed``.
    record_iterates : bool, default=False
        Keep (G1, G2) after every epoch.
    seed : int or torch.Generator, default=0
        The seed of the start and of the minibatch order.

    Returns
    -------
    SolverResult
        With ``history`` holding per epoch the mean minibatch loss, the relative change
        of G1^T G2 and the elapsed time.
    """
    X, Y = check_pair(X, Y)
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    rho = check_real(rho, "rho", low=0.0)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    m = check_int(batch_size, "batch_size", low=2, high=X.shape[-2])
    n_epochs = check_int(n_epochs, "n_epochs", low=1)
    optimizer = _check_optimizer(optimizer)
    family, g = get_family(loss, tau), make_generator(seed)
    G1, G2 = _trainable_factors(X, Y, r, init, g)
    opt = OPTIMIZERS[optimizer]([G1, G2], lr=lr)
    hist, iterates = {"loss": [], "change": [], "time": []}, []
    n, t0 = X.shape[-2], time.perf_counter()
    M_old = (G1.transpose(-1, -2) @ G2).detach()
    for epoch in range(1, n_epochs + 1):
        order = torch.randperm(n, generator=g).to(X.device)
        total = 0.0
        for start in range(0, n - m + 1, m):  # one optimiser step per minibatch
            idx = order[start : start + m]
            opt.zero_grad()
            L = contrastive_loss(
                G1,
                G2,
                X[..., idx, :],
                Y[..., idx, :],
                family,
                rho=rho,
                normalize=normalize,
            )
            L.sum().backward()
            opt.step()
            total += L.detach()
        M_old, change = _relative_change(G1, G2, M_old)
        hist["loss"].append(total / (n // m))
        hist["change"].append(change)
        hist["time"].append(time.perf_counter() - t0)
        if record_iterates:
            iterates.append((G1.detach().clone(), G2.detach().clone()))
    G1, G2 = G1.detach(), G2.detach()
    U, sig, V = truncated_svd(G1.transpose(-1, -2) @ G2, r)
    return SolverResult(
        G1,
        G2,
        U,
        V,
        sig,
        n_iter=epoch,
        converged=False,
        history=hist,
        iterates=iterates,
    )
