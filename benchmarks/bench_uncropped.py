"""Photos on paper, cropped or not: the same model scores them alike (issue 13).

The handwritten62 photos (pen on grey paper) are stored zero-padded into one
63 x 85 array, with each photo's ``sizes``. A user who loads the array and
ignores ``sizes`` gives the model a grey paper rectangle on black; the
normalizer must find the character on its paper, not take the paper for it.

One small default model (:func:`mtclassic.make_default_model`) is trained
without handwritten62: ``--n-digits`` MNIST training digits, the EMNIST a-m
letters at even indices (``--n-emnist`` read) and ``--n-synthetic`` synthetic
letters of all 26 classes (both cases; EMNIST has a-m only), loaded as
``_common.load_data`` loads them. It then scores every handwritten62
image (case merged into the upper-case label) twice:

- cropped: ``images[i, :h, :w]`` with ``(h, w) = sizes[i]`` (a list);
- uncropped: ``images`` as stored, the 63 x 85 padded array.

Prints both accuracies (36-class, and per task) and their difference, and
writes ``benchmarks/results/bench_uncropped.json``. Acceptance: the uncropped
accuracy within 3 points of the cropped one.

    python benchmarks/bench_uncropped.py                  # --data-dir ../shared/data
    python benchmarks/bench_uncropped.py --n-digits 2000 --n-synthetic 1000  # quick
"""

import sys
import time

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    load_data,
    load_handwritten62,
    machine,
    make_parser,
    parse,
    utc_date,
    write_json,
)

from mtclassic import make_default_model
from mtclassic.datasets import make_characters

MAX_GAP_POINTS = 3.0


#: --quick: a small run end to end
QUICK = {"n_digits": 500, "n_emnist": 1000, "n_synthetic": 300}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_uncropped.json", n_jobs=2)
    for flag, default, text in (
        ("--n-digits", 10_000, "MNIST training digits (first n)"),
        ("--n-emnist", 10_000, "EMNIST letters images read (first n; even ones train)"),
        ("--n-synthetic", 5_000, "synthetic letters (all 26 classes, both cases)"),
    ):
        parser.add_argument(flag, type=int, default=default, help=text)
    parser.add_argument("--preset", default="accurate", help="accurate or fast")
    add_quick(parser, QUICK)
    return parse(parser, argv, QUICK)


def accuracies(y_true, y_pred, is_digit):
    """36-class accuracy and per task, in percent."""
    correct = y_pred == y_true
    return {
        "combined": 100 * float(correct.mean()),
        "digits": 100 * float(correct[is_digit].mean()),
        "letters": 100 * float(correct[~is_digit].mean()),
    }


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    data = load_data(args.data_dir, args.n_digits, 1, args.n_emnist)
    synthetic = make_characters(
        args.n_synthetic,
        classes="letters",
        letter_case="mixed",
        random_state=args.random_state,
    )
    parts = [data["digits_train"], data["emnist_train"], synthetic]
    X_train = [image for X, _ in parts for image in X]
    y_train = np.concatenate([y for _, y in parts])

    cropped, labels, uncropped = load_handwritten62(args.data_dir)
    labels = np.char.upper(labels)
    is_digit = np.char.isdigit(labels)

    print(
        f"training on {len(y_train)} images ({len(data['digits_train'][1])} MNIST, "
        f"{len(data['emnist_train'][1])} EMNIST a-m, {len(synthetic[1])} synthetic "
        f"letters), preset {args.preset!r}",
        flush=True,
    )
    model = make_default_model(
        preset=args.preset, random_state=args.random_state, n_jobs=args.n_jobs
    )
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    print(
        f"fitted in {fit_seconds:.0f} s; scoring {len(labels)} handwritten62 "
        f"photos cropped and uncropped ({uncropped.shape[1]}x{uncropped.shape[2]})",
        flush=True,
    )
    scores = {
        "cropped": accuracies(labels, model.predict(cropped), is_digit),
        "uncropped": accuracies(labels, model.predict(uncropped), is_digit),
    }
    gap = {
        task: scores["cropped"][task] - scores["uncropped"][task]
        for task in scores["cropped"]
    }
    print(f"{'handwritten62':<14}{'combined':>10}{'digits':>10}{'letters':>10}")
    for name, row in scores.items():
        print(f"{name:<14}" + "".join(f"{row[t]:>9.2f}%" for t in row))
    print(f"{'gap (points)':<14}" + "".join(f"{gap[t]:>10.2f}" for t in gap))
    passed = abs(gap["combined"]) <= MAX_GAP_POINTS
    print(
        f"acceptance: uncropped within {MAX_GAP_POINTS:g} points of cropped: "
        f"{'PASS' if passed else 'FAIL'}"
    )

    record = {
        "benchmark": "bench_uncropped",
        "date": utc_date(),
        "command": command_line(__file__, argv),
        "protocol": {
            "n_mnist_train": len(data["digits_train"][1]),
            "n_emnist_train": len(data["emnist_train"][1]),
            "n_synthetic_letters": len(synthetic[1]),
            "n_handwritten62": len(labels),
            "preset": args.preset,
            "random_state": args.random_state,
            "n_jobs": args.n_jobs,
        },
        "accuracy_percent": scores,
        "gap_points": gap,
        "acceptance": {f"uncropped within {MAX_GAP_POINTS:g} points": passed},
        "fit_seconds": fit_seconds,
        "machine": machine(),
        "total_seconds": time.perf_counter() - started,
    }
    write_json(args.out, record)
    print(f"wrote {args.out}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
