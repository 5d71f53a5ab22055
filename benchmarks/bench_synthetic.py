"""Realism and speed of make_characters, the embedded synthetic data set.

Realism: an RBF SVM on HOG features (HOGTransformer: 9 orientations, 7 x 7
cells, 2 x 2 blocks, L2-Hys; StandardScaler; SVC) is trained ONLY on
``--n-train`` generated digits and scored on the 10,000 real MNIST test images.
C is chosen on a separate set of generated digits (another seed), never on
MNIST. For reference, the same pipeline with the same C trained on as many
real MNIST training images (``--no-reference`` skips it).

Speed: seconds to generate ``--n-timing`` images of all 36 classes on one core
(threads pinned to 1), the median of ``--repeats`` runs, and images per second.

    python benchmarks/bench_synthetic.py [--data-dir DIR] [--n-train 20000]

Prints a table and writes ``benchmarks/results/bench_synthetic.json``.
"""

import statistics
import time

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    load_mnist_test,
    load_mnist_train,
    machine,
    make_parser,
    parse,
    write_json,
)
from sklearn.metrics import accuracy_score, confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from mtclassic import HOGTransformer
from mtclassic.datasets import make_characters

DIGITS = list("0123456789")


#: --quick: a small run end to end
QUICK = {"n_train": 500, "n_val": 200, "n_timing": 1000, "repeats": 1}


def make_model(C):
    return make_pipeline(
        HOGTransformer(), StandardScaler(), SVC(kernel="rbf", C=C, gamma="scale")
    )


def time_generation(n_images, repeats, random_state):
    times = []
    for repeat in range(repeats):
        start = time.perf_counter()
        make_characters(n_images, random_state=random_state + repeat)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def choose_C(candidates, X_train, y_train, X_val, y_val):
    """C with the best accuracy on generated validation digits (never on MNIST)."""
    scores = {}
    for C in candidates:
        model = make_model(C).fit(X_train, y_train)
        scores[C] = accuracy_score(y_val, model.predict(X_val))
    best = max(candidates, key=lambda C: (scores[C], -C))
    return best, scores


def main(argv=None):
    parser = make_parser(__doc__, "bench_synthetic.json", out_aliases=("--output",))
    parser.add_argument("--n-train", type=int, default=20000)
    parser.add_argument(
        "--n-val", type=int, default=4000, help="generated digits for choosing C"
    )
    parser.add_argument(
        "--C",
        type=float,
        nargs="+",
        default=[1.0, 3.0, 10.0, 30.0],
        help="candidate values of the SVM's C",
    )
    parser.add_argument("--n-timing", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-reference", action="store_true")
    add_quick(parser, QUICK)
    args = parse(parser, argv, QUICK)

    X_test, y_test = load_mnist_test(args.data_dir)
    with threadpool_limits(1):
        seconds, all_seconds = time_generation(
            args.n_timing, args.repeats, args.random_state
        )

        start = time.perf_counter()
        X_train, y_train = make_characters(
            args.n_train, classes="digits", random_state=args.random_state
        )
        X_val, y_val = make_characters(
            args.n_val, classes="digits", random_state=args.random_state + 1000
        )
        C, val_scores = choose_C(args.C, X_train, y_train, X_val, y_val)
        model = make_model(C).fit(X_train, y_train)
        predicted = model.predict(X_test)
        train_seconds = time.perf_counter() - start

        reference = None
        if not args.no_reference:
            real_X, real_y = load_mnist_train(args.data_dir)
            pick = np.random.default_rng(args.random_state).choice(
                len(real_y), args.n_train, replace=False
            )
            real_model = make_model(C).fit(real_X[pick], real_y[pick])
            reference = accuracy_score(y_test, real_model.predict(X_test))

    accuracy = accuracy_score(y_test, predicted)
    per_class = {d: float(np.mean(predicted[y_test == d] == d)) for d in DIGITS}
    confusion = confusion_matrix(y_test, predicted, labels=DIGITS)

    print(f"make_characters: {args.n_timing:,} images (36 classes) on one core")
    print(
        f"  median of {args.repeats}: {seconds:.1f} s  "
        f"({args.n_timing / seconds:,.0f} images/s)"
    )
    print(
        f"\nHOG + RBF SVM trained on {args.n_train:,} generated digits "
        f"(C={C:g}, chosen on {args.n_val:,} generated digits: "
        + ", ".join(f"C={c:g}: {s:.3f}" for c, s in val_scores.items())
        + ")"
    )
    print(f"  {'':<28}{'MNIST test accuracy':>20}")
    print(f"  {'trained on generated digits':<28}{accuracy:>20.4f}")
    if reference is not None:
        print(f"  {'trained on real MNIST train':<28}{reference:>20.4f}")
    print("\n  per class: " + "  ".join(f"{d}:{per_class[d]:.3f}" for d in DIGITS))
    print("\n  confusion (rows: true, columns: predicted)")
    print("     " + "".join(f"{d:>6}" for d in DIGITS))
    for d, row in zip(DIGITS, confusion, strict=True):
        print(f"  {d:>2} " + "".join(f"{v:>6}" for v in row))

    record = {
        "benchmark": "bench_synthetic",
        "command": command_line(__file__, argv),
        "generation": {
            "n_images": args.n_timing,
            "classes": 36,
            "threads": 1,
            "median_seconds": seconds,
            "seconds": all_seconds,
            "images_per_second": args.n_timing / seconds,
        },
        "realism": {
            "features": "HOGTransformer(9 orientations, 7x7 cells, 2x2 blocks, L2-Hys)",
            "classifier": "StandardScaler + SVC(kernel='rbf', gamma='scale')",
            "n_train_generated": args.n_train,
            "n_val_generated": args.n_val,
            "C_candidates": args.C,
            "val_accuracy_by_C": {str(c): s for c, s in val_scores.items()},
            "C": C,
            "mnist_test_accuracy": accuracy,
            "mnist_test_per_class": per_class,
            "mnist_test_confusion": confusion.tolist(),
            "reference_trained_on_real_mnist": reference,
            "seconds_generate_tune_fit_predict": train_seconds,
        },
        "random_state": args.random_state,
        "machine": machine(),
    }
    write_json(args.out, record)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
