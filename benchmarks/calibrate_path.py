"""Formed S(beta) against the matrix-free products, both forced, on the race's problem
at several widths, dense (n = 4000) and blocked (n = 8192): CPU seconds per
SVD-iteration step over the first eight steps from the linear closed form (its first
loss included), one thread.
The measurement behind the flop rule's constants (``_THIN_RATE``, ``_REBUILD``) and its
calibration note in benchmarks/results/README.md.

    .venv/bin/python benchmarks/calibrate_path.py \
        > benchmarks/results/cpu_path_calibration.jsonl
"""

from __future__ import annotations

import json
import time

import torch

import mmcl
import mmcl._matfree as mf
from mmcl._iteration import resolve_block

time.perf_counter = time.process_time  # mmcl's clocks too: CPU seconds of this process
torch.set_num_threads(1)
STEPS = 8
for n, d, r in [
    (4000, 50, 5),
    (4000, 200, 5),
    (4000, 400, 10),
    (8192, 50, 5),
    (8192, 200, 10),
    (8192, 800, 10),
]:
    data = mmcl.make_multimodal(
        n, d, d, r, eta=0.6, noise=1.0, seed=0, dtype=torch.float32
    )
    block = resolve_block(None, mmcl.clip_family(1.0), n, 1)  # as svd_iteration
    row = {"n": n, "d": d, "r": r, "blocked": block is not None}
    for mode in ("formed", "products"):
        with mf.forced_path(mode):
            res = mmcl.svd_iteration(
                data.X, data.Y, r, "clip", tau=1.0, tol=1e-300, max_iter=STEPS
            )
        row[mode] = {  # history times: from the first loss to the last step's
            "cpu_s_per_step": round(res.history["time"][-1] / res.n_iter, 3),
            "steps": res.n_iter,
            "passes": sum(res.history["products"]),
            "loss": float(res.history["loss"][-1]),
        }
    prob = mf.ClipProblem(data.X, data.Y, 1.0, 1.0, block)
    row["rule_forms"] = prob.choose(r)[1]
    print(json.dumps(row), flush=True)
