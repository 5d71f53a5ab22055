import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mtclassic.metrics import (
    LOOKALIKE_PAIRS,
    cross_task_confusions,
    is_lookalike,
    per_task_accuracy,
    routing_error,
    task_of,
    task_scores,
    worst_confusions,
)
from mtclassic.multitask import DEFAULT_TASKS

ALL_LABELS = [*DEFAULT_TASKS["digits"], *DEFAULT_TASKS["letters"]]
labels = st.lists(st.sampled_from(ALL_LABELS), min_size=1, max_size=60)


def test_lookalike_pairs_are_the_fixed_list_of_issue_12():
    expected = {("1", "I"), ("1", "L"), ("1", "J"), ("1", "T"), ("0", "O"),
                ("0", "D"), ("0", "Q"), ("0", "U"), ("9", "G"), ("9", "Q"),
                ("9", "A"), ("2", "Z"), ("5", "S"), ("6", "B"), ("6", "G"),
                ("8", "B"), ("4", "A"), ("7", "T"), ("3", "B")}  # fmt: skip
    assert set(LOOKALIKE_PAIRS) == expected
    assert len(LOOKALIKE_PAIRS) == len(expected)
    # every pair joins a digit and a letter: a look-alike is always cross-task
    for digit, letter in LOOKALIKE_PAIRS:
        assert digit in DEFAULT_TASKS["digits"] and letter in DEFAULT_TASKS["letters"]


def test_task_of_digits_letters_and_int_labels():
    assert task_of(["0", "Z", "9", "A"]).tolist() == [
        "digits",
        "letters",
        "digits",
        "letters",
    ]
    assert task_of(np.array([3, 7])).tolist() == ["digits", "digits"]
    assert task_of([]).tolist() == []
    custom = {"odd": ["1", "3"], "even": ["2"]}
    assert task_of(["3", "2"], tasks=custom).tolist() == ["odd", "even"]


def test_task_of_rejects_unknown_labels_and_bad_input():
    with pytest.raises(
        ValueError, match=r"labels: 2 label\(s\) belong to no task.*'a'"
    ):
        task_of(["A", "a", "?"])
    with pytest.raises(ValueError, match="labels must be a 1-D array"):
        task_of([["1", "2"]])
    with pytest.raises(TypeError, match="tasks must be a non-empty dict"):
        task_of(["1"], tasks=["digits"])


def test_is_lookalike_either_order_and_only_listed_pairs():
    y_true = ["1", "I", "9", "A", "9", "0", "0", "B"]
    y_pred = ["I", "1", "A", "9", "9", "O", "C", "6"]
    assert is_lookalike(y_true, y_pred).tolist() == [
        True, True, True, True, False, True, False, True
    ]  # fmt: skip
    assert is_lookalike(["0"], ["O"], pairs=[]).tolist() == [False]
    with pytest.raises(ValueError, match="same length"):
        is_lookalike(["0"], ["O", "0"])


def test_routing_error_splits_pairs_from_the_rest():
    # 0->O look-alike; 3->E and E->3 outside the pairs; 1->7 not misrouted
    y_true = ["0", "3", "E", "1", "A", "5"]
    y_pred = ["O", "E", "3", "7", "A", "5"]
    routing = routing_error(y_true, y_pred)
    assert routing["total"] == pytest.approx(3 / 6)
    assert routing["within_pairs"] == pytest.approx(1 / 6)
    assert routing["outside_pairs"] == pytest.approx(2 / 6)
    assert routing["by_direction"] == {"digits->letters": 2, "letters->digits": 1}
    assert routing["n_samples"] == 6
    # the same errors with no pairs listed: all outside
    assert routing_error(y_true, y_pred, pairs=())["outside_pairs"] == pytest.approx(
        3 / 6
    )
    empty = routing_error([], [])
    assert (empty["total"], empty["outside_pairs"], empty["n_samples"]) == (0.0, 0.0, 0)


@given(labels, st.data())
def test_routing_error_agrees_with_a_plain_loop(y_true, data):
    y_pred = data.draw(
        st.lists(
            st.sampled_from(ALL_LABELS), min_size=len(y_true), max_size=len(y_true)
        )
    )
    digits = set(DEFAULT_TASKS["digits"])
    pairs = {frozenset(p) for p in LOOKALIKE_PAIRS}
    misrouted = [
        (t in digits) != (p in digits) for t, p in zip(y_true, y_pred, strict=True)
    ]
    outside = [
        m and frozenset((t, p)) not in pairs
        for m, t, p in zip(misrouted, y_true, y_pred, strict=True)
    ]
    routing = routing_error(y_true, y_pred)
    assert routing["total"] == pytest.approx(np.mean(misrouted))
    assert routing["outside_pairs"] == pytest.approx(np.mean(outside))
    assert routing["outside_pairs"] + routing["within_pairs"] == pytest.approx(
        routing["total"]
    )
    assert sum(routing["by_direction"].values()) == sum(misrouted)


def test_per_task_accuracy_counts_by_the_true_task():
    scores = per_task_accuracy(["0", "1", "2", "A"], ["0", "1", "Z", "4"])
    assert scores == {
        "digits": {"accuracy": pytest.approx(2 / 3), "n_samples": 3},
        "letters": {"accuracy": 0.0, "n_samples": 1},
    }
    # a task without images is left out
    assert list(per_task_accuracy(["A"], ["A"])) == ["letters"]


def test_worst_and_cross_task_confusions():
    y_true = ["0", "0", "0", "5", "5", "3", "1", "3"]
    y_pred = ["O", "O", "0", "S", "1", "E", "1", "E"]
    worst = worst_confusions(y_true, y_pred, n=None)
    assert [(c["true"], c["pred"], c["count"]) for c in worst] == [
        ("0", "O", 2), ("3", "E", 2), ("5", "1", 1), ("5", "S", 1)
    ]  # fmt: skip
    assert [c["cross_task"] for c in worst] == [True, True, False, True]
    assert worst_confusions(y_true, y_pred, n=1) == worst[:1]
    assert worst_confusions(["A"], ["A"]) == []
    cross = cross_task_confusions(y_true, y_pred)
    assert [(c["true"], c["pred"], c["lookalike"]) for c in cross] == [
        ("0", "O", True), ("3", "E", False), ("5", "S", True)
    ]  # fmt: skip
    assert cross_task_confusions(y_true, y_pred, n=1) == cross[:1]


def test_task_scores_bundles_the_metrics():
    y_true = ["0", "1", "A", "S", "3"]
    y_pred = ["0", "I", "A", "5", "E"]
    scores = task_scores(y_true, y_pred)
    assert scores["accuracy"] == pytest.approx(2 / 5)
    assert scores["n_samples"] == 5
    assert scores["tasks"] == per_task_accuracy(y_true, y_pred)
    assert scores["routing"] == routing_error(y_true, y_pred)
    assert scores["cross_task_confusions"] == cross_task_confusions(y_true, y_pred)
