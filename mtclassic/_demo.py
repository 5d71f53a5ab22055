"""``mtclassic demo``: the default model on the embedded synthetic characters.

Runs offline: generates digits and letters with
:func:`mtclassic.datasets.make_characters`, fits
:func:`mtclassic.models.make_default_model` and prints what it got right.
"""

import time

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["run_demo", "task_report"]


def task_report(y_true, y_pred, class_task, classes, tasks):
    """Per-task accuracy, combined accuracy and task-routing error.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels, all of them in ``classes``.
    class_task : array-like of shape (n_classes,)
        Index into ``tasks`` of the task owning each class (a fitted
        :class:`~mtclassic.multitask.MultiTaskVotingClassifier`'s
        ``class_task_``).
    classes : array-like of shape (n_classes,)
        The sorted labels (``classes_``).
    tasks : array-like of shape (n_tasks,)
        Task names (``tasks_``).

    Returns
    -------
    report : dict
        ``"accuracy"`` (combined), ``"routing_error"`` (share of images whose
        predicted label belongs to another task than the true one), and
        ``"tasks"``: per task name, ``"n"`` and ``"accuracy"``.

    Examples
    --------
    >>> task_report(["1", "A", "B"], ["1", "B", "8"], [0, 0, 1, 1],
    ...             ["1", "8", "A", "B"], ["digits", "letters"])["routing_error"]
    0.3333333333333333
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    classes, class_task = np.asarray(classes), np.asarray(class_task)
    true_task = class_task[np.searchsorted(classes, y_true)]
    pred_task = class_task[np.searchsorted(classes, y_pred)]
    correct = y_true == y_pred
    per_task = {}
    for index, name in enumerate(tasks):
        mine = true_task == index
        per_task[str(name)] = {
            "n": int(mine.sum()),
            "accuracy": float(correct[mine].mean()) if mine.any() else float("nan"),
        }
    return {
        "accuracy": float(correct.mean()),
        "routing_error": float(np.mean(true_task != pred_task)),
        "tasks": per_task,
    }


def run_demo(n_train=6000, n_test=2000, random_state=0, n_jobs=None):
    """Generate, fit, score and print; return the exit status (0).

    Parameters
    ----------
    n_train, n_test : int, default=6000, 2000
        Generated training and test images (36 balanced classes).
    random_state : int or None, default=0
        Seeds the data and the model.
    n_jobs : int, default=None
        Parallel jobs of the model.

    Returns
    -------
    status : int
        0.
    """
    from .datasets import make_characters
    from .models import make_default_model

    for name, value in (("--n-train", n_train), ("--n-test", n_test)):
        if value < 1:
            raise SystemExit(f"mtclassic demo: {name} must be >= 1; got {value}.")
    rng = check_random_state(random_state)
    train_seed, test_seed, model_seed = rng.randint(2**31 - 1, size=3)
    started = time.perf_counter()
    X_train, y_train = make_characters(n_train, random_state=train_seed)
    X_test, y_test = make_characters(n_test, random_state=test_seed)
    generated = time.perf_counter()
    model = make_default_model(random_state=int(model_seed), n_jobs=n_jobs)
    model.fit(X_train, y_train)
    fitted = time.perf_counter()
    y_pred = model.predict(X_test)
    predicted = time.perf_counter()

    vote = model.named_steps["vote"]
    report = task_report(y_test, y_pred, vote.class_task_, vote.classes_, vote.tasks_)
    print(
        f"mtclassic demo: default model on synthetic characters "
        f"({n_train} training, {n_test} test images, seed {random_state})"
    )
    for name, figures in report["tasks"].items():
        print(
            f"  {name + ' accuracy':<22}{figures['accuracy']:8.2%}  ({figures['n']} images)"
        )
    print(
        f"  {'combined accuracy':<22}{report['accuracy']:8.2%}  ({len(y_test)} labels)"
    )
    print(f"  {'task-routing error':<22}{report['routing_error']:8.2%}")
    print(
        f"  time: generate {generated - started:.1f} s, fit {fitted - generated:.1f} s, "
        f"predict {predicted - fitted:.2f} s "
        f"({len(y_test) / max(predicted - fitted, 1e-9):,.0f} images/s), "
        f"total {predicted - started:.1f} s"
    )
    return 0
