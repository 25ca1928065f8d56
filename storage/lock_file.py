"""An exclusive lock file that says who holds it: one pipeline run per pipeline root
(pipeline/config.py `run_lock_path`), one push at a time per model directory (serving/push.py).

`fcntl.flock` on a file beside what it guards: the kernel drops the lock when its holder's
process ends, however it ends (SIGKILL, OOM, power loss of the process), so a crash never
leaves a stale lock to clean by hand. The holder writes its pid, host, start time and command
into the file so that whoever finds it taken can say who has it and since when. The file itself
stays (removing it would let two processes lock two different inodes under one name).

Local filesystems only: flock on NFS or a cloud bucket is not to be trusted, and a Vertex run
is serialized by its orchestrator instead.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
import sys
import time
from typing import Any, Callable, Dict, Iterator, Optional

class LockBusy(RuntimeError):
    """The lock is held by another process (named in the message) and waiting did not help."""

    def __init__(self, path: str, holder: Dict[str, Any], waited: float, what: str):
        self.path, self.holder, self.waited = path, holder, waited
        who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since "
               f"{holder.get('started', '?')}" if holder else "another process")
        command = f" ({holder['command']})" if holder.get("command") else ""
        waited_text = f" after waiting {waited:.1f} s" if waited > 0 else ""
        super().__init__(f"{what} is in use by {who}{command}{waited_text}; lock file {path}. "
                         "Wait for that run to end, or ask this one to wait for it "
                         "(--wait-for-lock SECONDS)")


def read_holder(path: str) -> Dict[str, Any]:
    """What the last holder wrote into the lock file ({} if nothing readable)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def hold(path: str, wait_seconds: float = 0.0, what: Optional[str] = None,
         poll_seconds: float = 0.2,
         on_wait: Optional[Callable[[Dict[str, Any]], None]] = None) -> Iterator[Dict[str, Any]]:
    """Holds the exclusive lock on `path` (created if missing) for the `with` block.

    Waits up to `wait_seconds` for another holder to let go (calling `on_wait(holder)` once
    when it starts waiting), then raises LockBusy naming it. Yields what this holder wrote
    into the file.
    """
    what = what or os.path.dirname(os.path.abspath(path))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by exec'd children
    try:
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                waited = time.monotonic() - start
                if waited >= wait_seconds:
                    raise LockBusy(path, read_holder(path), waited, what) from None
                if on_wait is not None:
                    on_wait(read_holder(path))
                    on_wait = None
                time.sleep(min(poll_seconds, max(0.01, wait_seconds - waited)))
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                      timespec="seconds"),
                  "command": " ".join([os.path.basename(sys.executable)] + sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder, sort_keys=True).encode(), 0)
        try:
            yield holder
        finally:
            os.ftruncate(fd, 0)  # no stale holder shown once released
    finally:
        os.close(fd)  # releases the lock if held

