"""A generated grid of bad (and legitimately converted) inputs over every public entry point.

Each entry point has one good call (small data, few iterations) and the kind of each argument.
From the kinds the grid derives the mutations: wrong dtypes (integer, bool, half, complex), NaN and
inf, empty and one-row data, wrong shapes, degenerate data (all zero, rank below r), out-of-range
and non-finite scalars, wrong types, unknown names, other devices. A bad input must end in a
ValueError or TypeError whose message names the argument the user wrote; a legitimate conversion
(numpy, nested lists, a non-contiguous view) must give the same result as the tensor. Extreme but
allowed knobs (tau, rho, lr, scale) must either raise naming the knob or return finite values.

``python tests/test_fuzz.py`` prints the count of each outcome (the before/after of issue 12).
"""
from __future__ import annotations

import collections
import dataclasses
import re
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import mmcl

CUDA = torch.cuda.is_available()
N, D1, D2, R = 12, 5, 4, 2


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


X, Y = _rand(N, D1, seed=1), _rand(N, D2, seed=2)
G1, G2 = _rand(R, D1, seed=3), _rand(R, D2, seed=4)
S = _rand(N, N, seed=5)
SYM = X.T @ X / N
XU, YU = _rand(8, D1, seed=6), _rand(8, D2, seed=7)
MATCH = torch.randperm(8, generator=torch.Generator().manual_seed(8))
LABELS = torch.arange(N) % 3
ZX, ZY = _rand(N, R, seed=9), _rand(N, R, seed=10)


@dataclass
class Entry:
    """One public entry point: ``call(**good)`` succeeds; ``kinds[name]`` says how to break it."""

    label: str
    call: object
    good: dict
    kinds: dict
    rank_args: tuple = ()      # data arguments whose degenerate versions (all zero, rank < r) fail
    variance_args: tuple = ()  # data arguments that must not be constant (zero variance)
    shape_args: dict = field(default_factory=dict)  # name -> "rows", "cols", "both": must match
    extreme: dict = field(default_factory=dict)   # allowed but extreme values: error or finite


def _fit_mmcl(X, Y, n_components=R, **kw):
    return mmcl.MMCL(n_components, **kw).fit(X, Y).G1_


def _score_mmcl(X, Y, n_components=R, **kw):
    return mmcl.MMCL(n_components, **kw).fit(_rand(N, D1, seed=1), _rand(N, D2, seed=2)).score(X, Y)


def _transform_mmcl(X, Y):
    return mmcl.MMCL(R).fit(_rand(N, D1, seed=1), _rand(N, D2, seed=2)).transform(X, Y)


def _unimodal(cls):
    def fit(X, n_components=R, **kw):
        if cls is mmcl.MaskedContrastive:
            kw.setdefault("n_steps", 5)
        return cls(n_components, **kw).fit(X).components_
    fit.__name__ = cls.__name__
    return fit


_MAT = "matrix"
_SIM = "square"
ENTRIES = [
    # data
    Entry("make_multimodal", lambda n, d1, d2, r, **kw: mmcl.make_multimodal(n, d1, d2, r, **kw).X,
          dict(n=20, d1=5, d2=4, r=2, eta=0.5, noise=1.0, signal_cov=1.0, seed=0, n_unpaired=0,
               n_test=0, dtype=torch.float64),
          dict(n="int", d1="int", d2="int", r="int", eta="frac", noise="noise", signal_cov="cov",
               seed="seed", n_unpaired="int0", n_test="int0", dtype="dtype"),
          extreme=dict(noise=1e200)),
    Entry("make_multimodal(device)", lambda device: mmcl.make_multimodal(20, 5, 4, 2, device=device).X,
          dict(device="cpu"), dict(device="device")),
    Entry("LatentFactorModel", lambda d1, d2, r, **kw: mmcl.LatentFactorModel(d1, d2, r, **kw).r,
          dict(d1=5, d2=4, r=2, noise1=1.0, noise2=1.0), dict(d1="int", d2="int", r="int",
                                                              noise1="noise", noise2="noise")),
    Entry("haar_orthonormal", mmcl.haar_orthonormal, dict(d=5, r=2), dict(d="int", r="int")),
    Entry("heteroskedastic_noise_std", mmcl.heteroskedastic_noise_std, dict(d=5, spread=0.5, mean_var=1.0),
          dict(d="int", spread="frac", mean_var="pos")),
    Entry("make_generator", mmcl.make_generator, dict(seed=3), dict(seed="seed")),
    # families and losses
    Entry("clip_family", lambda tau: mmcl.clip_family(tau).tau, dict(tau=0.5), dict(tau="pos")),
    Entry("ContrastiveFamily", lambda eps, negatives: mmcl.ContrastiveFamily(torch.log, torch.exp, eps,
                                                                             negatives=negatives).eps,
          dict(eps=1.0, negatives="sum"), dict(eps="nonneg", negatives="choice")),
    Entry("get_family", lambda loss, tau: mmcl.get_family(loss, tau).name, dict(loss="clip", tau=1.0),
          dict(loss="choice", tau="pos")),
    Entry("ClipFamily.weights", lambda s: mmcl.clip_family(1.0).weights(s), dict(s=S), dict(s=_SIM)),
    Entry("ClipFamily.loss_from_similarities", lambda s: mmcl.clip_family(1.0).loss_from_similarities(s),
          dict(s=S), dict(s=_SIM)),
    Entry("LinearFamily.weights", lambda s: mmcl.linear_family().weights(s), dict(s=S), dict(s=_SIM)),
    Entry("ContrastiveFamily.weights",
          lambda s: mmcl.ContrastiveFamily(torch.log, torch.exp).weights(s), dict(s=S), dict(s=_SIM)),
    Entry("similarities", mmcl.similarities, dict(G1=G1, G2=G2, X=X, Y=Y, normalize=False),
          dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, normalize="bool"), shape_args=dict(G1="both", G2="both", X="both", Y="both")),
    Entry("regularizer", mmcl.regularizer, dict(G1=G1, G2=G2, rho=1.0),
          dict(G1=_MAT, G2=_MAT, rho="nonneg"), shape_args=dict(G2="rows")),
    Entry("contrastive_loss", mmcl.contrastive_loss,
          dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0, rho=0.5, normalize=False),
          dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, loss="choice", tau="pos", rho="nonneg",
               normalize="bool"), shape_args=dict(G1="both", G2="both", X="both", Y="both"), extreme=dict(tau=1e-30)),
    Entry("clip_loss", mmcl.clip_loss, dict(logits=S), dict(logits=_SIM)),
    Entry("ContrastiveLoss", lambda loss, tau, rho: mmcl.ContrastiveLoss(loss, tau=tau, rho=rho)(G1, G2, X, Y),
          dict(loss="clip", tau=1.0, rho=0.1), dict(loss="choice", tau="pos", rho="nonneg")),
    # covariance
    Entry("cross_covariance", mmcl.cross_covariance, dict(X=X, Y=Y, beta=S),
          dict(X=_MAT, Y=_MAT, beta=_SIM), shape_args=dict(X="rows", Y="rows", beta="both")),
    Entry("centered_cross_covariance", mmcl.centered_cross_covariance, dict(X=X, Y=Y),
          dict(X=_MAT, Y=_MAT), shape_args=dict(Y="rows")),
    Entry("contrastive_cross_covariance", mmcl.contrastive_cross_covariance,
          dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0),
          dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, loss="choice", tau="pos"), shape_args=dict(G1="both", G2="both", X="both", Y="both")),
    Entry("contrastive_gradient", mmcl.contrastive_gradient,
          dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0, rho=0.5),
          dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, loss="choice", tau="pos", rho="nonneg"),
          shape_args=dict(G1="both", G2="both", X="both", Y="both")),
    # solvers
    Entry("truncated_svd", mmcl.truncated_svd, dict(S=SYM, r=2), dict(S=_MAT, r="int")),
    Entry("svd_flip", mmcl.svd_flip, dict(U=X, V=X), dict(U=_MAT, V=_MAT), shape_args=dict(V="cols")),
    Entry("factorize", mmcl.factorize,
          dict(U=torch.eye(5, 2, dtype=torch.float64), sigma=torch.ones(2, dtype=torch.float64),
               V=torch.eye(4, 2, dtype=torch.float64), rho=1.0),
          dict(U=_MAT, V=_MAT, rho="pos"), shape_args=dict(U="cols", V="cols"), extreme=dict(rho=1e-300)),
    Entry("linear_closed_form", mmcl.linear_closed_form, dict(X=X, Y=Y, r=R, rho=1.0),
          dict(X=_MAT, Y=_MAT, r="int", rho="pos"), rank_args=("X", "Y"), shape_args=dict(Y="rows"),
          extreme=dict(rho=1e-300)),
    Entry("svd_iteration", mmcl.svd_iteration,
          dict(X=X, Y=Y, r=R, loss="clip", tau=1.0, rho=1.0, damping=1.0, tol=1e-6, max_iter=5),
          dict(X=_MAT, Y=_MAT, r="int", loss="choice", tau="pos", rho="pos", damping="frac_open",
               tol="pos", max_iter="int"), rank_args=("X", "Y"), shape_args=dict(Y="rows"),
          extreme=dict(tau=1e-30, rho=1e-300)),
    Entry("gradient_descent", mmcl.gradient_descent,
          dict(X=X, Y=Y, r=R, loss="clip", tau=1.0, rho=1.0, lr=0.1, n_steps=3, optimizer="gd", seed=0),
          dict(X=_MAT, Y=_MAT, r="int", loss="choice", tau="pos", rho="nonneg", lr="pos",
               n_steps="int", optimizer="choice", seed="seed"), shape_args=dict(Y="rows"),
          extreme=dict(lr=1e6, tau=1e-30)),
    Entry("minibatch_gradient", mmcl.minibatch_gradient,
          dict(X=X, Y=Y, r=R, loss="clip", tau=1.0, lr=0.01, batch_size=4, n_epochs=2, seed=0),
          dict(X=_MAT, Y=_MAT, r="int", loss="choice", tau="pos", lr="pos", batch_size="int",
               n_epochs="int", seed="seed"), shape_args=dict(Y="rows"), extreme=dict(lr=1e8)),
    # blocked
    Entry("blocked_loss", mmcl.blocked_loss, dict(zx=ZX, zy=ZY, loss="clip", tau=1.0, block_size=5),
          dict(zx=_MAT, zy=_MAT, loss="choice", tau="pos", block_size="int_or_none"), shape_args=dict(zy="both"),
          extreme=dict(tau=1e-30)),
    Entry("clip_normalizers", lambda zx, zy, tau, block_size: mmcl.clip_normalizers(zx, zy, tau, block_size=block_size).row,
          dict(zx=ZX, zy=ZY, tau=1.0, block_size=5), dict(zx=_MAT, zy=_MAT, tau="pos", block_size="int_or_none"),
          shape_args=dict(zy="both")),
    Entry("iter_clip_weights", lambda zx, zy, tau: torch.cat([b for _, b in mmcl.iter_clip_weights(zx, zy, tau, block_size=5)]),
          dict(zx=ZX, zy=ZY, tau=1.0), dict(zx=_MAT, zy=_MAT, tau="pos"), shape_args=dict(zy="both")),
    Entry("blocked_cross_covariance", mmcl.blocked_cross_covariance,
          dict(X=X, Y=Y, zx=ZX, zy=ZY, loss="clip", tau=1.0, block_size=5),
          dict(X=_MAT, Y=_MAT, zx=_MAT, zy=_MAT, loss="choice", tau="pos", block_size="int_or_none"),
          shape_args=dict(Y="rows", zy="both")),
    Entry("auto_block_size", mmcl.auto_block_size, dict(n=100, batch=2), dict(n="int", batch="int")),
    # metrics
    Entry("orthonormal_basis", mmcl.orthonormal_basis, dict(A=X[:, :2]), dict(A=_MAT)),
    Entry("sin_theta_distance", mmcl.sin_theta_distance, dict(A=X[:, :2], B=X[:, 1:3]),
          dict(A=_MAT, B=_MAT), rank_args=("A", "B"), shape_args=dict(B="rows")),
    Entry("retrieval_accuracy", mmcl.retrieval_accuracy, dict(Zx=ZX, Zy=ZY, chunk=5),
          dict(Zx=_MAT, Zy=_MAT, chunk="int"), shape_args=dict(Zy="both")),
    # estimator
    Entry("MMCL.fit", _fit_mmcl,
          dict(X=X, Y=Y, n_components=R, loss="linear", tau=1.0, rho=1.0, solver="auto", max_iter=5,
               tol=1e-6),
          dict(X=_MAT, Y=_MAT, n_components="int", loss="choice", tau="pos", rho="pos",
               solver="choice", max_iter="int", tol="pos"), rank_args=("X", "Y"), shape_args=dict(Y="rows")),
    Entry("MMCL.fit(clip)", _fit_mmcl,
          dict(X=X, Y=Y, n_components=R, loss="clip", tau=1.0, max_iter=5, solver_options={}),
          dict(n_components="int", tau="pos", max_iter="int", solver_options="options"),
          extreme=dict(tau=1e-30)),
    Entry("MMCL.transform", _transform_mmcl, dict(X=X, Y=Y), dict(X=_MAT, Y=_MAT), shape_args=dict(X="cols", Y="cols")),
    Entry("MMCL.score", _score_mmcl, dict(X=X, Y=Y), dict(X=_MAT, Y=_MAT), shape_args=dict(X="both", Y="both")),
    # baselines
    *[Entry(f"{f.__name__}", f, dict(X=X, r=R), dict(X=_MAT, r="int"), rank_args=("X",))
      for f in (mmcl.pca, mmcl.diagonal_deletion)],
    Entry("hetero_pca", mmcl.hetero_pca, dict(X=X, r=R, tol=1e-6, max_iter=5),
          dict(X=_MAT, r="int", tol="pos", max_iter="int"), rank_args=("X",)),
    Entry("masked_contrastive", mmcl.masked_contrastive,
          dict(X=X, r=R, p=0.5, rho=1.0, lr=0.05, n_steps=3, seed=0),
          dict(X=_MAT, r="int", p="frac_open", rho="pos", lr="pos", n_steps="int", seed="seed"),
          rank_args=("X",), extreme=dict(lr=1e30)),
    *[Entry(f"{cls.__name__}.fit", _unimodal(cls), dict(X=X, n_components=R),
            dict(X=_MAT, n_components="int"), rank_args=("X",))
      for cls in (mmcl.PCA, mmcl.DiagonalDeletion, mmcl.HeteroPCA, mmcl.MaskedContrastive)],
    Entry("sample_covariance", mmcl.sample_covariance, dict(X=X), dict(X=_MAT)),
    Entry("delete_diagonal", mmcl.delete_diagonal, dict(M=SYM), dict(M=_SIM)),
    Entry("top_eigenvectors", mmcl.top_eigenvectors, dict(M=SYM, r=R), dict(M=_SIM, r="int")),
    Entry("masked_views", mmcl.masked_views, dict(X=X, p=0.5), dict(X=_MAT, p="frac_open")),
    Entry("masked_contrastive_target", mmcl.masked_contrastive_target, dict(X=X, p=0.5),
          dict(X=_MAT, p="frac_open")),
    Entry("masked_contrastive_loss", mmcl.masked_contrastive_loss, dict(G=G1, A=X, B=X, rho=1.0),
          dict(G=_MAT, A=_MAT, B=_MAT, rho="nonneg"), shape_args=dict(G="cols", A="both", B="both")),
    # unpaired data
    Entry("pool_similarities", mmcl.pool_similarities, dict(G1=G1, G2=G2, X_unpaired=XU, Y_unpaired=YU),
          dict(G1=_MAT, G2=_MAT, X_unpaired=_MAT, Y_unpaired=_MAT), shape_args=dict(G1="both", G2="both", X_unpaired="cols", Y_unpaired="cols")),
    Entry("detect_pairs", mmcl.detect_pairs, dict(S=S[:8, :8], method="threshold", threshold=0.1),
          dict(S=_MAT, method="choice", threshold="nonneg")),
    Entry("detection_quality", lambda mask, match: mmcl.detection_quality(mask, match)["recall"],
          dict(mask=torch.eye(8, dtype=torch.bool), match=MATCH), dict(mask="mask", match="match")),
    Entry("true_pair_mask", mmcl.true_pair_mask, dict(match=MATCH, n_columns=8),
          dict(match="match", n_columns="int_or_none")),
    Entry("self_training", lambda **kw: mmcl.self_training(**kw).G1,
          dict(X=X, Y=Y, X_unpaired=XU, Y_unpaired=YU, r=R, solver="linear", detector="mutual",
               rounds=1, match=MATCH, tau=1.0, rho=1.0, max_iter=3),
          dict(X=_MAT, Y=_MAT, X_unpaired=_MAT, Y_unpaired=_MAT, r="int", solver="choice",
               detector="choice", rounds="int0", match="match", tau="pos", rho="pos", max_iter="int"),
          shape_args=dict(Y="rows", X_unpaired="both", Y_unpaired="cols")),
    Entry("fit_pairs", lambda **kw: mmcl.fit_pairs(**kw)[0],
          dict(X=X, Y=Y, r=R, solver="clip", tau=1.0, rho=1.0, max_iter=3),
          dict(X=_MAT, Y=_MAT, r="int", solver="choice", tau="pos", rho="pos", max_iter="int"),
          shape_args=dict(Y="rows")),
    Entry("reveal_pairs", lambda **kw: mmcl.reveal_pairs(**kw)[1],
          dict(X_unpaired=XU, Y_unpaired=YU, match=MATCH),
          dict(X_unpaired=_MAT, Y_unpaired=_MAT, match="match"), shape_args=dict(Y_unpaired="rows")),
    Entry("representation_accuracy", mmcl.representation_accuracy,
          dict(G1=G1, G2=G2, X_test=X, Y_test=Y), dict(G1=_MAT, G2=_MAT, X_test=_MAT, Y_test=_MAT),
          shape_args=dict(G1="both", G2="both", X_test="both", Y_test="both")),
    Entry("paper_recipe", lambda **kw: mmcl.paper_recipe(**kw).G1,
          dict(X=X, Y=Y, X_unpaired=XU, Y_unpaired=YU, r=R, match=MATCH, epochs_paired=1,
               epochs_unpaired=1, batch_size=4, lr=2e-3, weight_decay=0.01, tau=1.0, seed=0,
               blocks="aligned", positives="topm"),
          dict(X=_MAT, Y=_MAT, X_unpaired=_MAT, Y_unpaired=_MAT, r="int", match="match",
               epochs_paired="int0", epochs_unpaired="int0", batch_size="int", lr="pos",
               weight_decay="nonneg", tau="pos", seed="seed", blocks="choice", positives="choice"),
          shape_args=dict(Y="rows", X_unpaired="both", Y_unpaired="both"), extreme=dict(lr=1e3)),
    # devices
    Entry("default_device", mmcl.default_device, dict(device="cpu"), dict(device="device")),
    Entry("to_device", lambda device: mmcl.to_device(X, device=device), dict(device="cpu"), dict(device="device")),
    # real data designs
    Entry("center_scale", lambda X_train: mmcl.center_scale(X_train)[0], dict(X_train=X),
          dict(X_train=_MAT), variance_args=("X_train",)),
    Entry("rematch", lambda Y, fraction, seed: mmcl.rematch(Y, fraction, seed=seed)[0],
          dict(Y=Y, fraction=0.5, seed=0), dict(Y=_MAT, fraction="frac", seed="seed")),
    Entry("class_pairs", mmcl.class_pairs, dict(labels_x=LABELS, labels_y=LABELS, seed=0),
          dict(labels_x="labels_free", labels_y="labels_free", seed="seed")),
    Entry("stratified_split", lambda labels, n_per_class: mmcl.stratified_split(labels, n_per_class)[0],
          dict(labels=LABELS, n_per_class=2), dict(labels="labels_free", n_per_class="int")),
    Entry("noisy_class_graph", lambda **kw: mmcl.noisy_class_graph(**kw)[0],
          dict(labels_x=LABELS, labels_y=LABELS, p=0.1, seed=0),
          dict(labels_x="labels_free", labels_y="labels_free", p="frac", seed="seed")),
    Entry("graph_closed_form", lambda **kw: mmcl.graph_closed_form(**kw).G1,
          dict(X=X, Y=Y, A=torch.eye(N, dtype=torch.float64), r=R, rho=1.0),
          dict(X=_MAT, Y=_MAT, A=_MAT, r="int", rho="pos"), shape_args=dict(Y="rows", A="both"), rank_args=("X", "Y")),
    Entry("linear_probe_accuracy", mmcl.linear_probe_accuracy,
          dict(Z_train=ZX, y_train=LABELS, Z_test=ZY, y_test=LABELS, ridge=1e-3),
          dict(Z_train=_MAT, y_train="labels", Z_test=_MAT, y_test="labels", ridge="pos"),
          shape_args=dict(Z_test="cols")),
    Entry("class_retrieval_accuracy", mmcl.class_retrieval_accuracy,
          dict(Zx=ZX, Zy=ZY, labels_x=LABELS, labels_y=LABELS),
          dict(Zx=_MAT, Zy=_MAT, labels_x="labels", labels_y="labels"), shape_args=dict(Zy="cols")),
    Entry("prototype_accuracy", mmcl.prototype_accuracy,
          dict(Zx=ZX, labels_x=LABELS, Zy=ZY, labels_y=LABELS, draws=3, seed=0),
          dict(Zx=_MAT, labels_x="labels", Zy=_MAT, labels_y="labels", draws="int", seed="seed"),
          shape_args=dict(Zy="cols")),
    Entry("load_mfeat", lambda views, data_dir: mmcl.load_mfeat(views, data_dir=data_dir).labels,
          dict(views=("mor",), data_dir=None), dict(views="views", data_dir="path")),
    # experiments
    Entry("ExperimentConfig", lambda grid, replicates, seed: mmcl.ExperimentConfig(grid, replicates, seed).replicates,
          dict(grid={"a": [1, 2]}, replicates=2, seed=0), dict(grid="grid", replicates="int", seed="seed")),
    Entry("loglog_slope", mmcl.loglog_slope, dict(x=[1.0, 2.0, 4.0], y=[1.0, 4.0, 16.0]),
          dict(x="vector", y="vector")),
    Entry("crossover", mmcl.crossover, dict(x=[1.0, 2.0, 4.0], a=[3.0, 2.0, 1.0], b=[2.0, 2.0, 2.0]),
          dict(x="vector", a="vector", b="vector")),
    # chapter-2 diagnostics
    Entry("gradient_relative_error", mmcl.gradient_relative_error,
          dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0),
          dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, loss="choice", tau="pos"), shape_args=dict(G1="both", G2="both", X="both", Y="both")),
    Entry("effective_negatives", mmcl.effective_negatives, dict(beta=S.abs()), dict(beta=_SIM)),
    Entry("clip_weights_sweep", mmcl.clip_weights_sweep, dict(s=S, taus=[0.5, 1.0]), dict(s=_SIM, taus="taus")),
]

# Mutations per kind: (tag, value or function of the good value, [names the message may use]).
_INT_BAD = [("float", 2.5), ("string", "3"), ("bool", True), ("negative", -1), ("none", None),
            ("tensor_float", torch.tensor(2.0))]
_BOUNDED = {"r", "n_components", "batch_size", "n_per_class"}  # a maximum exists


def _matrix_bad(good):
    t = good
    out = [("int64", t.round().long()), ("bool", t > 0), ("float16", t.half()),
           ("complex", t.to(torch.complex64)), ("nan", _poke(t, float("nan"))),
           ("inf", _poke(t, float("inf"))), ("empty_rows", t[..., :0, :]), ("one_dim", t[0]),
           ("string", "abc"), ("none", None), ("list_of_str", [["a", "b"], ["c", "d"]]),
           ("empty_cols", t[..., :, :0]), ("ragged_list", [[1.0, 2.0], [3.0]])]
    if CUDA:
        out.append(("other_device", t.cuda()))
    return out


def _poke(t, v):
    t = t.clone()
    t.view(-1)[min(3, t.numel() - 1)] = v
    return t


_BAD = {
    "int": _INT_BAD + [("zero", 0)],
    "int0": _INT_BAD,
    "int_or_none": [b for b in _INT_BAD if b[0] != "none"] + [("zero", 0)],
    "pos": [("zero", 0.0), ("negative", -1.0), ("nan", float("nan")), ("inf", float("inf")),
            ("string", "1"), ("none", None), ("complex", 1 + 1j), ("list", [1.0])],
    "nonneg": [("negative", -1.0), ("nan", float("nan")), ("inf", float("inf")), ("string", "1"),
               ("none", None), ("complex", 1 + 1j)],
    "frac": [("above", 1.5), ("negative", -0.1), ("nan", float("nan")), ("string", "0.5"), ("none", None)],
    "frac_open": [("zero", 0.0), ("above", 1.5), ("nan", float("nan")), ("string", "0.5"), ("none", None)],
    "choice": [("unknown", "bogus"), ("int", 3), ("none", None), ("upper", "CLIP!")],
    "bool": [("string", "yes"), ("int", 2), ("none", None)],
    "seed": [("negative", -1), ("huge", 2 ** 64), ("float", 1.5), ("string", "a")],
    "dtype": [("int64", torch.int64), ("string", "float"), ("half", torch.float16)],
    "device": [("unknown", "tpu"), ("int", 3.5), ("cuda_missing", "cuda:7")],
    "noise": [("negative", -1.0), ("nan", float("nan")), ("inf", float("inf")), ("string", "a"),
              ("wrong_length", np.ones(7))],
    "cov": [("inf", [[float("inf"), 0.0], [0.0, 1.0]]), ("negative", -1.0), ("nan", float("nan")),
            ("asym", [[1.0, 0.5], [0.0, 1.0]]), ("wrong_shape", np.ones(3))],
    "options": [("bogus", {"bogus": 1}), ("not_dict", 3)],
    "match": [("float", MATCH.double()), ("out_of_range", MATCH + 8), ("negative", MATCH - 8),
              ("wrong_shape", MATCH[:5]), ("list_str", ["a"] * 8), ("duplicate", torch.zeros(8, dtype=torch.long))],
    "mask": [("float", torch.eye(8)), ("one_dim", torch.ones(8, dtype=torch.bool)), ("string", "a")],
    "labels": [("float", LABELS.double()), ("negative", LABELS - 1), ("two_dim", LABELS[:, None]),
               ("wrong_length", LABELS[:5]), ("string", "a")],
    "labels_free": [("float", LABELS.double()), ("negative", LABELS - 1), ("two_dim", LABELS[:, None]),
                    ("string", "a")],
    "views": [("unknown", ("xyz",)), ("empty", ()), ("int", 3), ("duplicate", ("mor", "mor"))],
    "path": [("int", 3), ("missing", "/nonexistent/mfeat")],
    "grid": [("empty", {}), ("not_mapping", [1, 2]), ("string_values", {"a": "xy"})],
    "taus": [("nan", [1.0, float("nan")]), ("string", "abc"), ("zero", [0.0, 1.0]), ("empty", [])],
    "vector": [("nan", [1.0, float("nan"), 2.0]), ("string", "abc"), ("two_dim", [[1.0, 2.0]]),
               ("short", [1.0])],
}
# the duplicate match is legal for detection_quality and true_pair_mask (it is only a truth
# table); it must be rejected where it indexes a pool (reveal_pairs, self_training, paper_recipe)
_LEGAL = {("ExperimentConfig", "seed", "huge"),          # legal values for these entry points
          ("true_pair_mask", "match", "wrong_shape"),     # any (..., N) truth table is fine
          ("MMCL.transform", "Y", "none")}                # transform(X) alone is the Pipeline form
_DUPLICATE_OK = {"detection_quality", "true_pair_mask", "self_training"}


def _degenerate(entry, name):
    t = entry.good[name]
    zero = torch.zeros_like(t)
    rank1 = t[..., :1] * torch.ones_like(t)          # every column the same: rank 1 < r = 2
    const = torch.ones_like(t)                       # zero variance
    if name in entry.variance_args:
        return [("all_zero", zero), ("constant", const), ("one_row", t[..., :1, :])]
    return [("all_zero", zero), ("rank_one", rank1), ("constant", const), ("two_rows", t[..., :2, :]),
            ("one_row", t[..., :1, :])]


def _shape_bad(entry, name):
    t, which = entry.good[name], entry.shape_args[name]
    return ([("drop_col", t[..., :-1])] if which in ("cols", "both") else []) + \
        ([("drop_row", t[..., :-1, :])] if which in ("rows", "both") else [])


def _conversions(entry, name):
    t = entry.good[name]
    view = t.T.contiguous().T                        # same values, non-contiguous strides
    return [("numpy", t.numpy()), ("list", t.tolist()), ("noncontiguous", view)]


@dataclass
class Case:
    entry: Entry
    arg: str
    tag: str
    value: object
    expect: str                                       # "error", "equal" or "error_or_finite"

    @property
    def id(self):
        return f"{self.entry.label}-{self.arg}-{self.tag}"


def _cases():
    cases = []
    for e in ENTRIES:
        for name, kind in e.kinds.items():
            if kind in (_MAT, _SIM):
                bad = _matrix_bad(e.good[name])
                if kind == _SIM:
                    bad.append(("not_square", e.good[name][..., :-1]))
                    if e.label not in ("delete_diagonal", "top_eigenvectors"):  # 1 x 1 is legal
                        bad.append(("one_by_one", e.good[name][..., :1, :1]))
                if name in e.shape_args:
                    bad += _shape_bad(e, name)
                if name in e.rank_args or name in e.variance_args:
                    bad += _degenerate(e, name)
                cases += [Case(e, name, tag, v, "error") for tag, v in bad
                          if (e.label, name, tag) not in _LEGAL]
                cases += [Case(e, name, tag, v, "equal") for tag, v in _conversions(e, name)]
            else:
                extra = [("huge", 10 ** 6)] if name in _BOUNDED else []
                for tag, v in _BAD[kind] + extra:
                    if kind == "match" and tag == "duplicate" and e.label in _DUPLICATE_OK:
                        continue
                    if (e.label, name, tag) in _LEGAL:
                        continue
                    cases.append(Case(e, name, tag, v, "error"))
        for name, v in e.extreme.items():
            cases.append(Case(e, name, f"extreme={v:g}", v, "error_or_finite"))
    return cases


CASES = _cases()


def _finite(out) -> bool:
    if isinstance(out, torch.Tensor):
        return not out.is_floating_point() or bool(torch.isfinite(out).all())
    if isinstance(out, (tuple, list)):
        return all(_finite(o) for o in out)
    if isinstance(out, float):
        return np.isfinite(out)
    return True


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), rtol=1e-12, atol=1e-12,
                                                           equal_nan=True))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return all(_same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
                   if f.name not in ("history", "iterates"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def _names(arg):
    return {arg} | ({"zx", "zy", "logits", "similarities"} if arg == "s" else set())


def outcome(case: Case) -> tuple[str, str]:
    """(outcome, detail): clear | unnamed | crash | silent | nonfinite | equal | different."""
    kw = dict(case.entry.good)
    kw[case.arg] = case.value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = case.entry.call(**kw)
    except (ValueError, TypeError) as err:
        if case.expect == "equal":
            return "crash", f"{type(err).__name__}: {err}"
        msg = str(err)
        named = any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", msg) for n in _names(case.arg))
        return ("clear" if named else "unnamed"), f"{type(err).__name__}: {msg}"
    except Exception as err:  # noqa: BLE001 - the point is to catch what escapes
        return "crash", f"{type(err).__name__}: {err}"
    if case.expect == "equal":
        ref = case.entry.call(**case.entry.good)
        try:
            return ("equal" if _same(out, ref) else "different"), ""
        except Exception as err:  # noqa: BLE001
            return "different", f"{type(err).__name__}: {err}"
    if not _finite(out):
        return "nonfinite", "returned NaN or inf"
    if case.expect == "error_or_finite":
        return "finite", ""
    return "silent", "accepted without an error"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fuzz(case):
    result, detail = outcome(case)
    assert result in ("clear", "equal", "finite"), f"{result}: {detail}"


def test_grid_is_large():
    assert len(CASES) >= 1000, len(CASES)


def main(argv):
    counts = collections.Counter()
    examples = collections.defaultdict(list)
    slow = []
    for case in CASES:
        t0 = time.perf_counter()
        result, detail = outcome(case)
        slow.append((time.perf_counter() - t0, case.id))
        counts[result] += 1
        examples[result].append(f"{case.id}: {detail[:160]}")
    print(f"{len(CASES)} cases:", dict(sorted(counts.items())))
    print("slowest:", [(round(t, 2), i) for t, i in sorted(slow)[-5:]])
    if "-v" in argv:
        for result, lines in sorted(examples.items()):
            if result in ("clear", "equal", "finite"):
                continue
            print(f"\n== {result} ({len(lines)})")
            print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv)
