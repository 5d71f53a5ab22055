"""Save and load fitted models, with a metadata record that is checked on load.

A model file is two files side by side:

- the payload, ``model.joblib`` (compressed joblib, the default) or ``model.skops``
  (the ``skops`` format, for files from sources you do not fully trust);
- its metadata record, ``model.joblib.meta.json``: the versions of mtclassic,
  scikit-learn, numpy, scikit-image and Python that wrote it, the model's classes
  and tasks, and the payload's size and SHA-256.

Both are written to temporary files and renamed into place, payload first and
record last, so a crash leaves either the old pair, or a new payload whose hash
does not match the old record (refused on load), never a half-written file.

:func:`load_model` checks the payload's hash before it parses a single byte, so a
changed or truncated file is a clear ``ValueError`` rather than an unpickling
crash, and warns with :class:`ModelVersionWarning` when the versions differ from
the running ones. A joblib payload stays a plain joblib file:
``joblib.load("model.joblib")`` works as users expect, without the checks.

Only load joblib files you trust: unpickling can run arbitrary code. A skops file
is loaded only if every type in it is one skops trusts by default, or a class of
mtclassic, scikit-learn, numpy or scipy (the allow-list), or a type you name in
``trusted``; anything else is refused with a message that names it.
"""

import datetime
import hashlib
import importlib
import io
import json
import os
import platform
import warnings

import joblib

from mtclassic.datasets._base import atomic_writer

_FORMATS = ("joblib", "skops")
_METADATA_SUFFIX = ".meta.json"
_METADATA_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"  # skops files are zip archives; joblib files never are
_HASH_BLOCK = 1 << 20
# Libraries whose versions are recorded and compared on load (distribution name).
_LIBRARIES = ("mtclassic", "scikit-learn", "numpy", "scikit-image")
# Top-level packages whose classes a skops file may hold without being named in
# ``trusted``: skops rebuilds them without calling their code, and they are the
# building blocks of mtclassic's models. Functions are never allowed this way.
_TRUSTED_PACKAGES = ("mtclassic", "sklearn", "numpy", "scipy")


class ModelVersionWarning(UserWarning):
    """A model file was written with other library versions than the running ones.

    Models usually load and predict fine across patch releases, but estimators'
    internals may change between minor releases; re-save the model with the
    running versions once you have checked its predictions.
    """


def metadata_path(path):
    """Return the path of the metadata record that belongs to a model file.

    Parameters
    ----------
    path : str or path-like
        The model file (payload).

    Returns
    -------
    meta_path : str
        ``path`` followed by ``.meta.json``.

    Examples
    --------
    >>> metadata_path("models/default.joblib")
    'models/default.joblib.meta.json'
    """
    return os.fspath(path) + _METADATA_SUFFIX


def _file_sha256(path):
    """SHA-256 and size of a file, read in blocks (not held in memory)."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as file:
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _check_payload(path, metadata, actual, size):
    if actual != metadata["sha256"]:
        raise ValueError(
            f"{path}: the model file does not match its metadata record "
            f"{metadata_path(path)}: SHA-256 {actual} ({size} bytes), "
            f"expected {metadata['sha256']} "
            f"({metadata.get('payload_bytes', '?')} bytes). The file was "
            "changed or truncated after it was saved; refusing to load it."
        )
    _warn_on_versions(metadata.get("versions", {}), path)


def _library_versions():
    from importlib import metadata

    import mtclassic

    def installed(distribution):
        # From the installed metadata: importing the libraries costs time and RAM.
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            return None

    return {
        "mtclassic": mtclassic.__version__,
        "scikit-learn": installed("scikit-learn"),
        "numpy": installed("numpy"),
        "scikit-image": installed("scikit-image"),
        "python": platform.python_version(),
    }


def _final_estimator(model):
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def class_tasks(model):
    """The task of each of a fitted classifier's ``classes_``, or None.

    A :class:`~mtclassic.multitask.MultiTaskVotingClassifier` (alone or as the
    last step of a pipeline) names its tasks in ``tasks_`` and the task of
    each class in ``class_task_``; other classifiers have no tasks.

    Parameters
    ----------
    model : classifier
        A fitted classifier.

    Returns
    -------
    tasks : list of str or None
        One task name per entry of ``model.classes_``.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> print(class_tasks(DummyClassifier().fit([[0], [1]], ["a", "b"])))
    None
    """
    final = _final_estimator(model)
    tasks = getattr(final, "tasks_", None)
    class_task = getattr(final, "class_task_", None)
    if tasks is None or class_task is None:
        return None
    return [str(tasks[index]) for index in class_task]


def _model_summary(model):
    """Classes and tasks of a fitted classifier, as JSON-ready lists (or None)."""
    classes = getattr(model, "classes_", None)
    tasks = getattr(_final_estimator(model), "tasks_", None)
    return {
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
        "classes": None if classes is None else [str(c) for c in classes],
        "tasks": None if tasks is None else [str(t) for t in tasks],
        "class_tasks": class_tasks(model),
    }


def _check_format(format, path):
    if format is None:
        return "skops" if os.fspath(path).endswith(".skops") else "joblib"
    if format not in _FORMATS:
        raise ValueError(
            f"format must be one of {_FORMATS} or None (from the file name); "
            f"got {format!r}."
        )
    return format


def _import_skops():
    try:
        import skops.io
    except ImportError:
        raise ImportError(
            "The skops format needs the optional package skops; install it with "
            "`pip install mtclassic[skops]` (or `pip install skops`), or save with "
            "format='joblib'."
        ) from None
    return skops.io


def save_model(model, path, *, format=None, compress=3):
    """Save a fitted model and its metadata record.

    Parameters
    ----------
    model : estimator
        A fitted estimator, usually the pipeline of
        :func:`~mtclassic.make_default_model`.
    path : str or path-like
        The payload file. The metadata record is written beside it, as
        ``<path>.meta.json``.
    format : {"joblib", "skops"}, default=None
        None picks ``"skops"`` for a name ending in ``.skops`` and ``"joblib"``
        otherwise. ``"skops"`` needs the optional package skops.
    compress : int from 0 to 9, default=3
        The zlib compression level of the payload (0: none).

    Returns
    -------
    metadata : dict
        The metadata record as written.

    See Also
    --------
    load_model : Load the model, checking its hash and versions.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mtclassic.persistence import load_model, save_model
    >>> model = LogisticRegression().fit([[0.0], [1.0]], ["a", "b"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "model.joblib")
    ...     meta = save_model(model, path)
    ...     sorted(os.listdir(tmp)), meta["classes"]
    ...     load_model(path).predict([[0.9]])
    (['model.joblib', 'model.joblib.meta.json'], ['a', 'b'])
    array(['b'], dtype='<U1')
    """
    format = _check_format(format, path)
    if not (isinstance(compress, int) and 0 <= compress <= 9):
        raise ValueError(f"compress must be an int from 0 to 9; got {compress!r}.")
    path = os.fspath(path)
    if format == "skops":
        sio = _import_skops()
        import zipfile

        with atomic_writer(path) as file:
            sio.dump(
                model,
                file,
                compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED,
                compresslevel=compress or None,
            )
            _flush_to_disk(file)
    else:
        with atomic_writer(path) as file:
            joblib.dump(model, file, compress=compress)
            _flush_to_disk(file)
    metadata = {
        "mtclassic_metadata_version": _METADATA_VERSION,
        "format": format,
        "payload": os.path.basename(path),
        "payload_bytes": os.path.getsize(path),
        "sha256": _file_sha256(path)[0],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "versions": _library_versions(),
        "platform": platform.platform(),
        **_model_summary(model),
    }
    with atomic_writer(metadata_path(path)) as file:
        file.write(json.dumps(metadata, indent=2).encode("utf-8") + b"\n")
        _flush_to_disk(file)
    return metadata


def _flush_to_disk(file):
    # The rename that follows must not publish data still in the OS cache only.
    file.flush()
    os.fsync(file.fileno())


def read_metadata(path):
    """Read the metadata record of a model file.

    Parameters
    ----------
    path : str or path-like
        The model file (payload), not the record itself.

    Returns
    -------
    metadata : dict

    Raises
    ------
    FileNotFoundError
        When the record is missing.
    ValueError
        When the record is not a JSON object with the payload's hash.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit([[0], [1]], [0, 1])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "m.joblib")
    ...     _ = save_model(model, path)
    ...     read_metadata(path)["format"]
    'joblib'
    """
    meta_path = metadata_path(path)
    try:
        with open(meta_path, "rb") as file:
            raw = file.read()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{meta_path}: the metadata record of the model file {os.fspath(path)} "
            "is missing, so its integrity cannot be checked. Save the model with "
            "mtclassic.save_model, or pass verify=False to load_model to load it "
            "unchecked (only if you trust the file)."
        ) from None
    try:
        metadata = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{meta_path}: not a JSON metadata record ({exc}).") from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("sha256"), str):
        raise ValueError(
            f"{meta_path}: not a metadata record of mtclassic: expected a JSON "
            "object with a 'sha256' entry."
        )
    return metadata


def check_model_file(path):
    """Check a model file against its metadata record without loading it.

    The same checks as :func:`load_model` (SHA-256, versions), reading the file
    in blocks: for a process that needs the record (classes, tasks, hash) but
    not the model itself.

    Parameters
    ----------
    path : str or path-like
        The model file (payload).

    Returns
    -------
    metadata : dict
        The metadata record.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`load_model`.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit([[0], [1]], ["a", "b"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "m.joblib")
    ...     _ = save_model(model, path)
    ...     check_model_file(path)["classes"]
    ['a', 'b']
    """
    path = os.fspath(path)
    metadata = read_metadata(path)
    _check_payload(path, metadata, *_file_sha256(path))
    return metadata


def _warn_on_versions(saved, path):
    running = _library_versions()
    differences = []
    for name in (*_LIBRARIES, "python"):
        then, now = saved.get(name), running.get(name)
        if name == "python" and then and now:
            # Pickles do not change between Python patch releases.
            then, now = ".".join(then.split(".")[:2]), ".".join(now.split(".")[:2])
        if then != now:
            differences.append(f"{name} {then} (saved) vs {now} (running)")
    if differences:
        warnings.warn(
            f"{os.fspath(path)} was saved with other versions: "
            + "; ".join(differences)
            + ". Check its predictions, then re-save it with the running versions.",
            ModelVersionWarning,
            stacklevel=4,
        )


def _resolve_class(name):
    """Return the class named ``module.Qualified.Name``, or None if it is not one.

    Only modules of the allow-listed packages are imported.
    """
    if name.split(".", 1)[0] not in _TRUSTED_PACKAGES:
        return None
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj if isinstance(obj, type) else None
    return None


def _skops_trusted_types(sio, data, trusted, path):
    """The types to pass to skops.io.loads: allow-listed classes plus ``trusted``."""
    trusted = set() if trusted is None else {str(t) for t in trusted}
    untrusted = sio.get_untrusted_types(data=data)
    refused = sorted(
        name
        for name in untrusted
        if name not in trusted and _resolve_class(name) is None
    )
    if refused:
        raise TypeError(
            f"{os.fspath(path)}: refusing to load a skops file that holds types "
            f"outside mtclassic's allow-list: {refused}. If you trust the file's "
            "source, pass them as load_model(..., trusted=[...])."
        )
    return list(untrusted)


def load_model(path, *, trusted=None, verify=True):
    """Load a model saved by :func:`save_model`, checking it first.

    Parameters
    ----------
    path : str or path-like
        The payload file (``.joblib`` or ``.skops``).
    trusted : list of str, default=None
        For skops files: fully qualified names of extra types you trust, as
        listed by ``skops.io.get_untrusted_types``. Classes of mtclassic,
        scikit-learn, numpy and scipy are trusted without being named here.
        Joblib files cannot restrict types: passing ``trusted`` for one is an
        error.
    verify : bool, default=True
        Whether to check the payload against its metadata record (SHA-256 and
        versions). With False a missing record is accepted and nothing is
        checked: use it only for files you trust.

    Returns
    -------
    model : estimator

    Raises
    ------
    FileNotFoundError
        When the payload, or (with ``verify=True``) its record, is missing.
    ValueError
        When the payload's SHA-256 differs from the record's (the file was
        changed or truncated), naming the file and both hashes.
    TypeError
        When a skops file holds types outside the allow-list and ``trusted``.

    Warns
    -----
    ModelVersionWarning
        When the file was saved with other versions of mtclassic,
        scikit-learn, numpy, scikit-image or Python (major.minor).

    See Also
    --------
    save_model : Save a model with its metadata record.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit([[0], [1], [1]], ["x", "y", "y"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "m.joblib")
    ...     _ = save_model(model, path)
    ...     load_model(path).predict([[5]])
    array(['y'], dtype='<U1')
    """
    path = os.fspath(path)
    metadata = read_metadata(path) if verify else None
    with open(path, "rb") as file:
        # One read, then hash and parse the same bytes: no window in which the
        # file could change between the check and the load.
        data = file.read()
    if metadata is not None:
        _check_payload(path, metadata, hashlib.sha256(data).hexdigest(), len(data))
    if data[:4] == _ZIP_MAGIC:
        sio = _import_skops()
        types = _skops_trusted_types(sio, data, trusted, path)
        return sio.loads(data, trusted=types)
    if trusted is not None:
        raise ValueError(
            f"trusted applies to skops files only; {path} is a joblib (pickle) "
            "file, which can run any code when loaded. Load it only if you trust "
            "it, without trusted=, or save the model with format='skops'."
        )
    return joblib.load(io.BytesIO(data))
