"""Write a file atomically: to a temporary file beside it, renamed into place."""

import contextlib
import os
import secrets


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
