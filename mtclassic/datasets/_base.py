"""The data home, where downloads are cached.

The data home follows scikit-learn's convention (``sklearn.datasets.get_data_home``):
an explicit folder, else the ``MTCLASSIC_DATA_HOME`` environment variable, else
``~/mtclassic_data``; ``~`` is expanded and the folder is created when missing.
"""

import os
import shutil

# Re-exported: callers written before mtclassic.io import it from here.
from mtclassic.io._atomic import atomic_writer  # noqa: F401

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
