"""An evenly spread sample of the images of some inputs, read in a few windows."""

import numpy as np

from ._sources import closing_all, open_inputs

#: Windows the sample is read in: spread over the inputs, so that files or
#: folders sorted by class still give every class its share.
N_WINDOWS = 20


def sample_images(inputs, n_images=10_000, *, transpose=False):
    """At most ``n_images`` readable images, in ``N_WINDOWS`` evenly spaced runs.

    Parameters
    ----------
    inputs : str, path-like or list of them
        As :func:`open_inputs` takes them.
    n_images : int, default=10_000
        Most images returned (all of them when the inputs hold fewer).
    transpose : bool, default=False
        As :func:`open_inputs`.

    Returns
    -------
    images : ndarray or list of 2-D arrays
        In input order, as the sources read them: one array when every
        window reads arrays of one shape, else a list; unreadable records are
        left out.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from mtclassic.io import sample_images
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(100 * 4).reshape(100, 2, 2))
    >>> [int(image[0, 0]) for image in sample_images(path, 3)]
    [0, 200, 396]
    """
    if n_images < 1:
        raise ValueError(f"n_images must be at least 1; got {n_images}.")
    with closing_all(open_inputs(inputs, transpose=transpose)) as sources:
        ends = np.cumsum([source.n_records for source in sources])
        total = int(ends[-1]) if len(ends) else 0
        if total == 0:
            return []
        if total <= n_images:  # all of them
            starts, width = [0], total
        else:
            n_windows = min(N_WINDOWS, n_images)
            width = n_images // n_windows
            starts = np.linspace(0, total - width, n_windows).round().astype(int)
        parts = [
            part
            for start in starts
            for part in _read_window(sources, ends, start, start + width)
        ]
    if all(isinstance(p, np.ndarray) for p in parts) and (
        len({p.shape[1:] for p in parts}) == 1
    ):
        return np.concatenate(parts)[:n_images]
    return [image for part in parts for image in part][:n_images]


def _read_window(sources, ends, start, stop):
    """Records ``start`` to ``stop`` of the inputs taken as one sequence."""
    parts = []
    first = int(np.searchsorted(ends, start, side="right"))
    for index in range(first, len(sources)):
        offset = int(ends[index - 1]) if index else 0
        if offset >= stop:
            break
        chunk = sources[index].read(
            max(start - offset, 0), min(stop, ends[index]) - offset
        )
        if len(chunk.images):
            parts.append(chunk.images)
    return parts
