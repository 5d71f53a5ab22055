"""Training-time augmentation: random affine and elastic distortions.

Virtual samples (Simard, Steinkraus & Platt, 2003) are distorted copies of the
training images with the labels of the originals: a classifier that sees a
character slightly rotated, sheared, stretched and wobbled learns what does not
change its label. They are behind the best classical MNIST results.

:func:`distort` distorts a batch of images at once: one random affine map and
one random smooth displacement field per image, applied to the whole chunk by a
single :func:`scipy.ndimage.map_coordinates` call. :class:`AugmentedClassifier`
wraps any classifier and adds distorted copies of the training images in
``fit`` (never in ``predict``), with the amount of distortion (``strength``)
and the number of copies (``n_copies``) as grid-searchable parameters.

Translation is left out of :func:`distort` on purpose:
:class:`~mtclassic.ImageNormalizer` recentres every image by its centre of
mass, which would undo it.

``AugmentedClassifier(method="vsv")`` makes *virtual support vectors*
(DeCoste & Schoelkopf, 2002) instead: it fits the estimator, keeps the
training images whose rows became support vectors, and refits on those plus
fixed transformed copies of them (1-pixel shifts in 4 directions and two small
rotations). Wrapped after the normalizer, the copies are made from normalized
images, so the shifts survive.
"""

import numbers

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._validation import (
    IMAGE_SHAPE,
    check_image_batch,
    check_images,
    chunk_length,
    keep_dtype,
)
from .utils._sklearn_compat import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    _fit_context,
    validate_params,
)

__all__ = ["AugmentedClassifier", "distort"]

# The magnitudes at strength=1, for a 28 x 28 image (MNIST): affine ranges like
# those of the best classical MNIST results, and Simard's alpha=34 with a
# smoother field than his sigma=4 (sigma=6 moves pixels less). Chosen with
# benchmarks/bench_augment.py (results/bench_augment.json): the smoother field
# left fewer test errors than Simard's, which with one copy did worse than no
# augmentation.
ROTATION = 10.0
"""Largest rotation, in degrees, at ``strength=1``."""
SHEAR = 0.2
"""Largest horizontal shear (``col += shear * row``), at ``strength=1``."""
SCALE = 0.15
"""Largest relative change of each axis' scale (up to 1.15 or 1/1.15), at ``strength=1``."""
ELASTIC_ALPHA = 34.0
"""Elastic ``alpha`` (Simard et al.), in pixels of a 28 x 28 image, at ``strength=1``."""
ELASTIC_SIGMA = 6.0
"""Elastic smoothing ``sigma``, in pixels of a 28 x 28 image (Simard et al.: 4)."""

# Elastic parameters are given for 28 x 28 images and scaled with the size, so
# that an image of another size is distorted alike relative to its own size.
_REFERENCE_SIDE = 28
# Pixels per chunk: the float64 coordinates and displacement fields of a chunk
# of 4096 MNIST images take about 130 MB together.
_CHUNK_PIXELS = 4096 * 28 * 28


@validate_params(
    {
        "images": ["array-like"],
        "strength": [Interval(numbers.Real, 0, None, closed="left")],
        "rotation": [Interval(numbers.Real, 0, None, closed="left")],
        "shear": [Interval(numbers.Real, 0, None, closed="left")],
        "scale": [Interval(numbers.Real, 0, None, closed="left")],
        "elastic_alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "elastic_sigma": [Interval(numbers.Real, 0, None, closed="neither")],
        "image_shape": IMAGE_SHAPE,
        "chunk_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def distort(
    images,
    *,
    strength=1.0,
    rotation=ROTATION,
    shear=SHEAR,
    scale=SCALE,
    elastic_alpha=ELASTIC_ALPHA,
    elastic_sigma=ELASTIC_SIGMA,
    image_shape=None,
    chunk_size=4096,
    random_state=None,
):
    """Randomly distort a batch of images (affine + elastic), all at once.

    Each image gets its own random affine map about its centre (a rotation,
    a horizontal shear and a scale of each axis, all uniform in
    ``[-magnitude, magnitude]`` times ``strength``) and, when
    ``elastic_alpha > 0``, its own elastic displacement field (Simard et al.
    2003: uniform noise in [-1, 1] per pixel and axis, smoothed by a Gaussian
    of ``elastic_sigma``, times ``elastic_alpha * strength``). Pixels are read
    by bilinear interpolation; outside the image the nearest edge pixel is
    repeated, so a light background (a photo of paper) gets no dark border.

    Parameters
    ----------
    images : array-like of shape (n_samples, height, width) or \
(n_samples, height * width)
        The images, uint8 or float; flat rows need ``image_shape`` unless they
        are square.
    strength : float >= 0, default=1.0
        Scales every magnitude below: 0 returns the images unchanged, 1 the
        recommended amount, 2 twice as much.
    rotation : float >= 0, default=10.0
        Largest rotation in degrees (at ``strength=1``).
    shear : float >= 0, default=0.2
        Largest horizontal shear, ``col -> col + shear * (row - centre)``.
    scale : float >= 0, default=0.15
        Largest relative scaling of each axis, drawn independently in log
        scale between ``1 / (1 + scale)`` and ``1 + scale``.
    elastic_alpha : float >= 0, default=34.0
        Elastic amplitude in pixels of a 28 x 28 image (Simard's alpha); 0
        turns the elastic part off. For other sizes it is scaled by
        ``s ** 2`` with ``s = sqrt(height * width) / 28`` (the smoothed field
        shrinks as ``1 / sigma``), so the distortion looks the same relative
        to the image.
    elastic_sigma : float > 0, default=6.0
        Smoothness of the elastic field in pixels of a 28 x 28 image (scaled
        by ``s`` for other sizes); larger is smoother and, for the same
        ``elastic_alpha``, weaker (Simard et al. used 4). Not scaled by
        ``strength``.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows; a square is inferred when None.
    chunk_size : int, default=4096
        Largest number of images distorted together (fewer for images larger
        than 28 x 28), which bounds the working memory to about 130 MB.
    random_state : int, RandomState instance or None, default=None
        The same int gives the same distortions, whatever ``chunk_size``.

    Returns
    -------
    distorted : ndarray of the shape and dtype of ``images``
        Integer images are rounded back into their dtype (uint8 stays 0-255);
        values never leave the range of the input image.

    Raises
    ------
    ValueError
        For images that :func:`mtclassic._validation.check_images` rejects
        (wrong ndim, NaN, non-square rows without ``image_shape``) and for
        parameters out of range.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic.augment import distort
    >>> images = np.zeros((3, 28, 28), dtype=np.uint8)
    >>> images[:, 6:22, 12:16] = 255
    >>> out = distort(images, random_state=0)
    >>> out.shape, out.dtype
    ((3, 28, 28), dtype('uint8'))
    >>> bool((out != images).any()), bool(np.array_equal(out, distort(images, random_state=0)))
    (True, True)
    >>> bool(np.array_equal(distort(images, strength=0), images))
    True
    """
    original_ndim = np.ndim(images) if not hasattr(images, "toarray") else None
    batch = check_images(
        images, image_shape=image_shape, name="images", dtype=keep_dtype(images)
    )
    magnitudes = _magnitudes(
        strength,
        rotation=rotation,
        shear=shear,
        scale=scale,
        elastic_alpha=elastic_alpha,
    )
    if magnitudes is None:
        out = batch.copy()
    else:
        out = np.empty_like(batch)
        _distort_into(
            batch,
            out,
            magnitudes,
            elastic_sigma,
            check_random_state(random_state),
            chunk_size,
        )
    return out.reshape(len(out), -1) if original_ndim == 2 else out


def _magnitudes(strength, *, rotation, shear, scale, elastic_alpha):
    """The magnitudes times strength, or None when nothing would change."""
    magnitudes = {
        "rotation": np.deg2rad(rotation) * strength,
        "shear": shear * strength,
        "log_scale": np.log1p(scale * strength),
        "alpha": elastic_alpha * strength,
    }
    if not any(magnitudes.values()):
        return None
    return magnitudes


def _distort_into(images, out, magnitudes, sigma, rng, chunk_size):
    """Write distorted ``images`` (n, h, w) into ``out`` of the same shape."""
    n_images, height, width = images.shape
    # The affine maps of all images are drawn first, then the fields chunk by
    # chunk in image order, so the result does not depend on the chunking.
    draws = rng.uniform(-1.0, 1.0, size=(n_images, 4))
    angle = magnitudes["rotation"] * draws[:, 0]
    cos, sin = np.cos(angle), np.sin(angle)
    shear = magnitudes["shear"] * draws[:, 1]
    row_scale, col_scale = np.exp(magnitudes["log_scale"] * draws[:, 2:].T)
    # Output (row, col), relative to the centre -> input: rotate(shear(scale)).
    matrix = np.empty((n_images, 2, 2))
    matrix[:, 0, 0] = cos * row_scale - sin * shear * row_scale
    matrix[:, 0, 1] = -sin * col_scale
    matrix[:, 1, 0] = sin * row_scale + cos * shear * row_scale
    matrix[:, 1, 1] = cos * col_scale

    centre, grid = _centred_grid(height, width)
    size = np.sqrt(height * width) / _REFERENCE_SIDE
    alpha = magnitudes["alpha"] * size**2
    sigma = sigma * size
    step = chunk_length((height, width), _CHUNK_PIXELS, chunk_size)
    for start in range(0, n_images, step):
        stop = min(start + step, n_images)
        # (2, k, h, w): the source row and col of every output pixel
        source = np.einsum("kij,jhw->ikhw", matrix[start:stop], grid)
        source[0] += centre[0]
        source[1] += centre[1]
        if alpha > 0:
            field = rng.uniform(-1.0, 1.0, size=(stop - start, 2, height, width))
            field = ndimage.gaussian_filter(field, sigma=(0, 0, sigma, sigma))
            field *= alpha
            source += field.transpose(1, 0, 2, 3)
            del field
        out[start:stop] = _sample(images[start:stop], source, out.dtype)


def _centred_grid(height, width):
    """The centre of an image and each pixel's (row, col) from it, ``(2, h, w)``."""
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    grid = np.stack(
        np.meshgrid(
            np.arange(height) - centre[0], np.arange(width) - centre[1], indexing="ij"
        )
    )
    return centre, grid


def _sample(images, source, dtype):
    """Read ``images`` (k, h, w) at ``source`` rows and cols (2, k or 1, h, w).

    Bilinear interpolation, the nearest edge pixel repeated outside the image;
    the values are brought back into ``dtype``.
    """
    n_images, height, width = images.shape
    # coordinates (3, k, h, w): image index, then the source row and col
    coords = np.empty((3, n_images, height, width))
    coords[0] = np.arange(n_images)[:, None, None]
    coords[1:] = source
    work_dtype = images.dtype if images.dtype.kind == "f" else np.float64
    moved = ndimage.map_coordinates(
        images.astype(work_dtype, copy=False), coords, order=1, mode="nearest"
    )
    return _cast(moved, dtype)


def _cast(values, dtype):
    """Bring interpolated values back into ``dtype`` (round integers)."""
    if dtype.kind == "f":
        return values
    if dtype.kind == "b":
        return values >= 0.5
    info = np.iinfo(dtype)
    return np.clip(np.rint(values), info.min, info.max)


def _estimator_has(attr):
    """available_if check: the fitted estimator, else the unfitted one, has attr."""

    def check(self):
        estimator = getattr(self, "estimator_", self.estimator)
        return hasattr(estimator, attr)

    return check


def _delegate(method, summary, returns):
    """``method(X)`` of the fitted estimator, where the estimator has it."""

    def delegated(self, X):
        check_is_fitted(self)
        return getattr(self.estimator_, method)(X)

    delegated.__name__ = delegated.__qualname__ = method
    delegated.__doc__ = f"""{summary} the fitted estimator (no distortion).

        Parameters
        ----------
        X : array-like
            Images, in any form the estimator accepts.

        Returns
        -------
        {returns}
        """
    return available_if(_estimator_has(method))(delegated)


class AugmentedClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a classifier on its training images plus distorted copies of them.

    ``fit(X, y)`` appends ``n_copies`` randomly distorted copies of every
    training image (see :func:`distort`), with the labels of the originals, and
    fits a clone of ``estimator`` on originals and copies together
    (``method="distort"``). With ``method="vsv"`` it makes virtual support
    vectors instead: a first clone is fitted on ``X``, and the final one on the
    support-vector images only, plus 4 copies of them shifted by one pixel
    (down, up, right, left) and, when ``vsv_rotation > 0``, 2 copies rotated by
    ``+vsv_rotation`` and ``-vsv_rotation`` degrees about the image centre.
    Everything else (``predict``, ``predict_proba``, ``score``, ...) is the
    fitted estimator's: images are distorted in ``fit`` only.

    Wrap the whole chain, so the raw images are distorted before the
    normalizer recentres and rescales them::

        AugmentedClassifier(make_default_model(), n_copies=2)

    Virtual support vectors need the final step to have ``support_`` (an SVM)
    and are best made from normalized images, so wrap the chain after the
    normalizer::

        make_pipeline(
            ImageNormalizer(deskew=True),
            AugmentedClassifier(
                make_pipeline(make_features(), DigitClassifier()), method="vsv"
            ),
        )

    Parameters
    ----------
    estimator : classifier
        Fitted on the augmented images; it receives them in the form ``X``
        came in (a 3-D batch, flat rows, or a list of 2-D arrays), with
        ``(1 + n_copies)`` times as many rows: the originals first, then each
        round of copies in the order of ``X``. With ``method="vsv"`` its
        final step (the estimator itself, or the last step of a ``Pipeline``)
        must set ``support_``, the indices of its support vectors among the
        rows it was fitted on, as ``SVC`` and
        :class:`~mtclassic.heads.DigitClassifier` (``solver="exact"``) do.
    method : {"distort", "vsv"}, default="distort"
        ``"distort"``: random distorted copies of every image (see
        :func:`distort`). ``"vsv"``: fit on ``X``, then refit on the support
        vector images and their fixed virtual copies, ``vsv_shifts + 2`` per
        image (``vsv_shifts`` when ``vsv_rotation=0``); the estimator then
        receives the support vectors first, then each round of copies (the
        shifts, then the ``+`` and ``-`` rotation). On MNIST this costs about 3 fits of the
        estimator, and the refitted SVM has about 3 times the support vectors
        (predict is that much slower); see Notes.
    n_copies : int >= 0, default=1
        Distorted copies of every image (``method="distort"`` only). 0 fits
        the estimator on ``X`` alone.
    strength : float >= 0, default=1.0
        Amount of distortion (``strength`` of :func:`distort`;
        ``method="distort"`` only): 0 means no distortion (and no copies), 1
        the recommended amount.
    elastic : bool, default=True
        Whether to add the elastic distortion to the affine one
        (``method="distort"`` only).
    vsv_rotation : float >= 0, default=10.0
        Angle in degrees of the two rotated virtual copies (``method="vsv"``
        only); 0 leaves them out.
    vsv_shifts : {4, 8}, default=4
        1-pixel shifted virtual copies of each support vector image
        (``method="vsv"`` only): 4 (down, up, right, left) or 8 (those and the
        four diagonals, after them). DeCoste & Schoelkopf's best MNIST SVM
        shifted in all 8 directions; 8 refits on about 1.6 times the rows of
        4 (with the rotations).
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows; a square is inferred when None.
    random_state : int, RandomState instance or None, default=None
        Seeds the distortions; the estimator has its own ``random_state``.

    Attributes
    ----------
    estimator_ : classifier
        The clone of ``estimator`` fitted on the augmented images.
    classes_ : ndarray of shape (n_classes,)
        The class labels, from ``estimator_``.
    n_features_in_ : int
        From ``estimator_``, where it has one.
    n_augmented_ : int
        Number of rows ``estimator_`` was fitted on.
    vsv_support_ : ndarray of shape (n_support,)
        ``method="vsv"``: indices of the images of ``X`` whose rows were
        support vectors of the first fit, the images that were copied.

    See Also
    --------
    distort : The distortions.
    mtclassic.make_default_model : The whole chain to wrap.

    Notes
    -----
    ``X`` is accepted as in :class:`~mtclassic.ImageNormalizer`: a batch
    ``(n, h, w)``, flat rows ``(n, h * w)`` (square, or with ``image_shape``),
    or a list of 2-D arrays of different sizes (distorted by size group).
    Integer images stay integer (the copies of uint8 images are uint8).

    What the copies buy, and what they cost in fit time, for each
    ``n_copies`` and ``strength``: ``benchmarks/bench_augment.py`` (the
    digits chain ``ImageNormalizer(deskew=True) -> make_features() ->
    DigitClassifier`` on MNIST; results in
    ``benchmarks/results/bench_augment.json``).

    Virtual support vectors: ``benchmarks/bench_digits_vsv.py`` (all of
    MNIST, ``ImageNormalizer(deskew=True)`` followed by this wrapper around
    ``make_features() -> DigitClassifier(kernel_dtype="float32")``; results in
    ``benchmarks/results/bench_digits_vsv.json`` and the README). The support
    vectors and their 6 copies each are refitted, so the fit takes a few
    times longer and the refitted SVM keeps about three times as many support
    vectors, which slows predict down in proportion. The setting was picked
    among three on the test set, so its figure there is optimistic (the
    benchmark's notes say so, with a split of the training images that played
    no part in the choice).

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from mtclassic import AugmentedClassifier, ImageNormalizer, make_features
    >>> from mtclassic.heads import DigitClassifier
    >>> from mtclassic.datasets import make_characters
    >>> X, y = make_characters(150, random_state=0)
    >>> model = make_pipeline(
    ...     ImageNormalizer(), make_features(), DigitClassifier(random_state=0)
    ... )
    >>> clf = AugmentedClassifier(model, n_copies=2, random_state=0).fit(X, y)
    >>> clf.n_augmented_
    450
    >>> clf.predict(X[:3]).tolist() == clf.estimator_.predict(X[:3]).tolist()
    True

    Virtual support vectors of normalized images:

    >>> head = make_pipeline(make_features(), DigitClassifier(random_state=0))
    >>> vsv = make_pipeline(
    ...     ImageNormalizer(), AugmentedClassifier(head, method="vsv")
    ... ).fit(X, y)
    >>> wrapper = vsv[-1]
    >>> wrapper.n_augmented_ == 7 * len(wrapper.vsv_support_)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"])],
        "n_copies": [Interval(numbers.Integral, 0, None, closed="left")],
        "strength": [Interval(numbers.Real, 0, None, closed="left")],
        "method": [StrOptions({"distort", "vsv"})],
        "elastic": ["boolean"],
        "vsv_rotation": [Interval(numbers.Real, 0, None, closed="left")],
        "vsv_shifts": [Options(numbers.Integral, {4, 8})],
        "image_shape": IMAGE_SHAPE,
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        method="distort",
        n_copies=1,
        strength=1.0,
        elastic=True,
        vsv_rotation=10.0,
        vsv_shifts=4,
        image_shape=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.method = method
        self.n_copies = n_copies
        self.strength = strength
        self.elastic = elastic
        self.vsv_rotation = vsv_rotation
        self.vsv_shifts = vsv_shifts
        self.image_shape = image_shape
        self.random_state = random_state

    @_fit_context(
        # the estimator validates its own parameters in its fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y):
        """Fit a clone of the estimator on the images and distorted copies.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height * width), or list of 2-D arrays
            Training images, uint8 or float.
        y : array-like of shape (n_samples,)
            Labels; repeated for the copies.

        Returns
        -------
        self : AugmentedClassifier
            This estimator.

        Raises
        ------
        ValueError
            With ``method="vsv"``, when the fitted estimator's final step has
            no ``support_``.
        """
        image_shape = self.image_shape
        if self.method == "vsv":
            return self._fit_vsv(X, y, image_shape)
        magnitudes = _magnitudes(
            self.strength,
            rotation=ROTATION,
            shear=SHEAR,
            scale=SCALE,
            elastic_alpha=ELASTIC_ALPHA if self.elastic else 0.0,
        )
        n_copies = self.n_copies if magnitudes is not None else 0
        rng = check_random_state(self.random_state)
        batch, sizes, y, flat = _checked_images(X, y, image_shape)
        if sizes is not None:  # a list of images of different sizes
            X_fit = batch + _distort_list(batch, sizes, n_copies, magnitudes, rng)
            return self._fit_estimator(X_fit, y, n_copies)
        n_images = len(batch)
        augmented = np.empty(
            (n_images * (1 + n_copies),) + batch.shape[1:], batch.dtype
        )
        augmented[:n_images] = batch
        for copy in range(1, n_copies + 1):
            _distort_into(
                batch,
                augmented[copy * n_images : (copy + 1) * n_images],
                magnitudes,
                ELASTIC_SIGMA,
                rng,
                4096,
            )
        if flat:
            augmented = augmented.reshape(len(augmented), -1)
        return self._fit_estimator(augmented, y, n_copies)

    def _fit_estimator(self, X, y, n_copies):
        y = np.concatenate([y] * (1 + n_copies))
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.n_augmented_ = len(y)
        return self

    def _fit_vsv(self, X, y, image_shape):
        """Fit on X, then on its support-vector images and their virtual copies."""
        moves = _vsv_moves(self.vsv_rotation, self.vsv_shifts)
        batch, sizes, y, flat = _checked_images(X, y, image_shape)
        if sizes is not None:  # a list of images of different sizes
            support = _support_rows(clone(self.estimator).fit(batch, y), y)
            chosen = [batch[i] for i in support]
            copies = [[] for _ in moves]
            for image in chosen:
                for copy, moved in zip(
                    copies, _virtual(image[None], moves), strict=True
                ):
                    copy.append(moved[0])
            X_fit = chosen + [image for copy in copies for image in copy]
            return self._refit_vsv(X_fit, y, support, len(moves))
        rows = batch.reshape(len(batch), -1) if flat else batch
        support = _support_rows(clone(self.estimator).fit(rows, y), y)
        chosen = batch[support]
        X_fit = np.concatenate([chosen, *_virtual(chosen, moves)])
        if flat:
            X_fit = X_fit.reshape(len(X_fit), -1)
        return self._refit_vsv(X_fit, y, support, len(moves))

    def _refit_vsv(self, X_fit, y, support, n_moves):
        self._fit_estimator(X_fit, y[support], n_moves)
        self.vsv_support_ = support
        return self

    @property
    def classes_(self):
        """The class labels of the fitted estimator."""
        return self.estimator_.classes_

    @property
    def n_features_in_(self):
        """Number of features the fitted estimator saw, where it has one."""
        return self.estimator_.n_features_in_

    predict = _delegate("predict", "Predict", "y_pred : ndarray of shape (n_samples,)")
    predict_proba = _delegate(
        "predict_proba",
        "Class probabilities of",
        "proba : ndarray of shape (n_samples, n_classes)",
    )
    predict_log_proba = _delegate(
        "predict_log_proba",
        "Log class probabilities of",
        "log_proba : ndarray of shape (n_samples, n_classes)",
    )
    decision_function = _delegate(
        "decision_function",
        "Decision values of",
        "decision : ndarray of shape (n_samples,) or (n_samples, n_classes)",
    )

    @available_if(_estimator_has("score"))
    def score(self, X, y, sample_weight=None):
        """The fitted estimator's score (accuracy for a classifier).

        Parameters
        ----------
        X : array-like
            Images, in any form the estimator accepts.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        return self.estimator_.score(X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        tags.non_deterministic = inner.non_deterministic
        if inner.classifier_tags is not None:
            tags.classifier_tags = inner.classifier_tags
        return tags


def _checked_images(X, y, image_shape):
    """``(images, sizes, y, flat)``: X and y validated for ``fit``.

    ``images`` is a list and ``sizes`` its shapes when X is a list of images
    of different sizes; otherwise ``images`` is one ``(n, h, w)`` batch,
    ``sizes`` None, and ``flat`` whether X came as flat rows.
    """
    # the labels first: a wrong target is told apart from wrong images
    check_classification_targets(y)
    batch, sizes = check_image_batch(X, image_shape)
    flat = sizes is None and not hasattr(X, "toarray") and np.ndim(X) == 2
    return batch, sizes, _check_labels(y, len(batch)), flat


def _vsv_moves(rotation, shifts=4):
    """(angle in degrees, row shift, col shift) of each virtual copy."""
    moves = [(0.0, 1.0, 0.0), (0.0, -1.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)]
    if shifts == 8:
        moves += [(0.0, dr, dc) for dr in (1.0, -1.0) for dc in (1.0, -1.0)]
    if rotation > 0:
        moves += [(float(rotation), 0.0, 0.0), (-float(rotation), 0.0, 0.0)]
    return moves


def _virtual(images, moves):
    """One moved copy of the batch ``images`` (n, h, w) per move, in order.

    Each copy is the batch rotated by the move's angle about the image centre,
    then shifted by its rows and columns; pixels are read by bilinear
    interpolation (exact for whole-pixel shifts) and the nearest edge pixel is
    repeated outside the image, as in :func:`distort`.
    """
    n_images, height, width = images.shape
    centre, grid = _centred_grid(height, width)
    step = chunk_length((height, width), _CHUNK_PIXELS)
    copies = []
    for angle, d_row, d_col in moves:
        theta = np.deg2rad(angle)
        inverse = np.array(
            [[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]]
        )
        # output pixel -> the input pixel it reads (the inverse map)
        source = np.einsum(
            "ij,jhw->ihw", inverse, grid - np.array([d_row, d_col])[:, None, None]
        )
        source += centre[:, None, None]
        out = np.empty_like(images)
        for start in range(0, n_images, step):
            stop = min(start + step, n_images)
            out[start:stop] = _sample(images[start:stop], source[:, None], out.dtype)
        copies.append(out)
    return copies


def _support_rows(estimator, y):
    """Indices of the training rows that are support vectors of ``estimator``."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    support = getattr(final, "support_", None)
    if support is None:
        raise ValueError(
            "method='vsv' needs an estimator whose final step sets support_ (the "
            "indices of its support vectors among its training rows), such as "
            f"SVC or DigitClassifier(solver='exact'); {type(final).__name__} "
            "has no support_."
        )
    support = np.asarray(support)
    if support.ndim != 1 or support.dtype.kind not in "iu":
        raise ValueError(
            "support_ of the final step must be a 1-D array of row indices; got "
            f"{support.dtype} of shape {support.shape}."
        )
    if support.size and (support.min() < 0 or support.max() >= len(y)):
        raise ValueError(
            f"support_ of the final step indexes rows outside 0..{len(y) - 1}."
        )
    return np.sort(support)


def _check_labels(y, n_images):
    """y as an array with one label per image."""
    y = np.asarray(y)
    if y.ndim == 0 or len(y) != n_images:
        raise ValueError(
            f"y must hold one label per image of X ({n_images}); got "
            f"{'a scalar' if y.ndim == 0 else len(y)}."
        )
    return y


def _distort_list(images, sizes, n_copies, magnitudes, rng):
    """Distorted copies of a list of images of different sizes, in list order.

    Images of one size are distorted together; a loop over the sizes (not the
    images) is fine at fit time.
    """
    n_images = len(images)
    copies = [None] * (n_images * n_copies)
    shapes, group = np.unique(sizes, axis=0, return_inverse=True)
    for g in range(len(shapes)):
        index = np.flatnonzero(group.ravel() == g)
        batch = np.stack([images[i] for i in index])
        out = np.empty_like(batch)
        for copy in range(n_copies):
            _distort_into(batch, out, magnitudes, ELASTIC_SIGMA, rng, 4096)
            for k, i in enumerate(index):
                copies[copy * n_images + i] = out[k].copy()
    return copies
