"""The statistics chapter's constants (book/04b_statistics): the concentration bound,
the robustness theorem, Wedin's bound and the first-order identity behind 1/eta."""

import math

import pytest
import torch

import mmcl

D1, D2, R, S, V = 10, 10, 2, 1.0, 0.5


def _by_hand(n, eta, t):
    """The proposition's bound, spelled out term by term for one setting."""
    nt = round(eta * n)
    nf = n - nt
    q = S + V

    def g(p, m):
        if m == 0:
            return 0.0
        e = (math.sqrt(p) + t) / math.sqrt(m)
        return 2 * e + e * e

    gram = nt / n * g(R + D1 + D2, nt) + nf / n * g(2 * R + D1 + D2, nf)
    mean = (math.sqrt(R * S + D1 * V) + t * math.sqrt(q)) * (
        math.sqrt(R * S + D2 * V) + t * math.sqrt(q)
    )
    return n / (n - 1) * (q * gram + mean / n) + nt / n * S / (n - 1)


@pytest.mark.parametrize("n,eta", [(1000, 1.0), (4000, 0.5), (333, 0.3)])
def test_deviation_bound_matches_the_proposition(n, eta):
    got = mmcl.cross_covariance_deviation_bound(
        n, eta, D1, D2, R, signal_var=S, noise_var=V, t=3.0
    )
    # the same float64 arithmetic in another order: relative 1e-12 is ~1e4 eps
    assert got == pytest.approx(_by_hand(n, eta, 3.0), rel=1e-12)


def test_robustness_bound_formula_and_trivial_regime():
    n, eta = 32000, 1.0
    eps = mmcl.cross_covariance_deviation_bound(
        n, eta, D1, D2, R, signal_var=S, noise_var=V
    )
    want = math.sqrt(2 * R) * eps / (eta * S - eps)
    got = mmcl.robustness_bound(n, eta, D1, D2, R, signal_var=S, noise_var=V)
    assert got == pytest.approx(want, rel=1e-12)
    # too few pairs: eps >= eta s and the theorem says only the trivial sqrt(r)
    assert mmcl.robustness_bound(100, 0.5, D1, D2, R) == math.sqrt(R)
    # the exercise's grid points: n = 16000 at eta = 1, 128000 at eta = 0.5
    for eta, n_star in ((1.0, 16000), (0.5, 128000)):
        assert (
            mmcl.robustness_bound(n_star, eta, D1, D2, R, signal_var=S, noise_var=V)
            < 0.5
        )
        assert (
            mmcl.robustness_bound(
                n_star // 2, eta, D1, D2, R, signal_var=S, noise_var=V
            )
            >= 0.5
        )


def test_bounds_hold_on_replicates_and_first_order_identity():
    n, eta = 800, 0.5
    d = mmcl.make_multimodal(
        n,
        D1,
        D2,
        R,
        eta=eta,
        signal_cov=S,
        noise=V**0.5,
        replicates=40,
        seed=7,
        dtype=torch.float64,
    )
    Sn = mmcl.centered_cross_covariance(d.X, d.Y)
    E = Sn - eta * S * d.U1 @ d.U2.mT
    op = torch.linalg.matrix_norm(E, 2)
    eps = mmcl.cross_covariance_deviation_bound(
        n, eta, D1, D2, R, signal_var=S, noise_var=V
    )
    assert bool((op <= eps).all())
    fit = mmcl.linear_closed_form(d.X, d.Y, R)
    err = mmcl.sin_theta_distance(fit.U, d.U1)
    # Wedin's Frobenius form, deterministic: slack 1e-12 on O(1) float64 numbers
    errv = mmcl.sin_theta_distance(fit.V, d.U2)
    res = (
        torch.linalg.matrix_norm(E @ fit.V) ** 2
        + torch.linalg.matrix_norm(E.mT @ fit.U) ** 2
    ).sqrt()
    assert bool(
        ((err**2 + errv**2).sqrt() <= res / fit.singular_values[:, -1] + 1e-12).all()
    )
    # the exact identity (I - P) U_hat = (I - P) S_n V_hat Sigma_hat^{-1}
    P_out = torch.eye(D1, dtype=Sn.dtype) - d.U1 @ d.U1.mT
    exact = torch.linalg.matrix_norm(
        P_out @ Sn @ fit.V / fit.singular_values[:, None, :]
    )
    torch.testing.assert_close(exact, err, rtol=1e-10, atol=0.0)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        (dict(n=1), "n"),
        (dict(eta=1.5), "eta"),
        (dict(signal_var=0.0), "signal_var"),
        (dict(noise_var=-1.0), "noise_var"),
        (dict(t=0.0), "t"),
    ],
)
def test_bad_input_names_the_argument(kwargs, name):
    args = dict(n=100, eta=0.5, d1=D1, d2=D2, r=R)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=name):
        mmcl.cross_covariance_deviation_bound(**args)


def _psd_eckart_young(M, r):
    """The proposition's minimiser sum_{i<=r} max(lambda_i, 0) u_i u_i^T (algebraic)."""
    lam, vec = torch.linalg.eigh(M)  # ascending
    lam, vec = lam.flip(-1)[:r].clamp(min=0), vec.flip(-1)[:, :r]
    return vec @ torch.diag(lam) @ vec.T


def test_psd_eckart_young_beats_every_gradient_start():
    g = torch.Generator().manual_seed(3)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64)
    M = A + A.T
    M = M - torch.diag(torch.diagonal(M))  # trace 0, indefinite like Delta(Sigma_hat)
    r = 2
    lam = torch.linalg.eigvalsh(M).flip(0)
    best = float(((M - _psd_eckart_young(M, r)) ** 2).sum())
    want = float((lam[:r].clamp(max=0) ** 2).sum() + (lam[r:] ** 2).sum())
    assert best == pytest.approx(want, rel=1e-12)  # float64, O(10) numbers
    for seed in range(3):
        G = torch.randn(
            r, 6, generator=torch.Generator().manual_seed(seed), dtype=M.dtype
        )
        G.requires_grad_(True)
        opt = torch.optim.LBFGS(
            [G], max_iter=300, tolerance_grad=1e-12, line_search_fn="strong_wolfe"
        )

        def closure():
            opt.zero_grad()
            loss = ((M - G.T @ G) ** 2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        reached = float(((M - G.T @ G) ** 2).sum().detach())
        # no start goes below the proposition's minimum (slack: 1e-9 of an O(10) value)
        assert reached >= want - 1e-9


def test_population_bias_of_diagonal_deletion_is_within_the_bound():
    U = mmcl.make_multimodal(2, 20, 3, 3, replicates=50, seed=5, dtype=torch.float64).U1
    A = U @ U.mT
    lam, vec = torch.linalg.eigh(
        A - torch.diag_embed(torch.diagonal(A, dim1=-2, dim2=-1))
    )
    bias = mmcl.sin_theta_distance(vec[..., -3:], U)
    c = torch.diagonal(A, dim1=-2, dim2=-1).max(-1).values
    assert bool((c < 1).all())
    assert bool((bias <= 3**0.5 * c / (1 - c)).all())
    # the floor does not depend on the signal scale s: Delta(s A) = s Delta(A)
    lam2, vec2 = torch.linalg.eigh(
        5 * A - torch.diag_embed(5 * torch.diagonal(A, dim1=-2, dim2=-1))
    )
    torch.testing.assert_close(
        mmcl.sin_theta_distance(vec2[..., -3:], U), bias, rtol=1e-9, atol=1e-12
    )


def test_svd_iteration_descent_at_the_lipschitz_step():
    """Chapter 4b, Step 6: at a = rho / (2 Lambda) every step decreases the CLIP loss by
    at least (Lambda / 2) |dM|^2, and the measured local Lipschitz ratio stays below
    Lambda, more than tenfold (1e-12: float64 slack on O(1) sums)."""
    d = mmcl.make_multimodal(200, D1, D2, R, noise=0.7, seed=7, dtype=torch.float64)
    tau, rho = 0.5, 1.0
    Lam = mmcl.clip_lipschitz_bound(d.X, d.Y, tau=tau, rho=rho)
    nx, ny = (d.X**2).sum(-1), (d.Y**2).sum(-1)
    by_hand = rho + float(nx.mean() * ny.max() + ny.mean() * nx.max()) / (2 * tau)
    assert Lam == pytest.approx(by_hand, rel=1e-12)
    a = rho / (2 * Lam)
    fit = mmcl.svd_iteration(
        d.X, d.Y, R, "clip", tau=tau, rho=rho, damping=a, record_iterates=True, tol=1e-9
    )
    assert len(fit.iterates) == 500
    Ms = torch.stack([G1.mT @ G2 for G1, G2 in fit.iterates])
    S = torch.stack(
        [
            mmcl.contrastive_cross_covariance(G1, G2, d.X, d.Y, "clip", tau=tau)
            for G1, G2 in fit.iterates
        ]
    )
    grad = rho * Ms - S
    loss = torch.stack(fit.history["loss"])
    step = torch.linalg.matrix_norm(Ms[1:] - Ms[:-1])
    drop = loss[:-1] - loss[1:]
    assert bool((drop >= (rho / (2 * a) - Lam / 2) * step**2 - 1e-12).all())
    ratio = torch.linalg.matrix_norm(grad[1:] - grad[:-1]) / step
    assert bool((ratio <= Lam).all()) and float(Lam / ratio.max()) > 10
