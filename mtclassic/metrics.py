"""Task metrics: which task a label belongs to, per-task accuracy, routing error.

A multi-task model first routes an image to a task (digits or letters) and
then names a label of that task. These functions score both steps from the
labels alone, so they work for any classifier over the 36 labels:

- :func:`model_tasks`, :func:`fitted_tasks`, :func:`default_tasks`: the
  tasks of a fitted model (its own, or its labels grouped into digits and
  letters), as a task -> labels dict every other function takes;
- :func:`task_of`: the task of every label;
- :func:`per_task_accuracy`: accuracy on the images of each task;
- :func:`routing_error`: the images sent to the wrong task, split into the
  fixed look-alike pairs (:data:`LOOKALIKE_PAIRS`) and the rest;
- :func:`worst_confusions` and :func:`cross_task_confusions`: the most frequent
  mistakes;
- :func:`task_scores`: all of the above for one test set;
  :func:`task_accuracy`: the per-task and combined accuracy and the routing
  error, for labels of any task (those of no task score apart).

The report of ``mtclassic evaluate``, the demo, the figures of
:mod:`mtclassic.plotting`, the model metadata of :mod:`mtclassic.persistence`
and the benchmarks all ask here.
"""

import numpy as np

from .multitask import DEFAULT_TASKS

__all__ = [
    "LOOKALIKE_PAIRS",
    "cross_task_confusions",
    "is_lookalike",
    "per_task_accuracy",
    "routing_error",
    "task_of",
    "task_scores",
    "worst_confusions",
]

#: Digit/letter pairs whose handwritten glyphs coincide once letter case is
#: merged (l and I are a bar like 1, g and q a loop with a tail like 9, b a
#: 6 ...). Fixed before any result was seen (issue 12), not chosen after a run:
#: a routing error between them is a floor that no classifier removes from
#: the pixels alone. Order within a pair does not matter.
LOOKALIKE_PAIRS = (
    ("1", "I"), ("1", "L"), ("1", "J"), ("1", "T"),
    ("0", "O"), ("0", "D"), ("0", "Q"), ("0", "U"),
    ("9", "G"), ("9", "Q"), ("9", "A"),
    ("2", "Z"), ("5", "S"), ("6", "B"), ("6", "G"), ("8", "B"),
    ("4", "A"), ("7", "T"), ("3", "B"),
)  # fmt: skip

_MAX_LISTED = 10  # labels named in an error message


def _labels(y, name):
    """``y`` as a 1-D array of str, or a ValueError naming the argument."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of labels; got an array of shape {y.shape}."
        )
    return y.astype(str)


def _pair(y_true, y_pred):
    y_true = _labels(y_true, "y_true")
    y_pred = _labels(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred must have the same length; got {len(y_true)} "
            f"and {len(y_pred)}."
        )
    return y_true, y_pred


def _task_names(tasks):
    tasks = DEFAULT_TASKS if tasks is None else tasks
    if not isinstance(tasks, dict) or not tasks:
        raise TypeError(
            f"tasks must be a non-empty dict of task name -> labels; got {tasks!r}."
        )
    return {
        str(name): [str(label) for label in labels] for name, labels in tasks.items()
    }


def task_of(labels, *, tasks=None):
    """The task of every label.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Labels, e.g. ``'0'..'9'`` and ``'A'..'Z'`` (compared as str).
    tasks : dict of str to list, default=None
        Task name -> its labels; :data:`~mtclassic.multitask.DEFAULT_TASKS`
        (digits and letters) when None.

    Returns
    -------
    task : ndarray of str, shape (n_samples,)
        The name of each label's task.

    Raises
    ------
    ValueError
        If a label belongs to no task.

    Examples
    --------
    >>> from mtclassic.metrics import task_of
    >>> task_of(["7", "Q", "0"]).tolist()
    ['digits', 'letters', 'digits']
    """
    labels = _labels(labels, "labels")
    tasks = _task_names(tasks)
    # one lookup per distinct label, then broadcast back (no per-image loop)
    distinct, inverse = np.unique(labels, return_inverse=True)
    owner = {label: name for name, members in tasks.items() for label in members}
    unknown = [label for label in distinct.tolist() if label not in owner]
    if unknown:
        shown = ", ".join(repr(label) for label in unknown[:_MAX_LISTED])
        raise ValueError(
            f"labels: {len(unknown)} label(s) belong to no task of "
            f"{sorted(tasks)}: {shown}."
        )
    names = np.array([owner[label] for label in distinct.tolist()], dtype=str)
    return names[inverse].reshape(-1) if len(labels) else np.array([], dtype=str)


def is_lookalike(y_true, y_pred, *, pairs=LOOKALIKE_PAIRS):
    """Whether each (true, predicted) pair of labels is a look-alike pair.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    pairs : sequence of (str, str), default=LOOKALIKE_PAIRS
        The look-alike pairs, in either order.

    Returns
    -------
    lookalike : ndarray of bool, shape (n_samples,)

    Examples
    --------
    >>> from mtclassic.metrics import is_lookalike
    >>> is_lookalike(["0", "O", "0", "7"], ["O", "0", "A", "7"]).tolist()
    [True, True, False, False]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    known = {(str(a), str(b)) for a, b in pairs} | {(str(b), str(a)) for a, b in pairs}
    if not len(y_true):
        return np.zeros(0, dtype=bool)
    # judge each distinct pair once
    distinct, inverse = np.unique(
        np.stack([y_true, y_pred], axis=1), axis=0, return_inverse=True
    )
    flags = np.array([(t, p) in known for t, p in distinct.tolist()], dtype=bool)
    return flags[inverse.reshape(-1)]


def per_task_accuracy(y_true, y_pred, *, tasks=None):
    """Accuracy on the images of each task (the task of the true label).

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    tasks : dict of str to list, default=None
        Task name -> its labels; digits and letters when None.

    Returns
    -------
    accuracy : dict
        Task name -> ``{'accuracy', 'n_samples'}``, for every task that has
        images.

    Examples
    --------
    >>> from mtclassic.metrics import per_task_accuracy
    >>> per_task_accuracy(["0", "1", "A", "B"], ["0", "A", "A", "A"])
    {'digits': {'accuracy': 0.5, 'n_samples': 2}, 'letters': {'accuracy': 0.5, 'n_samples': 2}}
    """
    y_true, y_pred = _pair(y_true, y_pred)
    true_task = task_of(y_true, tasks=tasks)
    correct = y_true == y_pred
    return {
        name: {
            "accuracy": float(correct[true_task == name].mean()),
            "n_samples": int(np.sum(true_task == name)),
        }
        for name in _task_names(tasks)
        if np.any(true_task == name)
    }


def routing_error(y_true, y_pred, *, tasks=None, pairs=LOOKALIKE_PAIRS):
    """The share of images sent to another task, look-alike pairs apart.

    An image is misrouted when the task of its predicted label differs from
    the task of its true label. It is misrouted *outside the pairs* when,
    besides, (true, predicted) is not a look-alike pair.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    tasks : dict of str to list, default=None
        Task name -> its labels; digits and letters when None.
    pairs : sequence of (str, str), default=LOOKALIKE_PAIRS
        The look-alike pairs, in either order.

    Returns
    -------
    routing : dict
        ``'total'``: share of images misrouted (look-alikes included);
        ``'outside_pairs'``: share misrouted outside the pairs;
        ``'within_pairs'``: share misrouted between look-alikes (the two sum
        to ``'total'``); ``'by_direction'``: ``'<true task>-><predicted
        task>'`` -> count of misrouted images; ``'n_samples'``.
        Shares are 0.0 when there are no images.

    Examples
    --------
    >>> from mtclassic.metrics import routing_error
    >>> routing = routing_error(["0", "0", "1", "E"], ["O", "0", "7", "3"])
    >>> routing["total"], routing["outside_pairs"], routing["within_pairs"]
    (0.5, 0.25, 0.25)
    >>> routing["by_direction"]
    {'digits->letters': 1, 'letters->digits': 1}
    """
    y_true, y_pred = _pair(y_true, y_pred)
    true_task = task_of(y_true, tasks=tasks)
    pred_task = task_of(y_pred, tasks=tasks)
    misrouted = true_task != pred_task
    lookalike = is_lookalike(y_true, y_pred, pairs=pairs)
    directions, counts = np.unique(
        np.char.add(np.char.add(true_task[misrouted], "->"), pred_task[misrouted]),
        return_counts=True,
    )
    n = len(y_true)
    return {
        "total": float(misrouted.sum() / n) if n else 0.0,
        "outside_pairs": float((misrouted & ~lookalike).sum() / n) if n else 0.0,
        "within_pairs": float((misrouted & lookalike).sum() / n) if n else 0.0,
        "by_direction": dict(
            zip(directions.tolist(), (int(c) for c in counts), strict=True)
        ),
        "n_samples": n,
    }


def worst_confusions(y_true, y_pred, *, tasks=None, n=10):
    """The most frequent (true, predicted) pairs among the mistakes.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
        True and predicted labels.
    tasks : dict of str to list, default=None
        Task name -> its labels, to mark cross-task confusions; digits and
        letters when None. Labels of no task count as a task of their own.
    n : int or None, default=10
        Most pairs to return; None for all.

    Returns
    -------
    confusions : list of dict
        ``true``, ``pred``, ``count``, ``rate`` (share of that true label's
        images) and ``cross_task``, most frequent first (ties in label order).

    Examples
    --------
    >>> from mtclassic.metrics import worst_confusions
    >>> worst_confusions(["0", "0", "O", "1"], ["O", "O", "O", "7"],
    ...                  tasks={"digits": ["0", "1", "7"], "letters": ["O"]})
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'true': '0', 'pred': 'O', 'count': 2, 'rate': 1.0, 'cross_task': True},
     {'true': '1', 'pred': '7', 'count': 1, 'rate': 1.0, 'cross_task': False}]
    """
    y_true, y_pred = _pair(y_true, y_pred)
    owner = {
        label: name for name, labels in _task_names(tasks).items() for label in labels
    }
    wrong = y_true != y_pred
    if not wrong.any():
        return []
    pairs, counts = np.unique(
        np.stack([y_true[wrong], y_pred[wrong]], axis=1), axis=0, return_counts=True
    )
    true_labels, true_counts = np.unique(y_true, return_counts=True)
    n_true = dict(zip(true_labels.tolist(), true_counts.tolist(), strict=True))
    order = np.argsort(-counts, kind="stable")[:n]
    return [
        {
            "true": str(pairs[i, 0]),
            "pred": str(pairs[i, 1]),
            "count": int(counts[i]),
            "rate": float(counts[i] / n_true[pairs[i, 0]]),
            "cross_task": owner.get(pairs[i, 0]) != owner.get(pairs[i, 1]),
        }
        for i in order
    ]


def cross_task_confusions(y_true, y_pred, *, tasks=None, pairs=LOOKALIKE_PAIRS, n=10):
    """The most frequent confusions between tasks, look-alike pairs marked.

    Parameters
    ----------
    y_true, y_pred, tasks, pairs
        As in :func:`routing_error`.
    n : int or None, default=10
        Most pairs to return; None for all.

    Returns
    -------
    confusions : list of dict
        As :func:`worst_confusions`, cross-task ones only, each with
        ``lookalike`` (bool).

    Examples
    --------
    >>> from mtclassic.metrics import cross_task_confusions
    >>> cross_task_confusions(["0", "0", "3", "1"], ["O", "O", "E", "7"])
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'true': '0', 'pred': 'O', 'count': 2, 'rate': 1.0, 'cross_task': True,
      'lookalike': True},
     {'true': '3', 'pred': 'E', 'count': 1, 'rate': 1.0, 'cross_task': True,
      'lookalike': False}]
    """
    cross = [
        c
        for c in worst_confusions(y_true, y_pred, tasks=tasks, n=None)
        if c["cross_task"]
    ][:n]
    if not cross:
        return []
    flags = is_lookalike(
        [c["true"] for c in cross], [c["pred"] for c in cross], pairs=pairs
    )
    return [{**c, "lookalike": bool(f)} for c, f in zip(cross, flags, strict=True)]


def task_scores(y_true, y_pred, *, tasks=None, pairs=LOOKALIKE_PAIRS, n_confusions=10):
    """Accuracy, per-task accuracy, routing error and cross-task confusions.

    Parameters
    ----------
    y_true, y_pred, tasks, pairs
        As in :func:`routing_error`.
    n_confusions : int or None, default=10
        Most cross-task confusions to list; None for all.

    Returns
    -------
    scores : dict
        ``'accuracy'``, ``'n_samples'``, ``'tasks'`` (:func:`per_task_accuracy`),
        ``'routing'`` (:func:`routing_error`) and ``'cross_task_confusions'``
        (:func:`cross_task_confusions`).

    Examples
    --------
    >>> from mtclassic.metrics import task_scores
    >>> scores = task_scores(["0", "1", "A", "S"], ["0", "I", "A", "5"])
    >>> scores["accuracy"], scores["routing"]["total"], scores["routing"]["outside_pairs"]
    (0.5, 0.5, 0.0)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return {
        "accuracy": float(np.mean(y_true == y_pred)) if len(y_true) else 0.0,
        "n_samples": len(y_true),
        "tasks": per_task_accuracy(y_true, y_pred, tasks=tasks),
        "routing": routing_error(y_true, y_pred, tasks=tasks, pairs=pairs),
        "cross_task_confusions": cross_task_confusions(
            y_true, y_pred, tasks=tasks, pairs=pairs, n=n_confusions
        ),
    }


def default_tasks(labels):
    """Group character labels into the tasks ``'digits'`` and ``'letters'``.

    Parameters
    ----------
    labels : sequence of str
        Character labels such as ``'0'``..``'9'`` and ``'A'``..``'Z'``.

    Returns
    -------
    tasks : dict of str to list of str
        ``{'digits': [...], 'letters': [...]}``, sorted, without empty tasks;
        labels that are neither digits nor letters are left out.

    Examples
    --------
    >>> from mtclassic.metrics import default_tasks
    >>> default_tasks(["B", "1", "A", "0"])
    {'digits': ['0', '1'], 'letters': ['A', 'B']}
    """
    labels = sorted({str(label) for label in labels})
    tasks = {
        "digits": [label for label in labels if label.isdigit()],
        "letters": [label for label in labels if label.isalpha()],
    }
    return {task: members for task, members in tasks.items() if members}


def check_tasks(tasks, labels):
    """A task -> labels mapping, checked: each label belongs to one task.

    Parameters
    ----------
    tasks : dict of str to list, or None
        Task name -> its labels; None groups ``labels`` with
        :func:`default_tasks`.
    labels : sequence of str
        The labels to group when ``tasks`` is None.

    Returns
    -------
    tasks : dict of str to list

    Examples
    --------
    >>> from mtclassic.metrics import check_tasks
    >>> check_tasks(None, ["7", "Q"])
    {'digits': ['7'], 'letters': ['Q']}
    >>> check_tasks({"x": ["A"], "y": ["A"]}, [])
    Traceback (most recent call last):
    ...
    ValueError: tasks claims label 'A' twice: in 'x' and in 'y'; each label belongs to one task.
    """
    if tasks is None:
        return default_tasks(labels)
    if not isinstance(tasks, dict):
        raise TypeError(
            "tasks must be a dict mapping each task name to its labels; got "
            f"{type(tasks).__name__}."
        )
    owner = {}
    for task, members in tasks.items():
        for label in members:
            if label in owner:
                raise ValueError(
                    f"tasks claims label {label!r} twice: in {owner[label]!r} and "
                    f"in {task!r}; each label belongs to one task."
                )
            owner[label] = task
    return {task: list(members) for task, members in tasks.items()}


def fitted_tasks(model):
    """The own tasks of a fitted multi-task model, or None.

    A :class:`~mtclassic.multitask.MultiTaskVotingClassifier`, alone or as
    the last step of a pipeline, names its tasks in ``tasks_`` and the task
    of each class in ``class_task_``; other classifiers have no tasks.

    Parameters
    ----------
    model : fitted classifier or Pipeline

    Returns
    -------
    tasks : dict of str to list of str, or None
        Task name -> its classes, in the model's task order.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from mtclassic.metrics import fitted_tasks
    >>> print(fitted_tasks(DummyClassifier().fit([[0], [1]], ["7", "Q"])))
    None
    """
    steps = getattr(model, "steps", None)
    final = steps[-1][1] if steps else model
    tasks = getattr(final, "tasks_", None)
    class_task = getattr(final, "class_task_", None)
    if tasks is None or class_task is None:
        return None
    classes = np.asarray(final.classes_)
    return {
        str(task): [str(label) for label in classes[np.asarray(class_task) == i]]
        for i, task in enumerate(tasks)
    }


def model_tasks(model, labels=None):
    """The task -> labels mapping of a fitted classifier.

    For a multi-task model (a :class:`~mtclassic.MultiTaskVotingClassifier`,
    or a pipeline ending in one) its own tasks (:func:`fitted_tasks`); for
    any other classifier the labels grouped into digits and letters
    (:func:`default_tasks`).

    Parameters
    ----------
    model : fitted classifier or Pipeline
        The model.
    labels : sequence of str, default=None
        Labels to group when the model has no tasks; ``model.classes_`` when
        None.

    Returns
    -------
    tasks : dict of str to list of str

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> from mtclassic.metrics import model_tasks
    >>> model = DummyClassifier().fit([[0], [1]], ["7", "Q"])
    >>> model_tasks(model)
    {'digits': ['7'], 'letters': ['Q']}
    """
    tasks = fitted_tasks(model)
    if tasks is not None:
        return tasks
    return default_tasks(model.classes_ if labels is None else labels)


# The task of the labels that no task claims, in task_accuracy.
_NO_TASK = "\x00no task"


def task_accuracy(y_true, y_pred, *, tasks=None):
    """Accuracy on each task's images, over all images, and the routing error.

    Unlike :func:`task_scores`, labels of no task are allowed: they form one
    unnamed task, left out of the per-task scores.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    tasks : dict of str to list, default=None
        Task name -> its labels; ``'digits'`` and ``'letters'`` when None.

    Returns
    -------
    scores : dict
        ``'tasks'``: task -> ``{'accuracy', 'n_samples'}`` for every task with
        images (an image belongs to the task of its true label);
        ``'accuracy'``: accuracy over all images; ``'routing_error'``: the
        fraction of images whose prediction belongs to another task than their
        true label.

    Examples
    --------
    >>> from mtclassic.metrics import task_accuracy
    >>> scores = task_accuracy(["0", "1", "A", "B"], ["0", "A", "A", "A"])
    >>> scores["tasks"]["digits"], scores["accuracy"], scores["routing_error"]
    ({'accuracy': 0.5, 'n_samples': 2}, 0.5, 0.25)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if not len(y_true):
        raise ValueError("y_true and y_pred are empty; at least one label is needed.")
    labels = np.unique(np.concatenate([y_true, y_pred]))
    tasks = check_tasks(tasks, labels)
    # labels of no task share one unnamed task, left out of the per-task
    # scores: an image is misrouted only between named tasks and "none"
    claimed = {str(label) for members in tasks.values() for label in members}
    tasks = {
        str(task): [str(label) for label in members] for task, members in tasks.items()
    }
    tasks[_NO_TASK] = sorted(set(labels.tolist()) - claimed)
    per_task = per_task_accuracy(y_true, y_pred, tasks=tasks)
    per_task.pop(_NO_TASK, None)
    return {
        "tasks": per_task,
        "accuracy": float(np.mean(y_true == y_pred)),
        "routing_error": routing_error(y_true, y_pred, tasks=tasks)["total"],
    }
