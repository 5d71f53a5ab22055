"""Image arrays as files give them: shape checks, orientation, ragged crops.

These are the steps every reader applies after reading, so that IDX, numpy
and image files come out the same way whichever command reads them.
"""

import math

import numpy as np

# Keys of an .npz archive taken as the images when it holds several arrays.
NPZ_IMAGE_KEYS = ("images", "X", "x", "data")
NPZ_LABEL_KEYS = ("labels", "y", "target")
# The optional array of an .npz that gives each padded image's own size.
NPZ_SIZES_KEY = "sizes"


def image_shape_problem(shape, where):
    """Why an array of ``shape`` cannot be a batch of images, or None.

    Images are ``(n, height, width)`` or flat rows ``(n, height * width)``, and
    an image needs at least one pixel.
    """
    shape = tuple(int(side) for side in shape)
    if len(shape) not in (2, 3):
        return (
            f"{where} holds an array of shape {shape}; expected images "
            "(n, height, width) or flat rows (n, height * width)"
        )
    if 0 in shape[1:]:
        return (
            f"{where} holds an array of shape {shape}: images of zero size; every "
            "image needs at least one pixel (height and width of 1 or more)"
        )
    return None


def check_images(shape, name, where):
    """Raise a ValueError naming ``name`` when :func:`image_shape_problem` finds one."""
    problem = image_shape_problem(shape, where)
    if problem is not None:
        raise ValueError(f"{name}: {problem}.")


def orient(images, transpose, name):
    """The images upright: rows and columns swapped when ``transpose`` is True.

    EMNIST's IDX files store each image transposed (column by column), so they
    are read with ``transpose=True``. ``images`` is an ``(n, h, w)`` array, flat
    rows of square images ``(n, side * side)`` (returned flat), or a list of
    2-D arrays.
    """
    if not transpose:
        return images
    if isinstance(images, list):
        return [np.ascontiguousarray(image.T) for image in images]
    if images.ndim == 3:
        return np.ascontiguousarray(images.transpose(0, 2, 1))
    side = math.isqrt(images.shape[-1]) if images.ndim == 2 else -1
    if side * side != images.shape[-1] or images.ndim != 2:
        raise ValueError(
            f"{name}: transpose needs images (n, height, width) or flat rows of "
            f"square images; got an array of shape {images.shape}."
        )
    square = images.reshape(len(images), side, side).transpose(0, 2, 1)
    return np.ascontiguousarray(square).reshape(images.shape)


def check_sizes(sizes, images_shape, name):
    """Validate an .npz ``sizes`` array for padded images of ``images_shape``.

    ``sizes[i] = (h, w)`` says that image ``i`` is ``images[i, :h, :w]``: ragged
    crops padded into one array. Returns the sizes as an ``(n, 2)`` intp array.
    """
    sizes = np.asarray(sizes)
    n_images = images_shape[0]
    if sizes.shape != (n_images, 2) or sizes.dtype.kind not in "iu":
        raise ValueError(
            f"{name}: '{NPZ_SIZES_KEY}' must hold one (height, width) pair of "
            f"integers per image, shape ({n_images}, 2); got {sizes.dtype} of "
            f"shape {sizes.shape}."
        )
    if len(images_shape) != 3:
        raise ValueError(
            f"{name}: '{NPZ_SIZES_KEY}' crops images (n, height, width), but the "
            f"images are flat rows of shape {tuple(images_shape)}."
        )
    height, width = images_shape[1:]
    sizes = sizes.astype(np.int64)
    bad = (sizes < 1).any(axis=1) | (sizes[:, 0] > height) | (sizes[:, 1] > width)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        h, w = sizes[first]
        raise ValueError(
            f"{name}: {NPZ_SIZES_KEY}[{first}] = ({h}, {w}), the size of record "
            f"{first}, is not within 1x1 to the padded size {height}x{width}; "
            f"{int(bad.sum())} record(s) have such sizes."
        )
    return sizes.astype(np.intp)


def crop(images, sizes):
    """Each padded image cut to its own size; one array when all sizes agree."""
    crops = [image[:h, :w] for image, (h, w) in zip(images, sizes, strict=True)]
    return stack_if_same(crops)


def stack_if_same(images):
    """A list of 2-D arrays as one ``(n, h, w)`` array when they share a shape."""
    if images and all(image.shape == images[0].shape for image in images):
        return np.stack(images)
    return images
