"""Load images from a folder with one sub-folder per class.

Every image is read with Pillow and converted to 8-bit grey; images keep their
own sizes (bring them to a common geometry with ``ImageNormalizer``).
"""

import os
import warnings

import numpy as np
from sklearn.utils import Bunch

IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png")
_ON_ERROR = ("raise", "skip")
_EXIF_ORIENTATION = 0x0112
_EXPECTED_LAYOUT = (
    "expected one sub-folder per class (the sub-folder's name is the label) "
    "holding PNG, JPEG or BMP files"
)


def _to_grey(image):
    """Convert an open Pillow image of any mode to a 2-D uint8 array."""
    from PIL import Image, ImageOps

    if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
        image = ImageOps.exif_transpose(image)  # as a viewer shows it
    if image.mode.startswith("I;16") or image.mode == "I":
        # Pillow's convert("L") clips 16-bit values at 255; rescale instead.
        values = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        return ((values * 255 + 32767) // 65535).astype(np.uint8)
    if "A" in image.getbands() or "transparency" in image.info:
        # Transparent pixels are paper: composite onto white.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    return np.array(image.convert("L"), dtype=np.uint8)


def _read_grey(filename):
    from PIL import Image

    with Image.open(filename) as image:
        image.load()  # decode now, so that a corrupt file fails here
        return _to_grey(image)


def _list_images(path):
    """Sorted (label, filename) pairs, and the class folders with no images."""
    entries = sorted(
        (entry for entry in os.scandir(path) if not entry.name.startswith(".")),
        key=lambda entry: entry.name,
    )
    if not entries:
        raise ValueError(f"Image folder {path} is empty; {_EXPECTED_LAYOUT}.")
    class_folders = [entry for entry in entries if entry.is_dir()]
    if not class_folders:
        raise ValueError(
            f"Image folder {path} has no class sub-folders (it holds {len(entries)} "
            f"file(s)); {_EXPECTED_LAYOUT}."
        )
    pairs, empty_classes = [], []
    for folder in class_folders:
        names = sorted(
            entry.name
            for entry in os.scandir(folder.path)
            if entry.is_file()
            and not entry.name.startswith(".")
            and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
        )
        if not names:
            empty_classes.append(folder.name)
        pairs.extend((folder.name, os.path.join(folder.path, name)) for name in names)
    if not pairs:
        raise ValueError(
            f"Image folder {path} has {len(class_folders)} class sub-folder(s) but "
            f"no PNG, JPEG or BMP files in them; {_EXPECTED_LAYOUT}."
        )
    return pairs, empty_classes


def load_image_folder(path, *, on_error="raise", return_X_y=False):
    """Load labelled images from a folder with one sub-folder per class.

    ``path/<label>/<image file>``: the name of each sub-folder is the label of
    the PNG, JPEG and BMP files directly in it (extensions in any case). Other
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
        What to do with a file that cannot be read as an image: raise a
        ValueError, or skip it, warn with the count, and list it in
        ``skipped``.
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
            ``(filename, reason)`` for each unreadable file skipped with
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
    if not isinstance(on_error, str) or on_error not in _ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Image folder {path} does not exist.")
    if not os.path.isdir(path):
        raise NotADirectoryError(f"{path} is not a folder; {_EXPECTED_LAYOUT}.")
    pairs, empty_classes = _list_images(path)
    if empty_classes:
        warnings.warn(
            f"Class sub-folder(s) {', '.join(map(repr, empty_classes))} of {path} "
            "hold no PNG, JPEG or BMP files and were ignored.",
            UserWarning,
            stacklevel=2,
        )

    images, target, filenames, skipped = [], [], [], []
    for label, filename in pairs:
        try:
            image = _read_grey(filename)
        except Exception as exc:  # Pillow raises many types for bad files
            reason = f"{type(exc).__name__}: {exc}"
            if on_error == "raise":
                raise ValueError(
                    f"{filename}: cannot read the image ({reason})."
                ) from exc
            skipped.append((filename, reason))
            continue
        images.append(image)
        target.append(label)
        filenames.append(filename)

    if skipped:
        if not images:
            raise ValueError(
                f"None of the {len(pairs)} image files in {path} could be read; "
                f"the first: {skipped[0][0]} ({skipped[0][1]})."
            )
        warnings.warn(
            f"load_image_folder skipped {len(skipped)} of {len(pairs)} image files "
            f"in {path} that could not be read; the first: {skipped[0][0]} "
            f"({skipped[0][1]}).",
            UserWarning,
            stacklevel=2,
        )
    target = np.array(target)
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
