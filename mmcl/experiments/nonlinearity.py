"""What CLIP's nonlinearity costs (book/03_robustness, last section).

For Gaussian data x ~ N(0, Sigma_x), y ~ N(0, Sigma_y) with E[x y^T] = C, and
un-normalised similarities s_ij = x_i^T M y_j, the CLIP loss minus tau log n tends, for
each fixed M as n grows, to the quadratic

    L_inf(M) = -tr(C^T M) + tr(Sigma_x M Sigma_y M^T) / (2 tau) + (rho/2) ||M||_F^2,

whose gradient -C + Sigma_x M Sigma_y / tau + rho M is minus the population S(beta)
plus rho M (the negatives' softmax weights tilt E[x y^T] by Sigma_y M^T x / tau).
:func:`population_clip_fixed_point` minimises it over rank-r matrices by projected
gradient descent; :func:`first_order_tilt` is its first-order (in 1 / (rho tau)) tilt
of span U1 under diagonal noise; :func:`clip_bias_experiment` measures finite-n CLIP
fixed points against the linear closed form.
"""

from __future__ import annotations

import torch

from .._validation import check_int, check_real
from ..data import make_multimodal
from ..sampling import heteroskedastic_noise_std
from ..covariance import contrastive_gradient
from ..metrics import sin_theta_distance

__all__ = [
    "bias_draw",
    "population_clip_loss",
    "population_clip_fixed_point",
    "first_order_tilt",
    "clip_bias_experiment",
]


def population_clip_loss(M, Sigma_x, Sigma_y, C, *, tau: float, rho: float = 1.0):
    """The limit L_inf(M) of the CLIP loss minus tau log n (Gaussian data).

    Parameters
    ----------
    M : torch.Tensor
        Tensor of shape (..., d1, d2): the product G1^T G2.
    Sigma_x : torch.Tensor
        Tensor of shape (..., d1, d1): the covariance of x.
    Sigma_y : torch.Tensor
        Tensor of shape (..., d2, d2): the covariance of y.
    C : torch.Tensor
        Tensor of shape (..., d1, d2): E[x y^T] over the pairs.
    tau : float
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    tau = check_real(tau, "tau", low=0.0, low_open=True)
    rho = check_real(rho, "rho", low=0.0)
    linear = -(C * M).sum((-1, -2))
    quad = (Sigma_x @ M @ Sigma_y * M).sum((-1, -2)) / (2 * tau)
    return linear + quad + 0.5 * rho * (M * M).sum((-1, -2))


def population_clip_fixed_point(
    Sigma_x,
    Sigma_y,
    C,
    r: int,
    *,
    tau: float,
    rho: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 100000,
):
    """Minimise :func:`population_clip_loss` over rank-r M by projected gradient
    descent with step 1/L, L = rho + ||Sigma_x||_op ||Sigma_y||_op / tau.

    Parameters
    ----------
    Sigma_x : torch.Tensor
        Tensor of shape (..., d1, d1).
    Sigma_y : torch.Tensor
        Tensor of shape (..., d2, d2).
    C : torch.Tensor
        Tensor of shape (..., d1, d2).
    r : int
        The rank.
    tau : float
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength (> 0).
    tol : float, default=1e-12
        Stop when ||M_{t+1} - M_t||_F / ||M_t||_F < tol for every batch entry.
    max_iter : int, default=100000
        The most iterations.

    Returns
    -------
    tuple
        (M, U, n_iter): M of shape (..., d1, d2), its top-r left singular vectors U of
        shape (..., d1, r), and the iterations used.
    """
    tau = check_real(tau, "tau", low=0.0, low_open=True)
    rho = check_real(rho, "rho", low=0.0, low_open=True)
    r, max_iter = check_int(r, "r"), check_int(max_iter, "max_iter")
    nx = torch.linalg.matrix_norm(Sigma_x, 2)
    ny = torch.linalg.matrix_norm(Sigma_y, 2)
    step = (1.0 / (rho + nx * ny / tau))[..., None, None]  # (..., 1, 1)
    M = _rank_r(C, r)[0] / rho  # the start: the tau = infinity fixed point
    for it in range(1, max_iter + 1):
        grad = -C + Sigma_x @ M @ Sigma_y / tau + rho * M
        M1, U = _rank_r(M - step * grad, r)  # (..., d1, d2), (..., d1, r)
        change = torch.linalg.matrix_norm(M1 - M) / torch.linalg.matrix_norm(M)
        M = M1
        if bool((change < tol).all()):
            break
    return M, U, it


def _rank_r(A, r: int):
    """The best rank-r approximation of A (Eckart-Young) and its left basis."""
    U, w, Vh = torch.linalg.svd(A, full_matrices=False)
    U, w, Vh = U[..., :r], w[..., :r], Vh[..., :r, :]
    return U @ torch.diag_embed(w) @ Vh, U


def first_order_tilt(U1, U2, Sigma_z, D1, D2, *, tau: float, rho: float = 1.0):
    """The first-order tilt T = -(I - P) D1 U1 Sigma_z (Sigma_z + U2^T D2 U2)
    Sigma_z^{-1} / (rho tau) of the population CLIP fixed point's left subspace.

    Parameters
    ----------
    U1 : torch.Tensor
        Tensor of shape (..., d1, r): orthonormal, the subspace of modality 1.
    U2 : torch.Tensor
        Tensor of shape (..., d2, r): orthonormal, the subspace of modality 2.
    Sigma_z : torch.Tensor
        Tensor of shape (r, r): the latent covariance.
    D1 : torch.Tensor
        Tensor of shape (d1,): the noise variances of modality 1.
    D2 : torch.Tensor
        Tensor of shape (d2,): the noise variances of modality 2.
    tau : float
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength (> 0).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d1, r); its Frobenius norm predicts the sinTheta error to
        first order in 1 / (rho tau).
    """
    tau = check_real(tau, "tau", low=0.0, low_open=True)
    rho = check_real(rho, "rho", low=0.0, low_open=True)
    out = D1[:, None] * U1 - U1 @ (U1.mT @ (D1[:, None] * U1))  # (I - P) D1 U1
    inner = Sigma_z + U2.mT @ (D2[:, None] * U2)  # (..., r, r)
    return -out @ Sigma_z @ inner @ torch.linalg.inv(Sigma_z) / (rho * tau)


def bias_draw(spread, n, d1, d2, r, signal_var, replicates, seed):
    """The draw of :func:`clip_bias_experiment` (and of ``mmcl.cosine_clip_experiment``,
    which reuses it): the latent factor model in float64 with diagonal noise whose
    variances spread by ``spread`` (``mmcl.heteroskedastic_noise_std``, generators 0
    and 1 for the two modalities), ``replicates`` of n pairs from ``seed``.

    Parameters
    ----------
    spread : float
        The spread of the noise variances, in [0, 1); 0 is isotropic.
    n : int
        The number of pairs.
    d1 : int
        The dimension of modality 1.
    d2 : int
        The dimension of modality 2.
    r : int
        The rank of the shared latent.
    signal_var : float
        Sigma_z = signal_var * I.
    replicates : int
        Independent replicates.
    seed : int
        The seed of the data.

    Returns
    -------
    tuple
        The MultimodalSample (X, Y of shape (replicates, n, d1) and
        (replicates, n, d2), with U1, U2) and the noise standard deviations (n1, n2),
        of shape (d1,) and (d2,).
    """
    n1 = heteroskedastic_noise_std(d1, spread=spread, generator=0)
    n2 = heteroskedastic_noise_std(d2, spread=spread, generator=1)
    data = make_multimodal(
        n,
        d1,
        d2,
        r,
        signal_cov=signal_var,
        noise=n1,
        noise2=n2,
        replicates=replicates,
        seed=seed,
        dtype=torch.float64,
    )
    return data, (n1, n2)


def clip_bias_experiment(
    ns,
    taus,
    spreads,
    *,
    d1: int = 20,
    d2: int = 10,
    r: int = 3,
    signal_var: float = 2.0,
    rho: float = 1.0,
    replicates: int = 3,
    seed: int = 0,
):
    """sinTheta of the linear closed form and of converged CLIP fixed points
    (:func:`~mmcl.solvers.svd_iteration`, un-normalised similarities) against n.

    Noise variances are uniform on [1 - spread, 1 + spread] (drawn once per spread,
    seeds 0 and 1 for the two modalities); float64; replicates batched.

    Parameters
    ----------
    ns : sequence of int
        The sample sizes.
    taus : sequence of float
        The CLIP temperatures.
    spreads : sequence of float
        The noise spreads (0: isotropic).
    d1 : int, default=20
        The dimension of modality 1.
    d2 : int, default=10
        The dimension of modality 2.
    r : int, default=3
        The latent dimension.
    signal_var : float, default=2.0
        Sigma_z = signal_var * I.
    rho : float, default=1.0
        The regularisation strength.
    replicates : int, default=3
        Independent replicates per cell.
    seed : int, default=0
        The seed of the data.

    Returns
    -------
    dict
        ``err[(spread, method, n)]``: the sinTheta errors (tensor of shape
        (replicates,)), method ``"linear"`` or a tau; ``grad``: the largest gradient
        norm of the CLIP loss at a returned fixed point; ``converged``: whether every
        CLIP run met svd_iteration's tolerance; ``pop[(spread, tau)]``: the sinTheta
        of :func:`population_clip_fixed_point` on the same subspaces (n = infinity).
    """
    from .. import linear_closed_form, svd_iteration  # the top-level solver names

    err, pop, grad, conv = {}, {}, 0.0, True
    for spread in spreads:
        for n in ns:
            data, (n1, n2) = bias_draw(
                spread, n, d1, d2, r, signal_var, replicates, seed
            )
            lin = linear_closed_form(data.X, data.Y, r, rho=rho)
            err[(spread, "linear", n)] = sin_theta_distance(lin.U, data.U1)
            for tau in taus:
                fit = svd_iteration(data.X, data.Y, r, "clip", tau=tau, rho=rho)
                conv = conv and fit.converged
                err[(spread, tau, n)] = sin_theta_distance(fit.U, data.U1)
                grad = max(grad, _clip_gradient_norm(fit, data, tau, rho))
        # the population of the same subspaces (U1, U2 come first from the seed)
        U1, U2, eye = data.U1, data.U2, torch.eye(r, dtype=torch.float64)
        Sx = signal_var * U1 @ U1.mT + torch.diag(n1.double() ** 2)  # (R, d1, d1)
        Sy = signal_var * U2 @ U2.mT + torch.diag(n2.double() ** 2)  # (R, d2, d2)
        C = U1 @ (signal_var * eye) @ U2.mT  # (R, d1, d2)
        for tau in taus:
            U = population_clip_fixed_point(Sx, Sy, C, r, tau=tau, rho=rho)[1]
            pop[(spread, tau)] = sin_theta_distance(U, U1)
    return {"err": err, "pop": pop, "grad": grad, "converged": conv}


def _clip_gradient_norm(fit, data, tau, rho) -> float:
    """The largest (over replicates) norm of the CLIP loss's gradient in (G1, G2)."""
    g1, g2 = contrastive_gradient(fit.G1, fit.G2, data.X, data.Y, tau=tau, rho=rho)
    norm = (
        torch.linalg.matrix_norm(g1) ** 2 + torch.linalg.matrix_norm(g2) ** 2
    ).sqrt()
    return float(norm.max())
