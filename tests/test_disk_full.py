"""A full disk, for real: a small tmpfs mounted for the test (root can; skipped, saying so,
where it cannot), filled, and the errors a run meets there (a file write, SQLite's, a model
copy) reported by the console in one plain line naming the filesystem, with the log cut short
rather than a traceback about the log."""

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess

import pytest

from cli import console
from storage import disk_space

SIZE = "2m"


@pytest.fixture
def full_disk(tmp_path):
    """A 2 MiB tmpfs at <tmp>/disk, filled but for nothing; unmounted afterwards."""
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root and CAP_SYS_ADMIN needed): "
                    f"{result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(directory) -> None:
    with contextlib.suppress(OSError), open(os.path.join(directory, "filler"), "wb") as handle:
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()


def _run_in_session(log_path: str, work, writes_to=()):
    """Runs `work` in a console Session; returns (its error, what the console showed)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        with console.Session(log_path, failure="the pipeline stopped", hint="(a hint)",
                             writes_to=writes_to,
                             space_needed=lambda: "a run writes up to about 3.0 MiB") as session:
            work()
    return session.error, out.getvalue() + err.getvalue()


def _model(directory: str) -> str:
    os.makedirs(os.path.join(directory, "variables"))
    with open(os.path.join(directory, "saved_model.pb"), "wb") as handle:
        handle.write(os.urandom(1 << 20))
    with open(os.path.join(directory, "variables", "variables.data-00000-of-00001"), "wb") as h:
        h.write(os.urandom(3 << 20))
    return directory


@pytest.mark.parametrize("fault", ["write", "sqlite", "copy"])
def test_a_full_disk_reads_as_one_line_naming_the_filesystem(full_disk, tmp_path, fault):
    log_path = str(full_disk / "logs" / "run.log")  # the log is on the full disk too
    model = _model(str(tmp_path / "model")) if fault == "copy" else None

    def work():
        _fill(full_disk)
        for _ in range(3):  # the console writes the log, past the page it had: it is full
            print("[Trainer] " + "progress " * 600)
        if fault == "write":
            with open(full_disk / "examples.gz", "wb") as handle:
                handle.write(b"x" * (1 << 20))
        elif fault == "sqlite":
            os.remove(full_disk / "filler")
            connection = sqlite3.connect(str(full_disk / "metadata.sqlite"))
            _fill(full_disk)
            connection.execute("CREATE TABLE t (x BLOB)")
            for _ in range(100):
                connection.execute("INSERT INTO t VALUES (?)", (os.urandom(1 << 16),))
            connection.commit()
        else:  # the pusher's copy of a model: shutil.Error listing every file it could not copy
            shutil.copytree(model, str(full_disk / "serving" / "1"))

    error, shown = _run_in_session(log_path, work, writes_to=[str(full_disk)])
    assert error is not None and disk_space.full_disk_path(error) is not None
    lines = shown.strip().splitlines()
    [first] = [line for line in lines if line.startswith("error:")]
    assert first.startswith(f"error: the pipeline stopped: the disk is full: the filesystem at "
                            f"{full_disk} (holding {full_disk}")
    assert "free of 2.0 MiB" in first
    assert "  a run writes up to about 3.0 MiB" in lines
    assert "Traceback" not in shown and "[Errno" not in shown and "(a hint)" not in shown
    assert lines[-1].startswith(f"Full log: {log_path} (cut short: it could not be written")
    assert len([line for line in lines if not line.startswith("[Trainer]")]) <= 5, shown


def test_other_errors_are_not_called_a_full_disk():
    assert disk_space.full_disk_path(ValueError("bad value")) is None
    assert disk_space.full_disk_path(OSError(13, "Permission denied")) is None
    wrapped = RuntimeError("step failed")
    wrapped.__cause__ = OSError(28, "No space left on device", "/data/x")
    assert disk_space.full_disk_path(wrapped) == "/data/x"
    assert disk_space.full_disk_path(
        RuntimeError("[('/a', '/b', \"[Errno 28] No space left on device: '/b/v'\")]")) == "/b/v"
    assert disk_space.full_disk_path(RuntimeError(
        "[Errno 28] No space left on device: '/src/m.pb' -> '/dst/m.pb'")) == "/dst/m.pb"


def test_a_run_size_is_judged_by_the_largest_output_of_each_component(tmp_path):
    for run, size in (("3", 1000), ("7", 5000)):
        path = tmp_path / "Trainer" / "model" / run
        path.mkdir(parents=True)
        (path / "saved_model.pb").write_bytes(b"x" * size)
    (tmp_path / "Trainer" / ".system").mkdir()
    (tmp_path / "Transform" / ".system").mkdir(parents=True)
    (tmp_path / "Transform" / "transform_graph" / "4").mkdir(parents=True)
    (tmp_path / "Transform" / "transform_graph" / "4" / "g").write_bytes(b"y" * 300)
    assert disk_space.run_size(str(tmp_path)) == 5300
    assert disk_space.human(5300) == "5.2 KiB" and disk_space.human(12) == "12 bytes"
