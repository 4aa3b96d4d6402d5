"""CLIP solvers raced on one objective (benchmark section "race"; book chapter 7).

The objective is the regularised CLIP loss with un-normalised similarities, L(M) =
CLIP_tau(X M Y^T) + (rho / 2) ||M||_F^2 with M = G1^T G2 of rank r. Every method starts
at the linear closed form (computed once, not timed) and is timed on its own work only:
the full objective at its checkpoints is evaluated with the clock stopped
(SVD-iteration: its own loss, part of each step). On the CPU the clocks read the
process's CPU time (``time.process_time``; one thread), so that other jobs sharing the
machine do not inflate them. Progress is the fraction of the decrease L0 - L*, where L*
is the SVD-iteration's converged value; "time to 99%" is the first checkpoint at or past
that fraction.

* ``svd``: mmcl.svd_iteration (matrix-free where the flop count says so);
* ``adam``: Adam on (G1, G2), minibatches of ``batch`` pairs (the negatives of a pair
  are the other pairs of its minibatch), plain torch and autograd, one learning rate per
  run (the grid is run by the parent); checkpoints after each epoch;
* ``lbfgs``: torch.optim.LBFGS (strong Wolfe line search, history 10) on the full
  objective, its gradient from autograd on the dense logits while n^2 <= 2^24, else from
  the S(beta) formula grad_G1 = -G2 S^T + rho G2 G2^T G1 with S applied to r vectors
  (mmcl._matfree);
* ``mbsvd``: the minibatch SVD step: S_avg <- (1 - g) S_avg + g S_B(beta) on each
  minibatch B (its own CLIP weights at the current M), then M <- SVD_r(S_avg) / rho; one
  g per run.
"""

from __future__ import annotations

import time

import torch

import mmcl
import mmcl._matfree as mf
from mmcl._iteration import resolve_block


def _objective(X, Y, tau, rho, block):
    """L(G1, G2) evaluated exactly (blocked when n is large), clock stopped by the
    caller."""
    prob = mf.ClipProblem(X, Y, tau, rho, block)

    def L(G1, G2):
        U, s, V = mmcl.truncated_svd(G1.T @ G2, G1.shape[0])
        return float(prob.state(U, s, V)["loss"])

    return L


def _sync(X):
    """Wait for the device before reading the clock (a no-op on the CPU)."""
    if X.is_cuda:
        torch.cuda.synchronize(X.device)


def checkpoint(epoch: int) -> bool:
    """Evaluate the full objective after epochs 1-10, then about every 20% more
    epochs."""
    return (
        epoch <= 10
        or int(10 * 1.2 ** round(__import__("math").log(epoch / 10, 1.2))) == epoch
    )


def _block(n):
    """The block size svd_iteration picks for CLIP at n pairs (None: dense)."""
    return resolve_block(None, mmcl.clip_family(1.0), n, 1)


def run_svd(X, Y, p, start):
    res = mmcl.svd_iteration(
        X,
        Y,
        p["r"],
        "clip",
        tau=p["tau"],
        rho=p["rho"],
        tol=p["tol"],
        max_iter=p["max_iter"],
    )
    h = res.history
    return {
        "times": h["time"],
        "losses": [float(v) for v in h["loss"]],
        "n_iter": res.n_iter,
        "products": h["products"],
        "converged": res.converged,
        "floor_s": step_floor(X, Y, p["r"]),
    }


def _rate(f, out, work: float, repeat: int = 5) -> float:
    """Work per second of f, which writes ``out`` (best of ``repeat``, the clock the
    caller set)."""
    f()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        _sync(out)
        best = min(best, time.perf_counter() - t0)
    return work / best


def step_floor(X, Y, r: int) -> float | None:
    """Seconds one SVD-iteration step needs at this process's measured peak rates,
    when S(beta) is formed (None when the products path runs): n^2 (2 r + 1 + min(d1,
    d2)) multiply-adds (the candidate's logits; the tiles' logits with the shift, then
    A against min(d1, d2) columns) at the rate of a large float32 matrix product, and
    2 n^2 exponentials (the candidate's pass and the tiles) at the rate of torch.exp2,
    the exponential the passes use, on a cache-resident vector."""
    n, d1, d2 = X.shape[0], X.shape[1], Y.shape[1]
    prob = mf.ClipProblem(X, Y, 1.0, 1.0, _block(n))
    if not prob.choose(r)[1]:
        return None
    macs = n * n * (2 * r + 1 + min(d1, d2))
    exps = 2 * n * n
    A = torch.randn(2048, 2048, dtype=X.dtype, device=X.device)
    v = torch.randn(2**18, dtype=X.dtype, device=X.device)
    AA, ev = torch.empty_like(A), torch.empty_like(v)
    gemm = _rate(lambda: torch.matmul(A, A, out=AA), AA, 2048**3)
    expo = _rate(lambda: torch.exp2(v, out=ev), ev, 2**18, repeat=50)
    return macs / gemm + exps / expo


def _clip_minibatch(G1, G2, Xb, Yb, tau, rho):
    logits = (Xb @ G1.T) @ (Yb @ G2.T).T / tau  # (m, m)
    diag = logits.diagonal()
    loss = (
        tau
        * (torch.logsumexp(logits, 1) + torch.logsumexp(logits, 0) - 2 * diag).mean()
        / 2
    )
    return loss + 0.5 * rho * ((G1.T @ G2) ** 2).sum()


def run_adam(X, Y, p, start):
    n, m = X.shape[0], p["batch"]
    G1, G2 = (g.clone().requires_grad_(True) for g in start)
    opt = torch.optim.Adam([G1, G2], lr=p["lr"])
    gen = torch.Generator().manual_seed(0)
    L = _objective(X, Y, p["tau"], p["rho"], _block(n))
    times, losses, clock = [], [], 0.0
    for epoch in range(p["epochs"]):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen).to(X.device)
        for s in range(0, n - m + 1, m):
            idx = order[s : s + m]
            opt.zero_grad()
            _clip_minibatch(G1, G2, X[idx], Y[idx], p["tau"], p["rho"]).backward()
            opt.step()
        _sync(X)
        clock += time.perf_counter() - t0
        if not checkpoint(epoch + 1) and epoch + 1 < p["epochs"]:
            continue
        with torch.no_grad():
            losses.append(L(G1.detach(), G2.detach()))
        times.append(clock)
        if losses[-1] != losses[-1]:  # diverged
            break
    return {"times": times, "losses": losses}


def run_lbfgs(X, Y, p, start):
    n, r = X.shape[0], p["r"]
    G1, G2 = (g.clone().requires_grad_(True) for g in start)
    opt = torch.optim.LBFGS(
        [G1, G2],
        lr=1.0,
        max_iter=p["lbfgs_iter"],
        history_size=10,
        line_search_fn="strong_wolfe",
        tolerance_grad=0,
        tolerance_change=0,
    )
    block = _block(n)
    prob = mf.ClipProblem(X, Y, p["tau"], p["rho"], block)
    fam = mmcl.clip_family(p["tau"])
    evals = []  # (clock, loss) of every objective evaluation

    def closure():
        opt.zero_grad()
        if block is None and p.get("autograd", True):  # autograd on the dense logits
            s = (X @ G1.T) @ (Y @ G2.T).T
            L = (
                fam.loss_from_similarities(s)
                + 0.5 * p["rho"] * ((G1.T @ G2) ** 2).sum()
            )
            L.backward()
        else:  # the S(beta) formula, S applied to r vectors
            with torch.no_grad():
                U, sig, V = mmcl.truncated_svd(
                    G1.T @ G2, r
                )  # only for the state's logits
                st = prob.state(U, sig, V)
                SG2, StG1 = prob.products(
                    st, G1.T.detach(), G2.T.detach()
                )  # S G2^T, S^T G1^T
                G1.grad = (
                    -SG2.T + p["rho"] * (G2 @ G2.T) @ G1
                )  # -G2 S^T + rho G2 G2^T G1
                G2.grad = (
                    -StG1.T + p["rho"] * (G1 @ G1.T) @ G2
                )  # -G1 S + rho G1 G1^T G2
                L = st["loss"]
        G1.grad, G2.grad = (
            G1.grad.contiguous(),
            G2.grad.contiguous(),
        )  # LBFGS views them flat
        evals.append((time.perf_counter() - t_start, float(L)))
        return L

    t_start = time.perf_counter()
    for _ in range(p["lbfgs_outer"]):
        opt.step(closure)
    times, losses, best = [], [], float("inf")
    for t, v in evals:
        best = min(best, v)
        times.append(t)
        losses.append(best)
    return {"times": times, "losses": losses}


def run_mbsvd(X, Y, p, start):
    n, m, r, rho, g = X.shape[0], p["batch"], p["r"], p["rho"], p["gamma"]
    U, sig, V = mmcl.truncated_svd(start[0].T @ start[1], r)
    w, S_avg = sig, None
    gen = torch.Generator().manual_seed(0)
    L = _objective(X, Y, p["tau"], rho, _block(n))
    times, losses, clock = [], [], 0.0
    for epoch in range(p["epochs"]):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen).to(X.device)
        for s in range(0, n - m + 1, m):
            idx = order[s : s + m]
            prob = mf.ClipProblem(X[idx], Y[idx], p["tau"], rho, None)
            S_b = prob.formed(prob.state(U, w, V))
            S_avg = S_b if S_avg is None else (1 - g) * S_avg + g * S_b
            U, sig, V = mmcl.truncated_svd(S_avg, r)
            w = sig / rho
        _sync(X)
        clock += time.perf_counter() - t0
        if not checkpoint(epoch + 1) and epoch + 1 < p["epochs"]:
            continue
        G1, G2 = mmcl.factorize(U, sig, V, rho)
        losses.append(L(G1, G2))
        times.append(clock)
    return {"times": times, "losses": losses}


RUNNERS = {"svd": run_svd, "adam": run_adam, "lbfgs": run_lbfgs, "mbsvd": run_mbsvd}


def case_race(p, device):
    """One method at one setting (run in its own process for its peak memory)."""
    from run import rss_mb  # noqa: E402  (the benchmark script's helper)

    d = mmcl.make_multimodal(
        p["n"],
        p["d"],
        p["d"],
        p["r"],
        eta=p["eta"],
        noise=p["noise"],
        seed=0,
        dtype=torch.float32,
    ).to(device)
    lin = mmcl.linear_closed_form(d.X, d.Y, p["r"], rho=p["rho"])
    start = (lin.G1, lin.G2)
    L0 = _objective(d.X, d.Y, p["tau"], p["rho"], _block(p["n"]))(*start)
    if device.type == "cpu":
        # CPU seconds of this single-threaded process: other jobs on a shared machine
        # do not inflate them (mmcl's clocks too). One thread whatever OMP_NUM_THREADS
        # says: with more, the cases running side by side oversubscribe the cores and
        # idle OpenMP workers spin, which counts as CPU time (a run with two threads
        # per case read 5 to 10 times the one-thread times)
        torch.set_num_threads(1)
        time.perf_counter = time.process_time
    base = (
        rss_mb() if device.type == "cpu" else 0.0
    )  # CUDA: the peak is the allocator's
    out = RUNNERS[p["method"]](d.X, d.Y, p, start)
    out.update(L0=L0, base_mb=base)
    return out


def time_to(times, losses, L0, Lstar, frac):
    """First checkpoint time at which the decrease reaches ``frac`` of L0 - L*."""
    goal = L0 - frac * (L0 - Lstar)
    hit = [t for t, v in zip(times, losses) if v <= goal]
    return hit[0] if hit else None
