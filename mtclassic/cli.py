"""The ``mtclassic`` command line: ``demo``, ``train``, ``evaluate`` and ``score``.

Each command has an ``_add_<command>`` function that declares its arguments and a
``_run_<command>`` function that does the work by calling the package's Python
API; nothing here is needed to use mtclassic from Python.
"""

import argparse
import sys

from mtclassic import __version__


def _add_demo(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="generate the embedded synthetic set, fit the default model, report",
        description=(
            "Generate the embedded synthetic digits and letters, fit the default "
            "model and print per-task accuracy, combined accuracy, task-routing "
            "error and timings. Runs offline."
        ),
    )
    parser.add_argument("--n-train", type=int, default=6000, help="training images")
    parser.add_argument("--n-test", type=int, default=2000, help="test images")
    parser.add_argument("--random-state", type=int, default=0, help="seed")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel jobs")


def _run_demo(args):
    from mtclassic._demo import run_demo

    return run_demo(
        n_train=args.n_train,
        n_test=args.n_test,
        random_state=args.random_state,
        n_jobs=args.n_jobs,
    )


def _add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="fit the default model and save it",
        description="Fit the default model and save it with its metadata record.",
    )
    parser.add_argument("out", help="path of the model file to write")


def _run_train(args):
    raise SystemExit("mtclassic train: not available yet in this version.")


def _add_evaluate(subparsers):
    parser = subparsers.add_parser(
        "evaluate",
        help="score a saved model on labelled data and write a report",
        description="Score a saved model on labelled data and write a report.",
    )
    parser.add_argument("model", help="saved model file")


def _run_evaluate(args):
    raise SystemExit("mtclassic evaluate: not available yet in this version.")


def _add_score(subparsers):
    parser = subparsers.add_parser(
        "score",
        help="batch-score image files with a saved model",
        description="Batch-score image files with a saved model.",
    )
    parser.add_argument("model", help="saved model file")


def _run_score(args):
    raise SystemExit("mtclassic score: not available yet in this version.")


_COMMANDS = {
    "demo": (_add_demo, _run_demo),
    "train": (_add_train, _run_train),
    "evaluate": (_add_evaluate, _run_evaluate),
    "score": (_add_score, _run_score),
}


def build_parser():
    """Return the argument parser of the ``mtclassic`` command."""
    parser = argparse.ArgumentParser(
        prog="mtclassic",
        description=(
            "Handwritten digit and letter recognition with classical machine "
            "learning (HOG features, SVM and random-forest heads, multi-task vote)."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"mtclassic {__version__}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add, _ in _COMMANDS.values():
        add(subparsers)
    return parser


def main(argv=None):
    """Run the command line; return the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _, run = _COMMANDS[args.command]
    status = run(args)
    return 0 if status is None else int(status)


if __name__ == "__main__":
    sys.exit(main())
