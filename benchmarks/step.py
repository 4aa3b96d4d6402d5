"""One SVD-iteration step at n pairs, d1 = d2 = 200, r = 10 (float32, one thread, CPU
seconds): the A/B of a step between two versions of mmcl (run it with PYTHONPATH set to
each tree). Prints one JSON line.

    python benchmarks/step.py 20000
"""

from __future__ import annotations

import json
import sys
import time

import torch

import mmcl


def main(n: int) -> dict:
    torch.set_num_threads(1)
    d = mmcl.make_multimodal(
        n, 200, 200, 10, eta=0.8, noise=1.0, seed=0, dtype=torch.float32
    )
    t0 = time.process_time()
    res = mmcl.svd_iteration(d.X, d.Y, 10, "clip", max_iter=1)
    return {
        "mmcl": mmcl.__file__,
        "n": n,
        "cpu_total_s": time.process_time() - t0,
        "sin_theta": float(mmcl.sin_theta_distance(res.G1.T, d.U1)),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]))))
