"""A scikit-learn estimator: ``MMCL(n_components).fit(X, Y).transform(X, Y)``.

Feels like scikit-learn's PLSSVD / CCA: ``__init__`` stores arguments, ``fit``
validates every one of them (also those the chosen mode ignores) and returns ``self``,
learned attributes end in ``_``, ``transform`` before ``fit`` raises. With
``loss="linear"`` the fitted subspaces are exactly PLSSVD(scale=False)'s. It is a
scikit-learn citizen: ``clone``, ``get_params`` / ``set_params``, ``repr``, ``score``
(so ``GridSearchCV`` can tune ``tau`` and ``n_components``) and ``Pipeline``.

Saving a fitted estimator: ``pickle`` works (any loss family), or save only its
tensors::

    torch.save({"G1_": est.G1_, "G2_": est.G2_}, "mmcl.pt")
    state = torch.load("mmcl.pt", weights_only=True)  # tensors only: safe to load
    est2 = MMCL(n_components=est.n_components).set_fitted(**state)
"""

from __future__ import annotations

import inspect

import torch
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import (
    as_tensor,
    check_choice,
    check_int,
    check_matrix,
    check_rank,
    check_real,
    check_rho,
    check_same_device,
    check_tau,
)
from .families import ContrastiveFamily, get_family
from .metrics import retrieval_accuracy
from .gradient import gradient_descent
from .solvers import linear_closed_form, svd_iteration

__all__ = ["MMCL", "NotFittedError"]


# scikit-learn's own NotFittedError (a ValueError and AttributeError): its tools see it
try:
    from sklearn.exceptions import NotFittedError as _SkNotFitted
except ImportError:  # pragma: no cover
    _SkNotFitted = ValueError


class NotFittedError(RuntimeError, _SkNotFitted):
    """Raised when transform is called before fit."""


#: keyword arguments each solver accepts through ``solver_options`` (the rest MMCL
#: passes itself)
_SOLVER_KEYS = {
    "svd": set(inspect.signature(svd_iteration).parameters)
    - {"X", "Y", "r", "loss", "tau", "rho", "tol", "max_iter"},
    "gd": set(inspect.signature(gradient_descent).parameters)
    - {"X", "Y", "r", "loss", "tau", "rho", "n_steps", "tol"},
}


def _check_options(options, solver: str, closed_form: bool) -> dict:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(
            f"solver_options must be a dict or None, got {type(options).__name__}"
        )
    if closed_form and options:
        raise ValueError(
            f"solver_options {sorted(options)} would be ignored: loss='linear' with "
            f"solver={solver!r} is the closed form; pass solver='gd' or leave it empty"
        )
    key = "gd" if solver == "gd" else "svd"
    unknown = sorted(set(options) - _SOLVER_KEYS[key])
    if unknown:
        raise ValueError(
            f"solver_options has unknown keys {unknown} for solver={solver!r}; "
            f"allowed: {sorted(_SOLVER_KEYS[key])}"
        )
    return dict(options)


class MMCL(TransformerMixin, BaseEstimator):
    """Multimodal contrastive learning with linear representations.

    Every argument is checked by ``fit``, also the ones the chosen mode ignores
    (``tau`` and ``max_iter`` with the linear closed form).

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
        More keyword arguments for the solver (``damping``, ``block_size``, ... for
        "svd"; ``lr``, ``optimizer``, ... for "gd"); an error with the closed form.

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

        Inputs that require grad are detached: the fitted tensors carry no autograd
        graph.

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
        X = check_matrix(X, "X", min_rows=2).detach()
        Y = check_matrix(Y, "Y", min_rows=2).detach()
        check_same_device(X=X, Y=Y)
        if X.shape[:-1] != Y.shape[:-1]:
            raise ValueError(
                "X and Y must have the same leading shape (..., n): got X "
                f"{tuple(X.shape)} "
                f"and Y {tuple(Y.shape)}"
            )
        r = check_rank(
            self.n_components,
            X.shape[-1],
            Y.shape[-1],
            X.shape[-2],
            name="n_components",
        )
        tau, rho = check_tau(self.tau), check_rho(self.rho)
        if not (isinstance(self.loss, ContrastiveFamily) or isinstance(self.loss, str)):
            raise TypeError(
                "loss must be 'clip', 'linear', 'siglip' or a ContrastiveFamily, got "
                f"{self.loss!r}"
            )
        family = get_family(self.loss, tau)
        check_choice(self.solver, "solver", ("auto", "svd", "gd"))
        check_int(self.max_iter, "max_iter", low=1)
        check_real(self.tol, "tol", low=0.0, low_open=True)
        closed_form = self.solver != "gd" and family.name == "linear"
        opts = _check_options(self.solver_options, self.solver, closed_form)
        for name, T in (("X", X), ("Y", Y)):
            if bool((T.var(-2) == 0).all()):
                raise ValueError(
                    f"{name} has zero variance (every column constant): nothing to "
                    "learn"
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
        self.n_features_in_ = X.shape[-1]
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

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "G1_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # fit needs the second modality Y
        tags.input_tags.allow_nan = False
        return tags

    def set_fitted(self, *, G1_, G2_) -> "MMCL":
        """Restore a fitted estimator from its maps (e.g. loaded with
        ``torch.load(path, weights_only=True)``); recomputes the orthonormal bases."""
        G1 = check_matrix(G1_, "G1_")
        G2 = check_matrix(G2_, "G2_")
        check_same_device(G1_=G1, G2_=G2)
        if G1.shape[:-1] != G2.shape[:-1]:
            raise ValueError(
                f"G1_ (r, d1) and G2_ (r, d2) must have the same number of rows, got "
                f"{tuple(G1.shape)} and {tuple(G2.shape)}"
            )
        from .lowrank import truncated_svd

        self.G1_, self.G2_ = G1, G2
        self.x_weights_, self.singular_values_, self.y_weights_ = truncated_svd(
            G1.transpose(-1, -2) @ G2, G1.shape[-2]
        )
        self.singular_values_ = self.singular_values_ * check_rho(self.rho)
        return self

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

    def transform(self, X, Y=None):
        """Embed both modalities: the pair (Zx, Zy); with Y omitted (as in a
        scikit-learn ``Pipeline``), Zx alone."""
        if Y is None:
            return self.transform_x(X)
        return self.transform_x(X), self.transform_y(Y)

    def fit_transform(self, X, Y) -> tuple[torch.Tensor, torch.Tensor]:
        """``fit(X, Y)`` then ``transform(X, Y)``."""
        return self.fit(X, Y).transform(X, Y)

    def score(self, X, Y) -> float:
        """Top-1 retrieval accuracy on the given pairs: the fraction of rows i of X
        whose embedding's most cosine-similar embedded row of Y is row i
        (:func:`mmcl.metrics.retrieval_accuracy`; the mean over replicates when
        batched). Higher is better, so ``GridSearchCV`` can tune ``tau`` and
        ``n_components`` with it; chance level is 1/m for m pairs."""
        if Y is None:
            raise TypeError(
                "score(X, Y) needs Y, the second modality of the pairs to retrieve"
            )
        Zx, Zy = self.transform(X, Y)
        if Zx.shape[:-1] != Zy.shape[:-1]:
            raise ValueError(
                "X and Y must hold the same number of pairs, got X "
                f"{tuple(Zx.shape[:-1])} "
                f"rows and Y {tuple(Zy.shape[:-1])}"
            )
        return float(retrieval_accuracy(Zx, Zy).mean())
