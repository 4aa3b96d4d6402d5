"""Unpaired data (book chapter 4): detect the hidden pairs in two pools, and learn from them.

* ``detection``      pair detectors (top-m, mutual nearest neighbours, assignment, threshold) and
  their precision and recall against the hidden truth;
* ``self_training``  fit on the pairs, detect pairs in the pools, refit (spectral solvers);
* ``recipe``         the paper's gradient recipe (AdamW on normalised embeddings), batched.
"""
from .detection import (DETECTORS, detect_pairs, detected_indices, detection_quality,
                        pool_similarities, true_pair_mask)
from .recipe import RecipeResult, paper_recipe
from .self_training import (UnpairedResult, check_pools, fit_pairs, representation_accuracy,
                            reveal_pairs, self_training)

__all__ = ["DETECTORS", "detect_pairs", "detected_indices", "detection_quality",
           "pool_similarities", "true_pair_mask", "RecipeResult", "paper_recipe", "UnpairedResult",
           "check_pools", "fit_pairs", "representation_accuracy", "reveal_pairs", "self_training"]
