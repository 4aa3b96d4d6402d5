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

import time
from dataclasses import dataclass, field

import torch

from . import _matfree as _mf
from ._validation import (
    check_finite_output,
    check_int,
    check_matrix,
    check_pair,
    check_rank,
    check_real,
    check_rho,
    check_same_device,
    check_spectrum,
    tiny,
)
from .covariance import cross_covariance
from .blocked import (
    BLOCKED_FAMILIES,
    DENSE_LIMIT,
    auto_block_size,
    blocked_cross_covariance,
    blocked_loss,
)
from .families import ClipFamily, LinearFamily, get_family, linear_loss_of_embeddings
from .losses import check_representation

from .lowrank import factorize, low_rank, svd_flip, truncated_svd

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
    ``mmcl._matfree.centred_cross_covariance_fast``), the finiteness check of X and Y
    folded into the column means and norms that needs, and a truncated SVD in
    O(d1 d2 r) for r << d.
    """
    X, Y = check_pair(X, Y, finite=False)  # finiteness: checked by _centered_cov
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    if r > X.shape[-2] - 1:
        raise ValueError(
            f"r = {r} exceeds n - 1 = {X.shape[-2] - 1}, the largest rank the centred "
            f"cross-covariance of X and Y (n = {X.shape[-2]} pairs) can have; lower r "
            "or add pairs"
        )
    return _closed_form_of(_centered_cov(X, Y), r, check_rho(rho))


def _closed_form_of(S_n, r: int, rho: float) -> SolverResult:
    """The linear closed form from a formed S_n (also :mod:`mmcl.distributed`'s)."""
    U, sig, V = truncated_svd(S_n, r)
    check_spectrum(sig, r, "the centred cross-covariance S_n of X and Y", "X and Y")
    G1, G2 = factorize(U, sig, V, rho)
    return SolverResult(G1, G2, U, V, sig)


def _centered_cov(X, Y) -> torch.Tensor:
    """S_n of shape-checked X, Y; non-finite inputs raise the usual ValueError naming
    them."""
    S, bad = _mf.centred_cross_covariance_fast(X, Y)
    if bad is not None:
        check_matrix(X if bad == "X" else Y, bad)  # names NaN / inf entries
        raise ValueError(
            f"{bad} has entries too large to square in {X.dtype}; rescale it"
        )
    return S


def _loss_of_M(X, Y, U, w, V, family, rho, block):
    """L(M) for M = U diag(w) V^T: similarities (X U) diag(w) (Y V)^T plus
    (rho/2)||w||^2.

    Returns the loss and what S(beta) needs: the similarities (dense, ``block`` None) or
    the embeddings and CLIP log-normalisers (blocked)."""
    zx, zy = (X @ U) * w.unsqueeze(-2), Y @ V
    reg = 0.5 * rho * (w**2).sum(-1)
    if block is None:
        s = zx @ zy.transpose(-1, -2)
        return family.loss_from_similarities(s) + reg, s
    L, norms = blocked_loss(zx, zy, family, block_size=block, return_normalizers=True)
    return L + reg, (zx, zy, norms)


def _cov_of_state(X, Y, state, family, block):
    """S(beta) at the similarities described by ``state`` (see :func:`_loss_of_M`)."""
    if block is None:
        return cross_covariance(X, Y, family.weights(state))
    zx, zy, norms = state
    return blocked_cross_covariance(
        X, Y, zx, zy, family, block_size=block, normalizers=norms
    )


class _FormedProblem:
    """Every family but CLIP (which has ``mmcl._matfree.ClipProblem``): S(beta)
    formed, dense or in blocks (:func:`_loss_of_M`, :func:`_cov_of_state`); the linear
    family's S is the fixed S_n and its loss needs only row and column sums."""

    def __init__(self, X, Y, family, rho, block, fixed_S=None):
        self.X, self.Y, self.family, self.rho = X, Y, family, rho
        self.block, self.fixed_S = block, fixed_S

    def choose(self, r: int) -> tuple[int, bool]:
        return r, True

    def _gather(self, Z):
        """Z for every row from the local rows' Z (sharded in mmcl.distributed)."""
        return Z

    def state(self, U, w, V) -> dict:
        if self.fixed_S is not None:
            zx = self._gather((self.X @ U) * w.unsqueeze(-2))
            zy = self._gather(self.Y @ V)
            reg = 0.5 * self.rho * (w**2).sum(-1)
            return {"loss": linear_loss_of_embeddings(zx, zy) + reg}
        L, s = _loss_of_M(self.X, self.Y, U, w, V, self.family, self.rho, self.block)
        return {"loss": L, "s": s}

    def formed(self, st) -> torch.Tensor:
        if self.fixed_S is not None:
            return self.fixed_S
        return _cov_of_state(self.X, self.Y, st["s"], self.family, self.block)


def _resolve_block(block_size, family, n: int, batch: int):
    """None: dense while batch * n^2 <= DENSE_LIMIT (or for custom families), else
    blocked."""
    preset = isinstance(family, BLOCKED_FAMILIES)
    if block_size is not None:
        if not preset:
            raise TypeError(
                "block_size needs the 'clip', 'linear' or 'siglip' preset, "
                f"got {family!r}"
            )
        return check_int(block_size, "block_size", low=1)
    return auto_block_size(n, batch) if preset and batch * n * n > DENSE_LIMIT else None


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
        rise.
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
    n^2 (2k) multiply-adds per product pair with A kept (dense), or n^2 (r + 2k) plus
    one exponential per entry (blocked), against n^2 min(d1, d2) to form S (then a full
    SVD, exactly as for the other families, whose S(beta) is always formed); see
    ``mmcl._matfree``. The subspace iteration stops once its residual is below 10% of
    the last change of M (the fixed point is the same; set
    ``mmcl._matfree._INNER_RTOL = 0`` for steps equal to the full SVD's up to
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
    block = _resolve_block(block_size, family, X.shape[-2], X[..., 0, 0].numel())
    S_n = _centered_cov(X, Y) if isinstance(family, LinearFamily) else None
    if isinstance(family, ClipFamily):
        prob = _mf.ClipProblem(X, Y, family.tau, rho, block)
    else:
        prob = _FormedProblem(X, Y, family, rho, block, fixed_S=S_n)
    return _iterate(
        prob,
        lambda: _centered_cov(X, Y) if S_n is None else S_n,
        None if init is None else (G1, G2),
        r,
        rho,
        a0,
        tol,
        max_iter,
        record_iterates,
        _mf._floor(X.dtype, max(X.shape[-1], Y.shape[-1])),
    )


def _iterate(prob, centred, init, r, rho, a0, tol, max_iter, record_iterates, floor):
    """The SVD-iteration on a problem object (``choose``, ``state``, ``products``,
    ``formed``), from the top of S_n = ``centred()`` (``init`` None) or from
    ``init`` = (G1, G2); shared by :func:`svd_iteration` and
    :func:`mmcl.distributed.svd_iteration`, whose problem's products are sharded."""
    k, formed = prob.choose(r)
    if init is None:  # the linear closed form, its top k as the subspace start
        U, sig, V = truncated_svd(centred(), k)
        check_spectrum(
            sig[..., :r], r, "the centred cross-covariance S_n of X and Y", "X and Y"
        )
        Qu, Qv, U, w, V = U, V, U[..., :r], sig[..., :r] / rho, V[..., :r]
    else:
        U, w, V = truncated_svd(init[0].transpose(-1, -2) @ init[1], r)
        Qu, Qv = _mf.start_bases(U, V, k)
    a = torch.full(U.shape[:-2], a0, dtype=U.dtype, device=U.device)
    t0 = time.perf_counter()  # history times include the first loss evaluation
    st = prob.state(U, w, V)
    if not bool(torch.isfinite(st["loss"]).all()):  # overflow before the first step
        check_finite_output(
            st["loss"],
            "svd_iteration's starting loss",
            "raise tau or rho, or scale the data down",
        )
    M = low_rank(U, w, V)
    hist = {"loss": [], "change": [], "time": [], "products": []}
    iterates, converged, change = [], False, 1.0
    for it in range(1, max_iter + 1):
        tol_in, passes = max(floor, _mf._INNER_RTOL * change), 1
        if formed:
            S = prob.formed(st)
            if not bool(torch.isfinite(S).all()):  # the weights overflowed
                check_finite_output(
                    S,
                    "svd_iteration's S(beta)",
                    "raise tau or rho, or scale the data down",
                )
        else:  # S Qv, S^T Qu: shared by every damping tried
            first = prob.products(st, Qu, Qv)
            bad = next((t for t in first if not bool(torch.isfinite(t).all())), None)
            if bad is not None:  # the weights overflowed
                check_finite_output(
                    bad,
                    "svd_iteration's S(beta)",
                    "raise tau or rho, or scale the data down",
                )
        for _ in range(30):  # backtracking on the damping, per replicate
            c1, c2 = ((1 - a) * rho)[..., None, None], a[..., None, None]
            if formed:
                U1, sig1, V1 = truncated_svd(c1 * M + c2 * S, r)
            else:
                U1, sig1, V1, Qu1, Qv1, steps = _step_svd(
                    prob, st, U, w, V, c1, c2, Qu, Qv, first, r, tol_in
                )
                passes += steps - 1
            w1 = sig1 / rho
            st1 = prob.state(U1, w1, V1)
            L, L1 = st["loss"], st1["loss"]
            worse = L1 > L + 1e-12 * L.abs().clamp_min(1.0)
            if not bool(worse.any()):
                break
            a = torch.where(worse, a / 2, a)
        M1 = low_rank(U1, w1, V1)
        change = float(
            (
                torch.linalg.matrix_norm(M1 - M)
                / torch.linalg.matrix_norm(M).clamp_min(tiny(M))
            ).max()
        )
        U, w, V, st, M = U1, w1, V1, st1, M1
        if not formed:
            Qu, Qv = Qu1, Qv1
        hist["loss"].append(st["loss"].detach().clone())
        hist["change"].append(change)
        hist["time"].append(time.perf_counter() - t0)
        hist["products"].append(passes)
        if record_iterates:
            iterates.append(factorize(U, w * rho, V, rho))
        if change < tol:
            converged = True
            break
    if not bool(torch.isfinite(st["loss"]).all()):
        check_finite_output(
            st["loss"],
            "svd_iteration's loss",
            "raise tau or rho, or scale the data down",
        )
    G1, G2 = factorize(U, w * rho, V, rho)
    if formed:
        sig = truncated_svd(prob.formed(st), r)[1]
    else:
        sig = _mf.subspace_svd(
            lambda Qu, Qv: prob.products(st, Qu, Qv),
            Qu,
            Qv,
            r,
            max(floor, _mf._INNER_RTOL * change),
        )[1]
    return SolverResult(
        G1,
        G2,
        U,
        V,
        sig,
        n_iter=it,
        converged=converged,
        history=hist,
        iterates=iterates,
    )


def _step_svd(prob, st, U, w, V, c1, c2, Qu, Qv, first, r, tol):
    """Top r of T = c1 M + c2 S(beta) (M = U diag(w) V^T) by subspace iteration from
    (Qu, Qv); ``first`` = (S Qv, S^T Qu)."""
    Uw, Vw = U * w.unsqueeze(-2), V * w.unsqueeze(-2)

    def combine(Qu_, Qv_, SQv, StQu):  # (T Qv, T^T Qu)
        return (
            c1 * Uw @ (V.transpose(-1, -2) @ Qv_) + c2 * SQv,
            c1 * Vw @ (U.transpose(-1, -2) @ Qu_) + c2 * StQu,
        )

    out = _mf.subspace_svd(
        lambda Qu_, Qv_: combine(Qu_, Qv_, *prob.products(st, Qu_, Qv_)),
        Qu,
        Qv,
        r,
        tol,
        first=combine(Qu, Qv, *first),
    )
    U1, V1 = svd_flip(out[0], out[2])
    return U1, out[1], V1, out[3], out[4], out[5]


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
