"""The gate's fit levers: rows per task, libsvm's cache and the active-set fit.

The accurate preset's gate (an RBF SVM on the redrawn strokes' features,
digit vs letter) is the slowest part of its fit on the accuracy protocol. This
measures what three of its parameters buy: ``gate_max_samples`` (rows of each
task the gate SVM is fitted on; ``vote__gate__max_samples_per_class``),
``cache_size`` (libsvm's kernel cache, MB; ``vote__gate__cache_size``) and
``active_set_size`` (the exact SVM fitted by chunking, same model;
``vote__gate__active_set_size``), and what they cost in routing (the vote's
task chosen wrongly).

On the accuracy protocol's training set (``bench_fit.training_set``: fold 0 of
``bench_accuracy``'s in-source run, ``--n-digits`` MNIST digits) the default
model's normaliser and features are computed once, and its heads fitted once.
Then each setting fits the gate alone, in its own child process with BLAS on
one thread (fit wall and CPU time; the child's peak RSS less its RSS before
the fit), and the vote, with that gate in place of its own (and the balanced
task weights recomputed from the gate's rows, as the vote's fit does), scores
the in-source test sets and ``--n-styled`` restyled ones: routing error in
all, outside and within the look-alike pairs, and the combined accuracy.

Prints a table and writes ``benchmarks/results/bench_gate_levers.json``.

    python benchmarks/bench_gate_levers.py                  # 20,000 MNIST digits
    python benchmarks/bench_gate_levers.py --caps 10000,15000 --caches 2000
    python benchmarks/bench_gate_levers.py --settings all:2000,all:2000:10000
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import joblib
import numpy as np
from _common import (
    child_env,
    command_line,
    machine,
    make_parser,
    run_measured,
    status_kb,
    utc_date,
    write_json,
)
from _styles import styled_sets
from bench_fit import protocol_sets

from mtclassic import make_default_model
from mtclassic.metrics import task_scores
from mtclassic.multitask import DEFAULT_TASKS, _columns

TASKS = {name: list(labels) for name, labels in DEFAULT_TASKS.items()}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_gate_levers.json")
    parser.add_argument("--n-digits", type=int, default=20_000)
    parser.add_argument("--n-emnist", type=int, default=10_000)
    parser.add_argument("--n-digits-test", type=int, default=10_000)
    parser.add_argument("--n-styled", type=int, default=500)
    parser.add_argument(
        "--caps", default="all,15000,10000", help="gate rows per task ('all': all)"
    )
    parser.add_argument("--caches", default="2000,1000", help="libsvm cache, MB")
    parser.add_argument(
        "--active-sets",
        default="none",
        help="gate active_set_size values ('none': the plain fit)",
    )
    parser.add_argument(
        "--settings",
        default=None,
        help="CAP:CACHE[:ACTIVE] settings, comma-separated (default: every "
        "--caps x --caches x --active-sets)",
    )
    parser.add_argument("--work-dir", type=Path, default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def prepare(args, work):
    """Features of the training and test sets and the fitted vote, in ``work``."""
    (X, y), tests = protocol_sets(args, args.n_digits_test)
    if args.n_styled:  # held-out digits and letters in other writing styles
        bases = {name: tests[name] for name in ("mnist", "az")}
        tests.update(styled_sets(bases, args.n_styled, args.random_state))
    # the heads once; the gate each child fits is cheap here (capped)
    model = make_default_model(args.random_state, 2, gate_max_samples=500)
    started = time.perf_counter()
    model.fit(X, y)
    print(f"normaliser, features and heads: {time.perf_counter() - started:.0f} s")
    features = model[:-1]
    arrays = {"train": features.transform(X), "y_train": np.asarray(y).astype(str)}
    for name, (images, labels) in tests.items():
        arrays[f"test_{name}"] = features.transform(images)
        arrays[f"y_{name}"] = np.asarray(labels).astype(str)
    np.savez(work / "features.npz", **arrays)
    vote = model.named_steps["vote"]
    joblib.dump(vote, work / "vote.joblib")
    return len(y), list(tests)


def run_child(setting, work, args):
    """Fit the gate of one setting; print its figures as one RESULT line."""
    cap, cache, active = (setting.split(":") + ["none"])[:3]
    arrays = np.load(work / "features.npz")
    vote = joblib.load(work / "vote.joblib")
    X, y = arrays["train"], arrays["y_train"]
    codes = np.searchsorted(vote.classes_, y)
    gate_X = np.ascontiguousarray(_columns(X, vote.gate_columns))
    gate = vote.gate.set_params(
        max_samples_per_class=None if cap == "all" else int(cap),
        cache_size=float(cache),
        active_set_size=None if active == "none" else int(active),
        random_state=args.random_state,
    )
    rss_before = status_kb("self", "VmRSS") / 1024
    cpu, started = time.process_time(), time.perf_counter()
    gate.fit(gate_X, vote.class_task_[codes])
    record = {
        "cap": cap,
        "cache_mb": float(cache),
        "active_set_size": None if active == "none" else int(active),
        "active_set_rounds": int(gate.n_active_set_rounds_),
        "fit_s": time.perf_counter() - started,
        "fit_cpu_s": time.process_time() - cpu,
        "rss_before_fit_mb": rss_before,
        "gate_rows": int(gate.class_count_.sum()),
        "support_vectors": int(gate.svm_.support_.size),
    }
    # the vote with this gate, weights as its fit would set them
    vote.gate_ = gate
    seen = np.bincount(vote.gate_task_, weights=gate.class_count_.astype(float))
    vote.weights_ = seen.sum() / (len(seen) * seen)
    names = sorted(k[len("test_") :] for k in arrays.files if k.startswith("test_"))
    pooled_true, pooled_pred, in_source = (
        [],
        [],
        ("mnist", "emnist", "hw62_letters", "az"),
    )
    started = time.perf_counter()
    for name in names:
        y_true, y_pred = arrays[f"y_{name}"], vote.predict(arrays[f"test_{name}"])
        scores = task_scores(y_true, np.asarray(y_pred).astype(str), tasks=TASKS)
        record[name] = _figures(scores)
        if name in in_source:
            pooled_true.append(y_true)
            pooled_pred.append(np.asarray(y_pred).astype(str))
    record["predict_s"] = time.perf_counter() - started
    record["in_source"] = _figures(
        task_scores(
            np.concatenate(pooled_true), np.concatenate(pooled_pred), tasks=TASKS
        )
    )
    print("RESULT " + json.dumps(record), flush=True)


def _figures(scores):
    routing = scores["routing"]
    return {
        "accuracy": scores["accuracy"],
        "routing": routing["total"],
        "routing_outside_pairs": routing["outside_pairs"],
        "routing_within_pairs": routing["within_pairs"],
    }


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.child is not None:
        run_child(args.child, args.work_dir, args)
        return
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=args.work_dir, prefix="gate-levers-") as work:
        work = Path(work)
        n_train, sets = prepare(args, work)
        env = child_env()
        results = []
        settings = (
            args.settings.split(",")
            if args.settings
            else [
                f"{cap}:{cache}:{active}"
                for cap in args.caps.split(",")
                for cache in args.caches.split(",")
                for active in args.active_sets.split(",")
            ]
        )
        for setting in settings:
            command = [
                sys.executable,
                str(Path(__file__).resolve()),
                *argv,
                "--work-dir",
                str(work),
                "--child",
                setting,
            ]
            run = run_measured(command, env)
            line = next(
                line
                for line in run["stdout"].splitlines()
                if line.startswith("RESULT ")
            )
            record = json.loads(line[len("RESULT ") :])
            record.update(
                peak_mb=run["main_peak_mb"],
                fit_peak_over_before_mb=run["main_peak_mb"]
                - record["rss_before_fit_mb"],
                load_average_after=round(os.getloadavg()[0], 2),
            )
            results.append(record)
            print(summary_line(record), flush=True)
            # after every setting: a run stopped early keeps what it measured
            write_json(
                args.out,
                _record(args, argv, n_train, sets, results, started, complete=False),
            )
    print(
        "\ngate levers (one core each; routing: in-source pooled, all / outside pairs):"
    )
    for record in results:
        print(summary_line(record))
    write_json(args.out, _record(args, argv, n_train, sets, results, started))
    print(f"wrote {args.out} ({time.perf_counter() - started:.0f} s in all)")


def _record(args, argv, n_train, sets, results, started, complete=True):
    return {
        "benchmark": "bench_gate_levers",
        "complete": complete,
        "date": utc_date(),
        "command": command_line(__file__, argv),
        "protocol": {
            "n_digits": args.n_digits,
            "n_emnist": args.n_emnist,
            "n_train": n_train,
            "n_styled": args.n_styled,
            "fold": 0,
            "test_sets": sets,
            "random_state": args.random_state,
        },
        "results": results,
        "machine": machine(),
        "total_seconds": time.perf_counter() - started,
    }


def summary_line(r):
    styled = [k for k in r if k.endswith(("_pen278", "_bin16", "_frame1bit"))]
    worst = min((r[k]["accuracy"] for k in styled), default=float("nan"))
    active = r.get("active_set_size")
    chunks = (
        ""
        if active is None
        else f", active set {active} ({r['active_set_rounds']} rounds)"
    )
    return (
        f"cap {r['cap']:>6} cache {r['cache_mb']:5.0f} MB{chunks}: {r['gate_rows']:>6} rows, "
        f"{r['support_vectors']:>6} SV, fit {r['fit_s']:6.1f} s (CPU {r['fit_cpu_s']:6.1f}), "
        f"peak {r['peak_mb']:5.0f} MB (+{r['fit_peak_over_before_mb']:.0f}); "
        f"routing {100 * r['in_source']['routing']:.2f}% / "
        f"{100 * r['in_source']['routing_outside_pairs']:.2f}%, "
        f"comb36 {100 * r['in_source']['accuracy']:.2f}%, MNIST "
        f"{100 * r['mnist']['accuracy']:.2f}%, worst styled {100 * worst:.2f}%"
    )


if __name__ == "__main__":
    main()
