"""What CLIP's nonlinearity costs (book/03b_nonlinearity): the population
CLIP loss, its isotropic consistency, the first-order tilt, and the chapter's table."""

import torch

import mmcl

F64 = torch.float64


def _setting(spread, seed=0):
    n1 = mmcl.heteroskedastic_noise_std(20, spread=spread, generator=0, dtype=F64)
    n2 = mmcl.heteroskedastic_noise_std(10, spread=spread, generator=1, dtype=F64)
    U = mmcl.make_multimodal(2, 20, 10, 3, replicates=3, seed=seed, dtype=F64)
    Sz = 2.0 * torch.eye(3, dtype=F64)
    D1, D2 = n1**2, n2**2
    Sx = U.U1 @ Sz @ U.U1.mT + torch.diag(D1)
    Sy = U.U2 @ Sz @ U.U2.mT + torch.diag(D2)
    return U.U1, U.U2, Sz, D1, D2, Sx, Sy, U.U1 @ Sz @ U.U2.mT


def test_population_loss_is_the_large_n_limit():
    # L_n(M) - tau log n -> L_inf(M) for fixed M; at n = 4000 the law of large numbers
    # leaves O(1/sqrt(n)) ~ 0.02 relative fluctuations of the exponential moments
    torch.manual_seed(0)
    U1, U2, Sz, D1, D2, Sx, Sy, C = _setting(0.9)
    data = mmcl.make_multimodal(
        4000,
        20,
        10,
        3,
        signal_cov=2.0,
        noise=D1.sqrt(),
        noise2=D2.sqrt(),
        seed=3,
        dtype=F64,
    )
    Sx = data.U1 @ Sz @ data.U1.mT + torch.diag(D1)
    Sy = data.U2 @ Sz @ data.U2.mT + torch.diag(D2)
    C = data.U1 @ Sz @ data.U2.mT
    M = 0.1 * C  # the scale of the tau = 0.5 fixed point (logits of order one)
    tau = 0.5
    G1, G2 = M.mT.contiguous(), torch.eye(10, dtype=F64)  # G1^T G2 = M, r = d2
    Ln = mmcl.contrastive_loss(G1, G2, data.X, data.Y, "clip", tau=tau, rho=0.0)
    Linf = mmcl.population_clip_loss(M, Sx, Sy, C, tau=tau, rho=0.0)
    n = 4000
    gap = float(Ln) - tau * torch.log(torch.tensor(float(n))) - float(Linf)
    # two O(1/sqrt(n)) sample means differ from their limits (of s_ii and of
    # tau log A_i, of similar spread): allow four standard errors of each, the
    # standard error estimated from the sample's own s_ii
    s_ii = (data.X @ M * data.Y).sum(-1)
    se = float(s_ii.std()) / n**0.5
    assert abs(gap) < 4 * 2**0.5 * se, (gap, se)


def test_isotropic_population_fixed_point_is_the_closed_form():
    U1, U2, Sz, _, _, Sx, Sy, C = _setting(0.0)  # D1 = D2 = I
    tau, rho = 0.5, 1.0
    M, U, _ = mmcl.population_clip_fixed_point(Sx, Sy, C, 3, tau=tau, rho=rho)
    a = 2.0 / (rho + 3.0 * 3.0 / tau)  # sigma / (rho + (sigma + v1)(sigma + v2) / tau)
    # the theorem's closed form, to the solver's relative tolerance 1e-12 (x 1e3)
    assert torch.allclose(M, a * U1 @ U2.mT, atol=1e-9)
    assert float(mmcl.sin_theta_distance(U, U1).max()) < 1e-6


def test_first_order_tilt_matches_the_population_at_large_tau():
    U1, U2, Sz, D1, D2, Sx, Sy, C = _setting(0.9)
    rel = {}
    for tau in (32.0, 128.0):
        U = mmcl.population_clip_fixed_point(Sx, Sy, C, 3, tau=tau)[1]
        err = mmcl.sin_theta_distance(U, U1)
        pred = torch.linalg.matrix_norm(
            mmcl.first_order_tilt(U1, U2, Sz, D1, D2, tau=tau)
        )
        rel[tau] = float(((err - pred).abs() / pred).max())
    # an O(1/tau^2) remainder over an O(1/tau) term: the relative gap falls ~4-fold
    # per factor 4 of tau; the chapter prints these three facts
    assert rel[128.0] < 0.05
    assert rel[32.0] > 3 * rel[128.0]
    # and the tilt vanishes for isotropic noise, whatever the subspaces
    ones1, ones2 = torch.ones(20, dtype=F64), torch.ones(10, dtype=F64)
    T = mmcl.first_order_tilt(U1, U2, Sz, ones1, ones2, tau=1.0)
    assert float(T.abs().max()) < 1e-12


def test_population_fixed_point_is_stationary_on_the_rank_r_set():
    # rho M = SVD_r(C - Sx M Sy / tau): the chapter's fixed-point equation, to 1e-8
    U1, U2, Sz, D1, D2, Sx, Sy, C = _setting(0.9)
    M, _, _ = mmcl.population_clip_fixed_point(Sx, Sy, C, 3, tau=0.5)
    U, s, Vh = torch.linalg.svd(C - Sx @ M @ Sy / 0.5)
    rhs = U[..., :3] @ torch.diag_embed(s[..., :3]) @ Vh[..., :3, :]
    assert (
        float((torch.linalg.matrix_norm(M - rhs) / torch.linalg.matrix_norm(M)).max())
        < 1e-8
    )


def test_chapter_table():
    """The chapter's table, rerun (about 10 s): every number it prints, to the two
    digits it prints. Each mean is of 3 float64 replicates of converged fixed points
    (relative change < 1e-8), so rounding cannot move a printed digit unless a value
    sits within 1e-6 of a rounding edge; these are at least 0.001 away."""
    cb = mmcl.clip_bias_experiment([250, 500], [0.5, 2.0], [0.0, 0.9], replicates=3)
    assert cb["converged"] and cb["grad"] < 1e-6
    want = {
        (0.0, "linear"): (0.36, 0.28),
        (0.0, 0.5): (0.73, 0.52),
        (0.0, 2.0): (0.59, 0.43),
        (0.9, "linear"): (0.37, 0.27),
        (0.9, 0.5): (0.82, 0.68),
        (0.9, 2.0): (0.65, 0.50),
    }
    for (spread, m), values in want.items():
        got = [round(float(cb["err"][spread, m, n].mean()), 2) for n in (250, 500)]
        assert got == list(values), (spread, m, got)
    assert float(cb["pop"][0.0, 0.5].max()) < 1e-6
    assert round(float(cb["pop"][0.9, 0.5].mean()), 2) == 0.55
    assert round(float(cb["pop"][0.9, 2.0].mean()), 2) == 0.37
    # the floor does not vanish: at n = 500 CLIP's hetero error is above its floor
    assert float(cb["err"][0.9, 0.5, 500].mean()) > float(cb["pop"][0.9, 0.5].mean())


def test_cosine_clip_with_a_regulariser_has_no_minimiser():
    """Chapter 3: with L2-normalised embeddings the CLIP term is unchanged when G1, G2
    are scaled by c > 0 and the regulariser scales by c^4, so the objective decreases
    strictly as c -> 0 (no minimiser for rho > 0)."""
    d = mmcl.make_multimodal(200, 8, 6, 2, seed=3, dtype=torch.float64)
    fit = mmcl.linear_closed_form(d.X, d.Y, 2)
    G1, G2 = fit.G1, fit.G2

    def loss(c, rho):
        return float(
            mmcl.contrastive_loss(
                c * G1, c * G2, d.X, d.Y, "clip", tau=0.5, rho=rho, normalize=True
            )
        )

    base = loss(1.0, 0.0)
    for c in (0.5, 0.1, 0.01):
        # invariant: a sum of n log-sum-exps, so a few n eps of rounding
        assert abs(loss(c, 0.0) - base) < 1e-12 * max(1.0, abs(base)) * 200
    values = [loss(c, 1.0) for c in (1.0, 0.5, 0.1, 0.01)]
    assert all(a > b for a, b in zip(values, values[1:]))
    reg = 0.5 * float(torch.linalg.matrix_norm(G1.T @ G2) ** 2)
    assert abs((values[0] - values[1]) - reg * (1 - 0.5**4)) < 1e-9 * max(1.0, reg)
