"""One interface to files on a local disk and in an object store: `files.at(path)`.

A plain path gets LocalFiles; a path with a scheme (`gs://...`, anything `<scheme>://`) gets
GFiles, which goes through `tf.io.gfile` and imports TensorFlow only then: local callers (the
pusher, the runner, operators' scripts) never import it.

What only a local filesystem gives, and its users rely on (serving/push.py says what it does
without them):
- `exclusive(lock_path)`: an flock lock file (storage/lock_file.py) that the kernel releases
  when its holder dies; on an object store there is none (a null context, yielding False);
- `renames_atomically`: `rename_no_replace`, Linux's renameat2 with RENAME_NOREPLACE, puts a
  directory in place in one step, refusing an existing target; object stores have no directory
  rename (GFiles has no such method).
"""

import contextlib
import ctypes
import errno
import os
import re
import shutil
from typing import Iterator, List, Optional, Sequence

from storage import lock_file

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_remote(path: str) -> bool:
    """True for `<scheme>://...` paths (gs://, s3://, ram://...), which need tf.io.gfile."""
    return bool(_SCHEME.match(path))


class LocalFiles:
    """A local filesystem, through os and shutil."""

    renames_atomically = True

    def names(self, directory: str) -> List[str]:
        return sorted(os.listdir(directory))

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def makedirs(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def read_text(self, path: str) -> Optional[str]:
        """The file's text, or None when there is no such file."""
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    def write_text(self, path: str, text: str) -> None:
        """Writes and fsyncs, so a directory renamed into place afterwards holds it whole."""
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def remove(self, path: str) -> None:
        os.remove(path)

    def rmtree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    @contextlib.contextmanager
    def exclusive(self, lock_path: str, wait_seconds: float, what: str) -> Iterator[bool]:
        """Holds the lock file `lock_path` (waiting up to `wait_seconds`, then LockBusy);
        yields True: nobody else holding the same lock runs meanwhile."""
        with lock_file.hold(lock_path, wait_seconds, what=what):
            yield True

    def rename_no_replace(self, source: str, target: str) -> None:
        """Renames `source` to `target`, failing with FileExistsError if `target` exists.

        os.rename would silently replace an existing empty directory; renameat2 with
        RENAME_NOREPLACE checks and renames in one step. Where that call is missing or the
        filesystem refuses it, a check just before os.rename (enough among holders of one
        `exclusive` lock).
        """
        renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
        if renameat2 is not None:
            at_fdcwd, rename_noreplace = -100, 1
            if renameat2(at_fdcwd, os.fsencode(source), at_fdcwd, os.fsencode(target),
                         rename_noreplace) == 0:
                return
            code = ctypes.get_errno()
            if code not in (errno.EINVAL, errno.ENOSYS):
                raise OSError(code, os.strerror(code), target)
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), target)
        os.rename(source, target)


class GFiles:
    """Any filesystem TensorFlow knows (gs://, ram://, and local paths), through tf.io.gfile."""

    renames_atomically = False

    def __init__(self):
        import tensorflow as tf  # only here: local paths never import TensorFlow

        self._gfile = tf.io.gfile
        self.already_exists = tf.errors.AlreadyExistsError  # a copy that would overwrite

    def names(self, directory: str) -> List[str]:
        """Children of a directory.

        Cloud Storage lists subdirectories as `name/` (and, per TF Serving's source, some
        versions list descendants `name/file`): only the first path component counts, as TF
        Serving does.
        """
        return sorted({name.split("/", 1)[0] for name in self._gfile.listdir(directory)} - {""})

    def isdir(self, path: str) -> bool:
        return self._gfile.isdir(path)

    def isfile(self, path: str) -> bool:
        return self._gfile.exists(path) and not self._gfile.isdir(path)

    def exists(self, path: str) -> bool:
        return self._gfile.exists(path)

    def makedirs(self, path: str) -> None:
        self._gfile.makedirs(path)

    def read_text(self, path: str) -> Optional[str]:
        if not self.isfile(path):
            return None
        with self._gfile.GFile(path, "r") as handle:
            return handle.read()

    def write_text(self, path: str, text: str) -> None:
        if self._gfile.exists(path):  # some filesystems (ram://) do not truncate on a "w" open
            self._gfile.remove(path)
        with self._gfile.GFile(path, "w") as handle:
            handle.write(text)

    def remove(self, path: str) -> None:
        self._gfile.remove(path)

    def rmtree(self, path: str) -> None:
        self._gfile.rmtree(path)

    @contextlib.contextmanager
    def exclusive(self, lock_path: str, wait_seconds: float, what: str) -> Iterator[bool]:
        """No lock on an object store: yields False (others may run meanwhile)."""
        yield False

    def files_under(self, root: str, prefix: str = "") -> Iterator[str]:
        """Every file under a directory, relative to it."""
        for name in self.names(os.path.join(root, prefix) if prefix else root):
            relative = os.path.join(prefix, name) if prefix else name
            if self._gfile.isdir(os.path.join(root, relative)):
                yield from self.files_under(root, relative)
            else:
                yield relative

    def copy_files(self, source: str, target: str, files: Sequence[str]) -> None:
        """Copies `files` (relative paths) from `source` to `target` in this order, never
        overwriting (self.already_exists)."""
        for relative in files:
            destination = os.path.join(target, relative)
            self._gfile.makedirs(os.path.dirname(destination))
            self._gfile.copy(os.path.join(source, relative), destination, overwrite=False)


def at(path: str):
    """The files interface for `path`: GFiles for `<scheme>://`, else LocalFiles."""
    return GFiles() if is_remote(path) else LocalFiles()


def copy_tree(source: str, target: str) -> None:
    """Copies directory `source` to `target` (which must not exist), across filesystems:
    shutil.copytree when both are local, else file by file through tf.io.gfile."""
    if not is_remote(source) and not is_remote(target):
        shutil.copytree(source, target)
        return
    gfiles = GFiles()
    if not gfiles.isdir(source):
        raise FileNotFoundError(errno.ENOENT, "no such directory", source)
    gfiles.makedirs(target)
    gfiles.copy_files(source, target, list(gfiles.files_under(source)))
