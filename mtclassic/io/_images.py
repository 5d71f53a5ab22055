"""Image files: which files are images, decoding to grey, and folders of them.

Every image is read with Pillow and converted to 8-bit grey; images keep their
own sizes (bring them to a common geometry with ``ImageNormalizer``).

Folders are listed without ever following a name that cannot be resolved: a
symbolic link that points to itself (or a loop of them) is an unreadable file,
skipped or refused by name like a corrupt image, never an ``OSError`` that
stops the whole listing.
"""

import os
import warnings

import numpy as np

from ._arrays import orient

# The one list of image file types, for every reader and command.
IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".pgm", ".ppm",
     ".pbm", ".pnm", ".webp"}
)  # fmt: skip
IMAGE_KINDS = "image files (PNG, JPEG, BMP, GIF, TIFF, WebP or PNM)"
ON_ERROR = ("raise", "skip")
_EXIF_ORIENTATION = 0x0112
_EXPECTED_LAYOUT = (
    "expected one sub-folder per class (the sub-folder's name is the label) "
    f"holding {IMAGE_KINDS}"
)


def is_image_file(path):
    """Whether ``path`` names an image file, by its extension (any case)."""
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


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


def read_image(path):
    """Decode one image file to a 2-D uint8 grey array.

    Any colour mode (RGB, RGBA, palette, 16-bit, ...) becomes 8-bit grey;
    transparent pixels count as white paper, and EXIF orientation is applied.
    Any failure (a corrupt file, a symbolic-link loop) raises.
    """
    from PIL import Image

    with Image.open(path) as image:
        image.load()  # decode now, so that a corrupt file fails here
        return _to_grey(image)


def _entry_is(entry, kind):
    """``entry.is_dir()`` or ``is_file()``, with None when it cannot be resolved
    (a symbolic-link loop raises OSError, errno ELOOP)."""
    try:
        return entry.is_dir() if kind == "dir" else entry.is_file()
    except OSError:
        return None


def _visible(path):
    return sorted(
        (entry for entry in os.scandir(path) if not entry.name.startswith(".")),
        key=lambda entry: entry.name,
    )


def _unresolvable(path):
    try:
        os.stat(path)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def list_image_tree(folder):
    """The image files under ``folder`` (recursive, hidden entries skipped),
    sorted by their path relative to it, so the order is the same everywhere.

    Symbolic links to folders are not followed (no loop can be entered); a
    link named like an image is listed and fails when read.
    """
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            os.path.join(root, f)
            for f in files
            if not f.startswith(".") and is_image_file(f)
        )
    return sorted(found, key=lambda p: os.path.relpath(p, folder).split(os.sep))


def list_class_folders(path):
    """The labelled image files of ``path/<label>/<file>``.

    Returns sorted ``(label, filename)`` pairs, the class folders that hold no
    image, and ``(path, reason)`` for the top-level entries that cannot be
    resolved (symbolic-link loops): they cannot be told apart from a class
    folder, so the caller refuses or skips them by name.
    """
    entries = _visible(path)
    if not entries:
        raise ValueError(f"Image folder {path} is empty; {_EXPECTED_LAYOUT}.")
    kinds = [(entry, _entry_is(entry, "dir")) for entry in entries]
    unresolved = [
        (entry.path, _unresolvable(entry.path) or "cannot be resolved")
        for entry, is_dir in kinds
        if is_dir is None
    ]
    class_folders = [entry for entry, is_dir in kinds if is_dir]
    if not class_folders:
        raise ValueError(
            f"Image folder {path} has no class sub-folders (it holds {len(entries)} "
            f"file(s)); {_EXPECTED_LAYOUT}."
        )
    pairs, empty_classes = [], []
    for folder in class_folders:
        names = [
            entry.name
            for entry in _visible(folder.path)
            # A loop named like an image is kept: reading it reports it.
            if _entry_is(entry, "file") is not False and is_image_file(entry.name)
        ]
        if not names:
            empty_classes.append(folder.name)
        pairs.extend((folder.name, os.path.join(folder.path, name)) for name in names)
    if not pairs:
        raise ValueError(
            f"Image folder {path} has {len(class_folders)} class sub-folder(s) but "
            f"no {IMAGE_KINDS} in them; {_EXPECTED_LAYOUT}."
        )
    return pairs, empty_classes, unresolved


def read_image_folder(path, *, on_error="raise", transpose=False, stacklevel=2):
    """Read the labelled images of ``path/<label>/<image file>``.

    See :func:`mtclassic.datasets.load_image_folder`, which returns the same
    in a Bunch. Returns ``images`` (a list of 2-D uint8 arrays), ``target``
    (str array), ``filenames`` and ``skipped`` (``(filename, reason)`` pairs).
    ``stacklevel`` is the warnings' stack level, seen from the caller.
    """
    if not isinstance(on_error, str) or on_error not in ON_ERROR:
        raise ValueError(f"on_error must be 'raise' or 'skip'; got {on_error!r}.")
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"Image folder {path} does not exist.")
    if not os.path.isdir(path):
        raise NotADirectoryError(f"{path} is not a folder; {_EXPECTED_LAYOUT}.")
    pairs, empty_classes, skipped = list_class_folders(path)
    if skipped and on_error == "raise":
        filename, reason = skipped[0]
        raise ValueError(f"{filename}: cannot read the folder entry ({reason}).")
    if empty_classes:
        warnings.warn(
            f"Class sub-folder(s) {', '.join(map(repr, empty_classes))} of {path} "
            f"hold no {IMAGE_KINDS} and were ignored.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )

    images, target, filenames = [], [], []
    for label, filename in pairs:
        try:
            image = read_image(filename)
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
        n_files = len(images) + len(skipped)
        if not images:
            raise ValueError(
                f"None of the {n_files} image files in {path} could be read; "
                f"the first: {skipped[0][0]} ({skipped[0][1]})."
            )
        warnings.warn(
            f"load_image_folder skipped {len(skipped)} of {n_files} image files "
            f"in {path} that could not be read; the first: {skipped[0][0]} "
            f"({skipped[0][1]}).",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return orient(images, transpose, path), np.array(target), filenames, skipped
