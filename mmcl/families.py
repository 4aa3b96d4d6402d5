"""The phi/psi family of contrastive losses and its contrastive weights beta (book
chapter 2).

For similarities s (n x n, s_ij = <G1 x_i, G2 y_j>) a member (phi, psi, eps) has loss

    L(s) = 1/(2n) sum_i phi(c [eps psi(0) + sum_{j!=i} psi(s_ij - s_ii)])
         + 1/(2n) sum_i phi(c [eps psi(0) + sum_{j!=i} psi(s_ji - s_ii)]),

with c = 1 ("sum" over negatives) or c = 1/(n-1) ("mean"). With W = dL/ds the
contrastive weights are beta_ii = -n W_ii and beta_ij = n W_ij (i != j), all >= 0 when
phi, psi are non-decreasing::

    beta_ij = c/2 [phi'(a_i) psi'(s_ij - s_ii) + phi'(b_j) psi'(s_ij - s_jj)]   (i != j)
    beta_ii = c/2 [phi'(a_i) sum_{k!=i} psi'(s_ik - s_ii)
                   + phi'(b_i) sum_{k!=i} psi'(s_ki - s_ii)]

where a_i, b_j are the arguments of phi in row i and column j. Presets: CLIP
(phi = tau log, psi = exp(./tau), eps = 1) and linear (phi = psi = id, eps = 0, mean).
Beyond the family: the sigmoid loss (SigLIP) is not of the phi/psi form, yet its
gradient is again -G2 S(beta)^T with weights of the same signs (:class:`SiglipFamily`).
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch

from ._validation import (
    check_choice,
    check_finite_output,
    check_real,
    check_similarities,
    check_tau,
)

__all__ = [
    "ContrastiveFamily",
    "ClipFamily",
    "LinearFamily",
    "SiglipFamily",
    "clip_family",
    "linear_family",
    "siglip_family",
    "get_family",
    "clip_loss_from_normalizers",
    "linear_loss_of_embeddings",
    "offdiag_mask",
    "weights_from_loss",
]


def _elementwise_derivative(f: Callable, u: torch.Tensor) -> torch.Tensor:
    """f'(u) for an elementwise function f, by autograd."""
    with torch.enable_grad():
        u_ = u.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(u_).sum(), u_)
    return g


def offdiag_mask(s: torch.Tensor) -> torch.Tensor:
    """The boolean mask of the off-diagonal entries of the last two dimensions of s.

    Parameters
    ----------
    s : torch.Tensor
        Tensor of shape (..., n, n).

    Returns
    -------
    torch.Tensor
        Boolean tensor of shape (n, n) on s's device, True off the diagonal.
    """
    n = s.shape[-1]
    return ~torch.eye(n, dtype=torch.bool, device=s.device)


def clip_loss_from_normalizers(
    row: torch.Tensor, col: torch.Tensor, positives: torch.Tensor, tau: float = 1.0
) -> torch.Tensor:
    """The CLIP loss from its log-normalisers: the one spelling of the formula in mmcl.

    With logits l (n x n) whose positives are p_i (the diagonal l_ii, or another choice
    of one positive per row), row log-normalisers r_i = LSE_j l_ij and column ones c_j =
    LSE_i l_ij,

        L = tau / (2n) sum_i [(r_i - p_i) + (c_i - p_i)],

    the mean of the row and column cross-entropies, times tau.

    Parameters
    ----------
    row : torch.Tensor
        Tensor of shape (..., n): the row log-normalisers r_i.
    col : torch.Tensor
        Tensor of shape (..., n): the column log-normalisers c_i.
    positives : torch.Tensor
        Tensor of shape (..., n): the positives' logits p_i.
    tau : float, default=1.0
        The factor in front (the temperature when the logits are s / tau).

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    n = row.shape[-1]
    return tau * ((row - positives) + (col - positives)).sum(-1) / (2 * n)


def _linear_loss(positives: torch.Tensor, total: torch.Tensor, n: int) -> torch.Tensor:
    """-(1/n) sum_i s_ii + 1/(n(n-1)) sum_{i!=j} s_ij from tr(s) and the sum of all of
    s."""
    return -positives / n + (total - positives) / (n * (n - 1))


def linear_loss_of_embeddings(zx: torch.Tensor, zy: torch.Tensor) -> torch.Tensor:
    """The linear loss of s = zx zy^T in O(n r), without forming s.

    L = -(1/n) sum_i s_ii + 1/(n(n-1)) sum_{i!=j} s_ij, with sum_i s_ii = sum(zx * zy)
    and sum_ij s_ij = <sum_i zx_i, sum_j zy_j>.

    Parameters
    ----------
    zx : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of modality 1.
    zy : torch.Tensor
        Tensor of shape (..., n, r): the embeddings of modality 2 (rows paired with zx).

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    positives = (zx * zy).sum((-1, -2))
    total = (zx.sum(-2) * zy.sum(-2)).sum(-1)
    return _linear_loss(positives, total, zx.shape[-2])


def weights_from_loss(
    loss_of_similarities: Callable[[torch.Tensor], torch.Tensor], s: torch.Tensor
) -> torch.Tensor:
    """Contrastive weights of any loss L(s) of the similarity matrix, by autograd.

    With W = dL/ds: beta_ii = -n W_ii and beta_ij = n W_ij (i != j), so that grad L =
    -grad tr(G1 S(beta) G2^T) with beta frozen. This is the general definition of the
    weights; it works for losses outside the phi/psi family too, e.g. the sigmoid
    (SigLIP-style) loss.

    Parameters
    ----------
    loss_of_similarities : callable
        Maps s, a tensor of shape (..., n, n), to one loss per leading index (they are
        summed).
    s : torch.Tensor
        Tensor of shape (..., n, n): the similarities.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., n, n): the weights beta.
    """
    if not callable(loss_of_similarities):
        raise TypeError(
            "loss_of_similarities must be a callable mapping s (..., n, n) to a loss"
        )
    n = check_similarities(s).shape[-1]
    with torch.enable_grad():
        s_ = s.detach().clone().requires_grad_(True)
        (W,) = torch.autograd.grad(loss_of_similarities(s_).sum(), s_)
    return n * torch.where(offdiag_mask(s), W, -W)


# Module-level pieces of the presets (no local lambdas), so that families and fitted
# estimators pickle; partial(f, tau) pickles whenever f does.
def _identity(u):
    return u


def _scaled_log(tau, u):
    return tau * torch.log(u)


def _exp_over(tau, u):
    return torch.exp(u / tau)


def _tau_over(tau, u):
    return tau / u


def _exp_over_div(tau, u):
    return torch.exp(u / tau) / tau


_KNOBS = (
    "scale the data down, raise tau (CLIP), or lower lr when training (overflow of "
    "psi = exp(s / tau) or of the similarities)"
)


class ContrastiveFamily:
    """A member (phi, psi, eps) of the family; phi, psi elementwise and non-decreasing.

    Parameters
    ----------
    phi : callable
        An elementwise, non-decreasing torch function (applied per row and column).
    psi : callable
        An elementwise, non-decreasing torch function (applied to similarity gaps).
    eps : float, default=1.0
        The weight of psi(0) (the positive's own term) inside phi.
    negatives : {"sum", "mean"}, default="sum"
        Sum over the n - 1 negatives, or average them.
    dphi : callable, optional
        The derivative of phi; taken by autograd when omitted.
    dpsi : callable, optional
        The derivative of psi; taken by autograd when omitted.
    name : str, default="custom"
        A label for plots and tables.
    """

    def __init__(
        self,
        phi: Callable,
        psi: Callable,
        eps: float = 1.0,
        *,
        negatives: str = "sum",
        dphi: Callable | None = None,
        dpsi: Callable | None = None,
        name: str = "custom",
    ):
        if not callable(phi) or not callable(psi):
            raise TypeError(
                "phi and psi must be callables acting elementwise on tensors"
            )
        for fname, f in (("dphi", dphi), ("dpsi", dpsi)):
            if f is not None and not callable(f):
                raise TypeError(f"{fname} must be a callable or None, got {f!r}")
        check_choice(negatives, "negatives", ("sum", "mean"))
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        eps = check_real(eps, "eps", low=0.0)
        self.phi, self.psi, self.eps = phi, psi, float(eps)
        self.negatives, self.name = negatives, name
        self._dphi, self._dpsi = dphi, dpsi

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    def dphi(self, u):
        return (
            self._dphi(u)
            if self._dphi is not None
            else _elementwise_derivative(self.phi, u)
        )

    def dpsi(self, u):
        return (
            self._dpsi(u)
            if self._dpsi is not None
            else _elementwise_derivative(self.psi, u)
        )

    def _c(self, n: int) -> float:
        return 1.0 if self.negatives == "sum" else 1.0 / (n - 1)

    def _args(self, s):
        """Differences D_ij = s_ij - s_ii (rows), E_ij = s_ij - s_jj (columns), and a_i,
        b_j."""
        s = check_similarities(s, "s")
        n = s.shape[-1]
        off = offdiag_mask(s)
        diag = torch.diagonal(s, dim1=-2, dim2=-1)
        D = s - diag.unsqueeze(-1)
        E = s - diag.unsqueeze(-2)
        psi0 = self.eps * self.psi(torch.zeros((), dtype=s.dtype, device=s.device))
        c = self._c(n)
        a = c * (psi0 + torch.where(off, self.psi(D), 0).sum(-1))
        b = c * (psi0 + torch.where(off, self.psi(E), 0).sum(-2))
        return n, off, D, E, a, b, c

    def loss_from_similarities(self, s: torch.Tensor) -> torch.Tensor:
        """L(s) without the regulariser; shape s.shape[:-2]."""
        n, _, _, _, a, b, _ = self._args(s)
        value = (self.phi(a).sum(-1) + self.phi(b).sum(-1)) / (2 * n)
        return check_finite_output(value, f"the {self.name} loss", _KNOBS)

    def weights(self, s: torch.Tensor) -> torch.Tensor:
        """The contrastive weights beta(s), shape (..., n, n), general formula."""
        n, off, D, E, a, b, c = self._args(s)
        pa, pb = self.dphi(a), self.dphi(b)
        dD = torch.where(off, self.dpsi(D), 0)
        dE = torch.where(off, self.dpsi(E), 0)
        beta = 0.5 * c * (pa.unsqueeze(-1) * dD + pb.unsqueeze(-2) * dE)
        diag = 0.5 * c * (pa * dD.sum(-1) + pb * dE.sum(-2))
        beta = torch.where(off, beta, torch.diag_embed(diag))
        return check_finite_output(beta, f"the {self.name} weights beta", _KNOBS)


class ClipFamily(ContrastiveFamily):
    """CLIP / symmetric InfoNCE: phi(u) = tau log u, psi(u) = exp(u / tau), eps = 1.

    Equals tau times the standard CLIP loss (mean of the row and column cross-entropies
    of the logits s / tau). Loss and weights use the stable log-sum-exp / softmax closed
    forms: beta_ij = (P_ij + Q_ij) / 2 (i != j), beta_ii = 1 - (P_ii + Q_ii) / 2, with
    P, Q the row and column softmax of s / tau.
    """

    def __init__(self, tau: float = 1.0):
        self.tau = check_tau(tau)
        t = self.tau
        super().__init__(
            partial(_scaled_log, t),
            partial(_exp_over, t),
            1.0,
            dphi=partial(_tau_over, t),
            dpsi=partial(_exp_over_div, t),
            name=f"CLIP (tau={t:g})",
        )

    def loss_from_similarities(self, s):
        s = check_similarities(s, "s")
        logits = s / self.tau
        diag = torch.diagonal(logits, dim1=-2, dim2=-1)
        return check_finite_output(
            clip_loss_from_normalizers(
                torch.logsumexp(logits, -1), torch.logsumexp(logits, -2), diag, self.tau
            ),
            "the CLIP loss",
            "raise tau or scale the similarities down (s / tau overflows)",
        )

    def weights(self, s):
        s = check_similarities(s, "s")
        logits = check_finite_output(
            s / self.tau,
            "the CLIP logits s / tau",
            "raise tau or scale the similarities down",
        )
        avg = 0.5 * (torch.softmax(logits, -1) + torch.softmax(logits, -2))
        eye = torch.eye(s.shape[-1], dtype=torch.bool, device=s.device)
        return torch.where(eye, 1 - avg, avg)


class LinearFamily(ContrastiveFamily):
    """The linear loss: phi = psi = identity, eps = 0, negatives averaged. Then

    L = -(1/n) sum_i s_ii + 1/(n(n-1)) sum_{i!=j} s_ij, beta_ii = 1, beta_ij = 1/(n-1),
    and S(beta) is the unbiased centred cross-covariance.
    """

    def __init__(self):
        super().__init__(
            _identity,
            _identity,
            0.0,
            negatives="mean",
            dphi=torch.ones_like,
            dpsi=torch.ones_like,
            name="linear",
        )

    def loss_from_similarities(self, s):
        s = check_similarities(s, "s")
        n = s.shape[-1]
        return _linear_loss(
            torch.diagonal(s, dim1=-2, dim2=-1).sum(-1), s.sum((-1, -2)), n
        )

    def weights(self, s):
        s = check_similarities(s, "s")
        n = s.shape[-1]
        eye = torch.eye(n, dtype=s.dtype, device=s.device)
        return (eye + (1 - eye) / (n - 1)).expand(s.shape)


class SiglipFamily(ContrastiveFamily):
    """The sigmoid loss of SigLIP (Zhai et al. 2023), times tau, on logits
    z = s / tau + bias::

        L(s) = -(tau / n) sum_{i,j} log sigmoid(l_ij z_ij),  l_ij = 1 if i = j else -1.

    It is not of the phi/psi form (every pair is its own binary problem), but it
    depends on G only through s, so the gradient identity of chapter 2 holds with
    beta_ii = -n dL/ds_ii and beta_ij = n dL/ds_ij::

        beta_ij = sigmoid(z_ij)  (i != j),    beta_ii = sigmoid(-z_ii).

    Every weight is local (no softmax normaliser), so blocks of rows need one pass. The
    factor tau matches :class:`ClipFamily` (tau times the standard loss), so the weights
    are O(1). ``phi`` and ``psi`` are None: only ``loss_from_similarities`` and
    ``weights`` apply.

    Parameters
    ----------
    tau : float, default=1.0
        The temperature (> 0); the logit scale is 1 / tau.
    bias : float, default=0.0
        The logit bias b.
    """

    def __init__(self, tau: float = 1.0, bias: float = 0.0):
        self.tau = check_tau(tau)
        self.bias = check_real(bias, "bias")
        self.phi = self.psi = self._dphi = self._dpsi = None
        self.eps, self.negatives = 0.0, "sum"
        self.name = f"SigLIP (tau={self.tau:g}, b={self.bias:g})"

    def _signed_logits(self, s):
        """l_ij z_ij with z = s / tau + bias: +z on the diagonal, -z off it."""
        s = check_similarities(s, "s")
        z = s / self.tau + self.bias
        eye = torch.eye(s.shape[-1], dtype=torch.bool, device=s.device)
        return torch.where(eye, z, -z)

    def loss_from_similarities(self, s):
        # -log sigmoid(u) = softplus(-u), stable for every u
        lz = self._signed_logits(s)
        return self.tau * torch.nn.functional.softplus(-lz).sum((-1, -2)) / lz.shape[-1]

    def weights(self, s):
        # sigmoid(-l z): sigmoid(-z_ii) on the diagonal, sigmoid(z_ij) off it
        return torch.sigmoid(-self._signed_logits(s))


def clip_family(tau: float = 1.0) -> ClipFamily:
    """The CLIP preset with temperature tau > 0.

    Parameters
    ----------
    tau : float, default=1.0
        The temperature (> 0).

    Returns
    -------
    ClipFamily
    """
    return ClipFamily(tau)


def linear_family() -> LinearFamily:
    """The linear preset."""
    return LinearFamily()


def siglip_family(tau: float = 1.0, bias: float = 0.0) -> SiglipFamily:
    """The sigmoid (SigLIP) preset.

    Parameters
    ----------
    tau : float, default=1.0
        The temperature (> 0).
    bias : float, default=0.0
        The logit bias.

    Returns
    -------
    SiglipFamily
    """
    return SiglipFamily(tau, bias)


def get_family(
    loss="clip", tau: float = 1.0, *, bias: float = 0.0
) -> ContrastiveFamily:
    """Resolve ``"clip"``, ``"linear"``, ``"siglip"`` or a ContrastiveFamily instance.

    Parameters
    ----------
    loss : {"clip", "linear", "siglip"} or ContrastiveFamily, default="clip"
        The preset's name, or a member (returned unchanged).
    tau : float, default=1.0
        The CLIP or SigLIP temperature.
    bias : float, default=0.0
        The SigLIP logit bias (ignored by the other presets).

    Returns
    -------
    ContrastiveFamily
    """
    if isinstance(loss, ContrastiveFamily):
        return loss
    if isinstance(loss, str) and loss == "clip":
        return ClipFamily(tau)
    if isinstance(loss, str) and loss == "linear":
        check_tau(tau)  # checked even though the linear loss ignores it
        return LinearFamily()
    if loss == "siglip":
        return SiglipFamily(tau, bias)
    raise ValueError(
        f"loss must be 'clip', 'linear', 'siglip' or a ContrastiveFamily, got {loss!r}"
    )
