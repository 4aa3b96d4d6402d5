"""A scikit-learn-style estimator: ``MMCL(n_components).fit(X, Y).transform(X, Y)``.

Feels like scikit-learn's PLSSVD / CCA: ``__init__`` stores arguments, ``fit`` validates
and returns ``self``, learned attributes end in ``_``, ``transform`` before ``fit``
raises. With ``loss="linear"`` the fitted subspaces are exactly PLSSVD(scale=False)'s.
"""

from __future__ import annotations

import torch

from ._validation import (
    as_tensor,
    check_matrix,
    check_rank,
    check_rho,
    check_same_device,
    check_tau,
)
from .families import get_family
from .solvers import gradient_descent, linear_closed_form, svd_iteration

__all__ = ["MMCL", "NotFittedError"]


class NotFittedError(RuntimeError):
    """Raised when transform is called before fit."""


class MMCL:
    """Multimodal contrastive learning with linear representations.

    Parameters
    ----------
    n_components : int, default=2
        The representation dimension r.
    loss : {"linear", "clip"} or ContrastiveFamily, default="linear"
        The loss.
    tau : float, default=1.0
        The CLIP temperature (> 0).
    rho : float, default=1.0
        The regularisation strength (> 0); it scales G but not the subspaces for the
        linear loss.
    solver : {"auto", "svd", "gd"}, default="auto"
        The closed form for the linear loss and the SVD-iteration otherwise ("auto",
        "svd"), or gradient descent ("gd").
    max_iter : int, default=500
        The most iterations (steps for "gd").
    tol : float, default=1e-8
        The tolerance on the relative change of G1^T G2.
    solver_options : dict, optional
        More keyword arguments for the solver.

    Attributes
    ----------
    G1_ : torch.Tensor
        Tensor of shape (r, d1): the learned map of modality 1.
    G2_ : torch.Tensor
        Tensor of shape (r, d2): the learned map of modality 2.
    x_weights_ : torch.Tensor
        Tensor of shape (d1, r): an orthonormal basis of the row space of ``G1_``.
    y_weights_ : torch.Tensor
        Tensor of shape (d2, r): an orthonormal basis of the row space of ``G2_``.
    singular_values_ : torch.Tensor
        Tensor of shape (r,).
    n_iter_ : int
        The iterations the solver ran.
    converged_ : bool
        Whether it met the tolerance.
    history_ : dict
        The solver's history (loss per iteration).

    See Also
    --------
    sklearn.cross_decomposition.PLSSVD, sklearn.cross_decomposition.CCA

    Examples
    --------
    >>> import mmcl
    >>> data = mmcl.make_multimodal(500, 20, 15, 3, seed=0)
    >>> zx, zy = mmcl.MMCL(n_components=3).fit(data.X, data.Y).transform(data.X, data.Y)
    >>> tuple(zx.shape), tuple(zy.shape)
    ((500, 3), (500, 3))
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        loss="linear",
        tau: float = 1.0,
        rho: float = 1.0,
        solver: str = "auto",
        max_iter: int = 500,
        tol: float = 1e-8,
        solver_options=None,
    ):
        self.n_components = n_components
        self.loss = loss
        self.tau = tau
        self.rho = rho
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.solver_options = solver_options

    def fit(self, X, Y) -> "MMCL":
        """Fit on paired data.

        Parameters
        ----------
        X : torch.Tensor
            Tensor of shape (..., n, d1) (replicates may be batched in front).
        Y : torch.Tensor
            Tensor of shape (..., n, d2).

        Returns
        -------
        MMCL
            The fitted estimator (``self``).
        """
        X = check_matrix(X, "X", min_rows=2)
        Y = check_matrix(Y, "Y", min_rows=2)
        r = check_rank(self.n_components, X.shape[-1], Y.shape[-1], X.shape[-2])
        tau, rho = check_tau(self.tau), check_rho(self.rho)
        family = get_family(self.loss, tau)
        opts = dict(self.solver_options or {})
        if self.solver not in ("auto", "svd", "gd"):
            raise ValueError(
                f"solver must be 'auto', 'svd' or 'gd', got {self.solver!r}"
            )
        if self.solver == "gd":
            res = gradient_descent(
                X,
                Y,
                r,
                family,
                tau=tau,
                rho=rho,
                n_steps=self.max_iter,
                tol=self.tol,
                **opts,
            )
        elif family.name == "linear":
            res = linear_closed_form(X, Y, r, rho=rho)
        else:
            res = svd_iteration(
                X,
                Y,
                r,
                family,
                tau=tau,
                rho=rho,
                tol=self.tol,
                max_iter=self.max_iter,
                **opts,
            )
        self.G1_, self.G2_ = res.G1, res.G2
        self.x_weights_, self.y_weights_ = res.U, res.V
        self.singular_values_ = res.singular_values
        self.n_iter_, self.converged_, self.history_ = (
            res.n_iter,
            res.converged,
            res.history,
        )
        return self

    def _check_fitted(self):
        if not hasattr(self, "G1_"):
            raise NotFittedError(
                "this MMCL instance is not fitted yet: call fit(X, Y) first"
            )

    def transform_x(self, X) -> torch.Tensor:
        """Embed modality 1: X (..., m, d1) -> X G1^T, shape (..., m, r)."""
        self._check_fitted()
        X = check_matrix(as_tensor(X, "X"), "X")
        check_same_device(X=X, G1_=self.G1_)
        if X.shape[-1] != self.G1_.shape[-1]:
            raise ValueError(
                f"X has {X.shape[-1]} features but the model was fitted with d1 = "
                f"{self.G1_.shape[-1]}"
            )
        return X @ self.G1_.transpose(-1, -2)

    def transform_y(self, Y) -> torch.Tensor:
        """Embed modality 2: Y (..., m, d2) -> Y G2^T, shape (..., m, r)."""
        self._check_fitted()
        Y = check_matrix(as_tensor(Y, "Y"), "Y")
        check_same_device(Y=Y, G2_=self.G2_)
        if Y.shape[-1] != self.G2_.shape[-1]:
            raise ValueError(
                f"Y has {Y.shape[-1]} features but the model was fitted with d2 = "
                f"{self.G2_.shape[-1]}"
            )
        return Y @ self.G2_.transpose(-1, -2)

    def transform(self, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed both modalities; always returns the pair (Zx, Zy)."""
        return self.transform_x(X), self.transform_y(Y)

    def fit_transform(self, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
        """``fit(X, Y)`` then ``transform(X, Y)``."""
        return self.fit(X, Y).transform(X, Y)
