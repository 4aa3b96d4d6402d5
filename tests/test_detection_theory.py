"""The detection constants of the statistics chapter (book/04b_statistics, Step 7)."""

import math

import pytest
import torch

import mmcl


def test_slack_and_certificate_by_hand():
    # 3 pairs, pi = identity; row 2 and column 2 fail, the others hold
    s = torch.tensor(
        [[5.0, 1.0, 0.0], [0.0, 4.0, 1.0], [0.0, 4.5, 3.0]], dtype=torch.float64
    )
    pi = torch.tensor([0, 1, 2])
    row, col = mmcl.detection_slack(s, torch.tensor(0.5, dtype=torch.float64), pi)
    # row k: (s_kk - 0.5) - max_{l != k}(s_kl + 0.5)
    assert row.tolist() == pytest.approx([3.0, 2.0, -2.5])
    # column k: (s_kk - 0.5) - max_{j != k}(s_jk + 0.5)
    assert col.tolist() == pytest.approx([4.0, -1.5, 1.0])
    cert = mmcl.certified_detection(row, col)
    # F_r = {2}, F_c = {1}: c = 1, wrong <= 1
    assert float(cert["mutual_recall"]) == pytest.approx(1 / 3)
    assert float(cert["mutual_precision"]) == pytest.approx(1 / 2)
    # rows sorted -2.5, 2, 3: prefix sums -2.5, -0.5, 2.5 -> w = 2; columns
    # -1.5, 1, 4: -1.5, -0.5, 3.5 -> w = 2
    assert float(cert["assignment"]) == pytest.approx(1 / 3)


def test_certificate_below_measured_and_perturbation_bound():
    d = mmcl.make_multimodal(
        20000,
        20,
        20,
        10,
        noise=0.02**0.5,
        n_unpaired=100,
        replicates=3,
        seed=11,
        dtype=torch.float64,
    )
    C = d.U1 @ d.U2.mT
    eps = torch.linalg.matrix_norm(mmcl.centered_cross_covariance(d.X, d.Y) - C, 2)
    fit = mmcl.linear_closed_form(d.X, d.Y, 10)
    Xu, Yu, pi = d.X_unpaired, d.Y_unpaired, d.unpaired_match
    s_hat = mmcl.pool_similarities(fit.G1, fit.G2, Xu, Yu, normalize=False)
    s_star = Xu @ C @ Yu.mT
    tol = (
        2
        * eps[:, None, None]
        * Xu.norm(dim=-1)[..., None]
        * Yu.norm(dim=-1)[..., None, :]
    )
    assert bool(((s_hat - s_star).abs() <= tol + 1e-9).all())
    cert = mmcl.certified_detection(*mmcl.detection_slack(s_star, tol, pi))
    qm = mmcl.detection_quality(mmcl.detect_pairs(s_hat, "mutual"), pi)
    qa = mmcl.detection_quality(mmcl.detect_pairs(s_hat, "assignment"), pi)
    assert bool((cert["mutual_recall"] <= qm["recall"] + 1e-12).all())
    assert bool((cert["mutual_precision"] <= qm["precision"] + 1e-12).all())
    assert bool((cert["assignment"] <= qa["recall"] + 1e-12).all())
    # the chapter's figure: the mutual certificate is not vacuous at N = 100
    assert float(cert["mutual_recall"].mean()) > 0.2


@pytest.mark.parametrize("N,lo,hi", [(30, 0.27, 0.29), (1000, 0.80, 0.82)])
def test_failure_bound_pinned_and_monotone(N, lo, hi):
    # the chapter prints p 0.28 at N = 30 and 0.81 at N = 1000 (r = 10, v = 0.02)
    p = mmcl.nearest_neighbour_failure_bound(N, 10, noise_var=0.02)
    assert lo < p < hi
    assert p <= mmcl.nearest_neighbour_failure_bound(2 * N, 10, noise_var=0.02)


def test_failure_bound_sqrt_log_n_condition():
    # the proposition's sufficient condition: at SNR s sqrt(r) / (s + v) well above
    # sqrt(2 log N) the bound is small, well below it the bound is near 1
    N = 1000
    need = math.sqrt(2 * math.log(N))
    r_big, r_small = 64, 4  # sqrt(r) ~ 8 and 2 against sqrt(2 log N) ~ 3.7, v small
    assert math.sqrt(r_big) > 2 * need > 4 * math.sqrt(r_small) / 2
    assert mmcl.nearest_neighbour_failure_bound(N, r_big, noise_var=0.01) < 1e-3
    assert mmcl.nearest_neighbour_failure_bound(N, r_small, noise_var=0.01) > 0.9
