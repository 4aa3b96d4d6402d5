"""The unpaired-data tables of chapter 4: tidy rows, their JSON files, the chapter's
queries, and the numbers the paper published.

A table is a list of row dicts with keys regime, method, N, quantity, round, replicate,
value (:func:`tidy_rows`, as :func:`mmcl.experiments.unpaired_runs.run_grid` makes
them); :func:`save_table` / :func:`load_table` write and read it as compact JSON
(``book/data/``), and :func:`table_values`, :func:`table_matrix`, :func:`gap_closed`
select from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import torch

__all__ = [
    "tidy_rows",
    "save_table",
    "load_table",
    "table_values",
    "table_matrix",
    "gap_closed",
    "PUBLISHED_SEC51",
]


def tidy_rows(regime: str, method: str, N: int, values: dict) -> list[dict]:
    """Tidy rows of one method's results at pool size N: one per (quantity, round,
    replicate).

    Parameters
    ----------
    regime : str
        The experiment's name (a column of the table).
    method : str
        The method's name.
    N : int
        The pool size.
    values : dict
        Quantity name -> tensor of shape (R,) or (rounds, R).

    Returns
    -------
    list of dict
        Rows with keys regime, method, N, quantity, round, replicate, value (rounded to
        6 digits).
    """
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


def save_table(path, rows: list[dict], meta: dict) -> None:
    """Write rows (column-wise, compact) and metadata to a JSON file.

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON file.
    rows : list of dict
        A tidy table.
    meta : dict
        Metadata (``settings``: a list of UnpairedSetting).
    """
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
    """Read a table written by :func:`save_table`: (rows, meta).

    Parameters
    ----------
    path : str or pathlib.Path
        The JSON file.

    Returns
    -------
    tuple
        (rows, meta).
    """
    with open(path) as f:
        blob = json.load(f)
    return [dict(zip(blob["columns"], r)) for r in blob["rows"]], blob["meta"]


def table_values(rows, **where) -> torch.Tensor:
    """Values of the rows matching ``where`` (e.g. method=..., N=..., quantity=...,
    round=...), ordered by replicate, as a float64 tensor.

    Parameters
    ----------
    rows : list of dict
        A tidy table.
    **where
        Column name -> required value.

    Returns
    -------
    torch.Tensor
        Float64 tensor of shape (replicates,).
    """
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
    """Values of the matching rows as a (replicates, len(Ns)) tensor (plot_mean_se).

    Parameters
    ----------
    rows : list of dict
        A tidy table.
    Ns : sequence of int
        The pool sizes (columns).
    **where
        Column name -> required value.

    Returns
    -------
    torch.Tensor
        Tensor of shape (replicates, len(Ns)).
    """
    return torch.stack([table_values(rows, N=N, **where) for N in Ns], dim=1)


def gap_closed(
    rows, Ns, method: str, *, before: dict, after: dict, oracle: dict
) -> torch.Tensor:
    """Fraction of the paired-to-oracle gap closed, (mean after - mean before) / (mean
    oracle - mean before), per N; ``before``/``after``/``oracle`` are ``where`` filters
    (quantity, round...).

    Parameters
    ----------
    rows : list of dict
        A tidy table.
    Ns : sequence of int
        The pool sizes.
    method : str
        The method whose gap is measured.
    before : dict
        The filter of the paired-only values.
    after : dict
        The filter of the values after using the pools.
    oracle : dict
        The filter of the oracle's values.

    Returns
    -------
    torch.Tensor
        Tensor of shape (len(Ns),).
    """

    def mean(flt, N):
        return table_values(rows, N=N, **flt).mean()

    out = []
    for N in Ns:
        b = mean({"method": method, **before}, N)
        out.append((mean({"method": method, **after}, N) - b) / (mean(oracle, N) - b))
    return torch.stack(out)
