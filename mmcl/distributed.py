"""The linear closed form and the SVD-iteration on row shards, with torch.distributed
(chapter 7b).

Rank q of the m ranks of a process group holds the rows R_q of X and Y (true pairs stay
on one rank), n_q of the n pairs. Every collective below moves embeddings or d x k
blocks, never the data and never an n x n matrix:

* S_n = sum_q (X_q - 1 xbar^T)^T (Y_q - 1 ybar^T) / (n - 1), with xbar, ybar from an
  all-reduce of the column sums (d1 + d2 numbers) and one all-reduce of the d1 x d2
  partial products.
* CLIP at M = U diag(w) V^T (notation of chapters 7 and 7b): the logits of rank q's
  rows are l_{R_q} = X_q U diag(w) (Y V)^T / tau with Y V all-gathered (n x r); the
  row log-normalisers chi_i are local; the column ones kappa_j = log sum_q e^{mu_q}
  nu^(q)_j merge each rank's shift mu_q and column sums nu^(q)_j = sum_{i in R_q}
  e^{l_ij - mu_q}: an all-reduce of the max mu of the mu_q, then of the sums
  nu^(q)_j e^{mu_q - mu} (n numbers).
* S E_v = sum_q X_q^T (Y_q E_v - P_bar_q (Y E_v)) / n needs Y E_v all-gathered
  (n x k) and an all-reduce of d1 x k; S^T E_u = sum_q Y_q^T (X_q E_u -
  (P_bar^T X E_u)_{R_q}) / n needs P_bar^T X E_u = sum_q P_bar_q^T X_q E_u, an
  all-reduce of n x k, and one of d2 x k (P_bar_q: the rows R_q of P_bar = (P + Q) / 2).

Per product pass that is n k + n k + (d1 + d2) k numbers, per loss evaluation n r + n
plus three scalars: O(n (r + k) + d k). Every rank then runs the same small dense
steps (k x k SVDs, the damping test) of :func:`mmcl.solvers.svd_iteration` on the
same reduced numbers, so every rank returns the same
:class:`mmcl.solvers.SolverResult`. The products are always applied matrix-free
(forming S(beta) would need other ranks' rows): the result equals
``mmcl.svd_iteration`` under ``mmcl._matfree.forced_path("products")``, and the
single-process fixed point in any case.

Launch: ``torch.distributed.init_process_group`` is the caller's, as in torch's own
examples; :func:`launch` spawns local gloo workers for tests and chapters, and
``torchrun --standalone --nproc-per-node 2 scripts/sharded_check.py`` runs the check of
:func:`mmcl.experiments.at_scale.sharded_check` under torchrun.
"""

from __future__ import annotations

import contextlib
import pickle
import queue as _queue
import socket
import time
import traceback
from datetime import timedelta

import torch
import torch.distributed as dist

from . import _matfree as _mf
from . import _subspace as _ss
from ._validation import check_int, check_matrix, check_rank, check_real, check_rho
from .covariance import centred_product
from .families import ClipFamily, LinearFamily, get_family
from .losses import check_representation
from ._iteration import FormedProblem, closed_form, iterate, resolve_block
from .solvers import SolverResult

__all__ = ["linear_closed_form", "svd_iteration", "communication_log", "launch"]

_DTYPES = (torch.float32, torch.float64)
_LOG: list[dict] = []  # the open communication logs


@contextlib.contextmanager
def communication_log():
    """Count the collectives this process runs inside the ``with`` block.

    Yields
    ------
    dict
        "bytes" (the size of each collective's result: n k for an all-gather of
        n x k, m for an all-reduce of m numbers, times the element size), "calls",
        "seconds" (wall time inside the collectives), "by_kind" (bytes per
        "gather", "sum", "max") and "events" (each collective's kind and result
        shape), updated as the block runs.
    """
    log = {"bytes": 0, "calls": 0, "seconds": 0.0, "by_kind": {}, "events": []}
    _LOG.append(log)
    try:
        yield log
    finally:
        _LOG.remove(log)


class _Comm:
    """The group, this rank's rows and the three counted collectives."""

    def __init__(self, group, X, Y):
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "torch.distributed is not initialised: call "
                "torch.distributed.init_process_group first (or use "
                "mmcl.distributed.launch)"
            )
        self.group = group or dist.group.WORLD
        self.world = dist.get_world_size(self.group)
        self.rank = dist.get_rank(self.group)
        self.device = X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
        err, meta = None, [0, 0, 0, -1]
        try:  # every rank learns whether any rank's input is bad: none waits forever
            X = check_matrix(X, "X_local", batch=False)
            Y = check_matrix(Y, "Y_local", batch=False)
            if X.shape[0] != Y.shape[0] or X.device != Y.device or X.dtype != Y.dtype:
                raise ValueError(
                    "X_local (n_q, d1) and Y_local (n_q, d2) must have the same rows, "
                    f"device and dtype, got X_local {tuple(X.shape)} {X.dtype} on "
                    f"{X.device} and Y_local {tuple(Y.shape)} {Y.dtype} on {Y.device}"
                )
            meta = [X.shape[0], X.shape[1], Y.shape[1], _DTYPES.index(X.dtype)]
        except (TypeError, ValueError) as e:
            err = e
        got = self._raw_gather(torch.tensor(meta, device=self.device))
        bad = [q for q, m in enumerate(got) if m[3] < 0]
        if err is not None:
            raise err
        if bad:
            raise ValueError(f"the input of rank(s) {bad} failed validation there")
        shapes = {tuple(m[1:].tolist()) for m in got}
        if len(shapes) > 1:
            raise ValueError(
                "every rank must hold X_local (n_q, d1) and Y_local (n_q, d2) with the "
                f"same d1, d2 and dtype; got (n_q, d1, d2) = "
                f"{[tuple(m[:3].tolist()) for m in got]}"
            )
        self.sizes = [int(m[0]) for m in got]
        self.n, self.rows0 = sum(self.sizes), sum(self.sizes[: self.rank])
        self.X, self.Y = X, Y

    def _raw_gather(self, t):
        out = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(out, t, group=self.group)
        return out

    def _count(self, kind, t, t0):
        for log in _LOG:
            size = t.numel() * t.element_size()
            log["bytes"] += size
            log["calls"] += 1
            log["seconds"] += time.perf_counter() - t0
            log["by_kind"][kind] = log["by_kind"].get(kind, 0) + size
            log["events"].append((kind, tuple(t.shape)))

    def gather(self, Z):
        """Every rank's rows of Z (n_q, k), in rank order: (n, k)."""
        t0, most = time.perf_counter(), max(self.sizes)
        pad = torch.zeros(most, *Z.shape[1:], dtype=Z.dtype, device=Z.device)
        pad[: Z.shape[0]] = Z  # all_gather needs one shape: pad to the largest shard
        out = self._raw_gather(pad)
        full = torch.cat([o[:m] for o, m in zip(out, self.sizes)])  # (n, k)
        self._count("gather", pad.new_empty(self.world * most, *Z.shape[1:]), t0)
        return full

    def reduce(self, t, op):
        """The all-reduce of a copy of t with ``op`` ("sum" or "max")."""
        t0, t = time.perf_counter(), t.clone()
        ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX}
        dist.all_reduce(t, op=ops[op], group=self.group)
        self._count(op, t, t0)
        return t

    def centred_cov(self):
        """S_n of all ranks' rows: all-reduced means, then the centred partials."""
        X, Y = self.X, self.Y
        sums = self.reduce(torch.cat([X.sum(0), Y.sum(0)]), "sum") / self.n
        xbar, ybar = sums[: X.shape[1]], sums[X.shape[1] :]
        return self.reduce(centred_product(X, Y, xbar, ybar), "sum") / (self.n - 1)


class _Sharded:
    """The hooks of the single-process problems, as collectives over ``self.comm``."""

    def _gather(self, Z):
        return self.comm.gather(Z)

    def _sum(self, t):
        return self.comm.reduce(t, "sum")

    def _max(self, t):
        return self.comm.reduce(t, "max")

    def pilot(self):
        """No screen of trial dampings: a rank's rows alone would screen differently
        on every rank, and the ranks must take the same step."""
        return None


class _ShardedClip(_Sharded, _mf.ClipProblem):
    """CLIP's loss and products with S(beta) from this rank's rows of A."""

    def __init__(self, comm, tau, rho, block):
        super().__init__(comm.X, comm.Y, tau, rho, block)
        self.comm, self.n, self.rows0 = comm, comm.n, comm.rows0
        self.gap = _mf._safe_gap(comm.n, comm.X.dtype)

    can_form = False  # S(beta) is never formed: that needs all rows


class _ShardedLinear(_Sharded, FormedProblem):
    """The linear loss from all-gathered embeddings; S(beta) = S_n, all-reduced."""

    def __init__(self, comm, family, rho, S_n):
        super().__init__(comm.X, comm.Y, family, rho, None, fixed_S=S_n)
        self.comm = comm


def linear_closed_form(X_local, Y_local, r: int, *, rho: float = 1.0, group=None):
    """:func:`mmcl.solvers.linear_closed_form` of all ranks' rows, from this rank's.

    Parameters
    ----------
    X_local : torch.Tensor
        Tensor of shape (n_q, d1): this rank's rows of modality 1 (n_q >= 1).
    Y_local : torch.Tensor
        Tensor of shape (n_q, d2): the paired rows of modality 2.
    r : int
        The representation dimension, 1 <= r <= min(d1, d2, n - 1) for n = sum n_q.
    rho : float, default=1.0
        The regularisation strength (> 0).
    group : torch.distributed.ProcessGroup, optional
        The ranks that share the rows; default: the world group.

    Returns
    -------
    SolverResult
        The same result on every rank: that of the single-process solver on the
        rows of all ranks in rank order (up to the order of the sums).

    Notes
    -----
    Two all-reduces: the column sums (d1 + d2 numbers) and the centred partial
    products (d1 d2 numbers). A collective call: every rank of ``group`` must call
    it, with the same ``r`` and ``rho``.
    """
    comm = _Comm(group, X_local, Y_local)
    r = check_rank(r, comm.X.shape[1], comm.Y.shape[1], comm.n - 1)
    return SolverResult(**closed_form(comm.centred_cov(), r, check_rho(rho)))


def svd_iteration(
    X_local,
    Y_local,
    r: int,
    loss="clip",
    *,
    tau: float = 1.0,
    rho: float = 1.0,
    init=None,
    damping: float = 1.0,
    tol: float = 1e-8,
    max_iter: int = 500,
    record_iterates: bool = False,
    block_size: int | None = None,
    group=None,
) -> SolverResult:
    """:func:`mmcl.solvers.svd_iteration` of all ranks' rows, from this rank's rows.

    Parameters
    ----------
    X_local : torch.Tensor
        Tensor of shape (n_q, d1): this rank's rows of modality 1 (n_q >= 1).
    Y_local : torch.Tensor
        Tensor of shape (n_q, d2): the paired rows of modality 2.
    r : int
        The representation dimension, 1 <= r <= min(d1, d2).
    loss : {"clip", "linear"}, default="clip"
        The family member.
    tau : float, default=1.0
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength (> 0).
    init : tuple of torch.Tensor, optional
        The start (G1, G2), the same on every rank; default: the linear closed form.
    damping : float, default=1.0
        The initial step a, in (0, 1].
    tol : float, default=1e-8
        Stop when ||M_{t+1} - M_t||_F / ||M_t||_F < tol.
    max_iter : int, default=500
        The most iterations.
    record_iterates : bool, default=False
        Keep (G1, G2) after every iteration in ``iterates``.
    block_size : int, optional
        Rebuild this rank's rows of A in blocks of this many rows (memory
        O(block_size n)); default: dense while n^2 <= 2^24.
    group : torch.distributed.ProcessGroup, optional
        The ranks that share the rows; default: the world group.

    Returns
    -------
    SolverResult
        The same result on every rank, that of ``mmcl.svd_iteration`` on the rows of
        all ranks in rank order with S(beta) applied matrix-free.

    Notes
    -----
    Per product pass with S(beta): an all-gather of n x k, all-reduces of n x k and
    (d1 + d2) x k; per loss evaluation an all-gather of n x r and an all-reduce of n
    numbers (see the module docstring). Every rank must call it with the same
    arguments but its own rows.
    """
    comm = _Comm(group, X_local, Y_local)
    X, Y = comm.X, comm.Y
    r = check_rank(r, X.shape[1], Y.shape[1])
    rho = check_rho(rho)
    a0 = check_real(damping, "damping", low=0.0, high=1.0, low_open=True)
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", low=1)
    family = get_family(loss, tau)
    if not isinstance(family, (ClipFamily, LinearFamily)):
        raise TypeError(f"loss must be 'clip' or 'linear', got {loss!r}")
    if comm.n < 2:
        raise ValueError(f"the ranks hold n = {comm.n} pairs in all; need at least 2")
    if init is not None:
        init = check_representation(init[0], init[1], X, Y)[:2]
    block = resolve_block(block_size, family, comm.n, 1)
    S_n = comm.centred_cov()
    if isinstance(family, ClipFamily):
        prob = _ShardedClip(comm, family.tau, rho, block)
    else:
        prob = _ShardedLinear(comm, family, rho, S_n)
    floor = _ss._floor(X.dtype, max(X.shape[1], Y.shape[1]))
    return SolverResult(
        **iterate(
            prob, lambda: S_n, init, r, rho, a0, tol, max_iter, record_iterates, floor
        )
    )


# ----------------------------------------------------------------- launching
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, backend, threads, timeout, fn, args, out):
    try:
        torch.set_num_threads(threads)
        dist.init_process_group(
            backend,
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=timeout),
        )
        try:
            result = fn(*args)
        finally:
            dist.destroy_process_group()
        out.put((rank, None, pickle.dumps(result)))
    except BaseException:  # reported to the parent, which raises it
        out.put((rank, traceback.format_exc(), None))


def launch(
    fn, world_size: int, *args, timeout: float = 120.0, backend="gloo", threads=1
):
    """Run ``fn(*args)`` on ``world_size`` local processes joined in a process group.

    Parameters
    ----------
    fn : callable
        A module-level function (spawned processes import it); it reads its rank
        from ``torch.distributed.get_rank()``.
    world_size : int
        The number of processes (>= 1).
    *args : object
        Passed to ``fn`` on every rank (pickled).
    timeout : float, default=120.0
        Seconds for the whole run; then every process is stopped.
    backend : str, default="gloo"
        The torch.distributed backend ("gloo" on CPUs, "nccl" on GPUs).
    threads : int, default=1
        ``torch.set_num_threads`` in every process.

    Returns
    -------
    list
        ``fn``'s return value on each rank, in rank order.

    Raises
    ------
    RuntimeError
        When a rank raises (with that rank's traceback) or dies; TimeoutError when the
        run takes longer than ``timeout``. No process is left behind either way.
    """
    world_size = check_int(world_size, "world_size", low=1)
    timeout = check_real(timeout, "timeout", low=0.0, low_open=True)
    threads = check_int(threads, "threads", low=1)
    ctx = torch.multiprocessing.get_context("spawn")
    out, port = ctx.Queue(), _free_port()
    procs = [
        ctx.Process(
            target=_worker,
            args=(q, world_size, port, backend, threads, timeout, fn, args, out),
            daemon=True,
        )
        for q in range(world_size)
    ]
    results, deadline = {}, time.monotonic() + timeout
    try:
        for p in procs:
            p.start()
        while len(results) < world_size:
            left = deadline - time.monotonic()
            if left <= 0:
                missing = sorted(set(range(world_size)) - set(results))
                raise TimeoutError(f"ranks {missing} did not finish in {timeout} s")
            try:
                rank, err, payload = out.get(timeout=min(left, 0.2))
            except _queue.Empty:
                dead = [q for q, p in enumerate(procs) if p.exitcode not in (None, 0)]
                if dead and out.empty():
                    raise RuntimeError(f"rank {dead[0]} died without a report")
                continue
            if err is not None:  # the other ranks' reports follow within a second
                errors = {rank: err}
                while len(errors) + len(results) < world_size:
                    try:
                        q, e, _ = out.get(timeout=1.0)
                    except _queue.Empty:
                        break
                    if e is not None:
                        errors[q] = e
                shown = "\n".join(
                    f"rank {q} of {world_size}:\n{e}" for q, e in sorted(errors.items())
                )
                raise RuntimeError(f"rank(s) {sorted(errors)} failed:\n{shown}")
            results[rank] = pickle.loads(payload)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
        out.close()
        out.join_thread()
    return [results[q] for q in range(world_size)]
