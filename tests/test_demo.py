"""``mtclassic demo`` through the command line's main()."""

import re

import pytest

from mtclassic.cli import main
from mtclassic.metrics import task_accuracy


@pytest.mark.slow  # more than a second
def test_demo_prints_per_task_combined_routing_and_timings(capsys):
    status = main(["demo", "--n-train", "360", "--n-test", "72", "--random-state", "1"])
    assert status == 0
    out = capsys.readouterr().out
    assert "(360 training, 72 test images, seed 1)" in out
    figures = {}
    for name in ("digits accuracy", "letters accuracy", "combined accuracy",
                 "task-routing error"):  # fmt: skip
        match = re.search(rf"{name}\s+(\d+\.\d\d)%", out)
        assert match, name
        figures[name] = float(match.group(1))
    # 72 balanced test images: 20 digits and 52 letters
    assert "(20 images)" in out and "(52 images)" in out
    combined = (20 * figures["digits accuracy"] + 52 * figures["letters accuracy"]) / 72
    assert figures["combined accuracy"] == pytest.approx(combined, abs=0.01)
    assert figures["combined accuracy"] > 30  # far above the 1/36 of guessing
    assert re.search(r"time: generate \d+\.\d s, fit \d+\.\d s, predict", out)


def test_demo_rejects_empty_sets():
    with pytest.raises(
        SystemExit, match="mtclassic demo: --n-test must be >= 1; got 0."
    ):
        main(["demo", "--n-train", "10", "--n-test", "0"])


def test_task_report_counts_routing_errors():
    # the demo's figures are mtclassic.metrics.task_accuracy's
    report = task_accuracy(
        ["0", "O", "O", "1", "A"],
        ["O", "O", "0", "1", "A"],
        tasks={"digits": ["0", "1"], "letters": ["A", "O"]},
    )
    assert report["routing_error"] == pytest.approx(2 / 5)
    assert report["accuracy"] == pytest.approx(3 / 5)
    assert report["tasks"] == {
        "digits": {"n_samples": 2, "accuracy": 0.5},
        "letters": {"n_samples": 3, "accuracy": pytest.approx(2 / 3)},
    }


@pytest.mark.slow  # more than a second
def test_run_demo_is_a_library_function(capsys):
    from mtclassic._demo import run_demo

    result = run_demo(n_train=180, n_test=36, random_state=2)
    assert capsys.readouterr().out == ""  # printing is the command's
    assert result.n_test == 36
    assert set(result.scores["tasks"]) == {"digits", "letters"}
    assert sum(e["n_samples"] for e in result.scores["tasks"].values()) == 36
    assert set(result.seconds) == {"generate", "fit", "predict"}
    assert list(result.model.classes_) == sorted(result.model.classes_)
