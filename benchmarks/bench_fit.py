"""Fit time and peak memory: every preset, a grid search, and the peers beside them.

On the accuracy protocol's training set (``bench_accuracy``'s loaders, the
in-source run's fold 0: MNIST train + the even EMNIST letters a-m + four
fifths of the handwritten62 letters + the even az_sample letters, on the real
data in ``--data-dir``), each of these is fitted in its
own child process, one after the other, with BLAS pinned to one thread per
process and ``--n-jobs`` (2) jobs:

- ``preset:<name>``: :func:`mtclassic.make_default_model` with that preset
  (every preset of ``PRESETS``, or ``--presets``), raw images in;
- ``accurate-unprojected``: the accurate preset with the SVMs' projection off
  (``gate_components="all"``, ``digits_components="all"``) and libsvm's cache
  back at ``DigitClassifier``'s default: the kernel path of the code before
  the projection, the baseline of the speed-up;
- ``flat``: one 36-class ``SVC(C=10, gamma="scale")`` on our features
  (``_common.flat_svc``; normaliser and features included in its time);
- ``tutorial``: ``_common.TutorialPipeline`` (per-image scikit-image
  HOG, ``SVC(probability=True)`` on the digits, a random forest on the letters);
- ``grid``: a 3-fold ``GridSearchCV`` of the accurate preset over 4 settings
  (``vote__digits__C`` x ``vote__letters__n_estimators``) on ``--grid-rows``
  (20,000) random rows of the training set, ``n_jobs=--n-jobs`` folds side by
  side, refit included.

Each child's peak memory is read from ``/proc`` while it runs (``VmHWM`` of the
child and of every worker it starts; ``_common.run_measured``): the
tree's sum is an upper bound of the simultaneous peak. ``fit_s`` is the wall
time of the fit alone (data loading excluded), ``tree_cpu_s`` the CPU of the
whole child tree (loading included). The machine is shared, so the CPU time is
the steadier figure of the two.

Prints a table and writes ``benchmarks/results/bench_fit.json``.

    python benchmarks/bench_fit.py                       # the full protocol
    python benchmarks/bench_fit.py --n-digits 20000      # reduced
    python benchmarks/bench_fit.py --quick               # a small run
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    TutorialPipeline,
    add_quick,
    child_env,
    command_line,
    flat_svc,
    in_source_sets,
    load_data,
    machine,
    make_parser,
    our_features,
    parse,
    run_measured,
    status_kb,
    utc_date,
    write_json,
)

from mtclassic import make_default_model
from mtclassic.heads import DigitClassifier
from mtclassic.models import PRESETS

GRID = {"vote__digits__C": [5.0, 10.0], "vote__letters__n_estimators": [50, 100]}
QUICK = {"n_digits": 500, "n_emnist": 1000, "n_rows": 2000, "grid_rows": 1200}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_fit.json", n_jobs=2)
    parser.add_argument(
        "--n-digits", type=int, default=60_000, help="MNIST training digits (first n)"
    )
    parser.add_argument(
        "--n-emnist",
        type=int,
        default=10_000,
        help="EMNIST letters images used (first n; even rows train)",
    )
    parser.add_argument(
        "--n-rows",
        type=int,
        default=None,
        help="at most this many random rows of the training set",
    )
    parser.add_argument("--grid-rows", type=int, default=20_000)
    parser.add_argument(
        "--presets", default=",".join(PRESETS), help="presets to fit, comma-separated"
    )
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated: accurate-unprojected, flat, tutorial, grid",
    )
    add_quick(parser, QUICK)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parse(parser, argv, QUICK)


# ---------------------------------------------------------------- child


def training_set(args):
    """Raw training images (list of 2-D arrays) and labels of fold 0."""
    data = load_data(args.data_dir, args.n_digits, 1, args.n_emnist)
    (X, y), _ = in_source_sets(data, 0, random_state=args.random_state)
    if args.n_rows is not None and args.n_rows < len(y):
        keep = np.sort(
            np.random.default_rng(args.random_state).permutation(len(y))[: args.n_rows]
        )
        X, y = [X[i] for i in keep], y[keep]
    return X, y


def _support_vectors(model):
    """Support vectors of the SVMs of a fitted default model, by name."""
    vote = model.named_steps["vote"]
    svms = dict(zip(vote.tasks_, vote.estimators_, strict=True))
    svms["gate"] = vote.gate_
    return {
        name: int(est.svm_.support_.size)
        for name, est in svms.items()
        if hasattr(est, "svm_") and hasattr(est.svm_, "support_")
    }


def fit_job(job, X, y, args):
    """Fit one job; its record (without the memory figures of the parent)."""
    record = {}
    if job.startswith("preset:") or job == "accurate-unprojected":
        if job == "accurate-unprojected":
            model = make_default_model(
                args.random_state,
                args.n_jobs,
                gate_components="all",
                digits_components="all",
            )
            cache = DigitClassifier().cache_size  # libsvm's cache before this change
            model.set_params(
                vote__gate__cache_size=cache, vote__digits__cache_size=cache
            )
        else:
            model = make_default_model(
                args.random_state, args.n_jobs, preset=job.split(":", 1)[1]
            )
        model.fit(X, y)
        record["support_vectors"] = _support_vectors(model)
    elif job == "flat":  # our normaliser and features included in its time
        features = our_features(args.random_state, args.n_jobs).transform(X)
        flat_svc().fit(features, y)
    elif job == "tutorial":
        TutorialPipeline(n_jobs=args.n_jobs).fit(X, y)
    elif job == "grid":
        from sklearn.model_selection import GridSearchCV

        rows = np.random.default_rng(args.random_state).permutation(len(y))
        rows = np.sort(rows[: args.grid_rows])
        grid = GridSearchCV(
            make_default_model(args.random_state, 1), GRID, cv=3, n_jobs=args.n_jobs
        )
        grid.fit([X[i] for i in rows], y[rows])
        record.update(
            n_rows=int(rows.size),
            n_settings=len(grid.cv_results_["params"]),
            mean_fold_fit_s=float(np.mean(grid.cv_results_["mean_fit_time"])),
            refit_s=float(grid.refit_time_),
            best_params=grid.best_params_,
            best_score=float(grid.best_score_),
        )
    else:
        raise SystemExit(f"unknown job {job!r}")
    return record


def run_child(args):
    X, y = training_set(args)
    rss_before = status_kb("self", "VmRSS") / 1024
    cpu, started = time.process_time(), time.perf_counter()
    record = fit_job(args.child, X, y, args)
    record.update(
        job=args.child,
        n_train=int(len(y)),
        fit_s=time.perf_counter() - started,
        fit_cpu_s_main=time.process_time() - cpu,
        rss_before_fit_mb=rss_before,
    )
    print("RESULT " + json.dumps(record), flush=True)


# ---------------------------------------------------------------- parent


def run_jobs(jobs, argv):
    env = child_env()
    results = {}
    for job in jobs:
        print(f"fitting {job} ...", flush=True)
        command = [sys.executable, str(Path(__file__).resolve()), *argv, "--child", job]
        run = run_measured(command, env)
        line = next(
            line for line in run["stdout"].splitlines() if line.startswith("RESULT ")
        )
        record = json.loads(line[len("RESULT ") :])
        record.update(
            tree_peak_mb=run["tree_peak_mb"],
            main_peak_mb=run["main_peak_mb"],
            tree_cpu_s=run["cpu_seconds"],
            child_wall_s=run["seconds"],
            # the machine is shared: what else ran shows in the wall times
            load_average_after=round(os.getloadavg()[0], 2),
        )
        results[job] = record
        print(f"  {summary_line(job, record)}", flush=True)
    return results


def summary_line(job, r):
    extra = ""
    if "support_vectors" in r:
        extra = " SV " + ", ".join(f"{k} {v}" for k, v in r["support_vectors"].items())
    if job == "grid":
        extra = (
            f" ({r['n_settings']} settings x 3 folds on {r['n_rows']} rows, "
            f"mean fold fit {r['mean_fold_fit_s']:.0f} s, refit {r['refit_s']:.0f} s)"
        )
    return (
        f"{job:<22} {r['n_train']:>7} rows  fit {r['fit_s']:8.1f} s  "
        f"tree CPU {r['tree_cpu_s']:8.1f} s  peak RSS {r['tree_peak_mb']:7.0f} MB"
        f" (main {r['main_peak_mb']:.0f}){extra}"
    )


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.child is not None:
        run_child(args)
        return
    skip = {s for s in args.skip.split(",") if s}
    jobs = [f"preset:{p}" for p in args.presets.split(",") if p]
    jobs += [
        j for j in ("accurate-unprojected", "flat", "tutorial", "grid") if j not in skip
    ]
    started = time.perf_counter()
    results = run_jobs(jobs, argv)
    print("\nfit time and peak memory (each job in its own process):")
    for job, record in results.items():
        print(f"  {summary_line(job, record)}")
    ratios = {}
    if "accurate-unprojected" in results and "preset:accurate" in results:
        base, new = results["accurate-unprojected"], results["preset:accurate"]
        ratios = {
            "accurate_speedup_wall": base["fit_s"] / new["fit_s"],
            "accurate_speedup_cpu": base["tree_cpu_s"] / new["tree_cpu_s"],
        }
        print(
            f"accurate preset vs its unprojected kernels: "
            f"{ratios['accurate_speedup_wall']:.2f}x wall, "
            f"{ratios['accurate_speedup_cpu']:.2f}x CPU"
        )
    record = {
        "benchmark": "bench_fit",
        "date": utc_date(),
        "command": command_line(__file__, argv),
        "protocol": {
            "n_digits": args.n_digits,
            "n_emnist": args.n_emnist,
            "n_rows": args.n_rows,
            "grid_rows": args.grid_rows,
            "grid": GRID,
            "fold": 0,
            "n_jobs": args.n_jobs,
            "random_state": args.random_state,
            "quick": args.quick,
        },
        "results": results,
        "ratios": ratios,
        "machine": machine(),
        "total_seconds": time.perf_counter() - started,
    }
    write_json(args.out, record)
    print(f"wrote {args.out} ({record['total_seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
