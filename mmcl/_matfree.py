"""The CLIP problem behind ``svd_iteration`` (chapter 7): its loss, log-normalisers and
S(beta), formed or applied to vectors (the subspace iteration that uses the products
is :mod:`mmcl._subspace`).

With the embeddings zx = X U diag(w) / tau, zy = Y V the logits are l = zx zy^T, the row
and column log-normalisers r, c, and A = (P + Q) / 2 with P_ij = exp(l_ij - r_i), Q_ij =
exp(l_ij - c_j) = P_ij exp(r_i - c_j). Then S(beta) = X^T (I - A) Y / n, so S Qv = X^T
(Y Qv - A (Y Qv)) / n and S^T Qu = Y^T (X Qu - A^T (X Qu)) / n: one pass over A gives
both, at n^2 (r + 2k) multiply-adds at the least (logits and the two products), against
n^2 min(d1, d2) to form S. One exponential per entry, taken in base 2 (``_LOG2E``): P
from the row shift, and Q as P exp(r - c) (safe while max r - min c <= ``_safe_gap``;
otherwise a second exponential, exactly as in :mod:`mmcl.blocked`).

Products, dense (``block`` None): P is kept as one n x n matrix between products, and A
v = P v / 2 + diag(e^{r}/2) P diag(e^{-c}) v folds Q's factor into twice the product
columns (n^2 4k per product pair). Otherwise A itself, A = P (1/2 + e^{r_i - c_j}/2), is
rebuilt at every pass in tiles of ``_TILE_BYTES`` that stay in cache while they are
multiplied (memory O(tile)), one exponential and one scaling per entry, then n^2 2k per
product pair (blocked) or n^2 min(d1, d2) to form S (dense or blocked: forming needs no
n x n buffer, so a dense problem whose S is formed keeps no P). Measured on one CPU
thread the thin products run at a fraction of the rate of the one large product that
forms S, so the flop rule of :meth:`ClipProblem.choose` weights their multiply-adds by
``_THIN_RATE`` (benchmarks/results/README.md).
"""

from __future__ import annotations

import contextlib
import math

import torch

from ._subspace import _OVERSAMPLE

#: product pairs per SVD-iteration step, for the formed-versus-products flop rule (about
#: 3 measured with the default _INNER_RTOL: a warm pass for the step, one or two to
#: refine)
_EXPECTED_STEPS = 3
#: cost of a thin product's multiply-add relative to one of the large product that forms
#: S: measured 2 to 6 on one CPU thread (benchmarks/results/cpu_path_calibration.jsonl:
#: formed faster dense at d <= 400 and blocked at d <= 200, the two paths equally fast
#: blocked at d = 800, r = 10)
_THIN_RATE = 4
#: cost of a rebuilt tile's exponential and scaling per entry, in multiply-adds of the
#: large product (tiles), on one CPU thread at n = 8192: 2.4 ns against 0.045 ns with
#: torch.exp (50); 1.3 to 1.6 ns against 0.034 to 0.037 ns with exp2 (35 to 49, two
#: runs). The rule picks the faster path at every width of
#: benchmarks/results/cpu_path_calibration.jsonl with 35 or 50 alike, so it stays 50
_REBUILD = 50
#: bytes of logits per pass of ``ClipProblem.state`` (about an L2 cache), and the
#: fewest rows per pass
_CACHE_BYTES = 2**20
_MIN_ROWS = 16
#: forming S, and the blocked products, rebuild A in tiles of about _TILE_BYTES,
#: _TILE_COLS columns wide (at most ``block`` x n entries), so that a tile and the
#: columns' rows of Y, X Qu or Y Qv stay in cache while they are multiplied; whole rows
#: of A would not once n is large (400 kB a row at n = 1e5, float32)
_TILE_BYTES = 2**21
_TILE_COLS = 2048
#: the screen of a trial damping (``ClipProblem.pilot``): every (n // _PILOT_ROWS)-th
#: row, used once n >= 4 _PILOT_ROWS; a trial whose loss there rises by more than
#: _PILOT_RISE of its magnitude is halved without the exact pass
_PILOT_ROWS = 512
_PILOT_RISE = 0.05
#: force "formed" or "products" for CLIP (tests); None chooses by the flop count
_FORCE = None
#: the passes exponentiate base-2 logits, l log2(e) (the factor folded into zx): on
#: one CPU thread torch.exp2 costs about 0.6 to 0.8 ns an entry of float32 against 1.1
#: to 1.3 for torch.exp (cache-resident tiles; benchmarks/results/README.md), and
#: exp2(x log2 e) = exp(x) to the rounding of x
_LOG2E = 1 / math.log(2)
_LN2 = math.log(2)


@contextlib.contextmanager
def forced_path(mode):
    """Within the block, S(beta) is "formed", applied by "products", or chosen by the
    flop count (None); the previous choice is restored on exit, even on error."""
    global _FORCE
    if mode not in (None, "formed", "products"):
        raise ValueError(f"mode must be None, 'formed' or 'products', got {mode!r}")
    previous, _FORCE = _FORCE, mode
    try:
        yield
    finally:
        _FORCE = previous


# ----------------------------------------------------------------- the problems
# svd_iteration solves
def _blocks(n: int, block: int):
    for start in range(0, n, block):
        yield slice(start, min(start + block, n))


def _rows_within(nbytes: int, like, n_cols: int) -> int:
    """Rows of an (n_rows, n_cols) slab of ``like``'s dtype, over its batch dimensions
    (everything before the last two), that fit in about ``nbytes``; at least
    ``_MIN_ROWS`` (bounds the Python overhead when rows are long)."""
    row = n_cols * like[..., 0, 0].numel() * (torch.finfo(like.dtype).bits // 8)
    return max(_MIN_ROWS, nbytes // max(1, row))


def _safe_gap(n: int, dtype) -> float:
    """Largest max_i r_i - min_j c_j for which Q = P exp(r - c) loses nothing: an entry
    of P below the smallest float (e^{-log(1/tiny)}) then carries Q_ij < tiny e^{gap},
    and n of them stay below eps: gap <= log(1/tiny) + log(eps) - log(n)."""
    fi = torch.finfo(dtype)
    return -math.log(fi.tiny) + math.log(fi.eps) - math.log(n)


class ClipProblem:
    """CLIP at M = U diag(w) V^T: loss, log-normalisers and the products with S(beta),
    sharing the logits. ``block`` None keeps A (n x n); else rows are processed
    ``block`` at a time."""

    #: whether S(beta) may be formed (a sharded problem cannot: that needs all rows)
    can_form = True

    def __init__(self, X, Y, tau: float, rho: float, block):
        self.X, self.Y, self.tau, self.rho, self.block = X, Y, tau, rho, block
        self.n = X.shape[-2]
        self.gap = _safe_gap(self.n, X.dtype)
        # dense P kept between passes for the products (``choose`` clears it when S is
        # formed, ``pilot`` for a problem that only scores losses: tiles need no P)
        self.keep_P = block is None
        self._pool = []  # n x n buffers of discarded states (dense), see ``release``

    def choose(self, r: int) -> tuple[int, bool]:
        """(k, formed): form S(beta) when that is cheaper by the flop count per
        SVD-iteration step.

        Per entry of the n x n logits, in multiply-adds: a product pair (S Qv, S^T Qu)
        costs 4k dense (A Y Qv and A^T X Qu with Q's factor folded in, 2k columns each)
        and 2k blocked (tiles of A itself), weighted by ``_THIN_RATE``: the thin
        products run at a fraction of the rate of the one large product
        (benchmarks/calibrate_path.py). Forming S costs min(d1, d2) (one product of A
        with that many columns). Each pass over tiles also rebuilds them (forming S, and
        blocked products): the logits (r + 1) and ``_REBUILD`` for the exponential and
        the scaling. With ``_EXPECTED_STEPS`` product pairs per SVD-iteration step
        (measured: about three), S is formed when that costs no more; then its top r
        come from a full SVD, as for the other families. Sets ``keep_P``: a dense P is
        kept only for the products."""
        d = min(self.X.shape[-1], self.Y.shape[-1])
        k = min(r + _OVERSAMPLE, d)
        dense = self.block is None
        rebuild = r + 1 + _REBUILD
        thin = _THIN_RATE * (4 if dense else 2) * k
        formed = d + rebuild <= _EXPECTED_STEPS * (thin + (0 if dense else rebuild))
        if _FORCE is not None:
            formed = _FORCE == "formed"
        formed = formed and self.can_form
        self.keep_P = dense and not formed
        return k, formed

    def pilot(self):
        """This problem on every (n // _PILOT_ROWS)-th row (dense), or None below
        n = 4 _PILOT_ROWS: its loss screens trial dampings for (_PILOT_ROWS / n)^2 of
        a pass (``mmcl._iteration.iterate``)."""
        step = self.n // _PILOT_ROWS
        if step < 4:
            return None

        def rows(Z):
            return Z[..., ::step, :][..., :_PILOT_ROWS, :].contiguous()

        sub = ClipProblem(rows(self.X), rows(self.Y), self.tau, self.rho, None)
        sub.keep_P = False  # it only scores losses
        return sub

    # --- the hooks a sharded problem (mmcl.distributed) replaces by collectives: here
    # every row is local, so gathering rows and reducing over ranks do nothing
    rows0 = 0  # the first global row held here

    def _gather(self, Z):
        """Z for every row (..., n, k) from the local rows' Z."""
        return Z

    def _sum(self, t):
        """The sum of t over ranks."""
        return t

    def _max(self, t):
        """The maximum of t over ranks."""
        return t

    # --- one pass: log-normalisers (and A when dense)
    def release(self, st) -> None:
        """Hand a discarded state's n x n buffer back for the next ``state`` (dense);
        re-filling a resident buffer avoids faulting in fresh pages every pass."""
        P = st.pop("P", None)
        if P is not None:
            self._pool.append(P)

    def state(self, U, w, V) -> dict:
        X, Y, n = self.X, self.Y, self.n
        zx = (X @ U) * (w / self.tau).unsqueeze(-2)  # (..., n_q, r), l = zx zy^T
        zx2 = zx * _LOG2E  # base-2 logits l log2(e): every pass exponentiates with exp2
        zy_q = Y @ V  # (..., n_q, r), the local rows
        zy = self._gather(zy_q)  # (..., n, r)
        # the log-normalisers in base 2 (r2 = r log2(e)), as the tiles subtract them
        r2 = torch.empty(zx.shape[:-1], dtype=X.dtype, device=X.device)
        t = torch.zeros(zy.shape[:-1], dtype=X.dtype, device=X.device)
        shift = torch.full(zx.shape[:-2], float("-inf"), dtype=X.dtype, device=X.device)
        keep = None
        if self.keep_P:  # P = exp(l - r), kept (..., n_q, n) for the products
            shape = (*zx.shape[:-1], zy.shape[-2])  # the same for every state
            keep = (
                self._pool.pop()
                if self._pool
                else torch.empty(shape, dtype=X.dtype, device=X.device)
            )
        # passes of about _CACHE_BYTES of logits: exp, sums and division stay in cache
        per_pass = min(_rows_within(_CACHE_BYTES, zx, zy.shape[-2]), self.block or n)
        for rows in _blocks(zx.shape[-2], per_pass):
            lg = zx2[..., rows, :] @ zy.mT  # (..., b, n)
            m = lg.amax(-1)  # row maxima (..., b)
            lg.sub_(m.unsqueeze(-1)).exp2_()
            s = lg.sum(-1)
            r2[..., rows] = m + s.log2()
            new = torch.maximum(shift, m.amax(-1))
            scale = torch.exp2(m - new.unsqueeze(-1)).unsqueeze(-1)  # (..., b, 1)
            t = t * torch.exp2(shift - new).unsqueeze(-1) + (lg.mT @ scale).squeeze(-1)
            shift = new
            if keep is not None:
                torch.div(lg, s.unsqueeze(-1), out=keep[..., rows, :])  # P, row softmax
        # column sums t_j 2^{shift} merged over ranks: max of the shifts, then the sum
        new = self._max(shift)
        c2 = (
            new.unsqueeze(-1)
            + self._sum(t * torch.exp2(shift - new).unsqueeze(-1)).log2()
        )
        r, c = r2 * _LN2, c2 * _LN2
        rmax = self._max(r.amax(-1))
        safe = bool((rmax - c.amin(-1) <= self.gap).all())  # one sync per state
        if not safe:  # exact column normalisers by a second streaming pass, merged
            c2 = self._column_lse(zx2, zy, per_pass)  # over the local rows
            m = self._max(c2)
            c2 = m + self._sum(torch.exp2(c2 - m)).log2()
            c = c2 * _LN2
        mid = 0.5 * (rmax + c.amin(-1)).unsqueeze(-1)
        st = {
            "zx2": zx2,
            "zy": zy,
            "r": r,
            "c": c,
            "r2": r2,
            "c2": c2,
            "safe": safe,
            "er": 0.5 * torch.exp(r - mid),
            "ec": torch.exp(mid - c),
        }
        mine = c[..., self.rows0 : self.rows0 + zx.shape[-2]]  # the local rows' c_i
        local = (r + mine - 2 * (zx * zy_q).sum(-1)).sum(
            -1
        )  # sum of r_i + c_i - 2 l_ii
        st["loss"] = self.tau * self._sum(local) / (2 * n) + 0.5 * self.rho * (
            w**2
        ).sum(-1)
        if keep is not None:
            st["P"] = keep
            st["Q"] = None  # unsafe: exp(l - c) formed when first needed (_dense_PQ)
        return st

    @staticmethod
    def _column_lse(zx2, zy, per_pass):
        """log2 sum_i 2^{l2_ij} over the rows of the base-2 logits l2 = zx2 zy^T, per
        column j, streamed ``per_pass`` rows at a time with a running per-column
        maximum (a second exponential per entry: needed only when the row shifts cannot
        serve the columns)."""
        cm = torch.full(
            zy.shape[:-1], float("-inf"), dtype=zx2.dtype, device=zx2.device
        )
        cs = torch.zeros_like(cm)
        for rows in _blocks(zx2.shape[-2], per_pass):
            lg = zx2[..., rows, :] @ zy.mT  # (..., b, n)
            new = torch.maximum(cm, lg.amax(-2))
            cs = cs * torch.exp2(cm - new) + lg.sub_(new.unsqueeze(-2)).exp2_().sum(-2)
            cm = new
        return cm + cs.log2()

    def _dense_PQ(self, st):
        """(P, Q or None) of a dense state: the kept P = exp(l - r); Q = exp(l - c)
        formed when first needed, only where it cannot be had as P exp(r - c)."""
        if not st["safe"] and st["Q"] is None:
            st["Q"] = torch.exp2(st["zx2"] @ st["zy"].mT - st["c2"].unsqueeze(-2))
        return st["P"], st["Q"]

    def _tiles_of_A(self, st):
        """Yield (rows, cols, A[rows, cols]) over the local rows and all columns:
        tiles of about ``_TILE_BYTES``, ``_TILE_COLS`` columns wide and at most
        ``block`` x n entries, rebuilt as A = P (1/2 + er_i ec_j) with P = exp(l - r)
        (one exponential; ``_AV`` folds the same factor into twice the columns
        instead), or (P + exp(l - c)) / 2 when that is unsafe. Each tile is overwritten
        by the next, so consume it before asking for another."""
        zx2, zy, er, ec = st["zx2"], st["zy"], st["er"], st["ec"]
        # base 2, as in ``state``: l2 - r2 = (l - r) log2(e) in one product
        zxr = torch.cat([zx2, -st["r2"].unsqueeze(-1)], -1)
        zy1 = torch.cat([zy, torch.ones_like(zy[..., :1])], -1)
        if not st["safe"]:  # l2 - c2 in one product
            zx1 = torch.cat([zx2, torch.ones_like(zx2[..., :1])], -1)
            zyc = torch.cat([zy, -st["c2"].unsqueeze(-1)], -1)
        ncol = zy.shape[-2]
        c = min(ncol, _TILE_COLS)
        # rows: as many as fit in _TILE_BYTES, within the block x n entries that
        # ``block`` allows
        cap = max(1, (self.block or self.n) * ncol // c)
        b = min(cap, _rows_within(_TILE_BYTES, zxr, c))
        batch = zxr.shape[:-2]
        flat = zxr.new_empty(math.prod(batch) * b * c)  # contiguous tiles of any size
        scale = zxr.new_empty(flat.shape)
        for rows in _blocks(zxr.shape[-2], b):
            er_rows = er[..., rows].unsqueeze(-1)
            for cols in _blocks(ncol, c):
                shape = (*batch, rows.stop - rows.start, cols.stop - cols.start)
                size = math.prod(shape)
                T, W = flat[:size].view(shape), scale[:size].view(shape)
                torch.matmul(zxr[..., rows, :], zy1[..., cols, :].mT, out=T).exp2_()
                if st["safe"]:
                    torch.mul(er_rows, ec[..., cols].unsqueeze(-2), out=W)
                    T.mul_(W.add_(0.5))
                else:
                    torch.matmul(zx1[..., rows, :], zyc[..., cols, :].mT, out=W)
                    T.add_(W.exp2_()).mul_(0.5)
                yield rows, cols, T

    @staticmethod
    def _AV(P, Q, er, ec, V):
        """A[rows] V for A = (P + Q) / 2, with Q = 2 diag(er) P diag(ec) when Q is
        None."""
        if Q is not None:
            return 0.5 * (P @ V + Q @ V)
        k = V.shape[-1]
        G = P @ torch.cat([V, ec.unsqueeze(-1) * V], -1)  # (..., b, 2k)
        return 0.5 * G[..., :k] + er.unsqueeze(-1) * G[..., k:]

    @staticmethod
    def _AtW(P, Q, er, ec, W):
        """A[rows]^T W (n x k) for the rows' W (b x k), as (W^T A)^T (a fast product
        layout)."""
        if Q is not None:
            return 0.5 * (W.mT @ P + W.mT @ Q).mT
        k = W.shape[-1]
        H = torch.cat([W, er.unsqueeze(-1) * W], -1).mT @ P  # (..., 2k, n)
        return (0.5 * H[..., :k, :] + H[..., k:, :] * ec.unsqueeze(-2)).mT

    def products(self, st, Qu, Qv):
        """(S Qv, S^T Qu) in one pass over A (sharded: the local rows of A)."""
        X, Y = self.X, self.Y
        YQ_q, XQ = Y @ Qv, X @ Qu  # (..., n_q, k)
        YQ = self._gather(YQ_q)  # (..., n, k)
        if "P" in st:  # the kept P, the factor of Q folded into the columns
            P, Q = self._dense_PQ(st)
            AYQ = self._AV(P, Q, st["er"], st["ec"], YQ)
            AtXQ = self._AtW(P, Q, st["er"], st["ec"], XQ)  # (..., n, k), this rank's
        else:
            AYQ, AtXQ = torch.zeros_like(YQ_q), torch.zeros_like(YQ)
            for rows, cols, A in self._tiles_of_A(st):
                AYQ[..., rows, :] += A @ YQ[..., cols, :]
                AtXQ[..., cols, :] += (XQ[..., rows, :].mT @ A).mT
        mine = slice(self.rows0, self.rows0 + X.shape[-2])
        AtXQ = self._sum(AtXQ)[..., mine, :]  # (..., n_q, k)
        return (
            self._sum(X.mT @ (YQ_q - AYQ)) / self.n,
            self._sum(Y.mT @ (XQ - AtXQ)) / self.n,
        )

    def formed(self, st):
        """S(beta) = X^T (I - A) Y / n, formed (d1 x d2) as X^T Y - (A^T X)^T Y when
        d1 < d2, else X^T Y - X^T (A Y): one product of A with min(d1, d2) columns, A
        rebuilt in tiles (dense or blocked alike; a kept P is not needed)."""
        X, Y = self.X, self.Y
        left = X.shape[-1] < Y.shape[-1]
        AZ = torch.zeros_like(X if left else Y)  # A^T X (n x d1), or A Y (n x d2)
        for rows, cols, A in self._tiles_of_A(st):
            if left:
                AZ[..., cols, :] += (X[..., rows, :].mT @ A).mT
            else:
                AZ[..., rows, :] += A @ Y[..., cols, :]
        if left:
            return (X.mT @ Y - AZ.mT @ Y) / self.n
        return (X.mT @ Y - X.mT @ AZ) / self.n
