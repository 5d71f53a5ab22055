"""A projection before the kernel: fit time, predict speed and accuracy of the SVMs.

Measures :class:`mtclassic.heads.DigitClassifier` with ``pca_components`` (and
``pca_whiten``, libsvm's ``cache_size`` and ``shrinking``) in the two roles it
plays in :func:`mtclassic.make_default_model`, on real data (``--data-dir``):

- ``digits``: the digits head, fitted on the first ``--n-digits`` MNIST training
  digits, tested on the MNIST test split (10,000);
- ``gate``: the digit-vs-letter gate, fitted on the same digits + the even rows
  of the EMNIST letters a-m we have (transposed, as stored) and of
  ``az_sample``; tested on MNIST test + the odd rows of both (accuracy: images
  sent to their own task).

Images go through ``ImageNormalizer(deskew=True)`` and ``make_features()`` (the
accurate preset's), computed once. Every setting is one fit; BLAS is pinned to
one thread, so CPU seconds are one core's. Reported per setting: fit CPU
seconds, predict images/s (``predict_proba`` of the SVM on feature rows, one
core), accuracy and the number of support vectors.

    python benchmarks/bench_svm_projection.py --role digits \\
        --settings none,pca30,pca50,pca80,pca120,white30,white50,white80
    python benchmarks/bench_svm_projection.py --role gate --settings none,pca50

A setting is ``none`` or ``pca<k>`` / ``white<k>`` (k components; ``white``:
whitened), optionally followed by ``+cache<MB>``, ``+noshrink``, ``+nys<k>`` (a
``k``-component Nystroem map + ``LinearSVC``) and/or ``+fullgamma``
(``gamma`` of the unprojected rows instead of the projected ones).
Results are appended, one JSON line per setting, to ``--out``.
"""

import json
import time
from pathlib import Path

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import add_quick, load_data, make_parser, parse
from sklearn.pipeline import make_pipeline

from mtclassic.features import make_features
from mtclassic.heads import DigitClassifier
from mtclassic.preprocessing import ImageNormalizer
from mtclassic.strokes import StrokeRedrawer

#: --quick: a small run end to end
QUICK = {"n_digits": 500}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_svm_projection.jsonl")
    parser.add_argument("--role", choices=["digits", "gate"], default="digits")
    parser.add_argument(
        "--gate-input",
        choices=["features", "redrawn"],
        default="features",
        help="the rows: the features, or those of the "
        "redrawn strokes (make_default_model's gate_input)",
    )
    parser.add_argument("--settings", default="none,pca50")
    parser.add_argument("--n-digits", type=int, default=20_000)
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="features cache (.npz), computed if missing",
    )
    add_quick(parser, QUICK)
    return parse(parser, argv, QUICK)


def letter_sets(data):
    """(train, test) letters: EMNIST a-m and az_sample, even rows / odd rows."""
    return tuple(
        (
            np.concatenate([data[f"emnist_{part}"][0], data[f"az_{part}"][0]]),
            np.concatenate([data[f"emnist_{part}"][1], data[f"az_{part}"][1]]),
        )
        for part in ("train", "test")
    )


def features(args):
    """Feature rows and labels of the digits and letters, train and test."""
    if args.cache is not None and args.cache.exists():
        return dict(np.load(args.cache))
    data = load_data(args.data_dir, args.n_digits, 10_000, 10_000)
    (lX, ly), (ltX, lty) = letter_sets(data)
    steps = [ImageNormalizer(deskew=True), make_features()]
    if args.gate_input == "redrawn":  # as make_default_model's gate sees them
        steps.insert(1, StrokeRedrawer())
    chain = make_pipeline(*steps)
    sets = {
        "digits_train": data["digits_train"],
        "digits_test": data["digits_test"],
        "letters_train": (lX, ly),
        "letters_test": (ltX, lty),
    }
    out = {}
    for name, (X, y) in sets.items():
        out[name + "_X"] = chain.fit_transform(np.asarray(X)).astype(np.float32)
        out[name + "_y"] = np.asarray(y).astype(str)
    if args.cache is not None:
        np.savez(args.cache, **out)
    return out


def parse_setting(text):
    """Keywords of DigitClassifier for a setting name (see the module docstring)."""
    head, *extras = text.split("+")
    params = {}
    for kind in ("pca", "white"):
        if head.startswith(kind):
            params = {
                "pca_components": int(head[len(kind) :]),
                "pca_whiten": kind == "white",
            }
    if not params and head != "none":
        raise SystemExit(f"unknown setting {head!r}; use none, pca<k> or white<k>")
    for extra in extras:
        if extra.startswith("cache"):
            params["cache_size"] = float(extra[5:])
        elif extra.startswith("nys"):  # Nystroem map of that size + LinearSVC
            params.update(solver="nystroem", n_components=int(extra[3:]))
        elif extra == "noshrink":
            params["shrinking"] = False
        elif extra == "fullgamma":  # resolved in main: "scale" of the unprojected rows
            params["gamma"] = "full"
        else:
            raise SystemExit(f"unknown setting part {extra!r} in {text!r}")
    return params


def role_sets(feats, role):
    if role == "digits":
        return (
            feats["digits_train_X"],
            feats["digits_train_y"],
            feats["digits_test_X"],
            feats["digits_test_y"],
        )
    X = np.concatenate([feats["digits_train_X"], feats["letters_train_X"]])
    X_test = np.concatenate([feats["digits_test_X"], feats["letters_test_X"]])
    y = np.repeat(
        ["digit", "letter"],
        [len(feats["digits_train_y"]), len(feats["letters_train_y"])],
    )
    y_test = np.repeat(
        ["digit", "letter"], [len(feats["digits_test_y"]), len(feats["letters_test_y"])]
    )
    return X, y, X_test, y_test


def main(argv=None):
    args = parse_args(argv)
    feats = features(args)
    X, y, X_test, y_test = role_sets(feats, args.role)
    print(f"{args.role}: {len(y)} training rows, {len(y_test)} test rows")
    for setting in args.settings.split(","):
        params = parse_setting(setting)
        if params.get("gamma") == "full":
            # globally scaled rows have unit mean variance: "scale" is 1 / n_features
            params["gamma"] = 1.0 / X.shape[1]
        clf = DigitClassifier(
            kernel_dtype="float32", random_state=args.random_state, **params
        )
        cpu, wall = time.process_time(), time.perf_counter()
        clf.fit(X, y)
        fit_cpu, fit_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu = time.process_time()
        pred = clf.classes_[clf.predict_proba(X_test).argmax(axis=1)]
        predict_cpu = time.process_time() - cpu
        record = {
            "role": args.role + ("_redrawn" if args.gate_input == "redrawn" else ""),
            "setting": setting,
            "n_train": int(len(y)),
            "n_dims": int(clf.n_components_),
            "fit_cpu_s": round(fit_cpu, 1),
            "fit_wall_s": round(fit_wall, 1),
            "predict_img_per_s": round(len(y_test) / predict_cpu),
            "accuracy": round(float(np.mean(pred == y_test)) * 100, 2),
            "n_support": int(getattr(clf, "support_", np.empty(0)).size),
        }
        if args.role == "gate":
            is_digit = y_test == "digit"
            record["digits_routed_%"] = round(
                float(np.mean(pred[is_digit] == "digit")) * 100, 2
            )
            record["letters_routed_%"] = round(
                float(np.mean(pred[~is_digit] == "letter")) * 100, 2
            )
        print(json.dumps(record), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as file:
            file.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
