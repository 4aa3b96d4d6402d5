"""mmcl: the mathematics of multimodal contrastive learning, in small fast PyTorch
functions.

The layers, each using only those above it; chapters write ``mmcl.<name>`` for every
public name (``__all__`` is the union of the modules' ``__all__``, in this order):

1. Data: ``sampling`` (seeded generators and random draws), ``data`` (the
   two-modality latent factor model, wrong pairs, unpaired pools),
   ``device`` (where new tensors go; ``MMCL_DEVICE`` overrides), ``realdata.mfeat``
   (offline real data), ``realdata.designs`` (their experiment designs),
   ``realdata.emoji_render`` (the emoji of Debian's colour font, rendered and cached)
   and ``realdata.emoji`` (real images with captions: the emoji corpus).
2. Losses and weights: ``families`` (the phi/psi loss family, CLIP and linear, and the
   contrastive weights beta), ``losses`` (similarities, the contrastive loss, CLIP).
3. Cross-covariance and solvers: ``covariance`` (S(beta), the gradient formula),
   ``blocked`` (memory-bounded CLIP), ``lowrank`` (truncated SVD, signs, balanced
   factors), ``solvers`` (closed forms, SVD-iteration), ``distributed`` (the linear
   closed form and the SVD-iteration on row shards with torch.distributed; namespaced:
   ``mmcl.distributed.<name>``), ``gradient`` (gradient descent and minibatch training,
   for comparison), ``estimator`` (the scikit-learn-style ``MMCL``).
4. Baselines: ``baselines`` (unimodal PCA, diagonal deletion, HeteroPCA),
   ``masking`` (unimodal contrastive learning with random masking).
5. Metrics: ``metrics`` (sinTheta distance, retrieval accuracy, downstream scores).
6. Unpaired data: ``unpaired.detection`` (pair detectors), ``unpaired.self_training``,
   ``unpaired.recipe`` (the paper's gradient recipe).
7. Experiments, the chapter code, each module naming its chapter:
   ``experiments.runner``, ``experiments.loss_to_svd``, ``experiments.robustness``,
   ``experiments.nonlinearity``, ``experiments.cosine``,
   ``experiments.unpaired_runs``,
   ``experiments.unpaired_tables``,
   ``experiments.statistics``, ``experiments.detection_bounds``,
   ``experiments.images_captions``,
   ``experiments.at_scale``, ``experiments.beyond``, ``experiments.alignment``.
8. Figures: ``plotting``, ``widgets`` (imported on demand: ``from mmcl import
plotting``).
"""

from importlib import import_module as _import_module

from ._validation import NonFiniteError  # noqa: F401  (mmcl.NonFiniteError)

# 1. data
from .sampling import *  # noqa: F403
from .data import *  # noqa: F403
from .device import *  # noqa: F403
from .realdata.mfeat import *  # noqa: F403
from .realdata.designs import *  # noqa: F403
from .realdata.emoji_render import *  # noqa: F403
from .realdata.emoji import *  # noqa: F403

# 2. losses and weights
from .families import *  # noqa: F403
from .losses import *  # noqa: F403

# 3. cross-covariance and solvers
from .covariance import *  # noqa: F403
from .blocked import *  # noqa: F403
from .lowrank import *  # noqa: F403
from .solvers import *  # noqa: F403
from .gradient import *  # noqa: F403
from .estimator import *  # noqa: F403

# 4. baselines
from .baselines import *  # noqa: F403
from .masking import *  # noqa: F403

# 5. metrics
from .metrics import *  # noqa: F403

# 6. unpaired data
from .unpaired.detection import *  # noqa: F403
from .unpaired.self_training import *  # noqa: F403
from .unpaired.recipe import *  # noqa: F403

# 7. experiments (chapter code)
from .experiments.runner import *  # noqa: F403
from .experiments.loss_to_svd import *  # noqa: F403
from .experiments.robustness import *  # noqa: F403
from .experiments.nonlinearity import *  # noqa: F403
from .experiments.cosine import *  # noqa: F403
from .experiments.unpaired_runs import *  # noqa: F403
from .experiments.unpaired_tables import *  # noqa: F403
from .experiments.statistics import *  # noqa: F403
from .experiments.detection_bounds import *  # noqa: F403
from .experiments.images_captions import *  # noqa: F403
from .experiments.at_scale import *  # noqa: F403
from .experiments.beyond import *  # noqa: F403
from .experiments.alignment import *  # noqa: F403
from . import (
    baselines,
    blocked,
    covariance,
    data,
    device,
    distributed,
    estimator,
    experiments,
    families,
    gradient,
    losses,
    lowrank,
    masking,
    metrics,
    realdata,
    sampling,
    solvers,
    unpaired,
)

#: The modules whose public names (their ``__all__``) make up ``mmcl.__all__``, in layer
#: order; ``book/api.md`` documents exactly these (tests/test_api_page.py checks it).
MODULES = (
    sampling,
    data,
    device,
    realdata.mfeat,
    realdata.designs,
    realdata.emoji_render,
    realdata.emoji,
    families,
    losses,
    covariance,
    blocked,
    lowrank,
    solvers,
    distributed,
    gradient,
    estimator,
    baselines,
    masking,
    metrics,
    unpaired.detection,
    _import_module(
        ".unpaired.self_training", __name__
    ),  # the attribute is the function
    unpaired.recipe,
    experiments.runner,
    experiments.loss_to_svd,
    experiments.robustness,
    experiments.nonlinearity,
    experiments.cosine,
    experiments.unpaired_runs,
    experiments.unpaired_tables,
    experiments.statistics,
    experiments.detection_bounds,
    experiments.images_captions,
    experiments.at_scale,
    experiments.beyond,
    experiments.alignment,
)

#: The modules of ``MODULES`` whose names stay out of ``mmcl.__all__`` because they
#: would shadow others (``mmcl.distributed.linear_closed_form`` is not
#: ``mmcl.linear_closed_form``): write ``mmcl.distributed.<name>``.
NAMESPACED = (distributed,)

__all__ = [
    name for module in MODULES if module not in NAMESPACED for name in module.__all__
]

__version__ = "0.1.0"
