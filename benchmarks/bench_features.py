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

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \\
        python benchmarks/bench_features.py [--synthetic] [--data-dir DIR]

Prints a table and writes ``benchmarks/results/bench_features.json``.
"""

import os

# one core for numpy, BLAS and OpenMP, set before numpy is imported
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtclassic import HOGTransformer  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULT = REPO / "benchmarks" / "results" / "bench_features.json"
MNIST_TEST = Path("mnist") / "t10k-images-idx3-ubyte.gz"
HOG_PARAMS = {
    "orientations": 9,
    "pixels_per_cell": (7, 7),
    "cells_per_block": (2, 2),
    "block_norm": "L2-Hys",
}


def load_mnist_test(data_dir):
    """The 10,000 MNIST test images, uint8 (n, 28, 28), from the gzip IDX file."""
    path = data_dir / MNIST_TEST
    raw = gzip.decompress(path.read_bytes())
    if raw[:4] != b"\x00\x00\x08\x03":
        raise ValueError(f"{path}: not an IDX image file (magic {raw[:4].hex()}).")
    n, rows, cols = (
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(3)
    )
    if len(raw) != 16 + n * rows * cols:
        raise ValueError(
            f"{path}: {len(raw)} bytes after decompression, expected "
            f"{16 + n * rows * cols} for {n} images of {rows}x{cols}."
        )
    return np.frombuffer(raw, np.uint8, offset=16).reshape(n, rows, cols)


def synthetic_images(n_images):
    from mtclassic.datasets import make_characters

    images, _ = make_characters(n_images, classes="digits", random_state=0)
    return images


def interleaved_timings(methods, repeats, n_images):
    """Median wall-clock and CPU microseconds per image of every method.

    The methods take turns within each repeat, so that a change of load on a
    shared machine hits all of them alike and their ratios stay fair.
    """
    wall = {name: [] for name in methods}
    cpu = {name: [] for name in methods}
    for _ in range(repeats):
        for name, function in methods.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: {
            "us_per_image": statistics.median(wall[name]) / n_images * 1e6,
            "cpu_us_per_image": statistics.median(cpu[name]) / n_images * 1e6,
        }
        for name in methods
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


def rss_bytes(field):
    """A field of /proc/self/status in bytes (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


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
    rss_before = rss_bytes("VmRSS")
    peak_reset = reset_peak_rss()
    start = time.perf_counter()
    features = transformer.transform(batch)
    record["seconds"] = time.perf_counter() - start
    rss_peak = rss_bytes("VmHWM")
    record["output_mb"] = features.nbytes / 1e6
    if peak_reset and rss_before is not None and rss_peak is not None:
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


def write_json(record, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, suffix=".tmp", delete=False
    ) as handle:
        json.dump(record, handle, indent=2)
        handle.write("\n")
    os.replace(handle.name, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA, help="shared data directory"
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
    parser.add_argument("--output", type=Path, default=RESULT, help="JSON file")
    parser.add_argument("--memory-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.synthetic:
        images = synthetic_images(10_000)
        data = "synthetic digits (make_characters), 10,000 x 28x28"
    else:
        images = load_mnist_test(args.data_dir)
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
        timings = interleaved_timings(methods, args.repeats, n_images)
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
        "command": "python benchmarks/bench_features.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
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
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
        },
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
    write_json(record, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
