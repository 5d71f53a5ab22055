"""MultiTaskVotingClassifier: the vote, task mappings, errors, sklearn citizenship."""

import os
import pickle
import re
from contextlib import nullcontext

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score

from mtclassic.heads import DigitClassifier, LetterClassifier
from mtclassic.multitask import (
    DEFAULT_TASKS,
    OTHER,
    MultiTaskVotingClassifier,
)

LABELS = np.array(["1", "2", "3", "A", "B"])
TASKS = {"numbers": "123", "letters": "AB"}


@pytest.fixture(scope="module")
def blobs():
    """Five well separated blobs, three 'numbers' and two 'letters'."""
    rng = np.random.RandomState(0)
    centres = rng.normal(scale=5, size=(5, 2))
    index = np.repeat(np.arange(5), 40)
    X = centres[index] + rng.normal(size=(200, 2))
    return X, LABELS[index]


def _vote(**params):
    heads = [("numbers", LogisticRegression()), ("letters", LogisticRegression())]
    params.setdefault("tasks", TASKS)
    return MultiTaskVotingClassifier(heads, **params)


# -- the vote ---------------------------------------------------------------


@pytest.mark.slow  # more than a second
def test_other_mode_vote_is_the_weighted_in_task_posterior(blobs):
    X, y = blobs
    vote = _vote(weights=[1.0, 3.0]).fit(X, y)
    assert vote.classes_.tolist() == LABELS.tolist()
    joint = np.zeros((len(X), 5))
    for weight, head in zip([1.0, 3.0], vote.estimators_, strict=True):
        codes = head.classes_
        assert codes[0] == OTHER  # every head also learned "other"
        joint[:, codes[1:]] = weight * head.predict_proba(X)[:, 1:]
    expected = joint / joint.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(vote.predict_proba(X), expected)
    # P(task) = w_t s_t / sum_u w_u s_u with s_t = 1 - P_t(other)
    evidence = np.column_stack(
        [
            w * (1 - h.predict_proba(X)[:, 0])
            for w, h in zip([1, 3], vote.estimators_, strict=True)
        ]
    )
    np.testing.assert_allclose(
        vote.predict_task_proba(X), evidence / evidence.sum(axis=1, keepdims=True)
    )


def test_gate_mode_vote_multiplies_gate_and_head(blobs):
    X, y = blobs
    vote = _vote(membership="gate", weights=[2.0, 1.0]).fit(X, y)
    gate = vote.gate_.predict_proba(X)
    assert vote.gate_.classes_.tolist() == [0, 1]
    joint = np.zeros((len(X), 5))
    for t, (weight, head) in enumerate(zip([2.0, 1.0], vote.estimators_, strict=True)):
        assert OTHER not in head.classes_  # heads learned their own task only
        joint[:, head.classes_] = weight * gate[:, [t]] * head.predict_proba(X)
    expected = joint / joint.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(vote.predict_proba(X), expected)
    task_expected = gate * [2.0, 1.0]
    task_expected /= task_expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(vote.predict_task_proba(X), task_expected)


@pytest.mark.parametrize(
    "tasks",
    [TASKS, {"numbers": "1234", "letters": "ABC"}],  # "4", "C" never in y
    ids=["all-labels-seen", "labels-absent-from-y"],
)
def test_label_gate_sums_its_label_probabilities_per_task(blobs, tasks):
    X, y = blobs
    vote = _vote(
        membership="gate",
        gate=LogisticRegression(max_iter=1000),
        gate_target="labels",
        weights=[2.0, 1.0],
        tasks=tasks,
    ).fit(X, y)
    classes = vote.classes_.tolist()
    # the gate learned the label codes of all images, not the task index
    gate_codes = [classes.index(label) for label in LABELS]
    assert vote.gate_.classes_.tolist() == gate_codes
    gate = vote.gate_.predict_proba(X)
    assert gate.shape == (len(X), 5)
    # by hand: 3 numbers then 2 letters among the gate's classes
    gate_task = np.column_stack([gate[:, :3].sum(axis=1), gate[:, 3:].sum(axis=1)])
    task_expected = gate_task * [2.0, 1.0]
    task_expected /= task_expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(vote.predict_task_proba(X), task_expected)
    joint = np.zeros((len(X), len(classes)))
    for t, (weight, head) in enumerate(zip([2.0, 1.0], vote.estimators_, strict=True)):
        joint[:, head.classes_] = weight * gate_task[:, [t]] * head.predict_proba(X)
    np.testing.assert_allclose(
        vote.predict_proba(X), joint / joint.sum(axis=1, keepdims=True)
    )
    # not the task gate's answer
    tasks_gate = clone(vote).set_params(gate_target="tasks").fit(X, y)
    assert tasks_gate.gate_.classes_.tolist() == [0, 1]
    assert not np.allclose(tasks_gate.predict_task_proba(X), task_expected)
    # the fitted gate_target counts, as for every parameter, until the next fit
    vote.set_params(gate_target="tasks")
    np.testing.assert_allclose(vote.predict_task_proba(X), task_expected)


@pytest.mark.parametrize("membership", ["other", "gate"])
def test_outputs_are_consistent(blobs, membership):
    X, y = blobs
    vote = _vote(membership=membership).fit(X, y)
    proba = vote.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(vote.predict(X), vote.classes_[proba.argmax(1)])
    task_proba = vote.predict_task_proba(X)
    assert vote.tasks_.tolist() == ["numbers", "letters"]
    assert vote.class_task_.tolist() == [0, 0, 0, 1, 1]
    np.testing.assert_allclose(task_proba[:, 0], proba[:, :3].sum(axis=1))
    np.testing.assert_array_equal(
        vote.predict_task(X), vote.tasks_[task_proba.argmax(1)]
    )
    assert vote.score(X, y) > 0.95


def test_weights_shift_the_share_of_a_task(blobs):
    X, y = blobs
    even = _vote().fit(X, y).predict_task_proba(X)[:, 1]
    more = _vote(weights=[1, 4]).fit(X, y).predict_task_proba(X)[:, 1]
    assert np.all(more >= even - 1e-12) and np.any(more > even + 0.01)
    # odds multiply by exactly the weight ratio
    np.testing.assert_allclose(more / (1 - more), 4 * even / (1 - even), rtol=1e-6)
    never = _vote(weights=[1, 0]).fit(X, y)
    assert set(never.predict(X)) <= {"1", "2", "3"}


def test_balanced_weights_undo_the_training_task_mix(blobs):
    X, y = blobs
    keep = np.r_[0:120, 120:200:4]  # 120 numbers, 20 letters
    vote = _vote(weights="balanced").fit(X[keep], y[keep])
    np.testing.assert_allclose(vote.weights_, [140 / (2 * 120), 140 / (2 * 20)])
    plain = _vote().fit(X[keep], y[keep])
    even, balanced = plain.predict_task_proba(X)[:, 1], vote.predict_task_proba(X)[:, 1]
    np.testing.assert_allclose(
        balanced / (1 - balanced), 6 * even / (1 - even), rtol=1e-6
    )


class _AlwaysOther(ClassifierMixin, BaseEstimator):
    """A head that puts all its probability on "other"."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        proba = np.zeros((len(X), self.classes_.size))
        proba[:, 0] = 1.0  # OTHER sorts first
        return proba


def test_rows_where_every_head_says_other_fall_back_to_task_weights(blobs):
    X, y = blobs
    vote = MultiTaskVotingClassifier(
        [("numbers", _AlwaysOther()), ("letters", _AlwaysOther())],
        tasks=TASKS,
        weights=[1, 3],
    ).fit(X, y)
    # w_t / |L_t|, normalised: 1/3 per number and 3/2 per letter
    expected = np.array([1 / 3, 1 / 3, 1 / 3, 3 / 2, 3 / 2]) / 4
    np.testing.assert_allclose(vote.predict_proba(X[:3]), np.tile(expected, (3, 1)))


# -- tasks ------------------------------------------------------------------


def test_tasks_callable_and_labels_absent_from_y(blobs):
    X, y = blobs
    by_kind = _vote(tasks=lambda label: "numbers" if label.isdigit() else "letters")
    by_kind.fit(X, y)
    assert by_kind.classes_.tolist() == LABELS.tolist()
    assert by_kind.class_task_.tolist() == [0, 0, 0, 1, 1]
    # a mapping may list labels y lacks: they get a column and probability 0
    wide = _vote(tasks={"numbers": "1234", "letters": "ABC"}).fit(X, y)
    assert wide.classes_.tolist() == ["1", "2", "3", "4", "A", "B", "C"]
    proba = wide.predict_proba(X)
    assert np.all(proba[:, [3, 6]] == 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_default_tasks_from_head_names():
    rng = np.random.RandomState(0)
    y = np.array(list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") * 3)
    X = rng.normal(size=(y.size, 3))
    vote = MultiTaskVotingClassifier(
        [("digits", DummyClassifier()), ("letters", DummyClassifier())]
    ).fit(X, y)
    assert vote.classes_[vote.class_task_ == 0].tolist() == list(
        DEFAULT_TASKS["digits"]
    )
    assert vote.classes_[vote.class_task_ == 1].tolist() == list(
        DEFAULT_TASKS["letters"]
    )


def test_default_tasks_split_the_labels_of_y_in_order():
    X = np.arange(14.0).reshape(7, 2)
    y = [3, 1, 2, 5, 4, 7, 6]
    vote = MultiTaskVotingClassifier(
        [("a", DummyClassifier()), ("b", DummyClassifier()), ("c", DummyClassifier())]
    ).fit(X, y)
    # 7 labels into 3 contiguous blocks: 3, 2, 2
    assert vote.class_task_.tolist() == [0, 0, 0, 1, 1, 2, 2]


def test_a_single_label_task_in_gate_mode_needs_no_head(blobs):
    X, y = blobs
    vote = _vote(membership="gate", tasks={"numbers": "123A", "letters": "B"})
    vote.fit(X, y)
    assert isinstance(vote.named_estimators_["letters"], DummyClassifier)
    assert isinstance(vote.named_estimators_["numbers"], LogisticRegression)
    assert vote.score(X, y) > 0.95


def test_drop_removes_the_task_and_its_images(blobs):
    X, y = blobs
    vote = _vote(weights=[1, 5]).set_params(letters="drop").fit(X, y)
    assert vote.classes_.tolist() == ["1", "2", "3"]
    assert vote.tasks_.tolist() == ["numbers"]
    assert vote.named_estimators_["letters"] == "drop"
    assert len(vote.estimators_) == 1
    # the head saw only the numbers' images, with no "other" to learn
    assert vote.estimators_[0].classes_.tolist() == [0, 1, 2]
    np.testing.assert_allclose(vote.predict_proba(X).sum(axis=1), 1.0)


# -- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "tasks, message",
    [
        (
            {"numbers": "123", "letters": "B"},
            "Labels in y that no task claims: 'A'. Add them to tasks or remove "
            "those samples.",
        ),
        (
            {"numbers": "123A", "letters": "AB"},
            "Labels must belong to one task only; claimed by several: 'A' by "
            "['numbers', 'letters'].",
        ),
        (
            {"numbers": "123", "letters": "AB", "extra": "Z"},
            "tasks must have one entry per estimator name ['numbers', 'letters']; "
            "unknown task names ['extra'].",
        ),
        (
            {"numbers": "123AB"},
            "tasks must have one entry per estimator name ['numbers', 'letters']; "
            "no labels for ['letters'].",
        ),
        (
            {"numbers": "123AB", "letters": "XY"},
            "Tasks without training samples: ['letters']; none of their labels "
            "occurs in y, so their heads cannot be fitted.",
        ),
    ],
)
def test_task_mapping_errors(blobs, tasks, message):
    X, y = blobs
    with pytest.raises(ValueError, match=re.escape(message)):
        _vote(tasks=tasks).fit(X, y)


def test_many_unclaimed_labels_are_listed_briefly():
    y = np.array([str(i) for i in range(14)] + ["a"])
    X = np.zeros((y.size, 1))
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Labels in y that no task claims: '0', '1', '10', '11', '12', '13', "
            "'2', '3', '4', '5' and 4 more."
        ),
    ):
        _vote(tasks={"numbers": "a", "letters": "b"}).fit(X, y)


def test_other_errors(blobs):
    X, y = blobs
    with pytest.raises(
        ValueError,
        match=re.escape(
            "weights must hold one number per estimator: got 3 weights "
            "for 2 estimators."
        ),  # fmt: skip
    ):
        _vote(weights=[1, 2, 3]).fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape("weights must be finite and non-negative; got [1.0, -1.0]."),
    ):
        _vote(weights=[1, -1]).fit(X, y)
    with pytest.raises(
        ValueError, match="weights of the active tasks must not all be zero."
    ):
        _vote(weights=[0, 0]).fit(X, y)
    with pytest.raises(ValueError, match="tasks=None needs either every head named"):
        MultiTaskVotingClassifier(
            [("digits", DummyClassifier()), ("other", DummyClassifier())]
        ).fit(X, y)
    with pytest.raises(
        ValueError,
        match=re.escape("tasks returned task names ['vowels'] that are not estimator"),
    ):
        _vote(tasks=lambda label: "vowels").fit(X, y)
    with pytest.raises(ValueError, match="All estimators are dropped"):
        _vote().set_params(numbers="drop", letters="drop").fit(X, y)
    with pytest.raises(ValueError, match="The 'membership' parameter"):
        _vote(membership="soft").fit(X, y)
    with pytest.raises(ValueError, match="The 'gate_target' parameter"):
        _vote(membership="gate", gate_target="shapes").fit(X, y)


# -- sklearn citizenship ----------------------------------------------------


def test_heads_are_cloned_never_mutated(blobs):
    X, y = blobs
    head = LogisticRegression()
    vote = MultiTaskVotingClassifier(
        [("numbers", head), ("letters", LogisticRegression())], tasks=TASKS
    ).fit(X, y)
    assert not hasattr(head, "coef_")
    assert vote.named_estimators_["numbers"] is not head
    assert vote.named_estimators_["numbers"] is vote.estimators_[0]


def test_nested_parameters(blobs):
    X, y = blobs
    vote = _vote(membership="gate", gate=LogisticRegression())
    params = vote.get_params()
    for key in ("numbers__C", "letters__C", "weights", "gate__C", "tasks"):
        assert key in params
    vote.set_params(numbers__C=0.01, gate__C=0.5, weights=[2, 1]).fit(X, y)
    assert vote.estimators_[0].C == 0.01
    assert vote.gate_.C == 0.5
    assert vote.weights_.tolist() == [2.0, 1.0]


@pytest.mark.slow  # more than a second
def test_parallel_fit_gives_the_same_model(blobs):
    X, y = blobs
    one = _vote(membership="gate").fit(X, y).predict_proba(X)
    two = _vote(membership="gate", n_jobs=2).fit(X, y).predict_proba(X)
    np.testing.assert_allclose(one, two)


class _WhereFitted(ClassifierMixin, BaseEstimator):
    """Records the process and the rows it was fitted on (a constant classifier)."""

    def fit(self, X, y):
        self.pid_, self.X_ = os.getpid(), np.asarray(X)
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), self.classes_.size), 1.0 / self.classes_.size)


@pytest.mark.parametrize("backend", [None, "loky"])
def test_parallel_fit_runs_in_threads_unless_told(blobs, backend):
    # threads share X (issue 16: no copy of the feature rows per worker
    # process); joblib's parallel_config still chooses processes
    X, y = blobs
    heads = [("numbers", _WhereFitted()), ("letters", _WhereFitted())]
    vote = MultiTaskVotingClassifier(
        heads, tasks=TASKS, membership="gate", gate=_WhereFitted(), n_jobs=2
    )
    chosen = nullcontext() if backend is None else joblib.parallel_config(backend)
    with chosen:
        vote.fit(X, y)
    fitted = [*vote.estimators_, vote.gate_]
    in_here = [est.pid_ == os.getpid() for est in fitted]
    assert in_here == [backend is None] * 3
    # each head saw exactly its task's rows, the gate all of them
    numbers = np.isin(y, list(TASKS["numbers"]))
    np.testing.assert_array_equal(fitted[0].X_, X[numbers])
    np.testing.assert_array_equal(fitted[1].X_, X[~numbers])
    np.testing.assert_array_equal(fitted[2].X_, X)


def test_verbose_prints_each_fit(blobs, capsys):
    X, y = blobs
    _vote(membership="gate", verbose=True).fit(X, y)
    out = capsys.readouterr().out
    for text in ("(1 of 3) fitted numbers", "(2 of 3) fitted letters",
                 "(3 of 3) fitted gate"):  # fmt: skip
        assert text in out


@pytest.mark.slow  # more than a second
def test_cross_val_and_grid_search(blobs):
    X, y = blobs
    scores = cross_val_score(_vote(), X, y, cv=3)
    assert scores.mean() > 0.9
    grid = GridSearchCV(
        _vote(), {"weights": [[1, 1], [1, 0.01]], "numbers__C": [0.01, 1.0]}, cv=3
    ).fit(X, y)
    assert grid.best_params_["weights"] == [1, 1]
    assert grid.best_estimator_.estimators_[0].C == grid.best_params_["numbers__C"]


@pytest.mark.slow  # more than a second
def test_grid_search_over_gate_target(blobs):
    X, y = blobs
    grid = GridSearchCV(
        _vote(membership="gate", gate=LogisticRegression(max_iter=1000)),
        {"gate_target": ["tasks", "labels"], "weights": [[1, 1], [1, 2]]},
        cv=3,
    ).fit(X, y)
    assert list(grid.cv_results_["param_gate_target"]) == ["tasks"] * 2 + ["labels"] * 2
    assert np.all(grid.cv_results_["mean_test_score"] > 0.9)
    best = grid.best_estimator_
    assert best.gate_target == grid.best_params_["gate_target"]
    n_gate_classes = {"tasks": 2, "labels": 5}[best.gate_target]
    assert best.gate_.classes_.size == n_gate_classes
    for target, size in (("tasks", 2), ("labels", 5)):
        refit = clone(best).set_params(gate_target=target).fit(X, y)
        assert refit.gate_.classes_.size == size


@pytest.mark.parametrize("membership", ["other", "gate"])
def test_pickle_and_joblib_round_trips(blobs, tmp_path, membership):
    X, y = blobs
    vote = _vote(membership=membership).fit(X, y)
    expected = vote.predict_proba(X)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(vote)).predict_proba(X), expected
    )
    joblib.dump(vote, tmp_path / "vote.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "vote.joblib").predict_proba(X), expected
    )
    assert clone(vote).get_params()["tasks"] == TASKS


def test_heads_may_be_whole_pipelines_on_raw_input():
    # X is a 3-D batch of images: the vote passes it on untouched
    rng = np.random.RandomState(0)
    y = np.repeat(LABELS, 8)
    X = rng.normal(size=(y.size, 4, 4)) + np.searchsorted(LABELS, y)[:, None, None]
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    flat = FunctionTransformer(lambda images: images.reshape(len(images), -1))
    vote = MultiTaskVotingClassifier(
        [
            ("numbers", make_pipeline(flat, LogisticRegression())),
            ("letters", make_pipeline(flat, LogisticRegression())),
        ],  # fmt: skip
        tasks=TASKS,
        membership="gate",
        gate=make_pipeline(flat, LogisticRegression()),
    ).fit(X, y)
    assert vote.score(X, y) > 0.9


def _skewed_blobs():
    """300 "numbers" rows ("1", "2") beside 40 "letters" rows ("A", "B")."""
    rng = np.random.RandomState(0)
    labels = np.array(["1"] * 150 + ["2"] * 150 + ["A"] * 20 + ["B"] * 20)
    centres = {"1": (0, 0), "2": (0, 6), "A": (6, 0), "B": (6, 6)}
    X = np.array([centres[label] for label in labels]) + rng.normal(size=(340, 2))
    return X, labels


def test_balanced_weights_undo_the_mix_a_capped_gate_saw():
    # 300 "numbers" rows beside 40 "letters" rows; the gate keeps 50 per task,
    # so its P(task | x) carries a 50:40 prior, not y's 300:40
    X, labels = _skewed_blobs()
    vote = MultiTaskVotingClassifier(
        [("numbers", LogisticRegression()), ("letters", LogisticRegression())],
        tasks={"numbers": "12", "letters": "AB"},
        membership="gate",
        gate=DigitClassifier(max_samples_per_class=50, random_state=0),
        weights="balanced",
    ).fit(X, labels)
    np.testing.assert_allclose(vote.gate_.class_count_, [50, 40])
    np.testing.assert_allclose(vote.weights_, [90 / 100, 90 / 80])
    # without a cap the mix undone is y's
    vote.set_params(gate=DigitClassifier(random_state=0)).fit(X, labels)
    np.testing.assert_allclose(vote.weights_, [340 / 600, 340 / 80])


def test_balanced_weights_undo_the_mix_a_capped_label_gate_saw():
    # 300 "numbers" rows beside 40 "letters" rows; a label gate keeps 50 per
    # label, so its P(task | x) carries a (50 + 50):(20 + 20) prior, neither
    # y's 300:40 nor the 50:40 of a capped task gate
    X, labels = _skewed_blobs()
    vote = MultiTaskVotingClassifier(
        [("numbers", LogisticRegression()), ("letters", LogisticRegression())],
        tasks={"numbers": "12", "letters": "AB"},
        membership="gate",
        gate=DigitClassifier(max_samples_per_class=50, random_state=0),
        gate_target="labels",
        weights="balanced",
    ).fit(X, labels)
    np.testing.assert_allclose(vote.gate_.class_count_, [50, 50, 20, 20])
    np.testing.assert_allclose(vote.weights_, [140 / 200, 140 / 80])
    # the weights cancel the gate's task mix: equal task priors
    seen = np.array([100, 40])
    np.testing.assert_allclose(vote.weights_ * seen, [70, 70])
    # the vote's task share is the gate's summed share reweighted by them
    gate = vote.gate_.predict_proba(X)
    share = np.column_stack([gate[:, :2].sum(1), gate[:, 2:].sum(1)]) * vote.weights_
    np.testing.assert_allclose(
        vote.predict_task_proba(X), share / share.sum(axis=1, keepdims=True)
    )
    # without a cap the mix undone is y's
    vote.set_params(gate=DigitClassifier(random_state=0)).fit(X, labels)
    np.testing.assert_allclose(vote.gate_.class_count_, [150, 150, 20, 20])
    np.testing.assert_allclose(vote.weights_, [340 / 600, 340 / 80])


@pytest.mark.slow  # more than a second
def test_threaded_vote_of_forests_is_bitwise_reproducible():
    # forest heads with n_jobs=2 inside a vote whose heads run in threads: the
    # same input gives the same bits on every call and for any n_jobs
    X, codes = make_classification(n_samples=1200, n_features=30, n_informative=8,
                                   n_classes=5, flip_y=0.2, random_state=0)  # fmt: skip
    y = LABELS[codes]
    forest = LetterClassifier(n_estimators=50, min_samples_leaf=3, n_jobs=2)
    heads = [("numbers", forest), ("letters", clone(forest))]
    vote = MultiTaskVotingClassifier(heads, tasks=TASKS, n_jobs=2)
    vote.set_params(numbers__random_state=0, letters__random_state=1)
    vote.fit(X[:600], y[:600])
    X_test = X[600:]
    first = vote.predict_proba(X_test)
    for _ in range(10):
        assert np.array_equal(vote.predict_proba(X_test), first)
    vote.set_params(n_jobs=1)
    for head in vote.estimators_:
        head.set_params(n_jobs=1)
    assert np.array_equal(vote.predict_proba(X_test), first)


# -- columns: the gate and the heads may see different features ---------------


@pytest.mark.parametrize(
    ("gate_columns", "head_columns"),
    [([2], None), (slice(2, None), slice(0, 2)), (np.array([-1]), [0, 1])],
)
def test_gate_and_heads_see_their_own_columns(blobs, gate_columns, head_columns):
    X, y = blobs
    # a third column that tells the tasks apart perfectly, beside the blobs
    task_column = np.isin(y, list("AB")).astype(float)[:, None]
    X3 = np.hstack([X, task_column])
    vote = _vote(
        membership="gate", gate_columns=gate_columns, head_columns=head_columns
    ).fit(X3, y)
    gate_X = X3[:, [2]]
    head_X = X3 if head_columns is None else X3[:, head_columns]
    assert vote.gate_.n_features_in_ == 1
    assert vote.estimators_[0].n_features_in_ == head_X.shape[1]
    assert vote.n_features_in_ == 3
    gate = vote.gate_.predict_proba(gate_X)
    joint = np.zeros((len(X3), 5))
    for t, head in enumerate(vote.estimators_):
        joint[:, head.classes_] = gate[:, [t]] * head.predict_proba(head_X)
    np.testing.assert_allclose(
        vote.predict_proba(X3), joint / joint.sum(axis=1, keepdims=True)
    )


def test_a_gate_on_the_wrong_column_routes_worse(blobs):
    X, y = blobs
    noise = np.random.RandomState(1).normal(size=(len(X), 1))
    X3 = np.hstack([X, noise])
    informed = _vote(membership="gate", gate_columns=[0, 1]).fit(X3, y)
    blind = _vote(membership="gate", gate_columns=[2]).fit(X3, y)
    assert informed.score(X3, y) > 0.95
    assert blind.score(X3, y) < 0.8


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"gate_columns": [5]}, "gate_columns holds column indices outside X's 2"),
        ({"gate_columns": slice(4, None)}, "gate_columns selects no column of X's 2"),
        ({"head_columns": [0.5]}, "head_columns must be None, a slice or"),
        ({"head_columns": []}, "head_columns must be None, a slice or"),
    ],
)
def test_columns_that_do_not_fit_x_are_named(blobs, params, message):
    X, y = blobs
    with pytest.raises(ValueError, match=re.escape(message)):
        _vote(membership="gate", **params).fit(X, y)


# -- labels as users have them ------------------------------------------------


def test_integer_labels_outside_the_tasks_are_named_as_strings(blobs):
    X, y = blobs
    # integers are read as the tasks' string labels: 1-3 are claimed, 7 is not
    integers = np.where(np.isin(y, ["1", "2", "3"]), y, "7").astype(int)
    numbers = MultiTaskVotingClassifier(
        [("numbers", LogisticRegression())], tasks={"numbers": "123"}
    )
    with pytest.raises(ValueError, match="^Labels in y that no task claims: '7'"):
        numbers.fit(X, integers)
    kept = integers != 7
    fitted = numbers.fit(X[kept], integers[kept])
    assert fitted.classes_.tolist() == ["1", "2", "3"]


def test_integer_digits_train_the_default_digit_task():
    rng = np.random.RandomState(0)
    letters = np.array(list("ABC") * 20)
    digits = np.arange(60) % 10  # integers, as load_idx gives MNIST's
    X = rng.normal(size=(120, 3))
    y_int = np.concatenate([digits.astype(object), letters.astype(object)])
    y_str = np.concatenate([digits.astype(str), letters])
    heads = [("digits", DummyClassifier()), ("letters", DummyClassifier())]
    with pytest.raises(TypeError, match="^y mixes strings and numbers"):
        MultiTaskVotingClassifier(heads).fit(X, y_int)
    only_digits = MultiTaskVotingClassifier(
        [("digits", DummyClassifier())], tasks={"digits": DEFAULT_TASKS["digits"]}
    )
    from_int = clone(only_digits).fit(X[:60], digits)
    from_str = clone(only_digits).fit(X[:60], y_str[:60])
    assert from_int.classes_.tolist() == list("0123456789")  # strings, documented
    np.testing.assert_array_equal(from_int.predict(X), from_str.predict(X))
    assert from_int.score(X[:60], digits) == from_str.score(X[:60], y_str[:60])
    assert from_int.score(X[:60], list(digits)) == from_int.score(X[:60], y_str[:60])


@pytest.mark.parametrize(
    "y, error, message",
    [
        (
            ["1"] * 100 + [2] + ["A"] * 99,
            TypeError,
            "y mixes strings and numbers: '1' at index 0 and 2 at index 100; give "
            "every label as a string (for example y.astype(str)) or every one as a "
            "number.",
        ),
        (
            np.array([np.int64(3)] + ["B"] * 199, dtype=object),
            TypeError,
            "y mixes strings and numbers: 'B' at index 1 and 3 at index 0; give "
            "every label as a string (for example y.astype(str)) or every one as a "
            "number.",
        ),
        (
            ["1"] * 50 + [None, None] + ["A"] * 148,
            ValueError,
            "y holds None at 2 position(s), the first at index 50; every sample "
            "needs a label.",
        ),
    ],
)
def test_mixed_and_missing_labels_are_named_in_one_line(blobs, y, error, message):
    X, _ = blobs
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        _vote().fit(X, y)
