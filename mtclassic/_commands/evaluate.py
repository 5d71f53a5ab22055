"""``mtclassic evaluate``: score a saved model on labelled data, report."""

import os
import sys

from mtclassic._commands._options import (
    add_idx_label_names,
    add_model_arguments,
    add_task_prior,
    add_transpose,
    one_line_errors,
    task_mix_text,
)
from mtclassic._data import DIGIT_NAMES, EVALUATION_SEED, SYNTHETIC


def add_parser(subparsers):
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
    add_model_arguments(parser)
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
        default=EVALUATION_SEED,
        help="seed of the synthetic images (default: 1; mtclassic train uses 0, "
        "so they are not the training images)",
    )
    add_idx_label_names(parser)
    parser.add_argument(
        "--max-images",
        type=int,
        default=25,
        help="most misclassified images shown in the report (default: 25)",
    )
    add_task_prior(parser, "the images of DATA")
    add_transpose(parser)
    return parser


def _data_argument(args):
    """DATA (or --demo) as one source or a pair of files; SystemExit if bad."""
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
    return data if len(data) > 1 else data[0]


def run(args):
    data = _data_argument(args)
    with one_line_errors("evaluate"):
        run_evaluate(
            args.model,
            data,
            report=args.report,
            n_samples=args.n_samples,
            random_state=args.random_state,
            idx_label_names=args.idx_label_names,
            max_images=args.max_images,
            trusted=args.trusted,
            transpose=args.transpose,
            task_prior=args.task_prior,
        )
    return 0


def run_evaluate(
    model_path,
    data,
    *,
    report=None,
    n_samples=2000,
    random_state=EVALUATION_SEED,
    idx_label_names=DIGIT_NAMES,
    max_images=25,
    out=None,
    trusted=None,
    transpose=False,
    task_prior="auto",
):
    """Load a saved model, score it on labelled data, print and report.

    ``task_prior="batch"``: the vote scores under the task mix it estimates
    from the images (:func:`mtclassic.prior.adapt_task_prior`), not their
    labels; ``"fixed"``: under the model's own weights, as its ``predict``
    does; ``"auto"`` (the command's default): batch for a multi-task vote,
    fixed for any other model.

    See :func:`mtclassic._data.load_labelled_images` for ``data`` and
    :func:`mtclassic._report.write_report` for ``report``.

    Returns
    -------
    metrics : dict
    """
    from mtclassic._data import load_labelled_images
    from mtclassic._report import evaluate, unknown_labels_warning, write_report
    from mtclassic.metrics import fitted_tasks
    from mtclassic.persistence import load_model
    from mtclassic.prior import adapt_task_prior

    out = sys.stdout if out is None else out
    model = load_model(model_path, trusted=trusted)
    dataset = load_labelled_images(
        data,
        n_samples=n_samples,
        random_state=random_state,
        idx_label_names=idx_label_names,
        transpose=transpose,
    )
    print(f"model: {os.fspath(model_path)}", file=out)
    print(f"data:  {dataset.description}", file=out)
    if dataset.skipped:
        print(f"skipped {len(dataset.skipped)} unreadable file(s)", file=out)
    tasks = fitted_tasks(model)  # None for a model without a vote
    if task_prior == "batch" or (task_prior == "auto" and tasks is not None):
        mix = adapt_task_prior(model, dataset.images)
        shares = task_mix_text(dict(zip(tasks, mix, strict=True)))
        print(f"task mix estimated from the images: {shares}", file=out)
    if report is None:
        result = evaluate(model, dataset.images, dataset.target, ids=dataset.ids)
    else:
        result = write_report(
            model,
            dataset.images,
            dataset.target,
            report,
            model_name=os.path.basename(os.fspath(model_path)),
            data_name=dataset.description,
            skipped=dataset.skipped,
            max_images=max_images,
            ids=dataset.ids,
        )
    warning = unknown_labels_warning(result.metrics["unknown_labels"])
    if warning:
        print(warning, file=sys.stderr)
    for line in summary_lines(result.metrics):
        print(line, file=out)
    if report is not None:
        print(f"report: {os.path.join(os.fspath(report), 'report.md')}", file=out)
    return result.metrics


def summary_lines(metrics):
    """The report's figures as short lines for the terminal.

    Examples
    --------
    >>> metrics = {"n_samples": 4, "accuracy": 0.75, "routing_error": 0.25,
    ...            "tasks": {"digits": {"accuracy": 0.5, "n_samples": 2}},
    ...            "worst_confusions": [{"true": "0", "pred": "O", "count": 1,
    ...                                  "rate": 0.5, "cross_task": True}]}
    >>> print("\\n".join(summary_lines(metrics)))
    images:          4
    digits:          50.00% (2 images)
    combined:        75.00%
    routing error:   25.00%
    worst confusions: 0->O (1, cross-task)
    """
    lines = [f"{'images:':<16} {metrics['n_samples']}"]
    for task, entry in metrics["tasks"].items():
        lines.append(
            f"{task + ':':<16} {entry['accuracy']:.2%} ({entry['n_samples']} images)"
        )
    lines.append(f"{'combined:':<16} {metrics['accuracy']:.2%}")
    lines.append(f"{'routing error:':<16} {metrics['routing_error']:.2%}")
    confusions = ", ".join(
        f"{c['true']}->{c['pred']} ({c['count']}{', cross-task' if c['cross_task'] else ''})"
        for c in metrics["worst_confusions"][:5]
    )
    lines.append(f"worst confusions: {confusions or 'none'}")
    return lines
