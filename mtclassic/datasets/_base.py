"""The data home (where downloads are cached) and atomic file writing.

The data home follows scikit-learn's convention (``sklearn.datasets.get_data_home``):
an explicit folder, else the ``MTCLASSIC_DATA_HOME`` environment variable, else
``~/mtclassic_data``; ``~`` is expanded and the folder is created when missing.
"""

import contextlib
import os
import secrets
import shutil

DATA_HOME_ENV = "MTCLASSIC_DATA_HOME"
DEFAULT_DATA_HOME = os.path.join("~", "mtclassic_data")


def get_data_home(data_home=None):
    """Return the path of the mtclassic data folder, creating it if missing.

    Downloaded data sets (such as EMNIST, see
    :func:`~mtclassic.datasets.fetch_emnist`) are cached there, so that they are
    downloaded only once.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder. When None, the ``MTCLASSIC_DATA_HOME`` environment variable
        is used if set, else ``~/mtclassic_data``. The ``~`` symbol is expanded
        to the user's home folder.

    Returns
    -------
    data_home : str
        The path of the folder, which exists.

    Examples
    --------
    >>> import os, tempfile
    >>> from mtclassic.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     home = get_data_home(os.path.join(tmp, "cache"))
    ...     os.path.isdir(home)
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or DEFAULT_DATA_HOME
    elif not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(
            "data_home must be None, a str or a path-like object; got "
            f"{type(data_home).__name__}."
        )
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home


def clear_data_home(data_home=None):
    """Delete the data folder and everything cached in it.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The folder, resolved as in :func:`get_data_home`.

    Examples
    --------
    >>> import os, tempfile
    >>> from mtclassic.datasets import clear_data_home, get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     home = get_data_home(os.path.join(tmp, "cache"))
    ...     clear_data_home(home)
    ...     os.path.exists(home)
    False
    """
    shutil.rmtree(get_data_home(data_home))


@contextlib.contextmanager
def atomic_writer(path, suffix=".tmp"):
    """Open a temporary file next to ``path`` and rename it to ``path`` on success.

    Readers never see a half-written ``path``: the data goes to a hidden file
    with a random name in the same folder (so the final rename is atomic on
    the same file system), which replaces ``path`` only when the ``with``
    block ends without an exception. On any exception, including
    KeyboardInterrupt, the temporary file is removed and the exception
    propagates.

    Parameters
    ----------
    path : str or path-like
        The final file.
    suffix : str, default=".tmp"
        The temporary file's suffix (``".part"`` for downloads).

    Yields
    ------
    file : binary file object open for writing

    Examples
    --------
    >>> import os, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     target = os.path.join(tmp, "out.bin")
    ...     with atomic_writer(target) as f:
    ...         _ = f.write(b"abc")
    ...     open(target, "rb").read(), sorted(os.listdir(tmp))
    (b'abc', ['out.bin'])
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}{suffix}")
        try:
            # os.open with 0o666 lets the umask set the permissions, as for a
            # plain open(); O_EXCL never reuses another writer's file.
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise
