"""save_model / load_model: payload + metadata record, hash check, skops allow-list."""

import hashlib
import json
import os
import re
import sys

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import mtclassic
from mtclassic.persistence import (
    ModelVersionWarning,
    check_model_file,
    load_model,
    metadata_path,
    read_metadata,
    save_model,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = np.where(X[:, 0] > 0, "A", "7")
    return X, y


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    return make_pipeline(
        StandardScaler(), RandomForestClassifier(n_estimators=3, random_state=0)
    ).fit(X, y)


def test_joblib_round_trip_writes_payload_and_record(tmp_path, model, data):
    path = tmp_path / "model.joblib"
    meta = save_model(model, path)
    assert sorted(os.listdir(tmp_path)) == ["model.joblib", "model.joblib.meta.json"]
    on_disk = json.loads((tmp_path / "model.joblib.meta.json").read_text())
    assert on_disk == meta == read_metadata(path)
    assert meta["format"] == "joblib"
    assert meta["classes"] == ["7", "A"]
    assert meta["tasks"] is None
    assert meta["payload_bytes"] == path.stat().st_size
    assert len(meta["sha256"]) == 64
    assert set(meta["versions"]) == {
        "mtclassic", "scikit-learn", "numpy", "scikit-image", "python"
    }  # fmt: skip
    assert meta["versions"]["mtclassic"] == mtclassic.__version__
    X, _ = data
    np.testing.assert_array_equal(load_model(path).predict_proba(X),
                                  model.predict_proba(X))  # fmt: skip
    # The payload is a plain joblib file.
    np.testing.assert_array_equal(joblib.load(path).predict(X), model.predict(X))


def test_save_starts_no_child_process(tmp_path, model, monkeypatch):
    # a child forked from a process holding a large model shows its memory
    # again (platform.platform() runs `uname -p` on Linux)
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError(f"save_model started a process: {args!r}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(os, "fork", refuse)
    meta = save_model(model, tmp_path / "model.joblib")
    import platform

    assert meta["platform"].startswith(platform.system())


def test_record_lists_tasks_of_a_multitask_final_step(tmp_path, data):
    X, y = data
    clf = LogisticRegression().fit(X, y)
    clf.tasks_ = np.array(["digits", "letters"], dtype=object)
    clf.class_task_ = np.array([0, 1])  # '7' is a digit, 'A' a letter
    meta = save_model(clf, tmp_path / "m.joblib")
    assert meta["tasks"] == ["digits", "letters"]
    assert meta["class_tasks"] == ["digits", "letters"]
    assert save_model(make_pipeline(StandardScaler(), clf), tmp_path / "p.joblib")[
        "class_tasks"
    ] == ["digits", "letters"]


def _flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("format", ["joblib", "skops"])
def test_flipped_byte_is_refused_with_both_hashes(tmp_path, model, format):
    path = tmp_path / f"model.{format}"
    expected = save_model(model, path)["sha256"]
    size = path.stat().st_size
    _flip_byte(path, size // 2)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    message = (
        f"{path}: the model file does not match its metadata record "
        f"{path}.meta.json: SHA-256 {actual} ({size} bytes), expected {expected} "
        f"({size} bytes). The file was changed or truncated after it was saved; "
        "refusing to load it."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_model(path)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        check_model_file(path)  # the same check, without loading


def test_truncated_file_is_refused_not_unpickled(tmp_path, model):
    path = tmp_path / "model.joblib"
    save_model(model, path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=r"SHA-256 [0-9a-f]{64} \(100 bytes\)"):
        load_model(path)


def test_plain_joblib_and_pickle_files_load_without_a_record(tmp_path, model, data):
    import pickle

    X, _ = data
    joblib.dump(model, tmp_path / "model.joblib")
    with open(tmp_path / "model.pkl", "wb") as file:
        pickle.dump(model, file)
    for name in ("model.joblib", "model.pkl"):
        for verify in (True, False):
            np.testing.assert_array_equal(
                load_model(tmp_path / name, verify=verify).predict(X), model.predict(X)
            )
    assert not list(tmp_path.glob("*.meta.json"))
    # Only reading the record itself needs one.
    path = tmp_path / "model.joblib"
    message = (
        f"{path}.meta.json: the model file {path} has no metadata record. "
        "load_model loads it without one; save_model writes one."
    )
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        read_metadata(path)


def test_missing_model_file_says_the_file_is_missing(tmp_path):
    path = tmp_path / "nope.joblib"
    message = f"model file {str(path)!r} does not exist."
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        load_model(path)
    message = f"model file {str(tmp_path)!r} is a directory, not a file."
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_model(tmp_path)


def test_other_versions_warn(tmp_path, model):
    path = tmp_path / "model.joblib"
    save_model(model, path)
    meta = json.loads(open(metadata_path(path)).read())
    running = meta["versions"]["scikit-learn"]
    meta["versions"]["scikit-learn"] = "0.1.0"
    meta["versions"]["python"] = "2.7.18"
    with open(metadata_path(path), "w") as file:
        json.dump(meta, file)
    message = (
        f"{path} was saved with other versions: scikit-learn 0.1.0 (saved) vs "
        f"{running} (running); python 2.7 (saved) vs "
        f"{'.'.join(map(str, sys.version_info[:2]))} (running). Check its "
        "predictions, then re-save it with the running versions."
    )
    with pytest.warns(ModelVersionWarning, match=f"^{re.escape(message)}$"):
        load_model(path)


def test_same_versions_do_not_warn(tmp_path, model):
    import warnings

    path = tmp_path / "model.joblib"
    save_model(model, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(path)


def test_bad_record_is_a_clear_error(tmp_path, model):
    path = tmp_path / "model.joblib"
    save_model(model, path)
    open(metadata_path(path), "w").write("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object with a 'sha256'"):
        load_model(path)


def test_failed_save_leaves_no_file_and_keeps_the_old_model(tmp_path, model, data):
    path = tmp_path / "model.joblib"
    save_model(model, path)
    before = sorted(os.listdir(tmp_path)), path.read_bytes()
    unpicklable = LogisticRegression().fit(*data)
    unpicklable.hook = lambda: None
    with pytest.raises(Exception, match="lambda"):
        save_model(unpicklable, path)
    assert (sorted(os.listdir(tmp_path)), path.read_bytes()) == before
    load_model(path)


def test_bad_options(tmp_path, model):
    with pytest.raises(
        ValueError, match=r"format must be one of \('joblib', 'skops'\)"
    ):
        save_model(model, tmp_path / "m.pkl", format="pickle")
    with pytest.raises(ValueError, match="compress must be an int from 0 to 9; got 10"):
        save_model(model, tmp_path / "m.joblib", compress=10)
    save_model(model, tmp_path / "m.joblib")
    with pytest.raises(ValueError, match="trusted applies to skops files only"):
        load_model(tmp_path / "m.joblib", trusted=["builtins.eval"])


def test_skops_round_trip_trusts_allow_listed_classes(tmp_path, model, data):
    path = tmp_path / "model.skops"
    meta = save_model(model, path)
    assert meta["format"] == "skops"
    import skops.io

    # The forest's Tree is not trusted by skops by default, but is allow-listed.
    assert "sklearn.tree._tree.Tree" in skops.io.get_untrusted_types(file=path)
    X, _ = data
    np.testing.assert_array_equal(load_model(path).predict_proba(X),
                                  model.predict_proba(X))  # fmt: skip


def test_skops_refuses_types_outside_the_allow_list(tmp_path, data):
    X, y = data
    risky = make_pipeline(FunctionTransformer(func=eval, validate=False),
                          LogisticRegression())  # fmt: skip
    risky.steps[0][1].func = eval  # a function that could run anything
    risky.steps[1][1].fit(X, y)
    path = tmp_path / "risky.skops"
    save_model(risky, path)
    message = (
        f"{path}: refusing to load a skops file that holds types outside "
        "mtclassic's allow-list: ['builtins.eval']. If you trust the file's "
        "source, pass them as load_model(..., trusted=[...])."
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        load_model(path)
    loaded = load_model(path, trusted=["builtins.eval"])
    assert loaded.steps[0][1].func is eval


def test_skops_missing_is_a_clear_import_error(tmp_path, model, monkeypatch):
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    with pytest.raises(ImportError, match=r"pip install mtclassic\[skops\]"):
        save_model(model, tmp_path / "m.skops")
    assert not os.listdir(tmp_path)


@pytest.fixture(scope="module")
def default_model():
    from mtclassic import make_default_model
    from mtclassic.datasets import make_characters

    X, y = make_characters(300, random_state=0)
    return make_default_model(random_state=0, n_estimators=10).fit(X, y), X


def test_default_model_round_trips_through_skops_without_naming_types(
    tmp_path, default_model
):
    model, X = default_model
    path = tmp_path / "default.skops"
    meta = save_model(model, path)
    assert meta["tasks"] == ["digits", "letters"]
    assert meta["class_tasks"] == ["digits"] * 10 + ["letters"] * 26
    import skops.io

    untrusted = skops.io.get_untrusted_types(file=path)
    assert "mtclassic.multitask.MultiTaskVotingClassifier" in untrusted
    loaded = load_model(path)  # every type is on the allow-list
    np.testing.assert_array_equal(loaded.predict_proba(X[:20]),
                                  model.predict_proba(X[:20]))  # fmt: skip


@pytest.mark.slow  # more than a second
def test_cli_train_saves_a_checked_model(tmp_path, capsys):
    from mtclassic.cli import main

    out = tmp_path / "model.joblib"
    assert main(["train", str(out), "--n-train", "120"]) in (0, None)
    assert re.match(r"trained on 120 synthetic images in [0-9.]+ s; saved ",
                    capsys.readouterr().out)  # fmt: skip
    meta = read_metadata(out)
    assert len(meta["classes"]) == 36 and meta["tasks"] == ["digits", "letters"]
    assert load_model(out).predict_proba(np.zeros((1, 28, 28))).shape == (1, 36)


@pytest.mark.slow  # more than a second
def test_cli_train_on_an_image_folder(tmp_path, capsys):
    from PIL import Image

    from mtclassic.cli import main
    from mtclassic.datasets import make_characters

    X, y = make_characters(40, classes="07AZ", random_state=1)
    for i, (image, label) in enumerate(zip(X, y, strict=True)):
        (tmp_path / "data" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(tmp_path / "data" / label / f"{i}.png")
    out = tmp_path / "model.joblib"
    main(["train", str(out), "--data", str(tmp_path / "data")])
    assert f"40 images from {tmp_path / 'data'}" in capsys.readouterr().out
    # The default tasks own all 36 labels; the absent ones get probability 0.
    assert len(read_metadata(out)["classes"]) == 36
    assert set(load_model(out).predict(X)) <= {"0", "7", "A", "Z"}


def _edit_record(path, **changes):
    meta = json.loads(open(metadata_path(path)).read())
    meta.update({key: change(meta[key]) for key, change in changes.items()})
    with open(metadata_path(path), "w") as file:
        json.dump(meta, file)
    return meta


def _reversed(values):
    return values[::-1]


@pytest.mark.parametrize("key", ["classes", "tasks", "class_tasks"])
def test_edited_record_is_refused_naming_both_values(tmp_path, default_model, key):
    """The record is not hashed: its classes and tasks are checked against the model."""
    from mtclassic.scoring import score_files

    model, X = default_model
    path = tmp_path / "m.joblib"
    summary = save_model(model, path)
    edited = _edit_record(path, **{key: _reversed})[key]
    message = (
        f"{path}.meta.json: the record's {key} {edited} differ from the model's "
        f"{summary[key]} in {path}; refusing to load it. The record is not covered "
        "by the hash: delete it, or save the model again with save_model."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_model(path)
    np.save(tmp_path / "x.npy", X[:40])
    for n_jobs in (1, 2):  # the record once labelled the output with n_jobs > 1
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            score_files(str(path), str(tmp_path / "x.npy"), tmp_path / "s.csv",
                        n_jobs=n_jobs, chunk_size=10)  # fmt: skip
        assert not (tmp_path / "s.csv").exists()
    # Without the record the model's own labels are used.
    os.remove(metadata_path(path))
    score_files(str(path), str(tmp_path / "x.npy"), tmp_path / "s.csv", n_jobs=2,
                chunk_size=10)  # fmt: skip
    labels = [line.split(",")[1] for line in
              (tmp_path / "s.csv").read_text().splitlines()[1:]]  # fmt: skip
    assert labels == model.predict(X[:40]).tolist()


def test_cli_evaluate_missing_model_file_is_one_line(tmp_path):
    from mtclassic.cli import main

    path = str(tmp_path / "nope.joblib")
    message = f"mtclassic evaluate: model file {path!r} does not exist."
    with pytest.raises(SystemExit, match=f"^{re.escape(message)}$"):
        main(["evaluate", path, "synthetic", "--n-samples", "5"])
