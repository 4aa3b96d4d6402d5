"""Real images with real captions, fully offline: the emoji corpus (chapter 6).

Each kept emoji of :mod:`mmcl.realdata.emoji_render` is one pair: its picture (pixels,
or their principal scores) and its CLDR short name as the caption, featurised by
scikit-learn's vectorisers (a bag of words or character n-grams), with the Unicode
group and subgroup as labels. :func:`load_emoji` builds it; the rendered images and
the PCA are cached, so a second load is cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch


from .._validation import check_int
from ._cache import save_atomically
from .emoji_render import emoji_cache_dir, emoji_images, read_emoji_test

__all__ = [
    "TEXT_FEATURES",
    "EmojiCorpus",
    "caption_vectorizer",
    "emoji_image_features",
    "load_emoji",
]

#: The caption featurisers, name -> scikit-learn vectoriser settings (binary counts).
TEXT_FEATURES = {
    "words": dict(analyzer="word", token_pattern=r"(?u)\b\w+\b", min_df=2),
    "chars": dict(analyzer="char_wb", ngram_range=(2, 4), min_df=2),
}


def caption_vectorizer(captions, text: str = "words"):
    """A scikit-learn CountVectorizer (binary counts) fitted on ``captions``.

    Parameters
    ----------
    captions : iterable of str
        The texts that fix the vocabulary (lower-cased).
    text : {"words", "chars"}, default="words"
        The featuriser, a key of ``TEXT_FEATURES``: words, or character 2- to 4-grams
        within word boundaries; either kept only when seen in at least two captions.

    Returns
    -------
    sklearn.feature_extraction.text.CountVectorizer
        The fitted vectoriser.
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if text not in TEXT_FEATURES:
        raise ValueError(f"text must be one of {sorted(TEXT_FEATURES)}, got {text!r}")
    return CountVectorizer(binary=True, lowercase=True, **TEXT_FEATURES[text]).fit(
        list(captions)
    )


@dataclass
class EmojiCorpus:
    """Emoji images with their captions.

    Attributes
    ----------
    X : torch.Tensor
        Tensor of shape (n, d1): image features (pixels in [0, 1], or their PCA
        scores).
    Y : torch.Tensor
        Tensor of shape (n, d2): caption features (binary bag of words or character
        n-grams).
    images : numpy.ndarray
        Array of shape (n, size, size, 3), uint8: the pictures, for display.
    chars : list of str
        The n emoji.
    captions : list of str
        Their CLDR short names.
    groups : torch.Tensor
        Tensor of shape (n,), long: label indices into ``group_names``.
    subgroups : torch.Tensor
        Tensor of shape (n,), long: label indices into ``subgroup_names``.
    group_names : list of str
        The groups, in order of first appearance.
    subgroup_names : list of str
        The subgroups, in order of first appearance.
    digest : str
        The sha256 of ``images`` (the same on every machine).
    text : str
        The caption featuriser (a key of ``TEXT_FEATURES``).
    skipped : dict
        How many emoji were set aside: ``{"skin tone": k1, "sequence": k2}``.
    """

    X: torch.Tensor
    Y: torch.Tensor
    images: np.ndarray
    chars: list
    captions: list
    groups: torch.Tensor
    subgroups: torch.Tensor
    group_names: list
    subgroup_names: list
    digest: str
    text: str = "words"
    skipped: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def vocabulary(self) -> list:
        """The caption features' names (words or character n-grams), in column order."""
        return (
            caption_vectorizer(self.captions, self.text)
            .get_feature_names_out()
            .tolist()
        )

    def encode_text(self, texts) -> torch.Tensor:
        """New texts (queries, class names) in the caption features' columns, (m, d2);
        words that no caption contains are dropped."""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be a list of strings")
        counts = caption_vectorizer(self.captions, self.text).transform(list(texts))
        return torch.from_numpy(counts.toarray()).to(self.Y.dtype)


def _pca_scores(P: torch.Tensor, k: int) -> torch.Tensor:
    """Top-k principal scores of the rows of P (n, p), float64, from the n x n Gram
    matrix (n < p): P_c P_c^T = U diag(s^2) U^T gives the scores U diag(s) and the axes
    V = P_c^T U diag(1/s), whose signs follow the package's convention
    (:func:`mmcl.lowrank.svd_flip`)."""
    from ..lowrank import svd_flip

    Pc = P - P.mean(0)
    evals, U = torch.linalg.eigh(Pc @ Pc.T)  # ascending
    U, s = U[:, -k:].flip(-1), evals[-k:].flip(-1).clamp_min(0).sqrt()
    V = Pc.T @ U / s.clamp_min(1e-300)  # (p, k) principal axes
    V, U = svd_flip(V, U)
    return U * s


def emoji_image_features(
    images, n_components=None, *, digest: str, cache_dir=None, dtype=torch.float64
) -> torch.Tensor:
    """Image features: pixels in [0, 1], (n, size * size * 3); with ``n_components``
    their top principal scores (a PCA fitted on all the images; cached beside them,
    keyed by the images' hash).

    Parameters
    ----------
    images : numpy.ndarray
        Array of shape (n, size, size, 3), dtype uint8, from ``mmcl.emoji_images``.
    n_components : int, optional
        The number of principal scores kept, 1 <= n_components < min(n, size * size *
        3); default: the pixels themselves.
    digest : str
        The sha256 of the images (second value of ``mmcl.emoji_images``): the cache
        key.
    cache_dir : str or os.PathLike, optional
        The cache directory (see ``mmcl.emoji_cache_dir``).
    dtype : torch.dtype, default=torch.float64
        The dtype of the features.

    Returns
    -------
    torch.Tensor
        Tensor of shape (n, size * size * 3), or (n, n_components) with a PCA.
    """
    if not (
        isinstance(images, np.ndarray)
        and images.dtype == np.uint8
        and images.ndim == 4
        and images.shape[-1] == 3
    ):
        raise TypeError("images must be a uint8 array of shape (n, size, size, 3)")
    if not isinstance(digest, str) or not digest:
        raise TypeError(f"digest must be the images' sha256 (a str), got {digest!r}")
    P = torch.from_numpy(images.reshape(images.shape[0], -1)).to(torch.float64) / 255
    if n_components is None:
        return P.to(dtype)
    k = check_int(n_components, "image_pca", low=1, high=min(P.shape) - 1)
    path = emoji_cache_dir(cache_dir) / f"emoji-pca{k}-{digest[:24]}.npy"
    try:
        Z = np.load(path)
        if Z.shape != (P.shape[0], k) or not np.isfinite(Z).all():
            raise ValueError("stale cache")
    except (OSError, ValueError, EOFError):
        Z = _pca_scores(P, k).numpy()
        save_atomically(path, lambda tmp: np.save(tmp, Z))
    return torch.from_numpy(Z).to(dtype)


def load_emoji(
    *,
    size: int = 32,
    image_pca: int | None = None,
    text: str = "words",
    cache_dir=None,
    font_path=None,
    emoji_test=None,
    dtype=torch.float64,
) -> EmojiCorpus:
    """The emoji corpus: rendered images, caption features and labels.

    Parameters
    ----------
    size : int, default=32
        The side of the square images in pixels, 4 <= size <= 136.
    image_pca : int, optional
        Keep this many principal components of the pixels, 1 <= image_pca < min(n,
        size * size * 3) (a fixed PCA fitted on every image of the corpus; it sees no
        caption and no label; cached). Default: the pixels themselves, in [0, 1].
    text : {"words", "chars"}, default="words"
        Binary bag of words, or binary character 2- to 4-grams (n-grams within word
        boundaries); either kept only when seen in at least two captions.
    cache_dir : str or os.PathLike, optional
        Where rendered images are cached (default ``mmcl.emoji_cache_dir()``:
        $MMCL_CACHE_DIR, else the user cache directory).
    font_path : str or os.PathLike, optional
        The colour emoji font (see ``mmcl.emoji_font_path``); default: Debian's.
    emoji_test : str or os.PathLike, optional
        Unicode's ``emoji-test.txt`` (see ``mmcl.emoji_test_path``); default:
        Debian's.
    dtype : torch.dtype, default=torch.float64
        The dtype of the features X and Y: torch.float32 or torch.float64.

    Returns
    -------
    EmojiCorpus
        Image features X (n, d1), caption features Y (n, d2), the pictures, captions,
        group and subgroup labels, the images' sha256 and the set-aside counts.

    Raises
    ------
    FileNotFoundError
        The font or the emoji list is missing (the message names the Debian package).
    """
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if text not in TEXT_FEATURES:
        raise ValueError(f"text must be one of {sorted(TEXT_FEATURES)}, got {text!r}")
    records, skipped = read_emoji_test(emoji_test)
    images, digest = emoji_images(
        records, size=size, font_path=font_path, cache_dir=cache_dir
    )
    captions = [r.name for r in records]
    vec = caption_vectorizer(captions, text)
    Y = torch.from_numpy(vec.transform(captions).toarray()).to(dtype)
    group_names = list(dict.fromkeys(r.group for r in records))
    subgroup_names = list(dict.fromkeys(r.subgroup for r in records))
    groups = torch.tensor([group_names.index(r.group) for r in records])
    subgroups = torch.tensor([subgroup_names.index(r.subgroup) for r in records])
    X = emoji_image_features(
        images, image_pca, digest=digest, cache_dir=cache_dir, dtype=dtype
    )
    return EmojiCorpus(
        X,
        Y,
        images,
        [r.chars for r in records],
        captions,
        groups,
        subgroups,
        group_names,
        subgroup_names,
        digest,
        text,
        skipped,
    )
