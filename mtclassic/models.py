"""The default model: raw images in, one of 36 labels ('0'..'9', 'A'..'Z') out."""

import numbers

import numpy as np
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils import check_random_state

from .augment import AugmentedClassifier
from .features import HOGTransformer, make_features
from .filled import FilledCopiesPipeline
from .heads import DigitClassifier, LetterClassifier
from .multitask import DEFAULT_TASKS, MultiTaskVotingClassifier
from .preprocessing import ImageNormalizer
from .strokes import StrokeRedrawer
from .utils._sklearn_compat import Interval, StrOptions, validate_params

__all__ = ["PRESETS", "make_default_model"]

# Principal components the SVMs see (DigitClassifier.pca_components), chosen
# with benchmarks/bench_svm_projection.py (results/bench_svm_projection.jsonl):
# the fewest that kept the test accuracy within 0.1 point of the unprojected
# features. For the gate, the only size within it on both of its inputs (the
# redrawn strokes and the features).
DIGITS_COMPONENTS = 100
GATE_COMPONENTS = 200
# libsvm's kernel cache (MB) of the SVMs. The gate is one two-class problem on
# every row, so its kernel rows are recomputed whenever the cache is too small;
# a larger cache than libsvm's default 500 MB shortened its fit markedly (same
# model; benchmarks/bench_svm_projection.py and bench_fit.py). The digits head
# solves small pairwise problems and fills far less of it (its largest pair
# on the full protocol, about 13,000 rows, under 700 MB). The gate's cache and
# the heap its rows fragment are most of the accurate preset's peak memory on
# the full protocol (README, "Fit memory"). The gate alone there, against
# 2,000 MB: 1,800 MB took 320 MB off its peak for 1.09x its CPU time, 1,500 MB
# 700 MB for 1.65x (the same dual coefficients, bit for bit).
SVM_CACHE_MB = 1800
# Rows of the gate's first chunk and most rows added per round of its
# active-set fit (DigitClassifier.active_set_size): the same SVM as the fit on
# all rows at once, in a fraction of the time and memory on the full protocol,
# where most rows lie far beyond the margin and the plain fit's kernel rows
# overflow the cache (benchmarks/bench_gate_levers.py). On the full protocol
# 10,000 took less CPU than 5,000 (6 rounds, 1.4x) and 20,000 (3 rounds of up
# to 44,000 rows, which overflow the cache again, 1.8x).
GATE_ACTIVE_SET = 10_000
# Side in pixels of the HOGTransformer's default cells (a 4 x 4 grid of them
# on the 28 x 28 image): the gate's features (the redrawn block) and the fast
# preset's heads. Heads on one size of cells share one features step; heads
# on two sizes compute their own.
DEFAULT_CELLS = HOGTransformer().pixels_per_cell[0]
# The accurate and best presets' heads: cells of 4 x 4 pixels (1,296 HOG
# columns instead of 324), chosen on validation splits of the training data
# (benchmarks/bench_digits_vsv.py, bench_letters_head.py; issue 12).
FINE_CELLS = 4
# Side in pixels of the blocks the shared pixel features average (14 x 14 of
# the 28 x 28 image); a head given another side computes its own features.
SHARED_PIXELS = make_features().get_params()["pixels__downsample"]
# Precision of the feature rows the presets compute (HOG and pixels): the
# pipeline holds them for the whole fit of the vote, and float32 halves them
# (71,820 x 2,012 on the full protocol: 580 MB instead of 1,160 MB). The SVMs
# centre, scale and project them in float64 by chunks of rows, with no float64
# copy: with both, the accurate preset's fit on 4 x 4 cells peaked at 3,488 MB
# on the full protocol (4,056 MB with float64 rows and whole-array
# statistics, 4,053 MB with float32 rows alone; bench_fit.py, issue 16's 4 GB).
FEATURES_DTYPE = np.float32

#: Settings of each preset of :func:`make_default_model` (any of them can be
#: overridden by the keyword of the same name). ``"accurate"``: every row
#: trains the SVMs, deskewed images, an SVM letters head. ``"fast"``: cheaper
#: to fit and to score: no deskew, SVMs fitted on at most 2,000 rows per class
#: or task (fewer support vectors), a forest of 50 trees for the letters,
#: the HOGTransformer's 7 x 7 pixel cells;
#: the accurate preset fits its gate by chunks of 10,000 rows (the same SVM,
#: sooner), and both its heads see HOG cells of 4 x 4 pixels
#: (``digits_cells``, ``letters_cells``; one features step computes them for
#: both; issue 12, chosen on validation splits of the training data).
#: ``"best"``: the accurate preset with virtual support vectors on the digits
#: head (``vsv``), two distorted copies of every letter for the letters
#: SVM (``letters_copies``), its heads' features projected onto 200
#: components (``digits_components``, ``letters_components``; issue 12, chosen
#: on validation splits of the training data): slower to fit, and to score.
#: All project the features onto their leading principal components before
#: the SVMs' kernels.
#: The letters head of "accurate" and "best" was a forest until issue 12:
#: the SVM was the more accurate head alone on every letters set, in source
#: and out (``letters_head`` in :func:`make_default_model`).
PRESETS = {
    "accurate": {
        "deskew": True,
        "n_estimators": 100,
        "gate_max_samples": "all",
        "digits_max_samples": "all",
        "gate_components": GATE_COMPONENTS,
        "digits_components": DIGITS_COMPONENTS,
        "letters_components": DIGITS_COMPONENTS,
        "gate_active_set": GATE_ACTIVE_SET,
        "vsv": False,
        "letters_copies": 0,
        "letters_head": "svm",
        "letters_cells": FINE_CELLS,
        "digits_cells": FINE_CELLS,
        "letters_pixels": SHARED_PIXELS,
        "filled_copies": False,
    },
    "fast": {
        "deskew": False,
        "n_estimators": 50,
        "gate_max_samples": 2_000,
        "digits_max_samples": 2_000,
        "gate_components": GATE_COMPONENTS,
        "digits_components": DIGITS_COMPONENTS,
        "letters_components": DIGITS_COMPONENTS,
        "gate_active_set": "all",
        "vsv": False,
        "letters_copies": 0,
        "letters_head": "forest",
        "letters_cells": DEFAULT_CELLS,
        "digits_cells": DEFAULT_CELLS,
        "letters_pixels": SHARED_PIXELS,
        "filled_copies": False,
    },
}
PRESETS["best"] = {
    **PRESETS["accurate"],
    "vsv": True,
    "letters_copies": 2,
    "digits_components": 200,
    "letters_components": 200,
}


def _seed(random_state):
    """An int seed for each randomised step (None stays None)."""
    if random_state is None:
        return None
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    return int(check_random_state(random_state).randint(2**31 - 1))


@validate_params(
    {
        "preset": [StrOptions(set(PRESETS))],
        "gate_input": [StrOptions({"redrawn", "features"})],
        "letters_head": [StrOptions({"forest", "svm"}), None],
        "letters_cells": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "digits_cells": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "letters_pixels": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "filled_copies": [
            "boolean",
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
    },
    # the estimators check the rest of the parameters in their fit
    prefer_skip_nested_validation=False,
)
def make_default_model(
    random_state=None,
    n_jobs=None,
    *,
    preset="accurate",
    membership="gate",
    gate_input="redrawn",
    gate_target="tasks",
    weights="balanced",
    deskew=None,
    n_estimators=None,
    gate_max_samples=None,
    digits_max_samples=None,
    gate_components=None,
    digits_components=None,
    letters_components=None,
    gate_active_set=None,
    vsv=None,
    letters_copies=None,
    letters_head=None,
    letters_cells=None,
    digits_cells=None,
    letters_pixels=None,
    filled_copies=None,
):
    """The whole chain as one scikit-learn ``Pipeline``.

    ``ImageNormalizer -> make_features() -> MultiTaskVotingClassifier`` with a
    digits head (:class:`~mtclassic.heads.DigitClassifier`, RBF SVM, labels
    ``'0'..'9'``) and a letters head (labels ``'A'..'Z'``): an RBF SVM with
    the same settings in the accurate and best presets, the extra-trees
    forest :class:`~mtclassic.heads.LetterClassifier` in the fast one
    (``letters_head``). The features are computed once and shared by both
    heads. The SVMs compute their kernels in float32 (twice as fast to
    predict as float64; see ``DigitClassifier.kernel_dtype``). The steps are named ``normalize``, ``features`` and ``vote``,
    so grid-search keys read ``vote__weights``, ``vote__digits__C``,
    ``vote__letters__C`` (the forest's: ``vote__letters__n_estimators``),
    ``features__hog__pixels_per_cell``.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds every randomised step; the same int gives the same model.
    preset : {"accurate", "fast", "best"}, default="accurate"
        Named settings (:data:`PRESETS`) for ``deskew``, ``n_estimators``,
        ``gate_max_samples``, ``digits_max_samples``, ``gate_components``,
        ``digits_components``, ``letters_components``, ``gate_active_set``,
        ``vsv``, ``letters_copies``, ``letters_head``, ``letters_cells``,
        ``digits_cells``, ``letters_pixels`` and ``filled_copies``; a value given for one of those keywords overrides
        the preset's. The measured accuracy and
        speed of each preset are in the README's benchmark table.
    n_jobs : int, default=None
        Parallel jobs of the normalizer, the HOG features, the forest and the
        vote (heads and gate fitted side by side, on threads that share the
        features). None means 1.
    membership : {"gate", "other"}, default="gate"
        Task membership of the vote. ``"gate"``: each head learns its own task
        and an RBF SVM gate (a two-class :class:`~mtclassic.heads.DigitClassifier`)
        learns digit vs letter. ``"other"``: each head also learns an "other"
        class from the other task's images; slower to fit (the letters SVM
        then learns every digit too), and a letters forest grows on all
        images, which makes it several times larger.
    gate_input : {"redrawn", "features"}, default="redrawn"
        What the gate sees (``membership="gate"``). ``"redrawn"``: the
        features of the images with their strokes drawn again with one pen
        (:class:`~mtclassic.strokes.StrokeRedrawer`), which keep the shape
        but not the pen width, grey levels or blur, so that the gate cannot
        learn which data set a task's images came from; the features step
        then also computes them (step ``features__redrawn``, after the
        ``hog`` and ``pixels`` columns) and the heads see them beside the
        others. ``"features"``: the heads' own features.
    gate_target : {"tasks", "labels"}, default="tasks"
        What the gate learns (``membership="gate"``; ignored, like the gate,
        with ``membership="other"``). ``"tasks"``: digit vs letter.
        ``"labels"``: all 36 labels, its probabilities summed per task; it
        routed about a point better in the issue-12 experiments, but its 630
        one-vs-one pairs make it several times slower to predict than the
        rest of the model together.
    weights : "balanced", None or array-like of shape (2,), default="balanced"
        Task weights of the vote (digits, letters). ``"balanced"`` makes digits
        and letters equally likely a priori, whatever the training mix (many
        more MNIST digits than real letters, say): balanced weights route
        fewer images to the wrong task, most of the rest between look-alikes
        such as l/1, g/9, b/6, and raise the combined accuracy
        (``benchmarks/bench_accuracy.py``; the README's table and
        ``benchmarks/results/bench_accuracy.json``).
    deskew : bool, default=None (the preset's)
        Straighten slanted characters in the normalizer (more accurate on
        MNIST; ``benchmarks/bench_ablation.py``).
    n_estimators : int, default=None (the preset's)
        Trees of the letters forest (``letters_head="forest"``; unused with
        ``"svm"``). The trees stop at leaves of 3 rows and
        draw ``sqrt`` features per split: on EMNIST letters a-m they scored
        nearly as well as three times as many fully grown ``log2`` trees, at
        a fraction of the size and of the predict time (``bench_fit.py``
        measures each preset's fit time and memory).
    gate_max_samples : int or "all", default=None (the preset's)
        Rows of each task the gate SVM is fitted on (``membership="gate"``;
        see ``DigitClassifier.max_samples_per_class``); ``"all"`` uses all.
        ``weights="balanced"`` then undoes the gate's own task mix. A capped
        gate fits faster and routes a little worse (the fast preset against
        the accurate one in ``benchmarks/bench_accuracy.py``).
    gate_active_set : int or "all", default=None (the preset's)
        Fit the gate SVM by chunks: a first chunk of this many rows, then the
        rows that violate its margin, at most this many per round, until none
        does (``DigitClassifier.active_set_size``, grid key
        ``vote__gate__active_set_size``); ``"all"``: on all rows at once. The
        result is the same SVM up to libsvm's tolerance; on the full protocol
        the chunks fit it several times faster, in less memory
        (``benchmarks/bench_gate_levers.py``).
    vsv : bool, default=None (the preset's)
        Virtual support vectors on the digits head
        (:class:`~mtclassic.augment.AugmentedClassifier` with ``method="vsv"``):
        the digits SVM is fitted, then refitted on its support vectors' images
        and their 1-pixel shifts and small rotations. It needs images, so each
        head and the gate then compute their own features from the normalised
        images and the pipeline is ``normalize -> vote``, with grid keys
        ``vote__digits__estimator__svm__C``,
        ``vote__digits__estimator__features__hog__...``,
        ``vote__letters__svm__C`` (with ``letters_copies``:
        ``vote__letters__estimator__svm__C``; the forest's:
        ``vote__letters__forest__n_estimators``),
        ``vote__gate__svm__C``,
        ``vote__gate__features__strokes__...`` (``gate_input="redrawn"``; the
        heads then see the redrawn block too, as in the other presets:
        ``vote__digits__estimator__features__redrawn__...``),
        ``vote__digits__vsv_rotation`` and ``vote__digits__vsv_shifts``. About
        three digits fits, and the digits head keeps about three times the
        support vectors (slower to score); the README's benchmark table has
        the measured figures.
    letters_copies : int, default=None (the preset's)
        Distorted copies of every letter image the letters forest also learns
        from (:class:`~mtclassic.augment.AugmentedClassifier`,
        ``method="distort"``): letters are the scarce side of the training
        data. Like ``vsv`` it makes the heads take images (grid keys
        ``vote__letters__n_copies``, ``vote__letters__estimator__forest__...``,
        or ``vote__letters__estimator__svm__...`` with ``letters_head="svm"``).
    letters_head : {"forest", "svm"}, default=None (the preset's)
        The letters head. ``"forest"``: extra-trees
        (:class:`~mtclassic.heads.LetterClassifier`, ``n_estimators`` trees;
        grid keys ``vote__letters__n_estimators``, ...). ``"svm"``: an RBF
        SVM with the digits head's settings (a
        :class:`~mtclassic.heads.DigitClassifier`, generic despite its name:
        26 classes, 325 one-vs-one pairs, calibrated probabilities over
        ``'A'..'Z'``, and ``"other"`` with ``membership="other"``; grid keys
        ``vote__letters__C``, ``vote__letters__gamma``,
        ``vote__letters__pca_components``, ...; with ``vsv`` or
        ``letters_copies``: ``vote__letters__estimator__svm__C``, ...). Chosen
        on a validation split of the training letters and on a source the
        head never saw, the SVM was the more accurate head alone on every
        letters set of the accuracy protocol, in source and out, for about
        twice the forest's CPU time per image
        (``benchmarks/bench_letters_head.py``; figures in the README). That
        is why "accurate" and "best" use it; "fast" keeps the forest.
    letters_cells : int, default=None (the preset's)
        Side in pixels of the HOG cells of the letters head's features. When
        it equals ``digits_cells`` (and neither ``vsv`` nor
        ``letters_copies`` is set), both heads share one features step,
        computed once per image (grid key ``features__hog__pixels_per_cell``);
        two sizes make the heads and the gate take images and compute their
        own features, as ``vsv`` does (grid key
        ``vote__letters__features__hog__pixels_per_cell``, with
        ``letters_copies`` ``vote__letters__estimator__features__hog__...``).
        The redrawn block and the gate keep the HOGTransformer's 7 x 7 pixel
        cells (a 4 x 4 grid on the 28 x 28 image). The fast preset keeps those
        for its heads too; the accurate and best presets' 4 (1,296 HOG columns
        instead of 324) scored higher on both validation columns of
        ``benchmarks/bench_letters_head.py``, with and without distorted
        copies, and on the digits' validation split of
        ``benchmarks/bench_digits_vsv.py``.
    digits_cells : int, default=None (the preset's)
        The same for the digits head's features (grid key
        ``vote__digits__estimator__features__hog__pixels_per_cell`` with
        ``vsv``, ``vote__digits__features__hog__...`` with heads on two
        sizes of cells).
    letters_pixels : int, default=None (the preset's)
        Side of the square blocks of pixels the letters head's own pixel
        features average (``PixelTransformer.downsample``; grid key
        ``vote__letters__estimator__features__pixels__downsample`` with
        ``letters_copies``, else ``vote__letters__features__pixels__...``).
        The accurate and fast presets keep the blocks every head shares (2:
        14 x 14 features of the 28 x 28 image); any other side makes the heads
        and the gate take images, as ``letters_cells`` does. On the best
        preset, 1 (784 pixel columns instead of 196) scored 9 images higher on
        the validation split of ``benchmarks/bench_letters_head.py`` (94.88%
        against 94.50%), alike on the unseen source (84.97% against 85.17%)
        and no better on the full protocol's test sets
        (``benchmarks/results/bench_accuracy_best_pix1.json``): all presets
        keep 2.
    filled_copies : bool or int, default=None (the preset's: False for all)
        Whether ``fit`` also learns every thin character (a 1, an I, an l)
        stretched to fill its box (:func:`~mtclassic.filled.filled_copies`;
        an int: at most that many copies per label; grid key
        ``filled_copies``). Binary forms and 1-bit drawings store characters
        that way, and a thin one stretched into a solid block is then read as
        a wide glyph of the other task. Off by default, measured on the full
        protocol (``benchmarks/results/bench_accuracy_filled.json``; README,
        "Characters stretched to fill their box"): on held-out MNIST digits
        made binary 16 x 16 and stretched, the vote rose from 89.5% to 96.6%
        and routing outside the look-alike pairs fell from 1.7% to 0.3%; but
        a block is also what a low-resolution 8 or 2 looks like, so the
        copies cost real sets: az_sample letters 95.11% -> 94.07%,
        handwritten62 letters never trained on 81.07% -> 79.22% (issue 12's
        80% lost), sklearn's ``load_digits`` 86.76% -> 86.31%, and the fit
        took 2.2 times as long. Turn it on for sources that stretch
        characters to their box.
    digits_max_samples : int or "all", default=None (the preset's)
        Rows of each digit class the digits SVM is fitted on; ``"all"`` uses
        all. Fewer rows, fewer support vectors: faster to fit and to score.
    gate_components, digits_components, letters_components : int, float or \
"all", default=None
        Principal components of the features the gate SVM (the digits SVM,
        the letters SVM) computes its kernel on
        (``DigitClassifier.pca_components``; grid keys
        ``vote__gate__pca_components``, ``vote__digits__pca_components``,
        ``vote__letters__pca_components``);
        ``"all"``: the features unprojected; None: the preset's. The kernels
        then cost the projected dimension instead of the features' 1,000 to
        2,000 columns: the
        presets' components keep the MNIST and routing accuracy within 0.1
        point and fit both SVMs faster
        (``benchmarks/bench_svm_projection.py``). The best preset projects
        its heads' finer features (``digits_cells``, ``letters_cells``) onto
        200: on the validation splits of ``benchmarks/bench_digits_vsv.py``
        and ``benchmarks/bench_letters_head.py`` 100 kept too little of them
        (MNIST, and the letters of a source the head never saw).

    Returns
    -------
    model : FilledCopiesPipeline
        Unfitted; a :class:`~sklearn.pipeline.Pipeline` whose ``fit`` adds
        the filled copies (``filled_copies``). ``fit(X, y)`` takes raw images (``(n, h, w)``, flat rows of
        square images, or a list of 2-D arrays of any sizes) and labels
        ``'0'..'9'``/``'A'..'Z'``.

    Examples
    --------
    >>> from mtclassic import make_default_model
    >>> from mtclassic.datasets import make_characters
    >>> X, y = make_characters(200, random_state=0)
    >>> model = make_default_model(random_state=0, n_estimators=20).fit(X, y)
    >>> [name for name, _ in model.steps]
    ['normalize', 'features', 'vote']
    >>> model.predict_proba(X[:2]).shape
    (2, 36)
    >>> model.named_steps["vote"].tasks_.tolist()
    ['digits', 'letters']
    """
    settings = _settings(
        PRESETS[preset],
        deskew=deskew,
        n_estimators=n_estimators,
        gate_max_samples=gate_max_samples,
        digits_max_samples=digits_max_samples,
        gate_components=gate_components,
        digits_components=digits_components,
        letters_components=letters_components,
        gate_active_set=gate_active_set,
        vsv=vsv,
        letters_copies=letters_copies,
        letters_head=letters_head,
        letters_cells=letters_cells,
        digits_cells=digits_cells,
        letters_pixels=letters_pixels,
        filled_copies=filled_copies,
    )
    seed = _seed(random_state)
    digits = _svm(settings["digits_max_samples"], settings["digits_components"], seed)
    letters = _letters(settings, n_jobs, seed)
    gate = None
    if membership == "gate":
        gate = _svm(
            settings["gate_max_samples"],
            settings["gate_components"],
            seed,
            active_set=settings["gate_active_set"],
        )
    if (
        settings["vsv"]
        or settings["letters_copies"]
        or settings["letters_cells"] != settings["digits_cells"]
        or settings["letters_pixels"] != SHARED_PIXELS
    ):
        return _image_heads_model(
            digits,
            letters,
            gate,
            settings,
            gate_input,
            n_jobs,
            seed,
            membership=membership,
            gate_target=gate_target,
            weights=weights,
        )
    vote = MultiTaskVotingClassifier(
        [("digits", digits), ("letters", letters)],
        tasks={name: list(labels) for name, labels in DEFAULT_TASKS.items()},
        weights=weights,
        membership=membership,
        gate=gate,
        gate_target=gate_target,
        n_jobs=n_jobs,
    )
    redrawn = membership == "gate" and gate_input == "redrawn"
    # both heads on the same cells: one features step computes them once
    features = _head_features(n_jobs, redrawn, settings["digits_cells"])
    if redrawn:
        # the redrawn block comes last, so its columns are the same whatever
        # the hog and pixels steps are set to in a grid search
        vote.set_params(gate_columns=slice(-_n_columns(_redrawn(n_jobs)), None))
    return FilledCopiesPipeline(
        [
            ("normalize", ImageNormalizer(deskew=settings["deskew"], n_jobs=n_jobs)),
            ("features", features),
            ("vote", vote),
        ],
        filled_copies=settings["filled_copies"],
    )


def _settings(preset, **given):
    """The preset's settings, overridden by the ones given (not None);
    ``"all"`` (no cap, no projection) becomes None."""
    settings = {**preset, **{k: v for k, v in given.items() if v is not None}}
    return {key: None if value == "all" else value for key, value in settings.items()}


def _svm(max_samples, components, seed, active_set=None):
    """The digits head or the gate: an RBF SVM as the presets build it."""
    # float32 kernels: twice the predict throughput of float64 (see
    # DigitClassifier.kernel_dtype); on the full-protocol model, labels agree
    # on 6,000 MNIST and EMNIST images, probabilities within 1.2e-3
    return DigitClassifier(
        kernel_dtype="float32",
        max_samples_per_class=max_samples,
        pca_components=components,
        cache_size=SVM_CACHE_MB,
        active_set_size=active_set,
        random_state=seed,
    )


def _letters(settings, n_jobs, seed):
    """The letters head the settings ask for: the forest or an RBF SVM."""
    if settings["letters_head"] == "svm":
        # the digits head's settings: on the letters' validation split, C
        # from 3 to 30 and 50 to all principal components scored alike
        # (benchmarks/bench_letters_head.py, its levers' candidates)
        return _svm(None, settings["letters_components"], seed)
    return LetterClassifier(
        n_estimators=settings["n_estimators"],
        extra_trees=True,
        max_features="sqrt",
        min_samples_leaf=3,
        n_jobs=n_jobs,
        random_state=seed,
    )


def _image_heads_model(
    digits, letters, gate, settings, gate_input, n_jobs, seed, **vote
):
    """``normalize -> vote`` whose heads and gate take the normalised images.

    Virtual support vectors shift and rotate the digits SVM's support vector
    images, and distorted copies distort the letters' images, so each head
    computes its own features; the gate then does too.
    """

    redrawn = vote["membership"] == "gate" and gate_input == "redrawn"

    def on_features(name, estimator, cells, pixels=SHARED_PIXELS):
        features = _head_features(n_jobs, redrawn, cells)
        # the head's own pixel blocks; its redrawn block keeps the gate's
        features.set_params(pixels__downsample=pixels)
        return Pipeline([("features", features), (name, estimator)])

    digits = on_features("svm", digits, settings["digits_cells"])
    if settings["vsv"]:
        digits = AugmentedClassifier(digits, method="vsv", random_state=seed)
    letters = on_features(
        "svm" if settings["letters_head"] == "svm" else "forest",
        letters,
        settings["letters_cells"],
        settings["letters_pixels"],
    )
    if settings["letters_copies"]:
        # letters are the scarce side: the head also learns distorted copies
        letters = AugmentedClassifier(
            letters, n_copies=settings["letters_copies"], random_state=seed
        )
    if gate is not None:
        gate_features = (
            _redrawn(n_jobs)
            if redrawn
            else make_features(dtype=FEATURES_DTYPE, n_jobs=n_jobs)
        )
        gate = Pipeline([("features", gate_features), ("svm", gate)])
    vote = MultiTaskVotingClassifier(
        [("digits", digits), ("letters", letters)],
        tasks={name: list(labels) for name, labels in DEFAULT_TASKS.items()},
        gate=gate,
        n_jobs=n_jobs,
        **vote,
    )
    return FilledCopiesPipeline(
        [
            ("normalize", ImageNormalizer(deskew=settings["deskew"], n_jobs=n_jobs)),
            ("vote", vote),
        ],
        filled_copies=settings["filled_copies"],
    )


def _redrawn(n_jobs):
    """Features of the images with their strokes redrawn with one pen."""
    return Pipeline(
        [
            ("strokes", StrokeRedrawer(n_jobs=n_jobs)),
            ("features", make_features(dtype=FEATURES_DTYPE, n_jobs=n_jobs)),
        ]
    )


def _head_features(n_jobs, redrawn, cells):
    """The heads' features: HOG on ``cells`` x ``cells`` pixel cells and
    pixels, and the redrawn block if asked (which keeps the gate's cells)."""
    features = make_features(dtype=FEATURES_DTYPE, n_jobs=n_jobs)
    features.set_params(hog__pixels_per_cell=(cells, cells))
    if redrawn:
        features = FeatureUnion(
            features.transformer_list + [("redrawn", _redrawn(n_jobs))]
        )
    return features


def _n_columns(features, image_size=28):
    """Number of columns ``features`` gives for an image of the normalizer's size."""
    return features.fit_transform(np.zeros((1, image_size, image_size))).shape[1]
