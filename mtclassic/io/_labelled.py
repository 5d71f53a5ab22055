"""Labelled images from files: what ``train --data`` and ``evaluate`` read.

Three kinds, told apart by what the paths are:

- a folder with one sub-folder per class (:func:`read_image_folder`);
- an ``.npz`` file with arrays ``images`` (or ``X``) and ``labels`` (or ``y``,
  ``target``), and optionally ``sizes`` (ragged crops padded into one array:
  image ``i`` is ``images[i, :h, :w]`` with ``(h, w) = sizes[i]``);
- two IDX files, the images and their integer label codes.
"""

import os

import numpy as np

from ._arrays import (
    NPZ_LABEL_KEYS,
    NPZ_SIZES_KEY,
    check_images,
    check_sizes,
    crop,
    orient,
)
from ._idx import load_idx
from ._images import read_image_folder

# The label codes of MNIST-style IDX label files: code k is DIGIT_NAMES[k].
DIGIT_NAMES = "0123456789"
_NPZ_IMAGE_KEYS = ("images", "X")


def read_idx_pair(
    images_path, labels_path, label_names=DIGIT_NAMES, *, transpose=False
):
    """IDX images and the label of each: ``label_names[code]`` for each code."""
    images = load_idx(images_path)
    check_images(images.shape, os.fspath(images_path), "the IDX file")
    codes = load_idx(labels_path)
    if codes.ndim != 1 or codes.dtype.kind not in "iu":
        raise ValueError(
            f"{os.fspath(labels_path)}: an IDX labels file must hold one integer "
            f"per image; got dtype {codes.dtype} and shape {codes.shape}."
        )
    names = np.asarray(list(label_names), dtype=str)
    bad = (codes < 0) | (codes >= len(names))
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{os.fspath(labels_path)}: label code {int(codes[first])} at record "
            f"{first} has no name; idx_label_names gives {len(names)} names "
            f"({''.join(names)!r})."
        )
    return orient(images, transpose, os.fspath(images_path)), names[codes]


def read_labelled_npz(path, *, transpose=False):
    """The images and labels of an ``.npz``, cropped to its ``sizes`` if any."""
    name = os.fspath(path)
    with np.load(path, allow_pickle=False) as archive:
        keys = set(archive.files)
        image_key = next((k for k in _NPZ_IMAGE_KEYS if k in keys), None)
        label_key = next((k for k in NPZ_LABEL_KEYS if k in keys), None)
        if image_key is None or label_key is None:
            raise ValueError(
                f"{name}: an .npz data file must hold arrays 'images' "
                f"(or 'X') and 'labels' (or 'y'); it holds {sorted(keys)}."
            )
        images, labels = archive[image_key], archive[label_key]
        sizes = archive[NPZ_SIZES_KEY] if NPZ_SIZES_KEY in keys else None
    check_images(images.shape, name, f"array {image_key!r}")
    if sizes is not None:
        images = crop(images, check_sizes(sizes, images.shape, name))
    return orient(images, transpose, name), labels


def read_labelled(
    data,
    *,
    transpose=False,
    idx_label_names=DIGIT_NAMES,
    on_error="skip",
    other_kinds=(),
):
    """Read labelled images from a folder, an ``.npz`` file or an IDX pair.

    Parameters
    ----------
    data : str, path-like or list of one or two of them
        A folder with one sub-folder per class, an ``.npz`` file (``images``
        and ``labels``, optionally ``sizes``), or an IDX images file and an
        IDX labels file.
    transpose : bool, default=False
        Swap the rows and columns of every image (EMNIST's IDX files).
    idx_label_names : str or sequence of str, default="0123456789"
        The label of each integer code in an IDX labels file.
    on_error : {"raise", "skip"}, default="skip"
        For the files of a folder that cannot be read.
    other_kinds : tuple of str, default=()
        Further kinds of ``data`` the caller accepts, named in the message
        when ``data`` is none of these.

    Returns
    -------
    data : Bunch
        ``images`` (an ``(n, h, w)`` array, or a list of 2-D arrays of
        different sizes), ``target`` (str array), ``description`` and
        ``skipped`` (``(file, reason)`` of a folder's unreadable files).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "crops.npz")
    ...     np.savez(path, images=np.ones((2, 5, 6)), labels=["A", "7"],
    ...              sizes=[[5, 6], [2, 3]])
    ...     data = read_labelled(path)
    >>> [image.shape for image in data.images], data.target.tolist()
    ([(5, 6), (2, 3)], ['A', '7'])
    """
    from sklearn.utils import Bunch

    paths = [data] if isinstance(data, (str, os.PathLike)) else list(data)
    skipped, files = [], None
    if len(paths) == 2:
        images, target = read_idx_pair(*paths, idx_label_names, transpose=transpose)
        description = f"IDX {os.fspath(paths[0])} + {os.fspath(paths[1])}"
    elif len(paths) == 1 and os.path.isdir(paths[0]):
        images, target, files, skipped = read_image_folder(
            paths[0], on_error=on_error, transpose=transpose, stacklevel=2
        )
        if len({image.shape for image in images}) == 1:
            images = np.stack(images)
        # else a list of 2-D arrays of different sizes, as the normaliser takes them
        description = f"image folder {os.fspath(paths[0])}"
    elif len(paths) == 1 and os.fspath(paths[0]).lower().endswith(".npz"):
        images, target = read_labelled_npz(paths[0], transpose=transpose)
        description = f"{os.fspath(paths[0])}"
    else:
        kinds = ", ".join([*other_kinds, "a folder"])
        raise ValueError(
            f"data {os.fspath(paths[0]) if paths else paths!r} is neither {kinds} "
            "nor an .npz file; for IDX files give the images file and the labels "
            "file."
        )
    target = np.asarray(target).astype(str)
    if len(images) != len(target):
        raise ValueError(
            f"{description}: {len(images)} images but {len(target)} labels; "
            "they must match."
        )
    return Bunch(
        images=images,
        target=target,
        description=description,
        skipped=skipped,
        files=files,
    )
