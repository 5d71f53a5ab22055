"""Speed and MNIST fidelity of ImageNormalizer, on one core.

Speed: images per second (median of ``--repeats`` runs) on the 28 x 28 MNIST
test images and on the variable-size handwritten62 photo crops (passed as a
list, as users' own images are), with and without deskew, next to a peer
measured in the same run on the same images: the per-image recipe a user would
write with scikit-image and scipy (threshold crop, ``skimage.transform.resize``
with anti-aliasing into the 20 x 20 box, ``scipy.ndimage.center_of_mass`` and a
whole-pixel shift).

Fidelity: MNIST test images are already in the target geometry, so normalizing
them should change them little: mean absolute difference to ``X / 255``, the
share of images that come out unchanged, and the centre-of-mass offsets.

    python benchmarks/bench_normalizer.py

Prints a table and writes ``benchmarks/results/bench_normalizer.json``.
"""

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    command_line,
    interleaved_timings,
    load_handwritten62,
    load_mnist_test,
    machine,
    make_parser,
    parse,
    write_json,
)
from threadpoolctl import threadpool_limits

from mtclassic import ImageNormalizer

#: --quick: a small run end to end
QUICK = {"repeats": 1, "peer_images": 100}


def peer_normalize(image, image_size=28, box_size=20, ink_threshold=0.2):
    """One image, the way it is usually written with scikit-image and scipy."""
    from scipy import ndimage
    from skimage.transform import resize

    x = np.asarray(image, dtype=np.float64)
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    background = np.median(border)
    if background > (x.min() + x.max()) / 2:  # dark ink on paper
        x, background = -x, -background
    x = np.clip(x - background, 0, None)
    out = np.zeros((image_size, image_size))
    if x.max() <= 0:
        return out
    x /= x.max()
    rows = np.flatnonzero((x > ink_threshold).any(axis=1))
    cols = np.flatnonzero((x > ink_threshold).any(axis=0))
    crop = x[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = box_size / max(crop.shape)
    shape = [max(1, round(side * scale)) for side in crop.shape]
    glyph = resize(crop, shape, order=1, anti_aliasing=scale < 1)
    top, left = (image_size - shape[0]) // 2, (image_size - shape[1]) // 2
    out[top : top + shape[0], left : left + shape[1]] = glyph
    centre = np.array(ndimage.center_of_mass(out))
    shift = np.round(image_size // 2 - centre).astype(int)
    return ndimage.shift(out, shift, order=0)


def centre_of_mass(images):
    mass = images.sum(axis=(1, 2))
    index = np.arange(images.shape[1])
    return np.stack(
        [images.sum(axis=2) @ index / mass, images.sum(axis=1) @ index / mass], axis=1
    )


def mnist_fidelity(images, peer_count):
    """How much normalizing changes MNIST, which is already normalized."""
    before = images / 255.0
    after = ImageNormalizer().transform(images).reshape(images.shape)
    difference = np.abs(after - before)
    # Unchanged up to the stretch (the brightest pixel becomes exactly 1).
    stretched = images / images.max(axis=(1, 2), keepdims=True)
    unchanged = np.abs(after - stretched).max(axis=(1, 2)) < 1e-12
    com_before, com_after = centre_of_mass(before), centre_of_mass(after)
    moved = np.abs(com_after - com_before)
    peer = np.stack([peer_normalize(image) for image in images[:peer_count]])
    return {
        "n_images": len(images),
        "mean_abs_difference": float(difference.mean()),
        "max_image_mean_abs_difference": float(difference.mean(axis=(1, 2)).max()),
        "share_unchanged": float(unchanged.mean()),
        "centre_of_mass_shift_mean_px": float(moved.mean()),
        "centre_of_mass_shift_max_px": float(moved.max()),
        "centre_of_mass_off_centre_max_px": float(np.abs(com_after - 14).max()),
        "mnist_centre_of_mass_mean_px": com_before.mean(axis=0).round(4).tolist(),
        "peer_mean_abs_difference": float(np.abs(peer - before[:peer_count]).mean()),
        "peer_n_images": peer_count,
    }


def speed(name, images, peer_count, repeats):
    """Images per second: ours (with and without deskew) and the peer."""
    ours, deskew = ImageNormalizer(), ImageNormalizer(deskew=True)
    subset = images[:peer_count]
    for normalizer in (ours, deskew):
        normalizer.transform(images[:50])  # warm up
    timings = interleaved_timings(
        {
            "ours": lambda: ours.transform(images),
            "ours, deskew": lambda: deskew.transform(images),
            "peer": lambda: [peer_normalize(image) for image in subset],
        },
        repeats,
    )
    seconds = {name: timing["seconds"] for name, timing in timings.items()}
    rows = {
        "ours": len(images) / seconds["ours"],
        "ours, deskew": len(images) / seconds["ours, deskew"],
        "peer": len(subset) / seconds["peer"],
    }
    return {
        "data": name,
        "n_images": len(images),
        "ours_images_per_second": rows["ours"],
        "ours_deskew_images_per_second": rows["ours, deskew"],
        "peer_images_per_second": rows["peer"],
        "peer_n_images": len(subset),
        "speedup_vs_peer": rows["ours"] / rows["peer"],
        "speedup_deskew_vs_peer": rows["ours, deskew"] / rows["peer"],
    }


def main(argv=None):
    parser = make_parser(
        __doc__, "bench_normalizer.json", random_state=False, out_aliases=("--output",)
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed runs each")
    parser.add_argument(
        "--peer-images", type=int, default=1000, help="images timed for the peer"
    )
    add_quick(parser, QUICK)
    args = parse(parser, argv, QUICK)

    mnist, _ = load_mnist_test(args.data_dir)
    crops, _, _ = load_handwritten62(args.data_dir)
    with threadpool_limits(limits=1):
        results = [
            speed("MNIST test, 28x28", mnist, args.peer_images, args.repeats),
            speed(
                "handwritten62 crops, 14x14 to 63x85, as a list",
                crops,
                args.peer_images,
                args.repeats,
            ),
        ]
        fidelity = mnist_fidelity(mnist, args.peer_images)

    print(f"{'data':<50} {'ours/s':>9} {'deskew/s':>9} {'peer/s':>8} {'ratio':>6}")
    for row in results:
        print(
            f"{row['data']:<50} {row['ours_images_per_second']:>9.0f} "
            f"{row['ours_deskew_images_per_second']:>9.0f} "
            f"{row['peer_images_per_second']:>8.0f} {row['speedup_vs_peer']:>5.1f}x"
        )
    print(
        f"\nMNIST through the normalizer ({fidelity['n_images']} images): mean |diff| "
        f"{fidelity['mean_abs_difference']:.5f} (peer "
        f"{fidelity['peer_mean_abs_difference']:.5f}), unchanged "
        f"{fidelity['share_unchanged']:.2%}, centre of mass moved "
        f"{fidelity['centre_of_mass_shift_mean_px']:.4f} px on average "
        f"(max {fidelity['centre_of_mass_shift_max_px']:.2f}), at most "
        f"{fidelity['centre_of_mass_off_centre_max_px']:.3f} px from (14, 14)"
    )
    record = {
        "benchmark": "bench_normalizer",
        "command": command_line(__file__, argv),
        "threads": 1,
        "repeats": args.repeats,
        "statistic": "median",
        "speed": results,
        "mnist_fidelity": fidelity,
        "machine": machine(),
    }
    write_json(args.out, record)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
