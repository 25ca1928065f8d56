"""What a command shows on the console, and the log file per run that keeps everything else.

TFX, Beam and TensorFlow write from many places: Python logging and warnings, C++ code writing
to file descriptor 2 before Python can filter anything (TensorFlow's cuFFT/cuDNN registration
errors), and child processes. A filter by pattern would chase each of them and miss the next.
A `Session` instead points file descriptors 1 and 2 at pipes whose reader writes everything,
complete, into one log file, and shows on the console only:

- what the project's own code writes to sys.stdout and sys.stderr: print() in a runner or in a
  component (LocalDagRunner runs components in this process). Writes made by code of Python or
  of an installed package (logging handlers, even those given sys.stdout; warnings; tracebacks;
  Keras' download notes) are only logged;
- warnings the project's own code logs (`logging.warning` in trainer/, components/);
- lines `[Name] ...` that child processes write to their stdout (a component run in a
  subprocess, as an emulated Vertex task is);
- one line when each step (component) starts and one when it ends, with its seconds;
- transient progress (the Trainer's bar within an epoch) when the console is a terminal;
- at an error: its first lines, shortened (trainer/short_errors.py), and the log's path.

With `verbose=True` everything is shown as well, and still logged.

Standard library only, and nothing of the pipeline: the local and Kubeflow runners, predict.py,
`python -m report`, the deploy commands and the Vertex emulator use it the same way:

    with console.Session(console.new_log_path(root, "run"), failure="the run stopped") as session:
        with session.step("Trainer"):
            subprocess.run(command, check=True)  # its output goes to the log
        print("done")                            # shown, and logged
    return exits.FAILED  # reached only when the session caught an error (it printed it)
"""

import contextlib
import io
import logging
import os
import re
import selectors
import shutil
import site
import sys
import sysconfig
import tempfile
import threading
import time
import traceback
from typing import Callable, Dict, Iterator, List, Optional, Sequence

from cli import exits
from storage import disk_space
from trainer import short_errors

LOG_DIR = "logs"  # under the directory a command writes into (a pipeline root, an output dir)
PROGRESS_LOGGER = "petseg.progress"  # trainer/train.py emits its in-epoch progress here
_TAGGED = re.compile(rb"^\[[A-Z][A-Za-z0-9_]*\] ")  # a component's own progress line
_CLEAR_LINE = "\r\033[K"
_SYNC_MARK = b"\x00petseg-console-sync-%d\x00\n"  # a line only the reader sees (Session.sync)
_SYNC_LINE = re.compile(rb"\x00petseg-console-sync-(\d+)\x00$")


def new_log_path(parent: str, stem: str) -> str:
    """A new `<parent>/logs/<stem>-<YYYYmmdd-HHMMSS>.log` (a suffix keeps it new)."""
    directory = os.path.join(os.path.abspath(parent), LOG_DIR)
    base = os.path.join(directory, f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    path, count = base + ".log", 1
    while os.path.exists(path):
        count += 1
        path = f"{base}-{count}.log"
    return path


def error_lines(error: BaseException, failure: str) -> List[str]:
    """`error: <failure>: <Type>: <message>`, the message shortened, continuation lines
    indented. Walks to the cause when an exception only wraps another one."""
    cause = error
    while cause.__cause__ is not None and not str(cause):
        cause = cause.__cause__
    message = short_errors.shorten(str(cause))
    first, *rest = (message or "(no message)").splitlines()
    prefix = f"error: {failure}: " if failure else "error: "
    return [f"{prefix}{type(cause).__name__}: {first}"] + [f"  {line}" for line in rest]


class _Terminal:
    """One console stream (the process's stdout or stderr as it was before the session)."""

    def __init__(self, stream, fd: int):
        self.fd: Optional[int] = None
        self.stream = stream
        try:
            real = stream.fileno() == fd
        except (AttributeError, OSError, ValueError):  # pytest's capsys, a StringIO
            real = False
        if real:
            self.fd = os.dup(fd)
            self.stream = io.TextIOWrapper(io.FileIO(self.fd, "w", closefd=False),
                                           encoding="utf-8", errors="replace",
                                           line_buffering=True)
        self.isatty = os.isatty(self.fd) if self.fd is not None else False

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed console (the reader went away): keep running
            pass

    def width(self) -> int:
        """Columns of the terminal; 100 when it does not say (a pseudo-terminal without a size)."""
        try:
            columns = os.get_terminal_size(self.fd).columns
        except (OSError, TypeError):
            columns = 0
        return columns or 100

    def close(self) -> None:
        if self.fd is not None:
            self.stream.flush()
            os.close(self.fd)


_PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_ROOTS = tuple(sorted({os.path.join(os.path.abspath(path), "") for path in [
    *(sysconfig.get_paths().get(name) for name in ("stdlib", "platstdlib", "purelib", "platlib")),
    *site.getsitepackages()] if path}))  # site: Debian's dist-packages too (the pipeline image)
_library_files: Dict[str, bool] = {}


def is_library_code(filename: str) -> bool:
    """Whether `filename` is code of Python or of an installed package (not this project's,
    wherever that was loaded from: the repository or the pipeline image)."""
    known = _library_files.get(filename)
    if known is None:
        path = os.path.abspath(filename) if not filename.startswith("<") else filename
        known = filename.startswith("<frozen") or (
            path.startswith(_LIBRARY_ROOTS) and not path.startswith(
                os.path.join(_PROJECT_ROOT, "")))
        _library_files[filename] = known
    return known


class _Stream(io.TextIOBase):
    """What `sys.stdout` / `sys.stderr` are during a session: a write is shown when the code
    calling write() is the project's own (print() in a runner or a component), logged always.
    Library code (logging's handlers, warnings, tracebacks, Keras' download notes) is only
    logged."""

    def __init__(self, session: "Session", kind: str, fd: int):
        super().__init__()
        self._session, self._kind, self._fd = session, kind, fd

    @property
    def encoding(self):
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        own = not is_library_code(sys._getframe(1).f_code.co_filename)  # noqa: SLF001
        self._session._python_write(self._kind, text, own)
        return len(text)

    def fileno(self) -> int:  # C code and children writing to it reach the log
        return self._fd

    def isatty(self) -> bool:  # a library asking whether to draw: not here
        return False


class _StepsOfTfx(logging.Handler):
    """Start and end lines from the records TFX's LocalDagRunner and launcher write (TFX 1.16:
    tfx/orchestration/local/local_dag_runner.py, tfx/orchestration/portable/launcher.py)."""

    RUNNING = "Component %s is running."
    FINISHED = "Component %s is finished."
    CACHED = "A cached execution %d is used."

    def __init__(self, session: "Session"):
        super().__init__(logging.INFO)
        self._session = session

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == self.RUNNING and record.args:
            self._session.step_started(str(record.args[0]))
        elif record.msg == self.FINISHED and record.args:
            self._session.step_finished(str(record.args[0]))
        elif record.msg == self.CACHED:
            self._session.step_note("cached")


class _OwnWarnings(logging.Handler):
    """The project's own logged warnings, as `warning: <first lines>` on the console."""

    def __init__(self, session: "Session"):
        super().__init__(logging.WARNING)
        self._session = session

    def emit(self, record: logging.LogRecord) -> None:
        if self._session.verbose:  # shown as a record already
            return
        if record.levelno == logging.WARNING and not is_library_code(record.pathname):
            text = short_errors.shorten(record.getMessage(), max_lines=3)
            self._session._own_write("err", "warning: " + text.replace("\n", "\n  ") + "\n")


class _ToLog(logging.Handler):
    """Every log record, formatted, into the log (and, verbose, onto the console's stderr):
    attached to the root logger when nothing else handles records there."""

    def __init__(self, session: "Session"):
        super().__init__(logging.NOTSET)
        self._session = session
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._session._python_write("err", self.format(record) + "\n", own=False)
        except Exception:  # noqa: BLE001 - as logging.Handler does
            self.handleError(record)


class _Progress(logging.Handler):
    def __init__(self, session: "Session"):
        super().__init__(logging.INFO)
        self._session = session

    def emit(self, record: logging.LogRecord) -> None:
        self._session.transient(record.getMessage())


class Session:
    """Routes a command's output for the `with` block: see the module docstring.

    `failure` names what stopped in the error line (`error: <failure>: <Type>: <message>`),
    `hint` is printed under it. An Exception escaping the block is reported (its traceback to
    the log, its first lines to the console) and swallowed: the code after the `with` runs,
    `session.error` holds it. KeyboardInterrupt and SystemExit pass through.
    `progress`: draw transient progress (default: when stdout is a terminal and not verbose).
    """

    def __init__(self, log_path: str, verbose: bool = False, failure: str = "",
                 hint: Optional[str] = None, progress: Optional[bool] = None,
                 writes_to: Sequence[str] = (), space_needed: Optional[Callable[[], str]] = None):
        self.log_path = os.path.abspath(log_path)
        self.verbose = verbose
        self.failure, self.hint = failure, hint
        # For a full disk: the directories the command writes (which one is full, when the
        # error names no path) and what a run needs, in words (storage/disk_space.py).
        self.writes_to, self.space_needed = list(writes_to), space_needed
        self._log_error: Optional[OSError] = None
        self.error: Optional[BaseException] = None
        self._progress = progress
        self._lock = threading.RLock()
        self._transient_shown = False
        self._steps: Dict[str, List] = {}  # name -> [start, notes]
        self._handlers: List = []
        self._log = None
        self._started = 0.0
        self._sync_count = 0
        self._sync_events: Dict[int, List[threading.Event]] = {}

    # -- what the command calls --------------------------------------------------------------

    def say(self, line: str = "") -> None:
        """A line for the console (and the log)."""
        self._own_write("out", line + "\n")

    def step_started(self, name: str) -> None:
        self.sync()
        self._steps[name] = [time.perf_counter(), []]
        self.say(f"Component {name} is running")

    def step_note(self, note: str) -> None:
        """A word for the end line of the latest open step ("cached")."""
        if self._steps:
            list(self._steps.values())[-1][1].append(note)

    def step_finished(self, name: str) -> None:
        self.sync()
        start, notes = self._steps.pop(name, [time.perf_counter(), []])
        extra = f" ({', '.join(notes)})" if notes else ""
        self.say(f"Component {name} finished in {time.perf_counter() - start:.1f} s{extra}")

    def step_failed(self, name: str) -> None:
        self.sync()
        start, _ = self._steps.pop(name, [time.perf_counter(), []])
        self.say(f"Component {name} failed after {time.perf_counter() - start:.1f} s")

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Start and end lines around the block (a failed line when it raises)."""
        self.step_started(name)
        try:
            yield
        except BaseException:
            self.step_failed(name)
            raise
        self.step_finished(name)

    def follow_tfx(self) -> None:
        """Start and end lines for every component LocalDagRunner runs in this session; TFX's
        INFO records go to the log."""
        from absl import logging as absl_logging  # TFX logs through absl

        # Through absl's verbosity flag: TensorFlow, saving a SavedModel (Transform does), sets
        # the verbosity to FATAL and back to the flag's value (autotrackable.py), so a level set
        # on absl's logger alone does not last.
        absl_logging.set_verbosity(absl_logging.INFO)
        self._attach(logging.getLogger("absl"), _StepsOfTfx(self))

    def transient(self, text: str) -> None:
        """A progress line drawn over the previous one (only on a terminal)."""
        if not self._out.isatty:
            return
        with self._lock:
            width = max(20, self._out.width() - 1)
            self._out.write("\r" + text[:width] + "\033[K")
            self._transient_shown = True

    # -- the machinery -----------------------------------------------------------------------

    def __enter__(self) -> "Session":
        try:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self._log = open(self.log_path, "ab", buffering=0)
        except OSError as error:  # an unwritable output directory: log to the temp dir
            fallback = os.path.join(tempfile.gettempdir(), "petseg-logs",
                                    os.path.basename(self.log_path))
            print(f"warning: cannot write the log {self.log_path} ({error.strerror}); "
                  f"writing {fallback}", file=sys.stderr)
            self.log_path = fallback
            os.makedirs(os.path.dirname(fallback), exist_ok=True)
            self._log = open(fallback, "ab", buffering=0)
        self._started = time.time()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        self._saved = (sys.stdout, sys.stderr)
        self._out, self._err = _Terminal(sys.stdout, 1), _Terminal(sys.stderr, 2)
        self._saved_fds = (os.dup(1), os.dup(2))
        readers = []
        for fd in (1, 2):
            read_end, write_end = os.pipe()
            os.dup2(write_end, fd)
            os.close(write_end)
            readers.append(read_end)
        self._reader = threading.Thread(target=self._read, args=tuple(readers),
                                        name="console-log", daemon=True)
        self._reader.start()
        sys.stdout = _Stream(self, "out", 1)
        sys.stderr = _Stream(self, "err", 2)
        root = logging.getLogger()
        if not root.handlers:  # else they write to sys.stderr: the log
            self._attach(root, _ToLog(self))
        self._attach(root, _OwnWarnings(self))
        progress = self._progress
        if progress is None:
            progress = self._out.isatty and not self.verbose
        if progress:
            self._attach(logging.getLogger(PROGRESS_LOGGER), _Progress(self), level=logging.INFO,
                         propagate=False)
        self._log_write(f"=== {' '.join([os.path.basename(sys.executable)] + sys.argv)}\n"
                        f"=== started {time.strftime('%Y-%m-%d %H:%M:%S')}, pid {os.getpid()}, "
                        f"cwd {os.getcwd()}\n")
        self.say(f"Log: {self.log_path}")
        return self

    def __exit__(self, kind, error, tb) -> bool:
        try:
            self.sync()
            if error is None or isinstance(error, SystemExit):
                self.say(f"Log: {self.log_path}")
            else:
                self._report(kind, error, tb)
        finally:
            self._close()
        if error is not None and isinstance(error, Exception):
            self.error = error
            return True
        return False

    def _report(self, kind, error, tb) -> None:
        for name in list(self._steps):
            self.step_failed(name)
        self._log_write("".join(traceback.format_exception(kind, error, tb)))
        full = None if isinstance(error, KeyboardInterrupt) else \
            disk_space.full_disk_path(error)
        if isinstance(error, KeyboardInterrupt):
            lines = ["interrupted"]
        elif full is not None:
            lines = self._full_disk_lines(full)
        else:
            lines = error_lines(error, self.failure)
            if self.hint:
                lines.append(f"({self.hint})")
        cut = " (cut short: it could not be written, " + (
            self._log_error.strerror or "") + ")" if self._log_error else ""
        for line in lines + [f"Full log: {self.log_path}{cut}"]:
            self._own_write("err", line + "\n")

    def _full_disk_lines(self, path: str) -> List[str]:
        """One plain line naming the full filesystem, what a run needs, and what to do."""
        if not path:  # the error names no file: the fullest of the places the command writes
            existing = [p for p in self.writes_to if os.path.exists(disk_space.mount_point(p))]
            path = min(existing, key=lambda p: shutil.disk_usage(disk_space.mount_point(p)).free,
                       default=os.getcwd())
        lines = [f"error: {self.failure + ': ' if self.failure else ''}the disk is full: "
                 f"{disk_space.describe(path)}"]
        if self.space_needed:
            lines.append(f"  {self.space_needed()}")
        lines.append("  Free space there and rerun: what finished is cached, the rest goes on.")
        return lines

    def _attach(self, logger: logging.Logger, handler: logging.Handler,
                level: Optional[int] = None, propagate: Optional[bool] = None) -> None:
        """Adds `handler` to `logger` (and lowers its level to `level`) until the session
        ends."""
        self._handlers.append((logger, handler, logger.propagate, logger.level))
        logger.addHandler(handler)
        if level is not None and logger.getEffectiveLevel() > level:
            logger.setLevel(level)
        if propagate is not None:
            logger.propagate = propagate

    def _close(self) -> None:
        for logger, handler, propagate, level in reversed(self._handlers):
            logger.removeHandler(handler)
            logger.propagate = propagate
            logger.setLevel(level)
        self._handlers = []
        with self._lock:
            if self._transient_shown:
                self._out.write(_CLEAR_LINE)
                self._transient_shown = False
        sys.stdout, sys.stderr = self._saved
        os.dup2(self._saved_fds[0], 1)  # closes this process's ends of the pipes
        os.dup2(self._saved_fds[1], 2)
        for fd in self._saved_fds:
            os.close(fd)
        self._reader.join(timeout=10)  # longer only if a child still holds the pipes
        with self._lock:
            self._log_write(f"\n=== ended {time.strftime('%Y-%m-%d %H:%M:%S')} after "
                            f"{time.time() - self._started:.1f} s\n")
            self._log.close()
            self._log = None
            if not self._reader.is_alive():  # else it may still show a child's line
                self._out.close()
                self._err.close()

    def _log_write(self, text) -> None:
        with self._lock:
            if self._log is not None and self._log_error is None:
                try:
                    self._log.write(text.encode("utf-8", "replace") if isinstance(text, str)
                                    else text)
                except OSError as error:  # a full disk: the console goes on without the log
                    self._log_error = error

    def _console(self, kind: str, text: str) -> None:
        with self._lock:
            if self._transient_shown:
                self._out.write(_CLEAR_LINE)
                self._transient_shown = False
            (self._out if kind == "out" else self._err).write(text)

    def _own_write(self, kind: str, text: str) -> None:
        with self._lock:
            self._log_write(text)
            self._console(kind, text)

    def _python_write(self, kind: str, text: str, own: bool) -> None:
        """A write to sys.stdout / sys.stderr: logged; shown when `own` (or verbose)."""
        with self._lock:
            self._log_write(text)
            if own or self.verbose:
                self._console(kind, text)

    def sync(self, timeout: float = 5.0) -> None:
        """Waits until the reader has taken in what was written to fds 1 and 2 so far (by
        children too), so that a line shown next comes after their lines."""
        if threading.current_thread() is self._reader or not self._reader.is_alive():
            return
        with self._lock:
            self._sync_count += 1
            token = self._sync_count
            events = [threading.Event(), threading.Event()]
            self._sync_events[token] = events
        for fd in (1, 2):
            os.write(fd, _SYNC_MARK % token)
        for event in events:
            event.wait(timeout)
        with self._lock:
            self._sync_events.pop(token, None)

    def _read(self, out_fd: int, err_fd: int) -> None:
        """Drains the pipes behind fds 1 and 2 into the log, line by line, until every writer
        closed them; shows child processes' `[Name] ...` lines (everything, verbose)."""
        selector = selectors.DefaultSelector()
        pending = {out_fd: b"", err_fd: b""}
        for fd in pending:
            selector.register(fd, selectors.EVENT_READ)
        while selector.get_map():
            for key, _ in selector.select():
                fd = key.fd
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    *lines, pending[fd] = (pending[fd] + chunk).split(b"\n")
                else:  # every writer closed it
                    selector.unregister(fd)
                    os.close(fd)
                    lines, pending[fd] = ([pending[fd]] if pending[fd] else []), b""
                for line in lines:
                    self._read_line(line, 0 if fd == out_fd else 1)
        selector.close()

    def _read_line(self, line: bytes, index: int) -> None:
        mark = _SYNC_LINE.search(line)
        if mark:
            with self._lock:
                events = self._sync_events.get(int(mark.group(1)))
            if events:
                events[index].set()
            line = line[:mark.start()]
            if not line:
                return
        self._log_write(line + b"\n")
        if self.verbose:
            self._console("out" if index == 0 else "err", line.decode("utf-8", "replace") + "\n")
        elif index == 0 and _TAGGED.match(line):
            self._console("out", line.decode("utf-8", "replace") + "\n")


def run_logged(function: Callable[..., int], *args, log_path: str, **session) -> int:
    """`function(*args)` (a command's main) inside a Session; its return value, or
    exits.FAILED when it raised (the session printed the error)."""
    with Session(log_path, **session):
        return function(*args)
    return exits.FAILED
