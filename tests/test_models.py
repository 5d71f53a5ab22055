"""make_default_model: the whole chain as one scikit-learn Pipeline."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

from mtclassic import ImageNormalizer, make_default_model
from mtclassic.datasets import make_characters
from mtclassic.heads import DigitClassifier, LetterClassifier
from mtclassic.models import (
    DEFAULT_CELLS,
    DIGITS_COMPONENTS,
    GATE_COMPONENTS,
    PRESETS,
    _n_columns,
    _redrawn,
)
from mtclassic.multitask import MultiTaskVotingClassifier

ALL_LABELS = list("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")


@pytest.fixture(scope="module")
def characters():
    X, y = make_characters(432, random_state=0)  # 12 per class
    return X[:360], y[:360], X[360:], y[360:]


@pytest.fixture(scope="module")
def fitted(characters):
    X, y, _, _ = characters
    return make_default_model(random_state=0, n_estimators=30).fit(X, y)


def test_structure_and_grid_keys():
    model = make_default_model(random_state=0)
    assert [name for name, _ in model.steps] == ["normalize", "features", "vote"]
    assert isinstance(model.named_steps["normalize"], ImageNormalizer)
    assert model.named_steps["normalize"].deskew is True
    vote = model.named_steps["vote"]
    assert isinstance(vote, MultiTaskVotingClassifier)
    assert vote.membership == "gate"
    assert vote.weights == "balanced"
    assert isinstance(vote.gate, DigitClassifier)
    assert vote.gate.kernel_dtype == "float32"
    heads = dict(vote.estimators)
    assert isinstance(heads["digits"], DigitClassifier)
    # an SVM letters head since issue 12; the forest on demand
    assert isinstance(heads["letters"], DigitClassifier)
    forest = dict(make_default_model(letters_head="forest")[-1].estimators)
    assert isinstance(forest["letters"], LetterClassifier)
    assert forest["letters"].n_estimators == PRESETS["accurate"]["n_estimators"]
    assert vote.tasks == {"digits": ALL_LABELS[:10], "letters": ALL_LABELS[10:]}
    params = model.get_params()
    for key in (
        "vote__weights",
        "vote__digits__C",
        "vote__letters__C",
        "vote__gate__C",
        "features__hog__pixels_per_cell",
        "normalize__deskew",
    ):
        assert key in params
    assert params["vote__digits__random_state"] == 0


def test_gate_target_is_passed_on():
    assert make_default_model().named_steps["vote"].gate_target == "tasks"
    for membership in ("gate", "other"):
        model = make_default_model(membership=membership, gate_target="labels")
        assert model.get_params()["vote__gate_target"] == "labels"


def test_the_gate_sees_the_redrawn_strokes_and_the_heads_everything(characters, fitted):
    X, _, X_test, _ = characters
    features = fitted.named_steps["features"]
    assert [name for name, _ in features.transformer_list] == [
        "hog",
        "pixels",
        "redrawn",
    ]
    vote = fitted.named_steps["vote"]
    assert vote.gate_columns == slice(-520, None)
    assert vote.head_columns is None
    assert vote.gate_.n_features_in_ == 520
    # HOG on 4 x 4 pixel cells (6 x 6 blocks of 2 x 2 cells, 9 orientations),
    # the 14 x 14 downsampled pixels, then the redrawn block
    assert vote.estimators_[0].n_features_in_ == 6 * 6 * 2 * 2 * 9 + 14 * 14 + 520
    # the gate's columns are the redrawn images' own features
    normalized = fitted.named_steps["normalize"].transform(X_test)
    redrawn = features.named_transformers["redrawn"].transform(normalized)
    np.testing.assert_array_equal(features.transform(normalized)[:, -520:], redrawn)
    assert "features__redrawn__strokes__pen_width" in fitted.get_params()


def test_the_gate_may_see_the_heads_features():
    model = make_default_model(gate_input="features")
    assert [name for name, _ in model.named_steps["features"].transformer_list] == [
        "hog",
        "pixels",
    ]
    assert model.named_steps["vote"].gate_columns is None
    # scikit-learn's InvalidParameterError: the parameter, its options, what came
    with pytest.raises(
        ValueError, match=r"'gate_input' parameter of make_default_model .*Got 'raw'"
    ):
        make_default_model(gate_input="raw")


def test_fits_raw_images_and_predicts_36_labels(characters, fitted):
    _, _, X_test, y_test = characters
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 36)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert fitted.classes_.tolist() == ALL_LABELS
    assert fitted.named_steps["vote"].tasks_.tolist() == ["digits", "letters"]
    # 10 training images per class of a hard synthetic set: far above 1/36
    assert fitted.score(X_test, y_test) > 0.5


def test_accepts_images_of_any_size(fitted, characters):
    _, _, X_test, _ = characters
    ragged = [np.pad(image, ((0, k), (3, 0))) for k, image in enumerate(X_test[:4])]
    # the normalizer crops the padding away: same characters, same answers
    np.testing.assert_array_equal(fitted.predict(ragged), fitted.predict(X_test[:4]))


def test_same_seed_same_model_and_round_trips(characters, fitted, tmp_path):
    X, y, X_test, _ = characters
    expected = fitted.predict_proba(X_test)
    again = make_default_model(random_state=0, n_estimators=30).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X_test), expected)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(fitted)).predict_proba(X_test), expected
    )
    joblib.dump(fitted, tmp_path / "model.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "model.joblib").predict_proba(X_test), expected
    )


def test_other_membership(characters):
    X, y, X_test, _ = characters
    model = make_default_model(random_state=0, membership="other", n_estimators=10)
    model.fit(X, y)
    vote = model.named_steps["vote"]
    assert vote.gate_ is None
    assert -1 in vote.estimators_[0].classes_  # the reserved "other" class
    np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)


@pytest.mark.slow  # more than a second
def test_clone_cross_val_and_grid_search_over_vote_head_and_features(characters):
    X, y, _, _ = characters
    model = make_default_model(random_state=0, n_estimators=10)
    copy = clone(model)
    assert copy.get_params().keys() == model.get_params().keys()
    assert copy.named_steps["vote"] is not model.named_steps["vote"]
    scores = cross_val_score(model, X, y, cv=2)
    assert scores.shape == (2,) and scores.min() > 0.3
    grid = GridSearchCV(
        model,
        {
            "vote__weights": [[1, 1], [1, 1.5]],
            "vote__digits__C": [1.0, 10.0],
            "features__hog__pixels_per_cell": [(7, 7), (14, 14)],
        },
        cv=2,
    ).fit(X[:240], y[:240])
    assert len(grid.cv_results_["params"]) == 8
    best = grid.best_estimator_
    assert (
        best.named_steps["vote"].estimators_[0].C
        == grid.best_params_["vote__digits__C"]
    )
    hog = best.named_steps["features"].transformer_list[0][1]
    assert hog.pixels_per_cell == grid.best_params_["features__hog__pixels_per_cell"]


@pytest.mark.parametrize("preset", ["accurate", "fast"])
def test_presets_set_their_settings(preset):
    model = make_default_model(preset=preset)
    params = model.get_params()
    settings = PRESETS[preset]
    letters = dict(model.named_steps["vote"].estimators)["letters"]
    kind = {"forest": LetterClassifier, "svm": DigitClassifier}
    assert isinstance(letters, kind[settings["letters_head"]])
    assert params["normalize__deskew"] is settings["deskew"]
    if settings["letters_head"] == "forest":
        assert params["vote__letters__n_estimators"] == settings["n_estimators"]
    for key, step in [("gate_max_samples", "gate"), ("digits_max_samples", "digits")]:
        expected = None if settings[key] == "all" else settings[key]
        assert params[f"vote__{step}__max_samples_per_class"] == expected
    for key, step in [("gate_components", "gate"), ("digits_components", "digits")]:
        expected = None if settings[key] == "all" else settings[key]
        assert params[f"vote__{step}__pca_components"] == expected
    expected = settings["gate_active_set"]
    expected = None if expected == "all" else expected
    assert params["vote__gate__active_set_size"] == expected
    assert params["vote__digits__active_set_size"] is None
    if settings["letters_head"] == "svm":
        expected = settings["letters_components"]
        assert params["vote__letters__pca_components"] == expected
    # one shared features step, on the heads' cells
    cells = {settings["letters_cells"], settings["digits_cells"]}
    assert {params["features__hog__pixels_per_cell"]} == {(c, c) for c in cells}


def test_keywords_override_the_preset():
    params = make_default_model(
        preset="fast", deskew=True, n_estimators=7, gate_max_samples="all"
    ).get_params()
    assert params["normalize__deskew"] is True
    assert params["vote__letters__n_estimators"] == 7
    assert params["vote__gate__max_samples_per_class"] is None
    assert params["vote__digits__max_samples_per_class"] == 2_000
    params = make_default_model(gate_active_set="all").get_params()
    assert params["vote__gate__active_set_size"] is None
    params = make_default_model(preset="fast", gate_active_set=500).get_params()
    assert params["vote__gate__active_set_size"] == 500


def test_components_keywords_and_grid_keys():
    model = make_default_model(gate_components="all", digits_components=0.95)
    params = model.get_params()
    assert params["vote__gate__pca_components"] is None
    assert params["vote__digits__pca_components"] == 0.95
    model.set_params(vote__gate__pca_components=40, vote__digits__pca_whiten=True)
    cloned = clone(model).get_params()
    assert cloned["vote__gate__pca_components"] == 40
    assert cloned["vote__digits__pca_whiten"] is True


def test_fast_preset_fits_and_predicts():
    X, y = make_characters(300, random_state=0)
    model = make_default_model(preset="fast", random_state=0).fit(X, y)
    proba = model.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_best_preset_has_image_heads_with_virtual_support_vectors():
    model = make_default_model(preset="best", n_estimators=20, random_state=0)
    assert [name for name, _ in model.steps] == ["normalize", "vote"]
    params = model.get_params()
    # the accurate preset but for these settings (issue 12: components; the
    # letters head's pixels were measured and kept)
    best = PRESETS["best"]
    accurate = PRESETS["accurate"]
    assert best.keys() == accurate.keys()
    changed = {key: value for key, value in best.items() if value != accurate[key]}
    components = {"digits_components": 200, "letters_components": 200}
    assert changed == {"vsv": True, "letters_copies": 2, **components}
    for head in ("digits", "letters"):
        key = f"vote__{head}__estimator__features__hog__pixels_per_cell"
        assert params[key] == (4, 4)
        assert params[f"vote__{head}__estimator__svm__pca_components"] == 200
    # both heads keep the shared pixel blocks (full-resolution letters pixels
    # were measured and not taken: bench_accuracy_best_pix1.json)
    shared = PRESETS["accurate"]["letters_pixels"]
    for head in ("digits", "letters"):
        key = f"vote__{head}__estimator__features__pixels__downsample"
        assert params[key] == shared
    # the gate keeps the accurate preset's gate features (the default cells)
    accurate = make_default_model().get_params()
    gate_cells = accurate["features__redrawn__features__hog__pixels_per_cell"]
    assert gate_cells == (DEFAULT_CELLS, DEFAULT_CELLS)
    assert params["vote__gate__features__features__hog__pixels_per_cell"] == gate_cells
    assert params["vote__digits__method"] == "vsv"
    assert params["vote__letters__method"] == "distort"
    assert params["vote__letters__n_copies"] == 2
    assert params["vote__gate__svm__pca_components"] == GATE_COMPONENTS
    # the gate sees the redrawn strokes, the heads those and their own features
    assert "vote__gate__features__strokes__n_jobs" in params
    assert "vote__digits__estimator__features__redrawn__strokes__n_jobs" in params
    assert "vote__letters__estimator__features__hog__orientations" in params
    # the grid keys the docstring lists
    model.set_params(
        vote__digits__estimator__svm__C=5.0,
        vote__digits__estimator__features__hog__orientations=8,
        vote__letters__estimator__svm__C=5.0,
        vote__gate__svm__C=5.0,
        vote__digits__vsv_rotation=5.0,
    )
    X, y = make_characters(400, random_state=0)
    model.fit(X[:300], y[:300])
    digits = model.named_steps["vote"].named_estimators_["digits"]
    n_support = digits.estimator_[-1].support_.size
    assert n_support > 0
    proba = model.predict_proba(X[300:])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert model.score(X[300:], y[300:]) > 0.5


def test_letters_copies_alone_makes_image_heads():
    model = make_default_model(letters_copies=1, n_estimators=10, random_state=0)
    assert [name for name, _ in model.steps] == ["normalize", "vote"]
    params = model.get_params()
    assert params["vote__letters__n_copies"] == 1
    assert params["vote__digits__svm__pca_components"] == DIGITS_COMPONENTS


def test_letters_cells_give_the_letters_head_its_own_hog(characters):
    # the digits head's cells keep the shared features; others make image heads
    assert (
        make_default_model(letters_cells=PRESETS["accurate"]["digits_cells"]).steps[1][
            0
        ]
        == "features"
    )
    model = make_default_model(letters_cells=4, digits_cells=7, random_state=0)
    assert [name for name, _ in model.steps] == ["normalize", "vote"]
    params = model.get_params()
    assert params["vote__letters__features__hog__pixels_per_cell"] == (4, 4)
    assert params["vote__digits__features__hog__pixels_per_cell"] == (7, 7)
    # the redrawn block and the gate keep the default cells
    default = (DEFAULT_CELLS, DEFAULT_CELLS)
    redrawn = "vote__letters__features__redrawn__features__hog__pixels_per_cell"
    assert params[redrawn] == default
    assert params["vote__gate__features__features__hog__pixels_per_cell"] == default
    X, y, X_test, _ = characters
    model.fit(X, y)
    vote = model.named_steps["vote"]
    letters, digits = (
        vote.named_estimators_["letters"],
        vote.named_estimators_["digits"],
    )
    # finer cells, more HOG columns than the digits head's
    assert letters[-1].n_features_in_ > digits[-1].n_features_in_
    np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)


def test_letters_pixels_give_the_letters_head_its_own_pixels(characters):
    # the shared blocks keep the shared features; others make image heads
    shared = PRESETS["accurate"]["letters_pixels"]
    assert make_default_model(letters_pixels=shared).steps[1][0] == "features"
    assert make_default_model().get_params()["features__pixels__downsample"] == shared
    model = make_default_model(letters_pixels=1, random_state=0)
    assert [name for name, _ in model.steps] == ["normalize", "vote"]
    params = model.get_params()
    assert params["vote__letters__features__pixels__downsample"] == 1
    assert params["vote__digits__features__pixels__downsample"] == shared
    redrawn = "vote__letters__features__redrawn__features__pixels__downsample"
    assert params[redrawn] == shared
    X, y, X_test, _ = characters
    model.fit(X, y)
    vote = model.named_steps["vote"]
    letters = vote.named_estimators_["letters"]
    digits = vote.named_estimators_["digits"]
    # 28 x 28 pixel columns instead of 14 x 14: 588 more than the digits head
    assert letters[-1].n_features_in_ - digits[-1].n_features_in_ == 28 * 28 - 14 * 14
    np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)


@pytest.mark.parametrize("keyword", ["letters_cells", "digits_cells", "letters_pixels"])
def test_cells_are_checked(keyword):
    with pytest.raises(
        ValueError, match=rf"'{keyword}' parameter of make_default_model .*Got 0"
    ):
        make_default_model(**{keyword: 0})


def test_digits_cells_and_letters_components():
    params = make_default_model(digits_cells=5, letters_components=50).get_params()
    assert params["vote__digits__features__hog__pixels_per_cell"] == (5, 5)
    assert params["vote__letters__svm__pca_components"] == 50
    assert params["vote__digits__svm__pca_components"] == DIGITS_COMPONENTS
    # the accurate preset: one shared features step, the letters SVM on 100
    accurate = make_default_model().get_params()
    assert accurate["vote__letters__pca_components"] == DIGITS_COMPONENTS


def test_accurate_heads_share_one_features_step_on_fine_cells():
    # issue 12: both heads on 4 x 4 pixel cells, computed once for both
    assert PRESETS["accurate"]["digits_cells"] == PRESETS["accurate"]["letters_cells"]
    assert PRESETS["accurate"]["digits_cells"] == 4
    assert PRESETS["fast"]["digits_cells"] == PRESETS["fast"]["letters_cells"]
    assert PRESETS["fast"]["digits_cells"] == DEFAULT_CELLS
    model = make_default_model()
    assert [name for name, _ in model.steps] == ["normalize", "features", "vote"]
    params = model.get_params()
    assert params["features__hog__pixels_per_cell"] == (4, 4)
    # the redrawn block, the gate's input, keeps the default cells and stays
    # the last columns whatever the heads' cells
    default = (DEFAULT_CELLS, DEFAULT_CELLS)
    assert params["features__redrawn__features__hog__pixels_per_cell"] == default
    assert params["vote__gate_columns"] == slice(-_n_columns(_redrawn(None)), None)
    # float32 feature rows (half the memory the fit holds), every block
    X = np.random.default_rng(0).random((2, 28, 28))
    assert model.named_steps["features"].fit_transform(X).dtype == np.float32
    for key in ("features__hog__dtype", "features__pixels__dtype"):
        assert params[key] is np.float32
    for key in ("hog", "pixels"):
        assert params[f"features__redrawn__features__{key}__dtype"] is np.float32
    # any common size shares; the keywords override the preset's
    params = make_default_model(digits_cells=5, letters_cells=5).get_params()
    assert params["features__hog__pixels_per_cell"] == (5, 5)


def test_shared_features_equal_each_heads_own(characters):
    # one features step for both heads gives the model that computes the same
    # features once per head (heads on two sizes of cells, then set alike)
    X, y, X_test, _ = characters
    shared = make_default_model(random_state=0, digits_cells=5, letters_cells=5)
    own = make_default_model(random_state=0, digits_cells=5, letters_cells=7)
    own.set_params(vote__letters__features__hog__pixels_per_cell=(5, 5))
    assert [name for name, _ in own.steps] == ["normalize", "vote"]
    normalized = shared[:1].fit_transform(X_test)
    features = shared.named_steps["features"].fit_transform(normalized)
    for head in ("digits", "letters"):
        head_features = own.get_params()[f"vote__{head}__features"]
        np.testing.assert_array_equal(head_features.fit_transform(normalized), features)
    shared.fit(X, y)
    own.fit(X, y)
    np.testing.assert_array_equal(shared.predict(X_test), own.predict(X_test))
    np.testing.assert_allclose(
        shared.predict_proba(X_test), own.predict_proba(X_test), atol=1e-6
    )


@pytest.fixture(scope="module")
def svm_letters(characters):
    X, y, _, _ = characters
    return make_default_model(random_state=0, letters_head="svm").fit(X, y)


def test_svm_letters_head_builds_fits_and_predicts(characters, svm_letters):
    model = make_default_model(letters_head="svm")
    letters = dict(model.named_steps["vote"].estimators)["letters"]
    assert isinstance(letters, DigitClassifier)
    # the digits head's settings
    digits = dict(model.named_steps["vote"].estimators)["digits"]
    assert letters.get_params() == digits.get_params()
    assert letters.pca_components == DIGITS_COMPONENTS
    _, _, X_test, y_test = characters
    proba = svm_letters.predict_proba(X_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert svm_letters.classes_.tolist() == ALL_LABELS
    vote = svm_letters.named_steps["vote"]
    # the heads learn the vote's label codes: the letters' codes
    letters = vote.named_estimators_["letters"]
    assert vote.classes_[letters.classes_].tolist() == ALL_LABELS[10:]
    assert letters.support_.size > 0
    assert svm_letters.score(X_test, y_test) > 0.5


@pytest.mark.slow  # a grid search / distorted copies: over a second
def test_svm_letters_head_grid_keys_and_pickling(characters, svm_letters):
    params = make_default_model(letters_head="svm").get_params()
    for key in ("vote__letters__C", "vote__letters__gamma",
                "vote__letters__pca_components"):  # fmt: skip
        assert key in params
    assert "vote__letters__n_estimators" not in params
    X, y, X_test, _ = characters
    grid = GridSearchCV(
        make_default_model(random_state=0, letters_head="svm"),
        {"vote__letters__C": [1.0, 10.0]},
        cv=2,
    ).fit(X[:240], y[:240])
    best = grid.best_estimator_.named_steps["vote"].named_estimators_["letters"]
    assert best.C == grid.best_params_["vote__letters__C"]
    expected = svm_letters.predict_proba(X_test)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(svm_letters)).predict_proba(X_test), expected
    )


def test_svm_letters_head_learns_other(characters):
    X, y, X_test, _ = characters
    model = make_default_model(random_state=0, letters_head="svm", membership="other")
    model.fit(X, y)
    letters = model.named_steps["vote"].named_estimators_["letters"]
    assert isinstance(letters, DigitClassifier)
    assert -1 in letters.classes_  # the reserved "other" class
    np.testing.assert_allclose(model.predict_proba(X_test).sum(axis=1), 1.0)


@pytest.mark.slow  # a grid search / distorted copies: over a second
def test_svm_letters_head_on_distorted_copies():
    model = make_default_model(letters_head="svm", letters_copies=1, random_state=0)
    params = model.get_params()
    assert params["vote__letters__n_copies"] == 1
    assert params["vote__letters__estimator__svm__pca_components"] == DIGITS_COMPONENTS
    assert "vote__letters__estimator__forest__n_estimators" not in params
    X, y = make_characters(300, random_state=0)
    model.fit(X[:240], y[:240])
    letters = model.named_steps["vote"].named_estimators_["letters"]
    assert letters.n_augmented_ == 2 * np.isin(y[:240], ALL_LABELS[10:]).sum()
    np.testing.assert_allclose(model.predict_proba(X[240:]).sum(axis=1), 1.0)


def test_letters_head_is_checked():
    with pytest.raises(
        ValueError, match=r"'letters_head' parameter of make_default_model .*Got 'knn'"
    ):
        make_default_model(letters_head="knn")


def test_unknown_preset_is_named():
    with pytest.raises(
        ValueError,
        # the options are a set, whose order varies from run to run
        match=r"'preset' parameter of make_default_model must be a str among "
        r"\{('(accurate|best|fast)'(, )?){3}\}\. Got 'turbo'",
    ):
        make_default_model(preset="turbo")


@pytest.mark.slow  # three fits of the default model
def test_integer_digits_are_the_string_classes(characters):
    # MNIST as load_idx returns it: integer labels 0-9; the classes stay strings
    X, y, X_test, y_test = characters
    digits = np.isin(y, ALL_LABELS[:10])
    test_digits = np.isin(y_test, ALL_LABELS[:10])
    model = make_default_model(random_state=0, n_estimators=10)
    model.set_params(vote__letters="drop")
    from_int = clone(model).fit(X[digits], y[digits].astype(int))
    from_str = clone(model).fit(X[digits], y[digits])
    assert from_int.classes_.tolist() == ALL_LABELS[:10]
    np.testing.assert_array_equal(from_int.predict(X_test), from_str.predict(X_test))
    score = from_int.score(X_test[test_digits], y_test[test_digits].astype(int))
    assert score == from_str.score(X_test[test_digits], y_test[test_digits])
    with pytest.raises(TypeError, match="^y mixes strings and numbers: "):
        clone(model).fit(X, [int(v) if v.isdigit() else v for v in y])
