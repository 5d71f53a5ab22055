"""Bring images of any size and ink polarity into the geometry of MNIST.

:class:`ImageNormalizer` is the first step of every mtclassic model: whatever
comes in (28 x 28 MNIST rows, a photo of a pen stroke on grey paper, a folder
of scans of different sizes), what comes out is a flat row of a 28 x 28 image
with bright ink on a black background, the character scaled into a 20 x 20 box
and centred by its centre of mass, as in MNIST.

The whole batch is resampled at once: per image only a few numbers are
computed (background level, bounding box, scale, centre of mass, shear), and the
pixels are moved with one pair of separable resampling matrices per image,
``A_i @ image_i @ B_i.T``, applied to the stacked batch by ``np.matmul``.
"""

import numbers
from functools import partial

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import (
    ImageTransformerMixin,
    check_image_batch,
    chunk_length,
    shrink_to_safe_range,
)
from .utils._parallel import map_in_threads
from .utils._param_validation import NumberInterval
from .utils._sklearn_compat import StrOptions

__all__ = ["ImageNormalizer"]

# A robust noise estimate: 1.4826 * MAD is the standard deviation of Gaussian
# noise, and 3 of them keep the paper's grain of a photo out of the ink.
_MAD_TO_SIGMA = 1.4826
_NOISE_SIGMAS = 3.0
# Largest shear of deskew (|alpha| = 1 is a 45 degree slant); beyond that the
# moments describe a blob or a horizontal stroke rather than a slanted glyph.
_MAX_SHEAR = 1.0
# Input pixels per chunk (all its images together, padding included): the
# float64 working arrays of a chunk (2 MB each) stay in the CPU's cache, which
# makes the whole transform about twice as fast as chunks of 8 MB and more.
_CHUNK_PIXELS = 1 << 18
# A grey dilation by the 3 x 3 cross widens a stroke by about 2 pixels (one
# on each side); blending an image with it by a fraction a widens it by ~2a.
_CROSS = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], dtype=bool)
_STROKE_PASSES = 2
# Paper on padding (see _crop_to_paper): at least this many pixels a side (a
# thinner rectangle is a stroke; the handwritten62 photos are 14 and more),
# with ink on at most this share of it (at most 0.28 on those photos; a
# stroke's anti-aliased rim around its core has more).
_MIN_PAPER = 8
_MAX_INK_SHARE = 0.4


class ImageNormalizer(ImageTransformerMixin, TransformerMixin, BaseEstimator):
    """Normalize handwritten characters of any size to MNIST geometry.

    Every image is made bright-ink-on-dark, freed of its background, stretched
    to [0, 1], cropped to its ink, scaled (aspect ratio kept) into a
    ``box_size`` x ``box_size`` box and centred by its centre of mass in an
    ``image_size`` x ``image_size`` frame, the way MNIST was made. MNIST images
    themselves come out (nearly) unchanged.

    The transformer is stateless: :meth:`fit` only validates its input, and
    :meth:`transform` accepts images of any size, whatever it was fitted on.

    Parameters
    ----------
    image_size : int, default=28
        Height and width of the output images.
    box_size : int, default=20
        The longer side of the ink's bounding box is scaled to this many
        pixels (the shorter one in proportion). Must not exceed ``image_size``.
    deskew : bool, default=False
        Whether to straighten slanted characters by a horizontal shear
        ``x -> x - alpha * (y - y_c)`` with ``alpha = mu11 / mu02`` from the
        image moments (the classic MNIST deskewing; ``|alpha|`` is capped at 1,
        a 45 degree slant). The shear is taken into account *before* the box
        fit, so the upright character, not the slanted one, fills the box;
        it is applied as a per-row sub-pixel shift of the resampled image, and
        it keeps the centre of mass in place.
    polarity : {"auto", "bright", "dark"}, default="auto"
        Ink colour of the input. "bright": bright ink on a dark background
        (MNIST); "dark": dark ink on bright paper (scans, photos), inverted.
        "auto" decides per image: with the background (fitted to the border,
        see Notes) subtracted, the image is inverted when its darkest pixel
        departs further from the background than its brightest one.
    ink_threshold : float in [0, 1), default=0.2
        After background removal and contrast stretching, pixels above this
        value are ink; their bounding box is the crop that is scaled into the
        box. Fainter pixels inside the box are kept (anti-aliased edges),
        pixels outside it are dropped, except a one-pixel rim.
    max_edge_speck : float in [0, 1], default=0.05
        A connected piece of ink that touches the image border and holds less
        than this fraction of the image's ink is dropped before the crop:
        pieces of neighbouring characters and scan edges in cropped photos,
        which would otherwise enlarge the crop. 0 keeps all ink. Pieces that
        do not touch the border (the dot of an "i") are always kept.
    stroke_width : float or None, default=None
        None leaves the strokes as drawn. A number ``w`` moves each image's
        stroke width towards ``w`` pixels of the output: thin strokes (a pen
        photographed on paper) are thickened and thick ones thinned, so that
        the width of the pen does not tell one source from another. The width
        is estimated as ``2 * ink / edge``, the sum of the pixels over half the
        sum of absolute differences between neighbours (MNIST digits are
        drawn wider than the handwritten62 photos); the image is blended with
        its grey dilation (or erosion) by a 3 x 3 cross, by the fraction that
        closes the gap, twice. In ``benchmarks/bench_ablation.py`` (results in
        ``benchmarks/results/bench_ablation.json``) evening the strokes out
        raised the heads on photos never trained on, and the vote's letters,
        but sent more of the photo digits to the letters head; hence off by
        default.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat input rows; inferred as a square when None.
    chunk_size : int, default=128
        Largest number of images processed together. Chunks are also kept
        below about 260,000 input pixels (a single larger image makes a chunk
        of its own), so that their working arrays stay in the CPU's cache.
    n_jobs : int, default=None
        Number of chunks processed in parallel by joblib threads (numpy
        releases the GIL in the resampling). None means 1, -1 all processors.

    See Also
    --------
    mtclassic.HOGTransformer : Features of the normalized images.
    mtclassic.datasets.load_image_folder : Reads users' images as a list of
        arrays of different sizes, which this transformer accepts.

    Notes
    -----
    **Input.** These forms are accepted, uint8 (0-255) or float of any range
    (each image is stretched on its own, so the scale does not matter):

    - a batch ``(n_samples, height, width)``;
    - flat rows ``(n_samples, height * width)`` with ``image_shape`` (a square
      is inferred when it is None);
    - colour images ``(n_samples, height, width, 3 or 4)`` (or a list of
      them), turned grey as scikit-image does (``rgb2gray`` weights; alpha
      composited on white; integers scaled to [0, 1]), see
      :func:`mtclassic._validation.colour_to_grey`; every estimator of
      mtclassic accepts them;
    - a list of 2-D arrays of different sizes, such as the one returned by
      :func:`mtclassic.datasets.load_image_folder`. The images are sorted by
      size and padded onto a common canvas per chunk (the padding takes part
      in nothing: it is left out of the border statistics and set to the
      image's background), and come back in input order.

    **Steps**, for each image and all of them vectorised over the batch:

    0. paper on padding: a photo on paper padded with one exact value (0)
       into a larger array, as crops of different sizes are stored in one
       array, is first cut to its paper rectangle, so that the paper is the
       background and the padding takes part in nothing (an edge of one
       value, a rectangle of at least 8 pixels a side with none of that value
       inside, and ink on at most 40% of it; MNIST-like strokes on 0 never
       qualify);
    1. background: a plane ``a + b * row + c * col`` fitted by least squares
       to the border pixels, twice, leaving out those more than 2.5 robust
       standard deviations from the rest (ink that touches the border), so
       that grey and unevenly lit paper both come out black; the noise
       ``sigma`` is 1.4826 times the median absolute deviation of the border
       from the plane;
    2. ink made bright (see ``polarity``), the plane and ``3 sigma`` (paper
       grain) subtracted, clipped at 0, and divided by the maximum: background
       0, ink up to 1;
    3. small pieces of ink at the border dropped (see ``max_edge_speck``), and
       a crop to the bounding box of the pixels above ``ink_threshold``;
    4. optional deskew (see ``deskew``): the box is fitted to the sheared ink;
    5. scale by ``box_size / longest side of the crop``: area averaging when
       shrinking (anti-aliased), linear interpolation when enlarging;
    6. place the centre of mass on pixel ``(image_size // 2, image_size // 2)``
       (14, 14 in MNIST) by a whole-pixel translation, as MNIST was centred,
       so that a character already at scale 1 is moved, not blurred; the
       centre of mass ends within half a pixel of that point (unless ink is
       pushed out of the frame);
    7. a final stretch, so that the brightest pixel is 1;
    8. optionally, strokes evened out to ``stroke_width`` (then stretched
       again).

    An image with no ink (uniform after step 2) comes out all zeros. A blank
    photo with grain or specks is not recognised as blank: whatever stands out
    of its background is treated as ink. Specks and lines that do not touch
    the border, or hold more than ``max_edge_speck`` of the ink, enlarge the
    crop and so shrink the character.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic import ImageNormalizer
    >>> image = np.full((40, 30), 200, dtype=np.uint8)   # grey paper
    >>> image[5:35, 13:17] = 20                          # a dark, thick "1"
    >>> X = ImageNormalizer().fit_transform(image[None])
    >>> X.shape
    (1, 784)
    >>> digit = X[0].reshape(28, 28)
    >>> float(digit.min()), float(digit.max())
    (0.0, 1.0)
    >>> rows, cols = np.nonzero(digit > 0.5)
    >>> int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    (20, 3)

    Images of different sizes go in as a list:

    >>> ImageNormalizer().transform([image, image[:, 8:22]]).shape
    (2, 784)
    """

    _parameter_constraints: dict = {
        **ImageTransformerMixin._parameter_constraints,
        "image_size": [NumberInterval(numbers.Integral, 1, None, closed="left")],
        "box_size": [NumberInterval(numbers.Integral, 1, None, closed="left")],
        "deskew": ["boolean"],
        "polarity": [StrOptions({"auto", "bright", "dark"})],
        "ink_threshold": [NumberInterval(numbers.Real, 0, 1, closed="left")],
        "max_edge_speck": [NumberInterval(numbers.Real, 0, 1, closed="both")],
        "stroke_width": [NumberInterval(numbers.Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        *,
        image_size=28,
        box_size=20,
        deskew=False,
        polarity="auto",
        ink_threshold=0.2,
        max_edge_speck=0.05,
        stroke_width=None,
        image_shape=None,
        chunk_size=128,
        n_jobs=None,
    ):
        self.image_size = image_size
        self.box_size = box_size
        self.deskew = deskew
        self.polarity = polarity
        self.ink_threshold = ink_threshold
        self.max_edge_speck = max_edge_speck
        self.stroke_width = stroke_width
        self.image_shape = image_shape
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs

    def fit_transform(self, X, y=None, **fit_params):
        """Normalize the images (fitting learns nothing, so this is transform).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height * width), or list of 2-D arrays
            The images.
        y : None
            Ignored.
        **fit_params : dict
            Ignored.

        Returns
        -------
        X_new : ndarray of shape (n_samples, image_size * image_size)
            The normalized images as flat float64 rows in [0, 1].
        """
        return self._transform(X)  # not transform: set_output wraps each once

    def transform(self, X):
        """Normalize images to ``image_size`` x ``image_size``, as flat rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or \
(n_samples, height * width), or list of 2-D arrays
            The images, of any size.

        Returns
        -------
        X_new : ndarray of shape (n_samples, image_size * image_size)
            float64 rows in [0, 1], ink bright (1) on black (0); row-major, so
            ``X_new.reshape(-1, image_size, image_size)`` gives the images.
        """
        return self._transform(X)

    def _transform(self, X):
        self._validate_params()
        images, sizes = self._check_images(X)
        options = {
            "image_size": self.image_size,
            "box_size": self.box_size,
            "deskew": bool(self.deskew),
            "polarity": self.polarity,
            "ink_threshold": float(self.ink_threshold),
            "max_edge_speck": float(self.max_edge_speck),
        }
        results = map_in_threads(
            partial(_normalize_chunk, **options),
            self._chunks(images, sizes),
            self.n_jobs,
        )
        out = np.empty((len(images), self.image_size**2), dtype=np.float64)
        for index, normalized in results:
            if sizes is None:  # consecutive rows: a slice, not a fancy index
                out[index[0] : index[-1] + 1] = normalized
            else:
                out[index] = normalized
        if self.stroke_width is not None:
            size = self.image_size
            images = out.reshape(len(out), size, size)
            for start in range(0, len(out), self.chunk_size * 8):
                block = images[start : start + self.chunk_size * 8]
                block[...] = _even_out_strokes(block, float(self.stroke_width))
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output pixels, ``"px_<row>_<col>"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Ignored: the output does not depend on the input's size.

        Returns
        -------
        feature_names_out : ndarray of str objects
            ``image_size ** 2`` names in row-major order.
        """
        self._validate_params()
        size = self.image_size
        return np.asarray(
            [f"px_{row}_{col}" for row in range(size) for col in range(size)],
            dtype=object,
        )

    # -- validation ---------------------------------------------------------

    def _check_images(self, X, *, reset=True):
        """``(images, sizes)``: a 3-D array and None, or a list and its sizes.

        Integers stay as they are (no float copy of the whole data set); each
        chunk is converted to float64 when it is processed. Stateless: the
        size seen in fit constrains nothing, hence no ``validate_data``.
        """
        if self.box_size > self.image_size:
            raise ValueError(
                f"box_size must not exceed image_size; got box_size="
                f"{self.box_size} and image_size={self.image_size}."
            )
        width = self.stroke_width
        if width is not None and not width < self.image_size:
            raise ValueError(
                f"stroke_width must be None or a number in (0, image_size="
                f"{self.image_size}); got {width!r}."
            )
        return check_image_batch(X, self.image_shape)

    def _chunks(self, images, sizes):
        """Yield ``(index, canvas, sizes)`` with canvas float64 (k, H, W)."""
        if sizes is None:
            n_samples, height, width = images.shape
            step = chunk_length((height, width), _CHUNK_PIXELS, self.chunk_size)
            for start in range(0, n_samples, step):
                stop = min(start + step, n_samples)
                yield (
                    np.arange(start, stop),
                    shrink_to_safe_range(
                        images[start:stop].astype(np.float64), images.dtype
                    ),
                    None,
                )
            return
        # Ragged list: similar sizes together, so that little canvas is wasted.
        order = np.lexsort((sizes[:, 1], sizes[:, 0]))
        start = 0
        while start < len(order):
            window = order[start : start + self.chunk_size]
            height = np.maximum.accumulate(sizes[window, 0])
            width = np.maximum.accumulate(sizes[window, 1])
            canvas_pixels = np.arange(1, len(window) + 1) * height * width
            count = max(1, int(np.count_nonzero(canvas_pixels <= _CHUNK_PIXELS)))
            index = window[:count]
            canvas = np.zeros((count, height[count - 1], width[count - 1]))
            for k, i in enumerate(index):  # copying a list in: one pass over it
                canvas[k, : sizes[i, 0], : sizes[i, 1]] = images[i]
            yield index, shrink_to_safe_range(canvas), sizes[index]
            start += count


def stroke_widths(images):
    """Mean stroke width of each image, ``2 * ink / edge`` (see ``stroke_width``).

    ``images`` is ``(n, height, width)`` with ink bright; a blank image has
    width 0.
    """
    ink = images.sum(axis=(1, 2))
    edge = np.abs(np.diff(images, axis=1)).sum(axis=(1, 2)) + np.abs(
        np.diff(images, axis=2)
    ).sum(axis=(1, 2))
    return 2 * ink / np.maximum(edge, 1e-12)


def _even_out_strokes(images, target):
    """Blend each image with its dilation or erosion towards stroke width ``target``."""
    for _ in range(_STROKE_PASSES):
        gap = (target - stroke_widths(images)) / 2  # a full dilation adds ~2
        gap[images.max(axis=(1, 2)) <= 0] = 0  # blank images stay blank
        thicken = np.clip(gap, 0, 1)[:, None, None]
        thin = np.clip(-gap, 0, 1)[:, None, None]
        if thicken.any():
            images = images + thicken * (
                ndimage.grey_dilation(images, footprint=_CROSS) - images
            )
        if thin.any():
            images = images + thin * (
                ndimage.grey_erosion(images, footprint=_CROSS) - images
            )
    peak = images.max(axis=(1, 2), keepdims=True)
    return np.divide(images, peak, out=np.zeros_like(images), where=peak > 0)


# -- the batched computation --------------------------------------------------


def _normalize_chunk(
    index,
    canvas,
    sizes,
    *,
    image_size,
    box_size,
    deskew,
    polarity,
    ink_threshold,
    max_edge_speck,
):
    """Normalize a float64 canvas (n, H, W); image i fills ``[:h_i, :w_i]``.

    Returns ``index`` and the normalized flat rows, so that chunks may come
    back in any order.
    """
    n_images, height, width = canvas.shape
    if sizes is None:
        sizes = np.tile(np.array([height, width], dtype=np.intp), (n_images, 1))
    border = _border_pixels(sizes, height, width)
    canvas, sizes, moved = _crop_to_paper(canvas, sizes, border)
    if moved:
        border = _border_pixels(sizes, height, width)
    x = _remove_background(canvas, sizes, border, polarity)
    ink = x > ink_threshold
    if max_edge_speck > 0:
        ink = _drop_edge_specks(x, ink, border, max_edge_speck)

    box = _ink_box(ink)
    first_col, last_col, rows_with_ink, blank, top, bottom, left, right = box
    _keep_box(x, top, bottom, left, right)
    mass, row_profile, row_centre, col_centre = _centre_of_mass(x, blank)

    # Extent of the ink, horizontally measured after the deskewing shear.
    height_extent = (bottom - top).astype(np.float64)
    left_edge = left.astype(np.float64)
    right_edge = right.astype(np.float64)
    shear = np.zeros(n_images)
    if deskew:
        shear, left_edge, right_edge = _deskew_shear(
            x, box, mass, row_profile, row_centre, col_centre
        )
    width_extent = right_edge - left_edge
    scale = box_size / np.maximum(height_extent, width_extent)
    scale[blank] = 1.0
    out = _resample(
        x, scale, top, left_edge, row_centre, col_centre, shear, deskew, image_size
    )
    peak = out.max(axis=(1, 2))
    peak[blank | (peak <= 0)] = 1.0
    out /= peak[:, None, None]
    out = _centre_by_mass(out, image_size // 2)
    out[blank] = 0.0
    np.clip(out, 0.0, 1.0, out=out)
    return index, out.reshape(n_images, image_size * image_size)


def _ink_box(ink):
    """The bounding box of each image's ink, and the per-row extremes.

    Returns ``(first_col, last_col, rows_with_ink, blank, top, bottom, left,
    right)``; ``bottom`` and ``right`` are exclusive, and a blank image's box
    is the whole width. Reductions along the short last axes are slow in
    numpy: argmax does them several times faster than any().
    """
    _, height, width = ink.shape
    first_col = ink.argmax(axis=2)
    last_col = width - 1 - ink[:, :, ::-1].argmax(axis=2)
    rows_with_ink = np.take_along_axis(ink, first_col[:, :, None], axis=2)[:, :, 0]
    blank = ~rows_with_ink.any(axis=1)
    top = rows_with_ink.argmax(axis=1)
    bottom = height - rows_with_ink[:, ::-1].argmax(axis=1)
    left = np.where(rows_with_ink, first_col, width).min(axis=1)
    right = np.where(rows_with_ink, last_col + 1, 0).max(axis=1)
    left[blank] = 0
    right[blank] = width
    return first_col, last_col, rows_with_ink, blank, top, bottom, left, right


def _keep_box(x, top, bottom, left, right):
    """Drop (in place) what lies outside the box, except a one-pixel rim that
    holds the anti-aliased edges of the strokes."""
    _, height, width = x.shape
    row_index = np.arange(height)
    col_index = np.arange(width)
    keep_rows = (row_index >= top[:, None] - 1) & (row_index <= bottom[:, None])
    keep_cols = (col_index >= left[:, None] - 1) & (col_index <= right[:, None])
    x *= keep_rows.astype(np.float64)[:, :, None]  # float: a bool operand is slow
    x *= keep_cols.astype(np.float64)[:, None, :]


def _centre_of_mass(x, blank):
    """``(mass, row_profile, row_centre, col_centre)`` of each image.

    Continuous coordinates: pixel j spans [j, j + 1). einsum sums along the
    rows without temporaries; explicit sums, not BLAS, so that a row's result
    does not depend on its chunk.
    """
    _, height, width = x.shape
    mass = x.sum(axis=(1, 2))
    mass[blank] = 1.0
    row_profile = np.einsum("nhw->nh", x)
    col_profile = np.einsum("nhw->nw", x)
    row_centre = (row_profile * (np.arange(height) + 0.5)).sum(axis=1) / mass
    col_centre = (col_profile * (np.arange(width) + 0.5)).sum(axis=1) / mass
    return mass, row_profile, row_centre, col_centre


def _deskew_shear(x, box, mass, row_profile, row_centre, col_centre):
    """``(shear, left_edge, right_edge)``: the shear ``mu11 / mu02`` (capped)
    and the ink's horizontal extent after it."""
    first_col, last_col, rows_with_ink, blank, *_ = box
    n_images, height, width = x.shape
    dy = np.arange(height) + 0.5 - row_centre[:, None]
    dx = np.arange(width) + 0.5 - col_centre[:, None]
    mu02 = np.einsum("nh,nh,nh->n", row_profile, dy, dy) / mass
    mu11 = (np.einsum("nhw,nw->nh", x, dx) * dy).sum(axis=1) / mass
    shear = np.divide(mu11, mu02, out=np.zeros(n_images), where=mu02 > 1e-12)
    np.clip(shear, -_MAX_SHEAR, _MAX_SHEAR, out=shear)
    # Sheared column c + 0.5 - shear * dy grows with c, so each row's
    # extremes are at its first and last ink pixel.
    row_shift = shear[:, None] * dy
    first = first_col + 0.5 - row_shift
    last = last_col + 0.5 - row_shift
    left_edge = np.where(rows_with_ink, first, np.inf).min(axis=1) - 0.5
    right_edge = np.where(rows_with_ink, last, -np.inf).max(axis=1) + 0.5
    left_edge[blank] = 0.0
    right_edge[blank] = 1.0
    return shear, left_edge, right_edge


def _resample(x, scale, top, left_edge, row_centre, col_centre, shear, deskew, size):
    """The images scaled, centred by mass (and sheared) into ``size`` x ``size``.

    Output coordinate u = scale * y + offset. The centre of mass goes to the
    centre of pixel size // 2, and the crop's first edge onto a pixel edge,
    so an image already at scale 1 is moved without being resampled.
    """
    width = x.shape[2]
    target = size // 2 + 0.5
    row_offset = _round(scale * (top - row_centre) + target) - scale * top
    col_offset = _round(scale * (left_edge - col_centre) + target) - scale * left_edge
    # Deskew shifts output row u by -shear * (u - centre row); a wider canvas
    # keeps the columns it draws from. Its width must not depend on the chunk
    # (BLAS sums in a different order for another width), so it is the widest.
    margin = int(np.ceil(_MAX_SHEAR * (size / 2 + 1))) + 1 if deskew else 0
    col_weights = _resampling_weights(
        scale, col_offset + margin, size + 2 * margin, width
    )
    resampled_rows = _resample_rows(x, scale, row_offset, size)
    out = np.matmul(resampled_rows, col_weights.transpose(0, 2, 1))
    if deskew:
        centre_row_out = scale * row_centre + row_offset
        out = _shear_rows(out, shear, centre_row_out, margin, size)
    return out


def _crop_to_paper(canvas, sizes, border):
    """Images moved onto their paper: a rectangle framed by padding of one value.

    A photo of a character on paper, padded into a larger array (as arrays of
    crops of different sizes are), is a rectangle of paper surrounded by one
    exact value (0). Its border is then mostly padding, which the background
    fit would take for the background, and the paper for ink. An image is
    taken for paper on padding when

    - one of its edges is a single exact value ``c``, the padding;
    - the pixels other than ``c`` fill a rectangle smaller than the image, at
      least ``_MIN_PAPER`` pixels a side, with (almost) no ``c`` inside it:
      paper, not strokes on ``c``;
    - that rectangle holds ink: pixels departing from the median of its border
      by more than half the largest departure, covering at most
      ``_MAX_INK_SHARE`` of it (a flat or anti-aliased bar on ``c`` is a
      stroke, not paper).

    Such an image is moved to the canvas's top-left corner and its size set to
    the rectangle's, so that the padding takes part in nothing, as the padding
    of a list of images of different sizes does. Returns ``(canvas, sizes,
    moved)``.
    """
    n_images, height, width = canvas.shape
    rows, cols, valid, uniform = border
    values = _on_border(canvas, border)
    # edges in the order of _border_pixels: top, bottom, left, right
    bounds = np.cumsum([0, width, width, height, height])
    padding = np.full(n_images, np.nan)
    for edge in (1, 3, 0, 2):  # bottom and right first: where padding usually is
        part = slice(bounds[edge], bounds[edge + 1])
        edge_valid = valid[:, part]
        low = np.where(edge_valid, values[:, part], np.inf).min(axis=1)
        high = np.where(edge_valid, values[:, part], -np.inf).max(axis=1)
        padding = np.where(np.isnan(padding) & (low == high), low, padding)
    candidates = np.flatnonzero(~np.isnan(padding))
    if candidates.size == 0:
        return canvas, sizes, False
    c = padding[candidates, None, None]
    part = canvas[candidates]
    not_padding = part != c
    if not uniform:  # the canvas beyond an image's own size is no pixel of it
        not_padding &= (np.arange(height) < sizes[candidates, :1])[:, :, None]
        not_padding &= (np.arange(width) < sizes[candidates, 1:])[:, None, :]
    row_any = not_padding.any(axis=2)
    col_any = not_padding.any(axis=1)
    top, left = row_any.argmax(axis=1), col_any.argmax(axis=1)
    bottom = height - row_any[:, ::-1].argmax(axis=1)
    right = width - col_any[:, ::-1].argmax(axis=1)
    area = (bottom - top) * (right - left)
    inside_padding = area - np.count_nonzero(not_padding, axis=(1, 2))
    framed = (
        (np.minimum(bottom - top, right - left) >= _MIN_PAPER)
        & (
            (bottom - top < sizes[candidates, 0])
            | (right - left < sizes[candidates, 1])
        )
        & (inside_padding <= 0.01 * area)
    )
    new_sizes = np.stack([bottom - top, right - left], axis=1)[framed]
    candidates, top, left = candidates[framed], top[framed], left[framed]
    if candidates.size == 0:
        return canvas, sizes, False
    # the rectangles, moved to the top-left corner, the rest of the canvas 0
    row_index = top[:, None] + np.arange(height)
    col_index = left[:, None] + np.arange(width)
    paper = canvas[
        candidates[:, None, None],
        _clip(row_index, 0, height - 1)[:, :, None],
        _clip(col_index, 0, width - 1)[:, None, :],
    ]
    paper *= (np.arange(height) < new_sizes[:, :1])[:, :, None]
    paper *= (np.arange(width) < new_sizes[:, 1:])[:, None, :]
    paper_border = _border_pixels(new_sizes, height, width)
    level = _masked_median(_on_border(paper, paper_border), paper_border[2])
    inside = (np.arange(height) < new_sizes[:, :1])[:, :, None] & (
        np.arange(width) < new_sizes[:, 1:]
    )[:, None, :]
    departure = np.abs(paper - level[:, None, None]) * inside
    largest = departure.max(axis=(1, 2))
    ink_share = np.count_nonzero(
        departure > largest[:, None, None] / 2, axis=(1, 2)
    ) / np.prod(new_sizes, axis=1)
    on_paper = (largest > 0) & (ink_share <= _MAX_INK_SHARE)
    if not on_paper.any():
        return canvas, sizes, False
    chosen = candidates[on_paper]
    canvas[chosen] = paper[on_paper]
    sizes = sizes.copy()
    sizes[chosen] = new_sizes[on_paper]
    return canvas, sizes, True


def _remove_background(canvas, sizes, border, polarity):
    """Ink bright, background 0, brightest pixel 1; padding set to background.

    The background is a plane fitted to the border pixels (photos are often
    lit unevenly), robustly: pixels far from the border's median, such as ink
    touching the border, are left out of the fit. Works in place on ``canvas``.
    """
    n_images = len(canvas)
    rows, cols, valid, _ = border
    values = _on_border(canvas, border)
    # What the plane fit leaves of a flat background is rounding error, up to
    # this: snapped to 0.
    magnitude = np.abs(values).max(axis=1, where=valid, initial=0.0)
    snap = 1e-9 * magnitude
    # When more than half of the border is exactly 0 (MNIST, our own output:
    # ink touches the border at a few pixels at most), the median and the MAD
    # are 0, the inliers are the zeros (unless there are values within 1e-9
    # of 0), and so the plane is 0 and the noise 0, exactly: no fit needed.
    zeros = np.count_nonzero((values == 0) & valid, axis=1)
    count = np.count_nonzero(valid, axis=1)
    tiny = ((np.abs(values) <= 1e-9) & (values != 0) & valid).any(axis=1)
    fitted = np.flatnonzero((zeros < count // 2 + 1) | tiny)
    noise = np.zeros(n_images)
    x = canvas
    if fitted.size:
        plane, noise[fitted] = _fit_background(
            values[fitted], valid[fitted], rows[fitted], cols[fitted], sizes[fitted]
        )
        if fitted.size == n_images:
            _subtract_plane(x, plane, sizes)
        else:
            x[fitted] = _subtract_plane(x[fitted], plane, sizes[fitted])
    threshold = _NOISE_SIGMAS * noise
    # Pixels within the snap are below the noise threshold, and so end at 0
    # anyway, unless the threshold is smaller than the snap.
    snapped = np.flatnonzero(threshold < snap)
    if snapped.size:
        part = x[snapped]
        part[np.abs(part) <= snap[snapped, None, None]] = 0.0
        x[snapped] = part
    # Snapping is monotone, so the extremes of the snapped image are the
    # snapped extremes.
    low = _snap(x.min(axis=(1, 2)), snap)
    high = _snap(x.max(axis=(1, 2)), snap)
    if polarity == "auto":
        # The ink is the side that departs the most from the background.
        invert = low + high < 0
    else:
        invert = np.full(n_images, polarity == "dark")
    if invert.any():
        x *= np.where(invert, -1.0, 1.0)[:, None, None]
    if threshold.any():
        x -= threshold[:, None, None]
    # The extremes follow from low and high: max(sign * x - t) exactly.
    low, high = np.where(invert, -high, low), np.where(invert, -low, high)
    if (low - threshold < 0).any():
        np.maximum(x, 0.0, out=x)
    peak = np.maximum(high - threshold, 0.0)
    peak[peak <= 0] = 1.0
    x /= peak[:, None, None]
    return x


def _subtract_plane(x, plane, sizes):
    """``x`` minus its background plane, in place; padding set to 0."""
    _, height, width = x.shape
    heights = sizes[:, 0, None]
    widths = sizes[:, 1, None]
    row_coordinate = (np.arange(height) + 0.5) / heights - 0.5
    col_coordinate = (np.arange(width) + 0.5) / widths - 0.5
    x -= (plane[:, :1] + plane[:, 1:2] * row_coordinate)[:, :, None]
    x -= (plane[:, 2:] * col_coordinate)[:, None, :]
    if (sizes != (height, width)).any():  # padding: background
        row_valid = np.arange(height) < heights
        col_valid = np.arange(width) < widths
        x *= row_valid.astype(np.float64)[:, :, None]  # float: bool is slow
        x *= col_valid.astype(np.float64)[:, None, :]
    return x


def _snap(values, snap):
    """``values``, with those within ``snap`` of 0 set to 0."""
    return np.where(np.abs(values) <= snap, 0.0, values)


def _fit_background(values, valid, rows, cols, sizes):
    """Plane ``(a, b, c)`` and noise sigma of each image's border ``values``."""
    # Plane a + b * v + c * u in centred coordinates v, u in [-0.5, 0.5].
    v = (rows + 0.5) / sizes[:, 0, None] - 0.5
    u = (cols + 0.5) / sizes[:, 1, None] - 0.5
    centre, sigma, deviation = _median_and_sigma(values, valid)
    for _ in range(2):
        inliers = valid & (
            deviation <= 2.5 * sigma[:, None] + 1e-9 * (1 + np.abs(centre))[:, None]
        )
        plane = _fit_plane(v, u, values, inliers)
        residual = values - plane[:, :1] - plane[:, 1:2] * v - plane[:, 2:] * u
        centre, sigma, deviation = _median_and_sigma(residual, valid)
    # The residual's median is the plane's offset; its MAD is the noise.
    plane[:, 0] += centre
    return plane, sigma


def _drop_edge_specks(x, ink, border, max_fraction):
    """Ink mask without the small pieces of ink that touch the image border.

    A piece is a connected (8-neighbour) component of ``ink``; it is dropped,
    and its pixels in ``x`` set to 0, when it touches the border and holds less
    than ``max_fraction`` of the image's ink mass.
    """
    rows, cols, valid, _ = border
    on_border = _on_border(ink, border) & valid
    # Only images with ink on their border need their components labelled.
    candidates = np.flatnonzero(on_border.any(axis=1))
    if candidates.size == 0:
        return ink
    sub_x, sub_ink = x[candidates], ink[candidates]
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = True  # components never reach across images
    labels, n_labels = ndimage.label(sub_ink, structure=in_plane)
    mass = np.bincount(labels.ravel(), weights=sub_x.ravel(), minlength=n_labels + 1)
    total = (sub_x * sub_ink).sum(axis=(1, 2))
    sub_index = np.arange(candidates.size)[:, None]
    border_labels = labels[sub_index, rows[candidates], cols[candidates]]
    border_labels[~on_border[candidates]] = 0
    image_of = np.zeros(n_labels + 1, dtype=np.intp)
    image_of[border_labels] = sub_index
    touching = np.zeros(n_labels + 1, dtype=bool)
    touching[border_labels] = True
    touching[0] = False
    dropped = (touching & (mass < max_fraction * total[image_of]))[labels]
    sub_x[dropped] = 0.0
    sub_ink &= ~dropped
    x[candidates] = sub_x
    ink[candidates] = sub_ink
    return ink


def _border_pixels(sizes, height, width):
    """Row and column indices (n, 2 * width + 2 * height) of each image's border.

    Entries beyond an image's own size (on a padded canvas) are marked False in
    ``valid``; their indices still point inside the canvas. Returns ``(rows,
    cols, valid, uniform)``; when every image fills the canvas (``uniform``) the
    arrays are one row broadcast to all images.
    """
    n_images = len(sizes)
    uniform = bool((sizes == (height, width)).all())
    if uniform:
        sizes = sizes[:1]
    heights = sizes[:, 0, None]
    widths = sizes[:, 1, None]
    along_width = np.zeros((len(sizes), width), dtype=np.intp)
    along_height = np.zeros((len(sizes), height), dtype=np.intp)
    row_index = np.arange(height)
    col_index = np.arange(width)
    rows = np.concatenate(
        [
            along_width,
            along_width + heights - 1,
            along_height + row_index,
            along_height + row_index,
        ],
        axis=1,
    )
    cols = np.concatenate(
        [
            along_width + col_index,
            along_width + col_index,
            along_height,
            along_height + widths - 1,
        ],
        axis=1,
    )
    row_valid = row_index < heights
    col_valid = col_index < widths
    valid = np.concatenate([col_valid, col_valid, row_valid, row_valid], axis=1)
    shape = (n_images, rows.shape[1])
    rows, cols, valid = (np.broadcast_to(a, shape) for a in (rows, cols, valid))
    return rows, cols, valid, uniform


def _on_border(a, border):
    """The border pixels (n, 2 * width + 2 * height) of each image in ``a``."""
    rows, cols, _, uniform = border
    if uniform:  # slices, in the order of _border_pixels
        return np.concatenate([a[:, 0], a[:, -1], a[:, :, 0], a[:, :, -1]], axis=1)
    # One flat index is cheaper than three broadcast ones.
    n_images, height, width = a.shape
    flat = (np.arange(n_images)[:, None] * height + rows) * width + cols
    return np.take(np.ascontiguousarray(a).reshape(-1), flat)


def _fit_plane(v, u, values, weights):
    """Weighted least-squares ``(a, b, c)`` per row of ``a + b * v + c * u ~ values``."""
    weighted = (weights.astype(np.float64), weights * v, weights * u)
    normal = np.empty((len(values), 3, 3))
    target = np.empty((len(values), 3))
    # einsum: no temporaries, and faster than sum() along the rows.
    for i, column in enumerate(weighted):
        target[:, i] = np.einsum("nl,nl->n", column, values)
        normal[:, i, 0] = normal[:, 0, i] = np.einsum("nl->n", column)
    # Weights are 0 or 1, so (w * v) * u == (w * u) * v: the matrix is symmetric.
    normal[:, 1, 1] = np.einsum("nl,nl->n", weighted[1], v)
    normal[:, 1, 2] = normal[:, 2, 1] = np.einsum("nl,nl->n", weighted[1], u)
    normal[:, 2, 2] = np.einsum("nl,nl->n", weighted[2], u)
    # A whisker of ridge on the slopes keeps one-pixel-high images solvable.
    normal[:, 1, 1] += 1e-9 * (1 + normal[:, 0, 0])
    normal[:, 2, 2] += 1e-9 * (1 + normal[:, 0, 0])
    normal[:, 0, 0] += 1e-12
    return np.linalg.solve(normal, target[:, :, None])[:, :, 0]


def _median_and_sigma(values, valid):
    """Median of each row over ``valid``, 1.4826 times the MAD, the deviations."""
    centre = _masked_median(values, valid)
    deviation = np.abs(values - centre[:, None])
    return centre, _MAD_TO_SIGMA * _masked_median(deviation, valid), deviation


def _masked_median(values, valid):
    """Median of each row of ``values`` over the entries where ``valid``."""
    if valid.all():  # one size: the middle columns of the sorted rows
        ordered = np.sort(values, axis=1)
        count = values.shape[1]
        return (ordered[:, (count - 1) // 2] + ordered[:, count // 2]) / 2
    ordered = np.sort(np.where(valid, values, np.inf), axis=1)
    count = valid.sum(axis=1)
    rows = np.arange(len(ordered))
    return (ordered[rows, (count - 1) // 2] + ordered[rows, count // 2]) / 2


def _resampling_weights(scale, offset, n_out, n_in):
    """Weights (n, n_out, n_in) mapping input pixels to output pixels.

    Input pixel j spans ``[scale * j + offset, scale * (j + 1) + offset)`` in
    output coordinates. Shrinking (scale < 1) averages the input over each
    output pixel (area weights, which anti-alias); enlarging interpolates
    linearly between input pixel centres.

    Either way a weight is non-zero for at most two pixels per input pixel
    (area) or per output pixel (linear), so only those two are computed and
    scattered into zeros, by the same formulas as a dense evaluation.
    """
    n_images = len(scale)
    # One spare pixel on each side of both axes catches the pairs that fall
    # outside, so the scatter needs no masks; the view leaves them out.
    padded = np.zeros((n_images, n_out + 2, n_in + 2))
    image = np.arange(n_images)[:, None, None]
    step = np.arange(2)[None, None, :]
    shrink = scale < 1
    if shrink.any():
        s = scale[shrink, None, None]
        start = (
            s * np.arange(n_in, dtype=np.float64)[None, :, None]
            + offset[shrink, None, None]
        )
        out_edge = np.floor(start) + step  # the two output pixels it meets
        overlap = np.minimum(out_edge + 1, start + s) - np.maximum(out_edge, start)
        np.maximum(overlap, 0.0, out=overlap)
        in_index = np.arange(n_in)[None, :, None]
        _scatter(padded, image[shrink], out_edge, in_index, overlap)
    if not shrink.all():
        s = scale[~shrink, None, None]
        out_index = np.arange(n_out, dtype=np.float64)[None, :, None]
        source = (out_index + 0.5 - offset[~shrink, None, None]) / s - 0.5
        in_edge = np.floor(source) + step  # the two input pixels around it
        linear = 1.0 - np.abs(source - in_edge)
        _scatter(
            padded, image[~shrink], np.arange(n_out)[None, :, None], in_edge, linear
        )
    return padded[:, 1:-1, 1:-1]


def _resample_rows(x, scale, offset, n_out):
    """``weights @ x`` per image, with the row weights of _resampling_weights.

    Enlarging weighs two input rows per output row: those rows are gathered
    and summed, cheaper than a product with a matrix of mostly zeros.
    """
    n_images, height, width = x.shape
    shrink = scale < 1
    if shrink.all():
        return np.matmul(_resampling_weights(scale, offset, n_out, height), x)
    enlarge = np.flatnonzero(~shrink)
    source = (np.arange(n_out) + 0.5 - offset[enlarge, None]) / scale[
        enlarge, None
    ] - 0.5
    rows = x.reshape(n_images * height, width)
    total = None
    for in_edge in (np.floor(source), np.floor(source) + 1):
        weight = 1.0 - np.abs(source - in_edge)
        weight[(in_edge < 0) | (in_edge >= height)] = 0.0
        in_row = _clip(in_edge, 0, height - 1).astype(np.intp)
        term = np.take(rows, enlarge[:, None] * height + in_row, axis=0)
        term *= weight[:, :, None]
        total = term if total is None else np.add(total, term, out=total)
    if enlarge.size == n_images:
        return total
    out = np.empty((n_images, n_out, width))
    out[enlarge] = total
    out[shrink] = np.matmul(
        _resampling_weights(scale[shrink], offset[shrink], n_out, height), x[shrink]
    )
    return out


def _scatter(padded, image, out_index, in_index, values):
    """``padded[image, out + 1, in + 1] = values``; outside goes to the rim."""
    _, n_rows, n_cols = padded.shape
    rows = _clip(out_index, -1, n_rows - 2).astype(np.intp) + 1
    cols = _clip(in_index, -1, n_cols - 2).astype(np.intp) + 1
    flat = (image * n_rows + rows) * n_cols + cols
    padded.reshape(-1)[flat] = values


def _shear_rows(out, shear, centre_row, margin, image_size):
    """Shift each output row u by ``-shear * (u + 0.5 - centre_row)`` pixels."""
    n_images, n_rows, n_cols = out.shape
    shift = shear[:, None] * (np.arange(n_rows) + 0.5 - centre_row[:, None])
    # Output column k reads columns first + k and first + k + 1 of its row: a
    # window of image_size + 1 contiguous columns per row.
    first = np.floor(shift)
    fraction = (shift - first).reshape(-1, 1)
    start = _clip(first.astype(np.intp) + margin, 0, n_cols - image_size - 1)
    rows = out.reshape(n_images * n_rows, n_cols)
    windows = np.lib.stride_tricks.as_strided(
        rows,
        shape=(len(rows), n_cols - image_size, image_size + 1),
        strides=(rows.strides[0], rows.strides[1], rows.strides[1]),
        writeable=False,
    )
    picked = windows[np.arange(len(rows)), start.reshape(-1)]
    sheared = picked[:, :-1] * (1 - fraction)
    sheared += picked[:, 1:] * fraction
    return sheared.reshape(n_images, n_rows, image_size)


def _clip(values, low, high):
    """``np.clip`` without its per-call overhead, for small index arrays."""
    return np.minimum(np.maximum(values, low), high)


def _round(values):
    """Round to the nearest integer, halves (give or take 1e-9) towards zero.

    Rounding error must not decide which way an exact half goes: a symmetric
    character would move by a pixel or not depending on its chunk or on the
    background it was drawn on.
    """
    return np.sign(values) * np.floor(np.abs(values) + 0.5 - 1e-9)


def _centre_by_mass(out, centre):
    """Translate by whole pixels so the centre of mass is within 0.5 of centre."""
    n_images, size, _ = out.shape
    mass = out.sum(axis=(1, 2))
    mass[mass <= 0] = 1.0
    index = np.arange(size)
    row_shift = _round(centre - (np.einsum("nhw->nh", out) * index).sum(axis=1) / mass)
    col_shift = _round(centre - (np.einsum("nhw->nw", out) * index).sum(axis=1) / mass)
    moved = np.flatnonzero(row_shift.astype(bool) | col_shift.astype(bool))
    if moved.size == 0:
        return out
    # Only the images that move are gathered.
    rows = index[None, :] - row_shift[moved].astype(np.intp)[:, None]
    cols = index[None, :] - col_shift[moved].astype(np.intp)[:, None]
    row_ok = (rows >= 0) & (rows < size)
    col_ok = (cols >= 0) & (cols < size)
    shifted = out[
        moved[:, None, None],
        _clip(rows, 0, size - 1)[:, :, None],
        _clip(cols, 0, size - 1)[:, None, :],
    ]
    out[moved] = shifted * (row_ok[:, :, None] & col_ok[:, None, :])
    return out
