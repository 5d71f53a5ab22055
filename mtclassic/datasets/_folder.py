"""Load images from a folder with one sub-folder per class.

The listing and decoding are :mod:`mtclassic.io`'s (one list of image types,
one decoder, symbolic-link loops skipped or refused by name); this module
returns them as a Bunch.
"""

import numpy as np
from sklearn.utils import Bunch

from mtclassic.io._images import IMAGE_EXTENSIONS, read_image_folder

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]


def load_image_folder(path, *, on_error="raise", transpose=False, return_X_y=False):
    """Load labelled images from a folder with one sub-folder per class.

    ``path/<label>/<image file>``: the name of each sub-folder is the label of
    the image files directly in it (extensions in any case: those of
    :data:`mtclassic.io.IMAGE_EXTENSIONS`, PNG, JPEG, BMP, GIF, TIFF, WebP
    and PNM, the same list every command reads). Other
    files, hidden files and folders (names starting with ".") and files at the
    top level are ignored. Images of any size and colour mode (RGB, RGBA,
    palette, 16-bit, ...) are converted to 8-bit grey with Pillow; transparent
    pixels count as white paper, and EXIF orientation is applied. The order is
    sorted by label, then by file name.

    Parameters
    ----------
    path : str or path-like
        The folder.
    on_error : {"raise", "skip"}, default="raise"
        What to do with a file that cannot be read as an image (or a folder
        entry that cannot be resolved, such as a symbolic-link loop): raise a
        ValueError naming it, or skip it, warn with the count, and list it in
        ``skipped``.
    transpose : bool, default=False
        Swap the rows and columns of every image (for images stored
        transposed, as EMNIST's).
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : list of ndarray of shape (height, width), dtype uint8
            The images, each of its own size.
        target : ndarray of shape (n_images,), dtype str
            The label (sub-folder name) of each image.
        filenames : ndarray of shape (n_images,), dtype str
            The file of each image.
        target_names : ndarray of str
            The sorted labels that have at least one image.
        skipped : list of (str, str)
            ``(filename, reason)`` for each unreadable file (or unresolvable
            entry, such as a symbolic-link loop) skipped with
            ``on_error="skip"``; empty otherwise.
        DESCR : str
            A one-line description.

    (images, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        When ``path`` does not exist or is not a folder.
    ValueError
        For a bad ``on_error``; an empty folder, one without class sub-folders
        or without image files in them; with ``on_error="raise"``, a file that
        cannot be read (the message names it and gives the reason); with
        ``on_error="skip"``, when no file can be read.

    Warns
    -----
    UserWarning
        When files were skipped, or class sub-folders hold no image files.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from mtclassic.datasets import load_image_folder
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for label, size in [("A", (3, 2)), ("B", (4, 5))]:
    ...         os.mkdir(os.path.join(tmp, label))
    ...         pixels = np.zeros((*size, 3), dtype=np.uint8)  # RGB
    ...         Image.fromarray(pixels).save(os.path.join(tmp, label, "1.png"))
    ...     data = load_image_folder(tmp)
    >>> [image.shape for image in data.images], data.target
    ([(3, 2), (4, 5)], array(['A', 'B'], dtype='<U1'))
    """
    images, target, filenames, skipped = read_image_folder(
        path, on_error=on_error, transpose=transpose, stacklevel=2
    )
    if return_X_y:
        return images, target
    target_names = np.unique(target)
    return Bunch(
        images=images,
        target=target,
        filenames=np.array(filenames),
        target_names=target_names,
        skipped=skipped,
        DESCR=(
            f"{len(images)} images in {len(target_names)} classes from the image "
            f"folder {path}."
        ),
    )
