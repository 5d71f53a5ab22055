"""The ``mtclassic`` command line: ``demo``, ``train``, ``evaluate`` and ``score``.

Each command has an ``_add_<command>`` function that declares its arguments and a
``_run_<command>`` function that does the work by calling the package's Python
API; nothing here is needed to use mtclassic from Python.
"""

import argparse
import contextlib
import errno
import sys

from mtclassic import __version__

# `mtclassic score` exits with this status when it scored the inputs but some
# records went to the errors file (0: all scored; 1: failed; 2: usage).
EXIT_RECORD_ERRORS = 3
# Seconds to wait for a Dask scheduler given with --scheduler.
SCHEDULER_TIMEOUT = 5

_TRANSPOSE_HELP = (
    "swap the rows and columns of every image read from files: EMNIST's IDX "
    "files store their images transposed, this reads them upright"
)


def _add_transpose(parser):
    parser.add_argument("--transpose", action="store_true", help=_TRANSPOSE_HELP)


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


def _add_idx_label_names(parser):
    parser.add_argument(
        "--idx-label-names",
        default="0123456789",
        metavar="CHARS",
        help="label of each code in an IDX labels file, one character per code "
        "(default: 0123456789)",
    )


def _add_train(subparsers):
    parser = subparsers.add_parser(
        "train",
        help="fit the default model and save it",
        description=(
            "Fit the default model and save it with its metadata record (see "
            "mtclassic.save_model). Without --data it trains on the embedded "
            "synthetic digits and letters (offline). The tasks (digits, "
            "letters) follow the labels unless --tasks says otherwise: a "
            "digits-only set trains a digits-only model. Lower-case labels are "
            "read as upper case unless --case-sensitive keeps them as classes "
            "of their own (beside 'A'-'Z' in the letters task). Every input "
            "problem is reported in one line before the fit starts; progress "
            "goes to standard error, the result line to standard output."
        ),
    )
    parser.add_argument(
        "out", help="model file to write: .joblib, or .skops for the skops format"
    )
    parser.add_argument(
        "--data",
        nargs="+",
        metavar="DATA",
        help=(
            "labelled training data: a folder with one sub-folder of images per "
            "class, an .npz file with arrays 'images' and 'labels' (and "
            "optionally 'sizes'), an IDX images file followed by its IDX labels "
            "file, or 'mnist' or 'emnist:<split>' (balanced, byclass, bymerge, "
            "digits, letters, mnist) downloaded once with checksum into the "
            "data cache (see MTCLASSIC_DATA_HOME)"
        ),
    )
    parser.add_argument(
        "--n-train",
        type=int,
        default=None,
        help="training images: how many synthetic ones to generate (default: "
        "6000), or with --data at most this many, drawn at random (default: all)",
    )
    parser.add_argument(
        "--preset",
        choices=("accurate", "fast"),
        default="accurate",
        help="model settings (see mtclassic.models.PRESETS; default: accurate)",
    )
    parser.add_argument(
        "--tasks",
        choices=("auto", "digits", "letters", "both"),
        default="auto",
        help="tasks to learn; auto (default): those the labels hold; images "
        "of other tasks are left out",
    )
    parser.add_argument(
        "--case-sensitive",
        action="store_true",
        help="keep lower-case labels 'a'-'z' as classes of their own (in the "
        "letters task) instead of reading them as upper case",
    )
    parser.add_argument("--random-state", type=int, default=0, help="seed")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel jobs")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    _add_idx_label_names(parser)
    _add_transpose(parser)


def _run_train(args):
    from mtclassic._train import run_train

    with _one_line_errors("train"):
        run_train(
            args.out,
            data=args.data,
            n_train=args.n_train,
            preset=args.preset,
            tasks=args.tasks,
            case_sensitive=args.case_sensitive,
            random_state=args.random_state,
            n_jobs=args.n_jobs,
            transpose=args.transpose,
            idx_label_names=args.idx_label_names,
            quiet=args.quiet,
        )


def _add_model_arguments(parser):
    """The model file argument and --trusted, shared by evaluate and score."""
    parser.add_argument(
        "model",
        help=(
            "model file to load: a joblib or pickle file (joblib.dump, "
            "mtclassic train) or a .skops file; a .meta.json record beside it "
            "is checked if present. A joblib or pickle file runs any code it "
            "holds when loaded: name only files you trust, and use .skops for "
            "models from elsewhere (only allow-listed types load)"
        ),
    )
    parser.add_argument(
        "--trusted",
        action="append",
        metavar="TYPE",
        help="for .skops models: an extra type to trust, by its exact name "
        "(repeatable)",
    )


def _error_message(exc):
    """An error's text for a command-line user: options, not keywords."""
    from mtclassic.persistence import UntrustedTypesError

    if isinstance(exc, UntrustedTypesError):
        return exc.message(command_line=True)
    return str(exc)


@contextlib.contextmanager
def _one_line_errors(command):
    """Bad files, data, options or a missing extra: one line, no traceback."""
    try:
        yield
    except (OSError, ValueError, TypeError, ImportError) as exc:
        raise SystemExit(f"mtclassic {command}: {_error_message(exc)}") from exc


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
    _add_model_arguments(parser)
    parser.add_argument(
        "data",
        nargs="*",
        metavar="DATA",
        help=(
            "'synthetic' (the embedded default data), 'mnist' or "
            "'emnist:<split>' (its test subset, downloaded once), a folder with "
            "one sub-folder per class, an .npz file with arrays 'images' and "
            "'labels' (and optionally 'sizes'), or an IDX images file followed "
            "by its IDX labels file"
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
        "--random-state",
        type=int,
        default=1,
        help="seed of the synthetic images (default: 1; mtclassic train uses 0, "
        "so they are not the training images)",
    )
    _add_idx_label_names(parser)
    parser.add_argument(
        "--max-images",
        type=int,
        default=25,
        help="most misclassified images shown in the report (default: 25)",
    )
    _add_transpose(parser)


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
    with _one_line_errors("evaluate"):
        run_evaluate(
            args.model,
            data if len(data) > 1 else data[0],
            report=args.report,
            n_samples=args.n_samples,
            random_state=args.random_state,
            idx_label_names=args.idx_label_names,
            max_images=args.max_images,
            trusted=args.trusted,
            transpose=args.transpose,
        )


def _add_score(subparsers):
    parser = subparsers.add_parser(
        "score",
        help="batch-score image files with a saved model",
        description=(
            "Batch-score images with a saved model: one output row per image "
            "(id, label, task, probability, optionally the top k), read and "
            "scored in chunks, so memory stays flat. The output is written to a "
            "temporary file and renamed; after a crash, the same command with "
            "--resume continues where it stopped. Unreadable images, and every "
            "record of an input or chunk that cannot be read or scored, are "
            "listed in an errors file with the reason; the rest is scored. The "
            "output is locked (OUT.lock, naming the run's pid and host) for the "
            "whole run: a second run on the same --out is refused, and a lock "
            "left by a killed run is taken over."
        ),
        epilog=(
            "exit status: 0 every record scored; "
            f"{EXIT_RECORD_ERRORS} scored, but some records went to the errors "
            "file; 1 failed (the message says why); 2 bad command line."
        ),
    )
    _add_model_arguments(parser)
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help=(
            "IDX files (gzip or raw), .npy/.npz files, image files, folders of "
            "images, or glob patterns of these (quote them)"
        ),
    )
    parser.add_argument("--out", required=True, help="output file")
    parser.add_argument(
        "--format", choices=("csv", "jsonl"), default="csv", help="default: csv"
    )
    parser.add_argument(
        "--top-k", type=int, default=1, help="most probable labels per image"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run of the same command",
    )
    parser.add_argument(
        "--errors",
        metavar="FILE",
        help="errors file (default: beside the output, e.g. scores.errors.csv)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        help="parallel scoring processes (-1: all cores); lowered, with a "
        "warning, to the number of chunks, to one per 32768 images (a worker's "
        "start costs about what scoring 10-25k images does; the environment "
        "variable MTCLASSIC_MIN_IMAGES_PER_WORKER changes it) and to what the "
        "memory holds",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=2048, help="images per chunk (default: 2048)"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar and no summary"
    )
    _add_transpose(parser)
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="score on this Dask cluster, e.g. tcp://10.0.0.5:8786 (needs [dask])",
    )
    cluster.add_argument(
        "--dask-local",
        type=int,
        metavar="N",
        help="start a local Dask cluster of N worker processes and score on it",
    )


def _dask_client(args):
    if args.scheduler is None and args.dask_local is None:
        return None
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit(
            "mtclassic score: --scheduler and --dask-local need the optional "
            "packages dask and distributed: pip install mtclassic[dask]"
        ) from None
    if args.scheduler is not None:
        try:
            return Client(args.scheduler, timeout=SCHEDULER_TIMEOUT)
        except (OSError, TimeoutError):
            raise SystemExit(
                f"mtclassic score: cannot reach the Dask scheduler at "
                f"{args.scheduler} within {SCHEDULER_TIMEOUT} s; check the address "
                "and that the scheduler is running."
            ) from None
    if args.dask_local < 1:
        raise SystemExit(
            f"mtclassic score: --dask-local must be >= 1; got {args.dask_local}."
        )
    cluster = LocalCluster(
        n_workers=args.dask_local,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster)


def _os_error_message(exc):
    """One line for a file-system error while scoring, naming the file."""
    if exc.errno is None or exc.strerror is None:
        return str(exc)  # our own message, already one line
    where = exc.filename if exc.filename is not None else "a file"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"no space left on the device writing {where}; free some space and "
            "run the same command with --resume (the finished chunks are kept)."
        )
    if exc.errno == errno.EROFS:
        return (
            f"cannot write {where}: the file system is read-only; choose another --out."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"cannot write {where}: permission denied; choose another --out."
    return f"{exc.strerror}: {where}."


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    """A warning as one line, without the source line Python would print."""
    kind = "warning" if category is UserWarning else category.__name__
    print(f"mtclassic score: {kind}: {message}", file=sys.stderr)


def _run_score(args):
    import warnings

    from mtclassic.scoring import score_files

    client = None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _one_line_warning
            client = _dask_client(args)
            summary = score_files(
                args.model,
                args.inputs,
                args.out,
                format=args.format,
                top_k=args.top_k,
                chunk_size=args.chunk_size,
                n_jobs=args.n_jobs,
                resume=args.resume,
                errors_path=args.errors,
                progress=False if args.quiet else None,
                client=client,
                trusted=args.trusted,
                transpose=args.transpose,
            )
    except (ValueError, TypeError) as exc:
        # Bad input or options: the message says what to fix, a traceback not.
        raise SystemExit(f"mtclassic score: {_error_message(exc)}") from exc
    except OSError as exc:  # a missing file, a lock held, a full or read-only disk
        raise SystemExit(f"mtclassic score: {_os_error_message(exc)}") from exc
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if args.dask_local is not None:
                cluster.close()
    if not args.quiet:
        resumed = (
            f", {summary.n_chunks_resumed} of {summary.n_chunks} chunks resumed"
            if summary.n_chunks_resumed
            else ""
        )
        print(
            f"scored {summary.n_scored} images into {summary.out} "
            f"({summary.n_errors} errors in {summary.errors_path}) in "
            f"{summary.seconds:.1f} s, {summary.images_per_second:.0f} images/s"
            f"{resumed}"
        )
    return EXIT_RECORD_ERRORS if summary.n_errors else 0


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
