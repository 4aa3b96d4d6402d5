"""Solvers: the linear closed form, the SVD-iteration and gradient descent agree with each other
and with independent numpy / scikit-learn computations."""

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
    assert np.allclose(
        mmcl.centered_cross_covariance(data.X, data.Y).numpy(), expected, atol=1e-13
    )


def test_linear_weights_give_centered_cross_covariance(data):
    beta = mmcl.linear_family().weights(torch.zeros(400, 400, dtype=torch.float64))
    S = mmcl.cross_covariance(data.X, data.Y, beta)
    assert torch.allclose(S, mmcl.centered_cross_covariance(data.X, data.Y), atol=1e-13)


def test_linear_closed_form_is_top_r_svd_of_centered_cross_covariance(data):
    res = mmcl.linear_closed_form(data.X, data.Y, 3, rho=0.5)
    Xc = data.X.numpy() - data.X.numpy().mean(0)
    Yc = data.Y.numpy() - data.Y.numpy().mean(0)
    U, s, Vt = np.linalg.svd(Xc.T @ Yc / 399)
    M = res.G1.T @ res.G2
    assert np.allclose(M.numpy(), U[:, :3] * (s[:3] / 0.5) @ Vt[:3], atol=1e-12)
    assert np.allclose(res.singular_values.numpy(), s[:3], rtol=1e-12)
    # balanced factors: G1 G1^T = G2 G2^T = diag(sigma / rho)
    assert torch.allclose(
        res.G1 @ res.G1.T, torch.diag(res.singular_values / 0.5), atol=1e-12
    )


def test_linear_subspaces_do_not_depend_on_rho(data):
    a = mmcl.linear_closed_form(data.X, data.Y, 3, rho=0.1)
    b = mmcl.linear_closed_form(data.X, data.Y, 3, rho=10.0)
    assert float(mmcl.sin_theta_distance(a.G1.T, b.G1.T)) < 1e-10
    assert torch.allclose(a.G1 * 0.1**0.5, b.G1 * 10.0**0.5, atol=1e-12)


def test_linear_closed_form_equals_long_gradient_descent(data):
    closed = mmcl.linear_closed_form(data.X, data.Y, 3, rho=1.0)
    gd = mmcl.gradient_descent(
        data.X, data.Y, 3, "linear", rho=1.0, lr=0.2, n_steps=6000, tol=1e-13
    )
    M_closed = closed.G1.T @ closed.G2
    M_gd = gd.G1.T @ gd.G2
    assert float((M_gd - M_closed).norm() / M_closed.norm()) < 1e-6
    L_closed = mmcl.contrastive_loss(
        closed.G1, closed.G2, data.X, data.Y, "linear", rho=1.0
    )
    assert (
        float(gd.history["loss"][-1]) >= float(L_closed) - 1e-12
    )  # closed form is the global minimum


def test_linear_closed_form_is_plssvd(data):
    from sklearn.cross_decomposition import PLSSVD

    pls = PLSSVD(n_components=3, scale=False).fit(data.X.numpy(), data.Y.numpy())
    est = mmcl.MMCL(n_components=3, loss="linear").fit(data.X, data.Y)
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
    assert bool((losses[1:] <= losses[:-1] + 1e-12).all())  # monotone
    # self-consistency: G1^T G2 = SVD_r(S(beta*)) / rho
    S = mmcl.contrastive_cross_covariance(it.G1, it.G2, data.X, data.Y, "clip", tau=tau)
    U, sig, V = mmcl.truncated_svd(S, 3)
    assert torch.allclose(it.G1.T @ it.G2, U * sig @ V.T, atol=1e-8)
    # the gradient vanishes there
    g1, g2 = mmcl.contrastive_gradient(
        it.G1, it.G2, data.X, data.Y, "clip", tau=tau, rho=1.0
    )
    assert float(g1.norm()) < 1e-7 and float(g2.norm()) < 1e-7
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
    assert float(mmcl.sin_theta_distance(gd.G1.T, it.G1.T)) < 1e-5


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
    assert torch.allclose(it.G1.T @ it.G2, closed.G1.T @ closed.G2, atol=1e-10)


def test_svd_iteration_batched_equals_looped():
    d = mmcl.make_multimodal(
        80, 6, 5, 2, eta=0.7, replicates=3, seed=0, dtype=torch.float64
    )
    batched = mmcl.svd_iteration(d.X, d.Y, 2, "clip", tau=0.7, tol=1e-12, max_iter=2000)
    for k in range(3):
        one = mmcl.svd_iteration(
            d.X[k], d.Y[k], 2, "clip", tau=0.7, tol=1e-12, max_iter=2000
        )
        assert torch.allclose(
            batched.G1[k].T @ batched.G2[k], one.G1.T @ one.G2, atol=1e-8
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
