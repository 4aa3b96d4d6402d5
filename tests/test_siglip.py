"""The sigmoid (SigLIP) family: weights against autograd, loss against the published
formula,
blocked against dense, and the SVD-iteration on it."""

import math

import pytest
import torch

import mmcl

# float64 round-off: sums of n^2 = 3600 terms of size O(1) lose about n^2 * eps ~ 1e-12
# relative
TOL64 = 1e-10


def published_siglip_loss(zimg, ztxt, t_prime, b):
    """Zhai et al. (2023), written from the paper's formula, independently of mmcl:
    -1/|B| sum_i sum_j log sigmoid(z_ij (t x_i . y_j + b)), t = exp(t'), z_ij = 1 iff i
    = j."""
    n = zimg.shape[0]
    logits = zimg @ ztxt.T * math.exp(t_prime) + b
    labels = 2 * torch.eye(n, dtype=logits.dtype) - 1
    return -torch.nn.functional.logsigmoid(labels * logits).sum() / n


def rand_G(r, d1, d2, seed=0, scale=0.4):
    g = torch.Generator().manual_seed(seed)
    return (
        scale * torch.randn(r, d1, generator=g, dtype=torch.float64),
        scale * torch.randn(r, d2, generator=g, dtype=torch.float64),
    )


@pytest.mark.parametrize("tau,bias", [(1.0, 0.0), (0.3, -2.0), (2.0, 3.5)])
def test_loss_is_tau_times_the_published_formula(tau, bias, small64):
    G1, G2 = rand_G(2, 7, 5)
    zx, zy = small64.X @ G1.T, small64.Y @ G2.T
    fam = mmcl.get_family("siglip", tau=tau, bias=bias)
    ours = fam.loss_from_similarities(zx @ zy.T)
    ref = published_siglip_loss(zx, zy, math.log(1 / tau), bias)
    assert abs(float(ours) - tau * float(ref)) <= TOL64 * abs(tau * float(ref))


@pytest.mark.parametrize("tau,bias", [(1.0, 0.0), (0.3, -2.0), (0.7, 1.0)])
@pytest.mark.parametrize("rho", [0.0, 0.5])
def test_siglip_gradient_identity_matches_autograd(tau, bias, rho, small64):
    """grad L = (-G2 S^T + rho G2 G2^T G1, -G1 S + rho G1 G1^T G2) with the closed-form
    weights."""
    fam = mmcl.siglip_family(tau, bias)
    G1, G2 = rand_G(2, 7, 5, seed=1)
    G1.requires_grad_(True)
    G2.requires_grad_(True)
    L = mmcl.contrastive_loss(G1, G2, small64.X, small64.Y, fam, rho=rho)
    g1, g2 = torch.autograd.grad(L, (G1, G2))
    f1, f2 = mmcl.contrastive_gradient(
        G1.detach(), G2.detach(), small64.X, small64.Y, fam, rho=rho
    )
    assert float((f1 - g1).norm() / g1.norm()) < TOL64
    assert float((f2 - g2).norm() / g2.norm()) < TOL64


def test_siglip_weights_closed_form(small64):
    """beta_ij = sigmoid(s_ij / tau + b) off the diagonal, sigmoid(-(s_ii / tau + b))
    on it,
    and beta = n dL/ds with the diagonal negated (autograd on the similarities)."""
    tau, b = 0.5, -1.5
    G1, G2 = rand_G(2, 7, 5, seed=2)
    s = mmcl.similarities(G1, G2, small64.X, small64.Y).requires_grad_(True)
    fam = mmcl.siglip_family(tau, b)
    (W,) = torch.autograd.grad(fam.loss_from_similarities(s), s)
    n = s.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    beta_auto = torch.where(eye, -n * W, n * W)
    beta = fam.weights(s.detach())
    assert float((beta - beta_auto).abs().max()) < TOL64
    z = s.detach() / tau + b
    assert torch.allclose(beta[~eye], torch.sigmoid(z)[~eye], rtol=0, atol=1e-15)
    assert torch.allclose(
        beta.diagonal(), torch.sigmoid(-z.diagonal()), rtol=0, atol=1e-15
    )


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_blocked_siglip_equals_dense(device, dtype, tol, reps64):
    """Blocked loss and S(beta) equal the dense ones; tol: a few hundred eps of the
    dtype."""
    fam = mmcl.siglip_family(0.5, -2.0)
    X, Y = reps64.X.to(device, dtype), reps64.Y.to(device, dtype)
    G1, G2 = (G.to(device, dtype) for G in rand_G(2, 6, 5, seed=3))
    zx, zy = X @ G1.transpose(-1, -2), Y @ G2.transpose(-1, -2)
    s = zx @ zy.transpose(-1, -2)
    dense_L = fam.loss_from_similarities(s)
    dense_S = mmcl.cross_covariance(X, Y, fam.weights(s))
    for block in (1, 7, 40):
        L = mmcl.blocked_loss(zx, zy, fam, block_size=block)
        S = mmcl.blocked_cross_covariance(X, Y, zx, zy, fam, block_size=block)
        assert float(((L - dense_L).abs() / dense_L.abs()).max()) < tol
        assert (
            float(
                torch.linalg.matrix_norm(S - dense_S).max()
                / torch.linalg.matrix_norm(dense_S).min()
            )
            < tol
        )


def test_svd_iteration_siglip_blocked_equals_dense(reps64):
    fam = mmcl.siglip_family(1.0, -2.0)
    dense = mmcl.svd_iteration(reps64.X, reps64.Y, 2, fam, max_iter=30, tol=1e-10)
    blocked = mmcl.svd_iteration(
        reps64.X, reps64.Y, 2, fam, max_iter=30, tol=1e-10, block_size=9
    )
    assert (
        float(
            (
                dense.G1.transpose(-1, -2) @ dense.G2
                - blocked.G1.transpose(-1, -2) @ blocked.G2
            )
            .abs()
            .max()
        )
        < 1e-9
    )


def test_svd_iteration_siglip_reaches_a_stationary_point(small64):
    """At the SVD-iteration's limit the gradient of loss + regulariser vanishes."""
    fam = mmcl.siglip_family(1.0, -3.0)
    res = mmcl.svd_iteration(
        small64.X, small64.Y, 2, fam, rho=1.0, max_iter=500, tol=1e-12
    )
    assert res.converged
    g1, g2 = mmcl.contrastive_gradient(
        res.G1, res.G2, small64.X, small64.Y, fam, rho=1.0
    )
    assert (
        float(g1.norm() / res.G1.norm()) < 1e-7
        and float(g2.norm() / res.G2.norm()) < 1e-7
    )


def test_large_tau_limit_with_balancing_bias(small64):
    """tau -> inf with sigmoid(b) = 1/n: S(beta) -> (n-1)/n S_n (the chapter's
    exercise)."""
    X, Y = small64.X, small64.Y
    n = X.shape[0]
    fam = mmcl.siglip_family(1e9, -math.log(n - 1))
    G1, G2 = rand_G(2, 7, 5)
    S = mmcl.contrastive_cross_covariance(G1, G2, X, Y, fam)
    target = (n - 1) / n * mmcl.centered_cross_covariance(X, Y)
    assert (
        float((S - target).norm() / target.norm()) < 1e-7
    )  # O(s / tau) = O(1e-9) away


def test_siglip_errors():
    with pytest.raises(ValueError, match="tau"):
        mmcl.siglip_family(0.0)
    with pytest.raises(TypeError, match="bias"):
        mmcl.get_family("siglip", bias="a")
    with pytest.raises(ValueError, match="bias"):
        mmcl.siglip_family(1.0, float("nan"))
    with pytest.raises(ValueError, match="siglip"):
        mmcl.get_family("sigmoid")
    with pytest.raises(ValueError, match="n >= 2"):
        mmcl.siglip_family().weights(torch.zeros(1, 1))
    cust = mmcl.ContrastiveFamily(torch.log1p, torch.exp)
    with pytest.raises(TypeError, match="siglip"):
        mmcl.blocked_loss(torch.zeros(4, 2), torch.zeros(4, 2), cust)
