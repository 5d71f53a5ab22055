"""``mtclassic score``: batch-score image files with a saved model."""

import errno
import sys

from mtclassic._commands._options import (
    add_model_arguments,
    add_task_prior,
    add_transpose,
    error_message,
    task_mix_text,
)

# `mtclassic score` exits with this status when it scored the inputs but some
# records went to the errors file (0: all scored; 1: failed; 2: usage).
EXIT_RECORD_ERRORS = 3
# Seconds to wait for a Dask scheduler given with --scheduler.
SCHEDULER_TIMEOUT = 5


def add_parser(subparsers):
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
    add_model_arguments(parser)
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
    add_task_prior(parser, "the INPUT images")
    add_transpose(parser)
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
    return parser


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


def run(args):
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
                task_prior=args.task_prior,
            )
    except (ValueError, TypeError) as exc:
        # Bad input or options: the message says what to fix, a traceback not.
        raise SystemExit(f"mtclassic score: {error_message(exc)}") from exc
    except OSError as exc:  # a missing file, a lock held, a full or read-only disk
        raise SystemExit(f"mtclassic score: {_os_error_message(exc)}") from exc
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if args.dask_local is not None:
                cluster.close()
    if not args.quiet:
        if summary.task_mix is not None:
            shares = task_mix_text(summary.task_mix)
            print(f"scored under the task mix estimated from the inputs: {shares}")
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
