"""Write the three notebooks of this folder, without outputs, from the cells below.

The notebooks are generated rather than edited by hand so that what is committed
is exactly these cells: no outputs, no execution counts, stable metadata. Edit
the cells here and run

    python notebooks/make_notebooks.py

``tests/test_notebooks.py`` executes the notebooks with small sizes
(``MTCLASSIC_NOTEBOOK_SMALL=1``) and checks that they match this script.
"""

import sys
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

# Cells shared by the notebooks: sizes from the environment, plots inline.
SETUP = """\
import os

# MTCLASSIC_NOTEBOOK_SMALL=1 (set by the test suite) runs everything on tiny sizes.
SMALL = os.environ.get("MTCLASSIC_NOTEBOOK_SMALL") == "1"
"""


def _cells(*items):
    """Notebook cells from (kind, text) pairs; kind is "md" or "code"."""
    cells = []
    for kind, text in items:
        text = dedent(text).strip("\n")
        cells.append(new_markdown_cell(text) if kind == "md" else new_code_cell(text))
    return cells


QUICKSTART = _cells(
    (
        "md",
        """
        # mtclassic quick start

        From the embedded synthetic data to a fitted multi-task model, its
        accuracy per task, and the figures that show where it errs. Everything
        runs offline in a minute or two.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        import time

        import matplotlib.pyplot as plt

        from mtclassic import make_default_model
        from mtclassic.datasets import make_characters
        from mtclassic.plotting import (
            model_tasks,
            plot_confusion_matrix,
            plot_hog,
            plot_misclassified,
            plot_task_accuracy,
            task_accuracy,
        )

        n_train, n_test = (1080, 360) if SMALL else (8000, 2000)
        """,
    ),
    (
        "md",
        """
        ## The embedded data

        `make_characters` draws handwriting-like digits 0-9 and letters A-Z from
        pen-stroke templates, with random affine and elastic distortions, in the
        MNIST geometry (28x28, ink bright on dark). The same `random_state`
        gives the same images.
        """,
    ),
    (
        "code",
        """
        X_train, y_train = make_characters(n_train, random_state=0)
        X_test, y_test = make_characters(n_test, random_state=1)
        print(X_train.shape, X_train.dtype, "labels:", "".join(sorted(set(y_train))))

        fig, axes = plt.subplots(2, 12, figsize=(12, 2.4))
        for ax, image, label in zip(axes.flat, X_train, y_train, strict=False):
            ax.imshow(image, cmap="gray")
            ax.set_title(label)
            ax.set_axis_off()
        """,
    ),
    (
        "md",
        """
        ## The default model

        One scikit-learn `Pipeline`: `ImageNormalizer` -> HOG and pixel features
        (computed once) -> `MultiTaskVotingClassifier` with an SVM head for the
        digits and a random forest for the letters, whose probabilities are
        combined into one distribution over the 36 labels.
        """,
    ),
    (
        "code",
        """
        model = make_default_model(random_state=0)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        print(f"fitted on {n_train} images in {time.perf_counter() - start:.1f} s")
        model
        """,
    ),
    (
        "md",
        """
        ## Accuracy per task

        An image belongs to the task of its true label. The routing error is
        the share of images given a label of the other task, such as a `0`
        read as an `O`.
        """,
    ),
    (
        "code",
        """
        vote = model[-1]
        tasks = model_tasks(model)  # {"digits": ["0", ...], "letters": ["A", ...]}
        proba = model.predict_proba(X_test)
        y_pred = model.classes_[proba.argmax(axis=1)]
        scores = task_accuracy(y_test, y_pred, tasks=tasks)
        for task, entry in scores["tasks"].items():
            print(f"{task:<8} {entry['accuracy']:.1%} of {entry['n_samples']} images")
        print(f"combined {scores['accuracy']:.1%}, routing error {scores['routing_error']:.1%}")
        assert scores["accuracy"] > 0.5, "far below what the default model reaches"
        """,
    ),
    (
        "code",
        """
        plot_task_accuracy(y_test, y_pred, tasks=tasks);
        """,
    ),
    (
        "md",
        """
        ## Where it errs

        The confusion matrix is ordered task by task; the red squares are the
        task blocks, so everything outside them is a routing error.
        """,
    ),
    (
        "code",
        """
        plot_confusion_matrix(y_test, y_pred, tasks=tasks, normalize="true");
        """,
    ),
    (
        "code",
        """
        plot_misclassified(
            X_test, y_test, y_pred, proba, classes=model.classes_, max_images=15
        );
        """,
    ),
    (
        "md",
        """
        Each head also gives the probability that an image belongs to its task;
        `predict_task_proba` returns them for the features of the images.
        """,
    ),
    (
        "code",
        """
        features = model[:-1].transform(X_test[:5])
        task_proba = vote.predict_task_proba(features)
        for label, row in zip(y_test[:5], task_proba, strict=True):
            print(label, dict(zip(vote.tasks_.tolist(), row.round(3).tolist(), strict=True)))
        """,
    ),
    (
        "md",
        """
        ## What the features see

        The histogram of oriented gradients of one normalised image: in every
        7x7-pixel cell, one line per orientation, along the edges.
        """,
    ),
    (
        "code",
        """
        normalized = model.named_steps["normalize"].transform(X_test[:1]).reshape(28, 28)
        plot_hog(normalized);
        """,
    ),
)

GRID_SEARCH = _cells(
    (
        "md",
        """
        # Grid search over the vote, the membership mode and a head

        `make_default_model()` is one `Pipeline`, so `GridSearchCV` tunes the
        task weights, the task-membership mode (`"other"` or `"gate"`) and a
        head parameter together, with nested names such as
        `vote__digits__C`.

        The data are real when `../shared/data` (beside the repository) or the
        folder in `MTCLASSIC_DATA` holds them: MNIST digits and the
        handwritten62 letters (upper and lower case merged). Otherwise, or with
        `MTCLASSIC_DATA=synthetic`, they are generated.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        from pathlib import Path

        import matplotlib.pyplot as plt
        import numpy as np
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        from mtclassic import ImageNormalizer, make_default_model
        from mtclassic.datasets import make_characters


        def find_data_dir():
            setting = os.environ.get("MTCLASSIC_DATA")
            if setting:
                return None if setting == "synthetic" else Path(setting)
            for folder in (Path.cwd(), *Path.cwd().parents):
                candidate = folder / "shared" / "data"
                if (candidate / "mnist_train" / "mnist_train.npz").exists():
                    return candidate
                if (folder / "pyproject.toml").exists():  # the repository's root
                    candidate = folder.parent / "shared" / "data"
                    return candidate if candidate.exists() else None
            return None


        data_dir = find_data_dir()
        per_class = 8 if SMALL else 60
        print("data:", data_dir or "generated (make_characters)")
        """,
    ),
    (
        "code",
        """
        rng = np.random.default_rng(0)


        def sample_per_class(labels, n):
            return np.concatenate(
                [
                    rng.choice(np.flatnonzero(labels == label), n, replace=False)
                    for label in np.unique(labels)
                ]
            )


        if data_dir is None:
            X, y = make_characters(36 * per_class, random_state=0)
        else:
            with np.load(data_dir / "mnist_train" / "mnist_train.npz") as mnist:
                digits, digit_labels = mnist["images"], mnist["labels"]
            keep = sample_per_class(digit_labels, per_class)
            X_digits, y_digits = digits[keep], digit_labels[keep]
            with np.load(data_dir / "handwritten62_bpr" / "handwritten62_bpr.npz") as h62:
                letters = np.char.isalpha(h62["labels"])
                images, labels, sizes = (
                    h62["images"][letters],
                    h62["labels"][letters],
                    h62["sizes"][letters],
                )
            labels = np.char.upper(labels)  # 26 classes, case merged
            keep = sample_per_class(labels, per_class)
            crops = [images[i, : sizes[i, 0], : sizes[i, 1]] for i in keep]
            # Photos of any size -> MNIST geometry, so that all images stack.
            X_letters = (
                (ImageNormalizer().transform(crops) * 255).astype(np.uint8).reshape(-1, 28, 28)
            )
            X = np.concatenate([X_digits, X_letters])
            y = np.concatenate([y_digits, labels[keep]])
        print(X.shape, "classes:", len(np.unique(y)))
        """,
    ),
    (
        "md",
        """
        ## The grid

        Weights shift the vote towards one task; the membership mode says how
        the vote learns which task an image belongs to; `C` is the digit SVM's
        regularisation.
        """,
    ),
    (
        "code",
        """
        param_grid = {
            "vote__weights": [[1.0, 1.0], [1.0, 0.5]] + ([] if SMALL else [[0.5, 1.0]]),
            "vote__membership": ["other", "gate"],
            "vote__digits__C": [1.0, 10.0] if SMALL else [1.0, 5.0, 25.0],
        }
        search = GridSearchCV(
            make_default_model(random_state=0),
            param_grid,
            cv=StratifiedKFold(2 if SMALL else 4, shuffle=True, random_state=0),
            n_jobs=-1,
        )
        search.fit(X, y)
        print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")
        """,
    ),
    (
        "code",
        """
        results = search.cv_results_
        order = np.argsort(results["rank_test_score"])
        print(
            f"{'rank':>4}  {'weights':<12}{'membership':<12}{'C':>6}  {'accuracy':>9}  {'std':>6}"
        )
        for i in order:
            print(
                f"{results['rank_test_score'][i]:>4}  "
                f"{str(results['param_vote__weights'][i]):<12}"
                f"{results['param_vote__membership'][i]:<12}"
                f"{results['param_vote__digits__C'][i]:>6}  "
                f"{results['mean_test_score'][i]:>9.3f}  {results['std_test_score'][i]:>6.3f}"
            )
        """,
    ),
    (
        "md",
        """
        ## Heat map

        Mean cross-validated accuracy over weights and `C`, one panel per
        membership mode.
        """,
    ),
    (
        "code",
        """
        weights = [str(w) for w in param_grid["vote__weights"]]
        Cs = param_grid["vote__digits__C"]
        modes = param_grid["vote__membership"]
        fig, axes = plt.subplots(1, len(modes), figsize=(5 * len(modes), 3.5), squeeze=False)
        scores = np.empty((len(modes), len(weights), len(Cs)))
        for i, params in enumerate(results["params"]):
            scores[
                modes.index(params["vote__membership"]),
                weights.index(str(params["vote__weights"])),
                Cs.index(params["vote__digits__C"]),
            ] = results["mean_test_score"][i]
        for ax, mode, grid in zip(axes[0], modes, scores, strict=False):
            image = ax.imshow(grid, cmap="viridis", vmin=scores.min(), vmax=scores.max())
            ax.set_xticks(range(len(Cs)), [str(C) for C in Cs])
            ax.set_yticks(range(len(weights)), weights)
            ax.set_xlabel("vote__digits__C")
            ax.set_ylabel("vote__weights")
            ax.set_title(f"membership={mode!r}")
            for (row, col), value in np.ndenumerate(grid):
                ax.text(col, row, f"{value:.3f}", ha="center", va="center", color="w")
        fig.colorbar(image, ax=axes.ravel().tolist(), label="mean accuracy");
        """,
    ),
)

BATCH_SCORING = _cells(
    (
        "md",
        """
        # Batch scoring: save, load, score a folder, and the same on Dask

        A fitted model is saved with a metadata record (versions, classes,
        SHA-256) and loaded with its checks; `score_files` scores image files
        chunk by chunk into a CSV; with a Dask `Client` the chunks are scored on
        a cluster. Here the cluster is a local one with two worker processes.
        """,
    ),
    ("code", SETUP),
    (
        "code",
        """
        import csv
        import tempfile
        from pathlib import Path

        import numpy as np
        from PIL import Image

        from mtclassic import load_model, make_default_model, save_model, score_files
        from mtclassic.datasets import make_characters

        n_train, n_score = (720, 144) if SMALL else (6000, 2000)
        workdir = Path(tempfile.mkdtemp(prefix="mtclassic-notebook-"))
        print("working in", workdir)
        """,
    ),
    ("md", "## Fit, save, load"),
    (
        "code",
        """
        X_train, y_train = make_characters(n_train, random_state=0)
        model = make_default_model(random_state=0).fit(X_train, y_train)
        model_path = workdir / "model.joblib"
        save_model(model, model_path)
        print(sorted(p.name for p in workdir.iterdir()))

        loaded = load_model(model_path)
        X_new, y_new = make_characters(n_score, random_state=1)
        assert (loaded.predict_proba(X_new) == model.predict_proba(X_new)).all()
        """,
    ),
    (
        "md",
        """
        ## Score a folder of images

        The images are written as PNG files, one sub-folder per label, as a
        user's scans would be. `score_files` writes one CSV row per image: its
        id (the file), the predicted label, its task and probability.
        """,
    ),
    (
        "code",
        """
        folder = workdir / "images"
        for i, (image, label) in enumerate(zip(X_new, y_new, strict=True)):
            (folder / label).mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / label / f"{i:05d}.png")

        summary = score_files(model_path, folder, workdir / "scores.csv", top_k=2)
        print(summary)
        with open(workdir / "scores.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        print(rows[0])
        truth = [Path(row["id"]).parent.name for row in rows]
        accuracy = np.mean([row["label"] == t for row, t in zip(rows, truth, strict=True)])
        print(f"{len(rows)} images scored, accuracy {accuracy:.1%}")
        assert len(rows) == n_score
        """,
    ),
    (
        "md",
        """
        ## The same on a Dask cluster

        A `LocalCluster` on 127.0.0.1 with two worker processes stands in for a
        real cluster (give `Client` the scheduler's address instead). The model
        is sent to each worker once; the chunks' pixels travel with the tasks.

        The answers do not depend on where they are computed: the labels are
        identical, and the probabilities equal within
        `mtclassic.scoring.PROBABILITY_TOLERANCE` (1e-4). Each scoring process
        runs BLAS on one thread, so on one machine even the bytes are the same;
        on another CPU the float32 kernels round differently, hence the
        tolerance.
        """,
    ),
    (
        "code",
        """
        from distributed import Client, LocalCluster

        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = Client(cluster)
        client
        """,
    ),
    (
        "code",
        """
        from mtclassic.scoring import PROBABILITY_TOLERANCE

        score_files(model_path, folder, workdir / "scores_dask.csv", top_k=2, client=client)
        with open(workdir / "scores_dask.csv", newline="") as f:
            dask_rows = list(csv.DictReader(f))
        columns = ["probability", "probability_2"]
        same_labels = [(r["id"], r["label"], r["label_2"]) for r in rows] == [
            (r["id"], r["label"], r["label_2"]) for r in dask_rows
        ]
        gap = np.abs(
            np.array([[float(r[c]) for c in columns] for r in rows])
            - np.array([[float(r[c]) for c in columns] for r in dask_rows])
        ).max()
        same = same_labels and gap <= PROBABILITY_TOLERANCE
        print(
            f"labels identical: {same_labels}; largest probability difference {gap:.1e} "
            f"(tolerance {PROBABILITY_TOLERANCE:.0e})"
        )
        print("Dask output identical to the local one:", same)
        assert same
        """,
    ),
    (
        "md",
        """
        Arrays that are already in memory, or in a `dask.array`, are scored
        lazily block by block with `predict_dask`.
        """,
    ),
    (
        "code",
        """
        import dask.array as da

        from mtclassic import predict_dask

        X_dask = da.from_array(X_new, chunks=(max(n_score // 4, 1), 28, 28))
        labels = predict_dask(model, X_dask)
        print(labels)
        assert (labels.compute() == model.predict(X_new)).all()
        """,
    ),
    (
        "code",
        """
        import shutil

        client.close()
        cluster.close()
        shutil.rmtree(workdir)  # the model, the images and the scores
        """,
    ),
)

NOTEBOOKS = {
    "01_quickstart.ipynb": QUICKSTART,
    "02_grid_search.ipynb": GRID_SEARCH,
    "03_batch_scoring.ipynb": BATCH_SCORING,
}


def build(cells):
    """A notebook of ``cells`` with no outputs and a python3 kernel."""
    notebook = new_notebook(cells=cells)
    notebook.metadata = {
        "kernelspec": {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    # nbformat gives cells random ids; stable ones keep the files unchanged
    # from one run of this script to the next.
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{index:02d}"
    nbformat.validate(notebook)
    return notebook


def render(cells):
    """The notebook file's text."""
    return nbformat.writes(build(cells)) + "\n"


def main():
    sys.path.insert(0, str(HERE.parent))  # the checkout's mtclassic
    from mtclassic.datasets._base import atomic_writer

    for name, cells in NOTEBOOKS.items():
        with atomic_writer(HERE / name) as file:
            file.write(render(cells).encode("utf-8"))
        print("wrote", f"notebooks/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
