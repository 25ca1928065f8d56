"""Error messages a person can read: the first meaningful lines, bounded in size.

TensorFlow's graph errors embed the Python stack where the failing op was defined and, for a
label out of range, every label value of the batch: the Trainer's message for one bad trimap
was over 100 KB. `shorten` keeps what a reader acts on (the op, the reason, the node) and says
how much it left out; the whole message still goes to the log.

Standard library only: the Trainer and the runners' console (cli/console.py) both use it.
"""

import re
from typing import Optional, Tuple

MAX_LINES = 8
MAX_CHARS = 1500
MAX_LINE_CHARS = 500
WHOLE_MESSAGE_NOTE = "the whole message is in the log"

_FRAME = re.compile(r'^\s*File ".*", line \d+')  # a Python stack frame, as tracebacks print it
_DEFINED_AT = " defined at (most recent call last):"  # TF's header above such frames


def shorten(message: str, max_lines: int = MAX_LINES, max_chars: int = MAX_CHARS,
            max_line_chars: int = MAX_LINE_CHARS, note: str = WHOLE_MESSAGE_NOTE) -> str:
    """`message` without blank lines and embedded stack frames, each line cut at
    `max_line_chars`, the whole at `max_lines` lines and about `max_chars` characters; when
    anything was cut, a last line says how long the message was and `note`."""
    return _shorten(str(message), max_lines, max_chars, max_line_chars, note)[0]


def is_long(message: str) -> bool:
    """Whether `shorten` leaves out anything but blank lines."""
    return _shorten(str(message), MAX_LINES, MAX_CHARS, MAX_LINE_CHARS, "")[1]


def _shorten(message: str, max_lines: int, max_chars: int, max_line_chars: int,
             note: str) -> Tuple[str, bool]:
    lines, in_frame, cut = [], False, False
    for raw in message.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if _FRAME.match(line):
            in_frame = cut = True
            continue
        if in_frame and raw.startswith("    "):  # the source line printed under a frame
            continue
        in_frame = False
        if line.endswith(_DEFINED_AT):
            line = line[:-len(_DEFINED_AT)]
        lines.append(line.strip())
    kept, size = [], 0
    for line in lines:
        if len(line) > max_line_chars:
            line, cut = line[:max_line_chars - 1] + "…", True
        if len(kept) == max_lines or (kept and size + len(line) > max_chars):
            cut = True
            break
        kept.append(line)
        size += len(line) + 1
    text = "\n".join(kept)
    if cut:
        text += f"\n… ({len(message):,} characters in all; {note})"
    return text, cut


def same_kind(error: BaseException, message: str) -> Optional[BaseException]:
    """An exception of `error`'s type carrying `message`, or None when that type cannot be
    built from a message alone."""
    try:
        shorter = type(error)(message)
    except Exception:  # noqa: BLE001 - any constructor that wants more than a message
        return None
    return shorter if message in str(shorter) else None
