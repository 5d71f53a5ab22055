"""HOG and pixel features over whole batches of images.

:class:`HOGTransformer` computes, for every image of a batch, exactly the vector
that :func:`skimage.feature.hog` returns for that image (``feature_vector=True``,
grey images), but for the whole batch at once: no Python loop over images.
:class:`PixelTransformer` gives the pixels themselves, scaled to [0, 1] and
optionally block-averaged. :func:`make_features` joins both in one
:class:`~sklearn.pipeline.FeatureUnion`, so that a model computes the features
once and every head reads the same matrix.

How the HOG stays equal to scikit-image without calling ``arctan2``
--------------------------------------------------------------------
scikit-image bins a pixel by ``theta = rad2deg(arctan2(g_row, g_col)) % 180``:
pixel in bin ``i`` when ``phi[i] <= theta < phi[i + 1]`` with
``phi[k] = (180 / orientations) * k``. ``arctan2`` costs more than everything
else together, so here the bin is read from a table instead. The table is
indexed by the top bits (sign, exponent and 8 mantissa bits) of
``t = g_col / g_row``, the cotangent of the orientation, which is periodic in
180 degrees like the orientation itself. Each entry covers a range of ``t``
narrower than 1/256 of its value; an entry whose range of angles, widened by a
margin far larger than any rounding error, holds no bin boundary gives the bin
of every pixel that falls into it. The few entries that do hold one are marked,
and their pixels are binned again with scikit-image's own formula, so that a
pixel lying exactly on a boundary (or so close that rounding decides) lands
where scikit-image puts it. Exact zeros and infinities of ``t`` (horizontal and
vertical gradients, common in digit images) have their own entries, set by
evaluating scikit-image's formula on them. Quotients that overflow or
underflow (only from images whose values span more than ~300 orders of
magnitude) raise a floating-point flag, and that chunk is then binned entirely
with the exact formula.

Only pixels with a non-zero gradient (about a quarter of a digit image) are
binned, and pooled per (image, cell, bin) with one ``np.bincount`` per chunk
of images. scikit-image sums a cell in float32 and divides by the cell area in
float32; the float64 sums here are rounded the same way, so that the remaining
difference is the order of the float32 additions (about 1e-7 of the feature
values). The block normalisations follow ``skimage.feature._hog``.
"""

import numbers
from functools import lru_cache

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import FeatureUnion
from sklearn.utils.validation import check_is_fitted

from ._validation import (
    ImageTransformerMixin,
    chunk_length,
    safe_range_factors,
)
from .utils._parallel import map_in_threads
from .utils._param_validation import NumberInterval, float_dtype, positive_pair
from .utils._sklearn_compat import StrOptions

# skimage.feature._hog._hog_normalize_block's eps
_NORM_EPS = 1e-5
# Mantissa bits of t = g_col / g_row that index the orientation table.
_TABLE_BITS = 8
# |exponent| beyond which a quotient is taken as 0 or infinity by the table.
_TABLE_EXP_RANGE = 60
# Margin (degrees) around every bin boundary inside which the exact formula
# decides: far above the rounding error of either computation (1e-13 degrees
# in float64, 2e-6 in float32), far below a table entry's width.
_BOUNDARY_MARGIN = {8: 1e-9, 4: 1e-4}
# Pixels per chunk when chunk_size is None: keeps the working arrays of one
# chunk (about 60 bytes per pixel) in the L3 cache and the Python overhead
# per chunk small.
_CHUNK_PIXELS = 200_000


def _skimage_orientation(g_row, g_col):
    """scikit-image's unsigned orientation in degrees, [0, 180], in float64."""
    g_row = np.asarray(g_row, dtype=np.float64)
    g_col = np.asarray(g_col, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.rad2deg(np.arctan2(g_row, g_col)) % 180


def _exact_bins(g_row, g_col, boundaries):
    """Bins as scikit-image assigns them; ``orientations`` means "no bin".

    ``theta >= boundaries[-1]`` (``theta`` rounded up to 180) falls in no bin
    of scikit-image's histogram, so such a pixel is dropped there too.
    """
    theta = _skimage_orientation(g_row, g_col)
    return np.searchsorted(boundaries[1:], theta, side="right")


@lru_cache(maxsize=32)
def _orientation_table(orientations, itemsize):
    """Table from the top bits of ``t = g_col / g_row`` to the bin.

    Returns ``(boundaries, table, shift)``: bin boundaries in degrees as
    scikit-image computes them, the table (entry ``orientations`` marks
    "decide exactly") and the right shift from the float's bits to the index.
    """
    float_t, uint_t, mant_bits = (
        (np.float64, np.uint64, 52) if itemsize == 8 else (np.float32, np.uint32, 23)
    )
    exp_bits = 8 * itemsize - 1 - mant_bits
    bias = (1 << (exp_bits - 1)) - 1
    shift = mant_bits - _TABLE_BITS
    n_cells = 1 << (1 + exp_bits + _TABLE_BITS)
    margin = _BOUNDARY_MARGIN[itemsize]
    n = orientations
    # as _hoghistogram.pyx: (180. / n) * i, in double precision
    boundaries = (180.0 / n) * np.arange(n + 1, dtype=np.float64)
    table_dtype = np.uint8 if n < 255 else np.uint16
    undecided = n

    def bin_of(theta_lo, theta_hi):
        # the bin of every angle in [theta_lo, theta_hi] widened by the margin,
        # or `undecided` where a boundary (0 and 180 included) is that close
        lo = np.searchsorted(boundaries, theta_lo - margin, side="right")
        hi = np.searchsorted(boundaries, theta_hi + margin, side="right")
        return np.where((lo == hi) & (lo >= 1) & (lo <= n), lo - 1, undecided)

    cells = np.arange(n_cells, dtype=np.int64)
    exponent = ((cells >> _TABLE_BITS) & ((1 << exp_bits) - 1)) - bias
    table = np.full(n_cells, undecided, dtype=table_dtype)

    # quotients with |t| < 2**-60: the angle is 90 degrees within 1e-16
    theta_90 = np.array([90.0])
    table[exponent < -_TABLE_EXP_RANGE] = bin_of(theta_90, theta_90)[0]
    # ordinary quotients: the range of angles of each table entry
    normal = np.flatnonzero(np.abs(exponent) <= _TABLE_EXP_RANGE)
    low_bits = (normal.astype(uint_t) << uint_t(shift)).view(float_t)
    high_bits = (
        (normal.astype(uint_t) << uint_t(shift)) | uint_t((1 << shift) - 1)
    ).view(float_t)
    # cotangent -> angle in (0, 180)
    theta_a = 90.0 - np.rad2deg(np.arctan(low_bits.astype(np.float64)))
    theta_b = 90.0 - np.rad2deg(np.arctan(high_bits.astype(np.float64)))
    table[normal] = bin_of(np.minimum(theta_a, theta_b), np.maximum(theta_a, theta_b))
    # |t| > 2**60 stays undecided: the angle is within 1e-16 of 0 or 180.
    # NaN: pixels without gradient are never looked up, so only a gradient
    # that overflowed (images beyond 1e307), whose features are NaN anyway.
    table[exponent == bias + 1] = 0
    # Exact zeros and infinities of t: horizontal and vertical gradients, set
    # by scikit-image's own formula on each sign pattern that produces them.
    zero, one = np.array([0.0, -0.0]), np.array([1.0, -1.0])
    g_col = np.concatenate([np.repeat(zero, 2), np.repeat(one, 2)])
    g_row = np.concatenate([np.tile(one, 2), np.tile(zero, 2)])
    with np.errstate(divide="ignore"):
        quotient = (g_col / g_row).astype(float_t)
    bins = _exact_bins(g_row, g_col, boundaries)
    index = quotient.view(uint_t) >> uint_t(shift)
    for cell in np.unique(index):
        cell_bins = np.unique(bins[index == cell])
        table[cell] = cell_bins[0] if cell_bins.size == 1 else undecided
    table.setflags(write=False)
    boundaries.setflags(write=False)
    return boundaries, table, shift


class _HOGPlan:
    """Everything about one image size and parameter set that is not data."""

    def __init__(self, image_shape, orientations, pixels_per_cell, cells_per_block):
        height, width = image_shape
        cell_rows, cell_cols = pixels_per_cell
        block_rows, block_cols = cells_per_block
        self.shape = (height, width)
        self.orientations = orientations
        self.cell_area = cell_rows * cell_cols
        n_cell_rows, n_cell_cols = height // cell_rows, width // cell_cols
        self.n_cells = n_cell_rows * n_cell_cols
        self.n_block_rows = n_cell_rows - block_rows + 1
        self.n_block_cols = n_cell_cols - block_cols + 1
        self.n_blocks = self.n_block_rows * self.n_block_cols
        self.block_size = block_rows * block_cols * orientations
        self.n_features = self.n_blocks * self.block_size
        # Slot of every pixel in its image's (cell, bin) histogram, bin 0; the
        # histogram has one more bin (pixels in no bin) and one more cell
        # (pixels right of or below the last whole cell, which skimage ignores).
        row_cell = np.arange(height) // cell_rows
        col_cell = np.arange(width) // cell_cols
        inside = (row_cell[:, None] < n_cell_rows) & (col_cell[None, :] < n_cell_cols)
        cell = np.where(
            inside, row_cell[:, None] * n_cell_cols + col_cell, self.n_cells
        )
        self.n_slots = (self.n_cells + 1) * (orientations + 1)
        self.pixel_slot = (cell * (orientations + 1)).ravel()
        # skimage's feature order (block row, block column, cell row in the
        # block, cell column in the block, orientation) as indices into the
        # flat (cell, orientation) histogram
        br, bc, cr, cc, o = np.meshgrid(
            np.arange(self.n_block_rows),
            np.arange(self.n_block_cols),
            np.arange(block_rows),
            np.arange(block_cols),
            np.arange(orientations),
            indexing="ij",
        )
        self.gather = (((br + cr) * n_cell_cols + bc + cc) * orientations + o).ravel()


@lru_cache(maxsize=16)
def _hog_plan(image_shape, orientations, pixels_per_cell, cells_per_block):
    return _HOGPlan(image_shape, orientations, pixels_per_cell, cells_per_block)


class _Workspace:
    """Arrays reused from chunk to chunk by one worker."""

    def __init__(self, n_images, plan, dtype):
        n_pixels = plan.pixel_slot.size
        size = n_images * n_pixels
        # histogram slot (bin 0) of every pixel of a chunk, in the bincount of
        # the whole chunk
        offsets = np.arange(n_images, dtype=np.intp)[:, None] * plan.n_slots
        self.slots = (offsets + plan.pixel_slot).ravel()
        self.image = np.empty(size, dtype)
        self.g_row = np.empty(size, dtype)
        self.g_col = np.empty(size, dtype)
        self.moving = np.empty(size, bool)
        self.still = np.empty(size, bool)


def _gradients(image, g_row, g_col, shape):
    """Central differences with zero borders, as skimage's _hog_channel_gradient.

    ``image``, ``g_row`` and ``g_col`` are flat (the images of a chunk one
    after the other), so that each difference is one contiguous pass; the
    values that straddle two rows or two images are zeroed afterwards, as
    skimage's borders are.
    """
    height, width = shape
    np.subtract(image[2 * width :], image[: -2 * width], out=g_row[width:-width])
    images = g_row.reshape(-1, height * width)
    images[:, :width] = 0
    images[:, -width:] = 0
    np.subtract(image[2:], image[:-2], out=g_col[1:-1])
    columns = g_col.reshape(-1, width)
    columns[:, 0] = 0
    columns[:, -1] = 0


def _normalize_blocks(hist, plan, block_norm, out):
    """Block normalisation of skimage.feature._hog for a batch of histograms.

    ``hist`` is (n, cells * orientations); ``out`` (n, n_features) is written.
    """
    n_images = hist.shape[0]
    eps = hist.dtype.type(_NORM_EPS)
    blocks = np.take(hist, plan.gather, axis=1)  # C order, unlike hist[:, gather]
    blocks = blocks.reshape(n_images, plan.n_blocks, plan.block_size)
    # Sums row by row (not a matrix product, whose rounding depends on where
    # a row falls in the chunk), so that any chunking gives identical results.
    # Histograms are non-negative: sum(|block|) is the sum of the block.
    if block_norm in ("L1", "L1-sqrt"):
        norm = blocks.sum(axis=2)
        norm += eps
    else:
        norm = np.einsum("ijk,ijk->ij", blocks, blocks)
        norm += eps * eps
        np.sqrt(norm, out=norm)
    if block_norm == "L2-Hys":
        blocks /= norm[:, :, None]
        np.minimum(blocks, 0.2, out=blocks)
        norm = np.einsum("ijk,ijk->ij", blocks, blocks)
        norm += eps * eps
        np.sqrt(norm, out=norm)
    np.divide(blocks, norm[:, :, None], out=out.reshape(blocks.shape))
    if block_norm == "L1-sqrt":
        np.sqrt(out, out=out)


def _hog_chunk(images, out, plan, block_norm, transform_sqrt, work):
    """HOG features of the flat images ``images`` (n, h * w) into ``out``.

    Only pixels with a non-zero gradient are binned and pooled (a digit image
    has about a quarter of them); the others add nothing to any histogram.
    """
    n_images = images.shape[0]
    size = images.size
    dtype = work.image.dtype
    boundaries, table, shift = _orientation_table(plan.orientations, dtype.itemsize)
    uint_t, int_t = (
        (np.uint64, np.int64) if dtype.itemsize == 8 else (np.uint32, np.int32)
    )
    n = plan.orientations

    image = work.image[:size]
    if transform_sqrt:
        smallest = images.min()
        if smallest < 0:
            raise ValueError(
                "transform_sqrt=True needs non-negative pixel values; the images "
                f"contain values down to {smallest}."
            )
        np.sqrt(images.ravel(), out=image, dtype=dtype, casting="unsafe")
    elif images.dtype == dtype and images.flags.c_contiguous:
        image = images.ravel()
    else:
        np.copyto(image.reshape(images.shape), images, casting="unsafe")
    # Images beyond SAFE_MAGNITUDE are scaled down by a power of two, so that
    # cell sums and block norms stay finite (HOG does not depend on the scale).
    factor = safe_range_factors(image.reshape(n_images, -1), images.dtype)
    if factor is not None:
        if not np.shares_memory(image, work.image):  # never scale the caller's
            np.copyto(work.image[:size], image)
            image = work.image[:size]
        image.reshape(n_images, -1)[...] *= factor[:, None]
    g_row, g_col = work.g_row[:size], work.g_col[:size]
    with np.errstate(over="ignore", invalid="ignore"):
        # inf - inf from values beyond 1e308 makes NaN, as in skimage
        _gradients(image, g_row, g_col, plan.shape)
    moving = np.not_equal(g_row, 0, out=work.moving[:size])
    moving |= np.not_equal(g_col, 0, out=work.still[:size])
    pixels = np.flatnonzero(moving)
    g_row, g_col = np.take(g_row, pixels), np.take(g_col, pixels)
    slots = np.take(work.slots, pixels)
    try:
        # a square beyond the float range (|gradient| > 1e154) needs hypot; a
        # quotient that over- or underflows would be read from the wrong table
        # entry; x / 0 (a horizontal gradient) is expected
        with np.errstate(divide="ignore", over="raise", under="ignore"):
            magnitude = np.square(g_row)
            magnitude += np.square(g_col)
            np.sqrt(magnitude, out=magnitude)
            with np.errstate(under="raise"):
                quotient = np.divide(g_col, g_row)
    except FloatingPointError:
        with np.errstate(all="ignore"):
            magnitude = np.hypot(g_row, g_col)
        slots += _exact_bins(g_row, g_col, boundaries)
    else:
        index = np.right_shift(
            quotient.view(uint_t), uint_t(shift), out=quotient.view(uint_t)
        )
        bins = np.take(table, index.view(int_t))
        slots += bins
        undecided = np.flatnonzero(bins == n)
        if undecided.size:
            exact_bins = _exact_bins(g_row[undecided], g_col[undecided], boundaries)
            slots[undecided] += exact_bins - n
    hist = np.bincount(slots, weights=magnitude, minlength=n_images * plan.n_slots)
    # skimage sums a cell in float32 and divides by the cell area in float32
    hist = hist.reshape(n_images, plan.n_cells + 1, n + 1)[:, : plan.n_cells, :n]
    with np.errstate(over="ignore"):  # beyond float32: inf, as in skimage
        hist = hist.astype(np.float32)
    hist /= np.float32(plan.cell_area)
    hist = hist.reshape(n_images, -1).astype(out.dtype, copy=False)
    _normalize_blocks(hist, plan, block_norm, out)


def _work_dtype(input_dtype, dtype, transform_sqrt):
    """Precision of gradients and bins: float32 only where it is exact.

    The orientation bin of a pixel is decided from its gradient, so gradients
    are computed in float32 only when that gives skimage's own: for float32
    images (skimage keeps them in float32), and for 8- and 16-bit integer
    images without a square root (their differences are exact in float32).
    """
    if dtype != np.float32:
        return np.dtype(np.float64)
    if input_dtype == np.float32:
        return np.dtype(np.float32)
    small_int = input_dtype.kind in "biu" and input_dtype.itemsize <= 2
    return np.dtype(np.float32 if small_int and not transform_sqrt else np.float64)


def _hog_images(images, plan, block_norm, transform_sqrt, dtype, chunk_size, n_jobs):
    """HOG features of a validated (n, h, w) batch, chunk by chunk."""
    n_images = images.shape[0]
    flat = images.reshape(n_images, -1)
    out = np.empty((n_images, plan.n_features), dtype=dtype)
    starts = range(0, n_images, chunk_size)
    work_dtype = _work_dtype(images.dtype, dtype, transform_sqrt)

    def run(first, last):
        work = _Workspace(min(chunk_size, last - first), plan, work_dtype)
        for start in range(first, last, chunk_size):
            stop = min(start + chunk_size, last)
            _hog_chunk(
                flat[start:stop],
                out[start:stop],
                plan,
                block_norm,
                transform_sqrt,
                work,
            )

    n_workers = min(effective_n_jobs(n_jobs), len(starts))
    if n_workers <= 1:
        run(0, n_images)
    else:
        # Threads write straight into `out` (numpy releases the GIL in its
        # loops); each worker takes a contiguous run of chunks.
        bounds = np.linspace(0, len(starts), 4 * n_workers + 1).astype(int)
        runs = [
            (starts[a], min(starts[b - 1] + chunk_size, n_images))
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if b > a
        ]
        for _ in map_in_threads(run, runs, n_workers):
            pass
    return out


def _block_sums(images, rows, cols, step):
    """(n, rows * cols) sums of the step x step blocks of ``images``, in float64."""
    if step > 1:
        images = images.reshape(-1, rows, step, cols, step).sum(
            axis=(2, 4), dtype=np.float64
        )
    return images.reshape(images.shape[0], -1)


def _check_input_features(estimator, input_features):
    if input_features is None:
        return
    input_features = np.asarray(input_features, dtype=object)
    if input_features.ndim != 1 or len(input_features) != estimator.n_features_in_:
        raise ValueError(
            f"input_features should have length equal to the number of features "
            f"({estimator.n_features_in_}); got {len(input_features)}."
        )
    names_in = getattr(estimator, "feature_names_in_", None)
    if names_in is not None and not np.array_equal(input_features, names_in):
        raise ValueError("input_features is not equal to feature_names_in_.")


class HOGTransformer(ImageTransformerMixin, TransformerMixin, BaseEstimator):
    """Histogram of oriented gradients of every image of a batch.

    Each output row equals ``skimage.feature.hog(image, orientations,
    pixels_per_cell, cells_per_block, block_norm, transform_sqrt=...,
    feature_vector=True)`` for the corresponding grey image (within 1e-6 for
    float64 input; see the module docstring for why it is not bit for bit), for
    every parameter combination scikit-image supports, but the batch is
    computed at once, chunk by chunk, without calling ``arctan2`` per pixel.

    The transformer is stateless: :meth:`fit` only validates its input.

    Parameters
    ----------
    orientations : int, default=9
        Number of orientation bins over [0, 180) degrees.
    pixels_per_cell : tuple of two int, default=(7, 7)
        Size (rows, columns) of a cell. Pixels right of or below the last whole
        cell are ignored, as in scikit-image.
    cells_per_block : tuple of two int, default=(2, 2)
        Number of cells (rows, columns) in each normalisation block.
    block_norm : {"L1", "L1-sqrt", "L2", "L2-Hys"}, default="L2-Hys"
        Block normalisation method, as in :func:`skimage.feature.hog`.
    transform_sqrt : bool, default=False
        Take the square root of the pixel values first (power-law compression).
        The images must then be non-negative.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows; square images are inferred when None.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Precision of the output and of the block normalisation; its rows stay
        within 1e-4 of scikit-image's (in practice about 2e-7). Gradients and
        orientation bins are computed in float32 only where that is exact (for
        float32 images and 8- or 16-bit integer images), otherwise in float64,
        so every pixel lands in scikit-image's bin either way.
    chunk_size : int, default=None
        Images per chunk; by default about 200,000 pixels' worth (255 images of
        28x28). Extra memory is about 60 bytes per pixel of a chunk and per
        worker, whatever the batch size.
    n_jobs : int, default=None
        Number of threads the chunks are spread over; None means 1 unless in a
        :func:`joblib.parallel_config` context, -1 means all cores.

    Attributes
    ----------
    n_features_in_ : int
        Number of pixels per image seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the input columns, when :meth:`fit` got a DataFrame with
        string column names.
    image_shape_ : tuple of two int
        ``(height, width)`` of the images seen in :meth:`fit`.

    See Also
    --------
    PixelTransformer : The pixels themselves, scaled and block-averaged.
    make_features : HOG and pixels joined in one FeatureUnion.

    Notes
    -----
    Output columns follow scikit-image's order: block row, block column, cell
    row within the block, cell column within the block, orientation bin. See
    :meth:`get_feature_names_out` for the names.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.feature import hog
    >>> from mtclassic import HOGTransformer
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    >>> features = HOGTransformer().fit_transform(images)
    >>> features.shape
    (5, 324)
    >>> expected = hog(images[0], 9, (7, 7), (2, 2), "L2-Hys")
    >>> bool(np.abs(features[0] - expected).max() < 1e-6)
    True
    """

    _parameter_constraints: dict = {
        **ImageTransformerMixin._parameter_constraints,
        "orientations": [NumberInterval(numbers.Integral, 1, 65534, closed="both")],
        "pixels_per_cell": [positive_pair("(rows, columns)")],
        "cells_per_block": [positive_pair("(rows, columns)")],
        "block_norm": [StrOptions({"L1", "L1-sqrt", "L2", "L2-Hys"})],
        "transform_sqrt": ["boolean"],
        "dtype": [float_dtype()],
        "chunk_size": [NumberInterval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        orientations=9,
        pixels_per_cell=(7, 7),
        cells_per_block=(2, 2),
        block_norm="L2-Hys",
        transform_sqrt=False,
        image_shape=None,
        dtype=np.float64,
        chunk_size=None,
        n_jobs=None,
    ):
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.image_shape = image_shape
        self.dtype = dtype
        self.chunk_size = chunk_size
        self.n_jobs = n_jobs

    def _cells(self):
        """``pixels_per_cell`` and ``cells_per_block`` as tuples of int."""
        return (
            tuple(int(v) for v in self.pixels_per_cell),
            tuple(int(v) for v in self.cells_per_block),
        )

    def _check_images(self, X, *, reset):
        pixels_per_cell, cells_per_block = self._cells()
        images = self._validate_images(X, reset=reset)
        height, width = images.shape[1:]
        min_rows = pixels_per_cell[0] * cells_per_block[0]
        min_cols = pixels_per_cell[1] * cells_per_block[1]
        if height < min_rows or width < min_cols:
            raise ValueError(
                f"X holds images of shape ({height}, {width}), smaller than one "
                f"block: pixels_per_cell={pixels_per_cell} and "
                f"cells_per_block={cells_per_block} need at least {min_rows} rows "
                f"and {min_cols} columns."
            )
        plan = _hog_plan(
            (height, width), int(self.orientations), pixels_per_cell, cells_per_block
        )
        return images, plan, np.dtype(self.dtype)

    def transform(self, X):
        """HOG features of every image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or (n_samples, height * width)
            The images, uint8 (0-255) or float.

        Returns
        -------
        features : ndarray of shape (n_samples, n_features) and type ``dtype``
            One row per image, equal to :func:`skimage.feature.hog`'s vector.
        """
        self._validate_params()
        images, plan, dtype = self._check_images(X, reset=False)
        chunk_size = self.chunk_size
        if chunk_size is None:
            chunk_size = chunk_length(plan.shape, _CHUNK_PIXELS)
        return _hog_images(
            images,
            plan,
            self.block_norm,
            bool(self.transform_sqrt),
            dtype,
            int(chunk_size),
            self.n_jobs,
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        A name ``hog_b{i}_{j}_c{r}_{c}_o{k}`` is orientation bin ``k`` of the
        cell in row ``r`` and column ``c`` of the image's grid of cells, as
        normalised in the block whose top-left cell is at row ``i`` and column
        ``j`` of that grid. A cell appears once per block that holds it.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the input seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per output column.

        Examples
        --------
        >>> import numpy as np
        >>> from mtclassic import HOGTransformer
        >>> hog = HOGTransformer(orientations=4).fit(np.zeros((1, 28, 28)))
        >>> hog.get_feature_names_out()[[0, 5, -1]].tolist()
        ['hog_b0_0_c0_0_o0', 'hog_b0_0_c0_1_o1', 'hog_b2_2_c3_3_o3']
        """
        check_is_fitted(self, "n_features_in_")
        _check_input_features(self, input_features)
        self._validate_params()
        pixels_per_cell, cells_per_block = self._cells()
        plan = _hog_plan(
            self.image_shape_, int(self.orientations), pixels_per_cell, cells_per_block
        )
        br, bc, cr, cc, o = np.meshgrid(
            np.arange(plan.n_block_rows),
            np.arange(plan.n_block_cols),
            np.arange(cells_per_block[0]),
            np.arange(cells_per_block[1]),
            np.arange(plan.orientations),
            indexing="ij",
        )
        return np.asarray(
            [
                f"hog_b{i}_{j}_c{i + r}_{j + c}_o{k}"
                for i, j, r, c, k in zip(
                    br.ravel(),
                    bc.ravel(),
                    cr.ravel(),
                    cc.ravel(),
                    o.ravel(),
                    strict=True,
                )
            ],
            dtype=object,
        )


class PixelTransformer(ImageTransformerMixin, TransformerMixin, BaseEstimator):
    """The pixels of every image, scaled to [0, 1] and optionally block-averaged.

    The transformer is stateless: :meth:`fit` only validates its input.

    Parameters
    ----------
    scale : "auto" or float, default="auto"
        The pixel value that becomes 1: features are ``pixels / scale``.
        "auto" takes 255 for integer images (uint8 0-255) and 1 for float
        images (already in [0, 1], as :class:`~mtclassic.ImageNormalizer`
        gives them); it depends on the dtype only, never on the values, so that
        every batch is scaled alike. Values are not clipped.
    downsample : int, default=1
        Side of the square blocks of pixels that are averaged into one feature:
        2 turns 28x28 images into 14x14 features. Rows and columns that do not
        fill a whole block (at the bottom and the right) are dropped.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows; square images are inferred when None.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Precision of the output (the block means are computed in float64 and
        rounded once); float32 halves the memory of the feature rows, as
        :class:`HOGTransformer`'s ``dtype`` does.

    Attributes
    ----------
    n_features_in_ : int
        Number of pixels per image seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the input columns, when :meth:`fit` got a DataFrame with
        string column names.
    image_shape_ : tuple of two int
        ``(height, width)`` of the images seen in :meth:`fit`.

    See Also
    --------
    HOGTransformer : Histograms of oriented gradients.
    make_features : HOG and pixels joined in one FeatureUnion.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic import PixelTransformer
    >>> images = np.full((2, 28, 28), 255, dtype=np.uint8)
    >>> pixels = PixelTransformer(downsample=2).fit_transform(images)
    >>> pixels.shape, float(pixels.max())
    ((2, 196), 1.0)
    """

    # images per chunk: bounds the float copy of a uint8 batch
    _chunk_pixels = 1 << 22

    _parameter_constraints: dict = {
        **ImageTransformerMixin._parameter_constraints,
        "scale": [
            StrOptions({"auto"}),
            NumberInterval(numbers.Real, 0, None, closed="neither"),
        ],
        "downsample": [NumberInterval(numbers.Integral, 1, None, closed="left")],
        "dtype": [float_dtype()],
    }

    def __init__(self, scale="auto", downsample=1, image_shape=None, dtype=np.float64):
        self.scale = scale
        self.downsample = downsample
        self.image_shape = image_shape
        self.dtype = dtype

    def __setstate__(self, state):
        # models saved before the dtype parameter computed float64 features
        state.setdefault("dtype", np.float64)
        super().__setstate__(state)

    def _check_images(self, X, *, reset):
        images = self._validate_images(X, reset=reset)
        height, width = images.shape[1:]
        if height < self.downsample or width < self.downsample:
            raise ValueError(
                f"X holds images of shape ({height}, {width}), smaller than one "
                f"block of downsample={self.downsample} pixels a side."
            )
        return images

    def transform(self, X):
        """Scaled, block-averaged pixels of every image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width) or (n_samples, height * width)
            The images, uint8 (0-255) or float in [0, 1].

        Returns
        -------
        pixels : ndarray of shape (n_samples, (height // downsample) * (width // downsample))
            One row per image, in row-major order of the (downsampled) image,
            of type ``dtype``.
        """
        self._validate_params()
        images = self._check_images(X, reset=False)
        n_images, height, width = images.shape
        step = self.downsample
        rows, cols = height // step, width // step
        if self.scale == "auto":
            scale = 255.0 if images.dtype.kind in "iu" else 1.0
        else:
            scale = float(self.scale)
        # mean of step x step pixels, divided by scale, as one factor
        factor = 1.0 / (scale * step * step)
        out = np.empty((n_images, rows * cols), dtype=self.dtype)
        chunk = chunk_length((height, width), self._chunk_pixels)
        for start in range(0, n_images, chunk):
            pixels = images[start : start + chunk, : rows * step, : cols * step]
            with np.errstate(over="ignore"):
                np.multiply(
                    _block_sums(pixels, rows, cols, step),
                    factor,
                    out=out[start : start + chunk],
                )
            if not np.isfinite(out[start : start + chunk]).all():
                # a block sum beyond the float range (pixels near 1e308):
                # averaged instead, which cannot overflow; only here, so that
                # ordinary images keep their bits
                mean = _block_sums(pixels / (step * step), rows, cols, step)
                with np.errstate(over="ignore"):
                    np.divide(mean, scale, out=out[start : start + chunk])
                if not np.isfinite(out[start : start + chunk]).all():
                    raise ValueError(
                        f"X / scale is beyond the {out.dtype.name} range with "
                        f"scale={scale!r}; use a larger scale."
                    )
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: ``px_{row}_{col}``.

        ``row`` and ``col`` index the (downsampled) image.

        Parameters
        ----------
        input_features : array-like of str, default=None
            Only checked against the input seen in :meth:`fit`.

        Returns
        -------
        feature_names_out : ndarray of str objects
            One name per output column.

        Examples
        --------
        >>> import numpy as np
        >>> from mtclassic import PixelTransformer
        >>> pixels = PixelTransformer(downsample=2).fit(np.zeros((1, 4, 6)))
        >>> pixels.get_feature_names_out().tolist()
        ['px_0_0', 'px_0_1', 'px_0_2', 'px_1_0', 'px_1_1', 'px_1_2']
        """
        check_is_fitted(self, "n_features_in_")
        _check_input_features(self, input_features)
        self._validate_params()
        height, width = self.image_shape_
        rows, cols = height // self.downsample, width // self.downsample
        return np.asarray(
            [f"px_{r}_{c}" for r in range(rows) for c in range(cols)], dtype=object
        )


def make_features(
    hog=True,
    pixels=True,
    *,
    hog_params=None,
    pixel_downsample=2,
    pixel_scale="auto",
    image_shape=None,
    dtype=np.float64,
    n_jobs=None,
):
    """HOG and pixel features of images, joined in one FeatureUnion.

    The union's steps are named ``"hog"`` and ``"pixels"``, so that in a
    pipeline step called ``features`` their parameters read
    ``features__hog__pixels_per_cell`` and ``features__pixels__downsample``.

    Parameters
    ----------
    hog : bool, default=True
        Include :class:`HOGTransformer` features.
    pixels : bool, default=True
        Include :class:`PixelTransformer` features.
    hog_params : dict, default=None
        Parameters of the :class:`HOGTransformer`; they take precedence over
        ``image_shape`` and ``n_jobs``.
    pixel_downsample : int, default=2
        ``downsample`` of the :class:`PixelTransformer`.
    pixel_scale : "auto" or float, default="auto"
        ``scale`` of the :class:`PixelTransformer`.
    image_shape : tuple of two int, default=None
        ``(height, width)`` of flat rows, given to both transformers; square
        images are inferred when None.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        ``dtype`` of both transformers' output (``hog_params`` may override
        the HOG's); float32 holds the feature rows in half the memory.
    n_jobs : int, default=None
        Threads of the HOG computation (the pixels cost next to nothing).

    Returns
    -------
    features : sklearn.pipeline.FeatureUnion
        Its output is the HOG columns followed by the pixel columns.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic import make_features
    >>> features = make_features()
    >>> [name for name, _ in features.transformer_list]
    ['hog', 'pixels']
    >>> features.fit_transform(np.zeros((3, 784))).shape
    (3, 520)
    """
    if not (hog or pixels):
        raise ValueError("make_features needs hog=True or pixels=True; both are False.")
    steps = []
    if hog:
        params = {
            "image_shape": image_shape,
            "dtype": dtype,
            "n_jobs": n_jobs,
            **(hog_params or {}),
        }
        steps.append(("hog", HOGTransformer(**params)))
    if pixels:
        steps.append(
            (
                "pixels",
                PixelTransformer(
                    scale=pixel_scale,
                    downsample=pixel_downsample,
                    image_shape=image_shape,
                    dtype=dtype,
                ),
            )
        )
    return FeatureUnion(steps)
