"""Unimodal baselines: PCA, diagonal deletion, HeteroPCA and masked contrastive learning."""

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
    assert np.allclose(np.abs(U.T @ evecs[:, ::-1][:, :3]), np.eye(3), atol=1e-8)
    est = mmcl.PCA(n_components=3).fit(hetero.X[0])
    assert np.allclose(est.eigenvalues_.numpy(), evals[::-1][:3], rtol=1e-10)
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
    assert np.allclose(np.abs(U.T @ evecs[:, ::-1][:, :3]), np.eye(3), atol=1e-8)


def test_batched_equals_looped(hetero):
    for f in (B.pca, B.diagonal_deletion, B.hetero_pca):
        batched = f(hetero.X, 3)
        looped = torch.stack([f(x, 3) for x in hetero.X])
        assert torch.allclose(batched, looped, atol=1e-7), f.__name__


def test_errors_under_heteroskedastic_noise(hetero):
    err = {
        f.__name__: mmcl.sin_theta_distance(f(hetero.X, 3), hetero.U1).mean().item()
        for f in (B.pca, B.diagonal_deletion, B.hetero_pca)
    }
    assert err == pytest.approx(
        {"pca": 0.4672, "diagonal_deletion": 0.3296, "hetero_pca": 0.2766}, abs=1e-3
    )
    assert err["pca"] > err["diagonal_deletion"] > err["hetero_pca"]


def test_hetero_pca_is_exact_on_the_population():
    U = mmcl.haar_orthonormal(20, 3, generator=5)
    S = 2.0 * U @ U.T + torch.diag(torch.linspace(0.1, 3.0, 20, dtype=torch.float64))
    basis, _, n_iter, converged = B._hetero_pca(S, 3, 1e-12, 2000)
    assert converged and float(mmcl.sin_theta_distance(basis, U)) < 1e-5
    dd = B.top_eigenvectors(B.delete_diagonal(S), 3)[0]
    assert (
        float(mmcl.sin_theta_distance(dd, U)) > 0.1
    )  # deletion keeps a population bias


def test_masked_loss_is_the_linear_family_loss():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 6, generator=g, dtype=torch.float64)
    G = torch.randn(2, 6, generator=g, dtype=torch.float64)
    A, Bv = B.masked_views(X, 0.3, generator=1)
    assert torch.equal(A + Bv, X) and ((A == 0) | (Bv == 0)).all()
    ours = B.masked_contrastive_loss(G, A, Bv, rho=0.7)
    ref = mmcl.contrastive_loss(G, G, A, Bv, "linear", rho=0.7)
    assert torch.allclose(ours, ref, atol=1e-12)


def test_masked_contrastive_lands_on_diagonal_deletion():
    s1 = mmcl.heteroskedastic_noise_std(12, mean_var=1.0, spread=0.9, generator=2)
    d = mmcl.LatentFactorModel(12, 5, 2, signal_cov=2.0, noise1=s1).sample(
        1000, replicates=2, seed=3, dtype=torch.float64
    )
    est = mmcl.MaskedContrastive(n_components=2, n_steps=300, lr=0.05, seed=0).fit(d.X)
    dd = B.diagonal_deletion(d.X, 2)
    pca = B.pca(d.X, 2)
    to_dd = mmcl.sin_theta_distance(est.components_, dd)
    assert (to_dd < 0.05).all(), to_dd
    assert (mmcl.sin_theta_distance(est.components_, pca) > 3 * to_dd).all()
    target = B.top_eigenvectors(
        B.masked_contrastive_target(d.X - d.X.mean(-2, keepdim=True)), 2
    )[0]
    assert (mmcl.sin_theta_distance(target, dd) < 1e-3).all()


def test_estimators_transform_and_errors(hetero):
    est = mmcl.HeteroPCA(n_components=3).fit(hetero.X[0])
    assert est.converged_ and est.n_iter_ > 1
    Z = est.transform(hetero.X[0])
    assert Z.shape == (600, 3) and abs(float(Z.mean(0).abs().max())) < 1e-10
    with pytest.raises(mmcl.NotFittedError, match="call fit"):
        mmcl.DiagonalDeletion(3).transform(hetero.X[0])
    with pytest.raises(ValueError, match="n_components must satisfy"):
        mmcl.PCA(n_components=21).fit(hetero.X[0])
    with pytest.raises(ValueError, match="p must be in"):
        B.masked_views(hetero.X, p=1.0)
    with pytest.raises(ValueError, match="features"):
        est.transform(hetero.X[0, :, :5])
