"""Task heads: an RBF support vector machine for digits, a random forest for letters.

Both heads take feature rows (the output of :func:`mtclassic.features.make_features`),
are ordinary scikit-learn classifiers with ``predict_proba``, and can be used on
their own or as the heads of :class:`mtclassic.multitask.MultiTaskVotingClassifier`.

Why the SVM head computes its own probabilities
-----------------------------------------------
``SVC(probability=True)`` is deprecated (scikit-learn 1.9) and costs five extra
fits (an internal 5-fold cross-validation). :class:`DigitClassifier` instead
holds out a stratified ``calibration_size`` share of the training rows (by
default a tenth, capped), fits the SVM once on the rest, and fits ONE
number on the held-out rows: the slope ``a`` that turns each one-vs-one
decision value ``d_ij`` into a pairwise probability ``r_ij = sigmoid(a d_ij)``. The pairwise probabilities are coupled into one
distribution with the closed form of Price, Knerr, Personnaz and Dreyfus (1995),
``p_i ~ 1 / (sum_{j != i} 1 / r_ij - (k - 2))``, and ``a`` minimises the log-loss
of those coupled probabilities on the held-out rows (with Platt's smoothed
targets, so that a separable holdout still gives a finite slope). On MNIST
features this gave a lower test log-loss than ``SVC(probability=True)``
fitted on all the rows, for less than ONE SVM fit instead of six, and the
accuracy of libsvm's own one-vs-one vote of the same SVM. Cheaper maps did
worse on the same holdout (temperature scaling of the averaged margins, a
logistic regression on the pairwise decisions). ``calibration="cv"`` keeps
every row in the final SVM and takes the decision values from 3-fold
cross-fitting instead (a little over two fits).

Prediction does not go through libsvm's per-sample loop: the RBF kernel between
a batch and the support vectors is one matrix product (BLAS), and every
one-vs-one decision is then a second product with a (n_support, n_pairs)
coefficient matrix. The result equals ``SVC.decision_function`` to rounding and
is several times faster than libsvm's loop, about twice that again with
``kernel_dtype="float32"`` (``benchmarks/bench_svm_projection.py`` reports the
predict rate of each setting).
"""

import itertools
import numbers
import time

import numpy as np
from joblib import effective_n_jobs
from scipy.optimize import minimize_scalar
from scipy.special import log_expit, logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC, LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import N_JOBS, chunk_slices
from .utils._parallel import map_in_threads
from .utils._sklearn_compat import (
    Interval,
    Parallel,
    StrOptions,
    _fit_context,
    delayed,
    tree_predict,
)

__all__ = ["DigitClassifier", "LetterClassifier"]

# Bytes of kernel matrix computed at once in DigitClassifier's predict path.
_KERNEL_CHUNK_BYTES = 4 * 2**20
# Most rows calibration_size="auto" holds out.
_AUTO_HOLDOUT_ROWS = 2000
# Rows per block in LetterClassifier's predict path (each block runs every tree).
_FOREST_BLOCK_ROWS = 2048
# Margin slack of the active-set fit's KKT check: libsvm's own stopping
# tolerance (SVC's default tol), so a row outside the set counts as violating
# only where libsvm would not have stopped had the row been inside.
_ACTIVE_SET_TOL = 1e-3
# When a round is needed anyway, the rows within this much beyond their margin
# join the set too (worst first, within active_set_size): the refit moves the
# boundary a little, and without them a few stragglers each cost one more
# refit (the gate on 31,820 rows, active_set_size=10,000: 5 rounds without,
# 3 with; 0.5 added more rows for no fewer rounds).
_ACTIVE_SET_HALO = 0.2


class _StageLog:
    """Prints ``[name] message, 1.2s`` (time since the previous stage) if verbose."""

    def __init__(self, name, verbose):
        self.name, self.verbose = name, verbose
        self.last = time.perf_counter()

    def __call__(self, message):
        if self.verbose:
            now = time.perf_counter()
            print(f"[{self.name}] {message}, {now - self.last:.1f}s", flush=True)
            self.last = now


def _holdout_split(y_codes, fraction, random_state):
    """Stratified split: ``floor(fraction * n_c)`` rows of each class held out.

    Every class keeps at least one training row, so the SVM sees every class.
    Returns (train_index, holdout_index); the holdout may be empty on tiny data.
    """
    rng = check_random_state(random_state)
    train, holdout = [], []
    for code in np.unique(y_codes):
        rows = rng.permutation(np.flatnonzero(y_codes == code))
        n_out = min(int(fraction * rows.size), rows.size - 1)
        holdout.append(rows[:n_out])
        train.append(rows[n_out:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(holdout))


def _cap_per_class(y_codes, cap, random_state):
    """Sorted row indices keeping at most ``cap`` random rows of each class."""
    keep = [
        random_state.permutation(rows)[:cap] if rows.size > cap else rows
        for rows in (np.flatnonzero(y_codes == code) for code in np.unique(y_codes))
    ]
    return np.sort(np.concatenate(keep))


def _pairwise_log_proba(decisions, n_classes, slope):
    """Couple one-vs-one decisions into class log-probabilities.

    ``decisions[:, p]`` is the decision of pair ``p = (i, j)``, i < j in
    scikit-learn's order, positive for class i. With ``r_ij = sigmoid(a d_ij)``
    the coupling of Price et al. is ``p_i ~ 1 / (1 + sum_{j != i} exp(-a d_ij))``,
    computed here in log space so that large margins cannot overflow.
    """
    n_samples = decisions.shape[0]
    first, second = np.triu_indices(n_classes, k=1)
    # terms[:, i, j] = -a * d_ij for j != i; the diagonal holds the constant 0 (= log 1)
    terms = np.zeros((n_samples, n_classes, n_classes))
    terms[:, first, second] = -slope * decisions
    terms[:, second, first] = slope * decisions
    # logsumexp over j, in place: scipy's costs several more passes over the
    # (n, k, k) terms, which for 26 letters cost as much as the kernel
    top = terms.max(axis=2, keepdims=True)  # >= 0, the diagonal's log 1
    terms -= top
    np.exp(terms, out=terms)
    log_unnormalised = -(np.log(terms.sum(axis=2)) + top[..., 0])
    return log_unnormalised - logsumexp(log_unnormalised, axis=1, keepdims=True)


def _softmax_log_proba(scores, slope):
    """Temperature softmax of one-vs-rest scores (binary: a single score column)."""
    if scores.ndim == 1:
        return np.column_stack([log_expit(-slope * scores), log_expit(slope * scores)])
    logits = slope * scores
    return logits - logsumexp(logits, axis=1, keepdims=True)


def _fit_slope(log_proba_of_slope, y_codes, n_classes):
    """The positive slope minimising the held-out log-loss (1-D bounded search).

    The targets are smoothed as in Platt (1999): the true class gets
    ``1 - eps`` and the others share ``eps = 1 / (n_rows + 2)``, so that a
    perfectly separated holdout still gives a finite slope.
    """
    rows = np.arange(y_codes.size)
    eps = 1.0 / (y_codes.size + 2.0)

    def loss(log_slope):
        log_proba = log_proba_of_slope(np.exp(log_slope))
        true = log_proba[rows, y_codes]
        rest = (log_proba.sum(axis=1) - true) / max(1, n_classes - 1)
        return -((1.0 - eps) * true + eps * rest).mean()

    result = minimize_scalar(loss, bounds=(np.log(1e-3), np.log(1e3)), method="bounded")
    return float(np.exp(result.x))


# Bytes of a chunk of rows of DigitClassifier's column statistics and
# projection (a float64 temporary, small enough for the cores' cache).
_ROW_CHUNK_BYTES = 2 * 2**20


def _chunk_rows(X):
    return max(1, _ROW_CHUNK_BYTES // (8 * max(1, X.shape[1])))


def _row_chunks(X):
    return chunk_slices(X.shape[0], _chunk_rows(X))


def _column_moments(X):
    """Mean and standard deviation of every column of X, in float64, by chunks
    of rows (no float64 copy of a float32 X, no (n, d) temporary)."""
    n_rows = max(1, X.shape[0])
    mean = X.sum(axis=0, dtype=np.float64) / n_rows
    squares = np.zeros(X.shape[1])
    for rows in _row_chunks(X):
        deviation = X[rows] - mean
        squares += np.einsum("ij,ij->j", deviation, deviation)
    return mean, np.sqrt(squares / n_rows)


class DigitClassifier(ClassifierMixin, BaseEstimator):
    """Scaled RBF support vector machine with calibrated probabilities.

    The digits head: feature rows are scaled, an RBF ``SVC`` (``solver="exact"``)
    or a Nystroem kernel map + ``LinearSVC`` (``solver="nystroem"``) separates the
    classes, and a one-parameter calibration fitted on held-out rows turns the
    decision values into probabilities (see the module docstring for the method,
    its cost and its measured quality).

    Parameters
    ----------
    C : float, default=10.0
        Regularisation of the SVM (larger: fewer training errors, more support
        vectors).
    gamma : "scale" or float, default="scale"
        RBF kernel width on the scaled features; ``"scale"`` is
        ``1 / (n_features * X_scaled.var())`` as in ``SVC``.
    scaling : {"global", "standard"}, default="global"
        ``"global"`` centres the features and divides all of them by ONE number
        (the root mean variance), which keeps the relative weights the feature
        extractor gave them; ``"standard"`` is ``StandardScaler`` (every feature
        to unit variance). On MNIST HOG + pixel features ``"global"`` was the
        more accurate, because unit variance inflates nearly constant HOG
        bins.
    solver : {"exact", "nystroem"}, default="exact"
        ``"exact"``: libsvm's RBF ``SVC``; fit time grows about quadratically
        with the training rows and predict time linearly with the number of
        support vectors. ``"nystroem"``: an ``n_components``-dimensional Nystroem
        approximation of the same kernel + ``LinearSVC``; fit time grows
        linearly, predict cost is fixed by ``n_components``. Use it above about
        30,000 training rows when fit time matters, or when prediction
        throughput matters more than the last few tenths of a percent of
        accuracy.
    n_components : int, default=2000
        Size of the Nystroem map (``solver="nystroem"`` only).
    calibration : {"holdout", "cv"}, default="holdout"
        Where the held-out decision values for the calibration come from.
        ``"holdout"``: ``calibration_size`` of each class is held out and the
        SVM is fitted once on the rest (cost < 1 fit). ``"cv"``: 3-fold
        cross-fitting gives a held-out decision for every row, then the SVM is
        refitted on all rows (cost about 2.3 fits).
    calibration_size : "auto", float or int, default="auto"
        Rows held out when ``calibration="holdout"``: a share of each class
        (float), a total number of rows (int), or ``"auto"``: 10% of the rows
        but at most 2,000 (one parameter needs no more, and the SVM keeps the
        rest). Classes too small to lose a row keep all of theirs; if nothing
        can be held out the slope is fitted on the training decisions
        (over-confident).
    kernel_dtype : {"float64", "float32"}, default="float64"
        Precision of the kernel products in predict. ``"float32"`` is about
        twice as fast (MNIST, 7,000 support vectors: 8,400 vs 4,000 rows/s on
        one core); its decision values differ from libsvm's by up to about 1e-4
        (2e-3 for a gate with 16,000 support vectors, whose terms add up),
        and, as with any float32 BLAS product, by as much between the same row
        scored in batches of different composition (rounding depends on the
        row's position in the block). With ``pca_components`` the rows are
        then centred and projected in float32 too (on the accurate preset's
        2,012 features the projection cost more than the kernel). ``"float64"``
        equals libsvm to rounding.
    max_samples_per_class : int or None, default=None
        Fit on at most this many rows of each class (a random subsample drawn
        with ``random_state``); None uses every row. The exact SVM's fit time
        grows about quadratically with the rows and its predict time with the
        support vectors, so capping a dominant class buys speed where its rows
        are redundant. Used for the vote's digit-vs-letter gate, where 60,000
        digits face a few thousand letters.
    pca_components : int, float or None, default=None
        Project the scaled features onto their leading principal components
        before the kernel (fitted in ``fit`` on the rows the SVM is fitted
        on, after ``max_samples_per_class``). An int keeps that many
        components (all of them if there are fewer features); a float in
        (0, 1) keeps the fewest components that explain that share of the
        variance; None keeps the features as they are. Every kernel
        evaluation, in fit and in predict, then costs the projected dimension
        instead of the feature dimension. ``gamma="scale"`` is computed on the
        projected rows. How many components keep the accuracy of the
        unprojected features, and how much faster they fit and predict, is
        measured by ``benchmarks/bench_svm_projection.py`` (results in
        ``benchmarks/results/bench_svm_projection.jsonl``); too few lose
        accuracy.
    pca_whiten : bool, default=False
        Divide each kept component by its standard deviation (whitened PCA),
        so that every component weighs alike in the kernel (``pca_components``
        only). On the same MNIST rows it lost 0.1 to 0.3 point and kept up to
        twice the support vectors: the small components it inflates are noise.
    cache_size : float, default=500
        libsvm kernel cache in MB (``solver="exact"``); larger speeds up fit.
    shrinking : bool, default=True
        libsvm's shrinking heuristic (``solver="exact"``), as in ``SVC``.
    active_set_size : int or None, default=None
        Fit the exact SVM by chunking (Osuna, Freund and Girosi 1997) instead
        of on all rows at once (``solver="exact"``; None: all at once). The
        SVM is first fitted on a stratified random chunk of this many rows;
        then the decision values of every row outside the set are computed
        (batched kernel products), the rows that violate the margin of one of
        their pairs (``y f(x) < 1 - 1e-3`` for some one-vs-one pair of their
        class, libsvm's tolerance) join the set with the rows just beyond it
        (``y f(x) < 1.2``), at most this many per round, worst first, and the
        SVM is refitted on the grown set. The loop ends when no row outside
        violates: every round adds a row, so at the latest with all rows in
        the set. The result is the SVM of all rows up to libsvm's tolerance
        (the rows left out would have had zero weight). It pays where most
        rows lie far beyond the margin, as for the vote's gate: libsvm then
        solves smaller problems, whose kernel rows are shorter, so that more
        of them fit in ``cache_size`` (the gate on the full accuracy
        protocol: the same support vectors in about a third of the CPU time;
        ``benchmarks/bench_gate_levers.py``). Where most rows end up as
        support vectors the rounds cost more than they save. ``verbose``
        prints one line per round.
    n_jobs : int, default=None
        Parallel folds for ``calibration="cv"``.
    random_state : int, RandomState instance or None, default=None
        Seeds the calibration split, the folds and the Nystroem sample.
    verbose : int or bool, default=False
        Print one line per stage of ``fit`` (scaling, SVM, calibration) with
        its elapsed time.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X had string column names.
    class_count_ : ndarray of shape (n_classes,)
        Rows of each class the model was fitted on (after
        ``max_samples_per_class``): the class mix its probabilities carry as
        their prior.
    center_ : ndarray of shape (n_features_in_,)
        Feature means subtracted before the SVM.
    scale_ : ndarray of shape (n_features_in_,)
        Divisors applied after centring.
    projection_ : ndarray of shape (n_features_in_, n_components_) or None
        With ``pca_components``: the map from centred feature rows to the rows
        the SVM sees (``scale_``, the kept principal axes and, with
        ``pca_whiten``, their standard deviations folded into one matrix);
        None without.
    n_components_ : int
        Dimension of the rows the SVM sees (``n_features_in_`` without
        ``pca_components``).
    explained_variance_ratio_ : ndarray of shape (n_components_,) or None
        Share of the scaled features' variance along each kept component;
        None without ``pca_components``.
    gamma_ : float
        The RBF width used.
    svm_ : SVC or Pipeline
        The fitted SVM (``SVC`` for ``"exact"``, ``Pipeline(Nystroem, LinearSVC)``
        for ``"nystroem"``).
    support_ : ndarray of shape (n_support,)
        ``solver="exact"``: indices of the support vectors among the rows of
        the ``X`` given to ``fit`` (like ``SVC.support_``, but counted in the
        caller's rows, before the calibration hold-out and
        ``max_samples_per_class``). The virtual support vectors of
        :class:`~mtclassic.augment.AugmentedClassifier` (``method="vsv"``) are
        made from these rows.
    pair_coef_ : ndarray of shape (n_support, n_pairs)
        ``solver="exact"``: coefficient of each support vector in each
        one-vs-one decision (pairs ``(i, j)``, i < j, in scikit-learn's order).
    pair_intercept_ : ndarray of shape (n_pairs,)
        ``solver="exact"``: intercept of each one-vs-one decision.
    n_active_set_rounds_ : int
        Fits of the final SVM's active-set loop (``active_set_size``); 1 when
        it was fitted on all its rows at once.
    calibration_slope_ : float
        The fitted slope ``a`` of the probability calibration.

    See Also
    --------
    LetterClassifier : The random-forest head.
    mtclassic.multitask.MultiTaskVotingClassifier : Combines heads.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from mtclassic.heads import DigitClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = DigitClassifier(random_state=0).fit(X[:1000], y[:1000])
    >>> proba = clf.predict_proba(X[1000:1005])
    >>> proba.shape, bool(np.allclose(proba.sum(axis=1), 1.0))
    ((5, 10), True)
    >>> float(clf.score(X[1000:], y[1000:])) > 0.95
    True
    """

    _parameter_constraints: dict = {
        "C": [Interval(numbers.Real, 0, None, closed="neither")],
        "gamma": [
            StrOptions({"scale"}),
            Interval(numbers.Real, 0, None, closed="neither"),
        ],
        "scaling": [StrOptions({"global", "standard"})],
        "solver": [StrOptions({"exact", "nystroem"})],
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "calibration": [StrOptions({"holdout", "cv"})],
        "calibration_size": [
            StrOptions({"auto"}),
            Interval(numbers.Real, 0, 1, closed="neither"),
            Interval(numbers.Integral, 1, None, closed="left"),
        ],
        "kernel_dtype": [StrOptions({"float64", "float32"})],
        "max_samples_per_class": [
            Interval(numbers.Integral, 1, None, closed="left"),
            None,
        ],
        "pca_components": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="neither"),
            None,
        ],
        "pca_whiten": ["boolean"],
        "cache_size": [Interval(numbers.Real, 0, None, closed="neither")],
        "shrinking": ["boolean"],
        "active_set_size": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "n_jobs": N_JOBS,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        C=10.0,
        gamma="scale",
        scaling="global",
        solver="exact",
        n_components=2000,
        calibration="holdout",
        calibration_size="auto",
        kernel_dtype="float64",
        max_samples_per_class=None,
        pca_components=None,
        pca_whiten=False,
        cache_size=500,
        shrinking=True,
        active_set_size=None,
        n_jobs=None,
        random_state=None,
        verbose=False,
    ):
        self.C = C
        self.gamma = gamma
        self.scaling = scaling
        self.solver = solver
        self.n_components = n_components
        self.calibration = calibration
        self.calibration_size = calibration_size
        self.kernel_dtype = kernel_dtype
        self.max_samples_per_class = max_samples_per_class
        self.pca_components = pca_components
        self.pca_whiten = pca_whiten
        self.cache_size = cache_size
        self.shrinking = shrinking
        self.active_set_size = active_set_size
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the scaler, the SVM and the probability calibration.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.
        y : array-like of shape (n_samples,)
            Class labels (at least two distinct ones).

        Returns
        -------
        self : DigitClassifier
            The fitted classifier.
        """
        # float32 rows stay float32: every statistic below is computed in
        # float64 by chunks of rows, so the fit holds no float64 copy of X
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        log = _StageLog("DigitClassifier", self.verbose)
        self.classes_, y_codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                "y must hold at least two classes to fit a DigitClassifier; got "
                f"1 class: {self.classes_.tolist()!r}."
            )
        rng = check_random_state(self.random_state)
        rows = np.arange(X.shape[0])  # the rows of the caller's X kept below
        if self.max_samples_per_class is not None:
            keep = _cap_per_class(y_codes, self.max_samples_per_class, rng)
            X, y_codes, rows = X[keep], y_codes[keep], rows[keep]
        self.class_count_ = np.bincount(y_codes, minlength=self.classes_.size)
        self.center_, spread = _column_moments(X)
        if self.scaling == "global":
            self.scale_ = np.full(X.shape[1], np.sqrt(np.mean(spread**2)))
        else:
            self.scale_ = spread.copy()
        self.scale_[self.scale_ == 0] = 1.0  # constant features stay constant
        self.projection_, self.explained_variance_ratio_ = self._fit_projection(X)
        Z = self._scale(X)
        n_features = X.shape[1]
        del X  # a copy of capped rows: freed for the SVM's kernel cache
        self.n_components_ = Z.shape[1]
        self.gamma_ = (
            1.0 / (Z.shape[1] * Z.var()) if self.gamma == "scale" else float(self.gamma)
        )
        if not np.isfinite(self.gamma_):  # all rows identical: any width will do
            self.gamma_ = 1.0
        log(
            f"scaled {Z.shape[0]} rows to {Z.shape[1]} dimensions"
            f" ({n_features} features)"
        )

        if self.calibration == "holdout":
            train, holdout = _holdout_split(
                y_codes, self._holdout_share(y_codes.size), rng
            )
            if holdout.size == 0:  # tiny data: nothing could be held out
                holdout = train
            # the rows of Z the fit needs, Z itself freed for the SVM's cache
            Z_held, Z = Z[holdout], Z[train]
            self._set_svm(*self._fit_svm(Z, y_codes[train], rng), rows[train])
            log(f"fitted the SVM on {train.size} rows{self._support_note()}")
            held_scores, held_codes = self._svm_scores(Z_held), y_codes[holdout]
        else:
            n_folds = min(3, int(np.bincount(y_codes).min()))
            if n_folds < 2:
                raise ValueError(
                    "calibration='cv' needs at least 2 rows of every class; the "
                    f"rarest class in y has {np.bincount(y_codes).min()}. Use "
                    "calibration='holdout'."
                )
            folds = list(
                StratifiedKFold(n_folds, shuffle=True, random_state=rng).split(
                    Z, y_codes
                )
            )
            seeds = rng.randint(np.iinfo(np.int32).max, size=n_folds + 1)
            fold_models = Parallel(n_jobs=self.n_jobs)(
                delayed(self._fit_svm)(Z[tr], y_codes[tr], seed)
                for (tr, _), seed in zip(folds, seeds[:-1], strict=True)
            )
            held_scores = np.concatenate(
                [
                    self._svm_scores(Z[te], m)
                    for (m, _), (_, te) in zip(fold_models, folds, strict=True)
                ]
            )
            held_codes = np.concatenate([y_codes[te] for _, te in folds])
            log(f"cross-fitted {n_folds} fold SVMs")
            self._set_svm(*self._fit_svm(Z, y_codes, seeds[-1]), rows)
            log(f"fitted the SVM on {Z.shape[0]} rows{self._support_note()}")
        self.calibration_slope_ = _fit_slope(
            lambda slope: self._log_proba_from_scores(held_scores, slope),
            held_codes,
            self.classes_.size,
        )
        log(f"calibrated on {held_codes.size} held-out rows")
        return self

    def _fit_projection(self, X):
        """(projection_, explained_variance_ratio_) of ``pca_components``.

        The principal axes of the scaled rows come from the eigenvectors of
        their covariance (features x features: cheap for many rows of a few
        hundred features); scaling, axes and whitening fold into one matrix
        applied to centred rows.
        """
        if self.pca_components is None:
            return None, None
        n_features = X.shape[1]
        # the covariance of the scaled rows, summed by chunks of rows: no
        # (n, d) float64 temporary
        scatter = np.zeros((n_features, n_features))
        for rows in _row_chunks(X):
            Z = X[rows] - self.center_
            Z /= self.scale_
            scatter += Z.T @ Z
        variance, axes = np.linalg.eigh(scatter / max(1, X.shape[0] - 1))
        variance, axes = np.maximum(variance[::-1], 0.0), axes[:, ::-1]
        total = variance.sum()
        ratio = variance / total if total > 0 else np.full(n_features, 1 / n_features)
        if isinstance(self.pca_components, numbers.Integral):
            keep = int(self.pca_components)
        else:  # the fewest components explaining that share of the variance
            keep = int(np.searchsorted(np.cumsum(ratio), self.pca_components)) + 1
        keep = min(keep, n_features)  # a preset's value must fit any feature set
        projection = axes[:, :keep] / self.scale_[:, None]
        if self.pca_whiten:
            spread = np.sqrt(variance[:keep])
            projection /= np.where(spread > 0, spread, 1.0)
        return projection, ratio[:keep]

    def _support_note(self):
        if self.solver != "exact":
            return ""
        return f", {self.svm_.support_.size} support vectors"

    def _holdout_share(self, n_samples):
        if self.calibration_size == "auto":
            return min(0.1, _AUTO_HOLDOUT_ROWS / n_samples)
        if isinstance(self.calibration_size, numbers.Integral):
            return min(1.0, self.calibration_size / n_samples)
        return float(self.calibration_size)

    def _set_svm(self, svm, n_rounds, rows):
        self.svm_ = svm
        self.n_active_set_rounds_ = n_rounds
        if self.solver == "exact":
            self.pair_coef_, self.pair_intercept_ = _pair_coefficients(svm)
            self.support_ = rows[svm.support_]

    def _scale(self, X, dtype=np.float64):
        """The rows the SVM sees: centred, scaled and, if asked, projected;
        by chunks of rows, so a projection needs no (n, d) temporary.

        ``dtype``: the precision of the centring and the projection (float32
        in predict with ``kernel_dtype="float32"``, whose kernel rounds to it
        anyway: the projection was most of the heads' predict time).
        """
        projection = getattr(self, "projection_", None)
        if projection is None:
            return ((X - self.center_) / self.scale_).astype(dtype, copy=False)
        projection = projection.astype(dtype, copy=False)
        Z = np.empty((X.shape[0], projection.shape[1]), dtype)
        centred = np.empty((min(X.shape[0], _chunk_rows(X)), X.shape[1]), dtype)
        for rows in _row_chunks(X):
            part = centred[: rows.stop - rows.start]
            np.subtract(X[rows], self.center_, out=part, casting="same_kind")
            np.matmul(part, projection, out=Z[rows])
        return Z

    def _fit_svm(self, Z, y_codes, random_state):
        """The fitted SVM and the rounds of its active-set fit (1: all rows)."""
        random_state = check_random_state(random_state)
        if self.solver == "exact":
            svm = SVC(
                C=self.C,
                kernel="rbf",
                gamma=self.gamma_,
                cache_size=self.cache_size,
                shrinking=self.shrinking,
                decision_function_shape="ovo",
                random_state=random_state,
            )
            if self.active_set_size is None or self.active_set_size >= Z.shape[0]:
                return svm.fit(Z, y_codes), 1
            return self._fit_active_set(svm, Z, y_codes, random_state)
        n_components = min(self.n_components, Z.shape[0])
        svm = Pipeline(
            [
                (
                    "nystroem",
                    Nystroem(
                        gamma=self.gamma_,
                        n_components=n_components,
                        random_state=random_state,
                    ),
                ),
                (
                    "svm",
                    LinearSVC(C=self.C, max_iter=5000, random_state=random_state),
                ),
            ]
        )
        return svm.fit(Z, y_codes), 1

    def _fit_active_set(self, svm, Z, y_codes, random_state):
        """Fit ``svm`` on Z by chunking (``active_set_size``, see the class doc).

        Returns the SVC fitted on the final set, with ``support_`` counted in
        the rows of ``Z`` (as if it had been fitted on all of them), and the
        number of rounds (fits).
        """
        log = _StageLog("DigitClassifier", self.verbose)
        size = self.active_set_size
        n_classes = int(y_codes.max()) + 1
        # sign[c, p]: +1 if class c is the first of pair p, -1 if the second;
        # a row's margin in pair p is sign * decision (0: not its pair)
        first, second = np.triu_indices(n_classes, k=1)
        sign = np.zeros((n_classes, first.size))
        sign[first, np.arange(first.size)] = 1.0
        sign[second, np.arange(first.size)] = -1.0
        # a stratified first chunk, every class in it (the rows _holdout_split
        # keeps when it holds out the rest)
        chunk, _ = _holdout_split(y_codes, 1.0 - size / Z.shape[0], random_state)
        inside = np.zeros(Z.shape[0], dtype=bool)
        inside[chunk] = True
        for round_ in itertools.count(1):
            active = np.flatnonzero(inside)
            svm.fit(Z[active], y_codes[active])
            outside = np.flatnonzero(~inside)
            # float64: the set, hence the model, must not hang on BLAS rounding
            coef, intercept = _pair_coefficients(svm)
            decisions = _rbf_decisions(
                Z[outside],
                svm.support_vectors_,
                coef,
                intercept,
                self.gamma_,
                n_support=svm.n_support_,
            )
            signs = sign[y_codes[outside]]
            margin = np.where(signs != 0, signs * decisions, np.inf).min(axis=1)
            violating = np.flatnonzero(margin < 1.0 - _ACTIVE_SET_TOL)
            log(
                f"active set round {round_}: {active.size} rows, "
                f"{svm.support_.size} support vectors, "
                f"{violating.size} of {outside.size} rows outside violate"
            )
            if violating.size == 0:
                break
            # the worst first (a stable sort keeps ties in row order), with
            # the rows just beyond their margin
            near = np.flatnonzero(margin < 1.0 + _ACTIVE_SET_HALO)
            worst = near[np.argsort(margin[near], kind="stable")[:size]]
            inside[outside[worst]] = True
        # libsvm's predict takes the indices as int32
        svm.support_ = active[svm.support_].astype(svm.support_.dtype)
        return svm, round_

    def _svm_scores(self, Z, svm=None):
        """Pairwise decisions (exact) or one-vs-rest scores (Nystroem).

        ``svm`` is a cross-fitting fold model; None means the final ``svm_``,
        whose pair coefficients were computed once in fit.
        """
        if self.solver == "nystroem":
            return (self.svm_ if svm is None else svm).decision_function(Z)
        if svm is None:
            svm, coef, intercept = self.svm_, self.pair_coef_, self.pair_intercept_
        else:
            coef, intercept = _pair_coefficients(svm)
        return _rbf_decisions(
            Z,
            svm.support_vectors_,
            coef,
            intercept,
            self.gamma_,
            dtype=np.dtype(self.kernel_dtype),
            n_support=svm.n_support_,
        )

    def _log_proba_from_scores(self, scores, slope):
        if self.solver == "nystroem":
            return _softmax_log_proba(scores, slope)
        return _pairwise_log_proba(scores, self.classes_.size, slope)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=(np.float64, np.float32), reset=False)
        scores = self._svm_scores(self._scale(X, np.dtype(self.kernel_dtype)))
        return self._log_proba_from_scores(scores, self.calibration_slope_)

    def predict_proba(self, X):
        """Calibrated class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns in the order of ``classes_``.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class of each row (the argmax of :meth:`predict_proba`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        log_proba = self.predict_log_proba(X)
        return self.classes_[np.argmax(log_proba, axis=1)]


def _rbf_decisions(
    Z, support_vectors, coef, intercept, gamma, dtype=np.float64, n_support=None
):
    """One-vs-one decisions of an RBF SVM, batched through BLAS.

    The exponent ``-gamma |z - s|^2 = 2 gamma z.s - gamma |z|^2 - gamma |s|^2``
    of a chunk of rows against all support vectors is one matrix product of
    rows and support vectors each extended by two columns,
    ``[2 gamma z, -gamma |z|^2, 1] . [s, 1, -gamma |s|^2]``, so no pass over the
    kernel block is needed before ``exp`` (the scaling and the norms were four
    such passes, a fifth of the predict time of the gate). The decisions are a
    second product. Chunks bound the kernel block to ``_KERNEL_CHUNK_BYTES``,
    small enough to stay in the cache shared by the cores. float32 halves the
    time of both products; on centred, globally scaled features its rounding
    moves the kernel by about 1e-7 (it may then exceed 1 by as much) and the
    decisions by up to 2e-3 (the gate of the full model, whose 16,000 support
    vectors add up; 1e-4 for the heads).

    ``n_support`` (support vectors per class, grouped by class in that order,
    as libsvm stores them): a support vector of class i only weighs in the
    ``k - 1`` pairs holding i, so the second product is taken class by class
    on those columns, ``k / 2`` times fewer operations than the dense
    ``(n_support, n_pairs)`` product (13x for 26 letters, where that product
    cost more than the kernel). Same decisions up to the summation order.
    """
    coef = coef.astype(dtype, copy=False)
    blocks = _class_blocks(coef, n_support)
    right = _extended(support_vectors, gamma, dtype, left=False)
    itemsize = np.dtype(dtype).itemsize
    rows = max(1, _KERNEL_CHUNK_BYTES // (itemsize * max(1, support_vectors.shape[0])))
    out = np.empty((Z.shape[0], coef.shape[1]))
    for start in range(0, Z.shape[0], rows):
        left = _extended(Z[start : start + rows], gamma, dtype, left=True)
        kernel = left @ right.T
        np.exp(kernel, out=kernel)
        if blocks is None:
            out[start : start + rows] = kernel @ coef
            continue
        target = out[start : start + rows]
        target[:] = 0.0
        for sv_rows, pair_columns, class_coef in blocks:
            target[:, pair_columns] += kernel[:, sv_rows] @ class_coef
    out += intercept
    return out


def _extended(rows, gamma, dtype, *, left):
    """The operands of ``_rbf_decisions``'s one product: ``[2 gamma z,
    -gamma |z|^2, 1]`` for the rows (``left``), ``[s, 1, -gamma |s|^2]`` for
    the support vectors. Norms in float64, whatever ``dtype``."""
    rows = np.asarray(rows, dtype=np.float64)
    out = np.empty((rows.shape[0], rows.shape[1] + 2), dtype=dtype)
    out[:, :-2] = 2.0 * gamma * rows if left else rows
    norms = -gamma * np.einsum("ij,ij->i", rows, rows)
    out[:, -2], out[:, -1] = (norms, 1.0) if left else (1.0, norms)
    return out


def _class_blocks(coef, n_support):
    """``(support rows, pair columns, coefficients)`` of each class, or None.

    None (the dense product) without ``n_support`` or for two classes, where
    every support vector is in the one pair.
    """
    if n_support is None or len(n_support) <= 2:
        return None
    n_classes = len(n_support)
    first, second = np.triu_indices(n_classes, k=1)
    bounds = np.concatenate([[0], np.cumsum(n_support)])
    blocks = []
    for i in range(n_classes):
        rows = slice(bounds[i], bounds[i + 1])
        columns = np.flatnonzero((first == i) | (second == i))
        blocks.append((rows, columns, np.ascontiguousarray(coef[rows][:, columns])))
    return blocks


def _pair_coefficients(svm):
    """(n_support, n_pairs) coefficients and (n_pairs,) intercepts of an OvO SVC.

    libsvm's layout: for the pair (i, j), i < j, the support vectors of class i
    carry ``dual_coef_[j - 1]`` and those of class j carry ``dual_coef_[i]``.
    The decision is positive for class i (for two classes scikit-learn flips the
    sign of its public ``dual_coef_`` and ``intercept_``; that is undone here).
    """
    n_classes = svm.classes_.size
    dual = svm.dual_coef_
    intercept = svm.intercept_
    if n_classes == 2:
        dual, intercept = -dual, -intercept
    bounds = np.concatenate([[0], np.cumsum(svm.n_support_)])
    first, second = np.triu_indices(n_classes, k=1)
    coef = np.zeros((dual.shape[1], first.size))
    for pair, (i, j) in enumerate(zip(first, second, strict=True)):
        rows_i = slice(bounds[i], bounds[i + 1])
        rows_j = slice(bounds[j], bounds[j + 1])
        coef[rows_i, pair] = dual[j - 1, rows_i]
        coef[rows_j, pair] = dual[i, rows_j]
    return coef, np.asarray(intercept, dtype=np.float64).copy()


class LetterClassifier(ClassifierMixin, BaseEstimator):
    """Random forest (or extra-trees) on feature rows: the letters head.

    A forest needs no feature scaling, handles many classes at no extra cost,
    fits in parallel and gives probabilities directly (the share of trees'
    leaf votes).

    Parameters
    ----------
    n_estimators : int, default=200
        Number of trees.
    extra_trees : bool, default=False
        Use extremely randomised trees (``ExtraTreesClassifier``): random split
        thresholds, faster to fit, often as accurate on image features.
    max_features : {"sqrt", "log2"}, int, float or None, default="sqrt"
        Features considered at each split.
    max_depth : int or None, default=None
        Maximum tree depth; None grows until leaves are pure or smaller than
        ``min_samples_leaf``.
    min_samples_leaf : int or float, default=1
        Minimum rows in a leaf; larger values give smaller, faster models.
    class_weight : {"balanced", "balanced_subsample"}, dict or None, default=None
        Class weights, as in ``RandomForestClassifier``.
    n_jobs : int, default=None
        Parallel jobs for fit and predict. Predict splits the rows among
        threads and adds the trees' probabilities in a fixed order, so its
        output is the same bits for every ``n_jobs`` (scikit-learn's own
        forest adds them in thread-completion order, which moves the result
        by about 1e-16 from call to call).
    random_state : int, RandomState instance or None, default=None
        Seeds the bootstrap and the feature draws.
    verbose : int or bool, default=False
        Print one line when the forest is fitted, with its elapsed time.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when X had string column names.
    forest_ : RandomForestClassifier or ExtraTreesClassifier
        The fitted forest.

    See Also
    --------
    DigitClassifier : The SVM head.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from mtclassic.heads import LetterClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LetterClassifier(n_estimators=50, random_state=0).fit(X[:1000], y[:1000])
    >>> clf.predict_proba(X[1000:1003]).shape
    (3, 10)
    >>> float(clf.score(X[1000:], y[1000:])) > 0.85
    True
    """

    _parameter_constraints: dict = {
        "n_estimators": [Interval(numbers.Integral, 1, None, closed="left")],
        "extra_trees": ["boolean"],
        "max_features": [
            StrOptions({"sqrt", "log2"}),
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="right"),
            None,
        ],
        "max_depth": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "min_samples_leaf": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="neither"),
        ],
        "class_weight": [StrOptions({"balanced", "balanced_subsample"}), dict, None],
        "n_jobs": N_JOBS,
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        n_estimators=200,
        extra_trees=False,
        max_features="sqrt",
        max_depth=None,
        min_samples_leaf=1,
        class_weight=None,
        n_jobs=None,
        random_state=None,
        verbose=False,
    ):
        self.n_estimators = n_estimators
        self.extra_trees = extra_trees
        self.max_features = max_features
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.class_weight = class_weight
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the forest.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : LetterClassifier
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        log = _StageLog("LetterClassifier", self.verbose)
        forest_class = (
            ExtraTreesClassifier if self.extra_trees else RandomForestClassifier
        )
        self.forest_ = forest_class(
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            class_weight=self.class_weight,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        ).fit(X, y)
        self.classes_ = self.forest_.classes_
        log(f"fitted {self.n_estimators} trees on {X.shape[0]} rows")
        return self

    def predict_proba(self, X):
        """Class probabilities: the mean of the trees' leaf distributions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float32, order="C", reset=False)
        return _forest_proba(self.forest_, X, self.n_jobs)

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Feature rows.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted labels.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


def _forest_proba(forest, X, n_jobs):
    """Mean of the trees' class probabilities, summed in tree order for every row.

    ``ForestClassifier.predict_proba`` runs the trees in threads and adds each
    tree's probabilities to one shared array under a lock, in whatever order
    the threads finish: with ``n_jobs > 1`` the floating-point sum (and so a
    near-tied argmax) can change from call to call. Here the parallel work is
    split by rows instead: each block of ``_FOREST_BLOCK_ROWS`` rows runs every
    tree in the order of ``estimators_`` and accumulates into its own rows of
    the output, so every row's sum is the same sequence of additions whatever
    ``n_jobs``, the block size or the thread timing. The result equals
    scikit-learn's ``n_jobs=1`` output bit for bit.
    """
    n_samples, n_classes = X.shape[0], forest.n_classes_
    out = np.zeros((n_samples, n_classes), dtype=np.float64)
    blocks = chunk_slices(n_samples, _FOREST_BLOCK_ROWS)

    def accumulate(rows):
        block, target = X[rows], out[rows]
        for tree in forest.estimators_:
            # DecisionTreeClassifier.predict_proba without its per-call checks
            target += tree_predict(tree, block)[:, :n_classes]

    n_workers = min(effective_n_jobs(n_jobs), len(blocks))
    if n_workers <= 1:
        for rows in blocks:
            accumulate(rows)
    else:
        for _ in map_in_threads(accumulate, ((rows,) for rows in blocks), n_workers):
            pass
    out /= len(forest.estimators_)
    return out
