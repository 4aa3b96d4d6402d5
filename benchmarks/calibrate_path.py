"""Formed S(beta) against the matrix-free products, both forced, on the race's problem
at three widths (CPU seconds, one thread): the measurement behind the flop rule's
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

time.perf_counter = time.process_time  # mmcl's clocks too: CPU seconds of this process
torch.set_num_threads(1)
for n, d, r in [(4000, 50, 5), (4000, 200, 5), (4000, 400, 10)]:
    data = mmcl.make_multimodal(
        n, d, d, r, eta=0.6, noise=1.0, seed=0, dtype=torch.float32
    )
    row = {"n": n, "d": d, "r": r}
    for mode in ("formed", "products"):
        with mf.forced_path(mode):
            t0 = time.process_time()
            res = mmcl.svd_iteration(
                data.X, data.Y, r, "clip", tau=1.0, tol=1e-5, max_iter=200
            )
            cpu = time.process_time() - t0
        row[mode] = {
            "cpu_s": round(cpu, 2),
            "steps": res.n_iter,
            "passes": sum(res.history["products"]),
            "final_loss": float(res.history["loss"][-1]),
        }
    row["rule_forms"] = mf.ClipProblem(data.X, data.Y, 1.0, 1.0, None).choose(r)[1]
    print(json.dumps(row), flush=True)
