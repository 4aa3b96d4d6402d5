"""The emoji of Debian's colour font, fully offline: where the files are, which emoji
are kept, and how they are drawn and cached (chapter 6).

* Images: Debian's ``fonts-noto-color-emoji`` ships ``NotoColorEmoji.ttf``, a colour
  bitmap font with one 136 x 128 picture per emoji; Pillow draws it (only at size 109,
  the bitmap's size) on a transparent canvas, which we put on white, pad to a square
  and shrink to ``size`` x ``size`` by box averaging.
* Names and labels: Debian's ``unicode-data`` ships Unicode's ``emoji-test.txt``,
  which lists every emoji with its CLDR short name ("grinning face", "red apple"),
  group ("Food & Drink") and subgroup ("food-fruit").

The kept emoji are every fully-qualified emoji that is a single code point (optionally
followed by the emoji presentation selector U+FE0F). Set aside: skin-tone variants
(they repeat a picture with another colour and the caption with a tone suffix), and
sequences of several code points (ZWJ families, flags, keycaps), which need a text
shaper to become one picture; Pillow's basic layout (the same on every machine) would
draw them as several pictures side by side.

Rendering runs in Pillow's fixed-point code (no BLAS, no torch), so the images are the
same bytes on every machine with the same font and Pillow; :func:`emoji_images`
caches them under a cache directory, keyed by a hash of the font file, the emoji list
and the rendering settings, and checks the stored arrays against their own hash. The
corpus with captions is :mod:`mmcl.realdata.emoji`.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .._validation import check_int
from ._cache import CACHE_ENV, save_atomically

__all__ = [
    "FONT_PACKAGE",
    "DATA_PACKAGE",
    "EmojiRecord",
    "emoji_font_path",
    "emoji_test_path",
    "read_emoji_test",
    "render_emoji",
    "render_emojis",
    "emoji_cache_dir",
    "emoji_images",
]

#: The Debian package that ships the colour emoji font ``NotoColorEmoji.ttf``.
FONT_PACKAGE = "fonts-noto-color-emoji"
#: The Debian package that ships Unicode's ``emoji-test.txt``.
DATA_PACKAGE = "unicode-data"
_FONT_FILE = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")
_TEST_FILE = Path("/usr/share/unicode/emoji/emoji-test.txt")
_FONT_SIZE = 109  # the one size of the bitmap strike
_CANVAS = (136, 128)  # width, height of one glyph at that size
_SKIN_TONES = range(0x1F3FB, 0x1F400)
_VS16 = 0xFE0F
_FORMAT = 1  # bump when the rendering or the cache layout changes


def _install_hint(package: str) -> str:
    return (
        f"install Debian's {package} package: `apt-get install {package}` "
        "(make does this)"
    )


def emoji_font_path(path=None) -> Path:
    """The colour emoji font: ``path`` if given, else Debian's
    ``NotoColorEmoji.ttf``.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A copy of ``NotoColorEmoji.ttf``; default: Debian's, in
        /usr/share/fonts/truetype/noto/.

    Returns
    -------
    pathlib.Path
        The font file.

    Raises
    ------
    FileNotFoundError
        The file does not exist (the message names the Debian package).
    """
    p = _FONT_FILE if path is None else Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"emoji font not found: {p}; {_install_hint(FONT_PACKAGE)}, "
            "or pass font_path= a copy of NotoColorEmoji.ttf"
        )
    return p


def emoji_test_path(path=None) -> Path:
    """Unicode's ``emoji-test.txt``: ``path`` if given, else the copy in Debian's
    unicode-data.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A copy of Unicode's ``emoji-test.txt``; default: Debian's, in
        /usr/share/unicode/emoji/.

    Returns
    -------
    pathlib.Path
        The emoji list.

    Raises
    ------
    FileNotFoundError
        The file does not exist (the message names the Debian package).
    """
    p = _TEST_FILE if path is None else Path(path)
    if not p.is_file():
        raise FileNotFoundError(
            f"emoji list not found: {p}; {_install_hint(DATA_PACKAGE)}, "
            "or pass emoji_test= a copy of Unicode's emoji-test.txt"
        )
    return p


@dataclass(frozen=True)
class EmojiRecord:
    """One emoji: its characters, CLDR short name, group and subgroup.

    Attributes
    ----------
    chars : str
        The emoji's characters (one code point, optionally followed by U+FE0F).
    name : str
        Its CLDR short name ("grinning face").
    group : str
        Its group ("Smileys & Emotion").
    subgroup : str
        Its subgroup ("face-smiling").
    """

    chars: str
    name: str
    group: str
    subgroup: str


def _parse_line(line: str):
    """(code points, status, name) of one data line of emoji-test.txt, or None for a
    comment."""
    if not line.strip() or line.startswith("#"):
        return None
    try:
        points, rest = line.split(";", 1)
        status, comment = rest.split("#", 1)
        codes = [int(c, 16) for c in points.split()]
        name = comment.split(None, 2)[2].strip()  # '<emoji> E<version> <name>'
    except (ValueError, IndexError) as err:
        raise ValueError(f"not an emoji-test.txt data line: {line.strip()!r}") from err
    return codes, status.strip(), name


def read_emoji_test(path=None) -> tuple[list[EmojiRecord], dict[str, int]]:
    """The corpus's emoji, in the file's (CLDR) order, and how many were set aside.

    Parameters
    ----------
    path : str or os.PathLike, optional
        The emoji list (see :func:`emoji_test_path`); default: Debian's copy.

    Returns
    -------
    records : list of EmojiRecord
        The fully-qualified emoji that are a single code point (optionally followed by
        U+FE0F), in the file's order.
    skipped : dict
        ``{"skin tone": k1, "sequence": k2}``: how many fully-qualified emoji were set
        aside for a skin-tone modifier, and for being another multi-code-point
        sequence.

    Raises
    ------
    ValueError
        The file is not UTF-8, has a malformed data line or an emoji before any group
        line, or holds no single emoji.
    """
    p = emoji_test_path(path)
    records, skipped = [], {"skin tone": 0, "sequence": 0}
    group = subgroup = None
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"corrupt emoji list {p}: not UTF-8 text") from err
    for line in lines:
        if line.startswith("# group:"):
            group = line.split(":", 1)[1].strip()
        elif line.startswith("# subgroup:"):
            subgroup = line.split(":", 1)[1].strip()
        parsed = _parse_line(line)
        if parsed is None or parsed[1] != "fully-qualified":
            continue
        codes, _, name = parsed
        if any(c in _SKIN_TONES for c in codes):
            skipped["skin tone"] += 1
        elif len([c for c in codes if c != _VS16]) != 1:
            skipped["sequence"] += 1
        elif group is None or subgroup is None:
            raise ValueError(
                f"corrupt emoji list {p}: an emoji before any group/subgroup line"
            )
        else:
            records.append(EmojiRecord("".join(map(chr, codes)), name, group, subgroup))
    if not records:
        raise ValueError(
            f"corrupt emoji list {p}: no fully-qualified single emoji found"
        )
    return records, skipped


@lru_cache(maxsize=4)
def _font(path: str):
    from PIL import ImageFont

    try:
        return ImageFont.truetype(
            path, _FONT_SIZE, layout_engine=ImageFont.Layout.BASIC
        )
    except OSError as err:
        raise ValueError(
            f"cannot read the emoji font {path} as a {_FONT_SIZE}-pixel bitmap font "
            f"({err}); {_install_hint(FONT_PACKAGE)}"
        ) from err


def render_emoji(chars: str, *, size: int = 32, font_path=None) -> np.ndarray:
    """One emoji on white, shape (size, size, 3) uint8: drawn at 136 x 128, padded to
    136 x 136, shrunk by box averaging.

    Parameters
    ----------
    chars : str
        The emoji, a non-empty string (U+FE0F is dropped before drawing).
    size : int, default=32
        The side of the square image in pixels, 4 <= size <= 136.
    font_path : str or os.PathLike, optional
        The colour emoji font (see :func:`emoji_font_path`); default: Debian's.

    Returns
    -------
    numpy.ndarray
        Array of shape (size, size, 3), dtype uint8: the RGB picture.
    """
    from PIL import Image, ImageDraw

    if not isinstance(chars, str) or not chars:
        raise TypeError(f"chars must be a non-empty string, got {chars!r}")
    size = check_int(size, "size", low=4, high=_CANVAS[0])
    font = _font(str(emoji_font_path(font_path)))
    glyph = Image.new("RGBA", _CANVAS, (255, 255, 255, 0))
    # U+FE0F only asks for the emoji picture; the basic layout would draw it as a
    # second glyph
    ImageDraw.Draw(glyph).text(
        (0, 0), chars.replace(chr(_VS16), ""), font=font, embedded_color=True
    )
    square = Image.new("RGBA", (_CANVAS[0], _CANVAS[0]), (255, 255, 255, 255))
    square.alpha_composite(glyph, ((0, (_CANVAS[0] - _CANVAS[1]) // 2)))
    small = square.convert("RGB").resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.uint8)


def render_emojis(chars, *, size: int = 32, font_path=None) -> np.ndarray:
    """Several emoji: (n, size, size, 3) uint8.

    Parameters
    ----------
    chars : iterable of str
        The n emoji, each a non-empty string (see :func:`render_emoji`).
    size : int, default=32
        The side of the square images in pixels, 4 <= size <= 136.
    font_path : str or os.PathLike, optional
        The colour emoji font (see :func:`emoji_font_path`); default: Debian's.

    Returns
    -------
    numpy.ndarray
        Array of shape (n, size, size, 3), dtype uint8, in the order of ``chars``.
    """
    return np.stack([render_emoji(c, size=size, font_path=font_path) for c in chars])


def emoji_cache_dir(cache_dir=None) -> Path:
    """Where rendered images are cached: ``cache_dir``, else $MMCL_CACHE_DIR, else
    $XDG_CACHE_HOME/mmcl, else ~/.cache/mmcl.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        The cache directory, returned as is when given (it need not exist yet).

    Returns
    -------
    pathlib.Path
        The cache directory (not created here).
    """
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmcl"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def emoji_images(
    records, *, size: int = 32, font_path=None, cache_dir=None
) -> tuple[np.ndarray, str]:
    """The rendered pictures of ``records`` and their sha256, from the cache when it
    holds them intact (else rendered and cached, written atomically).

    Parameters
    ----------
    records : sequence of EmojiRecord
        The emoji to draw, e.g. the first value of :func:`read_emoji_test`.
    size : int, default=32
        The side of the square images in pixels, 4 <= size <= 136.
    font_path : str or os.PathLike, optional
        The colour emoji font (see :func:`emoji_font_path`); default: Debian's.
    cache_dir : str or os.PathLike, optional
        The cache directory (see :func:`emoji_cache_dir`).

    Returns
    -------
    tuple
        The images, an array of shape (n, size, size, 3), dtype uint8, and the sha256
        of their bytes (hex).
    """
    from PIL import __version__ as pillow_version

    size = check_int(size, "size", low=4, high=_CANVAS[0])
    font = emoji_font_path(font_path)
    records = list(records)
    if not records or not all(isinstance(r, EmojiRecord) for r in records):
        raise TypeError("records must be a non-empty sequence of EmojiRecord")

    key = _sha256(
        "\n".join(
            [
                f"format {_FORMAT}",
                f"size {size}",
                f"pillow {pillow_version}",
                _sha256(font.read_bytes()),
                *(r.chars for r in records),
            ]
        ).encode()
    )
    path = emoji_cache_dir(cache_dir) / f"emoji-{key[:24]}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                images, digest = f["images"], str(f["digest"])
            if (
                images.shape == (len(records), size, size, 3)
                and _sha256(images.tobytes()) == digest
            ):
                return images, digest
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # unreadable or stale: render again
    images = render_emojis([r.chars for r in records], size=size, font_path=font)
    digest = _sha256(images.tobytes())
    save_atomically(
        path,
        lambda tmp: np.savez_compressed(tmp, images=images, digest=np.array(digest)),
    )
    return images, digest
