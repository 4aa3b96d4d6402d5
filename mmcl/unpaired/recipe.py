"""Chapter 4: the paper's gradient recipe for unpaired data (its section 5.1), batched
over replicates.

Bias-free linear maps G1, G2, L2-normalised outputs, cosine similarity / tau, AdamW.
First some epochs of the CLIP loss on the pairs (batches of m, positives on the
diagonal), then some epochs on the pools where, in each m x m block, the m largest
similarities are the positives (not forced one per row). Replicates (and pools of
different sizes, padded) train in one batch: AdamW is elementwise and a replicate whose
pool has no block left at a step is simply not updated, so every replicate follows
exactly the trajectory it would follow alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .._validation import (
    check_finite_output,
    check_int,
    check_rank,
    check_real,
    check_tau,
)
from ..sampling import make_generator
from ..families import clip_loss_from_normalizers
from ..losses import cross_similarities
from .self_training import check_pools, reveal_pairs

__all__ = ["RecipeResult", "paper_recipe"]


@dataclass
class RecipeResult:
    """Output of :func:`paper_recipe`.

    Attributes
    ----------
    G1_paired : torch.Tensor
        Tensor of shape (..., r, d1): G1 after the paired stage.
    G2_paired : torch.Tensor
        Tensor of shape (..., r, d2): G2 after the paired stage.
    G1 : torch.Tensor
        Tensor of shape (..., r, d1): G1 after the unpaired stage.
    G2 : torch.Tensor
        Tensor of shape (..., r, d2): G2 after the unpaired stage.
    precision : torch.Tensor
        Tensor of shape (epochs_unpaired, ...): the fraction of the chosen positives
        that are true pairs, averaged over the blocks of each epoch (empty without
        ``match`` or with true positives).
    """

    G1_paired: torch.Tensor
    G2_paired: torch.Tensor
    G1: torch.Tensor
    G2: torch.Tensor
    precision: torch.Tensor


class _MaskedAdamW:
    """torch.optim.AdamW's update (defaults betas (0.9, 0.999), eps 1e-8), with a step
    count per replicate and updates only where ``active`` (shape: the replicate
    dimensions)."""

    def __init__(self, params, lr, weight_decay, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.wd, self.betas, self.eps = (
            params,
            lr,
            weight_decay,
            betas,
            eps,
        )
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = torch.zeros(
            params[0].shape[:-2], dtype=torch.float64, device=params[0].device
        )

    @torch.no_grad()
    def step(self, active):
        b1, b2 = self.betas
        self.t += active.double()
        tiny = torch.finfo(self.params[0].dtype).tiny  # a floor float32 has too
        bc1 = (1 - b1**self.t).clamp_min(tiny).to(self.params[0].dtype)[..., None, None]
        bc2 = (1 - b2**self.t).clamp_min(tiny).to(self.params[0].dtype)[..., None, None]
        on = active[..., None, None]
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.copy_(torch.where(on, b1 * m + (1 - b1) * g, m))
            v.copy_(torch.where(on, b2 * v + (1 - b2) * g * g, v))
            new = p * (1 - self.lr * self.wd) - self.lr / bc1 * m / (
                (v / bc2).sqrt() + self.eps
            )
            p.copy_(torch.where(on, new, p))
            p.grad = None


def _block_loss(G1, G2, xb, yb, tau, positives):
    """CLIP loss per replicate of one batch of cosine logits; positives 'diag' or 'topm'
    (the m largest entries). Also returns the flat indices of the chosen positives for
    'topm'."""
    logits = cross_similarities(G1, G2, xb, yb, normalize=True) / tau
    m = logits.shape[-1]
    if positives == "diag":
        pos, idx = torch.diagonal(logits, dim1=-2, dim2=-1), None
    else:
        top = logits.flatten(-2).topk(m, dim=-1)
        pos, idx = top.values, top.indices
    loss = clip_loss_from_normalizers(logits.logsumexp(-1), logits.logsumexp(-2), pos)
    return loss, idx


def paper_recipe(
    X,
    Y,
    X_unpaired,
    Y_unpaired,
    r: int,
    *,
    match=None,
    pool_sizes=None,
    blocks: str = "aligned",
    positives: str = "topm",
    epochs_paired: int = 100,
    epochs_unpaired: int = 100,
    batch_size: int = 50,
    lr: float = 2e-3,
    weight_decay: float = 0.01,
    tau: float = 1.0,
    seed=0,
) -> RecipeResult:
    """The paper's gradient recipe, batched over replicates.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): the pairs, modality 1.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): the pairs, modality 2.
    X_unpaired : torch.Tensor
        Tensor of shape (..., N, d1): the pool of modality 1.
    Y_unpaired : torch.Tensor
        Tensor of shape (..., N, d2): the pool of modality 2.
    r : int
        The representation dimension.
    match : torch.Tensor, optional
        Long tensor of shape (..., N): the hidden truth, needed by ``blocks="aligned"``
        and to score precision.
    pool_sizes : torch.Tensor, optional
        Long tensor of shape (...,): the valid pool size of each replicate (pools padded
        to N).
    blocks : {"aligned", "shuffled"}, default="aligned"
        "aligned" is the authors' protocol: block b of the Y pool holds exactly the
        partners of block b of the X pool (the pairing inside a block is unknown to the
        loss); "shuffled" uses the pools as given, so true partners rarely share a
        block.
    positives : {"topm", "true"}, default="topm"
        The paper's top-m rule, or the true pairs of each block (oracle).
    epochs_paired : int, default=100
        Epochs of the CLIP loss on the pairs.
    epochs_unpaired : int, default=100
        Epochs on the pools.
    batch_size : int, default=50
        The block size m; batches run in data order and a final incomplete batch is
        dropped, as in the authors' code.
    lr : float, default=2e-3
        AdamW's learning rate.
    weight_decay : float, default=0.01
        AdamW's weight decay.
    tau : float, default=1.0
        The temperature of the cosine logits.
    seed : int or torch.Generator, default=0
        The initialisation: U(-1/sqrt(d), 1/sqrt(d)) entries, as torch's nn.Linear.

    Returns
    -------
    RecipeResult
        The representations after each stage and the precision of the chosen positives.
    """
    X, Y, Xu, Yu = check_pools(X, Y, X_unpaired, Y_unpaired, match, permutation=True)
    if Xu.shape[-2] != Yu.shape[-2]:
        raise ValueError("paper_recipe needs pools of equal size N")
    if blocks not in ("aligned", "shuffled"):
        raise ValueError(f"blocks must be 'aligned' or 'shuffled', got {blocks!r}")
    if positives not in ("topm", "true"):
        raise ValueError(f"positives must be 'topm' or 'true', got {positives!r}")
    if match is None and (blocks == "aligned" or positives == "true"):
        raise ValueError(
            "blocks='aligned' and positives='true' need the hidden truth `match`"
        )
    r = check_rank(r, X.shape[-1], Y.shape[-1])
    ep1, ep2 = (
        check_int(epochs_paired, "epochs_paired", low=0),
        check_int(epochs_unpaired, "epochs_unpaired", low=0),
    )
    m = check_int(batch_size, "batch_size", low=2, high=min(X.shape[-2], Xu.shape[-2]))
    lr, tau = check_real(lr, "lr", low=0.0, low_open=True), check_tau(tau)
    weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
    batch, d1, d2 = X.shape[:-2], X.shape[-1], Y.shape[-1]
    sizes = (
        torch.full(batch, Xu.shape[-2])
        if pool_sizes is None
        else torch.as_tensor(pool_sizes).cpu()
    )
    if (
        sizes.shape != batch
        or bool((sizes > Xu.shape[-2]).any())
        or bool((sizes < m).any())
    ):
        raise ValueError(
            f"pool_sizes must have shape {tuple(batch)} with values in [batch_size, "
            f"{Xu.shape[-2]}]"
        )
    g = make_generator(seed)
    G1 = (
        (torch.rand(*batch, r, d1, generator=g, dtype=torch.float64) * 2 - 1)
        / math.sqrt(d1)
    ).to(X)
    G2 = (
        (torch.rand(*batch, r, d2, generator=g, dtype=torch.float64) * 2 - 1)
        / math.sqrt(d2)
    ).to(X)
    G1.requires_grad_(True)
    G2.requires_grad_(True)
    opt = _MaskedAdamW([G1, G2], lr, weight_decay)

    def train(Xs, Ys, epochs, pos, n_valid):
        for epoch in range(epochs):
            for s in range(0, int(n_valid.max()) - m + 1, m):
                loss, idx = _block_loss(
                    G1, G2, Xs[..., s : s + m, :], Ys[..., s : s + m, :], tau, pos
                )
                loss.sum().backward()
                opt.step((s + m <= n_valid).to(X.device))
                yield epoch, s, idx

    for _ in train(X, Y, ep1, "diag", torch.full(batch, X.shape[-2])):
        pass
    G1_paired, G2_paired = G1.detach().clone(), G2.detach().clone()
    if blocks == "aligned":
        Xu, Yu = reveal_pairs(Xu, Yu, match)
        partner = torch.arange(Xu.shape[-2], device=Xu.device).expand(Xu.shape[:-1])
    else:
        partner = match
    hits = torch.zeros(ep2, *batch, dtype=torch.float64)
    n_blocks = (sizes // m).double()
    for epoch, s, idx in train(
        Xu, Yu, ep2, "diag" if positives == "true" else "topm", sizes
    ):
        if partner is not None and idx is not None:
            rows, cols = (
                idx // m + s,
                idx % m + s,
            )  # global indices of the chosen positives
            hits[epoch] += (
                (partner.gather(-1, rows) == cols).double().mean(-1).cpu()
                * (s + m <= sizes).double()
                / n_blocks
            )
    precision = hits if (match is not None and positives == "topm") else torch.empty(0)
    for name, G in (("G1", G1), ("G2", G2)):
        check_finite_output(
            G.detach(),
            f"paper_recipe's {name}",
            "lower lr (AdamW's steps overshoot) or raise tau",
        )
    return RecipeResult(G1_paired, G2_paired, G1.detach(), G2.detach(), precision)
