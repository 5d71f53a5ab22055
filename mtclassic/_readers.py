"""Chunked readers for the inputs of batch scoring.

:func:`open_inputs` turns the command line's inputs (IDX files, gzip or raw;
``.npy`` and ``.npz`` files; image folders; image files; globs of any of these)
into a list of sources. Each source knows how many records it holds, from its
header or file list alone, and reads any range of them, so the scorer can plan
its chunks before reading a pixel and memory stays bounded by one chunk:

- IDX and ``.npz`` members are read as streams of fixed-size records (a gzip or
  zip stream seeks forward by decompressing, so reading chunks in order costs one
  pass);
- ``.npy`` files are memory-mapped;
- image files are decoded with Pillow, one chunk of files at a time.

A record that cannot be read (a truncated or corrupt stream, an undecodable
image file, non-finite pixels) becomes an error row with the reason, so every
record of every input ends up either scored or listed as an error.
"""

import contextlib
import glob
import gzip
import hashlib
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

# The IDX format's type table and gzip sniffing, shared with load_idx.
from mtclassic.datasets._idx import _CODE_TO_DTYPE as _IDX_DTYPES
from mtclassic.datasets._idx import _GZIP_MAGIC

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".pgm", ".ppm",
     ".pbm", ".pnm", ".webp"}
)  # fmt: skip
# Keys of an .npz archive taken as the images when it holds several arrays.
_NPZ_IMAGE_KEYS = ("images", "X", "x", "data")
_GLOB_CHARS = frozenset("*?[")
_STREAM_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
# Bounded reads: a gzip readinto builds a bytes object of the whole request.
_READ_BLOCK = 1 << 20
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


@dataclass
class Chunk:
    """Records ``start`` to ``stop`` of a source: the readable ones and the rest.

    ``images`` is an ``(n, h, w)`` or ``(n, h * w)`` array, or a list of 2-D
    arrays when image files of different sizes are read together; ``errors``
    holds ``(id, reason)`` pairs for the records that could not be read.
    """

    ids: list
    images: object
    errors: list = field(default_factory=list)


class _Source:
    """A named input holding ``n_records`` records, read by index range."""

    kind = "source"

    def __init__(self, name):
        self.name = name
        self.n_records = 0

    def fingerprint(self):
        """What identifies this input's content (for resuming)."""
        return _stat_fingerprint(self.name)

    def describe(self):
        return {
            "kind": self.kind,
            "name": self.name,
            "n_records": self.n_records,
            "fingerprint": self.fingerprint(),
        }

    def read(self, start, stop):
        raise NotImplementedError

    def close(self):
        """Release open files; a later read reopens them."""


def _stat_fingerprint(path):
    stat = os.stat(path)
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class UnreadableSource(_Source):
    """An input that cannot be read at all: one error row, named after the file."""

    kind = "unreadable"

    def __init__(self, name, reason):
        super().__init__(name)
        self.reason = reason
        self.n_records = 1

    def fingerprint(self):
        return self.reason

    def read(self, start, stop):
        return Chunk(ids=[], images=None, errors=[(self.name, self.reason)])


class _RecordStream(_Source):
    """Fixed-size records after a header, in a seekable (maybe compressed) stream."""

    def __init__(self, name):
        super().__init__(name)
        self._file = None
        self.data_offset = 0
        self.dtype = None
        self.record_shape = ()

    @property
    def record_bytes(self):
        return self.dtype.itemsize * int(np.prod(self.record_shape, dtype=np.int64))

    def _open(self):
        raise NotImplementedError

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def read(self, start, stop):
        ids = [f"{self.name}:{index}" for index in range(start, stop)]
        size = self.record_bytes
        offset = self.data_offset + start * size
        buffer = bytearray((stop - start) * size)
        n_read, reason = 0, None
        try:
            if self._file is None:
                self._file = self._open()
            self._file.seek(offset)
            n_read, failure = _read_into(self._file, buffer)
        except _STREAM_ERRORS as exc:
            failure = exc
        if failure is not None:
            self.close()  # the stream position is unknown now
            reason = (
                f"corrupt stream at or after byte {offset + n_read} of the data "
                f"({failure})"
            )
        n_complete = n_read // size
        if reason is None and n_complete < stop - start:
            reason = (
                f"the data ends at byte {offset + n_read}, inside or before this "
                f"record (records are {size} bytes from byte {self.data_offset})"
            )
        values_per_record = size // self.dtype.itemsize
        images = np.frombuffer(
            buffer, dtype=self.dtype, count=n_complete * values_per_record
        ).reshape((n_complete, *self.record_shape))
        if not self.dtype.isnative:
            images = images.astype(self.dtype.newbyteorder("="))
        errors = [(record_id, reason) for record_id in ids[n_complete:]]
        return _drop_non_finite(Chunk(ids[:n_complete], images, errors))


def _read_into(file, buffer):
    """Fill ``buffer``; return the bytes read and the error that stopped it."""
    view = memoryview(buffer)
    filled = 0
    try:
        while filled < len(view):
            n = file.readinto(view[filled : filled + _READ_BLOCK])
            if not n:
                break
            filled += n
    except _STREAM_ERRORS as exc:
        return filled, exc
    return filled, None


def _drop_non_finite(chunk):
    images = chunk.images
    if (
        not isinstance(images, np.ndarray)
        or images.dtype.kind != "f"
        or not len(images)
    ):
        return chunk
    finite = np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if finite.all():
        return chunk
    ids = np.asarray(chunk.ids, dtype=object)
    errors = [(i, "non-finite pixel values (NaN or infinity)") for i in ids[~finite]]
    kept = ids[finite].tolist()
    return Chunk(kept, images[finite], chunk.errors + errors)


def _image_shape_error(name, shape, where):
    if len(shape) in (2, 3):
        return None
    return (
        f"{where} holds an array of shape {tuple(shape)}; expected images "
        "(n, height, width) or flat rows (n, height * width)"
    )


class IdxSource(_RecordStream):
    """An IDX file (MNIST format), gzip-compressed or raw."""

    kind = "idx"

    def _open(self):
        raw = open(self.name, "rb")
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            return gzip.GzipFile(fileobj=raw, mode="rb")
        raw.seek(0)
        return raw

    def parse_header(self):
        """Read the header; return None, or the reason the file is not usable."""
        file = self._open()
        try:
            magic = file.read(4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00":
                return "not an IDX file: bytes 0-1 are not 00 00"
            code, ndim = magic[2], magic[3]
            if code not in _IDX_DTYPES:
                return f"unsupported IDX type code 0x{code:02X} at byte 2"
            dims = file.read(4 * ndim)
            if len(dims) < 4 * ndim:
                return f"IDX header of {ndim} dimensions ends early, at byte {4 + len(dims)}"
        except (OSError, EOFError, zlib.error) as exc:
            return f"unreadable IDX header ({exc})"
        finally:
            file.close()
        shape = struct.unpack(f">{ndim}I", dims)
        problem = _image_shape_error(self.name, shape, "the IDX header")
        if problem:
            return problem
        self.dtype = _IDX_DTYPES[code]
        self.record_shape = shape[1:]
        self.data_offset = 4 + 4 * ndim
        self.n_records = shape[0]
        return None


class NpzSource(_RecordStream):
    """One array of an ``.npz`` archive, streamed from its zip member."""

    kind = "npz"

    def __init__(self, name):
        super().__init__(name)
        self.member = None

    def _open(self):
        archive = zipfile.ZipFile(self.name)
        member = archive.open(self.member)
        # Closing the member alone would leave the archive open.
        member.close = _closing_both(member, archive)
        return member

    def parse_header(self):
        try:
            with zipfile.ZipFile(self.name) as archive:
                members = [n for n in archive.namelist() if n.endswith(".npy")]
                keys = [n[: -len(".npy")] for n in members]
                if len(keys) == 1:
                    key = keys[0]
                else:
                    key = next((k for k in _NPZ_IMAGE_KEYS if k in keys), None)
                if key is None:
                    return (
                        f"the archive holds arrays {keys}; expected one array, or "
                        f"one named {' or '.join(_NPZ_IMAGE_KEYS)}"
                    )
                self.member = key + ".npy"
                with archive.open(self.member) as file:
                    version = np.lib.format.read_magic(file)
                    read_header = _NPY_HEADER_READERS.get(version)
                    if read_header is None:
                        return f"unsupported .npy format version {version}"
                    shape, fortran, dtype = read_header(file)
                    offset = file.tell()
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
            return f"unreadable .npz archive ({exc})"
        where = f"array {key!r}"
        problem = _image_shape_error(self.name, shape, where)
        if problem:
            return problem
        if dtype.kind not in "biuf":
            return f"{where} has dtype {dtype}; expected numbers (uint8 or float)"
        if fortran and len(shape) > 1 and shape[0] > 1:
            return (
                f"{where} is stored in Fortran order, which cannot be read by "
                "records; save it with np.ascontiguousarray"
            )
        self.dtype, self.record_shape = dtype, tuple(shape[1:])
        self.data_offset, self.n_records = offset, shape[0]
        return None


def _closing_both(member, archive):
    close_member = member.close

    def close():
        close_member()
        archive.close()

    return close


class NpySource(_Source):
    """A ``.npy`` file, memory-mapped (never unpickled)."""

    kind = "npy"

    def parse_header(self):
        try:
            array = np.load(self.name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            return f"unreadable .npy file ({exc})"
        problem = _image_shape_error(self.name, array.shape, "the file")
        if problem:
            return problem
        if array.dtype.kind not in "biuf":
            return f"the array has dtype {array.dtype}; expected numbers"
        self.n_records = array.shape[0]
        return None

    def read(self, start, stop):
        # Map per read: no open map is kept (or pickled) between chunks.
        array = np.load(self.name, mmap_mode="r", allow_pickle=False)
        images = np.array(array[start:stop])
        ids = [f"{self.name}:{index}" for index in range(start, stop)]
        return _drop_non_finite(Chunk(ids, images))


class ImageFilesSource(_Source):
    """Image files (a folder's, or listed one by one), read with Pillow."""

    kind = "images"

    def __init__(self, name, paths):
        super().__init__(name)
        self.paths = list(paths)
        self.n_records = len(self.paths)

    def fingerprint(self):
        digest = hashlib.sha256()
        for path in self.paths:
            try:
                stamp = _stat_fingerprint(path)
            except OSError:
                stamp = "missing"
            digest.update(f"{path}\0{stamp}\n".encode())
        return digest.hexdigest()

    def read(self, start, stop):
        # Decoded as load_image_folder does: any mode to 8-bit grey, EXIF,
        # transparency. (Imported here: it brings scikit-learn along.)
        from mtclassic.datasets._folder import _read_grey

        ids, images, errors = [], [], []
        for path in self.paths[start:stop]:
            try:
                pixels = _read_grey(path)
            except Exception as exc:  # noqa: BLE001 - any decoder failure of a bad file
                errors.append((path, f"unreadable image file ({exc})"))
                continue
            ids.append(path)
            images.append(pixels)
        if images and all(im.shape == images[0].shape for im in images):
            images = np.stack(images)
        return Chunk(ids, images, errors)


def _is_image_file(path):
    return os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS


def _folder_images(folder):
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(
            os.path.join(root, f)
            for f in files
            if not f.startswith(".") and _is_image_file(f)
        )
    # Sort by path relative to the folder, so the order is the same everywhere.
    return sorted(found, key=lambda p: os.path.relpath(p, folder).split(os.sep))


def _array_source(path):
    suffix = os.path.splitext(path)[1].lower()
    source = {".npy": NpySource, ".npz": NpzSource}.get(suffix, IdxSource)(path)
    reason = source.parse_header()
    return source if reason is None else UnreadableSource(path, reason)


def _expand(argument):
    """The paths an input argument stands for: itself, or its glob's matches."""
    path = os.fspath(argument)
    if os.path.exists(path):
        return [path]
    if _GLOB_CHARS & set(path):
        matches = sorted(glob.glob(path, recursive=True))
        if not matches:
            raise FileNotFoundError(f"input pattern {path!r} matches no file.")
        return matches
    raise FileNotFoundError(f"input {path!r} does not exist.")


def open_inputs(inputs):
    """Turn input paths, folders and globs into sources, in the given order.

    Parameters
    ----------
    inputs : str, path-like or list of them
        IDX files (gzip or raw, recognised by content), ``.npy``/``.npz``
        files, image files, folders of image files (searched recursively,
        hidden entries skipped) and glob patterns of any of these.

    Returns
    -------
    sources : list of sources
        Consecutive image files are grouped into one source.

    Raises
    ------
    FileNotFoundError
        When an input does not exist or a pattern matches nothing.
    ValueError
        When a folder holds no image file, or no input is given.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "x.npy")
    ...     np.save(path, np.zeros((5, 28, 28), dtype=np.uint8))
    ...     [source] = open_inputs([path])
    ...     chunk = source.read(3, 5)
    ...     source.n_records, chunk.images.shape, chunk.ids[0] == path + ":3"
    (5, (2, 28, 28), True)
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise ValueError("inputs must name at least one file, folder or pattern.")
    sources, loose_images = [], []

    def flush_images():
        if loose_images:
            name = (
                loose_images[0]
                if len(loose_images) == 1
                else (f"{loose_images[0]} (+{len(loose_images) - 1} image files)")
            )
            sources.append(ImageFilesSource(name, loose_images.copy()))
            loose_images.clear()

    for argument in inputs:
        for path in _expand(argument):
            if os.path.isdir(path):
                files = _folder_images(path)
                if not files:
                    raise ValueError(
                        f"input folder {path!r} holds no image file (looked for "
                        f"{', '.join(sorted(IMAGE_EXTENSIONS))})."
                    )
                flush_images()
                sources.append(ImageFilesSource(path, files))
            elif _is_image_file(path):
                loose_images.append(path)
            else:
                flush_images()
                sources.append(_array_source(path))
    flush_images()
    return sources


@contextlib.contextmanager
def closing_all(sources):
    """Close every source's files when the block ends."""
    try:
        yield sources
    finally:
        for source in sources:
            source.close()
