"""The scikit-learn-style estimator."""

import pytest
import torch

import mmcl


def test_fit_transform_shapes_and_attributes():
    d = mmcl.make_multimodal(300, 10, 8, 3, noise=0.3, seed=0)
    est = mmcl.MMCL(n_components=3)
    assert est.fit(d.X, d.Y) is est
    zx, zy = est.transform(d.X, d.Y)
    assert zx.shape == (300, 3) and zy.shape == (300, 3)
    assert (
        est.G1_.shape == (3, 10)
        and est.x_weights_.shape == (10, 3)
        and est.singular_values_.shape == (3,)
    )
    assert torch.allclose(
        est.transform_x(d.X), zx, rtol=1e-6, atol=1e-6
    )  # one float32 product, ~eps32
    assert (
        float(mmcl.sin_theta_distance(est.x_weights_, d.U1)) < 0.3
    )  # sampling error ~ sqrt(d / n) ~ 0.2 at most
    assert float(mmcl.retrieval_accuracy(zx, zy)) > 0.1


def test_numpy_input_and_clip_solver():
    d = mmcl.make_multimodal(200, 6, 5, 2, noise=0.3, seed=1, dtype=torch.float64)
    est = mmcl.MMCL(2, loss="clip", tau=0.5).fit(d.X.numpy(), d.Y.numpy())
    assert est.converged_ and est.n_iter_ > 1
    gd = mmcl.MMCL(
        2, loss="clip", tau=0.5, solver="gd", max_iter=3000, solver_options={"lr": 0.05}
    ).fit(d.X, d.Y)
    # both stop at relative change tol = 1e-8 (the estimator's default): GD, contracting
    # by q ~ 0.99 per step, ends ~1e-8 / (1 - q) = 1e-6 from the fixed point (7e-7
    # measured), the SVD-iteration much closer; 1e-5 allows q up to 0.999 (and a few for
    # Wedin's ||M|| / sigma_r)
    assert float(mmcl.sin_theta_distance(gd.x_weights_, est.x_weights_)) < 1e-5


def test_fit_transform_equals_fit_then_transform():
    d = mmcl.make_multimodal(100, 6, 5, 2, seed=2)
    a = mmcl.MMCL(2).fit_transform(d.X, d.Y)
    b = mmcl.MMCL(2).fit(d.X, d.Y).transform(d.X, d.Y)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_estimator_errors():
    d = mmcl.make_multimodal(30, 6, 5, 2, seed=0)
    with pytest.raises(mmcl.NotFittedError, match="fit"):
        mmcl.MMCL(2).transform(d.X, d.Y)
    with pytest.raises(
        ValueError, match="n_components must satisfy 1 <= n_components <= min"
    ):
        mmcl.MMCL(6).fit(d.X, d.Y)
    with pytest.raises(ValueError, match="solver must be"):
        mmcl.MMCL(2, solver="lbfgs").fit(d.X, d.Y)
    est = mmcl.MMCL(2).fit(d.X, d.Y)
    with pytest.raises(ValueError, match="fitted with d1 = 6"):
        est.transform_x(torch.ones(3, 7))
    with pytest.raises(ValueError, match="loss must be"):
        mmcl.MMCL(2, loss="hinge").fit(d.X, d.Y)
