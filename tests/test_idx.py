"""Tests of load_idx / save_idx (the MNIST/EMNIST IDX format)."""

import gzip
import os
import re
import struct
import tempfile

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mtclassic.datasets import load_idx, save_idx
from mtclassic.io import _idx, _streams


def _write(path, data, compress=False):
    with (gzip.open if compress else open)(path, "wb") as f:
        f.write(data)
    return path


def _header(code, *shape):
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)


def _roundtrip(array, compress):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a-idx.gz" if compress else "a-idx")
        save_idx(path, array)
        with open(path, "rb") as f:
            assert (f.read(2) == b"\x1f\x8b") == compress
        return load_idx(path), sorted(os.listdir(tmp))


@settings(max_examples=60, deadline=None)
@given(
    array=hnp.arrays(
        np.uint8, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5)
    ),
    compress=st.booleans(),
)
def test_roundtrip_any_uint8_array(array, compress):
    loaded, files = _roundtrip(array, compress)
    assert files == ["a-idx.gz" if compress else "a-idx"]  # no temp file left
    assert loaded.dtype == np.uint8
    assert loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)


_OTHER_DTYPES = [
    np.dtype(f"{order}{kind}")
    for kind in ("i1", "i2", "i4", "f4", "f8")
    for order in "<>"
]


@settings(max_examples=60, deadline=None)
@given(
    array=st.sampled_from(_OTHER_DTYPES).flatmap(
        lambda dtype: hnp.arrays(
            dtype, hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)
        )
    ),
    compress=st.booleans(),
)
def test_roundtrip_other_dtypes_bit_exact(array, compress):
    loaded, _ = _roundtrip(array, compress)
    assert loaded.dtype == array.dtype.newbyteorder("=")
    assert loaded.dtype.isnative
    assert loaded.shape == array.shape
    # Bitwise, so that NaN payloads and -0.0 count too.
    assert loaded.tobytes() == array.astype(loaded.dtype).tobytes()


def test_roundtrip_non_contiguous_and_fortran(tmp_path):
    base = np.arange(60, dtype=np.int16).reshape(3, 4, 5)
    for array in (base[:, ::2, 1:], np.asfortranarray(base), base.T):
        save_idx(tmp_path / "x", array)
        np.testing.assert_array_equal(load_idx(tmp_path / "x"), array)


def test_save_writes_exact_big_endian_bytes(tmp_path):
    save_idx(tmp_path / "u8", np.array([1, 2, 3], dtype=np.uint8))
    assert (tmp_path / "u8").read_bytes() == bytes.fromhex("00000801 00000003 010203")
    save_idx(tmp_path / "i16", np.array([[1, -2]], dtype="<i2"))
    assert (tmp_path / "i16").read_bytes() == bytes.fromhex(
        "00000b02 00000001 00000002 0001 fffe"
    )


def test_load_writable_native_array(tmp_path):
    _write(tmp_path / "f", _header(0x0C, 2) + struct.pack(">2i", 7, -9))
    array = load_idx(tmp_path / "f")
    assert array.dtype == np.int32 and array.dtype.isnative
    assert array.flags.writeable and array.flags.c_contiguous
    np.testing.assert_array_equal(array, [7, -9])


def test_gzip_is_detected_by_magic_bytes_not_name(tmp_path):
    data = _header(0x08, 2, 2) + bytes([1, 2, 3, 4])
    expected = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    # gzip content under a plain name, and raw content under a .gz name
    np.testing.assert_array_equal(
        load_idx(_write(tmp_path / "a", data, True)), expected
    )
    np.testing.assert_array_equal(load_idx(_write(tmp_path / "b.gz", data)), expected)


def test_save_gzip_by_extension_case_insensitive(tmp_path):
    save_idx(tmp_path / "x.GZ", np.zeros(3, np.uint8))
    assert (tmp_path / "x.GZ").read_bytes()[:2] == b"\x1f\x8b"


def test_load_high_ndim(tmp_path):
    array = np.arange(2, dtype=np.float32).reshape((1,) * 40 + (2,))
    save_idx(tmp_path / "x", array)
    assert load_idx(tmp_path / "x").shape == array.shape


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data_names_file_and_byte_counts(tmp_path, compress):
    where = "decompressed file" if compress else "file"
    path = _write(
        tmp_path / "t10k.gz", _header(0x08, 10, 28, 28) + bytes(7830), compress
    )
    with pytest.raises(
        ValueError,
        match=re.escape(
            "t10k.gz: IDX header says 10x28x28 uint8 = 7840 data bytes after the "
            f"16-byte header, but the {where} has 7830."
        ),
    ):
        load_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_over_long_data_is_an_error_not_a_silent_reshape(tmp_path, compress):
    where = "decompressed file" if compress else "file"
    path = _write(tmp_path / "x", _header(0x0B, 3) + bytes(7), compress)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "x: IDX header says 3 int16 = 6 data bytes after the 8-byte header, "
            f"but the {where} has 7."
        ),
    ):
        load_idx(path)


def test_absurd_header_in_gzip_gives_size_error(tmp_path):
    big = 2**32 - 1
    path = _write(tmp_path / "x", _header(0x0E, big, big, big) + bytes(8), True)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"x: IDX header says {big}x{big}x{big} float64 = {8 * big**3} data bytes "
            "after the 16-byte header, but the decompressed file has 8."
        ),
    ):
        load_idx(path)


@pytest.mark.parametrize(
    "content, message",
    [
        (
            b"\x89PNG\r\n\x1a\n",
            "not an IDX file: bytes 0-1 must be 00 00, found 89 50.",
        ),
        (
            _header(0x0A, 1) + b"\x00",
            "unsupported IDX type code 0x0A at byte 2; expected one of 0x08 (uint8), "
            "0x09 (int8), 0x0B (int16), 0x0C (int32), 0x0D (float32), 0x0E (float64).",
        ),
        (
            b"\x00\x00\x08\x00",
            "IDX header says 0 dimensions at byte 3; expected 1 to 255.",
        ),
        (
            b"\x00\x00",
            "not an IDX file: the file has 2 bytes, fewer than the 4-byte magic number.",
        ),
    ],
    ids=["wrong-magic", "type-code", "zero-dims", "short"],
)
def test_bad_header(tmp_path, content, message):
    path = _write(tmp_path / "img.png", content)
    with pytest.raises(ValueError, match=re.escape(f"img.png: {message}")):
        load_idx(path)


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_header(tmp_path, compress):
    where = "decompressed file" if compress else "file"
    path = _write(tmp_path / "x", _header(0x08, 5, 5, 5)[:10], compress)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "x: IDX header says 3 dimensions, i.e. a 16-byte header, but the "
            f"{where} has only 10 bytes."
        ),
    ):
        load_idx(path)


def test_corrupt_gzip_stream(tmp_path):
    compressed = gzip.compress(_header(0x08, 1000) + bytes(range(256)) * 4)
    path = _write(tmp_path / "x.gz", compressed[:-12])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "x.gz: corrupt gzip stream (Compressed file ended before the "
            f"end-of-stream marker was reached); the compressed file has "
            f"{len(compressed) - 12} bytes."
        ),
    ):
        load_idx(path)


@pytest.mark.parametrize(
    "dtype", [np.int64, np.uint16, np.float16, np.bool_, np.complex64, object]
)
def test_save_rejects_dtypes_idx_cannot_hold(tmp_path, dtype):
    name = np.dtype(dtype).name
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"save_idx cannot store dtype {name}: IDX holds only uint8, int8, int16, "
            "int32, float32 and float64. Convert the array first, e.g. "
            "array.astype(np.int32)."
        ),
    ):
        save_idx(tmp_path / "x", np.zeros(2, dtype=dtype))
    assert os.listdir(tmp_path) == []


def test_save_rejects_scalar(tmp_path):
    with pytest.raises(
        ValueError,
        match=re.escape(
            "save_idx needs an array with at least 1 dimension; got a 0-d array "
            "(a scalar). Wrap it, e.g. np.atleast_1d(value)."
        ),
    ):
        save_idx(tmp_path / "x", np.uint8(3))


def test_save_rejects_dimension_too_large(tmp_path):
    huge = np.broadcast_to(np.uint8(0), (2**32,))  # no memory behind it
    with pytest.raises(
        ValueError,
        match=re.escape(
            "save_idx cannot store shape (4294967296,): IDX dimensions are at most "
            "4294967295."
        ),
    ):
        save_idx(tmp_path / "x", huge)


def test_failed_save_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "x.gz"
    save_idx(path, np.arange(4, dtype=np.uint8))
    old = path.read_bytes()
    calls = []

    def failing_write(self, data):
        calls.append(1)
        if len(calls) > 1:
            raise OSError("disk full")
        return original_write(self, data)

    original_write = gzip.GzipFile.write
    monkeypatch.setattr(gzip.GzipFile, "write", failing_write)
    monkeypatch.setattr(_idx, "_IO_CHUNK_BYTES", 2)
    with pytest.raises(OSError, match="^disk full$"):
        save_idx(path, np.arange(100, dtype=np.uint8))
    assert len(calls) == 2
    assert path.read_bytes() == old
    assert os.listdir(tmp_path) == ["x.gz"]


@pytest.mark.parametrize("name", ["x", "x.gz"])
def test_chunked_read(tmp_path, monkeypatch, name):
    array = np.arange(1001, dtype=np.float64)
    save_idx(tmp_path / name, array)
    monkeypatch.setattr(_streams, "READ_BLOCK", 3)  # slices cut values apart
    np.testing.assert_array_equal(load_idx(tmp_path / name), array)
    _write(tmp_path / "short", _header(0x0D, 5) + bytes(17), compress=True)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "short: IDX header says 5 float32 = 20 data bytes after the 8-byte "
            "header, but the decompressed file has 17."
        ),
    ):
        load_idx(tmp_path / "short")


def test_chunked_write_matches_single_write(tmp_path, monkeypatch):
    array = np.arange(1000, dtype=np.float64).reshape(10, 100)
    save_idx(tmp_path / "one", array)
    monkeypatch.setattr(_idx, "_IO_CHUNK_BYTES", 24)  # 3 values a chunk
    save_idx(tmp_path / "many", array)
    assert (tmp_path / "one").read_bytes() == (tmp_path / "many").read_bytes()
