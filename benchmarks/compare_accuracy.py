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
at most one image either way. Exit status 0, or 1 when a figure is worse by
more than the tolerance (so that a script can stop on it).
"""

import argparse
import json
import sys
from pathlib import Path

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
    return record, variant


def _n_samples(record, run, variant):
    """Test-set sizes of a variant in a run (fold 0's details), by set name."""
    folds = record["runs"][run].get("per_fold") or {}
    details = (folds.get("0") or {}).get(variant, {}).get("details", {})
    return {
        name: entry["n_samples"]
        for name, entry in details.items()
        if isinstance(entry, dict) and "n_samples" in entry
    }


def compare(new, old, tolerance=0.1):
    """One row per figure both variants have: (run, row, figure, new, old, ...)."""
    (new_record, new_variant), (old_record, old_variant) = new, old
    rows = []
    for run, result in new_record["runs"].items():
        old_result = old_record["runs"].get(run) or {}
        for suffix in ROWS:
            figures = (result.get("figures") or {}).get(new_variant + suffix)
            baseline = (old_result.get("figures") or {}).get(old_variant + suffix)
            if not figures or not baseline:
                continue
            sizes = _n_samples(new_record, run, new_variant + suffix)
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
    return rows


def main(argv=None):
    args = parse_args(argv)
    new, old = _load(args.new, "new"), _load(args.old, "old")
    rows = compare(new, old, args.tolerance)
    if args.out is not None:
        record = {"new": args.new, "old": args.old, "tolerance": args.tolerance}
        tmp = args.out.with_name(args.out.name + ".tmp")
        tmp.write_text(json.dumps({**record, "rows": rows}, indent=1) + "\n")
        tmp.replace(args.out)
    worse = [row for row in rows if row["worse"]]
    better = [row for row in rows if row["gain_points"] > args.tolerance + 1e-9]
    print(
        f"{args.new} against {args.old}: {len(rows)} figures; "
        f"{len(worse)} worse by more than {args.tolerance} point, "
        f"{len(better)} better by more than that"
    )
    for row in sorted(worse, key=lambda row: row["gain_points"]):
        images = "" if row["gain_images"] is None else f" ({row['gain_images']} images)"
        print(
            f"  worse {row['gain_points']:+.2f}{images}: {row['run']} {row['row']} "
            f"{row['figure']}: {row['new']:.2f} vs {row['old']:.2f}"
        )
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
