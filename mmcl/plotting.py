"""Plotting helpers shared by the chapters: they take results and an ``ax``, return the figure,
and never call ``show()``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["use_book_style", "mean_and_se", "plot_mean_se", "new_axes"]

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def use_book_style() -> None:
    """One look for every figure of the book."""
    plt.rcParams.update({
        "figure.figsize": (6.4, 3.8), "figure.dpi": 110, "axes.grid": True, "grid.alpha": 0.3,
        "axes.spines.top": False, "axes.spines.right": False, "legend.frameon": False,
        "font.size": 10, "axes.titlesize": 11, "axes.prop_cycle": plt.cycler(color=PALETTE),
    })


def _np(values) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=float)


def mean_and_se(values, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over replicates (``axis``)."""
    v = _np(values)
    k = v.shape[axis]
    se = v.std(axis=axis, ddof=1) / np.sqrt(k) if k > 1 else np.zeros_like(v.mean(axis=axis))
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
