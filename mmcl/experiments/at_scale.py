"""The at-scale chapter's runs and estimates ("At scale", book/07b_at_scale).

:func:`solve_on_shards` is the function every rank runs (under
:func:`mmcl.distributed.launch` or torchrun); :func:`sharded_check` compares it with the
single-process solvers and counts the bytes against :func:`communication_model`;
:func:`thread_factor` times 2 processes x 1 thread against 1 process x 2 threads;
:func:`paper_estimate` is the per-step time and memory at n = 1e8 from flop and byte
counts.
"""

from __future__ import annotations

import time

import torch
import torch.distributed as dist

from .. import _matfree as _mf
from .. import _subspace as _ss
from .. import distributed, solvers
from .._validation import check_int
from ..data import make_multimodal

__all__ = [
    "solve_on_shards",
    "communication_model",
    "sharded_check",
    "thread_factor",
    "paper_estimate",
]


def solve_on_shards(X, Y, sizes, r: int, runs, force_products: bool = True):
    """Run on every rank: take this rank's rows of (X, Y), solve, count the bytes.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (n, d1): all rows (each rank keeps only its own).
    Y : torch.Tensor
        Tensor of shape (n, d2).
    sizes : sequence of int
        The rows of each rank, in rank order (summing to n).
    r : int
        The representation dimension.
    runs : sequence of tuple
        (solver name, keyword arguments): "linear_closed_form" or "svd_iteration" of
        :mod:`mmcl.distributed` (of :mod:`mmcl.solvers` on a single process).
    force_products : bool, default=True
        Also apply S(beta) matrix-free when run on one process (as the sharded
        solver does), so the two agree to rounding.

    Returns
    -------
    list of dict
        Per run: "result" (the SolverResult), "seconds" (its wall time), "comm" (the
        :func:`mmcl.distributed.communication_log`) and "events" (each collective's
        kind and shape).
    """
    sharded = dist.is_initialized() and dist.get_world_size() > 1
    p = dist.get_rank() if sharded else 0
    start = sum(sizes[:p])
    rows = slice(start, start + sizes[p])
    out = []
    for name, kwargs in runs:
        with (
            _mf.forced_path("products" if force_products else None),
            distributed.communication_log() as log,
        ):
            t0 = time.perf_counter()
            if sharded:
                res = getattr(distributed, name)(X[rows], Y[rows], r, **kwargs)
            else:
                res = getattr(solvers, name)(X, Y, r, **kwargs)
            seconds = time.perf_counter() - t0
        out.append({"result": res, "seconds": seconds, "comm": log})
    return out


def communication_model(n: int, d1: int, d2: int, r: int, k: int) -> dict:
    """Numbers moved per rank: the result sizes of the collectives of one step.

    Parameters
    ----------
    n : int
        The pairs on all ranks.
    d1 : int
        The dimension of modality 1.
    d2 : int
        The dimension of modality 2.
    r : int
        The representation dimension.
    k : int
        The subspace columns (r + 5, at most min(d1, d2)).

    Returns
    -------
    dict
        "product" (one pass S Qv, S^T Qu: 2 n k + (d1 + d2) k), "state" (one loss
        evaluation: n r + n + 3) and "setup" (S_n: d1 + d2 + d1 d2).
    """
    return {
        "product": 2 * n * k + (d1 + d2) * k,
        "state": n * r + n + 3,
        "setup": d1 + d2 + d1 * d2,
    }


def _gap(a, b) -> float:
    return float((a - b).abs().max())


def sharded_check(
    n: int = 240,
    d: int = 8,
    r: int = 2,
    world_size: int = 2,
    *,
    sizes=None,
    tau: float = 0.5,
    seed: int = 0,
    timeout: float = 120.0,
) -> dict:
    """The linear closed form and CLIP's SVD-iteration on ``world_size`` gloo ranks
    against one process, with the bytes each rank moved.

    Parameters
    ----------
    n : int, default=240
        The pairs (float64 draws of :func:`mmcl.data.make_multimodal`, d1 = d2 = d).
    d : int, default=8
        The dimension of each modality.
    r : int, default=2
        The representation dimension.
    world_size : int, default=2
        The processes.
    sizes : sequence of int, optional
        The rows per rank; default: as even as possible.
    tau : float, default=0.5
        The CLIP temperature.
    seed : int, default=0
        The seed of the data.
    timeout : float, default=120.0
        Seconds for the launch.

    Returns
    -------
    dict
        "gap" (the largest absolute gap to one process over G1, G2, the singular values
        and every iterate, both solvers), "iterations", "bytes" (per rank, CLIP),
        "model_bytes" (the same from :func:`communication_model` and the collectives
        counted), "passes", "states" and "comm_share" (communication time over solve
        time, rank 0, CLIP).
    """
    sizes = list(
        sizes or [n // world_size + (q < n % world_size) for q in range(world_size)]
    )
    data = make_multimodal(n, d, d, r, noise=0.5, seed=seed, dtype=torch.float64)
    X, Y = data.X, data.Y
    kw = {"tau": tau, "tol": 1e-9, "max_iter": 100, "record_iterates": True}
    runs = [("linear_closed_form", {}), ("svd_iteration", kw)]
    ranks = distributed.launch(
        solve_on_shards, world_size, X, Y, sizes, r, runs, timeout=timeout
    )
    single = solve_on_shards(X, Y, [n], r, runs)
    gap = 0.0
    for mine in ranks:
        for a, b in zip(mine, single):
            ra, rb = a["result"], b["result"]
            pairs = [(ra.G1, rb.G1), (ra.G2, rb.G2)]
            pairs += [(ra.singular_values, rb.singular_values)]
            pairs += [
                (x, y) for u, v in zip(ra.iterates, rb.iterates) for x, y in zip(u, v)
            ]
            gap = max([gap] + [_gap(x, y) for x, y in pairs])
            gap = max(gap, float(len(ra.iterates) != len(rb.iterates)))
    clip = ranks[0][1]
    log = clip["comm"]
    k = min(r + _ss._OVERSAMPLE, d)
    model = communication_model(n, d, d, r, k)
    padded = world_size * max(sizes)  # all_gather pads every shard to the largest
    passes = sum(1 for e in log["events"] if e == ("gather", (padded, k)))
    states = sum(1 for e in log["events"] if e == ("gather", (padded, r)))
    item = X.element_size()
    return {
        "gap": gap,
        "iterations": clip["result"].n_iter,
        "bytes": log["bytes"],
        "model_bytes": item
        * (model["setup"] + passes * model["product"] + states * model["state"]),
        "passes": passes,
        "states": states,
        "comm_share": log["seconds"] / clip["seconds"],
    }


def thread_factor(n: int = 1200, d: int = 64, r: int = 4, *, repeats: int = 3) -> dict:
    """Wall time of CLIP's SVD-iteration on 2 processes x 1 thread over 1 process x 2
    threads (the best of ``repeats`` solves each, process start-up excluded).

    Parameters
    ----------
    n : int, default=1200
        The pairs.
    d : int, default=64
        The dimension of each modality.
    r : int, default=4
        The representation dimension.
    repeats : int, default=3
        Solves per configuration; the fastest counts.

    Returns
    -------
    dict
        "two_processes" and "one_process" (seconds), "factor" (their ratio) and
        "comm_share" (communication over solve time, 2 processes).
    """
    repeats = check_int(repeats, "repeats", low=1)
    data = make_multimodal(n, d, d, r, noise=0.5, seed=0, dtype=torch.float64)
    X, Y = data.X, data.Y
    runs = [("svd_iteration", {"tau": 0.5, "tol": 1e-8, "max_iter": 20})] * repeats
    half = [n // 2, n - n // 2]
    two = distributed.launch(solve_on_shards, 2, X, Y, half, r, runs, threads=1)
    one = distributed.launch(solve_on_shards, 1, X, Y, [n], r, runs, threads=2)
    t2 = min(max(rank[i]["seconds"] for rank in two) for i in range(repeats))
    t1 = min(run["seconds"] for run in one[0])
    share = min(run["comm"]["seconds"] / run["seconds"] for run in two[0])
    return {
        "two_processes": t2,
        "one_process": t1,
        "factor": t2 / t1,
        "comm_share": share,
    }


def paper_estimate(
    n: float = 1e8,
    d: int = 1024,
    r: int = 64,
    gpus: int = 64,
    *,
    flops: float = 4e14,
    link: float = 50e9,
    bytes_per_number: int = 4,
    block: int = 64,
    batch: int = 32768,
) -> dict:
    """Per-GPU time and memory of one product pass of the sharded SVD-iteration, from
    flop and byte counts, against open_clip's gathered logits.

    Parameters
    ----------
    n : float, default=1e8
        The pairs.
    d : int, default=1024
        The dimension of each modality.
    r : int, default=64
        The representation dimension.
    gpus : int, default=64
        The ranks, one GPU each.
    flops : float, default=4e14
        Sustained multiply-add rate x 2 per GPU (flop/s; 4e14: an H100 in TF32).
    link : float, default=50e9
        Bytes per second each GPU sends and receives across nodes (400 Gb/s
        InfiniBand; NVLink inside a node is about 9 times faster).
    bytes_per_number : int, default=4
        float32.
    block : int, default=64
        Rows of A rebuilt at a time.
    batch : int, default=32768
        open_clip's global batch, for its per-step figures.

    Returns
    -------
    dict
        "compute_s", "comm_s" (ring collectives: an all-gather moves (P - 1) / P of its
        result through each link, an all-reduce twice that) and "memory_gb" of one
        product pass; "logits_local_tb" (the n_q x n logits open_clip's
        ``local_loss`` forms for a global batch of all n pairs) and
        "logits_full_pb" (its default n x n); "openclip_step_gb" (the embeddings
        it gathers per step of ``batch`` pairs) and "openclip_epoch_gb" (per pass over
        the n pairs).
    """
    k = r + _ss._OVERSAMPLE
    n_q, ring = n / gpus, (gpus - 1) / gpus
    # logits (r) and the two products with Q = P exp(r - c) folded in (4k), n_q x n
    compute = 2 * n_q * n * (r + 4 * k) / flops
    numbers = ring * n * k + 2 * ring * n * k + 2 * ring * 2 * d * k
    B = bytes_per_number
    # X_p and Y_p, zy (n x r), Y Qv with its 2k-column copy and A^T X Qu (n x 4k),
    # a block of A (block x n)
    memory = B * (2 * n_q * d + n * r + 4 * n * k + block * n)
    return {
        "compute_s": compute,
        "comm_s": numbers * B / link,
        "memory_gb": memory / 1e9,
        "logits_local_tb": B * n_q * n / 1e12,
        "logits_full_pb": B * n * n / 1e15,
        "openclip_step_gb": B * 2 * batch * r / 1e9,
        "openclip_epoch_gb": B * 2 * n * r / 1e9,
    }
