"""load_idx and save_idx: the IDX reader and writer of :mod:`mtclassic.io`."""

from mtclassic.io._idx import load_idx, save_idx

__all__ = ["load_idx", "save_idx"]
