"""Thin characters stretched to fill their box: training copies (issue 12).

Many scanned and drawn sets store each character stretched to fill its box
(postal 16 x 16 scans, binary forms, 1-bit drawings whose ink touches the
frame). A thin character, a 1, an I or an l, then becomes a bar as wide as it
is tall, or a solid block, and the normaliser (which keeps the aspect ratio of
what it is given) cannot undo that. A model trained only on upright thin
strokes reads such a block as whatever wide glyph it resembles (N, H, 0, 8),
and the gate sends it to the wrong task.

:func:`filled_copies` makes the training copies that teach the model those
shapes: every character whose ink box is thin (width at most ``max_aspect``
times its height, or the reverse) stretched to fill a square box. The copy
keeps its grey levels and its label; it is made on the normalised image, not
deskewed, so that a slanted 1 fills its box as a slanted 1 does on paper.

:class:`FilledCopiesPipeline` is a :class:`~sklearn.pipeline.Pipeline` whose
``fit`` adds those copies to the training images before its steps see them
(``predict`` and ``transform`` are the Pipeline's own). The switch is a
parameter, ``filled_copies``, so a grid search can try it on and off, and
every other key (``vote__digits__svm__C``, ...) is the Pipeline's.
"""

import numbers

import numpy as np
from scipy import ndimage
from sklearn.pipeline import Pipeline

from ._validation import check_label_types
from .preprocessing import ImageNormalizer
from .utils._sklearn_compat import Interval, validate_params

__all__ = ["FilledCopiesPipeline", "filled_copies"]

#: Widest (or, inverted, tallest) ink box, relative to the other side, that
#: counts as thin: in MNIST's training set about one image in ten, two thirds
#: of them 1s (most of the rest 9s, 6s, 7s; among letters I, L, J).
MAX_ASPECT = 0.5
# The normaliser's frame and the box a character fills within it.
_SIDE = 28
_BOX = 20
# Ink: pixels at or above this fraction of the image's brightest one (the
# benchmarks' ink-box rule).
_INK = 0.2
# Images normalised at once (about 50 MB of float64 at 28 x 28).
_CHUNK = 8192


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "max_aspect": [Interval(numbers.Real, 0, 1, closed="neither")],
        "max_per_label": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_jobs": [None, numbers.Integral],
    },
    prefer_skip_nested_validation=True,
)
def filled_copies(X, y, *, max_aspect=MAX_ASPECT, max_per_label=None, n_jobs=None):
    """The thin characters of ``X`` stretched to fill a square box.

    Each image is normalised (:class:`~mtclassic.ImageNormalizer`, not
    deskewed); an image whose ink box is at most ``max_aspect`` times as wide
    as it is tall (or as tall as it is wide) is stretched, box to box by
    bilinear interpolation, to fill the 20 x 20 box of a 28 x 28 frame.

    Parameters
    ----------
    X : array-like of images or list of 2-D arrays
        Training images, as :class:`~mtclassic.ImageNormalizer` takes them.
    y : array-like of shape (n_samples,)
        Their labels.
    max_aspect : float in (0, 1), default=0.5
        Thinnest side over the other at or below which an image is copied.
    max_per_label : int, default=None
        At most this many copies of each label (evenly spaced over that
        label's thin images, in their order); all when None. Most thin
        characters are 1s (4,698 of 8,448 on the accuracy protocol's 71,820
        training images), and a solid block is as much a 1 as an I.
    n_jobs : int, default=None
        Threads of the normaliser.

    Returns
    -------
    copies : ndarray of shape (n_copies, 28, 28), float64 in [0, 1]
        The stretched images, bright ink on dark.
    y_copies : ndarray of shape (n_copies,)
        Their labels, those of the images they were made from.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic.filled import filled_copies
    >>> images = np.zeros((2, 28, 28))
    >>> images[0, 4:24, 12:16] = 1  # a thin bar: a 1
    >>> images[1, 6:22, 6:22] = 1  # a square: not thin
    >>> copies, labels = filled_copies(images, ["1", "O"])
    >>> copies.shape, labels.tolist()
    ((1, 28, 28), ['1'])
    >>> bool((copies[0, 4:24, 4:24] > 0.5).all())  # the bar now fills the box
    True
    """
    y = np.asarray(y)
    if len(y) != _num_images(X):
        raise ValueError(
            f"y must hold one label per image of X: {_num_images(X)} images, "
            f"{len(y)} labels."
        )
    normalizer = ImageNormalizer(deskew=False, n_jobs=n_jobs)
    copies, rows = [], []
    # by chunks, so that the normalised float64 images of a large training
    # set are never all held at once
    for start in range(0, len(y), _CHUNK):
        chunk = X[start : start + _CHUNK]
        images = normalizer.fit_transform(chunk).reshape(-1, _SIDE, _SIDE)
        stretched, thin = _thin_stretched(images, max_aspect)
        copies.append(stretched)
        rows.append(start + thin)
    copies, rows = np.concatenate(copies), np.concatenate(rows)
    if max_per_label is not None:
        kept = _at_most_per_label(y[rows], max_per_label)
        copies, rows = copies[kept], rows[kept]
    return copies, y[rows]


def _at_most_per_label(labels, n):
    """Indices of at most ``n`` of each label, evenly spaced, in order."""
    kept = []
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        if len(where) > n:
            where = where[np.linspace(0, len(where) - 1, n).round().astype(int)]
        kept.append(where)
    return np.sort(np.concatenate(kept)) if kept else np.zeros(0, dtype=int)


def _num_images(X):
    return len(X) if isinstance(X, (list, tuple)) else np.shape(X)[0]


def _thin_stretched(images, max_aspect):
    """The thin ones of normalised ``images``, stretched; and their indices."""
    peak = images.max(axis=(1, 2))
    ink = images >= _INK * np.maximum(peak, 1e-12)[:, None, None]
    top, bottom = _extent(ink.any(axis=2))
    left, right = _extent(ink.any(axis=1))
    height, width = bottom - top, right - left
    aspect = width / np.maximum(height, 1)
    thin = np.flatnonzero(
        (peak > 0) & ((aspect <= max_aspect) | (aspect >= 1 / max_aspect))
    )
    stretched = _stretch(images[thin], top[thin], left[thin], height[thin], width[thin])
    return stretched, thin


def _extent(occupied):
    """First and one-past-last True index of each row of a 2-D bool array."""
    first = occupied.argmax(axis=1)
    last = occupied.shape[1] - occupied[:, ::-1].argmax(axis=1)
    return first, last


def _stretch(images, top, left, height, width):
    """Each image's box (top, left, height, width) resampled to fill the
    frame's box; one map_coordinates call for the whole batch."""
    out = np.zeros((len(images), _SIDE, _SIDE))
    if not len(images):
        return out
    centres = (np.arange(_BOX) + 0.5) / _BOX  # pixel centres, in box units
    rows = top[:, None] - 0.5 + centres * height[:, None]
    cols = left[:, None] - 0.5 + centres * width[:, None]
    shape = (len(images), _BOX, _BOX)
    coordinates = np.stack(
        [
            np.broadcast_to(np.arange(len(images))[:, None, None], shape),
            np.broadcast_to(rows[:, :, None], shape),
            np.broadcast_to(cols[:, None, :], shape),
        ]
    )
    margin = (_SIDE - _BOX) // 2
    out[:, margin : margin + _BOX, margin : margin + _BOX] = ndimage.map_coordinates(
        images, coordinates, order=1, mode="nearest"
    )
    return np.clip(out, 0.0, 1.0)


def _with_copies(X, y, copies, y_copies):
    """``X`` and ``y`` with the copies appended, in ``X``'s own form where
    it is a batch of 28 x 28 images, otherwise as a list of images."""
    if not len(copies):
        return X, y
    y = np.concatenate([np.asarray(y), y_copies])
    if not isinstance(X, (list, tuple)):
        array = np.asarray(X)
        if array.ndim in (2, 3) and array.shape[1:] in (
            (_SIDE * _SIDE,),
            (_SIDE, _SIDE),
        ):
            # the normaliser stretches each image on its own, so a copy in
            # [0, 1] only needs the batch's dtype (0-255, rounded, for integers)
            if array.dtype.kind in "ui":
                copies = np.rint(copies * 255)
            elif array.dtype.kind == "b":  # 1-bit images: ink where half bright
                copies = copies >= 0.5
            copies = copies.astype(array.dtype).reshape(len(copies), *array.shape[1:])
            return np.concatenate([array, copies]), y
        X = array
    return [*X, *copies], y


class FilledCopiesPipeline(Pipeline):
    """A Pipeline whose fit also learns thin characters stretched to fill their box.

    ``fit`` appends :func:`filled_copies` of the training images (when
    ``filled_copies`` is True) and fits the steps on the lot; everything else
    is :class:`~sklearn.pipeline.Pipeline`'s. :func:`~mtclassic.make_default_model`
    returns one (with ``filled_copies=False`` unless asked: see its
    ``filled_copies`` for what the copies cost on real sets).

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As :class:`~sklearn.pipeline.Pipeline` takes them; the first step
        takes images.
    filled_copies : bool or int, default=True
        Whether ``fit`` adds the stretched copies of thin characters; an int
        adds at most that many of each label (``max_per_label`` of
        :func:`filled_copies`).
    transform_input, memory, verbose
        As :class:`~sklearn.pipeline.Pipeline` takes them.

    See Also
    --------
    filled_copies : the copies, made on their own.

    Examples
    --------
    >>> from mtclassic import make_default_model
    >>> model = make_default_model(filled_copies=True)
    >>> type(model).__name__, model.get_params()["filled_copies"]
    ('FilledCopiesPipeline', True)
    """

    def __init__(
        self,
        steps,
        *,
        filled_copies=True,
        transform_input=None,
        memory=None,
        verbose=False,
    ):
        super().__init__(
            steps, transform_input=transform_input, memory=memory, verbose=verbose
        )
        self.filled_copies = filled_copies

    def fit(self, X, y=None, **params):
        """Fit the steps on the images and, if asked, their filled copies.

        Parameters
        ----------
        X : array-like of images or list of 2-D arrays
            Training images.
        y : array-like of shape (n_samples,)
            Their labels.
        **params : dict
            As :meth:`sklearn.pipeline.Pipeline.fit` takes them; none may be
            per image when copies are added.

        Returns
        -------
        self : FilledCopiesPipeline
            The fitted pipeline.
        """
        value = self.filled_copies
        is_count = isinstance(value, numbers.Integral) and not isinstance(
            value, (bool, np.bool_)
        )
        if not (isinstance(value, (bool, np.bool_)) or (is_count and value >= 1)):
            raise ValueError(
                "filled_copies must be True, False or a number of copies per "
                f"label >= 1; got {value!r} ({type(value).__name__})."
            )
        if self.filled_copies and y is not None:
            # numpy would turn labels that mix strings and numbers into strings
            check_label_types(y)
            if params:
                raise ValueError(
                    "fit parameters cannot be passed with filled_copies=True (the "
                    f"copies have no values of their own); got {sorted(params)}."
                )
            # the copies are normalised with the pipeline's own threads
            n_jobs = getattr(self.steps[0][1], "n_jobs", None)
            copies, y_copies = filled_copies(
                X, y, max_per_label=int(value) if is_count else None, n_jobs=n_jobs
            )
            X, y = _with_copies(X, y, copies, y_copies)
        return super().fit(X, y, **params)
