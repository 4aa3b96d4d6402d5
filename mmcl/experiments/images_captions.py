"""Designs and scores on the emoji corpus (book chapter on images and captions).

* :func:`emoji_split`: held-out emoji, both modalities centred and scaled on the
  training rows (``mmcl.center_scale``), the same transform for new texts;
* :func:`retrieval_scores`: image -> caption and caption -> image retrieval, top-k;
* :func:`zero_shot_accuracy`: classify images by the nearest embedded class name, as
  CLIP does;
* :func:`class_prompts`, :func:`rank_images`: class names as captions, a text query's
  best images;
* :func:`plot_emoji_grid`: a grid of emoji with their captions.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import (
    check_int,
    check_labels,
    check_matrix,
    check_same_device,
    check_vector,
)
from ..sampling import make_generator
from ..metrics import retrieval_accuracy
from ..realdata.designs import center_scale

__all__ = [
    "EmojiSplit",
    "emoji_split",
    "retrieval_scores",
    "class_prompts",
    "zero_shot_accuracy",
    "rank_images",
    "plot_emoji_grid",
]


@dataclass
class EmojiSplit:
    """Training and held-out emoji: X, Y (n_train, d); X_test, Y_test (n_test, d), all
    centred and scaled on the training rows; ``train``, ``test`` index the corpus.

    Attributes
    ----------
    corpus : EmojiCorpus
        The corpus that was split.
    train : torch.Tensor
        Tensor of shape (n_train,), long: the training rows of the corpus.
    test : torch.Tensor
        Tensor of shape (n_test,), long: the held-out rows of the corpus.
    X : torch.Tensor
        Tensor of shape (n_train, d1): the training image features.
    Y : torch.Tensor
        Tensor of shape (n_train, d2): the training caption features.
    X_test : torch.Tensor
        Tensor of shape (n_test, d1): the held-out image features.
    Y_test : torch.Tensor
        Tensor of shape (n_test, d2): the held-out caption features.
    """

    corpus: object
    train: torch.Tensor
    test: torch.Tensor
    X: torch.Tensor
    Y: torch.Tensor
    X_test: torch.Tensor
    Y_test: torch.Tensor

    def encode_text(self, texts) -> torch.Tensor:
        """New texts in the caption features, with the training rows' centring and
        scale."""
        return center_scale(self.corpus.Y[self.train], self.corpus.encode_text(texts))[
            1
        ]


def emoji_split(corpus, n_test: int, *, seed=0) -> EmojiSplit:
    """Hold out ``n_test`` random emoji (a seeded permutation); centre and scale both
    modalities on the others.

    Parameters
    ----------
    corpus : EmojiCorpus
        The corpus (:func:`mmcl.realdata.emoji.load_emoji`): its n rows of features X
        (n, d1) and Y (n, d2) are split.
    n_test : int
        The number of held-out emoji, 1 <= n_test <= n - 2.
    seed : int or torch.Generator, default=0
        Seed of the random permutation.

    Returns
    -------
    EmojiSplit
        The training and held-out rows of both modalities, centred and scaled with
        ``mmcl.center_scale`` on the training rows, and their indices.
    """
    n = len(corpus)
    n_test = check_int(n_test, "n_test", low=1, high=n - 2)
    perm = torch.randperm(n, generator=make_generator(seed))
    test, train = perm[:n_test], perm[n_test:]
    X, X_test = center_scale(corpus.X[train], corpus.X[test])
    Y, Y_test = center_scale(corpus.Y[train], corpus.Y[test])
    return EmojiSplit(corpus, train, test, X, Y, X_test, Y_test)


def retrieval_scores(Zx, Zy, ks=(1, 5)) -> dict[str, torch.Tensor]:
    """Top-k retrieval both ways among m held-out pairs (cosine): keys
    ``"image->caption@k"`` and ``"caption->image@k"``; chance is k / m.

    Parameters
    ----------
    Zx : torch.Tensor
        Tensor of shape (..., m, r): the image embeddings.
    Zy : torch.Tensor
        Tensor of shape (..., m, r): the caption embeddings (row i pairs row i of Zx).
    ks : iterable of int, default=(1, 5)
        The k to score, each 1 <= k <= m.

    Returns
    -------
    dict
        ``"image->caption@k"`` and ``"caption->image@k"`` for every k in ``ks`` ->
        tensor of shape (...,): the accuracy (``mmcl.retrieval_accuracy``).
    """
    out = {}
    for name, (a, b) in (("image->caption", (Zx, Zy)), ("caption->image", (Zy, Zx))):
        for k in ks:
            out[f"{name}@{k}"] = retrieval_accuracy(a, b, k=k)
    return out


def class_prompts(names) -> list[str]:
    """Class names as captions: 'Smileys & Emotion' -> 'smileys and emotion',
    'animal-mammal' -> 'animal mammal'.

    Parameters
    ----------
    names : iterable of str
        The class names (group or subgroup names of the corpus).

    Returns
    -------
    list of str
        One prompt per name: '&' -> 'and', '-' -> ' ', lower case.
    """
    return [n.replace("&", "and").replace("-", " ").lower() for n in names]


def zero_shot_accuracy(Zx, labels, Zc) -> torch.Tensor:
    """Fraction of rows of Zx (..., m, r) whose most cosine-similar class embedding (row
    of Zc (..., C, r)) is their label (labels (m,) long). Ties count against the label,
    as in ``mmcl.retrieval_accuracy``: class names with the same features (a bag of
    words drops unknown words) cannot win by their order.

    Parameters
    ----------
    Zx : torch.Tensor
        Tensor of shape (..., m, r): the image embeddings.
    labels : torch.Tensor
        Tensor of shape (m,), integer: the class of each image, 0 <= label < C.
    Zc : torch.Tensor
        Tensor of shape (..., C, r): the embedded class names (row c for class c).

    Returns
    -------
    torch.Tensor
        Tensor of shape (...,): the accuracy, in the dtype of Zx.
    """
    Zx, Zc = check_matrix(Zx, "Zx"), check_matrix(Zc, "Zc")
    labels = check_labels(labels, "labels", Zx.shape[-2]).to(Zx.device)
    if int(labels.max()) >= Zc.shape[-2]:
        raise ValueError(f"labels must be below the number of classes {Zc.shape[-2]}")
    sim = F.normalize(Zx, dim=-1) @ F.normalize(Zc, dim=-1).transpose(
        -1, -2
    )  # (..., m, C)
    own = sim.gather(-1, labels.expand(*sim.shape[:-1]).unsqueeze(-1))  # (..., m, 1)
    tol = (
        8 * Zx.shape[-1] * torch.finfo(Zx.dtype).eps
    )  # rounding of an r-term dot product
    return ((sim >= own - tol).sum(-1) == 1).to(Zx.dtype).mean(-1)


def rank_images(G1, G2, X, q, k: int = 8) -> torch.Tensor:
    """Indices of the k rows of X (m, d1) whose embeddings G1 x are most cosine-similar
    to the embedded query G2 q (q of shape (d2,)), best first.

    Parameters
    ----------
    G1 : torch.Tensor
        Tensor of shape (r, d1): the image map.
    G2 : torch.Tensor
        Tensor of shape (r, d2): the caption map.
    X : torch.Tensor
        Tensor of shape (m, d1): the candidate images' features (no batch dimensions).
    q : torch.Tensor
        Tensor of shape (d2,) (any shape with d2 entries, flattened): the query's
        caption features, e.g. a row of ``EmojiSplit.encode_text``.
    k : int, default=8
        The number of images returned, 1 <= k <= m.

    Returns
    -------
    torch.Tensor
        Tensor of shape (k,), long: row indices of X, best first.
    """
    X = check_matrix(X, "X", batch=False)
    G1, G2 = check_matrix(G1, "G1", batch=False), check_matrix(G2, "G2", batch=False)
    check_same_device(X=X, G1=G1, G2=G2)
    if G1.shape[1] != X.shape[1] or G2.shape[0] != G1.shape[0]:
        raise ValueError(
            f"G1 must be (r, d1) with d1 = {X.shape[1]} the columns of X, and G2 "
            f"(r, d2) with the same r; got G1 {tuple(G1.shape)}, G2 {tuple(G2.shape)}"
        )
    if G1.dtype != X.dtype or G2.dtype != X.dtype:
        raise TypeError(
            f"G1, G2 and X must share one dtype, got {G1.dtype}, {G2.dtype}, {X.dtype}"
        )
    q = check_vector(
        q.reshape(-1) if isinstance(q, torch.Tensor) else q, "q", length=G2.shape[1]
    ).to(X)
    k = check_int(k, "k", low=1, high=X.shape[0])
    s = F.normalize(X @ G1.T, dim=1) @ F.normalize(G2 @ q, dim=0)
    return s.topk(k).indices


def plot_emoji_grid(
    images,
    titles=None,
    *,
    ncols: int = 8,
    width: float = 9.0,
    row_height=1.35,
    wrap: int = 14,
):
    """Images (k, s, s, 3) uint8 in a grid, each titled with its caption (wrapped).
    Returns the figure.

    Parameters
    ----------
    images : array_like
        Array of shape (k, s, s, 3), uint8: the pictures, in row-major grid order.
    titles : sequence of str, optional
        The k captions, one per picture; default: no titles.
    ncols : int, default=8
        The number of grid columns (>= 1); the rows are as many as needed.
    width : float, default=9.0
        The figure width in inches.
    row_height : float, default=1.35
        The height of one grid row in inches.
    wrap : int, default=14
        The most characters per line of a title (``textwrap.fill``).

    Returns
    -------
    matplotlib.figure.Figure
        The figure, axes off, empty cells left blank.
    """
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    k = images.shape[0]
    ncols = check_int(ncols, "ncols")
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width, row_height * nrows), squeeze=False
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < k:
            ax.imshow(images[i], interpolation="nearest")
            if titles is not None:
                ax.set_title(textwrap.fill(titles[i], wrap), fontsize=7)
    return fig
