"""Chunked readers for the inputs of batch scoring.

:func:`open_inputs` turns the command line's inputs (IDX files, gzip or raw;
``.npy`` and ``.npz`` files; image folders; image files; globs of any of these)
into a list of sources. Each source knows how many records it holds, from its
header or file list alone, and reads any range of them, so the scorer can plan
its chunks before reading a pixel and memory stays bounded by one chunk:

- IDX and ``.npz`` members are read as streams of fixed-size records (a gzip or
  zip stream seeks forward by decompressing, so reading chunks in order costs one
  pass);
- before the first record is read, an IDX file or ``.npz`` member is verified
  whole (one extra pass): its header against its size, and a gzip or zip
  stream read to its end, so that its CRC-32 and length are checked. A file
  that fails is one error row naming the file, the byte offset and the reason,
  never rows of wrong pixels, nor one error row per record a lying header
  claims;
- ``.npy`` files are memory-mapped;
- image files are decoded with Pillow, one chunk of files at a time.

A record that cannot be read (an undecodable image file, a symbolic-link loop,
non-finite pixels) becomes an error row with the reason, so every record of
every input ends up either scored or listed as an error. ``transpose=True``
reads every image with its rows and columns swapped (EMNIST's IDX files).
"""

import contextlib
import glob
import hashlib
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ._arrays import (
    NPZ_IMAGE_KEYS,
    NPZ_SIZES_KEY,
    check_sizes,
    crop,
    image_shape_problem,
    orient,
    stack_if_same,
)
from ._idx import verify_idx
from ._images import IMAGE_EXTENSIONS, is_image_file, list_image_tree, read_image
from ._streams import STREAM_ERRORS, Content, drain, read_into

_GLOB_CHARS = frozenset("*?[")
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


@dataclass
class Chunk:
    """Records ``start`` to ``stop`` of a source: the readable ones and the rest.

    ``images`` is an ``(n, h, w)`` or ``(n, h * w)`` array, or a list of 2-D
    arrays when images of different sizes are read together; ``errors``
    holds ``(id, reason)`` pairs for the records that could not be read.
    """

    ids: list
    images: object
    errors: list = field(default_factory=list)


class _Source:
    """A named input holding ``n_records`` records, read by index range."""

    kind = "source"

    def __init__(self, name, *, transpose=False):
        self.name = name
        self.transpose = bool(transpose)
        self.n_records = 0

    def fingerprint(self):
        """What identifies this input's content (for resuming)."""
        return _stat_fingerprint(self.name)

    def describe(self):
        description = {
            "kind": self.kind,
            "name": self.name,
            "n_records": self.n_records,
            "fingerprint": self.fingerprint(),
        }
        if self.transpose:  # absent when False: earlier manifests stay valid
            description["transpose"] = True
        return description

    def read(self, start, stop):
        """Records ``start`` to ``stop`` as a :class:`Chunk`, upright."""
        chunk = self._read(start, stop)
        if self.transpose and chunk.images is not None and len(chunk.ids):
            chunk.images = orient(chunk.images, True, self.name)
        return _drop_non_finite(chunk)

    def _read(self, start, stop):
        raise NotImplementedError

    def close(self):
        """Release open files; a later read reopens them."""

    def _shape_problem(self, shape, where):
        """Why records of ``shape`` cannot be read as images here, or None."""
        problem = image_shape_problem(shape, where)
        if problem is None and self.transpose and len(shape) == 2:
            try:
                orient(np.empty((0, shape[1])), True, self.name)
            except ValueError:
                problem = (
                    f"{where} holds flat rows of {shape[1]} values, not square "
                    "images, so they cannot be transposed"
                )
        return problem


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

    def __init__(self, name, *, transpose=False):
        super().__init__(name, transpose=transpose)
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

    def _read(self, start, stop):
        ids = [f"{self.name}:{index}" for index in range(start, stop)]
        size = self.record_bytes
        offset = self.data_offset + start * size
        buffer = bytearray((stop - start) * size)
        n_read, reason = 0, None
        try:
            if self._file is None:
                self._file = self._open()
            self._file.seek(offset)
            n_read, failure = read_into(self._file, buffer)
            if failure is None and stop == self.n_records and n_read == len(buffer):
                # The last records: read on to the end of the stream, so that
                # its CRC-32 and length are checked again (the file was
                # verified when opened; this catches a change since).
                n_after, failure = drain(self._file)
                if failure is not None or n_after:
                    reason = (
                        f"the stream changed since it was verified: after the last "
                        f"record, at byte {offset + n_read} of the data, "
                        + (f"{failure}" if failure else f"{n_after} more bytes")
                    )
                    n_read, failure = 0, None
                    self.close()
        except STREAM_ERRORS as exc:
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
        return Chunk(ids[:n_complete], self._crop(images, start), errors)

    def _crop(self, images, start):
        return images


def _drop_non_finite(chunk):
    images = chunk.images
    if images is None or not len(chunk.ids):
        return chunk
    if isinstance(images, list):
        if images[0].dtype.kind != "f":
            return chunk
        finite = np.array([np.isfinite(image).all() for image in images])
    elif images.dtype.kind != "f":
        return chunk
    else:
        finite = np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if finite.all():
        return chunk
    ids = np.asarray(chunk.ids, dtype=object)
    errors = [(i, "non-finite pixel values (NaN or infinity)") for i in ids[~finite]]
    kept = ids[finite].tolist()
    if isinstance(images, list):
        images = stack_if_same(
            [image for image, ok in zip(images, finite, strict=True) if ok]
        )
    else:
        images = images[finite]
    return Chunk(kept, images, chunk.errors + errors)


class IdxSource(_RecordStream):
    """An IDX file (MNIST format), gzip-compressed or raw."""

    kind = "idx"

    def _open(self):
        return Content(self.name)

    def parse_header(self):
        """Verify the file; return None, or the reason it is not usable."""
        try:
            header = verify_idx(self.name)
        except (OSError, ValueError) as exc:
            return f"{exc}"
        problem = self._shape_problem(header.shape, "the IDX header")
        if problem:
            return problem
        self.dtype = header.dtype
        self.record_shape = tuple(header.shape[1:])
        self.data_offset = header.size
        self.n_records = header.shape[0]
        return None


class NpzSource(_RecordStream):
    """One array of an ``.npz`` archive, streamed from its zip member.

    An archive that also holds a ``sizes`` array (one ``(height, width)`` per
    image) gives ragged crops padded into one array: record ``i`` is read as
    ``images[i, :height, :width]``.
    """

    kind = "npz"

    def __init__(self, name, *, transpose=False):
        super().__init__(name, transpose=transpose)
        self.member = None
        self.sizes = None

    def _open(self):
        archive = zipfile.ZipFile(self.name)
        member = archive.open(self.member)
        # Closing the member alone would leave the archive open.
        member.close = _closing_both(member, archive)
        return member

    def parse_header(self):
        try:
            with zipfile.ZipFile(self.name) as archive:
                keys = [n[: -len(".npy")] for n in archive.namelist()
                        if n.endswith(".npy")]  # fmt: skip
                images_keys = [k for k in keys if k != NPZ_SIZES_KEY]
                if len(images_keys) == 1:
                    key = images_keys[0]
                else:
                    key = next((k for k in NPZ_IMAGE_KEYS if k in keys), None)
                if key is None:
                    return (
                        f"the archive holds arrays {keys}; expected one array, or "
                        f"one named {' or '.join(NPZ_IMAGE_KEYS)}"
                    )
                self.member = key + ".npy"
                with archive.open(self.member) as file:
                    version = np.lib.format.read_magic(file)
                    read_header = _NPY_HEADER_READERS.get(version)
                    if read_header is None:
                        return f"unsupported .npy format version {version}"
                    shape, fortran, dtype = read_header(file)
                    offset = file.tell()
                    # Read to the member's end: its CRC-32 and length checked.
                    n_found, failure = drain(file)
                    if failure is not None:
                        return (
                            f"corrupt archive member {self.member!r} at or after "
                            f"byte {offset + n_found} ({failure})"
                        )
                sizes = None
                if NPZ_SIZES_KEY in keys and key != NPZ_SIZES_KEY:
                    with archive.open(NPZ_SIZES_KEY + ".npy") as file:
                        sizes = np.lib.format.read_array(file, allow_pickle=False)
        except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
            return f"unreadable .npz archive ({exc})"
        where = f"array {key!r}"
        problem = self._shape_problem(shape, where)
        if problem:
            return problem
        if dtype.kind not in "biuf":
            return f"{where} has dtype {dtype}; expected numbers (uint8 or float)"
        n_bytes = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        if n_found != n_bytes:
            return (
                f"{where}: its header says shape {tuple(shape)} {dtype} = {n_bytes} "
                f"data bytes after the {offset}-byte header, but the member has "
                f"{n_found}"
            )
        if fortran and len(shape) > 1 and shape[0] > 1:
            return (
                f"{where} is stored in Fortran order, which cannot be read by "
                "records; save it with np.ascontiguousarray"
            )
        if sizes is not None:
            try:
                self.sizes = check_sizes(sizes, shape, self.name)
            except ValueError as exc:
                return f"{exc}"
        self.dtype, self.record_shape = dtype, tuple(shape[1:])
        self.data_offset, self.n_records = offset, shape[0]
        return None

    def _crop(self, images, start):
        if self.sizes is None:
            return images
        return crop(images, self.sizes[start : start + len(images)])

    def describe(self):
        description = super().describe()
        if self.sizes is not None:
            description["sizes"] = NPZ_SIZES_KEY
        return description


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
            # The map checks the header's shape against the file's size.
            array = np.load(self.name, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            return f"unreadable .npy file ({exc})"
        problem = self._shape_problem(array.shape, "the file")
        if problem:
            return problem
        if array.dtype.kind not in "biuf":
            return f"the array has dtype {array.dtype}; expected numbers"
        self.n_records = array.shape[0]
        return None

    def _read(self, start, stop):
        # Map per read: no open map is kept (or pickled) between chunks.
        array = np.load(self.name, mmap_mode="r", allow_pickle=False)
        images = np.array(array[start:stop])
        ids = [f"{self.name}:{index}" for index in range(start, stop)]
        return Chunk(ids, images)


class ImageFilesSource(_Source):
    """Image files (a folder's, or listed one by one), read with Pillow."""

    kind = "images"

    def __init__(self, name, paths, *, transpose=False):
        super().__init__(name, transpose=transpose)
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

    def _read(self, start, stop):
        ids, images, errors = [], [], []
        for path in self.paths[start:stop]:
            try:
                pixels = read_image(path)
            except Exception as exc:  # noqa: BLE001 - any decoder failure of a bad file
                errors.append((path, f"unreadable image file ({exc})"))
                continue
            ids.append(path)
            images.append(pixels)
        return Chunk(ids, stack_if_same(images), errors)


def _array_source(path, transpose):
    suffix = os.path.splitext(path)[1].lower()
    kind = {".npy": NpySource, ".npz": NpzSource}.get(suffix, IdxSource)
    source = kind(path, transpose=transpose)
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
    if os.path.islink(path):  # a link to nothing, or a loop: its row says why
        return [path]
    raise FileNotFoundError(f"input {path!r} does not exist.")


def open_inputs(inputs, *, transpose=False):
    """Turn input paths, folders and globs into sources, in the given order.

    Parameters
    ----------
    inputs : str, path-like or list of them
        IDX files (gzip or raw, recognised by content), ``.npy``/``.npz``
        files (an ``.npz`` with a ``sizes`` array is read cropped), image
        files, folders of image files (searched recursively, hidden entries
        skipped) and glob patterns of any of these.
    transpose : bool, default=False
        Swap the rows and columns of every image (EMNIST's IDX files store
        them transposed).

    Returns
    -------
    sources : list of sources
        Consecutive image files are grouped into one source. An IDX or
        ``.npz`` file that fails verification is a source of one error row.

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
            sources.append(
                ImageFilesSource(name, loose_images.copy(), transpose=transpose)
            )
            loose_images.clear()

    for argument in inputs:
        for path in _expand(argument):
            if os.path.isdir(path):
                files = list_image_tree(path)
                if not files:
                    raise ValueError(
                        f"input folder {path!r} holds no image file (looked for "
                        f"{', '.join(sorted(IMAGE_EXTENSIONS))})."
                    )
                flush_images()
                sources.append(ImageFilesSource(path, files, transpose=transpose))
            elif is_image_file(path):
                loose_images.append(path)
            else:
                flush_images()
                sources.append(_array_source(path, transpose))
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
