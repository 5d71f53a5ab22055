"""Tests for mtclassic.preprocessing.ImageNormalizer: MNIST geometry from any input."""

import pickle
import re

import numpy as np
import pytest
from scipy import ndimage
from sklearn.base import clone

from mtclassic.preprocessing import ImageNormalizer, stroke_widths

SIZE = 28
CENTRE = SIZE // 2  # MNIST puts the centre of mass on pixel (14, 14)


def draw(segments, shape, thickness=2.0):
    """Anti-aliased strokes, bright (1) on black (0); segments in pixel units."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5
    image = np.zeros(shape)
    for (r0, c0), (r1, c1) in segments:
        dr, dc = r1 - r0, c1 - c0
        t = np.clip(((rows - r0) * dr + (cols - c0) * dc) / (dr**2 + dc**2), 0, 1)
        distance = np.hypot(rows - r0 - t * dr, cols - c0 - t * dc)
        image = np.maximum(image, np.clip(thickness / 2 + 0.5 - distance, 0, 1))
    return image


def seven(shape=(28, 28), scale=1.0, thickness=2.0, shift=(0, 0)):
    (r, c), s = shift, scale
    return draw(
        [((r + 5 * s, c + 8 * s), (r + 5 * s, c + 19 * s)),
         ((r + 5 * s, c + 19 * s), (r + 23 * s, c + 11 * s))],
        shape,
        thickness,
    )  # fmt: skip


def characters():
    """A few strokes of different sizes, aspect ratios and places, (6, 40, 36)."""
    shape = (40, 36)
    return np.stack(
        [
            seven(shape, scale=1.2, shift=(3, 2)),
            draw([((4, 18), (36, 18))], shape, thickness=3),  # a "1"
            draw([((20, 3), (20, 33))], shape),  # a "-"
            draw([((8, 8), (30, 25)), ((9, 25), (28, 9))], shape),  # an "x"
            seven(shape, scale=0.5, shift=(12, 15)),  # small: enlarged
            draw([((3, 3), (12, 12))], shape, thickness=4),  # in a corner
        ]
    )


def centre_of_mass(images):
    mass = images.sum(axis=(1, 2))
    index = np.arange(images.shape[1])
    return images.sum(axis=2) @ index / mass, images.sum(axis=1) @ index / mass


def assert_centred(images, centre=CENTRE):
    """Centre of mass within half a pixel (MNIST moves by whole pixels)."""
    rows, cols = centre_of_mass(images)
    assert np.abs(rows - centre).max() <= 0.5 + 1e-9
    assert np.abs(cols - centre).max() <= 0.5 + 1e-9


def as_images(X):
    return X.reshape(-1, SIZE, SIZE)


def test_output_is_mnist_geometry():
    X = ImageNormalizer().fit_transform(characters())
    assert X.shape == (6, SIZE * SIZE)
    assert X.dtype == np.float64
    assert X.min() == 0.0
    np.testing.assert_allclose(X.max(axis=1), 1.0)
    images = as_images(X)
    # Whatever is lit lies in the box; the longer side fills it.
    for image in images:
        rows, cols = np.nonzero(image > 0.2)
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert max(height, width) == 20, (height, width)
    # A one-pixel rim of faint anti-aliased edges may surround it.
    for image in images:
        rows, cols = np.nonzero(image)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 22
    assert_centred(images)


def test_normalized_images_are_a_fixed_point():
    # MNIST images are already normalized; so is our own output.
    once = ImageNormalizer().fit_transform(characters())
    twice = ImageNormalizer().fit_transform(once)
    np.testing.assert_array_equal(twice, once)


def test_uint8_and_float_of_any_range_agree():
    images = np.round(characters() * 255).astype(np.uint8)
    expected = ImageNormalizer().transform(images)
    for same in (images / 255.0, images * 3.0 - 7.0, images.astype(np.float32)):
        X = ImageNormalizer().transform(same)
        np.testing.assert_allclose(X, expected, rtol=1e-6, atol=1e-12)


def test_dark_ink_on_paper_is_inverted():
    bright = characters()
    dark = 1.0 - bright
    expected = ImageNormalizer().transform(bright)
    np.testing.assert_allclose(ImageNormalizer().transform(dark), expected)
    np.testing.assert_allclose(
        ImageNormalizer(polarity="dark").transform(dark), expected
    )
    # Told the wrong polarity, there is no bright ink to find.
    assert not ImageNormalizer(polarity="bright").transform(dark).any()


def test_tight_crop_touching_every_side_keeps_its_polarity():
    # A "T" whose bar fills the top row and whose stem reaches the bottom.
    t = draw([((1, 0), (1, 14)), ((1, 7), (20, 7))], (20, 15), thickness=3)
    expected = ImageNormalizer().transform(t[None])
    np.testing.assert_allclose(ImageNormalizer().transform(1 - t[None]), expected)
    assert expected.max() == 1.0


def test_grey_and_unevenly_lit_background_is_removed():
    images = characters()
    expected = ImageNormalizer().transform(images)
    grey = 0.3 + 0.5 * images  # grey paper, as in the handwritten photos
    np.testing.assert_allclose(ImageNormalizer().transform(grey), expected)
    rows, cols = np.mgrid[0:40, 0:36]
    lit = 0.2 + 0.004 * rows + 0.003 * cols + 0.5 * images  # a lighting ramp
    np.testing.assert_allclose(ImageNormalizer().transform(lit), expected, atol=1e-9)


def test_paper_grain_does_not_become_ink():
    noise = np.random.default_rng(0).normal(0, 0.02, (6, 40, 36))
    grainy = 0.3 + 0.5 * characters() + noise
    X = as_images(ImageNormalizer().transform(grainy))
    clean = as_images(ImageNormalizer().transform(characters()))
    # The grain away from the strokes is gone, and the strokes are in place.
    away = ndimage.maximum_filter(clean, size=(1, 3, 3)) == 0
    assert np.count_nonzero(away) > 3000
    assert np.all(X[away] < 0.1)
    assert np.abs(X - clean).mean() < 0.02


def test_scale_invariance():
    small = seven((28, 28))
    large = seven((56, 56), scale=2.0, thickness=4.0)
    X = ImageNormalizer().transform(small[None])
    np.testing.assert_allclose(ImageNormalizer().transform(large[None]), X, atol=0.05)
    # Pixel-doubled: area averaging gives the very same image back.
    doubled = np.kron(small, np.ones((2, 2)))
    np.testing.assert_allclose(
        ImageNormalizer().transform(doubled[None]), X, atol=1e-12
    )


def test_aspect_ratio_is_kept():
    one = draw([((5, 20), (55, 20))], (60, 40), thickness=4)  # 50 x 4
    image = as_images(ImageNormalizer().transform(one[None]))[0]
    rows, cols = np.nonzero(image > 0.2)
    assert np.ptp(rows) + 1 == 20
    assert np.ptp(cols) + 1 <= 3  # 4 * 20 / 50 = 1.6 pixels, not stretched


def test_deskew_straightens_a_slanted_bar():
    bar = draw([((4, 24), (36, 8))], (40, 32), thickness=3)  # leans by 1/2
    slanted = as_images(ImageNormalizer().transform(bar[None]))[0]
    upright = as_images(ImageNormalizer(deskew=True).transform(bar[None]))[0]
    lit_columns = np.count_nonzero(upright.max(axis=0) > 0.2)
    assert lit_columns <= 3
    assert np.count_nonzero(slanted.max(axis=0) > 0.2) >= 8
    rows, _ = np.nonzero(upright > 0.2)
    assert np.ptp(rows) + 1 == 20  # the upright bar fills the box
    assert_centred(upright[None])


def test_deskew_leaves_upright_strokes_alone():
    one = draw([((4, 18), (36, 18))], (40, 36), thickness=3)
    np.testing.assert_allclose(
        ImageNormalizer(deskew=True).transform(one[None]),
        ImageNormalizer().transform(one[None]),
        atol=1e-12,
    )


def test_blank_images_stay_blank():
    images = characters()
    batch = np.concatenate([np.zeros((1, 40, 36)), images, np.full((1, 40, 36), 7.0)])
    X = ImageNormalizer(deskew=True).transform(batch)
    assert np.isfinite(X).all()
    assert not X[0].any() and not X[-1].any()
    # A blank neighbour changes nothing for the others.
    np.testing.assert_array_equal(
        X[1:-1], ImageNormalizer(deskew=True).transform(images)
    )


def test_edge_specks_are_dropped_but_inner_dots_kept():
    image = seven((40, 36), shift=(6, 4))
    speck = image.copy()
    speck[39, 0:2] = 1.0  # a piece of a neighbour, touching the border
    expected = ImageNormalizer().transform(image[None])
    np.testing.assert_array_equal(ImageNormalizer().transform(speck[None]), expected)
    kept = ImageNormalizer(max_edge_speck=0).transform(speck[None])
    assert not np.allclose(kept, expected)
    dot = image.copy()
    dot[34:36, 4:6] = 1.0  # not touching the border: part of the character
    assert not np.allclose(ImageNormalizer().transform(dot[None]), expected)


def test_ragged_list_equals_batches_of_each_size():
    rng = np.random.default_rng(1)
    groups = {
        (40, 36): characters(),
        (28, 28): np.stack([seven(), seven(thickness=3)]),
        (15, 60): rng.random((3, 15, 60)) ** 8 * 255,
    }
    images, where = [], []
    for shape, batch in groups.items():
        for k, image in enumerate(batch):
            images.append(image)
            where.append((shape, k))
    order = rng.permutation(len(images))
    X = ImageNormalizer().transform([images[i] for i in order])
    expected = {shape: ImageNormalizer().transform(b) for shape, b in groups.items()}
    for row, i in zip(X, order, strict=True):
        shape, k = where[i]
        np.testing.assert_allclose(row, expected[shape][k], atol=1e-12)


def test_list_of_equal_images_is_a_batch():
    images = characters()
    np.testing.assert_array_equal(
        ImageNormalizer().transform(list(images)), ImageNormalizer().transform(images)
    )


def test_flat_rows_equal_3d():
    images = characters()
    expected = ImageNormalizer().transform(images)
    flat = images.reshape(6, -1)
    np.testing.assert_array_equal(
        ImageNormalizer(image_shape=(40, 36)).transform(flat), expected
    )
    square = images[:, :36, :]
    np.testing.assert_array_equal(
        ImageNormalizer().transform(square.reshape(6, -1)),
        ImageNormalizer().transform(square),
    )


def test_chunks_and_jobs_give_identical_results():
    images = np.concatenate([characters()] * 3)
    expected = ImageNormalizer(deskew=True).transform(images)
    for params in ({"chunk_size": 1}, {"chunk_size": 4, "n_jobs": 2}):
        X = ImageNormalizer(deskew=True, **params).transform(images)
        np.testing.assert_array_equal(X, expected)
    ragged = [image[: 30 + k % 7, : 25 + k % 5] for k, image in enumerate(images)]
    expected = ImageNormalizer().transform(ragged)
    X = ImageNormalizer(chunk_size=2, n_jobs=2).transform(ragged)
    np.testing.assert_allclose(X, expected, atol=1e-12)


def test_each_image_is_normalized_on_its_own():
    # What sklearn's sample-order and subset-invariance checks would test, on
    # images (their own data is not square).
    images = np.concatenate([characters(), 1 - characters()[:3]])
    expected = ImageNormalizer(deskew=True).transform(images)
    order = np.random.default_rng(2).permutation(len(images))
    np.testing.assert_array_equal(
        ImageNormalizer(deskew=True).transform(images[order]), expected[order]
    )
    np.testing.assert_array_equal(
        ImageNormalizer(deskew=True).transform(images[2:5]), expected[2:5]
    )


def test_read_only_input():
    images = characters()
    images.setflags(write=False)
    expected = ImageNormalizer().transform(images.copy())
    np.testing.assert_array_equal(ImageNormalizer().transform(images), expected)
    ragged = [images[0], images[1, :30]]
    assert ImageNormalizer().transform(ragged).shape == (2, 784)


def test_other_output_sizes():
    X = ImageNormalizer(image_size=16, box_size=12).transform(characters())
    images = X.reshape(-1, 16, 16)
    for image in images:
        rows, cols = np.nonzero(image > 0.2)
        assert max(np.ptp(rows), np.ptp(cols)) + 1 == 12
    assert_centred(images, centre=8)


def test_feature_names():
    names = ImageNormalizer().get_feature_names_out()
    assert names.shape == (784,)
    assert list(names[:3]) == ["px_0_0", "px_0_1", "px_0_2"]
    assert names[-1] == "px_27_27"
    names = ImageNormalizer(image_size=5, box_size=4).get_feature_names_out()
    assert len(names) == 25


def test_stateless_pickle_and_clone():
    images = characters()
    normalizer = ImageNormalizer(deskew=True)
    expected = normalizer.transform(images)  # no fit needed
    assert normalizer.fit(images) is normalizer
    assert vars(normalizer) == vars(clone(normalizer))  # fit stores nothing
    restored = pickle.loads(pickle.dumps(normalizer))
    np.testing.assert_array_equal(restored.transform(images), expected)


def test_input_is_not_modified():
    images = characters()
    copy = images.copy()
    ragged = [images[0], images[1, :20]]
    ImageNormalizer(deskew=True).fit_transform(images)
    ImageNormalizer().transform(ragged)
    np.testing.assert_array_equal(images, copy)
    np.testing.assert_array_equal(ragged[1], copy[1, :20])


@pytest.mark.parametrize(
    "X, message",
    [
        (
            np.zeros((2, 90)),
            "X has 90 values per row, which is not a perfect square, so the image "
            "size cannot be inferred; pass image_shape=(height, width).",
        ),
        (
            np.zeros(784),
            "X must be a batch of images of shape (n_samples, height, width) or "
            "flat rows of shape (n_samples, height * width); got an array with "
            "ndim=1 and shape (784,). For a single image use X[None] or "
            "X.reshape(1, -1).",
        ),
        (
            [np.zeros((5, 5)), np.zeros((4, 4)), np.zeros((2, 3, 3))],
            "X[2] must be a 2-D image of shape (height, width); got an array with "
            "ndim=3 and shape (2, 3, 3).",
        ),
        (
            [np.zeros((5, 5)), np.full((4, 4), np.nan)],
            "X[1] contains NaN or infinity: 16 value(s); images must be finite.",
        ),
        (
            [np.zeros((5, 5)), np.full((4, 4), "a")],
            "X[1] must hold numbers (uint8 or float pixel values); got dtype <U1.",
        ),
        (
            [np.zeros((5, 5)), np.zeros((0, 4))],
            "X[1] has shape (0, 4); got no pixels.",
        ),
        (
            [np.zeros((3, 3)), np.array([[1.0, np.inf]])],
            "X[1] contains NaN or infinity: 1 value(s); images must be finite.",
        ),
    ],
)
def test_bad_input_messages(X, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ImageNormalizer().fit(X)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ImageNormalizer().transform(X)


def test_image_shape_with_a_ragged_list():
    message = (
        "image_shape=(5, 5) describes flat rows, but X is a list of images of "
        "different sizes; leave image_shape=None."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ImageNormalizer(image_shape=(5, 5)).transform(
            [np.zeros((5, 5)), np.ones((4, 4))]
        )


def _invalid(name, expected, got):
    """scikit-learn's InvalidParameterError message, as a regex."""
    return (
        f"^The '{name}' parameter of ImageNormalizer must be {expected}. "
        f"Got {re.escape(got)} instead.$"
    )


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"image_size": 0},
            _invalid("image_size", r"an int in the range \[1, inf\)", "0"),
        ),
        (
            {"box_size": 2.5},
            _invalid("box_size", r"an int in the range \[1, inf\)", "2.5"),
        ),
        (
            {"box_size": 30},
            "^"
            + re.escape(
                "box_size must not exceed image_size; got box_size=30 and "
                "image_size=28."
            )
            + "$",
        ),
        (
            {"polarity": "white"},
            # a set: its order varies from run to run
            _invalid(
                "polarity", r"a str among \{('(auto|bright|dark)'(, )?){3}\}", "'white'"
            ),
        ),
        (
            {"deskew": "yes"},
            _invalid(
                "deskew",
                "an instance of 'bool' or an instance of 'numpy.bool'",
                "'yes'",
            ),
        ),
        (
            {"ink_threshold": 1.0},
            _invalid("ink_threshold", r"a float in the range \[0.0, 1.0\)", "1.0"),
        ),
        (
            {"max_edge_speck": -0.1},
            _invalid("max_edge_speck", r"a float in the range \[0.0, 1.0\]", "-0.1"),
        ),
        (
            {"chunk_size": 0},
            _invalid("chunk_size", r"an int in the range \[1, inf\)", "0"),
        ),
        (
            {"n_jobs": 0},
            _invalid(
                "n_jobs",
                r"None, an int in the range \(-inf, -1\] or an int in the range "
                r"\[1, inf\)",
                "0",
            ),
        ),
        (
            {"image_shape": (28,)},
            _invalid(
                "image_shape",
                r"a pair of positive integers \(height, width\) or None",
                "(28,)",
            ),
        ),
    ],
)
def test_bad_parameters(params, message):
    # the wording is scikit-learn's InvalidParameterError (a ValueError):
    # the parameter, what it must be and what came
    normalizer = ImageNormalizer(**params)
    for method in (normalizer.fit, normalizer.transform):
        with pytest.raises(ValueError, match=message):
            method(characters())


# scikit-learn's estimator checks run in tests/test_common.py


def _ring(thickness, size=60):
    """A dark ring of the given pen thickness on white paper (a photo's "0")."""
    rows, cols = np.mgrid[:size, :size]
    radius = np.hypot(rows - size / 2, cols - size / 2)
    image = np.full((size, size), 230.0)
    image[np.abs(radius - size / 3) < thickness / 2] = 20.0
    return image


@pytest.mark.parametrize("thickness", [1.5, 3.0, 12.0])
def test_stroke_width_evens_out_thin_and_thick_pens(thickness):
    target = 2.2
    drawn = ImageNormalizer().fit_transform(_ring(thickness)[None])
    evened = ImageNormalizer(stroke_width=target).fit_transform(_ring(thickness)[None])
    before = stroke_widths(drawn.reshape(-1, 28, 28))[0]
    after = stroke_widths(evened.reshape(-1, 28, 28))[0]
    assert abs(after - target) < abs(before - target) / 2
    assert abs(after - target) < 0.3
    assert evened.min() == 0.0 and evened.max() == 1.0


def test_stroke_width_is_per_image_and_keeps_blank_images_blank():
    images = np.stack([_ring(1.5), np.full((60, 60), 200.0), _ring(12.0)])
    out = ImageNormalizer(stroke_width=2.2).fit_transform(images)
    assert not out[1].any()
    alone = ImageNormalizer(stroke_width=2.2).fit_transform(images[[2]])
    np.testing.assert_allclose(out[2], alone[0])


@pytest.mark.parametrize("width", [0, -1.0, 28, "thin", True])
def test_stroke_width_must_be_a_positive_number_below_image_size(width):
    # a number out of range or of the wrong type: scikit-learn's wording;
    # True, or the image's size and more: the normaliser's own
    match = "stroke_width must be None or a number|'stroke_width' parameter"
    with pytest.raises(ValueError, match=match):
        ImageNormalizer(stroke_width=width).fit_transform(_ring(3.0)[None])


@pytest.mark.parametrize("value", [1e20, 1e200, 1.7e308, -1.7e308])
def test_extreme_values_normalize_like_the_same_image_at_scale_one(value):
    # the background fit and the contrast stretch work on the image scaled
    # down by a power of two; the normaliser does not depend on the scale
    image = seven()
    expected = ImageNormalizer().fit_transform(np.sign(value) * image[None])
    out = ImageNormalizer().fit_transform(image[None] * value)
    np.testing.assert_allclose(out, expected, atol=1e-12)
    listed = ImageNormalizer().fit_transform([image * value, image[:20] * value])
    assert np.isfinite(listed).all()


def test_a_uniform_image_at_the_float_limit_is_blank():
    out = ImageNormalizer().fit_transform(np.full((1, 28, 28), 1.7e308))
    np.testing.assert_array_equal(out, 0.0)


def _photos_on_paper(n=4, seed=0):
    """Dark strokes on grainy grey paper of different sizes, as photo crops."""
    rng = np.random.default_rng(seed)
    photos = []
    for k in range(n):
        shape = (30 + 5 * k, 26 + 7 * k)
        ink = seven(shape, scale=shape[0] / 30, shift=(k, 2 * k), thickness=2 + k / 2)
        paper = 0.55 + 0.1 * k + rng.normal(0, 0.01, shape)
        photos.append(paper - 0.4 * ink)
    return photos


@pytest.mark.parametrize("corner", [(0, 0), (5, 9), (12, 3)])
def test_paper_padded_with_zeros_normalizes_like_the_crop(corner):
    # a photo of a character on grey paper, zero-padded into a larger array
    # (an .npz of crops of different sizes): the zeros are no part of the
    # image, and the paper is the background, not the character
    photos = _photos_on_paper()
    padded = np.zeros((len(photos), 63, 85))
    r, c = corner
    for k, photo in enumerate(photos):
        padded[k, r : r + photo.shape[0], c : c + photo.shape[1]] = photo
    expected = ImageNormalizer().transform(photos)
    for deskew in (False, True):
        normalizer = ImageNormalizer(deskew=deskew)
        np.testing.assert_allclose(
            normalizer.transform(padded), normalizer.transform(photos), atol=1e-9
        )
    # and the crop is of the character, not of the paper rectangle
    X = as_images(expected)
    assert all(np.count_nonzero(image > 0.5) < 0.3 * image.size for image in X)
    as_list = ImageNormalizer().transform([padded[0], padded[1, :50, :70]])
    np.testing.assert_allclose(as_list, expected[:2], atol=1e-9)


def test_strokes_on_a_zero_background_are_not_paper():
    # MNIST-like images: bars and strokes on 0 are characters, whatever their
    # shape (a flat bar has no ink inside, an anti-aliased one too much); on a
    # lighting ramp (no edge of one value: never taken for paper) they
    # normalize the same
    bars = np.zeros((2, 40, 36))
    bars[0, 5:30, 10:22] = 0.8  # a flat block, 12 wide
    bars[1] = draw([((5, 18), (34, 18))], (40, 36), thickness=9)
    images = np.concatenate([characters(), bars])
    rows, cols = np.mgrid[0:40, 0:36]
    lit = 0.2 + 0.004 * rows + 0.003 * cols + images
    np.testing.assert_allclose(
        ImageNormalizer().transform(images), ImageNormalizer().transform(lit), atol=1e-9
    )
