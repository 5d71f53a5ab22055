"""Tests of fetch_emnist against a real HTTP server on 127.0.0.1.

The server serves a small zip built here with the layout of the official archive
(a few tiny transposed images, labels and mappings for 'letters' and 'digits').
"""

import hashlib
import http.server
import io
import os
import re
import socket
import struct
import threading
import zipfile

import numpy as np
import pytest

from mtclassic.datasets import _emnist, fetch_emnist, save_idx

# Upright test images: non-square, so that a missing or doubled transpose shows.
_RNG = np.random.default_rng(0)
_UPRIGHT = {
    ("letters", "train"): _RNG.integers(0, 256, (5, 6, 4), dtype=np.uint8),
    ("letters", "test"): _RNG.integers(0, 256, (3, 6, 4), dtype=np.uint8),
    ("digits", "train"): _RNG.integers(0, 256, (4, 6, 4), dtype=np.uint8),
    ("digits", "test"): _RNG.integers(0, 256, (2, 6, 4), dtype=np.uint8),
}
_LABELS = {
    ("letters", "train"): np.array([1, 26, 2, 1, 13], np.uint8),
    ("letters", "test"): np.array([3, 2, 1], np.uint8),
    ("digits", "train"): np.array([0, 9, 5, 5], np.uint8),
    ("digits", "test"): np.array([7, 0], np.uint8),
}
_MAPPINGS = {
    "letters": "".join(f"{i} {64 + i} {96 + i}\n" for i in range(1, 27)),
    "digits": "".join(f"{i} {48 + i}\n" for i in range(10)),
}


def _idx_bytes(array, tmp_path):
    path = tmp_path / "member.gz"
    save_idx(path, array)
    return path.read_bytes()


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("zip")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for (split, subset), upright in _UPRIGHT.items():
            stem = f"gzip/emnist-{split}-{subset}"
            stored = upright.transpose(0, 2, 1)  # EMNIST stores images transposed
            zf.writestr(f"{stem}-images-idx3-ubyte.gz", _idx_bytes(stored, tmp_path))
            labels = _idx_bytes(_LABELS[split, subset], tmp_path)
            zf.writestr(f"{stem}-labels-idx1-ubyte.gz", labels)
        for split, text in _MAPPINGS.items():
            zf.writestr(f"gzip/emnist-{split}-mapping.txt", text)
    return buffer.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        server = self.server
        server.requests.append(self.path)
        if self.path != "/gzip.zip":
            self.send_error(404, "Not Found")
            return
        body = server.body
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.mode == "ok":
            self.wfile.write(body)
        elif server.mode == "truncate":  # fewer bytes than announced, clean close
            self.wfile.write(body[:100])
            self.close_connection = True
        elif server.mode == "reset":  # some bytes, then a TCP reset
            self.wfile.write(body[:100])
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            # Close now: socketserver would send a FIN (shutdown) first.
            self.rfile.close()
            self.wfile.close()
            self.connection.close()
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(archive, monkeypatch):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.requests = []
    httpd.body = archive
    httpd.mode = "ok"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/gzip.zip"
    monkeypatch.setattr(_emnist, "EMNIST_URL", url)
    monkeypatch.setattr(_emnist, "EMNIST_MD5", hashlib.md5(archive).hexdigest())
    monkeypatch.setattr(_emnist, "DOWNLOAD_TIMEOUT", 5)
    monkeypatch.setattr(_emnist, "_CHUNK_SIZE", 64)  # many chunks per download
    try:
        yield httpd
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _manual(httpd, folder):
    return (
        f"To install it by hand, download {_emnist.EMNIST_URL} (MD5 "
        f"{_emnist.EMNIST_MD5}) and place it as 'gzip.zip' in {folder}."
    )


@pytest.mark.parametrize("split", ["letters", "digits"])
@pytest.mark.parametrize("subset", ["train", "test"])
def test_images_upright_and_labels_mapped(server, tmp_path, split, subset):
    bunch = fetch_emnist(split, subset, data_home=tmp_path)
    upright = _UPRIGHT[split, subset]
    np.testing.assert_array_equal(bunch.images, upright)
    assert bunch.images.dtype == np.uint8 and bunch.images.flags.c_contiguous
    np.testing.assert_array_equal(bunch.data, upright.reshape(len(upright), -1))
    assert np.shares_memory(bunch.data, bunch.images)
    codes = _LABELS[split, subset] + (64 if split == "letters" else 48)
    np.testing.assert_array_equal(bunch.target, [chr(c) for c in codes])
    assert bunch.target.dtype == np.dtype("<U1")
    expected_names = (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if split == "letters" else "0123456789"
    )
    assert "".join(bunch.target_names) == expected_names
    assert bunch.DESCR.startswith(f"EMNIST {split} ({subset} subset)")
    assert server.requests == ["/gzip.zip"]


def test_letters_use_upper_case_code(server, tmp_path):
    target = fetch_emnist("letters", "train", data_home=tmp_path).target
    assert list(target) == ["A", "Z", "B", "A", "M"]


def test_download_once_then_cache(server, tmp_path):
    fetch_emnist("letters", "train", data_home=tmp_path)
    folder = tmp_path / "emnist"
    assert sorted(os.listdir(folder)) == [
        "emnist-letters-mapping.txt",
        "emnist-letters-train-images-idx3-ubyte.gz",
        "emnist-letters-train-labels-idx1-ubyte.gz",
        "gzip.zip",
    ]
    assert (folder / "gzip.zip").read_bytes() == server.body
    # Other splits come from the cached archive, the same one from the extracts.
    fetch_emnist("digits", "test", data_home=tmp_path)
    fetch_emnist("letters", "train", data_home=tmp_path)
    (folder / "gzip.zip").unlink()
    X, y = fetch_emnist("letters", "train", data_home=tmp_path, return_X_y=True)
    assert server.requests == ["/gzip.zip"]
    assert X.shape == (5, 24) and list(y) == ["A", "Z", "B", "A", "M"]


def test_data_home_from_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("MTCLASSIC_DATA_HOME", str(tmp_path / "env"))
    fetch_emnist("digits", "test")
    assert (tmp_path / "env" / "emnist" / "gzip.zip").exists()


def test_bad_checksum_leaves_no_file(server, tmp_path, monkeypatch):
    monkeypatch.setattr(_emnist, "EMNIST_MD5", "0" * 32)
    folder = tmp_path / "emnist"
    with pytest.raises(
        OSError,
        match=re.escape(
            f"Downloaded {_emnist.EMNIST_URL} ({len(server.body)} bytes) has MD5 "
            f"{hashlib.md5(server.body).hexdigest()}, expected {'0' * 32}; it was "
            f"discarded. {_manual(server, folder)}"
        ),
    ):
        fetch_emnist("letters", data_home=tmp_path)
    assert os.listdir(folder) == []


def test_truncated_download_leaves_no_file(server, tmp_path):
    server.mode = "truncate"
    folder = tmp_path / "emnist"
    with pytest.raises(
        OSError,
        match=re.escape(
            f"Download of {_emnist.EMNIST_URL} ended after 100 of "
            f"{len(server.body)} bytes; nothing was cached. Call again to retry. "
            f"{_manual(server, folder)}"
        ),
    ):
        fetch_emnist("letters", data_home=tmp_path)
    assert os.listdir(folder) == []
    # A later call downloads again, completely.
    server.mode = "ok"
    assert len(fetch_emnist("letters", data_home=tmp_path).target) == 5
    assert len(server.requests) == 2


def test_connection_reset_leaves_no_file(server, tmp_path):
    server.mode = "reset"
    folder = tmp_path / "emnist"
    with pytest.raises(
        OSError,
        match=re.escape(f"Downloading {_emnist.EMNIST_URL} failed after ")
        + r"\d+ bytes \(\[Errno 104\] Connection reset by peer\); nothing was cached\. "
        + re.escape(_manual(server, folder)),
    ):
        fetch_emnist("letters", data_home=tmp_path)
    assert os.listdir(folder) == []


def test_interrupted_download_leaves_no_file(server, tmp_path, monkeypatch):
    folder = tmp_path / "emnist"
    real_urlopen = _emnist.urlopen
    seen_part_files = []

    def interrupting_urlopen(*args, **kwargs):
        response = real_urlopen(*args, **kwargs)
        real_read = response.read
        calls = []

        def read(*read_args):
            calls.append(1)
            if len(calls) == 3:
                seen_part_files.extend(
                    name for name in os.listdir(folder) if name.endswith(".part")
                )
                raise KeyboardInterrupt
            return real_read(*read_args)

        response.read = read
        return response

    monkeypatch.setattr(_emnist, "urlopen", interrupting_urlopen)
    with pytest.raises(KeyboardInterrupt):
        fetch_emnist("letters", data_home=tmp_path)
    assert len(seen_part_files) == 1  # it was streaming to a .part file
    assert os.listdir(folder) == []


def test_http_error(server, tmp_path, monkeypatch):
    url = _emnist.EMNIST_URL.replace("gzip.zip", "missing.zip")
    monkeypatch.setattr(_emnist, "EMNIST_URL", url)
    with pytest.raises(
        OSError,
        match=re.escape(
            f"Downloading {url} failed: HTTP 404 Not Found. "
            f"{_manual(server, tmp_path / 'emnist')}"
        ),
    ):
        fetch_emnist("digits", data_home=tmp_path)
    assert os.listdir(tmp_path / "emnist") == []


def test_unreachable_server(server, tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/gzip.zip"
    monkeypatch.setattr(_emnist, "EMNIST_URL", url)
    with pytest.raises(
        OSError,
        match=re.escape(
            f"Downloading {url} failed after 0 bytes (<urlopen error [Errno 111] "
            "Connection refused>); nothing was cached. "
            f"{_manual(server, tmp_path / 'emnist')}"
        ),
    ):
        fetch_emnist("digits", data_home=tmp_path)
    assert os.listdir(tmp_path / "emnist") == []


def test_no_download_with_empty_cache_says_what_to_place_where(server, tmp_path):
    folder = tmp_path / "emnist"
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"EMNIST 'digits' (test) is not in the cache and download_if_missing="
            f"False. Download {_emnist.EMNIST_URL} (MD5 {_emnist.EMNIST_MD5}) and "
            f"place it as 'gzip.zip' in {folder}, or pass download_if_missing=True."
        ),
    ):
        fetch_emnist("digits", "test", data_home=tmp_path, download_if_missing=False)
    assert server.requests == []


def test_no_download_uses_archive_placed_by_hand(server, tmp_path):
    (tmp_path / "emnist").mkdir()
    (tmp_path / "emnist" / "gzip.zip").write_bytes(server.body)
    bunch = fetch_emnist("digits", data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(bunch.images, _UPRIGHT["digits", "train"])
    assert server.requests == []


def test_cached_archive_with_wrong_checksum_is_reported(server, tmp_path):
    folder = tmp_path / "emnist"
    folder.mkdir()
    (folder / "gzip.zip").write_bytes(server.body[:-1])
    found = hashlib.md5(server.body[:-1]).hexdigest()
    with pytest.raises(
        OSError,
        match=re.escape(
            f"The cached {folder / 'gzip.zip'} has MD5 {found}, expected "
            f"{_emnist.EMNIST_MD5}: it is corrupt or not the official archive, so "
            f"it was not used. Delete it to download it again, or replace it with "
            f"{_emnist.EMNIST_URL}."
        ),
    ):
        fetch_emnist("letters", data_home=tmp_path)
    assert server.requests == []
    assert os.listdir(folder) == ["gzip.zip"]  # reported, left for the user


def test_split_missing_from_archive(server, tmp_path):
    archive = tmp_path / "emnist" / "gzip.zip"
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{archive}: the archive has no member "
            "'gzip/emnist-balanced-train-images-idx3-ubyte.gz'."
        ),
    ):
        fetch_emnist("balanced", data_home=tmp_path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"split": "Letters"},
            "split must be one of 'balanced', 'byclass', 'bymerge', 'digits', "
            "'letters', 'mnist'; got 'Letters'.",
        ),
        (
            {"split": "digits", "subset": "val"},
            "subset must be one of 'train', 'test'; got 'val'.",
        ),
    ],
)
def test_bad_split_or_subset(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        fetch_emnist(**kwargs, data_home=tmp_path)


# Extracted files placed in the cache directly: the checks on their contents.


def _place(tmp_path, images, labels, mapping="0 48\n1 49\n"):
    folder = tmp_path / "emnist"
    folder.mkdir(exist_ok=True)
    save_idx(folder / "emnist-mnist-test-images-idx3-ubyte.gz", images)
    save_idx(folder / "emnist-mnist-test-labels-idx1-ubyte.gz", labels)
    (folder / "emnist-mnist-mapping.txt").write_text(mapping)


@pytest.mark.parametrize(
    "images, labels, mapping, message",
    [
        (
            np.zeros((3, 2, 2), np.uint8),
            np.zeros(2, np.uint8),
            "0 48\n",
            "emnist-mnist-test-images-idx3-ubyte.gz holds 3 images but "
            "emnist-mnist-test-labels-idx1-ubyte.gz holds 2 labels.",
        ),
        (
            np.zeros((2, 2, 2), np.uint8),
            np.array([1, 2], np.uint8),
            "0 48\n1 49\n",
            "emnist-mnist-test-labels-idx1-ubyte.gz: label 2 of record 1 is not in "
            "emnist-mnist-mapping.txt.",
        ),
        (
            np.zeros((2, 4), np.uint8),
            np.zeros(2, np.uint8),
            "0 48\n",
            "emnist-mnist-test-images-idx3-ubyte.gz: expected uint8 images of shape "
            "(n, 28, 28); found uint8 of shape (2, 4).",
        ),
        (
            np.zeros((2, 2, 2), np.uint8),
            np.zeros((2, 1), np.uint8),
            "0 48\n",
            "emnist-mnist-test-labels-idx1-ubyte.gz: expected integer labels of "
            "shape (n,); found uint8 of shape (2, 1).",
        ),
        (
            np.zeros((1, 2, 2), np.uint8),
            np.zeros(1, np.uint8),
            "0 48\n\n1 x\n",
            "emnist-mnist-mapping.txt, line 3: expected 'label ascii_code', with a "
            "label >= 0 and a character code; found '1 x'.",
        ),
        (
            np.zeros((1, 2, 2), np.uint8),
            np.zeros(1, np.uint8),
            "0 48\n0 49\n",
            "emnist-mnist-mapping.txt, line 2: label 0 is mapped twice.",
        ),
        (
            np.zeros((1, 2, 2), np.uint8),
            np.zeros(1, np.uint8),
            "\n",
            "emnist-mnist-mapping.txt: the mapping file has no 'label ascii_code' "
            "lines.",
        ),
    ],
)
def test_inconsistent_cached_files(tmp_path, images, labels, mapping, message):
    _place(tmp_path, images, labels, mapping)
    with pytest.raises(ValueError, match=re.escape(message)):
        fetch_emnist("mnist", "test", data_home=tmp_path, download_if_missing=False)


def test_cached_files_used_without_archive(tmp_path):
    stored = np.arange(12, dtype=np.uint8).reshape(1, 3, 4)
    _place(tmp_path, stored, np.array([1], np.uint8))
    bunch = fetch_emnist("mnist", "test", data_home=tmp_path, download_if_missing=False)
    np.testing.assert_array_equal(bunch.images[0], stored[0].T)
    assert list(bunch.target) == ["1"] and list(bunch.target_names) == ["0", "1"]
