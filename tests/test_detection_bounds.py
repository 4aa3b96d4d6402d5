"""The cosine and assignment detection bounds of the statistics chapter
(book/04b_statistics, Step 7; mmcl.experiments.detection_bounds)."""

import itertools
import math

import pytest
import torch

import mmcl


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _unit(z):
    return z / z.norm(dim=-1, keepdim=True)


def _normalised_gap(u, v):
    return (_unit(u) - _unit(v)).norm(dim=-1)


def test_normalisation_inequality_random_and_near_worst():
    # ||u/|u| - v/|v||| <= 2 ||u - v|| / (|u| + |v|) <= 2 ||u - v|| / |u|
    g = _gen(0)
    u = torch.randn(20000, 7, generator=g, dtype=torch.float64)
    scale = torch.exp(3 * torch.randn(20000, 1, generator=g, dtype=torch.float64))
    v = scale * torch.randn(20000, 7, generator=g, dtype=torch.float64)
    # near-worst cases: v nearly anti-parallel to u (equality exactly at -c u)
    c = torch.rand(5000, 1, generator=g, dtype=torch.float64) * 10
    w = -c * u[:5000] + 1e-6 * torch.randn(5000, 7, generator=g, dtype=torch.float64)
    # small perturbations: u + tiny
    t = u[:5000] + 1e-8 * torch.randn(5000, 7, generator=g, dtype=torch.float64)
    for a, b in ((u, v), (u[:5000], w), (u[:5000], t)):
        lhs = _normalised_gap(a, b)
        sharp = 2 * (a - b).norm(dim=-1) / (a.norm(dim=-1) + b.norm(dim=-1))
        assert bool((lhs <= sharp * (1 + 1e-12) + 1e-15).all())
        assert bool((sharp <= 2 * (a - b).norm(dim=-1) / a.norm(dim=-1) + 1e-15).all())
    # anti-parallel vectors attain it
    a = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    for k in (0.5, 1.0, 4.0):
        gap = 2 * (a + k * a).norm(dim=-1) / (a.norm(dim=-1) * (1 + k))
        assert float(_normalised_gap(a, -k * a)) == pytest.approx(float(gap), 1e-14)


def test_factor_bound_values_and_limits():
    assert float(mmcl.factor_perturbation_bound(0.0)) == 0.0
    # small eps: beta ~ eps / (2 sqrt s) + sqrt(2 s) eps / (s - eps), (1/2 + sqrt 2) eps
    b = float(mmcl.factor_perturbation_bound(1e-6))
    assert b == pytest.approx((0.5 + math.sqrt(2)) * 1e-6, rel=1e-5)
    assert math.isinf(float(mmcl.factor_perturbation_bound(1.0)))
    eps = torch.tensor([0.01, 0.1, 0.4, 0.6, 0.99], dtype=torch.float64)
    beta = mmcl.factor_perturbation_bound(eps)
    assert bool((beta[1:] > beta[:-1]).all())  # increasing in eps
    # the scale: beta(eps; s) = sqrt(s) beta(eps / s; 1)
    s = 3.0
    assert mmcl.factor_perturbation_bound(s * eps, signal_var=s).tolist() == (
        pytest.approx((math.sqrt(s) * beta).tolist(), rel=1e-12)
    )


def _setting(n, N, noise_var, reps, seed, signal=1.0):
    d = mmcl.make_multimodal(
        n,
        20,
        20,
        10,
        signal_cov=signal,
        noise=noise_var**0.5,
        n_unpaired=N,
        replicates=reps,
        seed=seed,
        dtype=torch.float64,
    )
    C = signal * d.U1 @ d.U2.mT
    eps = torch.linalg.matrix_norm(mmcl.centered_cross_covariance(d.X, d.Y) - C, 2)
    fit = mmcl.linear_closed_form(d.X, d.Y, 10)
    return d, eps, fit


@pytest.mark.parametrize(
    "n,noise_var,signal", [(20000, 0.02, 1.0), (3000, 0.2, 1.0), (3000, 0.5, 2.0)]
)
def test_bounds_hold_against_measured(n, noise_var, signal):
    d, eps, fit = _setting(n, 100, noise_var, 3, seed=11, signal=signal)
    assert bool((eps < signal / 2).all())
    beta = mmcl.factor_perturbation_bound(eps, signal_var=signal)
    # the factors: the best common rotation Q of the stacked factors (Procrustes)
    W = math.sqrt(signal) * torch.cat([d.U1, d.U2], -2)  # (.., d1 + d2, r)
    W_hat = torch.cat([fit.G1.mT, fit.G2.mT], -2)
    a, _, bt = torch.linalg.svd(W.mT @ W_hat)
    Q = a @ bt
    for G, U in ((fit.G1, d.U1), (fit.G2, d.U2)):
        dist = torch.linalg.matrix_norm(G.mT - math.sqrt(signal) * U @ Q, 2)
        assert bool((dist <= beta).all())
    # the cosines
    Xu, Yu, pi = d.X_unpaired, d.Y_unpaired, d.unpaired_match
    c_hat = mmcl.pool_similarities(fit.G1, fit.G2, Xu, Yu)
    c_star = mmcl.pool_similarities(d.U1.mT, d.U2.mT, Xu, Yu)
    tol = mmcl.cosine_tolerance(eps, Xu, Yu, d.U1, d.U2, signal_var=signal)
    assert tol.shape == c_hat.shape
    assert bool(((c_hat - c_star).abs() <= tol + 1e-12).all())
    # the certificates are below the measured precision and recall
    cert = mmcl.certified_detection(*mmcl.detection_slack(c_star, tol, pi))
    ca = mmcl.certified_assignment(c_star, tol, pi, n_multipliers=6)
    qm = mmcl.detection_quality(mmcl.detect_pairs(c_hat, "mutual"), pi)
    qa = mmcl.detection_quality(mmcl.detect_pairs(c_hat, "assignment"), pi)
    assert bool((cert["mutual_recall"] <= qm["recall"] + 1e-12).all())
    assert bool((cert["mutual_precision"] <= qm["precision"] + 1e-12).all())
    assert bool((cert["assignment"] <= qa["recall"] + 1e-12).all())
    assert bool((ca <= qa["recall"] + 1e-12).all())


def test_cosine_certificate_informative_in_the_chapter_setting():
    # the chapter: n = 20000, v = 0.02, N = 30, certified mutual recall about 0.5
    d, eps, fit = _setting(20000, 30, 0.02, 4, seed=11)
    Xu, Yu, pi = d.X_unpaired, d.Y_unpaired, d.unpaired_match
    c_star = mmcl.pool_similarities(d.U1.mT, d.U2.mT, Xu, Yu)
    tol = mmcl.cosine_tolerance(eps, Xu, Yu, d.U1, d.U2)
    cert = mmcl.certified_detection(*mmcl.detection_slack(c_star, tol, pi))
    assert 0.3 < float(cert["mutual_recall"].mean()) < 0.8


def test_points_near_the_origin_get_the_trivial_tolerance():
    U1 = torch.eye(3, 2, dtype=torch.float64)
    X = torch.tensor([[1.0, 0.0, 0.0], [1e-3, 0.0, 5.0]], dtype=torch.float64)
    tol = mmcl.cosine_tolerance(0.01, X, X, U1, U1)
    assert float(tol[1, 1]) == 2.0 and float(tol[1, 0]) == 2.0  # ||U^T x|| << ||x||
    assert float(tol[0, 0]) < 0.1
    assert math.isinf(float(mmcl.factor_perturbation_bound(2.0)))
    assert bool((mmcl.cosine_tolerance(2.0, X, X, U1, U1) == 2.0).all())


def test_assignment_certificate_by_hand():
    # the 3-pair example of test_detection_theory: the slack certificate gives 1/3;
    # every cycle of D has a negative sum, so the assignment certificate is 1
    s = torch.tensor(
        [[5.0, 1.0, 0.0], [0.0, 4.0, 1.0], [0.0, 4.5, 3.0]], dtype=torch.float64
    )
    pi = torch.tensor([0, 1, 2])
    assert float(mmcl.certified_assignment(s, torch.zeros(()), pi)) == 1.0
    # tol 0.25: the 2-cycle (1 2) has a D sum of (1.25 - 3.75) + (4.75 - 2.75) < 0
    assert float(mmcl.certified_assignment(s, torch.tensor(0.25), pi)) == 1.0
    # tol 1: its D sum is (2 - 3) + (5.5 - 2) = 2.5 > 0, so rows 1 and 2 may swap
    # (|W| <= 2); the dual is not exact here: min over mu of max(2 + 2.5 mu,
    # 3 - 1.5 mu, ...) = 2.625 at mu = 1/4, a certificate of 1 - 2.625 / 3 = 1/8
    cert = float(mmcl.certified_assignment(s, torch.tensor(1.0), pi, n_multipliers=40))
    assert cert == pytest.approx(1 / 8, abs=1e-6)


def _worst_assignment_recall(s, tol, pi, trials, g):
    """The smallest assignment recall over random matrices within tol of s (corners
    of the box, where the worst case lies)."""
    worst = 1.0
    for _ in range(trials):
        sign = torch.randint(0, 2, s.shape, generator=g).double() * 2 - 1
        s_hat = s + sign * tol
        q = mmcl.detection_quality(mmcl.detect_pairs(s_hat, "assignment"), pi)
        worst = min(worst, float(q["recall"]))
    return worst


def test_assignment_certificate_is_valid_and_its_dual_matches_brute_force():
    g = _gen(3)
    for _ in range(10):
        n = 5
        s = torch.randn(n, n, generator=g, dtype=torch.float64)
        pi = torch.randperm(n, generator=g)
        s[torch.arange(n), pi] += 1.5
        tol = 0.3 * torch.rand(n, n, generator=g, dtype=torch.float64)
        cert = float(mmcl.certified_assignment(s, tol, pi, n_multipliers=30))
        assert cert <= _worst_assignment_recall(s, tol, pi, 100, g) + 1e-12
        # the certificate's A(mu) by brute force over all permutations and a grid of mu
        lo = (s - tol)[torch.arange(n), pi]
        D = (s + tol) - lo[:, None]
        perms = torch.tensor(list(itertools.permutations(range(n))))  # (n!, n)
        moved = perms != pi  # (n!, n)
        d_sum = (D[torch.arange(n), perms] * moved).sum(-1)  # (n!,)
        mus = torch.logspace(-3, 3, 400, dtype=torch.float64)
        A = (moved.sum(-1) + mus[:, None] * d_sum).amax(-1)  # (400,)
        best = float(A.min())
        # the golden section finds the best multiplier (to within the grid)
        assert cert == pytest.approx(1 - best / n, abs=0.02)


def test_assignment_certificate_beats_the_slack_certificate():
    # inner products, the chapter's setting at N = 100: the sorted-slack certificate is
    # about 0.06, the assignment's dual about 0.9
    d, eps, fit = _setting(20000, 100, 0.02, 2, seed=11)
    Xu, Yu, pi = d.X_unpaired, d.Y_unpaired, d.unpaired_match
    s_star = Xu @ d.U1 @ d.U2.mT @ Yu.mT
    tol = (
        2
        * eps[:, None, None]
        * Xu.norm(dim=-1)[..., None]
        * Yu.norm(dim=-1)[..., None, :]
    )
    old = mmcl.certified_detection(*mmcl.detection_slack(s_star, tol, pi))["assignment"]
    new = mmcl.certified_assignment(s_star, tol, pi, n_multipliers=8)
    s_hat = mmcl.pool_similarities(fit.G1, fit.G2, Xu, Yu, normalize=False)
    qa = mmcl.detection_quality(mmcl.detect_pairs(s_hat, "assignment"), pi)
    assert bool((new <= qa["recall"] + 1e-12).all())
    assert bool((new >= old).all())
    assert float(new.mean()) > 0.7 > 0.2 > float(old.mean())


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: mmcl.factor_perturbation_bound(-0.1), "eps"),
        (lambda: mmcl.factor_perturbation_bound(float("nan")), "eps"),
        (lambda: mmcl.factor_perturbation_bound("0.1"), "eps"),
        (lambda: mmcl.factor_perturbation_bound(torch.tensor([0.1, -1.0])), "eps"),
        (lambda: mmcl.factor_perturbation_bound(0.1, signal_var=0.0), "signal_var"),
        (
            lambda: mmcl.cosine_tolerance(
                0.1,
                torch.ones(4, 3),
                torch.ones(4, 2),
                torch.eye(2, 1),
                torch.eye(2, 1),
            ),
            "U1",
        ),
        (
            lambda: mmcl.cosine_tolerance(
                0.1, torch.ones(4), torch.ones(4, 2), torch.eye(4, 1), torch.eye(2, 1)
            ),
            "X",
        ),
        (
            lambda: mmcl.certified_assignment(
                torch.eye(3), torch.zeros(()), torch.tensor([0, 0, 1])
            ),
            "match",
        ),
        (
            lambda: mmcl.certified_assignment(
                torch.eye(3), -torch.ones(()), torch.tensor([0, 1, 2])
            ),
            "tolerance",
        ),
        (
            lambda: mmcl.certified_assignment(
                torch.eye(3), torch.zeros(2), torch.tensor([0, 1, 2])
            ),
            "tolerance",
        ),
        (
            lambda: mmcl.certified_assignment(
                torch.ones(3, 4), torch.zeros(()), torch.tensor([0, 1, 2])
            ),
            "s_ideal",
        ),
        (
            lambda: mmcl.certified_assignment(
                torch.eye(3), torch.zeros(()), torch.arange(3), n_multipliers=1
            ),
            "n_multipliers",
        ),
    ],
)
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()
