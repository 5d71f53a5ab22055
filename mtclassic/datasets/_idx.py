"""Read and write IDX files, the format of MNIST and EMNIST.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order,
big-endian. Files may be gzip-compressed; they are recognised by their first
two bytes (1f 8b), not by their name.
"""

import gzip
import os
import struct
import zlib

import numpy as np

from ._base import atomic_writer

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
_GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**32 - 1
# Bytes read, or converted and written, at a time: bounds the extra memory.
_IO_CHUNK_BYTES = 1 << 24
# gzip's own default (9) is several times slower for little gain on images.
_GZIP_LEVEL = 6


def _read_fully(file, buffer):
    """Fill the contiguous array ``buffer`` from ``file``; return how many bytes were read before EOF."""
    view = memoryview(buffer.reshape(-1).view(np.uint8))  # 1-D, even if empty
    filled = 0
    while filled < len(view):
        # Bounded slices: gzip's readinto builds a bytes object of the request.
        n_read = file.readinto(view[filled : filled + _IO_CHUNK_BYTES])
        if not n_read:
            break
        filled += n_read
    return filled


def _count_rest(file):
    """Count the bytes left in ``file`` (reading them in chunks)."""
    count = 0
    while chunk := file.read(1 << 20):
        count += len(chunk)
    return count


def _size_error(name, where, shape, dtype, header_size, n_bytes, n_found):
    dims = "x".join(map(str, shape))
    return ValueError(
        f"{name}: IDX header says {dims} {dtype.newbyteorder('=').name} = "
        f"{n_bytes} data bytes after the {header_size}-byte header, but the "
        f"{where} has {n_found}."
    )


def _read_idx(file, name, file_size=None):
    """Parse an open IDX stream; ``file_size`` is None for a decompressed one."""
    where = "file" if file_size is not None else "decompressed file"
    magic = file.read(4)
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
    dims_bytes = file.read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise ValueError(
            f"{name}: IDX header says {ndim} dimensions, i.e. a {header_size}-byte "
            f"header, but the {where} has only {4 + len(dims_bytes)} bytes."
        )
    shape = struct.unpack(f">{ndim}I", dims_bytes)
    dtype = _CODE_TO_DTYPE[code]
    n_bytes = dtype.itemsize * int(np.prod(shape, dtype=object))
    if file_size is not None and file_size - header_size != n_bytes:
        # Known before reading: never allocate for a header that lies.
        raise _size_error(
            name, where, shape, dtype, header_size, n_bytes, file_size - header_size
        )
    try:
        data = np.empty(shape, dtype=dtype)
    except (ValueError, MemoryError):
        n_found = _count_rest(file)
        if n_found == n_bytes:
            raise
        raise _size_error(
            name, where, shape, dtype, header_size, n_bytes, n_found
        ) from None
    # Read straight into the result (no intermediate bytes object).
    n_read = _read_fully(file, data)
    n_found = n_read if n_read < n_bytes else n_bytes + _count_rest(file)
    if n_found != n_bytes:
        raise _size_error(name, where, shape, dtype, header_size, n_bytes, n_found)
    if not dtype.isnative:
        # Swap in place and relabel, instead of astype's second array.
        data = data.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return data


def load_idx(path):
    """Read an IDX file (MNIST/EMNIST format), gzip-compressed or raw.

    Parameters
    ----------
    path : str or path-like
        The file. It is read as gzip when its first two bytes are 1f 8b,
        whatever its name.

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
        a corrupt gzip stream. The message names the file and the byte counts.

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
    path = os.fspath(path)
    name = os.path.basename(path)
    with open(path, "rb") as raw:
        file_size = os.fstat(raw.fileno()).st_size
        if raw.read(2) != _GZIP_MAGIC:
            raw.seek(0)
            return _read_idx(raw, name, file_size)
        raw.seek(0)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as file:
                return _read_idx(file, name)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise ValueError(
                f"{name}: corrupt gzip stream ({exc}); the compressed file has "
                f"{file_size} bytes."
            ) from None


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
