"""Solvers: the linear closed form, the SVD-iteration and plain gradient descent (chapter 2).

Every similarity s_ij = x_i^T G1^T G2 y_j depends on G only through M = G1^T G2 (d1 x d2, rank r),
and the regulariser is (rho/2)||M||_F^2. Each solver returns a :class:`SolverResult` with balanced
factors G1 = diag(sqrt(sigma/rho)) U^T, G2 = diag(sqrt(sigma/rho)) V^T of M = U diag(sigma/rho) V^T.

* ``linear_closed_form``: M = SVD_r(S_n) / rho, the global minimiser of the linear loss.
* ``svd_iteration``: M <- SVD_r((1 - a) rho M + a S(beta(M))) / rho, with the damping a halved
  whenever the loss would rise (a = 1 is the plain fixed-point iteration; small a is projected
  gradient descent on rank-r matrices with step a / rho).
* ``gradient_descent``: gradient descent (or Adam) on (G1, G2) through autograd, for comparison.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ._validation import check_int, check_matrix, check_pair, check_rank, check_real, check_rho
from .data import make_generator
from . import _matfree as _mf
from .blocked import DENSE_LIMIT, auto_block_size
from .families import ClipFamily, LinearFamily, get_family
from .losses import check_representation, contrastive_loss

__all__ = ["svd_flip", "truncated_svd", "factorize", "SolverResult", "linear_closed_form",
           "svd_iteration", "gradient_descent", "minibatch_gradient"]


def svd_flip(U: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The one sign convention of the package: the entry of largest absolute value in each
    column of U is positive; V (columns paired with U's) gets the same signs."""
    idx = U.abs().argmax(dim=-2, keepdim=True)
    signs = torch.sign(torch.gather(U, -2, idx))
    signs = torch.where(signs == 0, torch.ones_like(signs), signs)
    return U * signs, V * signs


def truncated_svd(S: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Top-r SVD of S (..., d1, d2): U (..., d1, r), sigma (..., r), V (..., d2, r), signs flipped.

    For min(d1, d2) >= 128 and r + 5 <= min(d1, d2) / 4 a block subspace iteration on r + 5
    vectors (O(d1 d2 (r + 5)) per step, stopped at the rounding floor of its residual) replaces
    the full SVD (O(d1 d2 min(d1, d2))); without convergence the full SVD is used after all."""
    fast = _mf.fast_truncated_svd(S, r)  # O(d1 d2 (r + 5)) per step when r << min(d1, d2)
    if fast is not None:
        U, V = svd_flip(fast[0], fast[2])
        return U, fast[1], V
    U, sig, Vh = torch.linalg.svd(S, full_matrices=False)
    U, V = svd_flip(U[..., :r], Vh[..., :r, :].transpose(-1, -2))
    return U, sig[..., :r], V


def factorize(U, sigma, V, rho: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Balanced factors (G1, G2) with G1^T G2 = U diag(sigma / rho) V^T."""
    w = (sigma.clamp_min(0) / rho).sqrt().unsqueeze(-1)
    return w * U.transpose(-1, -2), w * V.transpose(-1, -2)


@dataclass
class SolverResult:
    """What a solver returns.

    G1 (..., r, d1), G2 (..., r, d2): the representation; U (..., d1, r), V (..., d2, r):
    orthonormal bases of span G1^T and span G2^T; singular_values (..., r) of the final S;
    n_iter, converged; history: per-iteration lists ("loss", "change", "time");
    iterates: optional list of (G1, G2) along the way.
    """

    G1: torch.Tensor
    G2: torch.Tensor
    U: torch.Tensor
    V: torch.Tensor
    singular_values: torch.Tensor
    n_iter: int = 0
    converged: bool = True
    history: dict = field(default_factory=lambda: {"loss": [], "change": [], "time": []})
    iterates: list = field(default_factory=list)


def linear_closed_form(X, Y, r: int, *, rho: float = 1.0) -> SolverResult:
    """Global minimiser of the linear loss: G1^T G2 = SVD_r(S_n) / rho (S_n centred, unbiased).

    Costs about one pass X^T Y: S_n = (X^T Y - n xbar ybar^T) / (n - 1) without centred copies
    (centred chunks instead when the means would cost accuracy, see
    ``mmcl._matfree.centred_cross_covariance_fast``), the finiteness check of X and Y folded into
    the column means and norms that needs, and a truncated SVD in O(d1 d2 r) for r << d.
    """
    X, Y = check_pair(X, Y, finite=False)  # finiteness: checked by _centered_cov
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    rho = check_rho(rho)
    U, sig, V = truncated_svd(_centered_cov(X, Y), r)
    G1, G2 = factorize(U, sig, V, rho)
    return SolverResult(G1, G2, U, V, sig)


def _centered_cov(X, Y) -> torch.Tensor:
    """S_n of shape-checked X, Y; non-finite inputs raise the usual ValueError naming them."""
    S, bad = _mf.centred_cross_covariance_fast(X, Y)
    if bad is not None:
        check_matrix(X if bad == "X" else Y, bad)  # names NaN / inf entries
        raise ValueError(f"{bad} has entries too large to square in {X.dtype}; rescale it")
    return S


def _resolve_block(block_size, family, n: int, batch: int):
    """None: dense while batch * n^2 <= DENSE_LIMIT (or for custom families), else blocked."""
    preset = isinstance(family, (ClipFamily, LinearFamily))
    if block_size is not None:
        if not preset:
            raise TypeError(f"block_size needs the 'clip' or 'linear' preset, got {family!r}")
        return check_int(block_size, "block_size", low=1)
    return auto_block_size(n, batch) if preset and batch * n * n > DENSE_LIMIT else None


def svd_iteration(X, Y, r: int, loss="clip", *, tau: float = 1.0, rho: float = 1.0, init=None,
                  damping: float = 1.0, tol: float = 1e-8, max_iter: int = 500,
                  record_iterates: bool = False, block_size: int | None = None) -> SolverResult:
    """Minimise a family loss by repeated truncated SVDs of S(beta).

    Parameters
    ----------
    X, Y : (..., n, d1), (..., n, d2)  paired data (replicates batched in the leading dims).
    r : int  representation dimension, 1 <= r <= min(d1, d2).
    loss : "clip", "linear" or ContrastiveFamily.  tau : CLIP temperature (> 0).  rho : > 0.
    init : None (the linear closed form), or (G1, G2).
    damping : float in (0, 1]  initial step a; halved (per replicate) whenever the loss would rise.
    tol : stop when ||M_{t+1} - M_t||_F / ||M_t||_F < tol for every replicate.
    block_size : int >= 1, optional  compute the loss and S(beta) in blocks of this many rows
        (:mod:`mmcl.blocked`, memory O(n * block_size + d1 * d2)) instead of with the n x n
        similarity matrix. Default: dense while replicates * n^2 <= 2^24, blocked above
        ('clip' and 'linear' presets; other families stay dense).

    Notes
    -----
    For CLIP, S(beta) = X^T (I - A) Y / n is applied, not formed, whenever that is cheaper by
    the flop count: the top r of (1 - a) rho M + a S(beta) come from a block subspace iteration
    on k = r + 5 vectors warm-started from the previous step, at n^2 (2k) multiply-adds per product
    pair with A kept (dense), or n^2 (r + 2k) plus one exponential per entry (blocked), against
    n^2 min(d1, d2) to form S (then a full SVD, exactly as for other families); see
    ``mmcl._matfree``. The subspace iteration stops once its residual is below 10% of the last
    change of M (the fixed point is the same; set ``mmcl._matfree._INNER_RTOL = 0`` for steps
    equal to the full SVD's up to rounding). ``history["products"]`` counts the passes over
    the data (products with S, or its formation) per step.
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
    batch = X.shape[:-2]
    block = _resolve_block(block_size, family, X.shape[-2], X[..., 0, 0].numel())
    S_n = None
    if isinstance(family, ClipFamily):
        prob = _mf.ClipProblem(X, Y, family.tau, rho, block)
    else:
        if isinstance(family, LinearFamily):
            S_n = _centered_cov(X, Y)
        prob = _mf.FormedProblem(X, Y, family, rho, fixed_S=S_n)
    k, formed = prob.choose(r)
    if init is None:
        U, sig, V = truncated_svd(_centered_cov(X, Y) if S_n is None else S_n, k)
        Qu, Qv, U, w, V = U, V, U[..., :r], sig[..., :r] / rho, V[..., :r]
    else:
        U, w, V = truncated_svd(G1.transpose(-1, -2) @ G2, r)
        Qu, Qv = _mf.start_bases(U, V, k)
    floor = _mf._floor(X.dtype, max(X.shape[-1], Y.shape[-1]))
    a = torch.full(batch, a0, dtype=X.dtype, device=X.device)
    t0 = time.perf_counter()  # history times include the first loss evaluation
    st = prob.state(U, w, V)
    M = (U * w.unsqueeze(-2)) @ V.transpose(-1, -2)
    hist = {"loss": [], "change": [], "time": [], "products": []}
    iterates, converged, change = [], False, 1.0
    for it in range(1, max_iter + 1):
        tol_in, passes = max(floor, _mf._INNER_RTOL * change), 1
        if formed:
            S = prob.formed(st)
        else:
            first = prob.products(st, Qu, Qv)  # S Qv, S^T Qu: shared by every damping tried
        for _ in range(30):  # backtracking on the damping, per replicate
            c1, c2 = ((1 - a) * rho)[..., None, None], a[..., None, None]
            if formed:
                U1, sig1, V1 = truncated_svd(c1 * M + c2 * S, r)
            else:
                U1, sig1, V1, Qu1, Qv1, steps = _step_svd(prob, st, U, w, V, c1, c2, Qu, Qv,
                                                          first, r, tol_in)
                passes += steps - 1
            w1 = sig1 / rho
            st1 = prob.state(U1, w1, V1)
            worse = st1["loss"] > st["loss"] + 1e-12 * st["loss"].abs().clamp_min(1.0)
            if not bool(worse.any()):
                break
            a = torch.where(worse, a / 2, a)
        M1 = (U1 * w1.unsqueeze(-2)) @ V1.transpose(-1, -2)
        change = float((torch.linalg.matrix_norm(M1 - M)
                        / torch.linalg.matrix_norm(M).clamp_min(1e-300)).max())
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
        raise FloatingPointError("svd_iteration produced a non-finite loss; raise tau or rho")
    G1, G2 = factorize(U, w * rho, V, rho)
    if formed:
        sig = truncated_svd(prob.formed(st), r)[1]
    else:
        sig = _mf.subspace_svd(lambda Qu, Qv: prob.products(st, Qu, Qv), Qu, Qv, r,
                               max(floor, _mf._INNER_RTOL * change))[1]
    return SolverResult(G1, G2, U, V, sig, n_iter=it, converged=converged, history=hist,
                        iterates=iterates)


def _step_svd(prob, st, U, w, V, c1, c2, Qu, Qv, first, r, tol):
    """Top r of T = c1 M + c2 S(beta) (M = U diag(w) V^T) by subspace iteration from (Qu, Qv);
    ``first`` = (S Qv, S^T Qu)."""
    Uw, Vw = U * w.unsqueeze(-2), V * w.unsqueeze(-2)

    def combine(Qu_, Qv_, SQv, StQu):  # (T Qv, T^T Qu)
        return (c1 * Uw @ (V.transpose(-1, -2) @ Qv_) + c2 * SQv,
                c1 * Vw @ (U.transpose(-1, -2) @ Qu_) + c2 * StQu)

    out = _mf.subspace_svd(lambda Qu_, Qv_: combine(Qu_, Qv_, *prob.products(st, Qu_, Qv_)),
                           Qu, Qv, r, tol, first=combine(Qu, Qv, *first))
    U1, V1 = svd_flip(out[0], out[2])
    return U1, out[1], V1, out[3], out[4], out[5]


def _trainable_factors(X, Y, r, init, g):
    """Leaf tensors (G1, G2) to optimise: ``init`` or small random factors drawn from ``g``."""
    if init is None:
        shape = X.shape[:-2]
        G1 = 0.1 * torch.randn(*shape, r, X.shape[-1], generator=g, dtype=torch.float64).to(X)
        G2 = 0.1 * torch.randn(*shape, r, Y.shape[-1], generator=g, dtype=torch.float64).to(X)
    else:
        G1, G2, _, _ = check_representation(init[0], init[1], X, Y)
    return G1.detach().clone().requires_grad_(True), G2.detach().clone().requires_grad_(True)


def _relative_change(G1, G2, M_old):
    """(M, max over replicates of ||M - M_old||_F / ||M_old||_F) for M = G1^T G2."""
    with torch.no_grad():
        M = G1.transpose(-1, -2) @ G2
        change = torch.linalg.matrix_norm(M - M_old) / torch.linalg.matrix_norm(M_old).clamp_min(1e-300)
    return M, float(change.max())


def gradient_descent(X, Y, r: int, loss="clip", *, tau: float = 1.0, rho: float = 1.0,
                     lr: float = 0.1, n_steps: int = 1000, init=None, optimizer: str = "gd",
                     normalize: bool = False, tol: float | None = None, record_every: int = 0,
                     seed=0) -> SolverResult:
    """Plain gradient descent (or Adam) on (G1, G2) through autograd.

    init : None (small random factors from ``seed``) or (G1, G2). ``tol``: stop once the relative
    change of G1^T G2 in one step falls below it. ``record_every=k`` keeps every k-th iterate.
    """
    X, Y = check_pair(X, Y)
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    rho = check_real(rho, "rho", low=0.0)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    n_steps = check_int(n_steps, "n_steps", low=1)
    if optimizer not in ("gd", "adam"):
        raise ValueError(f"optimizer must be 'gd' or 'adam', got {optimizer!r}")
    family = get_family(loss, tau)
    G1, G2 = _trainable_factors(X, Y, r, init, make_generator(seed))
    opt = (torch.optim.SGD if optimizer == "gd" else torch.optim.Adam)([G1, G2], lr=lr)
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
    return SolverResult(G1, G2, U, V, sig, n_iter=step, converged=converged, history=hist,
                        iterates=iterates)


def minibatch_gradient(X, Y, r: int, loss="clip", *, tau: float = 1.0, rho: float = 1.0,
                       lr: float = 2e-3, batch_size: int = 50, n_epochs: int = 100,
                       optimizer: str = "adam", normalize: bool = False, init=None,
                       record_iterates: bool = False, seed=0) -> SolverResult:
    """The usual recipe: Adam (or SGD) on (G1, G2) through autograd, one step per minibatch.

    Each epoch visits the n pairs once in a seeded random order, in minibatches of ``batch_size``
    pairs (the negatives of a pair are the other pairs of its minibatch, as in CLIP training).
    ``history`` holds per epoch the mean minibatch loss, the relative change of G1^T G2 and the
    elapsed time; ``record_iterates`` keeps (G1, G2) after every epoch. init : None (small random
    factors from ``seed``) or (G1, G2).
    """
    X, Y = check_pair(X, Y)
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    rho = check_real(rho, "rho", low=0.0)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    m = check_int(batch_size, "batch_size", low=2, high=X.shape[-2])
    n_epochs = check_int(n_epochs, "n_epochs", low=1)
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    family, g = get_family(loss, tau), make_generator(seed)
    G1, G2 = _trainable_factors(X, Y, r, init, g)
    opt = (torch.optim.SGD if optimizer == "sgd" else torch.optim.Adam)([G1, G2], lr=lr)
    hist, iterates = {"loss": [], "change": [], "time": []}, []
    n, t0 = X.shape[-2], time.perf_counter()
    M_old = (G1.transpose(-1, -2) @ G2).detach()
    for epoch in range(1, n_epochs + 1):
        order = torch.randperm(n, generator=g).to(X.device)
        total = 0.0
        for start in range(0, n - m + 1, m):  # one optimiser step per minibatch
            idx = order[start:start + m]
            opt.zero_grad()
            L = contrastive_loss(G1, G2, X[..., idx, :], Y[..., idx, :], family, rho=rho,
                                 normalize=normalize)
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
    return SolverResult(G1, G2, U, V, sig, n_iter=epoch, converged=False, history=hist,
                        iterates=iterates)
