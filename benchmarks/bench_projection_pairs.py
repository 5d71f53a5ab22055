"""Is a projection's accuracy change real? The digits head image by image, exact McNemar.

A difference of a few tenths of a point on a 1,000-image set is a handful of
images; whether it is the projection's doing or the shuffle any change of the
model brings is a question for a paired test. This fits the digits head alone
(``ImageNormalizer(deskew=True) -> make_features(hog cells) -> DigitClassifier``
with float32 kernels: the presets' digits head without the redrawn-strokes
block of the gate) on the MNIST training digits,
once unprojected and once per ``--components``, and scores each image of:

- ``mnist``: the MNIST test split (10,000);
- ``mnist_pen278``: ``--n-styled`` MNIST test digits re-drawn with a thin pen
  at 278 x 278 (``_styles.restyle``; a tablet's strokes);
- ``hw62_digits``: every handwritten62 digit photo (920).

For each set and projection: the accuracy of both, the images only one of
them gets right, and the two-sided exact McNemar p-value (a binomial test on
those discordant images). Writes ``benchmarks/results/bench_projection_pairs.json``::

    python benchmarks/bench_projection_pairs.py --cells 7 --components 100,200,300
"""

import time

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    digits_path,
    load_handwritten62,
    load_mnist_test,
    load_mnist_train,
    machine,
    make_parser,
    parse,
    utc_date,
    write_json,
)
from _styles import styled_sets
from scipy.stats import binomtest

from mtclassic.models import PRESETS

#: --quick: a small run end to end
QUICK = {"n_digits": 2_000, "n_test": 1_000, "n_styled": 300}
DIGITS = list("0123456789")


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_projection_pairs.json")
    parser.add_argument("--n-digits", type=int, default=60_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--n-styled", type=int, default=3_000)
    parser.add_argument(
        "--cells",
        type=int,
        default=PRESETS["accurate"]["digits_cells"],
        help="side in pixels of the HOG cells (default: the accurate preset's)",
    )
    parser.add_argument("--components", default="100,200", help="comma-separated")
    add_quick(parser, QUICK)
    return parse(parser, argv, QUICK)


def test_sets(args):
    """The three sets of the docstring: name -> (images, labels as str)."""
    images, labels = load_mnist_test(args.data_dir, args.n_test)
    crops, names, _ = load_handwritten62(args.data_dir)
    photos = np.isin(names, DIGITS)
    pen = styled_sets(
        {"mnist": (images, labels)}, args.n_styled, random_state=args.random_state
    )["mnist_pen278"]
    sets = {
        "mnist": (images, labels),
        "mnist_pen278": pen,
        "hw62_digits": (
            [c for c, keep in zip(crops, photos, strict=True) if keep],
            names[photos],
        ),
    }
    return {name: (X, np.asarray(y).astype(str)) for name, (X, y) in sets.items()}


def right_answers(components, train, sets, args):
    """Per set, which images the head with ``components`` gets right; fit s."""
    head = digits_path(args.random_state)
    head.set_params(
        features__hog__pixels_per_cell=(args.cells, args.cells),
        digits__pca_components=components,
    )
    start = time.process_time()
    head.fit(*train)
    fit_s = time.process_time() - start
    return {name: head.predict(X) == y for name, (X, y) in sets.items()}, fit_s


def paired(new, old):
    """Accuracies, discordant images and the exact McNemar p-value."""
    only_new, only_old = int((new & ~old).sum()), int((~new & old).sum())
    discordant = only_new + only_old
    p = binomtest(only_new, discordant).pvalue if discordant else 1.0
    return {
        "n_images": int(new.size),
        "projected": round(100 * new.mean(), 2),
        "unprojected": round(100 * old.mean(), 2),
        "only_projected_right": only_new,
        "only_unprojected_right": only_old,
        "mcnemar_p": round(float(p), 4),
    }


def main(argv=None):
    args = parse_args(argv)
    images, labels = load_mnist_train(args.data_dir, args.n_digits)
    train = (images, np.asarray(labels).astype(str))
    sets = test_sets(args)
    baseline, baseline_s = right_answers(None, train, sets, args)
    print(f"unprojected: fitted in {baseline_s:.0f} CPU s")
    results = []
    for k in [int(k) for k in args.components.split(",") if k.strip()]:
        right, fit_s = right_answers(k, train, sets, args)
        row = {"components": k, "fit_cpu_s": round(fit_s, 1), "sets": {}}
        for name in sets:
            row["sets"][name] = paired(right[name], baseline[name])
            figures = row["sets"][name]
            print(
                f"PCA {k} ({fit_s:.0f} CPU s), {name}: {figures['projected']:.2f}% "
                f"vs {figures['unprojected']:.2f}% unprojected; only one right: "
                f"{figures['only_projected_right']} / "
                f"{figures['only_unprojected_right']}, McNemar p = "
                f"{figures['mcnemar_p']:.3f}"
            )
        results.append(row)
    write_json(
        args.out,
        {
            "benchmark": "bench_projection_pairs",
            "command": command_line("bench_projection_pairs.py", argv),
            "date": utc_date(),
            "quick": args.quick,
            "protocol": {
                "n_digits": args.n_digits,
                "n_test": args.n_test,
                "n_styled": args.n_styled,
                "cells": args.cells,
                "random_state": args.random_state,
            },
            "unprojected_fit_cpu_s": round(baseline_s, 1),
            "results": results,
            "machine": machine(),
        },
    )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
