"""Unimodal baselines: estimate span U1 from modality 1 alone (chapter 3).

All of them are spectral methods on the centred sample covariance Sigma_hat of X
(..., n, d):

* ``pca``: top-r eigenvectors of Sigma_hat (biased by heteroskedastic noise);
* ``diagonal_deletion``: top-r eigenvectors of Delta(Sigma_hat) = Sigma_hat -
  Diag(Sigma_hat), the target of unimodal contrastive learning with random masking (Ji
  et al., JMLR 2023; trained as such in :mod:`mmcl.masking`);
* ``hetero_pca``: HeteroPCA (Zhang, Cai & Wu, Ann. Statist. 2022), which refills the
  deleted diagonal iteratively, N_{t+1} = offdiag(Sigma_hat) + diag([N_t]_r).

Functions return orthonormal bases (..., d, r) under the package sign convention
:func:`mmcl.lowrank.svd_flip`; the estimator classes (``fit(X)`` returns ``self``,
``components_`` of shape (d, r)) wrap them in the scikit-learn style, on the base
:class:`UnimodalEstimator`. Replicates are batched in leading dimensions.
"""

from __future__ import annotations

import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import (
    check_int,
    check_matrix,
    check_rank,
    check_real,
    check_subspace_data,
    tiny,
)
from .covariance import centered_cross_covariance
from .estimator import NotFittedError
from .lowrank import low_rank, svd_flip, truncated_svd

__all__ = [
    "sample_covariance",
    "delete_diagonal",
    "top_eigenvectors",
    "pca",
    "diagonal_deletion",
    "hetero_pca",
    "UnimodalEstimator",
    "PCA",
    "DiagonalDeletion",
    "HeteroPCA",
]


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
    X, r = check_subspace_data(X, r)
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
    X, r = check_subspace_data(X, r)
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
    X, r = check_subspace_data(X, r)
    return _hetero_pca(sample_covariance(X), r, tol, max_iter)[0]


class UnimodalEstimator(TransformerMixin, BaseEstimator):
    """The base of the unimodal estimators: ``fit(X)`` checks X, stores ``mean_`` and
    calls ``self._fit(X, r)``, which sets ``components_`` (d, r); ``transform``
    projects centred data on them. A subclass defines ``_fit``.

    Parameters
    ----------
    n_components : int, default=2
        The dimension r of the subspace.

    scikit-learn citizens: ``clone``, ``get_params`` / ``set_params``, ``repr``,
    ``Pipeline`` (``fit(X, y=None)`` ignores y). Fitted attributes are tensors: save
    them with ``torch.save`` and load with ``torch.load(path, weights_only=True)``, or
    pickle the estimator.
    """

    def __init__(self, n_components: int = 2):
        self.n_components = n_components

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "components_")

    def fit(self, X, y=None) -> "UnimodalEstimator":
        """Fit on X (n, d) (replicates may be batched in front); ``y`` is ignored;
        returns ``self``. Inputs that require grad are detached."""
        X, r = check_subspace_data(X, self.n_components, "n_components")
        X = X.detach()
        self.n_features_in_ = X.shape[-1]
        self.mean_ = X.mean(-2)
        self._fit(X, r)
        return self

    def transform(self, X) -> torch.Tensor:
        """Project centred data: ``(X - mean_) @ components_``, shape (..., m, r)."""
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


class PCA(UnimodalEstimator):
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
    DiagonalDeletion, HeteroPCA, mmcl.masking.MaskedContrastive,
    sklearn.decomposition.PCA
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


class DiagonalDeletion(UnimodalEstimator):
    """Top-r eigenvectors of the diagonal-deleted covariance Delta(Sigma_hat): what
    unimodal contrastive learning with random masking learns. Attributes as
    :class:`PCA`."""

    def _fit(self, X, r):
        self.components_, self.eigenvalues_ = top_eigenvectors(
            delete_diagonal(sample_covariance(X)), r
        )


class HeteroPCA(UnimodalEstimator):
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
