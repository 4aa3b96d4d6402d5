"""Chapter code: the runners and diagnostics behind the book's experiments.

* ``runner``           the experiment runner: a parameter grid times batched, seeded
  replicates, tidy tables, mean and standard error (chapters 3 and 5);
* ``loss_to_svd``      diagnostics of the loss-to-SVD view (chapter 2);
* ``robustness``       the robustness chapter's trial (chapter 3);
* ``nonlinearity``     CLIP's population fixed point and its bias under
  heteroskedastic noise (chapter 3b);
* ``cosine``           CLIP with L2-normalised embeddings: the fit and its
  sinTheta against n (chapter 3b);
* ``unpaired_runs``    the unpaired-data settings and runs (chapter 4);
* ``unpaired_tables``  their saved tables, the chapter's queries and the published
  numbers (chapter 4);
* ``statistics``       the constants of the statistics chapter (chapter 4b);
* ``detection_bounds`` its detection bounds for cosine similarities and the
  assignment (chapter 4b);
* ``images_captions``  emoji designs: splits, retrieval both ways, zero-shot
  (chapter 6);
* ``at_scale``         the sharded solvers' checks, bytes, threads and the estimate
  at n = 1e8 (chapter 7b);
* ``beyond``           later results in the same model, part 1: learned temperature,
  teacher filtering (chapter 8);
* ``alignment``        part 2: misaligned captions, spectral alignment without pairs
  (chapter 8).
"""

from .alignment import *  # noqa: F403
from .at_scale import *  # noqa: F403
from .beyond import *  # noqa: F403
from .detection_bounds import *  # noqa: F403
from .images_captions import *  # noqa: F403
from .loss_to_svd import *  # noqa: F403
from .nonlinearity import *  # noqa: F403
from .cosine import *  # noqa: F403
from .robustness import *  # noqa: F403
from .runner import *  # noqa: F403
from .statistics import *  # noqa: F403
from .unpaired_runs import *  # noqa: F403
from .unpaired_tables import *  # noqa: F403
from . import (
    alignment,
    at_scale,
    beyond,
    cosine,
    detection_bounds,
    images_captions,
    loss_to_svd,
    nonlinearity,
    robustness,
    runner,
    statistics,
    unpaired_runs,
    unpaired_tables,
)

__all__ = [
    name
    for module in (
        runner,
        loss_to_svd,
        robustness,
        nonlinearity,
        cosine,
        unpaired_runs,
        unpaired_tables,
        statistics,
        detection_bounds,
        images_captions,
        at_scale,
        beyond,
        alignment,
    )
    for name in module.__all__
]
