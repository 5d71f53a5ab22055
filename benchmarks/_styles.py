"""Held-out test images re-made in other writing styles (issue 12).

Stand-ins, made from our own held-out test images, for the kinds of
independent sets the package is also judged on (never trained on):

- ``pen278``: thin pen strokes at high resolution (a tablet): the image
  enlarged to 278 x 278, thinned to its skeleton and drawn with a 3-px pen;
- ``bin16``: a binary 16 x 16 scan, the character stretched to fill the box;
- ``frame1bit``: a 1-bit 28 x 28 drawing whose ink touches the frame.

Each style is a fixed recipe of scikit-image calls per image; this is data
preparation for a benchmark, not a hot path.
"""

import numpy as np
from scipy import ndimage
from skimage.morphology import disk, skeletonize
from skimage.transform import resize

STYLES = ("pen278", "bin16", "frame1bit")


def _ink_box(image):
    """The image cropped to the rows and columns holding ink (>= 20% of max)."""
    ink = image >= 0.2 * image.max()
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def restyle(image, style):
    """One 2-D image (bright ink, any dtype) in ``style``; uint8, ink 255."""
    image = np.asarray(image, dtype=np.float64)
    image = image / max(image.max(), 1e-12)
    if style == "pen278":
        skeleton = skeletonize(resize(image, (278, 278), order=1) > 0.4)
        drawn = ndimage.binary_dilation(skeleton, disk(1))
    elif style == "bin16":
        drawn = resize(_ink_box(image), (16, 16), anti_aliasing=True) > 0.35
    elif style == "frame1bit":
        drawn = resize(_ink_box(image), (28, 28), order=1) > 0.3
    else:
        raise ValueError(f"style must be one of {STYLES}; got {style!r}.")
    return drawn.astype(np.uint8) * 255


def styled_sets(sets, n_images, random_state=0):
    """``{f"{name}_{style}": (images, labels)}`` for every set and style.

    ``sets`` maps a name to ``(images, labels)``; ``n_images`` of each set
    (drawn without replacement, the same rows for every style) are restyled.
    """
    rng = np.random.RandomState(random_state)
    styled = {}
    for name, (images, labels) in sets.items():
        labels = np.asarray(labels)
        rows = np.sort(
            rng.choice(len(labels), min(n_images, len(labels)), replace=False)
        )
        for style in STYLES:
            styled[f"{name}_{style}"] = (
                [restyle(images[i], style) for i in rows],
                labels[rows],
            )
    return styled
