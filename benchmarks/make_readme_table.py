"""Write the README's benchmark table from the JSON files the benchmarks wrote.

Every figure in the table is read from ``benchmarks/results/<name>.json``; none
is typed by hand. A benchmark that has not written its file yet (or a figure
missing from it) is shown as "not measured yet". The table, with the machine
each benchmark ran on, replaces what is between the markers

    <!-- bench-table:start -->
    <!-- bench-table:end -->

in README.md; the README is written to a temporary file and renamed into place.

    python benchmarks/make_readme_table.py            # update README.md
    python benchmarks/make_readme_table.py --check    # exit 1 if it is stale
    python benchmarks/make_readme_table.py --print    # only print the table
"""

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START = "<!-- bench-table:start -->"
END = "<!-- bench-table:end -->"
NOT_MEASURED = "not measured yet"

# (benchmark file stem, figure, key paths tried in order, unit, target).
# A key path is dotted ("digits.accuracy"); the first one present is shown.
# Unit "%" reads a fraction (0.992 -> 99.20%), as sklearn's scores are.
FIGURES = [
    (
        "bench_features",
        "our HOG, 28x28, one core",
        ["ours.us_per_image", "hog.ours_us_per_image", "ours_us_per_image"],
        "us",
        "<= 8 us per image",
    ),
    (
        "bench_features",
        "speed-up over skimage `hog` per image, same run",
        ["speedup_vs_skimage", "ratios.skimage", "ratio_skimage"],
        "x",
        ">= 25x",
    ),
    (
        "bench_features",
        "speed-up over OpenCV `HOGDescriptor`, same run",
        ["speedup_vs_opencv", "ratios.opencv", "ratio_opencv"],
        "x",
        "stretch: > 1x",
    ),
    (
        "bench_synthetic",
        "MNIST test accuracy, SVM trained on 20k synthetic digits only",
        ["realism.mnist_test_accuracy"],
        "%",
        ">= 70%",
    ),
    (
        "bench_synthetic",
        "synthetic images generated per second, one core",
        ["images_per_second", "generation.images_per_second"],
        "/s",
        ">= 1,667/s (100k in 60 s)",
    ),
    (
        "bench_accuracy",
        "MNIST training digits in this run (the full protocol: 60,000)",
        ["protocol.n_digits_train"],
        "",
        "",
    ),
    (
        "bench_accuracy",
        "digits head alone, MNIST test",
        ["summary.ours_default.digits_head_mnist"],
        "%",
        ">= 99.0%; issue 5: >= 99.4%",
    ),
    (
        "bench_digits_vsv",
        "digits path with virtual support vectors (opt-in), MNIST test",
        ["vsv.accuracy"],
        "%",
        "issue 5: >= 99.4%",
    ),
    (
        "bench_digits_vsv",
        "  same path without them, same run",
        ["plain.accuracy"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "combined 36-class, each test set scored as one batch under its task mix "
        "(the command line's default; in-source sets pooled: MNIST, EMNIST odd, "
        "handwritten62 held-out letters, az_sample odd)",
        ["summary.ours_default_batch.combined"],
        "%",
        "issue 5: >= 95%",
    ),
    (
        "bench_accuracy",
        "  routing error outside the look-alike pairs",
        ["summary.ours_default_batch.routing_error_other_pairs"],
        "%",
        "issue 12: <= 0.5%",
    ),
    (
        "bench_accuracy",
        "  routing error, look-alike pairs included",
        ["summary.ours_default_batch.routing_error"],
        "%",
        "issue 12: <= 2.5%",
    ),
    (
        "bench_accuracy",
        "  MNIST test through the 36-class vote",
        ["summary.ours_default_batch.digits_mnist"],
        "%",
        "issue 12: >= 99.2%",
    ),
    (
        "bench_accuracy",
        "  EMNIST a-m odd through the 36-class vote",
        ["summary.ours_default_batch.letters_emnist"],
        "%",
        "issue 12: >= 88%",
    ),
    (
        "bench_accuracy",
        "combined 36-class, one image at a time under the fixed task prior "
        "(Python `predict`'s default), same sets",
        ["summary.ours_default.combined"],
        "%",
        ">= flat SVC and tutorial (they too score one image at a time)",
    ),
    (
        "bench_accuracy",
        "  routing error (task chosen wrongly)",
        ["summary.ours_default.routing_error"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "    of it between look-alikes (1/I/L, 9/G, 0/O, ...)",
        ["summary.ours_default.routing_error_lookalikes"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "    of it outside the look-alike pairs",
        ["summary.ours_default.routing_error_other_pairs"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "  MNIST test through the 36-class vote",
        ["summary.ours_default.digits_mnist"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "  letters, all held out (EMNIST a-m odd, handwritten62 held-out, "
        "az_sample odd)",
        ["summary.ours_default.letters"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "combined 36-class, flat 36-class SVC (same run)",
        ["summary.flat_svc.combined"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "combined 36-class, tutorial pipeline (same run)",
        ["summary.tutorial.combined"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "combined 36-class, hiclass LocalClassifierPerParentNode (same run)",
        ["summary.hiclass.combined"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "routing error, tutorial pipeline (same run)",
        ["summary.tutorial.routing_error"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "accurate preset (default): fit seconds in this run (speed is measured by "
        "bench_fit and bench_scoring; this run shares the machine)",
        ["summary.ours_default.fit_seconds"],
        "s",
        "",
    ),
    (
        "bench_accuracy",
        "  predict images per second (2 cores, same run)",
        ["summary.ours_default.predict_images_per_second"],
        "/s",
        "",
    ),
    (
        "bench_accuracy",
        "fast preset: combined 36-class (same run)",
        ["summary.ours_fast.combined"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "fast preset: digits head, MNIST test",
        ["summary.ours_fast.digits_head_mnist"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "fast preset: fit seconds",
        ["summary.ours_fast.fit_seconds"],
        "s",
        "",
    ),
    (
        "bench_accuracy",
        "  predict images per second (2 cores, same run)",
        ["summary.ours_fast.predict_images_per_second"],
        "/s",
        "",
    ),
    (
        "bench_accuracy_cross_source",
        "cross-source run (handwritten62 never trained on), each set one batch "
        "under its task mix: handwritten62 digits (vote)",
        ["cross_source.results.ours_default_batch.digits_handwritten62"],
        "%",
        "issue 12: >= 92%",
    ),
    (
        "bench_accuracy_cross_source",
        "  handwritten62 letters (26, case merged), vote",
        ["cross_source.results.ours_default_batch.letters_handwritten62"],
        "%",
        "issue 12: >= 80%",
    ),
    (
        "bench_accuracy_cross_source",
        "  the same one image at a time (fixed prior): digits, vote",
        ["cross_source.results.ours_default.digits_handwritten62"],
        "%",
        "",
    ),
    (
        "bench_accuracy_cross_source",
        "  the same one image at a time (fixed prior): letters, vote",
        ["cross_source.results.ours_default.letters_handwritten62"],
        "%",
        "",
    ),
    (
        "bench_accuracy_cross_source",
        "  digits head alone",
        ["cross_source.results.ours_default.digits_head_handwritten62"],
        "%",
        "",
    ),
    (
        "bench_accuracy_cross_source",
        "  letters head alone",
        ["cross_source.results.ours_default.letters_head_handwritten62"],
        "%",
        "",
    ),
    (
        "bench_accuracy_cross_source",
        "  tutorial pipeline (same run): digits",
        ["cross_source.results.tutorial.digits_handwritten62"],
        "%",
        "",
    ),
    (
        "bench_accuracy_cross_source",
        "  tutorial pipeline (same run): letters",
        ["cross_source.results.tutorial.letters_handwritten62"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "handwritten62 digits, photo-letters-only run, one batch (vote)",
        ["runs.photo_letters_only.figures.ours_default_batch.hw62_digits/vote"],
        "%",
        "issue 12: >= 92%",
    ),
    (
        "bench_accuracy",
        "  the same one image at a time (fixed prior), vote",
        ["runs.photo_letters_only.figures.ours_default.hw62_digits/vote"],
        "%",
        "",
    ),
    (
        "bench_accuracy",
        "  digits head alone on them",
        ["runs.photo_letters_only.figures.ours_default.hw62_digits/heads_alone"],
        "%",
        "",
    ),
    (
        "bench_scoring",
        "scoring throughput, default model, 2 cores",
        ["ours.images_per_second", "images_per_second"],
        "/s",
        ">= 3,000/s (stretch 5,000/s); issue 16: >= 6,000/s, full-size model",
    ),
    (
        "bench_scoring",
        "  same, from the CPU time of the scoring processes",
        ["images_per_second_cpu"],
        "/s",
        "",
    ),
    (
        "bench_scoring",
        "  100,000 images, 1 job",
        ["runs.small_1_job.images_per_second"],
        "/s",
        "",
    ),
    (
        "bench_scoring",
        "throughput over the tutorial pipeline, same run",
        ["speedup_vs_tutorial", "ratio_tutorial"],
        "x",
        ">= 10x; issue 16: >= 5x, the tutorial trained on the same rows",
    ),
    (
        "bench_scoring",
        "  training rows of the tutorial",
        ["tutorial.n_train"],
        "",
        "",
    ),
    (
        "bench_scoring",
        "peak RSS scoring 1,000,000 images",
        ["peak_rss_mb_1m", "peak_rss_mb.1000000", "peak_rss_mb"],
        "MB",
        "< 1,000 MB",
    ),
    (
        "bench_scoring",
        "  ratio to the peak scoring 100,000 images",
        ["peak_rss_ratio_1m_to_small"],
        "ratio",
        "<= 1.10",
    ),
    (
        "bench_scoring",
        "  largest peak RSS of one scoring worker",
        ["runs.1m.worker_peak_mb"],
        "MB",
        "issue 16: < 500 MB",
    ),
    *[
        (
            "bench_scoring",
            f"  CPU per image, 1 job, step {step}",
            [f"breakdown.1.cpu_us.{step}"],
            "us",
            "",
        )
        for step in (
            "normalize",
            "features/hog",
            "features/pixels",
            "features/redrawn/strokes",
            "features/redrawn/features",
            "vote/gate",
            "vote/digits",
            "vote/letters",
            "vote/combine",
            "total",
        )
    ],
    (
        "bench_scoring",
        "scoring throughput on a 2-worker Dask LocalCluster",
        ["dask.images_per_second"],
        "/s",
        "",
    ),
    (
        "bench_fit",
        "fit time, accurate preset, protocol's training set",
        ["results.preset:accurate.fit_s"],
        "s",
        "",
    ),
    (
        "bench_fit",
        "  rows of the training set",
        ["results.preset:accurate.n_train"],
        "",
        "",
    ),
    (
        "bench_fit",
        "  CPU seconds of the fit (process tree, data loading included)",
        ["results.preset:accurate.tree_cpu_s"],
        "s",
        "",
    ),
    (
        "bench_fit",
        "  the gate's fit, wall (its stage, on a thread beside the heads)",
        ["results.preset:accurate.stages_s.vote/gate"],
        "s",
        "",
    ),
    (
        "bench_fit",
        '  speed-up over the unprojected kernels (main before issue 16; the records may come from separate runs, see the JSON\'s "merged")',
        ["ratios.accurate_speedup_wall"],
        "x",
        ">= 4x",
    ),
    (
        "bench_fit",
        "  same, from the CPU time",
        ["ratios.accurate_speedup_cpu"],
        "x",
        "",
    ),
    (
        "bench_fit",
        "  peak RSS of the fit's process (the vote fits on threads in it)",
        ["results.preset:accurate.main_peak_mb"],
        "MB",
        "< 4,000 MB",
    ),
    (
        "bench_fit",
        "  peak RSS summed over the process tree (children included; see the JSON's note)",
        ["results.preset:accurate.tree_peak_mb"],
        "MB",
        "",
    ),
    (
        "bench_fit",
        "  largest sum of the tree's resident sets at one sample",
        ["results.preset:accurate.tree_sampled_mb"],
        "MB",
        "",
    ),
    (
        "bench_fit",
        "grid search, 4 settings x 3 CV splits on 20,000 rows",
        ["results.grid.fit_s"],
        "s",
        "< 600 s",
    ),
    (
        "bench_fit",
        "  flat 36-class SVC fit, same training set",
        ["results.flat.fit_s"],
        "s",
        "",
    ),
    (
        "bench_fit",
        "  tutorial pipeline fit, same training set",
        ["results.tutorial.fit_s"],
        "s",
        "",
    ),
]

_SCRIPTS = {
    "bench_features": "HOG features",
    "bench_synthetic": "synthetic data",
    "bench_accuracy": "accuracy",
    "bench_scoring": "batch scoring",
    "bench_digits_vsv": "digits, VSV",
    "bench_fit": "fit time and memory",
    "bench_accuracy_cross_source": "accuracy, cross-source",
}
# Results files written by another benchmark's script (its --out).
_WRITTEN_BY = {"bench_accuracy_cross_source": "bench_accuracy"}


def _lookup(record, path):
    value = record
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _format(value, unit):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if unit == "%":
        # accuracies and error rates are fractions, as sklearn's scores are
        return f"{value:.2%}"
    if unit == "x":
        return f"{value:.1f}x"
    if unit == "us":
        return f"{value:.2f} us"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:,.0f} s"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "ratio":
        return f"{value:.3f}"
    return f"{value:g}"


def _machine(record):
    """One line describing the machine a benchmark ran on, as its JSON records it."""
    machine = record.get("machine")
    if isinstance(machine, dict) and machine:
        return ", ".join(f"{key}: {value}" for key, value in machine.items())
    if isinstance(machine, str) and machine:
        return machine
    return "machine not recorded"


def load_results(results_dir):
    """Map each benchmark stem to its parsed JSON (files that exist only)."""
    results = {}
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            results[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SystemExit(
                f"{path}: cannot read benchmark results ({exc})."
            ) from None
    return results


def make_table(results):
    """The Markdown block between the markers (markers excluded)."""
    lines = [
        "| benchmark | figure | measured | target |",
        "|---|---|---:|---|",
    ]
    for stem, figure, paths, unit, target in FIGURES:
        record = results.get(stem)
        value = None
        if record is not None:
            value = next(
                (v for v in (_lookup(record, p) for p in paths) if v is not None),
                None,
            )
        shown = NOT_MEASURED if value is None else _format(value, unit)
        lines.append(
            f"| {_SCRIPTS.get(stem, stem)} (`{_WRITTEN_BY.get(stem, stem)}.py`) "
            f"| {figure} | {shown} | {target} |"
        )
    lines += ["", "Machines:", ""]
    for stem in dict.fromkeys(stem for stem, *_ in FIGURES):
        record = results.get(stem)
        lines.append(
            f"- `{stem}.json`: "
            + (NOT_MEASURED if record is None else _machine(record))
        )
    ablation = results.get("bench_ablation", {})
    if isinstance(ablation.get("table"), str):
        protocol = ablation.get("protocol", {})
        lines += [
            "",
            "Ablation (`bench_ablation.py`: trained on "
            f"{protocol.get('n_digits_train', '?'):,} MNIST digits, "
            f"{protocol.get('n_emnist_train', '?'):,} EMNIST letters a-m and "
            f"{protocol.get('n_synthetic_letters', '?'):,} synthetic letters; "
            'handwritten62 never trained on; "head"/"hd" columns: a head '
            "alone; " + _machine(ablation) + "):",
            "",
            "```",
            ablation["table"],
            "```",
        ]
    others = sorted(set(results) - {stem for stem, *_ in FIGURES} - {"bench_ablation"})
    if others:
        lines += ["", "Other results: " + ", ".join(f"`{s}.json`" for s in others)]
    lines += [
        "",
        "Figures are read from `benchmarks/results/*.json`, written by the "
        "benchmarks themselves; regenerate with "
        "`python benchmarks/make_readme_table.py`.",
    ]
    return "\n".join(lines)


def replace_block(text, block, readme_name="README.md"):
    """Put ``block`` between the markers of ``text``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < 0 or end < start:
        raise SystemExit(
            f"{readme_name} has no benchmark-table markers: add a line {START} "
            f"followed by a line {END} where the table goes."
        )
    return f"{text[: start + len(START)]}\n{block}\n{text[end:]}"


def _write_atomically(path, text):
    sys.path.insert(0, str(REPO))  # the checkout's mtclassic, installed or not
    from mtclassic.io import atomic_writer

    with atomic_writer(path) as file:
        file.write(text.encode("utf-8"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--results-dir",
        default=REPO / "benchmarks" / "results",
        type=Path,
        help="folder of the benchmarks' JSON files (default: benchmarks/results)",
    )
    parser.add_argument(
        "--readme", default=REPO / "README.md", type=Path, help="README to update"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument(
        "--check", action="store_true", help="exit 1 if the README's table is stale"
    )
    action.add_argument(
        "--print", action="store_true", help="print the table, change nothing"
    )
    args = parser.parse_args(argv)

    block = make_table(load_results(args.results_dir))
    if args.print:
        print(block)
        return 0
    text = args.readme.read_text(encoding="utf-8")
    updated = replace_block(text, block, args.readme.name)
    if args.check:
        if updated != text:
            print(f"{args.readme}: the benchmark table is stale; run {sys.argv[0]}.")
            return 1
        return 0
    if updated != text:
        _write_atomically(args.readme, updated)
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
