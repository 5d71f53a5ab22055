"""Strokes redrawn with one pen: the style of the writing taken out of an image.

Handwriting from different sources differs in things that say nothing about
the character: the pen's width (a 2-px tablet pen rendered at 278x278 and
shrunk to 28x28 leaves a hairline, a felt pen on a 16x16 scan a blob), grey
levels (anti-aliased, 1-bit, a photo's uneven ink) and blur. A classifier
that sees them learns the source along with the shape. :func:`redraw_strokes`
removes them: every image is binarised, thinned to its one-pixel skeleton
(Guo and Hall's parallel thinning) and drawn again with the same soft pen, so
two images of the same shape look the same whatever wrote them.

Everything works on whole batches ``(n, height, width)``: the thinning is a
3x3 neighbourhood code per pixel (one correlation of the batch) and a table
look-up, repeated until no pixel changes.
"""

import numbers
from functools import partial

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import ImageTransformerMixin, chunk_slices
from .utils._parallel import map_in_threads
from .utils._sklearn_compat import Interval

__all__ = ["StrokeRedrawer", "thin", "redraw_strokes"]

# Images per chunk: the working arrays of a chunk stay in the cache.
_CHUNK_IMAGES = 2048

# Weight of each of the 8 neighbours in a pixel's neighbourhood code: bit k is
# the k-th neighbour counter-clockwise from the east one (E, NE, N, NW, W, SW,
# S, SE), the numbering of Guo and Hall (1989).
_NEIGHBOUR_BITS = np.array([[8, 4, 2], [16, 0, 1], [32, 64, 128]], dtype=np.uint8)[None]
# Rows of up to this many pixels are thinned as 64-bit words (one bit of
# padding on each side), 64 pixels per operation.
_MAX_PACKED_WIDTH = 62
_ONE = np.uint64(1)


def _at_least_two(a, b, c, d):
    """Bits set in at least two of four words."""
    return (a & (b | c | d)) | (b & (c | d)) | (c & d)


def _exactly_one(a, b, c, d):
    return (a | b | c | d) & ~_at_least_two(a, b, c, d)


def _deletable(rows, first):
    """Pixels that one sub-iteration of Guo and Hall's thinning deletes.

    ``rows`` holds each image row as a 64-bit word (pixel ``j`` at bit
    ``j + 1``) with an empty row above and below. Z. Guo and R. W. Hall,
    "Parallel thinning with two-subiteration algorithms", Comm. ACM 32(3),
    1989: a pixel goes when it joins exactly one 8-connected run of its
    neighbours (G1), has 2 or 3 neighbours in both of the paper's pairings
    (G2, so end points stay), and lies on the side this sub-iteration thins
    (G3, or G3' in the second).
    """
    up, centre, down = rows[:, :-2], rows[:, 1:-1], rows[:, 2:]
    east, west = centre >> _ONE, centre << _ONE
    north, north_east, north_west = up, up >> _ONE, up << _ONE
    south, south_east, south_west = down, down >> _ONE, down << _ONE
    g1 = _exactly_one(
        ~east & (north_east | north),
        ~north & (north_west | west),
        ~west & (south_west | south),
        ~south & (south_east | east),
    )
    n1 = (north_east | east, north_west | north, south_west | west, south_east | south)
    n2 = (north_east | north, north_west | west, south_west | south, south_east | east)
    all_eight = n1[0] & n1[1] & n1[2] & n1[3] & n2[0] & n2[1] & n2[2] & n2[3]
    g2 = _at_least_two(*n1) & _at_least_two(*n2) & ~all_eight
    if first:
        g3 = ~((north_east | north | ~south_east) & east)
    else:
        g3 = ~((south_west | south | ~north_west) & west)
    return centre & g1 & g2 & g3


def thin(ink):
    """Thin every binary image of a batch to 8-connected one-pixel lines.

    The result equals ``skimage.morphology.thin`` applied to each image; the
    whole batch is thinned at once, each row of up to 62 pixels as one 64-bit
    word, and only the images that still change are worked on.

    Parameters
    ----------
    ink : array-like of shape (n_images, height, width)
        Boolean (or 0/1) images, True where there is ink; ``width`` at most
        62.

    Returns
    -------
    skeleton : ndarray of bool, shape (n_images, height, width)
        The thinned images.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic.strokes import thin
    >>> bar = np.zeros((1, 7, 7), dtype=bool)
    >>> bar[0, 1:6, 2:5] = True
    >>> thin(bar)[0].sum(axis=1).tolist()
    [0, 0, 1, 1, 1, 0, 0]
    """
    ink = np.asarray(ink)
    if ink.ndim != 3 or ink.shape[2] > _MAX_PACKED_WIDTH:
        raise ValueError(
            "ink must have shape (n_images, height, width) with width at most "
            f"{_MAX_PACKED_WIDTH}; got shape {ink.shape}."
        )
    n_images, height, width = ink.shape
    bits = np.arange(1, width + 1, dtype=np.uint64)
    rows = np.zeros((n_images, height + 2), dtype=np.uint64)
    rows[:, 1:-1] = np.bitwise_or.reduce(
        ink.astype(bool).astype(np.uint64) << bits, axis=2
    )
    changing = np.arange(n_images)
    while changing.size:
        part = rows[changing]
        before = part[:, 1:-1].copy()
        for first in (True, False):
            part[:, 1:-1] &= ~_deletable(part, first)
        rows[changing] = part
        changing = changing[(part[:, 1:-1] != before).any(axis=1)]
    return ((rows[:, 1:-1, None] >> bits) & _ONE).astype(bool)


def redraw_strokes(images, *, pen_width=1.8, ink_threshold=0.35):
    """Draw every image's strokes again with one pen, keeping only their shape.

    Each image is binarised at ``ink_threshold`` of its brightest pixel,
    thinned to its skeleton (:func:`thin`) and drawn with a Gaussian pen whose
    line is ``pen_width`` pixels wide at half height and 1 at its centre.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width)
        Bright ink on a dark background (the output of
        :class:`~mtclassic.preprocessing.ImageNormalizer`, reshaped).
    pen_width : float, default=1.8
        Width of the redrawn line at half its height, in pixels.
    ink_threshold : float, default=0.35
        A pixel is ink where it reaches this fraction of its image's maximum.

    Returns
    -------
    redrawn : ndarray of float32, shape (n_images, height, width)
        Values in [0, 1]; a blank image stays blank.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic.strokes import redraw_strokes
    >>> thick = np.zeros((1, 28, 28)); thick[0, 4:24, 12:15] = 1.0  # 3 px pen
    >>> faint = np.zeros((1, 28, 28)); faint[0, 4:24, 13] = 0.4  # 1 px, grey
    >>> a, b = redraw_strokes(np.concatenate([thick, faint]))
    >>> a[14, 10:17].astype(float).round(2).tolist()
    [0.0, 0.03, 0.42, 1.0, 0.42, 0.03, 0.0]
    >>> b[14, 10:17].astype(float).round(2).tolist()
    [0.0, 0.03, 0.42, 1.0, 0.42, 0.03, 0.0]
    """
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 3:
        raise ValueError(
            "images must have shape (n_images, height, width); got shape "
            f"{images.shape}."
        )
    peak = images.max(axis=(1, 2), keepdims=True)
    ink = (images >= ink_threshold * peak) & (peak > 0)
    skeleton = thin(ink).astype(np.float32)
    sigma = pen_width / (2 * np.sqrt(2 * np.log(2)))  # full width at half height
    drawn = ndimage.gaussian_filter(
        skeleton, sigma=(0, sigma, sigma), mode="constant", truncate=3.0
    )
    return np.minimum(drawn / _line_peak(sigma), 1.0, dtype=np.float32)


def _line_peak(sigma):
    """Height of a straight one-pixel line after the Gaussian pen."""
    line = np.zeros((1, 15, 15), dtype=np.float32)
    line[0, :, 7] = 1
    blurred = ndimage.gaussian_filter(line, sigma=(0, sigma, sigma), truncate=3.0)
    return float(blurred[0, 7, 7])


class StrokeRedrawer(ImageTransformerMixin, TransformerMixin, BaseEstimator):
    """Every image's strokes drawn again with one pen (see :func:`redraw_strokes`).

    Put after :class:`~mtclassic.preprocessing.ImageNormalizer`: the output
    keeps the shape of the characters but not the pen, grey levels or blur
    they were written with, so a classifier fitted on it cannot tell the
    data sets apart by their style. :func:`~mtclassic.models.make_default_model`
    gives the vote's task gate these images' features.

    The transformer is stateless: :meth:`fit` only validates its input.

    Parameters
    ----------
    pen_width : float, default=1.8
        Width of the redrawn line at half its height, in pixels.
    ink_threshold : float, default=0.35
        A pixel is ink where it reaches this fraction of its image's maximum.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows; square images are inferred when None.
        Widths up to 62 pixels.
    n_jobs : int, default=None
        Threads working on chunks of images. None means 1.

    Attributes
    ----------
    n_features_in_ : int
        Number of pixels per image seen in :meth:`fit`.
    image_shape_ : tuple of two int
        ``(height, width)`` of the images seen in :meth:`fit`.

    See Also
    --------
    mtclassic.preprocessing.ImageNormalizer : Geometry before the strokes.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic.strokes import StrokeRedrawer
    >>> thick = np.zeros((2, 28, 28)); thick[0, 4:24, 12:15] = 1.0
    >>> thick[1, 4:24, 13] = 0.4  # the same bar, drawn thin and faint
    >>> out = StrokeRedrawer().fit_transform(thick)
    >>> out.shape
    (2, 784)
    >>> rows = out.reshape(2, 28, 28)[:, 8:20]
    >>> bool(np.abs(rows[0] - rows[1]).max() < 1e-6)
    True
    """

    _parameter_constraints: dict = {
        **ImageTransformerMixin._parameter_constraints,
        "pen_width": [Interval(numbers.Real, 0, None, closed="neither")],
        "ink_threshold": [Interval(numbers.Real, 0, 1, closed="right")],
    }

    def __init__(
        self, pen_width=1.8, ink_threshold=0.35, image_shape=None, n_jobs=None
    ):
        self.pen_width = pen_width
        self.ink_threshold = ink_threshold
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _check_images(self, X, *, reset):
        images = self._validate_images(X, reset=reset, dtype=np.float32)
        if images.shape[2] > _MAX_PACKED_WIDTH:
            raise ValueError(
                f"X must hold images at most {_MAX_PACKED_WIDTH} pixels wide; got "
                f"images of shape {images.shape[1:]}."
            )
        return images

    def transform(self, X):
        """The images with their strokes redrawn, as flat rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or (n_samples, height * width)
            Bright ink on a dark background, of the size seen in :meth:`fit`.

        Returns
        -------
        redrawn : ndarray of float32, shape (n_samples, height * width)
            Values in [0, 1].
        """
        self._validate_params()
        images = self._check_images(X, reset=False)
        redraw = partial(
            redraw_strokes, pen_width=self.pen_width, ink_threshold=self.ink_threshold
        )
        chunks = map_in_threads(
            redraw,
            ((images[rows],) for rows in chunk_slices(len(images), _CHUNK_IMAGES)),
            self.n_jobs,
        )
        out = np.concatenate(list(chunks))
        return out.reshape(images.shape[0], -1)
