"""Every accuracy figure of one model against another, from bench_accuracy's JSON.

Issue 16's rule for a speed lever is that "every accuracy figure of
bench_accuracy (fold 0) stays within 0.1 points or improves". This prints
every figure of ``runs/<run>/figures`` that both variants have (the fixed
prior, ``_batch`` and ``_mixed_batch`` rows of each test set, and the pooled
``all`` ones), the difference in points and, where the JSON has the set's
size, in images, and lists those that are worse by more than ``--tolerance``
points. For a routing error, lower is better. The models are deterministic,
so two files written by the same code on the same protocol agree; the
variants may come from one file or two::

    python benchmarks/compare_accuracy.py results.json:ours_default \\
        results.json:ours_unprojected
    python benchmarks/compare_accuracy.py new.json:ours_default \\
        old.json:ours_unprojected --out comparison.json

One image of a 1,000-image set is 0.1 point: at that size the rule asks for
at most one image either way, which two equally good models miss by chance.
So when both files have their predictions beside them (bench_accuracy's
``<stem>_predictions.npz``), every figure is also tested image by image on
the same images (fold 0, or the cross-source run): the images only the new
model gets right and those only the old one does (for a routing figure:
routes right), and the exact two-sided McNemar p-value, a binomial test on
those discordant images. A figure is then *significantly worse* when its
p-value is below ``--alpha`` after Holm's correction over all the figures
compared (one test per figure would find a few "losses" among 200 by
chance alone). Two runs whose test sets differ in size (another protocol:
``--quick``, ``--n-styled``, ...) are refused rather than compared. Exit
status 0, or 1 when a figure is worse by more than the tolerance, or with
``--paired``, when one is significantly worse (so that a script can stop on
it).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from mtclassic.metrics import is_lookalike, task_of

#: the suffixes of bench_accuracy's rows of one variant
ROWS = ("", "_batch", "_mixed_batch")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("new", help="FILE.json:VARIANT, e.g. r.json:ours_default")
    parser.add_argument("old", help="FILE.json:VARIANT, the baseline")
    parser.add_argument("--tolerance", type=float, default=0.1, help="points")
    parser.add_argument("--out", type=Path, default=None, help="write the rows here")
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="family-wise level of the paired tests (Holm's correction)",
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        help="exit 1 only when a figure is significantly worse (needs both files' "
        "predictions), not merely worse by more than the tolerance",
    )
    return parser.parse_args(argv)


def _load(spec, argument):
    """(bench_accuracy record, variant) of ``FILE.json:VARIANT``."""
    path, sep, variant = spec.rpartition(":")
    if not sep or not path or not variant:
        raise SystemExit(f"{argument}: expected FILE.json:VARIANT, got {spec!r}.")
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"{argument}: cannot read {path}: {error}") from None
    runs = record.get("runs") if isinstance(record, dict) else None
    if not isinstance(runs, dict):
        raise SystemExit(f"{argument}: {path} is not a bench_accuracy record.")
    found = {
        run for run, result in runs.items() if variant in (result.get("figures") or {})
    }
    if not found:
        raise SystemExit(f"{argument}: no run of {path} has variant {variant!r}.")
    return record, variant, _predictions(path, record, argument)


def _predictions(path, record, argument):
    """The predictions file named in ``record``, loaded, or None without one."""
    name = record.get("predictions")
    if not name:
        return None
    where = Path(path).with_name(name)
    if not where.exists():
        return None
    try:
        with np.load(where, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    except (OSError, ValueError) as error:
        raise SystemExit(f"{argument}: cannot read {where}: {error}") from None


def _fold_prefix(predictions, run):
    """The key prefix of a run's paired images: fold 0, or the unfolded run."""
    for fold in ("0", "-"):
        if f"{run}/{fold}/y_true" in predictions:
            return f"{run}/{fold}"
    return None


def _good(figure, y_true, y_vote, y_heads):
    """Per image of a set, whether it counts for the figure (True is good),
    and the images the figure is about (None: all).

    ``vote``/``heads_alone``: labelled right; ``routing_*``: not misrouted
    (in total, outside the look-alike pairs, within them); ``vote_<task>``:
    labelled right, on the images of that true task.
    """
    kind = figure.split("/", 1)[1]
    if kind == "vote":
        return y_vote == y_true, None
    if kind == "heads_alone":
        return y_heads == y_true, None
    if kind.startswith("vote_"):
        return y_vote == y_true, task_of(y_true) == kind[len("vote_") :]
    if kind.startswith("routing_"):
        misrouted = task_of(y_true) != task_of(y_vote)
        lookalike = is_lookalike(y_true, y_vote)
        bad = {
            "routing_total": misrouted,
            "routing_outside_pairs": misrouted & ~lookalike,
            "routing_within_pairs": misrouted & lookalike,
        }.get(kind)
        return (None if bad is None else ~bad), None
    return None, None


def paired_test(new, old, run, row, figure):
    """(images only the new model gets right, only the old, McNemar p) of
    one figure, or None when the predictions do not cover it."""
    (_, new_variant, new_pred), (_, old_variant, old_pred) = new, old
    if new_pred is None or old_pred is None:
        return None
    prefix = _fold_prefix(new_pred, run)
    if prefix is None or _fold_prefix(old_pred, run) != prefix:
        return None
    suffix = "" if row == "fixed" else "_" + row
    keys = [f"{prefix}/{v}{suffix}/vote" for v in (new_variant, old_variant)]
    if not all(key in p for key, p in zip(keys, (new_pred, old_pred), strict=True)):
        return None
    y_true = new_pred[f"{prefix}/y_true"]
    if not np.array_equal(y_true, old_pred[f"{prefix}/y_true"]):
        raise SystemExit(
            f"{run}: the two files' test images differ (true labels of "
            f"{len(y_true)} and {len(old_pred[prefix + '/y_true'])} images); "
            "compare runs of the same protocol."
        )
    sets = new_pred[f"{prefix}/sets"].tolist()
    bounds = np.cumsum([0, *new_pred[f"{prefix}/sizes"].tolist()])
    name = figure.split("/")[0]
    if name == "all":
        rows = slice(0, bounds[-1])
    elif name in sets:
        i = sets.index(name)
        rows = slice(bounds[i], bounds[i + 1])
    else:
        return None
    goods = []
    for pred, variant in ((new_pred, new_variant), (old_pred, old_variant)):
        stem = f"{prefix}/{variant}{suffix}"
        good, subset = _good(
            figure,
            y_true[rows],
            pred[f"{stem}/vote"][rows],
            pred[f"{stem}/heads"][rows],
        )
        if good is None:
            return None
        goods.append(good if subset is None else good[subset])
    new_good, old_good = goods
    only_new = int(np.sum(new_good & ~old_good))
    only_old = int(np.sum(~new_good & old_good))
    discordant = only_new + only_old
    p = float(binomtest(only_new, discordant).pvalue) if discordant else 1.0
    return only_new, only_old, p


def holm(p_values, alpha):
    """Which of ``p_values`` Holm's step-down procedure rejects at ``alpha``."""
    order = np.argsort(p_values, kind="stable")
    rejected = np.zeros(len(p_values), dtype=bool)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - rank):
            break
        rejected[i] = True
    return rejected


def _n_samples(record, run, variant):
    """Test-set sizes of a variant in a run (fold 0's details), by set name."""
    folds = record["runs"][run].get("per_fold") or {}
    details = (folds.get("0") or {}).get(variant, {}).get("details", {})
    return {
        name: entry["n_samples"]
        for name, entry in details.items()
        if isinstance(entry, dict) and "n_samples" in entry
    }


def compare(new, old, tolerance=0.1, alpha=0.05):
    """One row per figure both variants have: (run, row, figure, new, old, ...).

    With both files' predictions, each row also has the paired test
    (``only_new``, ``only_old``, ``p``) and ``significantly_worse`` (Holm's
    correction at ``alpha`` over the rows tested).
    """
    (new_record, new_variant, _), (old_record, old_variant, _) = new, old
    rows = []
    for run, result in new_record["runs"].items():
        old_result = old_record["runs"].get(run) or {}
        for suffix in ROWS:
            figures = (result.get("figures") or {}).get(new_variant + suffix)
            baseline = (old_result.get("figures") or {}).get(old_variant + suffix)
            if not figures or not baseline:
                continue
            sizes = _n_samples(new_record, run, new_variant + suffix)
            old_sizes = _n_samples(old_record, run, old_variant + suffix)
            differ = sorted(
                name
                for name in sizes.keys() & old_sizes.keys()
                if sizes[name] != old_sizes[name]
            )
            if differ:
                shown = ", ".join(f"{n} {sizes[n]} vs {old_sizes[n]}" for n in differ)
                raise SystemExit(
                    f"{run}: the test sets differ in size ({shown} images); "
                    "compare runs of the same protocol."
                )
            for key, value in figures.items():
                if "second" in key or key not in baseline:
                    continue
                points = 100 * (value - baseline[key])
                # lower is better for a routing error
                gain = -points if "routing" in key else points
                n = sizes.get(key.split("/")[0])
                rows.append(
                    {
                        "run": run,
                        "row": suffix.lstrip("_") or "fixed",
                        "figure": key,
                        "new": round(100 * value, 2),
                        "old": round(100 * baseline[key], 2),
                        "gain_points": round(gain, 2),
                        "gain_images": None if n is None else round(gain * n / 100),
                        # a hair over the tolerance: 0.1 point is one image of 1,000
                        "worse": gain < -tolerance - 1e-9,
                    }
                )
                tested = paired_test(new, old, run, rows[-1]["row"], key)
                if tested is not None:
                    only_new, only_old, p = tested
                    rows[-1].update(only_new=only_new, only_old=only_old, p=p)
    tested = [row for row in rows if "p" in row]
    if tested:
        rejected = holm(np.array([row["p"] for row in tested]), alpha)
        for row, reject in zip(tested, rejected, strict=True):
            # a routing figure is good when the image routes right, so
            # only_old > only_new means worse for every figure alike
            row["significantly_worse"] = bool(
                reject and row["only_old"] > row["only_new"]
            )
            row["significantly_better"] = bool(
                reject and row["only_new"] > row["only_old"]
            )
    return rows


def main(argv=None):
    args = parse_args(argv)
    new, old = _load(args.new, "new"), _load(args.old, "old")
    rows = compare(new, old, args.tolerance, args.alpha)
    worse = [row for row in rows if row["worse"]]
    better = [row for row in rows if row["gain_points"] > args.tolerance + 1e-9]
    tested = [row for row in rows if "p" in row]
    if args.out is not None:
        summary = {"figures": len(rows), "worse": len(worse), "better": len(better)}
        if tested:
            summary.update(
                tested=len(tested),
                significantly_worse=sum(r["significantly_worse"] for r in tested),
                significantly_better=sum(r["significantly_better"] for r in tested),
            )
        record = {
            "new": args.new,
            "old": args.old,
            "tolerance": args.tolerance,
            "alpha": args.alpha,
            "summary": summary,
        }
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps({**record, "rows": rows}, indent=1) + "\n")
        tmp.replace(args.out)
    print(
        f"{args.new} against {args.old}: {len(rows)} figures; "
        f"{len(worse)} worse by more than {args.tolerance} point, "
        f"{len(better)} better by more than that"
    )
    for row in sorted(worse, key=lambda row: row["gain_points"]):
        images = "" if row["gain_images"] is None else f" ({row['gain_images']} images)"
        paired = (
            f"; only new {row['only_new']}, only old {row['only_old']}, p {row['p']:.3g}"
            if "p" in row
            else ""
        )
        print(
            f"  worse {row['gain_points']:+.2f}{images}: {row['run']} {row['row']} "
            f"{row['figure']}: {row['new']:.2f} vs {row['old']:.2f}{paired}"
        )
    if not tested:
        print("paired tests: no predictions beside both files")
        if args.paired:
            raise SystemExit("--paired: both files need their predictions file.")
        return 1 if worse else 0
    significant = [row for row in tested if row["significantly_worse"]]
    gains = [row for row in tested if row["significantly_better"]]
    print(
        f"paired tests (exact McNemar, Holm at {args.alpha} over {len(tested)} "
        f"figures): {len(significant)} significantly worse, {len(gains)} "
        f"significantly better; {sum(row['p'] < args.alpha for row in tested)} "
        f"with p < {args.alpha} uncorrected"
    )
    for row in sorted(significant + gains, key=lambda row: row["p"]):
        print(
            f"  {'worse' if row['significantly_worse'] else 'better'}: {row['run']} "
            f"{row['row']} {row['figure']}: {row['new']:.2f} vs {row['old']:.2f}; "
            f"only new {row['only_new']}, only old {row['only_old']}, p {row['p']:.3g}"
        )
    if args.paired:
        return 1 if significant else 0
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
