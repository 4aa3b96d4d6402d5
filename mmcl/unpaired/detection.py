"""Pair detection in unpaired pools (book chapter on unpaired data).

Given a representation (G1, G2) and two pools X_u (N, d1), Y_u (N', d2) whose pairing is
hidden, score every cross-modal candidate by its cosine similarity and declare some
candidates pairs:

* ``"topm"``, the paper's rule: the m largest entries of the m x m' block
  (m = min(N, N')), not forced to one per row or column;
* ``"mutual"``, mutual nearest neighbours: j is i's best match and i is j's best match;
* ``"assignment"``, the optimal one-to-one assignment maximising total similarity
  (``scipy.optimize.linear_sum_assignment``);
* ``"threshold"``, i's best match, kept only if it beats i's second best by at least
  ``threshold`` (a confidence margin).

Every detector returns a boolean mask (..., N, N') of detected pairs;
``detection_quality`` scores it against the hidden truth (precision: detected pairs that
are true; recall: true pairs detected).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from .._validation import (
    check_bool,
    check_choice,
    check_index,
    check_int,
    check_matrix,
    check_real,
    check_same_device,
)
from ..losses import cross_similarities

__all__ = [
    "DETECTORS",
    "pool_similarities",
    "detect_pairs",
    "detected_indices",
    "detection_quality",
    "true_pair_mask",
]

#: The pair detectors of :func:`detect_pairs` (see the module docstring).
DETECTORS = ("topm", "mutual", "assignment", "threshold")


def pool_similarities(
    G1, G2, X_unpaired, Y_unpaired, *, normalize: bool = True
) -> torch.Tensor:
    """Cosine (or inner-product) similarities <G1 x_i, G2 y_j> of two pools, shape (...,
    N, N').

    G1 (..., r, d1), G2 (..., r, d2); X_unpaired (..., N, d1), Y_unpaired (..., N', d2).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    X_unpaired : torch.Tensor
        Tensor of shape (..., N, d1).
    Y_unpaired : torch.Tensor
        Tensor of shape (..., N', d2).
    normalize : bool, default=True
        Cosine similarities instead of inner products.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., N, N').
    """
    Xu = check_matrix(X_unpaired, "X_unpaired")
    Yu = check_matrix(Y_unpaired, "Y_unpaired")
    G1, G2 = check_matrix(G1, "G1"), check_matrix(G2, "G2")
    check_same_device(X_unpaired=Xu, Y_unpaired=Yu, G1=G1, G2=G2)
    if (
        G1.shape[-1] != Xu.shape[-1]
        or G2.shape[-1] != Yu.shape[-1]
        or G1.shape[-2] != G2.shape[-2]
    ):
        raise ValueError(
            f"G1 must be (r, d1) and G2 (r, d2) with d1 = {Xu.shape[-1]} the columns "
            "of "
            f"X_unpaired and d2 = {Yu.shape[-1]} those of Y_unpaired; got G1 "
            f"{tuple(G1.shape)} and G2 {tuple(G2.shape)}"
        )
    normalize = check_bool(normalize, "normalize")
    return cross_similarities(G1, G2, Xu, Yu, normalize=normalize)


def _check_scores(S) -> torch.Tensor:
    S = check_matrix(S, "S", min_rows=1)
    if S.shape[-2] > S.shape[-1]:
        raise ValueError(
            "S must have at most as many rows as columns (N <= N'), got shape "
            f"{tuple(S.shape)}; "
            "pass S.transpose(-1, -2)"
        )
    return S


def _topm(S):
    m = S.shape[-2]
    flat = S.flatten(-2)
    idx = flat.topk(m, dim=-1).indices
    return (
        torch.zeros_like(flat, dtype=torch.bool).scatter_(-1, idx, True).view(S.shape)
    )


def _mutual(S):
    row_best = S.argmax(-1, keepdim=True)  # (..., N, 1)
    col_best = S.argmax(-2, keepdim=True)  # (..., 1, N')
    rows = torch.arange(S.shape[-2], device=S.device).view(-1, 1)
    best_of_row = torch.zeros_like(S, dtype=torch.bool).scatter_(-1, row_best, True)
    return best_of_row & (col_best == rows)


def _assignment(S):
    flat = S.detach().reshape(-1, *S.shape[-2:]).to("cpu", torch.float64).numpy()
    mask = np.zeros(flat.shape, dtype=bool)
    for b, block in enumerate(flat):  # scipy solves one matrix at a time
        rows, cols = linear_sum_assignment(block, maximize=True)
        mask[b, rows, cols] = True
    return torch.from_numpy(mask).view(S.shape).to(S.device)


def _threshold(S, margin):
    top2 = S.topk(2, dim=-1)
    keep = (top2.values[..., 0] - top2.values[..., 1]) >= margin  # (..., N)
    best = torch.zeros_like(S, dtype=torch.bool).scatter_(
        -1, top2.indices[..., :1], True
    )
    return best & keep.unsqueeze(-1)


def detect_pairs(S, method: str = "mutual", *, threshold: float = 0.1) -> torch.Tensor:
    """Detected pairs as a boolean mask of the same shape as the similarity matrix S
    (..., N, N').

    Parameters
    ----------
    S : torch.Tensor
        Tensor of shape (..., N, N'): similarities with N <= N' (see
        :func:`pool_similarities`).
    method : str, default="mutual"
        One of ``DETECTORS`` (see the module docstring).
    threshold : float, default=0.1
        The margin (>= 0) of ``"threshold"`` (ignored otherwise).

    Returns
    -------
    torch.Tensor
        Boolean tensor of shape (..., N, N'): the detected pairs.
    """
    S = _check_scores(S)
    check_choice(method, "method", DETECTORS)
    threshold = check_real(threshold, "threshold", low=0.0)  # checked for every method
    if method == "topm":
        return _topm(S)
    if method == "mutual":
        return _mutual(S)
    if method == "assignment":
        return _assignment(S)
    if method == "threshold":
        if S.shape[-1] < 2:
            raise ValueError("the threshold detector needs at least 2 columns in S")
        return _threshold(S, check_real(threshold, "threshold", low=0.0))
    raise ValueError(f"method must be one of {DETECTORS}, got {method!r}")


def detected_indices(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices (k,), (k,) of the detected pairs of one (N, N') mask.

    Parameters
    ----------
    mask : torch.Tensor
        Boolean tensor of shape (N, N').

    Returns
    -------
    tuple of torch.Tensor
        Long row and column indices, each of shape (k,).
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim != 2:
        raise ValueError(
            "mask must be a boolean tensor of shape (N, N') (one replicate)"
        )
    i, j = mask.nonzero(as_tuple=True)
    return i, j


def true_pair_mask(match: torch.Tensor, n_columns: int | None = None) -> torch.Tensor:
    """The hidden truth as a mask (..., N, N'): entry (k, match[k]) is True.

    Parameters
    ----------
    match : torch.Tensor
        Long tensor of shape (..., N): the true partner of each row.
    n_columns : int, optional
        N' (default: N).

    Returns
    -------
    torch.Tensor
        Boolean tensor of shape (..., N, N').
    """
    if not isinstance(match, torch.Tensor) or match.dtype != torch.long:
        raise TypeError("match must be a long tensor of shape (..., N)")
    n_columns = (
        match.shape[-1] if n_columns is None else check_int(n_columns, "n_columns")
    )
    match = check_index(match, "match", shape=match.shape, high=n_columns)
    mask = torch.zeros(*match.shape, n_columns, dtype=torch.bool, device=match.device)
    return mask.scatter_(-1, match.unsqueeze(-1), True)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    return type(value).__name__


def detection_quality(
    mask: torch.Tensor, match: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Precision, recall and number of detected pairs against the hidden truth.

    Parameters
    ----------
    mask : torch.Tensor
        Boolean tensor of shape (..., N, N'): the detected pairs.
    match : torch.Tensor
        Long tensor of shape (..., N): the true partner of each row.

    Returns
    -------
    dict
        Tensors of shape mask.shape[:-2]: ``precision`` (1 when nothing is detected),
        ``recall`` (true pairs found / N) and ``n_detected``.
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.ndim < 2:
        raise ValueError("mask must be a boolean tensor of shape (..., N, N')")
    match = check_index(match, "match", shape=mask.shape[:-1], high=mask.shape[-1])
    hits = (
        mask.gather(-1, match.unsqueeze(-1).to(mask.device))
        .squeeze(-1)
        .sum(-1)
        .double()
    )
    n_det = mask.sum((-1, -2)).double()
    precision = torch.where(
        n_det > 0, hits / n_det.clamp_min(1), torch.ones_like(n_det)
    )
    return {
        "precision": precision,
        "recall": hits / mask.shape[-2],
        "n_detected": n_det,
    }
