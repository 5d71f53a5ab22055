"""Chunks of a batch run in threads: the one parallel loop of the estimators."""

from joblib import effective_n_jobs

from ._sklearn_compat import Parallel, delayed


def map_in_threads(function, jobs, n_jobs):
    """``function(*job)`` for every job, in order, as a generator.

    With one worker (``n_jobs`` None or 1, outside a ``parallel_config``
    context) the jobs run in this thread, one at a time, as they are drawn
    from ``jobs``; otherwise in joblib threads (numpy and the BLAS release
    the GIL), through scikit-learn's ``Parallel``, which carries the caller's
    scikit-learn configuration into them. Either way ``jobs`` is consumed
    lazily, so a generator of chunks never holds the whole batch twice.

    Parameters
    ----------
    function : callable
        Called as ``function(*job)``.
    jobs : iterable of tuple
        The arguments of each call.
    n_jobs : int or None
        Threads, as joblib counts them (-1: all cores).

    Returns
    -------
    results : generator
        ``function(*job)`` of each job, in the order of ``jobs``.

    Examples
    --------
    >>> list(map_in_threads(pow, [(2, 3), (3, 2)], n_jobs=2))
    [8, 9]
    """
    if effective_n_jobs(n_jobs) <= 1:
        return (function(*job) for job in jobs)
    return Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(
        delayed(function)(*job) for job in jobs
    )
