"""Model files as users save them, and the trust model: pickles run code and say
so; skops decides on exact type names before importing anything."""

import io
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import mtclassic
from mtclassic import persistence
from mtclassic.persistence import (
    SKOPS_ALLOW_LIST,
    UntrustedFileWarning,
    UntrustedTypesError,
    load_model,
    save_model,
)

skops_io = pytest.importorskip("skops.io")
ROOT = str(Path(mtclassic.__file__).parents[1])


def _python(code, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.run([sys.executable, "-m", "mtclassic", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def small_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(
        X, np.where(X[:, 0] > 0, "A", "7")
    )


@pytest.fixture(scope="module")
def default_models():
    """Small default models of two presets and both memberships, and their images."""
    from mtclassic import make_default_model
    from mtclassic.datasets import make_characters

    X, y = make_characters(150, random_state=0)
    return {
        (preset, membership): make_default_model(
            random_state=0, preset=preset, membership=membership, n_estimators=2
        ).fit(X, y)
        for preset, membership in (("accurate", "gate"), ("fast", "other"))
    }, X


@pytest.fixture
def fresh_warnings(monkeypatch):
    """Forget the files warned about, so each test sees its own first warning."""
    monkeypatch.setattr(persistence, "_WARNED_FILES", set())


def _skops_naming(path, module, name):
    """A valid skops file whose top object claims to be ``module.name``."""
    buffer = io.BytesIO()
    skops_io.dump(StandardScaler().fit(np.zeros((3, 2))), buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(path, "w") as target:
        for member in source.namelist():
            data = source.read(member)
            if member == "schema.json":
                schema = json.loads(data)
                schema["__module__"], schema["__class__"] = module, name
                data = json.dumps(schema).encode()
            target.writestr(member, data)
    return path


# The f2py module runs numpy's f2py command line when imported. A spy on the
# import system records any attempt, even one that fails (a failed import is
# removed from sys.modules again, so sys.modules alone would not show it).
_F2PY_PROBE = """
import sys

class Spy:
    def find_spec(self, name, path=None, target=None):
        if name == "numpy.f2py.__main__":
            print("import attempted")
        return None

sys.meta_path.insert(0, Spy())
from mtclassic.persistence import UntrustedTypesError, load_model
try:
    load_model("f2py.skops")
except UntrustedTypesError as exc:
    print("refused", exc.types)
print("numpy.f2py.__main__" in sys.modules)
"""


@pytest.mark.slow  # a Python subprocess or more
def test_readme_example_joblib_dump_then_cli_score(tmp_path, default_models):
    """The README's ``joblib.dump(..., "model.joblib")``, then ``mtclassic score``."""
    import csv

    from PIL import Image

    models, X = default_models
    model = models["accurate", "gate"]
    joblib.dump(model, tmp_path / "model.joblib")  # exactly as the README does
    (tmp_path / "scans").mkdir()
    images = X[:12]
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / "scans" / f"{i:02d}.png")
    result = _cli("score", "model.joblib", "scans", "--out", "s.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not list(tmp_path.glob("*.meta.json"))
    with open(tmp_path / "s.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [os.path.basename(row["id"]) for row in rows] == [
        f"{i:02d}.png" for i in range(len(images))
    ]
    assert [row["label"] for row in rows] == model.predict(images).tolist()


@pytest.mark.slow  # a Python subprocess or more
def test_skops_naming_an_importable_module_is_refused_without_import(tmp_path):
    _skops_naming(tmp_path / "f2py.skops", "numpy.f2py.__main__", "Foo")
    result = _python(_F2PY_PROBE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "refused ['numpy.f2py.__main__.Foo']\nFalse\n"


@pytest.mark.slow  # a Python subprocess or more
def test_cli_refuses_the_f2py_name_in_one_line_with_the_option(tmp_path):
    path = _skops_naming(tmp_path / "f2py.skops", "numpy.f2py.__main__", "Foo")
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    result = _cli("score", "f2py.skops", "x.npy", "--out", "s.csv", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"mtclassic score: {path.name}: refusing to load a skops file that holds "
        "types outside mtclassic's allow-list: ['numpy.f2py.__main__.Foo']. If "
        "you trust the file's source, add --trusted numpy.f2py.__main__.Foo.\n"
    )
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize(
    "name",
    [
        "mtclassic.scoring._SharedModel",  # a real class, in a trusted package
        "sklearn.utils._bunch.Nope",  # beside an allow-listed one
        "numpy.lib.npyio.NpzFile",
    ],
)
def test_names_under_trusted_packages_are_not_trusted_as_a_tree(tmp_path, name):
    module, cls = name.rsplit(".", 1)
    path = _skops_naming(tmp_path / "m.skops", module, cls)
    with pytest.raises(UntrustedTypesError) as info:
        load_model(path)
    assert info.value.types == [name]


class _Payload:
    """A pickle that writes a marker file when it is loaded."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.slow  # a Python subprocess or more
def test_reduce_payload_named_skops_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "marker"
    joblib.dump(_Payload(marker), tmp_path / "evil.skops")
    message = (
        f"{tmp_path / 'evil.skops'}: not a skops file (no zip archive header); "
        "refusing to load it as a pickle, which could run code."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        load_model(tmp_path / "evil.skops")
    assert not marker.exists()
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), dtype=np.uint8))
    commands = {
        "score": ["evil.skops", "x.npy", "--out", "s.csv", "--n-jobs", "2"],
        "evaluate": ["evil.skops", "synthetic", "--n-samples", "5"],
    }
    for command, args in commands.items():
        result = _cli(command, *args, cwd=tmp_path)
        assert (result.returncode, result.stdout) == (1, "")
        assert result.stderr == (
            f"mtclassic {command}: evil.skops: not a skops file (no zip archive "
            "header); refusing to load it as a pickle, which could run code.\n"
        )
        assert not marker.exists()


def test_reduce_payload_as_joblib_runs_as_documented(tmp_path, fresh_warnings):
    """What the docs say: a pickle runs code when loaded; skops is the safe format."""
    marker = tmp_path / "marker"
    joblib.dump(_Payload(marker), tmp_path / "evil.joblib")
    assert "runs any code" in load_model.__doc__.replace("\n    ", " ")
    load_model(tmp_path / "evil.joblib")
    assert marker.exists()


def test_world_writable_pickle_warns_once(tmp_path, small_model, fresh_warnings):
    path = tmp_path / "m.joblib"
    joblib.dump(small_model, path)
    os.chmod(path, 0o666)
    message = (
        f"{path} is writable by every user: loading this pickle runs any code it "
        "holds. Load it only if you trust whoever can write it; use a .skops "
        "file for models from elsewhere."
    )
    with pytest.warns(UntrustedFileWarning, match=f"^{re.escape(message)}$"):
        load_model(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(path)  # once per file
    os.chmod(path, 0o644)


def test_pickle_of_another_user_warns(tmp_path, small_model, fresh_warnings,
                                      monkeypatch):  # fmt: skip
    path = tmp_path / "m.joblib"
    joblib.dump(small_model, path)
    owner = path.stat().st_uid
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)
    message = (
        f"{path} is owned by uid {owner}, not by you (uid {owner + 1}): loading "
        "this pickle runs any code it holds."
    )
    with pytest.warns(UntrustedFileWarning, match=f"^{re.escape(message)}"):
        load_model(path)


def test_own_pickle_and_skops_files_do_not_warn(tmp_path, small_model, fresh_warnings):
    joblib.dump(small_model, tmp_path / "m.joblib")
    os.chmod(tmp_path / "m.joblib", 0o644)
    save_model(small_model, tmp_path / "m.skops")
    os.chmod(tmp_path / "m.skops", 0o666)  # skops runs no code: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_model(tmp_path / "m.joblib")
        load_model(tmp_path / "m.skops")


@pytest.mark.slow  # a Python subprocess or more
def test_cli_warns_once_even_with_worker_processes(tmp_path, small_model):
    joblib.dump(small_model, tmp_path / "m.joblib")
    os.chmod(tmp_path / "m.joblib", 0o666)
    np.save(tmp_path / "x.npy", np.zeros((30, 4)))
    result = _cli("score", "m.joblib", "x.npy", "--out", "s.csv", "--n-jobs", "2",
                  "--chunk-size", "5", "--quiet", cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("UntrustedFileWarning: m.joblib is writable by") == 1
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 31


def test_help_of_score_and_evaluate_says_a_pickle_runs_code():
    for command in ("score", "evaluate"):
        result = _cli(command, "--help", cwd=ROOT)
        text = " ".join(result.stdout.split())
        assert "A joblib or pickle file runs any code it holds when loaded" in text
        assert "name only files you trust" in text
        assert "--trusted TYPE" in text


def test_untrusted_types_error_survives_pickling():
    error = UntrustedTypesError("m.skops", ["builtins.eval"])
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.types, again.path) == (str(error), error.types, "m.skops")
    assert isinstance(again, TypeError)


def test_cli_names_the_trusted_option_and_evaluate_accepts_it(tmp_path, capsys):
    risky = make_pipeline(FunctionTransformer(func=abs), LogisticRegression())
    risky.steps[1][1].fit(np.zeros((2, 4)), ["A", "7"])
    save_model(risky, tmp_path / "risky.skops")
    from mtclassic.cli import main

    path = tmp_path / "risky.skops"
    for command in ("score", "evaluate"):
        message = (
            f"mtclassic {command}: {path}: refusing to load a skops file that holds "
            "types outside mtclassic's allow-list: ['builtins.abs']. If you trust "
            "the file's source, add --trusted builtins.abs."
        )
        data = ["synthetic"] if command == "evaluate" else [str(path), "--out",
                                                            str(tmp_path / "s.csv")]  # fmt: skip
        with pytest.raises(SystemExit, match=f"^{re.escape(message)}$"):
            main([command, str(path), *data])
    # Named with --trusted, the file loads (then fails on the data, not the types).
    with pytest.raises(SystemExit) as info:
        main(["evaluate", str(path), "synthetic", "--n-samples", "5",
              "--trusted", "builtins.abs"])  # fmt: skip
    assert "allow-list" not in str(info.value.code)
    assert f"model: {path}" in capsys.readouterr().out


def test_allow_list_is_exactly_what_save_model_writes_for_the_default_models(
    tmp_path, default_models
):
    """Every preset and membership of the default model; nothing more is trusted."""
    models, X = default_models
    written = set()
    for (preset, _), model in models.items():
        path = tmp_path / f"{preset}.skops"
        save_model(model, path)
        written |= set(skops_io.get_untrusted_types(file=path))
        np.testing.assert_array_equal(load_model(path).predict(X[:10]),
                                      model.predict(X[:10]))  # fmt: skip
    assert written == set(SKOPS_ALLOW_LIST)
    assert len(SKOPS_ALLOW_LIST) == len(set(SKOPS_ALLOW_LIST))
