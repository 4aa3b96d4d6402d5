"""Data generation: the two-modality latent factor model with wrong pairs and unpaired
pools.

Model (book chapter 1, section "The model")::

    x = U1 z + xi,          y = U2 z~ + zeta,

with U1 (d1, r), U2 (d2, r) orthonormal, z ~ N(0, Sigma_z), and z~ = z for a fraction
eta of the pairs (the true pairs) and an independent draw for the others (the wrong
pairs), so that E[x y^T] = eta U1 Sigma_z U2^T. Everything is drawn on the CPU from a
seeded ``torch.Generator`` and then moved to ``device``, so a seed gives the same
numbers on every device.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from ._validation import (
    as_tensor,
    check_dtype,
    check_fraction,
    check_int,
    check_rank,
)
from .device import default_device
from .sampling import haar_orthonormal, make_generator

__all__ = [
    "MultimodalSample",
    "LatentFactorModel",
    "make_multimodal",
]


@dataclass
class MultimodalSample:
    """One draw of the model; tensors may carry a leading replicate dimension.

    Attributes
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d1): modality 1.
    Y : torch.Tensor
        Tensor of shape (..., n, d2): modality 2, row i paired with row i of X.
    is_true : torch.Tensor
        Boolean tensor of shape (..., n): the pairs that share their latent.
    U1 : torch.Tensor
        Tensor of shape (..., d1, r): the ground-truth subspace of modality 1.
    U2 : torch.Tensor
        Tensor of shape (..., d2, r): the ground-truth subspace of modality 2.
    X_unpaired : torch.Tensor or None
        Tensor of shape (..., N, d1): the unpaired pool of modality 1.
    Y_unpaired : torch.Tensor or None
        Tensor of shape (..., N, d2): the unpaired pool of modality 2, shuffled.
    unpaired_match : torch.Tensor or None
        Long tensor of shape (..., N): ``Y_unpaired[..., unpaired_match[k], :]`` is the
        partner of ``X_unpaired[..., k, :]`` (hidden from the learner, kept for
        scoring).
    X_test : torch.Tensor or None
        Tensor of shape (..., n_test, d1): held-out clean pairs, modality 1.
    Y_test : torch.Tensor or None
        Tensor of shape (..., n_test, d2): held-out clean pairs, modality 2.
    """

    X: torch.Tensor
    Y: torch.Tensor
    is_true: torch.Tensor
    U1: torch.Tensor
    U2: torch.Tensor
    X_unpaired: torch.Tensor | None = None
    Y_unpaired: torch.Tensor | None = None
    unpaired_match: torch.Tensor | None = None
    X_test: torch.Tensor | None = None
    Y_test: torch.Tensor | None = None

    def to(self, device=None, dtype=None) -> "MultimodalSample":
        """Move every tensor (floating ones also cast to dtype)."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                v = v.to(device=device, dtype=dtype if v.is_floating_point() else None)
            out[f.name] = v
        return MultimodalSample(**out)


def _noise_vector(noise, d: int, name: str) -> torch.Tensor:
    t = as_tensor(noise, name, dtype=torch.float64).to("cpu", torch.float64)
    if t.ndim == 0:
        t = t.expand(d)
    if t.shape != (d,):
        raise ValueError(
            f"{name} must be a scalar or a vector of length {d}, got shape "
            f"{tuple(t.shape)}"
        )
    if not bool(torch.isfinite(t).all()) or bool((t < 0).any()):
        raise ValueError(f"{name} must hold finite standard deviations >= 0")
    return t


def _signal_factor(signal_cov, r: int) -> torch.Tensor:
    """A matrix L with L L^T = Sigma_z (r x r)."""
    t = as_tensor(signal_cov, "signal_cov", dtype=torch.float64).to(
        "cpu", torch.float64
    )
    if not bool(torch.isfinite(t).all()):
        raise ValueError("signal_cov must be finite (no NaN or inf entries)")
    if t.ndim == 0:
        t = t.expand(r)
    if t.ndim == 1:
        if t.shape != (r,) or bool((t < 0).any()) or not bool(torch.isfinite(t).all()):
            raise ValueError(
                f"signal_cov as a vector must hold {r} finite variances >= 0, got "
                f"{t.tolist()}"
            )
        return torch.diag(t.sqrt())
    if t.shape != (r, r):
        raise ValueError(
            f"signal_cov must be a scalar, a length-{r} vector or an {r}x{r} matrix, "
            f"got {tuple(t.shape)}"
        )
    if not torch.allclose(t, t.T):
        raise ValueError("signal_cov must be symmetric")
    evals, evecs = torch.linalg.eigh(t)
    if bool((evals < -1e-10 * evals.abs().max()).any()):
        raise ValueError("signal_cov must be positive semi-definite")
    return evecs * evals.clamp_min(0).sqrt()


@dataclass
class LatentFactorModel:
    """The population: dimensions, subspaces, signal covariance and noise levels.

    Parameters
    ----------
    d1 : int
        The dimension of modality 1.
    d2 : int
        The dimension of modality 2.
    r : int
        The latent dimension, r <= min(d1, d2).
    signal_cov : float or torch.Tensor, default=1.0
        Sigma_z: a scalar (a multiple of I), variances of shape (r,) or a matrix (r, r).
    noise1 : float or torch.Tensor, default=1.0
        Noise standard deviations of modality 1: a scalar or a tensor of shape (d1,).
    noise2 : float or torch.Tensor, default=1.0
        Noise standard deviations of modality 2: a scalar or a tensor of shape (d2,).
    U1 : torch.Tensor, optional
        Tensor of shape (d1, r): a fixed subspace (drawn Haar-uniformly per replicate if
        None).
    U2 : torch.Tensor, optional
        Tensor of shape (d2, r): likewise for modality 2.
    """

    d1: int
    d2: int
    r: int
    signal_cov: object = 1.0
    noise1: object = 1.0
    noise2: object = 1.0
    U1: torch.Tensor | None = None
    U2: torch.Tensor | None = None

    def __post_init__(self):
        check_int(self.d1, "d1")
        check_int(self.d2, "d2")
        check_rank(self.r, self.d1, self.d2)
        self._L = _signal_factor(self.signal_cov, self.r)
        self._s1 = _noise_vector(self.noise1, self.d1, "noise1")
        self._s2 = _noise_vector(self.noise2, self.d2, "noise2")
        for name, U, d in (("U1", self.U1, self.d1), ("U2", self.U2, self.d2)):
            if U is not None:
                U = as_tensor(U, name).to("cpu", torch.float64)
                if U.shape != (d, self.r):
                    raise ValueError(
                        f"{name} must have shape ({d}, {self.r}), got {tuple(U.shape)}"
                    )
                if not torch.allclose(
                    U.T @ U, torch.eye(self.r, dtype=torch.float64), atol=1e-6
                ):
                    raise ValueError(f"{name} must have orthonormal columns")
                setattr(self, name, U)

    def cross_covariance(self, eta: float = 1.0) -> torch.Tensor:
        """The population cross-covariance eta U1 Sigma_z U2^T (needs fixed U1, U2)."""
        if self.U1 is None or self.U2 is None:
            raise ValueError("cross_covariance needs fixed U1 and U2 in the model")
        return check_fraction(eta) * self.U1 @ (self._L @ self._L.T) @ self.U2.T

    def sample(
        self,
        n: int,
        *,
        eta: float = 1.0,
        n_unpaired: int = 0,
        n_test: int = 0,
        replicates: int | None = None,
        seed=0,
        dtype=torch.float32,
        device=None,
    ) -> MultimodalSample:
        """Draw n pairs (a fraction eta of them true), optional unpaired pools and test
        pairs.

        With ``replicates=R`` every tensor gets a leading dimension R (independent
        replicates, each with its own subspaces unless U1, U2 are fixed).
        """
        n = check_int(n, "n", low=2)
        eta = check_fraction(eta)
        n_unpaired = check_int(n_unpaired, "n_unpaired", low=0)
        n_test = check_int(n_test, "n_test", low=0)
        batch = () if replicates is None else (check_int(replicates, "replicates"),)
        check_dtype(dtype)
        device = default_device(device)
        g = make_generator(seed)
        d1, d2, r = self.d1, self.d2, self.r
        U1 = (
            self.U1.expand(*batch, d1, r)
            if self.U1 is not None
            else haar_orthonormal(d1, r, batch=batch, generator=g)
        )
        U2 = (
            self.U2.expand(*batch, d2, r)
            if self.U2 is not None
            else haar_orthonormal(d2, r, batch=batch, generator=g)
        )

        def latent(m):
            return (
                torch.randn(*batch, m, r, generator=g, dtype=torch.float64) @ self._L.T
            )

        def views(z_x, z_y):
            m = z_x.shape[-2]
            x = (
                z_x @ U1.transpose(-1, -2)
                + torch.randn(*batch, m, d1, generator=g, dtype=torch.float64)
                * self._s1
            )
            y = (
                z_y @ U2.transpose(-1, -2)
                + torch.randn(*batch, m, d2, generator=g, dtype=torch.float64)
                * self._s2
            )
            return x, y

        z = latent(n)
        n_true = round(eta * n)
        order = torch.rand(*batch, n, generator=g).argsort(dim=-1)
        is_true = (
            order < n_true
        )  # a uniformly random subset of exactly n_true true pairs
        z_y = torch.where(is_true.unsqueeze(-1), z, latent(n))
        X, Y = views(z, z_y)
        out = dict(X=X, Y=Y, is_true=is_true, U1=U1, U2=U2)
        if n_unpaired:
            zu = latent(n_unpaired)
            Xu, Yu = views(zu, zu)
            perm = torch.rand(*batch, n_unpaired, generator=g).argsort(
                dim=-1
            )  # Yu shuffled = Yu[perm]
            Yu = torch.gather(Yu, -2, perm.unsqueeze(-1).expand(*perm.shape, d2))
            out.update(
                X_unpaired=Xu, Y_unpaired=Yu, unpaired_match=perm.argsort(dim=-1)
            )
        if n_test:
            zt = latent(n_test)
            out["X_test"], out["Y_test"] = views(zt, zt)
        return MultimodalSample(**out).to(device=device, dtype=dtype)


def make_multimodal(
    n: int,
    d1: int,
    d2: int,
    r: int,
    *,
    eta: float = 1.0,
    signal_cov=1.0,
    noise=1.0,
    noise2=None,
    n_unpaired: int = 0,
    n_test: int = 0,
    replicates: int | None = None,
    seed=0,
    dtype=torch.float32,
    device=None,
) -> MultimodalSample:
    """One call: draw a :class:`MultimodalSample` from a :class:`LatentFactorModel`.

    Example: ``make_multimodal(300, 40, 39, 10, noise=0.3, seed=1)``.

    Parameters
    ----------
    n : int
        The number of pairs.
    d1 : int
        The dimension of modality 1.
    d2 : int
        The dimension of modality 2.
    r : int
        The latent dimension, r <= min(d1, d2).
    eta : float, default=1.0
        The fraction of true pairs, in [0, 1].
    signal_cov : float or torch.Tensor, default=1.0
        Sigma_z: a scalar, variances of shape (r,) or a matrix of shape (r, r).
    noise : float or torch.Tensor, default=1.0
        Noise standard deviations of modality 1: a scalar or a tensor of shape (d1,).
    noise2 : float or torch.Tensor, optional
        Those of modality 2 (default: ``noise``).
    n_unpaired : int, default=0
        The size N of the unpaired pools.
    n_test : int, default=0
        The number of clean test pairs.
    replicates : int, optional
        Independent replicates in a leading dimension.
    seed : int or torch.Generator, default=0
        The seed (draws happen on the CPU, then move).
    dtype : torch.dtype, default=torch.float32
        torch.float32 or torch.float64.
    device : str or torch.device, optional
        Where the tensors go (default: :func:`mmcl.device.default_device`).

    Returns
    -------
    MultimodalSample
        The pairs, their truth, the subspaces, and the optional pools and test pairs.
    """
    d1, d2 = check_int(d1, "d1"), check_int(d2, "d2")
    _noise_vector(noise, d1, "noise")  # checked by the user's names before the model
    _noise_vector(
        noise if noise2 is None else noise2, d2, "noise" if noise2 is None else "noise2"
    )
    model = LatentFactorModel(
        d1,
        d2,
        r,
        signal_cov=signal_cov,
        noise1=noise,
        noise2=noise if noise2 is None else noise2,
    )
    return model.sample(
        n,
        eta=eta,
        n_unpaired=n_unpaired,
        n_test=n_test,
        replicates=replicates,
        seed=seed,
        dtype=dtype,
        device=device,
    )
