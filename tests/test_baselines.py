"""Unimodal baselines: PCA, diagonal deletion, HeteroPCA and masked contrastive
learning."""

import numpy as np
import pytest
import torch

import mmcl
from mmcl import baselines as B


@pytest.fixture(scope="module")
def hetero():
    """Heteroskedastic noise in modality 1 (variances in [0.1, 1.9]), 3 replicates."""
    s1 = mmcl.heteroskedastic_noise_std(20, mean_var=1.0, spread=0.9, generator=0)
    model = mmcl.LatentFactorModel(20, 8, 3, signal_cov=2.0, noise1=s1, noise2=0.5)
    return model.sample(600, replicates=3, seed=1, dtype=torch.float64)


def test_pca_matches_numpy(hetero):
    X = hetero.X[0].numpy()
    evals, evecs = np.linalg.eigh(np.cov(X.T))
    U = B.pca(hetero.X[0], 3).numpy()
    # each eigenvector to ~ eps ||C|| sqrt(d) / min gap (Davis-Kahan; gaps >= 0.19,
    # ||C|| = 3.3): with the covariance formed two ways (n = 600), |error| <= n eps
    # ||C|| / gap ~ 1e-12
    assert np.allclose(
        np.abs(U.T @ evecs[:, ::-1][:, :3]), np.eye(3), rtol=0, atol=1e-10
    )
    est = mmcl.PCA(n_components=3).fit(hetero.X[0])
    # Weyl: |d lambda| <= ||dC|| ~ n eps ||C|| ~ 1e-13, relative to lambda_3 / lambda_1
    # = 0.8
    assert np.allclose(est.eigenvalues_.numpy(), evals[::-1][:3], rtol=1e-11, atol=0)
    assert est.components_.shape == (20, 3)
    # the package sign convention: the largest-|.| entry of each column is positive
    idx = est.components_.abs().argmax(0)
    assert (est.components_[idx, torch.arange(3)] > 0).all()


def test_delete_diagonal_and_diagonal_deletion(hetero):
    S = B.sample_covariance(hetero.X)
    D = B.delete_diagonal(S)
    assert torch.diagonal(D, dim1=-2, dim2=-1).abs().max() == 0
    assert torch.equal(
        D - S + torch.diag_embed(torch.diagonal(S, dim1=-2, dim2=-1)),
        torch.zeros_like(S),
    )
    evals, evecs = np.linalg.eigh(D[1].numpy())
    U = B.diagonal_deletion(hetero.X, 3)[1].numpy()
    # the same matrix D, two eigensolvers: eps ||D|| sqrt(d) / min gap (0.19 of ||D|| =
    # 1.7) ~ 1e-14
    assert np.allclose(
        np.abs(U.T @ evecs[:, ::-1][:, :3]), np.eye(3), rtol=0, atol=1e-10
    )


def test_batched_equals_looped(hetero):
    for f in (B.pca, B.diagonal_deletion, B.hetero_pca):
        batched = f(hetero.X, 3)
        looped = torch.stack([f(x, 3) for x in hetero.X])
        # batched and single LAPACK calls on one matrix: eps ||C|| / gap ~ 1e-14 per
        # eigenvector; HeteroPCA freezes a converged replicate, so it does the same
        # iterations as alone (a stop flips only if a change lies within ~1e-10 of tol,
        # which would show as ~tol = 1e-6)
        assert torch.allclose(batched, looped, rtol=0, atol=1e-10), f.__name__


def test_errors_under_heteroskedastic_noise(hetero):
    err = {
        f.__name__: mmcl.sin_theta_distance(f(hetero.X, 3), hetero.U1).mean().item()
        for f in (B.pca, B.diagonal_deletion, B.hetero_pca)
    }
    # the four printed decimals (half a unit 5e-5); HeteroPCA stops at relative change
    # 1e-6, which moves its error by ~1e-6; float64 rounding ~1e-13
    assert err == pytest.approx(
        {"pca": 0.4672, "diagonal_deletion": 0.3296, "hetero_pca": 0.2766}, abs=1e-4
    )
    assert err["pca"] > err["diagonal_deletion"] > err["hetero_pca"]


def test_hetero_pca_is_exact_on_the_population():
    U = mmcl.haar_orthonormal(20, 3, generator=5)
    S = 2.0 * U @ U.T + torch.diag(torch.linspace(0.1, 3.0, 20, dtype=torch.float64))
    basis, _, n_iter, converged = B._hetero_pca(S, 3, 1e-12, 2000)
    # stopped at relative change 1e-12 after 86 linear steps: the distance to the fixed
    # point is tol / (1 - q) with q the contraction (2.6e-12 measured: q ~ 0.6); 1e-9
    # allows q up to 0.999
    assert converged and float(mmcl.sin_theta_distance(basis, U)) < 1e-9
    dd = B.top_eigenvectors(B.delete_diagonal(S), 3)[0]
    assert (
        float(mmcl.sin_theta_distance(dd, U)) > 0.1
    )  # deletion keeps a population bias


def test_masked_loss_is_the_linear_family_loss():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 6, generator=g, dtype=torch.float64)
    G = torch.randn(2, 6, generator=g, dtype=torch.float64)
    A, Bv = mmcl.masked_views(X, 0.3, generator=1)
    assert torch.equal(A + Bv, X) and ((A == 0) | (Bv == 0)).all()
    ours = mmcl.masked_contrastive_loss(G, A, Bv, rho=0.7)
    ref = mmcl.contrastive_loss(G, G, A, Bv, "linear", rho=0.7)
    # sums of n^2 = 900 similarities, |s| <~ 10, divided by n^2: <= n^2 eps / 2 * 10 / n
    # ~ 3e-14
    assert torch.allclose(ours, ref, rtol=0, atol=1e-12)


def test_masked_contrastive_lands_on_diagonal_deletion():
    s1 = mmcl.heteroskedastic_noise_std(12, mean_var=1.0, spread=0.9, generator=2)
    d = mmcl.LatentFactorModel(12, 5, 2, signal_cov=2.0, noise1=s1).sample(
        1000, replicates=2, seed=3, dtype=torch.float64
    )
    est = mmcl.MaskedContrastive(n_components=2, n_steps=300, lr=0.05, seed=0).fit(d.X)
    dd = B.diagonal_deletion(d.X, 2)
    pca = B.pca(d.X, 2)
    to_dd = mmcl.sin_theta_distance(est.components_, dd)
    # 300 GD steps do not reach the fixed point: measured 0.028 and 0.022; rounding
    # moves them by ~1e-12
    assert (to_dd < 0.05).all(), to_dd
    assert (mmcl.sin_theta_distance(est.components_, pca) > 3 * to_dd).all()
    target = B.top_eigenvectors(
        mmcl.masked_contrastive_target(d.X - d.X.mean(-2, keepdim=True)), 2
    )[0]
    # model difference (not rounding): the masked target differs from Delta(Sigma_hat)
    # by O(p^2) terms; measured 3.4e-4 and 3.8e-4, stable to ~1e-12 across kernels
    assert (mmcl.sin_theta_distance(target, dd) < 1e-3).all()


def test_estimators_transform_and_errors(hetero):
    est = mmcl.HeteroPCA(n_components=3).fit(hetero.X[0])
    assert est.converged_ and est.n_iter_ > 1
    Z = est.transform(hetero.X[0])
    # centred data: a mean of n = 600 projections with |z| <= 7: <= n eps / 2 * 7 ~
    # 5e-13
    assert Z.shape == (600, 3) and abs(float(Z.mean(0).abs().max())) < 1e-11
    with pytest.raises(mmcl.NotFittedError, match="call fit"):
        mmcl.DiagonalDeletion(3).transform(hetero.X[0])
    with pytest.raises(ValueError, match="n_components must satisfy"):
        mmcl.PCA(n_components=21).fit(hetero.X[0])
    with pytest.raises(ValueError, match="p must be in"):
        mmcl.masked_views(hetero.X, p=1.0)
    with pytest.raises(ValueError, match="features"):
        est.transform(hetero.X[0, :, :5])
