"""Labelled images as ``mtclassic train`` and ``mtclassic evaluate`` read them.

One loader for both commands: a data-set name (``mnist``, ``emnist:<split>``:
downloaded once, checksummed, cached, see
:func:`~mtclassic.datasets.fetch_emnist`), labelled files through
:func:`mtclassic.io.read_labelled` (a class-per-folder tree, an ``.npz``, an
IDX images + labels pair), or the embedded synthetic set
(:func:`~mtclassic.datasets.make_characters`). Every image gets an id, named
as ``mtclassic score`` names records.
"""

import os

import numpy as np
from sklearn.utils import Bunch

# DIGIT_NAMES: the label of each code of an MNIST-style IDX labels file.
from mtclassic.io._labelled import DIGIT_NAMES

SYNTHETIC = "synthetic"
# Seed of the synthetic evaluation images: not 0, the seed `mtclassic train`
# uses by default, so a default evaluation never scores the training images.
EVALUATION_SEED = 1


def synthetic_images(n_samples, random_state, description=None):
    """The embedded synthetic set as a labelled-data Bunch.

    Examples
    --------
    >>> data = synthetic_images(36, 1)
    >>> data.images.shape, data.description, data.ids[:2]
    ((36, 28, 28), 'synthetic (36 images, random_state=1)', ['synthetic:0', 'synthetic:1'])
    """
    from mtclassic.datasets import make_characters

    images, target = make_characters(n_samples, random_state=random_state)
    if description is None:
        description = f"synthetic ({n_samples} images, random_state={random_state})"
    return Bunch(
        images=images,
        target=np.asarray(target).astype(str),
        description=description,
        skipped=[],
        ids=[f"{SYNTHETIC}:{index}" for index in range(len(target))],
    )


def load_labelled_images(
    data,
    *,
    subset="test",
    n_samples=2000,
    random_state=EVALUATION_SEED,
    idx_label_names=DIGIT_NAMES,
    transpose=False,
    synthetic=True,
):
    """Load labelled images from the sources ``mtclassic evaluate`` accepts.

    Parameters
    ----------
    data : str or list of str
        ``"synthetic"``: the embedded default data, generated with
        ``random_state`` (unless ``synthetic=False``); ``"mnist"`` or
        ``"emnist:<split>"``: the ``subset`` of that EMNIST split
        (:func:`~mtclassic.datasets.fetch_emnist` downloads it once); else
        what :func:`mtclassic.io.read_labelled` reads: a folder with one
        sub-folder per class; an ``.npz`` file with arrays ``images`` (or
        ``X``) and ``labels`` (or ``y``), and optionally ``sizes`` (padded
        crops, read cropped); or two IDX files, images then labels.
    subset : {"train", "test"}, default="test"
        The subset of a named EMNIST split.
    n_samples : int, default=2000
        Number of synthetic images.
    random_state : int, default=1
        Seed of the synthetic images; not 0, the training seed of
        ``mtclassic train``, so that they are not the training images.
    idx_label_names : str or sequence of str, default="0123456789"
        The label of each integer code in an IDX label file.
    transpose : bool, default=False
        Swap the rows and columns of the images read from files (EMNIST's IDX
        files store them transposed).
    synthetic : bool, default=True
        Whether ``"synthetic"`` names the embedded set (``mtclassic train``
        generates it without ``--data`` instead).

    Returns
    -------
    data : Bunch
        ``images`` ((n, h, w) array, or a list of 2-D arrays of different
        sizes from a folder), ``target`` str array, ``description`` str,
        ``skipped`` (files of a folder that could not be read) and ``ids``
        (the name of each image: its file for a folder, else
        ``<data file>:<index>`` as ``mtclassic score`` names records).

    Examples
    --------
    >>> data = load_labelled_images("synthetic", n_samples=36)
    >>> data.images.shape, len(set(data.target)), data.description
    ((36, 28, 28), 36, 'synthetic (36 images, random_state=1)')
    >>> data.ids[:2]
    ['synthetic:0', 'synthetic:1']
    """
    from mtclassic.io import read_labelled

    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    if not paths or len(paths) > 2:
        raise ValueError(
            "data must be 'synthetic', a folder, an .npz file, or an IDX images "
            f"file and an IDX labels file; got {len(paths)} arguments: {paths!r}."
        )
    paths = [os.fspath(path) for path in paths]
    if synthetic and paths == [SYNTHETIC]:
        return synthetic_images(n_samples, random_state)
    if len(paths) == 1:
        named = load_named_set(paths[0], subset, transpose=transpose)
        if named is not None:
            return named
    kinds = ("'mnist'", "'emnist:<split>'")
    loaded = read_labelled(
        paths,
        transpose=transpose,
        idx_label_names=idx_label_names,
        other_kinds=(repr(SYNTHETIC), *kinds) if synthetic else kinds,
    )
    return _with_ids(loaded, paths[0])


def load_named_set(name, subset, *, transpose=False):
    """The labelled images of a data-set name (``mnist``, ``emnist:<split>``),
    or None for a name that is none (or names an existing file or folder)."""
    from mtclassic.datasets._emnist import load_named

    loaded = load_named(os.fspath(name), subset, transpose=transpose)
    return None if loaded is None else _with_ids(loaded, os.fspath(name))


def _with_ids(loaded, source):
    """``loaded`` with ``ids``: its files, else ``<source>:<index>``."""
    files = loaded.pop("files", None)
    loaded.ids = (
        [os.fspath(file) for file in files]
        if files is not None
        else [f"{source}:{index}" for index in range(len(loaded.target))]
    )
    return loaded
