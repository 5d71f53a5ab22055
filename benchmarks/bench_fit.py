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
  (``gate_components="all"``, ``digits_components="all"``), the gate fitted on
  all rows at once (``gate_active_set="all"``) and libsvm's cache back at
  ``DigitClassifier``'s default, its heads on the 7 x 7 pixel cells of then:
  the kernel path of the code before the projection, the baseline of the
  speed-up;
- ``flat``: one 36-class ``SVC(C=10, gamma="scale")`` on our features
  (``_common.flat_svc``; normaliser and features included in its time);
- ``tutorial``: ``_common.TutorialPipeline`` (per-image scikit-image
  HOG, ``SVC(probability=True)`` on the digits, a random forest on the letters);
- ``grid``: a 3-fold ``GridSearchCV`` of the accurate preset over 4 settings
  (``vote__digits__C`` x ``vote__letters__C``) on ``--grid-rows``
  (20,000) random rows of the training set, ``n_jobs=--n-jobs`` folds side by
  side, refit included.

Each child's peak memory is read from ``/proc`` while it runs (``VmHWM`` of the
child and of every worker it starts; ``_common.run_measured``): the
tree's sum is an upper bound of the simultaneous peak, ``tree_sampled_mb`` the
largest sum of the members' resident sets seen at one 0.1 s sample. ``fit_s`` is the wall
time of the fit alone (data loading excluded), ``tree_cpu_s`` the CPU of the
whole child tree (loading included). The machine is shared, so the CPU time is
the steadier figure of the two.

Where a fit's time goes: the presets and ``accurate-unprojected`` fit with the
progress switches on (the pipeline, the feature blocks, the redrawn strokes'
two steps, the vote and the gate: ``verbose``), and ``stages_s`` holds each
stage's seconds as those lines print them (``normalize``, ``features/hog``,
``features/redrawn/strokes``, ..., ``vote/gate``, ``vote/digits``, and the
gate's own stages ``gate/fitted``, ...; the vote's heads and gate run side by
side on ``--n-jobs`` threads of the child process). ``--save-model PATH``
saves the fitted accurate preset (``mtclassic.save_model``, progress switches
off and ``n_jobs`` None again) for ``bench_scoring.py --model PATH`` and ``bench_accuracy.py --ours
saved --fitted-model PATH``; ``--save-tutorial PATH`` saves the fitted
tutorial for ``bench_scoring.py --tutorial PATH``: both trained on this
training set.

``--time-limit SECONDS`` kills a job still running after that long and
records it unfinished, with its stages so far (the speed-up then becomes a
lower bound); ``--merge`` joins the jobs of runs made beside this one (other
processes, same protocol) into this file, so that long jobs can run side by
side.

Prints a table and writes ``benchmarks/results/bench_fit.json``.

    python benchmarks/bench_fit.py                       # the full protocol
    python benchmarks/bench_fit.py --n-digits 20000      # reduced
    python benchmarks/bench_fit.py --quick               # a small run
    python benchmarks/bench_fit.py --presets accurate --skip flat,grid \
        --save-model model.joblib --save-tutorial tutorial.joblib
"""

import argparse
import json
import os
import re
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
from mtclassic.persistence import save_model

GRID = {"vote__digits__C": [5.0, 10.0], "vote__letters__C": [5.0, 10.0]}
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
    parser.add_argument(
        "--save-model",
        type=Path,
        default=None,
        help="save the fitted accurate preset here (for bench_scoring --model)",
    )
    parser.add_argument(
        "--save-tutorial",
        type=Path,
        default=None,
        help="save the fitted tutorial here (for bench_scoring --tutorial)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per job; a job still running then is killed and recorded "
        "as unfinished, with its stages so far",
    )
    parser.add_argument(
        "--merge",
        default="",
        help="comma-separated bench_fit JSON files of runs made beside this one "
        "(same protocol): their jobs join this file's results",
    )
    add_quick(parser, QUICK)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parse(parser, argv, QUICK)


# ---------------------------------------------------------------- child


def protocol_sets(args, n_digits_test=1):
    """``((X, y), tests)`` of fold 0 of bench_accuracy's in-source run.

    ``args`` gives ``data_dir``, ``n_digits`` (MNIST training digits),
    ``n_emnist`` and ``random_state``; the MNIST test set holds
    ``n_digits_test`` digits.
    """
    data = load_data(args.data_dir, args.n_digits, n_digits_test, args.n_emnist)
    return in_source_sets(data, 0, random_state=args.random_state)


def training_set(args):
    """Raw training images (list of 2-D arrays) and labels of fold 0."""
    (X, y), _ = protocol_sets(args)
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


# The pipeline, the feature union, the redrawn strokes' pipeline, the vote and
# the gate report each stage. Not the digits head: its lines would read like
# the gate's (both are DigitClassifier); the vote times it as a whole.
STAGE_SWITCHES = (
    "verbose",
    "features__verbose",
    "features__redrawn__verbose",
    "vote__verbose",
    "vote__gate__verbose",
)


def _progress(model, on):
    """Turn the model's progress switches (STAGE_SWITCHES) on or off."""
    params = model.get_params()
    return model.set_params(**{key: on for key in STAGE_SWITCHES if key in params})


_SKLEARN_STEP = re.compile(
    r"\[(Pipeline|FeatureUnion)\].*\(step \d+ of (\d+)\) "
    r"Processing (\S+), total=\s*([0-9.]+)(min|s)"
)
_OUR_STAGE = re.compile(r"\[(MultiTaskVoting|DigitClassifier)\] (.*), ([0-9.]+)s$")


def stage_seconds(stdout):
    """Seconds of each fit stage, from the progress lines of one child.

    sklearn's ``[Pipeline] ... (step i of n) Processing NAME, total= 1.2s``
    (the three-step pipeline: its own steps; the two-step one: the redrawn
    strokes' ``features/redrawn/NAME``), ``[FeatureUnion] ... Processing NAME``
    (``features/NAME``), the vote's ``(i of n) fitted NAME, 1.2s``
    (``vote/NAME``) and the gate's ``[DigitClassifier] what, 1.2s``
    (``gate/scaled``, ``gate/fitted``, ``gate/calibrated``: its first word;
    the rounds of an active-set fit: ``gate/round1``, ...; names joined with
    ``/``, so that make_readme_table's dotted paths reach them).
    """
    stages = {}
    for line in stdout.splitlines():
        step = _SKLEARN_STEP.match(line)
        if step:
            kind, n_steps, name, value, unit = step.groups()
            prefix = {"FeatureUnion": "features/", "Pipeline": ""}[kind]
            if kind == "Pipeline" and n_steps == "2":
                prefix = "features/redrawn/"
            stages[prefix + name] = float(value) * (60 if unit == "min" else 1)
            continue
        ours = _OUR_STAGE.match(line)
        if ours:
            kind, what, seconds = ours.groups()
            if kind == "MultiTaskVoting":
                what = "vote/" + what.split("fitted ", 1)[-1]
            elif what.startswith("active set round "):
                what = "gate/round" + what.split()[3].rstrip(":")
            else:
                what = "gate/" + what.split()[0]  # scaled, fitted, calibrated
            stages[what] = float(seconds)
    return stages


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
                gate_active_set="all",
                # the heads' cells of that main (issue 12 made them 4 x 4)
                digits_cells=7,
                letters_cells=7,
            )
            cache = DigitClassifier().cache_size  # libsvm's cache before this change
            model.set_params(
                vote__gate__cache_size=cache, vote__digits__cache_size=cache
            )
        else:
            model = make_default_model(
                args.random_state, args.n_jobs, preset=job.split(":", 1)[1]
            )
        _progress(model, True).fit(X, y)
        sys.stdout.flush()
        _progress(model, False)  # saved quiet, as make_default_model makes it
        record["support_vectors"] = _support_vectors(model)
        if args.save_model is not None and job == "preset:accurate":
            # saved as make_default_model() makes it: n_jobs None (a scoring
            # worker's model runs on one core; bench_scoring sets the jobs)
            params = model.get_params()
            model.set_params(**{k: None for k in params if k.endswith("n_jobs")})
            save_model(model, args.save_model)
            record["saved_model"] = str(args.save_model)
    elif job == "flat":  # our normaliser and features included in its time
        features = our_features(args.random_state, args.n_jobs).transform(X)
        flat_svc().fit(features, y)
    elif job == "tutorial":
        tutorial = TutorialPipeline(n_jobs=args.n_jobs).fit(X, y)
        if args.save_tutorial is not None:
            import joblib

            tutorial.n_jobs = None  # scored on one core, as ours
            tmp = args.save_tutorial.with_name(args.save_tutorial.name + ".tmp")
            joblib.dump({"tutorial": tutorial, "n_train": int(len(y))}, tmp)
            os.replace(tmp, args.save_tutorial)
            record["saved_tutorial"] = str(args.save_tutorial)
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


def run_jobs(jobs, argv, time_limit=None):
    env = child_env(PYTHONUNBUFFERED="1")  # a killed job's stage lines are kept
    results = {}
    for job in jobs:
        print(f"fitting {job} ...", flush=True)
        command = [sys.executable, str(Path(__file__).resolve()), *argv, "--child", job]
        run = run_measured(command, env, timeout=time_limit)
        lines = run["stdout"].splitlines()
        line = next((line for line in lines if line.startswith("RESULT ")), None)
        if line is None:  # killed at --time-limit
            record = {"job": job, "finished": False, "killed_after_s": run["seconds"]}
        else:
            record = json.loads(line[len("RESULT ") :])
        stages = stage_seconds(run["stdout"])
        if stages:
            record["stages_s"] = stages
            record["stage_lines"] = [line for line in lines if line.startswith("[")]
        record.update(
            tree_peak_mb=run["tree_peak_mb"],
            tree_sampled_mb=run["tree_sampled_mb"],
            process_peaks_mb=run["process_peaks_mb"],
            main_peak_mb=run["main_peak_mb"],
            tree_cpu_s=run["cpu_seconds"],
            child_wall_s=run["seconds"],
            # the machine is shared: what else ran shows in the wall times
            load_average_after=round(os.getloadavg()[0], 2),
        )
        results[job] = record
        print(f"  {summary_line(job, record)}", flush=True)
        if stages:
            listed = ", ".join(f"{k} {v:.1f} s" for k, v in stages.items())
            print(f"    stages: {listed}", flush=True)
    return results


def summary_line(job, r):
    if r.get("finished", True) is False:
        return (
            f"{job:<22} killed after {r['killed_after_s']:.0f} s (--time-limit), "
            f"tree CPU {r['tree_cpu_s']:8.1f} s  peak RSS {r['tree_peak_mb']:7.0f} MB"
        )
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


PROTOCOL_KEYS = ("n_digits", "n_emnist", "n_rows", "n_jobs", "random_state", "quick")


def merge_runs(args, results):
    """Add the jobs of the ``--merge`` files (runs beside this one) to ``results``."""
    merged = []
    for path in filter(None, args.merge.split(",")):
        other = json.loads(Path(path).read_text())
        differ = [
            key
            for key in PROTOCOL_KEYS
            if other["protocol"].get(key) != getattr(args, key)
        ]
        if differ:
            raise SystemExit(f"--merge {path}: its protocol differs in {differ}.")
        for job, record in other["results"].items():
            results.setdefault(job, record)
        merged.append(
            {
                "file": str(path),
                "command": other["command"],
                "date": other["date"],
                "jobs": list(other["results"]),
                "load_average": other["machine"].get("load_average"),
            }
        )
    return merged


def speedups(results):
    """The accurate preset against its unprojected kernels (the ratio's baseline).

    A baseline killed at ``--time-limit`` gives lower bounds (``..._at_least``):
    its time so far over the accurate preset's, both from the child's start
    (data loading included on both sides, which only lowers the ratio).
    """
    base, new = results.get("accurate-unprojected"), results.get("preset:accurate")
    if base is None or new is None or new.get("finished", True) is False:
        return {}
    if base.get("finished", True) is False:
        return {
            "accurate_speedup_wall_at_least": base["child_wall_s"]
            / new["child_wall_s"],
            "accurate_speedup_cpu_at_least": base["tree_cpu_s"] / new["tree_cpu_s"],
        }
    return {
        "accurate_speedup_wall": base["fit_s"] / new["fit_s"],
        "accurate_speedup_cpu": base["tree_cpu_s"] / new["tree_cpu_s"],
    }


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
    results = run_jobs(jobs, argv, args.time_limit)
    merged = merge_runs(args, results)
    print("\nfit time and peak memory (each job in its own process):")
    for job, record in results.items():
        print(f"  {summary_line(job, record)}")
    ratios = speedups(results)
    for name, value in ratios.items():
        print(f"accurate preset vs its unprojected kernels, {name}: {value:.2f}x")
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
        "merged": merged,
        "machine": machine(),
        "total_seconds": time.perf_counter() - started,
    }
    write_json(args.out, record)
    print(f"wrote {args.out} ({record['total_seconds']:.0f} s in all)")


if __name__ == "__main__":
    main()
