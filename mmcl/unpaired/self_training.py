"""Learning from unpaired data: fit on the pairs, detect pairs in the pools, refit,
repeat.

:func:`self_training` for the spectral solvers: fit on the n pairs (linear closed form,
or the CLIP SVD-iteration), detect pairs in the unpaired pools with a detector of
:mod:`mmcl.unpaired.detection`, refit on the pairs plus the detected pairs, and repeat
for a few rounds. The paper's own gradient recipe is
:func:`mmcl.unpaired.recipe.paper_recipe`.

:func:`reveal_pairs` gives the oracle: the pools with their hidden pairing restored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .._validation import (
    check_choice,
    check_index,
    check_int,
    check_matrix,
    check_pair,
    check_real,
    check_rho,
    check_same_device,
    check_tau,
)
from ..metrics import retrieval_accuracy
from .detection import (
    DETECTORS,
    detect_pairs,
    detected_indices,
    detection_quality,
    pool_similarities,
)
from ..solvers import linear_closed_form, svd_iteration

__all__ = [
    "UnpairedResult",
    "reveal_pairs",
    "fit_pairs",
    "self_training",
    "representation_accuracy",
    "check_pools",
]

SOLVERS = ("linear", "clip")


def check_pools(X, Y, X_unpaired, Y_unpaired, match=None, *, permutation: bool = False):
    """Validate pairs X (..., n, d1), Y (..., n, d2), pools (..., N, d1), (..., N', d2),
    match (..., N).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1).
    Y : torch.Tensor
        Tensor of shape (..., n, d2).
    X_unpaired : torch.Tensor
        Tensor of shape (..., N, d1).
    Y_unpaired : torch.Tensor
        Tensor of shape (..., N', d2).
    match : torch.Tensor, optional
        Long tensor of shape (..., N).
    permutation : bool, default=False
        Require ``match`` to be a permutation (every row of Y_unpaired used once).

    Returns
    -------
    tuple of torch.Tensor
        (X, Y, X_unpaired, Y_unpaired) as tensors.
    """
    X, Y = check_pair(X, Y)
    Xu = check_matrix(X_unpaired, "X_unpaired")
    Yu = check_matrix(Y_unpaired, "Y_unpaired")
    if Xu.shape[:-2] != X.shape[:-2] or Yu.shape[:-2] != X.shape[:-2]:
        raise ValueError(
            "the pools must carry the same leading (replicate) shape as X and Y"
        )
    if Xu.shape[-1] != X.shape[-1] or Yu.shape[-1] != Y.shape[-1]:
        raise ValueError(
            f"X_unpaired must have d1 = {X.shape[-1]} and Y_unpaired d2 = "
            f"{Y.shape[-1]} columns"
        )
    check_same_device(X=X, X_unpaired=Xu, Y_unpaired=Yu)
    if match is not None:
        check_index(
            match,
            "match",
            shape=Xu.shape[:-1],
            high=Yu.shape[-2],
            permutation=permutation,
            rows=" (one per row of X_unpaired)",
            cols=" (rows of Y_unpaired)",
        )
    return X, Y, Xu, Yu


def reveal_pairs(X_unpaired, Y_unpaired, match) -> tuple[torch.Tensor, torch.Tensor]:
    """The pools with their hidden pairing restored: row k of both is a true pair.

    Parameters
    ----------
    X_unpaired : torch.Tensor
        Tensor of shape (..., N, d1).
    Y_unpaired : torch.Tensor
        Tensor of shape (..., N, d2), shuffled.
    match : torch.Tensor
        Long tensor of shape (..., N): the hidden truth.

    Returns
    -------
    tuple of torch.Tensor
        The pools, of shapes (..., N, d1) and (..., N, d2), with rows paired.
    """
    Xu, Yu = (
        check_matrix(X_unpaired, "X_unpaired"),
        check_matrix(Y_unpaired, "Y_unpaired"),
    )
    check_same_device(X_unpaired=Xu, Y_unpaired=Yu)
    if Xu.shape[:-2] != Yu.shape[:-2]:
        raise ValueError(
            "X_unpaired and Y_unpaired must carry the same leading (replicate) shape"
        )
    match = check_index(
        match,
        "match",
        shape=Xu.shape[:-1],
        high=Yu.shape[-2],
        permutation=True,
        rows=" (one per row of X_unpaired)",
        cols=" (rows of Y_unpaired)",
    )
    idx = match.to(Yu.device).unsqueeze(-1).expand(*match.shape, Yu.shape[-1])
    return check_matrix(X_unpaired, "X_unpaired"), torch.gather(Yu, -2, idx)


def fit_pairs(
    X,
    Y,
    r: int,
    solver: str = "linear",
    *,
    tau: float = 1.0,
    rho: float = 1.0,
    max_iter: int = 30,
):
    """(G1, G2) fitted on pairs by the linear closed form or the CLIP SVD-iteration.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1).
    Y : torch.Tensor
        Tensor of shape (..., n, d2).
    r : int
        The representation dimension.
    solver : {"linear", "clip"}, default="linear"
        The linear closed form or the CLIP SVD-iteration.
    tau : float, default=1.0
        The CLIP temperature.
    rho : float, default=1.0
        The regularisation strength.
    max_iter : int, default=30
        The SVD-iteration's most iterations.

    Returns
    -------
    tuple of torch.Tensor
        G1 of shape (..., r, d1) and G2 of shape (..., r, d2).
    """
    check_choice(solver, "solver", SOLVERS)
    check_tau(tau), check_rho(rho), check_int(max_iter, "max_iter")
    if solver == "linear":
        res = linear_closed_form(X, Y, r, rho=rho)
    elif solver == "clip":
        res = svd_iteration(
            X, Y, r, "clip", tau=tau, rho=rho, max_iter=max_iter, tol=1e-6
        )
    else:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    return res.G1, res.G2


@dataclass
class UnpairedResult:
    """Output of :func:`self_training`.

    Attributes
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1): G1 after the last round.
    G2 : torch.Tensor
        Tensor of shape (..., r, d2): G2 after the last round.
    rounds : list
        (G1, G2) of every round: round 0 is the fit on the pairs alone, round t after t
        refits.
    quality : dict
        Tensors of shape (rounds, ...): precision, recall, n_detected of the detection
        made with the representation of each round before the last (empty without
        ``match``).
    """

    G1: torch.Tensor
    G2: torch.Tensor
    rounds: list = field(default_factory=list)
    quality: dict = field(default_factory=dict)


def self_training(
    X,
    Y,
    X_unpaired,
    Y_unpaired,
    r: int,
    *,
    solver: str = "linear",
    detector: str = "mutual",
    rounds: int = 2,
    threshold: float = 0.1,
    match=None,
    tau: float = 1.0,
    rho: float = 1.0,
    max_iter: int = 30,
) -> UnpairedResult:
    """Fit on the pairs, then ``rounds`` times: detect pairs in the pools, refit on all
    pairs.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): the known pairs, modality 1 (replicates in front).
    Y : torch.Tensor
        Tensor of shape (..., n, d2): the known pairs, modality 2.
    X_unpaired : torch.Tensor
        Tensor of shape (..., N, d1): the pool of modality 1.
    Y_unpaired : torch.Tensor
        Tensor of shape (..., N', d2): the pool of modality 2, N <= N'.
    r : int
        The representation dimension.
    solver : {"linear", "clip"}, default="linear"
        The linear closed form or the CLIP SVD-iteration (``tau``, ``rho``,
        ``max_iter``).
    detector : str, default="mutual"
        One of ``mmcl.unpaired.detection.DETECTORS``.
    rounds : int, default=2
        The number of detect-and-refit rounds (>= 0).
    threshold : float, default=0.1
        The margin of the "threshold" detector.
    match : torch.Tensor, optional
        Long tensor of shape (..., N): the hidden truth, only to score detection.
    tau : float, default=1.0
        The CLIP temperature.
    rho : float, default=1.0
        The regularisation strength.
    max_iter : int, default=30
        The SVD-iteration's most iterations.

    Returns
    -------
    UnpairedResult
        The representation of every round and the detection quality.
    """
    X, Y, Xu, Yu = check_pools(X, Y, X_unpaired, Y_unpaired, match)
    rounds = check_int(rounds, "rounds", low=0)
    check_choice(detector, "detector", DETECTORS)
    check_choice(solver, "solver", SOLVERS)
    check_tau(tau), check_rho(rho), check_int(max_iter, "max_iter")
    check_real(threshold, "threshold", low=0.0)
    check_int(r, "r")
    batch = X.shape[:-2]
    flat = [t.reshape(-1, *t.shape[-2:]) for t in (X, Y, Xu, Yu)]
    G1, G2 = (
        G.reshape(-1, *G.shape[-2:])
        for G in fit_pairs(*flat[:2], r, solver, tau=tau, rho=rho, max_iter=max_iter)
    )
    history, scores = [(G1, G2)], []
    for _ in range(rounds):
        new1, new2, qual = [], [], []
        for b in range(
            G1.shape[0]
        ):  # replicates one at a time: the pools' N x N' matrix is large
            mask = detect_pairs(
                pool_similarities(G1[b], G2[b], flat[2][b], flat[3][b]),
                detector,
                threshold=threshold,
            )
            if match is not None:
                qual.append(
                    detection_quality(mask, match.reshape(-1, match.shape[-1])[b])
                )
            i, j = detected_indices(mask)
            g1, g2 = fit_pairs(
                torch.cat([flat[0][b], flat[2][b][i]]),
                torch.cat([flat[1][b], flat[3][b][j]]),
                r,
                solver,
                tau=tau,
                rho=rho,
                max_iter=max_iter,
            )
            new1.append(g1)
            new2.append(g2)
        G1, G2 = torch.stack(new1), torch.stack(new2)
        history.append((G1, G2))
        if qual:
            scores.append(
                {k: torch.stack([q[k] for q in qual]).reshape(batch) for k in qual[0]}
            )

    def shape(G):
        return G.reshape(*batch, *G.shape[-2:])

    quality = (
        {k: torch.stack([s[k] for s in scores]) for k in scores[0]} if scores else {}
    )
    return UnpairedResult(
        shape(G1), shape(G2), [(shape(a), shape(b)) for a, b in history], quality
    )


def representation_accuracy(
    G1, G2, X_test, Y_test, *, chunk: int = 256
) -> torch.Tensor:
    """Top-1 test retrieval accuracy (cosine) of (G1, G2) on test pairs, shape
    X_test.shape[:-2].

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1).
    G2 : torch.Tensor
        Tensor of shape (..., r, d2).
    X_test : torch.Tensor
        Tensor of shape (..., m, d1).
    Y_test : torch.Tensor
        Tensor of shape (..., m, d2).
    chunk : int, default=256
        Rows per block.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    Xt, Yt = check_matrix(X_test, "X_test"), check_matrix(Y_test, "Y_test")
    G1, G2 = check_matrix(G1, "G1"), check_matrix(G2, "G2")
    check_same_device(X_test=Xt, Y_test=Yt, G1=G1, G2=G2)
    if Xt.shape[:-1] != Yt.shape[:-1]:
        raise ValueError(
            "X_test and Y_test must hold the same pairs (..., m): got "
            f"{tuple(Xt.shape)} "
            f"and {tuple(Yt.shape)}"
        )
    if (
        G1.shape[-1] != Xt.shape[-1]
        or G2.shape[-1] != Yt.shape[-1]
        or G1.shape[-2] != G2.shape[-2]
    ):
        raise ValueError(
            f"G1 must be (r, d1) and G2 (r, d2) with d1 = {Xt.shape[-1]} the columns "
            "of "
            f"X_test and d2 = {Yt.shape[-1]} those of Y_test; got G1 {tuple(G1.shape)} "
            f"and G2 {tuple(G2.shape)}"
        )
    X_test, Y_test = Xt, Yt
    return retrieval_accuracy(
        X_test @ G1.transpose(-1, -2), Y_test @ G2.transpose(-1, -2), chunk=chunk
    )
