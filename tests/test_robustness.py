"""The robustness trial: the 1/eta price of MMCL, the flat unimodal errors, and the z-score claim."""

import numpy as np
import pytest
import torch

import mmcl


def test_trial_eta_price_and_unimodal_blindness():
    cfg = mmcl.ExperimentConfig(
        grid={"eta": [1.0, 0.5]}, fixed={"n": 4000}, replicates=20, seed=7
    )
    res = mmcl.run_experiment(mmcl.robustness_trial, cfg)
    assert res.metrics == ["MMCL", "PCA", "diagonal deletion", "HeteroPCA"]
    mm = res.mean("MMCL")
    assert mm[1] / mm[0] == pytest.approx(
        2.0, rel=0.15
    )  # wrong pairs cost a factor 1/eta
    pca, dd = res.mean("PCA"), res.mean("diagonal deletion")
    assert pca[0] > dd[0] > res.mean("HeteroPCA")[0]  # heteroskedastic noise: PCA worst
    assert mm[0] < dd[0] and mm[1] < dd[1]  # n = 4000 is past the eta=0.5 crossover
    assert mm == pytest.approx([0.0962, 0.2078], abs=1e-3)


def test_zscored_diagonal_deletion_is_pca():
    d = mmcl.make_multimodal(
        500,
        15,
        5,
        2,
        noise=mmcl.heteroskedastic_noise_std(15, spread=0.9, generator=1),
        noise2=0.5,
        replicates=3,
        seed=2,
        dtype=torch.float64,
    )
    Z = (d.X - d.X.mean(-2, keepdim=True)) / d.X.std(-2, keepdim=True)
    assert (
        mmcl.sin_theta_distance(mmcl.diagonal_deletion(Z, 2), mmcl.pca(Z, 2)) < 1e-6
    ).all()
    assert (
        mmcl.sin_theta_distance(mmcl.diagonal_deletion(d.X, 2), mmcl.pca(d.X, 2)) > 1e-2
    ).all()


def test_trial_rejects_unknown_method():
    with pytest.raises(ValueError, match="methods must be"):
        mmcl.robustness_trial(2, torch.Generator(), n=50, methods=["SVD"])
