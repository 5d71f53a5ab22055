"""Filled copies of thin characters and the pipeline that learns them."""

import numpy as np
import pytest
from skimage.transform import resize
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import GridSearchCV

from mtclassic import make_default_model
from mtclassic.datasets import make_characters
from mtclassic.filled import FilledCopiesPipeline, filled_copies
from mtclassic.metrics import is_lookalike, task_of
from mtclassic.preprocessing import ImageNormalizer


def _bars():
    """A tall bar (thin), a wide bar (thin the other way), a square, a blank."""
    images = np.zeros((4, 28, 28))
    images[0, 4:24, 12:16] = 1
    images[1, 12:16, 4:24] = 1
    images[2, 6:22, 6:22] = 1
    return images, np.array(["1", "-", "O", " "])


def test_only_thin_characters_are_copied_with_their_labels():
    copies, labels = filled_copies(*_bars())
    assert labels.tolist() == ["1", "-"]
    assert copies.shape == (2, 28, 28) and copies.dtype == np.float64
    assert copies.min() >= 0 and copies.max() <= 1
    # each bar now fills the 20 x 20 box, and nothing lies outside it
    assert (copies[:, 4:24, 4:24] > 0.5).all()
    outside = copies.copy()
    outside[:, 4:24, 4:24] = 0
    assert not outside.any()


def test_max_aspect_decides_what_is_thin():
    images = np.zeros((1, 28, 28))
    images[0, 4:24, 10:20] = 1  # half as wide as tall, after normalising
    assert len(filled_copies(images, ["0"], max_aspect=0.6)[1]) == 1
    assert len(filled_copies(images, ["0"], max_aspect=0.3)[1]) == 0


def test_copies_are_made_of_slanted_strokes_not_deskewed():
    # a slanted stroke fills its box as a band from corner to corner, as it
    # does when a scanner stretches it; deskewed, it would be an upright bar
    image = np.zeros((1, 28, 28))
    for row in range(4, 24):
        col = 10 + (23 - row) // 4
        image[0, row, col : col + 2] = 1
    (copy,), _ = filled_copies(image, ["1"])
    assert copy[5, 20] > 0.5 and copy[22, 7] > 0.5  # top right, bottom left
    assert copy[5, 7] < 0.5 and copy[22, 20] < 0.5  # the other corners empty


def test_any_image_size_and_a_list_of_sizes():
    small = np.zeros((16, 16))
    small[2:14, 7:9] = 255
    large = np.zeros((60, 40))
    large[5:55, 18:22] = 255
    copies, labels = filled_copies([small, large], ["1", "I"])
    assert copies.shape == (2, 28, 28) and labels.tolist() == ["1", "I"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_aspect": 1.0}, "'max_aspect' parameter of filled_copies"),
        ({"max_aspect": 0}, "'max_aspect' parameter of filled_copies"),
    ],
)
def test_bad_max_aspect_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        filled_copies(*_bars(), **kwargs)


def test_labels_must_match_the_images():
    images, _ = _bars()
    with pytest.raises(ValueError, match="one label per image of X: 4 images, 3"):
        filled_copies(images, ["1", "2", "3"])


class _Rows(ClassifierMixin, BaseEstimator):
    """Remembers the rows and labels it was fitted on."""

    def fit(self, X, y):
        self.X_, self.y_ = np.asarray(X), np.asarray(y)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def _pipeline(**kwargs):
    return FilledCopiesPipeline(
        [("normalize", ImageNormalizer()), ("rows", _Rows())], **kwargs
    )


@pytest.mark.parametrize(
    "form",
    ["float 3-D", "uint8 3-D", "uint8 flat rows", "bool 3-D", "list"],
)
def test_fit_adds_the_copies_in_any_input_form(form):
    images, labels = _bars()
    X = {
        "float 3-D": images,
        "uint8 3-D": (images * 255).astype(np.uint8),
        "uint8 flat rows": (images * 255).astype(np.uint8).reshape(4, 784),
        "bool 3-D": images > 0.5,
        "list": list(images),
    }[form]
    rows = _pipeline().fit(X, labels).named_steps["rows"]
    assert rows.y_.tolist() == ["1", "-", "O", " ", "1", "-"]
    expected = (
        _pipeline().named_steps["normalize"].transform(filled_copies(X, labels)[0])
    )
    # 1-bit images hold the copies as ink or not (integers: rounded to 1/255)
    atol = 0.5 if form.startswith("bool") else 1e-6
    np.testing.assert_allclose(rows.X_[4:], expected, atol=atol)
    # without copies, the rows are the images' own
    rows = _pipeline(filled_copies=False).fit(X, labels).named_steps["rows"]
    assert rows.y_.tolist() == labels.tolist()


def test_integer_labels_stay_integers():
    images, _ = _bars()
    rows = _pipeline().fit(images, [1, 7, 0, 3]).named_steps["rows"]
    assert rows.y_.tolist() == [1, 7, 0, 3, 1, 7]


def test_labels_mixing_strings_and_numbers_are_refused():
    images, _ = _bars()
    with pytest.raises(TypeError, match="^y mixes strings and numbers: "):
        _pipeline().fit(images, ["1", 7, "O", "A"])


@pytest.mark.parametrize("value", ["yes", 0, -3, 2.5, None])
def test_filled_copies_must_be_a_bool_or_a_count(value):
    with pytest.raises(ValueError, match="filled_copies must be True, False or a "):
        _pipeline(filled_copies=value).fit(*_bars())


def test_fit_params_are_refused_with_copies():
    with pytest.raises(ValueError, match=r"fit parameters cannot be passed .*rows__w"):
        _pipeline().fit(*_bars(), rows__w=np.ones(4))


def test_a_pipeline_with_its_parameter():
    model = make_default_model(preset="fast")
    assert isinstance(model, FilledCopiesPipeline)
    # off by default: they cost real sets more than they gain (models.py)
    for preset in ("fast", "accurate", "best"):
        assert make_default_model(preset=preset).filled_copies is False
    assert clone(model.set_params(filled_copies=True)).filled_copies is True
    assert make_default_model(filled_copies=300).filled_copies == 300
    # a slice of the pipeline is one too, and transforms as before
    assert [name for name, _ in model[:-1].steps] == ["normalize", "features"]
    with pytest.raises(ValueError, match="'filled_copies' parameter"):
        make_default_model(filled_copies="on")


def test_grid_search_tries_the_copies_on_and_off():
    X, y = make_characters(360, random_state=0)
    search = GridSearchCV(
        make_default_model(preset="fast", random_state=0),
        {"filled_copies": [False, True]},
        cv=2,
    ).fit(X, y)
    assert search.cv_results_["param_filled_copies"].tolist() == [False, True]
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def _stretched_to_fill(images, side=16):
    """Each image's ink box stretched to a binary side x side square: how
    binary forms store characters (made here with skimage, not with
    filled_copies, whose copies the model trains on)."""
    out = []
    for image in images:
        ink = image >= 0.2 * image.max()
        rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
        box = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        out.append((resize(box, (side, side), anti_aliasing=True) > 0.35) * 255)
    return np.asarray(out, dtype=np.uint8)


def test_the_copies_route_stretched_thin_characters_to_their_task():
    # Synthetic thin characters (1, I, L, J, 7 ...) stretched to fill a binary
    # 16 x 16 box: without the copies the default model sends a large share of
    # them to the other task with a label that is no look-alike of theirs.
    X, y = make_characters(3000, random_state=0)
    X_test, y_test = make_characters(3000, random_state=1)
    _, thin = filled_copies(X_test, np.arange(len(y_test)))
    X_thin, y_thin = _stretched_to_fill(X_test[thin]), y_test[thin]
    assert len(y_thin) > 100

    def misrouted(filled):
        model = make_default_model(preset="fast", random_state=0, filled_copies=filled)
        predicted = model.fit(X, y).predict(X_thin).astype(str)
        wrong_task = task_of(y_thin) != task_of(predicted)
        return np.mean(wrong_task & ~is_lookalike(y_thin, predicted))

    without, with_copies = misrouted(False), misrouted(True)
    assert without > 0.1
    assert with_copies < without / 2


def test_chunks_change_nothing(monkeypatch):
    X, y = make_characters(200, random_state=0)
    whole, y_whole = filled_copies(X, y)
    monkeypatch.setattr("mtclassic.filled._CHUNK", 7)
    chunked, y_chunked = filled_copies(list(X), y)
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(y_chunked, y_whole)
    assert len(y_whole) > 0


def test_at_most_so_many_copies_per_label():
    X, y = make_characters(600, random_state=0)
    y = y.astype(str)
    _, every = filled_copies(X, y)
    counts = dict(zip(*np.unique(every, return_counts=True), strict=True))
    assert max(counts.values()) > 2
    _, capped = filled_copies(X, y, max_per_label=2)
    capped_counts = dict(zip(*np.unique(capped, return_counts=True), strict=True))
    assert capped_counts == {label: min(n, 2) for label, n in counts.items()}
    rows = _pipeline(filled_copies=2).fit(X, y).named_steps["rows"]
    assert len(rows.y_) == len(y) + len(capped)
