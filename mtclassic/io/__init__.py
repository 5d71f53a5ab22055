"""The one input/output layer: every file mtclassic reads or writes goes through it.

- IDX files (MNIST/EMNIST), gzip or raw: :func:`load_idx`, :func:`save_idx`;
- image files and folders of them: :func:`read_image`,
  :data:`IMAGE_EXTENSIONS` (the one list every command accepts);
- labelled data for training and evaluation (a class-per-folder tree, an
  ``.npz`` with images and labels, an IDX images and labels pair):
  :func:`read_labelled`;
- chunked sources for batch scoring: :func:`open_inputs`, and an evenly
  spread sample of them: :func:`sample_images`;
- :func:`atomic_writer`: outputs are written to a temporary file and renamed.

Every reader verifies what it reads: an IDX header is checked against the
file's size before any data are read or any row is written, each gzip member's
CRC-32 and length are checked (by reading the stream to its end, also when only
the first records are wanted), images of zero size are refused, and a folder
entry that cannot be resolved (a symbolic-link loop) is skipped or refused by
name. Errors name the file and the byte offset or record. ``transpose=True``
(``--transpose`` on the command line) reads images stored transposed, as
EMNIST's IDX files are, upright.

Nothing here imports scikit-learn at import time.
"""

from ._atomic import atomic_writer
from ._idx import load_idx, save_idx, verify_idx
from ._images import IMAGE_EXTENSIONS, read_image
from ._labelled import read_labelled
from ._sample import sample_images
from ._sources import Chunk, closing_all, open_inputs

__all__ = [
    "IMAGE_EXTENSIONS",
    "Chunk",
    "atomic_writer",
    "closing_all",
    "load_idx",
    "open_inputs",
    "read_image",
    "read_labelled",
    "sample_images",
    "save_idx",
    "verify_idx",
]
