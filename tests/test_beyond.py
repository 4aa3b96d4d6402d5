"""Chapter 8 code (mmcl.experiments.beyond): effective rank, learned temperature,
filtering, misaligned captions, spectral embeddings and their alignment."""

import math

import numpy as np
import pytest
import torch

import mmcl
from mmcl.experiments import alignment, beyond


def test_effective_rank_closed_forms(device):
    A = torch.diag(
        torch.tensor([2.0, 2.0, 2.0, 0.0], dtype=torch.float64, device=device)
    )
    assert abs(float(beyond.effective_rank(A)) - 3.0) < 1e-12
    p = torch.tensor([3.0, 1.0], dtype=torch.float64) / 4
    B = torch.diag(torch.tensor([3.0, 1.0], dtype=torch.float64, device=device))
    assert (
        abs(float(beyond.effective_rank(B)) - math.exp(-float((p * p.log()).sum())))
        < 1e-12
    )
    batch = torch.stack([A[:2, :2], B])  # batched and scale-free
    assert torch.allclose(
        beyond.effective_rank(7 * batch), beyond.effective_rank(batch)
    )
    with pytest.raises(ValueError, match="A"):
        beyond.effective_rank(torch.zeros(3))


def test_fit_learned_temperature_runs_batched_and_fixed_tau_stays():
    d = mmcl.make_multimodal(
        40, 6, 5, 2, noise=0.3, replicates=2, seed=0, dtype=torch.float64
    )
    fixed = beyond.fit_learned_temperature(
        d.X, d.Y, 3, tau=0.7, learn_tau=False, n_steps=20
    )
    assert float((fixed.tau - 0.7).abs().max()) < 1e-15 and fixed.G1.shape == (
        2,
        3,
        6,
    )  # exp(log)
    learned = beyond.fit_learned_temperature(d.X, d.Y, 3, tau=0.7, n_steps=60)
    losses = torch.stack(learned.history["loss"])
    assert (
        bool((losses[-1] < losses[0]).all())
        and float((learned.tau - 0.7).abs().min()) > 1e-3
    )
    assert len(learned.history["erank"]) == 60
    # the loss it records is the standard CLIP loss of cosine similarities over tau
    G1, G2 = learned.G1, learned.G2
    cos = mmcl.similarities(G1, G2, d.X, d.Y, normalize=True)
    assert float(mmcl.clip_loss(cos / learned.tau[:, None, None]).sum()) > 0
    with pytest.raises(ValueError, match="k"):
        beyond.fit_learned_temperature(d.X, d.Y, 6)
    with pytest.raises(ValueError, match="tau"):
        beyond.fit_learned_temperature(d.X, d.Y, 2, tau=-1.0)


def test_teacher_scores_and_filter(small64):
    X, Y = small64.X, small64.Y
    g = torch.Generator().manual_seed(0)
    G1, G2 = (
        torch.randn(2, 7, generator=g, dtype=torch.float64),
        torch.randn(2, 5, generator=g, dtype=torch.float64),
    )
    sc = beyond.teacher_scores(G1, G2, X, Y)
    zx, zy = X @ G1.T, Y @ G2.T
    ref = (zx * zy).sum(1) / (zx.norm(dim=1) * zy.norm(dim=1))
    assert torch.allclose(sc, ref, rtol=0, atol=1e-14)
    Xk, Yk, idx = beyond.filter_pairs(X, Y, sc, 0.25)
    assert Xk.shape == (15, 7) and Yk.shape == (15, 5)
    assert torch.equal(Xk, X[idx]) and torch.equal(Yk, Y[idx])
    assert float(sc[idx].min()) >= float(sc[~torch.isin(torch.arange(60), idx)].max())
    with pytest.raises(ValueError, match="scores"):
        beyond.filter_pairs(X, Y, sc[:5], 0.5)
    with pytest.raises(ValueError, match="keep"):
        beyond.filter_pairs(X, Y, sc, 1.5)
    with pytest.raises(ValueError, match="G1"):
        beyond.teacher_scores(G1[:, :3], G2, X, Y)


def test_filtering_trial_keep_all_equals_no_filter():
    """With eta = 1 the filter keeps every pair (in another order): the same
    estimate."""
    out = beyond.filtering_trial(3, torch.Generator().manual_seed(1), n=200, eta=1.0)
    assert torch.allclose(out["teacher filter"], out["no filter"], rtol=0, atol=1e-10)
    assert torch.all(out["precision"] == 1)
    low = beyond.filtering_trial(
        3, torch.Generator().manual_seed(1), n=400, eta=0.3, n_teacher=None, signal=3.0
    )
    assert bool(
        ((low["precision"] > 0.3) & (low["precision"] <= 1)).all()
    )  # beats chance


def test_misaligned_sample_biases():
    s = alignment.misaligned_sample(
        50, 6, 5, 3, dropped=[2], perturbed=[0], noise=0.0, seed=0
    )
    assert s.invariant.tolist() == [False, True, False]
    zt = s.Y @ s.U2  # noiseless: the caption's latent
    z = s.X @ s.U1
    assert float(zt[:, 2].abs().max()) < 1e-12  # selection: never stated
    assert torch.allclose(zt[:, 1], z[:, 1], atol=1e-12)  # untouched
    assert not torch.allclose(zt[:, 0], z[:, 0], atol=1e-3)  # perturbed
    half = alignment.misaligned_sample(
        50, 6, 5, 3, perturbed=[0], perturb_prob=0.5, seed=0
    )
    assert half.invariant.tolist() == [True, True, True]
    with pytest.raises(ValueError, match="dropped"):
        alignment.misaligned_sample(50, 6, 5, 3, dropped=[3])
    with pytest.raises(ValueError, match="perturb_prob"):
        alignment.misaligned_sample(50, 6, 5, 3, perturb_prob=2.0)


def test_misaligned_population_cross_covariance():
    """E[x y^T] = sigma^2 U1 D U2^T, d_k = 1 kept, 0 dropped, 1 - p perturbed (the
    chapter's
    proposition). n = 40000: entries have standard error about sigma^2 / sqrt(n) =
    0.01."""
    s = alignment.misaligned_sample(
        40000,
        4,
        4,
        3,
        dropped=[2],
        perturbed=[0],
        perturb_prob=0.5,
        signal_var=2.0,
        noise=0.1,
        seed=3,
    )
    S = s.X.T @ s.Y / s.X.shape[0]
    target = (
        2.0
        * s.U1
        @ torch.diag(torch.tensor([0.5, 1.0, 0.0], dtype=torch.float64))
        @ s.U2.T
    )
    assert float((S - target).norm()) < 0.1


def test_coordinate_recovery():
    U = mmcl.haar_orthonormal(8, 3, generator=0)
    rec = alignment.coordinate_recovery(
        U[:, :2] @ torch.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=torch.float64), U
    )
    assert torch.allclose(
        rec, torch.tensor([1.0, 1.0, 0.0], dtype=torch.float64), atol=1e-12
    )
    with pytest.raises(ValueError, match="same dimension"):
        alignment.coordinate_recovery(U[:5], U)


def _random_walk_reference(X, k, nn):
    """Independent numpy version: the same graph, eigenvectors of D^-1 W by
    numpy.linalg.eig."""
    X = X.numpy()
    D2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    kth = np.sort(D2, axis=1)[:, nn]
    h2 = np.sort(kth)[(len(kth) - 1) // 2]  # the lower median, as torch.median
    near = D2 <= kth[:, None]
    W = np.where(near | near.T, np.exp(-D2 / h2), 0.0)
    P = W / W.sum(1, keepdims=True)
    vals, vecs = np.linalg.eig(P)
    order = np.argsort(-vals.real)
    return vals.real[order], vecs.real[:, order], P


def test_spectral_embedding_matches_random_walk_eigenvectors():
    X = mmcl.make_multimodal(40, 4, 3, 2, seed=2, dtype=torch.float64).X
    E = alignment.spectral_embedding(X, 2, n_neighbors=5)
    vals, vecs, P = _random_walk_reference(X, 2, 5)
    for j in range(2):
        ref = vecs[:, j + 1] / np.linalg.norm(vecs[:, j + 1])
        assert abs(abs(float(ref @ E[:, j].numpy())) - 1) < 1e-8  # same up to sign
        assert np.allclose(
            P @ E[:, j].numpy(), vals[j + 1] * E[:, j].numpy(), atol=1e-10
        )
    batched = alignment.spectral_embedding(torch.stack([X, X]), 2, n_neighbors=5)
    assert torch.allclose(batched[1].abs(), E.abs(), atol=1e-10)
    with pytest.raises(ValueError, match="k"):
        alignment.spectral_embedding(X, 39)


def test_align_embeddings_recovers_a_linear_map():
    g = torch.Generator().manual_seed(0)
    Ex = torch.randn(3, 10, 4, generator=g, dtype=torch.float64)
    A = torch.randn(3, 4, 4, generator=g, dtype=torch.float64)
    assert torch.allclose(alignment.align_embeddings(Ex, Ex @ A), A, atol=1e-10)
    with pytest.raises(ValueError, match="at least k"):
        alignment.align_embeddings(Ex[:, :3], Ex[:, :3])
