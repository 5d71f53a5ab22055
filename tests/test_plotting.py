"""The figures of mtclassic.plotting: rendered to PNG, their content checked."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from PIL import Image  # noqa: E402
from skimage.feature import hog  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from mtclassic.features import HOGTransformer  # noqa: E402
from mtclassic.plotting import (  # noqa: E402
    default_tasks,
    hog_cell_histograms,
    model_tasks,
    plot_confusion_matrix,
    plot_hog,
    plot_misclassified,
    plot_task_accuracy,
    task_accuracy,
)

DIGITS = [str(d) for d in range(10)]
LETTERS = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
ALL_LABELS = DIGITS + LETTERS


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def predictions():
    """Every one of the 36 labels several times; about a third predicted wrong."""
    rng = np.random.default_rng(0)
    y_true = np.array(ALL_LABELS * 5)
    y_pred = y_true.copy()
    wrong = rng.random(y_true.size) < 0.3
    y_pred[wrong] = rng.choice(ALL_LABELS, size=int(wrong.sum()))
    return y_true, y_pred


def _render(fig, path):
    """Save as PNG and return the decoded image's size, proving it rendered."""
    fig.savefig(path, format="png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        return image.size


def _tick_texts(ticks):
    return [tick.get_text() for tick in ticks]


def _task_blocks(ax):
    return [patch for patch in ax.patches if patch.get_gid() == "task-block"]


def test_confusion_matrix_36_classes_with_task_blocks(predictions, tmp_path):
    y_true, y_pred = predictions
    ax = plot_confusion_matrix(y_true, y_pred)
    width, height = _render(ax.figure, tmp_path / "cm.png")
    assert width > 100 and height > 100

    assert len(ax.figure.axes) == 2  # the matrix and its colorbar
    assert _tick_texts(ax.get_xticklabels()) == ALL_LABELS
    assert _tick_texts(ax.get_yticklabels()) == ALL_LABELS
    assert ax.get_xlabel() == "predicted label"
    assert ax.get_ylabel() == "true label"
    assert ax.get_title() == "Confusion matrix"
    np.testing.assert_array_equal(
        ax.images[0].get_array(),
        confusion_matrix(y_true, y_pred, labels=ALL_LABELS),
    )

    blocks = _task_blocks(ax)
    assert [block.get_label() for block in blocks] == ["digits", "letters"]
    assert all(isinstance(block, Rectangle) for block in blocks)
    assert [(block.get_xy(), block.get_width()) for block in blocks] == [
        ((-0.5, -0.5), 10),
        ((9.5, 9.5), 26),
    ]
    boundaries = [line for line in ax.lines if line.get_gid() == "task-boundary"]
    # one horizontal and one vertical line between the digit and letter blocks
    assert [list(line.get_ydata()) for line in boundaries][0] == [9.5, 9.5]
    assert [list(line.get_xdata()) for line in boundaries][1] == [9.5, 9.5]
    assert len(boundaries) == 2


def test_confusion_matrix_normalised_rows_sum_to_one(predictions, tmp_path):
    y_true, y_pred = predictions
    ax = plot_confusion_matrix(
        y_true, y_pred, normalize="true", colorbar=False, ax=Figure().subplots()
    )
    _render(ax.figure, tmp_path / "cm.png")
    assert len(ax.figure.axes) == 1
    assert ax.get_title() == "Confusion matrix (rows sum to 1)"
    np.testing.assert_allclose(ax.images[0].get_array().sum(axis=1), 1.0)


def test_confusion_matrix_orders_labels_by_given_tasks(tmp_path):
    y_true = ["A", "0", "E", "B", "A"]
    y_pred = ["A", "0", "B", "B", "E"]
    tasks = {"vowels": ["E", "A"], "others": ["B", "0"]}
    ax = plot_confusion_matrix(
        y_true, y_pred, tasks=tasks, include_values=True, ax=Figure().subplots()
    )
    _render(ax.figure, tmp_path / "cm.png")
    assert _tick_texts(ax.get_xticklabels()) == ["A", "E", "0", "B"]
    blocks = _task_blocks(ax)
    assert [(b.get_label(), b.get_xy(), b.get_width()) for b in blocks] == [
        ("vowels", (-0.5, -0.5), 2),
        ("others", (1.5, 1.5), 2),
    ]
    # one text per non-zero cell: (A,A), (A,E), (E,B), (0,0), (B,B)
    assert sorted(text.get_text() for text in ax.texts) == ["1"] * 5


def test_confusion_matrix_rejects_bad_arguments():
    with pytest.raises(
        ValueError,
        match=r"normalize must be one of None, 'true', 'pred' or 'all'; got 'rows'\.",
    ):
        plot_confusion_matrix(["0"], ["0"], normalize="rows")
    with pytest.raises(
        ValueError, match=r"y_true and y_pred must have the same length; got 2 and 1\."
    ):
        plot_confusion_matrix(["0", "1"], ["0"])
    with pytest.raises(
        ValueError, match=r"tasks claims label 'A' twice: in 'x' and in 'y'"
    ):
        plot_confusion_matrix(["A"], ["A"], tasks={"x": ["A"], "y": ["A"]})
    with pytest.raises(
        TypeError,
        match=r"tasks must be a dict mapping each task name to its labels; got list\.",
    ):
        plot_confusion_matrix(["A"], ["A"], tasks=[["A"]])


def test_misclassified_grid_shows_most_confident_mistakes(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(8, 28, 28), dtype=np.uint8)
    classes = np.array(["0", "1", "A"])
    y_true = np.array(["0", "1", "A", "0", "1", "A", "0", "1"])
    y_pred = np.array(["0", "A", "A", "1", "1", "0", "A", "1"])
    proba = np.full((8, 3), 0.1)
    # wrong at 1 (p=0.6), 3 (p=0.9), 5 (p=0.5), 6 (p=0.7)
    for index, p in {1: 0.6, 3: 0.9, 5: 0.5, 6: 0.7}.items():
        proba[index, list(classes).index(y_pred[index])] = p
    fig = plot_misclassified(
        images, y_true, y_pred, proba, classes=classes, max_images=3, ncols=2
    )
    _render(fig, tmp_path / "wrong.png")

    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == [
        "true 0 / pred 1\np=0.90",
        "true 0 / pred A\np=0.70",
        "true 1 / pred A\np=0.60",
    ]
    for ax, index in zip(fig.axes, [3, 6, 1], strict=True):
        assert len(ax.images) == 1
        np.testing.assert_array_equal(ax.images[0].get_array(), images[index])
    # two columns: the third panel starts the second row
    assert fig.axes[2].get_subplotspec().rowspan.start == 1


def test_misclassified_without_proba_keeps_batch_order(tmp_path):
    images = np.arange(4 * 16, dtype=float).reshape(4, 16)  # flat 4x4 rows
    fig = plot_misclassified(
        images, ["1", "2", "3", "4"], ["7", "2", "8", "9"], fig=Figure()
    )
    _render(fig, tmp_path / "wrong.png")
    assert [ax.get_title() for ax in fig.axes] == [
        "true 1 / pred 7",
        "true 3 / pred 8",
        "true 4 / pred 9",
    ]
    np.testing.assert_array_equal(
        fig.axes[1].images[0].get_array(), images[2].reshape(4, 4)
    )


def test_misclassified_with_no_mistakes_says_so(tmp_path):
    fig = plot_misclassified(np.zeros((2, 28, 28)), ["1", "2"], ["1", "2"])
    _render(fig, tmp_path / "none.png")
    assert len(fig.axes) == 1
    assert [text.get_text() for text in fig.axes[0].texts] == [
        "no misclassified images"
    ]
    assert not fig.axes[0].images


def test_misclassified_rejects_bad_arguments():
    images = np.zeros((2, 28, 28))
    with pytest.raises(
        ValueError,
        match=r"images holds 2 images but y_true has 3 labels; they must match\.",
    ):
        plot_misclassified(images, ["1", "2", "3"], ["1", "2", "4"])
    with pytest.raises(ValueError, match=r"classes is required with proba"):
        plot_misclassified(images, ["1", "2"], ["1", "3"], np.ones((2, 2)))
    with pytest.raises(
        ValueError,
        match=r"proba must have shape \(n_samples, n_classes\) = \(2, 3\); got \(2, 2\)\.",
    ):
        plot_misclassified(
            images, ["1", "2"], ["1", "3"], np.ones((2, 2)), classes=["1", "2", "3"]
        )
    with pytest.raises(
        ValueError, match=r"max_images must be a positive integer; got 0\."
    ):
        plot_misclassified(images, ["1", "2"], ["1", "3"], max_images=0)


def _strongest_glyph_direction(fig):
    """(d_row, d_col) of the most opaque glyph of a plot_hog figure, unit length."""
    glyphs = fig.axes[1].collections[0]
    alpha = glyphs.get_colors()[:, 3]
    (x0, y0), (x1, y1) = glyphs.get_segments()[int(np.argmax(alpha))]
    direction = np.array([y1 - y0, x1 - x0])
    return direction / np.linalg.norm(direction)


@pytest.mark.parametrize(
    "bar, expected",
    [
        ((slice(4, 24), slice(12, 16)), "vertical"),
        ((slice(12, 16), slice(4, 24)), "horizontal"),
    ],
)
def test_hog_glyphs_run_along_the_strokes(bar, expected, tmp_path):
    image = np.zeros((28, 28))
    image[bar] = 255.0
    fig = plot_hog(image, orientations=8, pixels_per_cell=(7, 7))
    _render(fig, tmp_path / "hog.png")

    assert len(fig.axes) == 2
    image_ax, hog_ax = fig.axes
    assert image_ax.get_title() == "image"
    assert hog_ax.get_title() == "HOG: 8 orientations, 7x7-pixel cells, 288 features"
    np.testing.assert_array_equal(image_ax.images[0].get_array(), image)
    glyphs = hog_ax.collections[0]
    assert len(glyphs.get_segments()) == 4 * 4 * 8  # cells x orientations
    assert glyphs.get_colors()[:, 3].max() == 1.0
    d_row, d_col = np.abs(_strongest_glyph_direction(fig))
    # bins are pi/8 wide: the strongest glyph is at most 11.25 degrees (half a
    # bin) off the edge, where a glyph across the stroke would be 90 off
    along = d_row if expected == "vertical" else d_col
    assert along == pytest.approx(np.cos(np.pi / 16))


def test_hog_cell_histograms_are_the_block_features():
    image = np.random.default_rng(0).random((12, 12))
    cells, n_features = hog_cell_histograms(
        image, orientations=4, pixels_per_cell=(4, 4), cells_per_block=(2, 2)
    )
    # the features are the package's HOGTransformer's ...
    blocks = (
        HOGTransformer(orientations=4, pixels_per_cell=(4, 4), cells_per_block=(2, 2))
        .fit_transform(image[None])
        .reshape(2, 2, 2, 2, 4)
    )
    # ... which are scikit-image's, within HOGTransformer's stated 1e-6
    skimage_blocks = hog(
        image,
        orientations=4,
        pixels_per_cell=(4, 4),
        cells_per_block=(2, 2),
        feature_vector=False,
    )
    np.testing.assert_allclose(blocks, skimage_blocks, rtol=0, atol=1e-6)
    assert n_features == blocks.size == skimage_blocks.size == 2 * 2 * 2 * 2 * 4
    # the corner cell is in one block only; the centre cell in all four
    np.testing.assert_allclose(cells[0, 0], blocks[0, 0, 0, 0])
    np.testing.assert_allclose(
        cells[1, 1],
        (
            blocks[0, 0, 1, 1]
            + blocks[0, 1, 1, 0]
            + blocks[1, 0, 0, 1]
            + blocks[1, 1, 0, 0]
        )
        / 4,
    )


def test_hog_takes_a_hog_transformer():
    image = np.zeros((28, 28))
    image[6:22, 13:15] = 1.0
    hog = HOGTransformer(orientations=6, pixels_per_cell=(4, 4))
    fig = plot_hog(image, hog=hog)
    assert fig.axes[1].get_title() == (
        "HOG: 6 orientations, 4x4-pixel cells, 864 features"
    )
    # a parameter given beside hog wins
    fig = plot_hog(image, hog=hog, orientations=3)
    assert fig.axes[1].get_title().startswith("HOG: 3 orientations, 4x4-pixel")
    assert hog.orientations == 6  # the transformer itself is left alone
    with pytest.raises(TypeError, match="hog must be a mtclassic.HOGTransformer"):
        plot_hog(image, hog="hog")


def test_hog_rejects_a_batch():
    with pytest.raises(
        ValueError,
        match=r"image must be one grey image of shape \(height, width\); got an array of shape \(2, 28, 28\)\.",
    ):
        plot_hog(np.zeros((2, 28, 28)))


def test_task_accuracy_bars_equal_the_accuracies(predictions, tmp_path):
    y_true, y_pred = predictions
    ax = plot_task_accuracy(y_true, y_pred)
    _render(ax.figure, tmp_path / "tasks.png")

    digits = np.isin(y_true, DIGITS)
    expected = [
        np.mean(y_true[digits] == y_pred[digits]),
        np.mean(y_true[~digits] == y_pred[~digits]),
        np.mean(y_true == y_pred),
    ]
    assert _tick_texts(ax.get_xticklabels()) == ["digits", "letters", "all"]
    np.testing.assert_allclose([bar.get_height() for bar in ax.patches], expected)
    assert ax.get_ylabel() == "accuracy"
    routing = np.mean(np.isin(y_pred, DIGITS) != digits)
    assert ax.get_title() == f"Accuracy per task (routing error {routing:.1%})"
    assert [text.get_text() for text in ax.texts] == [
        f"{value:.1%}\nn={count}"
        for value, count in zip(expected, [50, 130, 180], strict=True)
    ]


def test_task_accuracy_numbers():
    scores = task_accuracy(
        ["0", "1", "A", "B", "C"],
        ["0", "B", "A", "8", "D"],
    )
    assert scores == {
        "tasks": {
            "digits": {"accuracy": 0.5, "n_samples": 2},
            "letters": {"accuracy": 1 / 3, "n_samples": 3},
        },
        "accuracy": 0.4,
        "routing_error": 0.4,
    }
    assert default_tasks(["Z", "3", "a"]) == {"digits": ["3"], "letters": ["Z", "a"]}


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        ImportError, match=r'install it with: pip install "mtclassic\[plot\]"'
    ):
        plot_task_accuracy(["0"], ["0"])


def test_importing_the_module_does_not_import_matplotlib():
    code = (
        "import sys, mtclassic.plotting; "
        "print('matplotlib' in sys.modules, 'matplotlib.pyplot' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


def test_model_tasks_of_a_multitask_model_and_of_a_plain_one():
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mtclassic.multitask import MultiTaskVotingClassifier

    rng = np.random.default_rng(0)
    y = np.repeat(np.array(["1", "2", "3", "A", "B"]), 20)
    X = rng.normal(size=(100, 2)) + np.repeat(np.arange(5), 20)[:, None] * 3
    vote = MultiTaskVotingClassifier(
        [("numbers", LogisticRegression()), ("letters", LogisticRegression())],
        tasks={"numbers": "123", "letters": "AB"},
    )
    model = make_pipeline(StandardScaler(), vote).fit(X, y)
    expected = {"numbers": ["1", "2", "3"], "letters": ["A", "B"]}
    assert model_tasks(model) == expected
    assert model_tasks(model[-1]) == expected

    plain = DummyClassifier().fit(X, y)
    assert model_tasks(plain) == {"digits": ["1", "2", "3"], "letters": ["A", "B"]}
    assert model_tasks(plain, labels=["7", "a"]) == {"digits": ["7"], "letters": ["a"]}
