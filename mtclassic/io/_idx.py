"""Read and write IDX files, the format of MNIST and EMNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order,
big-endian. Files may be gzip-compressed; they are recognised by their first
two bytes (1f 8b), not by their name.

Every reader here verifies what it reads: the header is checked against the
file's size before any data are read (a raw file must hold exactly what the
header says; a gzip file cannot hold more than deflate's 1032-fold expansion
of it), and a gzip stream is read to its end, so that each member's CRC-32 and
length are checked even when only the first records are wanted.
"""

import gzip
import os
import struct
from dataclasses import dataclass

import numpy as np

from ._arrays import orient
from ._atomic import atomic_writer
from ._streams import STREAM_ERRORS, Content, drain, read_into, skip

# IDX type code -> big-endian numpy dtype
_CODE_TO_DTYPE = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_DTYPE_TO_CODE = {
    dtype.newbyteorder("="): code for code, dtype in _CODE_TO_DTYPE.items()
}
_TYPE_NAMES = ", ".join(
    f"0x{code:02X} ({dtype.newbyteorder('=').name})"
    for code, dtype in _CODE_TO_DTYPE.items()
)
_MAX_DIM = 2**32 - 1
# Bytes converted and written at a time: bounds the extra memory.
_IO_CHUNK_BYTES = 1 << 24
# gzip's own default (9) is several times slower for little gain on images.
_GZIP_LEVEL = 6


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX header says: the values' big-endian ``dtype``, the ``shape``,
    and ``size``, the header's length in bytes (the data start there)."""

    dtype: np.dtype
    shape: tuple
    size: int

    @property
    def n_bytes(self):
        """The data bytes the header promises."""
        return self.dtype.itemsize * int(np.prod(self.shape, dtype=object))

    @property
    def record_bytes(self):
        """The bytes of one record (one entry along the first axis)."""
        return self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=object))


def read_header(content):
    """Parse the IDX header at the start of an open :class:`Content`."""
    name, where = content.name, content.where
    magic = content.file.read(4)
    if len(magic) < 4:
        raise ValueError(
            f"{name}: not an IDX file: the {where} has {len(magic)} bytes, fewer "
            "than the 4-byte magic number."
        )
    if magic[:2] != b"\x00\x00":
        raise ValueError(
            f"{name}: not an IDX file: bytes 0-1 must be 00 00, found "
            f"{magic[:2].hex(' ')}."
        )
    code, ndim = magic[2], magic[3]
    if code not in _CODE_TO_DTYPE:
        raise ValueError(
            f"{name}: unsupported IDX type code 0x{code:02X} at byte 2; expected "
            f"one of {_TYPE_NAMES}."
        )
    if ndim == 0:
        raise ValueError(
            f"{name}: IDX header says 0 dimensions at byte 3; expected 1 to 255."
        )
    header_size = 4 + 4 * ndim
    dims_bytes = content.file.read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise ValueError(
            f"{name}: IDX header says {ndim} dimensions, i.e. a {header_size}-byte "
            f"header, but the {where} has only {4 + len(dims_bytes)} bytes."
        )
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    return IdxHeader(_CODE_TO_DTYPE[code], shape, header_size)


def _size_error(content, header, n_found):
    dims = "x".join(map(str, header.shape))
    message = (
        f"{content.name}: IDX header says {dims} "
        f"{header.dtype.newbyteorder('=').name} = {header.n_bytes} data bytes "
        f"after the {header.size}-byte header, but the {content.where} has "
        f"{n_found}."
    )
    record = header.record_bytes
    if len(header.shape) > 1 and record and n_found < header.n_bytes:
        message += (
            f" It ends in record {n_found // record} of {header.shape[0]} "
            f"(records are {record} bytes from byte {header.size})."
        )
    return ValueError(message)


def _read(path, into_memory):
    """Parse and verify the IDX file ``path``: its header, its size, its gzip
    trailers; with ``into_memory``, also return the data."""
    with Content(path) as content:
        offset = 0  # content bytes read so far, for the messages
        try:
            header = read_header(content)
            offset = header.size
            if not content.gzip and content.size - header.size != header.n_bytes:
                # Known before reading: never allocate for a header that lies.
                raise _size_error(content, header, content.size - header.size)
            if not (content.gzip or into_memory):
                return header, None  # a raw file's size is all there is to check
            data = None
            if into_memory and header.n_bytes <= content.most_bytes():
                try:
                    data = np.empty(header.shape, dtype=header.dtype)
                except (ValueError, MemoryError):
                    data = None  # counted below: a size error, or re-raised
            if data is not None:
                # Read straight into the result (no intermediate bytes object).
                n_read, failure = read_into(
                    content.file, data.reshape(-1).view(np.uint8)
                )
            else:
                # The data the header promises first, then the rest: a failed
                # check is then placed as exactly as when the data are kept.
                n_read, failure = skip(content.file, header.n_bytes)
            if failure is None:
                # To the end: the gzip trailers are checked, the length counted.
                n_rest, failure = drain(content.file)
                n_read += n_rest
            offset += n_read
            if failure is not None:
                raise failure
        except STREAM_ERRORS as exc:
            raise content.corrupt(exc, offset) from None
    if n_read != header.n_bytes:
        raise _size_error(content, header, n_read)
    if into_memory and data is None:
        data = np.empty(header.shape, dtype=header.dtype)  # raises MemoryError
    return header, data


def verify_idx(path):
    """Check an IDX file whole without keeping its data; return its header.

    Raises the ValueError :func:`load_idx` would raise for the same file.
    """
    return _read(path, into_memory=False)[0]


def load_idx(path, *, transpose=False):
    """Read an IDX file (MNIST/EMNIST format), gzip-compressed or raw.

    Parameters
    ----------
    path : str or path-like
        The file. It is read as gzip when its first two bytes are 1f 8b,
        whatever its name.
    transpose : bool, default=False
        Swap the rows and columns of each image of a 3-D file: EMNIST's IDX
        files store the images transposed, ``transpose=True`` reads them
        upright.

    Returns
    -------
    array : ndarray
        A writable array in native byte order, of the shape the header gives
        and of dtype uint8, int8, int16, int32, float32 or float64 for the type
        codes 0x08, 0x09, 0x0B, 0x0C, 0x0D and 0x0E.

    Raises
    ------
    ValueError
        When the file is not IDX (the first two bytes are not zero), has an
        unsupported type code, is shorter or longer than its header says, or is
        a corrupt gzip stream (a CRC-32 or length that does not match, checked
        at the end of every member). The message names the file and the byte
        offsets. A header is checked against the file's size before anything
        is allocated.

    See Also
    --------
    save_idx : Write an array as an IDX file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from mtclassic.datasets import load_idx, save_idx
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "labels-idx1-ubyte.gz")
    ...     save_idx(path, np.array([5, 0, 4], dtype=np.uint8))
    ...     load_idx(path)
    array([5, 0, 4], dtype=uint8)
    """
    header, data = _read(path, into_memory=True)
    if not header.dtype.isnative:
        # Swap in place and relabel, instead of astype's second array.
        data = data.byteswap(inplace=True).view(header.dtype.newbyteorder("="))
    if transpose:
        if data.ndim != 3:
            raise ValueError(
                f"{os.path.basename(os.fspath(path))}: transpose=True swaps the "
                "rows and columns of images (n, height, width); the file holds "
                f"shape {data.shape}."
            )
        data = orient(data, True, path)
    return data


def save_idx(path, array):
    """Write an array as an IDX file (MNIST/EMNIST format).

    The file is written to a temporary file in the same folder and renamed into
    place, so ``path`` never holds a half-written file.

    Parameters
    ----------
    path : str or path-like
        The file. It is gzip-compressed when the name ends in ``.gz``.
    array : array-like
        At least one dimension, each at most 2**32 - 1, and of dtype uint8,
        int8, int16, int32, float32 or float64 (any byte order). Other dtypes
        are refused rather than converted; cast them first.

    Raises
    ------
    ValueError
        For a 0-d array, a dimension too large for IDX, or a dtype IDX cannot
        hold.

    See Also
    --------
    load_idx : Read an IDX file.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from mtclassic.datasets import load_idx, save_idx
    >>> images = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "images-idx3-ubyte")
    ...     save_idx(path, images)
    ...     os.path.getsize(path)  # 16-byte header + 24 values
    ...     np.array_equal(load_idx(path), images)
    40
    True
    """
    path = os.fspath(path)
    array = np.asarray(array)
    code = _DTYPE_TO_CODE.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(
            f"save_idx cannot store dtype {array.dtype}: IDX holds only uint8, int8, "
            "int16, int32, float32 and float64. Convert the array first, e.g. "
            "array.astype(np.int32)."
        )
    if array.ndim == 0:
        raise ValueError(
            "save_idx needs an array with at least 1 dimension; got a 0-d array "
            "(a scalar). Wrap it, e.g. np.atleast_1d(value)."
        )
    if max(array.shape) > _MAX_DIM:
        raise ValueError(
            f"save_idx cannot store shape {array.shape}: IDX dimensions are at most "
            f"{_MAX_DIM}."
        )
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    big_endian = _CODE_TO_DTYPE[code]
    flat = array.reshape(-1)  # a view when the array is contiguous
    step = max(1, _IO_CHUNK_BYTES // big_endian.itemsize)
    with atomic_writer(path) as out:
        file = (
            gzip.GzipFile(fileobj=out, mode="wb", compresslevel=_GZIP_LEVEL, mtime=0)
            if path.lower().endswith(".gz")
            else out
        )
        with file:
            file.write(header)
            for start in range(0, flat.size, step):
                chunk = np.ascontiguousarray(flat[start : start + step], big_endian)
                file.write(memoryview(chunk.view(np.uint8)))
