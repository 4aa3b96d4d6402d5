"""Unimodal baselines: estimate span U1 from modality 1 alone (book chapter on
robustness).

All of them are spectral methods on the centred sample covariance Sigma_hat of X (...,
n, d):

* ``pca``: top-r eigenvectors of Sigma_hat (biased by heteroskedastic noise);
* ``diagonal_deletion``: top-r eigenvectors of Delta(Sigma_hat) = Sigma_hat -
  Diag(Sigma_hat), the target of unimodal contrastive learning with random masking (Ji
  et al., JMLR 2023);
* ``hetero_pca``: HeteroPCA (Zhang, Cai & Wu, Ann. Statist. 2022), which refills the
  deleted diagonal iteratively, N_{t+1} = offdiag(Sigma_hat) + diag([N_t]_r);
* ``masked_contrastive``: unimodal linear contrastive learning on the masked views
  (A x, (I - A) x), A = diag(Bernoulli(p)), trained by gradient descent (Adam).

Functions return orthonormal bases (..., d, r) under the package sign convention
:func:`mmcl.lowrank.svd_flip`; the estimator classes (``fit(X)`` returns ``self``,
``components_`` of
shape (d, r)) wrap them in the scikit-learn style. Replicates are batched in leading
dimensions.
"""

from __future__ import annotations

import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import (
    check_data_rank,
    check_finite_output,
    check_int,
    check_matrix,
    check_rank,
    check_real,
    tiny,
)
from .covariance import centered_cross_covariance
from .data import make_generator
from .estimator import NotFittedError
from .families import linear_loss_of_embeddings
from .losses import _regularizer
from .lowrank import low_rank, svd_flip, truncated_svd

__all__ = [
    "sample_covariance",
    "delete_diagonal",
    "top_eigenvectors",
    "pca",
    "diagonal_deletion",
    "hetero_pca",
    "masked_views",
    "masked_contrastive_loss",
    "masked_contrastive_target",
    "masked_contrastive",
    "PCA",
    "DiagonalDeletion",
    "HeteroPCA",
    "MaskedContrastive",
]


def _check_data(X, r, name: str = "r"):
    """X (..., n, d) with n >= 2 and centred rank >= r (else the top-r subspace is
    arbitrary)."""
    X = check_matrix(X, "X", min_rows=2)
    r = check_rank(r, X.shape[-1], X.shape[-1], X.shape[-2], name=name)
    check_data_rank(X, "X", r, what=name)
    return X, r


def sample_covariance(X) -> torch.Tensor:
    """The unbiased centred covariance Sigma_hat = 1/(n-1) sum_i (x_i - xbar)(x_i -
    xbar)^T, shape (..., d, d), for X (..., n, d).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, d).
    """
    return centered_cross_covariance(X, X)


def delete_diagonal(M: torch.Tensor) -> torch.Tensor:
    """Delta(M) = M - Diag(M): the square matrix (..., d, d) with its diagonal set to
    zero.

    Parameters
    ----------
    M : torch.Tensor
        Tensor of shape (..., d, d).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, d).
    """
    M = check_matrix(M, "M", square=True)
    return M - torch.diag_embed(torch.diagonal(M, dim1=-2, dim2=-1))


def top_eigenvectors(M: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvectors (..., d, r) of the r largest eigenvalues of a symmetric M (..., d,
    d), in decreasing order, signs by :func:`mmcl.lowrank.svd_flip`; returns (vectors,
    eigenvalues (..., r)).

    Parameters
    ----------
    M : torch.Tensor
        Tensor of shape (..., d, d), symmetric.
    r : int
        The dimension of the subspace.

    Returns
    -------
    tuple of torch.Tensor
        Eigenvectors of shape (..., d, r) and eigenvalues of shape (..., r).
    """
    M = check_matrix(M, "M", square=True)
    r = check_rank(r, M.shape[-1], M.shape[-2])
    evals, evecs = torch.linalg.eigh(0.5 * (M + M.transpose(-1, -2)))
    V = evecs[..., -r:].flip(-1)
    return svd_flip(V, V)[0], evals[..., -r:].flip(-1)


def pca(X, r: int) -> torch.Tensor:
    """PCA: the top-r eigenvectors of Sigma_hat, shape (..., d, r).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    r : int
        The dimension of the subspace.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, r) with orthonormal columns.
    """
    X, r = _check_data(X, r)
    return top_eigenvectors(sample_covariance(X), r)[0]


def diagonal_deletion(X, r: int) -> torch.Tensor:
    """Diagonal deletion: top-r eigenvectors of Delta(Sigma_hat), shape (..., d, r).

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    r : int
        The dimension of the subspace.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, r) with orthonormal columns.
    """
    X, r = _check_data(X, r)
    return top_eigenvectors(delete_diagonal(sample_covariance(X)), r)[0]


def _hetero_pca(S, r, tol, max_iter):
    """HeteroPCA on a covariance S (..., d, d): basis, eigenvalues, n_iter, done."""
    tol = check_real(tol, "tol", low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter")
    diag_mask = torch.eye(S.shape[-1], dtype=torch.bool, device=S.device)
    N = delete_diagonal(S)
    done = torch.zeros(S.shape[:-2], dtype=torch.bool, device=S.device)
    for it in range(1, max_iter + 1):
        U, sig, V = truncated_svd(
            N, r
        )  # best rank-r approximation [N]_r, as in the paper
        N_new = torch.where(diag_mask, low_rank(U, sig, V), S)
        change = torch.linalg.matrix_norm(N_new - N) / torch.linalg.matrix_norm(
            N
        ).clamp_min(tiny(N))
        N = torch.where(
            done[..., None, None], N, N_new
        )  # a converged replicate stops, as if alone
        done = done | (change < tol)
        if bool(done.all()):
            break
    converged = bool(done.all())
    basis, evals = top_eigenvectors(N, r)
    return basis, evals, it, converged


def hetero_pca(X, r: int, *, tol: float = 1e-6, max_iter: int = 200) -> torch.Tensor:
    """HeteroPCA (Zhang, Cai & Wu 2022): the top-r eigenvectors of the diagonal-refilled
    covariance, shape (..., d, r).

    N_0 = Delta(Sigma_hat); N_{t+1} = offdiag(Sigma_hat) + diag([N_t]_r), with [.]_r the
    best rank-r approximation; stops when ||N_{t+1} - N_t||_F / ||N_t||_F < tol in every
    replicate.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    r : int
        The dimension of the subspace.
    tol : float, default=1e-6
        The tolerance on the relative change.
    max_iter : int, default=200
        The most iterations.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, r) with orthonormal columns.
    """
    X, r = _check_data(X, r)
    return _hetero_pca(sample_covariance(X), r, tol, max_iter)[0]


def _check_p(p) -> float:
    """The masking probability, 0 < p < 1."""
    return check_real(p, "p", low=0.0, high=1.0, low_open=True, high_open=True)


def _masked_views(X, p: float, g: torch.Generator):
    """Unchecked core of :func:`masked_views` (the training loop calls it each step)."""
    keep = (torch.rand(X.shape, generator=g, dtype=torch.float64) < p).to(X.device)
    return torch.where(keep, X, 0), torch.where(keep, 0, X)


def masked_views(
    X, p: float = 0.5, *, generator=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random-masking augmentation: the two views (A x_i, (I - A) x_i) of every row of X
    (..., n, d), with A = diag(a), a_k ~ Bernoulli(p) independently per row and
    coordinate.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    p : float, default=0.5
        The keep probability, in (0, 1).
    generator : int or torch.Generator, optional
        The seed or generator of the masks.

    Returns
    -------
    tuple of torch.Tensor
        The two views, tensors of shape (..., n, d).
    """
    return _masked_views(check_matrix(X, "X"), _check_p(p), make_generator(generator))


def masked_contrastive_loss(G, A, B, *, rho: float = 1.0) -> torch.Tensor:
    """The linear contrastive loss of one representation G (..., r, d) on views A, B
    (..., n, d):

        L(G) = -(1/n) sum_i s_ii + 1/(n(n-1)) sum_{i != j} s_ij + (rho/2) ||G^T G||_F^2,

    s_ij = <G a_i, G b_j>; the linear loss of :mod:`mmcl.families` with G1 = G2 = G,
    computed in O(n d r) without the n x n similarity matrix. Shape A.shape[:-2].

    Parameters
    ----------
    G : torch.Tensor
        Tensor of shape (..., r, d).
    A : torch.Tensor
        Tensor of shape (..., n, d): the first views.
    B : torch.Tensor
        Tensor of shape (..., n, d): the second views.
    rho : float, default=1.0
        The regularisation strength.

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,).
    """
    G, A, B = (
        check_matrix(G, "G"),
        check_matrix(A, "A", min_rows=2),
        check_matrix(B, "B", min_rows=2),
    )
    if A.shape != B.shape:
        raise ValueError(
            f"A and B must have the same shape (..., n, d), got {tuple(A.shape)} and "
            f"{tuple(B.shape)}"
        )
    if G.shape[-1] != A.shape[-1] or G.dtype != A.dtype or G.device != A.device:
        raise ValueError(
            f"G must be (..., r, d) with d = {A.shape[-1]}, dtype {A.dtype} on "
            f"{A.device} "
            f"like A; got {tuple(G.shape)}, {G.dtype} on {G.device}"
        )
    return _masked_contrastive_loss(G, A, B, check_real(rho, "rho", low=0.0))


def _masked_contrastive_loss(G, A, B, rho):
    """Unchecked core of :func:`masked_contrastive_loss` (the training loop calls it
    every step)."""
    Za, Zb = A @ G.transpose(-1, -2), B @ G.transpose(-1, -2)
    return linear_loss_of_embeddings(Za, Zb) + _regularizer(G, G, rho)


def masked_contrastive_target(X, p: float = 0.5) -> torch.Tensor:
    """The matrix M (..., d, d) with E_A[L(G)] = -tr(G M G^T) + (rho/2)||G^T G||_F^2 for
    centred X: M = p(1-p) (n-1)/n [Delta(Sigma_hat) + Sigma_hat / (n-1)], so the
    minimisers span its top eigenvectors: diagonal deletion up to an O(1/n) term.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    p : float, default=0.5
        The keep probability, in (0, 1).

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, d).
    """
    X = check_matrix(X, "X", min_rows=2)
    p = _check_p(p)
    n = X.shape[-2]
    S = sample_covariance(X)
    return p * (1 - p) * (n - 1) / n * (delete_diagonal(S) + S / (n - 1))


def _masked_contrastive(X, r, p, rho, lr, n_steps, generator):
    """Adam on the masked linear loss with fresh masks every step; returns (basis, G,
    losses)."""
    p = _check_p(p)
    rho = check_real(rho, "rho", low=0.0, low_open=True)
    lr = check_real(lr, "lr", low=0.0, low_open=True)
    n_steps = check_int(n_steps, "n_steps")
    g = make_generator(generator)
    Xc = X - X.mean(-2, keepdim=True)
    G = 0.1 * torch.randn(
        *X.shape[:-2], r, X.shape[-1], generator=g, dtype=torch.float64
    )
    G = G.to(X).requires_grad_(True)
    opt = torch.optim.Adam([G], lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda t: 1.0 - t / n_steps
    )  # linear decay to 0
    losses = []
    for _ in range(n_steps):
        A, B = _masked_views(Xc, p, g)
        opt.zero_grad()
        loss = _masked_contrastive_loss(G, A, B, rho)
        loss.sum().backward()
        opt.step()
        sched.step()
        losses.append(loss.detach())
    G = check_finite_output(
        G.detach(),
        "masked contrastive learning's G",
        "lower lr (Adam's steps overshoot) or raise rho",
    )
    return truncated_svd(G.transpose(-1, -2), r)[0], G, torch.stack(losses)


def masked_contrastive(
    X,
    r: int,
    *,
    p: float = 0.5,
    rho: float = 1.0,
    lr: float = 0.05,
    n_steps: int = 400,
    seed=0,
) -> torch.Tensor:
    """Unimodal linear contrastive learning with random masking, trained by Adam with
    fresh masks at every step (learning rate decayed linearly to 0): the span of G^T,
    shape (..., d, r).

    In expectation over the masks the loss is -tr(G M G^T) + (rho/2)||G^T G||_F^2 with M
    from
    :func:`masked_contrastive_target`, so training lands on (nearly) the
    diagonal-deletion subspace.

    Parameters
    ----------
    X : torch.Tensor
        Tensor of shape (..., n, d): one modality (replicates batched in front).
    r : int
        The dimension of the subspace.
    p : float, default=0.5
        The keep probability, in (0, 1).
    rho : float, default=1.0
        The regularisation strength (> 0).
    lr : float, default=0.05
        Adam's initial learning rate.
    n_steps : int, default=400
        The number of steps.
    seed : int or torch.Generator, default=0
        The seed of the start and the masks.

    Returns
    -------
    torch.Tensor
        Tensor of shape (..., d, r) with orthonormal columns.
    """
    X, r = _check_data(X, r)
    return _masked_contrastive(X, r, p, rho, lr, n_steps, seed)[0]


class _UnimodalEstimator(TransformerMixin, BaseEstimator):
    """Shared scikit-learn plumbing: fit(X) stores ``mean_`` and ``components_``;
    transform.

    scikit-learn citizens: ``clone``, ``get_params`` / ``set_params``, ``repr``,
    ``Pipeline`` (``fit(X, y=None)`` ignores y). Fitted attributes are tensors: save
    them with ``torch.save`` and load with ``torch.load(path, weights_only=True)``, or
    pickle the estimator.
    """

    def __init__(self, n_components: int = 2):
        self.n_components = n_components

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "components_")

    def fit(self, X, y=None) -> "_UnimodalEstimator":
        """Fit on X (n, d) (replicates may be batched in front); ``y`` is ignored;
        returns ``self``. Inputs that require grad are detached."""
        X, r = _check_data(X, self.n_components, "n_components")
        X = X.detach()
        self.n_features_in_ = X.shape[-1]
        self.mean_ = X.mean(-2)
        self._fit(X, r)
        return self

    def transform(self, X) -> torch.Tensor:
        """Project centred data: (X - mean_) @ components_, shape (..., m, r)."""
        if not hasattr(self, "components_"):
            raise NotFittedError(
                f"this {type(self).__name__} instance is not fitted yet: call fit(X) "
                "first"
            )
        X = check_matrix(X, "X")
        if X.shape[-1] != self.components_.shape[-2]:
            raise ValueError(
                f"X has {X.shape[-1]} features but the model was fitted with "
                f"d = {self.components_.shape[-2]}"
            )
        return (X - self.mean_.unsqueeze(-2)) @ self.components_

    def fit_transform(self, X, y=None) -> torch.Tensor:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)


class PCA(_UnimodalEstimator):
    """PCA on one modality: ``PCA(n_components=r).fit(X)``.

    Attributes
    ----------
    components_ : torch.Tensor
        Tensor of shape (d, r): orthonormal top-r eigenvectors of the sample covariance.
    eigenvalues_ : torch.Tensor
        Tensor of shape (r,): the top-r eigenvalues.
    mean_ : torch.Tensor
        Tensor of shape (d,): the column means removed before fitting.

    See Also
    --------
    DiagonalDeletion, HeteroPCA, MaskedContrastive, sklearn.decomposition.PCA
    (``components_`` transposed)

    Examples
    --------
    >>> import mmcl
    >>> data = mmcl.make_multimodal(500, 20, 15, 3, seed=0)
    >>> tuple(mmcl.PCA(n_components=3).fit(data.X).components_.shape)
    (20, 3)
    """

    def _fit(self, X, r):
        self.components_, self.eigenvalues_ = top_eigenvectors(sample_covariance(X), r)


class DiagonalDeletion(_UnimodalEstimator):
    """Top-r eigenvectors of the diagonal-deleted covariance Delta(Sigma_hat): what
    unimodal contrastive learning with random masking learns. Attributes as
    :class:`PCA`."""

    def _fit(self, X, r):
        self.components_, self.eigenvalues_ = top_eigenvectors(
            delete_diagonal(sample_covariance(X)), r
        )


class HeteroPCA(_UnimodalEstimator):
    """HeteroPCA (Zhang, Cai & Wu 2022) on one modality.

    Parameters
    ----------
    n_components : int, default=2
        The dimension r of the subspace.
    tol : float, default=1e-6
        The tolerance on the relative change of the refilled covariance.
    max_iter : int, default=200
        The most iterations.

    Attributes
    ----------
    components_ : torch.Tensor
        Tensor of shape (d, r): orthonormal top-r eigenvectors of the refilled
        covariance.
    eigenvalues_ : torch.Tensor
        Tensor of shape (r,): their eigenvalues.
    mean_ : torch.Tensor
        Tensor of shape (d,): the column means removed before fitting.
    n_iter_ : int
        The iterations run.
    converged_ : bool
        Whether every replicate met the tolerance.
    """

    def __init__(
        self, n_components: int = 2, *, tol: float = 1e-6, max_iter: int = 200
    ):
        super().__init__(n_components)
        self.tol = tol
        self.max_iter = max_iter

    def _fit(self, X, r):
        (self.components_, self.eigenvalues_, self.n_iter_, self.converged_) = (
            _hetero_pca(sample_covariance(X), r, self.tol, self.max_iter)
        )


class MaskedContrastive(_UnimodalEstimator):
    """Unimodal linear contrastive learning with random masking, trained by Adam.

    Parameters
    ----------
    n_components : int, default=2
        The dimension r of the subspace.
    p : float, default=0.5
        The masking probability, in (0, 1).
    rho : float, default=1.0
        The regularisation strength (> 0).
    lr : float, default=0.05
        Adam's learning rate (decayed linearly to 0).
    n_steps : int, default=400
        The number of Adam steps.
    seed : int, default=0
        The seed of the initialisation and the masks.

    Attributes
    ----------
    components_ : torch.Tensor
        Tensor of shape (d, r): an orthonormal basis of span G^T.
    G_ : torch.Tensor
        Tensor of shape (r, d): the learned map.
    mean_ : torch.Tensor
        Tensor of shape (d,): the column means removed before fitting.
    history_ : dict
        "loss": tensor of shape (n_steps, ...), the loss at every step.
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        p: float = 0.5,
        rho: float = 1.0,
        lr: float = 0.05,
        n_steps: int = 400,
        seed=0,
    ):
        super().__init__(n_components)
        self.p, self.rho, self.lr, self.n_steps, self.seed = p, rho, lr, n_steps, seed

    def _fit(self, X, r):
        self.components_, self.G_, losses = _masked_contrastive(
            X, r, self.p, self.rho, self.lr, self.n_steps, self.seed
        )
        self.history_ = {"loss": losses}
