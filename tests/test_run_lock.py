"""storage/lock_file.py and the runner's use of it: one run per pipeline root; the second one
stops at once naming the first (or waits), and a killed holder leaves no stale lock.
The holders are real processes; no pipeline runs here (tests/test_crash_recovery.py starts a
second runner against a real one)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import local_runner
from cli import exits
from pipeline.config import RUN_LOCK_FILE
from storage import lock_file

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLDER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {repo!r})
    from storage import lock_file
    with lock_file.hold(sys.argv[1]):
        print("held", flush=True)
        time.sleep(float(sys.argv[2]))
""")


@pytest.fixture
def start_holder():
    """Starts a process holding a lock file for some seconds; returns it once it holds it."""
    started = []

    def start(path: str, seconds: float = 60) -> subprocess.Popen:
        holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(repo=REPO), path,
                                   str(seconds)], stdout=subprocess.PIPE, text=True)
        started.append(holder)
        assert holder.stdout.readline().strip() == "held"
        return holder

    yield start
    for holder in started:
        if holder.poll() is None:
            holder.kill()
        holder.wait()


def test_a_held_lock_is_refused_naming_its_holder(tmp_path, start_holder):
    path = str(tmp_path / ".run.lock")
    holder = start_holder(path)
    with pytest.raises(lock_file.LockBusy) as busy:
        with lock_file.hold(path, what="pipeline root X"):
            pytest.fail("two holders at once")
    message = str(busy.value)
    assert f"pipeline root X is in use by pid {holder.pid}" in message
    assert " since 20" in message and "--wait-for-lock" in message and "\n" not in message
    start = time.monotonic()
    with pytest.raises(lock_file.LockBusy, match="after waiting"):
        with lock_file.hold(path, wait_seconds=0.6):
            pass
    assert time.monotonic() - start >= 0.6


def test_a_killed_holder_leaves_no_stale_lock(tmp_path, start_holder):
    path = str(tmp_path / ".run.lock")
    holder = start_holder(path)
    assert lock_file.read_holder(path)["pid"] == holder.pid
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with lock_file.hold(path) as mine:  # no waiting, no cleaning up by hand
        assert mine["pid"] == os.getpid() == lock_file.read_holder(path)["pid"]
    assert lock_file.read_holder(path) == {}  # released: no holder shown


def test_a_waiting_run_gets_the_lock_when_the_holder_ends(tmp_path, start_holder):
    path = str(tmp_path / ".run.lock")
    holder = start_holder(path, seconds=1.0)
    told, start = [], time.monotonic()
    with lock_file.hold(path, wait_seconds=60, on_wait=told.append) as mine:
        assert time.monotonic() - start >= 0.8  # got it only once the holder let go
        assert mine["pid"] == os.getpid()
    assert [entry["pid"] for entry in told] == [holder.pid]  # said once whom it waited for


def test_a_second_runner_stops_with_one_line_and_exit_75(tmp_path, small_dataset,
                                                           start_holder, capsys):
    root = tmp_path / "root"
    root.mkdir()
    holder = start_holder(str(root / RUN_LOCK_FILE))
    argv = ["--data-dir", small_dataset, "--pipeline-root", str(root),
            "--serving-dir", str(tmp_path / "serving"), "--image-size", "64"]
    assert local_runner.main(argv) == exits.LOCKED == 75
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: pipeline root {root} is in use by pid {holder.pid}")
    assert len(error.splitlines()) == 1
    assert local_runner.main(argv + ["--wait-for-lock", "0.5"]) == 75
    assert "after waiting 0." in capsys.readouterr().err
    assert sorted(os.listdir(root)) == [RUN_LOCK_FILE]  # nothing else ran
    assert not (tmp_path / "serving").exists()
