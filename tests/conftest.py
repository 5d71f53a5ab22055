"""Settings shared by every test module."""

import pytest


@pytest.fixture(autouse=True)
def _workers_even_for_small_inputs(monkeypatch):
    """Test inputs are small; with n_jobs > 1 they still run in worker processes.

    Batch scoring starts at most one worker per MIN_IMAGES_PER_WORKER images
    (mtclassic.scoring); the tests of worker processes would otherwise score
    in the calling process. The variable reaches subprocesses too.
    """
    monkeypatch.setenv("MTCLASSIC_MIN_IMAGES_PER_WORKER", "1")
