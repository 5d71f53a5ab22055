"""``mtclassic train`` on the user's data: IDX pairs, EMNIST, folders, .npz.

Each acceptance case trains a small model with the command line and then
scores with ``mtclassic score`` on the saved file. Every input problem must
stop the command with one line naming it, before any fitting (the tests make
``Pipeline.fit`` fail loudly to prove it).
"""

import csv
import re
import string

import numpy as np
import pytest
from PIL import Image
from sklearn.pipeline import Pipeline

# The local HTTP server and the small EMNIST-layout archive of test_emnist.
from test_emnist import archive, server  # noqa: F401

from mtclassic import _train
from mtclassic.cli import main
from mtclassic.datasets import _emnist, make_characters
from mtclassic.io import save_idx
from mtclassic.persistence import load_model, read_metadata

FIT_STARTED = "the fit started"


def _score(model_path, inputs, tmp_path):
    out = tmp_path / "scores.csv"
    assert main(["score", str(model_path), *map(str, inputs), "--out", str(out)]) == 0
    with open(out, newline="") as file:
        return list(csv.DictReader(file))


def _idx_pair(tmp_path, n=120, classes=string.digits, random_state=0):
    X, y = make_characters(n, classes=classes, random_state=random_state)
    images, labels = tmp_path / "train-images.gz", tmp_path / "train-labels.gz"
    save_idx(images, X)
    save_idx(labels, np.array([classes.index(label) for label in y], np.uint8))
    return images, labels, y


def _folder(root, labels, n_per_class=8, random_state=0):
    """A class-per-folder tree; each image drawn as its label's first character
    in upper case."""
    for k, name in enumerate(labels):
        X, _ = make_characters(
            n_per_class, classes=name[0].upper(), random_state=random_state + k
        )
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(X):
            Image.fromarray(image).save(root / name / f"{i}.png")
    return root


def test_mnist_style_idx_pair_trains_a_digits_only_model(tmp_path, capsys):
    images, labels, y = _idx_pair(tmp_path)
    model_path = tmp_path / "digits.joblib"
    args = ["train", str(model_path), "--data", str(images), str(labels)]
    assert main([*args, "--preset", "fast"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(
        rf"trained on 120 images from {re.escape(str(images))} \+ "
        rf"{re.escape(str(labels))} in [0-9.]+ s; saved .*\n",
        captured.out,
    )
    # progress on stderr, stage by stage, with the elapsed time
    assert re.search(r"\[train [0-9.]+s\] read 120 images from IDX ", captured.err)
    assert "tasks digits: normalize, features, vote" in captured.err
    assert "(step 3 of 3) Processing vote" in captured.err
    meta = read_metadata(model_path)
    assert meta["classes"] == list(string.digits) and meta["tasks"] == ["digits"]
    # the progress switches are off again in the saved model
    params = load_model(model_path).get_params()
    assert not [
        key for key, value in params.items() if key.endswith("verbose") and value
    ]
    rows = _score(model_path, [images], tmp_path)
    assert len(rows) == 120 and {row["task"] for row in rows} == {"digits"}
    accuracy = np.mean([row["label"] for row in rows] == y)
    assert accuracy > 0.5  # learnt something, on its own training images


def test_emnist_letters_from_the_local_server(
    server,  # noqa: F811
    tmp_path,
    monkeypatch,
    capsys,
):
    monkeypatch.setenv("MTCLASSIC_DATA_HOME", str(tmp_path / "cache"))
    model_path = tmp_path / "letters.joblib"
    assert main(["train", str(model_path), "--data", "emnist:letters"]) == 0
    assert server.requests == ["/gzip.zip"]  # downloaded (and checksummed) once
    assert "trained on 5 images from emnist:letters in " in capsys.readouterr().out
    model = load_model(model_path)
    assert model.classes_.tolist() == list(string.ascii_uppercase)
    assert model[-1].tasks_.tolist() == ["letters"]
    # from the cache the second time
    assert (
        main(["train", str(tmp_path / "again.joblib"), "--data", "emnist:letters"]) == 0
    )
    assert server.requests == ["/gzip.zip"]
    images = tmp_path / "letters.npy"
    np.save(images, _emnist.fetch_emnist("letters").images)
    rows = _score(model_path, [images], tmp_path)
    assert len(rows) == 5 and {row["label"] for row in rows} <= set(
        string.ascii_uppercase
    )
    # evaluate reads the same name as the test subset
    assert main(["evaluate", str(model_path), "emnist:letters"]) == 0
    out = capsys.readouterr().out
    assert "data:  EMNIST letters (test)" in out
    assert "images:          3" in out  # the 3 test images, not the 5 training ones
    assert server.requests == ["/gzip.zip"]


def test_lower_case_folder_case_sensitive(tmp_path, capsys):
    data = _folder(tmp_path / "lower", "abc")
    model_path = tmp_path / "lower.joblib"
    args = ["train", str(model_path), "--data", str(data), "--case-sensitive"]
    assert main([*args, "--preset", "fast"]) == 0
    model = load_model(model_path)
    # lower case kept, within the letters task
    assert model.classes_.tolist() == list(string.ascii_lowercase)
    assert model[-1].tasks_.tolist() == ["letters"]
    rows = _score(model_path, [data], tmp_path)
    assert len(rows) == 24
    assert {row["label"] for row in rows} <= set("abc")
    truth = [row["id"].split("/")[-2] for row in rows]
    assert np.mean([row["label"] for row in rows] == np.array(truth)) > 0.5


def test_lower_case_folder_without_the_flag_reads_upper_case(tmp_path, capsys):
    data = _folder(tmp_path / "lower", "abc")
    model_path = tmp_path / "upper.joblib"
    assert (
        main(["train", str(model_path), "--data", str(data), "--preset", "fast"]) == 0
    )
    assert (
        "note: lower-case labels 'a', 'b', 'c' read as upper case (--case-sensitive "
        "keeps them as classes of their own)" in capsys.readouterr().err
    )
    assert load_model(model_path).classes_.tolist() == list(string.ascii_uppercase)


def test_tasks_option_leaves_out_the_other_task(tmp_path, capsys):
    data = _folder(tmp_path / "mixed", "07AZ", n_per_class=6)
    model_path = tmp_path / "m.joblib"
    argv = ["train", str(model_path), "--data", str(data), "--tasks", "digits"]
    assert main([*argv, "--preset", "fast"]) == 0
    captured = capsys.readouterr()
    assert "note: 12 images of letters left out (--tasks digits)" in captured.err
    assert "trained on 12 images from " in captured.out
    assert load_model(model_path).classes_.tolist() == list(string.digits)


def test_n_train_caps_the_data(tmp_path, capsys):
    images, labels, _ = _idx_pair(tmp_path, n=150)
    model_path = tmp_path / "m.joblib"
    argv = ["train", str(model_path), "--data", str(images), str(labels)]
    assert main([*argv, "--n-train", "60", "--preset", "fast"]) == 0
    captured = capsys.readouterr()
    assert "using 60 randomly drawn images (--n-train 60)" in captured.err
    assert "trained on 60 images from " in captured.out


def test_npz_with_sizes_trains_on_the_crops(tmp_path, capsys):
    X, y = make_characters(60, classes="01AB", random_state=0)
    padded = np.zeros((60, 40, 35), np.uint8)
    padded[:, :28, :28] = X
    path = tmp_path / "crops.npz"
    np.savez(path, images=padded, labels=y, sizes=np.tile([28, 28], (60, 1)))
    model_path = tmp_path / "m.joblib"
    assert (
        main(["train", str(model_path), "--data", str(path), "--preset", "fast"]) == 0
    )
    assert "trained on 60 images from " in capsys.readouterr().out
    assert len(load_model(model_path).classes_) == 36


@pytest.fixture
def no_fit(monkeypatch):
    """Any fit of a pipeline fails: the errors must come before it."""

    def fit(self, *args, **kwargs):
        raise AssertionError(FIT_STARTED)

    monkeypatch.setattr(Pipeline, "fit", fit)


def _error(argv):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    message = str(raised.value)
    assert "\n" not in message and FIT_STARTED not in message
    return message


def test_errors_before_the_fit(tmp_path, no_fit, monkeypatch):
    images, labels, _ = _idx_pair(tmp_path, n=20)
    good = str(tmp_path / "m.joblib")
    missing = tmp_path / "missing"
    assert _error(["train", str(missing / "m.joblib")]) == (
        f"mtclassic train: output folder {missing} does not exist; create it "
        "first or give another path."
    )
    assert _error(["train", str(tmp_path)]) == (
        f"mtclassic train: output {tmp_path} is a folder; give a model file name."
    )
    assert _error(["train", good, "--data", str(missing)]) == (
        f"mtclassic train: --data {missing}: no such file or folder."
    )
    assert _error(["train", good, "--n-train", "0"]) == (
        "mtclassic train: --n-train must be >= 1; got 0."
    )
    assert _error(["train", good, "--data", "emnist:klingon"]) == (
        "mtclassic train: 'emnist:klingon': unknown EMNIST split; give one of "
        "emnist:balanced, emnist:byclass, emnist:bymerge, emnist:digits, "
        "emnist:letters, emnist:mnist."
    )
    assert _error(
        ["train", good, "--data", str(images), str(labels), "--tasks", "letters"]
    ) == (
        "mtclassic train: --tasks letters: no training images for letters; the "
        "data holds digits only."
    )
    _folder(tmp_path / "odd", ["A", "ab"], n_per_class=2)
    assert _error(["train", good, "--data", str(tmp_path / "odd")]) == (
        "mtclassic train: labels 'ab' (2 images) are not characters the model "
        "can learn; labels must be single characters '0'-'9', 'A'-'Z' (and "
        "'a'-'z', read as upper case)."
    )
    npz = tmp_path / "nolabels.npz"
    np.savez(npz, images=np.zeros((2, 8, 8)))
    assert _error(["train", good, "--data", str(npz)]) == (
        f"mtclassic train: {npz}: an .npz data file must hold arrays 'images' "
        "(or 'X') and 'labels' (or 'y'); it holds ['images']."
    )
    short = tmp_path / "short-labels.gz"
    save_idx(short, np.zeros(3, np.uint8))
    assert _error(["train", good, "--data", str(images), str(short)]) == (
        f"mtclassic train: IDX {images} + {short}: 20 images but 3 labels; they "
        "must match."
    )

    def unwritable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_train.tempfile, "NamedTemporaryFile", unwritable)
    assert _error(["train", good]) == (
        f"mtclassic train: output folder {tmp_path} is not writable (Permission "
        "denied)."
    )


def test_offline_emnist_is_one_line(tmp_path, monkeypatch, no_fit):
    monkeypatch.setenv("MTCLASSIC_DATA_HOME", str(tmp_path / "cache"))
    url = _refused_url()
    monkeypatch.setattr(_emnist, "EMNIST_URL", url)
    message = _error(["train", str(tmp_path / "m.joblib"), "--data", "mnist"])
    assert message.startswith(f"mtclassic train: Downloading {url} failed after 0 ")
    assert message.endswith(
        f"nothing was cached. To install it by hand, download {url} (MD5 "
        f"{_emnist.EMNIST_MD5}) and place it as 'gzip.zip' in "
        f"{tmp_path / 'cache' / 'emnist'}."
    )


def _refused_url():
    """A URL on 127.0.0.1 whose port nobody listens on (a refused connection)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/gzip.zip"


def test_transpose_is_refused_with_emnist(tmp_path, no_fit):
    assert _error(
        ["train", str(tmp_path / "m.joblib"), "--data", "emnist:letters", "--transpose"]
    ) == (
        "mtclassic train: --transpose is for files: EMNIST data sets are read "
        "upright already."
    )


def test_plan_tasks_keeps_case_within_letters():
    plan = _train.plan_tasks(["1", "a", "B"], case_sensitive=True)
    assert plan.active == ["digits", "letters"]
    assert plan.tasks == {
        "digits": string.digits,
        "letters": string.ascii_uppercase + string.ascii_lowercase,
    }
    folded = _train.plan_tasks(["1", "a", "B"])
    assert folded.target.tolist() == ["1", "A", "B"]
    assert folded.tasks["letters"] == string.ascii_uppercase


def test_train_model_is_a_library_function(tmp_path, capsys):
    """The work of ``mtclassic train`` from Python: silent, a Bunch back."""
    images, labels, y = _idx_pair(tmp_path, n=60)
    model_path = tmp_path / "m.joblib"
    result = _train.train_model(
        model_path, data=[images, labels], preset="fast", n_train=40
    )
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # no progress given
    assert result.plan.active == ["digits"]
    assert result.source == f"40 images from {images} + {labels}"
    assert result.metadata == read_metadata(model_path)
    assert list(result.model.classes_) == sorted(set(y))
    with pytest.raises(_train.TrainError, match="--n-train must be >= 1; got 0."):
        _train.train_model(model_path, n_train=0)


def test_filled_copies_flag_is_saved_in_the_model(tmp_path, capsys):
    data = _folder(tmp_path / "digits", "0178")
    for flag, expected in (([], False), (["--filled-copies"], True)):
        model_path = tmp_path / f"model{len(flag)}.joblib"
        args = ["train", str(model_path), "--data", str(data), "--preset", "fast"]
        assert main([*args, *flag]) == 0
        assert load_model(model_path).filled_copies is expected
