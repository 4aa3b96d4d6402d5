import itertools

import pytest
import torch

import mmcl
from mmcl import pairing

S = torch.tensor(
    [[0.9, 0.8, 0.1], [0.85, 0.2, 0.3], [0.1, 0.7, 0.6]], dtype=torch.float64
)
MATCH = torch.tensor([0, 2, 1])  # true pairs (0, 0), (1, 2), (2, 1)


def pairs(mask):
    return sorted(map(tuple, mask.nonzero().tolist()))


def test_detectors_on_a_hand_computed_block():
    assert pairs(pairing.detect_pairs(S, "topm")) == [(0, 0), (0, 1), (1, 0)]
    assert pairs(pairing.detect_pairs(S, "mutual")) == [(0, 0)]
    assert pairs(pairing.detect_pairs(S, "assignment")) == [
        (0, 1),
        (1, 0),
        (2, 2),
    ]  # total 2.25
    assert pairs(pairing.detect_pairs(S, "threshold", threshold=0.05)) == [
        (0, 0),
        (1, 0),
        (2, 1),
    ]
    assert pairs(pairing.detect_pairs(S, "threshold", threshold=0.2)) == [(1, 0)]


def test_detection_quality_hand_computed():
    q = pairing.detection_quality(
        pairing.detect_pairs(S, "threshold", threshold=0.05), MATCH
    )
    assert float(q["precision"]) == pytest.approx(2 / 3) and float(
        q["recall"]
    ) == pytest.approx(2 / 3)
    q = pairing.detection_quality(pairing.detect_pairs(S, "mutual"), MATCH)
    assert (float(q["precision"]), float(q["recall"]), float(q["n_detected"])) == (
        1.0,
        pytest.approx(1 / 3),
        1.0,
    )
    empty = pairing.detection_quality(torch.zeros(3, 3, dtype=torch.bool), MATCH)
    assert float(empty["precision"]) == 1.0 and float(empty["recall"]) == 0.0
    assert pairing.true_pair_mask(MATCH).sum() == 3


def test_assignment_is_optimal_and_batched():
    g = torch.Generator().manual_seed(0)
    Sb = torch.rand(3, 5, 5, generator=g, dtype=torch.float64)
    mask = pairing.detect_pairs(Sb, "assignment")
    for b in range(3):
        best = max(
            sum(Sb[b, i, p[i]] for i in range(5))
            for p in itertools.permutations(range(5))
        )
        assert float((Sb[b] * mask[b]).sum()) == pytest.approx(float(best))
        assert mask[b].sum(0).eq(1).all() and mask[b].sum(1).eq(1).all()
    # the other detectors are batched too: each replicate equals its own call
    for method in ("topm", "mutual", "threshold"):
        mb = pairing.detect_pairs(Sb, method)
        assert all(
            torch.equal(mb[b], pairing.detect_pairs(Sb[b], method)) for b in range(3)
        )


def test_mutual_nearest_neighbours_are_one_to_one():
    g = torch.Generator().manual_seed(1)
    mask = pairing.detect_pairs(torch.randn(40, 50, generator=g), "mutual")
    assert mask.sum(0).le(1).all() and mask.sum(1).le(1).all()


def test_pool_similarities_are_cosines(small64):
    G1, G2 = (
        torch.randn(2, 7, dtype=torch.float64),
        torch.randn(2, 5, dtype=torch.float64),
    )
    s = pairing.pool_similarities(G1, G2, small64.X[:10], small64.Y[:12])
    assert s.shape == (10, 12) and float(s.abs().max()) <= 1 + 1e-12
    raw = pairing.pool_similarities(
        G1, G2, small64.X[:10], small64.Y[:12], normalize=False
    )
    assert torch.allclose(raw, small64.X[:10] @ G1.T @ G2 @ small64.Y[:12].T)


def test_detectors_find_true_pairs_under_the_true_subspaces():
    d = mmcl.make_multimodal(
        50, 20, 15, 5, noise=0.2, n_unpaired=400, seed=5, dtype=torch.float64
    )
    s = pairing.pool_similarities(d.U1.T, d.U2.T, d.X_unpaired, d.Y_unpaired)
    q = {
        m: pairing.detection_quality(pairing.detect_pairs(s, m), d.unpaired_match)
        for m in pairing.DETECTORS
    }
    assert float(q["mutual"]["precision"]) > float(q["topm"]["precision"])
    assert float(q["threshold"]["precision"]) >= float(q["mutual"]["precision"])
    assert float(q["assignment"]["recall"]) >= float(q["mutual"]["recall"])
    assert float(q["assignment"]["precision"]) == pytest.approx(0.67, abs=1e-4)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="method"):
        pairing.detect_pairs(S, "greedy")
    with pytest.raises(ValueError, match="threshold"):
        pairing.detect_pairs(S, "threshold", threshold=-1.0)
    with pytest.raises(ValueError, match="at most as many rows"):
        pairing.detect_pairs(torch.rand(4, 3), "mutual")
    with pytest.raises(ValueError, match="match"):
        pairing.detection_quality(pairing.detect_pairs(S), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="G1"):
        pairing.pool_similarities(
            torch.rand(2, 3), torch.rand(2, 5), torch.rand(4, 7), torch.rand(4, 5)
        )
