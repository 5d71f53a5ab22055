"""Image-array checks shared by every estimator in mtclassic.

Every estimator that takes images calls :func:`check_images`, so that a batch is
always a float ``(n, h, w)`` array and bad input always fails the same way, with
a message that names the argument, what was expected and what came.
"""

import math
import numbers

import numpy as np


def check_image_shape(image_shape, name="image_shape"):
    """Validate an ``image_shape`` parameter.

    Parameters
    ----------
    image_shape : None or tuple of two int
        ``(height, width)`` of the images, or None.
    name : str, default="image_shape"
        The parameter's name, used in error messages.

    Returns
    -------
    image_shape : None or tuple of two int

    Examples
    --------
    >>> check_image_shape([28, 28])
    (28, 28)
    """
    if image_shape is None:
        return None
    try:
        height, width = image_shape
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a pair of positive integers (height, width); "
            f"got {image_shape!r}."
        ) from None
    for value in (height, width):
        if (
            not isinstance(value, numbers.Integral)
            or isinstance(value, bool)
            or value < 1
        ):
            raise ValueError(
                f"{name} must be a pair of positive integers (height, width); "
                f"got {image_shape!r}."
            )
    return int(height), int(width)


def _infer_square(n_pixels, name):
    side = math.isqrt(n_pixels)
    if side * side != n_pixels:
        raise ValueError(
            f"{name} has {n_pixels} values per row, which is not a perfect square, "
            "so the image size cannot be inferred; pass image_shape=(height, width)."
        )
    return side, side


def check_images(
    X,
    *,
    image_shape=None,
    name="X",
    dtype=np.float64,
    min_shape=None,
    copy=False,
):
    """Turn a batch of images into a finite float ``(n, h, w)`` array.

    Parameters
    ----------
    X : array-like of shape (n_samples, height, width) or (n_samples, height * width)
        The images, uint8 (0-255) or float. Values are not rescaled.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows; inferred as a square when None. For a
        3-D batch it is checked against the batch's image size when given.
    name : str, default="X"
        The argument's name, used in error messages.
    dtype : numpy dtype, default=np.float64
        The float type of the result.
    min_shape : tuple of two int, default=None
        Smallest ``(height, width)`` the caller can work with.
    copy : bool, default=False
        Whether to always return a copy.

    Returns
    -------
    images : ndarray of shape (n_samples, height, width) and the given dtype

    Raises
    ------
    ValueError
        For a non-numeric dtype, a wrong number of dimensions, a row size that
        does not match ``image_shape``, an empty batch, NaN or infinity, or
        images smaller than ``min_shape``.

    Examples
    --------
    >>> import numpy as np
    >>> check_images(np.zeros((2, 784), dtype=np.uint8)).shape
    (2, 28, 28)
    >>> check_images(np.zeros((2, 6)), image_shape=(2, 3)).shape
    (2, 2, 3)
    """
    image_shape = check_image_shape(image_shape)
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(
            f"{name} must be a dense array of images; got a sparse "
            f"{type(X).__name__}. Convert it with .toarray()."
        )
    try:
        array = np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        raise ValueError(
            f"{name} must be a batch of equally sized images; got a ragged "
            f"sequence ({exc})."
        ) from None
    if array.dtype == object:
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must hold numbers (uint8 or float pixel values); got an "
                "object array with non-numeric entries."
            ) from None
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold numbers (uint8 or float pixel values); got dtype "
            f"{array.dtype}."
        )
    if array.ndim == 2:
        n_pixels = array.shape[1]
        if image_shape is None:
            height, width = _infer_square(n_pixels, name)
        else:
            height, width = image_shape
            if height * width != n_pixels:
                raise ValueError(
                    f"{name} has {n_pixels} values per row, which does not match "
                    f"image_shape={image_shape} ({height * width} pixels)."
                )
        array = array.reshape(array.shape[0], height, width)
    elif array.ndim == 3:
        if image_shape is not None and array.shape[1:] != image_shape:
            raise ValueError(
                f"{name} holds images of shape {array.shape[1:]}, which does not "
                f"match image_shape={image_shape}."
            )
    else:
        hint = (
            " For a single image use X[None] or X.reshape(1, -1)."
            if array.ndim in (1, 2)
            else ""
        )
        raise ValueError(
            f"{name} must be a batch of images of shape (n_samples, height, width) "
            "or flat rows of shape (n_samples, height * width); got an array with "
            f"ndim={array.ndim} and shape {array.shape}.{hint}"
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"{name} is an empty batch (0 images, shape {array.shape}); at least "
            "one image is required."
        )
    if 0 in array.shape[1:]:
        raise ValueError(
            f"{name} holds images of size {array.shape[1:]}; got no pixels."
        )
    if min_shape is not None:
        min_height, min_width = min_shape
        if array.shape[1] < min_height or array.shape[2] < min_width:
            raise ValueError(
                f"{name} holds images of shape {array.shape[1:]}, smaller than the "
                f"minimum {tuple(min_shape)} that is required here."
            )
    array = array.astype(dtype, copy=copy)
    # A finite sum means finite values, found in one pass without an array of
    # flags as big as the batch; only an infinite or NaN sum is looked at
    # closely (it may also be an overflow of finite values).
    if array.dtype.kind == "f":
        with np.errstate(over="ignore", invalid="ignore"):
            sum_is_finite = np.isfinite(array.sum())
        finite = None if sum_is_finite else np.isfinite(array)
        if finite is not None and not finite.all():
            bad_images = np.flatnonzero(~finite.all(axis=(1, 2)))
            n_bad = int(array.size - np.count_nonzero(finite))
            raise ValueError(
                f"{name} contains NaN or infinity: {n_bad} value(s) in "
                f"{bad_images.size} image(s), the first at index {bad_images[0]}; "
                "images must be finite."
            )
    return array
