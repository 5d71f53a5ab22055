"""Data sets: IDX files, EMNIST, image folders and the embedded synthetic default.

This subpackage reads and writes files through :mod:`mtclassic.io` and depends on
nothing else in mtclassic. Names are imported lazily.
"""

import importlib

_PUBLIC = {
    "get_data_home": "mtclassic.datasets._base",
    "clear_data_home": "mtclassic.datasets._base",
    "load_idx": "mtclassic.datasets._idx",
    "save_idx": "mtclassic.datasets._idx",
    "fetch_emnist": "mtclassic.datasets._emnist",
    "load_image_folder": "mtclassic.datasets._folder",
    "make_characters": "mtclassic.datasets._synthetic",
}

__all__ = sorted(_PUBLIC)


def __getattr__(name):
    try:
        module = _PUBLIC[name]
    except KeyError:
        raise AttributeError(
            f"module 'mtclassic.datasets' has no attribute {name!r}"
        ) from None
    return getattr(importlib.import_module(module), name)


def __dir__():
    return __all__
