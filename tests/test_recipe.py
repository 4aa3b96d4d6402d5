from pathlib import Path

import pytest
import torch

import mmcl
from mmcl import unpaired
from mmcl.unpaired import recipe

ACCURACY, PRECISION = [0.1425, 0.2325, 0.0675], [0.5383, 0.5350, 0.5283]
DATA = Path(__file__).resolve().parents[1] / "book" / "data"


@pytest.fixture(scope="module")
def pools():
    return mmcl.make_multimodal(
        60, 12, 10, 3, noise=0.2, n_unpaired=300, n_test=200, replicates=2, seed=7
    )


def test_masked_adamw_is_torch_adamw():
    g = torch.Generator().manual_seed(0)
    target = torch.randn(2, 3, 4, generator=g)
    p1 = torch.randn(2, 3, 4, generator=g).requires_grad_(True)
    p2 = p1.detach().clone().requires_grad_(True)
    p3 = p1.detach().clone().requires_grad_(True)
    o1 = torch.optim.AdamW([p1], lr=0.01, weight_decay=0.01)
    o2 = recipe._MaskedAdamW([p2], 0.01, 0.01)
    o3 = recipe._MaskedAdamW([p3], 0.01, 0.01)
    for _ in range(5):
        for p in (p1, p2, p3):
            ((p - target) ** 2).sum().backward()
        o1.step()
        o1.zero_grad()
        o2.step(torch.tensor([True, True]))
        o3.step(torch.tensor([True, False]))
    # float32, 5 steps: each rounds p (|p| <~ 3) by eps32 |p| / 2 ~ 2e-7, and the two
    # optimisers may order the update's operations differently: rtol 1e-5 + atol 1e-6 is
    # ~10x that
    assert torch.allclose(p1, p2, rtol=1e-5, atol=1e-6)
    assert torch.allclose(p3[0], p1[0], rtol=1e-5, atol=1e-6) and not torch.allclose(
        p3[1], p1[1]
    )


def test_replicates_and_padding_are_independent(pools):
    Xo, Yo = unpaired.reveal_pairs(
        pools.X_unpaired, pools.Y_unpaired, pools.unpaired_match
    )
    kw = dict(epochs_paired=3, epochs_unpaired=3, batch_size=20, seed=3)
    short = recipe.paper_recipe(
        pools.X,
        pools.Y,
        Xo[:, :200],
        Yo[:, :200],
        3,
        match=torch.arange(200).expand(2, -1),
        **kw,
    )
    padded = recipe.paper_recipe(
        pools.X,
        pools.Y,
        Xo,
        Yo,
        3,
        match=torch.arange(300).expand(2, -1),
        pool_sizes=torch.tensor([200, 300]),
        **kw,
    )
    # replicate 0 ignores the padding: the same float32 steps, batched with other shapes
    # (eps32-level)
    assert torch.allclose(short.G1[0], padded.G1[0], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(
        short.G1[1], padded.G1[1], atol=1e-3
    )  # replicate 1 used 100 more
    assert torch.allclose(short.precision[:, 0], padded.precision[:, 0])
    assert torch.equal(short.G1_paired, padded.G1_paired)


def test_recipe_numbers(pools):
    kw = dict(
        match=pools.unpaired_match,
        epochs_paired=20,
        epochs_unpaired=3,
        batch_size=20,
        seed=3,
        lr=2e-2,
    )
    top = recipe.paper_recipe(
        pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3, **kw
    )
    true = recipe.paper_recipe(
        pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3, positives="true", **kw
    )
    shuf = recipe.paper_recipe(
        pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3, blocks="shuffled", **kw
    )
    acc = torch.stack(
        [
            unpaired.representation_accuracy(
                r.G1, r.G2, pools.X_test, pools.Y_test
            ).mean()
            for r in (top, true, shuf)
        ]
    )
    assert top.precision.shape == (3, 2) and true.precision.numel() == 0
    # counts: accuracies out of 2 x 200 test pairs (steps 2.5e-3), precisions of
    # detected pairs. The float32 training is not chaotic here: the two kernel sets give
    # G 2e-7 apart and training in float64 lands 1.7e-6 away, with every count
    # unchanged. So atol 2e-3 (less than one test pair) pins the counts; the printed 4
    # decimals are within 5e-5
    assert torch.allclose(acc, torch.tensor(ACCURACY), rtol=0, atol=2e-3)
    assert torch.allclose(
        top.precision.mean(1).float(), torch.tensor(PRECISION), rtol=0, atol=2e-3
    )
    assert (
        float(shuf.precision.mean()) < 0.1
    )  # true partners rarely share a shuffled block


def test_recipe_validates_input(pools):
    args = (pools.X, pools.Y, pools.X_unpaired, pools.Y_unpaired, 3)
    with pytest.raises(ValueError, match="match"):
        recipe.paper_recipe(*args)
    with pytest.raises(ValueError, match="blocks"):
        recipe.paper_recipe(*args, match=pools.unpaired_match, blocks="random")
    with pytest.raises(ValueError, match="positives"):
        recipe.paper_recipe(*args, match=pools.unpaired_match, positives="all")
    with pytest.raises(ValueError, match="batch_size"):
        recipe.paper_recipe(*args, match=pools.unpaired_match, batch_size=100)
    with pytest.raises(ValueError, match="pool_sizes"):
        recipe.paper_recipe(
            *args, match=pools.unpaired_match, pool_sizes=torch.tensor([400, 300])
        )


def test_saved_check_table_reproduces():
    """Re-run the small configuration of scripts/regenerate_unpaired.py and compare."""
    rows, meta = mmcl.load_table(DATA / "unpaired_check.json")
    setting = mmcl.UnpairedSetting(**meta["settings"][0])
    got = mmcl.run_recipe(setting, [500], epochs_paired=20, epochs_unpaired=20)[500]
    for q in ("paired", "unpaired"):
        saved = mmcl.table_values(rows, method="recipe", N=500, quantity=q)
        # a stored run of the same seeded float32 training; counts that rounding does
        # not flip (see test_recipe_numbers), and the table's stored digits: 0.005
        # allows a test pair or two
        assert torch.allclose(got[q].double(), saved, rtol=0, atol=0.005)
    got = mmcl.run_spectral(setting, 500, detector="mutual", rounds=2)
    assert torch.allclose(
        got["accuracy"][-1],
        mmcl.table_values(
            rows, method="linear+mutual", N=500, quantity="accuracy", round=2
        ),
        rtol=0,
        atol=1e-4,
    )  # float64 closed forms and detections: the exact count, stored to 4 digits
