"""Parameter constraints beyond scikit-learn's own vocabulary.

Estimators list them in ``_parameter_constraints`` and public functions in
``@validate_params``, beside scikit-learn's (``Interval``, ``StrOptions``,
...), so that every parameter error has scikit-learn's wording: the
parameter, what it must be and what came. scikit-learn's ``make_constraint``
accepts only its own classes, so these extend ``Interval`` and ``Options``.
"""

import numbers

import numpy as np

from ._sklearn_compat import Interval, Options


class _PositivePair(Options):
    """A pair of positive integers, such as ``image_shape=(height, width)``."""

    def __init__(self, what="(height, width)"):
        super().__init__(object, set())
        self.what = what

    def is_satisfied_by(self, val):
        try:
            first, second = val
        except (TypeError, ValueError):
            return False
        return all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
            for v in (first, second)
        )

    def __str__(self):
        return f"a pair of positive integers {self.what}"


class _FloatDtype(Options):
    """numpy.float64 or numpy.float32, as a type, a dtype or its name."""

    def __init__(self):
        super().__init__(object, set())

    def is_satisfied_by(self, val):
        try:
            return np.dtype(val) in (np.dtype(np.float64), np.dtype(np.float32))
        except TypeError:
            return False

    def __str__(self):
        return "numpy.float64 or numpy.float32"


class NumberInterval(Interval):
    """scikit-learn's ``Interval`` without booleans: True is no size or count.

    (scikit-learn's own accepts them, as ``isinstance(True, int)`` is true.)
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, bool | np.bool_) and super().is_satisfied_by(val)


def positive_pair(what="(height, width)"):
    """Constraint: a pair of positive integers (``what`` names its parts)."""
    return _PositivePair(what)


def float_dtype():
    """Constraint: numpy.float64 or numpy.float32."""
    return _FloatDtype()
