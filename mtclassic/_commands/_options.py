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
    parser.add_argument(
        "--task-prior",
        choices=("fixed", "batch"),
        default="fixed",
        help="task mix the vote assumes: 'fixed' (the model's weights) or "
        f"'batch' (estimated from {images} themselves, without labels, on up to "
        "10,000 images spread over them: for images from one source, such as "
        "digits only; default: fixed)",
    )


def task_mix_text(model, mix):
    """``digits 98.0%, letters 2.0%``: a task mix, by the model's task names."""
    vote = model.steps[-1][1] if hasattr(model, "steps") else model
    return ", ".join(
        f"{task} {share:.1%}" for task, share in zip(vote.tasks_, mix, strict=True)
    )


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
