"""Batch scoring under faults: a campaign against the real `mtclassic score`.

Issue 14's acceptance campaign. Every run is a ``python -m mtclassic score``
subprocess, as a user or a batch system starts it:

1. a small default model (``make_default_model(random_state=0)`` fitted on
   ``make_characters(2000)``) saved with :func:`mtclassic.save_model` (joblib),
   and generated inputs of each kind: gzip IDX files, ``.npy`` files (uint8 and
   float32), an ``.npz`` of ragged crops with ``sizes``, and a folder tree of
   PNG files (``--n-images`` images in all);
2. a reference run, uninterrupted;
3. ``--kills`` runs killed with ``kill -9`` at random moments (seeded): after a
   random delay, once a random number of chunk parts is written, or as soon as
   the output appears (the final concatenation and clean-up); every fourth
   (the second, sixth, ...: each moment in turn) with ``--n-jobs 2`` (two real
   worker processes). Each is followed by ``--resume``
   until it ends, and its output and errors file are compared byte for byte
   with the reference's; the killed run's workers must be gone by then;
4. concurrent runs on one output: a run is suspended (SIGSTOP) while it holds
   the output, and a second run on other inputs and a ``--resume`` of the same
   command are started: both must be refused with one line naming the holder,
   and the first, continued, must write the reference; then two identical runs
   are started at the same moment;
5. a full disk: ``--out`` on a small tmpfs, mounted inside ``unshare -m``
   (needs root; skipped with a note otherwise), once so small that the chunk
   parts do not fit and once so that the final output does not: one line on
   standard error, exit status 1, no output file, no lock or temporary file
   left; then the tmpfs is enlarged and ``--resume`` must write the reference;
6. a corrupted input of each kind beside a good input: a gzip IDX with one
   flipped byte, a truncated gzip IDX, a truncated raw IDX, an IDX header that
   claims 2**31 images, an ``.npz`` with one flipped byte, a corrupt PNG in a
   folder, an ``.npy`` of 783-wide rows, and a symbolic-link loop in a folder.
   Exit status 3; the good rows present and equal to the reference's; every
   bad record in the errors file (a whole bad file as one row naming it).

Counted over all runs: rows lost (a reference record in neither the output nor
the errors file), rows duplicated, wrong rows (a row that differs from the
reference's, or that should not exist), unhandled tracebacks (``Traceback``
anywhere in a run's standard error), and every other failed check (exit
status, message, leftover files, orphaned workers), each named. All must be 0;
the exit status is 1 otherwise. Where a corrupt file inside a folder changes
which images share a chunk, the probabilities of the images scored with other
neighbours round differently (the float32 kernel products depend on the
batch): those rows are compared to ``PROBABILITY_TOLERANCE``,
with their labels exact, and counted apart. Everywhere else the comparison is
exact.

Writes ``benchmarks/results/bench_faults.json``.

    nice -n 10 python benchmarks/bench_faults.py            # the full campaign
    nice -n 10 python benchmarks/bench_faults.py --quick    # a small run
"""

import csv
import gzip
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _pinned  # noqa: F401  (BLAS on one thread; before numpy)
import numpy as np
from _common import (
    add_quick,
    child_env,
    command_line,
    descendants,
    machine,
    make_parser,
    parse,
    utc_date,
    write_json,
)

from mtclassic.scoring import PROBABILITY_TOLERANCE

EXIT_RECORD_ERRORS = 3  # mtclassic.cli.EXIT_RECORD_ERRORS, as documented
# A corrupt input's errors must stay small (issue 14.6: a lying header once
# filled the disk with error rows).
MAX_ERRORS_BYTES = 64 * 1024
RUN_TIMEOUT = 600  # seconds; a hung run is a failed check, not a hung campaign


#: --quick: fewer kills and images
QUICK = {"kills": 3, "n_images": 1200}


def parse_args(argv=None):
    parser = make_parser(__doc__, "bench_faults.json", data_dir=False)
    parser.add_argument("--kills", type=int, default=10, help="kill -9 trials")
    parser.add_argument(
        "--n-images", type=int, default=4000, help="images in all inputs"
    )
    parser.add_argument("--n-train", type=int, default=2000)
    parser.add_argument("--chunk-size", type=int, default=128)
    add_quick(parser, QUICK, "fewer kills and images")
    parser.add_argument("--tmp-dir", type=Path, default=None)
    return parse(parser, argv, QUICK)


# ---------------------------------------------------------------- inputs


def make_inputs(folder, n_images, seed):
    """Good inputs of each kind, ``n_images`` in all; their paths, in order."""
    from PIL import Image

    from mtclassic.datasets import make_characters, save_idx

    images, _ = make_characters(n_images, random_state=seed)
    rng = np.random.default_rng(seed)
    shares = np.cumsum([0.25, 0.2, 0.15, 0.15, 0.15, 0.1])
    cuts = [0, *(int(round(s * n_images)) for s in shares[:-1]), n_images]
    parts = [images[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    folder.mkdir(parents=True)
    paths = [folder / "a-idx3-ubyte.gz", folder / "b-idx3-ubyte.gz"]
    save_idx(paths[0], parts[0])
    save_idx(paths[1], parts[1])
    paths.append(folder / "c.npy")
    np.save(paths[-1], parts[2])
    paths.append(folder / "d-float.npy")
    np.save(paths[-1], parts[3].astype(np.float32) / 255)
    # Ragged crops padded into one array: image i is images[i, :h, :w].
    crops = parts[4]
    sizes = rng.integers(18, 29, size=(len(crops), 2))
    padded = np.zeros_like(crops)
    for index, (h, w) in enumerate(sizes):
        padded[index, :h, :w] = crops[index, :h, :w]
    paths.append(folder / "e-sizes.npz")
    np.savez(paths[-1], images=padded, sizes=sizes)
    tree = folder / "f-images"
    for index, image in enumerate(parts[5]):
        sub = tree / ("upper" if index % 2 else "lower")
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(sub / f"{index:05d}.png")
    paths.append(tree)
    return paths


def _flip_byte(path, fraction):
    data = bytearray(path.read_bytes())
    data[int(fraction * len(data))] ^= 0xFF
    path.write_bytes(bytes(data))


def _gzip_header_claiming(path, target, n_images):
    """A copy of a gzip IDX whose header claims ``n_images`` images."""
    data = bytearray(gzip.decompress(path.read_bytes()))
    data[4:8] = n_images.to_bytes(4, "big")
    target.write_bytes(gzip.compress(bytes(data)))


def make_corruptions(good, folder):
    """(name, bad input, the good input it is a copy of or None) per kind.

    Each bad input lives in its own folder under ``folder``, with the base
    name of the good input it was copied from, so its rows map to the
    reference's by path.
    """
    idx_gz, npz, tree = good[0], good[4], good[5]
    cases = []

    def copy(name, source):
        target = folder / name / source.name
        target.parent.mkdir(parents=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
        cases.append((name, target, source))
        return target

    _flip_byte(copy("idx gzip, one flipped byte", idx_gz), 0.5)
    truncated = copy("idx gzip, truncated", idx_gz)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size * 6 // 10])
    raw = copy("idx raw, truncated", idx_gz)
    raw_bytes = gzip.decompress(raw.read_bytes())
    raw.unlink()
    raw = raw.with_name(raw.name[: -len(".gz")])
    raw.write_bytes(raw_bytes[: len(raw_bytes) * 6 // 10 + 5])  # inside a record
    cases[-1] = (cases[-1][0], raw, idx_gz)  # its records are the gzip file's
    _gzip_header_claiming(
        idx_gz, copy("idx header claiming 2**31 images", idx_gz), 2**31
    )
    _flip_byte(copy("npz, one flipped byte", npz), 0.5)
    corrupt_png = copy("folder with a corrupt PNG", tree) / "lower" / "99999.png"
    valid = next((tree / "lower").iterdir()).read_bytes()
    corrupt_png.write_bytes(valid[: len(valid) // 2])
    wrong = folder / "npy of 783-wide rows" / "wrong.npy"
    wrong.parent.mkdir(parents=True)
    np.save(wrong, np.zeros((40, 783), dtype=np.uint8))
    cases.append(("npy of 783-wide rows", wrong, None))
    looped = copy("folder with a symbolic-link loop", tree)
    os.symlink("loop-b.png", looped / "upper" / "loop-a.png")
    os.symlink("loop-a.png", looped / "upper" / "loop-b.png")
    os.symlink(".", looped / "lower" / "again")  # a folder loop: not followed
    return cases


# ---------------------------------------------------------------- checks


def read_rows(path):
    """{id: [row, ...]} of a CSV output (its header dropped), and the row list."""
    rows = {}
    if not path.exists():
        return rows, []
    with open(path, newline="", encoding="utf-8") as file:
        listed = list(csv.reader(file))[1:]
    for row in listed:
        rows.setdefault(row[0], []).append(row)
    return rows, listed


class Campaign:
    """Runs `mtclassic score`, counts the figures and records every trial."""

    def __init__(self, model, env, chunk_size):
        self.model, self.env, self.chunk_size = model, env, chunk_size
        self.n_runs = self.n_faults = 0
        self.lost = self.duplicated = self.wrong = self.tracebacks = 0
        self.rounded = 0  # rows of re-composed chunks, off in rounding only
        self.failures = []  # every failed check, named
        self.trials = []

    def command(self, inputs, out, *extra):
        return [
            sys.executable,
            "-m",
            "mtclassic",
            "score",
            str(self.model),
            *map(str, inputs),
            "--out",
            str(out),
            "--chunk-size",
            str(self.chunk_size),
            *extra,
        ]

    def start(self, argv, env=None):
        self.n_runs += 1
        return subprocess.Popen(
            argv,
            env=env or self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def finish(self, process, trial):
        """Wait for a run; its record (tracebacks counted)."""
        try:
            stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            self.fail(trial, f"a run took more than {RUN_TIMEOUT} s")
        return self.checked(trial, process.returncode, stdout, stderr)

    def checked(self, trial, returncode, stdout, stderr):
        if "Traceback" in stderr:
            self.tracebacks += 1
            self.fail(trial, "a traceback on standard error")
        return {"returncode": returncode, "stdout": stdout, "stderr": stderr}

    def run(self, argv, trial):
        started = time.perf_counter()
        result = self.finish(self.start(argv), trial)
        result["seconds"] = time.perf_counter() - started
        return result

    def fail(self, trial, what):
        self.failures.append(f"{trial}: {what}")
        print(f"  FAILED {trial}: {what}", flush=True)

    def expect_status(self, trial, result, status):
        if result["returncode"] != status:
            self.fail(
                trial,
                f"exit status {result['returncode']}, expected {status}; "
                f"stderr {result['stderr'][-500:]!r}",
            )

    def compare_rows(self, trial, out, expected, extra_ok=(), rounding=False):
        """Count lost, duplicated and wrong rows of ``out`` against ``expected``.

        ``expected`` is {id: row}; ``extra_ok`` the ids that may be missing
        (accounted for in the errors file). With ``rounding``, a row whose
        labels and tasks are the expected ones and whose probabilities are
        within ``PROBABILITY_TOLERANCE`` is not wrong: an image scored in a
        chunk of other images (the chunks of a folder that holds one more
        file) gets probabilities rounded differently.
        """
        rows, _ = read_rows(out)
        lost = [i for i in expected if i not in rows and i not in extra_ok]
        duplicated = sum(len(found) - 1 for found in rows.values())
        differing = [
            (expected.get(record_id), row)
            for record_id, found in rows.items()
            for row in found
            if expected.get(record_id) != row
        ]
        rounded = sum(rounding and _same_within(a, b) for a, b in differing)
        wrong = len(differing) - rounded
        self.rounded += rounded
        self.lost += len(lost)
        self.duplicated += duplicated
        self.wrong += wrong
        if lost or duplicated or wrong:
            self.fail(
                trial, f"{len(lost)} rows lost, {duplicated} duplicated, {wrong} wrong"
            )
        return {
            "rows_lost": len(lost),
            "rows_duplicated": duplicated,
            "rows_wrong": wrong,
            "rows_off_in_rounding": rounded,
        }

    def compare_bytes(self, trial, out, reference):
        """Byte-for-byte equality of an output and its errors file."""
        same = True
        for suffix in ("", ".errors"):
            path = out.with_name(out.stem + suffix + out.suffix)
            ref = reference.with_name(reference.stem + suffix + reference.suffix)
            if not path.exists() or path.read_bytes() != ref.read_bytes():
                same = False
                self.fail(trial, f"{path.name} is not byte for byte the reference's")
        return same

    def leftovers(self, trial, folder, allowed):
        left = sorted(set(os.listdir(folder)) - set(allowed))
        if left:
            self.fail(trial, f"left behind: {left}")
        return left


def _same_within(expected, row):
    """Same id, labels and tasks; probabilities within PROBABILITY_TOLERANCE."""
    if expected is None or len(expected) != len(row):
        return False
    for want, got in zip(expected, row, strict=True):
        if want == got:
            continue
        try:
            if abs(float(want) - float(got)) <= PROBABILITY_TOLERANCE:
                continue  # labels that parse as numbers differ by >= 1
        except ValueError:
            pass
        return False
    return True


def _one_line(text):
    return text.count("\n") == 1 and text.endswith("\n")


def _alive(pid):
    """Whether ``pid`` runs (a zombie has ended: only its entry is left)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as file:
            return not any(line.startswith("State:\tZ") for line in file)
    except OSError:
        return False


def _wait_until(predicate, process, timeout=RUN_TIMEOUT, poll=0.002):
    """True once ``predicate()`` holds; False if ``process`` ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if process.poll() is not None:
            return predicate()
        time.sleep(poll)
    return False


# ---------------------------------------------------------------- trials


def kill_trials(campaign, inputs, reference, ref_seconds, n_chunks, args, tmp):
    """kill -9 at random moments, then --resume until done: the reference bytes."""
    rng = np.random.default_rng(args.random_state)
    modes = ("after a random delay", "after k chunk parts", "once the output appears")
    for trial_index in range(args.kills):
        mode = modes[trial_index % len(modes)]
        n_jobs = 2 if trial_index % 4 == 1 else 1  # every mode, in turn
        name = f"kill {trial_index + 1} ({mode}, n_jobs={n_jobs})"
        folder = tmp / f"kill-{trial_index}"
        folder.mkdir()
        out = folder / "scores.csv"
        parts = Path(f"{out}.parts")
        extra = ("--n-jobs", "2") if n_jobs == 2 else ()
        argv = campaign.command(inputs, out, *extra)
        record = {"trial": name, "mode": mode, "n_jobs": n_jobs}
        process = campaign.start(argv)
        started = time.monotonic()
        landed = _wait_for_moment(
            mode,
            process,
            out,
            record,
            rng,
            ref_seconds * (1.5 if n_jobs == 2 else 1),
            n_chunks,
        )
        workers = descendants(process.pid)[1:] if n_jobs == 2 else []
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            record["killed_at_seconds"] = round(time.monotonic() - started, 3)
        else:
            landed = False
        result = campaign.finish(process, name)
        record["killed"] = landed and result["returncode"] == -signal.SIGKILL
        if record["killed"]:
            campaign.n_faults += 1
            record["parts_left"] = (
                sum(1 for n in os.listdir(parts) if n.endswith(".rows"))
                if parts.is_dir()
                else 0
            )
            record["output_existed"] = out.exists()
            if out.exists() and out.read_bytes() != reference.read_bytes():
                campaign.fail(name, "a half-written output after the kill")
        else:
            record["note"] = "the run ended before the kill; resumed all the same"
        resumes = []
        for _ in range(3):
            result = campaign.run([*argv, "--resume"], name)
            resumes.append(
                {key: result[key] for key in ("returncode", "seconds")}
                | {"stderr": result["stderr"].strip()}
            )
            if result["returncode"] != 1:
                break
        record["resumes"] = resumes
        campaign.expect_status(name, result, 0)
        record["chunks_resumed"] = _chunks_resumed(result["stdout"])
        record["identical_bytes"] = campaign.compare_bytes(name, out, reference)
        record.update(campaign.compare_rows(name, out, _expected(reference)))
        record["left_behind"] = campaign.leftovers(
            name, folder, {"scores.csv", "scores.errors.csv"}
        )
        orphans = [pid for pid in workers if _alive(pid)]
        record["workers_at_kill"], record["workers_alive_after"] = len(workers), orphans
        if orphans:
            campaign.fail(name, f"worker processes {orphans} outlived the killed run")
        campaign.trials.append(record)
        print(
            f"{name}: killed={record['killed']}, parts left "
            f"{record.get('parts_left', '-')}, resumed "
            f"{record['chunks_resumed']}, identical={record['identical_bytes']}",
            flush=True,
        )


def _n_parts(parts):
    """Chunk parts written so far (-1 before the manifest)."""
    try:
        names = os.listdir(parts)
    except OSError:
        return -1
    if "manifest.json" not in names:
        return -1
    return sum(1 for name in names if name.endswith(".rows"))


def _wait_for_moment(mode, process, out, record, rng, seconds, n_chunks):
    """Wait for the kill's moment; False if the run ended first."""
    started = time.monotonic()
    if mode == "after a random delay":
        delay = float(rng.uniform(0.0, 0.8 * seconds))  # before it ends
        record["delay_seconds"] = round(delay, 3)
        return _wait_until(lambda: time.monotonic() - started >= delay, process)
    if mode == "after k chunk parts":
        k = int(rng.integers(0, n_chunks))
        record["after_parts"] = k
        parts = Path(f"{out}.parts")
        return _wait_until(lambda: _n_parts(parts) >= k, process)
    return _wait_until(out.exists, process, poll=0.0005)


def _safe(predicate):
    try:
        return predicate()
    except OSError:  # the folder went away while listed
        return False


def _chunks_resumed(stdout):
    marker = " chunks resumed"
    if marker not in stdout:
        return 0
    return int(stdout.split(marker)[0].rsplit(", ", 1)[1].split(" of ")[0])


def _expected(reference):
    rows, _ = read_rows(reference)
    return {record_id: found[0] for record_id, found in rows.items()}


def concurrency_trials(campaign, inputs, reference, args, tmp):
    """A run holding the output (suspended); a second and a resume are refused."""
    import socket

    name = "concurrent: second run and --resume while the first holds the output"
    folder = tmp / "concurrent"
    folder.mkdir()
    out = folder / "scores.csv"
    lock = Path(f"{out}.lock")
    argv = campaign.command(inputs, out)
    first = campaign.start(argv)
    parts = Path(f"{out}.parts")
    held = _wait_until(
        lambda: _safe(
            lambda: (
                lock.exists() and any(n.endswith(".rows") for n in os.listdir(parts))
            )
        ),
        first,
    )
    record = {"trial": name, "first_held_the_lock": held}
    if held:
        os.kill(first.pid, signal.SIGSTOP)
    try:
        others = {
            "other inputs": campaign.command(inputs[2:3], out),
            "--resume of the same command": [*argv, "--resume"],
        }
        for label, other in others.items():
            result = campaign.run(other, name)
            holder = f"(pid {first.pid} on host {socket.gethostname()}, since "
            refused = (
                result["returncode"] == 1
                and _one_line(result["stderr"])
                and "is being written by another scoring run" in result["stderr"]
                and holder in result["stderr"]
            )
            record[label] = {
                "returncode": result["returncode"],
                "stderr": result["stderr"].strip(),
                "refused": refused,
            }
            if held:
                campaign.n_faults += 1
            if not refused:
                campaign.fail(
                    name,
                    f"the run with {label} was not refused in one "
                    f"line naming the holder: {result['stderr']!r}",
                )
    finally:
        if held:
            os.kill(first.pid, signal.SIGCONT)
    result = campaign.finish(first, name)
    campaign.expect_status(name, result, 0)
    record["first_identical_bytes"] = campaign.compare_bytes(name, out, reference)
    record.update(campaign.compare_rows(name, out, _expected(reference)))
    record["left_behind"] = campaign.leftovers(
        name, folder, {"scores.csv", "scores.errors.csv"}
    )
    if not held:
        campaign.fail(name, "the first run ended before it could be suspended")
    campaign.trials.append(record)
    print(f"{name}: {record}"[:300], flush=True)

    name = "concurrent: two identical runs started together"
    folder = tmp / "together"
    folder.mkdir()
    out = folder / "scores.csv"
    argv = campaign.command(inputs, out)
    processes = [campaign.start(argv), campaign.start(argv)]
    results = [campaign.finish(p, name) for p in processes]
    codes = sorted(r["returncode"] for r in results)
    record = {
        "trial": name,
        "returncodes": codes,
        "stderr": [r["stderr"].strip() for r in results],
    }
    overlapped = codes == [0, 1]
    record["overlapped"] = overlapped
    if overlapped:
        campaign.n_faults += 1
        loser = results[[r["returncode"] for r in results].index(1)]
        if not (
            "is being written by another scoring run" in loser["stderr"]
            and _one_line(loser["stderr"])
        ):
            campaign.fail(name, f"refused without the message: {loser['stderr']!r}")
    elif codes != [0, 0]:  # one after the other is fine; anything else not
        campaign.fail(name, f"exit statuses {codes}")
    record["identical_bytes"] = campaign.compare_bytes(name, out, reference)
    record.update(campaign.compare_rows(name, out, _expected(reference)))
    record["left_behind"] = campaign.leftovers(
        name, folder, {"scores.csv", "scores.errors.csv"}
    )
    campaign.trials.append(record)
    print(
        f"{name}: exit statuses {codes}, identical={record['identical_bytes']}",
        flush=True,
    )


def can_mount_tmpfs():
    """Whether this process can mount a tmpfs in a private mount namespace."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return False, "no unshare or mount command"
    check = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        text=True,
    )
    if check.returncode:
        return False, f"cannot mount a tmpfs: {check.stderr.strip()}"
    return True, None


def full_disk_trials(campaign, inputs, reference, n_chunks, tmp):
    """--out on a tmpfs too small for the parts, then for the final output."""
    ok, why = can_mount_tmpfs()
    if not ok:
        note = f"full-disk trials skipped: {why} (needs root and unshare -m)"
        print(note)
        return note
    page = 4096
    ref_bytes = reference.stat().st_size
    parts_bytes = ref_bytes + (n_chunks + 4) * page  # each part rounds up to pages
    sizes = {
        "the chunk parts do not fit": 16 * page,
        "the parts fit, the final output does not": parts_bytes + ref_bytes // 2,
    }
    for label, size in sizes.items():
        size = -(-size // page) * page
        name = f"full disk: {label} (tmpfs of {size // 1024} KB)"
        folder = tmp / f"disk-{size}"
        mount = folder / "mnt"
        mount.mkdir(parents=True)
        out = mount / "scores.csv"
        argv = shlex.join(campaign.command(inputs, out))
        keep = folder / "kept"
        keep.mkdir()
        # All in one private mount namespace: the tmpfs lives as long as the
        # shell. Fill it, list it, enlarge it, resume, copy the result out.
        script = "\n".join(
            [
                "set -u",
                f"mount -t tmpfs -o size={size} tmpfs {shlex.quote(str(mount))} || exit 99",
                f"{argv} >{folder}/1.out 2>{folder}/1.err; echo $? >{folder}/1.rc",
                f"ls -A {shlex.quote(str(mount))} >{folder}/1.ls",
                f"mount -o remount,size=64m {shlex.quote(str(mount))}",
                f"{argv} --resume >{folder}/2.out 2>{folder}/2.err; echo $? >{folder}/2.rc",
                f"ls -A {shlex.quote(str(mount))} >{folder}/2.ls",
                f"cp {shlex.quote(str(mount))}/scores*.csv {shlex.quote(str(keep))}/",
            ]
        )
        campaign.n_runs += 2
        shell = subprocess.run(
            ["unshare", "-m", "sh", "-c", script],
            env=campaign.env,
            capture_output=True,
            text=True,
            timeout=2 * RUN_TIMEOUT,
        )
        record = {"trial": name, "tmpfs_bytes": size}
        if shell.returncode == 99:
            campaign.fail(name, f"cannot mount: {shell.stderr.strip()}")
            continue
        first = campaign.checked(
            name,
            int((folder / "1.rc").read_text()),
            (folder / "1.out").read_text(),
            (folder / "1.err").read_text(),
        )
        second = campaign.checked(
            name,
            int((folder / "2.rc").read_text()),
            (folder / "2.out").read_text(),
            (folder / "2.err").read_text(),
        )
        listed = (folder / "1.ls").read_text().split()
        record["first"] = {
            "returncode": first["returncode"],
            "stderr": first["stderr"].strip(),
            "left": listed,
        }
        if first["returncode"] == 1:
            campaign.n_faults += 1
            message = first["stderr"]
            if not (
                _one_line(message)
                and message.startswith(
                    "mtclassic score: no space left on the device writing "
                )
            ):
                campaign.fail(name, f"not the one-line message: {message!r}")
            if set(listed) - {"scores.csv.parts"}:
                campaign.fail(name, f"left on the full disk: {listed}")
        else:
            campaign.fail(
                name,
                f"exit status {first['returncode']} on the full disk "
                f"(expected 1): {first['stderr'][-300:]!r}",
            )
        campaign.expect_status(name, second, 0)
        record["resume"] = {
            "returncode": second["returncode"],
            "chunks_resumed": _chunks_resumed(second["stdout"]),
            "left": (folder / "2.ls").read_text().split(),
        }
        out = keep / "scores.csv"
        record["identical_bytes"] = campaign.compare_bytes(name, out, reference)
        record.update(campaign.compare_rows(name, out, _expected(reference)))
        if set(record["resume"]["left"]) != {"scores.csv", "scores.errors.csv"}:
            campaign.fail(name, f"after the resume: {record['resume']['left']}")
        campaign.trials.append(record)
        print(
            f"{name}: {record['first']['stderr']!r}; resumed "
            f"{record['resume']['chunks_resumed']} chunks, identical="
            f"{record['identical_bytes']}",
            flush=True,
        )
    return None


def corruption_trials(campaign, good, reference, tmp):
    """A corrupted input of each kind beside a good one: exit status 3."""
    expected_all = _expected(reference)
    beside = good[2]  # the good input next to each bad one
    prefix = str(beside) + ":"
    expected_good = {i: row for i, row in expected_all.items() if i.startswith(prefix)}
    for label, bad, copied_from in make_corruptions(good, tmp / "bad"):
        name = f"corrupt input: {label}"
        folder = tmp / "corrupt" / label.replace(" ", "-").replace("*", "")
        folder.mkdir(parents=True)
        out = folder / "scores.csv"
        result = campaign.run(campaign.command([beside, bad], out), name)
        campaign.n_faults += 1
        campaign.expect_status(name, result, EXIT_RECORD_ERRORS)
        errors_path = folder / "scores.errors.csv"
        errors, _ = read_rows(errors_path)
        # The bad input's records that the reference has, under the copy's name.
        mapped = {}
        if copied_from is not None:
            for record_id, row in expected_all.items():
                for separator in (":", os.sep):  # <file>:<index>, <folder>/<file>
                    if record_id.startswith(str(copied_from) + separator):
                        new_id = str(bad) + record_id[len(str(copied_from)) :]
                        mapped[new_id] = [new_id, *row[1:]]
        whole_file = str(bad) in errors  # one error row for the whole file
        accounted = set(errors) if not whole_file else set(errors) | set(mapped)
        counts = campaign.compare_rows(
            name, out, {**expected_good, **mapped}, extra_ok=accounted, rounding=True
        )
        bad_errors = [i for i in errors if i.startswith(str(bad))]
        foreign = [i for i in errors if not i.startswith(str(bad))]
        if not bad_errors:
            campaign.fail(name, "the bad input is not in the errors file")
        if foreign:
            campaign.fail(name, f"good records in the errors file: {foreign[:3]}")
        size = errors_path.stat().st_size if errors_path.exists() else 0
        if size > MAX_ERRORS_BYTES:
            campaign.fail(name, f"the errors file holds {size} bytes")
        scored, _ = read_rows(out)
        record = {
            "trial": name,
            "returncode": result["returncode"],
            "rows_scored_good_input": sum(i in scored for i in expected_good),
            "rows_scored_bad_input": sum(i.startswith(str(bad)) for i in scored),
            "error_rows": sum(len(v) for v in errors.values()),
            "errors_file_bytes": size,
            "whole_file_refused": whole_file,
            "first_reason": next(iter(errors.values()))[0][1] if errors else None,
            **counts,
        }
        campaign.trials.append(record)
        print(
            f"{name}: exit {record['returncode']}, {record['error_rows']} error "
            f"rows, {record['rows_scored_bad_input']} bad-input rows scored; "
            f"{str(record['first_reason'])[:110]!r}",
            flush=True,
        )


# ---------------------------------------------------------------- main


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    # Two real workers even on these few thousand images (the scorer would
    # otherwise lower --n-jobs 2 to 1, a worker per 32,768 images).
    env = child_env(MTCLASSIC_MIN_IMAGES_PER_WORKER="1")
    from mtclassic.datasets import make_characters
    from mtclassic.models import make_default_model
    from mtclassic.persistence import save_model

    with tempfile.TemporaryDirectory(dir=args.tmp_dir, prefix="bench-faults-") as tmp:
        tmp = Path(tmp)
        X, y = make_characters(args.n_train, random_state=args.random_state)
        model = make_default_model(random_state=args.random_state).fit(X, y)
        save_model(model, tmp / "model.joblib")
        inputs = make_inputs(tmp / "inputs", args.n_images, args.random_state + 1)
        campaign = Campaign(tmp / "model.joblib", env, args.chunk_size)
        print(
            f"model fitted on {args.n_train} images; {args.n_images} images in "
            f"{len(inputs)} inputs; {time.perf_counter() - started:.0f} s",
            flush=True,
        )

        reference = tmp / "reference" / "scores.csv"
        reference.parent.mkdir()
        result = campaign.run(campaign.command(inputs, reference), "reference")
        campaign.expect_status("reference", result, 0)
        _, ref_rows = read_rows(reference)
        if len(ref_rows) != args.n_images:
            campaign.fail("reference", f"{len(ref_rows)} rows, not {args.n_images}")
        n_chunks = sum(-(-n // args.chunk_size) for n in _records_per_input(inputs))
        print(
            f"reference: {len(ref_rows)} rows in {result['seconds']:.1f} s, "
            f"{n_chunks} chunks",
            flush=True,
        )

        kill_trials(campaign, inputs, reference, result["seconds"], n_chunks, args, tmp)
        concurrency_trials(campaign, inputs, reference, args, tmp)
        skipped = full_disk_trials(campaign, inputs, reference, n_chunks, tmp)
        corruption_trials(campaign, inputs, reference, tmp)
        reference_seconds = result["seconds"]

    figures = {
        "runs": campaign.n_runs,
        "faults_injected": campaign.n_faults,
        "rows_lost": campaign.lost,
        "rows_duplicated": campaign.duplicated,
        "wrong_rows": campaign.wrong,
        "unhandled_tracebacks": campaign.tracebacks,
        "rows_off_in_rounding_only": campaign.rounded,
        "other_failed_checks": len(campaign.failures) - _counted(campaign),
    }
    record = {
        "benchmark": "bench_faults",
        "command": command_line(__file__, argv),
        "date": utc_date(),
        "model": f"make_default_model(random_state={args.random_state}) on "
        f"make_characters({args.n_train})",
        "n_images": args.n_images,
        "chunk_size": args.chunk_size,
        "kills": args.kills,
        "quick": args.quick,
        "random_state": args.random_state,
        "reference_seconds": reference_seconds,
        "seconds": time.perf_counter() - started,
        **figures,
        "failures": campaign.failures,
        "skipped": skipped,
        "trials": campaign.trials,
        # root: the full-disk trials mount a tmpfs
        "machine": machine(root=os.geteuid() == 0),
    }
    write_json(args.out, record)
    print()
    for key, value in figures.items():
        must = "" if key in ("runs", "faults_injected") else "  (must be 0)"
        if key == "rows_off_in_rounding_only":
            must = f"  (re-composed chunks; within {PROBABILITY_TOLERANCE})"
        print(f"{key.replace('_', ' '):<25} {value:>6}{must}")
    if skipped:
        print(skipped)
    print(f"{record['seconds']:.0f} s; wrote {args.out}")
    return 1 if campaign.failures else 0


def _counted(campaign):
    """Failures already counted as lost/duplicated/wrong rows or tracebacks."""
    return sum(
        1
        for failure in campaign.failures
        if failure.endswith(" wrong")
        or failure.endswith("a traceback on standard error")
    )


def _records_per_input(inputs):
    from mtclassic.io import closing_all, open_inputs

    with closing_all(open_inputs([str(p) for p in inputs])) as sources:
        return [source.n_records for source in sources]


if __name__ == "__main__":
    sys.exit(main())
