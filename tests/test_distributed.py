"""mmcl.distributed on 2 and 3 gloo processes (127.0.0.1, spawned, bounded in time):
the same result as one process to 1e-10 in float64 (every iterate and the final G),
uneven shards and a shard smaller than r, the bytes of the model, and failing or
hanging workers that fail the test within a timeout, their error shown, no process
left behind."""

import time

import psutil
import pytest
import torch

import mmcl
from mmcl import distributed
from mmcl.experiments.at_scale import sharded_check, solve_on_shards


def workers():
    """Child processes other than multiprocessing's resource tracker (one per parent
    interpreter, not a worker)."""
    return [
        p
        for p in psutil.Process().children(recursive=True)
        if p.status() != psutil.STATUS_ZOMBIE
        and "resource_tracker" not in " ".join(p.cmdline())
    ]


def no_children_left():
    deadline = time.monotonic() + 5
    while workers() and time.monotonic() < deadline:
        time.sleep(0.1)
    return not workers()


@pytest.mark.parametrize(
    "world_size, sizes",
    [(2, None), (3, [1, 50, 40])],  # n = 91 in 3 uneven shards, one below r = 2
    ids=["2 even", "3 uneven"],
)
def test_sharded_equals_single_process(world_size, sizes):
    n = 160 if sizes is None else sum(sizes)
    out = sharded_check(n, 8, 2, world_size, sizes=sizes, timeout=90)
    assert out["gap"] < 1e-10  # linear and CLIP: G1, G2, singular values, iterates
    assert out["iterations"] > 3
    if sizes is None:  # even shards: every collective's size is the model's
        assert out["bytes"] == out["model_bytes"]
    assert no_children_left()
    # the in-process reference forces the products only while it runs (it once leaked
    # into every later test of the session)
    assert mmcl._matfree._FORCE is None


def test_a_rank_with_bad_input_fails_every_rank_with_its_error():
    X = torch.randn(40, 4, dtype=torch.float64)
    Y = torch.randn(40, 3, dtype=torch.float64)
    X[30, 0] = float("nan")  # in rank 1's rows only
    runs = [("svd_iteration", {})]
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match="X_local contains NaN") as err:
        distributed.launch(solve_on_shards, 2, X, Y, [20, 20], 2, runs, timeout=60)
    assert "rank 1 of 2" in str(err.value)
    assert time.monotonic() - t0 < 60
    assert no_children_left()


def test_a_hanging_worker_times_out_and_is_stopped():
    t0 = time.monotonic()
    with pytest.raises(TimeoutError, match="did not finish"):
        distributed.launch(time.sleep, 2, 600, timeout=2)
    assert time.monotonic() - t0 < 20
    assert no_children_left()


def test_needs_an_initialised_process_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        distributed.linear_closed_form(torch.randn(5, 3), torch.randn(5, 3), 1)


def test_names_stay_namespaced():
    assert mmcl.linear_closed_form is mmcl.solvers.linear_closed_form
    assert "launch" not in mmcl.__all__ and distributed in mmcl.MODULES


def test_the_model_counts_numbers_not_n_squared():
    m = mmcl.communication_model(10**6, 64, 64, 8, 13)
    assert m["product"] == 2 * 10**6 * 13 + 128 * 13
    assert m["state"] == 10**6 * 9 + 3


@pytest.fixture
def world_of_one():
    """A one-rank gloo group in this process: validation without spawning."""
    import torch.distributed as dist

    port = distributed._free_port()
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1
    )
    yield
    dist.destroy_process_group()


def test_validation_names_the_argument(world_of_one):
    X = torch.randn(6, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="X_local must have shape"):
        distributed.linear_closed_form(torch.randn(6), X, 1)
    with pytest.raises(ValueError, match="same rows"):
        distributed.svd_iteration(X, X[:5], 1)
    with pytest.raises(TypeError, match="Y_local must be float32 or float64"):
        distributed.svd_iteration(X, X.int(), 1)
    with pytest.raises(ValueError, match="r must satisfy"):
        distributed.svd_iteration(X, X, 4)
    with pytest.raises(TypeError, match="loss must be 'clip' or 'linear'"):
        distributed.svd_iteration(X, X, 1, loss="siglip")


def test_one_rank_is_the_single_process_solver(world_of_one):
    s = mmcl.make_multimodal(50, 5, 4, 2, noise=0.5, seed=1, dtype=torch.float64)
    a = distributed.linear_closed_form(s.X, s.Y, 2)
    b = mmcl.linear_closed_form(s.X, s.Y, 2)
    assert float((a.G1 - b.G1).abs().max()) < 1e-12
    a = distributed.svd_iteration(s.X, s.Y, 2, loss="linear", max_iter=5)
    b = mmcl.svd_iteration(s.X, s.Y, 2, loss="linear", max_iter=5)
    assert float((a.G2 - b.G2).abs().max()) < 1e-10


def test_the_torchrun_command_of_the_chapter():
    """book/07b_at_scale shows this command and its first line of output."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    # torchrun is torch.distributed.run; `-m` finds it in any environment
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [*cmd, "--nproc-per-node", "2", "scripts/sharded_check.py", "240", "8", "2"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (
        "2 ranks, n = 240: max |distributed - single| below 1e-10: True" in out.stdout
    )
