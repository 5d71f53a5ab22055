"""Tests of mtclassic.features: HOG equal to scikit-image, pixels, the union."""

import math
import pickle
import re
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from skimage.feature import hog
from sklearn.base import clone
from sklearn.pipeline import FeatureUnion, Pipeline

from mtclassic.datasets import make_characters
from mtclassic.features import (
    HOGTransformer,
    PixelTransformer,
    _exact_bins,
    _orientation_table,
    _skimage_orientation,
    make_features,
)

NORMS = ["L1", "L1-sqrt", "L2", "L2-Hys"]


def skimage_hog(images, **params):
    """scikit-image's hog of every image, stacked (the reference)."""
    hog_params = {
        "orientations": params.get("orientations", 9),
        "pixels_per_cell": params.get("pixels_per_cell", (7, 7)),
        "cells_per_block": params.get("cells_per_block", (2, 2)),
        "block_norm": params.get("block_norm", "L2-Hys"),
        "transform_sqrt": params.get("transform_sqrt", False),
    }
    with np.errstate(all="ignore"):
        return np.stack(
            [hog(image, feature_vector=True, **hog_params) for image in images]
        )


def assert_equals_skimage(images, atol=1e-6, **params):
    ours = HOGTransformer(**params).fit_transform(images)
    expected = skimage_hog(images, **params)
    assert ours.shape == expected.shape
    assert ours.dtype == np.dtype(params.get("dtype", np.float64))
    assert_allclose(ours, expected, rtol=0, atol=atol)
    return ours


@pytest.fixture(scope="module")
def digits():
    images, _ = make_characters(60, random_state=0)
    return images


# --------------------------------------------------------------------------- #
# Exactness against scikit-image


@st.composite
def hog_cases(draw):
    """Random parameters, image sizes (often not multiples of the cell) and data."""
    cell = (draw(st.integers(1, 8)), draw(st.integers(1, 8)))
    block = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    height = draw(st.integers(cell[0] * block[0], max(cell[0] * block[0], 3) + 12))
    width = draw(st.integers(cell[1] * block[1], max(cell[1] * block[1], 3) + 12))
    params = {
        "orientations": draw(st.integers(1, 24)),
        "pixels_per_cell": cell,
        "cells_per_block": block,
        "block_norm": draw(st.sampled_from(NORMS)),
        "transform_sqrt": draw(st.booleans()),
    }
    kind = draw(
        st.sampled_from(["uint8", "unit float", "few levels", "sparse strokes"])
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (draw(st.integers(1, 3)), height, width)
    if kind == "uint8":
        images = rng.integers(0, 256, shape, dtype=np.uint8)
    elif kind == "unit float":
        images = rng.random(shape)
    elif kind == "few levels":
        # few grey levels: many gradients exactly on 0, 45, 90 or 135 degrees
        images = rng.integers(0, 3, shape) / 2.0
    else:
        images = np.where(rng.random(shape) < 0.2, rng.random(shape), 0.0)
    return images, params


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hog_cases())
def test_hog_equals_skimage_property(case):
    images, params = case
    assert_equals_skimage(images, **params)


@pytest.mark.parametrize("block_norm", NORMS)
@pytest.mark.parametrize("transform_sqrt", [False, True])
def test_hog_equals_skimage_on_digits(digits, block_norm, transform_sqrt):
    params = {"block_norm": block_norm, "transform_sqrt": transform_sqrt}
    assert_equals_skimage(digits, **params)
    assert_equals_skimage(digits / 255.0, **params)


@pytest.mark.parametrize(
    "shape, pixels_per_cell, cells_per_block",
    [
        ((30, 33), (7, 7), (2, 2)),  # 2 rows and 5 columns outside the cells
        ((29, 41), (8, 6), (3, 2)),
        ((28, 28), (5, 3), (1, 4)),
        ((14, 14), (7, 7), (2, 2)),  # exactly one block
        ((17, 9), (1, 1), (3, 3)),  # one-pixel cells
        ((3, 50), (3, 10), (1, 1)),  # gradient rows all zero but the middle
    ],
)
def test_hog_sizes_not_multiple_of_the_cell(shape, pixels_per_cell, cells_per_block):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (4, *shape), dtype=np.uint8)
    assert_equals_skimage(
        images, pixels_per_cell=pixels_per_cell, cells_per_block=cells_per_block
    )


@pytest.mark.parametrize("orientations", [1, 2, 3, 4, 6, 8, 9, 12, 14, 18, 36, 180])
def test_hog_gradients_exactly_on_bin_boundaries(orientations):
    # Grey levels 0, 1, 2: gradients at 0, 45, 90, 135 degrees and the
    # angles of small integer vectors, many of them exactly on a boundary
    # (90 is one for every even count; 14 bins put it 1e-14 below one).
    rng = np.random.default_rng(orientations)
    images = rng.integers(0, 3, (20, 16, 16)).astype(np.float64)
    images[:, 5:9, 5:9] = np.arange(4)  # horizontal ramp: 0 degrees
    images[:, 9:13, 9:13] = np.arange(4)[:, None]  # vertical ramp: 90 degrees
    for params in (
        {"pixels_per_cell": (4, 4), "cells_per_block": (2, 2)},
        {"pixels_per_cell": (3, 5), "cells_per_block": (1, 1), "block_norm": "L1"},
    ):
        assert_equals_skimage(images, orientations=orientations, **params)


def test_hog_signed_zeros_and_both_horizontal_directions():
    # -0.0 pixels give gradients of -0.0: atan2(-0, x) and atan2(+0, x) differ
    images = np.zeros((4, 8, 8))
    images[0, :, 4:] = 1.0
    images[1, :, :4] = 1.0
    images[2] = -0.0
    images[2, :, 4:] = 1.0
    images[3, 4:] = -0.0
    images[3, :, :2] = 2.0
    for orientations in (1, 2, 4, 9, 14):
        assert_equals_skimage(images, orientations=orientations, pixels_per_cell=(4, 4))


def test_hog_orientation_rounded_to_180_is_dropped_like_skimage():
    # A gradient a hair below the horizontal: skimage's angle rounds to 180.0,
    # which is in no bin, so the pixel counts nowhere; the table must not put
    # it into bin 0 or the last bin.
    assert _skimage_orientation(-1e-17, 1.0) == 180.0
    boundaries, _, _ = _orientation_table(9, 8)
    assert _exact_bins(np.array([-1e-17]), np.array([1.0]), boundaries)[0] == 9
    image = np.zeros((8, 8))
    image[2, 1], image[2, 3] = 0.0, 1.0  # g_col at (2, 2) = 1
    image[1, 2], image[3, 2] = 1e-17, 0.0  # g_row at (2, 2) = -1e-17
    features = assert_equals_skimage(image[None], pixels_per_cell=(4, 4))
    # and it matters: binning the pixel into bin 8 would change the result
    moved = image.copy()
    moved[1, 2] = 1e-300
    assert np.abs(features - skimage_hog(moved[None], pixels_per_cell=(4, 4))).max() > 0


@pytest.mark.parametrize(
    "tiny, huge",
    [
        (1e-310, 1.0),  # subnormal gradient: the quotient overflows
        (1.0, 1e-310),  # the quotient underflows
    ],
)
def test_hog_extreme_values_fall_back_to_skimage_formula(tiny, huge):
    rng = np.random.default_rng(3)
    images = rng.random((3, 16, 16))
    images[:, 3:6, 3:6] = tiny
    images[:, 8:11, 8:11] = huge
    assert_equals_skimage(images, pixels_per_cell=(4, 4), orientations=7)


@pytest.mark.parametrize("huge", [1e20, 1e39, 1e200, 1.7e308, -1.7e308])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hog_of_huge_values_is_that_of_the_image_scaled_down(huge, dtype):
    # skimage's squares and float32 cell sums overflow (NaN features from about
    # 1e38); HOG does not depend on the scale, so such an image is computed
    # scaled down by a power of two, below 2**32
    rng = np.random.default_rng(3)
    images = rng.random((3, 16, 16))
    images[:2, 8:11, 8:11] = huge
    params = {"pixels_per_cell": (4, 4), "orientations": 7, "dtype": dtype}
    ours = HOGTransformer(**params).fit_transform(images)
    assert np.isfinite(ours).all()
    scaled = images.copy()
    scaled[:2] *= 2.0 ** (32 - math.frexp(huge)[1])
    assert np.abs(scaled).max() < 2.0**32
    atol = 1e-6 if dtype == np.float64 else 1e-5
    assert_allclose(ours, skimage_hog(scaled, **params), rtol=0, atol=atol)


def test_hog_uint8_and_float_input_agree(digits):
    from_uint8 = HOGTransformer().fit_transform(digits)
    from_float = HOGTransformer().fit_transform(digits.astype(np.float64))
    assert_array_equal(from_uint8, from_float)


def test_hog_flat_and_3d_input_agree(digits):
    hog_3d = HOGTransformer().fit_transform(digits)
    hog_flat = HOGTransformer().fit_transform(digits.reshape(len(digits), -1))
    assert_array_equal(hog_3d, hog_flat)
    rng = np.random.default_rng(4)
    wide = rng.random((3, 20, 30))
    flat = HOGTransformer(image_shape=(20, 30)).fit_transform(wide.reshape(3, -1))
    assert_array_equal(flat, HOGTransformer().fit_transform(wide))


@pytest.mark.parametrize("chunk_size", [1, 7, 64])
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_hog_chunks_and_threads_give_identical_results(digits, chunk_size, n_jobs):
    reference = HOGTransformer().fit_transform(digits)
    result = HOGTransformer(chunk_size=chunk_size, n_jobs=n_jobs).fit_transform(digits)
    assert_array_equal(result, reference)


@pytest.mark.parametrize("block_norm", NORMS)
def test_hog_float32_within_1e4(digits, block_norm):
    for images in (digits, digits.astype(np.float32) / 255, digits / 255.0):
        ours = HOGTransformer(block_norm=block_norm, dtype=np.float32).fit_transform(
            images
        )
        assert ours.dtype == np.float32
        expected = skimage_hog(images.astype(np.float64), block_norm=block_norm)
        assert_allclose(ours, expected, rtol=0, atol=1e-4)


def test_hog_float32_on_boundaries_stays_exact_for_float64_input():
    # float64 images whose gradients sit on 45-degree boundaries: float32
    # rounding of the image would flip bins, so gradients stay float64
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (30, 16, 16)) / 255.0
    ours = HOGTransformer(orientations=4, pixels_per_cell=(4, 4), dtype=np.float32)
    expected = skimage_hog(images, orientations=4, pixels_per_cell=(4, 4))
    assert_allclose(ours.fit_transform(images), expected, rtol=0, atol=1e-4)


def test_hog_large_finite_values_are_accepted():
    # their sum overflows, but every value is finite
    images = np.full((2, 14, 14), 1e308)
    images[:, ::2] = 0.0
    assert np.isfinite(HOGTransformer().fit_transform(images)).all()


def test_hog_transform_needs_no_fit_and_checks_size_after_fit(digits):
    assert_array_equal(
        HOGTransformer().transform(digits),
        HOGTransformer().fit(digits).transform(digits),
    )
    fitted = HOGTransformer().fit(digits)
    msg = "X has 900 features, but HOGTransformer is expecting 784 features as input."
    with pytest.raises(ValueError, match=re.escape(msg)):
        fitted.transform(np.zeros((2, 30, 30)))


def test_hog_extra_memory_is_bounded():
    # 20,000 uint8 images: the output takes 52 MB, the work a few MB
    images = np.zeros((20_000, 28, 28), dtype=np.uint8)
    images[:, 5:20, 10:14] = 255
    transformer = HOGTransformer()
    tracemalloc.start()
    try:
        features = transformer.fit_transform(images)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    extra = peak - features.nbytes
    assert extra < 30e6, f"{extra / 1e6:.1f} MB beyond the output"


# --------------------------------------------------------------------------- #
# Errors


def _invalid(estimator, name, expected, got):
    """scikit-learn's InvalidParameterError message (a ValueError), as a regex:
    the parameter, what it must be and what came."""
    return (
        f"The '{name}' parameter of {estimator} must be {re.escape(expected)}. "
        f"Got {re.escape(got)} instead."
    )


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"orientations": 0},
            _invalid(
                "HOGTransformer", "orientations", "an int in the range [1, 65534]", "0"
            ),
        ),
        (
            {"pixels_per_cell": (0, 3)},
            _invalid(
                "HOGTransformer",
                "pixels_per_cell",
                "a pair of positive integers (rows, columns)",
                "(0, 3)",
            ),
        ),
        (
            {"cells_per_block": 2},
            _invalid(
                "HOGTransformer",
                "cells_per_block",
                "a pair of positive integers (rows, columns)",
                "2",
            ),
        ),
        (
            {"block_norm": "L3"},
            # the options are a set, whose order varies from run to run
            r"The 'block_norm' parameter of HOGTransformer must be a str among "
            r"\{('(L1|L1-sqrt|L2|L2-Hys)'(, )?){4}\}\. Got 'L3' instead\.",
        ),
        (
            {"transform_sqrt": "yes"},
            _invalid(
                "HOGTransformer",
                "transform_sqrt",
                "an instance of 'bool' or an instance of 'numpy.bool'",
                "'yes'",
            ),
        ),
        (
            {"dtype": np.int64},
            _invalid(
                "HOGTransformer",
                "dtype",
                "numpy.float64 or numpy.float32",
                "<class 'numpy.int64'>",
            ),
        ),
        (
            {"chunk_size": 0},
            _invalid(
                "HOGTransformer",
                "chunk_size",
                "an int in the range [1, inf) or None",
                "0",
            ),
        ),
        (
            {"n_jobs": 0},
            _invalid(
                "HOGTransformer",
                "n_jobs",
                "None, an int in the range (-inf, -1] or an int in the range [1, inf)",
                "0",
            ),
        ),
        (
            {"image_shape": (28, 0)},
            _invalid(
                "HOGTransformer",
                "image_shape",
                "a pair of positive integers (height, width) or None",
                "(28, 0)",
            ),
        ),
    ],
)
def test_hog_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        HOGTransformer(**params).fit(np.zeros((1, 28, 28)))


def test_hog_image_smaller_than_one_block():
    msg = (
        "X holds images of shape (13, 20), smaller than one block: "
        "pixels_per_cell=(7, 5) and cells_per_block=(2, 3) need at least 14 rows "
        "and 15 columns."
    )
    transformer = HOGTransformer(pixels_per_cell=(7, 5), cells_per_block=(2, 3))
    with pytest.raises(ValueError, match=re.escape(msg)):
        transformer.fit(np.zeros((2, 13, 20)))


def test_hog_nan_and_ndim_errors():
    images = np.zeros((3, 28, 28))
    images[1, 4, 4] = np.nan
    msg = (
        "X contains NaN or infinity: 1 value(s) in 1 image(s), the first at index "
        "1; images must be finite."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        HOGTransformer().fit_transform(images)
    msg = (
        "X must be a batch of images of shape (n_samples, height, width) or flat rows "
        "of shape (n_samples, height * width); got an array with ndim=1 and shape "
        "(784,). For a single image use X[None] or X.reshape(1, -1)."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        HOGTransformer().fit(np.zeros(784))
    msg = (
        "X has 700 values per row, which is not a perfect square, so the image size "
        "cannot be inferred; pass image_shape=(height, width)."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        HOGTransformer().fit(np.zeros((2, 700)))


def test_hog_transform_sqrt_of_negative_values():
    images = np.zeros((2, 14, 14))
    images[1, 3, 3] = -0.5
    msg = (
        "transform_sqrt=True needs non-negative pixel values; the images contain "
        "values down to -0.5."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        HOGTransformer(transform_sqrt=True).fit_transform(images)


# --------------------------------------------------------------------------- #
# Feature names, the union, sklearn conventions


def test_hog_feature_names(digits):
    transformer = HOGTransformer(orientations=4, cells_per_block=(2, 3)).fit(digits)
    names = transformer.get_feature_names_out()
    assert len(names) == transformer.transform(digits[:1]).shape[1] == 3 * 2 * 2 * 3 * 4
    assert len(set(names)) == len(names)
    # skimage's order: block row, block column, cell row, cell column, bin
    assert names[:5].tolist() == [
        "hog_b0_0_c0_0_o0",
        "hog_b0_0_c0_0_o1",
        "hog_b0_0_c0_0_o2",
        "hog_b0_0_c0_0_o3",
        "hog_b0_0_c0_1_o0",
    ]
    assert names[-1] == "hog_b2_1_c3_3_o3"
    msg = "input_features should have length equal to the number of features (784); got 3."
    with pytest.raises(ValueError, match=re.escape(msg)):
        transformer.get_feature_names_out(["a", "b", "c"])


def test_pixels_scale_and_downsample(digits):
    pixels = PixelTransformer().fit_transform(digits)
    assert_allclose(pixels, digits.reshape(len(digits), -1) / 255.0)
    # float images are taken as already in [0, 1]
    assert_allclose(PixelTransformer().fit_transform(digits / 255.0), pixels)
    assert_allclose(
        PixelTransformer(scale=2.0).fit_transform(digits / 255.0), pixels / 2
    )
    down = PixelTransformer(downsample=2).fit_transform(digits)
    expected = digits.reshape(-1, 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
    assert_allclose(down, expected.reshape(len(digits), -1))


def test_pixels_float32_is_the_float64_output_rounded(digits):
    # the block means in float64, rounded once to float32
    for downsample in (1, 2):
        wide = PixelTransformer(downsample=downsample).fit_transform(digits)
        narrow = PixelTransformer(downsample=downsample, dtype=np.float32)
        narrow = narrow.fit_transform(digits / 255.0)
        assert narrow.dtype == np.float32
        assert_array_equal(narrow, wide.astype(np.float32))


def test_pixels_pickled_before_dtype_load_as_float64(digits):
    # a model saved before PixelTransformer had dtype still transforms
    transformer = PixelTransformer(downsample=2).fit(digits)
    state = transformer.__getstate__()
    del state["dtype"]
    old = PixelTransformer.__new__(PixelTransformer)
    old.__setstate__(state)
    assert old.dtype is np.float64
    assert_array_equal(old.transform(digits), transformer.transform(digits))
    assert_array_equal(
        pickle.loads(pickle.dumps(old)).transform(digits), transformer.transform(digits)
    )


def test_make_features_dtype_reaches_both_transformers(digits):
    features = make_features(dtype=np.float32)
    assert features.get_params()["hog__dtype"] is np.float32
    assert features.get_params()["pixels__dtype"] is np.float32
    narrow = features.fit_transform(digits)
    assert narrow.dtype == np.float32
    assert_allclose(narrow, make_features().fit_transform(digits), atol=1e-6)
    # hog_params still take precedence
    mixed = make_features(dtype=np.float32, hog_params={"dtype": np.float64})
    assert mixed.get_params()["hog__dtype"] is np.float64


def test_pixels_downsample_crops_the_remainder():
    rng = np.random.default_rng(6)
    images = rng.random((3, 29, 31))
    transformer = PixelTransformer(downsample=3).fit(images)
    pixels = transformer.transform(images)
    expected = images[:, :27, :30].reshape(3, 9, 3, 10, 3).mean(axis=(2, 4))
    assert_allclose(pixels, expected.reshape(3, -1))
    names = transformer.get_feature_names_out()
    assert len(names) == pixels.shape[1] == 90
    assert names[[0, 1, 10, -1]].tolist() == ["px_0_0", "px_0_1", "px_1_0", "px_8_9"]


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"scale": 0},
            _invalid(
                "PixelTransformer",
                "scale",
                "a str among {'auto'} or a float in the range (0.0, inf)",
                "0",
            ),
        ),
        (
            {"scale": "max"},
            _invalid(
                "PixelTransformer",
                "scale",
                "a str among {'auto'} or a float in the range (0.0, inf)",
                "'max'",
            ),
        ),
        (
            {"downsample": 0},
            _invalid(
                "PixelTransformer", "downsample", "an int in the range [1, inf)", "0"
            ),
        ),
        (
            {"dtype": np.int32},
            r"The 'dtype' parameter of PixelTransformer must be",
        ),
        (
            {"downsample": 30},
            re.escape(
                "X holds images of shape (28, 28), smaller than one block of "
                "downsample=30 pixels a side."
            ),
        ),
    ],
)
def test_pixels_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        PixelTransformer(**params).fit(np.zeros((1, 28, 28)))


def test_a_list_of_images_is_read_like_the_array():
    # a list of uint8 images is uint8 images: scaled by 255 like the array
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    for transformer in (PixelTransformer(), HOGTransformer(), make_features()):
        assert_array_equal(
            transformer.fit_transform(list(images)), transformer.fit_transform(images)
        )


def test_make_features_is_the_hstack_of_both(digits):
    flat = digits.reshape(len(digits), -1) / 255.0  # as ImageNormalizer gives them
    union = make_features(hog_params={"orientations": 6}, pixel_downsample=2)
    assert isinstance(union, FeatureUnion)
    assert [name for name, _ in union.transformer_list] == ["hog", "pixels"]
    features = union.fit_transform(flat)
    expected = np.hstack(
        [
            HOGTransformer(orientations=6).fit_transform(flat),
            PixelTransformer(downsample=2).fit_transform(flat),
        ]
    )
    assert_array_equal(features, expected)
    names = union.get_feature_names_out()
    assert len(names) == features.shape[1] == 9 * 4 * 6 + 196
    assert names[0] == "hog__hog_b0_0_c0_0_o0" and names[-1] == "pixels__px_13_13"
    params = Pipeline([("features", union)]).get_params()
    assert params["features__hog__pixels_per_cell"] == (7, 7)
    assert params["features__pixels__downsample"] == 2


def test_make_features_one_of_them():
    images = np.zeros((2, 784))
    assert make_features(pixels=False).fit_transform(images).shape == (2, 324)
    assert make_features(hog=False).fit_transform(images).shape == (2, 196)
    msg = "make_features needs hog=True or pixels=True; both are False."
    with pytest.raises(ValueError, match=re.escape(msg)):
        make_features(hog=False, pixels=False)


def test_clone_and_pickle_keep_the_results(digits):
    transformer = HOGTransformer(orientations=5, dtype=np.float32).fit(digits)
    restored = pickle.loads(pickle.dumps(transformer))
    assert_array_equal(restored.transform(digits), transformer.transform(digits))
    assert clone(transformer).get_params() == transformer.get_params()


# scikit-learn's estimator checks run in tests/test_common.py
