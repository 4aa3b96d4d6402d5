"""Solvers: the linear closed form, the SVD-iteration and gradient descent agree with
each other and with independent numpy / scikit-learn computations."""

import numpy as np
import pytest
import torch

import mmcl


@pytest.fixture(scope="module")
def data():
    return mmcl.make_multimodal(
        400, 12, 9, 3, eta=0.8, noise=0.6, seed=11, dtype=torch.float64
    )


def test_centered_cross_covariance_matches_numpy(data):
    X, Y = data.X.numpy(), data.Y.numpy()
    expected = np.cov(X.T, Y.T)[:12, 12:]
    # sums of n = 400 products of O(1) entries, formed twice: each within n eps / 2 *
    # max mean|x y| ~ 5e-14
    assert np.allclose(
        mmcl.centered_cross_covariance(data.X, data.Y).numpy(),
        expected,
        rtol=0,
        atol=1e-12,
    )


def test_linear_weights_give_centered_cross_covariance(data):
    beta = mmcl.linear_family().weights(torch.zeros(400, 400, dtype=torch.float64))
    S = mmcl.cross_covariance(data.X, data.Y, beta)
    assert torch.allclose(
        S, mmcl.centered_cross_covariance(data.X, data.Y), rtol=0, atol=1e-12
    )  # as above


def test_linear_closed_form_is_top_r_svd_of_centered_cross_covariance(data):
    res = mmcl.linear_closed_form(data.X, data.Y, 3, rho=0.5)
    Xc = data.X.numpy() - data.X.numpy().mean(0)
    Yc = data.Y.numpy() - data.Y.numpy().mean(0)
    U, s, Vt = np.linalg.svd(Xc.T @ Yc / 399)
    M = res.G1.T @ res.G2
    # ||dS|| ~ n eps ||S|| ~ 1e-13 from forming S twice; the rank-3 truncation moves by
    # ||dS|| (1 + 2 sigma_1 / (sigma_3 - sigma_4)) ~ 4e-13, divided by rho = 0.5: 1e-11
    # leaves 10x
    assert np.allclose(M.numpy(), U[:, :3] * (s[:3] / 0.5) @ Vt[:3], rtol=0, atol=1e-11)
    assert np.allclose(
        res.singular_values.numpy(), s[:3], rtol=1e-12
    )  # Weyl: |d sigma| <= ||dS|| ~ 1e-13
    # balanced factors: G1 G1^T = G2 G2^T = diag(sigma / rho); U^T U = I to ~d eps,
    # entries <= 2
    assert torch.allclose(
        res.G1 @ res.G1.T, torch.diag(res.singular_values / 0.5), rtol=0, atol=1e-12
    )


def test_linear_subspaces_do_not_depend_on_rho(data):
    a = mmcl.linear_closed_form(data.X, data.Y, 3, rho=0.1)
    b = mmcl.linear_closed_form(data.X, data.Y, 3, rho=10.0)
    # one SVD, rows rescaled by sqrt(sigma / rho): sinTheta ~ eps * cond(G1) * sqrt(d r)
    # ~ 1e-14
    assert float(mmcl.sin_theta_distance(a.G1.T, b.G1.T)) < 1e-12
    # the same U times sqrt(sigma / rho) sqrt(rho): a few roundings per entry, relative
    assert torch.allclose(a.G1 * 0.1**0.5, b.G1 * 10.0**0.5, rtol=1e-13, atol=0)


def test_linear_closed_form_equals_long_gradient_descent(data):
    closed = mmcl.linear_closed_form(data.X, data.Y, 3, rho=1.0)
    gd = mmcl.gradient_descent(
        data.X, data.Y, 3, "linear", rho=1.0, lr=0.2, n_steps=6000, tol=1e-13
    )
    M_closed = closed.G1.T @ closed.G2
    M_gd = gd.G1.T @ gd.G2
    # GD stops at relative change 1e-13; near M* it contracts by q ~ 1 - lr (sigma_3 -
    # sigma_4) = 0.86 per step, so it is within tol / (1 - q) ~ 7e-13 of M* (6e-13
    # measured); 1e-10 allows q <= 0.999
    assert gd.converged and float((M_gd - M_closed).norm() / M_closed.norm()) < 1e-10
    L_closed = mmcl.contrastive_loss(
        closed.G1, closed.G2, data.X, data.Y, "linear", rho=1.0
    )
    # closed form is the global minimum; both losses are sums of n^2 O(1) similarities,
    # ~n eps ~ 1e-13
    assert float(gd.history["loss"][-1]) >= float(L_closed) - 1e-12


def test_linear_closed_form_is_plssvd(data):
    from sklearn.cross_decomposition import PLSSVD

    pls = PLSSVD(n_components=3, scale=False).fit(data.X.numpy(), data.Y.numpy())
    est = mmcl.MMCL(n_components=3, loss="linear").fit(data.X, data.Y)
    # Wedin: sinTheta <= ||dS|| / (sigma_3 - sigma_4) with sigma_1 / (sigma_3 - sigma_4)
    # = 1.5 and ||dS|| ~ n eps ||S||
    assert (
        float(mmcl.sin_theta_distance(est.x_weights_, torch.from_numpy(pls.x_weights_)))
        < 1e-10
    )
    assert (
        float(mmcl.sin_theta_distance(est.y_weights_, torch.from_numpy(pls.y_weights_)))
        < 1e-10
    )


@pytest.mark.parametrize("tau", [0.5, 2.0])
def test_svd_iteration_reaches_a_fixed_point_and_matches_gradient_descent(tau, data):
    it = mmcl.svd_iteration(data.X, data.Y, 3, "clip", tau=tau, rho=1.0, tol=1e-11)
    assert it.converged
    losses = torch.stack(it.history["loss"])
    # monotone up to the solver's own acceptance rule, L_new <= L + 1e-12 max(|L|, 1)
    # (the loss is ~3)
    assert bool(
        (losses[1:] <= losses[:-1] + 1e-12 * losses[:-1].abs().clamp_min(1.0)).all()
    )
    # self-consistency: G1^T G2 = SVD_r(S(beta*)) / rho
    S = mmcl.contrastive_cross_covariance(it.G1, it.G2, data.X, data.Y, "clip", tau=tau)
    U, sig, V = mmcl.truncated_svd(S, 3)
    # it stopped at ||M_t+1 - M_t|| < 1e-11 ||M_t|| (||M|| < 1), and a step is a (T(M) -
    # M) with damping a <= 1, so ||T(M) - M|| <= 1e-11 / a (3e-12 measured): 1e-9 allows
    # a down to 1/64
    assert torch.allclose(it.G1.T @ it.G2, U * sig @ V.T, rtol=0, atol=1e-9)
    # the gradient vanishes there
    g1, g2 = mmcl.contrastive_gradient(
        it.G1, it.G2, data.X, data.Y, "clip", tau=tau, rho=1.0
    )
    # grad_G1 = -G2 (S - rho M)^T: ||G2|| (< 1) times the fixed-point residual above
    # (2e-12 measured)
    assert float(g1.norm()) < 1e-9 and float(g2.norm()) < 1e-9
    gd = mmcl.gradient_descent(
        data.X,
        data.Y,
        3,
        "clip",
        tau=tau,
        rho=1.0,
        lr=0.05,
        n_steps=4000,
        init=(0.5 * it.G1 + 0.1, 0.5 * it.G2),
        tol=1e-12,
    )
    # GD stops at relative change 1e-12 and contracts by q per step (q ~ 0.993 at tau =
    # 0.5): it ends within 1e-12 / (1 - q) of M*, and Wedin (||M|| / sigma_3 < 3) turns
    # that into sinTheta ~ 2e-10 (measured 2.3e-10 and 9e-11); 1e-8 allows q up to
    # 0.9997. The SVD-iteration adds ~1e-11.
    assert gd.converged and float(mmcl.sin_theta_distance(gd.G1.T, it.G1.T)) < 1e-8


def test_svd_iteration_for_linear_loss_is_the_closed_form(data):
    it = mmcl.svd_iteration(
        data.X,
        data.Y,
        3,
        "linear",
        rho=2.0,
        init=(
            torch.ones(3, 12, dtype=torch.float64),
            torch.eye(3, 9, dtype=torch.float64),
        ),
    )
    closed = mmcl.linear_closed_form(data.X, data.Y, 3, rho=2.0)
    # for the linear loss S(beta) = S_n does not depend on M: the first step lands on
    # SVD_r(S_n) / rho, the rest is rounding of one SVD (eps ||S|| / gap ~ 1e-15 of
    # entries <= 0.5)
    assert torch.allclose(it.G1.T @ it.G2, closed.G1.T @ closed.G2, rtol=0, atol=1e-12)


def test_svd_iteration_batched_equals_looped():
    d = mmcl.make_multimodal(
        80, 6, 5, 2, eta=0.7, replicates=3, seed=0, dtype=torch.float64
    )
    batched = mmcl.svd_iteration(d.X, d.Y, 2, "clip", tau=0.7, tol=1e-12, max_iter=2000)
    for k in range(3):
        one = mmcl.svd_iteration(
            d.X[k], d.Y[k], 2, "clip", tau=0.7, tol=1e-12, max_iter=2000
        )
        # each run stops within tol / (1 - q) ||M|| of the fixed point (tol = 1e-12),
        # and the batched one may run on past a replicate's own stop: 1e-9 allows q up
        # to 0.999
        assert torch.allclose(
            batched.G1[k].T @ batched.G2[k], one.G1.T @ one.G2, rtol=0, atol=1e-9
        )


def test_svd_flip_convention():
    U = torch.tensor([[0.6, -0.8], [-0.8, -0.6]])
    V = torch.eye(2)
    Uf, Vf = mmcl.svd_flip(U, V)
    assert torch.equal(Uf, torch.tensor([[-0.6, 0.8], [0.8, 0.6]]))
    assert torch.equal(Vf, -torch.eye(2))


def test_solvers_follow_dtype_and_device(device):
    d = mmcl.make_multimodal(50, 5, 4, 2, seed=0, device=device)
    res = mmcl.svd_iteration(d.X, d.Y, 2, "clip", max_iter=20)
    assert res.G1.dtype == torch.float32 and res.G1.device.type == device
    assert (
        mmcl.linear_closed_form(d.X.double(), d.Y.double(), 2).G2.dtype == torch.float64
    )
