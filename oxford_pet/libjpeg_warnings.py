"""libjpeg's warnings, caught while TensorFlow decodes a JPEG.

TensorFlow's `decode_jpeg` succeeds on a JPEG that libjpeg warns about ("Corrupt JPEG data: 3
extraneous bytes before marker 0xdb", "Corrupt JPEG data: premature end of data segment"), and
neither it nor Pillow reports the warning to Python: libjpeg writes it to the process's stderr
(file descriptor 2), where it floods a training log once an epoch. `caught()` points fd 2 at a
file for the duration of one decode, keeps libjpeg's warning lines and writes every other line
back to the real stderr. While it holds fd 2, what another thread writes there is delayed until
the block ends, not lost.
"""

import contextlib
import os
import re
import sys
import tempfile
import threading
from typing import Iterator, List

# libjpeg's warning texts (jerror.h: JWRN_EXTRANEOUS_DATA, JWRN_HIT_MARKER, JWRN_HUFF_BAD_CODE,
# JWRN_MUST_RESYNC, JWRN_JPEG_EOF, JWRN_NOT_SEQUENTIAL, JWRN_BOGUS_PROGRESSION, JWRN_ARITH_BAD_CODE)
_WARNING = re.compile(r"^(Corrupt JPEG data: .*|Premature end of JPEG file|Invalid SOS "
                      r"parameters for sequential JPEG|Inconsistent progression sequence .*)$")
_LOCK = threading.Lock()
_SINK = {}  # pid -> the file fd 2 is pointed at (one per process, emptied each time)


def _sink() -> int:
    pid = os.getpid()
    if pid not in _SINK:
        handle = tempfile.TemporaryFile()
        _SINK[pid] = os.dup(handle.fileno())
        handle.close()
    return _SINK[pid]


@contextlib.contextmanager
def caught() -> Iterator[List[str]]:
    """Yields a list that holds, after the block, libjpeg's warnings written during it."""
    warned: List[str] = []
    with _LOCK:
        sys.stderr.flush()
        sink = _sink()
        os.ftruncate(sink, 0)
        os.lseek(sink, 0, os.SEEK_SET)
        saved = os.dup(2)
        os.dup2(sink, 2)
        try:
            yield warned
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.lseek(sink, 0, os.SEEK_SET)
            written = b""
            while True:
                block = os.read(sink, 65536)
                if not block:
                    break
                written += block
            others = []
            for line in written.decode("utf-8", "replace").splitlines(keepends=True):
                if _WARNING.match(line.strip()):
                    warned.append(line.strip())
                else:
                    others.append(line)
            if others:
                os.write(2, "".join(others).encode("utf-8", "replace"))
