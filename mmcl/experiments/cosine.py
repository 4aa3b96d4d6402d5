"""CLIP with L2-normalised embeddings (book/03_robustness, "Cosine similarities").

With embeddings a_i = G1 x_i / norm(G1 x_i), b_j = G2 y_j / norm(G2 y_j) and logits
l_ij = <a_i, b_j> / tau, the cosine CLIP loss (rho = 0) is

    L(G1, G2) = tau / (2n) sum_i [(LSE_j l_ij - l_ii) + (LSE_j l_ji - l_ii)],

the CLIP formula of :func:`mmcl.families.clip_loss_from_normalizers` on cosine
similarities. It is unchanged when G1 or G2 is scaled by any c > 0, so only the
directions matter and the fit is reported at unit Frobenius norm. It is not continuous
where some G1 x_i = 0 (the direction of a zero embedding is undefined); with r < d1 such
points exist, and the loss can approach its infimum along a path on which an embedding
shrinks to zero with its direction fixed: then the subspace span G1^T settles while the
gradient grows. :func:`fit_cosine_clip` therefore stops on the subspace and reports the
gradient and the smallest relative embedding norm beside it;
:func:`cosine_clip_experiment` measures sinTheta against n.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .._validation import check_int, check_pair, check_rank, check_real
from ..families import clip_loss_from_normalizers
from ..metrics import sin_theta_distance
from .nonlinearity import bias_draw

__all__ = ["CosineClipFit", "fit_cosine_clip", "cosine_clip_experiment"]


@dataclass
class CosineClipFit:
    """What :func:`fit_cosine_clip` returns (leading shape (...) of the data).

    Attributes
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1), unit Frobenius norm.
    G2 : torch.Tensor
        Tensor of shape (..., r, d2), unit Frobenius norm.
    U : torch.Tensor
        Tensor of shape (..., d1, r): an orthonormal basis of span G1^T.
    loss : torch.Tensor
        Tensor of shape (...,): the cosine CLIP loss at (G1, G2).
    grad_norm : torch.Tensor
        Tensor of shape (...,): the Frobenius norm of the gradient in (G1, G2) at unit
        norm (scale-invariant, since the gradient scales like 1/c when G scales by c).
    min_norm_ratio : torch.Tensor
        Tensor of shape (...,): the smallest ratio norm(G1 x_i) / (norm_F(G1) norm(x_i))
        over both modalities; near 0 an embedding is passing through zero.
    change : torch.Tensor
        Tensor of shape (...,): sinTheta between span G1^T at the last two checks.
    n_iter : torch.Tensor
        Tensor of shape (...,): the L-BFGS iterations run.
    converged : torch.Tensor
        Tensor of shape (...,), bool: change below tol.
    """

    G1: torch.Tensor
    G2: torch.Tensor
    U: torch.Tensor
    loss: torch.Tensor
    grad_norm: torch.Tensor
    min_norm_ratio: torch.Tensor
    change: torch.Tensor
    n_iter: torch.Tensor
    converged: torch.Tensor


def _loss_and_grad(G1, G2, X, Y, tau: float):
    """The cosine CLIP loss at (G1 / norm_F(G1), G2 / norm_F(G2)) and its gradient in
    the raw (G1, G2); one exponential of the n x n logits (in [-1/tau, 1/tau])."""
    G1 = G1.detach().requires_grad_(True)
    G2 = G2.detach().requires_grad_(True)
    a = F.normalize(X @ (G1 / G1.norm()).mT, dim=-1)  # (n, r)
    b = F.normalize(Y @ (G2 / G2.norm()).mT, dim=-1)  # (n, r)
    with torch.no_grad():
        logits = a @ b.mT / tau  # (n, n)
        E = torch.exp(logits - 1.0 / tau)  # (n, n), shifted by the largest logit
        row, col = E.sum(-1), E.sum(-2)  # (n,), (n,)
        n = logits.shape[-1]
        loss = clip_loss_from_normalizers(
            row.log() + 1.0 / tau, col.log() + 1.0 / tau, logits.diagonal(), tau
        )
        # dL/dlogits / tau = W / (2n), W = diag(1/row) E + E diag(1/col) - 2I (row plus
        # column softmax), so dL/da = W b / (2n) and dL/db = W^T a / (2n), each from
        # one thin product with E (W itself is never formed)
        r = b.shape[-1]
        Eb = E @ torch.cat([b, b / col[:, None]], -1)  # (n, 2r)
        Eta = E.mT @ torch.cat([a / row[:, None], a], -1)  # (n, 2r)
        ga = (Eb[:, :r] / row[:, None] + Eb[:, r:] - 2 * b) / (2 * n)
        gb = (Eta[:, :r] + Eta[:, r:] / col[:, None] - 2 * a) / (2 * n)
    torch.autograd.backward([a, b], [ga, gb])
    return loss, G1.grad, G2.grad


def _fit_one(X, Y, G1, G2, tau, tol, check_every, max_iter):
    """L-BFGS (strong Wolfe) on one replicate from (G1, G2); stops on the subspace."""
    P1 = G1.detach().clone().contiguous().requires_grad_(True)
    P2 = G2.detach().clone().contiguous().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [P1, P2],
        max_iter=check_every,
        max_eval=25 * check_every,  # LBFGS shares max_eval with its line searches
        history_size=20,
        tolerance_grad=0.0,
        tolerance_change=0.0,
        line_search_fn="strong_wolfe",
    )

    def closure():
        loss, P1.grad, P2.grad = _loss_and_grad(P1, P2, X, Y, tau)
        return loss

    basis = torch.linalg.svd(P1.detach().mT, full_matrices=False)[0]  # (d1, r)
    it, change = 0, float("inf")
    while it < max_iter and change >= tol:
        opt.step(closure)
        it += check_every
        new = torch.linalg.svd(P1.detach().mT, full_matrices=False)[0]
        change, basis = float(sin_theta_distance(new, basis)), new
    G1, G2 = P1.detach() / P1.detach().norm(), P2.detach() / P2.detach().norm()
    loss, g1, g2 = _loss_and_grad(G1, G2, X, Y, tau)
    ratio = torch.cat(
        [
            (X @ G1.mT).norm(dim=-1) / X.norm(dim=-1),  # (n,)
            (Y @ G2.mT).norm(dim=-1) / Y.norm(dim=-1),
        ]
    ).min()
    grad = (g1.norm() ** 2 + g2.norm() ** 2).sqrt()
    return G1, G2, basis, loss, grad, ratio, change, it


def fit_cosine_clip(
    X,
    Y,
    r: int,
    *,
    tau: float = 1.0,
    tol: float = 1e-6,
    check_every: int = 10,
    max_iter: int = 1000,
) -> CosineClipFit:
    """Minimise the cosine CLIP loss (rho = 0) over (G1, G2) by full-batch L-BFGS with
    a strong Wolfe line search, from the linear closed form, one replicate at a time.

    Every ``check_every`` iterations the fit compares span G1^T with the previous check
    and stops when their sinTheta distance is below ``tol``: the subspace, not
    M = G1^T G2 (whose scale the loss does not fix), is what must settle.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1 (replicates batched in front).
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    r : int
        The representation dimension, 1 <= r <= min(d1, d2).
    tau : float, default=1.0
        The temperature (> 0); the paper's experiments use 1.
    tol : float, default=1e-6
        Stop when the subspace moved less than this (sinTheta) between two checks.
    check_every : int, default=10
        L-BFGS iterations between checks.
    max_iter : int, default=1000
        The most L-BFGS iterations per replicate.

    Returns
    -------
    CosineClipFit
        The directions, the subspace and the convergence diagnostics.

    See Also
    --------
    mmcl.losses.contrastive_loss : the same loss with ``normalize=True, rho=0``.
    mmcl.solvers.linear_closed_form : the start.

    Examples
    --------
    >>> import torch, mmcl
    >>> d = mmcl.make_multimodal(100, 6, 5, 2, seed=0, dtype=torch.float64)
    >>> fit = mmcl.fit_cosine_clip(d.X, d.Y, 2, tau=0.5)
    >>> fit.U.shape
    torch.Size([6, 2])
    """
    from ..solvers import linear_closed_form

    X, Y = check_pair(X, Y)
    X, Y = X.contiguous(), Y.contiguous()  # one summation order: L-BFGS amplifies it
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    tau = check_real(tau, "tau", low=0.0, low_open=True)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    check_every = check_int(check_every, "check_every")
    max_iter = check_int(max_iter, "max_iter")
    start = linear_closed_form(X, Y, r)
    batch = X.shape[:-2]
    Xs, Ys = X.reshape(-1, *X.shape[-2:]), Y.reshape(-1, *Y.shape[-2:])  # (R, n, d)
    G1s, G2s = (
        start.G1.reshape(-1, r, X.shape[-1]),
        start.G2.reshape(-1, r, Y.shape[-1]),
    )
    with torch.enable_grad():
        runs = [
            _fit_one(x, y, g1, g2, tau, tol, check_every, max_iter)
            for x, y, g1, g2 in zip(Xs, Ys, G1s, G2s)
        ]
    cols = list(zip(*runs))

    def shaped(values):  # per-replicate results back to the leading shape (...)
        t = torch.stack([torch.as_tensor(v) for v in values])  # (R, ...)
        return t.reshape(torch.Size(batch) + t.shape[1:])

    stack = [shaped(c) for c in cols[:6]]
    change, n_iter = shaped(cols[6]).to(X.dtype), shaped(cols[7])
    return CosineClipFit(*stack, change, n_iter, change < tol)


def cosine_clip_experiment(
    ns,
    spreads,
    *,
    tau: float = 1.0,
    d1: int = 20,
    d2: int = 10,
    r: int = 3,
    signal_var: float = 2.0,
    replicates: int = 3,
    seed: int = 0,
    tol: float = 1e-6,
):
    """sinTheta of cosine CLIP fits (:func:`fit_cosine_clip`) against n, on the data of
    :func:`~mmcl.experiments.nonlinearity.clip_bias_experiment` with the same arguments
    (its ``bias_draw``: same seeds and noise variances), so the two results' ``err``
    merge into one table with the linear loss and un-normalised CLIP.

    Parameters
    ----------
    ns : sequence of int
        The sample sizes.
    spreads : sequence of float
        The noise spreads in [0, 1) (0: isotropic), via heteroskedastic_noise_std.
    tau : float, default=1.0
        The temperature of cosine CLIP (> 0).
    d1 : int, default=20
        The dimension of modality 1.
    d2 : int, default=10
        The dimension of modality 2.
    r : int, default=3
        The latent dimension.
    signal_var : float, default=2.0
        Sigma_z = signal_var * I.
    replicates : int, default=3
        Independent replicates per cell.
    seed : int, default=0
        The seed of the data.
    tol : float, default=1e-6
        The subspace tolerance of :func:`fit_cosine_clip`.

    Returns
    -------
    dict
        ``err[(spread, "cosine", n)]``: the sinTheta errors (tensor of shape
        (replicates,)); ``fits[(spread, n)]``: the :class:`CosineClipFit`;
        ``converged``: whether every fit met its tolerance.
    """
    spreads = [
        check_real(s, "spreads", low=0.0, high=1.0, high_open=True) for s in spreads
    ]
    ns = [check_int(n, "ns", low=2) for n in ns]
    tau = check_real(tau, "tau", low=0.0, low_open=True)
    err, fits, conv = {}, {}, True
    for spread in spreads:
        for n in ns:
            data = bias_draw(spread, n, d1, d2, r, signal_var, replicates, seed)[0]
            fit = fit_cosine_clip(data.X, data.Y, r, tau=tau, tol=tol)
            conv = conv and bool(fit.converged.all())
            fits[(spread, n)] = fit
            err[(spread, "cosine", n)] = sin_theta_distance(fit.U, data.U1)
    return {"err": err, "fits": fits, "converged": conv}
