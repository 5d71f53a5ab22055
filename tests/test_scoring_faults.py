"""Batch scoring under faults (issue 14): concurrent runs, killed runs, bad
inputs, edited inputs, orphaned workers, and the one-line messages of
`mtclassic score`.

Several tests run `mtclassic score` in real processes: two scorers on one
output, kill -9 of the parent of worker processes.
"""

import contextlib
import errno
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_scoring import (
    _SLOW_MODEL,
    _Flaky,
    _make_images,
    _make_model,
    _read_csv,
)

import mtclassic
from mtclassic import scoring
from mtclassic.cli import EXIT_RECORD_ERRORS, SCHEDULER_TIMEOUT, main
from mtclassic.datasets import save_idx
from mtclassic.persistence import save_model
from mtclassic.scoring import score_files


@pytest.fixture(scope="module")
def model():
    return _make_model()


@pytest.fixture
def slow_cli(tmp_path, model, monkeypatch):
    """A saved slow model, data, and the argv/env that score them in a process."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "slow_model.py").write_text(_SLOW_MODEL)
    import slow_model

    # 40 chunks of 0.2 s: the run lasts long enough for a second process.
    save_model(slow_model.SlowModel(model, delay=0.2), tmp_path / "slow.joblib")
    data = str(tmp_path / "a-idx3-ubyte.gz")
    save_idx(data, _make_images(1000, seed=2)[0])
    env = dict(os.environ, SLOW_MODEL_LOG=str(tmp_path / "calls.log"),
               PYTHONPATH=os.pathsep.join(
                   [str(tmp_path), str(Path(mtclassic.__file__).parents[1])]))  # fmt: skip
    command = [
        sys.executable,
        "-m",
        "mtclassic",
        "score",
        str(tmp_path / "slow.joblib"),
    ]
    return command, data, env


def _wait_for(predicate, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if predicate():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.slow  # more than a second
def test_second_run_on_the_same_out_is_refused(tmp_path, model, slow_cli):
    """Issue 14.1: two real processes; the second exits 1 naming the holder."""
    command, data, env = slow_cli
    other = str(tmp_path / "b.npy")
    np.save(other, _make_images(300, seed=3)[0])
    out = tmp_path / "s.csv"
    first = subprocess.Popen(
        [*command, data, "--out", str(out), "--chunk-size", "25", "--quiet"], env=env
    )
    lock = Path(str(out) + ".lock")
    assert _wait_for(lock.exists, first)
    second = subprocess.run(
        [*command, other, "--out", str(out), "--chunk-size", "25", "--quiet"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert second.returncode == 1
    assert second.stdout == ""
    since = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert re.fullmatch(
        re.escape(
            f"mtclassic score: {out} is being written by another scoring run "
            f"(pid {first.pid} on host {socket.gethostname()}, since "
        )
        + since
        + re.escape(
            f"; lock file {lock}); wait for it to end, or choose another output.\n"
        ),
        second.stderr,
    )
    assert first.wait(timeout=120) == 0
    assert not lock.exists()
    # The first run's output holds its own input's rows only, exactly once.
    ids = [row["id"] for row in _read_csv(out)]
    assert ids == [f"{data}:{i}" for i in range(1000)]
    score_files(model, data, tmp_path / "clean.csv", chunk_size=25)
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()


@pytest.mark.slow  # more than a second
def test_stale_lock_of_a_killed_run_is_taken_over_by_resume(tmp_path, model, slow_cli):
    command, data, env = slow_cli
    out = tmp_path / "s.csv"
    argv = [*command, data, "--out", str(out), "--chunk-size", "25", "--quiet"]
    process = subprocess.Popen(argv, env=env)
    parts = Path(str(out) + ".parts")
    assert _wait_for(lambda: len(list(parts.glob("*.rows"))) >= 3, process)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    lock = Path(str(out) + ".lock")
    assert f'"pid": {process.pid}' in lock.read_text()  # left behind by the kill
    resumed = subprocess.run([*argv, "--resume"], env=env, capture_output=True,
                             text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert re.fullmatch(
        f"mtclassic score: warning: took over the stale lock {re.escape(str(lock))} "
        f"of a scoring run that ended without releasing it \\(pid {process.pid} on "
        f"host {re.escape(socket.gethostname())}, since [-0-9T:]+Z\\).\n",
        resumed.stderr,
    )
    assert not lock.exists()
    score_files(model, data, tmp_path / "clean.csv", chunk_size=25)
    assert out.read_bytes() == (tmp_path / "clean.csv").read_bytes()


def _interrupted_run(model, path, out):
    """A run of chunks of 10 that crashes after its first chunk."""
    _Flaky.budget, _Flaky.calls = 1, 0
    try:
        with pytest.raises(MemoryError):
            score_files(_Flaky(model), path, out, chunk_size=10)
    finally:
        _Flaky.budget = None


def test_lock_is_released_after_a_failed_run(tmp_path, model):
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(30, seed=1)[0])
    out = tmp_path / "out.csv"
    _interrupted_run(model, path, out)
    assert not Path(str(out) + ".lock").exists()
    score_files(_Flaky(model), path, out, chunk_size=10, resume=True)  # not locked
    assert sorted(os.listdir(tmp_path)) == ["out.csv", "out.errors.csv", "x.npy"]


def _descendants(pid):
    """Pids of the living (not zombie) descendants of ``pid``, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
@pytest.mark.slow  # more than a second
def test_workers_die_with_their_parent(tmp_path, slow_cli):
    """Issue 14.10: kill -9 of `score --n-jobs 2`; no child alive 5 s later."""
    command, data, env = slow_cli
    out = tmp_path / "s.csv"
    process = subprocess.Popen(
        [*command, data, "--out", str(out), "--chunk-size", "25", "--n-jobs", "2",
         "--quiet"], env=env,
    )  # fmt: skip
    parts = Path(str(out) + ".parts")
    assert _wait_for(lambda: len(list(parts.glob("*.rows"))) >= 2, process)
    workers = _descendants(process.pid)
    assert len(workers) >= 2  # the two scoring workers (and loky's helpers)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(5)
    assert [pid for pid in workers if _alive(pid)] == []


def test_n_jobs_is_capped_at_the_chunks_with_a_warning(tmp_path, model):
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(30, seed=1)[0])
    with pytest.warns(UserWarning) as record:
        summary = score_files(model, path, tmp_path / "o.csv", chunk_size=10, n_jobs=8)
    assert [str(w.message) for w in record] == [
        "n_jobs=8 lowered to 3: there are 3 chunks to score."
    ]
    assert summary.n_workers == 3


def test_n_jobs_is_capped_where_a_worker_would_not_repay_its_start(
    tmp_path, model, monkeypatch
):
    """Issue 13.8: `--n-jobs 2` on 10,000 images was slower than one job; below
    MIN_IMAGES_PER_WORKER images per worker, fewer workers start."""
    monkeypatch.delenv("MTCLASSIC_MIN_IMAGES_PER_WORKER")
    n_images = scoring.MIN_IMAGES_PER_WORKER + 5  # room for one worker, not two
    path = str(tmp_path / "x.npy")
    np.save(path, np.zeros((n_images, 2, 2), dtype=np.uint8))
    with pytest.warns(UserWarning) as record:
        summary = score_files(_Flat(), path, tmp_path / "o.csv", n_jobs=2,
                              chunk_size=4096)  # fmt: skip
    assert [str(w.message) for w in record] == [
        f"n_jobs=2 lowered to 1: {n_images} images to score are too few for more "
        f"(one worker per {scoring.MIN_IMAGES_PER_WORKER} images repays its start)."
    ]
    assert (summary.n_workers, summary.n_scored) == (1, n_images)


class _Flat:
    """A fast model for large, trivial inputs: the same answer for every image."""

    classes_ = np.array(["a", "b"])

    def predict_proba(self, X):
        return np.tile([0.25, 0.75], (len(X), 1))


def test_n_jobs_is_capped_at_what_memory_holds(tmp_path, model, monkeypatch):
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(30, seed=1)[0])
    per_worker = scoring._WORKER_BASE_BYTES + 10 * scoring._BYTES_PER_IMAGE
    # Room for two workers and a half (the model is in this process: 0 bytes
    # more for it; its copy in the work folder is small).
    monkeypatch.setattr(scoring, "_available_memory", lambda: int(2.5 * per_worker))
    with pytest.warns(UserWarning, match=r"^n_jobs=3 lowered to 2: \d+ MB of memory "
                      r"are available and each worker needs about \d+ MB\.$"):  # fmt: skip
        summary = score_files(model, path, tmp_path / "o.csv", chunk_size=10, n_jobs=3)
    assert summary.n_workers == 2
    assert len(_read_csv(tmp_path / "o.csv")) == 30


def test_an_aborting_chunk_does_not_stop_the_batch(tmp_path, model):
    """Issue 14.7: an .npy of 783-wide rows (every image refused by the model),
    then a good input: the good rows are all present."""
    bad = str(tmp_path / "bad.npy")
    np.save(bad, np.zeros((5, 783), dtype=np.uint8))
    images = _make_images(40, seed=1)[0]
    good = str(tmp_path / "good.npy")
    np.save(good, images)
    out = tmp_path / "out.csv"
    summary = score_files(model, [bad, good], out, chunk_size=16)
    rows = _read_csv(out)
    assert [row["id"] for row in rows] == [f"{good}:{i}" for i in range(40)]
    assert [row["label"] for row in rows] == list(model.predict(images))
    errors = _read_csv(tmp_path / "out.errors.csv")
    assert [row["id"] for row in errors] == [f"{bad}:{i}" for i in range(5)]
    assert all(
        row["reason"].startswith("the model refused the image (") for row in errors
    )
    assert (summary.n_scored, summary.n_errors) == (40, 5)


def test_an_unreadable_input_does_not_stop_the_batch(tmp_path, model):
    """An IDX file whose reader fails (dims (n, 0, 0)) before a good input."""
    bad = str(tmp_path / "empty-idx3-ubyte")
    Path(bad).write_bytes(b"\x00\x00\x08\x03" + (3).to_bytes(4, "big") + bytes(8))
    images = _make_images(20, seed=1)[0]
    good = str(tmp_path / "good.npy")
    np.save(good, images)
    summary = score_files(model, [bad, good], tmp_path / "out.csv", chunk_size=16)
    assert [row["id"] for row in _read_csv(tmp_path / "out.csv")] == [
        f"{good}:{i}" for i in range(20)
    ]
    errors = _read_csv(tmp_path / "out.errors.csv")
    assert errors and all(row["id"].startswith(bad) for row in errors)
    assert all(row["reason"] for row in errors)
    assert summary.n_scored == 20


def test_exit_status_says_records_went_to_the_errors_file(tmp_path, model, capsys):
    save_model(model, tmp_path / "m.joblib")
    bad = str(tmp_path / "bad.npy")
    np.save(bad, np.zeros((5, 783), dtype=np.uint8))
    good = str(tmp_path / "good.npy")
    np.save(good, _make_images(20, seed=1)[0])
    argv = ["score", str(tmp_path / "m.joblib"), good, "--out", str(tmp_path / "o.csv")]
    assert main(argv) == 0
    assert main([*argv[:2], bad, *argv[2:]]) == EXIT_RECORD_ERRORS
    assert "(5 errors in" in capsys.readouterr().out


def test_resume_refuses_an_edited_input_by_name(tmp_path, model):
    """Issue 14.11: a same-size edit with its mtime restored is refused by name."""
    images = _make_images(30, seed=1)[0]
    path = str(tmp_path / "x.npy")
    np.save(path, images)
    out = tmp_path / "out.csv"
    _interrupted_run(model, path, out)
    stat = os.stat(path)
    images[25] = 255 - images[25]  # same size, other content
    np.save(path, images)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as `touch -r`
    assert os.stat(path).st_size == stat.st_size
    message = (
        f"cannot resume from {out}.parts: input {path!r} changed since the "
        "interrupted run (other content hash). Run without resume to start over."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        score_files(_Flaky(model), path, out, chunk_size=10, resume=True)


def test_resume_refuses_other_n_jobs(tmp_path, model):
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(30, seed=1)[0])
    out = tmp_path / "out.csv"
    _interrupted_run(model, path, out)
    message = (
        f"cannot resume from {out}.parts: the interrupted run had other n_jobs. "
        "Run without resume to start over."
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        score_files(_Flaky(model), path, out, chunk_size=10, resume=True, n_jobs=2)


def _cli_error(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    return info.value.code


def test_out_naming_a_directory_is_refused_before_scoring(tmp_path, model):
    save_model(model, tmp_path / "m.joblib")
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(30, seed=1)[0])
    folder = tmp_path / "results"
    folder.mkdir()
    _Flaky.calls = 0
    with pytest.raises(IsADirectoryError):
        score_files(_Flaky(model), path, folder)
    assert _Flaky.calls == 0  # nothing scored
    assert _cli_error(
        ["score", str(tmp_path / "m.joblib"), path, "--out", str(folder)]
    ) == (
        f"mtclassic score: out={str(folder)!r} is a directory; expected the path "
        "of a file to write."
    )
    assert sorted(os.listdir(folder)) == []


def test_out_where_nothing_can_be_written(tmp_path, model):
    """Permission denied, as one line. Root ignores file modes, so as root the
    folder is /sys, where even root cannot create files."""
    save_model(model, tmp_path / "m.joblib")
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(30, seed=1)[0])
    if os.geteuid() == 0:
        folder = Path("/sys")
        if not folder.is_dir():
            pytest.skip("root, and no /sys to stand for a folder root cannot write")
    else:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
    out = folder / "scores.csv"
    assert _cli_error(
        ["score", str(tmp_path / "m.joblib"), path, "--out", str(out)]
    ) == (
        f"mtclassic score: cannot write {out}.lock: permission denied; choose "
        "another --out."
    )


class _FullFile:
    """A file on a full disk: writing fails as os.write does, naming no file."""

    def __init__(self, file):
        self.file = file

    def write(self, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.file, name)


def test_full_disk_is_one_line_and_resume_finishes(tmp_path, model, monkeypatch):
    """ENOSPC in the middle of the run (simulated at the third part): one line,
    the finished chunks kept, and --resume completes the run."""
    save_model(model, tmp_path / "m.joblib")
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(50, seed=1)[0])
    out = tmp_path / "out.csv"
    real_writer, opened = scoring.atomic_writer, []

    @contextlib.contextmanager
    def filling_writer(target):
        with real_writer(target) as file:
            opened.append(target)
            # the manifest and two chunks fit; then the disk is full
            yield file if len(opened) <= 3 else _FullFile(file)

    monkeypatch.setattr(scoring, "atomic_writer", filling_writer)
    argv = ["score", str(tmp_path / "m.joblib"), path, "--out", str(out),
            "--chunk-size", "10", "--quiet"]  # fmt: skip
    assert _cli_error(argv) == (
        f"mtclassic score: no space left on the device writing {out}.parts"
        f"{os.sep}00000002.rows; free some space and run the same command with "
        "--resume (the finished chunks are kept)."
    )
    monkeypatch.setattr(scoring, "atomic_writer", real_writer)
    assert not out.exists()
    assert not Path(str(out) + ".lock").exists()
    assert main([*argv, "--resume"]) == 0
    assert len(_read_csv(out)) == 50


def _can_mount_tmpfs():
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False
    check = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
    )
    return check.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="needs unshare and mount (root)")
@pytest.mark.parametrize("fault", ["full", "read-only"])
def test_real_full_and_read_only_file_systems(tmp_path, model, fault):
    """The same messages on a real full tmpfs and a real read-only mount."""
    save_model(model, tmp_path / "m.joblib")
    data = str(tmp_path / "x.npy")
    np.save(data, _make_images(3000, seed=1)[0])
    mount = tmp_path / "mnt"
    mount.mkdir()
    out = mount / "scores.csv"
    setup = "mount -t tmpfs -o size=48k tmpfs {m}"
    if fault == "read-only":
        setup += " && mount -o remount,ro {m}"
    pythonpath = str(Path(mtclassic.__file__).parents[1])
    script = (
        setup.format(m=mount)
        + f" && PYTHONPATH={pythonpath} {sys.executable} -m mtclassic score "
        f"{tmp_path / 'm.joblib'} {data} --out {out} --chunk-size 200 --quiet"
    )
    result = subprocess.run(["unshare", "-m", "sh", "-c", script],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 1
    if fault == "read-only":
        assert result.stderr == (
            f"mtclassic score: cannot write {out}.lock: the file system is "
            "read-only; choose another --out.\n"
        )
    else:
        assert re.fullmatch(
            f"mtclassic score: no space left on the device writing "
            f"{re.escape(str(out))}.parts/\\d{{8}}\\.rows; free some space and run "
            "the same command with --resume \\(the finished chunks are kept\\).\n",
            result.stderr,
        )


@pytest.mark.slow  # more than a second
def test_unreachable_scheduler_fails_fast_in_one_line(tmp_path, model):
    pytest.importorskip("distributed")
    save_model(model, tmp_path / "m.joblib")
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(5, seed=1)[0])
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    assert _cli_error(["score", str(tmp_path / "m.joblib"), path, "--out",
                       str(tmp_path / "o.csv"), "--scheduler", address]) == (
        f"mtclassic score: cannot reach the Dask scheduler at {address} within "
        f"{SCHEDULER_TIMEOUT} s; check the address and that the scheduler is running."
    )  # fmt: skip
    assert time.monotonic() - started < SCHEDULER_TIMEOUT + 10


def _run_killed_at_removal(model, inputs, out, kill_at, monkeypatch, **options):
    """Score, and raise KeyboardInterrupt (a kill: no clean-up of the work
    folder runs) at file removal ``kill_at`` once ``out`` is written; return
    the files removed before it, and whether the kill came."""
    real_unlink = os.unlink
    removed = []

    def unlink(path, *args, **kwargs):
        if os.path.exists(out):  # the output is written: the work folder goes
            if len(removed) == kill_at:
                raise KeyboardInterrupt
            removed.append(path)
        return real_unlink(path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(os, "unlink", unlink)
        patch.setattr(os, "remove", unlink)
        try:
            score_files(model, inputs, out, **options)
        except KeyboardInterrupt:
            return removed, True
    return removed, False


@pytest.mark.slow  # more than a second
def test_resume_after_a_kill_while_the_work_folder_is_removed(
    tmp_path, model, monkeypatch
):
    """A run killed at any file removal of its finished work folder (the output
    already written): --resume ends with the uninterrupted run's output and
    errors, every record once. Removing the work folder in directory order
    once left a folder without its manifest (which resume refused), or a
    chunk's rows part without its errors part (its error rows lost)."""
    bad = str(tmp_path / "bad.npy")
    np.save(bad, np.zeros((5, 783), dtype=np.uint8))  # refused: an errors part
    inputs = [str(tmp_path / "good1.npy"), bad, str(tmp_path / "good2.npy")]
    np.save(inputs[0], _make_images(40, seed=1)[0])
    np.save(inputs[2], _make_images(30, seed=2)[0])
    score_files(model, inputs, tmp_path / "clean.csv", chunk_size=10)
    expected = [(tmp_path / name).read_bytes()
                for name in ("clean.csv", "clean.errors.csv")]  # fmt: skip
    out = tmp_path / "out.csv"
    # Uninterrupted: the work folder's files (manifest, 8 rows parts, 1 errors
    # part), then the lock.
    removed, killed = _run_killed_at_removal(model, inputs, out, -1, monkeypatch,
                                             chunk_size=10)  # fmt: skip
    assert not killed and len(removed) == 11
    for kill_at in range(len(removed)):
        out.unlink()
        removed, killed = _run_killed_at_removal(
            model, inputs, out, kill_at, monkeypatch, chunk_size=10
        )
        assert killed
        Path(str(out) + ".lock").unlink(missing_ok=True)  # a killed run's lock
        score_files(model, inputs, out, chunk_size=10, resume=True)
        assert [out.read_bytes(), (tmp_path / "out.errors.csv").read_bytes()] == (
            expected
        ), f"killed after removing {removed}"
        assert sorted(os.listdir(tmp_path)) == sorted(
            ["bad.npy", "good1.npy", "good2.npy", "clean.csv", "clean.errors.csv",
             "out.csv", "out.errors.csv"]
        ), f"killed after removing {removed}"  # fmt: skip


def test_temporary_files_of_a_killed_run_are_removed(tmp_path, model):
    """kill -9 while the output or errors file was concatenated left its hidden,
    half-written temporary copy beside it for good (found by
    benchmarks/bench_faults.py); the next run on that output removes it, and
    nothing else."""
    path = str(tmp_path / "x.npy")
    np.save(path, _make_images(20, seed=1)[0])
    left = [".out.csv.0123abcd.tmp", ".out.errors.csv.89abcdef.tmp"]
    kept = [".out.csv.notes.tmp", ".other.csv.0123abcd.tmp", "out.csv.0123abcd.tmp"]
    for name in left + kept:
        (tmp_path / name).write_text("id,label\nhalf")
    score_files(model, path, tmp_path / "out.csv", resume=True)
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["out.csv", "out.errors.csv", "x.npy", *kept]
    )
