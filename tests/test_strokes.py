"""Strokes redrawn with one pen: thinning, redrawing, the transformer."""

import numpy as np
import pytest
from scipy import ndimage
from skimage.morphology import thin as skimage_thin

from mtclassic import ImageNormalizer
from mtclassic.datasets import make_characters
from mtclassic.preprocessing import stroke_widths
from mtclassic.strokes import StrokeRedrawer, redraw_strokes, thin


def _normalized(images):
    return ImageNormalizer().fit_transform(images).reshape(-1, 28, 28)


@pytest.mark.parametrize(
    ("shape", "density", "seed"),
    [((200, 28, 28), 0.5, 0), ((60, 40, 62), 0.3, 1), ((30, 5, 3), 0.6, 2)],
)
def test_thin_equals_skimage_on_random_images(shape, density, seed):
    ink = np.random.RandomState(seed).rand(*shape) > density
    expected = np.stack([skimage_thin(image) for image in ink])
    np.testing.assert_array_equal(thin(ink), expected)


def test_thin_equals_skimage_on_characters():
    ink = _normalized(make_characters(300, random_state=0)[0]) > 0.35
    expected = np.stack([skimage_thin(image) for image in ink])
    np.testing.assert_array_equal(thin(ink), expected)


def test_thin_refuses_what_it_cannot_pack():
    with pytest.raises(ValueError, match=r"width at most 62; got shape \(2, 5, 63\)"):
        thin(np.zeros((2, 5, 63), dtype=bool))
    with pytest.raises(ValueError, match=r"got shape \(5, 5\)"):
        thin(np.zeros((5, 5), dtype=bool))


def test_the_same_shapes_written_with_any_pen_are_redrawn_with_one_width():
    # one set of characters drawn with a thin and with a thick pen
    thin_pen, _ = make_characters(200, random_state=3, stroke_width=(1.5, 1.5))
    thick_pen, _ = make_characters(200, random_state=3, stroke_width=(3.4, 3.4))
    a, b = _normalized(thin_pen), _normalized(thick_pen)
    assert stroke_widths(b).mean() > 1.5 * stroke_widths(a).mean()
    after_a = stroke_widths(redraw_strokes(a)).mean()
    after_b = stroke_widths(redraw_strokes(b)).mean()
    assert abs(after_a - after_b) < 0.05 * after_a


def test_grey_levels_and_blur_are_redrawn_away():
    images = _normalized(make_characters(100, random_state=4)[0])
    faint_and_blurred = 0.4 * ndimage.gaussian_filter(images, sigma=(0, 0.6, 0.6))
    binary = (images > 0.5).astype(np.float64)
    reference = redraw_strokes(images)
    for variant in (faint_and_blurred, binary):
        assert np.abs(redraw_strokes(variant) - reference).mean() < 0.05


def test_redraw_keeps_blank_images_blank_and_values_in_unit_range():
    images = _normalized(make_characters(20, random_state=5)[0])
    images[3] = 0
    out = redraw_strokes(images)
    assert out.dtype == np.float32
    assert out[3].max() == 0
    assert out.min() >= 0 and out.max() == 1


def test_transformer_accepts_flat_and_3d_rows_and_any_n_jobs():
    images = _normalized(make_characters(300, random_state=6)[0])
    flat = images.reshape(len(images), -1)
    out = StrokeRedrawer().fit_transform(images)
    assert out.shape == (300, 784)
    np.testing.assert_array_equal(StrokeRedrawer().fit_transform(flat), out)
    np.testing.assert_array_equal(StrokeRedrawer(n_jobs=2).fit_transform(flat), out)
    wide = np.zeros((2, 10, 20))
    wide[:, 3:7, 5:15] = 1
    assert StrokeRedrawer(image_shape=(10, 20)).fit_transform(
        wide.reshape(2, -1)
    ).shape == (2, 200)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pen_width": 0}, "pen_width"),
        ({"ink_threshold": 1.5}, "ink_threshold"),
    ],
)
def test_transformer_names_a_bad_parameter(params, message):
    with pytest.raises(ValueError, match=message):
        StrokeRedrawer(**params).fit(np.zeros((1, 28, 28)))


def test_transformer_refuses_images_wider_than_it_packs():
    with pytest.raises(
        ValueError, match=r"at most 62 pixels wide; got images of shape \(64, 64\)"
    ):
        StrokeRedrawer().fit(np.zeros((1, 64, 64)))
