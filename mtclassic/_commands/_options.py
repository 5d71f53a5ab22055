"""Arguments and error handling shared by several commands."""

import contextlib

_TRANSPOSE_HELP = (
    "swap the rows and columns of every image read from files: EMNIST's IDX "
    "files store their images transposed, this reads them upright"
)


def add_transpose(parser):
    parser.add_argument("--transpose", action="store_true", help=_TRANSPOSE_HELP)


def add_idx_label_names(parser):
    parser.add_argument(
        "--idx-label-names",
        default="0123456789",
        metavar="CHARS",
        help="label of each code in an IDX labels file, one character per code "
        "(default: 0123456789)",
    )


def add_task_prior(parser, images):
    """--task-prior, shared by evaluate and score; ``images``: what is read."""
    # A run of the command line scores one set of images, usually from one
    # source with its own task mix (a scan of postcodes is all digits). No
    # fixed prior serves both an all-digits and an all-letters set: the
    # look-alikes (0/O, 1/I/l, 9/g, ...) go to the task it favours
    # (benchmarks/bench_task_prior.py). So the commands estimate the mix.
    parser.add_argument(
        "--task-prior",
        choices=("auto", "batch", "fixed"),
        default="auto",
        help="task mix the vote assumes: 'batch' (estimated from "
        f"{images} themselves, without labels, on up to 10,000 images spread "
        "over them, and printed; the same for any chunk size, worker count or "
        "resume), 'fixed' (the model's weights, as its predict in Python; for "
        "a set that mixes sources) or 'auto' (batch for a multi-task model, "
        "fixed for any other; the default)",
    )


def task_mix_text(mix):
    """``digits 98.0%, letters 2.0%``: a task mix, by task."""
    return ", ".join(f"{task} {share:.1%}" for task, share in mix.items())


def add_model_arguments(parser):
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


def error_message(exc):
    """An error's text for a command-line user: options, not keywords."""
    from mtclassic.persistence import UntrustedTypesError

    if isinstance(exc, UntrustedTypesError):
        return exc.message(command_line=True)
    return str(exc)


@contextlib.contextmanager
def one_line_errors(command):
    """Bad files, data, options or a missing extra: one line, no traceback."""
    try:
        yield
    except (OSError, ValueError, TypeError, ImportError) as exc:
        raise SystemExit(f"mtclassic {command}: {error_message(exc)}") from exc
