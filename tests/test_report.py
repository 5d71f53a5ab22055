"""``mtclassic evaluate``, mtclassic._report and mtclassic._data: end to end on
small synthetic data."""

import copy
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from mtclassic import _data, _report  # noqa: E402
from mtclassic._commands.evaluate import run_evaluate  # noqa: E402
from mtclassic.cli import main  # noqa: E402
from mtclassic.datasets import make_characters, save_idx  # noqa: E402
from mtclassic.metrics import worst_confusions  # noqa: E402
from mtclassic.models import make_default_model  # noqa: E402
from mtclassic.persistence import save_model  # noqa: E402
from mtclassic.plotting import plot_hog  # noqa: E402

REPORT_FILES = [
    "confusion_matrix.png",
    "hog.png",
    "metrics.json",
    "misclassified.csv",
    "misclassified.png",
    "report.md",
    "task_accuracy.png",
]
N_EVAL = 180


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """The default model, fitted small and fast, saved with save_model."""
    images, labels = make_characters(720, random_state=1)
    model = make_default_model(random_state=0, n_estimators=20).fit(images, labels)
    path = tmp_path_factory.mktemp("model") / "model.joblib"
    save_model(model, path)
    return path, model


def _expected_metrics(model, images, labels, task_prior="auto"):
    """The figures evaluate must print; its default (task_prior "auto") scores
    the vote under the batch mix of the images."""
    if task_prior == "auto":
        model = clone_with_mix(model, images)
    y_pred = model.predict(images)
    digits = np.char.isdigit(labels)
    return {
        "accuracy": np.mean(y_pred == labels),
        "digits": np.mean(y_pred[digits] == labels[digits]),
        "letters": np.mean(y_pred[~digits] == labels[~digits]),
        "routing_error": np.mean(np.char.isdigit(y_pred.astype(str)) != digits),
    }


def _check_metrics(metrics, expected, n_samples):
    assert metrics["n_samples"] == n_samples
    assert metrics["accuracy"] == pytest.approx(expected["accuracy"])
    assert metrics["routing_error"] == pytest.approx(expected["routing_error"])
    assert metrics["tasks"]["digits"]["accuracy"] == pytest.approx(expected["digits"])
    assert metrics["tasks"]["letters"]["accuracy"] == pytest.approx(expected["letters"])


def test_evaluate_synthetic_writes_report_and_figures(model_path, tmp_path, capsys):
    path, model = model_path
    report = tmp_path / "report"
    args = ["evaluate", str(path), "synthetic", "--report", str(report)]
    assert main([*args, "--n-samples", str(N_EVAL), "--max-images", "6"]) == 0

    # exactly the report's files: no temporary file left behind
    assert sorted(os.listdir(report)) == REPORT_FILES
    for name in REPORT_FILES:
        if name.endswith(".png"):
            with Image.open(report / name) as image:
                assert image.format == "PNG" and min(image.size) > 50

    images, labels = make_characters(N_EVAL, random_state=1)
    expected = _expected_metrics(model, images, labels)
    assert 0.1 < expected["accuracy"] < 1.0  # there are mistakes to show
    metrics = json.loads((report / "metrics.json").read_text())
    _check_metrics(metrics, expected, N_EVAL)
    assert metrics["n_classes"] == 36

    markdown = (report / "report.md").read_text()
    assert markdown.startswith("# mtclassic evaluation report\n")
    assert f"- data: synthetic ({N_EVAL} images, random_state=1), {N_EVAL} images" in (
        markdown
    )
    assert (
        f"| **all (36 classes)** | {N_EVAL} | **{expected['accuracy']:.2%}** |"
        in markdown
    )
    n_digits = int(np.char.isdigit(labels).sum())
    assert f"| digits | {n_digits} | {expected['digits']:.2%} |" in markdown
    assert f"Routing error: {expected['routing_error']:.2%} of the images" in markdown
    worst = metrics["worst_confusions"][0]
    assert f"| {worst['true']} | {worst['pred']} | {worst['count']} |" in markdown
    for name in REPORT_FILES:
        if name.endswith(".png"):
            assert f"]({name})" in markdown

    out = capsys.readouterr().out
    assert f"combined:        {expected['accuracy']:.2%}" in out
    assert f"report: {report / 'report.md'}" in out


def test_demo_flag_is_synthetic_data_and_no_report_writes_nothing(
    model_path, tmp_path, capsys, monkeypatch
):
    path, model = model_path
    monkeypatch.chdir(tmp_path)
    args = ["evaluate", str(path), "--demo", "--n-samples", "72"]
    assert main([*args, "--random-state", "3"]) == 0
    images, labels = make_characters(72, random_state=3)
    expected = _expected_metrics(model, images, labels)
    out = capsys.readouterr().out
    assert "data:  synthetic (72 images, random_state=3)" in out
    assert f"combined:        {expected['accuracy']:.2%}" in out
    assert "report:" not in out
    assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def eval_data():
    return make_characters(72, random_state=5)


def test_evaluate_npz_file(model_path, eval_data, tmp_path):
    path, model = model_path
    images, labels = eval_data
    data = tmp_path / "eval.npz"
    np.savez(data, images=images, labels=labels)
    with open(os.devnull, "w") as devnull:
        metrics = run_evaluate(path, str(data), out=devnull)
    _check_metrics(metrics, _expected_metrics(model, images, labels), 72)


def test_evaluate_batch_task_prior_scores_under_the_estimated_mix(
    model_path, tmp_path, capsys
):
    path, model = model_path
    images, labels = make_characters(120, classes="digits", random_state=5)
    data = tmp_path / "digits.npz"
    np.savez(data, images=images, labels=labels)
    fixed = run_evaluate(path, str(data), out=sys.stdout, task_prior="fixed")
    batch = run_evaluate(path, str(data), out=sys.stdout, task_prior="batch")
    default = run_evaluate(path, str(data), out=sys.stdout)
    printed = capsys.readouterr().out
    shares = re.search(r"task mix estimated from the images: digits ([\d.]+)%", printed)
    assert shares and float(shares.group(1)) > 80
    # the expected figures of the model under the same estimated mix
    y_pred = clone_with_mix(model, images).predict(images)
    assert batch["n_samples"] == 120
    assert batch["accuracy"] == pytest.approx(np.mean(y_pred == labels))
    assert batch["tasks"]["digits"]["accuracy"] == pytest.approx(batch["accuracy"])
    assert batch["routing_error"] <= fixed["routing_error"]
    assert default["accuracy"] == batch["accuracy"]
    assert fixed["accuracy"] == pytest.approx(np.mean(model.predict(images) == labels))


def clone_with_mix(model, images):
    """A copy of the fitted model scoring under the mix of ``images``."""
    from mtclassic.prior import adapt_task_prior

    fitted = copy.deepcopy(model)
    adapt_task_prior(fitted, images)
    return fitted


def test_evaluate_idx_pair_with_label_names(model_path, eval_data, tmp_path):
    path, model = model_path
    images, labels = eval_data
    names = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    codes = np.array([names.index(label) for label in labels], dtype=np.uint8)
    save_idx(tmp_path / "images-idx3-ubyte.gz", images)
    save_idx(tmp_path / "labels-idx1-ubyte.gz", codes)
    report = tmp_path / "report"
    assert (
        main(
            [
                "evaluate",
                str(path),
                str(tmp_path / "images-idx3-ubyte.gz"),
                str(tmp_path / "labels-idx1-ubyte.gz"),
                "--idx-label-names",
                names,
                "--report",
                str(report),
            ]
        )
        == 0
    )
    metrics = json.loads((report / "metrics.json").read_text())
    _check_metrics(metrics, _expected_metrics(model, images, labels), 72)


def test_idx_label_code_without_name(tmp_path):
    save_idx(tmp_path / "images.idx", np.zeros((3, 28, 28), dtype=np.uint8))
    save_idx(tmp_path / "labels.idx", np.array([1, 12, 2], dtype=np.uint8))
    with pytest.raises(
        ValueError,
        match=r"labels\.idx: label code 12 at record 1 has no name; "
        r"idx_label_names gives 10 names \('0123456789'\)\.",
    ):
        _data.load_labelled_images(
            [str(tmp_path / "images.idx"), str(tmp_path / "labels.idx")]
        )


def test_bad_data_arguments(tmp_path, model_path):
    np.savez(tmp_path / "bad.npz", pixels=np.zeros((2, 4, 4)))
    with pytest.raises(
        ValueError,
        match=r"bad\.npz: an \.npz data file must hold arrays 'images' \(or 'X'\) "
        r"and 'labels' \(or 'y'\); it holds \['pixels'\]\.",
    ):
        _data.load_labelled_images(str(tmp_path / "bad.npz"))
    np.savez(tmp_path / "short.npz", images=np.zeros((2, 4, 4)), labels=["1"])
    with pytest.raises(ValueError, match=r"short\.npz: 2 images but 1 labels"):
        _data.load_labelled_images(str(tmp_path / "short.npz"))
    with pytest.raises(ValueError, match=r"data 'nothing\.csv' is neither 'synthetic'"):
        _data.load_labelled_images("nothing.csv")
    with pytest.raises(ValueError, match=r"got 3 arguments"):
        _data.load_labelled_images(["a", "b", "c"])
    path, _ = model_path
    with pytest.raises(SystemExit, match=r"give either --demo or DATA, not both"):
        main(["evaluate", str(path), "synthetic", "--demo"])
    with pytest.raises(SystemExit, match=r"DATA is missing"):
        main(["evaluate", str(path)])
    with pytest.raises(
        SystemExit, match=r"mtclassic evaluate: data 'nothing\.csv' is neither"
    ):
        main(["evaluate", str(path), "nothing.csv"])
    with pytest.raises(SystemExit, match=r"mtclassic evaluate: .*missing\.joblib"):
        main(["evaluate", str(tmp_path / "missing.joblib"), "synthetic"])


def test_report_without_matplotlib_names_the_extra(model_path, tmp_path, monkeypatch):
    path, _ = model_path
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(
        SystemExit,
        match=r'mtclassic evaluate: .*install it with: pip install "mtclassic\[plot\]"',
    ):
        main(
            [
                "evaluate",
                str(path),
                "--demo",
                "--n-samples",
                "36",
                "--report",
                str(tmp_path / "report"),
            ]
        )
    assert not (tmp_path / "report").exists()


def test_a_crash_leaves_no_partial_report(model_path, tmp_path, monkeypatch):
    path, _ = model_path
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("old report\n")

    def broken_savefig(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        main(
            [
                "evaluate",
                str(path),
                "synthetic",
                "--n-samples",
                "36",
                "--report",
                str(report),
            ]
        )
    # the old report is untouched and no temporary file is left behind
    assert os.listdir(report) == ["report.md"]
    assert (report / "report.md").read_text() == "old report\n"


def test_report_hog_uses_the_models_hog_parameters():
    model = make_default_model().set_params(
        features__hog__pixels_per_cell=(4, 4), features__hog__orientations=6
    )
    hog = _report._hog_step(model)
    # the model's own step (found by type, not by name), not a copy
    assert hog is model.get_params()["features__hog"]
    assert {
        name: getattr(hog, name)
        for name in (
            "orientations",
            "pixels_per_cell",
            "cells_per_block",
            "block_norm",
            "transform_sqrt",
        )
    } == {
        "orientations": 6,
        "pixels_per_cell": (4, 4),
        "cells_per_block": (2, 2),
        "block_norm": "L2-Hys",
        "transform_sqrt": False,
    }
    # and the report's HOG figure is drawn with it
    figure = plot_hog(np.zeros((28, 28)), hog=hog, fig=Figure())
    assert figure.axes[1].get_title() == (
        "HOG: 6 orientations, 4x4-pixel cells, 864 features"
    )
    assert _report._hog_step(LogisticRegression()) is None


def test_worst_confusions():
    tasks = {"digits": ["0", "1", "5"], "letters": ["O", "S"]}
    confusions = worst_confusions(
        ["0", "0", "0", "5", "5", "S", "1"],
        ["O", "O", "0", "S", "1", "S", "1"],
        tasks=tasks,
        n=2,
    )
    assert confusions == [
        {"true": "0", "pred": "O", "count": 2, "rate": 2 / 3, "cross_task": True},
        {"true": "5", "pred": "1", "count": 1, "rate": 0.5, "cross_task": False},
    ]


@pytest.mark.slow  # more than a second
def test_evaluate_image_folder_skips_unreadable_files(model_path, eval_data, tmp_path):
    path, model = model_path
    images, labels = eval_data
    # every other image on a larger canvas: the model gets a list of sizes
    images = [np.pad(image, 4 * (index % 2)) for index, image in enumerate(images)]
    folder = tmp_path / "images"
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / label / f"{index:03d}.png")
    (folder / "A" / "broken.png").write_bytes(b"not a png")
    report = tmp_path / "report"
    with pytest.warns(UserWarning, match="skipped 1"):
        assert main(["evaluate", str(path), str(folder), "--report", str(report)]) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    # the folder is read in label order, which does not change the scores
    _check_metrics(metrics, _expected_metrics(model, images, labels), 72)
    with Image.open(report / "misclassified.png") as figure:
        assert figure.format == "PNG"
    assert "- unreadable files skipped: 1" in (report / "report.md").read_text()


def _readme_table_module():
    return _benchmark_module("make_readme_table")


def test_readme_benchmark_table_comes_from_the_json_files(tmp_path, capsys):
    table = _readme_table_module()
    results = tmp_path / "results"
    results.mkdir()
    readme = tmp_path / "README.md"
    readme.write_text(
        "# title\n\n<!-- bench-table:start -->\nold\n<!-- bench-table:end -->\n\nend\n"
    )
    args = ["--results-dir", str(results), "--readme", str(readme)]
    assert table.main(args) == 0
    text = readme.read_text()
    assert "old" not in text and text.startswith("# title\n") and text.endswith("end\n")
    n_figures = len(table.FIGURES)
    assert text.count("| not measured yet |") == n_figures
    assert table.main([*args, "--check"]) == 0

    (results / "bench_accuracy.json").write_text(
        json.dumps(
            {
                "machine": {"cpu": "Test CPU", "cores": 2},
                "summary": {
                    "ours_default": {"digits_head_mnist": 0.99213},
                    "ours_default_batch": {"routing_error": 0.0123},
                },
            }
        )
    )
    assert table.main([*args, "--check"]) == 1
    assert table.main(args) == 0
    text = readme.read_text()
    assert (
        "| accuracy (`bench_accuracy.py`) | digits head alone, MNIST test | 99.21% |"
    ) in text
    assert (
        "|   routing error, look-alike pairs included | 1.23% | issue 12: <= 2.5% |"
        in text
    )
    assert "- `bench_accuracy.json`: cpu: Test CPU, cores: 2" in text
    assert text.count("| not measured yet |") == n_figures - 2
    assert table.main([*args, "--check"]) == 0
    capsys.readouterr()

    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit, match=r"README\.md has no benchmark-table markers"):
        table.main(args)


def _save_folder(folder, images, labels):
    for index, (image, label) in enumerate(zip(images, labels, strict=True)):
        (folder / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / label / f"{index:03d}.png")
    return folder


def test_lower_case_folder_warns_by_name(model_path, tmp_path, capsys):
    path, model = model_path
    images, labels = make_characters(30, classes="ABC", random_state=2)
    lower = np.char.lower(labels.astype(str))
    folder = _save_folder(tmp_path / "lower", images, lower)
    report = tmp_path / "report"
    assert main(["evaluate", str(path), str(folder), "--report", str(report)]) == 0
    captured = capsys.readouterr()
    counts = {label: int(np.sum(lower == label)) for label in "abc"}
    assert captured.err.splitlines() == [
        f"warning: labels 'a' ({counts['a']} images), 'b' ({counts['b']} images), "
        f"'c' ({counts['c']} images) are not classes of the model: these 30 images "
        "are counted wrong and left out of the per-task scores and the routing "
        "error"
    ]
    assert "combined:        0.00%" in captured.out
    assert "routing error:   0.00%" in captured.out  # no known label to route
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["unknown_labels"] == counts
    assert metrics["tasks"] == {}
    assert len(metrics["misclassified"]) == 30
    assert all(row["probability_true"] is None for row in metrics["misclassified"])
    assert "**warning: labels 'a'" in (report / "report.md").read_text()


def test_known_and_unknown_labels_together(model_path, eval_data, capsys):
    path, model = model_path
    images, labels = eval_data
    labels = labels.astype(str).copy()
    labels[:3] = ["x", "x", "?"]  # a lower-case letter and a symbol
    result = _report.evaluate(model, images, labels)
    metrics = result.metrics
    assert metrics["unknown_labels"] == {"?": 1, "x": 2}
    y_pred = model.predict(images)
    assert metrics["accuracy"] == pytest.approx(np.mean(y_pred == labels))
    expected = _expected_metrics(model, images[3:], labels[3:], task_prior="fixed")
    assert metrics["routing_error"] == pytest.approx(expected["routing_error"])
    assert metrics["tasks"]["digits"]["accuracy"] == pytest.approx(expected["digits"])
    assert sum(entry["n_samples"] for entry in metrics["tasks"].values()) == 69


def test_npz_with_sizes_scores_like_the_cropped_images(model_path, tmp_path):
    path, model = model_path
    crops, labels = make_characters(60, random_state=7)
    # ragged crops: each image cut to its ink's bounding box, padded to 30x32
    crops = [image[np.ix_(image.any(axis=1), image.any(axis=0))] for image in crops]
    # the padding is noise: read uncropped, it would be taken for ink
    padded = np.random.default_rng(0).integers(0, 256, (60, 30, 32), dtype=np.uint8)
    for index, crop in enumerate(crops):
        padded[index, : crop.shape[0], : crop.shape[1]] = crop
    sizes = np.array([crop.shape for crop in crops])
    data = tmp_path / "crops.npz"
    np.savez(data, images=padded, labels=labels, sizes=sizes)
    with open(os.devnull, "w") as devnull:
        metrics = run_evaluate(path, str(data), out=devnull)
    _check_metrics(metrics, _expected_metrics(model, crops, labels), 60)
    # and unlike the padded, uncropped images: the sizes were used
    assert not np.array_equal(model.predict(padded), model.predict(crops))


def test_transpose_reads_emnist_idx_upright(model_path, eval_data, tmp_path, capsys):
    path, model = model_path
    images, labels = eval_data
    names = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    save_idx(tmp_path / "t-images.gz", np.ascontiguousarray(images.transpose(0, 2, 1)))
    save_idx(
        tmp_path / "t-labels.gz",
        np.array([names.index(label) for label in labels], dtype=np.uint8),
    )
    argv = ["evaluate", str(path), str(tmp_path / "t-images.gz")]
    argv += [str(tmp_path / "t-labels.gz"), "--idx-label-names", names]
    expected = _expected_metrics(model, images, labels)
    assert main([*argv, "--transpose"]) == 0
    assert f"combined:        {expected['accuracy']:.2%}" in capsys.readouterr().out
    transposed = _expected_metrics(model, images.transpose(0, 2, 1), labels)
    assert transposed["accuracy"] != expected["accuracy"]  # orientation matters
    assert main(argv) == 0
    assert f"combined:        {transposed['accuracy']:.2%}" in capsys.readouterr().out


def test_report_names_every_misclassified_file(model_path, eval_data, tmp_path):
    import csv

    path, model = model_path
    images, labels = eval_data
    folder = _save_folder(tmp_path / "scans", images, labels)
    report = tmp_path / "report"
    assert main(["evaluate", str(path), str(folder), "--report", str(report)]) == 0
    model = clone_with_mix(model, images)  # the command's default task prior
    y_pred = model.predict(images)
    proba = model.predict_proba(images)
    order = np.argsort(labels, kind="stable")  # the folder is read label by label
    files = [str(folder / labels[i] / f"{i:03d}.png") for i in order]
    wrong = [k for k, i in enumerate(order) if y_pred[i] != labels[i]]
    assert wrong  # the small model makes mistakes to list
    with open(report / "misclassified.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [row["file"] for row in rows] == [files[k] for k in wrong]
    assert [int(row["index"]) for row in rows] == wrong
    for row, k in zip(rows, wrong, strict=True):
        i = order[k]
        assert (row["true"], row["predicted"]) == (labels[i], y_pred[i])
        # float32 kernels: a batch of another make-up rounds in the 6th decimal
        assert float(row["probability"]) == pytest.approx(proba[i].max(), abs=1e-4)
        column = list(model.classes_).index(labels[i])
        assert float(row["probability_true"]) == pytest.approx(
            proba[i, column], abs=1e-4
        )
    metrics = json.loads((report / "metrics.json").read_text())
    assert [row["file"] for row in metrics["misclassified"]] == [
        files[k] for k in wrong
    ]
    markdown = (report / "report.md").read_text()
    assert f"{len(wrong)} images; every one is listed in `misclassified.csv`" in (
        markdown
    )


def test_misclassified_grid_shows_files_and_originals(
    model_path, eval_data, tmp_path, monkeypatch
):
    from mtclassic import plotting

    path, model = model_path
    images, labels = eval_data
    # every other image on a larger canvas: originals of different sizes
    images = [np.pad(image, 4 * (index % 2)) for index, image in enumerate(images)]
    folder = _save_folder(tmp_path / "scans", images, labels)
    figures = []
    real = plotting.plot_misclassified

    def recording(*args, **kwargs):
        figures.append(real(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(plotting, "plot_misclassified", recording)
    argv = ["evaluate", str(path), str(folder), "--report", str(tmp_path / "r")]
    assert main([*argv, "--max-images", "4"]) == 0
    [fig] = figures
    titles = [ax.get_title() for ax in fig.axes]
    assert len(fig.axes) == 8  # 4 mistakes, each original beside its normalised
    originals, normalised = fig.axes[0::2], fig.axes[1::2]
    assert all(re.fullmatch(r"\.\.\..*/\d{3}\.png", t) for t in titles[0::2])
    assert all(re.match(r"true \w / pred \w\np=", t) for t in titles[1::2])
    for original, title in zip(originals, titles[0::2], strict=True):
        index = int(title[-7:-4])
        shape = original.images[0].get_array().shape
        assert shape == images[index].shape
    assert {ax.images[0].get_array().shape for ax in normalised} == {(28, 28)}


def _benchmark_module(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_compare_accuracy_flags_each_figure_worse_than_the_tolerance(tmp_path, capsys):
    compare = _benchmark_module("compare_accuracy")

    def variant(vote, routing, n=1000):
        figures = {"mnist/vote": vote, "mnist/routing_total": routing}
        details = {"mnist": {"n_samples": n}}
        return figures, details

    new_figures, details = variant(0.975, 0.020)
    old_figures, _ = variant(0.980, 0.020)
    batch_new, _ = variant(0.990, 0.010)
    batch_old, _ = variant(0.990, 0.012)  # routing: lower is better
    record = {
        "runs": {
            "in_source": {
                "figures": {
                    "ours_a": new_figures,
                    "ours_a_batch": batch_new,
                    "ours_b": old_figures,
                    "ours_b_batch": batch_old,
                },
                "per_fold": {"0": {"ours_a": {"details": details}}},
            }
        }
    }
    path = tmp_path / "r.json"
    path.write_text(json.dumps(record))
    out = tmp_path / "cmp.json"
    assert compare.main([f"{path}:ours_a", f"{path}:ours_b", "--out", str(out)]) == 1
    rows = {(r["row"], r["figure"]): r for r in json.loads(out.read_text())["rows"]}
    assert len(rows) == 4
    worse = rows[("fixed", "mnist/vote")]
    assert worse["worse"] and worse["gain_points"] == -0.5
    assert worse["gain_images"] == -5
    assert rows[("batch", "mnist/routing_total")]["gain_points"] == 0.2
    assert not any(r["worse"] for key, r in rows.items() if key[1] != "mnist/vote")
    assert (
        "worse -0.50 (-5 images): in_source fixed mnist/vote" in capsys.readouterr().out
    )
    # within the tolerance: exit 0
    assert compare.main([f"{path}:ours_a", f"{path}:ours_b", "--tolerance", "0.6"]) == 0
    with pytest.raises(SystemExit, match="no run of .* has variant 'ours_c'"):
        compare.main([f"{path}:ours_a", f"{path}:ours_c"])
    with pytest.raises(SystemExit, match="expected FILE.json:VARIANT"):
        compare.main([str(path), f"{path}:ours_b"])
    # another protocol (here: more images in the set) does not compare
    other = copy.deepcopy(record)
    other["runs"]["in_source"]["per_fold"]["0"]["ours_b"] = {
        "details": {"mnist": {"n_samples": 5000}}
    }
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other))
    with pytest.raises(SystemExit, match=r"differ in size \(mnist 1000 vs 5000"):
        compare.main([f"{path}:ours_a", f"{other_path}:ours_b"])


def _paired_record(tmp_path, name, y_true, votes, figures):
    """A bench_accuracy record of fold 0 of the in-source run (one set,
    ``mnist``), with its predictions file beside it."""
    store = {
        "in_source/0/y_true": y_true,
        "in_source/0/sets": np.array(["mnist"]),
        "in_source/0/sizes": np.array([len(y_true)]),
    }
    for model, vote in votes.items():
        store[f"in_source/0/{model}/vote"] = vote
        store[f"in_source/0/{model}/heads"] = y_true
    np.savez_compressed(tmp_path / f"{name}_predictions.npz", **store)
    details = {"mnist": {"n_samples": len(y_true)}}
    record = {
        "runs": {
            "in_source": {
                "figures": figures,
                "per_fold": {"0": {m: {"details": details} for m in figures}},
            }
        },
        "predictions": f"{name}_predictions.npz",
    }
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(record))
    return path


def test_compare_accuracy_tests_each_figure_image_by_image(tmp_path, capsys):
    # the same 1,000 images: "a" loses 5 digits (0.5 point: worse than the
    # tolerance, but 5 discordant images are chance, p = 0.0625) and "c"
    # sends 30 digits to the letters head as "E" (significant)
    compare = _benchmark_module("compare_accuracy")
    y_true = np.array([str(i % 10) for i in range(1000)])
    a, c = y_true.copy(), y_true.copy()
    a[:5] = np.where(y_true[:5] == "7", "1", "7")
    c[:30] = "E"

    def figures(vote):
        scores = {"mnist/vote": float(np.mean(vote == y_true))}
        misrouted = float(np.mean(vote == "E"))
        return {**scores, "mnist/routing_outside_pairs": misrouted}

    path = _paired_record(
        tmp_path,
        "r",
        y_true,
        {"ours_a": a, "ours_b": y_true, "ours_c": c},
        {"ours_a": figures(a), "ours_b": figures(y_true), "ours_c": figures(c)},
    )
    out = tmp_path / "cmp.json"
    argv = [f"{path}:ours_a", f"{path}:ours_b", "--out", str(out)]
    assert compare.main(argv) == 1  # worse than the tolerance ...
    assert compare.main([*argv, "--paired"]) == 0  # ... but not significantly
    written = json.loads(out.read_text())
    assert written["summary"] == {
        "figures": 2,
        "worse": 1,
        "better": 0,
        "tested": 2,
        "significantly_worse": 0,
        "significantly_better": 0,
    }
    rows = {r["figure"]: r for r in written["rows"]}
    vote = rows["mnist/vote"]
    assert (vote["only_new"], vote["only_old"]) == (0, 5)
    assert vote["p"] == pytest.approx(0.0625)
    assert vote["worse"] and not vote["significantly_worse"]
    assert rows["mnist/routing_outside_pairs"]["p"] == 1.0

    assert compare.main([f"{path}:ours_c", f"{path}:ours_b", "--paired"]) == 1
    printed = capsys.readouterr().out
    assert "2 significantly worse" in printed
    assert "worse: in_source fixed mnist/routing_outside_pairs" in printed
    # the other way round, the same figures are significantly better
    assert compare.main([f"{path}:ours_b", f"{path}:ours_c", "--paired"]) == 0
    assert "0 significantly worse, 2 significantly better" in capsys.readouterr().out

    # other test images: no pairing
    other = _paired_record(
        tmp_path,
        "s",
        y_true[::-1].copy(),
        {"ours_b": y_true},
        {"ours_b": figures(y_true)},
    )
    with pytest.raises(SystemExit, match="test images differ"):
        compare.main([f"{path}:ours_a", f"{other}:ours_b"])
    # without the predictions file, the tolerance alone decides; --paired stops
    (tmp_path / "r_predictions.npz").unlink()
    assert compare.main([f"{path}:ours_c", f"{path}:ours_b"]) == 1
    assert "no predictions beside both files" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="--paired: both files need"):
        compare.main([f"{path}:ours_a", f"{path}:ours_b", "--paired"])
