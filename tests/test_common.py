"""scikit-learn's estimator checks on every estimator and transformer of mtclassic.

Each module states the checks its estimators fail by design, with the reason,
in a module-level ``_expected_failed_checks(estimator)``; they run here as
strict expected failures, so a check that starts passing is noticed too. A
module may name, in ``_checks_hinging_on_rounding(estimator)``, the expected
failures whose outcome depends on float rounding (and so on the CPU and the
BLAS kernels): those are expected failures that may pass, never strict.
"""

import functools

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from mtclassic import augment, features, heads, multitask, preprocessing
from mtclassic.augment import AugmentedClassifier
from mtclassic.features import HOGTransformer, PixelTransformer
from mtclassic.heads import DigitClassifier, LetterClassifier
from mtclassic.multitask import MultiTaskVotingClassifier
from mtclassic.preprocessing import ImageNormalizer
from mtclassic.strokes import StrokeRedrawer

_MODULE_OF = {
    ImageNormalizer: preprocessing,
    HOGTransformer: features,
    PixelTransformer: features,
    DigitClassifier: heads,
    LetterClassifier: heads,
    MultiTaskVotingClassifier: multitask,
    AugmentedClassifier: augment,
}


def _vote(membership, **params):
    # heads not named after the default tasks: the labels of y are split among them
    return MultiTaskVotingClassifier(
        [
            ("svm", DigitClassifier(random_state=0)),
            ("forest", LetterClassifier(n_estimators=10, random_state=0)),
        ],
        membership=membership,
        **params,
    )


ESTIMATORS = [
    ImageNormalizer(),
    ImageNormalizer(deskew=True, stroke_width=2.2),
    HOGTransformer(),
    PixelTransformer(),
    DigitClassifier(random_state=0),
    DigitClassifier(calibration="cv", random_state=0),
    DigitClassifier(kernel_dtype="float32", random_state=0),
    DigitClassifier(max_samples_per_class=20, random_state=0),
    DigitClassifier(solver="nystroem", n_components=30, random_state=0),
    DigitClassifier(pca_components=0.9, pca_whiten=True, random_state=0),
    LetterClassifier(n_estimators=10, random_state=0),
    _vote("other"),
    _vote("gate"),
    _vote("gate", gate_target="labels"),
    _vote("gate", gate_columns=slice(0, None)),
    StrokeRedrawer(),
    AugmentedClassifier(DigitClassifier(random_state=0), random_state=0),
]


def _expected_failed_checks(estimator):
    if isinstance(estimator, StrokeRedrawer):
        # its rows must be square images, like the pixel features' rows
        return features._expected_failed_checks(PixelTransformer())
    return _MODULE_OF[type(estimator)]._expected_failed_checks(estimator)


def _hinging_on_rounding(estimator):
    module = _MODULE_OF[type(estimator)]
    return getattr(module, "_checks_hinging_on_rounding", lambda estimator: set())(
        estimator
    )


def _check_name(check):
    return (check.func if isinstance(check, functools.partial) else check).__name__


def _not_strict_where_rounding_decides(parametrize):
    """``parametrize`` with the rounding-dependent xfails made non-strict."""
    names, params = parametrize.args
    relaxed = []
    for param in params:
        estimator, check = param.values if hasattr(param, "values") else param
        if _check_name(check) in _hinging_on_rounding(estimator):
            reason = _expected_failed_checks(estimator)[_check_name(check)]
            param = pytest.param(
                estimator,
                check,
                marks=pytest.mark.xfail(
                    reason=f"{reason} (depends on rounding: may pass on another CPU)",
                    strict=False,
                ),
            )
        relaxed.append(param)
    return pytest.mark.parametrize(names, relaxed, **parametrize.kwargs)


@_not_strict_where_rounding_decides(
    parametrize_with_checks(
        ESTIMATORS, expected_failed_checks=_expected_failed_checks, xfail_strict=True
    )
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_every_rounding_dependent_check_is_an_expected_failure():
    # a name here that is no expected failure would silently relax nothing
    for estimator in ESTIMATORS:
        expected = _expected_failed_checks(estimator)
        assert _hinging_on_rounding(estimator) <= set(expected), estimator
