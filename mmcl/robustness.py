"""The robustness experiment: multimodal contrastive learning against the unimodal baselines.

:func:`robustness_trial` draws ``replicates`` samples of the latent factor model with a fraction
``eta`` of correct pairs and heteroskedastic noise in both modalities, and returns the sinTheta
error of each method's estimate of span U1. It is a trial for :func:`mmcl.experiments.run_experiment`.
The unimodal methods only see X, whose distribution does not depend on eta.
"""

from __future__ import annotations

from typing import Sequence

import torch

from . import baselines
from ._validation import check_fraction, check_int, check_real
from .data import LatentFactorModel, heteroskedastic_noise_std, make_generator
from .metrics import sin_theta_distance
from .solvers import linear_closed_form

__all__ = ["METHODS", "robustness_trial"]

# method name -> estimator of span U1 from (X, Y, r)
METHODS = {
    "MMCL": lambda X, Y, r: linear_closed_form(X, Y, r).U,
    "PCA": lambda X, Y, r: baselines.pca(X, r),
    "diagonal deletion": lambda X, Y, r: baselines.diagonal_deletion(X, r),
    "HeteroPCA": lambda X, Y, r: baselines.hetero_pca(X, r),
    "masked contrastive": lambda X, Y, r: baselines.masked_contrastive(X, r),
}


def robustness_trial(
    replicates: int,
    generator: torch.Generator,
    *,
    n: int,
    eta: float = 1.0,
    spread: float = 0.9,
    d1: int = 20,
    d2: int = 10,
    r: int = 3,
    mean_var: float = 1.0,
    signal: float = 2.0,
    population_seed: int = 0,
    methods: Sequence[str] = ("MMCL", "PCA", "diagonal deletion", "HeteroPCA"),
    dtype=torch.float64,
) -> dict[str, torch.Tensor]:
    """sinTheta(estimate, U1) per method for ``replicates`` independent draws, batched.

    Parameters
    ----------
    replicates : int;  generator : torch.Generator  (as passed by :func:`mmcl.experiments.run_experiment`).
    n : int  number of pairs;  eta : float in [0, 1]  fraction of correct pairs.
    spread : float in [0, 1)  heteroskedasticity: noise variances uniform on
        mean_var * [1 - spread, 1 + spread], one profile per modality drawn from
        ``population_seed`` (shared by the replicates and by every grid point).
    d1, d2, r : dimensions;  mean_var : mean noise variance;  signal : Sigma_z = signal * I_r.
    methods : names from ``METHODS``.

    Returns
    -------
    dict method -> tensor (replicates,) of ||sin Theta(hat U1, U1)||_F (U1 Haar, new per replicate).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(
            f"methods must be a non-empty list from {list(METHODS)}, got {list(methods)}"
        )
    n = check_int(n, "n", low=2)
    eta = check_fraction(eta)
    check_real(signal, "signal", low=0.0, low_open=True)
    pop = make_generator(population_seed)
    s1 = heteroskedastic_noise_std(d1, mean_var=mean_var, spread=spread, generator=pop)
    s2 = heteroskedastic_noise_std(d2, mean_var=mean_var, spread=spread, generator=pop)
    model = LatentFactorModel(d1, d2, r, signal_cov=signal, noise1=s1, noise2=s2)
    data = model.sample(n, eta=eta, replicates=replicates, seed=generator, dtype=dtype)
    return {
        m: sin_theta_distance(METHODS[m](data.X, data.Y, r), data.U1) for m in methods
    }
