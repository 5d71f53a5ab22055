"""Open a file for its content, gzip or raw, and read it in bounded, checked steps.

A gzip stream is recognised by its first two bytes (1f 8b), not by its name.
Python's gzip module checks each member's CRC-32 and length only when a read
reaches the member's trailer, so a reader that stops at the last byte it needs
never learns that the data were corrupt: :func:`drain` reads to the end, and
every reader here calls it before trusting what it read.
"""

import gzip
import os
import zipfile
import zlib

GZIP_MAGIC = b"\x1f\x8b"
# What a corrupt or truncated stream raises (gzip.BadGzipFile is an OSError).
STREAM_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile)
# Bytes read at a time: a gzip readinto builds a bytes object of the request.
READ_BLOCK = 1 << 20
# Deflate cannot expand data more than 1032-fold (a 258-byte match coded in
# 2 bits), so a gzip file of c bytes never holds more than about 1032 * c bytes:
# a bound on what a header may claim, known before decompressing anything.
MAX_GZIP_RATIO = 1032


class Content:
    """An open file's content: ``file`` reads it (decompressed when gzip)."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.name = os.path.basename(self.path)
        self.raw = open(self.path, "rb")
        try:
            self.size = os.fstat(self.raw.fileno()).st_size
            self.gzip = self.raw.read(2) == GZIP_MAGIC
            self.raw.seek(0)
            self.file = gzip.GzipFile(fileobj=self.raw) if self.gzip else self.raw
        except BaseException:
            self.raw.close()
            raise
        # What the messages call the stream the offsets count in.
        self.where = "decompressed file" if self.gzip else "file"

    def most_bytes(self):
        """The most content bytes the file can hold."""
        return self.size * MAX_GZIP_RATIO if self.gzip else self.size

    def corrupt(self, exc, offset):
        """The ValueError for a stream that failed after ``offset`` content bytes."""
        if not self.gzip:
            return ValueError(f"{self.name}: read error after {offset} bytes ({exc}).")
        return ValueError(
            f"{self.name}: corrupt gzip stream ({exc}); the compressed file has "
            f"{self.size} bytes. The error came after {offset} decompressed bytes, "
            f"within the first {self.raw.tell()} bytes of the compressed file."
        )

    # A file-like face, for the chunked readers.
    def read(self, size=-1):
        return self.file.read(size)

    def readinto(self, buffer):
        return self.file.readinto(buffer)

    def seek(self, offset):
        return self.file.seek(offset)

    def close(self):
        if self.file is not self.raw:
            self.file.close()  # a GzipFile never closes the file it was given
        self.raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def read_into(file, buffer):
    """Fill the writable ``buffer`` from ``file``; return the bytes read and
    the stream error that stopped the reading early (or None)."""
    view = memoryview(buffer).cast("B")
    filled = 0
    try:
        while filled < len(view):
            n_read = file.readinto(view[filled : filled + READ_BLOCK])
            if not n_read:
                break
            filled += n_read
    except STREAM_ERRORS as exc:
        return filled, exc
    return filled, None


def skip(file, n_bytes):
    """Read and discard ``n_bytes`` of ``file``; return the bytes read and the
    stream error that stopped the reading early (or None)."""
    scratch = bytearray(min(n_bytes, READ_BLOCK))
    skipped = 0
    while skipped < n_bytes:
        want = min(len(scratch), n_bytes - skipped)
        n_read, failure = read_into(file, memoryview(scratch)[:want])
        skipped += n_read
        if failure is not None or n_read < want:  # a stream error, or the end
            return skipped, failure
    return skipped, None


def drain(file):
    """Read ``file`` to its end, checking each gzip trailer; return the bytes
    read and the stream error that stopped the reading early (or None)."""
    count = 0
    try:
        while chunk := file.read(READ_BLOCK):
            count += len(chunk)
    except STREAM_ERRORS as exc:
        return count, exc
    return count, None
