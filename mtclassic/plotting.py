"""Figures for looking at a character classifier: where it errs and why.

Four figures, each drawn on matplotlib axes that the caller may pass in:

- :func:`plot_confusion_matrix`: the confusion matrix over all labels, with the
  task blocks (digits, letters, ...) outlined so cross-task errors stand out;
- :func:`plot_misclassified`: a grid of the images the model got wrong, with
  their true and predicted labels and the predicted probability;
- :func:`plot_hog`: one image beside its histogram-of-oriented-gradients
  glyphs, as scikit-image draws them;
- :func:`plot_task_accuracy`: accuracy per task and over all labels, as bars.

matplotlib is the optional extra ``plot`` (``pip install "mtclassic[plot]"``).
It is imported inside the functions, never when this module is imported, and
pyplot is only used to create a figure when the caller passes no axes.
"""

import math

import numpy as np

from mtclassic._validation import check_images
from mtclassic.metrics import (  # re-exported: public here since 0.1
    check_tasks,
    default_tasks,
    model_tasks,
    task_accuracy,
)

__all__ = [
    "default_tasks",
    "hog_cell_histograms",
    "model_tasks",
    "plot_confusion_matrix",
    "plot_hog",
    "plot_misclassified",
    "plot_task_accuracy",
    "task_accuracy",
]

_MISSING_MATPLOTLIB = (
    "mtclassic.plotting needs matplotlib, which is the optional extra 'plot'; "
    'install it with: pip install "mtclassic[plot]"'
)


def _import_matplotlib():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(_MISSING_MATPLOTLIB) from exc
    return matplotlib


def _new_axes(ax, **subplots_kw):
    """Return ``ax`` or the axes of a new pyplot figure when ``ax`` is None."""
    _import_matplotlib()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(**subplots_kw)
    return ax


def _new_figure(fig, **figure_kw):
    """Return ``fig`` or a new pyplot figure when ``fig`` is None."""
    _import_matplotlib()
    if fig is not None:
        return fig
    import matplotlib.pyplot as plt

    return plt.figure(**figure_kw)


def _check_labels(y_true, y_pred):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(
            "y_true and y_pred must be 1-D sequences of labels; got shapes "
            f"{y_true.shape} and {y_pred.shape}."
        )
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            "y_true and y_pred must have the same length; got "
            f"{y_true.shape[0]} and {y_pred.shape[0]}."
        )
    if y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty; at least one label is needed.")
    return y_true, y_pred


def _ordered_labels(y_true, y_pred, labels, tasks):
    """Labels ordered task by task, so that every task is one diagonal block."""
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    labels = list(labels)
    tasks = check_tasks(tasks, labels)
    present = set(labels)
    ordered, blocks = [], []
    for task, members in tasks.items():
        members = sorted(label for label in members if label in present)
        if members:
            blocks.append((task, len(ordered), len(ordered) + len(members)))
            ordered.extend(members)
    claimed = set(ordered)
    ordered.extend(sorted(label for label in labels if label not in claimed))
    return ordered, blocks


def plot_confusion_matrix(
    y_true,
    y_pred,
    *,
    labels=None,
    tasks=None,
    normalize=None,
    include_values=False,
    cmap="Blues",
    colorbar=True,
    ax=None,
):
    """Plot the confusion matrix with the task blocks outlined.

    Rows are true labels and columns predicted labels, ordered task by task,
    so each task's labels form one block on the diagonal. The blocks are
    outlined and separated by lines: anything outside them is a cross-task
    (routing) error, such as a ``'0'`` read as an ``'O'``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    labels : array-like, default=None
        The labels to show; the union of ``y_true`` and ``y_pred`` when None.
    tasks : dict of str to list, default=None
        Task name -> its labels, for example a fitted multi-task model's
        mapping (:func:`mtclassic.metrics.model_tasks`). When None, labels are
        grouped into ``'digits'`` and ``'letters'``
        (:func:`mtclassic.metrics.default_tasks`). Labels of no task come last,
        outside every block.
    normalize : {'true', 'pred', 'all'}, default=None
        Normalise counts over the true labels (rows), the predicted labels
        (columns) or all images, as in :func:`sklearn.metrics.confusion_matrix`.
    include_values : bool, default=False
        Write the value in every non-zero cell.
    cmap : str or matplotlib colormap, default='Blues'
        Colormap of the matrix.
    colorbar : bool, default=True
        Add a colorbar beside the matrix.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib Axes
        The matrix is ``ax.images[0]``; the task outlines are the patches with
        gid ``'task-block'`` and the separating lines have gid
        ``'task-boundary'``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> ax = plot_confusion_matrix(["0", "1", "A", "B"], ["0", "A", "A", "B"], ax=ax)
    >>> [tick.get_text() for tick in ax.get_xticklabels()]
    ['0', '1', 'A', 'B']
    >>> [patch.get_label() for patch in ax.patches]
    ['digits', 'letters']
    """
    from sklearn.metrics import confusion_matrix

    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(
            "normalize must be one of None, 'true', 'pred' or 'all'; got "
            f"{normalize!r}."
        )
    y_true, y_pred = _check_labels(y_true, y_pred)
    ordered, blocks = _ordered_labels(y_true, y_pred, labels, tasks)
    ax = _new_axes(ax, figsize=(9, 8))
    matrix = confusion_matrix(y_true, y_pred, labels=ordered, normalize=normalize)
    image = ax.imshow(matrix, cmap=cmap, interpolation="nearest")
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    positions = np.arange(len(ordered))
    ax.set_xticks(positions, [str(label) for label in ordered], fontsize="small")
    ax.set_yticks(positions, [str(label) for label in ordered], fontsize="small")
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    title = "Confusion matrix"
    if normalize is not None:
        title += {
            "true": " (rows sum to 1)",
            "pred": " (columns sum to 1)",
            "all": " (fractions of all images)",
        }[normalize]
    ax.set_title(title)

    if include_values:
        threshold = matrix.max() / 2 if matrix.size else 0
        text_format = "d" if normalize is None else ".2f"
        for row, col in zip(*np.nonzero(matrix), strict=True):
            value = matrix[row, col]
            ax.text(
                col,
                row,
                format(value, text_format),
                ha="center",
                va="center",
                fontsize="xx-small",
                color="white" if value > threshold else "black",
            )

    _outline_tasks(ax, blocks, len(ordered))
    return ax


def _outline_tasks(ax, blocks, n_labels):
    """Outline each task's diagonal block; lines across the whole matrix at
    every block edge show where cross-task errors sit."""
    from matplotlib.patches import Rectangle

    for task, start, stop in blocks:
        ax.add_patch(
            Rectangle(
                (start - 0.5, start - 0.5),
                stop - start,
                stop - start,
                fill=False,
                edgecolor="tab:red",
                linewidth=2,
                label=task,
                gid="task-block",
            )
        )
    edges = sorted({stop for _, _, stop in blocks} - {n_labels})
    for edge in edges:
        for line in (
            ax.axhline(edge - 0.5, color="tab:red", linewidth=0.8, linestyle="--"),
            ax.axvline(edge - 0.5, color="tab:red", linewidth=0.8, linestyle="--"),
        ):
            line.set_gid("task-boundary")


def plot_misclassified(
    images,
    y_true,
    y_pred,
    proba=None,
    *,
    classes=None,
    image_shape=None,
    max_images=25,
    ncols=5,
    ids=None,
    originals=None,
    fig=None,
):
    """Show the misclassified images with their true and predicted labels.

    Each panel is titled ``true X / pred Y`` and, when probabilities are given,
    the probability the model gave its (wrong) prediction. With probabilities
    the most confident mistakes come first; otherwise the mistakes keep their
    order in the batch. With ``ids`` each panel is titled first with the
    image's name (its file, say), so that the scan can be found again; with
    ``originals`` each image is shown as read, beside ``images`` (the
    normalised version, say).

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width) or (n_samples, height * width)
        The images that were classified.
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    proba : array-like of shape (n_samples, n_classes), default=None
        Predicted probabilities, for example ``model.predict_proba(images)``.
    classes : array-like of shape (n_classes,), default=None
        The label of each column of ``proba`` (``model.classes_``); required
        with ``proba``.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows; a square is inferred when None.
    max_images : int, default=25
        Most panels to draw.
    ncols : int, default=5
        Panels per row.
    ids : array-like of shape (n_samples,), default=None
        A name for each image (file name, index), shown atop its panel.
    originals : sequence of n_samples 2-D arrays, default=None
        The images as read (any sizes), each drawn left of its ``images``
        panel; the pair then counts as one panel of the ``ncols``.
    fig : matplotlib Figure, default=None
        Figure to draw into; a new figure is created when None.

    Returns
    -------
    fig : matplotlib Figure
        One axes per image shown (two with ``originals``: the original, then
        the image), or a single axes with a note when no image is
        misclassified.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> images = np.zeros((3, 28, 28), dtype=np.uint8)
    >>> fig = plot_misclassified(images, ["1", "7", "A"], ["1", "1", "4"], fig=Figure())
    >>> [ax.get_title() for ax in fig.axes]
    ['true 7 / pred 1', 'true A / pred 4']
    >>> fig = plot_misclassified(images, ["1", "7", "A"], ["1", "1", "4"],
    ...                          ids=["a.png", "b.png", "c.png"],
    ...                          originals=list(images), fig=Figure())
    >>> [ax.get_title() for ax in fig.axes]
    ['b.png', 'true 7 / pred 1', 'c.png', 'true A / pred 4']
    """
    y_true, y_pred = _check_labels(y_true, y_pred)
    images = check_images(images, image_shape=image_shape, name="images")
    if images.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"images holds {images.shape[0]} images but y_true has "
            f"{y_true.shape[0]} labels; they must match."
        )
    for name, value in (("max_images", max_images), ("ncols", ncols)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    for name, value in (("ids", ids), ("originals", originals)):
        if value is not None and len(value) != y_true.shape[0]:
            raise ValueError(
                f"{name} must hold one entry per image ({y_true.shape[0]}); got "
                f"{len(value)}."
            )
    wrong, confidence = _mistakes(y_true, y_pred, proba, classes)
    wrong = wrong[:max_images]

    fig = _new_figure(fig)
    if wrong.size == 0:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ncols = min(ncols, wrong.size)
    nrows = math.ceil(wrong.size / ncols)
    per_panel = 1 if originals is None else 2
    fig.set_size_inches(
        1.6 * ncols * per_panel, (1.9 + 0.3 * (ids is not None)) * nrows
    )
    for panel, index in enumerate(wrong):
        title = f"true {y_true[index]} / pred {y_pred[index]}"
        if confidence is not None:
            title += f"\np={confidence[panel]:.2f}"
        name = None if ids is None else _short(str(ids[index]))
        first = panel * per_panel + 1
        if originals is not None:
            ax = fig.add_subplot(nrows, ncols * per_panel, first)
            ax.imshow(
                np.asarray(originals[index]), cmap="gray", interpolation="nearest"
            )
            ax.set_title(name if name is not None else "original", fontsize="small")
            ax.set_axis_off()
            name = None  # said once per pair
        ax = fig.add_subplot(nrows, ncols * per_panel, first + per_panel - 1)
        ax.imshow(images[index], cmap="gray", interpolation="nearest")
        ax.set_title(title if name is None else f"{name}\n{title}", fontsize="small")
        ax.set_axis_off()
    return fig


def _mistakes(y_true, y_pred, proba, classes):
    """The rows of the mistakes and the probability of each prediction (None
    without ``proba``); with it, the most confident mistakes first."""
    wrong = np.flatnonzero(y_true != y_pred)
    if proba is None:
        return wrong, None
    if classes is None:
        raise ValueError(
            "classes is required with proba: it gives the label of each "
            "column (model.classes_)."
        )
    proba = np.asarray(proba, dtype=float)
    classes = np.asarray(classes)
    if proba.shape != (y_true.shape[0], classes.shape[0]):
        raise ValueError(
            "proba must have shape (n_samples, n_classes) = "
            f"({y_true.shape[0]}, {classes.shape[0]}); got {proba.shape}."
        )
    column = {label: index for index, label in enumerate(classes.tolist())}
    unknown = sorted({str(label) for label in y_pred[wrong]} - set(map(str, column)))
    if unknown:
        raise ValueError(f"y_pred holds labels {unknown} that are not in classes.")
    confidence = proba[wrong, [column[label] for label in y_pred[wrong].tolist()]]
    # Most confident mistakes first: they say the most about the model.
    order = np.argsort(-confidence, kind="stable")
    return wrong[order], confidence[order]


def _short(name, width=22):
    """A file name cut from the left to fit a panel's title."""
    return name if len(name) <= width else "..." + name[-(width - 3) :]


def _hog_transformer(hog, *params):
    """A copy of ``hog`` (a HOGTransformer, the package's default when None)
    with the HOG parameters given (not None) set, for images of any shape.

    ``params``: orientations, pixels_per_cell, cells_per_block, block_norm,
    transform_sqrt, in that order."""
    from sklearn.base import clone

    from mtclassic.features import HOGTransformer

    if hog is None:
        hog = HOGTransformer()
    elif not isinstance(hog, HOGTransformer):
        raise TypeError(
            f"hog must be a mtclassic.HOGTransformer or None; got {type(hog).__name__}."
        )
    names = ("orientations", "pixels_per_cell", "cells_per_block", "block_norm")
    given = {
        name: value
        for name, value in zip((*names, "transform_sqrt"), params, strict=True)
        if value is not None
    }
    return clone(hog).set_params(**given, image_shape=None)


def hog_cell_histograms(
    image,
    *,
    orientations=None,
    pixels_per_cell=None,
    cells_per_block=None,
    block_norm=None,
    transform_sqrt=None,
    hog=None,
):
    """Orientation strength of every HOG cell, as the features hold it.

    HOG normalises overlapping blocks of cells, so one cell appears in several
    blocks; its strength here is the mean of its block-normalised histograms,
    the features the model sees. They are computed by
    :class:`~mtclassic.HOGTransformer` (equal to scikit-image's
    :func:`~skimage.feature.hog`).

    Parameters
    ----------
    image : array-like of shape (height, width)
        One grey image.
    orientations, pixels_per_cell, cells_per_block, block_norm, transform_sqrt
        The HOG parameters, as :class:`~mtclassic.HOGTransformer` takes them;
        None (the default) keeps ``hog``'s.
    hog : HOGTransformer, default=None
        The transformer whose parameters to use (a model's HOG step, say);
        ``HOGTransformer()`` when None.

    Returns
    -------
    cells : ndarray of shape (n_cells_row, n_cells_col, orientations)
    n_features : int
        Length of the HOG feature vector.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((28, 28))
    >>> image[:, 14:] = 1.0  # one vertical edge: gradients along the rows
    >>> cells, n_features = hog_cell_histograms(image)
    >>> cells.shape, n_features, int(cells.sum(axis=(0, 1)).argmax())
    ((4, 4, 9), 324, 0)
    """
    hog = _hog_transformer(
        hog, orientations, pixels_per_cell, cells_per_block, block_norm, transform_sqrt
    )
    array = np.asarray(image)
    features = hog.fit_transform(array[None])[0].astype(np.float64)
    # the feature vector is scikit-image's blocks array, raveled: (block row,
    # block column, cell row in block, cell column in block, bin)
    (cell_rows, cell_cols), (block_rows, block_cols) = (
        hog.pixels_per_cell,
        hog.cells_per_block,
    )
    n_cells = (array.shape[0] // cell_rows, array.shape[1] // cell_cols)
    n_blocks = (n_cells[0] - block_rows + 1, n_cells[1] - block_cols + 1)
    blocks = features.reshape(*n_blocks, block_rows, block_cols, hog.orientations)
    cells = np.zeros((*n_cells, hog.orientations))
    counts = np.zeros((*n_cells, 1))
    # Blocks slide one cell at a time: cell (i, j) of block (r, c) is image
    # cell (r + i, c + j).
    for i in range(block_rows):
        for j in range(block_cols):
            cells[i : i + n_blocks[0], j : j + n_blocks[1]] += blocks[:, :, i, j]
            counts[i : i + n_blocks[0], j : j + n_blocks[1]] += 1
    return cells / counts, features.size


def plot_hog(
    image,
    *,
    orientations=None,
    pixels_per_cell=None,
    cells_per_block=None,
    block_norm=None,
    transform_sqrt=None,
    hog=None,
    fig=None,
):
    """Show an image beside its histogram of oriented gradients.

    The features are :class:`~mtclassic.HOGTransformer`'s: by default the
    default model's, or those of ``hog`` (a fitted model's HOG step), with any
    parameter given here changed.

    The right panel draws, in every cell, one line per orientation bin, as
    scikit-image's ``hog(..., visualize=True)`` does: the line runs along the
    edge (across the gradient) and is as opaque as that bin's strength (see
    :func:`hog_cell_histograms`). The lines are vector glyphs over the faint
    image, so they stay readable for small images such as 28x28 characters,
    where raster glyphs would be a few pixels long.

    Parameters
    ----------
    image : array-like of shape (height, width)
        One grey image.
    orientations, pixels_per_cell, cells_per_block, block_norm, transform_sqrt
        The HOG parameters, as :class:`~mtclassic.HOGTransformer` takes them;
        None (the default) keeps ``hog``'s.
    hog : HOGTransformer, default=None
        The transformer whose parameters to use; ``HOGTransformer()`` when
        None.
    fig : matplotlib Figure, default=None
        Figure to draw into; a new figure is created when None.

    Returns
    -------
    fig : matplotlib Figure
        Two axes: the image, titled ``'image'``, and the HOG glyphs (a
        ``LineCollection`` with one segment per cell and orientation, cell by
        cell in row order, its alpha the strength relative to the strongest),
        titled with the cell size and the number of features.

    Examples
    --------
    >>> import numpy as np
    >>> from matplotlib.figure import Figure
    >>> image = np.zeros((28, 28))
    >>> image[6:22, 13:15] = 1.0
    >>> fig = plot_hog(image, fig=Figure())
    >>> [ax.get_title() for ax in fig.axes]
    ['image', 'HOG: 9 orientations, 7x7-pixel cells, 324 features']
    >>> len(fig.axes[1].collections[0].get_segments())  # 4 x 4 cells x 9 bins
    144
    """
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(
            "image must be one grey image of shape (height, width); got an array "
            f"of shape {array.shape}. For one image of a batch use images[i]."
        )
    array = check_images(array[None], name="image")[0]
    hog = _hog_transformer(
        hog, orientations, pixels_per_cell, cells_per_block, block_norm, transform_sqrt
    )
    cells, n_features = hog_cell_histograms(array, hog=hog)
    orientations, pixels_per_cell = hog.orientations, hog.pixels_per_cell
    fig = _new_figure(fig, figsize=(6, 3))
    from matplotlib.collections import LineCollection

    # skimage's glyph geometry: bin o has mid-angle pi * (o + 0.5) / n and
    # is drawn from (row - dc, col + dr) to (row + dc, col - dr).
    cell_height, cell_width = pixels_per_cell
    radius = 0.45 * min(cell_height, cell_width)
    angles = np.pi * (np.arange(orientations) + 0.5) / orientations
    d_row, d_col = radius * np.sin(angles), radius * np.cos(angles)
    n_rows, n_cols, _ = cells.shape
    rows = np.arange(n_rows)[:, None, None] * cell_height + (cell_height - 1) / 2
    cols = np.arange(n_cols)[None, :, None] * cell_width + (cell_width - 1) / 2
    rows, cols = np.broadcast_arrays(rows, cols, cells)[:2]
    # segments in (x, y) = (column, row) display coordinates
    starts = np.stack([cols + d_row, rows - d_col], axis=-1)
    ends = np.stack([cols - d_row, rows + d_col], axis=-1)
    segments = np.stack([starts, ends], axis=-2).reshape(-1, 2, 2)
    strengths = cells.reshape(-1)
    peak = strengths.max()
    colors = np.zeros((strengths.size, 4))
    colors[:, :3] = (1.0, 0.85, 0.2)
    colors[:, 3] = strengths / peak if peak > 0 else 0.0

    image_ax, hog_ax = fig.subplots(1, 2)
    image_ax.imshow(array, cmap="gray", interpolation="nearest")
    image_ax.set_title("image")
    hog_ax.imshow(array, cmap="gray", interpolation="nearest", alpha=0.3)
    glyphs = LineCollection(segments, colors=colors, linewidths=1.5)
    hog_ax.add_collection(glyphs)
    hog_ax.set_facecolor("black")
    hog_ax.set_title(
        f"HOG: {orientations} orientations, {cell_height}x{cell_width}-pixel "
        f"cells, {n_features} features",
        fontsize="small",
    )
    image_ax.set_axis_off()
    # ticks off but the black face kept: the faint image sits on black
    hog_ax.set_xticks([])
    hog_ax.set_yticks([])
    return fig


def plot_task_accuracy(y_true, y_pred, *, tasks=None, ax=None):
    """Plot the accuracy on each task's images and over all images as bars.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    tasks : dict of str to list, default=None
        Task name -> its labels; ``'digits'`` and ``'letters'`` when None.
    ax : matplotlib Axes, default=None
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    ax : matplotlib Axes
        One bar per task with images, then one ``'all'`` bar; each bar's
        height is the accuracy (see :func:`mtclassic.metrics.task_accuracy`) and its label the
        number of images.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = plot_task_accuracy(["0", "1", "A", "B"], ["0", "A", "A", "B"],
    ...                         ax=Figure().subplots())
    >>> [tick.get_text() for tick in ax.get_xticklabels()]
    ['digits', 'letters', 'all']
    >>> [float(bar.get_height()) for bar in ax.patches]
    [0.5, 1.0, 0.75]
    """
    scores = task_accuracy(y_true, y_pred, tasks=tasks)
    names = [*scores["tasks"], "all"]
    heights = [entry["accuracy"] for entry in scores["tasks"].values()]
    heights.append(scores["accuracy"])
    counts = [entry["n_samples"] for entry in scores["tasks"].values()]
    counts.append(len(np.asarray(y_true)))
    ax = _new_axes(ax, figsize=(1.2 * len(names) + 2, 3.5))
    colors = ["tab:blue"] * (len(names) - 1) + ["tab:gray"]
    bars = ax.bar(range(len(names)), heights, color=colors)
    ax.bar_label(
        bars,
        labels=[
            f"{height:.1%}\nn={count}"
            for height, count in zip(heights, counts, strict=True)
        ],
        fontsize="small",
    )
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.15)
    ax.set_ylabel("accuracy")
    ax.set_title(f"Accuracy per task (routing error {scores['routing_error']:.1%})")
    return ax
