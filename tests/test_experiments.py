"""The experiment runner: seeds, batching, shapes, tables; and the slope / crossover helpers."""

import math

import numpy as np
import pytest
import torch

import mmcl


def trial(replicates, generator, *, n, eta, r=2):
    data = mmcl.make_multimodal(
        n,
        8,
        6,
        r,
        eta=eta,
        noise=0.5,
        replicates=replicates,
        seed=generator,
        dtype=torch.float64,
    )
    return {
        "mmcl": mmcl.sin_theta_distance(
            mmcl.linear_closed_form(data.X, data.Y, r).U, data.U1
        ),
        "pca": mmcl.sin_theta_distance(mmcl.pca(data.X, r), data.U1),
    }


CONFIG = mmcl.ExperimentConfig(
    grid={"eta": [1.0, 0.5], "n": [100, 400, 1600]}, replicates=5, seed=3
)


def test_same_seed_same_numbers_and_shapes():
    a = mmcl.run_experiment(trial, CONFIG)
    b = mmcl.run_experiment(trial, CONFIG)
    assert a.values["mmcl"].shape == (2, 3, 5) and a.metrics == ["mmcl", "pca"]
    assert np.array_equal(a.values["mmcl"], b.values["mmcl"]) and np.array_equal(
        a.seeds, b.seeds
    )
    c = mmcl.run_experiment(
        trial, mmcl.ExperimentConfig(grid=CONFIG.grid, replicates=5, seed=4)
    )
    assert not np.allclose(a.values["mmcl"], c.values["mmcl"])
    # a grid point's numbers do not depend on the rest of the grid
    d = mmcl.run_experiment(
        trial,
        mmcl.ExperimentConfig(grid={"eta": [0.5], "n": [400]}, replicates=5, seed=3),
    )
    assert np.array_equal(d.values["pca"][0, 0], a.values["pca"][1, 1])
    assert a.mean("mmcl")[0, 2] == pytest.approx(0.0460, abs=1e-4)


def test_batched_equals_looped():
    res = mmcl.run_experiment(trial, CONFIG)
    for i, eta in enumerate(CONFIG.grid["eta"]):
        for j, n in enumerate(CONFIG.grid["n"]):
            seed = mmcl.point_seed(3, {"eta": eta, "n": n})
            assert seed == res.seeds[i, j]
            data = mmcl.make_multimodal(
                n,
                8,
                6,
                2,
                eta=eta,
                noise=0.5,
                replicates=5,
                seed=torch.Generator().manual_seed(seed),
                dtype=torch.float64,
            )
            for k in range(5):  # one replicate at a time, by hand
                U = mmcl.linear_closed_form(data.X[k], data.Y[k], 2).U
                err = float(mmcl.sin_theta_distance(U, data.U1[k]))
                assert err == pytest.approx(res.values["mmcl"][i, j, k], abs=1e-12)


def test_means_se_and_table():
    res = mmcl.run_experiment(
        trial,
        mmcl.ExperimentConfig(
            grid={"n": [200]}, fixed={"eta": 1.0}, replicates=4, seed=0
        ),
    )
    v = res.values["pca"][0]
    assert res.mean("pca")[0] == pytest.approx(v.mean())
    assert res.se("pca")[0] == pytest.approx(v.std(ddof=1) / 2)
    rows = res.table()
    assert (
        len(rows) == 2
        and rows[0]["n"] == 200
        and rows[0]["metric"] == "mmcl"
        and rows[0]["replicates"] == 4
    )
    text = res.format_table(digits=2)
    assert (
        text.splitlines()[0].split() == ["n", "metric", "mean", "+-", "se"]
        and "pca" in text
    )


def test_config_and_trial_errors():
    with pytest.raises(ValueError, match="grid must be a non-empty mapping"):
        mmcl.ExperimentConfig(grid={})
    with pytest.raises(ValueError, match="non-empty list or tuple"):
        mmcl.ExperimentConfig(grid={"n": []})
    with pytest.raises(ValueError, match="both in grid and in fixed"):
        mmcl.ExperimentConfig(grid={"n": [1]}, fixed={"n": 2})
    with pytest.raises(ValueError, match="replicates must be >= 1"):
        mmcl.ExperimentConfig(grid={"n": [1]}, replicates=0)
    bad = mmcl.ExperimentConfig(grid={"n": [1]}, replicates=3)
    with pytest.raises(ValueError, match=r"shape \(replicates,\)"):
        mmcl.run_experiment(lambda replicates, generator, n: {"x": torch.zeros(2)}, bad)
    with pytest.raises(KeyError, match="unknown metric"):
        mmcl.run_experiment(
            lambda replicates, generator, n: {"x": torch.zeros(3)}, bad
        ).mean("y")


def test_loglog_slope_and_crossover():
    x = np.array([100.0, 400.0, 1600.0, 6400.0])
    assert mmcl.loglog_slope(x, 3 * x**-0.5) == pytest.approx(-0.5, abs=1e-12)
    a = 2.0 * x**-0.5  # falls like n^(-1/2)
    b = np.full(4, 0.05)  # a floor
    # 2 / sqrt(n) = 0.05  <=>  n = 1600, where a == b: the crossing lies at the grid point itself
    assert mmcl.crossover(x, a, b) == pytest.approx(1600.0)
    assert mmcl.crossover(x, a, np.full(4, 0.03)) == pytest.approx(4444.44, rel=1e-4)
    assert math.isnan(mmcl.crossover(x, a, np.full(4, 0.001)))
    assert mmcl.crossover(x, a, np.full(4, 1.0)) == 100.0
    with pytest.raises(ValueError, match="increasing"):
        mmcl.crossover(x[::-1], a, b)
