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
        description=(
            "Score a saved model on labelled data: print per-task accuracy, "
            "combined accuracy, routing error and the worst confusions, and with "
            "--report write them with figures (confusion matrix, per-task "
            "accuracy, misclassified images, HOG) as report.md in a folder. "
            "'mtclassic evaluate MODEL synthetic --report DIR' runs offline."
        ),
    )
    parser.add_argument("model", help="saved model file (see mtclassic train)")
    parser.add_argument(
        "data",
        nargs="*",
        metavar="DATA",
        help=(
            "'synthetic' (the embedded default data), a folder with one "
            "sub-folder per class, an .npz file with arrays 'images' and "
            "'labels', or an IDX images file followed by its IDX labels file"
        ),
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="evaluate on the embedded synthetic data (same as DATA 'synthetic')",
    )
    parser.add_argument(
        "--report",
        metavar="DIR",
        default=None,
        help="folder for report.md, metrics.json and the PNG figures "
        "(needs the 'plot' extra)",
    )
    parser.add_argument(
        "--n-samples",
        type=int,
        default=2000,
        help="number of synthetic images (default: 2000)",
    )
    parser.add_argument(
        "--random-state", type=int, default=0, help="seed of the synthetic images"
    )
    parser.add_argument(
        "--idx-label-names",
        default="0123456789",
        metavar="CHARS",
        help="label of each code in an IDX labels file, one character per code "
        "(default: 0123456789)",
    )
    parser.add_argument(
        "--max-images",
        type=int,
        default=25,
        help="most misclassified images shown in the report (default: 25)",
    )


def _run_evaluate(args):
    from mtclassic._report import SYNTHETIC, run_evaluate

    data = list(args.data)
    if args.demo:
        if data:
            raise SystemExit(
                "mtclassic evaluate: give either --demo or DATA, not both; got "
                f"DATA {data}."
            )
        data = [SYNTHETIC]
    if not data:
        raise SystemExit(
            "mtclassic evaluate: DATA is missing: give 'synthetic' (or --demo), a "
            "folder, an .npz file, or IDX images and labels files."
        )
    if args.n_samples < 1:
        raise SystemExit(
            f"mtclassic evaluate: --n-samples must be at least 1; got {args.n_samples}."
        )
    run_evaluate(
        args.model,
        data if len(data) > 1 else data[0],
        report=args.report,
        n_samples=args.n_samples,
        random_state=args.random_state,
        idx_label_names=args.idx_label_names,
        max_images=args.max_images,
    )


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
