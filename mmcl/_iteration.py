"""The machinery the single-process and the sharded solvers share (private): the
linear closed form of a formed S_n, the problem object of the families whose S(beta) is
formed, the block-size rule and the SVD-iteration loop itself. ``mmcl.solvers`` and
``mmcl.distributed`` wrap what it returns in a ``SolverResult``; CLIP's problem object
is ``mmcl._matfree.ClipProblem``.
"""

from __future__ import annotations

import time

import torch

from . import _matfree as _mf
from . import _subspace as _ss
from ._validation import (
    check_finite_output,
    check_int,
    check_spectrum,
    tiny,
)
from .covariance import cross_covariance
from .blocked import (
    BLOCKED_FAMILIES,
    DENSE_LIMIT,
    auto_block_size,
    blocked_cross_covariance,
    blocked_loss,
)
from .families import linear_loss_of_embeddings
from .lowrank import factorize, low_rank, svd_flip, truncated_svd


def closed_form(S_n, r: int, rho: float) -> dict:
    """The linear closed form from a formed S_n: the fields of a SolverResult."""
    U, sig, V = truncated_svd(S_n, r)
    check_spectrum(sig, r, "the centred cross-covariance S_n of X and Y", "X and Y")
    G1, G2 = factorize(U, sig, V, rho)
    return {"G1": G1, "G2": G2, "U": U, "V": V, "singular_values": sig}


def loss_of_M(X, Y, U, w, V, family, rho, block):
    """L(M) for M = U diag(w) V^T: similarities (X U) diag(w) (Y V)^T plus
    (rho/2)||w||^2.

    Returns the loss and what S(beta) needs: the similarities (dense, ``block`` None) or
    the embeddings and CLIP log-normalisers (blocked)."""
    zx, zy = (X @ U) * w.unsqueeze(-2), Y @ V
    reg = 0.5 * rho * (w**2).sum(-1)
    if block is None:
        s = zx @ zy.transpose(-1, -2)
        return family.loss_from_similarities(s) + reg, s
    L, norms = blocked_loss(zx, zy, family, block_size=block, return_normalizers=True)
    return L + reg, (zx, zy, norms)


def cov_of_state(X, Y, state, family, block):
    """S(beta) at the similarities described by ``state`` (see ``loss_of_M``)."""
    if block is None:
        return cross_covariance(X, Y, family.weights(state))
    zx, zy, norms = state
    return blocked_cross_covariance(
        X, Y, zx, zy, family, block_size=block, normalizers=norms
    )


class FormedProblem:
    """Every family but CLIP (which has ``mmcl._matfree.ClipProblem``): S(beta)
    formed, dense or in blocks (``loss_of_M``, ``cov_of_state``); the linear
    family's S is the fixed S_n and its loss needs only row and column sums."""

    def __init__(self, X, Y, family, rho, block, fixed_S=None):
        self.X, self.Y, self.family, self.rho = X, Y, family, rho
        self.block, self.fixed_S = block, fixed_S

    def choose(self, r: int) -> tuple[int, bool]:
        return r, True

    def release(self, st) -> None:
        """Nothing to hand back (see ``mmcl._matfree.ClipProblem.release``)."""

    def pilot(self):
        """No screen of trial dampings (see ``mmcl._matfree.ClipProblem.pilot``)."""
        return None

    def _gather(self, Z):
        """Z for every row from the local rows' Z (sharded in mmcl.distributed)."""
        return Z

    def state(self, U, w, V) -> dict:
        if self.fixed_S is not None:
            zx = self._gather((self.X @ U) * w.unsqueeze(-2))
            zy = self._gather(self.Y @ V)
            reg = 0.5 * self.rho * (w**2).sum(-1)
            return {"loss": linear_loss_of_embeddings(zx, zy) + reg}
        L, s = loss_of_M(self.X, self.Y, U, w, V, self.family, self.rho, self.block)
        return {"loss": L, "s": s}

    def formed(self, st) -> torch.Tensor:
        if self.fixed_S is not None:
            return self.fixed_S
        return cov_of_state(self.X, self.Y, st["s"], self.family, self.block)


def resolve_block(block_size, family, n: int, batch: int):
    """None: dense while batch * n^2 <= DENSE_LIMIT (or for custom families), else
    blocked."""
    preset = isinstance(family, BLOCKED_FAMILIES)
    if block_size is not None:
        if not preset:
            raise TypeError(
                "block_size needs the 'clip', 'linear' or 'siglip' preset, "
                f"got {family!r}"
            )
        return check_int(block_size, "block_size", low=1)
    return auto_block_size(n, batch) if preset and batch * n * n > DENSE_LIMIT else None


def iterate(prob, centred, init, r, rho, a0, tol, max_iter, record_iterates, floor):
    """The SVD-iteration on a problem object (``choose``, ``state``, ``products``,
    ``formed``), from the top of S_n = ``centred()`` (``init`` None) or from
    ``init`` = (G1, G2); shared by ``mmcl.solvers.svd_iteration`` and
    ``mmcl.distributed.svd_iteration``, whose problem's products are sharded. Returns
    the fields of a SolverResult."""
    k, formed = prob.choose(r)
    if init is None:  # the linear closed form, its top k as the subspace start
        U, sig, V = truncated_svd(centred(), k)
        check_spectrum(
            sig[..., :r], r, "the centred cross-covariance S_n of X and Y", "X and Y"
        )
        Qu, Qv, U, w, V = U, V, U[..., :r], sig[..., :r] / rho, V[..., :r]
    else:
        U, w, V = truncated_svd(init[0].transpose(-1, -2) @ init[1], r)
        Qu, Qv = _ss.start_bases(U, V, k)
    a = torch.full(U.shape[:-2], a0, dtype=U.dtype, device=U.device)
    t0 = time.perf_counter()  # history times include the first loss evaluation
    st = prob.state(U, w, V)
    if not bool(torch.isfinite(st["loss"]).all()):  # overflow before the first step
        check_finite_output(
            st["loss"],
            "svd_iteration's starting loss",
            "raise tau or rho, or scale the data down",
        )
    M = low_rank(U, w, V)
    hist = {"loss": [], "change": [], "time": [], "products": []}
    # a rise below the loss's rounding is no rise: 1e-12 relative in float64, a few
    # eps where that is coarser (float32 sums of n terms move by about eps |L|)
    slack = max(1e-12, 16 * torch.finfo(U.dtype).eps)
    iterates, converged, change = [], False, 1.0
    pilot = prob.pilot()
    for it in range(1, max_iter + 1):
        tol_in, passes = max(floor, _ss._INNER_RTOL * change), 1
        base = None if pilot is None else _screen_loss(pilot, U, w, V)
        if formed:
            S = prob.formed(st)  # from tiles: a formed path's states keep no P
            if not bool(torch.isfinite(S).all()):  # the weights overflowed
                check_finite_output(
                    S,
                    "svd_iteration's S(beta)",
                    "raise tau or rho, or scale the data down",
                )
        else:  # S Qv, S^T Qu: shared by every damping tried
            first = prob.products(st, Qu, Qv)
            bad = next((t for t in first if not bool(torch.isfinite(t).all())), None)
            if bad is not None:  # the weights overflowed
                check_finite_output(
                    bad,
                    "svd_iteration's S(beta)",
                    "raise tau or rho, or scale the data down",
                )
        for trial in range(30):  # backtracking on the damping, per replicate
            c1, c2 = ((1 - a) * rho)[..., None, None], a[..., None, None]
            if formed:
                U1, sig1, V1 = truncated_svd(c1 * M + c2 * S, r)
            else:
                U1, sig1, V1, Qu1, Qv1, steps = _step_svd(
                    prob, st, U, w, V, c1, c2, Qu, Qv, first, r, tol_in
                )
                passes += steps - 1
            w1 = sig1 / rho
            if base is not None and trial < 10:  # screened: halve without a pass
                L1 = _screen_loss(pilot, U1, w1, V1)
                rise = L1 > base + _mf._PILOT_RISE * base.abs()
                if bool(rise.any()):
                    a = torch.where(rise, a / 2, a)
                    continue
            st1 = prob.state(U1, w1, V1)
            L, L1 = st["loss"], st1["loss"]
            worse = L1 > L + slack * L.abs().clamp_min(1.0)
            if not bool(worse.any()):
                break
            prob.release(st1)
            a = torch.where(worse, a / 2, a)
        M1 = low_rank(U1, w1, V1)
        change = float(
            (
                torch.linalg.matrix_norm(M1 - M)
                / torch.linalg.matrix_norm(M).clamp_min(tiny(M))
            ).max()
        )
        prob.release(st)
        U, w, V, st, M = U1, w1, V1, st1, M1
        if not formed:
            Qu, Qv = Qu1, Qv1
        hist["loss"].append(st["loss"].detach().clone())
        hist["change"].append(change)
        hist["time"].append(time.perf_counter() - t0)
        hist["products"].append(passes)
        if record_iterates:
            iterates.append(factorize(U, w * rho, V, rho))
        if change < tol:
            converged = True
            break
    if not bool(torch.isfinite(st["loss"]).all()):
        check_finite_output(
            st["loss"],
            "svd_iteration's loss",
            "raise tau or rho, or scale the data down",
        )
    G1, G2 = factorize(U, w * rho, V, rho)
    if formed:
        sig = truncated_svd(prob.formed(st), r)[1]
    else:
        sig = _ss.subspace_svd(
            lambda Qu, Qv: prob.products(st, Qu, Qv),
            Qu,
            Qv,
            r,
            max(floor, _ss._INNER_RTOL * change),
        )[1]
    return {
        "G1": G1,
        "G2": G2,
        "U": U,
        "V": V,
        "singular_values": sig,
        "n_iter": it,
        "converged": converged,
        "history": hist,
        "iterates": iterates,
    }


def _screen_loss(pilot, U, w, V):
    """The loss at M = U diag(w) V^T on the pilot's rows (``ClipProblem.pilot``)."""
    return pilot.state(U, w, V)["loss"]  # the pilot keeps no P: nothing to release


def _step_svd(prob, st, U, w, V, c1, c2, Qu, Qv, first, r, tol):
    """Top r of T = c1 M + c2 S(beta) (M = U diag(w) V^T) by subspace iteration from
    (Qu, Qv); ``first`` = (S Qv, S^T Qu)."""
    Uw, Vw = U * w.unsqueeze(-2), V * w.unsqueeze(-2)

    def combine(Qu_, Qv_, SQv, StQu):  # (T Qv, T^T Qu)
        return (
            c1 * Uw @ (V.transpose(-1, -2) @ Qv_) + c2 * SQv,
            c1 * Vw @ (U.transpose(-1, -2) @ Qu_) + c2 * StQu,
        )

    out = _ss.subspace_svd(
        lambda Qu_, Qv_: combine(Qu_, Qv_, *prob.products(st, Qu_, Qv_)),
        Qu,
        Qv,
        r,
        tol,
        first=combine(Qu, Qv, *first),
    )
    U1, V1 = svd_flip(out[0], out[2])
    return U1, out[1], V1, out[3], out[4], out[5]
