"""What every benchmark shares: options, data, the tutorial peer, measuring, records.

- paths and options: the checkout (put first on ``sys.path``, so that its
  ``mtclassic`` is the one measured), ``--data-dir`` (../shared/data), the
  results folder, :func:`make_parser` and :func:`parse` (``--quick`` sizes);
- data: one loader per source of ``--data-dir`` (MNIST train and test, the
  EMNIST letters, upright, the handwritten62 crops, az_sample) and the
  accuracy protocol built on them (:func:`load_data`, :func:`in_source_sets`,
  :func:`cross_source_sets`);
- peers: :class:`TutorialPipeline`, the pipeline a tutorial user writes;
  :func:`flat_svc` on :func:`our_features`, the flat 36-class classifier;
  :func:`digits_path`, the digits path of our model on its own;
  :func:`head_alone`, one head of our vote on its own;
- measuring: a process tree's peak memory and CPU from ``/proc``
  (:func:`run_measured`), interleaved timings;
- records: :func:`machine`, :func:`command_line`, :func:`utc_date` and
  :func:`write_json` (a temporary file renamed into place).

Benchmarks run as ``python benchmarks/bench_x.py``: this folder is on
``sys.path`` and they import this module as ``_common``.
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # this checkout's mtclassic is the one measured

from mtclassic.io import atomic_writer, load_idx  # noqa: E402

DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"
RESULTS_DIR = REPO / "benchmarks" / "results"
#: BLAS and OpenMP on one thread in every child process a benchmark starts
PINNED_THREADS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
DIGITS = tuple("0123456789")
LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
N_FOLDS = 5  # handwritten62 letters: stratified folds of the in-source run


# ---------------------------------------------------------------- options


def make_parser(
    doc, name, *, data_dir=True, n_jobs=None, random_state=True, out_aliases=()
):
    """An argument parser with the options every benchmark shares.

    ``--data-dir`` when ``data_dir``; ``--out`` (default
    ``benchmarks/results/<name>``; an older spelling in ``out_aliases`` is
    kept); ``--random-state`` (0) when ``random_state``; ``--n-jobs`` when
    given its default. The description is the first paragraph of ``doc``.
    """
    parser = argparse.ArgumentParser(
        description=doc.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if data_dir:
        parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument(
        "--out", *out_aliases, dest="out", type=Path, default=RESULTS_DIR / name
    )
    if random_state:
        parser.add_argument("--random-state", type=int, default=0)
    if n_jobs is not None:
        parser.add_argument("--n-jobs", type=int, default=n_jobs)
    return parser


def add_quick(parser, quick, what="a small run"):
    """``--quick``: the sizes in ``quick`` (dest -> value) become the defaults."""
    sizes = ", ".join(f"{key} {value:,}" for key, value in quick.items())
    parser.add_argument("--quick", action="store_true", help=f"{what}: {sizes}")


def parse(parser, argv=None, quick=None):
    """Parse ``argv``; with ``--quick``, ``quick``'s sizes are the defaults.

    A flag given on the command line wins over the quick size.
    """
    args = parser.parse_args(argv)
    if quick and getattr(args, "quick", False):
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


def names(text, known=None, flag=""):
    """The names of a comma-separated option; unknown ones stop the run."""
    found = [n.strip() for n in (text or "").split(",") if n.strip()]
    unknown = sorted(set(found) - set(known)) if known is not None else []
    if unknown:
        raise SystemExit(f"{flag}: unknown {unknown}; choose from {sorted(known)}.")
    return found


def child_env(**extra):
    """This process's environment for a child: BLAS pinned, the checkout first."""
    env = dict(os.environ, **PINNED_THREADS, **extra)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), env.get("PYTHONPATH")])
    )
    return env


# ---------------------------------------------------------------- data


def load_mnist_train(data_dir, n=None):
    """The first ``n`` MNIST training images (uint8) and labels ('0'..'9')."""
    with np.load(Path(data_dir) / "mnist_train" / "mnist_train.npz") as mnist:
        return mnist["images"][:n], mnist["labels"][:n].astype(str)


def load_mnist_test(data_dir, n=None):
    """The first ``n`` MNIST test images (uint8) and labels ('0'..'9')."""
    folder = Path(data_dir) / "mnist"
    images = load_idx(folder / "t10k-images-idx3-ubyte.gz")[:n]
    return images, load_idx(folder / "t10k-labels-idx1-ubyte.gz")[:n].astype(str)


def load_emnist_letters(data_dir, n=None):
    """The first ``n`` EMNIST letters images we have, upright, labels 'A'..'Z'.

    Our copy holds the first 10,000 images of the EMNIST letters test split
    (classes a-m only); the IDX files store each image transposed.
    """
    folder = Path(data_dir) / "emnist_letters" / "derived"
    stem = "emnist-letters-test-{}-idx{}-ubyte-first10000.gz"
    images = load_idx(folder / stem.format("images", 3), transpose=True)[:n]
    codes = load_idx(folder / stem.format("labels", 1))[:n]
    return images, LETTERS[codes.astype(int) - 1]  # codes 1..26


def load_handwritten62(data_dir):
    """The handwritten62 photos: crops (a list), labels, and the padded array.

    The photos are stored zero-padded in one array; photo ``i`` is
    ``padded[i, :h, :w]`` with ``(h, w) = sizes[i]``.
    """
    with np.load(Path(data_dir) / "handwritten62_bpr" / "handwritten62_bpr.npz") as hw:
        padded, sizes, labels = hw["images"], hw["sizes"], hw["labels"].astype(str)
    crops = [padded[i, :h, :w].copy() for i, (h, w) in enumerate(sizes)]
    return crops, labels, padded


def load_az_sample(data_dir):
    """az_sample's images and labels ('A'..'Z')."""
    with np.load(Path(data_dir) / "az_sample" / "az_sample.npz") as az:
        return az["images"], az["labels"].astype(str)


def load_data(data_dir, n_digits_train=None, n_digits_test=None, n_emnist=None):
    """The accuracy protocol's images and labels (raw: 28x28 arrays, crops).

    Keys: ``digits_train``, ``digits_test``, ``emnist_train``, ``emnist_test``,
    ``az_train``, ``az_test`` (``(X, y)``: even rows train, odd rows test),
    ``hw_letters`` (crops, labels with case merged, original labels) and
    ``hw_digits`` (crops, labels).
    """
    emnist_X, emnist_y = load_emnist_letters(data_dir, n_emnist)
    az_X, az_y = load_az_sample(data_dir)
    crops, hw_labels, _ = load_handwritten62(data_dir)
    is_letter = np.char.isalpha(hw_labels)
    return {
        "digits_train": load_mnist_train(data_dir, n_digits_train),
        "digits_test": load_mnist_test(data_dir, n_digits_test),
        "emnist_train": (emnist_X[0::2], emnist_y[0::2]),
        "emnist_test": (emnist_X[1::2], emnist_y[1::2]),
        "az_train": (az_X[0::2], az_y[0::2]),
        "az_test": (az_X[1::2], az_y[1::2]),
        # letters: case merged into the upper-case label; folds stratify by the
        # original label so that every fold holds both cases alike
        "hw_letters": (
            [c for c, keep in zip(crops, is_letter, strict=True) if keep],
            np.char.upper(hw_labels[is_letter]),
            hw_labels[is_letter],
        ),
        "hw_digits": (
            [c for c, keep in zip(crops, is_letter, strict=True) if not keep],
            hw_labels[~is_letter],
        ),
    }


def strided(part, n):
    """At most ``n`` rows of ``(X, y)``, evenly spaced (the files are sorted by
    class, so a head would hold few classes); all rows when ``n`` is None."""
    X, y = part
    if n is None or len(y) <= n:
        return X, y
    rows = np.linspace(0, len(y) - 1, n).round().astype(int)
    return [X[i] for i in rows] if isinstance(X, list) else X[rows], y[rows]


def join(parts):
    """One list of images and one label array from ``(X, y)`` parts."""
    X = [image for images, _ in parts for image in images]
    return X, np.concatenate([np.asarray(y).astype(str) for _, y in parts])


def in_source_sets(data, fold, cap_train=None, cap_test=None, random_state=0):
    """Training set and test sets of the in-source run (one fold).

    Trained on the MNIST training digits, the EMNIST letters a-m even rows,
    the training folds of the handwritten62 letters and az_sample's even
    rows; tested on the other rows. ``cap_*``: at most that many rows of each
    source (:func:`strided`; the MNIST training digits are never capped).
    """
    from sklearn.model_selection import StratifiedKFold

    crops, labels, original = data["hw_letters"]
    splitter = StratifiedKFold(N_FOLDS, shuffle=True, random_state=random_state)
    train_rows, test_rows = list(splitter.split(np.zeros(len(labels)), original))[fold]
    train = join(
        [
            data["digits_train"],
            strided(data["emnist_train"], cap_train),
            strided(([crops[i] for i in train_rows], labels[train_rows]), cap_train),
            strided(data["az_train"], cap_train),
        ]
    )
    tests = {
        "mnist": data["digits_test"],
        "emnist": data["emnist_test"],
        "hw62_letters": ([crops[i] for i in test_rows], labels[test_rows]),
        "az": data["az_test"],
    }
    return train, {name: strided(part, cap_test) for name, part in tests.items()}


def cross_source_sets(data, synthetic, cap_train=None, cap_test=None):
    """Training set (no handwritten62) and test sets of the cross-source run.

    Trained on the MNIST training digits, the EMNIST letters a-m even rows,
    az_sample's even rows and ``synthetic`` ``(X, y)``; tested on every
    handwritten62 digit and letter (case merged).
    """
    train = join(
        [
            data["digits_train"],
            strided(data["emnist_train"], cap_train),
            strided(data["az_train"], cap_train),
            synthetic,
        ]
    )
    hw_letters, hw_letter_labels, _ = data["hw_letters"]
    tests = {
        "hw62_digits": data["hw_digits"],
        "hw62_letters": (hw_letters, hw_letter_labels),
    }
    return train, {name: strided(part, cap_test) for name, part in tests.items()}


# ---------------------------------------------------------------- peers

TUTORIAL_HOG = {"orientations": 9, "pixels_per_cell": (7, 7), "cells_per_block": (2, 2)}


def mnist_recipe(image):
    """A plain MNIST recipe, one image: what the tutorial pipeline is fed.

    A 28 x 28 image is MNIST-shaped already and only scaled to [0, 1]. Any
    other: ink bright on dark (inverted when the border is brighter than the
    mean), background (the border's median) subtracted, cropped to the ink,
    scaled to fit 20 x 20 and placed in 28 x 28 with its centre of mass at
    the centre.
    """
    from scipy.ndimage import center_of_mass
    from skimage.transform import resize

    x = np.asarray(image, dtype=np.float64)
    if x.shape == (28, 28):
        return x / 255.0
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    if border.mean() > x.mean():
        x, border = 255.0 - x, 255.0 - border
    x = np.clip(x - np.median(border), 0, None)
    x = x / x.max() if x.max() > 0 else x
    rows, cols = np.nonzero(x > 0.2)
    if len(rows):
        x = x[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    scale = 20 / max(x.shape)
    size = (max(1, round(x.shape[0] * scale)), max(1, round(x.shape[1] * scale)))
    x = resize(x, size, anti_aliasing=True)
    out = np.zeros((28, 28))
    cy, cx = center_of_mass(x) if x.sum() > 0 else (size[0] / 2, size[1] / 2)
    top = int(np.clip(round(14 - cy), 0, 28 - size[0]))
    left = int(np.clip(round(14 - cx), 0, 28 - size[1]))
    out[top : top + size[0], left : left + size[1]] = x
    return out


def tutorial_hog(images):
    """scikit-image's ``hog`` called per image, after :func:`mnist_recipe`."""
    from skimage.feature import hog

    return np.array([hog(mnist_recipe(image), **TUTORIAL_HOG) for image in images])


class TutorialPipeline:
    """The pipeline a tutorial user writes: the peer of several benchmarks.

    Each image through :func:`mnist_recipe` and scikit-image's ``hog``;
    ``SVC(probability=True)`` on the digits, ``RandomForestClassifier(100)`` on
    the letters; the seed's vote: the head with the higher top probability
    wins the image.

    Parameters
    ----------
    n_jobs : int, default=None
        The forest's ``n_jobs``.
    """

    def __init__(self, n_jobs=None):
        self.n_jobs = n_jobs

    def fit(self, X, y):
        """Fit both heads: the digits of ``(X, y)`` and the other rows."""
        y = np.asarray(y).astype(str)
        is_digit = np.isin(y, DIGITS)
        self.fit_digits([x for x, d in zip(X, is_digit, strict=True) if d], y[is_digit])
        return self.fit_letters(
            [x for x, d in zip(X, is_digit, strict=True) if not d], y[~is_digit]
        )

    def fit_digits(self, images, y):
        """Fit the digits SVC; its warnings are kept in ``warnings_``."""
        from sklearn.svm import SVC

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.svc_ = SVC(probability=True, random_state=0)
            self.svc_.fit(tutorial_hog(images), y)
        self.warnings_ = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        return self

    def fit_letters(self, images, y):
        """Fit the letters forest."""
        from sklearn.ensemble import RandomForestClassifier

        self.forest_ = RandomForestClassifier(
            n_estimators=100, n_jobs=self.n_jobs, random_state=0
        )
        self.forest_.fit(tutorial_hog(images), y)
        return self

    def heads_proba(self, X):
        """Each head's probabilities over its own labels: (digits, letters)."""
        features = tutorial_hog(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # probability=True
            digits = self.svc_.predict_proba(features)
        return digits, self.forest_.predict_proba(features)

    def predict_heads(self, X):
        """The vote's labels and each head's own: ``(y, {task: labels})``."""
        digits, letters = self.heads_proba(X)
        heads = {
            "digits": self.svc_.classes_[digits.argmax(axis=1)].astype(str),
            "letters": self.forest_.classes_[letters.argmax(axis=1)].astype(str),
        }
        digit_wins = digits.max(axis=1) >= letters.max(axis=1)
        return np.where(digit_wins, heads["digits"], heads["letters"]), heads

    def predict_proba(self, X):
        """Probabilities over the digits then the letters; the losing head's are 0."""
        digits, letters = self.heads_proba(X)
        digit_wins = digits.max(axis=1) >= letters.max(axis=1)
        proba = np.zeros((len(digits), digits.shape[1] + letters.shape[1]))
        proba[digit_wins, : digits.shape[1]] = digits[digit_wins]
        proba[~digit_wins, digits.shape[1] :] = letters[~digit_wins]
        return proba


def our_features(random_state=0, n_jobs=None):
    """Our default normalizer and features (the default model but its vote).

    They learn nothing from data: fitted here, on two blank images.
    """
    from mtclassic import make_default_model

    pipeline = make_default_model(random_state=random_state, n_jobs=n_jobs)[:-1]
    return pipeline.fit(np.zeros((2, 28, 28), dtype=np.uint8))


def flat_svc():
    """The flat peer's classifier: one 36-class RBF SVC, our digits head's settings.

    ``break_ties=True``: its prediction is the argmax of its decision function,
    so the decision restricted to one task's labels comes from the same call.
    """
    from sklearn.svm import SVC

    return SVC(C=10.0, gamma="scale", cache_size=1000, break_ties=True)


def digits_path(random_state=0):
    """The digits path alone: normalizer (deskewed), features and an SVM head.

    A ``Pipeline`` of the steps ``normalize``, ``features`` and ``digits``
    (``DigitClassifier`` with float32 kernel rows).
    """
    from sklearn.pipeline import Pipeline

    from mtclassic import ImageNormalizer, make_features
    from mtclassic.heads import DigitClassifier

    return Pipeline(
        [
            ("normalize", ImageNormalizer(deskew=True)),
            ("features", make_features()),
            (
                "digits",
                DigitClassifier(kernel_dtype="float32", random_state=random_state),
            ),
        ]
    )


def head_alone(vote, name, features):
    """A head's own answer among its task's labels (its "other" class ignored)."""
    from mtclassic.multitask import OTHER

    head = vote.named_estimators_[name]
    codes = np.asarray(head.classes_)
    in_task = codes != OTHER
    proba = head.predict_proba(features)[:, in_task]
    return vote.classes_[codes[in_task][proba.argmax(axis=1)]]


# ---------------------------------------------------------------- measuring


def descendants(root):
    """``root`` and every process below it, from ``/proc`` (Linux)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def status_kb(pid, field):
    """A ``/proc/<pid>/status`` field in kB (``VmRSS``, ``VmHWM``); 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def command_of(pid):
    """A process's command line, from ``/proc`` ("" once it is gone)."""
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return ""
    return " ".join(w.decode(errors="replace") for w in words if w)


def run_measured(command, env, timeout=None):
    """Run a command; return wall seconds, stdout and peak RSS figures (MB).

    ``tree_peak_mb`` sums the peak RSS (VmHWM) of every process seen in the
    tree: an upper bound of the whole run's simultaneous peak (pages shared
    between processes count once per process). ``tree_sampled_mb`` is the
    largest sum of current RSS seen at the 0.1 s samples. ``main_peak_mb`` is
    the main process's own peak (its last VmHWM sample), ``main_pid`` its pid.

    With ``timeout`` (seconds), the command runs in its own process group and
    the whole group is killed (SIGTERM) when the time is up; the figures are
    then those of the run so far, ``timed_out`` is True and no error is
    raised (its stdout holds what the command printed unbuffered). A process
    group, not a session: a new session would also be a new scheduler
    autogroup, with a CPU share of its own beside this one's.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        process_group=None if timeout is None else 0,
    )
    peaks, labels, cpu, sampled, timed_out = {}, {}, {}, 0, False
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if timeout is not None and not timed_out:
            if time.perf_counter() - started > timeout:
                timed_out = True
                os.killpg(process.pid, signal.SIGTERM)
        current = 0
        for member in descendants(process.pid):
            peaks[member] = max(peaks.get(member, 0), status_kb(member, "VmHWM"))
            cpu[member] = max(cpu.get(member, 0.0), cpu_seconds(member))
            current += status_kb(member, "VmRSS")
            labels.setdefault(member, command_of(member)[:80] or "?")
        sampled = max(sampled, current)
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout = process.stdout.read()
    if process.returncode and not timed_out:
        raise RuntimeError(f"{command} failed with {process.returncode}:\n{stdout}")
    return {
        "seconds": seconds,
        "stdout": stdout.strip(),
        "main_pid": process.pid,
        "timed_out": timed_out,
        "main_peak_mb": peaks.get(process.pid, 0) / 1024,
        "tree_peak_mb": sum(peaks.values()) / 1024,
        "tree_sampled_mb": sampled / 1024,
        "process_peaks_mb": {
            f"{pid} {labels.get(pid, '?')}": round(kb / 1024, 1)
            for pid, kb in peaks.items()
        },
        # wait4: the largest peak among the main process and the children
        # it reaped (its workers), as the kernel accounts it.
        "wait4_maxrss_mb": usage.ru_maxrss / 1024,
        # CPU of the whole tree: wait4 counts the reaped workers too; the
        # samples catch workers that were not reaped.
        "cpu_seconds": max(usage.ru_utime + usage.ru_stime, sum(cpu.values())),
    }


def interleaved_timings(functions, repeats):
    """Median wall and CPU seconds of each function, timed in turn each round.

    The functions take turns within each round, so that a change of load on
    the shared machine hits all of them alike and their ratios hold.
    Returns ``{name: {"seconds": ..., "cpu_seconds": ...}}``.
    """
    wall = {name: [] for name in functions}
    cpu = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    return {
        name: {
            "seconds": statistics.median(wall[name]),
            "cpu_seconds": statistics.median(cpu[name]),
        }
        for name in functions
    }


# ---------------------------------------------------------------- records


def machine(**extra):
    """The machine a benchmark ran on, for its JSON record (``extra`` added)."""
    import scipy
    import sklearn

    try:
        with open("/proc/cpuinfo") as file:
            cpu = next(
                line.split(":", 1)[1].strip()
                for line in file
                if line.startswith("model name")
            )
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "scikit_learn": sklearn.__version__,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        "load_average": os.getloadavg(),
        **extra,
    }


def command_line(script, argv=None):
    """The command that ran, as a shell line (``argv``: the arguments given)."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    return shlex.join(["python", f"benchmarks/{Path(script).name}", *arguments])


def utc_date():
    """Now, in UTC, to the second (ISO 8601)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def write_json(path, record):
    """Write ``record`` as JSON to ``path``: a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as file:
        file.write((json.dumps(record, indent=2) + "\n").encode())
