"""The unpaired-data experiments (paper section 5.1 and harder regimes) as plain numbers.

A :class:`UnpairedSetting` fixes the data (n, d1, d2, r, noise, test pairs, replicates, seed); for a
pool size N, :func:`run_spectral` and :func:`run_recipe` draw the replicates in one batched call and
return test retrieval accuracies (and detection quality) per replicate. :func:`run_grid` loops
over pool sizes and methods and returns one tidy table (a list of row dicts) that
:func:`save_table` / :func:`load_table` write to and read from small JSON files.

This is the minimal runner the chapter needs; it does not depend on another chapter's runner.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass

import torch

from ._validation import check_int, check_real
from .data import make_multimodal
from .metrics import retrieval_accuracy
from .recipe import paper_recipe
from .unpaired import fit_pairs, representation_accuracy, reveal_pairs, self_training

__all__ = [
    "UnpairedSetting",
    "draw_setting",
    "run_spectral",
    "spectral_grid",
    "run_recipe",
    "run_grid",
    "save_table",
    "load_table",
    "table_values",
    "table_matrix",
    "gap_closed",
    "PUBLISHED_SEC51",
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
    """The replicates for pool size N (seeded by the setting's seed and N; fresh U1, U2 each)."""
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
    """Linear closed form on the n pairs plus the N true pairs of the pool; and the true U1, U2."""
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

    Returns ``accuracy`` (rounds + 1, R) (row 0: pairs only), ``precision``, ``recall`` and
    ``n_detected`` (rounds, R), and with ``oracles`` also ``oracle`` and ``oracle_U`` (R,).
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
    """The paper's gradient recipe for every pool size in ``Ns`` at once (pools padded, trained in
    one batch): {N: {"paired": (R,), "unpaired": (R,), "precision_last_epoch": (R,)}}.

    ``recipe`` passes on to :func:`mmcl.recipe.paper_recipe` (blocks, positives, epochs, batch_size...)."""
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
    """:func:`run_spectral` for every pool size in ``Ns``: {N: results}."""
    return {N: run_spectral(setting, N, **kw) for N in Ns}


def _rows(regime, method, N, values):
    """Tidy rows: one per (quantity, round, replicate)."""
    rows = []
    for name, v in values.items():
        v = v.detach().double().cpu()
        v = v.unsqueeze(0) if v.ndim == 1 else v
        for t, per_rep in enumerate(v):
            for k, x in enumerate(per_rep.tolist()):
                rows.append(
                    {
                        "regime": regime,
                        "method": method,
                        "N": int(N),
                        "quantity": name,
                        "round": t,
                        "replicate": k,
                        "value": round(float(x), 6),
                    }
                )
    return rows


def run_grid(
    regime: str, setting: UnpairedSetting, Ns, methods: dict, *, progress: bool = True
) -> list[dict]:
    """Run ``methods`` (name -> callable(setting, Ns) -> {N: dict of tensors}) on the pool sizes Ns.

    Returns a tidy table: a list of dicts with keys regime, method, N, quantity, round, replicate,
    value. ``progress`` prints one line per method with its time to stderr.
    """
    rows = []
    for name, fn in methods.items():
        t0 = time.perf_counter()
        for N, values in fn(setting, list(Ns)).items():
            rows += _rows(regime, name, N, values)
        if progress:
            print(
                f"{regime:>6} {name:<20} N={list(Ns)} {time.perf_counter() - t0:6.1f} s",
                file=sys.stderr,
            )
    return rows


def save_table(path, rows: list[dict], meta: dict) -> None:
    """Write rows (column-wise, compact) and metadata to a JSON file."""
    cols = list(rows[0])
    meta = {
        k: ([asdict(s) for s in v] if k == "settings" else v) for k, v in meta.items()
    }
    with open(path, "w") as f:
        json.dump(
            {
                "meta": meta,
                "columns": cols,
                "rows": [[r[c] for c in cols] for r in rows],
            },
            f,
            separators=(",", ":"),
        )


def load_table(path) -> tuple[list[dict], dict]:
    """Read a table written by :func:`save_table`: (rows, meta)."""
    with open(path) as f:
        blob = json.load(f)
    return [dict(zip(blob["columns"], r)) for r in blob["rows"]], blob["meta"]


def table_values(rows, **where) -> torch.Tensor:
    """Values of the rows matching ``where`` (e.g. method=..., N=..., quantity=..., round=...),
    ordered by replicate, as a float64 tensor."""
    sel = [r for r in rows if all(r[k] == v for k, v in where.items())]
    sel.sort(key=lambda r: r["replicate"])
    return torch.tensor([r["value"] for r in sel], dtype=torch.float64)


#: The paper's section 5.1 (one run per N, read from the authors' public notebook):
#: N -> (test accuracy after the paired stage, after the unpaired stage).
PUBLISHED_SEC51 = {
    500: (0.388, 0.448),
    1000: (0.391, 0.521),
    1500: (0.422, 0.567),
    2000: (0.432, 0.576),
    2500: (0.433, 0.592),
    3000: (0.378, 0.586),
    3500: (0.379, 0.596),
    4000: (0.373, 0.601),
    4500: (0.375, 0.594),
    5000: (0.416, 0.596),
}


def table_matrix(rows, Ns, **where) -> torch.Tensor:
    """Values of the matching rows as a (replicates, len(Ns)) tensor (for plot_mean_se)."""
    return torch.stack([table_values(rows, N=N, **where) for N in Ns], dim=1)


def gap_closed(
    rows, Ns, method: str, *, before: dict, after: dict, oracle: dict
) -> torch.Tensor:
    """Fraction of the paired-to-oracle gap closed, (mean after - mean before) / (mean oracle -
    mean before), per N; ``before``/``after``/``oracle`` are ``where`` filters (quantity, round...)."""

    def mean(flt, N):
        return table_values(rows, N=N, **flt).mean()

    out = []
    for N in Ns:
        b = mean({"method": method, **before}, N)
        out.append((mean({"method": method, **after}, N) - b) / (mean(oracle, N) - b))
    return torch.stack(out)
