"""The loss family: gradient identity against autograd, closed forms against the general formula."""

import math

import pytest
import torch

import mmcl


def custom_family():
    # phi(u) = log(1 + u) (non-decreasing on u > -1), psi(u) = softplus(u) (positive, increasing)
    return mmcl.ContrastiveFamily(
        torch.log1p, torch.nn.functional.softplus, eps=0.5, name="custom"
    )


FAMILIES = {
    "clip_tau1": lambda: mmcl.clip_family(1.0),
    "clip_tau0.3": lambda: mmcl.clip_family(0.3),
    "linear": mmcl.linear_family,
    "custom": custom_family,
    "custom_mean": lambda: mmcl.ContrastiveFamily(
        torch.log1p, torch.exp, eps=1.0, negatives="mean"
    ),
}


def rand_G(r, d1, d2, seed=0, scale=0.4):
    g = torch.Generator().manual_seed(seed)
    return (
        scale * torch.randn(r, d1, generator=g, dtype=torch.float64),
        scale * torch.randn(r, d2, generator=g, dtype=torch.float64),
    )


def rel_err(a, b):
    return float((a - b).norm() / b.norm())


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("rho", [0.0, 0.7])
def test_gradient_identity_matches_autograd(name, rho, small64):
    """grad_{G1} L = -G2 S(beta)^T + rho G2 G2^T G1 and grad_{G2} L = -G1 S + rho G1 G1^T G2."""
    fam = FAMILIES[name]()
    G1, G2 = rand_G(2, 7, 5)
    G1.requires_grad_(True)
    G2.requires_grad_(True)
    L = mmcl.contrastive_loss(G1, G2, small64.X, small64.Y, fam, rho=rho)
    a1, a2 = torch.autograd.grad(L, (G1, G2))
    f1, f2 = mmcl.contrastive_gradient(
        G1.detach(), G2.detach(), small64.X, small64.Y, fam, rho=rho
    )
    assert rel_err(f1, a1) <= 1e-10
    assert rel_err(f2, a2) <= 1e-10


@pytest.mark.parametrize("name", FAMILIES)
def test_weights_equal_minus_n_dL_ds(name):
    """beta_ii = -n W_ii, beta_ij = n W_ij with W = dL/ds, and all weights are >= 0."""
    fam = FAMILIES[name]()
    g = torch.Generator().manual_seed(1)
    s = torch.randn(9, 9, generator=g, dtype=torch.float64).requires_grad_(True)
    (W,) = torch.autograd.grad(fam.loss_from_similarities(s), s)
    beta = fam.weights(s.detach())
    eye = torch.eye(9, dtype=torch.bool)
    expected = torch.where(eye, -9 * W, 9 * W)
    assert rel_err(beta, expected) <= 1e-12
    assert bool((beta >= 0).all())


@pytest.mark.parametrize("tau", [0.05, 0.5, 3.0])
def test_clip_closed_forms_equal_general_formula(tau):
    fam = mmcl.clip_family(tau)
    g = torch.Generator().manual_seed(2)
    s = torch.randn(2, 8, 8, generator=g, dtype=torch.float64)
    generic_loss = mmcl.ContrastiveFamily.loss_from_similarities(fam, s)
    generic_beta = mmcl.ContrastiveFamily.weights(fam, s)
    assert torch.allclose(
        fam.loss_from_similarities(s), generic_loss, rtol=1e-12, atol=0
    )
    assert torch.allclose(fam.weights(s), generic_beta, rtol=1e-10, atol=1e-14)
    # positives weighted by how badly they rank: 1 - (P_ii + Q_ii)/2
    P, Q = torch.softmax(s / tau, -1), torch.softmax(s / tau, -2)
    assert torch.allclose(
        torch.diagonal(fam.weights(s), dim1=-2, dim2=-1),
        1
        - 0.5
        * (torch.diagonal(P, dim1=-2, dim2=-1) + torch.diagonal(Q, dim1=-2, dim2=-1)),
    )


def test_linear_closed_forms_equal_general_formula():
    fam = mmcl.linear_family()
    s = torch.randn(
        7, 7, generator=torch.Generator().manual_seed(5), dtype=torch.float64
    )
    assert torch.allclose(
        fam.loss_from_similarities(s),
        mmcl.ContrastiveFamily.loss_from_similarities(fam, s),
    )
    assert torch.allclose(fam.weights(s), mmcl.ContrastiveFamily.weights(fam, s))
    # hand-computed: L = -(1/n) tr s + 1/(n(n-1)) sum_{i != j} s_ij
    n = 7
    hand = -torch.trace(s) / n + (s.sum() - torch.trace(s)) / (n * (n - 1))
    assert math.isclose(
        float(fam.loss_from_similarities(s)), float(hand), rel_tol=1e-13
    )


@pytest.mark.parametrize("tau", [0.1, 1.0, 7.0])
def test_clip_preset_is_tau_times_standard_clip_loss(tau, small64):
    G1, G2 = rand_G(2, 7, 5, seed=9)
    s = mmcl.similarities(G1, G2, small64.X, small64.Y)
    ours = mmcl.contrastive_loss(G1, G2, small64.X, small64.Y, "clip", tau=tau)
    logits = s / tau
    # direct computation of the symmetric cross-entropy, written out
    n = s.shape[0]
    rows = -(torch.log_softmax(logits, 1)[range(n), range(n)]).mean()
    cols = -(torch.log_softmax(logits, 0)[range(n), range(n)]).mean()
    assert math.isclose(float(ours), tau * float((rows + cols) / 2), rel_tol=1e-12)
    assert math.isclose(float(ours), tau * float(mmcl.clip_loss(logits)), rel_tol=1e-12)


def test_clip_loss_hand_computed_2x2():
    logits = torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    row = (-2 + math.log(math.exp(2) + 1) + (-1 + math.log(2 * math.e))) / 2
    col = (-2 + math.log(math.exp(2) + math.e) + (-1 + math.log(1 + math.e))) / 2
    assert math.isclose(float(mmcl.clip_loss(logits)), (row + col) / 2, rel_tol=1e-14)


def test_clip_weights_become_uniform_as_tau_grows():
    s = torch.randn(
        6, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    beta = mmcl.clip_family(1e8).weights(s)
    lin = mmcl.linear_family().weights(s)
    # tau -> inf: beta_ij -> 1/n, beta_ii -> 1 - 1/n = (n-1)/n, i.e. (n-1)/n times the linear weights
    assert torch.allclose(beta, lin * (5 / 6), atol=1e-7)


def test_normalized_embeddings_use_cosine_similarity(small64):
    G1, G2 = rand_G(2, 7, 5, seed=1)
    s = mmcl.similarities(G1, G2, small64.X, small64.Y, normalize=True)
    assert float(s.abs().max()) <= 1 + 1e-12
    zx, zy = small64.X @ G1.T, small64.Y @ G2.T
    assert math.isclose(
        float(s[3, 4]),
        float(zx[3] @ zy[4] / (zx[3].norm() * zy[4].norm())),
        rel_tol=1e-12,
    )
    # the module form and the function agree
    mod = mmcl.ContrastiveLoss("clip", tau=0.5, rho=0.1, normalize=True)
    assert torch.equal(
        mod(G1, G2, small64.X, small64.Y),
        mmcl.contrastive_loss(
            G1, G2, small64.X, small64.Y, "clip", tau=0.5, rho=0.1, normalize=True
        ),
    )


def test_regularizer_is_half_rho_frobenius_of_G1T_G2():
    G1, G2 = rand_G(3, 5, 4, seed=2)
    assert math.isclose(
        float(mmcl.regularizer(G1, G2, 0.6)),
        0.3 * float((G1.T @ G2).norm() ** 2),
        rel_tol=1e-13,
    )


def test_overflowing_custom_family_raises_instead_of_nan(small64):
    fam = mmcl.ContrastiveFamily(torch.log, lambda u: torch.exp(u / 1e-3), eps=1.0)
    G1, G2 = rand_G(2, 7, 5, seed=0, scale=3.0)
    with pytest.raises(FloatingPointError, match="not finite"):
        mmcl.contrastive_loss(G1, G2, small64.X, small64.Y, fam)


def test_batched_loss_matches_per_replicate(reps64):
    G1, G2 = rand_G(2, 6, 5)
    batched = mmcl.contrastive_loss(G1, G2, reps64.X, reps64.Y, "clip", tau=0.5)
    for k in range(3):
        single = mmcl.contrastive_loss(
            G1, G2, reps64.X[k], reps64.Y[k], "clip", tau=0.5
        )
        assert math.isclose(float(batched[k]), float(single), rel_tol=1e-13)
