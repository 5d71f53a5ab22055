"""EMNIST: download once, verify, cache, and load any official split.

The official archive (about 536 MB) holds every split as gzip-compressed IDX
files. It is downloaded once into ``get_data_home()/emnist/``: streamed to a
``.part`` file, checked against its MD5, and only then renamed into place. The
members a call needs are extracted next to it (again through a temporary file),
so later calls read only those.
"""

import hashlib
import http.client
import logging
import os
import shutil
import urllib.error
import zipfile
from urllib.request import urlopen

import numpy as np
from sklearn.utils import Bunch

from mtclassic.io import atomic_writer, load_idx
from mtclassic.io._arrays import orient

from ._base import get_data_home

logger = logging.getLogger(__name__)

# The official archive; tests point these at a local server.
EMNIST_URL = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
EMNIST_MD5 = "58c8d27c78d21e728a6bc7b3cc06412e"
EMNIST_ARCHIVE = "gzip.zip"
EMNIST_SPLITS = ("balanced", "byclass", "bymerge", "digits", "letters", "mnist")
EMNIST_SUBSETS = ("train", "test")
# Seconds a connect or a read may block before the download fails.
DOWNLOAD_TIMEOUT = 60
_CHUNK_SIZE = 1 << 20

_DESCR = """\
EMNIST {split} ({subset} subset)
================================

{n_samples} handwritten characters from NIST Special Database 19, converted to
the 28x28 MNIST format, in {n_classes} classes: {classes}.

images: uint8 array (n_samples, 28, 28), upright (the IDX files store them
transposed; they are transposed back here). data: the same pixels, flat.
target: one-character labels through the split's mapping file{letters_note}.

Source: {url}
Reference: G. Cohen, S. Afshar, J. Tapson and A. van Schaik, "EMNIST: an
extension of MNIST to handwritten letters", IJCNN 2017, arXiv:1702.05373.
"""


#: The names the commands give EMNIST data sets: ``mnist`` and
#: ``emnist:<split>``.
EMNIST_PREFIX = "emnist:"
MNIST_NAME = "mnist"


def emnist_split_of(name):
    """The EMNIST split a data-set name on the command line stands for.

    ``"mnist"`` is EMNIST's ``"mnist"`` split (the MNIST images),
    ``"emnist:<split>"`` any split; any other name is not a data-set name
    (None).

    Examples
    --------
    >>> emnist_split_of("emnist:letters"), emnist_split_of("mnist")
    ('letters', 'mnist')
    >>> emnist_split_of("scans/") is None
    True
    >>> emnist_split_of("emnist:klingon")
    Traceback (most recent call last):
    ...
    ValueError: 'emnist:klingon': unknown EMNIST split; give one of ...
    """
    name = str(name)
    if name == MNIST_NAME:
        return "mnist"
    if not name.startswith(EMNIST_PREFIX):
        return None
    split = name[len(EMNIST_PREFIX) :]
    if split not in EMNIST_SPLITS:
        raise ValueError(
            f"{name!r}: unknown EMNIST split; give one of "
            + ", ".join(f"{EMNIST_PREFIX}{s}" for s in EMNIST_SPLITS)
            + "."
        )
    return split


def load_named(name, subset, *, transpose=False):
    """The labelled images of a data-set name (see :func:`emnist_split_of`),
    through :func:`fetch_emnist`, as :func:`mtclassic.io.read_labelled`
    returns them; None for a name that is no data-set name or that names an
    existing file or folder (which is read as such)."""
    if os.path.exists(name):
        return None
    split = emnist_split_of(name)
    if split is None:
        return None
    if transpose:
        raise ValueError(
            "--transpose is for files: EMNIST data sets are read upright already."
        )
    bunch = fetch_emnist(split, subset)
    return Bunch(
        images=bunch.images,
        target=np.asarray(bunch.target).astype(str),
        description=f"EMNIST {split} ({subset})",
        skipped=[],
        files=None,
    )


def _check_choice(value, name, choices):
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(choice) for choice in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}.")


def _file_md5(path):
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_install(folder):
    return (
        f"To install it by hand, download {EMNIST_URL} (MD5 {EMNIST_MD5}) and "
        f"place it as {EMNIST_ARCHIVE!r} in {folder}."
    )


def _download(folder):
    """Stream the archive to a .part file, verify it, rename it into place."""
    path = os.path.join(folder, EMNIST_ARCHIVE)
    url, expected_md5 = EMNIST_URL, EMNIST_MD5
    logger.info("Downloading %s to %s", url, path)
    n_bytes = 0
    try:
        with (
            atomic_writer(path, suffix=".part") as out,
            urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response,
        ):
            length = response.headers.get("Content-Length")
            digest = hashlib.md5(usedforsecurity=False)
            while chunk := response.read(_CHUNK_SIZE):
                out.write(chunk)
                digest.update(chunk)
                n_bytes += len(chunk)
            # http.client returns EOF, not an error, when a server closes early.
            if length is not None and n_bytes != int(length):
                raise http.client.IncompleteRead(b"", int(length) - n_bytes)
            if digest.hexdigest() != expected_md5:
                raise OSError(
                    f"Downloaded {url} ({n_bytes} bytes) has MD5 "
                    f"{digest.hexdigest()}, expected {expected_md5}; it was "
                    f"discarded. {_manual_install(folder)}"
                )
    except http.client.IncompleteRead as exc:
        expected = f" of {n_bytes + exc.expected}" if exc.expected else ""
        raise OSError(
            f"Download of {url} ended after {n_bytes}{expected} bytes; nothing was "
            f"cached. Call again to retry. {_manual_install(folder)}"
        ) from None
    except urllib.error.HTTPError as exc:
        raise OSError(
            f"Downloading {url} failed: HTTP {exc.code} {exc.reason}. "
            f"{_manual_install(folder)}"
        ) from exc
    except (
        urllib.error.URLError,
        http.client.HTTPException,
        ConnectionError,
        TimeoutError,
    ) as exc:
        raise OSError(
            f"Downloading {url} failed after {n_bytes} bytes ({exc}); nothing was "
            f"cached. {_manual_install(folder)}"
        ) from exc
    return path


def _archive(folder, split, subset, download_if_missing):
    """The path of the verified archive, downloading it if allowed."""
    path = os.path.join(folder, EMNIST_ARCHIVE)
    if not os.path.exists(path):
        if not download_if_missing:
            raise FileNotFoundError(
                f"EMNIST {split!r} ({subset}) is not in the cache and "
                f"download_if_missing=False. Download {EMNIST_URL} (MD5 "
                f"{EMNIST_MD5}) and place it as {EMNIST_ARCHIVE!r} in {folder}, "
                "or pass download_if_missing=True."
            )
        return _download(folder)
    found = _file_md5(path)
    if found != EMNIST_MD5:
        raise OSError(
            f"The cached {path} has MD5 {found}, expected {EMNIST_MD5}: it is "
            "corrupt or not the official archive, so it was not used. Delete it "
            f"to download it again, or replace it with {EMNIST_URL}."
        )
    return path


def _extract(archive, members, folder):
    """Copy zip members to ``folder`` under their base names, atomically."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
            for member in members:
                if member not in names:
                    raise ValueError(
                        f"{archive}: the archive has no member {member!r}."
                    )
                target = os.path.join(folder, os.path.basename(member))
                with zf.open(member) as source, atomic_writer(target) as out:
                    shutil.copyfileobj(source, out, _CHUNK_SIZE)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{archive}: not a valid zip archive ({exc}).") from None


def _read_mapping(path):
    """Parse 'label ascii_code [ascii_code ...]' lines; keep the first code."""
    name = os.path.basename(path)
    mapping = {}
    with open(path, encoding="ascii", errors="replace") as file:
        for line_number, line in enumerate(file, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                label, char = int(fields[0]), chr(int(fields[1]))
                if label < 0:
                    raise ValueError
            except (ValueError, IndexError, OverflowError):
                raise ValueError(
                    f"{name}, line {line_number}: expected 'label ascii_code', with "
                    f"a label >= 0 and a character code; found {line.strip()!r}."
                ) from None
            if label in mapping:
                raise ValueError(
                    f"{name}, line {line_number}: label {label} is mapped twice."
                )
            mapping[label] = char
    if not mapping:
        raise ValueError(f"{name}: the mapping file has no 'label ascii_code' lines.")
    return mapping


def _labels_to_chars(labels, mapping, labels_name, mapping_name):
    lookup = np.full(max(mapping) + 1, "", dtype="<U1")
    lookup[list(mapping)] = list(mapping.values())
    known = (labels >= 0) & (labels < lookup.size)
    known[known] = lookup[labels[known]] != ""
    if not known.all():
        record = int(np.argmin(known))
        raise ValueError(
            f"{labels_name}: label {labels[record]} of record {record} is not in "
            f"{mapping_name}."
        )
    return lookup[labels]


def fetch_emnist(
    split,
    subset="train",
    *,
    data_home=None,
    download_if_missing=True,
    return_X_y=False,
):
    """Load a split of EMNIST, downloading the official archive once if needed.

    EMNIST (Cohen et al., 2017) converts the handwritten characters of NIST
    Special Database 19 to the 28x28 format of MNIST. The archive (about
    536 MB) is downloaded from :data:`EMNIST_URL` into
    ``get_data_home(data_home)/emnist/``, checked against :data:`EMNIST_MD5`,
    and the files of the requested split are extracted next to it.

    ================  =======  =======  ========================================
    split             train    test     classes
    ================  =======  =======  ========================================
    ``"byclass"``     697,932  116,323  62: digits, upper and lower case
    ``"bymerge"``     697,932  116,323  47: similar upper/lower cases merged
    ``"balanced"``    112,800   18,800  47: as bymerge, equal class sizes
    ``"letters"``     124,800   20,800  26: ``'A'``-``'Z'`` (cases merged)
    ``"digits"``      240,000   40,000  10: ``'0'``-``'9'``
    ``"mnist"``        60,000   10,000  10: ``'0'``-``'9'``
    ================  =======  =======  ========================================

    Parameters
    ----------
    split : {"balanced", "byclass", "bymerge", "digits", "letters", "mnist"}
        The EMNIST split.
    subset : {"train", "test"}, default="train"
        Which part of the split.
    data_home : str or path-like, default=None
        The cache folder; see :func:`~mtclassic.datasets.get_data_home`.
    download_if_missing : bool, default=True
        When False and the data is not cached, raise a FileNotFoundError that
        says which file to place where, instead of downloading.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, 28, 28), dtype uint8
            The images, upright (EMNIST stores them transposed).
        data : ndarray of shape (n_samples, 784), dtype uint8
            The same pixels, one flat row per image (a view of ``images``).
        target : ndarray of shape (n_samples,), dtype str
            One-character labels, through the split's mapping file. The
            ``"letters"`` mapping lists an upper and a lower case code per
            class; the upper case is used.
        target_names : ndarray of str
            The characters of the split, in the order of its integer labels.
        DESCR : str
            A description of the data set.

    (data, target) : tuple if ``return_X_y`` is True
        ``data`` of shape (n_samples, 784) and ``target`` as above.

    Raises
    ------
    FileNotFoundError
        When the data is not cached and ``download_if_missing`` is False; the
        message gives the file's name, URL and MD5 and the folder to put it in.
    OSError
        When the download fails, is truncated or has a wrong MD5 (nothing is
        left in the cache), or when a cached archive has a wrong MD5.
    ValueError
        For an unknown ``split`` or ``subset``, or files whose contents do not
        fit together (image and label counts, labels missing from the mapping).

    See Also
    --------
    load_idx : Read one IDX file.

    Examples
    --------
    Without the archive in the cache and without downloading, the error says
    which file to place where:

    >>> import tempfile
    >>> from mtclassic.datasets import fetch_emnist
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     fetch_emnist("letters", data_home=tmp, download_if_missing=False)
    Traceback (most recent call last):
    ...
    FileNotFoundError: EMNIST 'letters' (train) is not in the cache and ...

    With network access (the first call downloads about 536 MB):

    >>> letters = fetch_emnist("letters", subset="test")  # doctest: +SKIP
    >>> letters.images.shape, letters.target[:4]  # doctest: +SKIP
    ((20800, 28, 28), array(['A', 'A', 'A', 'A'], dtype='<U1'))
    """
    _check_choice(split, "split", EMNIST_SPLITS)
    _check_choice(subset, "subset", EMNIST_SUBSETS)
    folder = os.path.join(get_data_home(data_home), "emnist")
    os.makedirs(folder, exist_ok=True)
    members = [
        f"gzip/emnist-{split}-{subset}-images-idx3-ubyte.gz",
        f"gzip/emnist-{split}-{subset}-labels-idx1-ubyte.gz",
        f"gzip/emnist-{split}-mapping.txt",
    ]
    images_path, labels_path, mapping_path = (
        os.path.join(folder, os.path.basename(member)) for member in members
    )
    missing = [
        member
        for member in members
        if not os.path.exists(os.path.join(folder, os.path.basename(member)))
    ]
    if missing:
        archive = _archive(folder, split, subset, download_if_missing)
        _extract(archive, missing, folder)

    images = load_idx(images_path)  # transposed below, once its shape is checked
    labels = load_idx(labels_path)
    images_name, labels_name = map(os.path.basename, (images_path, labels_path))
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"{images_name}: expected uint8 images of shape (n, 28, 28); found "
            f"{images.dtype} of shape {images.shape}."
        )
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{labels_name}: expected integer labels of shape (n,); found "
            f"{labels.dtype} of shape {labels.shape}."
        )
    if len(images) != len(labels):
        raise ValueError(
            f"{images_name} holds {len(images)} images but {labels_name} holds "
            f"{len(labels)} labels."
        )
    mapping = _read_mapping(mapping_path)
    target = _labels_to_chars(
        labels, mapping, labels_name, os.path.basename(mapping_path)
    )
    # EMNIST stores each image transposed (column-major); make it upright.
    images = orient(images, True, images_path)
    data = images.reshape(len(images), -1)
    if return_X_y:
        return data, target

    target_names = np.array([mapping[label] for label in sorted(mapping)])
    descr = _DESCR.format(
        split=split,
        subset=subset,
        n_samples=len(images),
        n_classes=len(target_names),
        classes=" ".join(target_names),
        letters_note=" (upper case)" if split == "letters" else "",
        url=EMNIST_URL,
    )
    return Bunch(
        images=images,
        data=data,
        target=target,
        target_names=target_names,
        DESCR=descr,
    )
