"""Chapter 3's robustness experiment: multimodal contrastive learning against the
unimodal baselines.

:func:`robustness_trial` draws ``replicates`` samples of the latent factor model with a
fraction ``eta`` of correct pairs and heteroskedastic noise in both modalities, and
returns the sinTheta error of each method's estimate of span U1. It is a trial for
:func:`mmcl.experiments.runner.run_experiment`. The unimodal methods only see X, whose
distribution does not depend on eta.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .. import baselines
from .._validation import check_fraction, check_int, check_real
from ..data import LatentFactorModel
from ..sampling import heteroskedastic_noise_std, make_generator
from ..metrics import sin_theta_distance
from ..solvers import linear_closed_form

__all__ = ["METHODS", "robustness_trial"]

#: Method name -> estimator of span U1 from (X, Y, r), MMCL and the unimodal baselines.
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
    replicates : int
        The number of independent draws (as passed by
        :func:`mmcl.experiments.runner.run_experiment`).
    generator : torch.Generator
        The generator of the draws (likewise).
    n : int
        The number of pairs.
    eta : float, default=1.0
        The fraction of correct pairs, in [0, 1].
    spread : float, default=0.9
        The heteroskedasticity, in [0, 1): noise variances uniform on
        mean_var * [1 - spread, 1 + spread], one profile per modality drawn from
        ``population_seed`` (shared by the replicates and by every grid point).
    d1 : int, default=20
        The dimension of modality 1.
    d2 : int, default=10
        The dimension of modality 2.
    r : int, default=3
        The latent dimension.
    mean_var : float, default=1.0
        The mean noise variance.
    signal : float, default=2.0
        The signal strength: Sigma_z = signal * I_r.
    population_seed : int, default=0
        The seed of the noise profiles.
    methods : sequence of str, default=("MMCL", "PCA", "diagonal deletion", "HeteroPCA")
        Names from ``METHODS``.
    dtype : torch.dtype, default=torch.float64
        The dtype of the data.

    Returns
    -------
    dict
        Method name -> tensor of shape (replicates,): ||sin Theta(hat U1, U1)||_F (U1
        Haar, new per replicate).
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(
            f"methods must be a non-empty list from {list(METHODS)}, got "
            f"{list(methods)}"
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
