"""The sharded solvers under torchrun (book chapter 7b, "At scale"):

    torchrun --standalone --nproc-per-node 2 scripts/sharded_check.py [n d r]

Every rank draws the same seeded float64 sample, keeps its rows, runs
mmcl.distributed.linear_closed_form and mmcl.distributed.svd_iteration (CLIP) and
compares them with the single-process solvers; rank 0 prints the verdict and the bytes
it moved. torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; any backend torch
offers works (gloo here, nccl with tensors on the GPUs).
"""

import sys

import torch
import torch.distributed as dist

import mmcl
from mmcl.experiments.at_scale import solve_on_shards

n, d, r = (int(a) for a in (sys.argv[1:] or ["240", "8", "2"]))
dist.init_process_group("gloo")
world, rank = dist.get_world_size(), dist.get_rank()
sample = mmcl.make_multimodal(n, d, d, r, noise=0.5, seed=0, dtype=torch.float64)
sizes = [n // world + (q < n % world) for q in range(world)]
runs = [("linear_closed_form", {}), ("svd_iteration", {"tau": 0.5, "tol": 1e-9})]
mine = solve_on_shards(sample.X, sample.Y, sizes, r, runs)
dist.destroy_process_group()
single = solve_on_shards(sample.X, sample.Y, [n], r, runs)
gap = max(
    float((a["result"].G1 - b["result"].G1).abs().max()) for a, b in zip(mine, single)
)
if rank == 0:
    print(
        f"{world} ranks, n = {n}: max |distributed - single| below 1e-10: {gap < 1e-10}"
    )
    print(f"bytes moved by rank 0 in the CLIP solve: {mine[1]['comm']['bytes']}")
