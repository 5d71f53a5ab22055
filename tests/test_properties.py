"""Property-based tests: whatever array comes in, a result or a clear error.

Any shape, dtype and value (NaN, infinities, the ends of the float range,
subnormals, empty axes, colour channels) given to the normalizer, the HOG
transformer, the feature union and a fitted default model must end in one
of two ways: finite output of the documented shape, or a ValueError or
TypeError (which name the argument; the unit tests check their words). No
other exception, no NaN, and no RuntimeWarning of an overflow on the way.

The budget is fixed for CI: ``derandomize=True`` (the same examples on every
run and machine) and 300 examples per transformer, 100 for the model: about 10 s in all.
"""

import functools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mtclassic import HOGTransformer, ImageNormalizer, make_default_model, make_features
from mtclassic.datasets import make_characters

# floats (where the range ends are) and uint8 (what images are) drawn most
DTYPES = (
    [np.float64] * 4
    + [np.float32] * 2
    + [np.uint8] * 2
    + [
        np.bool_,
        np.uint16,
        np.int32,
        np.int64,
        np.uint64,
        np.float16,
        np.complex128,
        np.dtype("U2"),
    ]
)

SHAPES = st.one_of(
    # batches of images, flat rows, colour (and not quite colour) batches
    st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 40)),
    st.tuples(st.integers(0, 3), st.sampled_from([0, 1, 4, 90, 784, 1600, 1701])),
    st.tuples(
        st.integers(0, 2), st.integers(1, 30), st.integers(1, 30), st.integers(1, 5)
    ),
    hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
)


def _special_values(dtype):
    """The values at the edges of ``dtype``: where the arithmetic breaks."""
    if dtype.kind == "f":
        info = np.finfo(dtype)
        huge = [v for v in (2.0**32, 1e39, 1e154, 1e200) if v < info.max]
        return [0.0, 1.0, -1.0, 255.0, *huge, info.max, -info.max, info.tiny,
                info.smallest_subnormal, np.nan, np.inf, -np.inf]  # fmt: skip
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return [0, 1, info.max, info.min]
    if dtype.kind == "c":
        return [0j, 1 + 1j]
    if dtype.kind == "U":
        return ["", "a", "1"]
    return [False, True]


@st.composite
def any_arrays(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    with np.errstate(over="ignore"):
        values = np.asarray(_special_values(dtype), dtype=dtype)
    special = st.sampled_from(values.tolist())
    elements = (
        st.one_of(special, hnp.from_dtype(dtype)) if dtype.kind != "U" else special
    )
    return draw(
        hnp.arrays(dtype, draw(SHAPES), elements=elements, fill=st.one_of(special))
    )


@functools.cache
def _glyphs():
    return make_characters(3, random_state=0)[0].astype(np.float64) / 255


@st.composite
def scaled_glyphs(draw):
    """Characters at any scale and offset: the whole range for every pixel."""
    finite = st.floats(allow_nan=False, allow_infinity=False)
    scale = draw(st.one_of(st.sampled_from(_special_values(np.dtype(float))), finite))
    offset = draw(st.one_of(st.sampled_from([0.0, 1.0, -1e308, 1e308]), finite))
    dtype = draw(st.sampled_from([np.float64, np.float32, np.float16]))
    with np.errstate(all="ignore"):  # beyond the range: inf, refused by name
        return (_glyphs() * scale + offset).astype(dtype)


def arrays():
    return st.one_of(any_arrays(), scaled_glyphs())


PROPERTY_SETTINGS = settings(
    derandomize=True,
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


def _outcome(function, X):
    """``function(X)``, or None for a ValueError or TypeError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow, invalid value
        try:
            return function(X)
        except (ValueError, TypeError):
            return None


def _assert_rows(out, X, n_columns=None):
    assert out.ndim == 2 and out.shape[0] == np.shape(X)[0]
    if n_columns is not None:
        assert out.shape[1] == n_columns
    assert np.isfinite(out).all()


@functools.cache
def _fitted_model():
    X, y = make_characters(360, random_state=0)
    return make_default_model(random_state=0, n_estimators=10).fit(X, y)


@given(arrays())
@PROPERTY_SETTINGS
def test_normalizer_gives_images_or_a_clear_error(X):
    out = _outcome(ImageNormalizer().fit_transform, X)
    if out is not None:
        _assert_rows(out, X, 28 * 28)
        assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("make", [HOGTransformer, make_features])
@given(X=arrays())
@PROPERTY_SETTINGS
def test_features_are_finite_or_a_clear_error(make, X):
    out = _outcome(make().fit_transform, X)
    if out is not None:
        _assert_rows(out, X)


@given(arrays())
@settings(PROPERTY_SETTINGS, max_examples=100)
def test_default_model_gives_probabilities_or_a_clear_error(X):
    model = _fitted_model()
    out = _outcome(model.predict_proba, X)
    if out is not None:
        _assert_rows(out, X, len(model.classes_))
        np.testing.assert_allclose(out.sum(axis=1), 1.0)
