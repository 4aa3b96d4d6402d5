"""CLIP with L2-normalised embeddings (book/03b_nonlinearity, "Cosine similarities"):
the loss the fit minimises, its invariances, the fit's convergence diagnostics and input
validation."""

import pytest
import torch
import torch.nn.functional as F

import mmcl
from mmcl.experiments.cosine import _fit_one, _loss_and_grad

F64 = torch.float64


def _data(n=80, d1=6, d2=5, r=2, seed=0):
    return mmcl.make_multimodal(n, d1, d2, r, seed=seed, dtype=F64)


def _plain_cosine_clip(G1, G2, X, Y, tau):
    """The formula written independently: tau times the mean of the row and column
    cross-entropies of the cosine logits, positives on the diagonal."""
    a = X @ G1.T / (X @ G1.T).norm(dim=1, keepdim=True)
    b = Y @ G2.T / (Y @ G2.T).norm(dim=1, keepdim=True)
    logits = a @ b.T / tau
    target = torch.arange(X.shape[0])
    return (
        tau * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
    )


def test_loss_and_gradient_match_a_plain_torch_implementation():
    d = _data()
    g = torch.Generator().manual_seed(1)
    G1 = torch.randn(2, 6, generator=g, dtype=F64)
    G2 = torch.randn(2, 5, generator=g, dtype=F64)
    loss, g1, g2 = _loss_and_grad(G1, G2, d.X, d.Y, 0.3)
    A, B = G1.clone().requires_grad_(True), G2.clone().requires_grad_(True)
    ref = _plain_cosine_clip(A / A.norm(), B / B.norm(), d.X, d.Y, 0.3)
    ref.backward()
    # float64 sums of n^2 = 6400 terms of order one: agreement to 1e-12
    assert abs(float(loss) - float(ref.detach())) < 1e-12
    assert torch.allclose(g1, A.grad, atol=1e-12) and torch.allclose(
        g2, B.grad, atol=1e-12
    )
    # and mmcl's own spelling (contrastive_loss, normalize=True, rho = 0)
    value = mmcl.contrastive_loss(G1, G2, d.X, d.Y, "clip", tau=0.3, normalize=True)
    assert abs(float(value) - float(ref.detach())) < 1e-12


def test_loss_is_invariant_to_scaling_and_a_common_rotation():
    # the reason the fit stops on the subspace: (c1 G1, c2 G2) and (Q G1, Q G2) give
    # the same loss, so M = G1^T G2 has no determined scale
    d = _data()
    g = torch.Generator().manual_seed(2)
    G1 = torch.randn(2, 6, generator=g, dtype=F64)
    G2 = torch.randn(2, 5, generator=g, dtype=F64)
    Q = torch.linalg.qr(torch.randn(2, 2, generator=g, dtype=F64)).Q
    base = float(_plain_cosine_clip(G1, G2, d.X, d.Y, 0.5))
    for c1, c2 in ((0.01, 1.0), (1.0, 300.0), (7.0, 0.2)):
        value = float(_plain_cosine_clip(c1 * G1, c2 * G2, d.X, d.Y, 0.5))
        assert abs(value - base) < 1e-12
    assert abs(float(_plain_cosine_clip(Q @ G1, Q @ G2, d.X, d.Y, 0.5)) - base) < 1e-12
    # the fitted subspace is invariant as well: a common rotation of the start
    fit = mmcl.fit_cosine_clip(d.X, d.Y, 2, tau=0.5)
    rot = _fit_one(d.X, d.Y, Q @ fit.G1, Q @ fit.G2, 0.5, 1e-6, 10, 10)
    assert float(mmcl.sin_theta_distance(rot[2], fit.U)) < 1e-5


def test_gradient_vanishes_where_no_embedding_can_reach_zero():
    """With r = d1 = d2 a full-rank G1 sends no x_i to 0, the loss is smooth and
    L-BFGS reaches a stationary point: the scale-invariant gradient falls from order
    one to below 1e-8 (the loss is a mean of terms of order one, so float64 rounding
    leaves gradients near 1e-15; 1e-8 leaves room for L-BFGS's last steps)."""
    d = _data(n=60, d1=2, d2=2, r=2, seed=4)
    start = mmcl.linear_closed_form(d.X, d.Y, 2)
    G1, G2, _, _, grad, ratio, _, _ = _fit_one(
        d.X, d.Y, start.G1, start.G2, 0.5, 0.0, 10, 200
    )
    assert float(grad) < 1e-8, float(grad)
    assert float(ratio) > 1e-3
    # the returned point is at unit Frobenius norm
    assert abs(float(G1.norm()) - 1) < 1e-12 and abs(float(G2.norm()) - 1) < 1e-12


def test_with_r_below_d_the_subspace_settles_while_an_embedding_shrinks():
    """The chapter's finding: for r < d1 the fit meets the subspace tolerance, but the
    loss decreases along a path on which some G1 x_i (or G2 y_i) tends to 0, so the
    smallest relative embedding norm collapses and the gradient does not vanish."""
    d = mmcl.make_multimodal(250, 20, 10, 3, signal_cov=2.0, seed=0, dtype=F64)
    fit = mmcl.fit_cosine_clip(d.X, d.Y, 3, tau=1.0, tol=1e-6)
    assert bool(fit.converged) and float(fit.change) < 1e-6
    assert float(fit.min_norm_ratio) < 1e-4
    start = mmcl.linear_closed_form(d.X, d.Y, 3)
    _, _, _, loss0, grad0, ratio0, _, _ = _fit_one(
        d.X, d.Y, start.G1, start.G2, 1.0, 1.0, 1, 1
    )
    assert float(fit.loss) < float(loss0)
    assert float(fit.grad_norm) > float(grad0)
    assert float(ratio0) > 1e-2


def test_batched_replicates_are_fitted_one_by_one():
    d = mmcl.make_multimodal(60, 6, 5, 2, replicates=2, seed=5, dtype=F64)
    fit = mmcl.fit_cosine_clip(d.X, d.Y, 2, tau=0.5)
    assert fit.U.shape == (2, 6, 2) and fit.converged.shape == (2,)
    one = mmcl.fit_cosine_clip(d.X[1], d.Y[1], 2, tau=0.5)
    assert torch.allclose(fit.U[1], one.U, atol=1e-12)


def test_experiment_shares_clip_bias_experiments_data():
    res = mmcl.cosine_clip_experiment(
        [40], [0.0, 0.9], d1=6, d2=5, r=2, replicates=2, tol=1e-4
    )
    cb = mmcl.clip_bias_experiment([40], [], [0.9], d1=6, d2=5, r=2, replicates=2)
    for spread in (0.0, 0.9):
        e = res["err"][spread, "cosine", 40]
        assert e.shape == (2,) and bool(((e >= 0) & (e <= 2**0.5 + 1e-9)).all())
    # the same draw (bias_draw): refitting the cosine loss on clip_bias_experiment's
    # data reproduces the experiment's fit exactly
    data = mmcl.bias_draw(0.9, 40, 6, 5, 2, 2.0, 2, 0)[0]
    fit = mmcl.fit_cosine_clip(data.X, data.Y, 2, tol=1e-4)
    assert torch.equal(fit.U, res["fits"][0.9, 40].U)
    lin = mmcl.linear_closed_form(data.X, data.Y, 2)
    assert torch.equal(
        mmcl.sin_theta_distance(lin.U, data.U1), cb["err"][0.9, "linear", 40]
    )


@pytest.mark.parametrize(
    "kw, name, exc",
    [
        (dict(r=7), "r", ValueError),
        (dict(r=1.5), "r", TypeError),
        (dict(tau=0.0), "tau", ValueError),
        (dict(tau="1"), "tau", TypeError),
        (dict(tol=-1.0), "tol", ValueError),
        (dict(check_every=0), "check_every", ValueError),
        (dict(max_iter=2.0), "max_iter", TypeError),
    ],
)
def test_fit_rejects_bad_input_naming_the_argument(kw, name, exc):
    d = _data(n=20)
    args = dict(r=2, **{k: v for k, v in kw.items() if k != "r"})
    args["r"] = kw.get("r", 2)
    with pytest.raises(exc, match=rf"\b{name}\b"):
        mmcl.fit_cosine_clip(d.X, d.Y, **args)


def test_fit_rejects_mismatched_data():
    d = _data(n=20)
    with pytest.raises(ValueError, match=r"\bY\b"):
        mmcl.fit_cosine_clip(d.X, d.Y[:10], 2)
    with pytest.raises(TypeError, match=r"\bX\b"):
        mmcl.fit_cosine_clip("X", d.Y, 2)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(spreads=[1.0]), "spreads"),
        (dict(ns=[1]), "ns"),
        (dict(tau=0.0), "tau"),
    ],
)
def test_experiment_rejects_bad_input_naming_the_argument(kw, name):
    args = dict(ns=[20], spreads=[0.0], d1=6, d2=5, r=2, replicates=1)
    args.update(kw)
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        mmcl.cosine_clip_experiment(**args)
