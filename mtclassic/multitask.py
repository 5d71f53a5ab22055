"""MultiTaskVotingClassifier: one classifier over the union of disjoint label sets.

scikit-learn's ``VotingClassifier`` needs every estimator to know every class.
Here each head knows only its own task's labels (digits, letters, ...), and the
vote also estimates which task an image belongs to. Built like
``sklearn/ensemble/_voting.py`` on ``_BaseHeterogeneousEnsemble``, so nested
``get_params``/``set_params`` (``digits__C``, ``weights``, ``gate__C``) and
``"drop"`` work as in scikit-learn's own ensembles.
"""

import numbers
import string
import time
from collections.abc import Mapping

import numpy as np
from scipy import sparse
from sklearn.base import ClassifierMixin, clone
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ._validation import N_JOBS, check_label_types
from .prior import estimate_prior
from .utils._sklearn_compat import (
    HasMethods,
    Parallel,
    StrOptions,
    _BaseHeterogeneousEnsemble,
    _fit_context,
    _num_samples,
    _safe_indexing,
    delayed,
)

__all__ = ["MultiTaskVotingClassifier", "DEFAULT_TASKS", "OTHER"]

#: The label sets used when ``tasks=None`` and the heads are named after them.
DEFAULT_TASKS = {
    "digits": tuple(string.digits),
    "letters": tuple(string.ascii_uppercase),
}

#: Reserved class of the heads in ``membership="other"``. Heads are fitted on
#: integer codes (code ``c`` stands for ``classes_[c]``, so codes are >= 0) and
#: -1 can never be one of them, whatever the user's labels are.
OTHER = -1

_MAX_LISTED = 10  # labels named in an error message


def _listed(labels):
    labels = [str(label) for label in labels]
    more = len(labels) - _MAX_LISTED
    shown = ", ".join(repr(label) for label in labels[:_MAX_LISTED])
    return shown + (f" and {more} more" if more > 0 else "")


def _integers_as_strings(y, labels):
    """Integer labels as their decimal strings when the ``labels`` are strings.

    MNIST's labels come as the integers 0-9 (``load_idx``), the default
    digits task's as the strings '0'..'9': ``y`` is taken to mean those.
    """
    integers = y.dtype.kind in "iu" or (
        y.dtype == object
        and all(
            isinstance(label, numbers.Integral) and not isinstance(label, bool)
            for label in y
        )
    )
    labels = list(labels)
    if integers and labels and all(isinstance(label, str) for label in labels):
        return y.astype(str)
    return y


def _checked_targets(X, y):
    """``y`` as a 1-D array of class labels, one per row of ``X``."""
    check_label_types(y)
    check_classification_targets(y)
    y_type = type_of_target(y, input_name="y")
    if y_type not in ("binary", "multiclass"):
        raise ValueError(
            "y must hold class labels (binary or multiclass target); got a "
            f"{y_type!r} target."
        )
    y = column_or_1d(y, warn=True)
    check_consistent_length(X, y)
    return y


# -- which labels each task owns ----------------------------------------------


def _resolve_tasks(tasks, names, y, dropped=()):
    """The task of every label: ``{label: task name}``.

    Pure: reads the ``tasks`` parameter, the heads' ``names`` (in order,
    ``dropped`` ones included) and the labels ``y`` as given. Labels of
    dropped tasks are included where they are known (a dict, a callable, the
    default tasks), so that the images of a dropped task can be left out. A
    label claimed by two tasks is a ValueError naming it.

    Examples
    --------
    >>> import numpy as np
    >>> owner = _resolve_tasks({"a": "12", "b": "X"}, ["a", "b"], np.array(["1"]))
    >>> {str(label): task for label, task in owner.items()}
    {'1': 'a', '2': 'a', 'X': 'b'}
    >>> owner = _resolve_tasks(None, ["low", "high"], np.array([3, 1, 2, 4]))
    >>> {int(label): task for label, task in owner.items()}
    {1: 'low', 2: 'low', 3: 'high', 4: 'high'}
    """
    active = [name for name in names if name not in dropped]
    if isinstance(tasks, Mapping):
        label_sets = _listed_tasks(tasks, names, active)
    elif callable(tasks):
        label_sets = _called_tasks(tasks, names, np.unique(y))
    else:
        label_sets = _default_tasks(names, active, np.unique(y))
    owners = {}
    for name in names:
        for label in label_sets.get(name, ()):
            owners.setdefault(label, []).append(name)
    shared = {label: who for label, who in owners.items() if len(who) > 1}
    if shared:
        raise ValueError(
            "Labels must belong to one task only; claimed by several: "
            + "; ".join(f"{str(label)!r} by {who}" for label, who in shared.items())
            + "."
        )
    return {label: who[0] for label, who in owners.items()}


def _listed_tasks(tasks, names, active):
    """``tasks={name: labels}``: one entry per head (a string is its characters)."""
    unknown = sorted(set(tasks) - set(names))
    missing = [name for name in active if name not in tasks]
    if unknown or missing:
        raise ValueError(
            "tasks must have one entry per estimator name "
            f"{list(names)}; "
            + (f"unknown task names {unknown}" if unknown else "")
            + ("; " if unknown and missing else "")
            + (f"no labels for {missing}" if missing else "")
            + "."
        )
    return {name: np.asarray(list(labels)) for name, labels in tasks.items()}


def _called_tasks(tasks, names, observed):
    """``tasks=callable``: each observed label's task (None: no task)."""
    owner = np.array([tasks(label) for label in observed], dtype=object)
    unknown = sorted({str(t) for t in owner if t is not None} - set(names))
    if unknown:
        raise ValueError(
            f"tasks returned task names {unknown} that are not estimator "
            f"names {list(names)}."
        )
    return {name: observed[owner == name] for name in names}


def _default_tasks(names, active, observed):
    """``tasks=None``: DEFAULT_TASKS by name, or the sorted labels in blocks."""
    known = [name in DEFAULT_TASKS for name in active]
    if all(known):
        return {
            name: np.asarray(DEFAULT_TASKS[name])
            for name in names
            if name in DEFAULT_TASKS
        }
    if any(known):
        raise ValueError(
            "tasks=None needs either every head named after a default task "
            f"{sorted(DEFAULT_TASKS)} or none of them; got heads {list(active)}. "
            "Pass tasks={name: labels} explicitly."
        )
    if observed.size < len(active):
        raise ValueError(
            f"y has {observed.size} class(es), fewer than the {len(active)} "
            "tasks to split them into; every task needs at least one class."
        )
    blocks = np.array_split(observed, len(active))
    return dict(zip(active, blocks, strict=True))


def _check_claimed(y, owner):
    """A ValueError naming the labels of ``y`` that no task claims."""
    unclaimed = [label for label in np.unique(y) if label not in owner]
    if unclaimed:
        raise ValueError(
            f"Labels in y that no task claims: {_listed(unclaimed)}. Add them "
            "to tasks or remove those samples."
        )


def _classes(owner, active):
    """``classes_``, the sorted labels of the active tasks, and each one's task.

    The task is an index into ``active``.
    """
    label_sets = [
        np.asarray([label for label, task in owner.items() if task == name])
        for name in active
    ]
    classes = np.unique(np.concatenate(label_sets))
    class_task = np.empty(classes.size, dtype=np.intp)
    for index, labels in enumerate(label_sets):
        class_task[np.searchsorted(classes, labels)] = index
    return classes, class_task


def _task_weights(weights, sample_task, active):
    """``(weights_, task_mix_)``: the active tasks' weights and their training mix.

    ``weights`` is ``"balanced"`` (which undoes the mix) or one number per
    active task.
    """
    n_per_task = np.bincount(sample_task, minlength=len(active))
    empty = [name for name, n in zip(active, n_per_task, strict=True) if n == 0]
    if empty:
        raise ValueError(
            f"Tasks without training samples: {empty}; none of their labels "
            "occurs in y, so their heads cannot be fitted."
        )
    task_mix = n_per_task / n_per_task.sum()
    if isinstance(weights, str):  # "balanced"
        weights = 1 / (len(active) * task_mix)
    if not weights.sum() > 0:
        raise ValueError("weights of the active tasks must not all be zero.")
    return weights, task_mix


def _rows(X, index):
    """Rows ``index`` of X: arrays, lists, sparse matrices, DataFrames, or
    anything numpy can turn into an array."""
    if sparse.issparse(X):
        return X.tocsr()[index]  # COO and DIA cannot be indexed
    try:
        return _safe_indexing(X, index)
    except (TypeError, KeyError):
        return np.asarray(X)[index]


def _columns(X, columns):
    """Columns ``columns`` (None: all) of the 2-D X, as scikit-learn indexes them."""
    if columns is None:
        return X
    X = check_array(X, accept_sparse="csr", dtype=None, ensure_all_finite=False)
    return X[:, columns]


def _check_columns(columns, n_features, name):
    """None, or a slice / 1-D array of int indices within ``n_features``."""
    if columns is None:
        return None
    if isinstance(columns, slice):
        if not len(range(*columns.indices(n_features))):
            raise ValueError(
                f"{name} selects no column of X's {n_features}; got {columns}."
            )
        return columns
    index = np.asarray(columns)
    if index.ndim != 1 or index.size == 0 or index.dtype.kind not in "iu":
        raise ValueError(
            f"{name} must be None, a slice or a non-empty 1-D array of int column "
            f"indices; got {columns!r}."
        )
    if index.min() < -n_features or index.max() >= n_features:
        raise ValueError(
            f"{name} holds column indices outside X's {n_features} columns: "
            f"min {index.min()}, max {index.max()}."
        )
    return index


def _fit_one(estimator, X, rows, y, message):
    """Fit one head (or the gate) inside a joblib job; print timing if asked.

    ``rows`` (None: all) are taken from ``X`` here, in the job, so that a
    head's copy of its rows lives only while it is fitted.
    """
    start = time.perf_counter()
    estimator.fit(X if rows is None else _rows(X, rows), y)
    if message is not None:
        print(f"[MultiTaskVoting] {message}, {time.perf_counter() - start:.1f}s")
    return estimator


class MultiTaskVotingClassifier(ClassifierMixin, _BaseHeterogeneousEnsemble):
    """Weighted vote of task heads trained on disjoint label sets.

    Each head (``estimators``) is responsible for one task, i.e. one set of
    labels (``tasks``). The vote returns one probability distribution over the
    union of all tasks' labels.

    Let ``w_t`` be the weight of task ``t`` and ``L_t`` its labels.

    ``membership="other"``: head ``t`` is trained on ALL images; labels outside
    ``L_t`` are mapped to one reserved class, :data:`OTHER`. Its output
    ``p_t(l | x)`` for ``l`` in ``L_t`` is then a full posterior, and
    ``s_t(x) = 1 - p_t(OTHER | x)`` is its evidence that ``x`` belongs to task
    ``t``. The vote is::

        P(task = t | x) = w_t s_t(x) / sum_u w_u s_u(x)
        P(l | x)        = P(task = t | x) * p_t(l | x) / s_t(x)
                        = w_t p_t(l | x) / sum_u w_u s_u(x)      for l in L_t

    ``membership="gate"``: head ``t`` is trained on task ``t``'s images only and
    gives ``p_t(l | x, t)``; a ``gate`` classifier trained on all images gives
    ``g_t(x) = P(task = t | x)`` (with ``gate_target="labels"``, the gate's
    probabilities of task ``t``'s labels summed). The vote is::

        P(task = t | x) = w_t g_t(x) / sum_u w_u g_u(x)
        P(l | x)        = P(task = t | x) * p_t(l | x, t)           for l in L_t

    In both modes the rows of :meth:`predict_proba` sum to 1, summing them over
    a task's labels gives :meth:`predict_task_proba`, and :meth:`predict` is
    their argmax. With equal weights the vote is the plain posterior; a larger
    ``w_t`` grows task ``t``'s share (a prior shift towards that task). A row
    where every head says "other" (all ``w_t s_t = 0``) falls back to
    ``w_t / |L_t|`` per label.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The heads: ``(task name, classifier)``. Each must have
        ``predict_proba``. They are cloned in :meth:`fit`, never changed; a
        head set to ``"drop"`` (via ``set_params``) removes its task: its labels
        leave ``classes_`` and images with those labels are left out of fit.
        Heads are fitted on integer codes: code ``c`` stands for
        ``classes_[c]`` and :data:`OTHER` (-1) for "other".
    tasks : dict, callable or None, default=None
        Which labels each task owns.

        - dict ``{task name: iterable of labels}``, one entry per estimator
          name (a string value is read as its characters, so
          ``{"digits": "0123456789"}`` works). ``classes_`` is the sorted union
          of the active tasks' labels, including labels absent from ``y``
          (their probability is 0).
        - callable ``label -> task name`` (or None for "no task"), applied to
          each distinct label of ``y``. Use a module-level function if the
          model must pickle.
        - None: if every head is named after an entry of :data:`DEFAULT_TASKS`
          (``"digits"``: ``'0'..'9'``, ``"letters"``: ``'A'..'Z'``) those label
          sets are used; if no head is, the sorted labels of ``y`` are split
          into contiguous blocks of near-equal size, one per head in the order
          of ``estimators``. A mix of the two is an error.

        Labels of ``y`` that no task claims, and labels claimed by two tasks,
        raise a ValueError naming them.
    weights : array-like of shape (n_estimators,), "balanced" or None, default=None
        Weight of each task's share, in the order of ``estimators`` (entries of
        dropped heads are ignored). None means equal weights: the vote keeps
        the task mix of the training data as its prior. ``"balanced"`` divides
        each task's share by its share of the training images
        (``n_samples / (n_tasks * n_samples_t)``, as ``class_weight="balanced"``
        does for classes), so that every task is equally likely a priori
        whatever the training mix (60,000 MNIST digits beside a few thousand
        letters, say). With a gate that reports the rows it was fitted on
        (``class_count_``, as :class:`~mtclassic.heads.DigitClassifier` does),
        the mix undone is the gate's own.
    membership : {"other", "gate"}, default="other"
        How the vote learns ``P(task | x)`` (see above). ``"other"`` makes every
        head see every image (slower to fit, no extra model); ``"gate"`` fits
        each head on its own task only plus one gate classifier.
    gate : classifier or None, default=None
        The gate of ``membership="gate"``, a classifier with ``predict_proba``
        fitted on the task (or the label, see ``gate_target``) of each image.
        None means ``make_pipeline(StandardScaler(with_mean=False),
        LogisticRegression(C=1.0, max_iter=1000))``: generic, fast, and well
        calibrated, but linear. On HOG + pixel features of digits and letters
        it routed several times more images to the wrong task than an RBF SVM
        gate (:class:`~mtclassic.heads.DigitClassifier`), which is why
        :func:`~mtclassic.models.make_default_model` uses the latter.
        A task whose images all share one label needs no head model: a
        ``DummyClassifier`` stands in for it in ``estimators_``.
    gate_target : {"tasks", "labels"}, default="tasks"
        What the gate of ``membership="gate"`` is fitted on (ignored with
        ``membership="other"``).

        - ``"tasks"``: each image's task index; ``g_t(x)`` is the gate's
          probability of task ``t``.
        - ``"labels"``: each image's label (its code, as the heads get it);
          ``g_t(x)`` is the sum of the gate's probabilities of task ``t``'s
          labels (a label the gate never saw adds nothing).

        Why: a gate that must tell all 36 shapes apart learns shapes rather
        than which data set a task's images came from. Measured against
        ``"tasks"`` by ``benchmarks/bench_ablation.py`` (results in
        ``benchmarks/results/bench_ablation.json``): it routes in-source
        images a little better and out-of-source photo digits much better,
        photo letters a little worse, but predicts several times slower: the
        36-label SVM keeps many more support vectors. A trade, not a free
        win, hence the default ``"tasks"``.
    head_columns : None, slice or array-like of int, default=None
        Columns of ``X`` the heads see (None: all), as in
        :class:`~sklearn.compose.ColumnTransformer`.
    gate_columns : None, slice or array-like of int, default=None
        Columns of ``X`` the gate sees (None: all). A gate that should decide
        on shape alone can be given features of style-free images (see
        :class:`~mtclassic.strokes.StrokeRedrawer`) while the heads keep
        every detail of the images.
    task_prior : None, "batch" or array-like of shape (n_estimators,), default=None
        The task mix of the images to be scored, used in place of ``weights``
        at predict time (entries of dropped heads are ignored). The vote then
        re-weights ``P(task | x)`` from the mix it learned it under
        (``task_mix_``) to this one, by Bayes' rule. Which task is the more
        frequent decides the look-alikes (0/O, 1/I, 5/S): a batch of digits
        only should send them to the digits. None: ``weights`` decide.
        ``"batch"``: each call to :meth:`predict_proba` (:meth:`predict`, ...)
        estimates the mix of the rows it is given, without labels, by EM over
        their task posteriors (:func:`mtclassic.prior.estimate_prior`), so
        that a row's prediction depends on the rows scored with it; give it
        whole batches from one source, not single images. To score a large
        set in chunks alike, estimate the mix once
        (``vote.predict_task_mix(sample)``) and pass it as an array.
    n_jobs : int, default=None
        Heads (and the gate) fitted side by side on this many joblib threads
        (``prefer="threads"``: they share ``X`` instead of each worker
        process holding a copy of its rows; each head takes its rows of ``X``
        only while it is fitted; ``joblib.parallel_config(backend="loky")``
        fits them in processes instead); also the number of threads
        collecting the heads' probabilities in predict. None means 1.
    verbose : bool, default=False
        Print the time each head takes to fit.

    Attributes
    ----------
    estimators_ : list of classifiers
        The fitted heads of the active tasks, in the order of ``estimators``.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        Fitted heads by task name (``"drop"`` for dropped ones).
    gate_ : classifier or None
        The fitted gate (``membership="gate"`` with more than one task).
    gate_task_ : ndarray of shape (n_gate_classes,) or None
        Index into ``tasks_`` of the task of each of ``gate_.classes_`` (the
        classes are task indices for ``gate_target="tasks"``, label codes for
        ``"labels"``); None without a gate.
    classes_ : ndarray of shape (n_classes,)
        The sorted union of the active tasks' labels.
    tasks_ : ndarray of shape (n_tasks,)
        Names of the active tasks: the columns of :meth:`predict_task_proba`.
    class_task_ : ndarray of shape (n_classes,)
        Index into ``tasks_`` of the task owning each class.
    weights_ : ndarray of shape (n_tasks,)
        The weights of the active tasks (computed from y for ``"balanced"``).
    task_mix_ : ndarray of shape (n_tasks,)
        Share of each task among the rows ``P(task | x)`` was learned from (the
        gate's rows, or the heads' with ``membership="other"``): the task prior
        that ``task_prior`` re-weights from.
    n_features_in_ : int
        Number of features seen during fit (from the first head).
    n_columns_ : int or None
        Number of columns of the 2-D ``X`` seen in :meth:`fit` (None for
        other input), which ``head_columns`` and ``gate_columns`` index.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when the heads recorded them.

    See Also
    --------
    sklearn.ensemble.VotingClassifier : Soft vote of estimators sharing classes.
    mtclassic.models.make_default_model : The digits + letters image model.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mtclassic.multitask import MultiTaskVotingClassifier
    >>> rng = np.random.RandomState(0)
    >>> centres = rng.normal(scale=4, size=(5, 2))
    >>> y = np.repeat(np.array(["1", "2", "3", "A", "B"]), 40)
    >>> X = centres[np.repeat(np.arange(5), 40)] + rng.normal(size=(200, 2))
    >>> vote = MultiTaskVotingClassifier(
    ...     [("numbers", LogisticRegression()), ("letters", LogisticRegression())],
    ...     tasks={"numbers": "123", "letters": "AB"},
    ... ).fit(X, y)
    >>> vote.classes_.tolist(), vote.tasks_.tolist()
    (['1', '2', '3', 'A', 'B'], ['numbers', 'letters'])
    >>> vote.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    >>> vote.predict_task_proba(X[:2]).shape
    (2, 2)
    >>> vote.set_params(letters__C=0.1, weights=[1, 2]).fit(X, y).score(X, y) > 0.8
    True
    """

    _parameter_constraints: dict = {
        "estimators": [list],
        "tasks": [Mapping, callable, None],
        "weights": ["array-like", StrOptions({"balanced"}), None],
        "membership": [StrOptions({"other", "gate"})],
        "gate": [HasMethods(["fit", "predict_proba"]), None],
        "gate_target": [StrOptions({"tasks", "labels"})],
        "head_columns": [None, slice, "array-like"],
        "gate_columns": [None, slice, "array-like"],
        "task_prior": [None, StrOptions({"batch"}), "array-like"],
        "n_jobs": N_JOBS,
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimators,
        *,
        tasks=None,
        weights=None,
        membership="other",
        gate=None,
        gate_target="tasks",
        head_columns=None,
        gate_columns=None,
        task_prior=None,
        n_jobs=None,
        verbose=False,
    ):
        super().__init__(estimators=estimators)
        self.tasks = tasks
        self.weights = weights
        self.membership = membership
        self.gate = gate
        self.gate_target = gate_target
        self.head_columns = head_columns
        self.gate_columns = gate_columns
        self.task_prior = task_prior
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- fit ---------------------------------------------------------------

    def _validate_weights(self):
        if self.weights is None or (
            isinstance(self.weights, str) and self.weights == "balanced"
        ):
            return np.ones(len(self.estimators))  # "balanced": set once y is known
        weights = np.asarray(self.weights, dtype=np.float64)
        if weights.ndim != 1 or weights.size != len(self.estimators):
            raise ValueError(
                "weights must hold one number per estimator: got "
                f"{weights.size} weights for {len(self.estimators)} estimators."
            )
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError(
                f"weights must be finite and non-negative; got {weights.tolist()}."
            )
        return weights

    @_fit_context(
        # the heads and the gate are validated by their own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit the heads (and the gate) on their tasks' images.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input the heads accept (feature rows for the heads of mtclassic).
        y : array-like of shape (n_samples,)
            Labels; each must belong to exactly one task. When the tasks'
            labels are strings (the default tasks: '0'..'9' and 'A'..'Z'),
            integer labels are read as their decimal strings, so MNIST's
            integers 0-9 train the digits task; ``classes_`` stays strings.
            Labels that are None, or a mix of strings and numbers, raise an
            error naming ``y``.

        Returns
        -------
        self : MultiTaskVotingClassifier
            The fitted vote.
        """
        names, heads = self._validate_estimators()
        weights = self._validate_weights()
        y = _checked_targets(X, y)
        dropped = {
            name for name, head in zip(names, heads, strict=True) if head == "drop"
        }
        owner = _resolve_tasks(self.tasks, names, y, dropped)
        y = _integers_as_strings(y, owner)
        _check_claimed(y, owner)
        active = [name for name in names if name not in dropped]
        self.tasks_ = np.asarray(active, dtype=object)
        self.classes_, self.class_task_ = _classes(owner, active)
        keep = np.isin(y, self.classes_)
        if not keep.all():  # images of dropped tasks are left out
            rows = np.flatnonzero(keep)
            X, y = _rows(X, rows), y[rows]
        codes = np.searchsorted(self.classes_, y)
        sample_task = self.class_task_[codes]
        self.weights_, self.task_mix_ = _task_weights(
            self.weights
            if isinstance(self.weights, str)
            else weights[[name not in dropped for name in names]],
            sample_task,
            active,
        )
        heads = [
            (name, head)
            for name, head in zip(names, heads, strict=True)
            if head != "drop"
        ]
        jobs = self._fit_jobs(X, heads, codes, sample_task)
        # Threads: the heads of mtclassic (libsvm, numpy, the trees) release
        # the GIL, and threads share X where worker processes would each hold
        # a copy of their rows (the accurate preset's fit on the full protocol:
        # about half the peak memory, same time; README). A joblib
        # parallel_config(backend=...) still chooses otherwise.
        fitted = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_fit_one)(
                estimator,
                job_X,
                rows,
                job_y,
                f"({i + 1} of {len(jobs)}) fitted {name}" if self.verbose else None,
            )
            for i, (estimator, job_X, rows, job_y, name) in enumerate(jobs)
        )
        self._store_fitted(fitted)
        return self

    def _fit_jobs(self, X, heads, codes, sample_task):
        """``(unfitted clone, X, rows, y, name)`` of every active head and the gate.

        ``rows`` (None: all of ``X``) are the rows the job fits on.
        """
        n_columns = None
        if self.head_columns is not None or self.gate_columns is not None:
            # column indices need a 2-D X; scikit-learn's checks word the errors
            X = check_array(X, accept_sparse="csr", dtype=None, ensure_all_finite=False)
            n_columns = X.shape[1]
        self.n_columns_ = n_columns
        head_X = _columns(
            X, _check_columns(self.head_columns, n_columns, "head_columns")
        )
        gate_columns = _check_columns(self.gate_columns, n_columns, "gate_columns")
        jobs = []
        for index, (name, head) in enumerate(heads):
            if self.membership == "other":
                head_y = np.where(sample_task == index, codes, OTHER)
                jobs.append((clone(head), head_X, None, head_y, name))
                continue
            rows = np.flatnonzero(sample_task == index)
            if np.unique(codes[rows]).size == 1:
                head = DummyClassifier(strategy="prior")
            jobs.append((clone(head), head_X, rows, codes[rows], name))
        if self.membership == "gate" and len(heads) > 1:
            gate = self.gate if self.gate is not None else _default_gate()
            gate_X = _columns(X, gate_columns)
            gate_y = codes if self.gate_target == "labels" else sample_task
            jobs.append((clone(gate), gate_X, None, gate_y, "gate"))
        return jobs

    def _store_fitted(self, fitted):
        """Set the fitted heads, the gate and what is derived from them."""
        n_tasks = self.tasks_.size
        self.estimators_ = fitted[:n_tasks]
        self.gate_ = fitted[n_tasks] if len(fitted) > n_tasks else None
        self.gate_task_ = None
        if self.gate_ is not None:
            # the task each gate class stands for, fixed at fit (a later
            # set_params(gate_target=...) must not change a fitted model)
            gate_classes = np.asarray(self.gate_.classes_, dtype=np.intp)
            self.gate_task_ = (
                self.class_task_[gate_classes]
                if self.gate_target == "labels"
                else gate_classes
            )
        if hasattr(self.gate_, "class_count_"):
            # The gate's P(task | x) carries the task mix the gate was fitted
            # on, which differs from y's when it subsampled (for example
            # DigitClassifier(max_samples_per_class=...)): that is the mix
            # "balanced" and task_prior undo.
            seen = np.bincount(
                self.gate_task_,
                weights=np.asarray(self.gate_.class_count_, dtype=np.float64),
                minlength=n_tasks,
            )
            self.task_mix_ = seen / seen.sum()
            if isinstance(self.weights, str):
                self.weights_ = 1 / (n_tasks * self.task_mix_)
        self.named_estimators_ = Bunch()
        fitted_heads = iter(self.estimators_)
        for name, head in self.estimators:
            self.named_estimators_[name] = (
                head if head == "drop" else next(fitted_heads)
            )
        for head in self.estimators_:
            if hasattr(head, "feature_names_in_"):
                self.feature_names_in_ = head.feature_names_in_

    # -- predict -----------------------------------------------------------

    @property
    def n_features_in_(self):
        """Number of features seen during :term:`fit`."""
        try:
            check_is_fitted(self)
        except NotFittedError as exc:
            raise AttributeError(
                f"{self.__class__.__name__} object has no n_features_in_ attribute."
            ) from exc
        if self.head_columns is None:
            return self.estimators_[0].n_features_in_
        return self.n_columns_

    def _collect_probas(self, X):
        head_X = _columns(X, self.head_columns)
        jobs = [(estimator, head_X) for estimator in self.estimators_]
        if self.gate_ is not None:
            jobs.append((self.gate_, _columns(X, self.gate_columns)))
        n_jobs = 1 if self.n_jobs is None else self.n_jobs
        return Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(estimator.predict_proba)(rows) for estimator, rows in jobs
        )

    def predict_proba(self, X):
        """Probability of every label in ``classes_`` (the vote, see above).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input the heads accept.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        joint = self._joint(X)
        factors = self._task_factors(joint)
        joint *= factors[self.class_task_]
        total = joint.sum(axis=1, keepdims=True)
        degenerate = total[:, 0] <= 0
        if degenerate.any():  # every head said "other": spread by task weights
            task_sizes = np.bincount(self.class_task_, minlength=self.tasks_.size)
            fallback = factors[self.class_task_] / task_sizes[self.class_task_]
            joint[degenerate] = fallback
            total[degenerate] = fallback.sum()
        joint /= total
        return joint

    def _joint(self, X):
        """Each label's gate x head probability, before the task weights."""
        probas = self._collect_probas(X)
        joint = np.zeros((_num_samples(X), self.classes_.size))
        if self.gate_ is not None:
            # the gate's P(task | x): its class probabilities summed per task
            gate_task_proba = probas[-1] @ np.eye(self.tasks_.size)[self.gate_task_]
        for index, (head, proba) in enumerate(
            zip(self.estimators_, probas, strict=False)
        ):
            head_codes = np.asarray(head.classes_)
            in_task = head_codes != OTHER
            share = proba[:, in_task]
            if self.gate_ is not None:
                share = share * gate_task_proba[:, [index]]
            joint[:, head_codes[in_task]] = share
        return joint

    def _task_factors(self, joint):
        """Each task's factor: ``weights_``, or ``task_prior / task_mix_``."""
        if self.task_prior is None:
            return self.weights_
        if isinstance(self.task_prior, str):
            if self.task_prior != "batch":  # set_params after fit skips validation
                raise ValueError(
                    "task_prior must be None, 'batch' or one number per estimator; "
                    f"got {self.task_prior!r}."
                )
            prior = self._estimate_task_mix(joint)
        else:
            prior = np.asarray(self.task_prior, dtype=np.float64)
            names = [name for name, _ in self.estimators]
            if prior.shape != (len(names),):
                raise ValueError(
                    "task_prior must hold one number per estimator "
                    f"({len(names)}); got shape {prior.shape}."
                )
            prior = prior[[names.index(name) for name in self.tasks_]]
            if not np.all(np.isfinite(prior)) or np.any(prior < 0) or not prior.sum():
                raise ValueError(
                    "task_prior must be finite and non-negative, with a positive "
                    f"entry for an active task; got {prior.tolist()}."
                )
            prior = prior / prior.sum()
        return prior / self.task_mix_

    def _estimate_task_mix(self, joint):
        task_mass = joint @ np.eye(self.tasks_.size)[self.class_task_]
        return estimate_prior(task_mass, self.task_mix_)

    def predict_task_mix(self, X):
        """The task mix of the batch ``X``, estimated without labels.

        Expectation-maximisation over the rows' task posteriors
        (:func:`mtclassic.prior.estimate_prior`): the most likely share of
        each task among the rows under the model. Pass it as ``task_prior`` to
        score any number of rows (in chunks, in parallel) under that mix.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            A batch of rows the heads accept, from one source.

        Returns
        -------
        mix : ndarray of shape (n_tasks,)
            Sums to 1; in the order of ``tasks_``.
        """
        check_is_fitted(self)
        return self._estimate_task_mix(self._joint(X))

    def predict_task_proba(self, X):
        """Probability that each row belongs to each task.

        The sum of :meth:`predict_proba` over each task's labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input the heads accept.

        Returns
        -------
        task_proba : ndarray of shape (n_samples, n_tasks)
            Rows sum to 1; columns in the order of ``tasks_``.
        """
        proba = self.predict_proba(X)
        return proba @ np.eye(self.tasks_.size)[self.class_task_]

    def predict(self, X):
        """Most probable label of each row (argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input the heads accept.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_task(self, X):
        """Most probable task of each row (argmax of :meth:`predict_task_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input the heads accept.

        Returns
        -------
        tasks : ndarray of shape (n_samples,)
            Task names, from ``tasks_``.
        """
        task_proba = self.predict_task_proba(X)
        return self.tasks_[np.argmax(task_proba, axis=1)]

    def score(self, X, y, sample_weight=None):
        """Mean accuracy, with integer labels read as in :meth:`fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Input the heads accept.
        y : array-like of shape (n_samples,)
            True labels; integers stand for their decimal strings when
            ``classes_`` are strings (MNIST's 0-9 for '0'..'9').
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Share of rows whose prediction equals ``y``.
        """
        check_label_types(y)
        y = _integers_as_strings(column_or_1d(y), self.classes_)
        return super().score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        tags.classifier_tags.multi_label = False
        return tags


def _default_gate():
    # without centring, so that sparse input works as well
    return make_pipeline(
        StandardScaler(with_mean=False), LogisticRegression(C=1.0, max_iter=1000)
    )
