"""Scoring a fitted model on labelled images, and the report folder.

:func:`evaluate` scores a model with :mod:`mtclassic.metrics` (per task,
combined, routing, confusions, the misclassified images); :func:`write_report`
writes that as a folder: ``report.md`` (links to the figures), ``metrics.json``
(the same numbers for programs), ``misclassified.csv`` and the PNG figures of
:mod:`mtclassic.plotting`. Every file is written to a temporary file and
renamed into place, and ``report.md`` is written last, so a crash never leaves
a half-written file and a ``report.md`` only ever links to figures that exist.
Loading is :mod:`mtclassic._data`'s, printing ``mtclassic evaluate``'s.
"""

import json
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from mtclassic.metrics import (
    model_tasks,
    per_task_accuracy,
    routing_error,
    worst_confusions,
)

# Unknown labels named in the warning line (metrics.json lists all).
_WARNED_LABELS = 12
# Misclassified images listed in report.md (the CSV lists them all).
_MARKDOWN_ROWS = 20

FIGURES = {
    "confusion_matrix.png": "Confusion matrix (task blocks outlined)",
    "task_accuracy.png": "Accuracy per task",
    "misclassified.png": "Misclassified images, most confident first",
    "hog.png": "What the features see: HOG of a misclassified image",
}


def _scoring_tasks(model, classes):
    """The model's task of each of its classes; classes of no task (a plain
    classifier's labels that are neither digits nor letters) form 'other'."""
    tasks = model_tasks(model, classes)
    claimed = {label for members in tasks.values() for label in members}
    rest = [label for label in classes if label not in claimed]
    return {**tasks, "other": rest} if rest else tasks


def evaluate(model, images, y_true, *, n_confusions=10, ids=None):
    """Score a fitted classifier on labelled images.

    Labels that are not classes of the model (``'c'`` against a model of
    ``'A'..'Z'``, say) cannot be predicted: their images count as wrong in
    ``accuracy`` and are left out of the per-task scores and the routing
    error, which are about the tasks the model knows; ``unknown_labels``
    counts them by label.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba`` and ``classes_``
        For example :func:`~mtclassic.make_default_model` after ``fit``.
    images : array-like of shape (n_samples, height, width)
        The images, as the model takes them.
    y_true : array-like of shape (n_samples,)
        Their labels.
    n_confusions : int, default=10
        How many of the worst confusions to list.
    ids : sequence of str, default=None
        A name for each image (its file), listed with the misclassified ones.

    Returns
    -------
    result : Bunch
        ``metrics`` (JSON-ready dict: ``n_samples``, ``accuracy``,
        ``routing_error`` (share of the images of known labels given a label
        of another task), ``routing`` (:func:`mtclassic.metrics.routing_error`),
        ``tasks``, ``worst_confusions``, ``unknown_labels`` (label -> images)
        and ``misclassified``: every wrong image in data order, with its
        ``index``, ``file`` (from ``ids``, or None), ``true``, ``predicted``,
        ``probability`` (of the prediction) and ``probability_true`` (of the
        true label; None when the model does not know it)), ``y_pred``,
        ``proba``, ``classes``, ``tasks`` and ``known`` (bool mask of the
        images whose label is a class of the model).

    Examples
    --------
    >>> import numpy as np
    >>> class Fixed:  # any fitted classifier with predict_proba and classes_
    ...     classes_ = np.array(["1", "7", "A"])
    ...     def predict_proba(self, X):
    ...         return np.array([[.9, .1, 0], [.6, .4, 0], [0, 0, 1], [.2, .1, .7]])
    >>> result = evaluate(Fixed(), np.zeros((4, 28, 28)), ["1", "7", "A", "7"])
    >>> result.y_pred.tolist()
    ['1', '1', 'A', 'A']
    >>> result.metrics["accuracy"], result.metrics["routing_error"]
    (0.5, 0.25)
    >>> result.metrics["misclassified"][0]
    {'index': 1, 'file': None, 'true': '7', 'predicted': '1', 'probability': 0.6, 'probability_true': 0.4}
    >>> evaluate(Fixed(), np.zeros((4, 28, 28)), ["1", "7", "a", "7"]).metrics["unknown_labels"]
    {'a': 1}
    """
    y_true = np.asarray(y_true).astype(str)
    if ids is not None and len(ids) != len(y_true):
        raise ValueError(
            f"ids must name each of the {len(y_true)} images; got {len(ids)}."
        )
    proba = np.asarray(model.predict_proba(images))
    classes = np.asarray(model.classes_)
    labels = classes.astype(str)
    # predict is the argmax of predict_proba: one pass over the images, not two.
    best = np.argmax(proba, axis=1)
    y_pred = labels[best]
    known = np.isin(y_true, labels)
    unknown, unknown_counts = np.unique(y_true[~known], return_counts=True)
    tasks = _scoring_tasks(model, labels.tolist())
    # the task scores are about the labels the model knows
    routing = routing_error(y_true[known], y_pred[known], tasks=tasks)
    # the misclassified images, in data order, with both probabilities
    wrong = np.flatnonzero(y_true != y_pred)
    # the column of each true label (-1: not a class), looked up per label
    distinct, inverse = np.unique(y_true[wrong], return_inverse=True)
    lookup = {label: i for i, label in enumerate(labels.tolist())}
    columns = np.array(
        [lookup.get(label, -1) for label in distinct.tolist()], dtype=np.intp
    )[inverse.reshape(-1)]
    p_true = proba[wrong, np.maximum(columns, 0)] if wrong.size else np.zeros(0)
    misclassified = [
        {
            "index": int(index),
            "file": None if ids is None else str(ids[index]),
            "true": str(y_true[index]),
            "predicted": str(y_pred[index]),
            "probability": float(proba[index, best[index]]),
            "probability_true": float(p) if known[index] else None,
        }
        for index, p in zip(wrong.tolist(), p_true.tolist(), strict=True)
    ]
    metrics = {
        "n_samples": int(y_true.size),
        "accuracy": float(np.mean(y_true == y_pred)) if y_true.size else 0.0,
        "routing_error": routing["total"],
        "routing": routing,
        "tasks": per_task_accuracy(y_true[known], y_pred[known], tasks=tasks),
        "worst_confusions": worst_confusions(
            y_true, y_pred, tasks=tasks, n=n_confusions
        ),
        "unknown_labels": dict(
            zip(unknown.tolist(), map(int, unknown_counts), strict=True)
        ),
        "misclassified": misclassified,
    }
    return Bunch(
        metrics=metrics,
        y_pred=y_pred,
        proba=proba,
        classes=classes,
        tasks=tasks,
        known=known,
    )


def unknown_labels_warning(unknown_labels):
    """One line naming the labels a model cannot know, or None.

    Examples
    --------
    >>> unknown_labels_warning({"a": 3, "c": 1})
    "warning: labels 'a' (3 images), 'c' (1 image) are not classes of the model: these 4 images are counted wrong and left out of the per-task scores and the routing error"
    >>> unknown_labels_warning(dict.fromkeys("abcdefghijklmn", 2))[:69]
    "warning: labels 'a' (2 images), 'b' (2 images), 'c' (2 images), 'd' ("
    >>> "'l' (2 images) and 2 more are not" in unknown_labels_warning(
    ...     dict.fromkeys("abcdefghijklmn", 2))
    True
    """
    if not unknown_labels:
        return None
    items = list(unknown_labels.items())
    named = ", ".join(
        f"{label!r} ({count} image{'s' if count != 1 else ''})"
        for label, count in items[:_WARNED_LABELS]
    )
    if len(items) > _WARNED_LABELS:  # all of them are in metrics.json
        named += f" and {len(items) - _WARNED_LABELS} more"
    total = sum(unknown_labels.values())
    return (
        f"warning: label{'s' if len(unknown_labels) > 1 else ''} {named} "
        f"{'are' if len(unknown_labels) > 1 else 'is'} not "
        f"{'classes' if len(unknown_labels) > 1 else 'a class'} of the model: "
        f"{'these' if total > 1 else 'this'} {total} image{'s' if total != 1 else ''} "
        f"{'are' if total != 1 else 'is'} counted wrong and left out of the "
        "per-task scores and the routing error"
    )


def _hog_step(model):
    """The model's HOGTransformer (the first among its parameters), or None."""
    from mtclassic.features import HOGTransformer

    if not hasattr(model, "get_params"):
        return None
    steps = model.get_params(deep=True).values()
    return next((step for step in steps if isinstance(step, HOGTransformer)), None)


def _as_images(batch):
    """An (n, h, w) batch from a normaliser's output, flat square rows or not."""
    batch = np.asarray(batch)
    if batch.ndim == 3:
        return batch
    side = int(np.sqrt(batch.shape[1]))
    return batch.reshape(len(batch), side, side)


def _normalised(model, images):
    """The images as the model's features see them, an (n, h, w) batch: after
    the pipeline's steps up to its last ImageNormalizer; None without one."""
    from mtclassic.preprocessing import ImageNormalizer

    steps = getattr(model, "steps", None) or []
    found = [
        i for i, (_, step) in enumerate(steps) if isinstance(step, ImageNormalizer)
    ]
    if not found:
        return None
    return _as_images(model[: found[-1] + 1].transform(images))


def _as_batch(images):
    """Images of one size as an (n, h, w) array; images of several sizes
    normalised to one (the model has no normaliser to show them with)."""
    if isinstance(images, np.ndarray) and images.ndim == 3:
        return images
    from mtclassic.preprocessing import ImageNormalizer

    return _as_images(ImageNormalizer().fit_transform(images))


def _select(images, rows):
    if isinstance(images, np.ndarray):
        return images[rows]
    return [images[i] for i in rows.tolist()]


def _write_misclassified_csv(path, misclassified):
    import csv
    import io

    from mtclassic.io import atomic_writer

    text = io.StringIO(newline="")
    fields = ["index", "file", "true", "predicted", "probability", "probability_true"]
    writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in misclassified:
        writer.writerow(
            {
                **row,
                "file": "" if row["file"] is None else row["file"],
                "probability": f"{row['probability']:.6f}",
                "probability_true": ""
                if row["probability_true"] is None
                else f"{row['probability_true']:.6f}",
            }
        )
    with atomic_writer(path) as file:
        file.write(text.getvalue().encode("utf-8"))


def _save_figure(figure, path):
    from mtclassic.io import atomic_writer

    with atomic_writer(path) as file:
        figure.savefig(file, format="png", dpi=100, bbox_inches="tight")


def _write_text(path, text):
    from mtclassic.io import atomic_writer

    with atomic_writer(path) as file:
        file.write(text.encode("utf-8"))


def _markdown(metrics, *, model_name, data_name, skipped):
    from mtclassic import __version__

    n_classes = metrics["n_classes"]
    lines = [
        "# mtclassic evaluation report",
        "",
        f"- model: `{model_name}`",
        f"- data: {data_name}, {metrics['n_samples']} images",
        f"- mtclassic {__version__}",
    ]
    if skipped:
        lines.append(f"- unreadable files skipped: {len(skipped)}")
    warning = unknown_labels_warning(metrics.get("unknown_labels"))
    if warning:
        lines.append(f"- **{warning}**")
    lines += [
        "",
        "## Accuracy",
        "",
        "| task | images | accuracy |",
        "|---|---:|---:|",
    ]
    for task, entry in metrics["tasks"].items():
        lines.append(f"| {task} | {entry['n_samples']} | {entry['accuracy']:.2%} |")
    lines += [
        f"| **all ({n_classes} classes)** | {metrics['n_samples']} | "
        f"**{metrics['accuracy']:.2%}** |",
        "",
        f"Routing error: {metrics['routing_error']:.2%} of the images were given a "
        "label of another task than their true label.",
        "",
        "## Worst confusions",
        "",
    ]
    if metrics["worst_confusions"]:
        lines += [
            "| true | predicted | images | share of the true label | cross-task |",
            "|---|---|---:|---:|---|",
        ]
        for entry in metrics["worst_confusions"]:
            lines.append(
                f"| {entry['true']} | {entry['pred']} | {entry['count']} | "
                f"{entry['rate']:.1%} | {'yes' if entry['cross_task'] else 'no'} |"
            )
    else:
        lines.append("None: every image was classified correctly.")
    wrong = metrics.get("misclassified", [])
    lines += [
        "",
        "## Misclassified images",
        "",
        f"{len(wrong)} images; every one is listed in `misclassified.csv` and "
        "`metrics.json` with its file (or index), true label, prediction and "
        "probability. The most confident mistakes:",
        "",
    ]
    if wrong:
        lines += ["| file | true | predicted | probability |", "|---|---|---|---:|"]
        confident = sorted(wrong, key=lambda row: -row["probability"])
        for row in confident[:_MARKDOWN_ROWS]:
            name = row["file"] if row["file"] is not None else f"#{row['index']}"
            lines.append(
                f"| `{name}` | {row['true']} | {row['predicted']} | "
                f"{row['probability']:.2f} |"
            )
    lines += ["", "## Figures", ""]
    for file_name, caption in FIGURES.items():
        lines += [f"### {caption}", "", f"![{caption}]({file_name})", ""]
    return "\n".join(lines)


def write_report(
    model,
    images,
    y_true,
    directory,
    *,
    model_name="model",
    data_name="data",
    skipped=(),
    max_images=25,
    n_confusions=10,
    ids=None,
):
    """Evaluate a model and write the report folder.

    Parameters
    ----------
    model : fitted classifier with ``predict_proba`` and ``classes_``
        For example :func:`~mtclassic.make_default_model` after ``fit``.
    images : array-like of shape (n_samples, height, width), or list of 2-D arrays
        The images, as the model takes them. Images of different sizes are
        shown as the model's normalisation step makes them.
    y_true : array-like of shape (n_samples,)
        Their labels.
    directory : str or path-like
        The report folder; created when missing. Files of an earlier report
        in it are replaced.
    model_name, data_name : str
        How the report names the model and the data.
    skipped : sequence, default=()
        Input files that could not be read, counted in the report.
    max_images : int, default=25
        Most misclassified images to show.
    n_confusions : int, default=10
        How many of the worst confusions to list.
    ids : sequence of str, default=None
        A name for each image (its file), in the misclassified grid,
        ``misclassified.csv`` and ``metrics.json``; the index when None.

    Returns
    -------
    result : Bunch
        ``metrics`` (as in :func:`evaluate`, plus ``n_classes``) and ``files``,
        the paths written, ``report.md`` last.
    """
    figure_class = _figure_class()  # fail before any work without the extra
    result = evaluate(model, images, y_true, n_confusions=n_confusions, ids=ids)
    metrics = dict(result.metrics, n_classes=len(result.classes))
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    figures = _figures(
        model,
        images,
        np.asarray(y_true).astype(str),
        result,
        ids=ids,
        max_images=max_images,
        figure_class=figure_class,
    )
    for name, figure in figures:  # each saved as soon as it is drawn
        _save_figure(figure, directory / name)
        files.append(directory / name)
    csv_path = directory / "misclassified.csv"
    _write_misclassified_csv(csv_path, metrics["misclassified"])
    json_path = directory / "metrics.json"
    _write_text(json_path, json.dumps(metrics, indent=2) + "\n")
    report_path = directory / "report.md"
    _write_text(
        report_path,
        _markdown(metrics, model_name=model_name, data_name=data_name, skipped=skipped),
    )
    files += [csv_path, json_path, report_path]
    return Bunch(metrics=metrics, files=files)


def _figure_class():
    """matplotlib's Figure, or an ImportError naming the extra."""
    try:  # the package itself: a stale submodule import would not tell
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "the report's figures need matplotlib, the optional extra 'plot'; "
            'install it with: pip install "mtclassic[plot]"'
        ) from exc
    return Figure


def _figures(model, images, y_true, result, *, ids, max_images, figure_class):
    """Yield (file name, figure) of the report's four figures (FIGURES)."""
    from mtclassic.plotting import (
        plot_confusion_matrix,
        plot_hog,
        plot_misclassified,
        plot_task_accuracy,
    )

    classes = result.classes.astype(str)
    unknown = list(result.metrics["unknown_labels"])
    yield (
        "confusion_matrix.png",
        plot_confusion_matrix(
            y_true,
            result.y_pred,
            labels=[*classes, *unknown],  # unknown labels: rows of their own
            tasks=result.tasks,
            normalize="true",
            ax=figure_class(figsize=(10, 9)).subplots(),
        ).figure,
    )
    known = result.known if result.known.any() else np.ones_like(result.known)
    yield (
        "task_accuracy.png",
        plot_task_accuracy(
            y_true[known],
            result.y_pred[known],
            tasks=result.tasks,
            ax=figure_class(figsize=(5, 3.5)).subplots(),
        ).figure,
    )
    # The most confident mistakes, each as read beside its normalised version
    wrong = np.flatnonzero(y_true != result.y_pred)
    confidence = result.proba[wrong].max(axis=1) if wrong.size else np.zeros(0)
    rows = wrong[np.argsort(-confidence, kind="stable")[:max_images]]
    if not rows.size:  # no mistake: the grid says so, from one right image
        rows = np.arange(1)
    chosen = _select(images, rows)
    normalised = _normalised(model, chosen)
    yield (
        "misclassified.png",
        plot_misclassified(
            normalised if normalised is not None else _as_batch(chosen),
            y_true[rows],
            result.y_pred[rows],
            result.proba[rows],
            classes=classes,
            max_images=max_images,
            ids=[f"#{i}" if ids is None else str(ids[i]) for i in rows.tolist()],
            originals=chosen if normalised is not None else None,
            fig=figure_class(),
        ),
    )
    # The most confident mistake (the first image when there is none), as the
    # model's HOG step sees it: after its normaliser
    first = int(rows[0])
    view = normalised[0] if normalised is not None else np.asarray(chosen[0])
    figure = plot_hog(
        view,
        hog=_hog_step(model),
        fig=figure_class(figsize=(6, 3.4), layout="constrained"),
    )
    figure.suptitle(
        f"true {y_true[first]} / predicted {result.y_pred[first]} "
        f"(p={result.proba[first].max():.2f}), after normalisation",
        fontsize="small",
    )
    yield "hog.png", figure
