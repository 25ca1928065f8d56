"""The machine a benchmark ran on, in one line for its results file. Standard library only."""

import os
import platform


def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo), or what `platform` knows elsewhere."""
    try:
        with open("/proc/cpuinfo") as handle:
            return next(line.split(":", 1)[1].strip() for line in handle
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or "?"


def gpu_count() -> int:
    """NVIDIA devices visible in /dev (no driver or TensorFlow needed to count them)."""
    if not os.path.isdir("/dev"):
        return 0
    return len([name for name in os.listdir("/dev")
                if name.startswith("nvidia") and name[6:].isdigit()])


def describe() -> str:
    """'2 cores, 24 GiB, <cpu>, no GPU'."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    gpus = gpu_count()
    return (f"{os.cpu_count()} cores, {memory:.0f} GiB, {cpu_name()}, "
            f"{gpus or 'no'} GPU{'s' if gpus > 1 else ''}")
