"""Tests of load_image_folder."""

import re
import warnings

import numpy as np
import pytest
from PIL import Image

from mtclassic.datasets import load_image_folder


def _save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def _grey(h, w, value):
    return np.full((h, w), value, dtype=np.uint8)


def test_layout_order_and_ignored_files(tmp_path):
    _save(tmp_path / "B" / "b.png", _grey(2, 3, 10))
    _save(tmp_path / "B" / "a.BMP", _grey(4, 1, 20))
    _save(tmp_path / "7" / "x.Jpeg", _grey(8, 8, 0), quality=100)
    _save(tmp_path / "7" / "10.jpg", _grey(5, 6, 255), quality=100)
    _save(tmp_path / "7" / "2.PNG", _grey(1, 1, 30))
    # ignored: other extensions, hidden files and folders, top-level files,
    # nested folders
    (tmp_path / "7" / "notes.txt").write_text("not an image")
    _save(tmp_path / "7" / ".hidden.png", _grey(1, 1, 0))
    _save(tmp_path / ".thumbs" / "t.png", _grey(1, 1, 0))
    _save(tmp_path / "top.png", _grey(1, 1, 0))
    _save(tmp_path / "B" / "nested" / "n.png", _grey(1, 1, 0))
    (tmp_path / "7" / "x.svg").write_text("<svg/>")  # not a type Pillow reads

    data = load_image_folder(tmp_path)
    assert list(data.target) == ["7", "7", "7", "B", "B"]
    names = [p.replace(str(tmp_path), "") for p in data.filenames]
    assert names == ["/7/10.jpg", "/7/2.PNG", "/7/x.Jpeg", "/B/a.BMP", "/B/b.png"]
    assert [image.shape for image in data.images] == [
        (5, 6),
        (1, 1),
        (8, 8),
        (4, 1),
        (2, 3),
    ]
    assert all(image.dtype == np.uint8 for image in data.images)
    assert data.images[1][0, 0] == 30 and data.images[3][0, 0] == 20
    assert np.abs(data.images[0].astype(int) - 255).max() <= 2  # JPEG is lossy
    assert list(data.target_names) == ["7", "B"]
    assert data.target.dtype.kind == "U" and data.filenames.dtype.kind == "U"
    assert data.skipped == []
    assert data.DESCR == f"5 images in 2 classes from the image folder {tmp_path}."

    images, target = load_image_folder(tmp_path, return_X_y=True)
    assert [i.tolist() for i in images] == [i.tolist() for i in data.images]
    np.testing.assert_array_equal(target, data.target)


def test_colour_modes_become_8_bit_grey(tmp_path):
    rgb = np.zeros((1, 3, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[0, 1] = (0, 255, 0)
    rgb[0, 2] = (255, 255, 255)
    _save(tmp_path / "c" / "rgb.png", rgb)
    rgba = np.zeros((1, 3, 4), np.uint8)
    rgba[0, 1] = (0, 0, 0, 255)  # opaque black ink
    rgba[0, 2] = (0, 0, 0, 128)  # half transparent black
    _save(tmp_path / "c" / "rgba.png", rgba)  # pixel 0: fully transparent
    palette = Image.fromarray(rgb).convert("P")
    palette.save(tmp_path / "c" / "palette.png")
    deep = np.array([[0, 32768, 65535]], dtype=np.uint16)
    _save(tmp_path / "c" / "sixteen.png", deep)
    _save(tmp_path / "c" / "bilevel.bmp", np.array([[True, False, True]]))  # mode 1
    la = np.array([[[0, 0], [0, 255], [200, 255]]], np.uint8)
    _save(tmp_path / "c" / "la.png", la)  # mode LA

    data = load_image_folder(tmp_path)
    by_name = {
        name.rsplit("/", 1)[1]: image
        for name, image in zip(data.filenames, data.images, strict=True)
    }
    luma = [76, 150, 255]  # ITU-R 601-2: R 0.299, G 0.587, B 0.114
    assert by_name["rgb.png"].tolist() == [luma]
    assert by_name["palette.png"].tolist() == [luma]
    assert by_name["rgba.png"].tolist() == [[255, 0, 127]]  # transparent = paper
    assert by_name["la.png"].tolist() == [[255, 0, 200]]
    assert by_name["sixteen.png"].tolist() == [[0, 128, 255]]  # rescaled, not clipped
    assert by_name["bilevel.bmp"].tolist() == [[255, 0, 255]]


def test_palette_transparency_is_paper(tmp_path):
    image = Image.fromarray(np.array([[0, 1]], np.uint8), "P")
    image.putpalette([0, 0, 0, 30, 30, 30])
    image.save(tmp_path / "p.png", transparency=0)
    (tmp_path / "k").mkdir()
    (tmp_path / "p.png").rename(tmp_path / "k" / "p.png")
    assert load_image_folder(tmp_path).images[0].tolist() == [[255, 30]]


def test_exif_orientation_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored image must be rotated 90 degrees clockwise
    pixels = np.arange(6, dtype=np.uint8).reshape(2, 3)
    _save(tmp_path / "k" / "r.png", pixels, exif=exif)
    np.testing.assert_array_equal(
        load_image_folder(tmp_path).images[0], np.rot90(pixels, -1)
    )


def _corrupt(tmp_path):
    _save(tmp_path / "a" / "good.png", _grey(2, 2, 9))
    bad = tmp_path / "a" / "bad.png"
    bad.write_bytes(b"this is not a png")
    return bad


def test_corrupt_file_raises_naming_file_and_reason(tmp_path):
    bad = _corrupt(tmp_path)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"{bad}: cannot read the image (UnidentifiedImageError: cannot identify "
            f"image file '{bad}')."
        ),
    ):
        load_image_folder(tmp_path)


def test_truncated_file_raises(tmp_path):
    good = _save(
        tmp_path / "a" / "t.png", np.arange(4096, dtype=np.uint8).reshape(64, 64)
    )
    good.write_bytes(good.read_bytes()[:-40])
    with pytest.raises(
        ValueError,
        match=rf"^{re.escape(str(good))}: cannot read the image \(\w+: .+\)\.$",
    ):
        load_image_folder(tmp_path)


def test_corrupt_file_skipped_with_warning(tmp_path):
    bad = _corrupt(tmp_path)
    _save(tmp_path / "b" / "ok.bmp", _grey(1, 2, 3))
    reason = f"UnidentifiedImageError: cannot identify image file '{bad}'"
    with pytest.warns(
        UserWarning,
        match=re.escape(
            f"load_image_folder skipped 1 of 3 image files in {tmp_path} that could "
            f"not be read; the first: {bad} ({reason})."
        ),
    ):
        data = load_image_folder(tmp_path, on_error="skip")
    assert data.skipped == [(str(bad), reason)]
    assert list(data.target) == ["a", "b"]
    assert [name.rsplit("/", 1)[1] for name in data.filenames] == ["good.png", "ok.bmp"]


def test_all_files_corrupt_with_skip(tmp_path):
    bad = tmp_path / "a" / "x.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"")
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"None of the 1 image files in {tmp_path} could be read; the first: "
            f"{bad} (UnidentifiedImageError: cannot identify image file '{bad}')."
        ),
    ):
        load_image_folder(tmp_path, on_error="skip")


def test_class_folder_without_images_warns(tmp_path):
    _save(tmp_path / "a" / "1.png", _grey(1, 1, 0))
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "readme.md").write_text("x")
    with pytest.warns(
        UserWarning,
        match=re.escape(
            f"Class sub-folder(s) 'b', 'c' of {tmp_path} hold no image files "
            "(PNG, JPEG, BMP, GIF, TIFF, WebP or PNM) and were ignored."
        ),
    ):
        data = load_image_folder(tmp_path)
    assert list(data.target_names) == ["a"]


def test_no_warning_when_all_is_well(tmp_path):
    _save(tmp_path / "a" / "1.png", _grey(1, 1, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_image_folder(tmp_path, on_error="skip")


_LAYOUT = (
    "expected one sub-folder per class (the sub-folder's name is the label) "
    "holding image files (PNG, JPEG, BMP, GIF, TIFF, WebP or PNM)."
)


def test_empty_folder(tmp_path):
    (tmp_path / ".DS_Store").write_text("")  # hidden entries do not count
    with pytest.raises(
        ValueError, match=re.escape(f"Image folder {tmp_path} is empty; {_LAYOUT}")
    ):
        load_image_folder(tmp_path)


def test_no_class_folders(tmp_path):
    _save(tmp_path / "1.png", _grey(1, 1, 0))
    _save(tmp_path / "2.png", _grey(1, 1, 0))
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"Image folder {tmp_path} has no class sub-folders (it holds 2 file(s)); "
            f"{_LAYOUT}"
        ),
    ):
        load_image_folder(tmp_path)


def test_class_folders_without_any_image(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_text("")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(
            ValueError,
            match=re.escape(
                f"Image folder {tmp_path} has 2 class sub-folder(s) but no image files "
                f"(PNG, JPEG, BMP, GIF, TIFF, WebP or PNM) in them; {_LAYOUT}"
            ),
        ):
            load_image_folder(tmp_path)


def test_missing_path_and_file_path(tmp_path):
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f"Image folder {tmp_path / 'nope'} does not exist."),
    ):
        load_image_folder(tmp_path / "nope")
    file = _save(tmp_path / "f.png", _grey(1, 1, 0))
    with pytest.raises(
        NotADirectoryError, match=re.escape(f"{file} is not a folder; {_LAYOUT}")
    ):
        load_image_folder(file)


@pytest.mark.parametrize("on_error", ["ignore", "RAISE", None, True])
def test_bad_on_error(tmp_path, on_error):
    with pytest.raises(
        ValueError,
        match=re.escape(f"on_error must be 'raise' or 'skip'; got {on_error!r}."),
    ):
        load_image_folder(tmp_path, on_error=on_error)
