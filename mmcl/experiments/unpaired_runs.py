"""The unpaired-data experiments of chapter 4 (paper section 5.1 and harder regimes):
settings and runs.

A :class:`UnpairedSetting` fixes the data (n, d1, d2, r, noise, test pairs, replicates,
seed); for a pool size N, :func:`run_spectral` and :func:`run_recipe` draw the
replicates in one batched call and return test retrieval accuracies (and detection
quality) per replicate. :func:`run_grid` loops over pool sizes and methods and returns
one tidy table (a list of row dicts); the tables, their JSON files and the queries the
chapter makes of them are in :mod:`mmcl.experiments.unpaired_tables`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import torch

from .._validation import check_int, check_real
from ..data import make_multimodal
from ..metrics import retrieval_accuracy
from ..unpaired.recipe import paper_recipe
from ..unpaired.self_training import (
    fit_pairs,
    representation_accuracy,
    reveal_pairs,
    self_training,
)
from .unpaired_tables import tidy_rows

__all__ = [
    "UnpairedSetting",
    "draw_setting",
    "run_spectral",
    "spectral_grid",
    "run_recipe",
    "run_grid",
]


@dataclass(frozen=True)
class UnpairedSetting:
    """The data of one experiment; the defaults are the paper's section 5.1 protocol."""

    n: int = 300
    d1: int = 40
    d2: int = 39
    r: int = 10
    noise: float = 0.3
    n_test: int = 10_000
    replicates: int = 10
    seed: int = 0

    def __post_init__(self):
        for name in ("n", "d1", "d2", "r", "n_test", "replicates"):
            check_int(getattr(self, name), name)
        check_real(self.noise, "noise", low=0.0)
        check_int(self.seed, "seed", low=0)


def draw_setting(setting: UnpairedSetting, N: int, dtype=torch.float32):
    """The replicates for pool size N (seeded by the setting's seed and N; fresh U1, U2
    each).

    Parameters
    ----------
    setting : UnpairedSetting
        The data of the experiment.
    N : int
        The pool size.
    dtype : torch.dtype, default=torch.float32
        The dtype of the data.

    Returns
    -------
    MultimodalSample
    """
    N = check_int(N, "N", low=1)
    return make_multimodal(
        setting.n,
        setting.d1,
        setting.d2,
        setting.r,
        noise=setting.noise,
        n_unpaired=N,
        n_test=setting.n_test,
        replicates=setting.replicates,
        seed=setting.seed * 1_000_003 + N,
        dtype=dtype,
    )


def _oracles(data, r):
    """Linear closed form on the n pairs plus the N true pairs of the pool; and the true
    U1, U2."""
    Xo, Yo = reveal_pairs(data.X_unpaired, data.Y_unpaired, data.unpaired_match)
    G1, G2 = fit_pairs(torch.cat([data.X, Xo], -2), torch.cat([data.Y, Yo], -2), r)
    return {
        "oracle": representation_accuracy(G1, G2, data.X_test, data.Y_test),
        "oracle_U": retrieval_accuracy(
            data.X_test @ data.U1, data.Y_test @ data.U2, chunk=256
        ),
    }


def run_spectral(
    setting: UnpairedSetting,
    N: int,
    *,
    solver: str = "linear",
    detector: str = "mutual",
    rounds: int = 2,
    threshold: float = 0.1,
    oracles: bool = True,
) -> dict[str, torch.Tensor]:
    """Self-training with a spectral solver: accuracy per round and detection quality.

    Returns ``accuracy`` (rounds + 1, R) (row 0: pairs only), ``precision``, ``recall``
    and ``n_detected`` (rounds, R), and with ``oracles`` also ``oracle`` and
    ``oracle_U`` (R,).

    Parameters
    ----------
    setting : UnpairedSetting
        The data of the experiment.
    N : int
        The pool size.
    solver : {"linear", "clip"}, default="linear"
        The spectral solver.
    detector : str, default="mutual"
        One of ``DETECTORS``.
    rounds : int, default=2
        Detect-and-refit rounds.
    threshold : float, default=0.1
        The margin of the "threshold" detector.
    oracles : bool, default=True
        Also compute the oracles.

    Returns
    -------
    dict
        Quantity name -> tensor (see above).
    """
    data = draw_setting(
        setting, N, torch.float64 if solver == "linear" else torch.float32
    )
    res = self_training(
        data.X,
        data.Y,
        data.X_unpaired,
        data.Y_unpaired,
        setting.r,
        solver=solver,
        detector=detector,
        rounds=rounds,
        threshold=threshold,
        match=data.unpaired_match,
    )
    acc = torch.stack(
        [
            representation_accuracy(G1, G2, data.X_test, data.Y_test)
            for G1, G2 in res.rounds
        ]
    )
    out = {"accuracy": acc, **res.quality}
    if oracles:
        out.update(_oracles(data, setting.r))
    return out


def run_recipe(
    setting: UnpairedSetting, Ns, *, seed: int = 0, **recipe
) -> dict[int, dict]:
    """The paper's gradient recipe for every pool size in ``Ns`` at once (pools padded,
    trained in one batch): {N: {"paired": (R,), "unpaired": (R,),
    "precision_last_epoch": (R,)}}.

    ``recipe`` passes on to :func:`mmcl.unpaired.recipe.paper_recipe` (blocks,
    positives, epochs, batch_size...).

    Parameters
    ----------
    setting : UnpairedSetting
        The data of the experiment.
    Ns : sequence of int
        The pool sizes.
    seed : int, default=0
        The initialisation of the recipe.
    **recipe
        Passed on to :func:`mmcl.unpaired.recipe.paper_recipe`.

    Returns
    -------
    dict
        N -> dict of tensors of shape (R,).
    """
    Ns = [check_int(N, "N") for N in Ns]
    draws = [draw_setting(setting, N) for N in Ns]
    top = max(Ns)

    def pad(t, fill=0.0):
        return torch.cat(
            [
                t,
                torch.full(
                    (*t.shape[:-2], top - t.shape[-2], t.shape[-1]), fill, dtype=t.dtype
                ),
            ],
            -2,
        )

    def stack(name):
        return torch.stack([getattr(d, name) for d in draws])

    match = torch.stack(
        [
            torch.cat(
                [
                    d.unpaired_match,
                    torch.arange(d.unpaired_match.shape[-1], top).expand(
                        setting.replicates, -1
                    ),
                ],
                -1,
            )
            for d in draws
        ]
    )
    res = paper_recipe(
        stack("X"),
        stack("Y"),
        torch.stack([pad(d.X_unpaired) for d in draws]),
        torch.stack([pad(d.Y_unpaired) for d in draws]),
        setting.r,
        match=match,
        pool_sizes=torch.tensor(Ns).unsqueeze(-1).expand(-1, setting.replicates),
        seed=seed,
        **recipe,
    )
    out = {}
    for k, (N, d) in enumerate(zip(Ns, draws)):
        out[N] = {
            "paired": representation_accuracy(
                res.G1_paired[k], res.G2_paired[k], d.X_test, d.Y_test
            ),
            "unpaired": representation_accuracy(
                res.G1[k], res.G2[k], d.X_test, d.Y_test
            ),
        }
        if res.precision.numel():
            out[N]["precision_last_epoch"] = res.precision[-1, k]
    return out


def spectral_grid(setting: UnpairedSetting, Ns, **kw) -> dict[int, dict]:
    """:func:`run_spectral` for every pool size in ``Ns``: {N: results}.

    Parameters
    ----------
    setting : UnpairedSetting
        The data of the experiment.
    Ns : sequence of int
        The pool sizes.
    **kw
        Passed on to :func:`run_spectral`.

    Returns
    -------
    dict
        N -> results of :func:`run_spectral`.
    """
    return {N: run_spectral(setting, N, **kw) for N in Ns}


def run_grid(
    regime: str, setting: UnpairedSetting, Ns, methods: dict, *, progress: bool = True
) -> list[dict]:
    """Run ``methods`` (name -> callable(setting, Ns) -> {N: dict of tensors}) on the
    pool sizes Ns.

    Returns a tidy table: a list of dicts with keys regime, method, N, quantity, round,
    replicate, value. ``progress`` prints one line per method with its time to stderr.

    Parameters
    ----------
    regime : str
        The experiment's name.
    setting : UnpairedSetting
        The data of the experiment.
    Ns : sequence of int
        The pool sizes.
    methods : dict
        Name -> callable(setting, Ns) returning N -> dict of tensors.
    progress : bool, default=True
        Print one line per method to stderr.

    Returns
    -------
    list of dict
        The tidy rows.
    """
    rows = []
    for name, fn in methods.items():
        t0 = time.perf_counter()
        for N, values in fn(setting, list(Ns)).items():
            rows += tidy_rows(regime, name, N, values)
        if progress:
            print(
                f"{regime:>6} {name:<20} N={list(Ns)} {time.perf_counter() - t0:6.1f} "
                "s",
                file=sys.stderr,
            )
    return rows
