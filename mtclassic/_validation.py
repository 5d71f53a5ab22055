"""Image-array checks shared by every estimator in mtclassic.

Every estimator that takes images calls :func:`check_images`, so that a batch is
always a float ``(n, h, w)`` array and bad input always fails the same way, with
a message that names the argument, what was expected and what came.

Parameters are checked one way throughout: an estimator lists them in
``_parameter_constraints`` (scikit-learn's ``_fit_context``); a public function
uses scikit-learn's ``@validate_params`` with the same constraints. The image
transformers share theirs (``image_shape``, ``n_jobs``, ``chunk_size``),
their input check and their tags through :class:`ImageTransformerMixin`.
"""

import math
import numbers

import numpy as np

from .utils._param_validation import NumberInterval, positive_pair
from .utils._sklearn_compat import _fit_context

#: ``image_shape``: ``(height, width)`` of flat rows, or None (a square).
IMAGE_SHAPE = [positive_pair(), None]

#: ``n_jobs`` as joblib reads it: None, or a non-zero number of workers.
N_JOBS = [
    None,
    NumberInterval(numbers.Integral, None, -1, closed="right"),
    NumberInterval(numbers.Integral, 1, None, closed="left"),
]

# Largest pixel magnitude the estimators compute with as given. Beyond it the
# sums of squares of HOG (its cells are summed in float32) and the normaliser's
# background fit could overflow; an image beyond it is scaled down by a power
# of two, which is exact and leaves every ratio (orientation, contrast) alone.
SAFE_MAGNITUDE = 2.0**32


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


def _number_array(X, name):
    """``X`` as a dense numeric array (bool, int, uint or float), or an error."""
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
        except OverflowError:  # Python integers beyond the float range
            raise ValueError(
                f"{name} holds values beyond the float64 range (about 1.8e308); "
                "pixel values must be finite."
            ) from None
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
    return array


def _image_batch(array, image_shape, name):
    """A 2-D array of flat rows reshaped to ``(n, h, w)``; a 3-D one checked."""
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
    return array


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
        The images, uint8 (0-255) or float. Values are not rescaled, except
        colour images of shape (n_samples, height, width, 3 or 4), which are
        turned grey by :func:`colour_to_grey` (RGB weights of scikit-image,
        alpha composited on white, integers scaled to [0, 1]).
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
    array = check_float64_range(_number_array(X, name), name)
    if array.ndim == 4 and array.shape[-1] in (3, 4):
        array = colour_to_grey(array, name)
        if np.dtype(dtype).kind != "f":  # grey is float in [0, 1], as skimage's
            dtype = np.float64
    array = _image_batch(array, image_shape, name)
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
    if np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize > 8:
        dtype = np.float64  # what every computation here works in
    array = array.astype(dtype, copy=copy)
    return check_finite(array, name)


def validate_image_rows(estimator, X, *, reset, dtype):
    """Images of an image transformer's ``X``, checked the scikit-learn way.

    :func:`check_images` with the estimator's ``image_shape``, then
    scikit-learn's ``validate_data`` on the flat rows (``n_features_in_`` and
    ``feature_names_in_``); ``reset`` also records ``image_shape_``.
    """
    from sklearn.utils.validation import validate_data

    images = check_images(X, image_shape=estimator.image_shape, dtype=dtype)
    flat_view = X if np.ndim(X) == 2 else images.reshape(images.shape[0], -1)
    validate_data(estimator, flat_view, reset=reset, skip_check_array=True)
    if reset:
        estimator.image_shape_ = images.shape[1:]
    return images


def check_finite(array, name="X", batch=True):
    """``array``, or a ValueError naming ``name`` if it holds NaN or infinity.

    Parameters
    ----------
    array : ndarray
        A batch of images (the first axis indexes them) or, with
        ``batch=False``, one image.
    name : str, default="X"
        The argument's name, used in error messages.
    batch : bool, default=True
        Whether ``array`` is a batch: the message then counts the images.

    Returns
    -------
    array : ndarray
        The same array.

    Examples
    --------
    >>> import numpy as np
    >>> check_finite(np.array([[1.0, np.nan]]), "X[3]", batch=False)
    Traceback (most recent call last):
    ...
    ValueError: X[3] contains NaN or infinity: 1 value(s); images must be finite.
    """
    if array.dtype.kind not in "fc":
        return array
    # A finite sum means finite values, found in one pass without an array of
    # flags as big as the batch; only an infinite or NaN sum is looked at
    # closely (it may also be an overflow of finite values).
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(array.sum()):
            return array
    finite = np.isfinite(array)
    if finite.all():
        return array
    n_bad = int(array.size - np.count_nonzero(finite))
    if not batch:
        raise ValueError(
            f"{name} contains NaN or infinity: {n_bad} value(s); images must be finite."
        )
    bad_images = np.flatnonzero(~finite.reshape(len(finite), -1).all(axis=1))
    raise ValueError(
        f"{name} contains NaN or infinity: {n_bad} value(s) in "
        f"{bad_images.size} image(s), the first at index {bad_images[0]}; "
        "images must be finite."
    )


def colour_to_grey(images, name="X"):
    """Grey images from RGB or RGBA ones, by scikit-image's conventions.

    The grey level is ``0.2125 R + 0.7154 G + 0.0721 B``
    (:func:`skimage.color.rgb2gray`), as a float; integer images are first
    scaled to [0, 1] by their type's maximum (255 for uint8), as scikit-image
    does. An alpha channel is composited on white
    (:func:`skimage.color.rgba2rgb`): a transparent pixel is paper, not ink.

    Parameters
    ----------
    images : ndarray of shape (..., 3) or (..., 4)
        RGB or RGBA images, channels last. Float images with alpha must lie
        in [0, 1], scikit-image's range for them.
    name : str, default="X"
        The argument's name, used in error messages.

    Returns
    -------
    grey : ndarray of shape images.shape[:-1]
        float64.

    Examples
    --------
    >>> import numpy as np
    >>> rgba = np.array([[[[255, 0, 0, 255], [0, 0, 0, 0]]]], dtype=np.uint8)
    >>> colour_to_grey(rgba)
    array([[[0.2125, 1.    ]]])
    """
    from skimage.color import rgb2gray, rgba2rgb  # the colour module is slow to import

    images = check_float64_range(images, name)
    check_finite(images, name, batch=images.ndim == 4)
    if images.dtype.kind == "f":  # float32 or float16 would overflow sooner
        images = images.astype(np.float64)
    if images.shape[-1] == 4:
        if images.dtype.kind == "f" and images.size:
            low, high = images.min(), images.max()
            if low < 0 or high > 1:
                raise ValueError(
                    f"{name} holds RGBA images of floats in [{low:.4g}, {high:.4g}]; "
                    "float colour images with an alpha channel must be in [0, 1] "
                    "(or pass them as uint8 0-255)."
                )
        images = rgba2rgb(images, channel_axis=-1)  # background white
    with np.errstate(over="ignore", invalid="ignore"):
        grey = rgb2gray(images, channel_axis=-1)
    if not np.isfinite(grey).all():
        raise ValueError(
            f"{name} holds colours whose grey level is beyond the float64 range "
            "(about 1.8e308); pixel values must be smaller."
        )
    return grey


def check_float64_range(array, name="X"):
    """``array``, as float64 when it is a wider float; a ValueError beyond float64.

    Wider floats (``np.longdouble``) can hold values beyond float64's range,
    which would turn into infinities in the computations.

    Parameters
    ----------
    array : ndarray
        Numbers.
    name : str, default="X"
        The argument's name, used in error messages.

    Returns
    -------
    array : ndarray
        ``array`` itself, or its float64 copy if it was a wider float.

    Examples
    --------
    >>> import numpy as np
    >>> check_float64_range(np.ones(2, dtype=np.longdouble)).dtype
    dtype('float64')
    """
    if array.dtype.kind != "f" or array.dtype.itemsize <= 8:
        return array
    with np.errstate(over="ignore", invalid="ignore"):
        converted = array.astype(np.float64)
        beyond = np.isinf(converted) & np.isfinite(array)
    if beyond.any():
        raise ValueError(
            f"{name} holds {np.count_nonzero(beyond)} value(s) beyond the float64 "
            f"range (about 1.8e308), the largest "
            f"{np.format_float_scientific(np.abs(array).max(), precision=2)}; pixel "
            "values must be finite float64 numbers."
        )
    return converted


def safe_range_factors(images, source_dtype=None):
    """Power-of-two factors that bring each image below SAFE_MAGNITUDE, or None.

    An image whose largest ``|pixel|`` exceeds SAFE_MAGNITUDE gets the factor
    that brings it into ``[SAFE_MAGNITUDE / 2, SAFE_MAGNITUDE)``, the others 1;
    None when no image needs one (the caller then leaves them bit for bit).
    The magnitude is found as ``max(max, -min)``, which cannot overflow, not as
    a sum or a difference of pixels.

    Parameters
    ----------
    images : ndarray of shape (n_samples, ...)
        Finite images.
    source_dtype : numpy dtype, default=None
        The dtype the images came in; integers of up to 32 bits cannot exceed
        the bound and are not looked at. None means ``images.dtype``.

    Returns
    -------
    factors : ndarray of shape (n_samples,) of ``images.dtype``, or None

    Examples
    --------
    >>> import numpy as np
    >>> np.log2(safe_range_factors(np.array([[1.0, -1.5 * 2.0**900], [2.0, 5.0]])))
    array([-869.,    0.])
    >>> safe_range_factors(np.full((2, 3), 255.0)) is None
    True
    """
    dtype = np.dtype(images.dtype if source_dtype is None else source_dtype)
    if dtype.kind in "biu" and dtype.itemsize <= 4:
        return None
    flat = images.reshape(len(images), -1)
    peak = np.maximum(flat.max(axis=1), -flat.min(axis=1))
    large = peak > SAFE_MAGNITUDE
    if not large.any():
        return None
    _, exponent = np.frexp(peak[large])  # peak = m * 2**exponent, m in [0.5, 1)
    factor = np.ones(len(peak), dtype=images.dtype)
    factor[large] = np.ldexp(1.0, math.frexp(SAFE_MAGNITUDE)[1] - 1 - exponent)
    return factor


def shrink_to_safe_range(images, source_dtype=None):
    """Scale the images beyond SAFE_MAGNITUDE in place (see safe_range_factors).

    Parameters
    ----------
    images : ndarray of shape (n_samples, ...)
        Finite float images, modified in place.
    source_dtype : numpy dtype, default=None
        The dtype the images came in (see :func:`safe_range_factors`).

    Returns
    -------
    images : ndarray
        The same array.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.array([[[1.0, -1.5 * 2.0**900]], [[2.0, 5.0]]])
    >>> shrink_to_safe_range(images)[:, 0, 1] / [SAFE_MAGNITUDE, 1.0]
    array([-0.75,  5.  ])
    """
    factor = safe_range_factors(images, source_dtype)
    if factor is not None:
        images *= factor.reshape((-1,) + (1,) * (images.ndim - 1))
    return images


def keep_dtype(X):
    """The dtype to validate ``X`` in without a copy: its own when numeric.

    A list of arrays keeps their common dtype, so that a list of uint8 images
    is not turned into float64 (8 times the memory); anything else is read
    as float64.

    Examples
    --------
    >>> import numpy as np
    >>> keep_dtype(np.zeros(2, dtype=np.uint8)), keep_dtype([[0, 1]])
    (dtype('uint8'), <class 'numpy.float64'>)
    """
    dtype = getattr(X, "dtype", None)
    if dtype is None and isinstance(X, list | tuple) and X:
        if all(isinstance(image, np.ndarray) for image in X):
            dtype = np.result_type(*(image.dtype for image in X))
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        return dtype
    return np.float64


def is_image_list(X):
    """Whether ``X`` is a list (or object array) of 2-D or colour images."""
    if isinstance(X, np.ndarray):
        return X.dtype == object and X.ndim == 1 and len(X) > 0 and _is_image(X[0])
    return isinstance(X, list | tuple) and len(X) > 0 and _is_image(X[0])


def _is_image(image):
    """A 2-D grey image or a 3-D colour one (3 or 4 channels last)."""
    return np.ndim(image) == 2 or (
        np.ndim(image) == 3 and np.shape(image)[-1] in (3, 4)
    )


def _as_image_array(image, name):
    try:
        return np.asarray(image)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be a 2-D image of shape (height, width); got a value "
            f"that is not an array ({exc})."
        ) from None


def check_image_list(images, image_shape, name):
    """Validate a list of 2-D images of different sizes; name the bad element.

    Returns ``(images, sizes)``: the list (colour images turned grey, wider
    floats as float64) and an ``(n, 2)`` array of their shapes.
    """
    if image_shape is not None:
        raise ValueError(
            f"image_shape={tuple(image_shape)} describes flat rows, but {name} is "
            "a list of images of different sizes; leave image_shape=None."
        )
    colour = images[0].ndim == 3  # a list is of colour images when its first is
    for i, image in enumerate(images):
        if colour and image.ndim == 3 and image.shape[-1] in (3, 4):
            if image.dtype.kind in "biuf":
                image = images[i] = colour_to_grey(image, f"{name}[{i}]")
        if image.ndim != 2:
            raise ValueError(
                f"{name}[{i}] must be a 2-D image of shape (height, width); got "
                f"an array with ndim={image.ndim} and shape {image.shape}."
            )
        if image.dtype.kind not in "biuf":
            raise ValueError(
                f"{name}[{i}] must hold numbers (uint8 or float pixel values); "
                f"got dtype {image.dtype}."
            )
        if image.size == 0:
            raise ValueError(f"{name}[{i}] has shape {image.shape}; got no pixels.")
        image = images[i] = check_float64_range(image, f"{name}[{i}]")
        check_finite(image, f"{name}[{i}]", batch=False)
    sizes = np.array([image.shape for image in images], dtype=np.intp)
    return images, sizes


def check_image_batch(X, image_shape=None, name="X"):
    """``(images, sizes)``: a batch, or a list of images of different sizes.

    A list of equally sized images (or any array) becomes one ``(n, h, w)``
    array in its own numeric dtype (see :func:`keep_dtype`) and ``sizes`` is
    None; a list of images of different sizes stays a list, each image
    checked (see :func:`check_image_list`), with their shapes as ``sizes``.

    Examples
    --------
    >>> import numpy as np
    >>> images, sizes = check_image_batch([np.zeros((3, 3)), np.zeros((2, 4))])
    >>> sizes.tolist()
    [[3, 3], [2, 4]]
    >>> check_image_batch(np.zeros((2, 9), dtype=np.uint8))[0].dtype
    dtype('uint8')
    """
    if is_image_list(X):
        images = [_as_image_array(image, f"{name}[{i}]") for i, image in enumerate(X)]
        if len({image.shape for image in images}) > 1:
            return check_image_list(images, image_shape, name)
        X = images
    return check_images(
        X, image_shape=image_shape, name=name, dtype=keep_dtype(X)
    ), None


def chunk_length(image_shape, max_pixels, chunk_size=None):
    """Images per chunk: at most ``max_pixels`` pixels and ``chunk_size`` images.

    At least one image, however large: every chunk makes progress.

    Examples
    --------
    >>> chunk_length((28, 28), 10_000), chunk_length((28, 28), 10_000, chunk_size=5)
    (12, 5)
    >>> chunk_length((1000, 1000), 10_000)
    1
    """
    length = max_pixels // math.prod(image_shape)
    if chunk_size is not None:
        length = min(length, chunk_size)
    return max(1, length)


def chunk_slices(n_images, length):
    """Consecutive slices of ``length`` images (the last may be shorter)."""
    return [
        slice(start, min(start + length, n_images))
        for start in range(0, n_images, length)
    ]


class ImageTransformerMixin:
    """What the stateless image transformers share: parameters, checks, tags.

    Subclasses add their own entries to ``_parameter_constraints`` (those of
    parameters they do not have are ignored), define ``_check_images(X,
    reset=...)`` on top of :meth:`_validate_images`, and are stateless:
    ``fit`` only validates, ``transform`` needs no fit.
    """

    _parameter_constraints: dict = {
        "image_shape": IMAGE_SHAPE,
        "n_jobs": N_JOBS,
        "chunk_size": [NumberInterval(numbers.Integral, 1, None, closed="left")],
    }

    def _validate_images(self, X, *, reset, dtype=None):
        """:func:`validate_image_rows` with the images' own dtype by default."""
        dtype = keep_dtype(X) if dtype is None else dtype
        return validate_image_rows(self, X, reset=reset, dtype=dtype)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Validate the parameters and the images; nothing is learnt.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or (n_samples, height * width)
            The images, uint8 (0-255) or float.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The transformer.
        """
        self._check_images(X, reset=True)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # stateless: transform needs no fit
        tags.requires_fit = False
        tags.input_tags.three_d_array = True
        return tags


def check_label_types(y):
    """A one-line error for labels that are missing or mix strings and numbers.

    Checked on the values as given: numpy would turn a list that mixes
    ``3`` and ``"A"`` into strings without a word, and scikit-learn reports
    a mixed object array as an "unknown" target.
    """
    if y is None or (isinstance(y, np.ndarray) and y.dtype != object):
        return  # no y at all: scikit-learn's own message
    try:
        flat = np.asarray(y, dtype=object).ravel()
    except ValueError:  # ragged: left to scikit-learn's own check
        return
    missing = np.flatnonzero([label is None for label in flat])
    if missing.size:
        raise ValueError(
            f"y holds None at {missing.size} position(s), the first at index "
            f"{missing[0]}; every sample needs a label."
        )
    is_text = np.array([isinstance(label, str | bytes) for label in flat], dtype=bool)
    if is_text.any() and not is_text.all():
        text, number = np.flatnonzero(is_text)[0], np.flatnonzero(~is_text)[0]
        value = flat[number]
        value = value.item() if isinstance(value, np.generic) else value
        raise TypeError(
            f"y mixes strings and numbers: {str(flat[text])!r} at index {text} and "
            f"{value!r} at index {number}; give every label as a string "
            "(for example y.astype(str)) or every one as a number."
        )
