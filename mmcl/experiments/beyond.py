"""Chapter code for "Beyond the paper": later results in the book's latent factor model.

* ``effective_rank``: exp of the entropy of the normalised singular values.
* ``fit_learned_temperature``: CLIP on cosine similarities with a learnable temperature
  (Adam, batched over replicates), the setting of Gui, Ma and Ma (2025).
* ``teacher_scores``, ``filter_pairs``, ``filtering_trial``: teacher-based filtering
  (Pareek, Oh and Du, 2025): score each pair by its teacher cosine, keep the top.
* ``misaligned_sample``, ``coordinate_recovery``: captions with selection and
  perturbation biases (Cai et al., 2025), and how much of each latent direction is
  learned.
* ``spectral_embedding``, ``align_embeddings``: a random-walk spectral embedding of each
  modality alone, aligned with a few pairs (in the spirit of Yacobi et al., 2025).

Every function follows the device and dtype of its inputs and accepts leading replicate
dimensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .._validation import (
    check_fraction,
    check_int,
    check_matrix,
    check_pair,
    check_real,
    check_same_device,
    check_tau,
)
from ..data import LatentFactorModel, haar_orthonormal, make_generator
from ..losses import clip_loss, similarities
from ..metrics import sin_theta_distance
from ..solvers import linear_closed_form

__all__ = [
    "effective_rank",
    "TemperatureResult",
    "fit_learned_temperature",
    "teacher_scores",
    "filter_pairs",
    "filtering_trial",
    "MisalignedSample",
    "misaligned_sample",
    "coordinate_recovery",
    "spectral_embedding",
    "align_embeddings",
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
    X, Y = check_pair(X, Y)
    G1, G2 = check_matrix(G1, "G1"), check_matrix(G2, "G2")
    check_same_device(X=X, G1=G1, G2=G2)
    if (
        G1.shape[-1] != X.shape[-1]
        or G2.shape[-1] != Y.shape[-1]
        or G1.shape[-2] != G2.shape[-2]
    ):
        raise ValueError(
            f"G1 must be (r, d1) and G2 (r, d2) with d1 = {X.shape[-1]}, "
            f"d2 = {Y.shape[-1]}; got G1 {tuple(G1.shape)} and G2 {tuple(G2.shape)}"
        )
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


class MisalignedSample(NamedTuple):
    """What :func:`misaligned_sample` returns (a named tuple; its fields below)."""

    #: Modality 1, a tensor of shape (..., n, d1).
    X: torch.Tensor
    #: Modality 2 (the biased captions), a tensor of shape (..., n, d2).
    Y: torch.Tensor
    #: The subspace of modality 1, a tensor of shape (..., d1, r).
    U1: torch.Tensor
    #: The subspace of modality 2, a tensor of shape (..., d2, r).
    U2: torch.Tensor
    #: The latent coordinates that neither bias touches, a bool tensor of shape (r,).
    invariant: torch.Tensor


def _coordinate_mask(coords, r: int, name: str) -> torch.Tensor:
    mask = torch.zeros(r, dtype=torch.bool)
    for c in coords:
        c = check_int(c, f"{name} entry", low=0, high=r - 1)
        mask[c] = True
    return mask


def misaligned_sample(
    n: int,
    d1: int,
    d2: int,
    r: int,
    *,
    dropped=(),
    perturbed=(),
    perturb_prob: float = 1.0,
    signal_var: float = 2.0,
    noise: float = 0.5,
    replicates: int | None = None,
    seed=0,
    dtype=torch.float64,
) -> MisalignedSample:
    """Pairs x = U1 z + xi, y = U2 z~ + zeta with captions biased per coordinate.

    Selection: the caption omits the ``dropped`` latent coordinates (z~_k = 0).
    Perturbation: for each ``perturbed`` coordinate and each pair, with probability
    ``perturb_prob`` the caption states an independent value (z~_k drawn afresh) instead
    of z_k. z ~ N(0, signal_var I_r), noise standard deviation ``noise``; each replicate
    draws its own Haar U1, U2.

    Parameters
    ----------
    n : int
        The number of pairs, n >= 2.
    d1 : int
        The dimension of modality 1 (the images).
    d2 : int
        The dimension of modality 2 (the captions).
    r : int
        The latent dimension, 1 <= r <= min(d1, d2).
    dropped : iterable of int, default=()
        Latent coordinates in [0, r - 1] that the captions omit (selection bias).
    perturbed : iterable of int, default=()
        Latent coordinates in [0, r - 1] that the captions may misstate (perturbation
        bias).
    perturb_prob : float, default=1.0
        The probability, in [0, 1], that a pair's caption misstates a ``perturbed``
        coordinate.
    signal_var : float, default=2.0
        The variance of each latent coordinate (> 0).
    noise : float, default=0.5
        The noise standard deviation of both modalities (>= 0).
    replicates : int, optional
        Draw this many independent replicates, stacked in a leading dimension; default:
        a single draw without it.
    seed : int or torch.Generator, default=0
        Seed of the draws (subspaces, latents, perturbations and noise).
    dtype : torch.dtype, default=torch.float64
        The dtype of X, Y, U1, U2: torch.float32 or torch.float64 (drawn in float64).

    Returns
    -------
    MisalignedSample
        The pairs, the subspaces and the mask of invariant coordinates (neither dropped
        nor perturbed with probability 1).
    """
    n = check_int(n, "n", low=2)
    r = check_int(r, "r", low=1, high=min(check_int(d1, "d1"), check_int(d2, "d2")))
    p = check_fraction(perturb_prob, "perturb_prob")
    sv = check_real(signal_var, "signal_var", low=0.0, low_open=True)
    sd = check_real(noise, "noise", low=0.0)
    drop, pert = (
        _coordinate_mask(dropped, r, "dropped"),
        _coordinate_mask(perturbed, r, "perturbed"),
    )
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    g = make_generator(seed)
    batch = () if replicates is None else (check_int(replicates, "replicates"),)
    U1 = haar_orthonormal(d1, r, batch=batch, generator=g)
    U2 = haar_orthonormal(d2, r, batch=batch, generator=g)
    z = sv**0.5 * torch.randn(*batch, n, r, generator=g, dtype=torch.float64)
    fresh = sv**0.5 * torch.randn(*batch, n, r, generator=g, dtype=torch.float64)
    swap = pert & (
        torch.rand(*batch, n, r, generator=g, dtype=torch.float64) < p
    )  # (..., n, r)
    zt = torch.where(swap, fresh, z).masked_fill(drop, 0.0)
    X = z @ U1.transpose(-1, -2) + sd * torch.randn(
        *batch, n, d1, generator=g, dtype=torch.float64
    )
    Y = zt @ U2.transpose(-1, -2) + sd * torch.randn(
        *batch, n, d2, generator=g, dtype=torch.float64
    )
    invariant = ~drop & ~(pert if p == 1.0 else torch.zeros_like(pert))
    return MisalignedSample(
        X.to(dtype), Y.to(dtype), U1.to(dtype), U2.to(dtype), invariant
    )


def coordinate_recovery(U_hat, U) -> torch.Tensor:
    """||P_hat u_k||^2 for each column u_k of U: the share of latent direction k in
    span U_hat (1 if learned, 0 if missed).

    Parameters
    ----------
    U_hat : torch.Tensor
        Shape (..., d, s).
    U : torch.Tensor
        Shape (..., d, r).

    Returns
    -------
    torch.Tensor
        Shape (..., r).
    """
    U_hat, U = check_matrix(U_hat, "U_hat"), check_matrix(U, "U")
    check_same_device(U_hat=U_hat, U=U)
    if U_hat.shape[-2] != U.shape[-2]:
        raise ValueError(
            f"U_hat and U must live in the same dimension, got {U_hat.shape[-2]} and "
            f"{U.shape[-2]}"
        )
    Q = torch.linalg.svd(U_hat, full_matrices=False)[0]
    return ((Q.transpose(-1, -2) @ U) ** 2).sum(-2)


def spectral_embedding(X, k: int, *, n_neighbors: int = 10) -> torch.Tensor:
    """The k leading non-trivial random-walk eigenvectors of a Gaussian k-NN graph.

    Affinities W_ij = exp(-||x_i - x_j||^2 / h^2) on the symmetrised
    ``n_neighbors``-nearest-neighbour graph of the rows of X, h^2 the (lower) median
    squared distance to the ``n_neighbors``-th neighbour. With D the degrees, the
    eigenvectors of P = D^{-1} W are D^{-1/2} v for the eigenvectors v of
    D^{-1/2} W D^{-1/2}.

    Parameters
    ----------
    X : torch.Tensor
        Shape (..., N, d).
    k : int
        Number of eigenvectors, 1 <= k <= N - 2.
    n_neighbors : int, default=10
        Neighbours per point.

    Returns
    -------
    torch.Tensor
        Shape (..., N, k), unit-norm columns, the constant eigenvector dropped.
    """
    X = check_matrix(X, "X", min_rows=3)
    N = X.shape[-2]
    k = check_int(k, "k", low=1, high=N - 2)
    nn = check_int(n_neighbors, "n_neighbors", low=1, high=N - 1)
    D2 = torch.cdist(X, X) ** 2  # (..., N, N)
    kth = D2.topk(nn + 1, dim=-1, largest=False).values[
        ..., -1
    ]  # (..., N), self excluded
    h2 = kth.median(-1).values[..., None, None]
    near = D2 <= kth.unsqueeze(-1)
    W = torch.where(
        near | near.transpose(-1, -2), torch.exp(-D2 / h2), torch.zeros_like(D2)
    )
    d = W.sum(-1).rsqrt()  # D^{-1/2}
    evals, V = torch.linalg.eigh(d.unsqueeze(-1) * W * d.unsqueeze(-2))
    psi = d.unsqueeze(-1) * V[..., -k - 1 : -1].flip(-1)  # skip the top (constant) one
    return F.normalize(psi, dim=-2)


def align_embeddings(Ex_pairs, Ey_pairs) -> torch.Tensor:
    """The map A minimising ||Ex_pairs A - Ey_pairs||_F (least squares).

    Parameters
    ----------
    Ex_pairs : torch.Tensor
        Tensor of shape (..., m, k), m >= k: the modality-1 embeddings of m known pairs.
    Ey_pairs : torch.Tensor
        Tensor of shape (..., m, k): the modality-2 embeddings of the same pairs, row i
        paired with row i of ``Ex_pairs``.

    Returns
    -------
    torch.Tensor
        Shape (..., k, k); map the rest with ``Ex @ A``.
    """
    Ex, Ey = check_pair(Ex_pairs, Ey_pairs, min_rows=1)
    if Ex.shape[-2] < Ex.shape[-1]:
        raise ValueError(
            f"align_embeddings needs at least k = {Ex.shape[-1]} pairs, got "
            f"{Ex.shape[-2]}"
        )
    return torch.linalg.lstsq(Ex, Ey).solution
