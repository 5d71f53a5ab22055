"""``mtclassic train``: fit the default model on a data spec and save it."""

from mtclassic._commands._options import (
    add_idx_label_names,
    add_transpose,
    one_line_errors,
)


def add_parser(subparsers):
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
    parser.add_argument(
        "--filled-copies",
        action="store_true",
        help="also learn every thin character (1, I, l) stretched to fill its "
        "box, for sources that store characters stretched (binary forms, "
        "1-bit drawings); off by default: it costs other sources accuracy and "
        "doubles the fit (README, 'Characters stretched to fill their box')",
    )
    parser.add_argument("--random-state", type=int, default=0, help="seed")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel jobs")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    add_idx_label_names(parser)
    add_transpose(parser)
    return parser


def run(args):
    """Train and save; progress to standard error, the result line to
    standard output."""
    import os

    from mtclassic._train import Progress, train_model

    with one_line_errors("train"):
        result = train_model(
            args.out,
            data=args.data,
            n_train=args.n_train,
            preset=args.preset,
            tasks=args.tasks,
            case_sensitive=args.case_sensitive,
            filled_copies=args.filled_copies,
            random_state=args.random_state,
            n_jobs=args.n_jobs,
            transpose=args.transpose,
            idx_label_names=args.idx_label_names,
            progress=Progress(quiet=args.quiet),
        )
    metadata = result.metadata
    print(
        f"trained on {result.source} in {result.seconds:.1f} s; "
        f"saved {os.fspath(args.out)} ({metadata['payload_bytes']} bytes, "
        f"{len(metadata['classes'])} classes, sha256 {metadata['sha256'][:12]}...)"
    )
    return 0
