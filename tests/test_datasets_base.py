"""Tests of the data home and of atomic file writing (mtclassic.datasets._base)."""

import os
import re

import pytest

from mtclassic.datasets import clear_data_home, get_data_home
from mtclassic.datasets._base import atomic_writer


def test_get_data_home_explicit_is_created(tmp_path):
    home = get_data_home(tmp_path / "a" / "b")
    assert home == str(tmp_path / "a" / "b")
    assert os.path.isdir(home)


def test_get_data_home_env_var_overrides_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MTCLASSIC_DATA_HOME", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    assert os.path.isdir(tmp_path / "env")


def test_get_data_home_default_and_tilde(tmp_path, monkeypatch):
    monkeypatch.delenv("MTCLASSIC_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == str(tmp_path / "mtclassic_data")
    assert get_data_home("~/other") == str(tmp_path / "other")
    assert os.path.isdir(tmp_path / "other")


def test_get_data_home_rejects_other_types():
    with pytest.raises(
        TypeError,
        match=re.escape(
            "data_home must be None, a str or a path-like object; got int."
        ),
    ):
        get_data_home(3)


def test_clear_data_home(tmp_path):
    home = get_data_home(tmp_path / "h")
    (tmp_path / "h" / "f").write_bytes(b"x")
    clear_data_home(home)
    assert not os.path.exists(home)


def test_atomic_writer_replaces_only_on_success(tmp_path):
    target = tmp_path / "out"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_writer(target, suffix=".part") as f:
            f.write(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out"]
    with atomic_writer(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out"]


def test_atomic_writer_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_writer(tmp_path / "out") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "out").st_mode & 0o777 == 0o644
