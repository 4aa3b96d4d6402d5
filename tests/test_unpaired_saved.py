"""The claims the unpaired-data chapter prints, checked on the saved tables (book/data/)."""

from pathlib import Path

import pytest
import torch

from mmcl import unpaired_experiment as ux

DATA = Path(__file__).resolve().parents[1] / "book" / "data"
NS = list(range(500, 5001, 500))
RECIPE_PAIRED, RECIPE_UNPAIRED_RANGE = 0.3869, (0.4147, 0.6026)
GAP_CLOSED = {
    "linear+mutual": [0.796, 0.871, 0.808, 0.802],
    "linear+assignment": [0.858, 0.877, 0.758, 0.775],
}


@pytest.fixture(scope="module")
def paper():
    return sum(
        (
            ux.load_table(DATA / f"unpaired_{n}.json")[0]
            for n in ("paper", "paper_recipe")
        ),
        [],
    )


@pytest.fixture(scope="module")
def hard():
    return ux.load_table(DATA / "unpaired_hard.json")[0]


def mean(rows, **w):
    return ux.table_matrix(rows, NS, **w).mean(0)


def test_section_5_1_claims(paper):
    linear0 = mean(paper, method="linear+mutual", quantity="accuracy", round=0)
    linear2 = mean(paper, method="linear+mutual", quantity="accuracy", round=2)
    oracle = mean(paper, method="linear+mutual", quantity="oracle")
    rec0, rec1 = (
        mean(paper, method="recipe", quantity="paired"),
        mean(paper, method="recipe", quantity="unpaired"),
    )
    assert float(linear0.mean()) == pytest.approx(0.6014, abs=1e-3)
    assert float(oracle.mean()) == pytest.approx(0.6211, abs=1e-3)
    assert float((oracle - linear0).max()) == pytest.approx(0.0221, abs=1e-3)
    assert float((linear2 - oracle).min()) == pytest.approx(-0.001, abs=1e-3)
    assert float(rec0.mean()) == pytest.approx(RECIPE_PAIRED, abs=1e-3)
    assert (float(rec1.min()), float(rec1.max())) == pytest.approx(
        RECIPE_UNPAIRED_RANGE, abs=1e-3
    )


def test_shuffled_blocks_collapse(paper):
    for N in (500, 2000):
        assert (
            float(
                ux.table_values(
                    paper, method="recipe_shuffled", N=N, quantity="unpaired"
                ).mean()
            )
            < 0.05
        )


def test_hard_regime_gap_closed(hard):
    Ns = [250, 500, 1000, 2000]
    oracle = dict(method="linear+mutual", quantity="oracle")
    for method, expected in GAP_CLOSED.items():
        g = ux.gap_closed(
            hard,
            Ns,
            method,
            before=dict(quantity="accuracy", round=0),
            after=dict(quantity="accuracy", round=3),
            oracle=oracle,
        )
        assert torch.allclose(g.float(), torch.tensor(expected), atol=0.01)
    g = ux.gap_closed(
        hard,
        [500, 2000],
        "recipe",
        before=dict(quantity="paired"),
        after=dict(quantity="unpaired"),
        oracle=oracle,
    )
    assert bool((g < 0).all())  # the recipe gets worse in the hard regime
