"""DigitClassifier (calibrated RBF SVM) and LetterClassifier (forest)."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_blobs, make_classification
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.metrics import log_loss

import mtclassic.heads as heads_module
from mtclassic.heads import (
    DigitClassifier,
    LetterClassifier,
    _holdout_split,
    _pairwise_log_proba,
    _rbf_decisions,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:900], y[:900], X[900:1400], y[900:1400]


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_batched_decisions_equal_libsvm(digits, n_classes):
    X, y, X_test, _ = digits
    keep = y < n_classes
    clf = DigitClassifier(random_state=0).fit(X[keep], y[keep])
    Z = clf._scale(X_test)
    expected = clf.svm_.decision_function(Z)  # (n, n_pairs); (n,) for two classes
    if n_classes == 2:  # scikit-learn's binary decision is positive for class 1
        expected = -expected[:, None]
    np.testing.assert_allclose(clf._svm_scores(Z), expected, rtol=1e-9, atol=1e-9)
    # the float32 kernel: the same decisions to about 1e-4
    sv = clf.svm_.support_vectors_
    fast = _rbf_decisions(Z, sv, clf.pair_coef_, clf.pair_intercept_, clf.gamma_,
                          dtype=np.float32)  # fmt: skip
    np.testing.assert_allclose(fast, expected, rtol=0, atol=1e-3)
    assert not np.array_equal(fast, expected)
    # class by class on the pairs of each support vector's class: the same
    # decisions as the dense product (the path _svm_scores takes)
    for dtype, tol in ((np.float64, 1e-9), (np.float32, 1e-3)):
        by_class = _rbf_decisions(Z, sv, clf.pair_coef_, clf.pair_intercept_,
                                  clf.gamma_, dtype=dtype,
                                  n_support=clf.svm_.n_support_)  # fmt: skip
        np.testing.assert_allclose(by_class, expected, rtol=0, atol=tol)


def test_coupling_is_a_distribution_that_follows_the_pairs():
    # three classes; class 1 beats both others, 0 beats 2
    decisions = np.array([[-2.0, 1.0, 3.0]])  # pairs (0,1), (0,2), (1,2)
    log_proba = _pairwise_log_proba(decisions, 3, slope=1.0)
    proba = np.exp(log_proba)[0]
    assert proba.sum() == pytest.approx(1.0)
    assert proba[1] > proba[0] > proba[2]
    # Price et al.: p_i ~ 1 / (1 + sum_{j != i} exp(-d_ij))
    raw = 1 / (1 + np.array([np.exp(2) + np.exp(-1), np.exp(-2) + np.exp(-3),
                             np.exp(1) + np.exp(3)]))  # fmt: skip
    np.testing.assert_allclose(proba, raw / raw.sum())


def test_two_class_coupling_is_the_sigmoid():
    log_proba = _pairwise_log_proba(np.array([[0.7]]), 2, slope=2.0)
    assert np.exp(log_proba[0, 0]) == pytest.approx(1 / (1 + np.exp(-1.4)))


def test_coupling_does_not_overflow_on_huge_margins():
    log_proba = _pairwise_log_proba(np.array([[1e6, -1e6, 1e6]]), 3, slope=10.0)
    assert np.all(np.isfinite(log_proba))
    assert np.exp(log_proba).sum() == pytest.approx(1.0)


def test_holdout_split_is_stratified_and_keeps_every_class():
    y = np.array([0] * 50 + [1] * 20 + [2] * 1)
    train, holdout = _holdout_split(y, 0.1, random_state=0)
    assert np.bincount(y[holdout], minlength=3).tolist() == [5, 2, 0]
    assert np.bincount(y[train]).tolist() == [45, 18, 1]
    assert np.intersect1d(train, holdout).size == 0
    assert train.size + holdout.size == y.size


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"calibration": "cv"},
        {"solver": "nystroem", "n_components": 200},
        {"scaling": "standard"},
        {"calibration_size": 0.2},
        {"calibration_size": 150},
        {"kernel_dtype": "float32"},
    ],
)
def test_probabilities_are_calibrated_and_consistent(digits, params):
    X, y, X_test, y_test = digits
    clf = DigitClassifier(random_state=0, **params).fit(X, y)
    proba = clf.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X_test), clf.classes_[proba.argmax(1)])
    assert clf.score(X_test, y_test) > 0.9
    # calibrated: far better than the uniform guess, and not over-confident
    assert log_loss(y_test, proba, labels=clf.classes_) < 0.4
    assert 0 < clf.calibration_slope_ < 1e3


def test_calibration_size_auto_holds_out_ten_percent_at_most_2000(digits):
    X, y, _, _ = digits
    clf = DigitClassifier(random_state=0)
    assert clf._holdout_share(900) == pytest.approx(0.1)
    assert clf._holdout_share(60000) == pytest.approx(2000 / 60000)
    clf.fit(X, y)
    # the SVM saw about 90% of the rows
    assert clf.svm_.shape_fit_[0] == pytest.approx(0.9 * len(y), abs=10)


def test_separable_holdout_still_gives_a_finite_slope():
    X, y = make_blobs(200, centers=[[-10, 0], [10, 0]], random_state=0)
    clf = DigitClassifier(random_state=0).fit(X, y)
    assert clf.calibration_slope_ < 1e3 * 0.99
    assert clf.predict_proba(X).max() < 1.0


def test_global_scaling_keeps_relative_feature_weights():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 3)) * [1.0, 10.0, 0.0] + [5, 0, 2]
    y = np.arange(60) % 2
    glob = DigitClassifier(random_state=0).fit(X, y)
    std = DigitClassifier(scaling="standard", random_state=0).fit(X, y)
    scaled = glob._scale(X)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-12)
    ratio = scaled.std(axis=0)[1] / scaled.std(axis=0)[0]
    assert ratio == pytest.approx(X[:, 1].std() / X[:, 0].std())
    np.testing.assert_allclose(std._scale(X).std(axis=0), [1, 1, 0], atol=1e-12)
    assert glob.gamma_ == pytest.approx(1 / (3 * scaled.var()))


def test_same_seed_same_model_and_pickle_round_trip(digits):
    X, y, X_test, _ = digits
    a = DigitClassifier(random_state=3).fit(X, y)
    b = DigitClassifier(random_state=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    c = pickle.loads(pickle.dumps(a))
    np.testing.assert_array_equal(a.predict_proba(X_test), c.predict_proba(X_test))


def test_string_labels(digits):
    X, y, X_test, _ = digits
    labels = np.array(list("0123456789"))[y]
    clf = DigitClassifier(random_state=0).fit(X, labels)
    assert clf.classes_.tolist() == list("0123456789")
    assert set(clf.predict(X_test)) <= set("0123456789")


def test_one_class_is_an_error():
    with pytest.raises(
        ValueError,
        match=r"y must hold at least two classes to fit a DigitClassifier; got "
        r"1 class: \['a'\]\.",
    ):
        DigitClassifier().fit(np.zeros((4, 2)), ["a"] * 4)


def test_cv_calibration_needs_two_rows_per_class():
    X = np.arange(10.0).reshape(5, 2)
    with pytest.raises(
        ValueError,
        match=r"calibration='cv' needs at least 2 rows of every class; the rarest "
        r"class in y has 1\. Use calibration='holdout'\.",
    ):
        DigitClassifier(calibration="cv").fit(X, [0, 0, 1, 1, 2])


def test_bad_parameter_names_the_parameter():
    with pytest.raises(ValueError, match="The 'solver' parameter of DigitClassifier"):
        DigitClassifier(solver="libsvm").fit(np.zeros((4, 2)), [0, 1, 0, 1])


def test_letter_classifier_forest_kinds(digits):
    X, y, X_test, y_test = digits
    forest = LetterClassifier(n_estimators=30, random_state=0).fit(X, y)
    extra = LetterClassifier(n_estimators=30, extra_trees=True, random_state=0)
    extra.fit(X, y)
    assert type(forest.forest_) is RandomForestClassifier
    assert type(extra.forest_) is ExtraTreesClassifier
    for clf in (forest, extra):
        assert clf.score(X_test, y_test) > 0.85
        np.testing.assert_allclose(clf.predict_proba(X_test).sum(axis=1), 1.0)
        assert clf.forest_.n_estimators == 30


def test_letter_classifier_passes_its_parameters_and_clones(digits):
    X, y, _, _ = digits
    params = dict(n_estimators=5, max_features=0.5, max_depth=4, min_samples_leaf=3,
                  class_weight="balanced", n_jobs=2, random_state=1)  # fmt: skip
    clf = LetterClassifier(**params).fit(X, y)
    forest_params = clf.forest_.get_params()
    for name in ("max_features", "max_depth", "min_samples_leaf", "class_weight"):
        assert forest_params[name] == params[name]
    assert clone(clf).get_params() == clf.get_params()
    assert not hasattr(clone(clf), "forest_")


def test_max_samples_per_class_caps_the_rows_the_svm_sees(digits):
    X, y, _, _ = digits
    capped = DigitClassifier(max_samples_per_class=30, random_state=0).fit(X, y)
    # 10% of the 30 rows of each class are held out for the calibration
    assert capped.svm_.n_support_.max() <= 30
    assert capped.svm_.shape_fit_[0] <= 30 * capped.classes_.size
    assert capped.n_features_in_ == X.shape[1]
    # a cap above every class's count changes nothing
    loose = DigitClassifier(max_samples_per_class=10_000, random_state=0).fit(X, y)
    plain = DigitClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(loose.predict_proba(X), plain.predict_proba(X))


def test_max_samples_per_class_must_be_positive(digits):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="max_samples_per_class"):
        DigitClassifier(max_samples_per_class=0).fit(X, y)


def test_class_count_is_the_rows_fitted_on(digits):
    X, y, _, _ = digits
    plain = DigitClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(plain.class_count_, np.bincount(y))
    capped = DigitClassifier(max_samples_per_class=30, random_state=0).fit(X, y)
    np.testing.assert_array_equal(capped.class_count_, np.minimum(np.bincount(y), 30))


@pytest.fixture(scope="module")
def noisy_rows():
    """Overlapping classes: leaves of several rows hold fractions, so the sum of
    60 trees' probabilities is not exact and its value depends on its order."""
    X, y = make_classification(n_samples=3000, n_features=40, n_informative=10,
                               n_classes=5, flip_y=0.2, random_state=0)  # fmt: skip
    return X[:1500], y[:1500], X[1500:]


@pytest.mark.parametrize("extra_trees", [False, True])
def test_forest_probabilities_are_bitwise_reproducible_with_threads(
    noisy_rows, extra_trees
):
    # scikit-learn's forest adds the trees' outputs in the order its threads
    # finish: with n_jobs=2 repeated calls differed by about 1e-16, which can
    # flip a near-tied vote
    X, y, X_test = noisy_rows
    clf = LetterClassifier(n_estimators=60, min_samples_leaf=3, n_jobs=2,
                           extra_trees=extra_trees, random_state=0).fit(X, y)  # fmt: skip
    first = clf.predict_proba(X_test)
    for call in range(20):
        again = clf.predict_proba(X_test)
        assert np.array_equal(again, first), (
            f"call {call + 2} differs from call 1 by up to {np.abs(again - first).max()}"
        )
    # the value is the mean of the trees' probabilities, summed in tree order
    trees = [tree.predict_proba(X_test.astype(np.float32)) for tree in clf.forest_]
    in_order = np.zeros_like(first)
    for proba in trees:
        in_order += proba
    in_order /= len(trees)
    assert np.array_equal(first, in_order)
    np.testing.assert_allclose(first, np.mean(trees, axis=0), rtol=0, atol=1e-15)
    assert not np.array_equal(first, np.round(first, 2))  # the sums are not exact


def test_forest_probabilities_do_not_depend_on_n_jobs_or_blocks(
    noisy_rows, monkeypatch
):
    X, y, X_test = noisy_rows
    clf = LetterClassifier(n_estimators=60, min_samples_leaf=3, n_jobs=1,
                           random_state=0).fit(X, y)  # fmt: skip
    serial = clf.predict_proba(X_test)
    # scikit-learn's own serial path adds the trees in the same order
    clf.forest_.set_params(n_jobs=1)
    assert np.array_equal(serial, clf.forest_.predict_proba(X_test))
    for n_jobs in (2, -1):
        clf.set_params(n_jobs=n_jobs)
        assert np.array_equal(clf.predict_proba(X_test), serial)
        # many blocks of rows, some rows in a short last block
        monkeypatch.setattr(heads_module, "_FOREST_BLOCK_ROWS", 97)
        assert np.array_equal(clf.predict_proba(X_test), serial)
        monkeypatch.undo()
    # a row's probabilities do not depend on the rest of the batch
    assert np.array_equal(clf.predict_proba(X_test[7:8]), serial[7:8])
    np.testing.assert_array_equal(
        clf.predict(X_test), clf.classes_[np.argmax(serial, axis=1)]
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"calibration": "cv"},
        {"max_samples_per_class": 40},
        {"active_set_size": 100},
        {"active_set_size": 100, "calibration": "cv", "max_samples_per_class": 60},
    ],
)
def test_support_indexes_the_callers_rows(digits, params):
    X, y, _, _ = digits
    clf = DigitClassifier(random_state=0, **params).fit(X, y)
    assert clf.support_.shape == (clf.svm_.support_vectors_.shape[0],)
    np.testing.assert_allclose(clf._scale(X[clf.support_]), clf.svm_.support_vectors_)
    if params.get("max_samples_per_class"):
        assert np.bincount(y[clf.support_]).max() <= params["max_samples_per_class"]
    nystroem = DigitClassifier(solver="nystroem", n_components=50, random_state=0)
    assert not hasattr(nystroem.fit(X, y), "support_")


def test_pca_components_projects_before_the_kernel(digits):
    X, y, X_test, _ = digits
    plain = DigitClassifier(random_state=0).fit(X, y)
    assert plain.projection_ is None and plain.explained_variance_ratio_ is None
    assert plain.n_components_ == X.shape[1]
    clf = DigitClassifier(pca_components=12, random_state=0).fit(X, y)
    assert clf.n_components_ == 12
    assert clf.projection_.shape == (X.shape[1], 12)
    assert clf.svm_.support_vectors_.shape[1] == 12
    ratio = clf.explained_variance_ratio_
    assert ratio.shape == (12,) and np.all(np.diff(ratio) <= 0) and ratio.sum() < 1
    assert clf.predict_proba(X_test).shape == (len(X_test), 10)
    # the rows the SVM sees are the principal components of the scaled rows
    from sklearn.decomposition import PCA

    scaled = (X - plain.center_) / plain.scale_
    expected = PCA(12).fit(scaled).transform(scaled)
    got = clf._scale(X)
    signs = np.sign(np.sum(got * expected, axis=0))
    np.testing.assert_allclose(got * signs, expected, atol=1e-8)


def test_pca_components_as_a_share_of_variance(digits):
    X, y, _, _ = digits
    clf = DigitClassifier(pca_components=0.8, random_state=0).fit(X, y)
    full = DigitClassifier(pca_components=X.shape[1], random_state=0).fit(X, y)
    cumulative = np.cumsum(full.explained_variance_ratio_)
    # the fewest components that explain 80% of the variance
    assert cumulative[clf.n_components_ - 1] >= 0.8 > cumulative[clf.n_components_ - 2]
    np.testing.assert_allclose(cumulative[-1], 1.0)
    # more components than features: all of them
    wide = DigitClassifier(pca_components=10_000, random_state=0).fit(X, y)
    assert wide.n_components_ == X.shape[1]


def test_pca_whiten_gives_unit_variance_components(digits):
    X, y, _, _ = digits
    clf = DigitClassifier(pca_components=8, pca_whiten=True, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf._scale(X).var(axis=0, ddof=1), 1.0, rtol=1e-8)
    plain = DigitClassifier(pca_components=8, random_state=0).fit(X, y)
    assert not np.allclose(plain._scale(X).var(axis=0, ddof=1), 1.0, rtol=0.1)


def test_refit_without_pca_forgets_the_projection(digits):
    X, y, X_test, _ = digits
    clf = DigitClassifier(pca_components=5, random_state=0).fit(X, y)
    clf.set_params(pca_components=None).fit(X, y)
    assert clf.projection_ is None and clf.n_components_ == X.shape[1]
    plain = DigitClassifier(random_state=0).fit(X, y)
    np.testing.assert_array_equal(
        clf.predict_proba(X_test), plain.predict_proba(X_test)
    )


@pytest.mark.parametrize("value", [0, -3, 0.0, 1.0, 1.5, "auto"])
def test_bad_pca_components_names_the_parameter(digits, value):
    X, y, _, _ = digits
    with pytest.raises(
        ValueError, match="'pca_components' parameter of DigitClassifier"
    ):
        DigitClassifier(pca_components=value).fit(X, y)


def test_pca_components_is_grid_searchable(digits):
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = digits
    grid = GridSearchCV(
        DigitClassifier(random_state=0),
        {"pca_components": [3, 20], "pca_whiten": [False]},
        cv=2,
    ).fit(X[:400], y[:400])
    assert grid.best_params_["pca_components"] == 20  # 3 dimensions lose digits
    assert grid.best_estimator_.n_components_ == 20
    assert clone(grid.best_estimator_).get_params()["pca_components"] == 20


def test_shrinking_reaches_libsvm(digits):
    X, y, _, _ = digits
    clf = DigitClassifier(shrinking=False, cache_size=50, random_state=0).fit(X, y)
    assert clf.svm_.shrinking is False and clf.svm_.cache_size == 50


@pytest.mark.parametrize("calibration", ["holdout", "cv"])
def test_digit_classifier_verbose_prints_each_stage(digits, capsys, calibration):
    X, y, _, _ = digits
    DigitClassifier(calibration=calibration, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    clf = DigitClassifier(
        calibration=calibration, pca_components=10, verbose=True, random_state=0
    ).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("[DigitClassifier] ") for line in lines)
    assert all(line.endswith("s") and ", " in line for line in lines)
    assert f"to 10 dimensions ({X.shape[1]} features)" in lines[0]
    assert f"{clf.svm_.support_.size} support vectors" in lines[-2]
    assert "calibrated" in lines[-1]
    assert len(lines) == (3 if calibration == "holdout" else 4)


def test_letter_classifier_verbose_prints_the_fit(digits, capsys):
    X, y, _, _ = digits
    LetterClassifier(n_estimators=3, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    LetterClassifier(n_estimators=3, verbose=1, random_state=0).fit(X, y)
    out = capsys.readouterr().out
    assert out.startswith(f"[LetterClassifier] fitted 3 trees on {len(y)} rows, ")
    assert out.count("\n") == 1


@pytest.fixture(scope="module")
def characters():
    """Features of synthetic digits and letters: a realistic SVM problem."""
    from mtclassic.datasets import make_characters
    from mtclassic.features import make_features

    X, y = make_characters(3000, random_state=0)
    F = make_features().fit_transform(X)
    y = np.asarray(y).astype(str)
    return F[:2400], y[:2400], F[2400:], y[2400:]


@pytest.mark.parametrize("target", ["tasks", "labels"])
def test_active_set_fit_is_the_full_fit(characters, target):
    X, y, X_test, _ = characters
    if target == "tasks":  # the gate's problem: digit or letter
        y = np.char.isdigit(y).astype(int)
    params = {"pca_components": 40, "random_state": 0}
    plain = DigitClassifier(**params).fit(X, y)
    chunked = DigitClassifier(active_set_size=300, **params).fit(X, y)
    assert plain.n_active_set_rounds_ == 1
    assert chunked.n_active_set_rounds_ > 2  # the chunks did the work
    # the same SVM up to libsvm's tolerance
    assert np.mean(chunked.predict(X_test) == plain.predict(X_test)) >= 0.995
    scores = chunked._svm_scores(chunked._scale(X_test))
    np.testing.assert_allclose(
        scores, plain._svm_scores(plain._scale(X_test)), atol=0.02
    )
    differ = set(chunked.support_) ^ set(plain.support_)
    assert len(differ) <= 0.01 * plain.support_.size
    # libsvm's own predict still runs on the chunked SVC
    np.testing.assert_allclose(
        chunked.svm_.decision_function(chunked._scale(X_test[:50])),
        np.squeeze(-scores[:50] if scores.shape[1] == 1 else scores[:50]),
        atol=1e-8,
    )


def test_active_set_no_smaller_than_the_rows_is_the_plain_fit(digits):
    X, y, X_test, _ = digits
    plain = DigitClassifier(random_state=0).fit(X, y)
    large = DigitClassifier(active_set_size=len(y), random_state=0).fit(X, y)
    assert large.n_active_set_rounds_ == 1
    np.testing.assert_array_equal(
        large.predict_proba(X_test), plain.predict_proba(X_test)
    )


@pytest.mark.parametrize("value", [0, 1, -5, 2.5, "auto"])
def test_bad_active_set_size_names_the_parameter(digits, value):
    X, y, _, _ = digits
    with pytest.raises(
        ValueError, match="'active_set_size' parameter of DigitClassifier"
    ):
        DigitClassifier(active_set_size=value).fit(X, y)


def test_active_set_verbose_prints_one_line_per_round(digits, capsys):
    X, y, _, _ = digits
    clf = DigitClassifier(active_set_size=150, verbose=1, random_state=0).fit(X, y)
    rounds = [
        line
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("[DigitClassifier] active set round ")
    ]
    assert len(rounds) == clf.n_active_set_rounds_ > 1
    sizes = [int(line.split(": ")[1].split(" rows")[0]) for line in rounds]
    assert sizes[0] >= 150 and sizes == sorted(sizes)  # the set only grows
    assert all(" support vectors, " in line for line in rounds)
    assert f"{clf.svm_.support_.size} support vectors" in rounds[-1]
    assert rounds[-1].split(", ")[2].startswith("0 of ")  # no row left violating


@pytest.mark.parametrize("calibration", ["holdout", "cv"])
def test_active_set_is_deterministic_for_any_n_jobs(digits, calibration):
    X, y, X_test, _ = digits
    params = {"active_set_size": 150, "calibration": calibration, "random_state": 3}
    first = DigitClassifier(n_jobs=1, **params).fit(X, y)
    again = DigitClassifier(n_jobs=2, **params).fit(X, y)
    np.testing.assert_array_equal(first.support_, again.support_)
    np.testing.assert_array_equal(first.svm_.dual_coef_, again.svm_.dual_coef_)
    np.testing.assert_array_equal(
        first.predict_proba(X_test), again.predict_proba(X_test)
    )


def test_float32_rows_fit_the_float64_model_by_chunks(monkeypatch):
    # float32 feature rows are not copied to float64: the column statistics,
    # the principal axes and the projection are summed by chunks of rows, in
    # float64, and give the model float64 rows give (the same float values)
    monkeypatch.setattr(heads_module, "_ROW_CHUNK_BYTES", 8 * 64 * 7)  # 7 rows
    X, y = make_classification(300, 64, n_informative=10, n_classes=3, random_state=0)
    X32 = X.astype(np.float32)
    mean, std = heads_module._column_moments(X32)
    np.testing.assert_allclose(mean, X32.astype(np.float64).mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std, X32.astype(np.float64).std(axis=0), rtol=1e-12)
    wide = DigitClassifier(pca_components=12, random_state=0).fit(
        X32.astype(np.float64), y
    )
    narrow = DigitClassifier(pca_components=12, random_state=0).fit(X32, y)
    np.testing.assert_allclose(narrow.projection_, wide.projection_, atol=1e-10)
    np.testing.assert_array_equal(narrow.support_, wide.support_)
    np.testing.assert_allclose(
        narrow.predict_proba(X32), wide.predict_proba(X32), atol=1e-9
    )


def test_float32_kernels_project_in_float32_close_to_float64():
    # kernel_dtype="float32" also centres and projects in float32 in predict
    X, y = make_classification(400, 80, n_informative=12, n_classes=4, random_state=1)
    model = DigitClassifier(pca_components=20, random_state=0).fit(X, y)
    exact = model.predict_proba(X)
    model.set_params(kernel_dtype="float32")
    projected = model._scale(X, np.float32)
    assert projected.dtype == np.float32
    np.testing.assert_allclose(projected, model._scale(X), atol=1e-4)
    np.testing.assert_allclose(model.predict_proba(X), exact, atol=2e-3)
    np.testing.assert_array_equal(model.predict(X), exact.argmax(axis=1))
