"""Numerics that hold in float32 as in float64 (issue 12): dtype-aware floors, a blocked
CLIP loss that cannot go negative, degenerate data as errors, no silent NaN."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mmcl
from mmcl._validation import NonFiniteError, tiny

DTYPES = [torch.float32, torch.float64]


def _emb(n, r, scale, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, r, generator=g, dtype=torch.float64)).to(dtype), (
        scale * torch.randn(n, r, generator=g, dtype=torch.float64)
    ).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiny_is_positive_in_every_dtype(dtype):
    t = torch.zeros(3, dtype=dtype)
    assert float(t.clamp_min(tiny(t)).min()) > 0  # 1e-300 would be 0 in float32
    assert torch.tensor(1e-300, dtype=torch.float32) == 0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "scale, tau", [(1e-6, 1.0), (1.0, 1e-3), (30.0, 0.05), (1e3, 1.0)]
)
def test_blocked_loss_is_non_negative_and_matches_dense(dtype, scale, tau):
    zx, zy = _emb(40, 3, scale, dtype)
    fam = mmcl.clip_family(tau)
    blocked = mmcl.blocked_loss(zx, zy, fam, block_size=7)
    dense = fam.loss_from_similarities(zx @ zy.T)
    assert float(blocked) >= 0
    # both are sums of n per-pair gaps, each with rounding of a few eps times the logit
    # size
    eps = torch.finfo(dtype).eps
    logit = float((zx @ zy.T).abs().max()) / tau
    assert abs(float(blocked) - float(dense)) <= 50 * eps * (1 + logit) * tau


@pytest.mark.parametrize("dtype", DTYPES)
def test_blocked_loss_tiny_embeddings_give_log_n_not_negative(dtype):
    # all logits (almost) equal: the CLIP loss is tau * log n; the old form r + c - 2
    # l_ii went negative here in float32
    zx, zy = _emb(64, 4, 1e-20, dtype)
    value = float(mmcl.blocked_loss(zx, zy, "clip", tau=1e-3, block_size=5))
    assert value >= 0
    assert abs(value - 1e-3 * torch.log(torch.tensor(64.0)).item()) < 1e-3 * 1e-3


@pytest.mark.parametrize("dtype", DTYPES)
def test_degenerate_data_are_errors_in_both_dtypes(dtype):
    X = torch.zeros(20, 5, dtype=dtype)
    Y = torch.randn(20, 4, generator=torch.Generator().manual_seed(0)).to(dtype)
    with pytest.raises(ValueError, match="zero"):
        mmcl.svd_iteration(X, Y, 2, max_iter=3)
    with pytest.raises(ValueError, match="zero variance"):
        mmcl.center_scale(torch.ones(10, 3, dtype=dtype))
    with pytest.raises(ValueError, match="rank 1 < n_components = 2"):
        mmcl.PCA(2).fit(Y[:, :1] * torch.ones(1, 4, dtype=dtype))
    with pytest.raises(ValueError, match="rank below r = 2"):
        mmcl.linear_closed_form(Y[:, :1] * torch.ones(1, 5, dtype=dtype), Y, 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_svd_iteration_and_heteropca_converge_in_both_dtypes(dtype):
    data = mmcl.make_multimodal(200, 8, 6, 2, noise=0.3, seed=1, dtype=dtype)
    res = mmcl.svd_iteration(data.X, data.Y, 2, tau=0.5, tol=1e-4, max_iter=50)
    assert res.converged and all(c == c for c in res.history["change"])  # no NaN change
    est = mmcl.HeteroPCA(2, tol=1e-4).fit(data.X)
    assert est.converged_ and bool(torch.isfinite(est.components_).all())


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_finite_output_names_the_knob(dtype):
    data = mmcl.make_multimodal(40, 5, 4, 2, seed=2, dtype=dtype)
    with pytest.raises(NonFiniteError, match="lr"):
        mmcl.gradient_descent(data.X, data.Y, 2, lr=1e6, n_steps=20)
    with pytest.raises(NonFiniteError, match="tau"):
        mmcl.contrastive_loss(
            torch.ones(2, 5, dtype=dtype),
            torch.ones(2, 4, dtype=dtype),
            data.X,
            data.Y,
            "clip",
            tau=torch.finfo(dtype).tiny * 1e-3,
        )
    with pytest.raises(ValueError, match="eps must be in"):
        mmcl.ContrastiveFamily(torch.log, torch.exp, eps=-1.0)


@settings(max_examples=40, deadline=None, database=None)
@given(
    scale=st.floats(1e-8, 1e3),
    tau=st.floats(1e-2, 10.0),
    block=st.integers(1, 12),
    n=st.integers(2, 12),
    seed=st.integers(0, 2**16),
    double=st.booleans(),
)
def test_property_blocked_loss_matches_dense(scale, tau, block, n, seed, double):
    dtype = torch.float64 if double else torch.float32
    zx, zy = _emb(n, 2, scale, dtype, seed)
    fam = mmcl.clip_family(tau)
    blocked = float(mmcl.blocked_loss(zx, zy, fam, block_size=block))
    dense = float(fam.loss_from_similarities(zx @ zy.T))
    logit = float((zx @ zy.T).abs().max()) / tau
    assert blocked >= 0
    assert abs(blocked - dense) <= 50 * torch.finfo(dtype).eps * (1 + logit) * tau


@settings(max_examples=30, deadline=None, database=None)
@given(
    rows=st.integers(0, 4),
    cols=st.integers(0, 4),
    kind=st.sampled_from(["int64", "bool", "float16", "complex64", "nan"]),
)
def test_property_bad_matrices_get_named_errors(rows, cols, kind):
    t = torch.ones(rows, cols)
    if kind == "nan":
        t = torch.full((rows, cols), float("nan"))
    else:
        t = t.to(getattr(torch, kind))
    for call, name in (
        (lambda: mmcl.clip_loss(t), "logits"),
        (lambda: mmcl.truncated_svd(t, 1), "S"),
        (lambda: mmcl.PCA(1).fit(t), "X"),
        (lambda: mmcl.delete_diagonal(t), "M"),
    ):
        with pytest.raises((ValueError, TypeError), match=rf"\b{name}\b"):
            call()
