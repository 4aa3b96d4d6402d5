"""Chapter 2's diagnostics of the loss-to-SVD view: they measure, they do not train.

* ``gradient_relative_error``: autograd's gradient against the S(beta) formula;
* ``update_alignment``: does a gradient step head for SVD_r(S(beta_t)) / rho, the
  minimiser of the step's surrogate, and how far is span G1^T from the top-r singular
  subspace of S(beta_t);
* ``clip_weights_sweep``, ``effective_negatives``: beta for several temperatures, and
  how evenly each row spreads its negative weight (1: uniform, 1/(n-1): one hard
  negative);
* ``relative_error_path``, ``iterations_to_tolerance``: a solver's distance to a
  reference M* along its iterates, and the iterations and seconds it needed to come
  within a tolerance;
* ``solver_race``: SVD-iteration against gradient descent to the same tolerance.

The general definition of the weights, ``weights_from_loss``, is in
:mod:`mmcl.families`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_int, check_matrix, check_pair, check_real
from ..covariance import (
    contrastive_cross_covariance,
    contrastive_gradient,
    gradient_from_cross_covariance,
)
from .._validation import check_similarities
from ..families import ClipFamily, offdiag_mask
from ..losses import check_representation, contrastive_loss
from ..metrics import sin_theta_distance
from ..sampling import make_generator
from ..gradient import gradient_descent
from ..lowrank import low_rank, truncated_svd
from ..solvers import SolverResult, svd_iteration

__all__ = [
    "gradient_relative_error",
    "update_alignment",
    "clip_weights_sweep",
    "effective_negatives",
    "stack_iterates",
    "relative_error_path",
    "iterations_to_tolerance",
    "SolverRace",
    "solver_race",
]


def _t(A: torch.Tensor) -> torch.Tensor:
    return A.transpose(-1, -2)


def gradient_relative_error(
    G1, G2, X, Y, loss="clip", *, tau: float = 1.0, rho: float = 0.0
) -> torch.Tensor:
    """||grad_autograd - grad_formula|| / ||grad_autograd|| over both blocks (G1, G2).

    The formula is :func:`mmcl.covariance.contrastive_gradient` (-G2 S^T + rho G2 G2^T
    G1 and its twin); autograd differentiates :func:`mmcl.losses.contrastive_loss`.
    Shapes: G1 (..., r, d1), G2 (..., r, d2), X (..., n, d1), Y (..., n, d2); returns a
    tensor of shape X.shape[:-2] broadcast with G's.

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
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature.
    rho : float, default=0.0
        The regularisation strength.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    G1, G2, X, Y = check_representation(G1, G2, X, Y)
    with torch.enable_grad():
        A1 = G1.detach().clone().requires_grad_(True)
        A2 = G2.detach().clone().requires_grad_(True)
        L = contrastive_loss(A1, A2, X, Y, loss, tau=tau, rho=rho)
        a1, a2 = torch.autograd.grad(L.sum(), (A1, A2))
    f1, f2 = contrastive_gradient(G1, G2, X, Y, loss, tau=tau, rho=rho)
    num = ((a1 - f1) ** 2).sum((-1, -2)) + ((a2 - f2) ** 2).sum((-1, -2))
    den = (a1**2).sum((-1, -2)) + (a2**2).sum((-1, -2))
    return (num / den).sqrt()


def update_alignment(
    G1, G2, X, Y, loss="clip", *, tau: float = 1.0, rho: float = 1.0, lr: float = 0.1
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Compare one plain gradient step at (G1, G2) with the top-r SVD of S(beta(G)).

    The step moves M = G1^T G2 by dM = (G1 - lr grad_G1)^T (G2 - lr grad_G2) - M.
    Returns ``(cos_svd, cos_full, distance)``, each of shape G1.shape[:-2] (batch over
    stacked iterates):

    * cos_svd: cosine between dM and SVD_r(S(beta)) / rho - M, the way to the
      surrogate's Eckart-Young minimiser;
    * cos_full: cosine between dM and S(beta) / rho - M (the untruncated target), for
      contrast;
    * distance: ||sin Theta(span G1^T, span U)||_F with U the top-r left singular
      vectors of S(beta).

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
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature.
    rho : float, default=1.0
        The regularisation strength (> 0).
    lr : float, default=0.1
        The step size.

    Returns
    -------
    tuple of torch.Tensor
        cos_svd, cos_full and distance, each of shape (...,).
    """
    G1, G2, X, Y = check_representation(G1, G2, X, Y)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    rho = check_real(rho, "rho", low=0.0, low_open=True)
    r = G1.shape[-2]
    S = contrastive_cross_covariance(G1, G2, X, Y, loss, tau=tau)
    g1, g2 = gradient_from_cross_covariance(G1, G2, S, rho)
    U, sig, V = truncated_svd(S, r)
    M = _t(G1) @ G2
    dM = _t(G1 - lr * g1) @ (G2 - lr * g2) - M
    cos_svd = _cosine(dM, low_rank(U, sig, V) / rho - M)
    cos_full = _cosine(dM, S / rho - M)
    return cos_svd, cos_full, sin_theta_distance(_t(G1), U)


def _cosine(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    den = torch.linalg.matrix_norm(A) * torch.linalg.matrix_norm(B)
    return (A * B).sum((-1, -2)) / den.clamp_min(torch.finfo(den.dtype).tiny)


def clip_weights_sweep(s: torch.Tensor, taus) -> torch.Tensor:
    """CLIP weights beta(s) for each temperature: shape (len(taus), ..., n, n).

    Parameters
    ----------
    s : torch.Tensor
        Tensor of shape (..., n, n): the similarities.
    taus : sequence of float
        The temperatures.

    Returns
    -------
    torch.Tensor
        Tensor of shape (len(taus), ..., n, n).
    """
    s = check_similarities(s, "s")
    if isinstance(taus, (str, bytes)):
        raise TypeError(f"taus must be a sequence of temperatures, got {taus!r}")
    taus = [
        check_real(t, f"taus[{k}]", low=0.0, low_open=True) for k, t in enumerate(taus)
    ]
    if not taus:
        raise ValueError("taus must hold at least one temperature")
    return torch.stack([ClipFamily(t).weights(s) for t in taus])


def effective_negatives(beta: torch.Tensor) -> torch.Tensor:
    """Row-averaged effective share of negatives, exp(entropy) / (n - 1), shape
    beta.shape[:-2].

    Each row's off-diagonal weights are normalised to a distribution p_i; exp(H(p_i))
    counts the negatives that carry the weight. 1 means uniform weights (the linear
    loss), 1/(n-1) one hard negative per row.

    Parameters
    ----------
    beta : torch.Tensor
        Tensor of shape (..., n, n): contrastive weights.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    beta = check_similarities(beta, "beta")
    n = beta.shape[-1]
    off = offdiag_mask(beta)
    w = torch.where(off, beta, 0)
    p = w / w.sum(-1, keepdim=True).clamp_min(torch.finfo(beta.dtype).tiny)
    ent = -torch.where(
        p > 0, p * torch.log(p.clamp_min(torch.finfo(beta.dtype).tiny)), 0
    ).sum(-1)
    return (ent.exp() / (n - 1)).mean(-1)


def stack_iterates(
    result: SolverResult, every: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``every``-th recorded iterate of a solver, stacked: G1 (T, ..., r, d1), G2
    (T, ..., r, d2).

    Parameters
    ----------
    result : SolverResult
        A solver's result with recorded iterates.
    every : int, default=1
        Keep every k-th iterate.

    Returns
    -------
    tuple of torch.Tensor
        G1 of shape (T, ..., r, d1) and G2 of shape (T, ..., r, d2).
    """
    every = check_int(every, "every")
    if not isinstance(result, SolverResult) or not result.iterates:
        raise ValueError(
            "result must be a SolverResult with recorded iterates "
            "(svd_iteration(record_iterates=True) or gradient_descent(record_every=1))"
        )
    its = result.iterates[::every]
    return torch.stack([g1 for g1, _ in its]), torch.stack([g2 for _, g2 in its])


def _iterate_products(result: SolverResult) -> torch.Tensor:
    G1, G2 = stack_iterates(result)
    return _t(G1) @ G2


def relative_error_path(result: SolverResult, M_ref) -> torch.Tensor:
    """||M_t - M_ref||_F / ||M_ref||_F for every recorded iterate M_t = G1_t^T G2_t:
    shape (T, ...).

    Parameters
    ----------
    result : SolverResult
        A solver's result with recorded iterates.
    M_ref : torch.Tensor
        Tensor of shape (..., d1, d2): the reference.

    Returns
    -------
    torch.Tensor
        Tensor of shape (T, ...).
    """
    M_ref = check_matrix(M_ref, "M_ref")
    M = _iterate_products(result)
    return torch.linalg.matrix_norm(M - M_ref) / torch.linalg.matrix_norm(M_ref)


def iterations_to_tolerance(
    result: SolverResult, M_ref, tol: float
) -> tuple[int, float]:
    """Iterations and seconds a solver needed until ||M_t - M_ref||_F / ||M_ref||_F <
    tol.

    Needs one recorded iterate per iteration (times come from
    ``result.history["time"]``); returns ``(-1, nan)`` if the tolerance was never
    reached.

    Parameters
    ----------
    result : SolverResult
        A solver's result with recorded iterates.
    M_ref : torch.Tensor
        Tensor of shape (..., d1, d2): the reference.
    tol : float
        The relative tolerance (> 0).

    Returns
    -------
    tuple
        (iterations, seconds), or (-1, nan).
    """
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    err = relative_error_path(result, M_ref)
    err = err.reshape(err.shape[0], -1).amax(-1)
    if len(result.history["time"]) != err.shape[0]:
        raise ValueError(
            "result must hold one recorded iterate per iteration "
            "(gradient_descent needs record_every=1)"
        )
    hit = torch.nonzero(err < tol)
    if hit.numel() == 0:
        return -1, float("nan")
    k = int(hit[0, 0])
    return k + 1, float(result.history["time"][k])


@dataclass
class SolverRace:
    """What :func:`solver_race` returns: both runs, the reference M* and the race's
    numbers."""

    M_ref: torch.Tensor
    svd: SolverResult
    gd: SolverResult
    svd_iterations: int
    svd_seconds: float
    gd_iterations: int
    gd_seconds: float
    sin_theta: float


def solver_race(
    X,
    Y,
    r: int,
    loss="clip",
    *,
    tau: float = 1.0,
    rho: float = 1.0,
    lr: float = 0.5,
    n_steps: int = 400,
    tol: float = 1e-6,
    seed=0,
) -> SolverRace:
    """SVD-iteration (damping a = 1) versus plain gradient descent from one small random
    start.

    M* comes from a separate SVD-iteration run to relative change 1e-13. Each solver is
    timed until ||M_t - M*||_F / ||M*||_F < tol (iterations and seconds, see
    :func:`iterations_to_tolerance`); ``sin_theta`` compares the final span G1^T of the
    two runs. One replicate (X (n, d1), Y (n, d2)).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (n, d1).
    Y : torch.Tensor
        Tensor of shape (n, d2).
    r : int
        The representation dimension.
    loss : {"clip", "linear"} or ContrastiveFamily, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature.
    rho : float, default=1.0
        The regularisation strength.
    lr : float, default=0.5
        Gradient descent's step size.
    n_steps : int, default=400
        The most iterations of each solver.
    tol : float, default=1e-6
        The relative distance to M* that ends the race.
    seed : int or torch.Generator, default=0
        The seed of the common start.

    Returns
    -------
    SolverRace
    """
    X, Y = check_pair(X, Y)
    if X.ndim != 2:
        raise ValueError(
            f"solver_race takes one replicate: X must be (n, d1), got {tuple(X.shape)}"
        )
    ref = svd_iteration(X, Y, r, loss, tau=tau, rho=rho, tol=1e-13, max_iter=5000)
    M_ref = _t(ref.G1) @ ref.G2
    g = make_generator(seed)
    init = tuple(
        (0.1 * torch.randn(r, d, generator=g, dtype=torch.float64)).to(X)
        for d in (X.shape[-1], Y.shape[-1])
    )
    svd = svd_iteration(
        X,
        Y,
        r,
        loss,
        tau=tau,
        rho=rho,
        init=init,
        tol=1e-10,
        max_iter=n_steps,
        record_iterates=True,
    )
    gd = gradient_descent(
        X,
        Y,
        r,
        loss,
        tau=tau,
        rho=rho,
        lr=lr,
        n_steps=n_steps,
        init=init,
        record_every=1,
    )
    k_svd, t_svd = iterations_to_tolerance(svd, M_ref, tol)
    k_gd, t_gd = iterations_to_tolerance(gd, M_ref, tol)
    sin = float(sin_theta_distance(_t(svd.G1), _t(gd.G1)))
    return SolverRace(M_ref, svd, gd, k_svd, t_svd, k_gd, t_gd, sin)
