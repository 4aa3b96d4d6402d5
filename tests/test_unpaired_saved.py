"""The claims the unpaired-data chapter prints, checked on the saved tables
(book/data/)."""

from pathlib import Path

import pytest
import torch

import mmcl


DATA = Path(__file__).resolve().parents[1] / "book" / "data"
NS = list(range(500, 5001, 500))
RECIPE_PAIRED, RECIPE_UNPAIRED_RANGE = 0.3869, (0.4147, 0.6026)
GAP_CLOSED = {
    "linear+mutual": [0.796, 0.871, 0.808, 0.802],
    "linear+assignment": [0.858, 0.877, 0.758, 0.775],
}


@pytest.fixture(scope="module")
def paper():
    names = ("paper", "paper_recipe", "paper_recipe_control")
    return sum((mmcl.load_table(DATA / f"unpaired_{n}.json")[0] for n in names), [])


@pytest.fixture(scope="module")
def hard():
    return mmcl.load_table(DATA / "unpaired_hard.json")[0]


def mean(rows, **w):
    return mmcl.table_matrix(rows, NS, **w).mean(0)


def test_section_5_1_claims(paper):
    linear0 = mean(paper, method="linear+mutual", quantity="accuracy", round=0)
    linear2 = mean(paper, method="linear+mutual", quantity="accuracy", round=2)
    oracle = mean(paper, method="linear+mutual", quantity="oracle")
    rec0, rec1 = (
        mean(paper, method="recipe", quantity="paired"),
        mean(paper, method="recipe", quantity="unpaired"),
    )
    # arithmetic on the stored tables (machine-independent to ~1e-15): the 4 printed
    # decimals, half a unit 5e-5 (3 decimals for -0.001)
    assert float(linear0.mean()) == pytest.approx(0.6014, abs=1e-4)
    assert float(oracle.mean()) == pytest.approx(0.6211, abs=1e-4)
    assert float((oracle - linear0).max()) == pytest.approx(0.0221, abs=1e-4)
    assert float((linear2 - oracle).min()) == pytest.approx(-0.001, abs=1e-3)
    assert float(rec0.mean()) == pytest.approx(RECIPE_PAIRED, abs=1e-4)
    assert (float(rec1.min()), float(rec1.max())) == pytest.approx(
        RECIPE_UNPAIRED_RANGE, abs=1e-4
    )
    # the control: 100 more epochs on the pairs instead of the pool do not help (ch. 4)
    control = mean(paper, method="recipe_pairs_only_200", quantity="paired")
    assert float(control.mean()) == pytest.approx(0.3737, abs=1e-4)
    assert float(control.mean()) < float(rec0.mean()) < float(rec1.mean())


def test_shuffled_blocks_collapse(paper):
    for N in (500, 2000):
        assert (
            float(
                mmcl.table_values(
                    paper, method="recipe_shuffled", N=N, quantity="unpaired"
                ).mean()
            )
            < 0.05
        )


def test_hard_regime_gap_closed(hard):
    Ns = [250, 500, 1000, 2000]
    oracle = dict(method="linear+mutual", quantity="oracle")
    for method, expected in GAP_CLOSED.items():
        g = mmcl.gap_closed(
            hard,
            Ns,
            method,
            before=dict(quantity="accuracy", round=0),
            after=dict(quantity="accuracy", round=3),
            oracle=oracle,
        )
        # the 3 printed decimals (half a unit 5e-4) of arithmetic on stored numbers,
        # cast to float32
        assert torch.allclose(g.float(), torch.tensor(expected), rtol=0, atol=1e-3)
    g = mmcl.gap_closed(
        hard,
        [500, 2000],
        "recipe",
        before=dict(quantity="paired"),
        after=dict(quantity="unpaired"),
        oracle=oracle,
    )
    assert bool((g < 0).all())  # the recipe gets worse in the hard regime
