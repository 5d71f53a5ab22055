"""The default model on the embedded synthetic characters, end to end.

Runs offline: generates digits and letters with
:func:`mtclassic.datasets.make_characters`, fits
:func:`mtclassic.models.make_default_model` and scores it with
:func:`mtclassic.metrics.task_accuracy`; ``mtclassic demo`` prints the result.
"""

import time

from sklearn.utils import Bunch, check_random_state

__all__ = ["run_demo"]


def run_demo(n_train=6000, n_test=2000, random_state=0, n_jobs=None):
    """Generate, fit and score the default model on synthetic characters.

    Parameters
    ----------
    n_train, n_test : int, default=6000, 2000
        Generated training and test images (36 balanced classes).
    random_state : int or None, default=0
        Seeds the data and the model.
    n_jobs : int, default=None
        Parallel jobs of the model.

    Returns
    -------
    result : Bunch
        ``model`` (fitted), ``scores`` (:func:`mtclassic.metrics.task_accuracy`
        on the test images: per task ``accuracy`` and ``n_samples``, combined
        ``accuracy``, ``routing_error``), ``n_test`` and ``seconds`` (dict of
        ``generate``, ``fit``, ``predict``).

    Examples
    --------
    >>> result = run_demo(n_train=180, n_test=36)  # doctest: +SKIP
    >>> sorted(result.scores["tasks"])  # doctest: +SKIP
    ['digits', 'letters']
    """
    from mtclassic.datasets import make_characters
    from mtclassic.metrics import model_tasks, task_accuracy
    from mtclassic.models import make_default_model

    rng = check_random_state(random_state)
    train_seed, test_seed, model_seed = rng.randint(2**31 - 1, size=3)
    started = time.perf_counter()
    X_train, y_train = make_characters(n_train, random_state=train_seed)
    X_test, y_test = make_characters(n_test, random_state=test_seed)
    generated = time.perf_counter()
    model = make_default_model(random_state=int(model_seed), n_jobs=n_jobs)
    model.fit(X_train, y_train)
    fitted = time.perf_counter()
    y_pred = model.predict(X_test)
    predicted = time.perf_counter()
    scores = task_accuracy(y_test, y_pred, tasks=model_tasks(model))
    return Bunch(
        model=model,
        scores=scores,
        n_test=len(y_test),
        seconds={
            "generate": generated - started,
            "fit": fitted - generated,
            "predict": predicted - fitted,
        },
    )
