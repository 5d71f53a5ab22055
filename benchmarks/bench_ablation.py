"""What each ingredient of the default model adds: an ablation at reduced scale.

Every configuration differs from the baseline in ONE ingredient, and all of
them are fitted and scored on the same images (``--random-state`` 0):

- training: the first ``--n-digits`` MNIST training digits
  (``mnist_train/mnist_train.npz``), the EMNIST letters a-m at even indices
  (``emnist_letters/derived/*first10000*``, stored transposed, labels 1..26 ->
  'A'..'Z'; loaded by ``_common.load_data``), and, where the
  configuration uses them, ``--n-synthetic`` synthetic letters of all 26
  classes (:func:`mtclassic.datasets.make_characters`, ``letter_case="mixed"``:
  capitals and lower-case forms). Letters N-Z have no real training image: only
  the synthetic ones;
- tests: the first ``--n-digits-test`` MNIST test digits, the EMNIST letters
  a-m at odd indices, and, out of source (never trained on here), the
  handwritten62 pen-on-paper photos (each cropped to ``images[i, :h, :w]``
  with its ``sizes`` entry, letter case merged into the capital): its digits
  and its letters (A-M and N-Z also reported apart).

Figures per configuration: digits accuracy on MNIST test (in the 36-class
vote, and the digits head alone), letters accuracy on EMNIST a-m odd, the
combined 36-class accuracy and the task-routing error on MNIST test + EMNIST
odd (``mtclassic.metrics.task_scores``), handwritten62 digits and letters accuracy
(and the letters head alone on them, among letters only: a miss there is the
head's, not the routing's), fit seconds, and predict images per second (one
``predict`` call over every test image, handwritten62 included). The times
follow an untimed warm-up fit, so the first configuration pays no one-off
costs; the load average before each fit, at the start and at the end, and
any other benchmark running meanwhile are stored with the figures.

Configurations (``--configs``; the baseline is always run first):

=================  =========================================================
baseline           ``make_default_model(preset="accurate")``, synthetic letters
no_normalizer      the ImageNormalizer step replaced by what a tutorial does:
                   resize to 28 x 28 and scale to [0, 1] (no background,
                   polarity, crop, box, centring or deskew)
no_deskew          ``deskew=False``
augmentation       ``AugmentedClassifier(baseline, n_copies=1, strength=1.0)``
no_synthetic       baseline model, trained without the synthetic letters
membership_other   ``membership="other"``
weights_equal      ``weights=None`` (the baseline's are ``"balanced"``)
fast               ``preset="fast"``
stroke_width       ``ImageNormalizer(stroke_width=2.2)``: pen width evened out
gate_on_labels     ``gate_target="labels"``: the gate learns the 36 labels
                   instead of digit vs letter
gate_on_features   ``gate_input="features"``: the gate sees the heads' features
                   instead of those of the redrawn strokes
shared_gate        both: the gate of the model before issue 12
batch_prior        the baseline model, each test set scored as one batch under
                   the task mix the vote estimates from it
                   (``vote__task_prior="batch"``)
best               ``preset="best"``: virtual support vectors on the digits
                   head, two distorted copies of every letter for the
                   letters SVM
letters_forest     ``letters_head="forest"``: the extra-trees letters head of
                   the presets before issue 12 instead of the baseline's SVM
letters_svm_aug    ``letters_copies=2``: the SVM letters head also learns two
                   distorted copies of every letter
=================  =========================================================

BLAS is pinned to one thread; ``--n-jobs`` (2) goes to the models. Prints the
table (and the deltas against the baseline) and writes
``benchmarks/results/bench_ablation.json`` after every configuration, so an
interrupted run leaves the configurations it finished (``"complete": false``).

    python benchmarks/bench_ablation.py --data-dir ../shared/data
    python benchmarks/bench_ablation.py --n-digits 500 --n-synthetic 260 \\
        --n-digits-test 300 --out /tmp/x.json              # a quick look
"""

import os
import time

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    command_of,
    head_alone,
    load_data,
    machine,
    make_parser,
    names,
    parse,
    utc_date,
    write_json,
)
from sklearn.preprocessing import FunctionTransformer

from mtclassic import AugmentedClassifier, make_default_model
from mtclassic.datasets import make_characters
from mtclassic.metrics import routing_error, task_scores

FIRST_HALF = set("ABCDEFGHIJKLM")  # the letters EMNIST gives us real images of

# name -> (what differs from the baseline, keywords of make_default_model)
CONFIGS = {
    "baseline": ("make_default_model(preset='accurate'), with synthetic letters", {}),
    "no_normalizer": (
        "ImageNormalizer replaced by resize to 28x28 + scale to [0, 1]",
        {},
    ),
    "no_deskew": ("deskew=False", {"deskew": False}),
    "augmentation": (
        "AugmentedClassifier(baseline, n_copies=1, strength=1.0, random_state=0)",
        {},
    ),
    "no_synthetic": ("trained without the synthetic letters", {}),
    "membership_other": ("membership='other'", {"membership": "other"}),
    "weights_equal": ("weights=None (equal) instead of 'balanced'", {"weights": None}),
    "fast": ("preset='fast'", {"preset": "fast"}),
    "stroke_width": ("ImageNormalizer(stroke_width=2.2): strokes evened out", {}),
    "gate_on_labels": (
        "gate_target='labels': the gate learns the 36 labels, not digit vs letter",
        {"gate_target": "labels"},
    ),
    "gate_on_features": (
        "gate_input='features': the gate sees the heads' "
        "features, not those of the redrawn strokes",
        {"gate_input": "features"},
    ),
    "shared_gate": (
        "gate_input='features', gate_target='tasks': the gate before issue 12",
        {"gate_input": "features", "gate_target": "tasks"},
    ),
    "batch_prior": (
        "vote__task_prior='batch': each test set scored as one batch, under the "
        "task mix the vote estimates from it",
        {},
    ),
    "best": (
        "preset='best': virtual support vectors, distorted letters",
        {"preset": "best"},
    ),
    "letters_forest": (
        "letters_head='forest': the extra-trees letters head instead of the SVM",
        {"letters_head": "forest"},
    ),
    "letters_svm_aug": (
        "letters_copies=2: the SVM letters head on the letters and two "
        "distorted copies of each",
        {"letters_copies": 2},
    ),
}

# the scale: flag -> (default, help); the run's times are in its JSON
SIZES = {
    "--n-digits": (20_000, "MNIST training digits (first n)"),
    "--n-digits-test": (10_000, "MNIST test digits (first n)"),
    "--n-emnist": (10_000, "EMNIST letters images used (first n; even/odd split)"),
    "--n-synthetic": (10_000, "synthetic letters (all 26 classes, both cases)"),
}


#: --quick: a small run end to end
QUICK = {"n_digits": 500, "n_digits_test": 300, "n_emnist": 1000, "n_synthetic": 260}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_ablation.json", n_jobs=2)
    for flag, (default, text) in SIZES.items():
        parser.add_argument(flag, type=int, default=default, help=text)
    parser.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help="configurations, comma-separated (baseline always runs)",
    )
    parser.add_argument(
        "--note", default="", help="free text stored in the JSON (e.g. what else ran)"
    )
    add_quick(parser, QUICK)
    return parse(parser, argv, QUICK)


# ---------------------------------------------------------------- data


def load_sets(args):
    """Training parts and test sets, the same for every configuration."""
    data = load_data(args.data_dir, args.n_digits, args.n_digits_test, args.n_emnist)
    synthetic = make_characters(
        args.n_synthetic,
        classes="letters",
        letter_case="mixed",
        random_state=args.random_state,
    )
    hw_letters, hw_letter_labels, _ = data["hw_letters"]
    return {
        "train_real": [data["digits_train"], data["emnist_train"]],
        "train_synthetic": synthetic,
        "tests": {
            "mnist": data["digits_test"],
            "emnist": data["emnist_test"],
            "hw_digits": data["hw_digits"],
            "hw_letters": (hw_letters, hw_letter_labels),
        },
    }


def training_set(sets, synthetic):
    parts = sets["train_real"] + ([sets["train_synthetic"]] if synthetic else [])
    X = np.concatenate([np.asarray(X, dtype=np.uint8) for X, _ in parts])
    y = np.concatenate([np.asarray(y).astype(str) for _, y in parts])
    return X, y


# ---------------------------------------------------------------- models


def tutorial_resize(images):
    """Resize to 28 x 28 and scale to [0, 1], as a tutorial does; flat rows."""
    from skimage.transform import resize

    resized = [
        image / 255.0
        if image.shape == (28, 28)
        else resize(image / 255.0, (28, 28), anti_aliasing=True)
        for image in images
    ]
    return np.array(resized, dtype=np.float64).reshape(len(images), -1)


def make_config(name, args):
    """The unfitted model of a configuration."""
    keywords = CONFIGS[name][1]
    model = make_default_model(
        random_state=args.random_state, n_jobs=args.n_jobs, **keywords
    )
    if name == "stroke_width":
        model.set_params(normalize__stroke_width=2.2)
    if name == "no_normalizer":
        model.set_params(normalize=FunctionTransformer(tutorial_resize))
    elif name == "augmentation":
        model = AugmentedClassifier(
            model, n_copies=1, strength=1.0, random_state=args.random_state
        )
    return model


# ---------------------------------------------------------------- scoring


def run_config(name, sets, args):
    X_train, y_train = training_set(sets, synthetic=name != "no_synthetic")
    model = make_config(name, args)
    load_before = os.getloadavg()
    started = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started

    tests = sets["tests"]
    order = ["mnist", "emnist", "hw_digits", "hw_letters"]
    images = [image for part in order for image in tests[part][0]]
    # predict as the pipeline does (features, then the vote), keeping the
    # features for the heads alone below
    pipeline = model.estimator_ if name == "augmentation" else model
    vote = pipeline.named_steps["vote"]
    bounds = np.cumsum([0] + [len(tests[part][1]) for part in order])
    rows = {part: slice(bounds[i], bounds[i + 1]) for i, part in enumerate(order)}
    started = time.perf_counter()
    features = pipeline[:-1].transform(images)
    if name == "batch_prior":
        vote.set_params(task_prior="batch")
        predicted = np.concatenate([vote.predict(features[rows[p]]) for p in order])
    else:
        predicted = vote.predict(features)
    predict_seconds = time.perf_counter() - started
    pred = {part: predicted[rows[part]] for part in order}
    true = {part: np.asarray(tests[part][1]).astype(str) for part in order}

    # MNIST test + EMNIST odd as one 36-class problem
    n_in_source = bounds[2]
    scores = task_scores(
        np.concatenate([true["mnist"], true["emnist"]]), predicted[:n_in_source]
    )
    record = {
        "digits_mnist": float(np.mean(pred["mnist"] == true["mnist"])),
        "letters_emnist": float(np.mean(pred["emnist"] == true["emnist"])),
        "combined": scores["accuracy"],
        "routing_error": scores["routing"]["total"],
        "routing_error_lookalikes": scores["routing"]["within_pairs"],
        "routing_error_other_pairs": scores["routing"]["outside_pairs"],
        "cross_task_confusions": scores["cross_task_confusions"],
    }
    record["digits_head_mnist"] = float(
        np.mean(head_alone(vote, "digits", features[rows["mnist"]]) == true["mnist"])
    )
    # the letters head alone on the handwritten62 letters: is a miss the
    # routing's or the head's?
    head_correct = (
        head_alone(vote, "letters", features[rows["hw_letters"]]) == true["hw_letters"]
    )
    record["digits_head_handwritten62"] = float(
        np.mean(
            head_alone(vote, "digits", features[rows["hw_digits"]]) == true["hw_digits"]
        )
    )
    hw_true = np.concatenate([true["hw_digits"], true["hw_letters"]])
    hw_pred = np.concatenate([pred["hw_digits"], pred["hw_letters"]])
    first_half = np.isin(true["hw_letters"], list(FIRST_HALF))
    hw_correct = pred["hw_letters"] == true["hw_letters"]
    record.update(
        digits_handwritten62=float(np.mean(pred["hw_digits"] == true["hw_digits"])),
        letters_handwritten62=float(hw_correct.mean()),
        letters_handwritten62_a_m=float(hw_correct[first_half].mean()),
        letters_handwritten62_n_z=float(hw_correct[~first_half].mean()),
        letters_head_handwritten62_a_m=float(head_correct[first_half].mean()),
        letters_head_handwritten62_n_z=float(head_correct[~first_half].mean()),
        routing_error_handwritten62=routing_error(hw_true, hw_pred)["total"],
        n_train=len(y_train),
        n_fitted=int(getattr(model, "n_augmented_", len(y_train))),
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
        n_predicted=len(images),
        n_handwritten62_a_m=int(first_half.sum()),
        n_handwritten62_n_z=int((~first_half).sum()),
        predict_images_per_second=len(images) / predict_seconds,
        load_average_before_fit=load_before,
        load_average_after=os.getloadavg(),
        description=CONFIGS[name][0],
    )
    return record


# ---------------------------------------------------------------- output

# figure -> column heading; figures are accuracies or errors unless in TIMES
COLUMNS = {
    "digits_mnist": "MNIST",
    "digits_head_mnist": "head",
    "letters_emnist": "EMNIST",
    "combined": "comb36",
    "routing_error": "route",
    "digits_handwritten62": "hw dig",
    "digits_head_handwritten62": "hd dig",
    "letters_handwritten62": "hw let",
    "letters_handwritten62_a_m": "hw a-m",
    "letters_handwritten62_n_z": "hw n-z",
    "letters_head_handwritten62_n_z": "hd n-z",
    "fit_seconds": "fit s",
    "predict_images_per_second": "img/s",
}
TIMES = {"fit_seconds": "{:9.1f}", "predict_images_per_second": "{:9,.0f}"}


def standard_errors(record, protocol):
    """Binomial standard error, in points, of each accuracy of one configuration.

    A guide to the noise of one seed and these test sizes (two configurations
    scored on the same images differ by less than two independent samples).
    """
    n_in_source = protocol["n_test_mnist"] + protocol["n_test_emnist"]
    sizes = {
        "digits_mnist": protocol["n_test_mnist"],
        "digits_head_mnist": protocol["n_test_mnist"],
        "letters_emnist": protocol["n_test_emnist"],
        "combined": n_in_source,
        "routing_error": n_in_source,
        "digits_handwritten62": protocol["n_test_hw_digits"],
        "digits_head_handwritten62": protocol["n_test_hw_digits"],
        "letters_handwritten62": protocol["n_test_hw_letters"],
        "letters_handwritten62_a_m": record["n_handwritten62_a_m"],
        "letters_handwritten62_n_z": record["n_handwritten62_n_z"],
        "letters_head_handwritten62_n_z": record["n_handwritten62_n_z"],
    }
    return {
        key: 100 * float(np.sqrt(record[key] * (1 - record[key]) / n))
        for key, n in sizes.items()
    }


def deltas(results):
    """Each figure minus the baseline's (points for accuracies, ratios for times)."""
    base = results["baseline"]
    return {
        name: {
            key: (
                record[key] / base[key]
                if key in TIMES
                else 100 * (record[key] - base[key])
            )
            for key in COLUMNS
        }
        for name, record in results.items()
    }


def format_table(results):
    width = max(len(name) for name in results) + 2
    head = "".join(f"{heading:>9}" for heading in COLUMNS.values())
    lines = ["configuration".ljust(width) + head]
    for name, record in results.items():
        lines.append(
            name.ljust(width)
            + "".join(
                TIMES[key].format(value) if key in TIMES else f"{100 * value:8.2f}%"
                for key, value in ((key, record[key]) for key in COLUMNS)
            )
        )
    lines += [
        "",
        "delta vs baseline (accuracies: points; times: ratios)",
        "configuration".ljust(width) + head,
    ]
    for name, row in deltas(results).items():
        if name != "baseline":
            lines.append(
                name.ljust(width)
                + "".join(
                    f"{row[key]:8.2f}x" if key in TIMES else f"{row[key]:+9.2f}"
                    for key in COLUMNS
                )
            )
    return "\n".join(lines)


def other_benchmarks():
    """Command lines of other benchmark processes running now (Linux /proc)."""
    running = (command_of(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return sorted(
        line
        for line in running
        if "benchmarks/bench_" in line and "bench_ablation" not in line
    )


def write(args, argv, sets, results, started, load_start, complete):
    protocol = {
        "n_digits_train": len(sets["train_real"][0][1]),
        "n_emnist_train": len(sets["train_real"][1][1]),
        "n_synthetic_letters": len(sets["train_synthetic"][1]),
        **{f"n_test_{part}": len(y) for part, (_, y) in sets["tests"].items()},
        "random_state": args.random_state,
        "n_jobs": args.n_jobs,
    }
    record = {
        "benchmark": "bench_ablation",
        "date": utc_date(),
        "command": command_line(__file__, argv),
        "complete": complete,
        "note": args.note,
        "scale": "reduced: a subset of MNIST train, one fit per configuration, one seed",
        "protocol": protocol,
        "configs": {name: CONFIGS[name][0] for name in results},
        "results": results,
        "deltas_vs_baseline": deltas(results),
        "standard_errors_baseline_points": standard_errors(
            results["baseline"], protocol
        ),
        "table": format_table(results),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "other_benchmarks_at_start": args.others_at_start,
        "other_benchmarks_at_end": other_benchmarks(),
        "machine": machine(),
        "total_seconds": time.perf_counter() - started,
    }
    write_json(args.out, record)


def main(argv=None):
    args = parse_args(argv)
    configs = names(args.configs, CONFIGS, "--configs")
    configs = ["baseline"] + [n for n in configs if n != "baseline"]
    load_start = os.getloadavg()
    args.others_at_start = other_benchmarks()
    started = time.perf_counter()
    sets = load_sets(args)
    print(
        f"training: {args.n_digits} MNIST digits, "
        f"{len(sets['train_real'][1][1])} EMNIST letters, "
        f"{len(sets['train_synthetic'][1])} synthetic letters; tests: "
        + ", ".join(f"{part} {len(y)}" for part, (_, y) in sets["tests"].items())
        + f"; load {load_start[0]:.2f}",
        flush=True,
    )

    # untimed warm-up (imports, lookup tables, thread pools), so that the
    # first configuration's times are not inflated by one-off costs
    X_warm, y_warm = training_set(sets, synthetic=True)
    warm = np.r_[0:150, len(y_warm) - 150 : len(y_warm)]
    make_config("baseline", args).fit(X_warm[warm], y_warm[warm]).predict(
        sets["tests"]["hw_letters"][0][:50]
    )
    results = {}
    for name in configs:
        results[name] = run_config(name, sets, args)
        r = results[name]
        print(
            f"  {name}: combined {r['combined']:.4f}, routing {r['routing_error']:.4f}, "
            f"hw62 letters {r['letters_handwritten62']:.4f}, "
            f"fit {r['fit_seconds']:.0f} s",
            flush=True,
        )
        write(
            args,
            argv,
            sets,
            results,
            started,
            load_start,
            complete=len(results) == len(configs),
        )
    print("\n" + format_table(results))
    print(f"\nwrote {args.out} ({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
