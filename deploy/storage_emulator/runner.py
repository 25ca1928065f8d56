"""A command run inside an emulated Cloud Storage session (and its namespace)."""

import contextlib
import os
import shutil
import subprocess
import sys
from typing import Callable, Iterator, Optional, Sequence

from deploy.storage_emulator import session as session_module


def python_environment(executable: str) -> str:
    """The prefix of the environment an interpreter belongs to (a venv's directory)."""
    resolved = shutil.which(executable) or executable
    return os.path.dirname(os.path.dirname(os.path.abspath(resolved)))


@contextlib.contextmanager
def session(gcs_dir: str, environments: Sequence[str], say: Callable[[str], None],
            **project) -> Iterator[session_module.Session]:
    """An emulated Cloud Storage session for the block (inside the namespace), written back
    and stopped at its end, however it ends. `project`: Session's project, project_number."""
    storage = session_module.Session(gcs_dir, sorted(set(environments)), say=say, **project)
    try:
        storage.start()
        yield storage
    finally:
        storage.stop()


def run(command: Sequence[str], gcs_dir: str, project: str = session_module.DEFAULT_PROJECT,
        say: Callable[[str], None] = lambda line: print(line, flush=True),
        log_dir: Optional[str] = None) -> int:
    """Starts the session, runs `command`, writes back, returns the command's exit status.
    Must be called inside the namespace (sandbox.enter)."""
    with session(gcs_dir, [sys.prefix, python_environment(command[0])], say, project=project,
                 log_dir=log_dir):
        return subprocess.call(list(command))
