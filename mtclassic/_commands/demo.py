"""``mtclassic demo``: fit and score the default model on the embedded data."""


def add_parser(subparsers):
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
    return parser


def run(args):
    """Check the sizes, run the demo, print its figures; return 0."""
    from mtclassic._demo import run_demo

    for name, value in (("--n-train", args.n_train), ("--n-test", args.n_test)):
        if value < 1:
            raise SystemExit(f"mtclassic demo: {name} must be >= 1; got {value}.")
    result = run_demo(
        n_train=args.n_train,
        n_test=args.n_test,
        random_state=args.random_state,
        n_jobs=args.n_jobs,
    )
    print(
        f"mtclassic demo: default model on synthetic characters "
        f"({args.n_train} training, {args.n_test} test images, seed "
        f"{args.random_state})"
    )
    for line in demo_lines(result):
        print(line)
    return 0


def demo_lines(result):
    """The demo's figures and timings as lines.

    Examples
    --------
    >>> scores = {"tasks": {"digits": {"accuracy": 0.5, "n_samples": 2}},
    ...           "accuracy": 0.5, "routing_error": 0.25}
    >>> seconds = {"generate": 0.1, "fit": 1.0, "predict": 0.5}
    >>> print("\\n".join(demo_lines(dict(scores=scores, n_test=2, seconds=seconds))))
      digits accuracy         50.00%  (2 images)
      combined accuracy       50.00%  (2 labels)
      task-routing error      25.00%
      time: generate 0.1 s, fit 1.0 s, predict 0.50 s (4 images/s), total 1.6 s
    """
    scores, seconds = result["scores"], result["seconds"]
    lines = [
        f"  {name + ' accuracy':<22}{entry['accuracy']:8.2%}  "
        f"({entry['n_samples']} images)"
        for name, entry in scores["tasks"].items()
    ]
    lines.append(
        f"  {'combined accuracy':<22}{scores['accuracy']:8.2%}  "
        f"({result['n_test']} labels)"
    )
    lines.append(f"  {'task-routing error':<22}{scores['routing_error']:8.2%}")
    predict = max(seconds["predict"], 1e-9)
    lines.append(
        f"  time: generate {seconds['generate']:.1f} s, fit {seconds['fit']:.1f} s, "
        f"predict {seconds['predict']:.2f} s "
        f"({result['n_test'] / predict:,.0f} images/s), "
        f"total {sum(seconds.values()):.1f} s"
    )
    return lines
