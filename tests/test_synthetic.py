"""Tests for make_characters, the embedded synthetic data set."""

import re

import numpy as np
import pytest

from mtclassic.datasets import make_characters
from mtclassic.datasets._strokes import (
    CHARACTERS,
    GLYPHS,
    compile_variant,
    variant_table,
)

DIGITS = list("0123456789")
LETTERS = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
# no distortion at all: each image is its template, drawn with a fixed pen
UNDISTORTED = dict(
    rotation=0,
    shear=0,
    scale=0,
    jitter=0,
    elastic_alpha=0,
    stroke_width=2.5,
)


@pytest.fixture(scope="module")
def all_classes():
    """Ten images of every class, drawn with the default distortions."""
    return make_characters(n_samples=360, random_state=0)


def _ink_box(X):
    """(height, width) of the bounding box of the non-zero pixels of each image."""
    sides = []
    for axis in (2, 1):
        seen = (X > 0).any(axis=axis)
        first = seen.argmax(axis=1)
        last = seen.shape[1] - 1 - seen[:, ::-1].argmax(axis=1)
        sides.append(last - first + 1)
    return np.stack(sides, axis=1)


def _centre_of_mass(X):
    X = X.astype(float)
    grid = np.arange(X.shape[1])
    mass = X.sum(axis=(1, 2))
    return np.stack(
        [(X.sum(axis=2) @ grid) / mass, (X.sum(axis=1) @ grid) / mass], axis=1
    )


def test_shapes_dtype_and_labels(all_classes):
    X, y = all_classes
    assert X.shape == (360, 28, 28)
    assert X.dtype == np.uint8
    assert y.shape == (360,)
    assert y.dtype == np.dtype("<U1")
    assert sorted(set(y)) == DIGITS + LETTERS
    assert "".join(CHARACTERS) == "".join(DIGITS + LETTERS)


def test_classes_are_balanced_and_shuffled():
    _, y = make_characters(n_samples=43, classes="digits", random_state=0)
    counts = {c: int((y == c).sum()) for c in DIGITS}
    # 43 = 4 * 10 + 3: the first three classes get the extra images
    assert counts == {c: 5 if c in "012" else 4 for c in DIGITS}
    assert list(y) != sorted(y)


@pytest.mark.parametrize(
    "classes, expected",
    [
        ("digits", DIGITS),
        ("letters", LETTERS),
        ("XA7", ["7", "A", "X"]),
        (["0", "O"], ["0", "O"]),
        (iter("QZ"), ["Q", "Z"]),
    ],
)
def test_classes_selection(classes, expected):
    _, y = make_characters(n_samples=2 * len(expected), classes=classes, random_state=1)
    assert sorted(y) == sorted(expected * 2)


def test_same_seed_same_arrays_other_seed_other_arrays():
    X1, y1 = make_characters(n_samples=40, random_state=3)
    X2, y2 = make_characters(n_samples=40, random_state=3)
    X3, y3 = make_characters(n_samples=40, random_state=4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    X4, _ = make_characters(n_samples=40, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(X1, X4)


def _mean_correlation(images):
    flat = images.reshape(len(images), -1).astype(float)
    corr = np.corrcoef(flat)
    return corr[~np.eye(len(flat), dtype=bool)].mean()


def test_distortions_come_only_from_the_parameters():
    # H, L, V and X have a single variant: without distortion their images
    # differ only by MNIST's sub-pixel placement
    kwargs = dict(n_samples=40, classes="HLVX", random_state=0)
    X, y = make_characters(**kwargs, **UNDISTORTED)
    Xd, yd = make_characters(**kwargs)
    for character in "HLVX":
        plain = _mean_correlation(X[y == character])
        distorted = _mean_correlation(Xd[yd == character])
        assert plain > 0.8
        assert distorted < plain - 0.1
    assert len({image.tobytes() for image in Xd}) == len(Xd)


def test_stronger_distortion_spreads_the_images_more():
    kwargs = dict(n_samples=60, classes="17", random_state=0)
    mild, y = make_characters(**kwargs, rotation=2, shear=0.05, elastic_alpha=0.2)
    wild, _ = make_characters(**kwargs, rotation=30, shear=0.6, elastic_alpha=3)
    for character in "17":
        assert _mean_correlation(wild[y == character]) < _mean_correlation(
            mild[y == character]
        )


def test_ink_is_bright_on_dark_with_a_dark_border(all_classes):
    X, _ = all_classes
    assert (X.max(axis=(1, 2)) == 255).all()
    border = np.concatenate(
        [X[:, :2].ravel(), X[:, -2:].ravel(), X[:, :, :2].ravel(), X[:, :, -2:].ravel()]
    )
    assert (border == 0).mean() > 0.99
    # most of the image is background, as in MNIST (about 19 % of pixels inked)
    assert 0.1 < (X > 0).mean() < 0.3


def test_glyph_fits_the_20_pixel_box(all_classes):
    X, _ = all_classes
    box = _ink_box(X)
    assert box.max() <= 21
    assert (box.max(axis=1) >= 19).all()
    # MNIST: the longer side spans the box exactly
    assert (box.max(axis=1) == 20).mean() > 0.9


def test_centre_of_mass_is_at_the_centre(all_classes):
    X, _ = all_classes
    offset = _centre_of_mass(X) - 14
    assert np.abs(offset).max() <= 0.75
    assert np.abs(offset.mean(axis=0)).max() < 0.15


@pytest.mark.parametrize("image_size, box", [(8, 6), (16, 11), (56, 40)])
def test_geometry_scales_with_image_size(image_size, box):
    X, _ = make_characters(n_samples=36, image_size=image_size, random_state=0)
    assert X.shape == (36, image_size, image_size)
    sides = _ink_box(X).max(axis=1)
    assert (np.abs(sides - box) <= 1).all()
    offset = _centre_of_mass(X) - image_size / 2
    assert np.abs(offset).max() <= 0.75


def test_translation_moves_the_centre_of_mass():
    X, _ = make_characters(
        n_samples=200, classes="digits", translation=3, random_state=0
    )
    offset = _centre_of_mass(X) - 14
    assert np.abs(offset).max() <= 3.5
    assert np.abs(offset).max() > 2


def test_stroke_width_changes_the_amount_of_ink():
    kwargs = dict(n_samples=50, classes="digits", random_state=0)
    thin, _ = make_characters(stroke_width=1.2, **kwargs)
    thick, _ = make_characters(stroke_width=4.0, **kwargs)
    assert thick.mean() > 1.5 * thin.mean()


def test_class_means_differ(all_classes):
    X, y = all_classes
    means = np.stack([X[y == c].mean(axis=0) for c in DIGITS + LETTERS])
    # no class is a blank or constant image
    assert (means.std(axis=(1, 2)) > 20).all()
    distance = np.sqrt(((means[:, None] - means[None]) ** 2).mean(axis=(2, 3)))
    off_diagonal = distance[~np.eye(len(means), dtype=bool)]
    assert off_diagonal.min() > 5


def test_every_variant_compiles_to_a_curve_through_its_waypoints():
    assert set(CHARACTERS) <= set(GLYPHS)
    assert set(GLYPHS) == set(CHARACTERS) | set("abcdefghijklmnopqrstuvwxyz")
    for character in GLYPHS:
        for variant, (weight, strokes) in enumerate(GLYPHS[character]):
            assert weight > 0
            compiled = compile_variant(character, variant, 0.02)
            # rows are affine combinations, so the curve moves with its points
            np.testing.assert_allclose(compiled.sampling.sum(axis=1), 1.0)
            points = compiled.sampling @ compiled.waypoints
            assert points.min() >= -0.1 and points.max() <= 1.1
            steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
            # evenly spaced along the strokes
            assert steps[compiled.joined].max() < 0.021
            assert steps[compiled.joined].min() > 0.01
            assert compiled.n_strokes == len(strokes)


def test_letter_case_changes_the_letters_not_the_digits_or_labels():
    kwargs = dict(n_samples=60, classes="ABE3", random_state=0)
    upper, y_upper = make_characters(**kwargs)
    lower, y_lower = make_characters(letter_case="lower", **kwargs)
    np.testing.assert_array_equal(y_upper, y_lower)
    assert set(y_lower) == set("ABE3")
    letters = y_upper != "3"
    assert _mean_correlation(
        np.concatenate([upper[y_upper == "A"], lower[y_lower == "A"]])
    ) < min(
        _mean_correlation(upper[y_upper == "A"]),
        _mean_correlation(lower[y_lower == "A"]),
    )
    assert not np.array_equal(upper[letters], lower[letters])


@pytest.mark.parametrize("letter_case", ["upper", "lower", "mixed"])
def test_variant_tables_are_distributions(letter_case):
    for character in CHARACTERS:
        table = variant_table(character, letter_case)
        assert np.isclose(sum(p for _, _, p in table), 1.0)
        keys = {key for key, _, _ in table}
        if character.isdigit() or letter_case == "upper":
            assert keys == {character}
        elif letter_case == "lower":
            assert keys == {character.lower()}
        else:
            assert keys == {character, character.lower()}
    # 'mixed' draws capitals half of the time
    mixed = variant_table("A", "mixed")
    assert np.isclose(sum(p for key, _, p in mixed if key == "A"), 0.5)


def _invalid(name, expected, got):
    """scikit-learn's InvalidParameterError message (a ValueError): the
    parameter, what it must be and what came."""
    return (
        f"The '{name}' parameter of make_characters must be {expected}. "
        f"Got {got} instead."
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_samples": 0}, _invalid("n_samples", "an int in the range [1, inf)", "0")),
        (
            {"n_samples": 2.5},
            _invalid("n_samples", "an int in the range [1, inf)", "2.5"),
        ),
        (
            {"n_samples": True},
            _invalid("n_samples", "an int in the range [1, inf)", "True"),
        ),
        (
            {"image_size": 7},
            _invalid("image_size", "an int in the range [8, inf)", "7"),
        ),
        (
            {"rotation": -5},
            _invalid("rotation", "a float in the range [0.0, 180.0]", "-5"),
        ),
        ({"scale": 1.0}, _invalid("scale", "a float in the range [0.0, 0.9]", "1.0")),
        (
            {"jitter": float("nan")},
            _invalid("jitter", "a float in the range [0.0, 0.3]", "nan"),
        ),
        (
            {"translation": "2"},
            _invalid("translation", "a float in the range [0.0, 4.0]", "'2'"),
        ),
        (
            {"elastic_alpha": -1},
            _invalid("elastic_alpha", "a float in the range [0.0, 10.0]", "-1"),
        ),
        (
            {"elastic_sigma": 0},
            _invalid("elastic_sigma", "a float in the range (0.0, 100.0]", "0"),
        ),
        (
            {"shear": (0.5, 0.1)},
            "shear must be a number >= 0 or a pair (low, high) with -2 <= low <= "
            "high <= 2; got (0.5, 0.1).",
        ),
        (
            {"shear": -0.3},
            _invalid(
                "shear", "a float in the range [0.0, inf) or an array-like", "-0.3"
            ),
        ),
        (
            {"stroke_width": (1, 2, 3)},
            "stroke_width must be a number in [0.5, 8] or a pair (low, high) with "
            "0.5 <= low <= high <= 8 pixels; got (1, 2, 3).",
        ),
        (
            {"stroke_width": 0.1},
            _invalid(
                "stroke_width",
                "a float in the range [0.5, 8.0] or an array-like",
                "0.1",
            ),
        ),
        (
            {"classes": "AB?"},
            "classes contains '?', which make_characters cannot draw; the "
            "supported characters are '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ' "
            "(or 'digits', 'letters').",
        ),
        (
            {"classes": ["a"]},
            "classes contains 'a', which make_characters cannot draw; the "
            "supported characters are '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ' "
            "(or 'digits', 'letters').",
        ),
        (
            {"classes": ""},
            "classes must name at least one character from "
            "'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'; got an empty selection.",
        ),
        (
            {"classes": 5},
            _invalid(
                "classes", "None or an instance of 'collections.abc.Iterable'", "5"
            ),
        ),
        (
            {"letter_case": "title"},
            # the options are a set, whose order varies from run to run
            re.compile(
                r"The 'letter_case' parameter of make_characters must be a str "
                r"among \{('(upper|lower|mixed)'(, )?){3}\}\. Got 'title' instead\.$"
            ),
        ),
        (
            {"classes": "ABA"},
            "classes must not repeat a character; got 'ABA'.",
        ),
    ],
)
def test_bad_parameters_are_named(kwargs, message):
    if not isinstance(message, re.Pattern):
        message = re.escape(message) + "$"
    with pytest.raises(ValueError, match=message):
        make_characters(**kwargs)
