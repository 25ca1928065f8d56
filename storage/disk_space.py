"""A full disk, said plainly: which filesystem, how much is free, how much a run writes.

A full disk reaches the runner as many kinds of error: an OSError with errno ENOSPC (or EDQUOT,
a quota), SQLite's "database or disk is full" from the metadata store, TensorFlow's and Beam's
own wrappers, a `shutil.Error` listing every file a copy could not write. `full_disk_path()`
finds it anywhere in an exception's chain and the path it names, if any.
"""

import errno
import os
import re
import shutil
from typing import Iterable, Optional

_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_WORDS = ("No space left on device", "database or disk is full", "Disk quota exceeded")
# "... No space left on device: 'a'" or, from a copy, "...: 'source' -> 'destination'".
_PATH_AFTER = re.compile(r"(?:No space left on device|Disk quota exceeded)[:,]?\s*'([^']+)'"
                         r"(?:\s*->\s*'([^']+)')?")


def _chain(error: BaseException) -> Iterable[BaseException]:
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def full_disk_path(error: BaseException) -> Optional[str]:
    """None unless the error (or one it came from) is a full disk; then the path it names, or
    "" when it names none."""
    found = None
    for cause in _chain(error):
        text = str(cause)
        if isinstance(cause, OSError) and cause.errno in _FULL_ERRNOS:
            written = cause.filename2 or cause.filename  # a copy names its source first
            if written:
                return str(written)
            found = ""
        if any(words in text for words in _FULL_WORDS):
            match = _PATH_AFTER.search(text)
            if match:
                return match.group(2) or match.group(1)
            found = ""
    return found


def human(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def mount_point(path: str) -> str:
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def describe(path: str) -> str:
    """'the filesystem at /mnt (holding /mnt/work/x) has 0 bytes free of 16.0 MiB'."""
    mount = mount_point(path)
    usage = shutil.disk_usage(mount)
    return (f"the filesystem at {mount} (holding {path}) has {human(usage.free)} free of "
            f"{human(usage.total)}")


def directory_size(path: str) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def run_size(pipeline_root: str) -> int:
    """What one run writes under `pipeline_root`, judged by the runs before it: for each
    component and output, its largest execution directory, summed (0 with no earlier run)."""
    total = 0
    if not os.path.isdir(pipeline_root):
        return 0
    for node in os.listdir(pipeline_root):
        node_dir = os.path.join(pipeline_root, node)
        if not os.path.isdir(os.path.join(node_dir, ".system")):
            continue
        for key in os.listdir(node_dir):
            key_dir = os.path.join(node_dir, key)
            if key == ".system" or not os.path.isdir(key_dir):
                continue
            sizes = [directory_size(os.path.join(key_dir, run)) for run in os.listdir(key_dir)
                     if run.isdigit()]
            total += max(sizes, default=0)
    return total
