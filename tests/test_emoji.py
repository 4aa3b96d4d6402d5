"""mmcl.realdata.emoji: the offline emoji corpus (shapes, pinned hash, cache, clear
errors, the same images under portable CPU kernels) and the numbers the
images-and-captions chapter states.

The corpus needs Debian's fonts-noto-color-emoji and unicode-data (``make`` installs
both)."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import mmcl
from mmcl.realdata import emoji, emoji_render
import mmcl as rt  # the real-data designs are top-level names

# Debian bookworm: fonts-noto-color-emoji 2.042-0+deb12u1, unicode-data 15.0.0-1
FONT_SHA256 = "e5899ed38b8ed83e08bd3ac5de09791e9d19d288333a796de1d35ad17396f1ec"
IMAGES_SHA256 = "fd215fbe7d7d9307b89c7672cb4260f9080e052d60ff0f5f0cce227ccfab3a50"
SAMPLE = ["😀", "🐱", "❤️", "🍎", "🚗", "☺️", "🕓", "🇦"]


@pytest.fixture(scope="module")
def corpus():
    return mmcl.load_emoji(
        image_pca=128
    )  # the cache make builds (or rendered once here)


def _font_is_pinned():
    return (
        hashlib.sha256(emoji_render.emoji_font_path().read_bytes()).hexdigest()
        == FONT_SHA256
    )


def test_corpus_shapes_and_labels(corpus):
    assert len(corpus) == 1377
    assert corpus.skipped == {"skin tone": 1785, "sequence": 493}
    assert corpus.images.shape == (1377, 32, 32, 3) and corpus.images.dtype == np.uint8
    assert tuple(corpus.X.shape) == (1377, 128) and corpus.X.dtype == torch.float64
    assert tuple(corpus.Y.shape) == (1377, 382) and set(corpus.Y.unique().tolist()) == {
        0.0,
        1.0,
    }
    assert len(corpus.group_names) == 9 and len(corpus.subgroup_names) == 97
    assert corpus.chars[0] == "😀" and corpus.captions[0] == "grinning face"
    assert corpus.group_names[corpus.groups[0]] == "Smileys & Emotion"
    assert corpus.subgroup_names[corpus.subgroups[0]] == "face-smiling"
    assert not any("\U0001f3fb" <= ch <= "\U0001f3ff" for c in corpus.chars for ch in c)


def test_pinned_image_hash(corpus):
    if not _font_is_pinned():
        pytest.skip(
            "the image hash is pinned for Debian's fonts-noto-color-emoji 2.042"
        )
    assert corpus.digest == IMAGES_SHA256
    assert hashlib.sha256(corpus.images.tobytes()).hexdigest() == IMAGES_SHA256


def test_pca_scores_match_an_svd(corpus):
    P = torch.from_numpy(corpus.images[:300].reshape(300, -1)).double() / 255
    Z = emoji._pca_scores(P, 16)
    axes, s, scores = mmcl.truncated_svd((P - P.mean(0)).T, 17)  # axes signs: svd_flip
    assert float(((s[:-1] - s[1:]) / s[0]).min()) > 1e-4  # distinct components
    # two float64 factorisations of one matrix: errors of order eps * ||P|| / gap <<
    # 1e-8 ||P||
    assert torch.allclose(Z, scores[:, :16] * s[:16], atol=1e-8 * float(s[0]))


def test_rendering_is_the_same_under_portable_kernels():
    env = dict(
        os.environ,
        ATEN_CPU_CAPABILITY="default",
        MKL_CBWR="COMPATIBLE",
        OMP_NUM_THREADS="1",
    )
    code = (
        "import hashlib, json, sys; from mmcl.realdata import emoji_render; "
        "import torch; "
        "im = emoji_render.render_emojis(json.loads(sys.argv[1])); "
        "print(torch.backends.cpu.get_cpu_capability(), "
        "hashlib.sha256(im.tobytes()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(SAMPLE)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout.split()
    assert out[0] == "DEFAULT"
    assert (
        out[1]
        == hashlib.sha256(emoji_render.render_emojis(SAMPLE).tobytes()).hexdigest()
    )


def test_render_one_emoji():
    im = emoji_render.render_emoji("🍎", size=16)
    assert im.shape == (16, 16, 3) and im.dtype == np.uint8
    assert (im[0, 0] == 255).all()  # white background
    red = im[..., 0].astype(int) - im[..., 1].astype(int)
    assert red.max() > 100  # a red apple
    # the emoji presentation selector draws nothing of its own
    assert np.array_equal(
        emoji_render.render_emoji("❤️"), emoji_render.render_emoji("❤")
    )


def _small_test_file(tmp_path):
    p = tmp_path / "emoji-test.txt"
    p.write_text(
        "# group: Animals & Nature\n# subgroup: animal-mammal\n"
        "1F431 ; fully-qualified # 🐱 E0.6 cat face\n"
        "1F408 ; fully-qualified # 🐈 E0.7 cat\n"
        "1F44B 1F3FB ; fully-qualified # 👋🏻 E1.0 waving hand: light skin tone\n"
        "1F408 200D 2B1B ; fully-qualified # 🐈‍⬛ E13.0 black cat\n"
        "# subgroup: food-fruit\n"
        "1F34E ; fully-qualified # 🍎 E0.6 red apple\n"
        "2764 ; unqualified # ❤ E0.6 red heart\n",
        encoding="utf-8",
    )
    return p


def test_small_corpus_cache_and_text_features(tmp_path):
    path, cache = _small_test_file(tmp_path), tmp_path / "cache"
    c = mmcl.load_emoji(emoji_test=path, cache_dir=cache, size=8)
    assert c.captions == ["cat face", "cat", "red apple"] and c.skipped == {
        "skin tone": 1,
        "sequence": 1,
    }
    assert c.vocabulary == ["cat"]  # words in at least two captions
    assert c.encode_text(["a cat", "a dog"]).tolist() == [[1.0], [0.0]]
    assert c.subgroup_names == [
        "animal-mammal",
        "food-fruit",
    ] and c.subgroups.tolist() == [0, 0, 1]
    files = list(cache.glob("emoji-*.npz"))
    assert len(files) == 1
    again = mmcl.load_emoji(emoji_test=path, cache_dir=cache, size=8)
    assert again.digest == c.digest and np.array_equal(again.images, c.images)
    files[0].write_bytes(b"corrupt")  # a broken cache is rendered again
    fixed = mmcl.load_emoji(emoji_test=path, cache_dir=cache, size=8)
    assert fixed.digest == c.digest
    chars = mmcl.load_emoji(emoji_test=path, cache_dir=cache, size=8, text="chars")
    assert "cat" in chars.vocabulary and chars.Y.shape[0] == 3


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(emoji_render.CACHE_ENV, str(tmp_path / "env"))
    assert emoji_render.emoji_cache_dir() == tmp_path / "env"
    assert emoji_render.emoji_cache_dir(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv(emoji_render.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert emoji_render.emoji_cache_dir() == tmp_path / "xdg" / "mmcl"


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="fonts-noto-color-emoji"):
        mmcl.load_emoji(font_path=tmp_path / "missing.ttf")
    with pytest.raises(FileNotFoundError, match="unicode-data"):
        mmcl.load_emoji(emoji_test=tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("1F431 ; fully-qualified cat face\n")
    with pytest.raises(ValueError, match="not an emoji-test.txt data line"):
        emoji_render.read_emoji_test(bad)
    bad.write_text("# nothing here\n")
    with pytest.raises(ValueError, match="no fully-qualified single emoji"):
        emoji_render.read_emoji_test(bad)
    not_a_font = tmp_path / "font.ttf"
    not_a_font.write_bytes(b"not a font")
    with pytest.raises(ValueError, match="fonts-noto-color-emoji"):
        emoji_render.render_emoji("🐱", font_path=not_a_font)
    with pytest.raises(ValueError, match="text must be one of"):
        mmcl.load_emoji(text="bigrams")
    with pytest.raises(ValueError, match="size must be"):
        mmcl.load_emoji(size=200)
    with pytest.raises(TypeError, match="dtype"):
        mmcl.load_emoji(dtype=torch.int64)
    with pytest.raises(TypeError, match="chars"):
        emoji_render.render_emoji("")


# ---- the chapter's claims (split 0 of the chapter, r = 32)
# -------------------------------------


@pytest.fixture(scope="module")
def fitted(corpus):
    sp = mmcl.emoji_split(corpus, 300, seed=0)
    lin = mmcl.linear_closed_form(sp.X, sp.Y, 32)
    clip = mmcl.svd_iteration(
        sp.X, sp.Y, 32, "clip", tau=0.1, rho=0.03, max_iter=8, tol=1e-4
    )
    return sp, lin, clip


def _scores(sp, fit):
    return {
        k: float(v)
        for k, v in mmcl.retrieval_scores(
            sp.X_test @ fit.G1.T, sp.Y_test @ fit.G2.T
        ).items()
    }


def test_chapter_retrieval_far_above_chance_and_clip_beats_linear(fitted):
    sp, lin, clip = fitted
    chance = {1: 1 / 300, 5: 5 / 300}
    s_lin, s_clip = _scores(sp, lin), _scores(sp, clip)
    for key in s_lin:
        k = int(key.split("@")[1])
        assert s_lin[key] > 5 * chance[k]
        assert s_clip[key] > s_lin[key]
    assert s_clip["image->caption@5"] == pytest.approx(0.200, abs=0.02)


def test_chapter_zero_shot(corpus, fitted):
    sp, _, clip = fitted
    acc = {}
    for t, labels, names in (
        ("group", corpus.groups, corpus.group_names),
        ("subgroup", corpus.subgroups, corpus.subgroup_names),
    ):
        Zc = sp.encode_text(mmcl.class_prompts(names)) @ clip.G2.T
        acc[t] = float(
            mmcl.zero_shot_accuracy(sp.X_test @ clip.G1.T, labels[sp.test], Zc)
        )
        acc[t + " probe"] = rt.linear_probe_accuracy(
            sp.X, labels[sp.train], sp.X_test, labels[sp.test]
        )
        acc[t + " majority"] = float(
            (labels[sp.test] == labels[sp.train].bincount().argmax()).double().mean()
        )
    assert acc["group"] < acc["group majority"]  # the group names are unknown words
    assert acc["subgroup"] > 4 * (1 / 97) and acc["subgroup"] > acc["subgroup majority"]
    assert acc["subgroup"] < acc["subgroup probe"] / 2


def test_chapter_cat_query_clip_finds_cats_linear_does_not(corpus, fitted):
    sp, lin, clip = fitted
    q = sp.encode_text(["cat"])[0]
    found = {
        name: sum(
            "cat" in corpus.captions[int(sp.test[i])].split()
            for i in mmcl.rank_images(f.G1, f.G2, sp.X_test, q, k=8)
        )
        for name, f in (("clip", clip), ("linear", lin))
    }
    assert found == {"clip": 4, "linear": 0}


def test_zero_shot_accuracy_and_prompts():
    Zx = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.1]])
    Zc = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(
        mmcl.zero_shot_accuracy(Zx, torch.tensor([0, 1, 0]), Zc)
    ) == pytest.approx(2 / 3)
    twins = torch.tensor(
        [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    )  # classes 0 and 1 identical
    assert float(mmcl.zero_shot_accuracy(Zx[:2], torch.tensor([0, 2]), twins)) == 0.5
    with pytest.raises(ValueError, match="number of classes"):
        mmcl.zero_shot_accuracy(Zx, torch.tensor([0, 1, 2]), Zc)
    assert mmcl.class_prompts(["Smileys & Emotion", "animal-mammal"]) == [
        "smileys and emotion",
        "animal mammal",
    ]


def test_unwritable_cache_warns_and_still_loads(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file, not a folder")
    with pytest.warns(UserWarning, match="could not cache"):
        c = mmcl.load_emoji(
            emoji_test=_small_test_file(tmp_path), cache_dir=blocked, size=8
        )
    assert c.images.shape == (3, 8, 8, 3)
