"""Memory-bounded CLIP (mmcl.blocked): blocked loss, normalisers, weights and S(beta)
equal the dense computation, on every available device, and svd_iteration gives the same
answer blocked."""

import pytest
import torch

import mmcl


def embeddings(n, r, dtype, device, seed=0, batch=()):
    g = torch.Generator().manual_seed(seed)
    zx = torch.randn(*batch, n, r, generator=g, dtype=torch.float64)
    zy = 0.7 * zx + torch.randn(*batch, n, r, generator=g, dtype=torch.float64)
    return zx.to(device=device, dtype=dtype), zy.to(device=device, dtype=dtype)


def rel(a, b):
    return float((a - b).norm() / b.norm())


# sums over n = 300 accumulated in another order: random rounding grows like sqrt(n) eps
# / 2 (1e-6 in float32, measured 4e-7; 2e-15 in float64); worst case n eps / 2 = 3e-14
# in float64
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-12)])
def test_blocked_clip_equals_dense(device, dtype, tol):
    d = mmcl.make_multimodal(300, 8, 6, 3, eta=0.7, seed=1, dtype=dtype, device=device)
    zx, zy = embeddings(300, 3, dtype, device)
    fam = mmcl.clip_family(0.5)
    s = zx @ zy.T
    L, norms = mmcl.blocked_loss(
        zx, zy, "clip", tau=0.5, block_size=37, return_normalizers=True
    )
    assert rel(L, fam.loss_from_similarities(s)) < tol
    assert rel(norms.row, torch.logsumexp(s / 0.5, -1)) < tol
    assert rel(norms.col, torch.logsumexp(s / 0.5, -2)) < tol
    beta = fam.weights(s)
    blocks = torch.cat(
        [b for _, b in mmcl.iter_clip_weights(zx, zy, 0.5, block_size=37)], -2
    )
    assert rel(blocks, beta) < tol
    S = mmcl.blocked_cross_covariance(d.X, d.Y, zx, zy, "clip", tau=0.5, block_size=37)
    assert rel(S, mmcl.cross_covariance(d.X, d.Y, beta)) < tol


def test_blocked_result_does_not_depend_on_block_size():
    zx, zy = embeddings(200, 4, torch.float64, "cpu", seed=2)
    d = mmcl.make_multimodal(200, 5, 5, 2, seed=2, dtype=torch.float64)
    S = [
        mmcl.blocked_cross_covariance(d.X, d.Y, zx, zy, tau=1.0, block_size=b)
        for b in (1, 7, 200)
    ]
    # sums over n = 200 in three orders: each within n eps / 2 = 2.2e-14 of exact (worst
    # case)
    assert rel(S[0], S[2]) < 1e-13 and rel(S[1], S[2]) < 1e-13


def test_blocked_batched_replicates_equal_looped(device):
    d = mmcl.make_multimodal(
        120, 6, 5, 2, replicates=3, seed=5, dtype=torch.float64, device=device
    )
    zx, zy = embeddings(120, 2, torch.float64, device, seed=5, batch=(3,))
    L = mmcl.blocked_loss(zx, zy, tau=0.7, block_size=16)
    S = mmcl.blocked_cross_covariance(d.X, d.Y, zx, zy, tau=0.7, block_size=16)
    assert L.shape == (3,) and S.shape == (3, 6, 5) and S.device.type == device
    for k in range(3):
        s = zx[k] @ zy[k].T
        # sums over n = 120, float64: worst case n eps / 2 ~ 1.3e-14 each
        assert rel(L[k], mmcl.clip_family(0.7).loss_from_similarities(s)) < 1e-12
        beta = mmcl.clip_family(0.7).weights(s)
        assert rel(S[k], mmcl.cross_covariance(d.X[k], d.Y[k], beta)) < 1e-12


def test_blocked_linear_preset_matches_dense():
    zx, zy = embeddings(90, 3, torch.float64, "cpu", seed=3)
    d = mmcl.make_multimodal(90, 4, 4, 2, seed=3, dtype=torch.float64)
    dense = mmcl.linear_family().loss_from_similarities(zx @ zy.T)
    assert (
        rel(mmcl.blocked_loss(zx, zy, "linear"), dense) < 1e-11
    )  # n^2 = 8100 terms: n^2 eps / 2 ~ 1e-12 worst
    S = mmcl.blocked_cross_covariance(d.X, d.Y, zx, zy, "linear")
    # sums of n = 90 products of O(1) entries: each entry within n eps / 2 ~ 1e-14 of
    # exact, twice
    assert torch.allclose(
        S, mmcl.centered_cross_covariance(d.X, d.Y), rtol=0, atol=1e-13
    )


def test_large_logits_stay_finite():
    zx, zy = embeddings(100, 2, torch.float32, "cpu", seed=4)
    L = mmcl.blocked_loss(60 * zx, 60 * zy, tau=0.05, block_size=9)
    dense = mmcl.clip_family(0.05).loss_from_similarities(3600 * zx @ zy.T)
    assert (
        torch.isfinite(L) and rel(L, dense) < 1e-5
    )  # float32 sums over n = 100: n eps32 / 2 = 6e-6 worst case


def test_svd_iteration_blocked_equals_dense(device):
    d = mmcl.make_multimodal(
        160, 10, 8, 3, eta=0.8, noise=0.6, seed=7, dtype=torch.float64, device=device
    )
    dense = mmcl.svd_iteration(d.X, d.Y, 3, "clip", tau=0.5, tol=1e-8)
    blocked = mmcl.svd_iteration(d.X, d.Y, 3, "clip", tau=0.5, tol=1e-8, block_size=50)
    assert dense.n_iter == blocked.n_iter
    M_d, M_b = dense.G1.T @ dense.G2, blocked.G1.T @ blocked.G2
    # the same 41 iterations; per-iteration rounding differences (~n eps ~ 1e-14) are
    # carried by a contraction, so they stay ~1e-14 / (1 - q) (1e-15 measured); 1e-10
    # leaves q up to 0.9999
    assert rel(M_b, M_d) < 1e-10
    assert rel(blocked.singular_values, dense.singular_values) < 1e-10


def test_svd_iteration_switches_to_blocks_above_the_dense_limit(monkeypatch):
    import mmcl._matfree as mf
    import mmcl._iteration as iteration

    calls = []
    real = mf.ClipProblem.__init__

    def spy(self, X, Y, tau, rho, block):
        calls.append(block)
        real(self, X, Y, tau, rho, block)

    monkeypatch.setattr(mf.ClipProblem, "__init__", spy)
    monkeypatch.setattr(iteration, "DENSE_LIMIT", 100 * 100)
    d = mmcl.make_multimodal(150, 5, 5, 2, seed=0, dtype=torch.float64)
    mmcl.svd_iteration(d.X, d.Y, 2, "clip", max_iter=2)
    assert calls == [mmcl.auto_block_size(150)]
    calls.clear()
    mmcl.svd_iteration(d.X[:90], d.Y[:90], 2, "clip", max_iter=2)
    assert calls == [None]  # 90^2 <= limit: dense


def test_auto_block_size_bounds_the_slab():
    assert mmcl.auto_block_size(100_000) == 2**23 // 100_000
    assert mmcl.auto_block_size(1000, batch=4) == 1000  # capped at n
    assert mmcl.auto_block_size(10**8) == 1


def test_blocked_input_errors():
    zx, zy = embeddings(20, 2, torch.float64, "cpu")
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        mmcl.blocked_loss(zx, zy, block_size=0)
    with pytest.raises(ValueError, match="same shape"):
        mmcl.blocked_loss(zx, zy[:10])
    custom = mmcl.ContrastiveFamily(lambda u: u, torch.exp)
    with pytest.raises(TypeError, match="'linear' and 'siglip' presets"):
        mmcl.blocked_loss(zx, zy, custom)
    d = mmcl.make_multimodal(20, 4, 4, 2, seed=0, dtype=torch.float64)
    with pytest.raises(TypeError, match="block_size needs"):
        mmcl.svd_iteration(d.X, d.Y, 2, custom, block_size=5)
    with pytest.raises(ValueError, match="zx must have shape"):
        mmcl.blocked_cross_covariance(d.X[:10], d.Y[:10], zx[:12], zy[:12])


# the thresholds chapter 7 prints; sums over n = 1000 rounded randomly: sqrt(n) eps / 2
# ~ 2e-6 in float32 (measured 7e-7 to 8.5e-7) and 4e-15 in float64 (n eps / 2 = 1e-13
# worst case)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
def test_chapter6_agreement_claims(dtype, tol):
    """The numbers chapter 7 prints: n = 1000, blocks of 128, tau = 0.5, true-subspace
    embeddings."""
    data = mmcl.make_multimodal(
        1000, 20, 15, 3, eta=0.8, noise=0.5, seed=0, dtype=dtype
    )
    zx, zy = data.X @ data.U1, data.Y @ data.U2
    dense = mmcl.cross_covariance(
        data.X, data.Y, mmcl.clip_family(0.5).weights(zx @ zy.T)
    )
    blocked = mmcl.blocked_cross_covariance(
        data.X, data.Y, zx, zy, tau=0.5, block_size=128
    )
    assert rel(blocked, dense) < tol


def test_chapter6_svd_iteration_claim():
    data = mmcl.make_multimodal(
        300, 12, 10, 3, eta=0.8, noise=0.8, seed=2, dtype=torch.float64
    )
    dense = mmcl.svd_iteration(data.X, data.Y, 3, "clip", tau=1.0, max_iter=10)
    blocked = mmcl.svd_iteration(
        data.X, data.Y, 3, "clip", tau=1.0, max_iter=10, block_size=64
    )
    assert dense.n_iter == blocked.n_iter
    # the threshold chapter 7 prints; 10 iterations each add ~n eps ~ 1e-14, carried by
    # a non-expansive map: ~1e-13 (measured 1e-15)
    assert rel(blocked.G1.T @ blocked.G2, dense.G1.T @ dense.G2) < 1e-9


def test_blocked_float32_is_closer_to_float64_than_dense_float32():
    d = mmcl.make_multimodal(
        1500, 50, 50, 5, eta=1.0, noise=0.5, seed=0, dtype=torch.float64
    )
    zx, zy = d.X @ d.U1, d.Y @ d.U2
    ref = mmcl.blocked_cross_covariance(d.X, d.Y, zx, zy, tau=1.0)
    X, Y, ax, ay = (t.float() for t in (d.X, d.Y, zx, zy))
    dense32 = mmcl.cross_covariance(
        X, Y, mmcl.clip_family(1.0).weights(ax @ ay.T)
    ).double()
    blocked32 = mmcl.blocked_cross_covariance(X, Y, ax, ay, tau=1.0).double()
    # float32 rounding of the inputs alone costs a few eps32 (1.2e-7), and random
    # rounding of sums over n = 1500 ~ sqrt(n) eps32 / 2 = 2.3e-6: bound 1e-5 (measured
    # 2.1e-7 to 2.5e-7)
    assert rel(blocked32, ref) < 1e-5
    assert rel(blocked32, ref) < rel(dense32, ref)
