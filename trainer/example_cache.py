"""Where the Trainer keeps the decoded examples between epochs: in memory while they fit a share
of the memory available, else in files on local disk, else nowhere (every epoch reads the
transformed examples again).

An unbounded in-memory `.cache()` (the tutorial's) holds every example: 64 KB each at 128 px,
so about 4.7 GB at 73,000 images on top of the model and TensorFlow. The bytes a cache needs are
counted, not guessed: the examples are counted once (a pass over the gzipped records, no parsing)
and each holds `BYTES_PER_PIXEL` bytes a pixel (8-bit RGB and an 8-bit class id).
Standard library and TensorFlow only.
"""

import atexit
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import List, Optional, Union

import tensorflow as tf

BYTES_PER_PIXEL = 4  # uint8 R, G, B and the uint8 class id, as input_fn caches them
MEMORY_SHARE = 0.4  # of the memory available when the Trainer starts
DISK_MARGIN = 1.1  # tf.data's cache files hold a little more than the tensors' bytes


@dataclass
class CachePlan:
    """Where each split's decoded examples are kept: True (memory), a file prefix (tf.data's
    file cache) or False; and the line that says so."""
    train: Union[bool, str]
    eval: Union[bool, str]
    line: str
    directory: Optional[str] = None  # the file cache's, removed by `remove`

    def remove(self) -> None:
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def count_records(files: List[str]) -> int:
    """Records in gzipped TFRecord files (read, not parsed)."""
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda count, _: count + 1))


def available_memory() -> int:
    """Bytes this process may still use: /proc/meminfo's MemAvailable, or less under a cgroup
    (v2) memory limit (a container's)."""
    available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    available = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, \
                open("/sys/fs/cgroup/memory.current") as used:
            text = limit.read().strip()
            if text != "max":
                available = min(available, int(text) - int(used.read().strip()))
    except (OSError, ValueError):
        pass
    return max(available, 0)


def where(needed: int, memory: int, disk: int, share: float = MEMORY_SHARE) -> str:
    """'memory' when `needed` bytes fit `share` of `memory`, else 'disk' when they fit the
    disk's free bytes (with DISK_MARGIN), else 'none'."""
    if needed <= share * memory:
        return "memory"
    return "disk" if needed * DISK_MARGIN <= disk else "none"


def _mib(size: float) -> str:
    return f"{size / 2 ** 20:,.0f} MiB"


def record_files(patterns: Union[str, List[str]]) -> List[str]:
    """The files a pattern (or each of a list of patterns) matches, in name order: the order
    input_fn reads them in."""
    patterns = [patterns] if isinstance(patterns, str) else patterns
    return sorted(name for pattern in patterns for name in tf.io.gfile.glob(pattern))


def plan(train_patterns: List[str], eval_patterns: List[str], image_size: int, every_nth: int,
         memory: Optional[int] = None) -> CachePlan:
    """Counts the examples (validation keeps one in `every_nth`) and decides; `memory`
    (bytes) stands for `available_memory()`."""
    counts = (count_records(record_files(train_patterns)),
              math.ceil(count_records(record_files(eval_patterns)) / every_nth))
    needed = sum(counts) * BYTES_PER_PIXEL * image_size ** 2
    memory = available_memory() if memory is None else memory
    temp = tempfile.gettempdir()
    chosen = where(needed, memory, shutil.disk_usage(temp).free)
    what = (f"{counts[0]:,} training and {counts[1]:,} validation examples, {_mib(needed)}; "
            f"{_mib(memory)} of memory available")
    if chosen == "memory":
        return CachePlan(True, True, f"decoded examples kept in memory after the first epoch "
                                     f"({what})")
    if chosen == "none":
        return CachePlan(False, False, f"decoded examples not kept: they fit neither "
                                       f"{MEMORY_SHARE:.0%} of memory nor the free disk at "
                                       f"{temp}; every epoch reads the files ({what})")
    directory = tempfile.mkdtemp(prefix="petseg-example-cache-")
    atexit.register(shutil.rmtree, directory, True)  # also when training fails
    return CachePlan(os.path.join(directory, "train"), os.path.join(directory, "eval"),
                     f"decoded examples kept on local disk in {directory}, more than "
                     f"{MEMORY_SHARE:.0%} of memory ({what})", directory)
