"""The statistics chapter's constants ("The statistics, derived", book/04b_statistics).

The chapter proves, for the latent factor model with isotropic Gaussian signal and
noise (Sigma_z = s I_r, noise variance v in every coordinate, a fraction eta of true
pairs), a high-probability bound on the deviation ||S_n - eta U1 Sigma_z U2^T||_op of
the centred cross-covariance (:func:`cross_covariance_deviation_bound`) and, through
Wedin's sinTheta theorem and Weyl's inequality, a bound on the sinTheta error of the
linear closed form (:func:`robustness_bound`). Both hold with probability at least
1 - 6 exp(-t^2 / 2).
"""

from __future__ import annotations

import math

import torch

from .._validation import check_fraction, check_int, check_rank, check_real

__all__ = [
    "cross_covariance_deviation_bound",
    "robustness_bound",
    "clip_lipschitz_bound",
    "detection_slack",
    "certified_detection",
    "nearest_neighbour_failure_bound",
]


def _gram_deviation(p: int, m: int, t: float) -> float:
    """2 e + e^2 with e = (sqrt(p) + t) / sqrt(m): the bound on ||G^T G / m - I||_op for
    an m x p standard Gaussian G, from s_max <= sqrt(m) + sqrt(p) + t and
    s_min >= sqrt(m) - sqrt(p) - t (each with probability 1 - exp(-t^2/2))."""
    e = (math.sqrt(p) + t) / math.sqrt(m)
    return 2 * e + e * e


def cross_covariance_deviation_bound(
    n: int,
    eta: float,
    d1: int,
    d2: int,
    r: int,
    *,
    signal_var: float = 1.0,
    noise_var: float = 1.0,
    t: float = 3.0,
) -> float:
    """The chapter's bound on ||S_n - eta U1 Sigma_z U2^T||_op, isotropic Gaussian data.

    Isotropic means Sigma_z = s I_r and noise variance v in every coordinate.

    With n_T = round(eta n) true and n_F = n - n_T wrong pairs, s = signal_var,
    v = noise_var, ||Sigma_x|| = ||Sigma_y|| = s + v and q = sqrt(||Sigma_x||
    ||Sigma_y||) = s + v, the bound is

        n/(n-1) q [ (n_T/n) g(r+d1+d2, n_T) + (n_F/n) g(2r+d1+d2, n_F) ]
        + (n_T/n) s / (n-1)
        + n/(n-1) (sqrt(r s + d1 v) + t sqrt(q)) (sqrt(r s + d2 v) + t sqrt(q)) / n

    with g(p, m) = 2 e + e^2, e = (sqrt(p) + t) / sqrt(m) (a term is 0 when its m is 0).
    It holds with probability at least 1 - 6 exp(-t^2/2).

    Parameters
    ----------
    n : int
        The number of pairs (>= 2).
    eta : float
        The fraction of true pairs, in [0, 1].
    d1 : int
        The dimension of modality 1.
    d2 : int
        The dimension of modality 2.
    r : int
        The latent dimension.
    signal_var : float, default=1.0
        s: Sigma_z = s I_r (> 0).
    noise_var : float, default=1.0
        v: the noise variance of every coordinate (>= 0).
    t : float, default=3.0
        The deviation parameter (> 0).

    Returns
    -------
    float
        The bound.
    """
    n = check_int(n, "n", low=2)
    eta = check_fraction(eta)
    d1, d2 = check_int(d1, "d1"), check_int(d2, "d2")
    r = check_rank(r, d1, d2)
    s = check_real(signal_var, "signal_var", low=0.0, low_open=True)
    v = check_real(noise_var, "noise_var", low=0.0)
    t = check_real(t, "t", low=0.0, low_open=True)
    n_true = round(eta * n)
    n_false = n - n_true
    q = s + v
    gram = 0.0
    if n_true:
        gram += n_true / n * _gram_deviation(r + d1 + d2, n_true, t)
    if n_false:
        gram += n_false / n * _gram_deviation(2 * r + d1 + d2, n_false, t)
    mean_x = math.sqrt(r * s + d1 * v) + t * math.sqrt(q)
    mean_y = math.sqrt(r * s + d2 * v) + t * math.sqrt(q)
    c = n / (n - 1)
    return c * q * gram + n_true / n * s / (n - 1) + c * mean_x * mean_y / n


def robustness_bound(
    n: int,
    eta: float,
    d1: int,
    d2: int,
    r: int,
    *,
    signal_var: float = 1.0,
    noise_var: float = 1.0,
    t: float = 3.0,
) -> float:
    """The chapter's robustness theorem: a bound on ||sinTheta(U1_hat, U1)||_F.

    sqrt(2 r) eps / (eta_T s - eps) with eps = :func:`cross_covariance_deviation_bound`
    and eta_T = round(eta n) / n, when eps < eta_T s; otherwise sqrt(r) (the trivial
    bound). It holds with probability at least 1 - 6 exp(-t^2/2).

    Parameters
    ----------
    n : int
        The number of pairs (>= 2).
    eta : float
        The fraction of true pairs, in [0, 1].
    d1 : int
        The dimension of modality 1.
    d2 : int
        The dimension of modality 2.
    r : int
        The latent dimension.
    signal_var : float, default=1.0
        s: Sigma_z = s I_r (> 0).
    noise_var : float, default=1.0
        v: the noise variance of every coordinate (>= 0).
    t : float, default=3.0
        The deviation parameter (> 0).

    Returns
    -------
    float
        The bound, at most sqrt(r).
    """
    eps = cross_covariance_deviation_bound(
        n, eta, d1, d2, r, signal_var=signal_var, noise_var=noise_var, t=t
    )
    gap = round(eta * n) / n * signal_var - eps
    if gap <= 0:
        return math.sqrt(r)
    return min(math.sqrt(2 * r) * eps / gap, math.sqrt(r))


def clip_lipschitz_bound(X, Y, *, tau: float, rho: float = 1.0) -> float:
    """A Lipschitz constant of the gradient in M = G1^T G2 of the CLIP loss plus
    (rho/2) ||M||_F^2, un-normalised similarities:

    L = rho + (m_x M_y + m_y M_x) / (2 tau), with m_x = mean_i ||x_i||^2,
    M_y = max_j ||y_j||^2 (and m_y, M_x alike),

    from the Hessian (diag p - p p^T) / tau of tau log-sum-exp(u / tau), whose quadratic
    form in a direction Delta is a variance at most max_j (x_i^T Delta y_j)^2 / tau.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (n, d1).
    Y : torch.Tensor
        Tensor of shape (n, d2).
    tau : float
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength.

    Returns
    -------
    float
        The bound L; svd_iteration with damping a <= rho / L decreases the loss.
    """
    tau = check_real(tau, "tau", low=0.0, low_open=True)
    rho = check_real(rho, "rho", low=0.0)
    nx, ny = (X * X).sum(-1), (Y * Y).sum(-1)  # (n,), (n,)
    both = nx.mean() * ny.max() + ny.mean() * nx.max()
    return rho + float(both) / (2 * tau)


def detection_slack(s_ideal, tolerance, match):
    """The margins of the true pairs that survive a perturbation of the similarities.

    With lo = s - tol and hi = s + tol (entrywise), pair k (row k, column pi(k))
    gets the row slack lo[k, pi(k)] - max_{l != pi(k)} hi[k, l] and the column slack
    lo[k, pi(k)] - max_{k' != k} hi[k', pi(k)]. Every similarity matrix within tol of
    s has a positive row (column) margin at k when the row (column) slack is positive.

    Parameters
    ----------
    s_ideal : torch.Tensor
        Tensor of shape (..., N, N): the reference similarities s.
    tolerance : torch.Tensor
        Tensor broadcastable to s_ideal: the entrywise tolerance (>= 0).
    match : torch.Tensor
        Long tensor of shape (..., N): the hidden pairing pi.

    Returns
    -------
    tuple of torch.Tensor
        The row and the column slacks, each of shape (..., N), indexed by k.
    """
    lo, hi = s_ideal - tolerance, s_ideal + tolerance
    col = match[..., None]
    true_lo = lo.gather(-1, col)[..., 0]  # (..., N)
    rows = hi.scatter(-1, col, float("-inf")).amax(-1)
    hi_cols = hi.gather(-1, col.expand(hi.shape).transpose(-1, -2).contiguous())
    # hi_cols[..., j, k] = hi[j, pi(k)]: column pi(k) read down its rows j
    eye = torch.eye(hi.shape[-1], dtype=torch.bool, device=hi.device)
    cols = hi_cols.masked_fill(eye, float("-inf")).amax(-2)
    return true_lo - rows, true_lo - cols


def certified_detection(row_slack, col_slack) -> dict:
    """Lower bounds on the precision and recall of the mutual and assignment detectors
    from the slacks of :func:`detection_slack` (the chapter's detection theorem).

    Mutual: with F_r, F_c the pairs of non-positive row, column slack and
    c = N - #(F_r u F_c), recall >= c / N and precision >= c / (c + min(#F_r, #F_c))
    (# counts a set).
    Assignment (precision = recall): >= 1 - w / N, w the largest number of smallest
    slacks with a non-positive sum (rows or columns, whichever gives the smaller w).

    Parameters
    ----------
    row_slack : torch.Tensor
        Tensor of shape (..., N).
    col_slack : torch.Tensor
        Tensor of shape (..., N).

    Returns
    -------
    dict
        Tensors of shape (...,): ``mutual_recall``, ``mutual_precision`` and
        ``assignment``.
    """
    n = row_slack.shape[-1]
    fr, fc = row_slack <= 0, col_slack <= 0
    c = n - (fr | fc).sum(-1)
    wrong = torch.minimum(fr.sum(-1), fc.sum(-1))
    prec = torch.where(c + wrong > 0, c / (c + wrong).clamp_min(1), 1.0)

    def most_wrong(g):
        return (g.sort(-1).values.cumsum(-1) <= 0).sum(-1)

    w = torch.minimum(most_wrong(row_slack), most_wrong(col_slack))
    return {
        "mutual_recall": c.double() / n,
        "mutual_precision": prec.double(),
        "assignment": 1 - w.double() / n,
    }


def nearest_neighbour_failure_bound(
    N: int, r: int, *, signal_var: float = 1.0, noise_var: float = 1.0
) -> float:
    """A bound on the probability that a true pair of a pool of N is not its row's
    nearest neighbour under the ideal similarity x^T U1 Sigma_z U2^T y.

    Isotropic model: with a = U1^T x, b = U2^T y (a, b in R^r), q = s + v,
    m = s / q and sigma_T^2 = v (2 s + v) / q, given norm(a) = rho the true score over
    rho is N(m rho, sigma_T^2) and each of the N - 1 others N(0, q); so the
    probability is at most E_rho min(1, min_c [Phi_bar((m rho - c) / sigma_T)
    + (N - 1) Phi_bar(c / sqrt(q))]), rho^2 / q chi-squared with r degrees of
    freedom, computed on 400 quantiles of rho and 400 values of c.

    Parameters
    ----------
    N : int
        The pool size (>= 2).
    r : int
        The latent dimension.
    signal_var : float, default=1.0
        s: Sigma_z = s I_r (> 0).
    noise_var : float, default=1.0
        v: the noise variance of every coordinate (> 0).

    Returns
    -------
    float
        The bound, in [0, 1].
    """
    from scipy.stats import chi, norm

    N, r = check_int(N, "N", low=2), check_int(r, "r")
    s = check_real(signal_var, "signal_var", low=0.0, low_open=True)
    v = check_real(noise_var, "noise_var", low=0.0, low_open=True)
    q = s + v
    m, sd = s / q, math.sqrt(v * (2 * s + v) / q)
    k = 400
    rho = math.sqrt(q) * chi.ppf([(i + 0.5) / k for i in range(k)], r)
    total = 0.0
    for p in rho:
        c = [m * p * j / (k - 1) for j in range(k)]
        tails = norm.sf([(m * p - ci) / sd for ci in c]) + (N - 1) * norm.sf(
            [ci / math.sqrt(q) for ci in c]
        )
        total += min(1.0, float(tails.min()))
    return total / k
