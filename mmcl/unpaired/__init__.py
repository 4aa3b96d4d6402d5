"""Unpaired data (book chapter 4): detect the hidden pairs in two pools, and learn from
them.

* ``detection``      pair detectors (top-m, mutual nearest neighbours, assignment,
  threshold) and their precision and recall against the hidden truth;
* ``self_training``  fit on the pairs, detect pairs in the pools, refit (spectral
  solvers);
* ``recipe``         the paper's gradient recipe (AdamW on normalised embeddings),
  batched.

Note: ``mmcl.unpaired.self_training`` is the function (the module is
``sys.modules["mmcl.unpaired.self_training"]``).
"""

from .detection import *  # noqa: F403
from .recipe import *  # noqa: F403
from .self_training import *  # noqa: F403
from importlib import import_module

from . import detection, recipe

_self_training_module = import_module(
    ".self_training", __name__
)  # the attribute is the function

__all__ = [
    name
    for module in (detection, _self_training_module, recipe)
    for name in module.__all__
]
