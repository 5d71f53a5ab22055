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

- ``manifest.json``: the inputs (name, record count, size and mtime), the
  model's hash and the output options; a resumed run must match it;
- one part file per finished chunk, ``<i>.rows`` (its output rows, in the final
  format), preceded by ``<i>.errors`` when some of its records were unreadable.

Each part is written to a temporary file, flushed to disk and renamed, the rows
part last, so a part either exists whole or not at all, and ``<i>.rows``
existing means chunk ``i`` is done. A killed run (even ``kill -9``) leaves only
whole parts; ``resume=True`` keeps them and scores the missing chunks. When every
chunk is done the parts are concatenated in chunk order into a temporary file
renamed onto ``out`` (and the same for the errors file), then the work folder is
removed. So ``out`` never holds a half-written result, and the final output has
every input record exactly once (scored, or in the errors file), byte for byte
the output of an uninterrupted run.

Parallelism
-----------
The calling process reads the chunks and writes the parts; the scoring runs in
``n_jobs`` joblib worker processes (at most ``2 * n_jobs`` chunks in flight, so
memory stays bounded). A task carries one chunk's pixels, never the model:
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
import json
import os
import shutil
import sys
import threading
import time
import warnings
from dataclasses import dataclass

import joblib
import numpy as np

from mtclassic.io import atomic_writer, closing_all, open_inputs

DEFAULT_CHUNK_SIZE = 2048  # a worker needs ~16 KB per image in flight
_FORMATS = ("csv", "jsonl")
_WORK_SUFFIX = ".parts"
_MANIFEST = "manifest.json"
_MANIFEST_VERSION = 1


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
        Records handled by this call (not by the interrupted run) per second.
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
    single bad image costs only its own row; if every one fails the model is
    the problem, and the first error propagates.
    """
    if not len(ids):
        return "", []
    try:
        return formatter.rows(ids, model.predict_proba(images)), []
    except MemoryError:
        raise
    except Exception as batch_error:  # noqa: BLE001 - isolate the bad images
        kept, probas, errors = [], [], []
        for index, record_id in enumerate(ids):
            try:
                probas.append(model.predict_proba(images[index : index + 1]))
            except Exception as exc:  # noqa: BLE001
                errors.append((record_id, f"the model refused the image ({exc})"))
            else:
                kept.append(record_id)
        if not kept:
            raise batch_error
        return formatter.rows(kept, np.concatenate(probas)), errors


def _check_params(format, top_k, chunk_size, n_classes):
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {_FORMATS}; got {format!r}.")
    for name, value, high in (
        ("top_k", top_k, n_classes),
        ("chunk_size", chunk_size, None),
    ):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an int; got {type(value).__name__}.")
        if value < 1 or (high is not None and value > high):
            limit = f"between 1 and the model's {high} classes" if high else ">= 1"
            raise ValueError(f"{name} must be {limit}; got {value}.")


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


def _open_model(model, trusted, load):
    """A _ModelRef; with ``load=False`` a saved model is dropped after its labels."""
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
    if not load:  # the workers load their own copies: one fewer in this process
        model = None
        _release_freed_memory()
    return _ModelRef(model, path, token, labels, tasks)


def _default_errors_path(out):
    root, ext = os.path.splitext(out)
    return f"{root}.errors{ext}"


def _part_path(work, index, kind):
    return os.path.join(work, f"{index:08d}.{kind}")


def _write_part(path, text):
    with atomic_writer(path) as file:
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
            changed = [key for key in manifest if previous.get(key) != manifest[key]]
            if changed:
                raise ValueError(
                    f"cannot resume from {work}: the interrupted run had other "
                    f"{', '.join(changed)}. Run without resume to start over."
                )
            for name in os.listdir(work):
                if name.endswith(".tmp"):  # a part whose writer was killed
                    os.remove(os.path.join(work, name))
            return {
                int(name.split(".")[0])
                for name in os.listdir(work)
                if name.endswith(".rows")
            }
        shutil.rmtree(work)
    os.makedirs(work)
    _write_part(manifest_path, json.dumps(manifest, indent=1))
    return set()


def _concatenate(path, header, part_paths):
    with atomic_writer(path) as out:
        out.write(header.encode("utf-8"))
        for part in part_paths:
            with open(part, "rb") as file:
                shutil.copyfileobj(file, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _progress_bar(progress, total, initial):
    if progress is None:
        progress = sys.stderr.isatty()
        if progress:
            try:
                import tqdm  # noqa: F401
            except ImportError:
                progress = False
    if not progress:
        return contextlib.nullcontext(None)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "The progress bar needs the optional package tqdm; install it with "
            "`pip install mtclassic[progress]`, or pass progress=False."
        ) from None
    return tqdm(total=total, initial=initial, unit="img", unit_scale=True,
                smoothing=0.1, desc="scoring")  # fmt: skip


def _chunk_tasks(sources, plan, todo):
    """Read the chunks still to score, in plan order, one at a time."""
    for index in todo:
        source_index, start, stop = plan[index]
        chunk = sources[source_index].read(start, stop)
        yield index, stop - start, chunk


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


def _run_joblib(ref, tasks, formatter, n_jobs, work, trusted):
    if joblib.effective_n_jobs(n_jobs) <= 1:
        shared = ref.model
    elif ref.path is not None:  # the workers load the saved model themselves
        shared = _SharedModel(ref.path, ref.token, saved=True, trusted=trusted)
    else:
        path = os.path.join(work, "model.joblib")
        joblib.dump(ref.model, path)  # uncompressed: fast to load
        shared = _SharedModel(path, ref.token, saved=False, model=ref.model)
    parallel = joblib.Parallel(
        n_jobs=n_jobs, return_as="generator_unordered", pre_dispatch="2*n_jobs"
    )
    yield from parallel(joblib.delayed(_score_indexed)(shared, formatter, *task)
                        for task in tasks)  # fmt: skip


def _score_indexed(model, formatter, index, n_records, chunk):
    if isinstance(model, _SharedModel):
        model = model.get()
    text, refused = _score_chunk(model, chunk.images, chunk.ids, formatter)
    return index, n_records, chunk.errors + refused, text


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
        ``joblib.parallel_config`` context; -1: all cores).
    resume : bool, default=False
        Continue an interrupted run of the same call from its work folder
        ``<out>.parts``. Without it, a leftover work folder is discarded.
    errors_path : str or path-like, default=None
        Where to list the unreadable images (``id,reason``); always written.
        None: beside ``out``, e.g. ``scores.errors.csv`` for ``scores.csv``.
    progress : bool, default=None
        Show a tqdm progress bar with images/s (needs tqdm). None: only when
        standard error is a terminal and tqdm is installed.
    client : distributed.Client, default=None
        Score the chunks on this Dask cluster instead of joblib workers.
    trusted : list of str, default=None
        Passed to :func:`~mtclassic.load_model` when ``model`` is a path.
    transpose : bool, default=False
        Read every image with its rows and columns swapped (EMNIST's IDX files
        store them transposed); see :func:`mtclassic.io.open_inputs`.

    Returns
    -------
    summary : ScoringSummary

    Raises
    ------
    FileNotFoundError
        When an input does not exist or a pattern matches nothing.
    ValueError
        For a bad option, or ``resume`` with other inputs or options than the
        interrupted run.

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
    # With worker processes this process keeps the model's labels, not the
    # model: one copy fewer in memory.
    ref = _open_model(model, trusted,
                      load=client is not None or joblib.effective_n_jobs(n_jobs) <= 1)  # fmt: skip
    _check_params(format, top_k, chunk_size, len(ref.labels))
    out = os.fspath(out)
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"the folder of out={out!r} does not exist.")
    errors_path = (
        _default_errors_path(out) if errors_path is None else os.fspath(errors_path)
    )
    if os.path.abspath(errors_path) == os.path.abspath(out):
        raise ValueError(f"errors_path must differ from out; both are {out!r}.")
    formatter = _RowFormatter(format, ref.labels, ref.tasks, top_k)
    work = out + _WORK_SUFFIX
    with closing_all(open_inputs(inputs, transpose=transpose)) as sources:
        plan = [
            (source_index, start, min(start + chunk_size, source.n_records))
            for source_index, source in enumerate(sources)
            for start in range(0, source.n_records, chunk_size)
        ]
        manifest = {
            "manifest_version": _MANIFEST_VERSION,
            "inputs": [source.describe() for source in sources],
            "chunk_size": int(chunk_size),
            "format": format,
            "top_k": int(top_k),
            "model": ref.token,
        }
        done = _prepare_work_folder(work, manifest, resume)
        todo = [index for index in range(len(plan)) if index not in done]
        n_records = sum(source.n_records for source in sources)
        n_done = sum(plan[i][2] - plan[i][1] for i in done)
        tasks = _chunk_tasks(sources, plan, todo)
        if client is not None:
            results = _run_dask(ref.model, tasks, formatter, client)
        else:
            results = _run_joblib(ref, tasks, formatter, n_jobs, work, trusted)
        with _progress_bar(progress, n_records, n_done) as bar:
            for index, n_chunk, errors, text in results:
                if errors:
                    _write_part(_part_path(work, index, "errors"),
                                formatter.errors(errors))  # fmt: skip
                _write_part(_part_path(work, index, "rows"), text)
                if bar is not None:
                    bar.update(n_chunk)
    indices = range(len(plan))
    _concatenate(out, formatter.header(),
                 [_part_path(work, i, "rows") for i in indices])  # fmt: skip
    error_parts = [
        path
        for path in (_part_path(work, i, "errors") for i in indices)
        if os.path.exists(path)
    ]
    _concatenate(errors_path, formatter.errors_header(), error_parts)
    n_errors = sum(_count_lines(path) for path in error_parts)
    shutil.rmtree(work)
    seconds = time.perf_counter() - started
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
    )


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
