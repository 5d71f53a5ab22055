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


def _restyled(images, style):
    """Synthetic characters re-made in another writing style (test helper)."""
    from skimage.morphology import disk, skeletonize
    from skimage.transform import resize

    images = images.astype(np.float64) / 255
    if style == "binary":
        return (images > 0.5) * 255.0
    if style == "thin_pen_278":
        return np.stack(
            [
                ndimage.binary_dilation(
                    skeletonize(resize(image, (278, 278), order=1) > 0.4), disk(1)
                )
                * 255.0
                for image in images
            ]
        )
    if style == "low_res_16":
        return resize(images, (len(images), 16, 16), anti_aliasing=True) * 255
    if style == "photo":  # dark ink on uneven grey paper, blurred and noisy
        rng = np.random.RandomState(0)
        paper = 0.75 + 0.1 * np.linspace(0, 1, 28)[None, None, :]
        photo = paper - 0.55 * ndimage.gaussian_filter(images, sigma=(0, 0.8, 0.8))
        return np.clip(photo + rng.normal(scale=0.02, size=photo.shape), 0, 1) * 255
    raise ValueError(style)


@pytest.mark.parametrize("style", ["binary", "thin_pen_278", "low_res_16", "photo"])
def test_inputs_of_any_style_normalise_alike_once_redrawn(style):
    images, _ = make_characters(60, random_state=7)
    reference = _normalized(images)
    styled = ImageNormalizer().fit_transform(_restyled(images, style))
    styled = styled.reshape(-1, 28, 28)
    # redrawn, every style has the reference's stroke width (the normaliser
    # alone leaves 0.85 px for the thin pen, 2.6 px for 16x16, 2.1 for the
    # reference) and its pixels come closer to the reference's
    redrawer = StrokeRedrawer()
    redrawn = redrawer.fit_transform(styled).reshape(-1, 28, 28)
    redrawn_reference = redrawer.fit_transform(reference).reshape(-1, 28, 28)
    width = stroke_widths(redrawn).mean()
    assert abs(width - stroke_widths(redrawn_reference).mean()) < 0.05 * width
    before = np.abs(styled - reference).mean()
    assert np.abs(redrawn - redrawn_reference).mean() < 0.8 * before
