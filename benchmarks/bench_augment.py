"""Does training-time augmentation help the digits head? MNIST, N training images.

``DigitClassifier`` (RBF SVM) on ``ImageNormalizer(deskew=True) ->
make_features()``, the digits path of the default model, is fitted on the first
``--n-train`` MNIST training images (``mnist_train/mnist_train.npz``) with and
without :class:`mtclassic.AugmentedClassifier` around the whole chain (so the
raw images are distorted before the normalizer), for each ``--copies`` and
``--strengths``, and scored on the first ``--n-test`` MNIST test images
(``mnist/t10k-*``). ``n_copies=0`` is the plain fit. BLAS is pinned to one
thread, so fit times compare.

Prints a table (accuracy, fit and predict seconds) and writes
``benchmarks/results/bench_augment.json``.

    nice -n 10 python benchmarks/bench_augment.py --data-dir ../shared/data
"""

import time

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    digits_path,
    load_mnist_test,
    load_mnist_train,
    machine,
    make_parser,
    parse,
    write_json,
)

from mtclassic import AugmentedClassifier

#: --quick: a small run end to end
QUICK = {"n_train": 300, "n_test": 300}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_augment.json")
    parser.add_argument("--n-train", type=int, default=5000, help="first n MNIST train")
    parser.add_argument("--n-test", type=int, default=5000, help="first n MNIST test")
    parser.add_argument("--copies", default="0,1,2", help="n_copies values")
    parser.add_argument(
        "--strengths", default="0.5,1.0,1.5", help="strength values (for n_copies > 0)"
    )
    add_quick(parser, QUICK)
    return parse(parser, argv, QUICK)


def run(n_copies, strength, data, seed):
    X_train, y_train, X_test, y_test = data
    model = AugmentedClassifier(
        digits_path(seed), n_copies=n_copies, strength=strength, random_state=seed
    )
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    accuracy = float(np.mean(model.predict(X_test) == y_test))
    predict_seconds = time.perf_counter() - start
    return {
        "n_copies": n_copies,
        "strength": strength if n_copies else 0.0,
        "n_rows_fitted": model.n_augmented_,
        "accuracy": accuracy,
        "errors": int(round((1 - accuracy) * len(y_test))),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "n_support": int(model.estimator_[-1].svm_.support_.size),
    }


def main(argv=None):
    args = parse_args(argv)
    data = (
        *load_mnist_train(args.data_dir, args.n_train),
        *load_mnist_test(args.data_dir, args.n_test),
    )
    copies = [int(value) for value in args.copies.split(",")]
    strengths = [float(value) for value in args.strengths.split(",")]
    configs = [(0, 0.0)] if 0 in copies else []
    configs += [(c, s) for c in copies if c > 0 for s in strengths]
    rows = []
    header = (
        f"{'n_copies':>8} {'strength':>8} {'rows':>6} {'accuracy':>9} "
        f"{'errors':>6} {'fit s':>7} {'predict s':>9}"
    )
    print(
        f"MNIST: {len(data[1])} training images, {len(data[3])} test images\n{header}"
    )
    for n_copies, strength in configs:
        row = run(n_copies, strength, data, args.random_state)
        rows.append(row)
        print(
            f"{row['n_copies']:>8} {row['strength']:>8.2f} {row['n_rows_fitted']:>6} "
            f"{row['accuracy']:>9.2%} {row['errors']:>6} {row['fit_seconds']:>7.1f} "
            f"{row['predict_seconds']:>9.1f}",
            flush=True,
        )
    record = {
        "benchmark": "bench_augment",
        "command": command_line(__file__, argv),
        "model": "AugmentedClassifier(ImageNormalizer(deskew=True) -> make_features()"
        " -> DigitClassifier(kernel_dtype='float32'))",
        "n_train": len(data[1]),
        "n_test": len(data[3]),
        "random_state": args.random_state,
        "threads": 1,
        "results": rows,
        "machine": machine(),
    }
    write_json(args.out, record)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
