"""The vote under every fixed task prior, against the batch task mix.

Issue 12 asks the 36-class vote for MNIST >= 99.2% and EMNIST letters a-m
>= 88% at once. A fixed task prior (``vote__task_prior=[p, 1 - p]``: digits
are a share ``p`` of what is scored) trades one against the other: the
look-alikes (1/I/l, 0/O/D, 9/g, 6/b, ...) go to the task the prior favours.
This sweeps ``p`` on one fitted model and prints, for each test set of fold 0
of ``bench_accuracy``'s in-source run, the vote's accuracy and its routing
error outside the look-alike pairs, with the default weights
(``task_prior=None``), with the batch task mix (``task_prior="batch"``, each
set scored as one batch) and with each head alone beside them. The frontier
it prints shows which pairs of MNIST and EMNIST figures any fixed prior can
reach with that model.

The model is ``--fitted-model`` (saved by ``bench_fit.py --save-model``, say:
the accurate preset fitted on the whole protocol), or else the default model
fitted here on ``--n-digits`` MNIST digits and the protocol's letters.

Prints a table and writes ``benchmarks/results/bench_task_prior.json``.

    python benchmarks/bench_task_prior.py --fitted-model runs/full_model.joblib
    python benchmarks/bench_task_prior.py --n-digits 20000
"""

import time

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import command_line, head_alone, machine, make_parser, utc_date, write_json
from _styles import styled_sets
from bench_fit import protocol_sets

from mtclassic import make_default_model
from mtclassic.metrics import task_scores
from mtclassic.multitask import DEFAULT_TASKS
from mtclassic.persistence import load_model

TASKS = {name: list(labels) for name, labels in DEFAULT_TASKS.items()}
SHARES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
IN_SOURCE = ("mnist", "emnist", "hw62_letters", "az")


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_task_prior.json", n_jobs=2)
    parser.add_argument("--fitted-model", default=None, help="a saved model")
    parser.add_argument("--n-digits", type=int, default=20_000)
    parser.add_argument("--n-emnist", type=int, default=10_000)
    parser.add_argument("--n-digits-test", type=int, default=10_000)
    parser.add_argument("--n-styled", type=int, default=500)
    parser.add_argument(
        "--shares",
        default=",".join(map(str, SHARES)),
        help="the digits' shares p of the fixed priors [p, 1 - p]",
    )
    return parser.parse_args(argv)


def _figures(y_true, y_pred):
    scores = task_scores(y_true, np.asarray(y_pred).astype(str), tasks=TASKS)
    return {
        "accuracy": round(100 * scores["accuracy"], 2),
        "routing_outside_pairs": round(100 * scores["routing"]["outside_pairs"], 2),
    }


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    (X, y), tests = protocol_sets(args, args.n_digits_test)
    if args.n_styled:  # held-out digits and letters in other writing styles
        bases = {name: tests[name] for name in ("mnist", "az")}
        tests.update(styled_sets(bases, args.n_styled, args.random_state))
    if args.fitted_model:
        model = load_model(args.fitted_model)
        fitted = args.fitted_model
    else:
        model = make_default_model(args.random_state, args.n_jobs).fit(X, y)
        fitted = f"default model fitted on {len(y)} rows"
    features, vote = model[:-1], model.named_steps["vote"]
    shares = [float(p) for p in args.shares.split(",")]
    settings = {"weights": None, "batch": "batch"}
    settings.update({f"p={p:g}": [p, 1 - p] for p in shares})
    table = {name: {} for name in settings}
    heads = {}
    for set_name, (images, labels) in tests.items():
        rows = features.transform(images)
        y_true = np.asarray(labels).astype(str)
        task = "digits" if np.char.isdigit(y_true).all() else "letters"
        heads[set_name] = _figures(y_true, head_alone(vote, task, rows))
        for name, prior in settings.items():
            vote.set_params(task_prior=prior)
            table[name][set_name] = _figures(y_true, vote.predict(rows))
    vote.set_params(task_prior=None)

    sets = list(tests)
    width = max(map(len, sets))
    print("vote accuracy % (routing outside the look-alike pairs %), per task prior")
    print(f"{'prior':>9} " + " ".join(f"{s:>{width}}" for s in sets))
    for name, row in [*table.items(), ("heads", heads)]:
        cells = (
            f"{row[s]['accuracy']:6.2f} ({row[s]['routing_outside_pairs']:4.1f})"
            for s in sets
        )
        print(f"{name:>9} " + " ".join(f"{c:>{width}}" for c in cells))
    # the frontier: the best EMNIST figure any fixed prior reaches at each MNIST one
    fixed = [table[f"p={p:g}"] for p in shares] + [table["weights"]]
    reach = sorted(
        {(row["mnist"]["accuracy"], row["emnist"]["accuracy"]) for row in fixed}
    )
    print("fixed priors, (MNIST, EMNIST) reached:", reach)
    write_json(
        args.out,
        {
            "benchmark": "bench_task_prior",
            "date": utc_date(),
            "command": command_line(__file__, argv),
            "model": fitted,
            "task_mix": dict(
                zip(vote.tasks_.tolist(), vote.task_mix_.tolist(), strict=True)
            ),
            "weights": dict(
                zip(vote.tasks_.tolist(), vote.weights_.tolist(), strict=True)
            ),
            "in_source_sets": [s for s in IN_SOURCE if s in tests],
            "vote": table,
            "heads_alone": heads,
            "fixed_prior_reach_mnist_emnist": reach,
            "machine": machine(),
            "total_seconds": time.perf_counter() - started,
        },
    )


if __name__ == "__main__":
    main()
