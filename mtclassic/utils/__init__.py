"""Private helpers of mtclassic; nothing here is public API.

:mod:`mtclassic.utils._sklearn_compat` is the one door to scikit-learn's
private API.
"""

__all__ = []
