"""Speed, exactness and memory of HOGTransformer, on one core.

Speed: microseconds per image (median of ``--repeats`` runs) for the 10,000
MNIST test images (28 x 28) with the default parameters (9 orientations, 7 x 7
cells, 2 x 2 blocks, L2-Hys), in the same run as two peers: scikit-image's
``hog`` called image by image (the reference we equal) and OpenCV's
``HOGDescriptor`` (window 28, block 14, block stride 7, cell 7, 9 bins: the
same layout and length, but not the same numbers: OpenCV interpolates votes
between bins and cells and weights blocks by a Gaussian). OpenCV is timed
image by image, as it is usually called, and on one mosaic of all images with
a window stride of 28 (its fastest use for a batch).

Exactness: the largest absolute difference to scikit-image over all images.

Memory: peak extra memory of transforming 200,000 images, measured with
tracemalloc (numpy's allocations) and as peak resident memory of the process,
both beyond the input and the returned feature matrix; the input is generated
before the measured region.

    python benchmarks/bench_features.py [--synthetic] [--data-dir DIR]

Prints a table and writes ``benchmarks/results/bench_features.json``.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    interleaved_timings,
    load_mnist_test,
    machine,
    make_parser,
    parse,
    status_kb,
    write_json,
)
from threadpoolctl import threadpool_limits

from mtclassic import HOGTransformer

HOG_PARAMS = {
    "orientations": 9,
    "pixels_per_cell": (7, 7),
    "cells_per_block": (2, 2),
    "block_norm": "L2-Hys",
}


#: --quick: a small run end to end
QUICK = {"repeats": 1, "memory_images": 2000}


def synthetic_images(n_images):
    from mtclassic.datasets import make_characters

    images, _ = make_characters(n_images, classes="digits", random_state=0)
    return images


def per_image(timings, n_images):
    """Microseconds per image, wall and CPU, of :func:`interleaved_timings`."""
    return {
        name: {
            "us_per_image": timing["seconds"] / n_images * 1e6,
            "cpu_us_per_image": timing["cpu_seconds"] / n_images * 1e6,
        }
        for name, timing in timings.items()
    }


def skimage_hog(images):
    from skimage.feature import hog

    return np.stack([hog(image, feature_vector=True, **HOG_PARAMS) for image in images])


def opencv_descriptor():
    try:
        import cv2
    except ImportError:
        return None, None
    if not hasattr(cv2, "HOGDescriptor"):  # OpenCV 5 moved it out
        return None, cv2.__version__
    cv2.setNumThreads(1)
    descriptor = cv2.HOGDescriptor((28, 28), (14, 14), (7, 7), (7, 7), 9)
    return descriptor, cv2.__version__


def opencv_per_image(descriptor, images):
    return np.stack([descriptor.compute(image).ravel() for image in images])


def opencv_mosaic(descriptor, mosaic, n_images):
    # all images side by side in one row; one window per image
    return descriptor.compute(mosaic, winStride=(28, 28)).reshape(n_images, -1)


def reset_peak_rss():
    """Reset the peak resident size (Linux >= 4.0); False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory(images, n_images):
    """Peak extra memory of HOG on ``n_images`` images made from ``images``.

    Run in a fresh process (see ``memory_in_subprocess``), so that the peak
    resident size is not that of earlier work.
    """
    reps = -(-n_images // len(images))
    # float64 rows in [0, 1], as ImageNormalizer gives them; made before the
    # measured region
    batch = (np.concatenate([images] * reps)[:n_images] / 255.0).reshape(n_images, -1)
    transformer = HOGTransformer()
    transformer.transform(batch[:1000])  # tables and plans built outside
    record = {
        "n_images": n_images,
        "input": "float64 rows in [0, 1], (n, 784)",
        "input_mb": batch.nbytes / 1e6,
    }
    rss_before = status_kb("self", "VmRSS") * 1024
    peak_reset = reset_peak_rss()
    start = time.perf_counter()
    features = transformer.transform(batch)
    record["seconds"] = time.perf_counter() - start
    rss_peak = status_kb("self", "VmHWM") * 1024
    record["output_mb"] = features.nbytes / 1e6
    if peak_reset and rss_before and rss_peak:
        record["peak_extra_rss_mb"] = (rss_peak - rss_before - features.nbytes) / 1e6
    del features
    tracemalloc.start()
    features = transformer.transform(batch)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    record["peak_extra_tracemalloc_mb"] = (peak - features.nbytes) / 1e6
    return record


def memory_in_subprocess(args):
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-only",
        "--memory-images",
        str(args.memory_images),
        "--data-dir",
        str(args.data_dir),
    ] + (["--synthetic"] if args.synthetic else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = make_parser(
        __doc__, "bench_features.json", random_state=False, out_aliases=("--output",)
    )
    parser.add_argument(
        "--synthetic",
        action="store_true",
        help="10,000 generated digits instead of the MNIST test images",
    )
    parser.add_argument("--repeats", type=int, default=7, help="timed runs each")
    parser.add_argument(
        "--memory-images", type=int, default=200_000, help="images of the memory run"
    )
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    add_quick(parser, QUICK)
    args = parse(parser, argv, QUICK)

    if args.synthetic:
        images = synthetic_images(10_000)
        data = "synthetic digits (make_characters), 10,000 x 28x28"
    else:
        images, _ = load_mnist_test(args.data_dir)
        data = "MNIST test, 10,000 x 28x28"
    if args.memory_only:  # the fresh process of memory_in_subprocess
        with threadpool_limits(limits=1):
            print(json.dumps(memory(images, args.memory_images)))
        return
    n_images = len(images)
    unit = images / 255.0  # what the default model's HOG step receives
    flat = unit.reshape(n_images, -1)
    load_before = os.getloadavg()

    with threadpool_limits(limits=1):
        transformers = {
            "float64": (HOGTransformer(**HOG_PARAMS), flat),
            "float32": (HOGTransformer(**HOG_PARAMS, dtype=np.float32), flat),
            "uint8_input": (HOGTransformer(**HOG_PARAMS), images),
        }
        methods = {
            f"ours_{label}": (lambda t=transformer, b=batch: t.transform(b))
            for label, (transformer, batch) in transformers.items()
        }
        methods["skimage"] = lambda: skimage_hog(unit)
        descriptor, opencv_version = opencv_descriptor()
        if descriptor is not None:
            mosaic = np.ascontiguousarray(images.transpose(1, 0, 2).reshape(28, -1))
            methods["opencv"] = lambda: opencv_per_image(descriptor, images)
            methods["opencv_mosaic"] = lambda: opencv_mosaic(
                descriptor, mosaic, n_images
            )
        features = {name: function() for name, function in methods.items()}  # warm up
        timings = per_image(interleaved_timings(methods, args.repeats), n_images)
        load_after = os.getloadavg()
        reference_uint8 = skimage_hog(images)
        memory_record = memory_in_subprocess(args)

    reference = features["skimage"]
    max_diff = {
        "float64": float(np.abs(features["ours_float64"] - reference).max()),
        "float32": float(np.abs(features["ours_float32"] - reference).max()),
        "uint8_input": float(
            np.abs(features["ours_uint8_input"] - reference_uint8).max()
        ),
    }
    ours = timings["ours_float64"]
    opencv = {"version": opencv_version}
    if descriptor is not None:
        opencv.update(timings["opencv"])
        opencv["mosaic"] = timings["opencv_mosaic"]
        opencv["mosaic_equals_per_image"] = bool(
            np.allclose(features["opencv_mosaic"], features["opencv"])
        )
        opencv["n_features"] = features["opencv"].shape[1]

    def speedup(name, key="us_per_image"):
        return timings[name][key] / ours[key] if name in timings else None

    record = {
        "benchmark": "bench_features",
        "command": command_line(__file__, argv),
        "data": data,
        "hog_params": {
            k: list(v) if isinstance(v, tuple) else v for k, v in HOG_PARAMS.items()
        },
        "threads": 1,
        "repeats": args.repeats,
        "statistic": "median over interleaved repeats; wall-clock (us_per_image) "
        "and CPU time of the process (cpu_us_per_image)",
        "ours": {
            **ours,
            "input": "float64 rows in [0, 1] (as ImageNormalizer gives them)",
            "float32": timings["ours_float32"],
            "uint8_input": timings["ours_uint8_input"],
        },
        "skimage": {**timings["skimage"], "call": "skimage.feature.hog per image"},
        "opencv": opencv,
        "speedup_vs_skimage": speedup("skimage"),
        "speedup_vs_opencv": speedup("opencv"),
        "speedup_vs_opencv_mosaic": speedup("opencv_mosaic"),
        "cpu_speedup_vs_skimage": speedup("skimage", "cpu_us_per_image"),
        "cpu_speedup_vs_opencv": speedup("opencv", "cpu_us_per_image"),
        "max_abs_diff_vs_skimage": max_diff,
        "memory": memory_record,
        "load_average_1min": {"before": load_before[0], "after_speed": load_after[0]},
        "machine": machine(),
    }

    print(f"{data}; default HOG (9 bins, 7x7 cells, 2x2 blocks, L2-Hys); one core")
    print(f"{'method':<42} {'us/image':>9} {'ratio':>7} {'CPU us':>8} {'ratio':>7}")
    labels = {
        "ours_float64": "ours, float64 rows (exact)",
        "ours_float32": "ours, float32 output",
        "ours_uint8_input": "ours, uint8 images",
        "skimage": "skimage hog, per image",
        "opencv": f"OpenCV {opencv_version} HOGDescriptor, per image",
        "opencv_mosaic": "OpenCV HOGDescriptor, one mosaic",
    }
    for name, timing in timings.items():
        wall, cpu = timing["us_per_image"], timing["cpu_us_per_image"]
        print(
            f"{labels[name]:<42} {wall:>9.2f} {speedup(name):>6.1f}x {cpu:>8.2f} "
            f"{speedup(name, 'cpu_us_per_image'):>6.1f}x"
        )
    print(
        "max |ours - skimage|: float64 {float64:.2e}, float32 {float32:.2e}, "
        "uint8 input {uint8_input:.2e}".format(**max_diff)
    )
    mem = memory_record
    print(
        f"memory, {mem['n_images']:,} images ({mem['input']}, "
        f"{mem['input_mb']:.0f} MB in, {mem['output_mb']:.0f} MB out): peak extra "
        f"{mem['peak_extra_tracemalloc_mb']:.1f} MB (tracemalloc)"
        + (
            f", {mem['peak_extra_rss_mb']:.1f} MB (peak RSS)"
            if "peak_extra_rss_mb" in mem
            else ""
        )
    )
    print(
        f"load average (1 min): {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    write_json(args.out, record)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
