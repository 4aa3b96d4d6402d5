"""A generated grid of bad (and legitimately converted) inputs over every public entry
point.

Each entry point has one good call (small data, few iterations) and the kind of each
argument. From the kinds the grid derives the mutations: wrong dtypes (integer, bool,
half, complex), NaN and inf, empty and one-row data, wrong shapes, degenerate data (all
zero, rank below r), out-of-range and non-finite scalars, wrong types, unknown names,
other devices. A bad input must end in a ValueError or TypeError whose message names the
argument the user wrote; a legitimate conversion (numpy, nested lists, a non-contiguous
view) must give the same result as the tensor. Extreme but allowed knobs (tau, rho, lr,
scale) must either raise naming the knob or return finite values.

``python tests/test_fuzz.py`` prints the count of each outcome (the before/after of
issue 12).
"""

from __future__ import annotations

import collections
import dataclasses
import re
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from fuzz_grid import (
    _MAT,
    _SIM,
    CUDA,
    ENTRIES,
    LABELS,
    MATCH,
    Entry,
)  # tests/fuzz_grid.py

# Mutations per kind: (tag, value or function of the good value, [names the message may
# use]).
_INT_BAD = [
    ("float", 2.5),
    ("string", "3"),
    ("bool", True),
    ("negative", -1),
    ("none", None),
    ("tensor_float", torch.tensor(2.0)),
]
_BOUNDED = {"r", "n_components", "batch_size", "n_per_class"}  # a maximum exists


def _matrix_bad(good):
    t = good
    out = [
        ("int64", t.round().long()),
        ("bool", t > 0),
        ("float16", t.half()),
        ("complex", t.to(torch.complex64)),
        ("nan", _poke(t, float("nan"))),
        ("inf", _poke(t, float("inf"))),
        ("empty_rows", t[..., :0, :]),
        ("one_dim", t[0]),
        ("string", "abc"),
        ("none", None),
        ("list_of_str", [["a", "b"], ["c", "d"]]),
        ("empty_cols", t[..., :, :0]),
        ("ragged_list", [[1.0, 2.0], [3.0]]),
    ]
    if CUDA:
        out.append(("other_device", t.cuda()))
    return out


def _poke(t, v):
    t = t.clone()
    t.view(-1)[min(3, t.numel() - 1)] = v
    return t


_BAD = {
    "int": _INT_BAD + [("zero", 0)],
    "int0": _INT_BAD,
    "int_or_none": [b for b in _INT_BAD if b[0] != "none"] + [("zero", 0)],
    "pos": [
        ("zero", 0.0),
        ("negative", -1.0),
        ("nan", float("nan")),
        ("inf", float("inf")),
        ("string", "1"),
        ("none", None),
        ("complex", 1 + 1j),
        ("list", [1.0]),
    ],
    "nonneg": [
        ("negative", -1.0),
        ("nan", float("nan")),
        ("inf", float("inf")),
        ("string", "1"),
        ("none", None),
        ("complex", 1 + 1j),
    ],
    "real": [
        ("nan", float("nan")),
        ("inf", float("inf")),
        ("string", "1"),
        ("none", None),
        ("complex", 1 + 1j),
    ],
    "frac": [
        ("above", 1.5),
        ("negative", -0.1),
        ("nan", float("nan")),
        ("string", "0.5"),
        ("none", None),
    ],
    "frac_open": [
        ("zero", 0.0),
        ("above", 1.5),
        ("nan", float("nan")),
        ("string", "0.5"),
        ("none", None),
    ],
    "choice": [("unknown", "bogus"), ("int", 3), ("none", None), ("upper", "CLIP!")],
    "bool": [("string", "yes"), ("int", 2), ("none", None)],
    "seed": [("negative", -1), ("huge", 2**64), ("float", 1.5), ("string", "a")],
    "dtype": [("int64", torch.int64), ("string", "float"), ("half", torch.float16)],
    "device": [("unknown", "tpu"), ("int", 3.5), ("cuda_missing", "cuda:7")],
    "noise": [
        ("negative", -1.0),
        ("nan", float("nan")),
        ("inf", float("inf")),
        ("string", "a"),
        ("wrong_length", np.ones(7)),
    ],
    "cov": [
        ("inf", [[float("inf"), 0.0], [0.0, 1.0]]),
        ("negative", -1.0),
        ("nan", float("nan")),
        ("asym", [[1.0, 0.5], [0.0, 1.0]]),
        ("wrong_shape", np.ones(3)),
    ],
    "options": [("bogus", {"bogus": 1}), ("not_dict", 3)],
    "match": [
        ("float", MATCH.double()),
        ("out_of_range", MATCH + 8),
        ("negative", MATCH - 8),
        ("wrong_shape", MATCH[:5]),
        ("list_str", ["a"] * 8),
        ("duplicate", torch.zeros(8, dtype=torch.long)),
    ],
    "mask": [
        ("float", torch.eye(8)),
        ("one_dim", torch.ones(8, dtype=torch.bool)),
        ("string", "a"),
    ],
    "labels": [
        ("float", LABELS.double()),
        ("negative", LABELS - 1),
        ("two_dim", LABELS[:, None]),
        ("wrong_length", LABELS[:5]),
        ("string", "a"),
    ],
    "labels_free": [
        ("float", LABELS.double()),
        ("negative", LABELS - 1),
        ("two_dim", LABELS[:, None]),
        ("string", "a"),
    ],
    "views": [
        ("unknown", ("xyz",)),
        ("empty", ()),
        ("int", 3),
        ("duplicate", ("mor", "mor")),
    ],
    "path": [("int", 3), ("missing", "/nonexistent/mfeat")],
    "grid": [("empty", {}), ("not_mapping", [1, 2]), ("string_values", {"a": "xy"})],
    "taus": [
        ("nan", [1.0, float("nan")]),
        ("string", "abc"),
        ("zero", [0.0, 1.0]),
        ("empty", []),
    ],
    "vector": [
        ("nan", [1.0, float("nan"), 2.0]),
        ("string", "abc"),
        ("two_dim", [[1.0, 2.0]]),
        ("short", [1.0]),
    ],
}
# the duplicate match is legal for detection_quality and true_pair_mask (it is only a
# truth table); it must be rejected where it indexes a pool (reveal_pairs,
# self_training, paper_recipe)
_LEGAL = {
    ("ExperimentConfig", "seed", "huge"),  # legal values for these entry points
    ("true_pair_mask", "match", "wrong_shape"),  # any (..., N) truth table is fine
    ("MMCL.transform", "Y", "none"),
    ("certified_assignment", "tolerance", "one_dim"),  # broadcasts over the rows
}  # transform(X) alone is the Pipeline form
_DUPLICATE_OK = {"detection_quality", "true_pair_mask", "self_training"}


def _degenerate(entry, name):
    t = entry.good[name]
    zero = torch.zeros_like(t)
    rank1 = t[..., :1] * torch.ones_like(t)  # every column the same: rank 1 < r = 2
    const = torch.ones_like(t)  # zero variance
    if name in entry.variance_args:
        return [("all_zero", zero), ("constant", const), ("one_row", t[..., :1, :])]
    return [
        ("all_zero", zero),
        ("rank_one", rank1),
        ("constant", const),
        ("two_rows", t[..., :2, :]),
        ("one_row", t[..., :1, :]),
    ]


def _shape_bad(entry, name):
    t, which = entry.good[name], entry.shape_args[name]
    return ([("drop_col", t[..., :-1])] if which in ("cols", "both") else []) + (
        [("drop_row", t[..., :-1, :])] if which in ("rows", "both") else []
    )


def _conversions(entry, name):
    t = entry.good[name]
    view = t.T.contiguous().T  # same values, non-contiguous strides
    return [("numpy", t.numpy()), ("list", t.tolist()), ("noncontiguous", view)]


@dataclass
class Case:
    entry: Entry
    arg: str
    tag: str
    value: object
    expect: str  # "error", "equal" or "error_or_finite"

    @property
    def id(self):
        return f"{self.entry.label}-{self.arg}-{self.tag}"


def _cases():
    cases = []
    for e in ENTRIES:
        for name, kind in e.kinds.items():
            if kind in (_MAT, _SIM):
                bad = _matrix_bad(e.good[name])
                if kind == _SIM:
                    bad.append(("not_square", e.good[name][..., :-1]))
                    if e.label not in (
                        "delete_diagonal",
                        "top_eigenvectors",
                    ):  # 1 x 1 is legal
                        bad.append(("one_by_one", e.good[name][..., :1, :1]))
                if name in e.shape_args:
                    bad += _shape_bad(e, name)
                if name in e.rank_args or name in e.variance_args:
                    bad += _degenerate(e, name)
                cases += [
                    Case(e, name, tag, v, "error")
                    for tag, v in bad
                    if (e.label, name, tag) not in _LEGAL
                ]
                cases += [
                    Case(e, name, tag, v, "equal") for tag, v in _conversions(e, name)
                ]
            else:
                extra = [("huge", 10**6)] if name in _BOUNDED else []
                for tag, v in _BAD[kind] + extra:
                    if (
                        kind == "match"
                        and tag == "duplicate"
                        and e.label in _DUPLICATE_OK
                    ):
                        continue
                    if (e.label, name, tag) in _LEGAL:
                        continue
                    cases.append(Case(e, name, tag, v, "error"))
        for name, v in e.extreme.items():
            cases.append(Case(e, name, f"extreme={v:g}", v, "error_or_finite"))
    return cases


CASES = _cases()


def _finite(out) -> bool:
    if isinstance(out, torch.Tensor):
        return not out.is_floating_point() or bool(torch.isfinite(out).all())
    if isinstance(out, (tuple, list)):
        return all(_finite(o) for o in out)
    if isinstance(out, float):
        return np.isfinite(out)
    return True


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(
            torch.allclose(
                a.double(), b.double(), rtol=1e-12, atol=1e-12, equal_nan=True
            )
        )
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return all(
            _same(getattr(a, f.name), getattr(b, f.name))
            for f in dataclasses.fields(a)
            if f.name not in ("history", "iterates")
        )
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _names(arg):
    return {arg} | ({"zx", "zy", "logits", "similarities"} if arg == "s" else set())


_REFS: dict = {}  # the good call's result per entry point, computed once


def outcome(case: Case) -> tuple[str, str]:
    """(outcome, detail): clear | unnamed | crash | silent | nonfinite | equal |
    different."""
    kw = dict(case.entry.good)
    kw[case.arg] = case.value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = case.entry.call(**kw)
    except (ValueError, TypeError) as err:
        if case.expect == "equal":
            return "crash", f"{type(err).__name__}: {err}"
        msg = str(err)
        named = any(
            re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", msg) for n in _names(case.arg)
        )
        return ("clear" if named else "unnamed"), f"{type(err).__name__}: {msg}"
    except Exception as err:  # noqa: BLE001 - the point is to catch what escapes
        return "crash", f"{type(err).__name__}: {err}"
    if case.expect == "equal":
        if case.entry.label not in _REFS:
            _REFS[case.entry.label] = case.entry.call(**case.entry.good)
        ref = _REFS[case.entry.label]
        try:
            return ("equal" if _same(out, ref) else "different"), ""
        except Exception as err:  # noqa: BLE001
            return "different", f"{type(err).__name__}: {err}"
    if not _finite(out):
        return "nonfinite", "returned NaN or inf"
    if case.expect == "error_or_finite":
        return "finite", ""
    return "silent", "accepted without an error"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz(case):
    result, detail = outcome(case)
    assert result in ("clear", "equal", "finite"), f"{result}: {detail}"


def test_grid_is_large():
    assert len(CASES) >= 1000, len(CASES)


def main(argv):
    counts = collections.Counter()
    examples = collections.defaultdict(list)
    slow = []
    for case in CASES:
        t0 = time.perf_counter()
        result, detail = outcome(case)
        slow.append((time.perf_counter() - t0, case.id))
        counts[result] += 1
        examples[result].append(f"{case.id}: {detail[:160]}")
    print(f"{len(CASES)} cases:", dict(sorted(counts.items())))
    print("slowest:", [(round(t, 2), i) for t, i in sorted(slow)[-5:]])
    if "-v" in argv:
        for result, lines in sorted(examples.items()):
            if result in ("clear", "equal", "finite"):
                continue
            print(f"\n== {result} ({len(lines)})")
            print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv)
