"""sinTheta and retrieval accuracy."""
import math

import pytest
import torch

import mmcl


def test_sin_theta_zero_for_equal_subspaces_and_basis_invariant():
    U = mmcl.haar_orthonormal(10, 3, generator=1)
    A = torch.randn(3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert float(mmcl.sin_theta_distance(U, U)) < 1e-7
    assert float(mmcl.sin_theta_distance(U @ A, U)) < 1e-7  # change of basis
    V = mmcl.haar_orthonormal(10, 3, generator=2)
    assert math.isclose(float(mmcl.sin_theta_distance(U @ A, V @ A.T)), float(mmcl.sin_theta_distance(U, V)),
                        rel_tol=1e-10)


def test_sin_theta_at_most_sqrt_r_and_equal_for_orthogonal_subspaces():
    E = torch.eye(8, dtype=torch.float64)
    assert math.isclose(float(mmcl.sin_theta_distance(E[:, :3], E[:, 3:6])), math.sqrt(3), rel_tol=1e-12)
    for seed in range(5):
        U, V = mmcl.haar_orthonormal(8, 3, generator=seed), mmcl.haar_orthonormal(8, 3, generator=seed + 10)
        assert float(mmcl.sin_theta_distance(U, V)) <= math.sqrt(3) + 1e-12


def test_sin_theta_of_a_rotation_by_angle():
    t = 0.3
    A = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    B = torch.tensor([[math.cos(t)], [math.sin(t)]], dtype=torch.float64)
    assert math.isclose(float(mmcl.sin_theta_distance(A, B)), math.sin(t), rel_tol=1e-12)


def test_sin_theta_batched():
    U = mmcl.haar_orthonormal(6, 2, batch=(4,), generator=0)
    V = mmcl.haar_orthonormal(6, 2, batch=(4,), generator=1)
    out = mmcl.sin_theta_distance(U, V)
    assert out.shape == (4,)
    assert math.isclose(float(out[2]), float(mmcl.sin_theta_distance(U[2], V[2])), rel_tol=1e-12)


def test_retrieval_accuracy_hand_case_and_chunks():
    Zx = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    Zy = torch.tensor([[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]])
    # x0 -> y1 (cos 1) wrong, x1 -> y2 (cos .707 vs .0995) wrong, x2 -> y2 right
    assert math.isclose(float(mmcl.retrieval_accuracy(Zx, Zy)), 1 / 3, rel_tol=1e-6)
    # inner product: x0 ties with y0, y1, y2 (all 1.0): a tie counts against the target, so x0
    # is missed; x1 -> y2 wrong, x2 -> y2 right
    assert math.isclose(float(mmcl.retrieval_accuracy(Zx, Zy, normalize=False)), 1 / 3, rel_tol=1e-6)
    # top-2 (cosine): x0's y0 is second after y1, x1's y1 is third (cos 0 < .0995 < .707)
    assert math.isclose(float(mmcl.retrieval_accuracy(Zx, Zy, k=2)), 2 / 3, rel_tol=1e-6)
    assert float(mmcl.retrieval_accuracy(Zx, Zy, k=3)) == 1.0
    g = torch.Generator().manual_seed(0)
    A, B = torch.randn(2, 50, 3, generator=g), torch.randn(2, 50, 3, generator=g)
    B = A + 0.3 * B
    full = mmcl.retrieval_accuracy(A, B, chunk=4096)
    assert torch.equal(full, mmcl.retrieval_accuracy(A, B, chunk=7))
    assert full.shape == (2,) and 0.1 < float(full.min()) < 1.0


def test_top_k_matches_a_sort_and_ties_count_against():
    g = torch.Generator().manual_seed(1)
    A, B = torch.randn(40, 4, generator=g, dtype=torch.float64), torch.randn(40, 4, generator=g, dtype=torch.float64)
    sim = torch.nn.functional.normalize(A, dim=1) @ torch.nn.functional.normalize(B, dim=1).T
    rank = (sim > sim.diagonal()[:, None]).sum(1)          # no ties in continuous data
    for k in (1, 3, 10):
        assert float(mmcl.retrieval_accuracy(A, B, k=k)) == float((rank < k).double().mean())
    B[1:] = B[0]                                           # 40 identical candidates
    assert float(mmcl.retrieval_accuracy(A, B, k=39)) == 0.0
    assert float(mmcl.retrieval_accuracy(A, B, k=40)) == 1.0
    with pytest.raises(ValueError, match="k must be"):
        mmcl.retrieval_accuracy(A, B, k=41)


def test_metric_errors():
    with pytest.raises(ValueError, match="same dimension d"):
        mmcl.sin_theta_distance(torch.eye(4)[:, :2], torch.eye(5)[:, :2])
    with pytest.raises(ValueError, match="pass G.T"):
        mmcl.sin_theta_distance(torch.ones(2, 5), torch.ones(2, 5))
    with pytest.raises(ValueError, match="same shape"):
        mmcl.retrieval_accuracy(torch.ones(4, 2), torch.ones(5, 2))
