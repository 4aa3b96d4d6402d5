"""The entry points of the fuzz grid (tests/test_fuzz.py): one good call per public
entry point and the kind of each of its arguments, from which the grid derives the bad
inputs."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

import mmcl

CUDA = torch.cuda.is_available()
N, D1, D2, R = 12, 5, 4, 2


def _rand(*shape, seed=0):
    return torch.randn(
        *shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


X, Y = _rand(N, D1, seed=1), _rand(N, D2, seed=2)
G1, G2 = _rand(R, D1, seed=3), _rand(R, D2, seed=4)
S = _rand(N, N, seed=5)
SYM = X.T @ X / N
XU, YU = _rand(8, D1, seed=6), _rand(8, D2, seed=7)
MATCH = torch.randperm(8, generator=torch.Generator().manual_seed(8))
LABELS = torch.arange(N) % 3
ZX, ZY = _rand(N, R, seed=9), _rand(N, R, seed=10)
QX = torch.linalg.qr(X.T)[0]  # an orthonormal basis (D1, D1)
QY = torch.linalg.qr(_rand(D2, R, seed=11))[0].contiguous()  # orthonormal (D2, R)


@dataclass
class Entry:
    """One public entry point: ``call(**good)`` succeeds; ``kinds[name]`` says how to
    break it."""

    label: str
    call: object
    good: dict
    kinds: dict
    # data arguments whose degenerate versions (all zero, rank < r) fail
    rank_args: tuple = ()
    # data arguments that must not be constant (zero variance)
    variance_args: tuple = ()
    shape_args: dict = field(
        default_factory=dict
    )  # name -> "rows", "cols", "both": must match
    extreme: dict = field(
        default_factory=dict
    )  # allowed but extreme values: error or finite


def _fit_mmcl(X, Y, n_components=R, **kw):
    return mmcl.MMCL(n_components, **kw).fit(X, Y).G1_


def _score_mmcl(X, Y, n_components=R, **kw):
    return (
        mmcl.MMCL(n_components, **kw)
        .fit(_rand(N, D1, seed=1), _rand(N, D2, seed=2))
        .score(X, Y)
    )


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
    Entry(
        "make_multimodal",
        lambda n, d1, d2, r, **kw: mmcl.make_multimodal(n, d1, d2, r, **kw).X,
        dict(
            n=20,
            d1=5,
            d2=4,
            r=2,
            eta=0.5,
            noise=1.0,
            signal_cov=1.0,
            seed=0,
            n_unpaired=0,
            n_test=0,
            dtype=torch.float64,
        ),
        dict(
            n="int",
            d1="int",
            d2="int",
            r="int",
            eta="frac",
            noise="noise",
            signal_cov="cov",
            seed="seed",
            n_unpaired="int0",
            n_test="int0",
            dtype="dtype",
        ),
        extreme=dict(noise=1e200),
    ),
    Entry(
        "make_multimodal(device)",
        lambda device: mmcl.make_multimodal(20, 5, 4, 2, device=device).X,
        dict(device="cpu"),
        dict(device="device"),
    ),
    Entry(
        "LatentFactorModel",
        lambda d1, d2, r, **kw: mmcl.LatentFactorModel(d1, d2, r, **kw).r,
        dict(d1=5, d2=4, r=2, noise1=1.0, noise2=1.0),
        dict(d1="int", d2="int", r="int", noise1="noise", noise2="noise"),
    ),
    Entry(
        "haar_orthonormal",
        mmcl.haar_orthonormal,
        dict(d=5, r=2),
        dict(d="int", r="int"),
    ),
    Entry(
        "heteroskedastic_noise_std",
        mmcl.heteroskedastic_noise_std,
        dict(d=5, spread=0.5, mean_var=1.0),
        dict(d="int", spread="frac", mean_var="pos"),
    ),
    Entry("make_generator", mmcl.make_generator, dict(seed=3), dict(seed="seed")),
    # families and losses
    Entry(
        "clip_family",
        lambda tau: mmcl.clip_family(tau).tau,
        dict(tau=0.5),
        dict(tau="pos"),
    ),
    Entry(
        "ContrastiveFamily",
        lambda eps, negatives: (
            mmcl.ContrastiveFamily(torch.log, torch.exp, eps, negatives=negatives).eps
        ),
        dict(eps=1.0, negatives="sum"),
        dict(eps="nonneg", negatives="choice"),
    ),
    Entry(
        "get_family",
        lambda loss, tau: mmcl.get_family(loss, tau).name,
        dict(loss="clip", tau=1.0),
        dict(loss="choice", tau="pos"),
    ),
    Entry(
        "ClipFamily.weights",
        lambda s: mmcl.clip_family(1.0).weights(s),
        dict(s=S),
        dict(s=_SIM),
    ),
    Entry(
        "ClipFamily.loss_from_similarities",
        lambda s: mmcl.clip_family(1.0).loss_from_similarities(s),
        dict(s=S),
        dict(s=_SIM),
    ),
    Entry(
        "LinearFamily.weights",
        lambda s: mmcl.linear_family().weights(s),
        dict(s=S),
        dict(s=_SIM),
    ),
    Entry(
        "ContrastiveFamily.weights",
        lambda s: mmcl.ContrastiveFamily(torch.log, torch.exp).weights(s),
        dict(s=S),
        dict(s=_SIM),
    ),
    Entry(
        "similarities",
        mmcl.similarities,
        dict(G1=G1, G2=G2, X=X, Y=Y, normalize=False),
        dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, normalize="bool"),
        shape_args=dict(G1="both", G2="both", X="both", Y="both"),
    ),
    Entry(
        "regularizer",
        mmcl.regularizer,
        dict(G1=G1, G2=G2, rho=1.0),
        dict(G1=_MAT, G2=_MAT, rho="nonneg"),
        shape_args=dict(G2="rows"),
    ),
    Entry(
        "contrastive_loss",
        mmcl.contrastive_loss,
        dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0, rho=0.5, normalize=False),
        dict(
            G1=_MAT,
            G2=_MAT,
            X=_MAT,
            Y=_MAT,
            loss="choice",
            tau="pos",
            rho="nonneg",
            normalize="bool",
        ),
        shape_args=dict(G1="both", G2="both", X="both", Y="both"),
        extreme=dict(tau=1e-30),
    ),
    Entry("clip_loss", mmcl.clip_loss, dict(logits=S), dict(logits=_SIM)),
    Entry(
        "ContrastiveLoss",
        lambda loss, tau, rho: mmcl.ContrastiveLoss(loss, tau=tau, rho=rho)(
            G1, G2, X, Y
        ),
        dict(loss="clip", tau=1.0, rho=0.1),
        dict(loss="choice", tau="pos", rho="nonneg"),
    ),
    # covariance
    Entry(
        "cross_covariance",
        mmcl.cross_covariance,
        dict(X=X, Y=Y, beta=S),
        dict(X=_MAT, Y=_MAT, beta=_SIM),
        shape_args=dict(X="rows", Y="rows", beta="both"),
    ),
    Entry(
        "centered_cross_covariance",
        mmcl.centered_cross_covariance,
        dict(X=X, Y=Y),
        dict(X=_MAT, Y=_MAT),
        shape_args=dict(Y="rows"),
    ),
    Entry(
        "contrastive_cross_covariance",
        mmcl.contrastive_cross_covariance,
        dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0),
        dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, loss="choice", tau="pos"),
        shape_args=dict(G1="both", G2="both", X="both", Y="both"),
    ),
    Entry(
        "contrastive_gradient",
        mmcl.contrastive_gradient,
        dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0, rho=0.5),
        dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, loss="choice", tau="pos", rho="nonneg"),
        shape_args=dict(G1="both", G2="both", X="both", Y="both"),
    ),
    # solvers
    Entry("truncated_svd", mmcl.truncated_svd, dict(S=SYM, r=2), dict(S=_MAT, r="int")),
    Entry(
        "svd_flip",
        mmcl.svd_flip,
        dict(U=X, V=X),
        dict(U=_MAT, V=_MAT),
        shape_args=dict(V="cols"),
    ),
    Entry(
        "factorize",
        mmcl.factorize,
        dict(
            U=torch.eye(5, 2, dtype=torch.float64),
            sigma=torch.ones(2, dtype=torch.float64),
            V=torch.eye(4, 2, dtype=torch.float64),
            rho=1.0,
        ),
        dict(U=_MAT, V=_MAT, rho="pos"),
        shape_args=dict(U="cols", V="cols"),
        extreme=dict(rho=1e-300),
    ),
    Entry(
        "linear_closed_form",
        mmcl.linear_closed_form,
        dict(X=X, Y=Y, r=R, rho=1.0),
        dict(X=_MAT, Y=_MAT, r="int", rho="pos"),
        rank_args=("X", "Y"),
        shape_args=dict(Y="rows"),
        extreme=dict(rho=1e-300),
    ),
    Entry(
        "fit_cosine_clip",
        lambda **kw: mmcl.fit_cosine_clip(**kw).U,
        dict(X=X, Y=Y, r=R, tau=0.5, tol=1e-3, check_every=5, max_iter=20),
        dict(
            X=_MAT,
            Y=_MAT,
            r="int",
            tau="pos",
            tol="pos",
            check_every="int",
            max_iter="int",
        ),
        rank_args=("X", "Y"),
        shape_args=dict(Y="rows"),
    ),
    Entry(
        "svd_iteration",
        mmcl.svd_iteration,
        dict(
            X=X,
            Y=Y,
            r=R,
            loss="clip",
            tau=1.0,
            rho=1.0,
            damping=1.0,
            tol=1e-6,
            max_iter=5,
        ),
        dict(
            X=_MAT,
            Y=_MAT,
            r="int",
            loss="choice",
            tau="pos",
            rho="pos",
            damping="frac_open",
            tol="pos",
            max_iter="int",
        ),
        rank_args=("X", "Y"),
        shape_args=dict(Y="rows"),
        extreme=dict(tau=1e-30, rho=1e-300),
    ),
    Entry(
        "gradient_descent",
        mmcl.gradient_descent,
        dict(
            X=X,
            Y=Y,
            r=R,
            loss="clip",
            tau=1.0,
            rho=1.0,
            lr=0.1,
            n_steps=3,
            optimizer="sgd",
            seed=0,
        ),
        dict(
            X=_MAT,
            Y=_MAT,
            r="int",
            loss="choice",
            tau="pos",
            rho="nonneg",
            lr="pos",
            n_steps="int",
            optimizer="choice",
            seed="seed",
        ),
        shape_args=dict(Y="rows"),
        extreme=dict(lr=1e6, tau=1e-30),
    ),
    Entry(
        "minibatch_gradient",
        mmcl.minibatch_gradient,
        dict(
            X=X,
            Y=Y,
            r=R,
            loss="clip",
            tau=1.0,
            lr=0.01,
            batch_size=4,
            n_epochs=2,
            seed=0,
        ),
        dict(
            X=_MAT,
            Y=_MAT,
            r="int",
            loss="choice",
            tau="pos",
            lr="pos",
            batch_size="int",
            n_epochs="int",
            seed="seed",
        ),
        shape_args=dict(Y="rows"),
        extreme=dict(lr=1e8),
    ),
    # blocked
    Entry(
        "blocked_loss",
        mmcl.blocked_loss,
        dict(zx=ZX, zy=ZY, loss="clip", tau=1.0, block_size=5),
        dict(zx=_MAT, zy=_MAT, loss="choice", tau="pos", block_size="int_or_none"),
        shape_args=dict(zy="both"),
        extreme=dict(tau=1e-30),
    ),
    Entry(
        "clip_normalizers",
        lambda zx, zy, tau, block_size: (
            mmcl.clip_normalizers(zx, zy, tau, block_size=block_size).row
        ),
        dict(zx=ZX, zy=ZY, tau=1.0, block_size=5),
        dict(zx=_MAT, zy=_MAT, tau="pos", block_size="int_or_none"),
        shape_args=dict(zy="both"),
    ),
    Entry(
        "iter_clip_weights",
        lambda zx, zy, tau: torch.cat(
            [b for _, b in mmcl.iter_clip_weights(zx, zy, tau, block_size=5)]
        ),
        dict(zx=ZX, zy=ZY, tau=1.0),
        dict(zx=_MAT, zy=_MAT, tau="pos"),
        shape_args=dict(zy="both"),
    ),
    Entry(
        "blocked_cross_covariance",
        mmcl.blocked_cross_covariance,
        dict(X=X, Y=Y, zx=ZX, zy=ZY, loss="clip", tau=1.0, block_size=5),
        dict(
            X=_MAT,
            Y=_MAT,
            zx=_MAT,
            zy=_MAT,
            loss="choice",
            tau="pos",
            block_size="int_or_none",
        ),
        shape_args=dict(Y="rows", zy="both"),
    ),
    Entry(
        "auto_block_size",
        mmcl.auto_block_size,
        dict(n=100, batch=2),
        dict(n="int", batch="int"),
    ),
    # metrics
    Entry("orthonormal_basis", mmcl.orthonormal_basis, dict(A=X[:, :2]), dict(A=_MAT)),
    Entry(
        "sin_theta_distance",
        mmcl.sin_theta_distance,
        dict(A=X[:, :2], B=X[:, 1:3]),
        dict(A=_MAT, B=_MAT),
        rank_args=("A", "B"),
        shape_args=dict(B="rows"),
    ),
    Entry(
        "retrieval_accuracy",
        mmcl.retrieval_accuracy,
        dict(Zx=ZX, Zy=ZY, chunk=5),
        dict(Zx=_MAT, Zy=_MAT, chunk="int"),
        shape_args=dict(Zy="both"),
    ),
    # estimator
    Entry(
        "MMCL.fit",
        _fit_mmcl,
        dict(
            X=X,
            Y=Y,
            n_components=R,
            loss="linear",
            tau=1.0,
            rho=1.0,
            solver="auto",
            max_iter=5,
            tol=1e-6,
        ),
        dict(
            X=_MAT,
            Y=_MAT,
            n_components="int",
            loss="choice",
            tau="pos",
            rho="pos",
            solver="choice",
            max_iter="int",
            tol="pos",
        ),
        rank_args=("X", "Y"),
        shape_args=dict(Y="rows"),
    ),
    Entry(
        "MMCL.fit(clip)",
        _fit_mmcl,
        dict(
            X=X,
            Y=Y,
            n_components=R,
            loss="clip",
            tau=1.0,
            max_iter=5,
            solver_options={},
        ),
        dict(n_components="int", tau="pos", max_iter="int", solver_options="options"),
        extreme=dict(tau=1e-30),
    ),
    Entry(
        "MMCL.transform",
        _transform_mmcl,
        dict(X=X, Y=Y),
        dict(X=_MAT, Y=_MAT),
        shape_args=dict(X="cols", Y="cols"),
    ),
    Entry(
        "MMCL.score",
        _score_mmcl,
        dict(X=X, Y=Y),
        dict(X=_MAT, Y=_MAT),
        shape_args=dict(X="both", Y="both"),
    ),
    # baselines
    *[
        Entry(
            f"{f.__name__}", f, dict(X=X, r=R), dict(X=_MAT, r="int"), rank_args=("X",)
        )
        for f in (mmcl.pca, mmcl.diagonal_deletion)
    ],
    Entry(
        "hetero_pca",
        mmcl.hetero_pca,
        dict(X=X, r=R, tol=1e-6, max_iter=5),
        dict(X=_MAT, r="int", tol="pos", max_iter="int"),
        rank_args=("X",),
    ),
    Entry(
        "masked_contrastive",
        mmcl.masked_contrastive,
        dict(X=X, r=R, p=0.5, rho=1.0, lr=0.05, n_steps=3, seed=0),
        dict(
            X=_MAT,
            r="int",
            p="frac_open",
            rho="pos",
            lr="pos",
            n_steps="int",
            seed="seed",
        ),
        rank_args=("X",),
        extreme=dict(lr=1e30),
    ),
    *[
        Entry(
            f"{cls.__name__}.fit",
            _unimodal(cls),
            dict(X=X, n_components=R),
            dict(X=_MAT, n_components="int"),
            rank_args=("X",),
        )
        for cls in (
            mmcl.PCA,
            mmcl.DiagonalDeletion,
            mmcl.HeteroPCA,
            mmcl.MaskedContrastive,
        )
    ],
    Entry("sample_covariance", mmcl.sample_covariance, dict(X=X), dict(X=_MAT)),
    Entry("delete_diagonal", mmcl.delete_diagonal, dict(M=SYM), dict(M=_SIM)),
    Entry(
        "top_eigenvectors",
        mmcl.top_eigenvectors,
        dict(M=SYM, r=R),
        dict(M=_SIM, r="int"),
    ),
    Entry(
        "masked_views", mmcl.masked_views, dict(X=X, p=0.5), dict(X=_MAT, p="frac_open")
    ),
    Entry(
        "masked_contrastive_target",
        mmcl.masked_contrastive_target,
        dict(X=X, p=0.5),
        dict(X=_MAT, p="frac_open"),
    ),
    Entry(
        "masked_contrastive_loss",
        mmcl.masked_contrastive_loss,
        dict(G=G1, A=X, B=X, rho=1.0),
        dict(G=_MAT, A=_MAT, B=_MAT, rho="nonneg"),
        shape_args=dict(G="cols", A="both", B="both"),
    ),
    # unpaired data
    Entry(
        "pool_similarities",
        mmcl.pool_similarities,
        dict(G1=G1, G2=G2, X_unpaired=XU, Y_unpaired=YU),
        dict(G1=_MAT, G2=_MAT, X_unpaired=_MAT, Y_unpaired=_MAT),
        shape_args=dict(G1="both", G2="both", X_unpaired="cols", Y_unpaired="cols"),
    ),
    Entry(
        "detect_pairs",
        mmcl.detect_pairs,
        dict(S=S[:8, :8], method="threshold", threshold=0.1),
        dict(S=_MAT, method="choice", threshold="nonneg"),
    ),
    Entry(
        "detection_quality",
        lambda mask, match: mmcl.detection_quality(mask, match)["recall"],
        dict(mask=torch.eye(8, dtype=torch.bool), match=MATCH),
        dict(mask="mask", match="match"),
    ),
    Entry(
        "true_pair_mask",
        mmcl.true_pair_mask,
        dict(match=MATCH, n_columns=8),
        dict(match="match", n_columns="int_or_none"),
    ),
    Entry(
        "self_training",
        lambda **kw: mmcl.self_training(**kw).G1,
        dict(
            X=X,
            Y=Y,
            X_unpaired=XU,
            Y_unpaired=YU,
            r=R,
            solver="linear",
            detector="mutual",
            rounds=1,
            match=MATCH,
            tau=1.0,
            rho=1.0,
            max_iter=3,
        ),
        dict(
            X=_MAT,
            Y=_MAT,
            X_unpaired=_MAT,
            Y_unpaired=_MAT,
            r="int",
            solver="choice",
            detector="choice",
            rounds="int0",
            match="match",
            tau="pos",
            rho="pos",
            max_iter="int",
        ),
        shape_args=dict(Y="rows", X_unpaired="both", Y_unpaired="cols"),
    ),
    Entry(
        "fit_pairs",
        lambda **kw: mmcl.fit_pairs(**kw)[0],
        dict(X=X, Y=Y, r=R, solver="clip", tau=1.0, rho=1.0, max_iter=3),
        dict(
            X=_MAT,
            Y=_MAT,
            r="int",
            solver="choice",
            tau="pos",
            rho="pos",
            max_iter="int",
        ),
        shape_args=dict(Y="rows"),
    ),
    Entry(
        "reveal_pairs",
        lambda **kw: mmcl.reveal_pairs(**kw)[1],
        dict(X_unpaired=XU, Y_unpaired=YU, match=MATCH),
        dict(X_unpaired=_MAT, Y_unpaired=_MAT, match="match"),
        shape_args=dict(Y_unpaired="rows"),
    ),
    Entry(
        "representation_accuracy",
        mmcl.representation_accuracy,
        dict(G1=G1, G2=G2, X_test=X, Y_test=Y),
        dict(G1=_MAT, G2=_MAT, X_test=_MAT, Y_test=_MAT),
        shape_args=dict(G1="both", G2="both", X_test="both", Y_test="both"),
    ),
    Entry(
        "paper_recipe",
        lambda **kw: mmcl.paper_recipe(**kw).G1,
        dict(
            X=X,
            Y=Y,
            X_unpaired=XU,
            Y_unpaired=YU,
            r=R,
            match=MATCH,
            epochs_paired=1,
            epochs_unpaired=1,
            batch_size=4,
            lr=2e-3,
            weight_decay=0.01,
            tau=1.0,
            seed=0,
            blocks="aligned",
            positives="topm",
        ),
        dict(
            X=_MAT,
            Y=_MAT,
            X_unpaired=_MAT,
            Y_unpaired=_MAT,
            r="int",
            match="match",
            epochs_paired="int0",
            epochs_unpaired="int0",
            batch_size="int",
            lr="pos",
            weight_decay="nonneg",
            tau="pos",
            seed="seed",
            blocks="choice",
            positives="choice",
        ),
        shape_args=dict(Y="rows", X_unpaired="both", Y_unpaired="both"),
        extreme=dict(lr=1e3),
    ),
    # devices
    Entry(
        "default_device", mmcl.default_device, dict(device="cpu"), dict(device="device")
    ),
    Entry(
        "to_device",
        lambda device: mmcl.to_device(X, device=device),
        dict(device="cpu"),
        dict(device="device"),
    ),
    # real data designs
    Entry(
        "center_scale",
        lambda X_train: mmcl.center_scale(X_train)[0],
        dict(X_train=X),
        dict(X_train=_MAT),
        variance_args=("X_train",),
    ),
    Entry(
        "rematch",
        lambda Y, fraction, seed: mmcl.rematch(Y, fraction, seed=seed)[0],
        dict(Y=Y, fraction=0.5, seed=0),
        dict(Y=_MAT, fraction="frac", seed="seed"),
    ),
    Entry(
        "class_pairs",
        mmcl.class_pairs,
        dict(labels_x=LABELS, labels_y=LABELS, seed=0),
        dict(labels_x="labels_free", labels_y="labels_free", seed="seed"),
    ),
    Entry(
        "stratified_split",
        lambda labels, n_per_class: mmcl.stratified_split(labels, n_per_class)[0],
        dict(labels=LABELS, n_per_class=2),
        dict(labels="labels_free", n_per_class="int"),
    ),
    Entry(
        "noisy_class_graph",
        lambda **kw: mmcl.noisy_class_graph(**kw)[0],
        dict(labels_x=LABELS, labels_y=LABELS, p=0.1, seed=0),
        dict(labels_x="labels_free", labels_y="labels_free", p="frac", seed="seed"),
    ),
    Entry(
        "graph_closed_form",
        lambda **kw: mmcl.graph_closed_form(**kw).G1,
        dict(X=X, Y=Y, A=torch.eye(N, dtype=torch.float64), r=R, rho=1.0),
        dict(X=_MAT, Y=_MAT, A=_MAT, r="int", rho="pos"),
        shape_args=dict(Y="rows", A="both"),
        rank_args=("X", "Y"),
    ),
    Entry(
        "linear_probe_accuracy",
        mmcl.linear_probe_accuracy,
        dict(Z_train=ZX, y_train=LABELS, Z_test=ZY, y_test=LABELS, ridge=1e-3),
        dict(Z_train=_MAT, y_train="labels", Z_test=_MAT, y_test="labels", ridge="pos"),
        shape_args=dict(Z_test="cols"),
    ),
    Entry(
        "class_retrieval_accuracy",
        mmcl.class_retrieval_accuracy,
        dict(Zx=ZX, Zy=ZY, labels_x=LABELS, labels_y=LABELS),
        dict(Zx=_MAT, Zy=_MAT, labels_x="labels", labels_y="labels"),
        shape_args=dict(Zy="cols"),
    ),
    Entry(
        "prototype_accuracy",
        mmcl.prototype_accuracy,
        dict(Zx=ZX, labels_x=LABELS, Zy=ZY, labels_y=LABELS, draws=3, seed=0),
        dict(
            Zx=_MAT,
            labels_x="labels",
            Zy=_MAT,
            labels_y="labels",
            draws="int",
            seed="seed",
        ),
        shape_args=dict(Zy="cols"),
    ),
    Entry(
        "load_mfeat",
        lambda views, data_dir: mmcl.load_mfeat(views, data_dir=data_dir).labels,
        dict(views=("mor",), data_dir=None),
        dict(views="views", data_dir="path"),
    ),
    # experiments
    Entry(
        "ExperimentConfig",
        lambda grid, replicates, seed: (
            mmcl.ExperimentConfig(grid, replicates, seed).replicates
        ),
        dict(grid={"a": [1, 2]}, replicates=2, seed=0),
        dict(grid="grid", replicates="int", seed="seed"),
    ),
    Entry(
        "loglog_slope",
        mmcl.loglog_slope,
        dict(x=[1.0, 2.0, 4.0], y=[1.0, 4.0, 16.0]),
        dict(x="vector", y="vector"),
    ),
    Entry(
        "crossover",
        mmcl.crossover,
        dict(x=[1.0, 2.0, 4.0], a=[3.0, 2.0, 1.0], b=[2.0, 2.0, 2.0]),
        dict(x="vector", a="vector", b="vector"),
    ),
    # chapter-2 diagnostics
    Entry(
        "gradient_relative_error",
        mmcl.gradient_relative_error,
        dict(G1=G1, G2=G2, X=X, Y=Y, loss="clip", tau=1.0),
        dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT, loss="choice", tau="pos"),
        shape_args=dict(G1="both", G2="both", X="both", Y="both"),
    ),
    Entry(
        "effective_negatives",
        mmcl.effective_negatives,
        dict(beta=S.abs()),
        dict(beta=_SIM),
    ),
    Entry(
        "clip_weights_sweep",
        mmcl.clip_weights_sweep,
        dict(s=S, taus=[0.5, 1.0]),
        dict(s=_SIM, taus="taus"),
    ),
    # the sigmoid family and chapter 8
    Entry(
        "siglip_family",
        lambda tau, bias: mmcl.siglip_family(tau, bias).tau,
        dict(tau=0.5, bias=-1.0),
        dict(tau="pos", bias="real"),
    ),
    Entry(
        "SiglipFamily.weights",
        lambda s: mmcl.siglip_family(1.0, -2.0).weights(s),
        dict(s=S),
        dict(s=_SIM),
    ),
    Entry(
        "SiglipFamily.loss_from_similarities",
        lambda s: mmcl.siglip_family(1.0, -2.0).loss_from_similarities(s),
        dict(s=S),
        dict(s=_SIM),
    ),
    Entry("effective_rank", mmcl.effective_rank, dict(A=X), dict(A=_MAT)),
    Entry(
        "fit_learned_temperature",
        lambda X, Y, k, **kw: mmcl.fit_learned_temperature(X, Y, k, **kw).tau,
        dict(X=X, Y=Y, k=R, tau=1.0, learn_tau=True, lr=0.05, n_steps=3, seed=0),
        dict(
            X=_MAT,
            Y=_MAT,
            k="int",
            tau="pos",
            learn_tau="bool",
            lr="pos",
            n_steps="int",
            seed="seed",
        ),
        shape_args=dict(X="rows", Y="rows"),
    ),
    Entry(
        "teacher_scores",
        mmcl.teacher_scores,
        dict(G1=G1, G2=G2, X=X, Y=Y),
        dict(G1=_MAT, G2=_MAT, X=_MAT, Y=_MAT),
        shape_args=dict(G1="both", G2="both", X="both", Y="both"),
    ),
    Entry(
        "filter_pairs",
        lambda X, Y, scores, keep: mmcl.filter_pairs(X, Y, scores, keep)[0],
        dict(X=X, Y=Y, scores=X[:, 0].contiguous(), keep=0.5),
        dict(X=_MAT, Y=_MAT, scores="vector", keep="frac"),
        shape_args=dict(X="rows", Y="rows"),
    ),
    Entry(
        "misaligned_sample",
        lambda n, d1, d2, r, **kw: mmcl.misaligned_sample(n, d1, d2, r, **kw).X,
        dict(
            n=20,
            d1=5,
            d2=4,
            r=3,
            dropped=(0,),
            perturbed=(1,),
            perturb_prob=0.5,
            signal_var=2.0,
            noise=0.5,
            seed=0,
        ),
        dict(
            n="int",
            d1="int",
            d2="int",
            r="int",
            perturb_prob="frac",
            signal_var="pos",
            noise="nonneg",
            seed="seed",
        ),
    ),
    Entry(
        "coordinate_recovery",
        mmcl.coordinate_recovery,
        dict(U_hat=QX[:, :R].contiguous(), U=QX[:, :3].contiguous()),
        dict(U_hat=_MAT, U=_MAT),
    ),
    Entry(
        "spectral_embedding",
        mmcl.spectral_embedding,
        dict(X=X, k=R, n_neighbors=4),
        dict(X=_MAT, k="int", n_neighbors="int"),
    ),
    Entry(
        "align_embeddings",
        mmcl.align_embeddings,
        dict(Ex_pairs=ZX, Ey_pairs=ZY),
        dict(Ex_pairs=_MAT, Ey_pairs=_MAT),
        shape_args=dict(Ex_pairs="rows"),
    ),
    # images and captions (chapter 6)
    Entry(
        "retrieval_scores",
        lambda Zx, Zy: mmcl.retrieval_scores(Zx, Zy, ks=(1, 2))["image->caption@2"],
        dict(Zx=ZX, Zy=ZY),
        dict(Zx=_MAT, Zy=_MAT),
        shape_args=dict(Zx="both", Zy="both"),
    ),
    Entry(
        "zero_shot_accuracy",
        mmcl.zero_shot_accuracy,
        dict(Zx=ZX, labels=LABELS, Zc=ZY[:3].contiguous()),
        dict(Zx=_MAT, labels="labels", Zc=_MAT),
    ),
    Entry(
        "rank_images",
        mmcl.rank_images,
        dict(G1=G1, G2=G2, X=X, q=Y[0].contiguous(), k=3),
        dict(G1=_MAT, G2=_MAT, X=_MAT, k="int"),
    ),
    # the statistics chapter's detection bounds (chapter 4b, Step 7)
    Entry(
        "factor_perturbation_bound",
        mmcl.factor_perturbation_bound,
        dict(eps=0.04, signal_var=1.0),
        dict(eps="nonneg", signal_var="pos"),
    ),
    Entry(
        "cosine_tolerance",
        mmcl.cosine_tolerance,
        dict(eps=0.04, X=XU, Y=YU, U1=QX[:, :R].contiguous(), U2=QY, signal_var=1.0),
        dict(eps="nonneg", X=_MAT, Y=_MAT, U1=_MAT, U2=_MAT, signal_var="pos"),
        shape_args=dict(X="cols", Y="cols", U1="both", U2="both"),
    ),
    Entry(
        "certified_assignment",
        mmcl.certified_assignment,
        dict(
            s_ideal=S[:8, :8].contiguous(),
            tolerance=0.1 * S[:8, :8].abs().contiguous(),
            match=MATCH,
            n_multipliers=4,
        ),
        dict(s_ideal=_SIM, tolerance=_MAT, match="match", n_multipliers="int"),
    ),
]
