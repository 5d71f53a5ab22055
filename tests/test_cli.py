"""The command line frame: help, version, and ``python -m mtclassic``."""

import subprocess
import sys

import pytest

import mtclassic
from mtclassic.cli import main


def test_module_help_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "mtclassic", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("demo", "train", "evaluate", "score"):
        assert command in result.stdout


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"mtclassic {mtclassic.__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: mtclassic" in capsys.readouterr().out


def test_unknown_public_name():
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        mtclassic.Nope  # noqa: B018
