"""Plotting helpers shared by the chapters: they take results and an ``ax``, return the figure,
and never call ``show()``."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = [
    "use_book_style",
    "mean_and_se",
    "plot_mean_se",
    "new_axes",
    "plot_weights_and_spectrum",
]

PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
]


def use_book_style() -> None:
    """One look for every figure of the book."""
    plt.rcParams.update(
        {
            "figure.figsize": (6.4, 3.8),
            "figure.dpi": 110,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "font.size": 10,
            "axes.titlesize": 11,
            "axes.prop_cycle": plt.cycler(color=PALETTE),
        }
    )


def _np(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=float)


def mean_and_se(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over replicates (``axis``)."""
    v = _np(values)
    k = v.shape[axis]
    se = (
        v.std(axis=axis, ddof=1) / np.sqrt(k)
        if k > 1
        else np.zeros_like(v.mean(axis=axis))
    )
    return v.mean(axis=axis), se


def plot_mean_se(ax, x, values, *, label=None, band: bool = False, **kwargs):
    """Plot the replicate mean of ``values`` (replicates, len(x)) against x with standard-error bars
    (or a shaded band). Returns the figure."""
    m, se = mean_and_se(values)
    x = _np(x)
    if band:
        (line,) = ax.plot(x, m, label=label, **kwargs)
        ax.fill_between(x, m - se, m + se, color=line.get_color(), alpha=0.2, lw=0)
    else:
        ax.errorbar(x, m, yerr=se, label=label, capsize=3, **kwargs)
    return ax.figure


def new_axes(ncols: int = 1, *, width: float = 6.4, height: float = 3.8, **kwargs):
    """A row of axes in the book's style: ``fig, axes = new_axes(2)``."""
    use_book_style()
    fig, axes = plt.subplots(1, ncols, figsize=(width, height), **kwargs)
    return fig, axes


def plot_weights_and_spectrum(
    axes, beta, singular_values, r: int, *, k: int = 20, title: str = ""
):
    """Left: the negatives' weights n * beta_ij (n, n) on the first k pairs, log colour scale,
    diagonal blank (uniform weights read 1); right: the singular values of S(beta) with the top r
    marked. ``axes`` is a pair of axes; returns the figure."""
    from matplotlib.colors import LogNorm

    ax1, ax2 = axes
    b = _np(beta)
    neg = b.shape[-1] * b[:k, :k]
    np.fill_diagonal(neg, np.nan)
    im = ax1.imshow(neg, cmap="viridis", norm=LogNorm(vmin=1e-3, vmax=1e2))
    ax1.figure.colorbar(im, ax=ax1, fraction=0.046, label="$n\\beta_{ij}$")
    ax1.set(
        xlabel="caption $j$",
        ylabel="image $i$",
        title=f"Negatives' weights {title}".strip(),
    )
    ax1.grid(False)
    sig = _np(singular_values)
    idx = np.arange(1, len(sig) + 1)
    ax2.plot(idx, sig, "o-", ms=3, color="grey", label="$\\sigma_k(S(\\beta))$")
    ax2.plot(idx[:r], sig[:r], "o", ms=6, color=PALETTE[1], label=f"top $r$ = {r}")
    ax2.set(
        xlabel="index $k$",
        ylabel="singular value",
        yscale="log",
        title="Spectrum of $S(\\beta)$",
    )
    ax2.legend()
    return ax1.figure
