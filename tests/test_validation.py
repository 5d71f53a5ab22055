"""Tests for mtclassic._validation: every error names the argument and the sizes."""

import re
import warnings

import numpy as np
import pytest
import scipy.sparse

from mtclassic._validation import (
    SAFE_MAGNITUDE,
    check_image_shape,
    check_images,
    colour_to_grey,
    shrink_to_safe_range,
)


def test_flat_square_rows_are_inferred():
    X = np.arange(2 * 784, dtype=np.uint8).reshape(2, 784)
    images = check_images(X)
    assert images.shape == (2, 28, 28)
    assert images.dtype == np.float64
    np.testing.assert_array_equal(images[1].ravel(), X[1])


def test_flat_rows_with_image_shape():
    X = np.arange(12.0).reshape(2, 6)
    images = check_images(X, image_shape=(2, 3))
    np.testing.assert_array_equal(images[0], [[0, 1, 2], [3, 4, 5]])


def test_batch_passes_through_and_dtype_is_honoured():
    X = np.random.default_rng(0).random((3, 5, 7)).astype(np.float32)
    images = check_images(X, dtype=np.float32)
    assert images.dtype == np.float32
    assert images is X  # no needless copy
    assert check_images(X, dtype=np.float32, copy=True) is not X


def test_lists_and_bools_are_numbers():
    assert check_images([[[0, 1], [1, 0]]]).shape == (1, 2, 2)
    assert check_images(np.ones((1, 4), dtype=bool)).sum() == 4


def test_wrong_ndim():
    msg = (
        "X must be a batch of images of shape (n_samples, height, width) or flat "
        "rows of shape (n_samples, height * width); got an array with ndim=1 and "
        "shape (784,). For a single image use X[None] or X.reshape(1, -1)."
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        check_images(np.zeros(784))
    with pytest.raises(
        ValueError, match=r"got an array with ndim=4 and shape \(1, 2, 2, 2\)\.$"
    ):
        check_images(np.zeros((1, 2, 2, 2)))


def test_row_size_not_square():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "images has 90 values per row, which is not a perfect square, so the "
            "image size cannot be inferred; pass image_shape=(height, width)."
        ),
    ):
        check_images(np.zeros((2, 90)), name="images")


def test_row_size_does_not_match_image_shape():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "X has 784 values per row, which does not match image_shape=(20, 20) "
            "(400 pixels)."
        ),
    ):
        check_images(np.zeros((2, 784)), image_shape=(20, 20))


def test_batch_does_not_match_image_shape():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "X holds images of shape (20, 20), which does not match "
            "image_shape=(28, 28)."
        ),
    ):
        check_images(np.zeros((2, 20, 20)), image_shape=(28, 28))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf(bad):
    X = np.zeros((4, 3, 3))
    X[2, 1, 1] = bad
    X[3, 0, 0] = bad
    with pytest.raises(
        ValueError,
        match=re.escape(
            "X contains NaN or infinity: 2 value(s) in 2 image(s), the first at "
            "index 2; images must be finite."
        ),
    ):
        check_images(X)


@pytest.mark.parametrize("shape", [(0, 784), (0, 28, 28)])
def test_empty_batch(shape):
    with pytest.raises(ValueError, match=r"X is an empty batch \(0 images, shape"):
        check_images(np.zeros(shape), image_shape=(28, 28))


def test_images_without_pixels():
    with pytest.raises(
        ValueError, match=re.escape("X holds images of size (0, 3); got no pixels.")
    ):
        check_images(np.zeros((2, 0, 3)))


@pytest.mark.parametrize(
    "X, dtype_text",
    [
        (np.array([["a", "b", "c", "d"]]), "<U1"),
        (np.zeros((1, 4), complex), "complex128"),
    ],
)
def test_non_numeric_dtype(X, dtype_text):
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"X must hold numbers (uint8 or float pixel values); got dtype {dtype_text}."
        ),
    ):
        check_images(X)


def test_object_array_with_strings():
    X = np.array([[1, "x", 2, 3]], dtype=object)
    with pytest.raises(
        ValueError, match="got an object array with non-numeric entries"
    ):
        check_images(X)


def test_ragged_sequence():
    with pytest.raises(
        ValueError, match="X must be a batch of equally sized images; got a ragged"
    ):
        check_images([np.zeros((2, 2)), np.zeros((3, 3))])


def test_sparse_is_refused():
    with pytest.raises(
        TypeError, match="X must be a dense array of images; got a sparse"
    ):
        check_images(scipy.sparse.csr_matrix(np.zeros((2, 4))))


def test_min_shape():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "X holds images of shape (10, 12), smaller than the minimum (14, 14) "
            "that is required here."
        ),
    ):
        check_images(np.zeros((1, 10, 12)), min_shape=(14, 14))


@pytest.mark.parametrize("bad", [(28,), (0, 28), (28.0, 28), "28x28", (True, 3), 28])
def test_bad_image_shape(bad):
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"image_shape must be a pair of positive integers (height, width); got {bad!r}."
        ),
    ):
        check_image_shape(bad)


def test_values_beyond_float64_are_refused_by_name():
    wide = np.ones((2, 3, 3), dtype=np.longdouble)
    if np.finfo(np.longdouble).max <= np.finfo(np.float64).max:
        pytest.skip("long double is float64 on this platform")
    wide[1, 0, 0] = np.longdouble("1e400")
    with pytest.raises(
        ValueError,
        match="^"
        + re.escape(
            "X holds 1 value(s) beyond the float64 range (about 1.8e308), the "
            "largest 1.e+400; pixel values must be finite float64 numbers."
        )
        + "$",
    ):
        check_images(wide, dtype=np.longdouble)
    assert check_images(wide[:1], dtype=np.longdouble).dtype == np.float64


def test_python_integers_beyond_float64_are_refused_by_name():
    with pytest.raises(
        ValueError,
        match="^"
        + re.escape(
            "X holds values beyond the float64 range (about 1.8e308); pixel "
            "values must be finite."
        )
        + "$",
    ):
        check_images([[[10**400, 0], [0, 0]]])


def test_huge_images_are_scaled_down_by_a_power_of_two():
    images = np.array([[[1.0, -1.7e308]], [[2.0, 5.0]], [[SAFE_MAGNITUDE, 3.0]]])
    before = images.copy()
    shrink_to_safe_range(images)
    peak = np.abs(images).max(axis=(1, 2))
    assert SAFE_MAGNITUDE / 2 <= peak[0] < SAFE_MAGNITUDE
    ratio = images[0] / before[0]
    assert ratio[0, 0] == ratio[0, 1]  # one factor per image
    assert np.log2(ratio[0, 0]) == np.round(np.log2(ratio[0, 0]))  # a power of 2
    np.testing.assert_array_equal(images[1:], before[1:])  # within range: as is


def _colour_batch(channels, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(3, 9, 7, channels)).astype(dtype)


def test_rgb_is_turned_grey_as_skimage_does():
    from skimage.color import rgb2gray

    rgb = _colour_batch(3)
    grey = check_images(rgb, dtype=np.uint8)  # an integer dtype asked for: float
    assert grey.shape == (3, 9, 7) and grey.dtype == np.float64
    np.testing.assert_allclose(grey, rgb2gray(rgb), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        grey, (rgb / 255.0) @ [0.2125, 0.7154, 0.0721], rtol=0, atol=1e-12
    )
    floats = rgb / 255.0  # float images are taken as they are (skimage's range)
    np.testing.assert_allclose(check_images(floats), grey, rtol=0, atol=1e-12)


def test_rgba_is_composited_on_white():
    rgba = _colour_batch(4)
    rgba[0, :, :, 3] = 0  # transparent: white paper
    rgba[1, :, :, 3] = 255  # opaque: the colour itself
    grey = check_images(rgba)
    np.testing.assert_allclose(grey[0], 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        grey[1], check_images(rgba[1:2, :, :, :3])[0], atol=1e-12
    )
    alpha = rgba[2, :, :, 3:] / 255.0
    blended = alpha * rgba[2, :, :, :3] / 255.0 + (1 - alpha)
    np.testing.assert_allclose(grey[2], blended @ [0.2125, 0.7154, 0.0721], atol=1e-12)


def test_float_rgba_outside_the_unit_range_is_refused_by_name():
    rgba = _colour_batch(4, dtype=np.float64)
    with pytest.raises(
        ValueError,
        match="^"
        + re.escape(
            f"X holds RGBA images of floats in [{rgba.min():.4g}, {rgba.max():.4g}]; "
            "float colour images with an alpha channel must be in [0, 1] (or pass "
            "them as uint8 0-255)."
        )
        + "$",
    ):
        check_images(rgba)


def test_other_channel_counts_are_not_colour():
    with pytest.raises(ValueError, match=r"ndim=4 and shape \(1, 5, 5, 2\)\.$"):
        check_images(np.zeros((1, 5, 5, 2)))
    assert colour_to_grey(np.ones((2, 3))).shape == (2,)  # one RGB pixel each


@pytest.mark.parametrize("channels", [3, 4])
def test_every_estimator_accepts_colour_as_its_grey(channels):
    from mtclassic import HOGTransformer, ImageNormalizer, PixelTransformer

    rgb = np.zeros((2, 28, 28, channels), dtype=np.uint8)
    rgb[..., :3] = 255  # white paper
    if channels == 4:
        rgb[..., 3] = 255
    rgb[:, 5:23, 12:16, 0] = 200  # a red "1": its grey is 0.2125 * 200/255 + 0.7846
    grey = check_images(rgb)
    for estimator in (ImageNormalizer(), HOGTransformer(), PixelTransformer()):
        np.testing.assert_array_equal(
            estimator.fit_transform(rgb), estimator.fit_transform(grey)
        )
    normalizer = ImageNormalizer()
    ragged = [rgb[0], rgb[1, :20]]
    np.testing.assert_array_equal(
        normalizer.fit_transform(ragged),
        normalizer.fit_transform([grey[0], grey[1, :20]]),
    )


def test_scaling_a_batch_of_huge_and_subnormal_images_warns_of_nothing():
    # the factor of the subnormal image (2**1100) must not even be computed
    images = np.array([[[5e-324, 0.0]], [[1.7e308, 1.0]]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shrink_to_safe_range(images)
    assert images[0, 0, 0] == 5e-324 and images[1, 0, 0] < SAFE_MAGNITUDE
