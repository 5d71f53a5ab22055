"""The letters head alone: the forest against the SVM, chosen on training letters only.

Every candidate is the letters head of :func:`mtclassic.make_default_model`
(its normalizer, features and ``vote``'s letters estimator, fitted on the
letters alone; no digits, no vote), built with the keywords of
:data:`CANDIDATES`. On the letters of the accuracy protocol
(``bench_accuracy.py``):

- ``validation`` (the figures a choice is made on): a stratified fifth (by
  source and label) of the in-source run's training letters (EMNIST a-m even
  rows, the handwritten62 training folds of fold 0, az_sample even rows),
  the head fitted on the other four fifths; accuracy per source. And
  ``unseen_az``: fitted on the cross-source run's EMNIST and synthetic
  letters, scored on az_sample's even rows, a source it never saw (a stand-in
  for a new source, without the test sets);
- ``test``: fitted on all the in-source training letters, scored on EMNIST
  a-m odd rows, az_sample odd rows and the held-out handwritten62 letters of
  fold 0; and ``cross_hw62_letters``: fitted on the cross-source run's letters
  (EMNIST, az_sample even rows, ``--n-synthetic`` synthetic letters, no
  handwritten62), scored on every handwritten62 letter (case merged).

Each row also has the fit time, the head's predict time per image on its
features, wall and CPU (all threads: the forest predicts on ``--n-jobs``
threads, the SVM's BLAS on one), the best of three calls on the EMNIST test
rows (the normalizer and the features, the same for every head, left out),
and the support vectors of an SVM head. Writes
``benchmarks/results/bench_letters_head.json``.

    python benchmarks/bench_letters_head.py                      # DEFAULT
    python benchmarks/bench_letters_head.py --candidates forest,svm --quick
    python benchmarks/bench_letters_head.py --candidates accurate \
        --learning-curve 0.25,0.5,0.75,1 --out benchmarks/results/\
bench_letters_head_curve.json          # how much the letters head gains from data

``--learning-curve``: each candidate is also fitted on those fractions of the
in-source training letters (stratified by source and label; the test sets
unchanged), and scored on the test sets: whether the head is short of
letters, and about how many more it would need.
    python benchmarks/bench_letters_head.py --out benchmarks/results/\
bench_letters_head_levers.json --candidates svm_C3,svm_C30,svm_pca50,\
svm_pca200,svm_pca_all,svm_vsv                               # the SVM's levers
"""

import time

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    cross_source_sets,
    in_source_sets,
    load_data,
    machine,
    make_parser,
    names,
    parse,
    utc_date,
    write_json,
)
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from mtclassic import make_default_model
from mtclassic.datasets import make_characters

#: name -> (keywords of make_default_model, then set_params of the model);
#: the accurate preset's settings otherwise, on the 7 x 7 pixel cells it had
#: when these were measured (BEFORE_CELLS; a candidate naming a preset gets
#: that preset as it is)
HOG4 = (4, 4)  # HOG cells of 4 x 4 pixels instead of 7 x 7: 1,296 columns
BEFORE_CELLS = {"digits_cells": 7, "letters_cells": 7}
CANDIDATES = {
    "forest": ({"letters_head": "forest"}, {}),
    # the accurate preset's letters head as it is now
    "accurate": ({"preset": "accurate"}, {}),
    # the best preset's letters head as it is now (issue 12: svm_copies2_hog4_pca200
    # with full-resolution pixels, best_pix1; best_pix2 is it before those)
    "best": ({"preset": "best"}, {}),
    "best_pix2": ({"preset": "best", "letters_pixels": 2}, {}),
    "forest_copies2": ({"letters_head": "forest", "letters_copies": 2}, {}),
    "svm": ({"letters_head": "svm"}, {}),
    "svm_hog4": ({"letters_head": "svm"}, {"features__hog__pixels_per_cell": HOG4}),
    "svm_copies2": ({"letters_head": "svm", "letters_copies": 2}, {}),
    "svm_copies2_hog4": (
        {"letters_head": "svm", "letters_copies": 2},
        {"vote__letters__estimator__features__hog__pixels_per_cell": HOG4},
    ),
    # the SVM's own levers
    "svm_C3": ({"letters_head": "svm"}, {"vote__letters__C": 3.0}),
    "svm_C30": ({"letters_head": "svm"}, {"vote__letters__C": 30.0}),
    "svm_pca50": ({"letters_head": "svm"}, {"vote__letters__pca_components": 50}),
    "svm_pca200": ({"letters_head": "svm"}, {"vote__letters__pca_components": 200}),
    "svm_pca_all": ({"letters_head": "svm"}, {"vote__letters__pca_components": None}),
    # virtual support vectors (method="vsv") instead of distorted copies
    "svm_vsv": (
        {"letters_head": "svm", "letters_copies": 1},
        {"vote__letters__method": "vsv"},
    ),
}
# the best preset's letters head (copies, 4 x 4 cells) and its levers (issue 12)
_COPIES_HOG4 = CANDIDATES["svm_copies2_hog4"]
_HEAD = "vote__letters__estimator__"
CANDIDATES |= (
    {
        f"svm_copies2_hog4_{suffix}": (_COPIES_HOG4[0], {**_COPIES_HOG4[1], **params})
        for suffix, params in {
            "C3": {f"{_HEAD}svm__C": 3.0},
            "C30": {f"{_HEAD}svm__C": 30.0},
            "pca200": {f"{_HEAD}svm__pca_components": 200},
            "pca300": {f"{_HEAD}svm__pca_components": 300},
            "or12": {f"{_HEAD}features__hog__orientations": 12},
            "strength15": {"vote__letters__strength": 1.5},
            "strength05": {"vote__letters__strength": 0.5},
            "pix1": {f"{_HEAD}features__pixels__downsample": 1},
            "sqrt": {f"{_HEAD}features__hog__transform_sqrt": True},
            "C3_or12": {
                f"{_HEAD}svm__C": 3.0,
                f"{_HEAD}features__hog__orientations": 12,
            },
        }.items()
    }
    | {
        f"svm_copies{n}_hog4": (
            {**_COPIES_HOG4[0], "letters_copies": n},
            _COPIES_HOG4[1],
        )
        for n in (3, 4)
    }
    | {
        # levers on top of the best preset's letters head before its
        # full-resolution pixels (letters_pixels=2)
        f"best_{suffix}": ({"preset": "best", "letters_pixels": 2, **keywords}, params)
        for suffix, keywords, params in [
            ("copies3", {"letters_copies": 3}, {}),
            ("pix1", {}, {f"{_HEAD}features__pixels__downsample": 1}),
            ("sqrt", {}, {f"{_HEAD}features__hog__transform_sqrt": True}),
            # the pixels' weight in the kernel at 14 x 14 (global scaling
            # keeps it): about the distance full-resolution pixels give them
            ("pixw2", {}, {f"{_HEAD}features__transformer_weights": {"pixels": 2}}),
            ("affine", {}, {"vote__letters__elastic": False}),
        ]
    }
)
# levers on top of full-resolution pixels (best_pix1, the best preset since)
_PIX1 = {f"{_HEAD}features__pixels__downsample": 1}
CANDIDATES |= {
    f"best_pix1_{suffix}": ({"preset": "best"}, {**_PIX1, **params})
    for suffix, params in {
        "pca300": {f"{_HEAD}svm__pca_components": 300},
        "or12": {f"{_HEAD}features__hog__orientations": 12},
        "C30": {f"{_HEAD}svm__C": 30.0},
        "pixw15": {f"{_HEAD}features__transformer_weights": {"pixels": 1.5}},
        "pixw07": {f"{_HEAD}features__transformer_weights": {"pixels": 0.7}},
        "affine": {"vote__letters__elastic": False},
        "hog3": {f"{_HEAD}features__hog__pixels_per_cell": (3, 3)},
        "block3": {f"{_HEAD}features__hog__cells_per_block": (3, 3)},
        # about 2.7 and 0.7 times the kernel width "scale" gives it (4.4e-4
        # on 3,000 training letters)
        "gamma12": {f"{_HEAD}svm__gamma": 0.0012},
        "gamma03": {f"{_HEAD}svm__gamma": 0.0003},
        # the SVM on more of the rows: a smaller calibration holdout (2,000
        # by default), or none (3-fold cross-fitted calibration, then a refit)
        "cal500": {f"{_HEAD}svm__calibration_size": 500},
        "cv": {f"{_HEAD}svm__calibration": "cv"},
    }.items()
}
#: candidates run by default (the others: --candidates NAME,...)
DEFAULT = [
    "forest",
    "forest_copies2",
    "svm",
    "svm_hog4",
    "svm_copies2",
    "svm_copies2_hog4",
]
QUICK = {"n_synthetic": 1_000, "n_rows": 1_500}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_letters_head.json", n_jobs=2)
    parser.add_argument(
        "--candidates",
        default=",".join(DEFAULT),
        help=f"comma-separated, of: {', '.join(CANDIDATES)}",
    )
    parser.add_argument("--n-synthetic", type=int, default=10_000)
    parser.add_argument(
        "--n-rows",
        type=int,
        default=None,
        help="at most this many rows of every training and test set (strided)",
    )
    parser.add_argument(
        "--validation-only",
        action="store_true",
        help="the validation figures only (no test, timing or cross-source fits): "
        "to screen candidates before the chosen ones are tested",
    )
    parser.add_argument(
        "--learning-curve",
        default="",
        help="comma-separated fractions in (0, 1] of the training letters: each "
        "candidate is also fitted on that many and tested",
    )
    add_quick(parser, QUICK)
    args = parse(parser, argv, QUICK)
    try:
        args.fractions = [float(f) for f in names(args.learning_curve)]
    except ValueError:
        args.fractions = None
    if args.fractions is None or not all(0 < f <= 1 for f in args.fractions):
        raise SystemExit(
            "--learning-curve: expected fractions in (0, 1] separated by commas, "
            f"got {args.learning_curve!r}."
        )
    return args


def letters_of(part, n_rows=None):
    """The letter rows of ``(X, y)`` as ``(list of images, labels)``."""
    X, y = part
    y = np.asarray(y).astype(str)
    rows = np.flatnonzero(~np.char.isdigit(y))
    if n_rows is not None and rows.size > n_rows:
        rows = rows[np.linspace(0, rows.size - 1, n_rows).round().astype(int)]
    return [X[i] for i in rows], y[rows]


def letters_head(keywords, params, args):
    """The letters head of the model, on raw images: normalize (-> features) -> head."""
    if "preset" not in keywords:
        keywords = {**BEFORE_CELLS, **keywords}
    model = make_default_model(
        random_state=args.random_state, n_jobs=args.n_jobs, **keywords
    ).set_params(**params)
    head = dict(model.named_steps["vote"].estimators)["letters"]
    steps = [step for step in model.steps if step[0] != "vote"]
    return Pipeline([*steps, ("letters", head)])


def head_features(fitted):
    """(head on feature rows, feature map of raw images) of a fitted chain."""
    head = fitted.named_steps["letters"]
    if hasattr(head, "estimator_"):  # distorted copies: the head's own features
        features, head = head.estimator_[:-1], head.estimator_[-1]
        return head, lambda X: features.transform(fitted[:-1].transform(X))
    return head, fitted[:-1].transform


def accuracy(chain, X, y):
    return round(100 * float(np.mean(chain.predict(X) == y)), 2)


def measure(name, sets, args):
    keywords, params = CANDIDATES[name]
    chain = letters_head(keywords, params, args)
    record = {"name": name, "keywords": keywords, "params": params}
    # validation: a fifth of the in-source training letters, per source
    X, y, source = sets["train"]
    fit_rows, val_rows = train_test_split(
        np.arange(len(y)),
        test_size=0.2,
        random_state=args.random_state,
        stratify=np.char.add(source, y),
    )
    fitted = clone(chain).fit([X[i] for i in fit_rows], y[fit_rows])
    predicted = fitted.predict([X[i] for i in val_rows])
    record["validation"] = {
        part: round(
            100 * float(np.mean((predicted == y[val_rows])[source[val_rows] == part])),
            2,
        )
        for part in np.unique(source).tolist()
    }
    record["validation"]["all"] = round(
        100 * float(np.mean(predicted == y[val_rows])), 2
    )
    unseen_X, unseen_y = sets["unseen_train"]
    fitted = clone(chain).fit(unseen_X, unseen_y)
    record["validation"]["unseen_az"] = accuracy(fitted, *sets["unseen_test"])
    if args.validation_only:
        print(name, record, flush=True)
        return record
    # test: the in-source run's letters, then the cross-source run's
    start = time.perf_counter()
    fitted = clone(chain).fit(X, y)
    record["fit_s"] = round(time.perf_counter() - start, 1)
    record["test"] = {
        test: accuracy(fitted, *sets[test]) for test in ("emnist", "az", "hw62_letters")
    }
    head, features = head_features(fitted)
    F = features(sets["emnist"][0])
    wall, cpu = np.min(
        [_seconds(head.predict_proba, F) for _ in range(3)], axis=0
    ).tolist()
    record["predict_us_per_image"] = round(wall / len(F) * 1e6, 1)
    record["predict_cpu_us_per_image"] = round(cpu / len(F) * 1e6, 1)
    svm = getattr(head, "svm_", None)
    record["support_vectors"] = None if svm is None else int(svm.support_.size)
    cross = clone(chain).fit(*sets["cross_train"])
    record["test"]["cross_hw62_letters"] = accuracy(cross, *sets["cross_hw62_letters"])
    print(name, record, flush=True)
    return record


def learning_curve(name, sets, args):
    """The candidate fitted on each of ``args.fractions`` of the training
    letters, scored on the test sets."""
    keywords, params = CANDIDATES[name]
    chain = letters_head(keywords, params, args)
    X, y, source = sets["train"]
    points = []
    for fraction in args.fractions:
        rows = np.arange(len(y))
        if fraction < 1:
            rows = train_test_split(
                rows,
                train_size=fraction,
                random_state=args.random_state,
                stratify=np.char.add(source, y),
            )[0]
        fitted = clone(chain).fit([X[i] for i in rows], y[rows])
        point = {
            "fraction": fraction,
            "n_train": int(rows.size),
            "n_train_by_source": {
                part: int(np.sum(source[rows] == part))
                for part in np.unique(source).tolist()
            },
            "test": {
                test: accuracy(fitted, *sets[test])
                for test in ("emnist", "az", "hw62_letters")
            },
        }
        print(name, "learning curve", point, flush=True)
        points.append(point)
    return points


def _seconds(function, *args):
    """(wall, CPU) seconds of one call; CPU counts every thread of the process."""
    start, start_cpu = time.perf_counter(), time.process_time()
    function(*args)
    return time.perf_counter() - start, time.process_time() - start_cpu


def letter_sets(args):
    """The letters of the in-source run (fold 0) and of the cross-source run."""
    data = load_data(args.data_dir, n_digits_train=1, n_digits_test=1)
    train, tests = in_source_sets(data, 0, random_state=args.random_state)
    synthetic = make_characters(
        args.n_synthetic,
        classes="letters",
        letter_case="mixed",
        random_state=args.random_state,
    )
    cross_train, cross_tests = cross_source_sets(data, synthetic)
    n = args.n_rows
    # the in-source training letters, in source order (in_source_sets)
    X, y = letters_of(train)
    n_emnist, n_az = len(data["emnist_train"][1]), len(data["az_train"][1])
    sizes = {"emnist": n_emnist, "hw62": len(y) - n_emnist - n_az, "az": n_az}
    source = np.repeat(list(sizes), list(sizes.values()))
    if n is not None and len(y) > n:
        rows = np.linspace(0, len(y) - 1, n).round().astype(int)
        X, y, source = [X[i] for i in rows], y[rows], source[rows]
    emnist_synthetic = letters_of(
        ([*data["emnist_train"][0], *synthetic[0]],
         np.concatenate([data["emnist_train"][1], synthetic[1]])), n)  # fmt: skip
    return {
        "train": (X, y, source),
        "unseen_train": emnist_synthetic,
        "unseen_test": letters_of(data["az_train"], n),
        "emnist": letters_of(tests["emnist"], n),
        "az": letters_of(tests["az"], n),
        "hw62_letters": letters_of(tests["hw62_letters"], n),
        "cross_train": letters_of(cross_train, n),
        "cross_hw62_letters": letters_of(cross_tests["hw62_letters"], n),
    }


def main(argv=None):
    args = parse_args(argv)
    chosen = names(args.candidates, CANDIDATES, "--candidates")
    sets = letter_sets(args)
    records = []
    for name in chosen:  # written after each, so a stopped run keeps its rows
        records.append(measure(name, sets, args))
        if args.fractions:
            records[-1]["learning_curve"] = learning_curve(name, sets, args)
        write_json(
            args.out,
            {
                "benchmark": "bench_letters_head",
                "command": command_line(__file__, argv),
                "date": utc_date(),
                "machine": machine(),
                "rows": {name: len(part[1]) for name, part in sets.items()},
                "candidates": records,
                "complete": len(records) == len(chosen),
            },
        )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
