"""The embedded default data set: handwriting-like characters drawn from pen strokes.

Every image is rendered from the stroke templates of :mod:`._strokes`: the
way-points are jittered, the dense curve through them is distorted by a random
affine map and a smooth elastic field, and the result is drawn with a random
pen width, then given MNIST's geometry (bright ink on a dark background, the
glyph fitted into a 20 x 20 box keeping its aspect ratio, centred by its centre
of mass in a 28 x 28 image).

Images are rendered in batches: all samples of one (character, variant) pair
go through the same numpy expressions, chunked to bound memory.
"""

import numbers
from collections.abc import Iterable

import numpy as np
from scipy.special import ndtri
from sklearn.utils import check_random_state

from ..utils._param_validation import NumberInterval
from ..utils._sklearn_compat import StrOptions, validate_params
from ._strokes import (
    CHARACTERS,
    DIGITS,
    LETTERS,
    compile_variant,
    variant_table,
)

# MNIST: a 20 x 20 box for the glyph in a 28 x 28 image.
_BOX_FRACTION = 20 / 28
_REFERENCE_SIZE = 28
# distance between dense points along a stroke, in pixels of the output
_POINT_SPACING_PX = 0.35
# the Gaussian that turns point samples into a smooth ink density (pixels at 28)
_BLUR_SIGMA_PX = 0.9
# width of the soft edge of a stroke (pixels at 28): MNIST's anti-aliasing
_EDGE_PX = 0.55
# the ink's faint outer edge is fitted to span the box plus this many pixels,
# centred between pixel centres, so that the visible ink covers exactly the
# box's pixels with strong ink at its sides, as in MNIST
_SPILL_PX = 0.7
# times a glyph whose ink missed the box's size is drawn again
_REFITS = 4
# the centre of mass may be this many pixels off before the final integer shift
_PAD_PX = 3
# points added to prolong each stroke end (see _extend_ends)
_CAP_POINTS = 4
# random plane waves that make up one elastic displacement field
_N_WAVES = 6
# samples rendered together; bounds memory to a few tens of MB
_CHUNK = 2048


def _check_range(value, name, *, low, high, symmetric, unit=""):
    """A pair ``(a, b)`` with ``low <= a <= b <= high`` from a pair or a number.

    A number ``v`` (already checked by ``@validate_params``) stands for
    ``(-v, v)`` when ``symmetric`` and ``(v, v)`` otherwise.
    """
    number = "a number >= 0" if symmetric else f"a number in [{low:g}, {high:g}]"
    message = (
        f"{name} must be {number} or a pair (low, high) with {low:g} <= low <= "
        f"high <= {high:g}{unit}; got {value!r}."
    )
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = (-value, value) if symmetric else (value, value)
    try:
        a, b = value
    except (TypeError, ValueError):
        raise ValueError(message) from None
    for bound in (a, b):
        if not isinstance(bound, numbers.Real) or isinstance(bound, bool):
            raise ValueError(message)
    if not (low <= a <= b <= high):
        raise ValueError(message)
    return float(a), float(b)


def _check_classes(classes):
    """The characters to generate, in order, from the ``classes`` parameter."""
    if classes is None:
        return CHARACTERS
    if isinstance(classes, str) and classes in ("digits", "letters"):
        return DIGITS if classes == "digits" else LETTERS
    supported = "".join(CHARACTERS)
    chosen = list(classes)  # an iterable, checked by @validate_params
    if not chosen:
        raise ValueError(
            f"classes must name at least one character from {supported!r}; got an "
            "empty selection."
        )
    for character in chosen:
        if character not in CHARACTERS:
            raise ValueError(
                f"classes contains {character!r}, which make_characters cannot draw; "
                f"the supported characters are {supported!r} (or 'digits', 'letters')."
            )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"classes must not repeat a character; got {classes!r}.")
    return tuple(chosen)


def _balanced_labels(characters, n_samples, rng):
    """Labels with counts differing by at most one, in a shuffled order."""
    counts = np.full(len(characters), n_samples // len(characters))
    counts[: n_samples % len(characters)] += 1
    labels = np.repeat(np.arange(len(characters)), counts)
    return labels[rng.permutation(n_samples)]


def _affine_matrices(n, rng, rotation, shear, scale):
    """Random (n, 2, 2) maps: rotation @ shear @ anisotropic scale."""
    angle = np.deg2rad(rng.uniform(-rotation, rotation, n))
    slant = rng.uniform(*shear, n)
    stretch = rng.uniform(1 - scale, 1 + scale, (n, 2))
    cos, sin = np.cos(angle), np.sin(angle)
    rotate = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    # y points down, so x - slant * y leans the top of a glyph to the right
    shear_matrix = np.zeros((n, 2, 2))
    shear_matrix[:, 0, 0] = shear_matrix[:, 1, 1] = 1.0
    shear_matrix[:, 0, 1] = -slant
    return rotate @ shear_matrix * stretch[:, None, :]


def _elastic_displacement(points, rng, alpha, sigma):
    """A smooth random displacement of each point: a sum of random plane waves.

    The waves have Gaussian-distributed frequencies, so the field is a sample of
    a Gaussian process with a squared-exponential covariance: ``alpha`` is the
    standard deviation of the displacement and ``sigma`` its correlation length.
    """
    n = len(points)
    frequencies = rng.normal(0.0, 1.0 / sigma, (n, _N_WAVES, 2))
    phases = rng.uniform(0.0, 2 * np.pi, (n, 1, _N_WAVES))
    amplitudes = rng.normal(0.0, alpha * np.sqrt(2.0 / _N_WAVES), (n, _N_WAVES, 2))
    waves = np.cos(points @ frequencies.transpose(0, 2, 1) + phases)
    return waves @ amplitudes


def _gaussian_matrix(size, sigma):
    """(size, size) matrix that blurs one image axis with a Gaussian."""
    offsets = np.arange(size)[:, None] - np.arange(size)[None, :]
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel[np.abs(offsets) > 4 * sigma] = 0.0
    return kernel / (np.sqrt(2 * np.pi) * sigma)


def _splat(points, weights, canvas):
    """Add each point's weight to its four neighbouring pixels (bilinear)."""
    n, n_points, _ = points.shape
    x, y = points[..., 0], points[..., 1]
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    x0, y0 = x0.astype(np.intp), y0.astype(np.intp)
    base = np.arange(n)[:, None] * (canvas * canvas)
    image = np.zeros(n * canvas * canvas)
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        cx, cy = x0 + dx, y0 + dy
        inside = (cx >= 0) & (cx < canvas) & (cy >= 0) & (cy < canvas)
        index = base + np.clip(cy, 0, canvas - 1) * canvas + np.clip(cx, 0, canvas - 1)
        image += np.bincount(
            index.ravel(),
            weights=(w * weights * inside).ravel(),
            minlength=n * canvas * canvas,
        )
    return image.reshape(n, canvas, canvas)


def _extend_ends(points, arc, ends, length):
    """Append points prolonging each stroke end straight on by ``length`` (n,)."""
    if not len(ends):
        return points, arc
    direction = points[:, ends[:, 0]] - points[:, ends[:, 1]]
    direction /= np.maximum(np.linalg.norm(direction, axis=2, keepdims=True), 1e-12)
    steps = np.arange(1, _CAP_POINTS + 1) / _CAP_POINTS
    # (n, n_ends, n_steps, 2) -> (n, n_ends * n_steps, 2)
    extra = (
        points[:, ends[:, 0], None, :]
        + direction[:, :, None, :] * (length[:, None, None, None] * steps[:, None])
    ).reshape(len(points), -1, 2)
    extra_arc = np.repeat(length / _CAP_POINTS, len(ends) * _CAP_POINTS)
    extra_arc = extra_arc.reshape(len(points), -1)
    return np.concatenate([points, extra], 1), np.concatenate([arc, extra_arc], 1)


def _distort(compiled, n, rng, params, box_px):
    """Jittered, affinely and elastically distorted pen paths, in template units."""
    jitter = params["jitter"]
    waypoints = compiled.waypoints + rng.normal(
        0.0, jitter, (n, *compiled.waypoints.shape)
    )
    # each stroke also moves as a whole, as a pen lifted and set down again
    stroke_shift = rng.normal(0.0, jitter, (n, compiled.n_strokes, 2))
    waypoints += stroke_shift[:, compiled.waypoint_stroke]
    points = compiled.sampling @ waypoints - 0.5

    affine = _affine_matrices(
        n, rng, params["rotation"], params["shear"], params["scale"]
    )
    points = points @ affine.transpose(0, 2, 1)
    if params["elastic_alpha"] > 0:
        # the glyph spans about one template unit, so pixels convert through it
        px = params["image_size"] / _REFERENCE_SIZE
        points += _elastic_displacement(
            points,
            rng,
            params["elastic_alpha"] * px / box_px,
            params["elastic_sigma"] * px / box_px,
        )
    return points


def _draw(paths, compiled, pen, inked, box, pad, canvas):
    """Fit, place and draw pen paths on a canvas with ``pad`` pixels of margin.

    ``pen`` holds the per-image draws: ``width``, ``target`` (the centre of
    mass in image coordinates) and ``fraction`` (the sub-pixel part of the
    placement). ``inked`` is the length in pixels the ink may span along the
    glyph's longer side, centred on the ``box`` pixels it should cover. Returns the ink in [0, 1], shape (n, canvas, canvas).
    """
    n = len(paths)
    rows = np.arange(n)
    px = (canvas - 2 * pad) / _REFERENCE_SIZE
    edge = _EDGE_PX * px
    reach = 0.5 * pen["width"] + edge  # ink extends this far beyond the path

    # MNIST geometry: the inked glyph fits the box, keeping its aspect ratio
    low, high = paths.min(axis=1), paths.max(axis=1)
    extent = high - low
    long_axis = extent.argmax(axis=1)
    scale = (inked - 2 * reach) / extent.max(axis=1)
    points = (paths - 0.5 * (low + high)[:, None, :]) * scale[:, None, None]

    # place the centre of mass, estimated from the arc length around each point
    steps = np.linalg.norm(np.diff(points, axis=1), axis=2) * compiled.joined
    arc = 0.5 * (np.pad(steps, ((0, 0), (1, 0))) + np.pad(steps, ((0, 0), (0, 1))))
    mass_centre = (arc[..., None] * points).sum(1) / arc.sum(1)[:, None]
    # MNIST shifts by whole pixels to centre the mass, so it is off by up to half
    # a pixel; along the long axis that fraction instead lines the box up with
    # the pixel grid, as MNIST's box is
    offset = pad + pen["target"] + pen["fraction"] - mass_centre
    # (the box's centre falls on a pixel centre for an odd box, between two for
    # an even one)
    misalignment = offset[rows, long_axis] - 0.5 * (box - 1)
    offset[rows, long_axis] -= misalignment - np.rint(misalignment)
    points += offset[:, None, :]

    # a straight line's density across the stroke is exp(-d^2 / 2s^2) at its
    # peak; map the distance band [w/2 - edge, w/2 + edge] to a ramp 1 -> 0
    sigma = _BLUR_SIGMA_PX * px
    spread = np.sqrt(sigma**2 + 1 / 6)  # the bilinear splat adds variance 1/6
    half = 0.5 * pen["width"]
    full = np.exp(-(np.maximum(half - edge, 0) ** 2) / (2 * spread**2))
    none = np.exp(-((half + edge) ** 2) / (2 * spread**2))

    # beyond a stroke's end the density falls as a normal CDF, so the ink would
    # stop short of a pen's round cap; extend the ends to make up the difference
    cap = np.maximum(reach + spread * ndtri(none), 0.0)
    points, arc = _extend_ends(points, arc, compiled.ends, cap)

    density = _splat(points, arc, canvas)
    blur = _gaussian_matrix(canvas, sigma)
    density = blur @ density @ blur.T
    relative = density * (np.sqrt(2 * np.pi) * spread)
    return np.clip(
        (relative - none[:, None, None]) / (full - none)[:, None, None], 0.0, 1.0
    )


def _ink_extent(ink):
    """Largest side of the bounding box of the visible ink, in pixels."""
    visible = ink >= 0.5 / 255  # what rounds to a non-zero byte
    extents = []
    for axis in (1, 2):
        seen = visible.any(axis=axis)
        first = seen.argmax(axis=1)
        last = seen.shape[1] - 1 - seen[:, ::-1].argmax(axis=1)
        extents.append(np.where(seen.any(axis=1), last - first + 1, 0))
    return np.maximum(*extents)


def _render_chunk(compiled, n, rng, params):
    """Render ``n`` images of one compiled variant; returns floats in [0, 1]."""
    size = params["image_size"]
    px = size / _REFERENCE_SIZE  # output pixels per pixel at size 28
    box = max(round(_BOX_FRACTION * size), 1)
    pad = int(np.ceil(_PAD_PX * px))
    canvas = size + 2 * pad

    paths = _distort(compiled, n, rng, params, box)
    shift = params["translation"] * px
    pen = {
        "width": rng.uniform(*params["stroke_width"], n) * px,
        "target": size / 2 + rng.uniform(-shift, shift, (n, 2)),
        "fraction": rng.uniform(-0.5, 0.5, (n, 2)),
    }
    inked = np.full(n, box + _SPILL_PX)
    ink = _draw(paths, compiled, pen, inked, box, pad, canvas)
    # the fit is estimated from the pen's path; where the ink still comes out
    # larger or smaller than the box (corners, crossings), draw it again
    for _ in range(_REFITS):
        excess = _ink_extent(ink) - box
        redo = np.flatnonzero(excess != 0)
        if not len(redo):
            break
        # half a pixel at a time: the excess is counted in whole pixels
        inked[redo] -= 0.5 * excess[redo]
        ink[redo] = _draw(
            paths[redo],
            compiled,
            {key: value[redo] for key, value in pen.items()},
            inked[redo],
            box,
            pad,
            canvas,
        )

    # shift by whole pixels so the rendered centre of mass lands on the target
    grid = np.arange(canvas)
    mass = ink.sum(axis=(1, 2))
    mass = np.where(mass > 0, mass, 1.0)
    centre_y = (ink.sum(axis=2) @ grid) / mass
    centre_x = (ink.sum(axis=1) @ grid) / mass
    target = pen["target"]
    shift_y = np.clip(np.rint(centre_y - pad - target[:, 1]), -pad, pad)
    shift_x = np.clip(np.rint(centre_x - pad - target[:, 0]), -pad, pad)
    rows = pad + shift_y.astype(np.intp)[:, None] + np.arange(size)
    cols = pad + shift_x.astype(np.intp)[:, None] + np.arange(size)
    return ink[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def _real(low, high, closed="both"):
    return NumberInterval(numbers.Real, low, high, closed=closed)


@validate_params(
    {
        "n_samples": [NumberInterval(numbers.Integral, 1, None, closed="left")],
        "classes": [None, Iterable],
        "image_size": [NumberInterval(numbers.Integral, 8, None, closed="left")],
        "random_state": ["random_state"],
        "letter_case": [StrOptions({"upper", "lower", "mixed"})],
        "rotation": [_real(0, 180)],
        "shear": [_real(0, None, "left"), "array-like"],
        "scale": [_real(0, 0.9)],
        "translation": [_real(0, 4)],
        "jitter": [_real(0, 0.3)],
        "elastic_alpha": [_real(0, 10)],
        "elastic_sigma": [_real(0, 100, "right")],
        "stroke_width": [_real(0.5, 8), "array-like"],
    },
    prefer_skip_nested_validation=True,
)
def make_characters(
    n_samples=1000,
    classes=None,
    image_size=28,
    random_state=None,
    *,
    letter_case="upper",
    rotation=15.0,
    shear=(-0.15, 0.45),
    scale=0.25,
    translation=0.0,
    jitter=0.025,
    elastic_alpha=2.0,
    elastic_sigma=10.0,
    stroke_width=(1.5, 3.4),
):
    """Generate handwriting-like images of digits and letters.

    Each image is drawn from pen-stroke templates of the character (several
    variants for characters people write differently, such as a 1 with or
    without a flag, an open or closed 4, a 7 with or without a bar, and
    lower-case forms of the letters on request). No font or data set is
    used: the templates are part of the package. Per
    sample, the stroke way-points are jittered, the strokes are distorted by a
    random affine map (rotation, shear, anisotropic scale) and a smooth elastic
    field, and drawn anti-aliased with a random pen width. The images have
    MNIST's geometry: bright ink (up to 255) on a dark background (0), the
    glyph fitted into a box of ``20/28 * image_size`` pixels keeping its
    aspect ratio and centred by its centre of mass.

    The defaults were chosen by eye and by how well a HOG + SVM classifier
    trained on generated digits alone recognizes real handwritten digits (see
    ``benchmarks/bench_synthetic.py``).

    Parameters
    ----------
    n_samples : int, default=1000
        Number of images. The classes are balanced: their counts differ by at
        most one (the first classes get the extra images).
    classes : None, "digits", "letters" or iterable of str, default=None
        The characters to draw: None for all 36 (``'0'..'9'`` then
        ``'A'..'Z'``), ``"digits"``, ``"letters"``, or the characters
        themselves (for example ``"ABC"`` or ``["0", "O"]``).
    image_size : int, default=28
        Side of the square images, at least 8. The box, stroke widths and
        distortions in pixels scale with ``image_size / 28``.
    random_state : int, RandomState instance or None, default=None
        Seed for every random choice. The same seed gives identical arrays.
    letter_case : {"upper", "lower", "mixed"}, default="upper"
        How letters are written: as capitals, in lower case (c, o, s, v, w,
        x and z as their capitals, but wider than high), or either with equal
        probability, as in EMNIST's merged letter classes. The labels are
        always the capitals. Digits are not affected.
    rotation : float, default=15.0
        Largest rotation in degrees; angles are uniform in
        ``[-rotation, rotation]``.
    shear : float or (float, float), default=(-0.15, 0.45)
        Range of the horizontal shear (slant), uniform in it; positive values
        lean the top to the right, as most people write. A number ``s``
        stands for ``(-s, s)``.
    scale : float, default=0.25
        Largest relative change of the width and the height, drawn
        independently in ``[1 - scale, 1 + scale]``. Only their ratio shows,
        since the glyph is then fitted into the box.
    translation : float, default=0.0
        Largest offset in pixels (at size 28) of the centre of mass from the
        image centre, per axis. At 0 the centre of mass is within half a
        pixel of the centre, as in MNIST.
    jitter : float, default=0.025
        Standard deviation of the random displacement of each way-point of
        the templates, and of each stroke as a whole, as a fraction of the
        glyph's size.
    elastic_alpha : float, default=2.0
        Standard deviation in pixels (at size 28) of the smooth elastic
        displacement of the pen's path. 0 turns it off.
    elastic_sigma : float, default=10.0
        Correlation length in pixels (at size 28) of the elastic field.
    stroke_width : float or (float, float), default=(1.5, 3.4)
        Range of the pen width in pixels at size 28; the width of each image
        is uniform in it.

    Returns
    -------
    X : ndarray of shape (n_samples, image_size, image_size), dtype uint8
        The images, ink bright on a dark background.
    y : ndarray of shape (n_samples,), dtype '<U1'
        The character drawn in each image.

    Raises
    ------
    ValueError
        If a parameter is out of range or ``classes`` names a character that
        cannot be drawn.

    Examples
    --------
    >>> from mtclassic.datasets import make_characters
    >>> X, y = make_characters(n_samples=6, classes="digits", random_state=0)
    >>> X.shape, X.dtype
    ((6, 28, 28), dtype('uint8'))
    >>> print(*sorted(y))
    0 1 2 3 4 5
    >>> X, y = make_characters(n_samples=4, classes="AB", image_size=16, random_state=0)
    >>> X.shape, "".join(sorted(y))
    ((4, 16, 16), 'AABB')
    """
    characters = _check_classes(classes)
    params = {
        "image_size": int(image_size),
        "rotation": float(rotation),
        "shear": _check_range(shear, "shear", low=-2, high=2, symmetric=True),
        "scale": float(scale),
        "translation": float(translation),
        "jitter": float(jitter),
        "elastic_alpha": float(elastic_alpha),
        "elastic_sigma": float(elastic_sigma),
        "stroke_width": _check_range(
            stroke_width,
            "stroke_width",
            low=0.5,
            high=8,
            symmetric=False,
            unit=" pixels",
        ),
    }
    rng = check_random_state(random_state)

    labels = _balanced_labels(characters, n_samples, rng)
    # which form (glyph key, variant) each image is drawn in
    tables = [variant_table(character, letter_case) for character in characters]
    forms = np.empty(n_samples, dtype=np.intp)
    for code, table in enumerate(tables):
        members = np.flatnonzero(labels == code)
        weights = [p for _, _, p in table]
        forms[members] = rng.choice(len(table), size=len(members), p=weights)

    spacing = _POINT_SPACING_PX / (_BOX_FRACTION * _REFERENCE_SIZE)
    X = np.empty((n_samples, image_size, image_size), dtype=np.uint8)
    for code, table in enumerate(tables):
        for form, (key, variant, _) in enumerate(table):
            members = np.flatnonzero((labels == code) & (forms == form))
            if not len(members):
                continue
            compiled = compile_variant(key, variant, spacing)
            for start in range(0, len(members), _CHUNK):
                chunk = members[start : start + _CHUNK]
                ink = _render_chunk(compiled, len(chunk), rng, params)
                X[chunk] = np.rint(ink * 255).astype(np.uint8)
    y = np.array(characters)[labels]
    return X, y
