"""Save and load fitted models: any joblib, pickle or skops file loads; a
metadata record beside it is an optional extra check.

A model file is what users save:

- ``joblib.dump(model, "model.joblib")`` or ``pickle.dump``: a pickle;
- :func:`save_model`: the payload, ``model.joblib`` (compressed joblib, the
  default) or ``model.skops`` (the ``skops`` format, for files from elsewhere),
  plus its metadata record ``model.joblib.meta.json``: the versions of
  mtclassic, scikit-learn, numpy, scikit-image and Python that wrote it, the
  model's classes and tasks, and the payload's size and SHA-256.

Both are written to temporary files and renamed into place, payload first and
record last, so a crash leaves either the old pair, or a new payload whose hash
does not match the old record (refused on load), never a half-written file.

:func:`load_model` needs no record. When there is one, it checks the payload's
hash before it parses a single byte (a truncated or changed file is a clear
``ValueError``, not an unpickling crash), warns with
:class:`ModelVersionWarning` when the versions differ from the running ones,
and after loading checks the record's classes and tasks against the model's:
labels always come from the fitted model, never from the record.

Trust model. Loading a joblib or pickle file runs any code it holds: load only
files you trust. The record does not change that: it is not signed, and whoever
can write the model can write its record; it catches accidents, not attacks.
:func:`load_model` warns (:class:`UntrustedFileWarning`) when a pickle belongs
to another user or is world-writable. ``.skops`` is the format for files from
elsewhere: its allow-list decides on exact type names before anything is
imported: the types skops trusts by default, the types :func:`save_model`
writes for mtclassic's models (:data:`SKOPS_ALLOW_LIST`) and the names you pass
in ``trusted``; anything else is refused by name.
"""

import datetime
import hashlib
import io
import json
import os
import platform
import warnings

import joblib

from mtclassic.io import atomic_writer

_FORMATS = ("joblib", "skops")
_METADATA_SUFFIX = ".meta.json"
_METADATA_VERSION = 1
_ZIP_MAGIC = b"PK\x03\x04"  # skops files are zip archives; joblib files never are
_HASH_BLOCK = 1 << 20
# Libraries whose versions are recorded and compared on load (distribution name).
_LIBRARIES = ("mtclassic", "scikit-learn", "numpy", "scikit-image")
#: The whole allow-list of a skops file beyond the types skops trusts by
#: default: exactly the types :func:`save_model` writes for mtclassic's models
#: (every preset and membership of :func:`~mtclassic.make_default_model`), as
#: ``skops.io.get_untrusted_types`` names them. Exact names, never module trees:
#: a name is compared before anything is imported.
SKOPS_ALLOW_LIST = (
    "mtclassic.features.HOGTransformer",
    "mtclassic.features.PixelTransformer",
    "mtclassic.filled.FilledCopiesPipeline",
    "mtclassic.heads.DigitClassifier",
    "mtclassic.heads.LetterClassifier",
    "mtclassic.multitask.MultiTaskVotingClassifier",
    "mtclassic.preprocessing.ImageNormalizer",
    "mtclassic.strokes.StrokeRedrawer",
    "sklearn.tree._tree.Tree",
    "sklearn.utils._bunch.Bunch",
)
_WARNED_FILES = set()  # the pickles warned about (device, inode, mtime, size)


class ModelVersionWarning(UserWarning):
    """A model file was written with other library versions than the running ones.

    Models usually load and predict fine across patch releases, but estimators'
    internals may change between minor releases; re-save the model with the
    running versions once you have checked its predictions.
    """


class UntrustedFileWarning(UserWarning):
    """A pickle model file that another user could have written.

    Loading a joblib or pickle file runs any code it holds, with your rights.
    A file owned by another user, or writable by every user, may hold code you
    did not put there: load it only if you trust whoever can write it, or use
    a ``.skops`` file.
    """


class UntrustedTypesError(TypeError):
    """A skops file holds types outside the allow-list and ``trusted``.

    Parameters
    ----------
    path : str
        The model file.
    types : list of str
        The refused type names, sorted.

    Examples
    --------
    >>> error = UntrustedTypesError("m.skops", ["builtins.eval"])
    >>> error.types, error.message(command_line=True).split(". ")[-1]
    (['builtins.eval'], "If you trust the file's source, add --trusted builtins.eval.")
    """

    def __init__(self, path, types):
        self.path, self.types = path, list(types)
        super().__init__(self.message())

    def __reduce__(self):
        # Raised in worker processes too: pickle the fields, not the message.
        return type(self), (self.path, self.types)

    def message(self, *, command_line=False):
        """The error's text, naming the remedy in Python or on the command line."""
        remedy = (
            "add " + " ".join(f"--trusted {name}" for name in self.types)
            if command_line
            else "pass them as load_model(..., trusted=[...])"
        )
        return (
            f"{self.path}: refusing to load a skops file that holds types outside "
            f"mtclassic's allow-list: {self.types}. If you trust the file's "
            f"source, {remedy}."
        )


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


def _check_payload(path, metadata, actual, size, depth):
    """Refuse a payload whose hash is not the record's; warn on versions.

    ``depth``: the calls between this one and the user's, for the warning.
    """
    if actual != metadata["sha256"]:
        raise ValueError(
            f"{path}: the model file does not match its metadata record "
            f"{metadata_path(path)}: SHA-256 {actual} ({size} bytes), "
            f"expected {metadata['sha256']} "
            f"({metadata.get('payload_bytes', '?')} bytes). The file was "
            "changed or truncated after it was saved; refusing to load it."
        )
    _warn_on_versions(metadata.get("versions", {}), path, stacklevel=3 + depth)


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
    from mtclassic.metrics import fitted_tasks

    tasks = fitted_tasks(model)
    if tasks is None:
        return None
    owner = {label: task for task, labels in tasks.items() for label in labels}
    return [owner[str(label)] for label in model.classes_]


def _model_summary(model):
    """Classes and tasks of a fitted classifier, as JSON-ready lists (or None)."""
    from mtclassic.metrics import fitted_tasks

    classes = getattr(model, "classes_", None)
    tasks = fitted_tasks(model)
    return {
        "estimator": f"{type(model).__module__}.{type(model).__qualname__}",
        "classes": None if classes is None else [str(c) for c in classes],
        "tasks": None if tasks is None else list(tasks),
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
        "platform": _platform(),
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


def _platform():
    """``"Linux-6.1.0-x86_64"``: system, release and machine.

    Not ``platform.platform()``: on Linux it runs ``uname -p`` in a child
    process, and a child forked from a process that holds a large model shows
    that model's memory again (and may fail to start where memory is tight).
    """
    return "-".join(
        part
        for part in (platform.system(), platform.release(), platform.machine())
        if part
    )


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
            f"{meta_path}: the model file {os.fspath(path)} has no metadata "
            "record. load_model loads it without one; save_model writes one."
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
    _check_payload(path, metadata, *_file_sha256(path), depth=1)
    return metadata


def _warn_on_versions(saved, path, stacklevel):
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
            stacklevel=stacklevel,
        )


def _skops_types(sio, data, trusted, path):
    """The types to pass to skops.io.loads, decided on their names alone.

    ``get_untrusted_types`` reads the names from the file's schema; nothing
    named there is imported until every name has passed.
    """
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # a zip archive that is no skops file
        raise ValueError(f"{path}: not a readable skops file ({exc!r}).") from None
    allowed = set(SKOPS_ALLOW_LIST) | {str(name) for name in trusted or ()}
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise UntrustedTypesError(path, refused)
    return untrusted


def _read_payload(path):
    """The model file's bytes and its ``os.stat_result``, from one open file."""
    try:
        with open(path, "rb") as file:
            return file.read(), os.fstat(file.fileno())
    except FileNotFoundError:
        raise FileNotFoundError(f"model file {path!r} does not exist.") from None
    except IsADirectoryError:
        raise ValueError(f"model file {path!r} is a directory, not a file.") from None


def _warn_if_others_can_write(path, stat):
    """Warn once per file when a pickle is another user's or world-writable."""
    reasons = []
    getuid = getattr(os, "getuid", None)  # POSIX only
    if getuid is not None and stat.st_uid != getuid():
        reasons.append(f"is owned by uid {stat.st_uid}, not by you (uid {getuid()})")
    if stat.st_mode & 0o002:
        reasons.append("is writable by every user")
    key = (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size)
    if reasons and key not in _WARNED_FILES:
        _WARNED_FILES.add(key)
        warnings.warn(
            f"{path} {' and '.join(reasons)}: loading this pickle runs any code "
            "it holds. Load it only if you trust whoever can write it; use a "
            ".skops file for models from elsewhere.",
            UntrustedFileWarning,
            stacklevel=4,
        )


def _load(path, trusted, verify):
    """open_model_file's work; both public functions call it (same warning depth)."""
    path = os.fspath(path)
    # One read, then hash and parse the same bytes: no window in which the
    # file could change between the check and the load.
    data, stat = _read_payload(path)
    digest = hashlib.sha256(data).hexdigest()
    metadata = None
    if verify and os.path.exists(metadata_path(path)):
        metadata = read_metadata(path)
        _check_payload(path, metadata, digest, len(data), depth=2)
    if data[:4] == _ZIP_MAGIC:
        sio = _import_skops()
        model = sio.loads(data, trusted=_skops_types(sio, data, trusted, path))
    elif path.lower().endswith(".skops"):
        # Never unpickle a file its name says is skops: that is the safe format.
        raise ValueError(
            f"{path}: not a skops file (no zip archive header); refusing to "
            "load it as a pickle, which could run code."
        )
    elif trusted is not None:
        raise ValueError(
            f"trusted applies to skops files only; {path} is a joblib (pickle) "
            "file, which can run any code when loaded. Load it only if you trust "
            "it, without trusted=, or save the model with format='skops'."
        )
    else:
        _warn_if_others_can_write(path, stat)
        model = joblib.load(io.BytesIO(data))
    if metadata is not None:
        _check_record_matches(path, metadata, model)
    return model, digest


def _check_record_matches(path, metadata, model):
    """Refuse a record whose classes or tasks are not the loaded model's."""
    summary = _model_summary(model)
    for key in ("classes", "tasks", "class_tasks"):
        if key in metadata and metadata[key] != summary[key]:
            raise ValueError(
                f"{metadata_path(path)}: the record's {key} {metadata[key]} differ "
                f"from the model's {summary[key]} in {path}; refusing to load it. "
                "The record is not covered by the hash: delete it, or save the "
                "model again with save_model."
            )


def open_model_file(path, *, trusted=None, verify=True):
    """Load a model file and return it with the SHA-256 of the bytes loaded.

    :func:`load_model` with the digest of exactly the bytes it parsed, so a
    caller can tell whether another process loaded the same file.

    Parameters
    ----------
    path : str or path-like
        The model file (see :func:`load_model`).
    trusted : list of str, default=None
        As :func:`load_model`.
    verify : bool, default=True
        As :func:`load_model`.

    Returns
    -------
    model : estimator
    sha256 : str
        Hex digest of the file's bytes.

    Examples
    --------
    >>> import os, tempfile, joblib
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit([[0], [1]], ["a", "b"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "m.joblib")
    ...     _ = joblib.dump(model, path)
    ...     loaded, digest = open_model_file(path)
    >>> loaded.classes_.tolist(), len(digest)
    (['a', 'b'], 64)
    """
    return _load(path, trusted, verify)


def load_model(path, *, trusted=None, verify=True):
    """Load a model file: joblib, pickle or skops, with or without a record.

    Loading a joblib or pickle file runs any code it holds: load only files
    you trust (the command line loads only the file you name). A metadata
    record beside the file (written by :func:`save_model`) is optional; it is
    not signed, so it catches accidents (truncation, a record of another
    model), not attacks. ``.skops`` is the format for files from elsewhere:
    every type in one is decided on its exact name before anything is
    imported.

    Parameters
    ----------
    path : str or path-like
        The model file: a ``joblib.dump`` or ``pickle.dump`` file, or a
        ``.skops`` file (a file named ``.skops`` is never unpickled).
    trusted : list of str, default=None
        For skops files: exact names of extra types you trust, as listed by
        ``skops.io.get_untrusted_types``. Without them, a skops file loads only
        if each of its types is trusted by skops by default or is one that
        :func:`save_model` writes for mtclassic's models
        (:data:`SKOPS_ALLOW_LIST`). Joblib files cannot restrict types:
        passing ``trusted`` for one is an error.
    verify : bool, default=True
        Whether to check the metadata record ``<path>.meta.json`` when there
        is one: the payload's SHA-256 before parsing it, the versions, and
        after loading the record's classes and tasks against the model's.
        A missing record is never an error.

    Returns
    -------
    model : estimator

    Raises
    ------
    FileNotFoundError
        When the model file is missing.
    ValueError
        When the payload's SHA-256 differs from the record's (the file was
        changed or truncated), naming the file and both hashes; when the
        record's classes or tasks differ from the model's, naming both.
    UntrustedTypesError
        A ``TypeError``: a skops file holds types outside the allow-list and
        ``trusted``; naming them.

    Warns
    -----
    ModelVersionWarning
        When the record says the file was saved with other versions of
        mtclassic, scikit-learn, numpy, scikit-image or Python (major.minor).
    UntrustedFileWarning
        Once per file, when a pickle is owned by another user or is
        world-writable.

    See Also
    --------
    save_model : Save a model with its metadata record.

    Examples
    --------
    >>> import os, tempfile, joblib
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit([[0], [1], [1]], ["x", "y", "y"])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "m.joblib")
    ...     _ = joblib.dump(model, path)  # no record: loads all the same
    ...     load_model(path).predict([[5]])
    array(['y'], dtype='<U1')
    """
    return _load(path, trusted, verify)[0]
