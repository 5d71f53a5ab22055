"""mtclassic.io: every reader verifies what it reads, the same way for every command.

Each test names the issue-14/13 finding it covers. The model is a tiny rule of
our own (the label is the brighter of two corners), so orientation and cropping
change the answer and the tests need no fitting.
"""

import csv
import gzip
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mtclassic.cli import main
from mtclassic.datasets import load_idx, load_image_folder, save_idx
from mtclassic.io import IMAGE_EXTENSIONS, open_inputs, read_labelled, verify_idx
from mtclassic.persistence import save_model
from mtclassic.scoring import score_files


class _Corner:
    """Label 'TR' when the top-right corner pixel is brighter than the
    bottom-left one, else 'BL'; takes (n, h, w) arrays or lists of 2-D arrays."""

    classes_ = np.array(["BL", "TR"])

    def predict_proba(self, X):
        if isinstance(X, np.ndarray) and X.ndim == 2:  # flat square rows
            side = int(np.sqrt(X.shape[1]))
            X = X.reshape(len(X), side, side)
        tr = np.array([float(image[0, -1]) for image in X])
        bl = np.array([float(image[-1, 0]) for image in X])
        p = (tr > bl).astype(float)
        return np.stack([1 - p, p], axis=1)


def _corner_images(n, seed=0, shape=(6, 9)):
    """Images whose label is their bright corner; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 50, (n, *shape)).astype(np.uint8)
    labels = np.where(rng.random(n) < 0.5, "TR", "BL")
    images[labels == "TR", 0, -1] = 255
    images[labels == "BL", -1, 0] = 255
    return images, labels


def _read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def _idx_bytes(header_shape, payload, code=0x08):
    head = bytes([0, 0, code, len(header_shape)])
    head += b"".join(int(d).to_bytes(4, "big") for d in header_shape)
    return head + payload


def _flipped_gzip(tmp_path, images):
    """A gzip IDX with one data byte flipped: it decompresses without a
    zlib error (stored blocks), so only the CRC-32 in the trailer can tell."""
    raw = _idx_bytes(images.shape, images.tobytes())
    compressed = bytearray(gzip.compress(raw, compresslevel=0, mtime=0))
    # 10-byte gzip header, 5-byte stored-block header, then the IDX bytes.
    at = 10 + 5 + len(raw) // 2
    assert compressed[at] == raw[len(raw) // 2]
    compressed[at] ^= 0x01
    path = tmp_path / "flipped-idx3-ubyte.gz"
    path.write_bytes(bytes(compressed))
    with open(path, "rb") as file, gzip.GzipFile(fileobj=file) as decompressed:
        head = decompressed.read(len(raw))  # read back: wrong, but no error yet
    assert head != raw
    return str(path)


# issue 14 item 2 ---------------------------------------------------------------


def test_flipped_byte_gzip_is_refused_by_score_and_load_idx(tmp_path):
    images, _ = _corner_images(300)
    path = _flipped_gzip(tmp_path, images)
    with pytest.raises(ValueError, match="CRC check failed") as refused:
        load_idx(path)
    summary = score_files(_Corner(), path, tmp_path / "out.csv", chunk_size=16)
    assert (summary.n_scored, summary.n_errors) == (0, 1)
    assert _read_csv(tmp_path / "out.csv") == []
    [row] = _read_csv(tmp_path / "out.errors.csv")
    # The same message as load_idx: file, reason and byte offsets.
    assert row == {"id": path, "reason": str(refused.value)}
    assert re.match(
        r"flipped-idx3-ubyte\.gz: corrupt gzip stream \(CRC check failed .*\); the "
        r"compressed file has \d+ bytes\. The error came after \d+ decompressed "
        r"bytes, within the first \d+ bytes of the compressed file\.$",
        row["reason"],
    )


def test_chunked_read_checks_the_trailer_of_a_file_changed_after_opening(tmp_path):
    images, _ = _corner_images(40)
    path = tmp_path / "x-idx3-ubyte.gz"
    save_idx(path, images)
    [source] = open_inputs([str(path)])
    np.testing.assert_array_equal(source.read(0, 20).images, images[:20])
    source.close()
    _flipped_gzip(tmp_path, images)
    os.replace(tmp_path / "flipped-idx3-ubyte.gz", path)
    chunk = source.read(20, 40)  # the last records: read on to the trailer
    source.close()
    assert chunk.ids == []
    assert len(chunk.errors) == 20
    assert "CRC check failed" in chunk.errors[0][1]


# issue 14 item 6 ---------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_lying_header_is_refused_before_any_row(tmp_path, compress):
    payload = bytes(10 * 784)  # 7.8 KB of data, 10 images
    content = _idx_bytes((2**31, 28, 28), payload)
    path = tmp_path / ("lie-idx3-ubyte" + (".gz" if compress else ""))
    path.write_bytes(gzip.compress(content) if compress else content)
    [source] = open_inputs([str(path)])
    assert source.n_records == 1  # one error row, not 2**31
    where = "decompressed file" if compress else "file"
    message = (
        f"{path.name}: IDX header says {2**31}x28x28 uint8 = {2**31 * 784} data "
        f"bytes after the 16-byte header, but the {where} has {len(payload)}. "
        f"It ends in record 10 of {2**31} (records are 784 bytes from byte 16)."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        verify_idx(path)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_idx(path)
    summary = score_files(_Corner(), str(path), tmp_path / "out.csv")
    assert (summary.n_records, summary.n_errors) == (1, 1)
    assert _read_csv(tmp_path / "out.errors.csv") == [
        {"id": str(path), "reason": message}
    ]
    written = sum(f.stat().st_size for f in tmp_path.iterdir() if f != path)
    assert written < 4096  # bounded: the header line and one row


# issue 14 item 7 (zero-size dims) ------------------------------------------------


def test_zero_size_images_are_refused_with_a_message(tmp_path):
    idx = tmp_path / "empty-idx3-ubyte"
    idx.write_bytes(_idx_bytes((5, 0, 0), b""))
    npy = str(tmp_path / "empty.npy")
    np.save(npy, np.zeros((4, 3, 0), dtype=np.uint8))
    good, _ = _corner_images(3)
    np.save(tmp_path / "good.npy", good)
    summary = score_files(
        _Corner(), [str(idx), npy, str(tmp_path / "good.npy")], tmp_path / "o.csv"
    )
    assert (summary.n_scored, summary.n_errors) == (3, 2)
    bad = {row["id"]: row["reason"] for row in _read_csv(tmp_path / "o.errors.csv")}
    assert bad == {
        str(idx): "the IDX header holds an array of shape (5, 0, 0): images of "
        "zero size; every image needs at least one pixel (height and width of 1 "
        "or more)",
        npy: "the file holds an array of shape (4, 3, 0): images of zero size; "
        "every image needs at least one pixel (height and width of 1 or more)",
    }
    labels = tmp_path / "labels-idx1-ubyte"
    save_idx(labels, np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match=r"empty-idx3-ubyte: the IDX file holds "):
        read_labelled([idx, labels])


# issue 14 item 9 ---------------------------------------------------------------


def _folder_with_loops(tmp_path):
    root = tmp_path / "data"
    for label, (image, _) in (("A", _corner_images(1)), ("B", _corner_images(1, 1))):
        (root / label).mkdir(parents=True)
        Image.fromarray(image[0]).save(root / label / "1.png")
    (root / "loop").symlink_to(root / "loop")  # top level: unresolvable
    (root / "A" / "self.png").symlink_to(root / "A" / "self.png")
    (root / "B" / "other").symlink_to(root / "B" / "other")  # no image name
    return root


def test_symlink_loops_are_skipped_and_reported(tmp_path):
    root = _folder_with_loops(tmp_path)
    with pytest.warns(UserWarning, match="load_image_folder skipped 2 of 4 image"):
        data = load_image_folder(root, on_error="skip")
    assert [Path(f).relative_to(root).as_posix() for f in data.filenames] == [
        "A/1.png",
        "B/1.png",
    ]
    assert [Path(f).name for f, _ in data.skipped] == ["loop", "self.png"]
    assert all("Too many levels of symbolic links" in r for _, r in data.skipped)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(root / 'loop'))}: cannot"):
        load_image_folder(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert read_labelled(str(root)).target.tolist() == ["A", "B"]


def test_symlink_loops_in_score_inputs_are_error_rows(tmp_path):
    root = _folder_with_loops(tmp_path)
    summary = score_files(
        _Corner(), [str(root), str(root / "loop")], tmp_path / "o.csv"
    )
    assert (summary.n_scored, summary.n_errors) == (2, 2)
    bad = [row["id"] for row in _read_csv(tmp_path / "o.errors.csv")]
    assert bad == [str(root / "A" / "self.png"), str(root / "loop")]


# issue 13 items 5 and 6 ------------------------------------------------------


def test_npz_sizes_crop_padded_images_in_every_reader(tmp_path):
    crops, labels = [], []
    for i, (h, w) in enumerate([(3, 4), (5, 2), (6, 9), (2, 2)]):
        image, label = _corner_images(1, seed=i, shape=(h, w))
        crops.append(image[0])
        labels.append(label[0])
    padded = np.zeros((4, 6, 9), dtype=np.uint8)  # the padding hides the corners
    for i, image in enumerate(crops):
        padded[i, : image.shape[0], : image.shape[1]] = image
    sizes = np.array([image.shape for image in crops], dtype=np.int16)
    path = tmp_path / "crops.npz"
    np.savez_compressed(path, images=padded, labels=labels, sizes=sizes)

    data = read_labelled(path)
    assert [image.shape for image in data.images] == [tuple(s) for s in sizes]
    for got, want in zip(data.images, crops, strict=True):
        np.testing.assert_array_equal(got, want)
    [source] = open_inputs([str(path)])
    chunk = source.read(1, 4)
    source.close()
    for got, want in zip(chunk.images, crops[1:], strict=True):
        np.testing.assert_array_equal(got, want)
    score_files(_Corner(), str(path), tmp_path / "o.csv", chunk_size=3)
    assert [row["label"] for row in _read_csv(tmp_path / "o.csv")] == labels
    # What the padded images would give: the tests above can fail.
    assert _Corner().predict_proba(padded)[:, 1].tolist() != [
        float(label == "TR") for label in labels
    ]

    sizes[2] = (7, 1)
    np.savez(path, images=padded, labels=labels, sizes=sizes)
    message = (
        "crops.npz: sizes[2] = (7, 1), the size of record 2, is not within 1x1 to "
        "the padded size 6x9; 1 record(s) have such sizes."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        read_labelled(path)
    [source] = open_inputs([str(path)])
    assert source.read(0, 1).errors[0][1].endswith(message)


def test_one_list_of_image_types_for_every_reader(tmp_path):
    image, _ = _corner_images(1)
    (tmp_path / "A").mkdir()
    for i, extension in enumerate(sorted(IMAGE_EXTENSIONS - {".jpg", ".jpeg"})):
        kind = {".pbm": "1", ".ppm": "RGB"}.get(extension, "L")
        Image.fromarray(image[0]).convert(kind).save(tmp_path / "A" / f"{i}{extension}")
    files = sorted(os.listdir(tmp_path / "A"))
    assert len(files) == len(IMAGE_EXTENSIONS) - 2
    data = load_image_folder(tmp_path)
    [source] = open_inputs([str(tmp_path)])
    assert sorted(map(os.path.basename, data.filenames)) == files
    assert sorted(map(os.path.basename, source.paths)) == files


# issue 13 item 6 (EMNIST orientation) ----------------------------------------


def test_transpose_reads_transposed_files_upright(tmp_path):
    images, labels = _corner_images(30, shape=(7, 7))
    stored = np.ascontiguousarray(images.transpose(0, 2, 1))  # as EMNIST stores
    idx = tmp_path / "emnist-like-idx3-ubyte.gz"
    save_idx(idx, stored)
    np.testing.assert_array_equal(load_idx(idx, transpose=True), images)
    save_idx(tmp_path / "labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="transpose=True swaps the rows and columns"):
        load_idx(tmp_path / "labels-idx1-ubyte", transpose=True)
    flat = tmp_path / "flat.npy"
    np.save(flat, stored.reshape(30, -1))
    for path in (idx, flat):
        as_stored = score_files(_Corner(), str(path), tmp_path / "a.csv")
        assert as_stored.n_scored == 30
        wrong = [row["label"] for row in _read_csv(tmp_path / "a.csv")]
        score_files(_Corner(), str(path), tmp_path / "b.csv", transpose=True)
        upright = [row["label"] for row in _read_csv(tmp_path / "b.csv")]
        assert upright == labels.tolist()
        assert wrong != upright
    codes = tmp_path / "labels.gz"
    save_idx(codes, (labels == "TR").astype(np.uint8))
    data = read_labelled([idx, codes], transpose=True, idx_label_names="BT")
    np.testing.assert_array_equal(data.images, images)
    folder = tmp_path / "pngs"
    (folder / "x").mkdir(parents=True)
    Image.fromarray(stored[0]).save(folder / "x" / "0.png")
    np.testing.assert_array_equal(
        load_image_folder(folder, transpose=True).images[0], images[0]
    )
    np.save(tmp_path / "odd.npy", np.zeros((2, 6), np.uint8))
    [source] = open_inputs([str(tmp_path / "odd.npy")], transpose=True)
    assert source.read(0, 1).errors[0][1] == (
        "the file holds flat rows of 6 values, not square images, so they cannot "
        "be transposed"
    )


def test_cli_transpose_on_score(tmp_path, capsys):
    images, labels = _corner_images(12, shape=(5, 5))
    idx = tmp_path / "t-idx3-ubyte"
    save_idx(idx, np.ascontiguousarray(images.transpose(0, 2, 1)))
    save_model(_Corner(), tmp_path / "m.joblib")
    out = tmp_path / "s.csv"
    argv = ["score", str(tmp_path / "m.joblib"), str(idx), "--out", str(out), "--quiet"]
    assert main([*argv, "--transpose"]) == 0
    assert [row["label"] for row in _read_csv(out)] == labels.tolist()
    for command in ("score", "evaluate", "train"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--transpose" in capsys.readouterr().out
