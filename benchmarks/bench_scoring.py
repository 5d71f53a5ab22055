"""Batch-scoring benchmark: throughput, peak memory, the tutorial pipeline, Dask.

What it does, in one run:

1. trains the default model on a modest real set (10,000 MNIST training digits,
   EMNIST letters a-m, synthetic letters n-z, which the real data lacks), or on
   the embedded synthetic set with ``--synthetic``, and saves it;
2. writes an IDX file of ``--n-images`` (default 1,000,000) images made of real
   held-out images (MNIST test, EMNIST odd indices) with random shifts of up to
   2 pixels, streamed to a temp
   folder (deleted at the end);
3. runs ``mtclassic score`` on it in a subprocess with ``--n-jobs 2`` and BLAS
   pinned to one thread per process, and reads the peak RSS from the OS: every
   process of the scoring tree is sampled from ``/proc`` (``VmHWM``, its peak
   resident set), and the main process's own peak comes from ``wait4``;
4. the same on a file of ``--n-small`` (100,000) images, for the memory ratio;
5. the tutorial pipeline a user would write (``_common.TutorialPipeline``:
   scikit-image ``hog`` per image, ``SVC(probability=True)`` on digits, a
   random forest on letters, the seed's vote) scored on a subset on the same
   2 cores, and both on one core, for the speed ratios; with ``--tutorial
   PATH``, the tutorial ``bench_fit.py --save-tutorial PATH`` fitted (on the
   accuracy protocol's training set, the rows of its ``--save-model``)
   instead;
6. ``mtclassic score --dask-local 2`` on the small file: images/s through a
   2-worker ``LocalCluster``; ``--n-jobs 1`` on the small file;
7. the default model's time per image by pipeline step, in-process, at 1 and
   at ``--n-jobs`` jobs (the steps' ``n_jobs`` set as ``make_default_model``
   sets them): wall and CPU microseconds (the CPU of this process and its
   workers) of the normaliser, each feature block (``features/hog``,
   ``features/pixels``, the redrawn strokes' ``features/redrawn/strokes`` and
   ``features/redrawn/features``), the gate and each head on their columns
   (``vote/gate``, ``vote/digits``, ...), and ``vote/combine``: the vote's
   predict less its gate and heads.

Each run's ``worker_peak_mb`` is the largest peak RSS of one process of its
tree besides the main one.

Prints a table and writes ``benchmarks/results/bench_scoring.json``.

    python benchmarks/bench_scoring.py                       # the full run
    python benchmarks/bench_scoring.py --quick                # a small run

The full-size figures (issue 16): the accurate preset and the tutorial fitted
on the accuracy protocol's training set by ``bench_fit.py``, then scored::

    python benchmarks/bench_fit.py --presets accurate --skip flat,grid \
        --save-model full.joblib --save-tutorial tutorial.joblib
    python benchmarks/bench_scoring.py --model full.joblib --tutorial tutorial.joblib
"""

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    TutorialPipeline,
    add_quick,
    child_env,
    command_line,
    cpu_seconds,
    descendants,
    load_emnist_letters,
    load_mnist_test,
    load_mnist_train,
    machine,
    make_parser,
    parse,
    run_measured,
    utc_date,
    write_json,
)

#: --quick: a small run end to end
QUICK = {
    "n_train_digits": 1_000,
    "n_images": 3_000,
    "n_small": 2_000,
    "n_tutorial": 200,
    "n_single_core": 1_000,
}
IDX_CHUNK = 50_000  # images generated and written at a time
MAX_SHIFT = 2  # pixels, per axis


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_scoring.json", n_jobs=2)
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="train on the embedded synthetic set only",
    )
    parser.add_argument("--n-train-digits", type=int, default=10_000)
    parser.add_argument(
        "--n-train-synthetic",
        type=int,
        default=15_000,
        help="training images with --synthetic",
    )
    parser.add_argument(
        "--model", type=Path, help="score this saved model instead of training one"
    )
    parser.add_argument("--n-images", type=int, default=1_000_000)
    parser.add_argument("--n-small", type=int, default=100_000)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="default: mtclassic score's own"
    )
    parser.add_argument(
        "--n-tutorial-train",
        type=int,
        default=None,
        help="default: the default model's training set",
    )
    parser.add_argument(
        "--tutorial",
        type=Path,
        help="the tutorial bench_fit.py --save-tutorial fitted (trained on the "
        "rows of its --save-model) instead of training one",
    )
    parser.add_argument(
        "--n-tutorial",
        type=int,
        default=2_000,
        help="images scored by the tutorial pipeline",
    )
    parser.add_argument(
        "--n-single-core",
        type=int,
        default=20_000,
        help="images scored in-process on one core",
    )
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--tmp-dir", type=Path, default=None)
    add_quick(parser, QUICK)
    return parse(parser, argv, QUICK)


# ---------------------------------------------------------------- data


def training_set(args, rng):
    """(images, labels, description): real digits and letters, synthetic n-z.

    10,000 MNIST training digits; the EMNIST letters a-m at even indices (the
    training half, as bench_accuracy splits them); synthetic n-z, which the
    real data lacks, as many per class as the real letters have.
    """
    from mtclassic.datasets import make_characters

    if args.synthetic or not args.data_dir.is_dir():
        if not args.synthetic:
            print(f"{args.data_dir} not found: training on synthetic data")
        X, y = make_characters(args.n_train_synthetic, random_state=args.random_state)
        return X, y, f"{len(y)} synthetic images (make_characters)"
    digits, digit_labels = load_mnist_train(args.data_dir)
    pick = rng.choice(len(digit_labels), args.n_train_digits, replace=False)
    digits, digit_labels = digits[pick], digit_labels[pick]
    letters, letter_labels = load_emnist_letters(args.data_dir)
    letters, letter_labels = letters[::2], letter_labels[::2]  # even indices
    rest = "NOPQRSTUVWXYZ"
    n_synthetic = len(rest) * len(letter_labels) // len(np.unique(letter_labels))
    synthetic, synthetic_labels = make_characters(
        n_synthetic, classes=rest, random_state=args.random_state
    )
    X = np.concatenate([digits, letters, synthetic])
    y = np.concatenate([digit_labels, letter_labels, synthetic_labels])
    order = rng.permutation(len(y))
    description = (
        f"{len(digits)} MNIST train digits + {len(letters)} EMNIST letters a-m "
        f"(even indices) + {len(synthetic)} synthetic letters n-z"
    )
    return X[order], y[order], description


def scoring_pool(args, X_train):
    """Real test images to tile the big file with (the training images if none)."""
    if args.synthetic or not args.data_dir.is_dir():
        return X_train
    digits, _ = load_mnist_test(args.data_dir)
    letters, _ = load_emnist_letters(args.data_dir)
    # Odd indices: the letters the model was not trained on.
    return np.concatenate([digits, letters[1::2]])


def write_shifted_idx(path, pool, n_images, rng):
    """Stream ``n_images`` pool images, each shifted by up to 2 pixels, as IDX."""
    import struct

    from mtclassic.io import atomic_writer

    side = pool.shape[1:]
    shifts = [
        (dy, dx)
        for dy in range(-MAX_SHIFT, MAX_SHIFT + 1)
        for dx in range(-MAX_SHIFT, MAX_SHIFT + 1)
    ]
    with atomic_writer(path) as file:
        file.write(struct.pack(">BBBBIII", 0, 0, 0x08, 3, n_images, *side))
        for start in range(0, n_images, IDX_CHUNK):
            n = min(IDX_CHUNK, n_images - start)
            chosen = pool[rng.integers(0, len(pool), n)]
            which = rng.integers(0, len(shifts), n)
            for k, shift in enumerate(shifts):
                rows = which == k
                chosen[rows] = np.roll(chosen[rows], shift, axis=(1, 2))
            file.write(chosen.tobytes())


# ---------------------------------------------------------------- memory


def _rates(run, n_images, n_cores):
    """Wall-clock images/s, and what the CPU time says the cores could do.

    The machine is shared: other processes take CPU from the run, so the wall
    clock understates our throughput. ``cpu_us_per_image`` counts the CPU the
    whole scoring tree spent per image (reading, scoring, writing); at that
    cost ``n_cores`` cores of our own would score ``images_per_second_cpu``.
    """
    run["n_images"] = n_images
    run["images_per_second"] = n_images / run["seconds"]
    run["reported_images_per_second"] = _reported_rate(run["stdout"])
    run["cpu_us_per_image"] = 1e6 * run["cpu_seconds"] / n_images
    run["images_per_second_cpu"] = n_cores * n_images / run["cpu_seconds"]
    run["load_average_after"] = round(os.getloadavg()[0], 2)
    return run


def score_command(model_path, data_path, out, args, extra=()):
    command = [
        sys.executable,
        "-m",
        "mtclassic",
        "score",
        str(model_path),
        str(data_path),
        "--out",
        str(out),
    ]
    if args.chunk_size:
        command += ["--chunk-size", str(args.chunk_size)]
    return [*command, *extra]


def _worker_peak(run):
    """The largest peak RSS of one process of the run besides its main one."""
    others = [
        mb
        for key, mb in run["process_peaks_mb"].items()
        if int(key.split()[0]) != run["main_pid"]
    ]
    run["worker_peak_mb"] = max(others, default=run["main_peak_mb"])
    return run


def _reported_rate(stdout):
    """images/s as `mtclassic score` reports it (scoring only, no start-up)."""
    match = re.search(r"([0-9.]+) images/s", stdout)
    return float(match.group(1)) if match else None


# ---------------------------------------------------------------- tutorial


def _rate_in_process(function, images, repeats=3):
    """Median images per CPU second of ``function`` in this process (one core).

    CPU time, not wall time: other processes on the shared machine do not
    count against it.
    """
    rates = []
    for _ in range(repeats):
        started = time.process_time()
        function(images)
        rates.append(len(images) / (time.process_time() - started))
    return float(np.median(rates))


# ---------------------------------------------------------------- breakdown


def _tree_cpu_seconds():
    """CPU seconds of this process (all its threads) and its worker processes.

    This process's own from ``process_time`` (fine-grained); the workers' from
    ``/proc`` (clock ticks).
    """
    me = os.getpid()
    workers = sum(cpu_seconds(pid) for pid in descendants(me) if pid != me)
    return time.process_time() + workers


def _with_n_jobs(model, n_jobs):
    """``model`` with its steps' ``n_jobs`` set, as ``make_default_model(n_jobs=)``
    sets them: every ``n_jobs`` but the feature unions' (which would ship each
    batch to worker processes)."""
    from sklearn.pipeline import FeatureUnion

    params = model.get_params()
    owners = {
        key: params[key.rsplit("__", 1)[0]] if "__" in key else model
        for key in params
        if key.endswith("n_jobs")
    }
    return model.set_params(
        **{
            key: n_jobs
            for key, owner in owners.items()
            if not isinstance(owner, FeatureUnion)
        }
    )


def _step_calls(model, images):
    """(name, callable, its input) of every step, in order.

    The pipeline's steps; inside the features step, each block of the union
    (the redrawn strokes' two steps apart); inside the vote, the gate and each
    head on the columns the vote gives them.
    """
    from mtclassic.multitask import _columns

    steps = getattr(model, "steps", [("model", model)])
    calls, data = [], images
    for index, (name, step) in enumerate(steps):
        last = index == len(steps) - 1
        calls.append((name, step.predict_proba if last else step.transform, data))
        for block, transformer in getattr(step, "transformer_list", []):
            calls.append((f"{name}/{block}", transformer.transform, data))
            inner = data
            for sub, sub_step in getattr(transformer, "steps", []):
                calls.append((f"{name}/{block}/{sub}", sub_step.transform, inner))
                inner = sub_step.transform(inner)
        if not last:
            data = step.transform(data)
    vote, vote_name = steps[-1][1], steps[-1][0]
    tasks = getattr(vote, "tasks_", [])
    head_X = _columns(data, getattr(vote, "head_columns", None))
    for task, head in zip(tasks, getattr(vote, "estimators_", []), strict=True):
        calls.append((f"{vote_name}/{task}", head.predict_proba, head_X))
    if getattr(vote, "gate_", None) is not None:
        gate_X = _columns(data, vote.gate_columns)
        calls.append((f"{vote_name}/gate", vote.gate_.predict_proba, gate_X))
    return calls


def step_breakdown(model, images, n_jobs=1, repeats=3):
    """Median wall and CPU microseconds per image of each step, at ``n_jobs``.

    CPU counts this process's threads and its worker processes (``/proc``).
    ``total`` sums the pipeline's steps; ``vote/combine`` is the vote's
    predict less its gate and heads.
    """
    model = _with_n_jobs(model, n_jobs)
    calls = _step_calls(model, images)
    wall = {name: [] for name, _, _ in calls}
    cpu = {name: [] for name, _, _ in calls}
    for _ in range(repeats):
        for name, function, data in calls:
            cpu_start, started = _tree_cpu_seconds(), time.perf_counter()
            function(data)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(_tree_cpu_seconds() - cpu_start)
    steps = [name for name, _ in getattr(model, "steps", [("model", model)])]
    result = {"n_jobs": n_jobs, "n_images": len(images)}
    for kind, times in (("wall_us", wall), ("cpu_us", cpu)):
        per_image = {
            name: 1e6 * float(np.median(t)) / len(images) for name, t in times.items()
        }
        per_image["total"] = sum(per_image[name] for name in steps)
        vote = steps[-1]
        parts = [
            name
            for name in per_image
            if name.startswith(vote + "/") and name.count("/") == 1
        ]
        per_image[f"{vote}/combine"] = per_image[vote] - sum(
            per_image[part] for part in parts
        )
        result[kind] = per_image
    return result


# ---------------------------------------------------------------- main


def main(argv=None):
    args = parse_args(argv)
    env = child_env()
    from mtclassic.persistence import load_model, save_model
    from mtclassic.scoring import score_files

    rng = np.random.default_rng(args.random_state)
    record = {
        "machine": machine(),
        "command": command_line(__file__, argv),
        "date": utc_date(),
    }
    with tempfile.TemporaryDirectory(dir=args.tmp_dir, prefix="bench-scoring-") as tmp:
        tmp = Path(tmp)
        X_train, y_train, description = training_set(args, rng)
        if args.model is None:
            from mtclassic.models import make_default_model

            model_path = tmp / "model.joblib"
            started = time.perf_counter()
            model = make_default_model(random_state=args.random_state)
            model.fit(X_train, y_train)
            record["training"] = {
                "data": description,
                "seconds": time.perf_counter() - started,
            }
            save_model(model, model_path)
        else:
            model_path = args.model
            model = load_model(model_path)
            record["training"] = {"data": f"given model {model_path}"}
        print(f"model: {record['training']}")

        pool = scoring_pool(args, X_train)
        big, small = tmp / "big-idx3-ubyte", tmp / "small-idx3-ubyte"
        started = time.perf_counter()
        write_shifted_idx(big, pool, args.n_images, rng)
        write_shifted_idx(small, pool, args.n_small, rng)
        print(
            f"wrote {args.n_images} + {args.n_small} images in "
            f"{time.perf_counter() - started:.0f} s"
        )

        runs = {}
        for name, path in (("1m", big), ("small", small)):
            command = score_command(
                model_path,
                path,
                tmp / f"{name}.csv",
                args,
                ["--n-jobs", str(args.n_jobs)],
            )
            run = run_measured(command, env)
            n = args.n_images if name == "1m" else args.n_small
            runs[name] = _worker_peak(_rates(run, n, args.n_jobs))
            print(f"{name}: {run}")
        if args.n_jobs != 1:  # the small file again, one job
            command = score_command(
                model_path, small, tmp / "one.csv", args, ["--n-jobs", "1"]
            )
            run = run_measured(command, env)
            runs["small_1_job"] = _worker_peak(_rates(run, args.n_small, 1))
            print(f"small_1_job: {run}")
        record["runs"] = runs

        subset = np.asarray(_load_first(small, args.n_tutorial))
        if args.tutorial is not None:
            import joblib

            saved = joblib.load(args.tutorial)
            tutorial, n_fit, tutorial_fit = saved["tutorial"], saved["n_train"], None
            print(f"tutorial: {args.tutorial} ({n_fit} training rows)")
        else:
            tutorial = TutorialPipeline()
            n_fit = min(args.n_tutorial_train or len(y_train), len(y_train))
            started = time.perf_counter()
            tutorial.fit(X_train[:n_fit], y_train[:n_fit])
            tutorial_fit = time.perf_counter() - started
        tutorial_1 = _rate_in_process(tutorial.predict_proba, subset)
        # The tutorial on n_jobs cores, at ideal scaling: an upper bound of what
        # it could reach, so the speed-up below is a lower bound.
        tutorial_2 = args.n_jobs * tutorial_1
        single = _load_first(small, args.n_single_core)
        single_path = tmp / "single.npy"
        np.save(single_path, single)
        started = time.process_time()
        score_files(model, single_path, tmp / "single.csv", n_jobs=1, progress=False)
        ours_1 = len(single) / (time.process_time() - started)
        record["tutorial"] = {
            "pipeline": "skimage hog per image, SVC(probability=True) on digits, "
            "RandomForest(100) on letters, higher top probability wins",
            "n_train": n_fit,
            "fit_seconds": tutorial_fit,
            "saved": None if args.tutorial is None else str(args.tutorial),
            "n_scored": len(subset),
            "images_per_second_2_cores": tutorial_2,
            "images_per_second_2_cores_is": "ideal scaling of the 1-core rate",
            "measured_as": "images per CPU second, in-process",
            "images_per_second_1_core": tutorial_1,
        }
        record["ours_1_core"] = {
            "n_images": len(single),
            "images_per_second": ours_1,
            "measured_as": "images per CPU second, in-process",
        }

        if not args.skip_dask:
            command = score_command(
                model_path,
                small,
                tmp / "dask.csv",
                args,
                ["--dask-local", str(args.n_jobs)],
            )
            run = run_measured(command, env)
            record["dask"] = _worker_peak(_rates(run, args.n_small, args.n_jobs))
            print(f"dask: {run}")

        breakdown_images = _load_first(small, 8192)
        record["breakdown"] = {
            str(n): step_breakdown(model, breakdown_images, n)
            for n in sorted({1, args.n_jobs})
        }
        # the figure the earlier runs kept: wall time on one core
        record["breakdown_us_per_image"] = record["breakdown"]["1"]["wall_us"]

    big_run, small_run = record["runs"]["1m"], record["runs"]["small"]
    record["images_per_second"] = big_run["images_per_second"]
    record["images_per_second_cpu"] = big_run["images_per_second_cpu"]
    # Both sides as CPU-time rates on the same 2 cores (the tutorial at ideal
    # scaling); the wall-clock ratio is kept beside it.
    record["speedup_vs_tutorial"] = (
        big_run["images_per_second_cpu"]
        / record["tutorial"]["images_per_second_2_cores"]
    )
    record["speedup_vs_tutorial_wall_clock"] = (
        big_run["images_per_second"] / record["tutorial"]["images_per_second_2_cores"]
    )
    record["speedup_vs_tutorial_1_core"] = (
        record["ours_1_core"]["images_per_second"]
        / record["tutorial"]["images_per_second_1_core"]
    )
    record["peak_rss_mb_1m"] = big_run["tree_peak_mb"]
    record["peak_rss_mb_small"] = small_run["tree_peak_mb"]
    record["peak_rss_ratio_1m_to_small"] = (
        big_run["tree_peak_mb"] / small_run["tree_peak_mb"]
    )
    for run in (*record["runs"].values(), record.get("dask", {})):
        run.pop("stdout", None)
    print_table(record, args)
    write_json(args.out, record)
    print(f"wrote {args.out}")


def _load_first(path, n):
    from mtclassic.io import open_inputs

    [source] = open_inputs([str(path)])
    try:
        return source.read(0, min(n, source.n_records)).images
    finally:
        source.close()


def print_table(record, args):
    big, small = record["runs"]["1m"], record["runs"]["small"]
    rows = [
        (
            f"default model, {big['n_images']:,} images, {args.n_jobs} cores",
            f"{big['images_per_second']:,.0f} images/s",
            ">= 3,000 (stretch 5,000)",
        ),
        (
            "  same, scoring only (no start-up)",
            f"{big['reported_images_per_second'] or 0:,.0f} images/s",
            "",
        ),
        (
            f"  same, from CPU time ({big['cpu_us_per_image']:,.0f} us/image)",
            f"{big['images_per_second_cpu']:,.0f} images/s",
            f"load average {record['machine']['load_average'][0]:.2f} at start",
        ),
        (
            f"default model, {small['n_images']:,} images",
            f"{small['images_per_second']:,.0f} images/s",
            "",
        ),
        (
            "tutorial pipeline, same cores (ideal scaling of 1 core)",
            f"{record['tutorial']['images_per_second_2_cores']:,.0f} images/s",
            "",
        ),
        (
            "speed-up over the tutorial pipeline (CPU time)",
            f"{record['speedup_vs_tutorial']:.1f}x",
            ">= 10x",
        ),
        (
            "  wall clock over the tutorial's CPU rate",
            f"{record['speedup_vs_tutorial_wall_clock']:.1f}x",
            "",
        ),
        (
            "  one core each (in-process)",
            f"{record['speedup_vs_tutorial_1_core']:.1f}x",
            "",
        ),
        (
            f"peak RSS, {big['n_images']:,} images (whole tree)",
            f"{big['tree_peak_mb']:,.0f} MB",
            "< 1,000 MB",
        ),
        (
            f"peak RSS, {small['n_images']:,} images (whole tree)",
            f"{small['tree_peak_mb']:,.0f} MB",
            "",
        ),
        (
            "peak ratio big / small",
            f"{record['peak_rss_ratio_1m_to_small']:.3f}",
            "<= 1.10",
        ),
        (
            "main process peak RSS, big / small",
            f"{big['main_peak_mb']:,.0f} / {small['main_peak_mb']:,.0f} MB",
            "",
        ),
    ]
    if "dask" in record:
        dask = record["dask"]
        rows.append(
            (
                f"Dask LocalCluster, {args.n_jobs} workers, {dask['n_images']:,}",
                f"{dask['images_per_second']:,.0f} images/s "
                f"({dask['reported_images_per_second'] or 0:,.0f} scoring only)",
                "",
            )
        )
    for name in ("1m", "small", "small_1_job"):
        if name in record["runs"]:
            peak = record["runs"][name]["worker_peak_mb"]
            rows.append(
                (f"largest worker peak RSS, run {name}", f"{peak:,.0f} MB", "< 500 MB")
            )
    if "small_1_job" in record["runs"]:
        one = record["runs"]["small_1_job"]
        rows.append(
            (
                f"default model, {one['n_images']:,} images, 1 job",
                f"{one['images_per_second']:,.0f} images/s "
                f"({one['cpu_us_per_image']:,.0f} CPU us/image)",
                "",
            )
        )
    for n_jobs, breakdown in record["breakdown"].items():
        for name, value in breakdown["cpu_us"].items():
            rows.append(
                (
                    f"step {name!r}, {n_jobs} job(s): CPU (wall) per image",
                    f"{value:,.1f} us ({breakdown['wall_us'][name]:,.1f} us)",
                    "",
                )
            )
    width = max(len(row[0]) for row in rows)
    for figure, value, target in rows:
        print(f"{figure:<{width}}  {value:>28}  {target}")


if __name__ == "__main__":
    main()
