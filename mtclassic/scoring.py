"""Batch scoring: chunked, parallel (joblib or Dask), resumable.

:func:`score_files` scores image files with a fitted classifier and writes one
row per image (CSV or JSON lines); :func:`predict_dask` scores a ``dask.array``
lazily, block by block. Both work with any fitted classifier that has
``predict_proba`` and ``classes_``; for mtclassic's multi-task model the rows
also name each label's task.

How a run survives a crash
--------------------------
The inputs are planned into numbered chunks before anything is read: every
source knows its record count from its header or file list, so chunk ``i`` is
the same records in every run with the same inputs and ``chunk_size``. The run
keeps a work folder next to the output, ``<out>.parts/``, holding

- ``manifest.json``: the inputs (name, record count, size and mtime, and a
  BLAKE2 hash of their bytes, so that an edit that keeps size and mtime is
  caught), the model's hash, the output options and ``n_jobs``; a resumed run
  must match it, and names the input that changed;
- one part file per finished chunk, ``<i>.rows`` (its output rows, in the final
  format), preceded by ``<i>.errors`` when some of its records were unreadable.

Each part is written to a temporary file, flushed to disk and renamed, the rows
part last, so a part either exists whole or not at all, and ``<i>.rows``
existing means chunk ``i`` is done. A killed run (even ``kill -9``) leaves only
whole parts; ``resume=True`` keeps them and scores the missing chunks. When every
chunk is done the parts are concatenated in chunk order into a temporary file
renamed onto ``out`` (and the same for the errors file), then the work folder is
removed, its rows parts first and its manifest last, so that a run killed even
then leaves a folder ``resume`` takes; the next run on ``out`` removes the
temporary files a killed run left beside it. So ``out`` never holds a
half-written result, and the final output has
every input record exactly once (scored, or in the errors file), byte for byte
the output of an uninterrupted run.

One run at a time writes an output: the run holds ``<out>.lock`` (its pid, host
and start time, under an ``flock``) from start to end, and a second run on the
same ``out`` is refused with a message naming the holder. A lock whose process
died is stale: the next run takes it over (``resume=True`` then continues).

A failure confined to one input or chunk (a reader error, a model that refuses
every image of a chunk) lists that chunk's records in the errors file with the
input's name and the reason, and the other chunks are scored. Only when the
model refuses every image of the whole run is it taken for the wrong model:
the files are written and a ValueError says so.

Parallelism
-----------
The calling process reads the chunks and writes the parts; the scoring runs in
``n_jobs`` joblib worker processes (at most ``2 * n_jobs`` chunks in flight, so
memory stays bounded). ``n_jobs`` is lowered, with a warning, to the number of
chunks to score and to what the available memory holds (an estimate per
worker: the libraries, the model and a chunk). Each worker watches its parent
and exits when the scoring process is gone, even after ``kill -9``.

Each scoring process runs BLAS on one thread: the float32 kernel products of
the default model's SVM round differently with another thread count (by up to
~5e-5 in a probability), so this is what makes ``n_jobs``, Dask and
``OMP_NUM_THREADS`` write the same bytes on one machine; parallelism comes
from the processes. Across CPUs and BLAS builds the rounding differs: outputs
agree to ``PROBABILITY_TOLERANCE`` (1e-4), and labels agree unless two classes
are tied that closely. A task carries one chunk's pixels, never the model:
each worker loads the model once per run, from the saved file when ``model``
is a path (the calling process then only checks the file against its record
and never holds the model itself), else from a copy in the work folder. On a
Dask ``distributed`` cluster given as ``client`` the model is scattered to
every worker once and the workers need no access to the files. Grid searches
spread over the same cluster through joblib's Dask backend::

    from distributed import Client
    import joblib
    client = Client("tcp://scheduler:8786")
    with joblib.parallel_config(backend="dask"):
        GridSearchCV(make_default_model(), grid, n_jobs=-1).fit(X, y)
"""

import contextlib
import copy
import hashlib
import json
import numbers
import os
import re
import secrets
import shutil
import socket
import sys
import threading
import time
import warnings
from dataclasses import dataclass

import joblib
import numpy as np
from threadpoolctl import threadpool_limits

from mtclassic.io import Chunk, atomic_writer, closing_all, open_inputs, sample_images

from .utils._param_validation import NumberInterval
from .utils._sklearn_compat import StrOptions, validate_params

try:  # POSIX; elsewhere a lock's holder is known alive by its pid only
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

DEFAULT_CHUNK_SIZE = 2048  # a worker needs ~16 KB per image in flight
_FORMATS = ("csv", "jsonl")
_WORK_SUFFIX = ".parts"
_LOCK_SUFFIX = ".lock"
_MANIFEST = "manifest.json"
_MANIFEST_VERSION = 2
_TASK_MIX_SAMPLE = 10_000  # images the batch task mix is estimated on
# Probabilities are written with 6 decimals. Every way of computing them on one
# machine (n_jobs, Dask, BLAS thread count) writes the same bytes; across CPUs
# and BLAS builds the float32 kernels of the SVM round differently, which moves
# a probability by up to ~5e-5 (measured). Compare outputs to this tolerance.
PROBABILITY_TOLERANCE = 1e-4


@dataclass
class ScoringSummary:
    """What a call of :func:`score_files` did.

    Attributes
    ----------
    out, errors_path : str
        The output file and the errors file.
    n_records : int
        Records in all inputs (scored plus errors).
    n_scored, n_errors : int
        Rows written to ``out`` and to the errors file.
    n_chunks, n_chunks_resumed : int
        Chunks in the plan, and how many a resumed run found done already.
    seconds : float
        Wall time of this call.
    images_per_second : float
        Records handled by this call (not by the interrupted run) per second of
        its wall time; the progress bar shows the same rate.
    n_workers : int
        Processes (or Dask worker threads) that scored: ``n_jobs``, lowered to
        the number of chunks to score and to what the available memory holds.
    task_mix : dict or None
        The task mix the vote scored under, by task, when it was estimated
        from the inputs (``task_prior="batch"``); None otherwise.
    """

    out: str
    errors_path: str
    n_records: int
    n_scored: int
    n_errors: int
    n_chunks: int
    n_chunks_resumed: int
    seconds: float
    images_per_second: float
    n_workers: int = 1
    task_mix: dict = None


class _RowFormatter:
    """Turns a chunk's probabilities into output text (CSV or JSON lines)."""

    def __init__(self, format, labels, tasks, top_k):
        self.format = format
        self.labels = np.asarray(labels, dtype=object)
        self.tasks = np.asarray(tasks, dtype=object)
        self.top_k = top_k

    def header(self):
        if self.format == "jsonl":
            return ""
        columns = ["id", "label", "task", "probability"]
        for rank in range(2, self.top_k + 1):
            columns += [f"label_{rank}", f"probability_{rank}"]
        return ",".join(columns) + "\n"

    def rows(self, ids, proba):
        if not len(ids):
            return ""
        if self.top_k == 1:
            order = np.argmax(proba, axis=1)[:, np.newaxis]
        else:
            # Stable: ties go to the first class, as argmax (and predict) do.
            order = np.argsort(-proba, axis=1, kind="stable")[:, : self.top_k]
        top_proba = np.take_along_axis(proba, order, axis=1)
        probabilities = _format_probabilities(top_proba).astype(object)
        labels = self.labels[order]
        tasks = self.tasks[order[:, 0]]
        if self.format == "csv":
            return self._csv(ids, labels, tasks, probabilities)
        return self._jsonl(ids, labels, tasks, probabilities)

    def _csv(self, ids, labels, tasks, probabilities):
        import csv
        import io

        columns = [ids, labels[:, 0], tasks, probabilities[:, 0]]
        for rank in range(1, self.top_k):
            columns += [labels[:, rank], probabilities[:, rank]]
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(zip(*columns, strict=True))
        return text.getvalue()

    def _jsonl(self, ids, labels, tasks, probabilities):
        quote = np.frompyfunc(json.dumps, 1, 1)
        ids = quote(np.asarray(ids, dtype=object))
        labels, tasks = quote(labels), quote(tasks)
        head = (
            '{"id": ' + ids + ', "label": ' + labels[:, 0] + ', "task": ' + tasks
            + ', "probability": ' + probabilities[:, 0]
        )  # fmt: skip
        if self.top_k > 1:
            entries = '{"label": ' + labels + ', "probability": ' + probabilities + "}"
            head = head + ', "top_k": [' + _join_columns(entries, ", ") + "]"
        return "\n".join(head + "}") + "\n"

    def errors(self, errors):
        if not errors:
            return ""
        if self.format == "csv":
            import csv
            import io

            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(errors)
            return text.getvalue()
        return "".join(
            json.dumps({"id": record_id, "reason": reason}) + "\n"
            for record_id, reason in errors
        )

    def errors_header(self):
        return "id,reason\n" if self.format == "csv" else ""


def _format_probabilities(proba):
    """Probabilities in [0, 1] as text with 6 decimals, e.g. "0.939150".

    Vectorized string ufuncs: several times faster than "%.6f" per value.
    """
    strings = getattr(np, "strings", np.char)  # numpy >= 2 has fast ufuncs
    units = np.rint(np.clip(proba, 0.0, 1.0) * 1e6).astype(np.int64)
    whole = (units // 10**6).astype("U1")
    fraction = strings.zfill((units % 10**6).astype("U6"), 6)
    return strings.add(strings.add(whole, "."), fraction)


def _join_columns(strings, separator):
    joined = strings[:, 0]
    for column in range(1, strings.shape[1]):
        joined = joined + separator + strings[:, column]
    return joined


def _score_chunk(model, images, ids, formatter):
    """Score one chunk; return its output text and the records the model refused.

    When the whole batch fails, the images are scored one by one so that a
    single bad image costs only its own row; when every one fails, the whole
    chunk goes to the errors file (the other chunks and inputs are still
    scored). BLAS runs one thread: how many threads (and so processes) there
    are changes the rounding of the float32 kernel products, and the output
    must not depend on how it was computed.
    """
    if not len(ids):
        return "", []
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            return formatter.rows(ids, model.predict_proba(images)), []
        except MemoryError:
            raise
        except Exception:  # noqa: BLE001 - isolate the bad images
            pass
        kept, probas, errors = [], [], []
        for index, record_id in enumerate(ids):
            try:
                probas.append(model.predict_proba(images[index : index + 1]))
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001
                errors.append((record_id, f"the model refused the image ({exc})"))
            else:
                kept.append(record_id)
    if not kept:
        return "", errors
    return formatter.rows(kept, np.concatenate(probas)), errors


def _check_top_k(top_k, n_classes):
    """top_k (an int >= 1, see score_files' constraints) within the classes."""
    if top_k > n_classes:
        raise ValueError(
            f"top_k must be between 1 and the model's {n_classes} classes; got {top_k}."
        )


def _check_model(model):
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        raise TypeError(
            "model must be a fitted classifier with predict_proba and classes_, or "
            f"the path of a saved one; got {type(model).__name__}."
        )
    return model


@dataclass
class _ModelRef:
    """The model as the calling process knows it.

    ``model`` is None when the workers load the saved model (``path``)
    themselves; ``labels`` and ``tasks`` are always the fitted model's;
    ``token`` identifies the model (the SHA-256 of a saved model's file) in
    the resume manifest and the workers' cache.
    """

    model: object
    path: str
    token: str
    labels: list
    tasks: list


def _open_model(model, trusted):
    """A _ModelRef holding the model (loaded, with its checks, if a path)."""
    from mtclassic.persistence import class_tasks, open_model_file

    if not isinstance(model, (str, os.PathLike)):
        _check_model(model)
        labels = [str(label) for label in model.classes_]
        tasks = class_tasks(model) or [""] * len(labels)
        return _ModelRef(model, None, joblib.hash(model), labels, tasks)
    path = os.fspath(model)
    # Labels and tasks come from the fitted model, never from its record.
    model, token = open_model_file(path, trusted=trusted)
    _check_model(model)
    labels = [str(label) for label in model.classes_]
    tasks = class_tasks(model) or [""] * len(labels)
    return _ModelRef(model, path, token, labels, tasks)


def _default_errors_path(out):
    root, ext = os.path.splitext(out)
    return f"{root}.errors{ext}"


class OutputLockedError(OSError):
    """Another scoring run holds the lock of the same output file."""


class _OutputLock:
    """An exclusive lock on ``out`` for a whole run: the file ``<out>.lock``.

    The lock file holds the holder's pid, host and start time, and the holder
    keeps an ``flock`` on it while it runs. The file is created whole (written
    under another name, then hard-linked into place, which fails if a lock
    exists), so a second run sees either no lock or a complete one. The kernel
    drops the ``flock`` when its process dies, even by ``kill -9``: a lock file
    whose ``flock`` can be taken is stale, left by a killed run, and is taken
    over (with a warning), so that ``resume`` continues that run's work.
    """

    def __init__(self, out):
        self.path = out + _LOCK_SUFFIX
        self._fd = None

    def __enter__(self):
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        folder, name = os.path.split(os.path.abspath(self.path))
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
        with _naming(self.path):  # the first write beside out: name the lock
            fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: free
            os.write(fd, json.dumps(record).encode("utf-8"))
            self._install(temp)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.remove(temp)
            raise
        self._fd = fd
        return self

    def _install(self, temp):
        """Put the lock file ``temp`` in place, or raise when a live run holds it."""
        while True:
            try:
                os.link(temp, self.path)
            except FileExistsError:
                stale = self._open_stale()
                if stale is None:
                    continue  # the lock changed while we looked: look again
                fd, holder = stale
                try:
                    os.replace(temp, self.path)  # still under the dead run's flock
                finally:
                    os.close(fd)
                warnings.warn(
                    f"took over the stale lock {self.path} of a scoring run that "
                    f"ended without releasing it ({_holder_text(holder)}).",
                    UserWarning,
                    stacklevel=4,
                )
                return
            os.remove(temp)
            return

    def _open_stale(self):
        """The dead holder's (fd, record); None when the lock file changed."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        holder = _read_lock_record(fd)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif _pid_alive(holder):
                raise BlockingIOError
            current = os.stat(self.path)
        except BlockingIOError:
            os.close(fd)
            raise OutputLockedError(
                f"{self.path[: -len(_LOCK_SUFFIX)]} is being written by another "
                f"scoring run ({_holder_text(holder)}; lock file {self.path}); wait "
                "for it to end, or choose another output."
            ) from None
        except FileNotFoundError:
            current = None
        if current is None or current.st_ino != os.fstat(fd).st_ino:
            os.close(fd)  # replaced or removed after we opened it
            return None
        return fd, holder

    def __exit__(self, *exc_info):
        fd, self._fd = self._fd, None
        try:
            if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                os.remove(self.path)
        except FileNotFoundError:
            pass
        finally:
            os.close(fd)


def _read_lock_record(fd):
    try:
        record = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _holder_text(holder):
    return (
        f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, "
        f"since {holder.get('since', '?')}"
    )


def _pid_alive(holder):
    """Without flock: the holder is alive if its pid runs here (or is elsewhere)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", 0)), 0)
    except (OSError, ValueError):
        return False
    return True


def _check_output_paths(out, errors_path):
    """Refuse unusable output paths before anything is read or scored."""
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"the folder of out={out!r} does not exist.")
    if os.path.abspath(errors_path) == os.path.abspath(out):
        raise ValueError(f"errors_path must differ from out; both are {out!r}.")
    for name, path in (("out", out), ("errors_path", errors_path)):
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"{name}={path!r} is a directory; expected the path of a file to write."
            )


def _part_path(work, index, kind):
    return os.path.join(work, f"{index:08d}.{kind}")


@contextlib.contextmanager
def _naming(path):
    """Give an OSError without a file name (a failed write) the file's ``path``.

    ``write`` on a full disk raises ``OSError(ENOSPC)`` naming no file, and
    atomic writers write to temporary names: the message names the file meant.
    """
    try:
        yield
    except OSError as exc:
        named = exc.filename is not None and not _is_temporary(exc.filename)
        if exc.errno is None or named:
            raise
        raise OSError(exc.errno, exc.strerror, path) from exc


def _is_temporary(filename):
    return os.path.basename(os.fspath(filename)).startswith(".")


def _write_part(path, text):
    with _naming(path), atomic_writer(path) as file:
        file.write(text.encode("utf-8"))
        file.flush()
        os.fsync(file.fileno())


def _prepare_work_folder(work, manifest, resume):
    """Create or reuse the work folder; return the chunk indices already done."""
    manifest_path = os.path.join(work, _MANIFEST)
    if os.path.isdir(work):
        try:
            with open(manifest_path, encoding="utf-8") as file:
                previous = json.load(file)
        except (OSError, ValueError):
            previous = None
        if previous is None and os.listdir(work):
            raise ValueError(
                f"{work} exists and is not a scoring work folder (no readable "
                f"{_MANIFEST}); move it away or choose another output name."
            )
        if resume and previous is not None:
            _check_resumable(work, previous, manifest)
            for name in os.listdir(work):
                if name.endswith(".tmp"):  # a part whose writer was killed
                    os.remove(os.path.join(work, name))
            return {
                int(name.split(".")[0])
                for name in os.listdir(work)
                if name.endswith(".rows")
            }
        _remove_work_folder(work)
    os.makedirs(work)
    _write_part(manifest_path, json.dumps(manifest, indent=1))
    return set()


def _check_resumable(work, previous, manifest):
    """Refuse to resume a run of other inputs, content, model or settings."""
    before, now = previous.get("inputs"), manifest["inputs"]
    if isinstance(before, list) and len(before) == len(now) and before != now:
        edited = [
            new["name"]
            for old, new in zip(before, now, strict=True)
            if old != new and old.get("name") == new["name"]
        ]
        if edited and [o.get("name") for o in before] == [n["name"] for n in now]:
            raise ValueError(
                f"cannot resume from {work}: input {', '.join(map(repr, edited))} "
                "changed since the interrupted run (other content hash). Run "
                "without resume to start over."
            )
    changed = [key for key in manifest if previous.get(key) != manifest[key]]
    if changed:
        raise ValueError(
            f"cannot resume from {work}: the interrupted run had other "
            f"{', '.join(changed)}. Run without resume to start over."
        )


def _content_hash(source):
    """BLAKE2b of the bytes of an input's file(s), read as a stream.

    Size and mtime are not enough to resume safely: ``cp -p`` or ``touch -r``
    keep them across an edit.
    """
    digest = hashlib.blake2b(digest_size=20)
    for path in getattr(source, "paths", None) or [source.name]:
        digest.update(os.fsencode(path) + b"\0")
        try:
            with open(path, "rb") as file:
                for block in iter(lambda file=file: file.read(1 << 20), b""):
                    digest.update(block)
        except OSError as exc:  # an unreadable input: its error is its content
            digest.update(f"{type(exc).__name__}: {exc.strerror}".encode())
    return digest.hexdigest()


def _concatenate(path, header, part_paths):
    with _naming(path), atomic_writer(path) as out:
        out.write(header.encode("utf-8"))
        for part in part_paths:
            with open(part, "rb") as file:
                shutil.copyfileobj(file, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _progress_bar(progress, total, initial, started):
    """A tqdm bar whose rate is the summary's: since ``started``, averaged.

    The bar's clock starts when the call started (model loading and planning
    included) and its rate is the average over the run, not a recent window,
    so the last rate it shows is the summary line's images per second.
    """
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, unit="img", unit_scale=True,
               smoothing=0, desc="scoring")  # fmt: skip
    bar.start_t -= time.perf_counter() - started
    return bar


def _chunk_tasks(sources, plan, todo):
    """Read the chunks still to score, in plan order, one at a time.

    A chunk that cannot be read at all becomes error rows, one per record,
    naming the input and the reason: the rest of the batch is still read.
    """
    for index in todo:
        source_index, start, stop = plan[index]
        source = sources[source_index]
        try:
            chunk = source.read(start, stop)
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad input, not the batch
            source.close()
            reason = f"unreadable input {source.name} ({type(exc).__name__}: {exc})"
            chunk = Chunk(
                [], None, [(i, reason) for i in _record_ids(source, start, stop)]
            )
        yield index, stop - start, chunk


def _record_ids(source, start, stop):
    """The ids of records ``start`` to ``stop``, as the readers name them."""
    paths = getattr(source, "paths", None)
    if paths is not None:
        return list(paths[start:stop])
    return [f"{source.name}:{index}" for index in range(start, stop)]


class _SharedModel:
    """The model, sent to each worker process once per run, not with every chunk.

    Pickled, a handle is only a path and the model's token: a saved model
    file (checked against its record, and against the token), or a copy of an
    in-memory model in the work folder. A worker loads the model the first time
    it sees the token and keeps it for the following chunks. Pickling a large
    model (a forest of full-depth trees is hundreds of MB) with every chunk
    would cost more than scoring the chunk.
    """

    def __init__(self, path, token, *, saved, trusted=None, model=None):
        self.path, self.token, self.saved, self.trusted = path, token, saved, trusted
        self.model = model

    def __reduce__(self):
        # Never the model itself: the worker loads it (once) from the path.
        return _SharedModel._unpickle, (self.path, self.token, self.saved, self.trusted)

    @staticmethod
    def _unpickle(path, token, saved, trusted):
        return _SharedModel(path, token, saved=saved, trusted=trusted)

    def get(self):
        if self.model is None:
            self.model = _worker_model(self)
        return self.model


_WORKER_MODELS = {}  # token -> model, in each worker process
_WORKER_LOCK = threading.Lock()  # thread-based backends share the cache


def _worker_model(handle):
    from mtclassic.persistence import (
        ModelVersionWarning,
        UntrustedFileWarning,
        open_model_file,
    )

    with _WORKER_LOCK:
        model = _WORKER_MODELS.get(handle.token)
        if model is None:
            _WORKER_MODELS.clear()  # one model at a time per worker
            if handle.saved:
                with warnings.catch_warnings():  # the calling process warned
                    warnings.simplefilter("ignore", ModelVersionWarning)
                    warnings.simplefilter("ignore", UntrustedFileWarning)
                    model, token = open_model_file(handle.path, trusted=handle.trusted)
                if token != handle.token:
                    raise ValueError(
                        f"{handle.path} was replaced during the scoring run; "
                        "run the command again (with resume to keep the work "
                        "done)."
                    )
            else:
                model = joblib.load(handle.path)
            _WORKER_MODELS[handle.token] = model
            _release_freed_memory()
        return model


def _release_freed_memory():
    """Hand the heap's free pages back to the OS (glibc only; elsewhere a no-op).

    Loading a model reads the whole file and decompresses it; glibc keeps those
    freed buffers in the process, about 100 MB for the default model, in every
    worker for the whole run. ``malloc_trim`` returns them.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


# A worker process is started per this many images to score, at most. A worker
# costs ~1.0 CPU-second to start (importing scikit-learn and mtclassic, then
# loading the default model), and with workers the calling process still loads
# the model for its labels: 20,000 images took 5.9-6.5 CPU-s with two workers
# against 3.3 with one job (measured), the cost of scoring ~25,000 images
# (~10,000 per CPU-second). With fewer images per worker, `--n-jobs 2` was
# slower than one job. The environment variable MTCLASSIC_MIN_IMAGES_PER_WORKER
# overrides it (a slower model repays a worker sooner).
MIN_IMAGES_PER_WORKER = 32768
# Memory of one scoring worker, measured with the default model (6,000 training
# images): Python, numpy, scikit-learn and mtclassic ~105 MB; the model loaded
# ~110 MB from a 10.7 MB compressed file (joblib compress=3; the payload of an
# uncompressed copy is about its size in memory); predict_proba ~30 KB per image.
_WORKER_BASE_BYTES = 128 * 2**20
_COMPRESSED_MODEL_RATIO = 10
_BYTES_PER_IMAGE = 32 * 2**10


def _available_memory():
    """Bytes this process may still use: the lower of RAM and its cgroup's limit."""
    found = []
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    with contextlib.suppress(OSError, ValueError):
        with open("/sys/fs/cgroup/memory.max", encoding="ascii") as file:
            limit = file.read().strip()
        with open("/sys/fs/cgroup/memory.current", encoding="ascii") as file:
            used = int(file.read())
        if limit != "max":
            found.append(int(limit) - used)
    return min(found) if found else None


def _worker_count(n_jobs, n_chunks, n_images, chunk_size, model_bytes):
    """How many workers to start, and why fewer than asked (or None).

    Never more than the chunks to score (a worker without a chunk only costs
    its start and its copy of the model), than one per
    ``MIN_IMAGES_PER_WORKER`` images to score (a smaller share does not repay
    the worker's start), nor than the available memory holds at the estimate
    above.
    """
    asked = joblib.effective_n_jobs(n_jobs)
    n_workers, reasons = asked, []
    if n_workers > n_chunks:
        n_workers = max(1, n_chunks)
        reasons.append(f"there are {n_chunks} chunks to score")
    min_images = int(
        os.environ.get("MTCLASSIC_MIN_IMAGES_PER_WORKER", MIN_IMAGES_PER_WORKER)
    )
    if n_workers > 1 and n_workers * min_images > n_images:
        n_workers = max(1, n_images // max(1, min_images))
        reasons.append(
            f"{n_images} images to score are too few for more (one worker per "
            f"{min_images} images repays its start)"
        )
    per_worker = _WORKER_BASE_BYTES + model_bytes + chunk_size * _BYTES_PER_IMAGE
    available = _available_memory()
    if n_workers > 1 and available is not None and n_workers * per_worker > available:
        n_workers = max(1, available // per_worker)
        reasons.append(
            f"{available / 2**20:.0f} MB of memory are available and each worker "
            f"needs about {per_worker / 2**20:.0f} MB"
        )
    if n_workers == asked:
        return n_workers, None
    return n_workers, (
        f"n_jobs={asked} lowered to {n_workers}: " + " and ".join(reasons) + "."
    )


def _exit_with_parent(parent_pid):
    """Worker initializer: end this worker process when the scoring process dies.

    A killed scorer (``kill -9``) cannot stop its workers, and loky's workers
    would wait for work for minutes, each holding a model. A daemon thread
    polls the parent pid; once the worker is re-parented, it exits at once.
    """

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.25)
        os._exit(1)

    threading.Thread(target=watch, name="mtclassic-parent-watch", daemon=True).start()


def _worker_options():
    """Backend options that make process workers exit with this process."""
    from joblib._parallel_backends import LokyBackend, MultiprocessingBackend
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if isinstance(backend, (LokyBackend, MultiprocessingBackend)):
        return {"initializer": _exit_with_parent, "initargs": (os.getpid(),)}
    return {}


def _joblib_workers(ref, n_jobs, n_chunks, n_images, chunk_size, work, trusted):
    """The number of workers (capped, with a warning) and the model to send them.

    With worker processes, a saved model is dropped from this process (each
    worker loads its own copy: one fewer in memory), and an in-memory model is
    copied into the work folder for them.
    """
    if ref.path is not None:
        model_bytes = os.path.getsize(ref.path) * _COMPRESSED_MODEL_RATIO
    elif _worker_count(n_jobs, n_chunks, n_images, chunk_size, 0)[0] > 1:
        path = os.path.join(work, "model.joblib")
        joblib.dump(ref.model, path)  # uncompressed: fast to load, its size in memory
        model_bytes = os.path.getsize(path)
    else:
        model_bytes = 0
    n_workers, why = _worker_count(n_jobs, n_chunks, n_images, chunk_size,
                                   model_bytes)  # fmt: skip
    if why is not None:
        warnings.warn(why, UserWarning, stacklevel=3)
    if n_workers <= 1:  # scored in this process
        return n_workers, ref.model
    if ref.path is not None:
        ref.model = None
        _release_freed_memory()
        return n_workers, _SharedModel(ref.path, ref.token, saved=True, trusted=trusted)
    return n_workers, _SharedModel(path, ref.token, saved=False, model=ref.model)


def _run_joblib(shared, tasks, formatter, n_workers):
    options = _worker_options() if n_workers > 1 else {}
    parallel = joblib.Parallel(
        n_jobs=n_workers,
        return_as="generator_unordered",
        pre_dispatch="2*n_jobs",
        **options,
    )
    yield from parallel(joblib.delayed(_score_indexed)(shared, formatter, *task)
                        for task in tasks)  # fmt: skip


def _score_indexed(model, formatter, index, n_records, chunk):
    if isinstance(model, _SharedModel):
        model = model.get()
    text, refused = _score_chunk(model, chunk.images, chunk.ids, formatter)
    return index, n_records, chunk.errors + refused, text, len(refused)


def _run_dask(model, tasks, formatter, client):
    from distributed import as_completed

    [model_future] = client.scatter([model], broadcast=True, hash=False)
    window = 2 * max(1, sum(client.nthreads().values()))
    submitted, pending = [], as_completed()
    try:
        for task in tasks:
            future = client.submit(
                _score_indexed, model_future, formatter, *task, pure=False
            )
            submitted.append(future)
            pending.add(future)
            if pending.count() >= window:
                yield next(pending).result()
        for future in pending:
            yield future.result()
    finally:
        # On an error (or an interrupt) leave no work behind on the cluster.
        client.cancel([*submitted, model_future])


@validate_params(
    {
        "format": [StrOptions(set(_FORMATS))],
        "top_k": [NumberInterval(numbers.Integral, 1, None, closed="left")],
        "chunk_size": [NumberInterval(numbers.Integral, 1, None, closed="left")],
        "task_prior": [StrOptions({"fixed", "batch", "auto"})],
    },
    # the model's own methods check their parameters as they would alone
    prefer_skip_nested_validation=False,
)
def score_files(
    model,
    inputs,
    out,
    *,
    format="csv",
    top_k=1,
    chunk_size=DEFAULT_CHUNK_SIZE,
    n_jobs=None,
    resume=False,
    errors_path=None,
    progress=None,
    client=None,
    trusted=None,
    transpose=False,
    task_prior="fixed",
):
    """Score image files with a fitted classifier and write one row per image.

    Parameters
    ----------
    model : classifier or str or path-like
        A fitted classifier with ``predict_proba`` and ``classes_`` (such as the
        pipeline of :func:`~mtclassic.make_default_model`) that takes a batch
        of images, or the path of a model file (joblib, pickle or skops, with
        or without a metadata record; loaded by :func:`~mtclassic.load_model`
        with its checks). A pickle runs code when loaded: name only files
        you trust.
    inputs : str, path-like or list of them
        IDX files (gzip or raw), ``.npy``/``.npz`` files (an ``.npz`` with
        several arrays must name one ``images``), image files, folders of image
        files (recursive) and glob patterns. Read chunk by chunk.
    out : str or path-like
        The output file, written to a temporary file and renamed into place.
    format : {"csv", "jsonl"}, default="csv"
        CSV columns ``id,label,task,probability`` then ``label_k,probability_k``
        for ranks 2 to ``top_k``; JSON lines hold the same, with the ranks in a
        ``top_k`` list. ``id`` is the image file's path, or ``<file>:<index>``
        for records of IDX and numpy files; ``task`` is empty when the model
        has no tasks.
    top_k : int, default=1
        How many of the most probable labels to write per image.
    chunk_size : int, default=2048
        Images read and scored at a time; memory grows with it.
    n_jobs : int, default=None
        Parallel joblib workers scoring chunks (None: 1 unless in a
        ``joblib.parallel_config`` context; -1: all cores). Lowered, with a
        warning, to the number of chunks to score and to what the available
        memory holds; the summary gives the number used.
    resume : bool, default=False
        Continue an interrupted run of the same call from its work folder
        ``<out>.parts``. Without it, a leftover work folder is discarded.
    errors_path : str or path-like, default=None
        Where to list the unreadable images (``id,reason``); always written.
        None: beside ``out``, e.g. ``scores.errors.csv`` for ``scores.csv``.
    progress : bool, default=None
        Show a tqdm progress bar with images/s, averaged since the call began
        (the summary's rate). None: only when standard error is a terminal.
    client : distributed.Client, default=None
        Score the chunks on this Dask cluster instead of joblib workers.
    trusted : list of str, default=None
        Passed to :func:`~mtclassic.load_model` when ``model`` is a path.
    transpose : bool, default=False
        Read every image with its rows and columns swapped (EMNIST's IDX files
        store them transposed); see :func:`mtclassic.io.open_inputs`.
    task_prior : {"fixed", "batch", "auto"}, default="fixed"
        The task mix a multi-task vote scores under. ``"fixed"``: the model's
        own (its ``predict``). ``"batch"``: the mix estimated, without labels,
        on up to 10,000 images spread over the inputs
        (:func:`mtclassic.io.sample_images`, :func:`mtclassic.prior.adapt_task_prior`),
        for inputs from one source; every chunk is then scored under it, so the
        output is the same for any ``chunk_size``, ``n_jobs`` or ``resume``.
        A model passed as an object is not changed. ``"auto"``: ``"batch"``
        for a multi-task vote, ``"fixed"`` for any other model (the command
        line's default).

    Returns
    -------
    summary : ScoringSummary

    Raises
    ------
    FileNotFoundError
        When an input does not exist or a pattern matches nothing.
    IsADirectoryError
        When ``out`` or ``errors_path`` is a directory (before any scoring).
    OutputLockedError
        When another live run holds the lock of ``out``.
    ValueError
        For a bad option, ``resume`` with other inputs, input content, model or
        options than the interrupted run, or a model that refused every image.
    OSError
        When ``out`` cannot be written (read-only, full disk): the finished
        chunks stay in the work folder for ``resume``.

    See Also
    --------
    predict_dask : Score a ``dask.array`` lazily.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> images = np.zeros((3, 8, 8), dtype=np.uint8)
    >>> model = DummyClassifier().fit(images, ["a", "b", "b"])  # P(b) = 2/3
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     np.save(os.path.join(tmp, "x.npy"), images)
    ...     summary = score_files(model, os.path.join(tmp, "x.npy"),
    ...                           os.path.join(tmp, "out.csv"), top_k=2)
    ...     print(open(os.path.join(tmp, "out.csv")).read().replace(tmp, "."))
    id,label,task,probability,label_2,probability_2
    ./x.npy:0,b,,0.666667,a,0.333333
    ./x.npy:1,b,,0.666667,a,0.333333
    ./x.npy:2,b,,0.666667,a,0.333333
    """
    started = time.perf_counter()
    out = os.fspath(out)
    errors_path = (
        _default_errors_path(out) if errors_path is None else os.fspath(errors_path)
    )
    _check_output_paths(out, errors_path)
    with _OutputLock(out):
        _remove_stale_temporaries([out, errors_path])
        # Loaded here for its labels; dropped once worker processes are known
        # to load their own copies (see _joblib_workers).
        ref = _open_model(model, trusted)
        ref, task_mix = _under_task_prior(ref, task_prior, inputs, transpose)
        _check_top_k(top_k, len(ref.labels))
        formatter = _RowFormatter(format, ref.labels, ref.tasks, top_k)
        work = out + _WORK_SUFFIX
        with closing_all(open_inputs(inputs, transpose=transpose)) as sources:
            plan = [
                (source_index, start, min(start + chunk_size, source.n_records))
                for source_index, source in enumerate(sources)
                for start in range(0, source.n_records, chunk_size)
            ]
            manifest = _manifest(sources, chunk_size, format, top_k, ref.token)
            manifest["n_jobs"] = "dask" if client else joblib.effective_n_jobs(n_jobs)
            done = _prepare_work_folder(work, manifest, resume)
            todo = [index for index in range(len(plan)) if index not in done]
            n_records = sum(source.n_records for source in sources)
            n_done = sum(plan[i][2] - plan[i][1] for i in done)
            tasks = _chunk_tasks(sources, plan, todo)
            if client is not None:
                n_workers = sum(client.nthreads().values())
                results = _run_dask(ref.model, tasks, formatter, client)
            else:
                n_workers, shared = _joblib_workers(
                    ref,
                    n_jobs,
                    len(todo),
                    n_records - n_done,
                    chunk_size,
                    work,
                    trusted,
                )
                results = _run_joblib(shared, tasks, formatter, n_workers)
            with _progress_bar(progress, n_records, n_done, started) as bar:
                n_refused, first_refusal = _write_parts(results, work, formatter, bar)
                n_errors = _finish(work, out, errors_path, formatter, len(plan))
                seconds = time.perf_counter() - started
    if n_refused and n_errors == n_records:
        record_id, reason = first_refusal
        raise ValueError(
            f"the model refused every image (the first, {record_id}: {reason}); "
            f"is it the model for these inputs? Every record is listed in "
            f"{errors_path}."
        )
    return ScoringSummary(
        out=out,
        errors_path=errors_path,
        n_records=n_records,
        n_scored=n_records - n_errors,
        n_errors=n_errors,
        n_chunks=len(plan),
        n_chunks_resumed=len(done),
        seconds=seconds,
        images_per_second=(n_records - n_done) / seconds if seconds else 0.0,
        n_workers=n_workers,
        task_mix=task_mix,
    )


def _under_task_prior(ref, task_prior, inputs, transpose):
    """``ref`` scoring under the task mix of a sample of ``inputs`` ("batch"),
    and that mix by task; ``ref`` itself and None for "fixed"."""
    from mtclassic.metrics import fitted_tasks
    from mtclassic.prior import adapt_task_prior

    tasks = fitted_tasks(ref.model)  # None for a model without a vote
    if task_prior == "fixed" or (task_prior == "auto" and tasks is None):
        return ref, None
    # a copy: the caller's model keeps its own prior
    model = copy.deepcopy(ref.model) if ref.path is None else ref.model
    sample = sample_images(inputs, _TASK_MIX_SAMPLE, transpose=transpose)
    mix = adapt_task_prior(model, sample)
    # the workers get this model, not the file; resume checks the mix too
    token = joblib.hash((ref.token, mix.tolist()))
    scored = _ModelRef(model, None, token, ref.labels, ref.tasks)
    return scored, dict(zip(tasks, mix.tolist(), strict=True))


def _manifest(sources, chunk_size, format, top_k, model_token):
    """What a resumed run must share with the run it continues."""
    return {
        "manifest_version": _MANIFEST_VERSION,
        "inputs": [
            {**source.describe(), "blake2b": _content_hash(source)}
            for source in sources
        ],
        "chunk_size": int(chunk_size),
        "format": format,
        "top_k": int(top_k),
        "model": model_token,
    }


def _write_parts(results, work, formatter, bar):
    """Each scored chunk's rows and errors into the work folder, as they come.

    Returns the number of records the model refused and the first of them.
    """
    n_refused, first_refusal = 0, None
    for index, n_chunk, errors, text, refused in results:
        if errors:
            _write_part(_part_path(work, index, "errors"), formatter.errors(errors))
        _write_part(_part_path(work, index, "rows"), text)
        if refused and first_refusal is None:
            first_refusal = errors[-refused]
        n_refused += refused
        if bar is not None:
            bar.update(n_chunk)
    return n_refused, first_refusal


def _finish(work, out, errors_path, formatter, n_chunks):
    """Concatenate the parts into ``out`` and the errors file; return the errors."""
    indices = range(n_chunks)
    _concatenate(out, formatter.header(),
                 [_part_path(work, i, "rows") for i in indices])  # fmt: skip
    error_parts = [
        path
        for path in (_part_path(work, i, "errors") for i in indices)
        if os.path.exists(path)
    ]
    _concatenate(errors_path, formatter.errors_header(), error_parts)
    n_errors = sum(_count_lines(path) for path in error_parts)
    _remove_work_folder(work)
    return n_errors


def _remove_work_folder(work):
    """Remove the work folder so that a kill at any moment leaves one to resume.

    The rows parts go first (a chunk that lost its rows part is scored again,
    its errors part rewritten), the manifest last: a folder without its
    manifest is not taken for a work folder, and a rows part whose errors part
    had gone would lose the chunk's error rows.
    """
    names = sorted(os.listdir(work),
                   key=lambda name: (name == _MANIFEST, not name.endswith(".rows")))  # fmt: skip
    for name in names:
        path = os.path.join(work, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    os.rmdir(work)


def _remove_stale_temporaries(paths):
    """Remove the temporary files a killed run left beside ``paths``.

    Only the holder of the lock writes the output and errors files, so their
    temporary files (``.<name>.<8 hex digits>.tmp``, see ``atomic_writer``) of
    an earlier run are litter: a run killed while it concatenated left a
    hidden, half-written copy of the output.
    """
    for path in paths:
        folder, name = os.path.split(os.path.abspath(path))
        pattern = re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{8}}\.tmp")
        for entry in os.listdir(folder):
            if pattern.fullmatch(entry):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(folder, entry))


def _count_lines(path):
    with open(path, "rb") as file:
        return sum(
            block.count(b"\n") for block in iter(lambda: file.read(1 << 20), b"")
        )


def _predict_block(block, model, method):
    return getattr(model, method)(block)


def predict_dask(model, X, *, method="predict"):
    """Score a ``dask.array`` of images lazily, block by block.

    Like dask-ml's ``ParallelPostFit``: the model enters the task graph once
    (as one delayed object, shipped to each worker once) and each block of
    images is scored by a task of its own, when the result is computed.

    Parameters
    ----------
    model : classifier
        A fitted classifier that takes a batch of images.
    X : dask.array.Array of shape (n_samples, height, width) or (n_samples, n_pixels)
        The images, chunked along the first axis (other axes are merged into
        whole images first).
    method : {"predict", "predict_proba"}, default="predict"
        The model method to call on each block.

    Returns
    -------
    y : dask.array.Array
        ``(n_samples,)`` labels, or ``(n_samples, n_classes)`` probabilities,
        chunked as ``X`` along the first axis. Nothing is computed yet.

    Examples
    --------
    >>> import dask.array as da
    >>> import numpy as np
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit(np.zeros((2, 4)), ["a", "b"])
    >>> X = da.zeros((10, 4), chunks=5)
    >>> labels = predict_dask(model, X)
    >>> labels.numblocks, labels.compute().shape
    ((2,), (10,))
    """
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise ImportError(
            "predict_dask needs the optional packages dask and distributed; "
            "install them with `pip install mtclassic[dask]`."
        ) from None
    if not isinstance(X, da.Array):
        raise TypeError(f"X must be a dask.array.Array; got {type(X).__name__}.")
    if X.ndim not in (2, 3):
        raise ValueError(
            "X must hold images (n_samples, height, width) or flat rows "
            f"(n_samples, n_pixels); got {X.ndim} dimensions, shape {X.shape}."
        )
    if method not in ("predict", "predict_proba"):
        raise ValueError(
            f"method must be 'predict' or 'predict_proba'; got {method!r}."
        )
    model = _check_model(model)
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    delayed_model = dask.delayed(model, pure=True)
    image_axes = list(range(1, X.ndim))
    if method == "predict":
        return X.map_blocks(_predict_block, delayed_model, method,
                            drop_axis=image_axes, dtype=model.classes_.dtype,
                            meta=np.array([], dtype=model.classes_.dtype))  # fmt: skip
    n_classes = len(model.classes_)
    return X.map_blocks(
        _predict_block,
        delayed_model,
        method,
        drop_axis=image_axes[1:],
        chunks=(X.chunks[0], (n_classes,)),
        dtype=np.float64,
        meta=np.empty((0, 0), dtype=np.float64),
    )
