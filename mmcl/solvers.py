"""Solvers: the linear closed form, the SVD-iteration and the graph closed form
(chapters 2 and 5).

Every similarity s_ij = x_i^T G1^T G2 y_j depends on G only through M = G1^T G2 (d1 x
d2, rank r), and the regulariser is (rho/2)||M||_F^2. Each solver returns a
:class:`SolverResult` with balanced factors G1 = diag(sqrt(sigma/rho)) U^T, G2 =
diag(sqrt(sigma/rho)) V^T of M = U diag(sigma/rho) V^T (:mod:`mmcl.lowrank`).

* ``linear_closed_form``: M = SVD_r(S_n) / rho, the global minimiser of the linear loss.
* ``svd_iteration``: M <- SVD_r((1 - a) rho M + a S(beta(M))) / rho, with the damping a
  halved whenever the loss would rise (a = 1 is the plain fixed-point iteration; small a
  is projected gradient descent on rank-r matrices with step a / rho).
* ``graph_closed_form``: the linear loss's global minimiser when the positives are the
  edges of a bipartite graph (chapter 5).

The gradient baselines they are compared with are in :mod:`mmcl.gradient`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from . import _matfree as _mf
from . import _subspace as _ss
from ._validation import (
    check_int,
    check_matrix,
    check_pair,
    check_rank,
    check_real,
    check_rho,
    check_same_device,
    check_spectrum,
)
from .covariance import checked_centred_cross_covariance
from .families import ClipFamily, LinearFamily, get_family
from .losses import check_representation
from ._iteration import FormedProblem, closed_form, iterate, resolve_block
from .lowrank import factorize, truncated_svd

__all__ = [
    "SolverResult",
    "linear_closed_form",
    "svd_iteration",
    "graph_closed_form",
]


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1): the map of modality 1.
    G2 : torch.Tensor
        Tensor of shape (..., r, d2): the map of modality 2.
    U : torch.Tensor
        Tensor of shape (..., d1, r): an orthonormal basis of span G1^T.
    V : torch.Tensor
        Tensor of shape (..., d2, r): an orthonormal basis of span G2^T.
    singular_values : torch.Tensor
        Tensor of shape (..., r): the top singular values of the final S.
    n_iter : int
        The iterations run.
    converged : bool
        Whether the tolerance was met.
    history : dict
        Per-iteration lists "loss", "change" and "time" (and, from
        :func:`svd_iteration`, "products": the passes over the data per step).
    iterates : list
        The recorded (G1, G2) along the way (optional).
    """

    G1: torch.Tensor
    G2: torch.Tensor
    U: torch.Tensor
    V: torch.Tensor
    singular_values: torch.Tensor
    n_iter: int = 0
    converged: bool = True
    history: dict = field(
        default_factory=lambda: {"loss": [], "change": [], "time": []}
    )
    iterates: list = field(default_factory=list)


def linear_closed_form(X, Y, r: int, *, rho: float = 1.0) -> SolverResult:
    """The global minimiser of the linear loss: G1^T G2 = SVD_r(S_n) / rho, with S_n the
    centred, unbiased cross-covariance.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1 (replicates batched in front).
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    r : int
        The representation dimension, 1 <= r <= min(d1, d2).
    rho : float, default=1.0
        The regularisation strength (> 0); it scales G but not the subspaces.

    Returns
    -------
    SolverResult
        The balanced factors, their bases and the top singular values of S_n.

    Notes
    -----
    Costs about one pass X^T Y: S_n = (X^T Y - n xbar ybar^T) / (n - 1) without centred
    copies (centred chunks instead when the means would cost accuracy, see
    ``mmcl.covariance.centred_cross_covariance_fast``), the finiteness check of X and Y
    folded into the column means and norms that needs, and a truncated SVD in
    O(d1 d2 r) for r << d.
    """
    X, Y = check_pair(X, Y, finite=False)  # finiteness: checked with S_n
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    if r > X.shape[-2] - 1:
        raise ValueError(
            f"r = {r} exceeds n - 1 = {X.shape[-2] - 1}, the largest rank the centred "
            f"cross-covariance of X and Y (n = {X.shape[-2]} pairs) can have; lower r "
            "or add pairs"
        )
    return SolverResult(
        **closed_form(checked_centred_cross_covariance(X, Y), r, check_rho(rho))
    )


def svd_iteration(
    X,
    Y,
    r: int,
    loss="clip",
    *,
    tau: float = 1.0,
    rho: float = 1.0,
    init=None,
    damping: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 500,
    record_iterates: bool = False,
    block_size: int | None = None,
) -> SolverResult:
    """Minimise a family loss by repeated truncated SVDs of S(beta).

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
    init : tuple of torch.Tensor, optional
        The start (G1, G2); default: the linear closed form.
    damping : float, default=1.0
        The initial step a, in (0, 1]; halved (per replicate) whenever the loss would
        rise. For CLIP at n >= 2048 a trial is first screened on every (n // 512)-th
        pair: one whose loss there rises by more than 5% is halved without the exact
        pass over all n^2 pairs (a screen at 1/16 or less of its cost; the exact loss
        still decides every accepted step, so the loss never rises). The screen can also
        skip a damping that the exact loss would accept; the step then takes a smaller
        one, still a descent step.
    tol : float, default=1e-8
        Stop when ||M_{t+1} - M_t||_F / ||M_t||_F < tol for every replicate.
    max_iter : int, default=500
        The most iterations.
    record_iterates : bool, default=False
        Keep (G1, G2) after every iteration in ``iterates``.
    block_size : int, optional
        Compute the loss and S(beta) in blocks of this many rows (:mod:`mmcl.blocked`,
        memory O(n * block_size + d1 * d2)) instead of with the n x n similarity matrix.
        Default: dense while replicates * n^2 <= 2^24, blocked above ('clip',
        'linear' and 'siglip' presets; other families stay dense).

    Returns
    -------
    SolverResult
        The representation, its bases, the singular values of the final S(beta) and the
        history (loss, change, time and passes over the data per iteration).

    Notes
    -----
    For CLIP, S(beta) = X^T (I - A) Y / n is applied, not formed, whenever that is
    cheaper by the flop count: the top r of (1 - a) rho M + a S(beta) come from a block
    subspace iteration on k = r + 5 vectors warm-started from the previous step, at
    n^2 (4k) multiply-adds per product pair with P kept (dense, Q's factor folded into
    the columns), or n^2 (r + 1 + 2k) plus one exponential and one scaling per entry
    (blocked: A rebuilt in cache-sized tiles), against n^2 min(d1, d2) to form S (then
    a full SVD, exactly as for the other families, whose S(beta) is always formed). The
    thin products run at a fraction of the large product's rate on one CPU thread, so
    their multiply-adds count four times (calibrated: benchmarks/calibrate_path.py);
    see ``mmcl._matfree``. The subspace iteration stops once its residual is below 10%
    of the last change of M (the fixed point is the same; set
    ``mmcl._subspace._INNER_RTOL = 0`` for steps equal to the full SVD's up to
    rounding). ``history["products"]`` counts the passes over the data (products with
    S, or its formation) per step.
    """
    X, Y = check_pair(X, Y)
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    rho = check_rho(rho)
    a0 = check_real(damping, "damping", low=0.0, high=1.0, low_open=True)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    family = get_family(loss, tau)
    if init is not None:
        G1, G2, X, Y = check_representation(init[0], init[1], X, Y)
    block = resolve_block(block_size, family, X.shape[-2], X[..., 0, 0].numel())
    S_n = (
        checked_centred_cross_covariance(X, Y)
        if isinstance(family, LinearFamily)
        else None
    )
    if isinstance(family, ClipFamily):
        prob = _mf.ClipProblem(X, Y, family.tau, rho, block)
    else:
        prob = FormedProblem(X, Y, family, rho, block, fixed_S=S_n)
    fields = iterate(
        prob,
        lambda: checked_centred_cross_covariance(X, Y) if S_n is None else S_n,
        None if init is None else (G1, G2),
        r,
        rho,
        a0,
        tol,
        max_iter,
        record_iterates,
        _ss._floor(X.dtype, max(X.shape[-1], Y.shape[-1])),
    )
    return SolverResult(**fields)


def graph_closed_form(X, Y, A, r: int, *, rho: float = 1.0) -> SolverResult:
    """Global minimiser of the linear loss when the positives are the edges of a
    bipartite graph.

    With edge weights A (n_x, n_y), the linear loss -mean_{edges} s_ij + mean_{all
    pairs} s_ij + (rho/2)||G1^T G2||_F^2 is minimised by G1^T G2 = SVD_r(S_A) / rho,
    where

        S_A = X^T A Y / sum(A) - xbar ybar^T

    (for A = I this is the centred cross-covariance up to the factor (n-1)/n).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (n_x, d1): modality 1.
    Y : torch.Tensor
        Tensor of shape (n_y, d2): modality 2.
    A : torch.Tensor
        Tensor of shape (n_x, n_y): non-negative edge weights, at least one edge.
    r : int
        The representation dimension.
    rho : float, default=1.0
        The regularisation strength (> 0).

    Returns
    -------
    SolverResult
        The balanced factors, their bases and the top singular values of S_A.
    """
    X = check_matrix(X, "X", min_rows=2, batch=False)
    Y = check_matrix(Y, "Y", min_rows=2, batch=False)
    A = check_matrix(A, "A", batch=False)
    check_same_device(X=X, Y=Y)
    if A.shape != (X.shape[0], Y.shape[0]):
        raise ValueError(
            f"A must have shape (rows of X, rows of Y) = ({X.shape[0]}, {Y.shape[0]}), "
            f"got {tuple(A.shape)}"
        )
    if bool((A < 0).any()) or float(A.sum()) <= 0:
        raise ValueError("A must be non-negative with at least one edge")
    r = check_rank(r, X.shape[1], Y.shape[1])
    rho = check_real(rho, "rho", low=0.0, low_open=True)
    A = A.to(X.dtype)
    S = X.T @ A @ Y / A.sum() - X.mean(0)[:, None] * Y.mean(0)[None, :]
    U, sig, V = truncated_svd(S, r)
    check_spectrum(sig, r, "the graph cross-covariance S_A of X and Y", "X and Y")
    G1, G2 = factorize(U, sig, V, rho)
    return SolverResult(G1, G2, U, V, sig)
