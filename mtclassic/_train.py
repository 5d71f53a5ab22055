"""Training from a data spec: read labelled images, plan the tasks, fit, save.

The library side of ``mtclassic train`` (:func:`train_model`); the command
in :mod:`mtclassic._commands.train` parses its options and prints.

Everything that can go wrong with the user's input is checked before the fit
starts, and each problem is one line naming it (:class:`TrainError`): the
output file (its folder must exist and be writable), the data (readable, at
least one image) and the labels (each one a digit or a letter the model can
learn).

The tasks are the default model's heads: ``digits`` ('0'-'9') and ``letters``.
By default they are inferred from the labels (digits only, letters only, or
both), and lower-case labels are read as their upper case, as EMNIST's
'letters' split merges the cases. With ``case_sensitive=True`` lower-case
labels stay classes of their own *within the letters task*: the letters head
(an SVM or a forest; both take any number of classes) learns 'A'-'Z' and
'a'-'z' side by side, and the gate still decides digit vs letter. Why not a
third task: a gate between upper and lower case would have to tell 'C' from
'c' and 'O' from 'o', which differ in size only, and the normaliser scales
every character to the same box; one head that sees both cases loses nothing
to that. A task without a head cannot be learnt, so a dropped task
(``vote__<task>="drop"``) leaves the model's classes, and images of a task
left out by ``tasks=`` are left out of the fit, with a note.
"""

import contextlib
import importlib.util
import os
import string
import sys
import tempfile
import time

import numpy as np
from sklearn.utils import Bunch

DIGITS = string.digits
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
TASK_CHOICES = ("auto", "digits", "letters", "both")


class TrainError(ValueError):
    """A problem with the input of ``mtclassic train``, found before the fit."""


class Progress:
    """Prints ``[train 12.3s] message`` (the time since the command started)
    to standard error, so that standard output holds the result alone."""

    def __init__(self, out=None, *, quiet=False):
        self.out = sys.stderr if out is None else out
        self.quiet = quiet
        self.started = time.perf_counter()

    def elapsed(self):
        return time.perf_counter() - self.started

    def __call__(self, message):
        if not self.quiet:
            print(f"[train {self.elapsed():.1f}s] {message}", file=self.out, flush=True)


def check_output(path):
    """Refuse an output path that cannot be written, before any work.

    Examples
    --------
    >>> check_output("/no/such/folder/model.joblib")
    Traceback (most recent call last):
    ...
    mtclassic._train.TrainError: output folder /no/such/folder does not exist; ...
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise TrainError(f"output {path} is a folder; give a model file name.")
    if not os.path.isdir(folder):
        raise TrainError(
            f"output folder {folder} does not exist; create it first or give "
            "another path."
        )
    try:  # the one sure test: create (and remove) a file where the model goes
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".mtclassic-check-"):
            pass
    except OSError as exc:
        raise TrainError(
            f"output folder {folder} is not writable ({exc.strerror})."
        ) from None
    if path.endswith(".skops") and importlib.util.find_spec("skops") is None:
        raise TrainError(
            "a .skops model needs the optional package skops; install it with "
            "`pip install mtclassic[skops]`, or give a .joblib file name."
        )


def read_training_data(data, *, transpose=False, idx_label_names=DIGITS):
    """The labelled images of ``--data``: files through :mod:`mtclassic.io`,
    ``mnist`` and ``emnist:<split>`` (their train subset) through
    :func:`~mtclassic.datasets.fetch_emnist` (download, checksum, cache).

    Returns a Bunch with ``images``, ``target`` (str), ``description``,
    ``skipped`` and ``ids``, as :func:`mtclassic._data.load_labelled_images`.
    """
    from mtclassic._data import load_labelled_images, load_named_set

    paths = [os.fspath(path) for path in data]
    if len(paths) == 1:
        named = load_named_set(paths[0], "train", transpose=transpose)
        if named is not None:
            return named
    if len(paths) > 2:
        raise TrainError(
            f"--data takes one folder or file, or an IDX images file and its IDX "
            f"labels file; got {len(paths)} paths."
        )
    for path in paths:
        if not os.path.exists(path):
            raise TrainError(f"--data {path}: no such file or folder.")
    return load_labelled_images(
        paths,
        subset="train",
        transpose=transpose,
        idx_label_names=idx_label_names,
        synthetic=False,
    )


def _shown(labels, limit=10):
    labels = sorted(labels)
    text = ", ".join(repr(label) for label in labels[:limit])
    return text + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def plan_tasks(target, *, tasks="auto", case_sensitive=False):
    """Decide the tasks and their labels from the training labels.

    Parameters
    ----------
    target : array-like of str
        The training labels.
    tasks : {"auto", "digits", "letters", "both"}, default="auto"
        The tasks to learn; "auto": those the labels hold.
    case_sensitive : bool, default=False
        Keep lower-case labels as their own classes (in the letters task);
        otherwise they are read as their upper case.

    Returns
    -------
    plan : Bunch
        ``target`` (the labels, case folded unless ``case_sensitive``),
        ``keep`` (bool mask of the images to fit on), ``tasks`` (dict of every
        head's labels, as ``MultiTaskVotingClassifier(tasks=...)`` takes it),
        ``active`` (the task names learnt) and ``notes`` (lines to print).

    Examples
    --------
    >>> plan = plan_tasks(["3", "7", "0"])
    >>> plan.active, plan.tasks["digits"]
    (['digits'], '0123456789')
    >>> plan = plan_tasks(["a", "B"], case_sensitive=True)
    >>> plan.active, plan.tasks["letters"]
    (['letters'], 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz')
    """
    if tasks not in TASK_CHOICES:
        raise TrainError(
            f"--tasks must be one of {', '.join(TASK_CHOICES)}; got {tasks!r}."
        )
    target = np.asarray(target).astype(str)
    notes = []
    distinct = set(np.unique(target).tolist())
    lower = distinct & set(LOWER)
    if lower and not case_sensitive:
        # one expression over the array: str.upper of single ASCII letters
        target = np.where(np.isin(target, list(LOWER)), np.char.upper(target), target)
        notes.append(
            f"lower-case labels {_shown(lower)} read as upper case "
            "(--case-sensitive keeps them as classes of their own)"
        )
        distinct = set(np.unique(target).tolist())
    learnable = set(DIGITS) | set(UPPER) | (set(LOWER) if case_sensitive else set())
    unknown = distinct - learnable
    if unknown:
        counts = np.isin(target, sorted(unknown)).sum()
        allowed = "'0'-'9', 'A'-'Z'" + (
            ", 'a'-'z'" if case_sensitive else " (and 'a'-'z', read as upper case)"
        )
        raise TrainError(
            f"labels {_shown(unknown)} ({counts} images) are not characters the "
            f"model can learn; labels must be single characters {allowed}."
        )
    letters = (UPPER if distinct & set(UPPER) else "") + (
        LOWER if distinct & set(LOWER) else ""
    )
    present = [
        name
        for name, labels in (("digits", DIGITS), ("letters", letters))
        if distinct & set(labels)
    ]
    wanted = (
        present
        if tasks == "auto"
        else (["digits", "letters"] if tasks == "both" else [tasks])
    )
    missing = [name for name in wanted if name not in present]
    if missing:
        held = " and ".join(present) or "no labels"
        raise TrainError(
            f"--tasks {tasks}: no training images for {' and '.join(missing)}; "
            f"the data holds {held} only."
        )
    keep = np.ones(target.shape, dtype=bool)
    left_out = [name for name in present if name not in wanted]
    for name in left_out:
        labels = DIGITS if name == "digits" else letters
        mask = np.isin(target, list(labels))
        keep &= ~mask
        notes.append(f"{int(mask.sum())} images of {name} left out (--tasks {tasks})")
    return Bunch(
        target=target,
        keep=keep,
        tasks={"digits": DIGITS, "letters": letters or UPPER},
        active=wanted,
        notes=notes,
    )


def cap_samples(n_images, n_train, random_state):
    """Row indices of at most ``n_train`` images, drawn without replacement."""
    if n_train is None or n_train >= n_images:
        return np.arange(n_images)
    rng = np.random.default_rng(random_state)
    return np.sort(rng.choice(n_images, size=n_train, replace=False))


def _take(images, rows):
    if isinstance(images, np.ndarray):
        return images[rows]
    return [images[i] for i in rows.tolist()]


def build_model(plan, *, preset, random_state, n_jobs, verbose, filled_copies=False):
    """The default model for the planned tasks; unused heads dropped."""
    from mtclassic.models import make_default_model

    model = make_default_model(
        random_state=random_state,
        n_jobs=n_jobs,
        preset=preset,
        filled_copies=filled_copies,
    )
    params = {"vote__tasks": dict(plan.tasks)}
    for name in ("digits", "letters"):
        if name not in plan.active:
            params[f"vote__{name}"] = "drop"
    if verbose:  # every step and head that can report, reports
        params.update(verbose=True, vote__verbose=True)
        fitted = [*plan.active, *(["gate"] if len(plan.active) > 1 else [])]
        for name in fitted:
            head = model.get_params()[f"vote__{name}"]
            if head is not None and "verbose" in head.get_params():
                params[f"vote__{name}__verbose"] = True
    return model.set_params(**params)


def train_model(
    out,
    *,
    data=None,
    n_train=None,
    preset="accurate",
    tasks="auto",
    case_sensitive=False,
    filled_copies=False,
    random_state=0,
    n_jobs=None,
    transpose=False,
    idx_label_names=DIGITS,
    progress=None,
):
    """Fit the default model on a data spec and save it, checking first.

    Every input problem raises :class:`TrainError` (or the readers'
    OSError/ValueError) before the fit.

    Parameters
    ----------
    out : str or path-like
        Model file to write (``.joblib``, or ``.skops``), with its metadata
        record (:func:`~mtclassic.persistence.save_model`).
    data : list of str, default=None
        What :func:`read_training_data` reads; the embedded synthetic set
        (``n_train`` images, default 6000) when None.
    n_train : int, default=None
        With ``data``, at most this many images, drawn at random.
    preset, random_state, n_jobs
        As :func:`~mtclassic.models.make_default_model` takes them.
    tasks, case_sensitive
        As :func:`plan_tasks` takes them.
    filled_copies : bool, default=False
        As :func:`~mtclassic.models.make_default_model` takes it.
    transpose, idx_label_names
        As :func:`read_training_data` takes them.
    progress : Progress, default=None
        Where progress lines go (and whether the estimators report);
        silent when None.

    Returns
    -------
    result : Bunch
        ``model``, ``metadata`` (the saved record), ``seconds`` (of the fit),
        ``plan`` (:func:`plan_tasks`) and ``source`` (what it was trained on).
    """
    from mtclassic.persistence import save_model

    progress = Progress(quiet=True) if progress is None else progress
    if n_train is not None and n_train < 1:
        raise TrainError(f"--n-train must be >= 1; got {n_train}.")
    check_output(out)
    dataset = _training_set(
        data, n_train, random_state, transpose, idx_label_names, progress
    )
    plan = plan_tasks(dataset.target, tasks=tasks, case_sensitive=case_sensitive)
    for note in plan.notes:
        progress(f"note: {note}")
    rows = np.flatnonzero(plan.keep)
    if data is not None and n_train is not None and n_train < rows.size:
        rows = rows[cap_samples(rows.size, n_train, random_state)]
        progress(f"using {rows.size} randomly drawn images (--n-train {n_train})")
    images, y = _take(dataset.images, rows), plan.target[rows]
    model = build_model(
        plan,
        preset=preset,
        random_state=random_state,
        n_jobs=n_jobs,
        verbose=not progress.quiet,
        filled_copies=filled_copies,
    )
    progress(
        f"fitting the {preset!r} preset on {len(y)} images, "
        f"{len(np.unique(y))} classes, tasks {', '.join(plan.active)}: "
        "normalize, features, vote"
    )
    seconds = _fit_quietly_saved(model, images, y, progress)
    progress(f"fitted in {seconds:.1f} s; saving {os.fspath(out)}")
    metadata = save_model(model, out)
    source = (
        f"{len(y)} synthetic images"
        if data is None
        else f"{len(y)} images from {' + '.join(map(os.fspath, data))}"
    )
    return Bunch(
        model=model, metadata=metadata, seconds=seconds, plan=plan, source=source
    )


def _training_set(data, n_train, random_state, transpose, idx_label_names, progress):
    """The labelled training images: generated, or read from ``data``."""
    from mtclassic._data import synthetic_images

    if data is None:
        n = 6000 if n_train is None else n_train
        progress(f"generating {n} synthetic images")
        return synthetic_images(n, random_state, "the embedded synthetic set")
    progress(f"reading {' '.join(map(os.fspath, data))}")
    dataset = read_training_data(
        data, transpose=transpose, idx_label_names=idx_label_names
    )
    if len(dataset.target) == 0:
        raise TrainError(f"{dataset.description}: no images to train on.")
    skipped = (
        f", {len(dataset.skipped)} unreadable files skipped" if dataset.skipped else ""
    )
    progress(f"read {len(dataset.target)} images from {dataset.description}{skipped}")
    return dataset


def _fit_quietly_saved(model, images, y, progress):
    """Fit, the estimators' progress lines beside ours; return the seconds.

    The model is quiet again afterwards, as make_default_model makes it, so
    the saved model does not print."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(progress.out if not progress.quiet else sys.stdout):
        model.fit(images, y)
    seconds = time.perf_counter() - started
    model.set_params(
        **{
            key: False
            for key, value in model.get_params().items()
            if key.endswith("verbose") and value is True
        }
    )
    return seconds
