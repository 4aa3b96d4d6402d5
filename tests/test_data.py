"""The latent factor model: shapes, seeds, wrong pairs, unpaired pools and the population limit."""

import pytest
import torch

import mmcl


def test_shapes_and_determinism():
    a = mmcl.make_multimodal(50, 6, 4, 2, eta=0.6, n_unpaired=30, n_test=20, seed=5)
    b = mmcl.make_multimodal(50, 6, 4, 2, eta=0.6, n_unpaired=30, n_test=20, seed=5)
    c = mmcl.make_multimodal(50, 6, 4, 2, eta=0.6, n_unpaired=30, n_test=20, seed=6)
    assert (
        a.X.shape == (50, 6)
        and a.Y.shape == (50, 4)
        and a.U1.shape == (6, 2)
        and a.U2.shape == (4, 2)
    )
    assert (
        a.X_unpaired.shape == (30, 6)
        and a.Y_unpaired.shape == (30, 4)
        and a.X_test.shape == (20, 6)
    )
    assert a.X.dtype == torch.float32
    assert torch.equal(a.X, b.X) and torch.equal(a.Y_unpaired, b.Y_unpaired)
    assert not torch.equal(a.X, c.X)
    assert int(a.is_true.sum()) == 30  # exactly round(eta * n) true pairs


def test_replicate_dimension():
    d = mmcl.make_multimodal(40, 6, 4, 2, eta=0.5, replicates=5, n_unpaired=10, seed=0)
    assert (
        d.X.shape == (5, 40, 6)
        and d.U1.shape == (5, 6, 2)
        and d.is_true.shape == (5, 40)
    )
    assert d.unpaired_match.shape == (5, 10)
    assert (d.is_true.sum(-1) == 20).all()
    assert not torch.allclose(d.U1[0], d.U1[1])  # independent subspaces per replicate


def test_unpaired_match_recovers_true_partners():
    # noise-free: the true partner of x_k has exactly the same latent, so y = U2 U1^T x
    d = mmcl.make_multimodal(
        10, 5, 5, 5, noise=0.0, n_unpaired=25, seed=2, dtype=torch.float64
    )
    Yp = d.Y_unpaired[d.unpaired_match]
    Z = d.X_unpaired @ d.U1
    assert torch.allclose(Yp, Z @ d.U2.T, atol=1e-10)
    assert not torch.allclose(
        d.Y_unpaired, Z @ d.U2.T, atol=1e-3
    )  # the pool really is shuffled


def test_wrong_pairs_have_independent_latents():
    d = mmcl.make_multimodal(
        4000, 5, 5, 5, eta=0.5, noise=0.0, seed=1, dtype=torch.float64
    )
    zx, zy = d.X @ d.U1, d.Y @ d.U2
    assert torch.allclose(zx[d.is_true], zy[d.is_true], atol=1e-10)
    corr = (zx[~d.is_true] * zy[~d.is_true]).mean(0)
    assert float(corr.abs().max()) < 0.08


def test_cross_covariance_approaches_eta_U1_Sigma_U2T():
    U1 = mmcl.haar_orthonormal(8, 2, generator=0)
    U2 = mmcl.haar_orthonormal(6, 2, generator=1)
    model = mmcl.LatentFactorModel(
        8,
        6,
        2,
        signal_cov=torch.tensor([2.0, 0.5]),
        noise1=0.7,
        noise2=0.4,
        U1=U1,
        U2=U2,
    )
    target = model.cross_covariance(0.6)
    errs = []
    for n in (500, 5000, 50000):
        d = model.sample(n, eta=0.6, seed=3, dtype=torch.float64, replicates=4)
        S = mmcl.centered_cross_covariance(d.X, d.Y)
        errs.append(float((S - target).norm(dim=(-2, -1)).mean()))
    assert errs[0] > errs[1] > errs[2]
    assert errs[2] < 0.03
    assert errs[0] / errs[2] > 5  # roughly the 1/sqrt(n) rate: sqrt(100) = 10


def test_heteroskedastic_noise_profile():
    s = mmcl.heteroskedastic_noise_std(1000, mean_var=2.0, spread=0.9, generator=0)
    v = s**2
    assert float(v.min()) >= 0.2 - 1e-9 and float(v.max()) <= 3.8 + 1e-9
    assert abs(float(v.mean()) - 2.0) < 0.1
    assert torch.allclose(
        mmcl.heteroskedastic_noise_std(5, spread=0.0),
        torch.ones(5, dtype=torch.float64),
    )


def test_to_device_and_dtype(device):
    d = mmcl.make_multimodal(20, 4, 3, 2, seed=0, device=device, dtype=torch.float64)
    assert (
        d.X.device.type == device
        and d.X.dtype == torch.float64
        and d.is_true.dtype == torch.bool
    )
    cpu = mmcl.make_multimodal(20, 4, 3, 2, seed=0, dtype=torch.float64)
    assert torch.equal(d.X.cpu(), cpu.X)  # same numbers on every device
