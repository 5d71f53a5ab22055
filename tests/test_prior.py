"""The task mix of a batch: EM prior estimation and the vote's ``task_prior``."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mtclassic.multitask import MultiTaskVotingClassifier
from mtclassic.prior import estimate_prior, shift_prior


def _two_gaussians(n_a, n_b, rng):
    X = np.concatenate([rng.normal(-1, 1, (n_a, 1)), rng.normal(1, 1, (n_b, 1))])
    return X, np.repeat([0, 1], [n_a, n_b])


@pytest.mark.parametrize("share", [0.1, 0.5, 0.85])
def test_estimate_prior_recovers_the_mix_of_a_batch(share):
    # a model fitted on a 50/50 mix scores batches of another mix
    rng = np.random.RandomState(0)
    model = LogisticRegression().fit(*_two_gaussians(5000, 5000, rng))
    n_a = int(4000 * share)
    X, _ = _two_gaussians(n_a, 4000 - n_a, rng)
    prior = estimate_prior(model.predict_proba(X), [0.5, 0.5])
    assert prior.sum() == pytest.approx(1)
    assert prior[0] == pytest.approx(share, abs=0.03)


def test_shift_prior_is_bayes_rule():
    proba = np.array([[0.2, 0.8], [0.5, 0.5], [0.0, 0.0]])
    same = shift_prior(proba, [0.3, 0.7], [3, 7])
    np.testing.assert_allclose(same, proba)
    shifted = shift_prior(proba, [0.5, 0.5], [0.8, 0.2])
    np.testing.assert_allclose(shifted[0], [0.5, 0.5])
    np.testing.assert_allclose(shifted[1], [0.8, 0.2])
    np.testing.assert_array_equal(shifted[2], [0, 0])


@pytest.mark.parametrize(
    "proba, reference, match",
    [
        (np.ones(3), [1, 1], "2-D"),
        (np.ones((2, 2)), [1, 1, 1], "one entry per column"),
        (np.full((2, 2), np.nan), [1, 1], "finite"),
        (np.ones((2, 2)), [1, 0], "positive"),
    ],
)
def test_bad_input_is_named(proba, reference, match):
    with pytest.raises(ValueError, match=match):
        estimate_prior(proba, reference)


def _lookalike_vote(rng):
    """Two tasks whose labels '1' and 'I' are drawn from the same blob."""
    centres = {"1": (0, 0), "2": (4, 0), "I": (0, 0), "Z": (0, 4)}
    y = np.repeat(list(centres), 300)
    X = np.array([centres[label] for label in y]) + rng.normal(size=(len(y), 2))
    vote = MultiTaskVotingClassifier(
        [("numbers", LogisticRegression()), ("letters", LogisticRegression())],
        tasks={"numbers": "12", "letters": "IZ"},
        membership="gate",
        gate=LogisticRegression(),
        weights="balanced",
    ).fit(X, y)
    return vote, X, y


def test_array_task_prior_of_the_training_mix_equals_balanced_weights():
    vote, X, _ = _lookalike_vote(np.random.RandomState(0))
    balanced = vote.predict_proba(X)
    np.testing.assert_allclose(vote.task_mix_, [0.5, 0.5])
    vote.set_params(task_prior=[1, 1])  # read at predict: no refit needed
    np.testing.assert_allclose(vote.predict_proba(X), balanced)
    vote.set_params(task_prior=[9, 1])
    more_numbers = vote.predict_task_proba(X)[:, 0]
    assert np.all(more_numbers >= balanced[:, :2].sum(axis=1) - 1e-12)


def test_batch_prior_sends_lookalikes_to_the_batch_task():
    rng = np.random.RandomState(0)
    vote, _, _ = _lookalike_vote(rng)
    numbers = np.array([(0, 0), (4, 0)])[np.repeat([0, 1], 200)]
    numbers = numbers + rng.normal(size=numbers.shape)
    ones = slice(0, 200)  # the blob '1' shares with 'I'
    fixed = vote.predict(numbers)
    mix = vote.predict_task_mix(numbers)
    assert mix[0] > 0.9
    batch = vote.set_params(task_prior="batch").predict(numbers)
    assert np.mean(batch[ones] == "1") > 0.9
    assert np.mean(batch[ones] == "1") > np.mean(fixed[ones] == "1") + 0.2
    # the mix estimated once, given as an array, scores any chunk alike
    chunks = vote.set_params(task_prior=mix)
    np.testing.assert_array_equal(
        np.concatenate([chunks.predict(numbers[:7]), chunks.predict(numbers[7:])]),
        batch,
    )


def test_task_prior_errors_name_the_argument():
    vote, X, _ = _lookalike_vote(np.random.RandomState(0))
    with pytest.raises(ValueError, match="task_prior must hold one number"):
        vote.set_params(task_prior=[1, 1, 1]).predict(X)
    with pytest.raises(ValueError, match="task_prior must be finite"):
        vote.set_params(task_prior=[0, 0]).predict(X)
    with pytest.raises(ValueError, match="task_prior must be None, 'batch'"):
        vote.set_params(task_prior="batches").predict(X)


@pytest.fixture(scope="module")
def saved_vote(tmp_path_factory):
    from mtclassic import make_default_model
    from mtclassic.datasets import make_characters
    from mtclassic.persistence import save_model

    X, y = make_characters(360, random_state=0)
    model = make_default_model(random_state=0, n_estimators=10).fit(X, y)
    path = tmp_path_factory.mktemp("model") / "vote.joblib"
    save_model(model, path)
    return path, model


def test_score_task_prior_batch_scores_under_the_mix_of_the_inputs(
    saved_vote, tmp_path, capsys
):
    import copy
    import re

    from mtclassic.cli import main
    from mtclassic.datasets import make_characters
    from mtclassic.prior import adapt_task_prior
    from mtclassic.scoring import score_files

    path, model = saved_vote
    digits, _ = make_characters(90, classes="digits", random_state=3)
    inputs = tmp_path / "digits.npy"
    np.save(inputs, digits)
    out = tmp_path / "batch.csv"
    argv = ["score", str(path), str(inputs), "--out", str(out), "--chunk-size", "16"]
    assert main([*argv, "--task-prior", "batch"]) in (0, None)
    printed = capsys.readouterr().out
    share = re.search(r"task mix estimated from the inputs: digits ([\d.]+)%", printed)
    assert share and float(share.group(1)) > 80
    # the command's default ("auto") is the batch mix for a vote
    default = tmp_path / "default.csv"
    assert main([*argv[:4], str(default), "--chunk-size", "16"]) in (0, None)
    assert default.read_text() == out.read_text()
    # the same rows as the model adapted in Python and scored alike
    adapted = copy.deepcopy(model)
    adapt_task_prior(adapted, digits)
    expected = tmp_path / "expected.csv"
    score_files(adapted, [str(inputs)], expected, chunk_size=16, progress=False)
    assert out.read_text() == expected.read_text()
    # score_files does the same from the file, with workers, in other chunks,
    # and leaves a model passed to it as it was
    library = tmp_path / "library.csv"
    summary = score_files(path, inputs, library, chunk_size=7, n_jobs=2,
                          task_prior="batch", progress=False)  # fmt: skip
    # (other chunks round float32 kernels otherwise: the 6th decimal may move)
    rows, expected_rows = _csv_rows(library), _csv_rows(out)
    assert [r[:3] for r in rows] == [r[:3] for r in expected_rows]
    np.testing.assert_allclose(
        [float(r[3]) for r in rows], [float(r[3]) for r in expected_rows], atol=1e-5
    )
    assert summary.task_mix["digits"] == pytest.approx(
        float(share.group(1)) / 100, abs=1e-3
    )
    score_files(model, inputs, tmp_path / "object.csv", task_prior="batch",
                progress=False)  # fmt: skip
    assert model[-1].task_prior is None
    # and not the rows of the fixed prior: the mix moved some look-alikes
    fixed = tmp_path / "fixed.csv"
    assert main([*argv[:4], str(fixed), "--quiet", "--task-prior", "fixed"]) in (
        0,
        None,
    )
    assert fixed.read_text() != out.read_text() or share.group(1) == "50.0"


def test_sample_images_spreads_over_inputs_sorted_by_class(tmp_path):
    from PIL import Image

    from mtclassic.io import sample_images

    for label in range(4):  # a class-per-folder tree: files sorted by class
        folder = tmp_path / str(label)
        folder.mkdir()
        for index in range(30):
            image = np.full((8, 8), 60 * label, dtype=np.uint8)
            Image.fromarray(image).save(folder / f"{index:02d}.png")
    sample = sample_images(tmp_path, 40)
    values = sorted({int(np.asarray(image).max()) for image in sample})
    assert len(sample) == 40
    assert values == [0, 60, 120, 180]
    everything = sample_images(tmp_path, 1000)
    assert len(everything) == 120
    with pytest.raises(ValueError, match="n_images must be at least 1"):
        sample_images(tmp_path, 0)


def test_score_task_prior_auto_is_fixed_for_a_model_without_tasks(tmp_path):
    from sklearn.dummy import DummyClassifier

    from mtclassic.scoring import score_files

    images = np.zeros((4, 8, 8), dtype=np.uint8)
    model = DummyClassifier().fit(images.reshape(4, -1), ["a", "b", "b", "b"])
    path = tmp_path / "x.npy"
    np.save(path, images.reshape(4, -1))
    auto = score_files(model, path, tmp_path / "auto.csv", task_prior="auto")
    score_files(model, path, tmp_path / "fixed.csv")
    assert auto.task_mix is None
    assert (tmp_path / "auto.csv").read_bytes() == (tmp_path / "fixed.csv").read_bytes()
    with pytest.raises(TypeError, match="MultiTaskVotingClassifier"):
        score_files(model, path, tmp_path / "batch.csv", task_prior="batch")
    with pytest.raises(ValueError, match="task_prior"):
        score_files(model, path, tmp_path / "bad.csv", task_prior="mixed")
    assert not (tmp_path / "batch.csv").exists()


def _csv_rows(path):
    """A scores CSV's rows (id, label, task, probability), header dropped."""
    return [line.split(",") for line in path.read_text().splitlines()[1:]]
