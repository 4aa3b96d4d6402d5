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
