"""The experiment runner of chapters 3 and 5: a parameter grid times replicates,
batched, seeded, tabulated.

A *trial* is a function ``trial(replicates, generator, **params)`` that runs
``replicates`` independent repetitions at one grid point *at once* (as a leading tensor
dimension, e.g. ``mmcl.make_multimodal(..., replicates=replicates, seed=generator)``)
and returns a dict of metrics, each of shape ``(replicates,)``. :func:`run_experiment`
calls it once per grid point with a ``torch.Generator`` seeded from the base seed and
the point's parameter values (so a point gives the same numbers whatever grid surrounds
it) and collects plain numpy arrays::

    grid = {"eta": [1.0, 0.5], "n": [500, 1000]}
    config = ExperimentConfig(grid=grid, replicates=20, seed=0)
    result = run_experiment(trial, config)
    result.values["error"].shape        # (2, 2, 20): grid shape, then replicates
    result.mean("error"), result.se("error")
    print(result.format_table())        # tidy: one row per grid point and metric

Two helpers read the arrays: :func:`loglog_slope` and :func:`crossover`.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import check_int
from ..sampling import make_generator

__all__ = [
    "ExperimentConfig",
    "ExperimentResult",
    "run_experiment",
    "point_seed",
    "mean_and_se",
    "loglog_slope",
    "crossover",
]


def mean_and_se(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error of the mean over replicates (``axis``); the error is 0
    with one replicate.

    Parameters
    ----------
    values : array_like or torch.Tensor
        The replicates along ``axis``.
    axis : int, default=0
        The replicate axis.

    Returns
    -------
    tuple of numpy.ndarray
        (mean, standard error), each of the shape of ``values`` without ``axis``.
    """
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    v = np.asarray(values, dtype=float)
    k = v.shape[axis]
    se = (
        v.std(axis=axis, ddof=1) / np.sqrt(k)
        if k > 1
        else np.zeros_like(v.mean(axis=axis))
    )
    return v.mean(axis=axis), se


@dataclass(frozen=True)
class ExperimentConfig:
    """What to run.

    Parameters
    ----------
    grid : mapping
        Parameter name -> sequence of values to vary; every combination runs (cartesian
        product, first name slowest).
    replicates : int, default=20
        Independent repetitions per grid point (batched by the trial).
    seed : int, default=0
        The base seed; each grid point gets :func:`point_seed` (seed, point).
    fixed : mapping, default={}
        Keyword arguments passed unchanged to every trial call.
    progress : bool, default=False
        Show a tqdm progress bar over the grid points.
    """

    grid: Mapping[str, Sequence]
    replicates: int = 20
    seed: int = 0
    fixed: Mapping[str, object] = field(default_factory=dict)
    progress: bool = False

    def __post_init__(self):
        if not isinstance(self.grid, Mapping) or not self.grid:
            raise ValueError(
                "grid must be a non-empty mapping of parameter name -> sequence of "
                "values"
            )
        for name, values in self.grid.items():
            if (
                isinstance(values, (str, bytes))
                or not isinstance(values, Sequence)
                or len(values) == 0
            ):
                raise ValueError(
                    f"grid[{name!r}] must be a non-empty list or tuple of values, got "
                    f"{values!r}"
                )
        check_int(self.replicates, "replicates")
        check_int(self.seed, "seed", low=0)
        clash = set(self.grid) & set(self.fixed)
        if clash:
            raise ValueError(
                f"parameters {sorted(clash)} are both in grid and in fixed"
            )


@dataclass
class ExperimentResult:
    """What came out: plain numpy arrays indexed by the grid.

    Attributes
    ----------
    grid : dict
        Parameter name -> list of its values, in the config's order.
    values : dict
        Metric name -> numpy array of shape ``(*grid_shape, replicates)``.
    seeds : numpy.ndarray
        Array of shape ``(*grid_shape,)``: the seed each grid point used.
    seconds : float
        The wall-clock time of the whole run.
    """

    grid: dict
    values: dict
    seeds: np.ndarray
    seconds: float

    @property
    def metrics(self) -> list[str]:
        """The metric names, in the order the trial returned them."""
        return list(self.values)

    def _get(self, metric: str) -> np.ndarray:
        if metric not in self.values:
            raise KeyError(
                f"unknown metric {metric!r}; the trial returned {self.metrics}"
            )
        return self.values[metric]

    def mean(self, metric: str) -> np.ndarray:
        """Mean over replicates, shape grid_shape."""
        return mean_and_se(self._get(metric), -1)[0]

    def se(self, metric: str) -> np.ndarray:
        """Standard error of the mean over replicates (0 with one replicate), shape
        grid_shape."""
        return mean_and_se(self._get(metric), -1)[1]

    def table(self, metrics: Sequence[str] | None = None) -> list[dict]:
        """Tidy rows: one dict per grid point and metric, with the parameters,
        ``metric``, ``mean``, ``se`` and ``replicates``."""
        rows, names, ms = [], list(self.grid), list(metrics or self.metrics)
        means, ses = {m: self.mean(m) for m in ms}, {m: self.se(m) for m in ms}
        k = next(iter(self.values.values())).shape[-1]
        for idx in itertools.product(*(range(len(v)) for v in self.grid.values())):
            point = {n: self.grid[n][i] for n, i in zip(names, idx)}
            rows += [
                {
                    **point,
                    "metric": m,
                    "mean": float(means[m][idx]),
                    "se": float(ses[m][idx]),
                    "replicates": k,
                }
                for m in ms
            ]
        return rows

    def format_table(
        self, metrics: Sequence[str] | None = None, digits: int = 3
    ) -> str:
        """The tidy table as aligned text (``mean +- se`` rounded to ``digits``)."""
        rows = self.table(metrics)
        head = list(self.grid) + ["metric", "mean +- se"]
        body = [
            [f"{r[n]:g}" if isinstance(r[n], float) else str(r[n]) for n in self.grid]
            + [r["metric"], f"{r['mean']:.{digits}f} +- {r['se']:.{digits}f}"]
            for r in rows
        ]
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        return "\n".join(
            "  ".join(x.ljust(w) for x, w in zip(line, widths)).rstrip()
            for line in [head] + body
        )


def point_seed(seed: int, point: Mapping[str, object]) -> int:
    """A reproducible 63-bit seed from a base seed and a grid point's parameters.

    Parameters
    ----------
    seed : int
        The base seed.
    point : mapping
        Parameter name -> value at the grid point.

    Returns
    -------
    int
    """
    key = repr((int(seed), sorted((str(k), repr(v)) for k, v in point.items())))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little") >> 1


def _as_numpy(name: str, value, replicates: int) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().double().numpy()
    arr = np.asarray(value, dtype=float)
    if arr.shape != (replicates,):
        raise ValueError(
            f"metric {name!r} must have shape (replicates,) = ({replicates},), "
            f"got {arr.shape}"
        )
    return arr


def run_experiment(
    trial: Callable[..., Mapping], config: ExperimentConfig
) -> ExperimentResult:
    """Run ``trial(replicates, generator, **point, **fixed)`` at every grid point.

    Parameters
    ----------
    trial : callable
        Returns a mapping metric name -> tensor or array of shape (replicates,), with
        the same metric names at every grid point.
    config : ExperimentConfig
        What to run.

    Returns
    -------
    ExperimentResult
        With ``values[metric]`` of shape ``(*grid_shape, replicates)``.
    """
    if not callable(trial):
        raise TypeError(
            "trial must be a callable trial(replicates, generator, **params)"
        )
    if not isinstance(config, ExperimentConfig):
        raise TypeError(
            f"config must be an ExperimentConfig, got {type(config).__name__}"
        )
    names = list(config.grid)
    shape = tuple(len(v) for v in config.grid.values())
    seeds = np.zeros(shape, dtype=np.int64)
    values: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    points = list(itertools.product(*(range(n) for n in shape)))
    for idx in tqdm(points, disable=not config.progress, desc="grid points"):
        point = {n: config.grid[n][i] for n, i in zip(names, idx)}
        seeds[idx] = point_seed(config.seed, point)
        out = trial(
            config.replicates, make_generator(int(seeds[idx])), **point, **config.fixed
        )
        if not isinstance(out, Mapping) or not out:
            raise TypeError(
                "trial must return a non-empty mapping metric name -> values"
            )
        if values and list(out) != list(values):
            raise ValueError(
                f"trial returned metrics {list(out)} at {point}, earlier {list(values)}"
            )
        for m, v in out.items():
            if m not in values:
                values[m] = np.full(shape + (config.replicates,), np.nan)
            values[m][idx] = _as_numpy(m, v, config.replicates)
    grid = {n: list(v) for n, v in config.grid.items()}
    return ExperimentResult(grid, values, seeds, time.perf_counter() - t0)


def _as_float_array(value, name: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"{name} must be a sequence of real numbers, got {value!r}"
        ) from err


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x (positive x, y): the exponent a of y ~
    x^a.

    Parameters
    ----------
    x : array_like
        Positive values, shape (k,), k >= 2.
    y : array_like
        Positive values, shape (k,).

    Returns
    -------
    float
    """
    x, y = _as_float_array(x, "x"), _as_float_array(y, "y")
    if x.shape != y.shape or x.ndim != 1 or x.size < 2:
        raise ValueError(
            f"x and y must be 1-d of the same length >= 2, got {x.shape} and {y.shape}"
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite (no NaN or inf)")
    if (x <= 0).any() or (y <= 0).any():
        raise ValueError("x and y must be positive for a log-log fit")
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def crossover(x, a, b, *, log: bool = True) -> float:
    """The smallest x from which ``a < b`` holds at every larger grid point: the root of
    a - b interpolated linearly (in log x and log of the values when ``log``) between
    the last grid point where a >= b and the next. Returns x[0] if a < b everywhere and
    nan if not at x[-1].

    Parameters
    ----------
    x : array_like
        Increasing grid values, shape (k,).
    a : array_like
        The first curve, shape (k,).
    b : array_like
        The second curve, shape (k,).
    log : bool, default=True
        Interpolate in log x and log values.

    Returns
    -------
    float
    """
    x, a, b = (_as_float_array(v, name) for v, name in ((x, "x"), (a, "a"), (b, "b")))
    if not (x.shape == a.shape == b.shape) or x.ndim != 1 or x.size < 1:
        raise ValueError(
            f"x, a and b must be 1-d of one length, got {x.shape}, {a.shape}, {b.shape}"
        )
    for name, v in (("x", x), ("a", a), ("b", b)):
        if not np.isfinite(v).all():
            raise ValueError(f"{name} must be finite (no NaN or inf)")
    if not (np.diff(x) > 0).all():
        raise ValueError("x must be increasing")
    wins = a < b
    if not wins[-1]:
        return float("nan")
    losing = np.flatnonzero(~wins)
    if losing.size == 0:
        return float(x[0])
    k = int(losing[-1])
    f = (lambda v: np.log(v)) if log else (lambda v: v)
    gap0, gap1 = f(a[k]) - f(b[k]), f(a[k + 1]) - f(b[k + 1])
    t = gap0 / (gap0 - gap1)
    xs = f(x[k]) + t * (f(x[k + 1]) - f(x[k]))
    return float(np.exp(xs) if log else xs)
