"""Chapter code for "Beyond the paper" (chapter 8), part 1: learned temperature and
teacher filtering, in the book's latent factor model.

* ``effective_rank``: exp of the entropy of the normalised singular values.
* ``fit_learned_temperature``: CLIP on cosine similarities with a learnable temperature
  (Adam, batched over replicates), the setting of Gui, Ma and Ma (2025).
* ``teacher_scores``, ``filter_pairs``, ``filtering_trial``: teacher-based filtering
  (Pareek, Oh and Du, 2025): score each pair by its teacher cosine, keep the top.

Part 2 (misaligned captions, structure without pairs) is
:mod:`mmcl.experiments.alignment`.

Every function follows the device and dtype of its inputs and accepts leading replicate
dimensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from .._validation import (
    check_bool,
    check_fraction,
    check_int,
    check_matrix,
    check_pair,
    check_real,
    check_tau,
)
from ..data import LatentFactorModel
from ..sampling import haar_orthonormal, make_generator
from ..losses import check_representation, clip_loss, similarities
from ..metrics import sin_theta_distance
from ..solvers import linear_closed_form

__all__ = [
    "effective_rank",
    "TemperatureResult",
    "fit_learned_temperature",
    "teacher_scores",
    "filter_pairs",
    "filtering_trial",
]


def effective_rank(A) -> torch.Tensor:
    """exp(H(p)), p = sigma / sum(sigma) the normalised singular values of A.

    Equals k for k equal non-zero singular values and lies in [1, min(p, q)].

    Parameters
    ----------
    A : torch.Tensor
        Tensor of shape (..., p, q).

    Returns
    -------
    torch.Tensor
        Shape A.shape[:-2].
    """
    A = check_matrix(A, "A")
    sig = torch.linalg.svdvals(A)
    p = sig / sig.sum(-1, keepdim=True).clamp_min(torch.finfo(sig.dtype).tiny)
    ent = -torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(-1)
    return torch.exp(ent)


@dataclass
class TemperatureResult:
    """What :func:`fit_learned_temperature` returns.

    Attributes
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., k, d1): the map of modality 1.
    G2 : torch.Tensor
        Tensor of shape (..., k, d2): the map of modality 2.
    tau : torch.Tensor
        Tensor of shape (...,): the final temperature.
    history : dict
        Per-step lists "loss", "tau" and "erank" (the effective rank of the normalised
        embeddings of X), each entry of shape (...,).
    """

    G1: torch.Tensor
    G2: torch.Tensor
    tau: torch.Tensor
    history: dict = field(default_factory=lambda: {"loss": [], "tau": [], "erank": []})


def fit_learned_temperature(
    X,
    Y,
    k: int,
    *,
    tau: float = 1.0,
    learn_tau: bool = True,
    lr: float = 0.05,
    n_steps: int = 300,
    seed=0,
) -> TemperatureResult:
    """Adam on (G1, G2, log tau) for the CLIP loss of cosine similarities (full batch).

    The loss is ``clip_loss(cos(G1 x_i, G2 y_j) / tau)``, the standard CLIP loss whose
    logit scale 1 / tau CLIP learns; with ``learn_tau=False`` tau keeps its first value.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1 (replicates batched in front).
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    k : int
        Embedding dimension, may exceed the true rank (1 <= k <= min(d1, d2)).
    tau : float, default=1.0
        Initial (or fixed) temperature, > 0.
    learn_tau : bool, default=True
        Learn log tau with the factors.
    lr : float, default=0.05
        Adam step.
    n_steps : int, default=300
        Number of steps.
    seed : int or torch.Generator, default=0
        Seed of the initial factors.

    Returns
    -------
    TemperatureResult
        The factors G1 (..., k, d1), G2 (..., k, d2), the final temperature and the
        per-step history.
    """
    X, Y = check_pair(X, Y)
    k = check_int(k, "k", low=1, high=min(X.shape[-1], Y.shape[-1]))
    tau = check_tau(tau)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    n_steps = check_int(n_steps, "n_steps", low=1)
    learn_tau = check_bool(learn_tau, "learn_tau")
    g = make_generator(seed)
    batch = X.shape[:-2]
    G1 = torch.randn(*batch, k, X.shape[-1], generator=g, dtype=torch.float64).to(X)
    G2 = torch.randn(*batch, k, Y.shape[-1], generator=g, dtype=torch.float64).to(X)
    log_tau = torch.full(batch, math.log(tau), dtype=X.dtype, device=X.device)
    params = [G1.requires_grad_(True), G2.requires_grad_(True)]
    if learn_tau:
        params.append(log_tau.requires_grad_(True))
    opt = torch.optim.Adam(params, lr=lr)
    hist = {"loss": [], "tau": [], "erank": []}
    for _ in range(n_steps):
        opt.zero_grad()
        cos = similarities(G1, G2, X, Y, normalize=True)  # (..., n, n)
        L = clip_loss(cos / log_tau.exp()[..., None, None])  # (...,)
        L.sum().backward()
        opt.step()
        hist["loss"].append(L.detach())
        hist["tau"].append(log_tau.detach().exp())
        with torch.no_grad():
            hist["erank"].append(
                effective_rank(F.normalize(X @ G1.transpose(-1, -2), dim=-1))
            )
    return TemperatureResult(G1.detach(), G2.detach(), log_tau.detach().exp(), hist)


def teacher_scores(G1, G2, X, Y) -> torch.Tensor:
    """The teacher's score of each pair: cos(G1 x_i, G2 y_i), shape (..., n).

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (..., r, d1): the teacher's map of modality 1.
    G2 : torch.Tensor
        Tensor of shape (..., r, d2): the teacher's map of modality 2.
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1 of the pairs.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., n): the cosine of each pair's embeddings, in [-1, 1].
    """
    G1, G2, X, Y = check_representation(G1, G2, X, Y)
    zx = F.normalize(X @ G1.transpose(-1, -2), dim=-1)  # (..., n, r)
    zy = F.normalize(Y @ G2.transpose(-1, -2), dim=-1)
    return (zx * zy).sum(-1)


def filter_pairs(X, Y, scores, keep: float):
    """Keep the round(keep * n) pairs of highest score (at least 2) per replicate.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1 of the pairs.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    scores : torch.Tensor
        Tensor of shape (..., n): the score of each pair (higher is kept first).
    keep : float
        Fraction in [0, 1] of the pairs to keep.

    Returns
    -------
    tuple
        ``(X_kept, Y_kept, index)`` of shapes (..., m, d1), (..., m, d2), (..., m);
        ``index`` holds the kept rows, highest score first.
    """
    X, Y = check_pair(X, Y)
    keep = check_fraction(keep, "keep")
    if not isinstance(scores, torch.Tensor) or scores.shape != X.shape[:-1]:
        raise ValueError(f"scores must be a tensor of shape {tuple(X.shape[:-1])}")
    m = max(2, round(keep * X.shape[-2]))
    idx = scores.topk(m, dim=-1).indices  # (..., m)

    def take(A):
        return torch.gather(A, -2, idx.unsqueeze(-1).expand(*idx.shape, A.shape[-1]))

    return take(X), take(Y), idx


def filtering_trial(
    replicates: int,
    generator: torch.Generator,
    *,
    n: int,
    eta: float,
    keep: float | None = None,
    n_teacher: int | None = 100,
    d1: int = 20,
    d2: int = 15,
    r: int = 3,
    signal: float = 1.0,
    noise: float = 1.0,
    population_seed: int = 0,
) -> dict[str, torch.Tensor]:
    """One grid point of the filtering experiment, a trial for ``mmcl.run_experiment``.

    A teacher (the linear closed form on ``n_teacher`` clean pairs, or with
    ``n_teacher=None`` on an independent sample like the student's) scores the n pairs,
    a fraction eta of them correct; the student (the linear closed form) learns from the
    top ``keep`` fraction (default: eta). U1, U2 come from ``population_seed`` and are
    shared by the replicates, the teacher's data and the grid.

    Parameters
    ----------
    replicates : int
        The number of independent draws (as passed by
        :func:`mmcl.experiments.runner.run_experiment`).
    generator : torch.Generator
        The generator of the draws (likewise): the student's pairs and the teacher's
        data.
    n : int
        The number of pairs the student sees, n >= 2.
    eta : float
        The fraction of correct pairs among them, in [0, 1].
    keep : float, optional
        The fraction of the n pairs kept by the filter, in [0, 1] (at least 2 pairs);
        default: eta.
    n_teacher : int or None, default=100
        The number of clean (all correct) pairs the teacher learns from, >= 2; None:
        the teacher learns from an independent sample of n pairs with the same eta.
    d1 : int, default=20
        The dimension of modality 1.
    d2 : int, default=15
        The dimension of modality 2.
    r : int, default=3
        The latent dimension, also the teacher's and the student's rank.
    signal : float, default=1.0
        The signal strength: Sigma_z = signal * I_r.
    noise : float, default=1.0
        The noise standard deviation of both modalities.
    population_seed : int, default=0
        The seed of the shared subspaces U1, U2.

    Returns
    -------
    dict
        sinTheta(hat U1, U1), shape (replicates,), for "no filter", "teacher filter" and
        "correct pairs only" (the oracle filter), and the filter's "precision".
    """
    n = check_int(n, "n", low=2)
    eta = check_fraction(eta)
    keep = eta if keep is None else check_fraction(keep, "keep")
    pop = make_generator(population_seed)
    model = LatentFactorModel(
        d1,
        d2,
        r,
        signal_cov=signal,
        noise1=noise,
        noise2=noise,
        U1=haar_orthonormal(d1, r, generator=pop),
        U2=haar_orthonormal(d2, r, generator=pop),
    )
    data = model.sample(
        n, eta=eta, replicates=replicates, seed=generator, dtype=torch.float64
    )
    if (
        n_teacher is None
    ):  # the teacher learns from an independent sample like the student's
        clean = model.sample(
            n, eta=eta, replicates=replicates, seed=generator, dtype=torch.float64
        )
    else:
        clean = model.sample(
            check_int(n_teacher, "n_teacher", low=2),
            replicates=replicates,
            seed=generator,
            dtype=torch.float64,
        )
    teacher = linear_closed_form(clean.X, clean.Y, r)
    Xk, Yk, idx = filter_pairs(
        data.X, data.Y, teacher_scores(teacher.G1, teacher.G2, data.X, data.Y), keep
    )
    true_idx = (
        data.is_true.double().topk(max(2, round(eta * n)), dim=-1).indices
    )  # (R, eta n)

    def err(X, Y):
        return sin_theta_distance(linear_closed_form(X, Y, r).U, data.U1)

    def take(A, index):
        return torch.gather(
            A, -2, index.unsqueeze(-1).expand(*index.shape, A.shape[-1])
        )

    return {
        "no filter": err(data.X, data.Y),
        "teacher filter": err(Xk, Yk),
        "correct pairs only": err(take(data.X, true_idx), take(data.Y, true_idx)),
        "precision": torch.gather(data.is_true, -1, idx).double().mean(-1),
    }
