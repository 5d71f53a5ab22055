"""Every piece of scikit-learn's private API that mtclassic uses, in one place.

scikit-learn may move or change its private names between minor releases;
the package imports them only from here (as imbalanced-learn does), so that a
new scikit-learn release is adapted to in this one file. The range of
scikit-learn versions this is tested with is bounded in ``pyproject.toml``.

``Parallel`` and ``delayed`` are scikit-learn's (public) wrappers of joblib's:
they carry the caller's ``sklearn.config_context`` into the workers. Every
parallel loop of the estimators uses them.
"""

from sklearn.base import _fit_context
from sklearn.ensemble._base import _BaseHeterogeneousEnsemble
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
    _Constraint,
    validate_params,
)
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _num_samples

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "Parallel",
    "StrOptions",
    "_BaseHeterogeneousEnsemble",
    "_Constraint",
    "_fit_context",
    "_num_samples",
    "_safe_indexing",
    "delayed",
    "tree_predict",
    "validate_params",
]


def tree_predict(tree, X):
    """The leaf values of ``X``'s rows in a fitted decision tree.

    ``DecisionTreeClassifier.predict_proba`` without its per-call checks (the
    forest's rows are validated once): the low-level ``tree_.predict``, whose
    rows are the class counts (or fractions) of each row's leaf.

    Parameters
    ----------
    tree : DecisionTreeClassifier or DecisionTreeRegressor
        A fitted tree.
    X : ndarray of shape (n_samples, n_features), float32
        Rows already validated as the tree expects them.

    Returns
    -------
    values : ndarray of shape (n_samples, n_outputs_total)
    """
    return tree.tree_.predict(X)
