"""Seeded randomness: generators from seeds, Haar-random orthonormal bases,
heteroskedastic noise profiles and one random member per class (the draws every data
module shares).

Every draw is made on the CPU from a seeded ``torch.Generator`` (``make_generator``), so
a seed gives the same numbers on every device and machine.
"""

from __future__ import annotations


import torch

from ._validation import (
    check_dtype,
    check_int,
    check_labels,
    check_rank,
    check_real,
)

__all__ = [
    "make_generator",
    "haar_orthonormal",
    "heteroskedastic_noise_std",
    "random_class_members",
]


def make_generator(seed: int | torch.Generator | None) -> torch.Generator:
    """A CPU ``torch.Generator`` from a seed (or pass one through).

    Parameters
    ----------
    seed : int or torch.Generator or None
        A seed (None means 0) or a generator, returned unchanged.

    Returns
    -------
    torch.Generator
    """
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else check_int(seed, "seed", low=0, high=2**63 - 1))
    return g


def random_class_members(labels, classes, *, generator=None) -> torch.Tensor:
    """For every entry c of ``classes``, the index of a uniformly random row with label
    c.

    Parameters
    ----------
    labels : torch.Tensor
        Long tensor of shape (m,): the class of each row.
    classes : torch.Tensor
        Long tensor of any shape: the classes to draw a member of; each must occur in
        labels.
    generator : int or torch.Generator, optional
        The seed or generator of the draw (one uniform number per entry of ``classes``).

    Returns
    -------
    torch.Tensor
        Long tensor of the shape of ``classes``: indices into labels.
    """
    labels = check_labels(labels, "labels")
    classes = torch.as_tensor(classes).long()
    counts = torch.bincount(labels, minlength=int(classes.max()) + 1)
    if bool((counts[classes] == 0).any()):
        raise ValueError("every class in classes must occur in labels")
    order = torch.sort(labels, stable=True).indices  # rows grouped by class
    start = torch.cumsum(counts, 0) - counts
    u = torch.rand(
        classes.shape, generator=make_generator(generator), dtype=torch.float64
    )
    size = counts[classes]
    return order[start[classes] + (u * size).long().clamp_max(size - 1)]


def haar_orthonormal(
    d: int, r: int, *, batch: tuple[int, ...] = (), generator=None, dtype=torch.float64
) -> torch.Tensor:
    """First r columns of a Haar-distributed orthogonal d x d matrix, shape ``(*batch,
    d, r)``.

    Parameters
    ----------
    d : int
        The ambient dimension.
    r : int
        The number of columns, r <= d.
    batch : tuple of int, default=()
        Leading (replicate) dimensions.
    generator : int or torch.Generator, optional
        The seed or generator of the draw.
    dtype : torch.dtype, default=torch.float64
        The dtype of the result.

    Returns
    -------
    torch.Tensor
        Tensor of shape ``(*batch, d, r)`` with orthonormal columns.
    """
    d = check_int(d, "d")
    r = check_rank(r, d, d)
    batch = tuple(check_int(b, "batch") for b in batch)
    check_dtype(dtype)
    g = make_generator(generator)
    A = torch.randn(*batch, d, d, generator=g, dtype=torch.float64)
    Q, R = torch.linalg.qr(A)
    Q = Q * torch.sign(torch.diagonal(R, dim1=-2, dim2=-1)).unsqueeze(
        -2
    )  # Haar: fix signs
    return Q[..., :r].to(dtype)


def heteroskedastic_noise_std(
    d: int,
    *,
    mean_var: float = 1.0,
    spread: float = 0.0,
    generator=None,
    dtype=torch.float64,
) -> torch.Tensor:
    """Per-coordinate noise standard deviations with variances uniform on
    ``mean_var * [1 - spread, 1 + spread]`` (spread = 0: isotropic; spread -> 1: very
    uneven).

    Parameters
    ----------
    d : int
        The number of coordinates.
    mean_var : float, default=1.0
        The mean variance (> 0).
    spread : float, default=0.0
        The relative spread of the variances, in [0, 1).
    generator : int or torch.Generator, optional
        The seed or generator of the draw.
    dtype : torch.dtype, default=torch.float64
        The dtype of the result.

    Returns
    -------
    torch.Tensor
        Tensor of shape (d,): standard deviations.
    """
    d = check_int(d, "d")
    check_dtype(dtype)
    check_real(spread, "spread", low=0.0, high=1.0, high_open=True)
    check_real(mean_var, "mean_var", low=0.0, low_open=True)
    g = make_generator(generator)
    u = torch.rand(d, generator=g, dtype=torch.float64) * 2 - 1
    return (mean_var * (1 + spread * u)).sqrt().to(dtype)
