"""Class priors of a batch, estimated from a classifier's posteriors (no labels).

A classifier's posteriors carry the class mix it was trained under. When the
images to score come in another mix (a batch of scanned digits only, a form of
letters only), Saerens, Latinne and Decaestecker (2002, "Adjusting the outputs
of a classifier to new a priori probabilities: a simple procedure", Neural
Computation 14) estimate that mix by expectation-maximisation over the
batch's own posteriors and re-weight them with it. The vote uses it for the
task prior (``MultiTaskVotingClassifier(task_prior="batch")``): which task is
the more frequent a priori is what decides a look-alike such as 0/O or 1/I.
"""

import numpy as np

__all__ = ["adapt_task_prior", "estimate_prior", "shift_prior"]


def _check_proba(proba, reference):
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] < 1:
        raise ValueError(
            f"proba must be a 2-D array (n_samples, n_classes); got shape {proba.shape}."
        )
    if not np.all(np.isfinite(proba)) or np.any(proba < 0):
        raise ValueError("proba must hold finite, non-negative probabilities.")
    reference = np.asarray(reference, dtype=np.float64)
    if reference.shape != (proba.shape[1],):
        raise ValueError(
            f"the reference prior must have one entry per column of proba "
            f"({proba.shape[1]}); got shape {reference.shape}."
        )
    if not np.all(np.isfinite(reference)) or np.any(reference <= 0):
        raise ValueError(
            f"the reference prior must be finite and positive; got {reference.tolist()}."
        )
    return proba, reference / reference.sum()


def shift_prior(proba, reference, prior):
    """Posteriors re-weighted from the ``reference`` class prior to ``prior``.

    Bayes' rule: ``p'(c | x) ~ p(c | x) * prior[c] / reference[c]``, rows
    normalised. A row of zeros stays zero.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Posteriors under the ``reference`` prior.
    reference : array-like of shape (n_classes,)
        The class prior ``proba`` was computed under (positive; normalised here).
    prior : array-like of shape (n_classes,)
        The new class prior (non-negative; normalised here).

    Returns
    -------
    shifted : ndarray of shape (n_samples, n_classes)

    Examples
    --------
    >>> from mtclassic.prior import shift_prior
    >>> shift_prior([[0.5, 0.5]], [0.5, 0.5], [0.8, 0.2]).round(2).tolist()
    [[0.8, 0.2]]
    """
    proba, reference = _check_proba(proba, reference)
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != reference.shape or np.any(prior < 0) or not prior.sum() > 0:
        raise ValueError(
            f"prior must hold {reference.size} non-negative numbers, not all zero; "
            f"got {prior.tolist()}."
        )
    shifted = proba * (prior / prior.sum() / reference)
    total = shifted.sum(axis=1, keepdims=True)
    return np.divide(shifted, total, out=np.zeros_like(shifted), where=total > 0)


def estimate_prior(proba, reference, *, max_iter=200, tol=1e-6):
    """Class prior of a batch, by EM over its posteriors (Saerens et al., 2002).

    Alternates: re-weight the posteriors to the current prior estimate
    (:func:`shift_prior`); take their mean as the next estimate. This is the
    maximum-likelihood estimate of the batch's class mix under the model, and
    needs no labels. It needs a batch large enough to have a mix: on a single
    image it drives the prior to that image's most probable class.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Posteriors of the batch under the ``reference`` prior.
    reference : array-like of shape (n_classes,)
        The class prior ``proba`` was computed under (positive).
    max_iter : int, default=200
        Most EM steps.
    tol : float, default=1e-6
        Stop when no class's prior moves by more than this.

    Returns
    -------
    prior : ndarray of shape (n_classes,)
        Sums to 1. Rows of zeros do not count.

    Examples
    --------
    >>> import numpy as np
    >>> from mtclassic.prior import estimate_prior
    >>> proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.2, 0.8]])
    >>> estimate_prior(proba, [0.5, 0.5]).round(2).tolist()
    [0.91, 0.09]
    """
    proba, reference = _check_proba(proba, reference)
    rows = proba[proba.sum(axis=1) > 0]
    prior = reference.copy()
    if rows.shape[0] == 0:
        return prior
    for _ in range(max_iter):
        new = shift_prior(rows, reference, prior).mean(axis=0)
        if np.max(np.abs(new - prior)) <= tol:
            return new
        prior = new
    return prior


def adapt_task_prior(model, X, *, max_samples=10_000):
    """Set a fitted vote's ``task_prior`` to the task mix of the images ``X``.

    The mix is estimated without labels (``predict_task_mix``) on at most
    ``max_samples`` rows of ``X``, evenly spaced, and set as an array, so that
    every later call scores under it, whatever the chunks: estimate on the
    batch to score (or a sample of it), then score.

    Parameters
    ----------
    model : fitted MultiTaskVotingClassifier, or a Pipeline ending in one
        Changed in place: its vote's ``task_prior``.
    X : array-like of shape (n_samples, ...) or list of 2-D arrays
        Images (rows) as ``model`` takes them, from the source to be scored.
    max_samples : int, default=10_000
        Most rows the mix is estimated on.

    Returns
    -------
    mix : ndarray of shape (n_tasks,)
        The estimated share of each task, in the order of the vote's ``tasks_``.

    Examples
    --------
    >>> from mtclassic import make_default_model
    >>> from mtclassic.datasets import make_characters
    >>> from mtclassic.prior import adapt_task_prior
    >>> X, y = make_characters(300, random_state=0)
    >>> model = make_default_model(random_state=0, n_estimators=10).fit(X, y)
    >>> digits, _ = make_characters(100, classes="digits", random_state=1)
    >>> mix = adapt_task_prior(model, digits)
    >>> bool(mix[0] > 0.8), model.get_params()["vote__task_prior"].shape
    (True, (2,))
    """
    vote = model.steps[-1][1] if hasattr(model, "steps") else model
    if not hasattr(vote, "predict_task_mix"):
        raise TypeError(
            "model must be a fitted MultiTaskVotingClassifier or a Pipeline ending "
            f"in one; got {type(vote).__name__}."
        )
    if max_samples < 1:
        raise ValueError(f"max_samples must be at least 1; got {max_samples}.")
    n = len(X)
    rows = np.unique(np.linspace(0, n - 1, min(n, max_samples)).round().astype(int))
    sample = [X[i] for i in rows] if isinstance(X, list) else np.asarray(X)[rows]
    if vote is not model:
        sample = model[:-1].transform(sample)
    mix = vote.predict_task_mix(sample)
    names = [name for name, _ in vote.estimators]
    prior = np.zeros(len(names))
    prior[[names.index(task) for task in vote.tasks_]] = mix
    vote.set_params(task_prior=prior)
    return mix
