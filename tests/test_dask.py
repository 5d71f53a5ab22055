"""Dask: score_files on a cluster, predict_dask, GridSearchCV on joblib's Dask backend.

One real ``distributed.LocalCluster`` on 127.0.0.1 with two worker processes
serves every test of this module, and is always closed.
"""

import re

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mtclassic.cli import main
from mtclassic.persistence import save_model
from mtclassic.scoring import predict_dask, score_files

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.slow  # a local Dask cluster per test

SIDE = 8


def _make_data(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    images = rng.integers(0, 100, (n, SIDE, SIDE)).astype(np.uint8)
    images[:, :, : SIDE // 2] += (40 * y).astype(np.uint8)[:, None, None]
    return images, np.array(["a", "b", "c"])[y]


def _make_model():
    flatten = FunctionTransformer(np.reshape, kw_args={"shape": (-1, SIDE * SIDE)})
    return make_pipeline(flatten, StandardScaler(), LogisticRegression(C=1e-2))


@pytest.fixture(scope="module")
def data():
    return _make_data(90, seed=0)


@pytest.fixture(scope="module")
def model(data):
    return _make_model().fit(*data)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_score_files_on_the_cluster_equals_the_local_run(tmp_path, client, model):
    images = _make_data(100, seed=1)[0]
    path = str(tmp_path / "x.npy")
    np.save(path, images)
    score_files(model, path, tmp_path / "local.csv", chunk_size=9, top_k=2)
    with distributed.get_task_stream(client) as stream:
        summary = score_files(model, path, tmp_path / "dask.csv", chunk_size=9,
                              top_k=2, client=client)  # fmt: skip
    assert summary.n_scored == 100
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    workers = {task["worker"] for task in stream.data}
    assert len(workers) == 2  # the chunks were spread over both workers


class _CountingModel:
    """Counts predict calls in this process (to see when work happens)."""

    calls = 0

    def __init__(self, model):
        self.model = model
        self.classes_ = model.classes_

    def predict(self, X):
        type(self).calls += 1
        return self.model.predict(X)

    def predict_proba(self, X):
        return self.model.predict_proba(X)


def test_predict_dask_is_lazy_and_block_by_block(model, data):
    images, _ = data
    X = da.from_array(images, chunks=(25, 4, SIDE))  # split inside images too
    counting = _CountingModel(model)
    _CountingModel.calls = 0
    labels = predict_dask(counting, X)
    assert _CountingModel.calls == 0  # nothing computed yet
    assert labels.chunks == ((25, 25, 25, 15),)
    # The model is one node of the graph, not a copy per block.
    graph = dict(labels.__dask_graph__())
    nodes = [getattr(node, "value", node) for node in graph.values()]  # DataNode
    assert sum(node is counting for node in nodes) == 1
    np.testing.assert_array_equal(labels.compute(scheduler="sync"),
                                  model.predict(images))  # fmt: skip
    assert _CountingModel.calls == 4


def test_predict_dask_on_the_cluster(client, model, data):
    images, _ = data
    X = da.from_array(images.reshape(len(images), -1), chunks=30)  # flat rows
    labels = predict_dask(model, X)
    proba = predict_dask(model, X, method="predict_proba")
    assert proba.chunks == ((30, 30, 30), (3,))
    got_labels, got_proba = client.compute([labels, proba], sync=True)
    np.testing.assert_array_equal(got_labels, model.predict(images))
    np.testing.assert_allclose(got_proba, model.predict_proba(images))


def test_predict_dask_bad_arguments(model, data):
    images, _ = data
    with pytest.raises(TypeError, match="X must be a dask.array.Array; got ndarray"):
        predict_dask(model, images)
    with pytest.raises(
        ValueError, match=re.escape("got 4 dimensions, shape (2, 2, 2, 2)")
    ):
        predict_dask(model, da.zeros((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="method must be 'predict' or 'predict_proba'"):
        predict_dask(model, da.from_array(images), method="decision_function")


def test_grid_search_on_the_dask_backend(client, data):
    X, y = data
    grid = {"logisticregression__C": [1e-3, 1e-2, 1e-1]}
    local = GridSearchCV(_make_model(), grid, cv=3).fit(X, y)
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_config(backend="dask"):
            on_dask = GridSearchCV(_make_model(), grid, cv=3, n_jobs=-1).fit(X, y)
    # joblib's Dask backend batches the 9 fits into as many tasks as it sees fit,
    # so count tasks only to know the work ran on the cluster's workers
    workers = set(client.scheduler_info()["workers"])
    assert stream.data
    assert {task["worker"] for task in stream.data} <= workers
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_allclose(on_dask.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])  # fmt: skip


# The second cluster's scheduler finds the first one's HTTP port taken.
@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
def test_cli_score_on_a_scheduler_and_a_local_cluster(tmp_path, client, model, capsys):
    images = _make_data(40, seed=2)[0]
    path = str(tmp_path / "x.npy")
    np.save(path, images)
    save_model(model, tmp_path / "m.joblib")
    score_files(model, path, tmp_path / "local.csv", chunk_size=10)
    common = [
        "score",
        str(tmp_path / "m.joblib"),
        path,
        "--chunk-size",
        "10",
        "--quiet",
    ]
    main([*common, "--out", str(tmp_path / "a.csv"), "--scheduler",
          client.scheduler.address])  # fmt: skip
    main([*common, "--out", str(tmp_path / "b.csv"), "--dask-local", "1"])
    expected = (tmp_path / "local.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() == expected
    assert (tmp_path / "b.csv").read_bytes() == expected
    with pytest.raises(SystemExit, match="--dask-local must be >= 1; got 0"):
        main([*common, "--out", str(tmp_path / "c.csv"), "--dask-local", "0"])
