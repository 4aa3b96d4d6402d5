"""Every public entry point rejects bad input with an error naming the argument and what
is allowed."""

import numpy as np
import pytest
import torch

import mmcl

X = torch.randn(20, 5, generator=torch.Generator().manual_seed(0))
Y = torch.randn(20, 4, generator=torch.Generator().manual_seed(1))
G1, G2 = torch.randn(2, 5), torch.randn(2, 4)


@pytest.mark.parametrize(
    "call, exc, msg",
    [
        # data
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 5),
            ValueError,
            r"r must satisfy 1 <= r <= min\(d1, d2\) = 4, got r = 5",
        ),
        (lambda: mmcl.make_multimodal(50, 6, 4, 0), ValueError, r"r must satisfy"),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, eta=1.5),
            ValueError,
            r"eta must be in \[0.0, 1.0\], got 1.5",
        ),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, eta=-0.1),
            ValueError,
            r"eta must be in",
        ),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, eta=float("nan")),
            ValueError,
            r"eta must be finite",
        ),
        (
            lambda: mmcl.make_multimodal(1, 6, 4, 2),
            ValueError,
            r"n must be >= 2, got 1",
        ),
        (
            lambda: mmcl.make_multimodal(50.5, 6, 4, 2),
            TypeError,
            r"n must be an integer",
        ),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, noise=torch.ones(3)),
            ValueError,
            r"noise must be a scalar or a vector of length 6",
        ),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, noise=-1.0),
            ValueError,
            r"noise must hold finite standard deviations >= 0",
        ),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, signal_cov=torch.ones(3)),
            ValueError,
            r"signal_cov as a vector must hold 2",
        ),
        (
            lambda: mmcl.make_multimodal(
                50, 6, 4, 2, signal_cov=torch.tensor([[1.0, 2.0], [2.0, 1.0]])
            ),
            ValueError,
            r"positive semi-definite",
        ),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, dtype=torch.int64),
            TypeError,
            r"dtype must be torch.float32 or torch.float64",
        ),
        (
            lambda: mmcl.make_multimodal(50, 6, 4, 2, replicates=0),
            ValueError,
            r"replicates must be >= 1, got 0",
        ),
        (
            lambda: mmcl.LatentFactorModel(6, 4, 2, U1=torch.ones(6, 2)),
            ValueError,
            r"U1 must have orthonormal columns",
        ),
        (
            lambda: mmcl.LatentFactorModel(6, 4, 2, U1=torch.eye(5, 2)),
            ValueError,
            r"U1 must have shape \(6, 2\)",
        ),
        (
            lambda: mmcl.LatentFactorModel(6, 4, 2).cross_covariance(),
            ValueError,
            r"needs fixed U1 and U2",
        ),
        (
            lambda: mmcl.heteroskedastic_noise_std(5, spread=1.0),
            ValueError,
            r"spread must be in \[0.0, 1.0\)",
        ),
        # families and losses
        (
            lambda: mmcl.clip_family(0.0),
            ValueError,
            r"tau must be in \(0.0, inf\], got 0.0",
        ),
        (lambda: mmcl.clip_family(-1.0), ValueError, r"tau must be in \(0.0"),
        (lambda: mmcl.clip_family(float("inf")), ValueError, r"tau must be finite"),
        (
            lambda: mmcl.ContrastiveFamily(1, torch.exp),
            TypeError,
            r"phi and psi must be callables",
        ),
        (
            lambda: mmcl.ContrastiveFamily(torch.log, torch.exp, negatives="max"),
            ValueError,
            r"negatives must be one of \('sum', 'mean'\)",
        ),
        (
            lambda: mmcl.get_family("hinge"),
            ValueError,
            r"loss must be 'clip', 'linear', 'siglip' or a ContrastiveFamily",
        ),
        (
            lambda: mmcl.clip_family(1.0).weights(torch.ones(3, 4)),
            ValueError,
            r"s must be square, of shape \(..., n, n\)",
        ),
        (
            lambda: mmcl.clip_family(1.0).weights(torch.ones(1, 1)),
            ValueError,
            r"n >= 2",
        ),
        (
            lambda: mmcl.contrastive_loss(G1, G2, X, Y[:10]),
            ValueError,
            r"X and Y must have the same leading shape",
        ),
        (
            lambda: mmcl.contrastive_loss(G1, G2, X, Y, tau=0),
            ValueError,
            r"tau must be in",
        ),
        (
            lambda: mmcl.contrastive_loss(G1, G2, X, Y, rho=-1),
            ValueError,
            r"rho must be in \[0.0",
        ),
        (
            lambda: mmcl.contrastive_loss(G1, G2[:, :3], X, Y),
            ValueError,
            r"G1 must be \(r, d1\) and G2 \(r, d2\) with d1 = 5 the columns of X and "
            r"d2 = 4",
        ),
        (
            lambda: mmcl.contrastive_loss(G1, G2[:1], X, Y),
            ValueError,
            r"same number r of rows",
        ),
        (
            lambda: mmcl.contrastive_loss(G1.double(), G2, X, Y),
            TypeError,
            r"G1 has dtype torch.float64 but X has torch.float32",
        ),
        (
            lambda: mmcl.contrastive_loss(G1, G2, X.long(), Y),
            TypeError,
            r"X must be float32 or float64, got torch.int64",
        ),
        (
            lambda: mmcl.contrastive_loss(G1, G2, X[0], Y[0]),
            ValueError,
            r"X must have shape \(rows, cols\)",
        ),
        (
            lambda: mmcl.similarities(G1, G2, X[:1], Y[:1]),
            ValueError,
            r"X needs at least 2 rows",
        ),
        (
            lambda: mmcl.clip_loss(torch.ones(3, 2)),
            ValueError,
            r"logits must be square",
        ),
        # covariance
        (
            lambda: mmcl.cross_covariance(X, Y, torch.ones(3, 3)),
            ValueError,
            r"beta must be a tensor of shape \(..., 20, 20\)",
        ),
        # solvers
        (
            lambda: mmcl.linear_closed_form(X, Y, 5),
            ValueError,
            r"r must satisfy 1 <= r <= min\(d1, d2\) = 4, got r = 5",
        ),
        (
            lambda: mmcl.linear_closed_form(X, Y, 2, rho=0),
            ValueError,
            r"rho must be in \(0.0",
        ),
        (lambda: mmcl.svd_iteration(X, Y, 2, tau=-2), ValueError, r"tau must be in"),
        (
            lambda: mmcl.svd_iteration(X, Y, 2, damping=0),
            ValueError,
            r"damping must be in \(0.0, 1.0\]",
        ),
        (
            lambda: mmcl.svd_iteration(X, Y, 2, max_iter=0),
            ValueError,
            r"max_iter must be >= 1",
        ),
        (
            lambda: mmcl.svd_iteration(X, Y, 2, init=(G1, G2[:, :2])),
            ValueError,
            r"G1 must be \(r, d1\)",
        ),
        (
            lambda: mmcl.gradient_descent(X, Y, 2, lr=0),
            ValueError,
            r"lr must be in \(0.0",
        ),
        (
            lambda: mmcl.gradient_descent(X, Y, 2, optimizer="gd"),
            ValueError,
            r"optimizer must be one of \['adam', 'sgd'\]",
        ),
        (lambda: mmcl.gradient_descent(X, Y, 2.5), TypeError, r"r must be an integer"),
        # metrics
        (
            lambda: mmcl.sin_theta_distance(torch.eye(3)[:, :2], torch.eye(4)[:, :2]),
            ValueError,
            r"same dimension d",
        ),
        (
            lambda: mmcl.retrieval_accuracy(
                torch.ones(4, 2), torch.ones(4, 2), chunk=0
            ),
            ValueError,
            r"chunk must be >= 1",
        ),
        # estimator
        (lambda: mmcl.MMCL(2, tau=0).fit(X, Y), ValueError, r"tau must be in"),
        (lambda: mmcl.MMCL(2, rho=-1).fit(X, Y), ValueError, r"rho must be in"),
        (lambda: mmcl.MMCL(2).fit("abc", Y), TypeError, r"X must be"),
    ],
)
def test_bad_input_gets_a_clear_error(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_data_rejected(bad):
    Xb = X.clone()
    Xb[3, 1] = bad
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        mmcl.linear_closed_form(Xb, Y, 2)
    with pytest.raises(ValueError, match="X contains NaN or inf"):
        mmcl.MMCL(2).fit(Xb.numpy(), Y.numpy())


def test_mixed_devices_rejected():
    meta = torch.empty(20, 4, device="meta")
    with pytest.raises(ValueError, match="Y is on meta but X is on cpu"):
        mmcl._validation.check_same_device(X=X, Y=meta)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="is on cuda"):
            mmcl.linear_closed_form(X, Y.cuda(), 2)


def test_numpy_arrays_accepted():
    res = mmcl.linear_closed_form(
        X.numpy().astype(np.float64), Y.numpy().astype(np.float64), 2
    )
    assert res.G1.dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_all_finite_agrees_with_the_entrywise_test(dtype):
    """The one-sum fast path: a finite sum means no NaN or inf; a sum that overflows
    from finite entries falls back to the entrywise test."""
    from mmcl._validation import all_finite

    big = torch.finfo(dtype).max
    cases = [
        torch.randn(50, 7, dtype=dtype),
        torch.tensor([1.0, float("nan")], dtype=dtype),
        torch.tensor([1.0, float("inf")], dtype=dtype),
        torch.tensor([-float("inf"), 2.0], dtype=dtype),
        torch.tensor([float("inf"), -float("inf")], dtype=dtype),  # sum is NaN
        torch.tensor([big, big, -1.0], dtype=dtype),  # finite, but the sum overflows
        torch.zeros(0, 3, dtype=dtype),
    ]
    for t in cases:
        assert all_finite(t) == bool(torch.isfinite(t).all()), t
