"""Chapter 2 (loss to SVD): every number the chapter prints to check a claim, pinned here on the
chapter's own data, plus unit tests of mmcl.analysis."""

import math

import pytest
import torch

import mmcl

N, TAU, RHO = 400, 0.5, 1.0


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As in the chapter: these small problems run fastest on one thread of a shared CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def chapter():
    """The chapter's data (chapter 1's model, n = 400, float64) and its random representation."""
    data = mmcl.make_multimodal(
        n=N, d1=30, d2=20, r=3, eta=0.6, noise=0.5, seed=1, dtype=torch.float64
    )
    g = mmcl.make_generator(0)
    G1 = 0.3 * torch.randn(3, 30, generator=g, dtype=torch.float64)
    G2 = 0.3 * torch.randn(3, 20, generator=g, dtype=torch.float64)
    return data, G1, G2, mmcl.similarities(G1, G2, data.X, data.Y)


@pytest.fixture(scope="module")
def race(chapter):
    data = chapter[0]
    return mmcl.solver_race(
        data.X,
        data.Y,
        3,
        "clip",
        tau=TAU,
        rho=RHO,
        lr=0.5,
        n_steps=400,
        tol=1e-6,
        seed=0,
    )


def test_clip_member_is_tau_times_clip_loss(chapter):
    s = chapter[3]
    a = float(mmcl.clip_family(TAU).loss_from_similarities(s))
    assert a == pytest.approx(4.924278, abs=1e-6)
    assert a == pytest.approx(float(TAU * mmcl.clip_loss(s / TAU)), abs=1e-12)


@pytest.mark.parametrize("loss", ["clip", "linear", "custom"])
def test_gradient_identity_to_rounding_error(loss, chapter):
    data, G1, G2, _ = chapter
    if loss == "custom":
        loss = mmcl.ContrastiveFamily(torch.log1p, torch.nn.functional.softplus, 1.0)
    err = float(
        mmcl.gradient_relative_error(G1, G2, data.X, data.Y, loss, tau=TAU, rho=0.3)
    )
    assert err < 1e-15


def test_gradient_relative_error_detects_a_wrong_formula(chapter):
    data, G1, G2, _ = chapter
    # the formula omits the regulariser's term only if rho is dropped: compare rho=0.3 vs formula at 0
    from mmcl import analysis

    with torch.enable_grad():
        A1 = G1.clone().requires_grad_(True)
        L = mmcl.contrastive_loss(A1, G2, data.X, data.Y, "clip", tau=TAU, rho=0.3)
        (a1,) = torch.autograd.grad(L, A1)
    f1, _ = mmcl.contrastive_gradient(G1, G2, data.X, data.Y, "clip", tau=TAU, rho=0.0)
    assert float((a1 - f1).norm() / a1.norm()) > 1e-3
    assert (
        analysis.gradient_relative_error(G1, G2, data.X, data.Y, "clip", tau=TAU).shape
        == ()
    )


def test_clip_tends_to_the_linear_cross_covariance(chapter):
    data, _, _, s = chapter
    Sn = mmcl.centered_cross_covariance(data.X, data.Y)
    gaps = []
    for t in (1.0, 10.0, 100.0, 1000.0):
        S_tau = mmcl.cross_covariance(data.X, data.Y, mmcl.clip_family(t).weights(s))
        gaps.append(float((S_tau - (N - 1) / N * Sn).norm() / Sn.norm()))
    assert gaps == pytest.approx([8.33e-01, 9.21e-02, 9.22e-03, 9.22e-04], rel=2e-3)


def test_tau_sweep_moves_from_hard_negatives_to_uniform(chapter):
    data = chapter[0]
    sol = mmcl.svd_iteration(data.X, data.Y, 3, "clip", tau=TAU, rho=RHO, tol=1e-12)
    betas = mmcl.clip_weights_sweep(
        mmcl.similarities(sol.G1, sol.G2, data.X, data.Y), [0.05, 0.2, 1.0, 5.0, 100.0]
    )
    eff = mmcl.effective_negatives(betas)
    assert eff.numpy() == pytest.approx([0.049, 0.504, 0.948, 0.998, 1.0], abs=1e-3)
    pos = torch.diagonal(betas, dim1=-2, dim2=-1)
    assert pos[:, data.is_true].mean(-1).numpy() == pytest.approx(
        [0.967, 0.979, 0.996, 0.997, 0.997], abs=1e-3
    )
    assert pos[:, ~data.is_true].mean(-1).numpy() == pytest.approx(
        [0.999, 0.997, 0.997, 0.997, 0.997], abs=1e-3
    )


def test_gradient_steps_head_for_the_truncated_svd(chapter, race):
    data = chapter[0]
    G1s, G2s = mmcl.stack_iterates(race.gd, every=10)
    cos_svd, cos_full, dist = mmcl.update_alignment(
        G1s, G2s, data.X, data.Y, "clip", tau=TAU, rho=RHO, lr=0.5
    )
    assert float(cos_svd.min()) == pytest.approx(0.386, abs=1e-3)
    assert float(cos_svd[-1]) == pytest.approx(0.941, abs=1e-3)
    assert abs(float(cos_full[-1])) < 5e-5
    assert float(dist[0]) == pytest.approx(1.685, abs=1e-3)
    assert float(dist[-1]) < 1e-6


def test_svd_iteration_and_gradient_descent_reach_one_solution(race):
    assert race.sin_theta < 1e-7
    assert race.svd_iterations == 43
    assert race.gd_iterations == 317
    assert race.svd_seconds > 0 and race.gd_seconds > 0
    err = mmcl.relative_error_path(race.svd, race.M_ref)
    assert (
        float(err[race.svd_iterations - 1])
        < 1e-6
        <= float(err[race.svd_iterations - 2])
    )


def test_linear_closed_form_is_plssvd_on_chapter_data(chapter):
    from sklearn.cross_decomposition import PLSSVD

    data = chapter[0]
    est = mmcl.MMCL(n_components=3, loss="linear", rho=RHO).fit(data.X, data.Y)
    pls = PLSSVD(n_components=3, scale=False).fit(data.X.numpy(), data.Y.numpy())
    assert (
        float(mmcl.sin_theta_distance(est.x_weights_, torch.from_numpy(pls.x_weights_)))
        < 1e-7
    )
    assert (
        float(mmcl.sin_theta_distance(est.y_weights_, torch.from_numpy(pls.y_weights_)))
        < 1e-7
    )
    a = mmcl.linear_closed_form(data.X, data.Y, 3, rho=0.1)
    b = mmcl.linear_closed_form(data.X, data.Y, 3, rho=10.0)
    assert float(mmcl.sin_theta_distance(a.G1.T, b.G1.T)) < 1e-7
    scaled = PLSSVD(n_components=3, scale=True).fit(data.X.numpy(), data.Y.numpy())
    assert (
        float(
            mmcl.sin_theta_distance(est.x_weights_, torch.from_numpy(scaled.x_weights_))
        )
        > 1e-3
    )


def test_exercise_exponential_member_weights(chapter):
    s = chapter[3]
    expo = mmcl.ContrastiveFamily(lambda u: u, lambda u: torch.exp(u / TAU), 0.0)
    E_row = torch.exp((s - torch.diagonal(s)[:, None]) / TAU)
    E_col = torch.exp((s - torch.diagonal(s)[None, :]) / TAU)
    off = ~torch.eye(N, dtype=torch.bool)
    diag = (torch.where(off, E_row, 0).sum(1) + torch.where(off, E_col, 0).sum(0)) / (
        2 * TAU
    )
    hand = torch.where(off, (E_row + E_col) / (2 * TAU), torch.diag(diag))
    assert float((hand - expo.weights(s)).abs().max()) == 0.0
    rel = (
        mmcl.weights_from_loss(expo.loss_from_similarities, s) - hand
    ).abs().max() / hand.abs().max()
    assert float(rel) < 1e-14


def test_exercise_linear_weights_give_centred_covariance(chapter):
    data, _, _, s = chapter
    S = mmcl.cross_covariance(data.X, data.Y, mmcl.linear_family().weights(s))
    assert (
        float((S - mmcl.centered_cross_covariance(data.X, data.Y)).abs().max()) < 1e-15
    )


def test_exercise_sigmoid_weights(chapter):
    s = chapter[3]
    labels = 2 * torch.eye(N, dtype=torch.float64) - 1
    beta = mmcl.weights_from_loss(
        lambda sim: torch.nn.functional.softplus(-labels * sim).sum((-1, -2)) / N, s
    )
    hand = torch.where(labels > 0, torch.sigmoid(-s), torch.sigmoid(s))
    assert float((beta - hand).abs().max()) < 1e-14


@pytest.mark.parametrize("name", ["clip", "linear"])
def test_weights_from_loss_equals_family_weights(name, small64):
    fam = mmcl.get_family(name, 0.7)
    s = mmcl.similarities(
        torch.randn(2, 7, dtype=torch.float64),
        torch.randn(2, 5, dtype=torch.float64),
        small64.X,
        small64.Y,
    )
    assert torch.allclose(
        mmcl.weights_from_loss(fam.loss_from_similarities, s),
        fam.weights(s),
        atol=1e-14,
    )


def test_effective_negatives_hand_cases():
    n = 5
    uniform = mmcl.linear_family().weights(torch.zeros(n, n))
    assert float(mmcl.effective_negatives(uniform)) == pytest.approx(1.0, abs=1e-6)
    one_hard = torch.eye(n) + torch.roll(
        torch.eye(n), 1, dims=1
    )  # one negative per row
    assert float(mmcl.effective_negatives(one_hard)) == pytest.approx(
        1 / (n - 1), abs=1e-6
    )
    two = (
        torch.eye(n)
        + torch.roll(torch.eye(n), 1, dims=1)
        + torch.roll(torch.eye(n), 2, dims=1)
    )
    assert float(mmcl.effective_negatives(two)) == pytest.approx(2 / (n - 1), abs=1e-6)


def test_clip_weights_sweep_shape_and_limits():
    s = torch.randn(2, 6, 6, dtype=torch.float64)
    b = mmcl.clip_weights_sweep(s, [0.1, 1e6])
    assert b.shape == (2, 2, 6, 6)
    assert torch.allclose(b[1], mmcl.clip_family(1e6).weights(s))
    off = ~torch.eye(6, dtype=torch.bool)
    assert torch.allclose(b[1][:, off], torch.full_like(b[1][:, off], 1 / 6), atol=1e-6)


def test_iterations_to_tolerance_hand_case():
    G = [(torch.full((1, 2), v), torch.ones(1, 2)) for v in (3.0, 1.5, 1.01, 1.0)]
    res = mmcl.SolverResult(
        *G[-1],
        torch.ones(2, 1),
        torch.ones(2, 1),
        torch.ones(1),
        iterates=G,
        history={"loss": [], "change": [], "time": [0.1, 0.2, 0.3, 0.4]},
    )
    M_ref = torch.ones(2, 2)
    assert mmcl.relative_error_path(res, M_ref).tolist() == pytest.approx(
        [2.0, 0.5, 0.01, 0.0]
    )
    assert mmcl.iterations_to_tolerance(res, M_ref, 0.1) == (3, 0.3)
    k, t = mmcl.iterations_to_tolerance(res, 2 * M_ref, 1e-3)
    assert k == -1 and math.isnan(t)


def test_analysis_errors(small64):
    with pytest.raises(TypeError, match="loss_of_similarities"):
        mmcl.weights_from_loss(3, torch.zeros(3, 3))
    with pytest.raises(ValueError, match="shape"):
        mmcl.effective_negatives(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="tau"):
        mmcl.clip_weights_sweep(torch.zeros(3, 3), [1.0, -1.0])
    with pytest.raises(ValueError, match="recorded iterates"):
        mmcl.relative_error_path(
            mmcl.linear_closed_form(small64.X, small64.Y, 2), torch.eye(7, 5)
        )
    with pytest.raises(ValueError, match="lr"):
        G1, G2 = (
            torch.ones(2, 7, dtype=torch.float64),
            torch.ones(2, 5, dtype=torch.float64),
        )
        mmcl.update_alignment(G1, G2, small64.X, small64.Y, lr=0.0)
    with pytest.raises(ValueError, match="one replicate"):
        mmcl.solver_race(small64.X[None], small64.Y[None], 2)


def test_analysis_follows_dtype_and_device(device):
    d = mmcl.make_multimodal(30, 5, 4, 2, seed=0, device=device)
    # full-rank factors: sinTheta of a rank-deficient G1^T is undefined (and rejected)
    G1 = torch.eye(2, 5, device=device) + 0.1
    G2 = torch.eye(2, 4, device=device) + 0.1
    cos_svd, cos_full, dist = mmcl.update_alignment(G1, G2, d.X, d.Y, tau=0.7)
    assert cos_svd.dtype == torch.float32 and cos_svd.device.type == device
    err = mmcl.gradient_relative_error(G1, G2, d.X, d.Y, tau=0.7, rho=0.5)
    assert float(err) < 1e-5
