import pytest
import torch

import mmcl
from mmcl import unpaired


@pytest.fixture(scope="module")
def pools():
    return mmcl.make_multimodal(
        40,
        12,
        10,
        3,
        noise=0.2,
        n_unpaired=300,
        n_test=200,
        replicates=2,
        seed=7,
        dtype=torch.float64,
    )


def test_reveal_pairs_restores_the_hidden_pairing(pools):
    Xo, Yo = unpaired.reveal_pairs(
        pools.X_unpaired, pools.Y_unpaired, pools.unpaired_match
    )
    # the true pairs share a latent: their projections on U1, U2 agree up to noise
    zx, zy = Xo @ pools.U1, Yo @ pools.U2
    assert (
        float((zx - zy).pow(2).mean())
        < 0.2
        < float((zx - pools.Y_unpaired @ pools.U2).pow(2).mean())
    )


def test_self_training_detects_and_improves(pools):
    res = unpaired.self_training(
        pools.X,
        pools.Y,
        pools.X_unpaired,
        pools.Y_unpaired,
        3,
        detector="mutual",
        rounds=2,
        match=pools.unpaired_match,
    )
    acc = torch.stack(
        [
            unpaired.representation_accuracy(a, b, pools.X_test, pools.Y_test)
            for a, b in res.rounds
        ]
    )
    assert acc.shape == (3, 2) and res.quality["precision"].shape == (2, 2)
    assert torch.allclose(
        acc.mean(1),
        torch.tensor([0.2225, 0.2425, 0.2325], dtype=torch.float64),
        atol=1e-3,
    )
    assert torch.allclose(
        res.quality["precision"].mean(1),
        torch.tensor([0.1718, 0.1697], dtype=torch.float64),
        atol=1e-3,
    )
    # round 0 is the linear closed form on the pairs alone
    assert torch.allclose(
        res.rounds[0][0], mmcl.linear_closed_form(pools.X, pools.Y, 3).G1
    )


def test_self_training_matches_replicate_by_replicate(pools):
    both = unpaired.self_training(
        pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3, rounds=1
    )
    one = unpaired.self_training(
        pools.X[1], pools.Y[1], pools.X_unpaired[1], pools.Y_unpaired[1], 3, rounds=1
    )
    assert torch.allclose(both.G1[1], one.G1) and one.G1.shape == (3, 12)


def test_self_training_validates_input(pools):
    with pytest.raises(ValueError, match="detector"):
        unpaired.self_training(
            pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3, detector="best"
        )
    with pytest.raises(ValueError, match="solver"):
        unpaired.self_training(
            pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3, solver="pca"
        )
    with pytest.raises(ValueError, match="X_unpaired"):
        unpaired.self_training(
            pools.X, pools.Y, pools.X_unpaired[..., :5], pools.Y_unpaired, 3
        )
    with pytest.raises(ValueError, match="rounds"):
        unpaired.self_training(
            pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3, rounds=-1
        )
