"""Benchmark of mmcl.distributed (book chapter 7b, "At scale"): what one 2-core machine
can show honestly.

    .venv/bin/python benchmarks/distributed.py \
        --json benchmarks/results/cpu_distributed.json

1. Bytes each rank moved in CLIP's sharded SVD-iteration (2 gloo ranks, float64),
   counted by wrapping the collectives, against the model O(n (r + k) + d k);
2. the share of the solve's wall time spent in the collectives;
3. 2 processes x 1 thread against 1 process x 2 threads (best of 3 solves each);
4. the on-paper estimate at n = 1e8, d = 1024, r = 64 on 64 GPUs.
"""

import argparse
import json
import os
import platform
import time

import mmcl


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=64)
    parser.add_argument("--r", type=int, default=4)
    args = parser.parse_args()

    t0, load0 = time.time(), os.getloadavg()[0]
    check = mmcl.sharded_check(args.n, args.d, args.r, 2, timeout=600)
    threads = mmcl.thread_factor(args.n, args.d, args.r)
    paper = mmcl.paper_estimate()
    out = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "load_average": [round(load0, 1), round(os.getloadavg()[0], 1)],
        "seconds": round(time.time() - t0),
        "sizes": {"n": args.n, "d1": args.d, "d2": args.d, "r": args.r},
        "check": check,
        "threads": threads,
        "paper": paper,
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":  # spawned workers import this file
    main()
