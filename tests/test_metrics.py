"""sinTheta and retrieval accuracy."""

import math

import pytest
import torch

import mmcl


def _principal_angle_pair(thetas, d, dtype, rotate=None):
    """Bases A, B (d, r) whose principal angles are exactly ``thetas`` (before
    rounding).

    B spans the first r axes; column k of A is cos(t_k) e_k + sin(t_k) e_{r+k}.
    ``rotate`` (d, d), an orthogonal matrix, turns both, which keeps the angles but
    rounds the inputs.
    """
    t = torch.as_tensor(thetas, dtype=torch.float64)
    r = t.shape[-1]
    A = torch.zeros(*t.shape[:-1], d, r, dtype=torch.float64)
    idx = torch.arange(r)
    A[..., idx, idx] = torch.cos(t)
    A[..., r + idx, idx] = torch.sin(t)
    B = torch.zeros(d, r, dtype=torch.float64)
    B[idx, idx] = 1.0
    B = B.expand_as(A)
    if rotate is not None:
        A, B = rotate @ A, rotate @ B
    return A.to(dtype), B.to(dtype), torch.sin(t).pow(2).sum(-1).sqrt()


# The accurate formula's error is a few eps times cond(A) = 1 here, in absolute terms,
# plus the rounding of the inputs. Axis-aligned bases store sin(theta) exactly up to a
# relative eps, so the relative error stays ~eps down to theta = 1e-14 (we allow 1e-6,
# the bound). A rotated pair is rounded entry-wise: its angles move by up to
# ~eps * sqrt(d) in absolute terms, so there the bound is rel 1e-6 plus an absolute 10 *
# eps * sqrt(d * r).
ANGLES = [1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 0.3, 1.0, math.pi / 2]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_sin_theta_at_known_principal_angles(device, dtype):
    eps = torch.finfo(dtype).eps
    smallest = 1e-14 if dtype == torch.float64 else 1e-6
    angles = [t for t in ANGLES if t >= smallest]
    d, r = 8, 3
    # batched: one row of angles per case, each case with r equal-ish angles
    thetas = torch.tensor([[t, t / 2, t / 3] for t in angles])
    A, B, expected = _principal_angle_pair(thetas, d, dtype)
    got = mmcl.sin_theta_distance(A.to(device), B.to(device)).cpu().double()
    assert got.shape == (len(angles),)
    rel = ((got - expected).abs() / expected).max()
    assert float(rel) < 1e-6, (got, expected)
    # rotated: the same angles in a generic position (input rounding is the floor)
    Q = mmcl.haar_orthonormal(d, d, generator=5)
    A, B, expected = _principal_angle_pair(thetas, d, dtype, rotate=Q)
    got = mmcl.sin_theta_distance(A.to(device), B.to(device)).cpu().double()
    bound = 1e-6 * expected + 10 * eps * math.sqrt(d * r)
    assert bool(((got - expected).abs() <= bound).all()), (got, expected)


def test_sin_theta_resolves_what_the_cancelling_formula_cannot():
    # two subspaces 2e-10 apart: sqrt(r - ||Q_B^T Q_A||^2) returns 0 here, the accurate
    # form 2e-10
    A, B, expected = _principal_angle_pair(
        [2e-10, 0.0], 6, torch.float64, rotate=mmcl.haar_orthonormal(6, 6, generator=1)
    )
    got = float(mmcl.sin_theta_distance(A, B))
    # rotated inputs: absolute floor 10 * eps * sqrt(d r) ~ 8e-15, i.e. rel 4e-5 of
    # 2e-10
    assert abs(got - float(expected)) < 1e-4 * float(expected)


def test_sin_theta_zero_for_equal_subspaces_and_basis_invariant():
    U = mmcl.haar_orthonormal(10, 3, generator=1)
    A = torch.randn(
        3, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    eps = torch.finfo(torch.float64).eps
    # equal spans: only rounding of U and of U A remains, a few eps times cond(A) (< 1e3
    # here)
    assert float(mmcl.sin_theta_distance(U, U)) < 100 * eps
    assert float(mmcl.sin_theta_distance(U @ A, U)) < 1e5 * eps  # change of basis
    V = mmcl.haar_orthonormal(10, 3, generator=2)
    # an O(1) distance computed two ways: agreement to rel 1e-10 leaves room for cond(A)
    # * eps
    assert math.isclose(
        float(mmcl.sin_theta_distance(U @ A, V @ A.T)),
        float(mmcl.sin_theta_distance(U, V)),
        rel_tol=1e-10,
    )


def test_sin_theta_at_most_sqrt_r_and_equal_for_orthogonal_subspaces():
    E = torch.eye(8, dtype=torch.float64)
    # axis-aligned bases: every product is exact, so only the final sqrt rounds (rel
    # eps)
    assert math.isclose(
        float(mmcl.sin_theta_distance(E[:, :3], E[:, 3:6])), math.sqrt(3), rel_tol=1e-12
    )
    for seed in range(5):
        U, V = (
            mmcl.haar_orthonormal(8, 3, generator=seed),
            mmcl.haar_orthonormal(8, 3, generator=seed + 10),
        )
        assert float(mmcl.sin_theta_distance(U, V)) <= math.sqrt(3) + 1e-12


def test_sin_theta_rejects_rank_deficient_bases():
    A = torch.zeros(5, 2, dtype=torch.float64)
    A[0, 0] = A[0, 1] = 1.0  # two equal columns: a 1-dimensional span
    with pytest.raises(ValueError, match="A must have full column rank"):
        mmcl.sin_theta_distance(A, torch.eye(5, dtype=torch.float64)[:, :2])
    with pytest.raises(ValueError, match="B must have full column rank"):
        mmcl.sin_theta_distance(torch.eye(5, dtype=torch.float64)[:, :2], A)


def test_sin_theta_batched():
    U = mmcl.haar_orthonormal(6, 2, batch=(4,), generator=0)
    V = mmcl.haar_orthonormal(6, 2, batch=(4,), generator=1)
    out = mmcl.sin_theta_distance(U, V)
    assert out.shape == (4,)
    # batched and single LAPACK calls may take different code paths: rel 1e-12 ~ 1e4 eps
    assert math.isclose(
        float(out[2]), float(mmcl.sin_theta_distance(U[2], V[2])), rel_tol=1e-12
    )


def test_retrieval_accuracy_hand_case_and_chunks():
    Zx = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    Zy = torch.tensor([[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]])
    # x0 -> y1 (cos 1) wrong, x1 -> y2 (cos .707 vs .0995) wrong, x2 -> y2 right
    assert math.isclose(float(mmcl.retrieval_accuracy(Zx, Zy)), 1 / 3, rel_tol=1e-6)
    # inner product: x0 ties with y0, y1, y2 (all 1.0): a tie counts against the
    # target, so x0 is missed; x1 -> y2 wrong, x2 -> y2 right
    assert math.isclose(
        float(mmcl.retrieval_accuracy(Zx, Zy, normalize=False)), 1 / 3, rel_tol=1e-6
    )
    # top-2 (cosine): x0's y0 is second after y1, x1's y1 is third
    # (cos 0 < .0995 < .707)
    assert math.isclose(
        float(mmcl.retrieval_accuracy(Zx, Zy, k=2)), 2 / 3, rel_tol=1e-6
    )
    assert float(mmcl.retrieval_accuracy(Zx, Zy, k=3)) == 1.0
    g = torch.Generator().manual_seed(0)
    A, B = torch.randn(2, 50, 3, generator=g), torch.randn(2, 50, 3, generator=g)
    B = A + 0.3 * B
    full = mmcl.retrieval_accuracy(A, B, chunk=4096)
    assert torch.equal(full, mmcl.retrieval_accuracy(A, B, chunk=7))
    assert full.shape == (2,) and 0.1 < float(full.min()) < 1.0


def test_top_k_matches_a_sort_and_ties_count_against():
    g = torch.Generator().manual_seed(1)
    A, B = (
        torch.randn(40, 4, generator=g, dtype=torch.float64),
        torch.randn(40, 4, generator=g, dtype=torch.float64),
    )
    sim = (
        torch.nn.functional.normalize(A, dim=1)
        @ torch.nn.functional.normalize(B, dim=1).T
    )
    rank = (sim > sim.diagonal()[:, None]).sum(1)  # no ties in continuous data
    for k in (1, 3, 10):
        assert float(mmcl.retrieval_accuracy(A, B, k=k)) == float(
            (rank < k).double().mean()
        )
    B[1:] = B[0]  # 40 identical candidates
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
