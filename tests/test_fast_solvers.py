"""The fast solvers (mmcl._matfree) take the same steps as the straightforward ones.

The reference below is the SVD-iteration as it was before the matrix-free rewrite: dense
weights from ``ClipFamily.weights``, S(beta) formed by ``cross_covariance``, a full SVD
per step. In float64 the matrix-free steps (products with S, subspace iteration solved
to its rounding floor) must give the same iterates to 1e-10: the subspace iteration
stops at a residual of 8 eps sqrt(d) ~ 1e-14 relative, and a Ritz vector's error is
that over the relative gap of T (above 1e-3 on these problems), so 1e-10 leaves a
margin of about 1e1 to 1e2.
"""

import pytest
import torch

import mmcl
import mmcl._matfree as mf
import mmcl._subspace as ss
from mmcl.covariance import centred_cross_covariance_fast


def reference_iterates(X, Y, r, tau, rho, n_iter):
    """The pre-rewrite algorithm, written out: M_t for t = 1..n_iter (damping starts
    at 1)."""
    fam = mmcl.clip_family(tau)
    res = mmcl.linear_closed_form(X, Y, r, rho=rho)
    U, w, V = res.U, res.singular_values / rho, res.V

    def loss(U, w, V):
        s = (X @ U) * w @ (Y @ V).T
        return fam.loss_from_similarities(s) + 0.5 * rho * (w**2).sum(), s

    L, s = loss(U, w, V)
    M, a, out = (U * w) @ V.T, 1.0, []
    for _ in range(n_iter):
        S = mmcl.cross_covariance(X, Y, fam.weights(s))
        for _ in range(30):
            U1, sig1, V1 = mmcl.truncated_svd((1 - a) * rho * M + a * S, r)
            L1, s1 = loss(U1, sig1 / rho, V1)
            if not L1 > L + 1e-12 * max(abs(float(L)), 1.0):
                break
            a /= 2
        U, w, V, L, s = U1, sig1 / rho, V1, L1, s1
        M = (U * w) @ V.T
        out.append(M)
    return out


def rel(a, b):
    return float((a - b).norm() / b.norm())


@pytest.fixture
def exact(monkeypatch):
    """Subspace iterations solved to the rounding floor."""
    monkeypatch.setattr(ss, "_INNER_RTOL", 0.0)
    monkeypatch.setattr(ss, "_INNER_STEPS", 500)


@pytest.mark.parametrize("mode", ["products", "formed"])
@pytest.mark.parametrize("block", [None, 37])
@pytest.mark.parametrize("tau", [0.5, 2.0])
def test_same_iterates_as_the_reference(exact, monkeypatch, mode, block, tau):
    monkeypatch.setattr(mf, "_FORCE", mode)
    d = mmcl.make_multimodal(
        300, 16, 12, 3, eta=0.7, noise=0.8, seed=5, dtype=torch.float64
    )
    ref = reference_iterates(d.X, d.Y, 3, tau, 1.0, 6)
    fit = mmcl.svd_iteration(
        d.X,
        d.Y,
        3,
        "clip",
        tau=tau,
        max_iter=6,
        tol=1e-300,
        record_iterates=True,
        block_size=block,
    )
    assert fit.n_iter == 6
    for (G1, G2), M in zip(fit.iterates, ref):
        assert rel(G1.T @ G2, M) < 1e-10


def test_default_inner_tolerance_reaches_the_same_fixed_point(monkeypatch):
    d = mmcl.make_multimodal(
        400, 20, 15, 3, eta=0.8, noise=0.8, seed=6, dtype=torch.float64
    )
    monkeypatch.setattr(mf, "_FORCE", "formed")
    exact = mmcl.svd_iteration(d.X, d.Y, 3, "clip", tol=1e-11)
    monkeypatch.setattr(mf, "_FORCE", "products")
    fast = mmcl.svd_iteration(d.X, d.Y, 3, "clip", tol=1e-11)
    assert exact.converged and fast.converged
    # both stop within tol ~ 1e-11 of a fixed point that contracts at a rate below 1/2
    assert rel(fast.G1.T @ fast.G2, exact.G1.T @ exact.G2) < 1e-9
    assert torch.allclose(fast.singular_values, exact.singular_values, rtol=1e-9)


# S formed from tiles of A, dense or blocked: A Y for (9, 7), A^T X for (7, 9) and
# (4, 9); tiles of whole rows (250 columns) or 13 columns wide
@pytest.mark.parametrize("d1, d2", [(9, 7), (7, 9), (4, 9)])
@pytest.mark.parametrize("tile_cols", [2048, 13])
def test_products_equal_the_formed_cross_covariance(monkeypatch, d1, d2, tile_cols):
    monkeypatch.setattr(mf, "_TILE_COLS", tile_cols)
    monkeypatch.setattr(mf, "_TILE_BYTES", 1000)  # tiles of 16 rows (_MIN_ROWS)
    d = mmcl.make_multimodal(250, d1, d2, 2, eta=0.8, seed=1, dtype=torch.float64)
    U, w, V = d.U1[:, :2], torch.tensor([1.5, 0.7], dtype=torch.float64), d.U2[:, :2]
    s = (d.X @ U) * w @ (d.Y @ V).T
    S = mmcl.cross_covariance(d.X, d.Y, mmcl.clip_family(0.7).weights(s))
    Qu, Qv = (
        torch.linalg.qr(torch.randn(d1, 4, dtype=torch.float64)).Q,
        torch.eye(d2, 4, dtype=torch.float64),
    )
    for block in (None, 16):
        prob = mf.ClipProblem(d.X, d.Y, 0.7, 1.0, block)
        st = prob.state(U, w, V)
        SQv, StQu = prob.products(st, Qu, Qv)
        # float64 sums of n = 250 products of O(1) terms: 1e-13 is 50x their rounding
        assert torch.allclose(SQv, S @ Qv, atol=1e-13) and torch.allclose(
            StQu, S.T @ Qu, atol=1e-13
        )
        assert torch.allclose(prob.formed(st), S, atol=1e-13)
        L = mmcl.clip_family(0.7).loss_from_similarities(s) + 0.5 * (w**2).sum()
        assert torch.allclose(st["loss"], L, rtol=1e-13)


@pytest.mark.parametrize("tile_cols", [2048, 13])
def test_large_logits_take_the_two_exponential_path(monkeypatch, tile_cols):
    # logits spread by hundreds: Q = P exp(r - c) would lose entries in float32, so the
    # state falls back to exp(l - c) and still matches the dense weights
    monkeypatch.setattr(mf, "_TILE_COLS", tile_cols)
    d = mmcl.make_multimodal(
        200, 6, 6, 2, eta=1.0, noise=0.1, seed=2, dtype=torch.float32
    )
    U, w, V = d.U1, torch.tensor([60.0, 40.0]), d.U2
    prob = mf.ClipProblem(d.X, d.Y, 1.0, 1.0, 50)
    st = prob.state(U, w, V)
    assert not st["safe"]
    s = ((d.X @ U) * w @ (d.Y @ V).T).double()
    S = mmcl.cross_covariance(
        d.X.double(), d.Y.double(), mmcl.clip_family(1.0).weights(s)
    )
    # float32 softmaxes of logits near 1e3: relative rounding ~ 1e3 * eps32 = 1e-4
    assert rel(prob.formed(st).double(), S) < 1e-3


@pytest.mark.parametrize("block", [None, 24])
def test_replicates_in_tiles_match_each_replicate_alone(monkeypatch, block):
    """A batch of three replicates (..., n, d) in tiles of 13 columns and 16 rows
    (neither divides n = 100): the products and S(beta) of each replicate are those
    of that replicate alone, dense, to float64 rounding."""
    monkeypatch.setattr(mf, "_TILE_COLS", 13)
    monkeypatch.setattr(mf, "_TILE_BYTES", 1000)  # 16 rows (_MIN_ROWS)
    data = [
        mmcl.make_multimodal(100, 6, 5, 2, seed=s, dtype=torch.float64)
        for s in (0, 1, 2)
    ]
    X, Y = torch.stack([d.X for d in data]), torch.stack([d.Y for d in data])
    g = torch.Generator().manual_seed(0)
    U = torch.linalg.qr(torch.randn(generator=g, size=(3, 6, 2), dtype=torch.float64)).Q
    V = torch.linalg.qr(torch.randn(generator=g, size=(3, 5, 2), dtype=torch.float64)).Q
    w = torch.tensor([[1.2, 0.5], [2.0, 1.0], [0.7, 0.6]], dtype=torch.float64)
    Qu = torch.linalg.qr(
        torch.randn(generator=g, size=(3, 6, 3), dtype=torch.float64)
    ).Q
    Qv = torch.linalg.qr(
        torch.randn(generator=g, size=(3, 5, 3), dtype=torch.float64)
    ).Q
    prob = mf.ClipProblem(X, Y, 0.8, 1.0, block)
    st = prob.state(U, w, V)
    SQv, StQu = prob.products(st, Qu, Qv)
    S = prob.formed(st)
    for i in range(3):
        one = mf.ClipProblem(X[i], Y[i], 0.8, 1.0, None)
        st1 = one.state(U[i], w[i], V[i])
        a, b = one.products(st1, Qu[i], Qv[i])
        # sums of n = 100 float64 products of O(1) terms: 1e-13 is 50x their rounding
        assert torch.allclose(SQv[i], a, atol=1e-13)
        assert torch.allclose(StQu[i], b, atol=1e-13)
        assert torch.allclose(S[i], one.formed(st1), atol=1e-13)


def test_fast_truncated_svd_matches_the_full_svd():
    g = torch.Generator().manual_seed(0)
    d1, d2, r = 300, 200, 6
    A = torch.randn(d1, r, generator=g, dtype=torch.float64) * torch.linspace(
        10, 3, r, dtype=torch.float64
    )
    B = torch.randn(r, d2, generator=g, dtype=torch.float64)
    S = A @ B + torch.randn(d1, d2, generator=g, dtype=torch.float64)
    assert ss.fast_truncated_svd(S, r) is not None  # the subspace path is taken
    U, s, V = mmcl.truncated_svd(S, r)
    Uf, sf, Vhf = torch.linalg.svd(S)
    # residual floor 8 eps sqrt(300) ~ 3e-14, relative gap sigma_6 / sigma_7 - 1 > 0.3
    assert torch.allclose(s, sf[:r], rtol=1e-12)
    assert rel(U * s @ V.T, Uf[:, :r] * sf[:r] @ Vhf[:r]) < 1e-12


@pytest.mark.parametrize("shift", [0.0, 1e6])
def test_centred_cross_covariance_without_copies(shift):
    d = mmcl.make_multimodal(500, 8, 6, 2, seed=3, dtype=torch.float64)
    X, Y = d.X + shift, d.Y - shift
    S, bad = centred_cross_covariance_fast(X, Y, chunk_entries=100)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    ref = Xc.T @ Yc / 499
    assert bad is None
    # shift 0: X^T Y - n xbar ybar^T; shift 1e6: the means would cost 12 digits, so the
    # centred
    # chunks are used and the result is as accurate as the copying formula (rounding of
    # O(1e-16))
    assert rel(S, ref) < 1e-13


def test_linear_closed_form_names_non_finite_inputs():
    d = mmcl.make_multimodal(50, 5, 4, 2, seed=0, dtype=torch.float64)
    X = d.X.clone()
    X[3, 1] = float("nan")
    with pytest.raises(ValueError, match="X contains NaN"):
        mmcl.linear_closed_form(X, d.Y, 2)
    Y = d.Y.clone()
    Y[0, 0] = float("inf")
    with pytest.raises(ValueError, match="Y contains NaN or inf"):
        mmcl.linear_closed_form(d.X, Y, 2)


def test_centred_cross_covariance_names_entries_too_large_to_square():
    # finite float32 entries near 1e25 overflow ||X||^2: the public S_n and the linear
    # closed form raise the same error naming X (the public one returned None before)
    d = mmcl.make_multimodal(50, 4, 3, 2, seed=0, dtype=torch.float32)
    X = d.X * 1e25
    for call in (
        lambda: mmcl.centered_cross_covariance(X, d.Y),
        lambda: mmcl.linear_closed_form(X, d.Y, 2),
    ):
        with pytest.raises(ValueError, match="X has entries too large to square"):
            call()


def test_other_families_keep_the_formed_cross_covariance(monkeypatch):
    # the matrix-free path is CLIP's alone: linear, SigLIP (dense and blocked) and
    # custom families form S(beta) once per step, as before
    calls = []
    real = mf.ClipProblem.__init__
    monkeypatch.setattr(
        mf.ClipProblem, "__init__", lambda self, *a: calls.append(a) or real(self, *a)
    )
    d = mmcl.make_multimodal(120, 6, 5, 2, seed=0, dtype=torch.float64)
    custom = mmcl.ContrastiveFamily(lambda u: u, lambda u: u)
    for loss, block in [("linear", None), ("linear", 40), ("siglip", None)]:
        fit = mmcl.svd_iteration(d.X, d.Y, 2, loss, max_iter=3, block_size=block)
        assert fit.history["products"] == [1] * fit.n_iter
    fit = mmcl.svd_iteration(d.X, d.Y, 2, "siglip", max_iter=3, block_size=40)
    fit = mmcl.svd_iteration(d.X, d.Y, 2, custom, max_iter=3)
    assert not calls
    # linear: S(beta) = S_n, so one step lands on the closed form (float64 rounding)
    lin = mmcl.svd_iteration(d.X, d.Y, 2, "linear", block_size=40)
    ref = mmcl.linear_closed_form(d.X, d.Y, 2)
    assert rel(lin.G1.T @ lin.G2, ref.G1.T @ ref.G2) < 1e-12


@pytest.mark.parametrize("mode", ["formed", "products"])
def test_overflowing_logits_are_a_clear_error_on_both_paths(mode):
    """tau = 1e-307 overflows the logits (|l| ~ 1e307 |x^T M y|): both ways of applying
    S(beta) say so, naming tau (the products path once crashed in torch.linalg.svd)."""
    d = mmcl.make_multimodal(40, 6, 5, 2, seed=0, dtype=torch.float64)
    with mf.forced_path(mode), pytest.raises(mmcl.NonFiniteError, match="raise tau"):
        mmcl.svd_iteration(d.X, d.Y, 2, "clip", tau=1e-307, max_iter=3)
    assert mf._FORCE is None  # restored on the way out


@pytest.mark.parametrize("block", [None, 16])
def test_hard_max_logits_keep_exact_normalisers(block):
    """tau = 1e-30: the logits spread by about 1e30, far past the safe gap, so the
    column normalisers come from a second streaming pass; they, the row normalisers
    and S(beta) match float64 logsumexp and the dense weights, and the iteration stays
    finite on both paths (the softmax is a hard maximum there, not an overflow)."""
    d = mmcl.make_multimodal(40, 6, 5, 2, seed=0, dtype=torch.float64)
    U, w, V = mmcl.truncated_svd(d.X.T @ d.Y / 40, 2)
    prob = mf.ClipProblem(d.X, d.Y, 1e-30, 1.0, block)
    st = prob.state(U, w, V)
    assert not st["safe"]
    s = (d.X @ U) * w @ (d.Y @ V).T
    # logsumexp of O(1e30) logits is their maximum plus log(#ties) <= log 40: the
    # relative rounding of a float64 sum of 40 terms, well below 1e-14
    assert torch.allclose(st["c"], torch.logsumexp(s / 1e-30, 0), rtol=1e-14)
    assert torch.allclose(st["r"], torch.logsumexp(s / 1e-30, 1), rtol=1e-14)
    S = mmcl.cross_covariance(d.X, d.Y, mmcl.clip_family(1e-30).weights(s))
    # one-hot weights: S(beta) is a sum of O(1) products, rounding ~ 40 eps
    assert rel(prob.formed(st), S) < 1e-12
    for mode in ("formed", "products"):
        with mf.forced_path(mode):
            fit = mmcl.svd_iteration(d.X, d.Y, 2, "clip", tau=1e-30, max_iter=3)
        loss = torch.stack(fit.history["loss"])
        assert bool(torch.isfinite(loss).all()) and bool((loss.diff() <= 0).all())


@pytest.mark.parametrize("mode, fewest, most", [("formed", 0, 0), ("products", 1, 2)])
def test_dense_states_reuse_their_buffers(monkeypatch, mode, fewest, most):
    """The dense iteration keeps at most two n x n buffers for the products (the
    current state and the candidate), handed back and refilled rather than allocated
    at every pass; none when S(beta) is formed (its tiles are rebuilt)."""
    monkeypatch.setattr(mf, "_FORCE", mode)
    d = mmcl.make_multimodal(120, 6, 5, 2, seed=3, dtype=torch.float64)
    made = []
    real = torch.empty

    def spy(*shape, **kw):
        out = real(*shape, **kw)
        if tuple(out.shape[-2:]) == (120, 120):
            made.append(out)
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mf.torch, "empty", spy)
        fit = mmcl.svd_iteration(d.X, d.Y, 2, "clip", tol=1e-10, max_iter=40)
    assert fit.n_iter > 5 and fewest <= len(made) <= most


@pytest.mark.parametrize("mode", ["formed", "products"])
def test_screened_dampings_take_the_same_steps(monkeypatch, mode):
    """The subsample screen (ClipProblem.pilot) skips the exact pass of dampings that
    overshoot (here a = 1 and 1/2 from the linear start) and changes no iterate."""
    monkeypatch.setattr(mf, "_FORCE", mode)
    d = mmcl.make_multimodal(
        2048, 20, 20, 3, eta=0.6, noise=1.0, seed=0, dtype=torch.float64
    )
    real = mf.ClipProblem.state

    def run(pilot_rows):
        monkeypatch.setattr(mf, "_PILOT_ROWS", pilot_rows)
        passes = []

        def spy(self, *args):
            passes.append(self.n == 2048)
            return real(self, *args)

        monkeypatch.setattr(mf.ClipProblem, "state", spy)
        fit = mmcl.svd_iteration(
            d.X, d.Y, 3, "clip", max_iter=6, tol=1e-300, record_iterates=True
        )
        return fit, sum(passes), len(passes) - sum(passes)

    screened, exact_passes, pilot_passes = run(512)
    plain, plain_passes, none = run(2048)  # n < 4 * 512 rows: no screen
    assert none == 0 and pilot_passes >= 6 and exact_passes == plain_passes - 2
    for (G1, G2), (H1, H2) in zip(screened.iterates, plain.iterates):
        assert rel(G1.T @ G2, H1.T @ H2) < 1e-12
