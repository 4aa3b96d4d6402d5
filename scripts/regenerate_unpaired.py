"""Regenerate the saved results of the unpaired-data chapter (book/data/unpaired_*.json).

    .venv/bin/python scripts/regenerate_unpaired.py --jobs 3      # every table, 3 processes
    .venv/bin/python scripts/regenerate_unpaired.py --only paper  # one table (see TABLES)

Every number is seeded: a rerun gives the same table up to float rounding. The time each table
took is printed and stored in its metadata; tests/test_unpaired.py re-runs the small "check" table.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import time
from pathlib import Path

import torch

import mmcl
import mmcl.unpaired_experiment as ux

ROOT = Path(__file__).resolve().parents[1]
PAPER = ux.UnpairedSetting()  # the paper's section 5.1 protocol
PAPER_NS = list(range(500, 5001, 500))
HARD = ux.UnpairedSetting(n=30, noise=0.5, n_test=1000, replicates=10, seed=1)
HARD_NS = [250, 500, 1000, 2000]
DETECT = ux.UnpairedSetting(n_test=2000)  # the detector comparison
CHECK = ux.UnpairedSetting(
    n_test=1000, replicates=2, seed=2
)  # small, re-run by the tests


def linear(detector, rounds=2):
    return functools.partial(
        ux.spectral_grid, solver="linear", detector=detector, rounds=rounds
    )


def recipe(blocks="aligned", **kw):
    return functools.partial(ux.run_recipe, blocks=blocks, **kw)


def clip(rounds=1):
    return functools.partial(
        ux.spectral_grid, solver="clip", detector="mutual", rounds=rounds, oracles=False
    )


# table -> list of (setting, pool sizes, {method: callable(setting, Ns)}); each table is one JSON file
TABLES = {
    "paper": [(PAPER, PAPER_NS, {"linear+mutual": linear("mutual")})],
    "paper_recipe": [
        (PAPER, PAPER_NS, {"recipe": recipe()}),
        (PAPER, [500, 2000], {"recipe_shuffled": recipe("shuffled")}),
    ],
    "paper_detectors": [
        (DETECT, [500, 1000], {f"linear+{d}": linear(d) for d in mmcl.DETECTORS}),
        (ux.UnpairedSetting(n_test=2000, replicates=4), [500], {"clip+mutual": clip()}),
    ],
    "hard": [
        (
            HARD,
            HARD_NS,
            {
                "linear+mutual": linear("mutual", rounds=3),
                "linear+assignment": linear("assignment", rounds=3),
            },
        ),
        (
            HARD,
            [500, 2000],
            {
                "recipe": recipe(batch_size=30),
                "recipe_oracle": recipe(positives="true", batch_size=30),
            },
        ),
    ],
    "check": [
        (
            CHECK,
            [500],
            {
                "linear+mutual": linear("mutual"),
                "recipe": recipe(epochs_paired=20, epochs_unpaired=20),
            },
        )
    ],
}


def regenerate(name: str) -> float:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = []
    for setting, Ns, methods in TABLES[name]:
        rows += ux.run_grid(name, setting, Ns, methods)
    seconds = time.perf_counter() - t0
    ux.save_table(
        ROOT / "book" / "data" / f"unpaired_{name}.json",
        rows,
        {
            "settings": [s for s, _, _ in TABLES[name]],
            "seconds": round(seconds),
            "command": f"python scripts/regenerate_unpaired.py --only {name}",
        },
    )
    print(f"{name}: {len(rows)} rows in {seconds:.0f} s")
    return seconds


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TABLES), default=None)
    parser.add_argument(
        "--jobs", type=int, default=1, help="tables computed in parallel processes"
    )
    args = parser.parse_args()
    names = [args.only] if args.only else list(TABLES)
    t0 = time.perf_counter()
    with multiprocessing.Pool(min(args.jobs, len(names))) as pool:
        pool.map(regenerate, names)
    print(f"all done in {time.perf_counter() - t0:.0f} s")
