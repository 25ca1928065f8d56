"""Fetches and verifies the official Oxford-IIIT Pet archives, then extracts them safely.

- Resumes a partial download (HTTP Range) instead of starting again.
- Checks size and SHA-256 against the published values; a mismatch is an error and the bad
  file is moved aside (`<name>.bad`), never used.
- Skips archives that are already there and verified (a `<name>.verified` stamp records the
  checksum, so a second run does not hash 800 MB again).
- Extracts only members that stay inside the target directory (no absolute paths, no `..`,
  no links or devices), into a temporary directory renamed into place when complete.
"""

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import time
import urllib.error
import urllib.request
from typing import Callable, Dict, NamedTuple, Optional

from storage import files

DEFAULT_BASE_URL = "https://thor.robots.ox.ac.uk/~vgg/data/pets/"
CHUNK = 1 << 20
EXTRACTED = "oxford-iiit-pet"  # fetch_official's data directory, under its cache directory


class Archive(NamedTuple):
    name: str
    size: int
    sha256: str


# Published sizes and checksums (the ones TFDS checks).
ARCHIVES: Dict[str, Archive] = {
    "images": Archive("images.tar.gz", 791_918_971,
                      "67195c5e1c01f1ab5f9b6a5d22b8c27a580d896ece458917e61d459337fa318d"),
    "annotations": Archive("annotations.tar.gz", 19_173_078,
                           "52425fb6de5c424942b7626b428656fcbd798db970a937df61750c0f1d358e91"),
}


class DownloadError(RuntimeError):
    """A download or check failed; the message names the file and what to do."""


Progress = Callable[[str, int, int], None]  # (file name, bytes done, bytes total)


class ProgressLine:
    """A `progress` for downloads: one line on stderr, redrawn at most twice a second."""

    def __init__(self, every_seconds: float = 0.5):
        self.every_seconds = every_seconds
        self.last = 0.0

    def __call__(self, name: str, done: int, total: int) -> None:
        now = time.time()
        if done < total and now - self.last < self.every_seconds:
            return
        self.last = now
        percent = 100.0 * done / total if total else 100.0
        end = "\n" if done >= total else "\r"
        print(f"  {name}: {done / 1e6:8.1f} / {total / 1e6:.1f} MB ({percent:5.1f}%)", end=end,
              file=sys.stderr, flush=True)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: str) -> str:
    return path + ".verified"


def is_verified(path: str, archive: Archive) -> bool:
    """True when the file is there, has the right size and was stamped with its checksum."""
    if not os.path.isfile(path) or os.path.getsize(path) != archive.size:
        return False
    try:
        with open(_stamp(path)) as handle:
            return handle.read().strip() == archive.sha256
    except OSError:
        return False


def verify(path: str, archive: Archive) -> None:
    """Checks size and SHA-256; on a mismatch moves the file to `.bad` and raises."""
    size = os.path.getsize(path)
    problem = None
    if size != archive.size:
        problem = f"is {size} bytes, expected {archive.size}"
    else:
        actual = sha256_of(path)
        if actual != archive.sha256:
            problem = f"has SHA-256 {actual}, expected {archive.sha256}"
    if problem:
        bad = path + ".bad"
        os.replace(path, bad)
        raise DownloadError(f"{archive.name} {problem}; moved to {bad} and not used. Delete it "
                            "and download again, or check the mirror (--base-url).")
    with open(_stamp(path), "w") as handle:
        handle.write(archive.sha256)


def download(url: str, path: str, archive: Archive, progress: Optional[Progress] = None,
             timeout: float = 60.0) -> str:
    """Downloads `url` to `path` (resuming `path.part`), verifies it, returns `path`."""
    if is_verified(path, archive):
        return path
    if os.path.isfile(path):  # there but never verified (e.g. copied in by hand)
        verify(path, archive)
        return path
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = path + ".part"
    done = os.path.getsize(partial) if os.path.exists(partial) else 0
    if done > archive.size:  # cannot be a prefix of the right file
        os.remove(partial)
        done = 0
    if done < archive.size:
        request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if done and response.status != 206:  # the server ignored Range: start again
                    done = 0
                with open(partial, "ab" if done else "wb") as handle:
                    while True:
                        block = response.read(CHUNK)
                        if not block:
                            break
                        handle.write(block)
                        done += len(block)
                        if progress:
                            progress(archive.name, done, archive.size)
            if done < archive.size:  # the connection ended early without an error
                raise http.client.IncompleteRead(b"", archive.size - done)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise DownloadError(
                f"downloading {url} failed after {done} bytes ({error}); the partial file "
                f"{partial} is kept and the next run resumes it. Check the network or use "
                "--base-url for a mirror, or download the archives yourself and pass "
                "--data-dir.") from None
    os.replace(partial, path)
    verify(path, archive)
    return path


def _safe_members(tar: tarfile.TarFile, target: str):
    root = os.path.realpath(target)
    for member in tar.getmembers():
        destination = os.path.realpath(os.path.join(root, member.name))
        if os.path.isabs(member.name) or not (destination == root or
                                              destination.startswith(root + os.sep)):
            raise DownloadError(f"archive member {member.name!r} would be written outside "
                                f"{target}; refusing to extract this archive")
        if not (member.isfile() or member.isdir()):
            raise DownloadError(f"archive member {member.name!r} is a link or special file; "
                                "refusing to extract this archive")
        yield member


def extract(archive_path: str, target: str) -> None:
    """Extracts a tar.gz into `target` (which must not exist yet), all or nothing."""
    staging = target + ".extracting"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    try:
        with tarfile.open(archive_path, "r:*") as tar:
            tar.extractall(staging, members=list(_safe_members(tar, staging)))
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise DownloadError(f"{archive_path} cannot be extracted ({error}); delete it and "
                            "download again") from None
    except DownloadError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, target)


def has_archives(directory: str, archives: Dict[str, Archive] = ARCHIVES) -> bool:
    return all(files.isfile(os.path.join(directory, a.name)) for a in archives.values())


def prepare_from_archives(archive_dir: str, data_dir: str,
                          archives: Dict[str, Archive] = ARCHIVES) -> str:
    """Verifies the two archives in `archive_dir` and extracts them to `data_dir` (once).

    `data_dir` ends up as the official layout: `images/` and `annotations/`.
    """
    if files.is_remote(archive_dir):
        raise DownloadError(f"the archives in {archive_dir} are not extracted from there: copy "
                            "them to a local directory and pass that as --data-dir, or extract "
                            "them into the bucket and pass the extracted directory")
    for key, archive in archives.items():
        path = os.path.join(archive_dir, archive.name)
        if not os.path.isfile(path):
            raise DownloadError(f"{path} not found")
        if not is_verified(path, archive):
            print(f"Verifying {path}", file=sys.stderr, flush=True)
            verify(path, archive)
        folder = os.path.join(data_dir, key)
        if not os.path.isdir(folder):
            print(f"Extracting {path}", file=sys.stderr, flush=True)
            scratch = os.path.join(data_dir, f".{key}-archive")
            extract(path, scratch)
            if not os.path.isdir(os.path.join(scratch, key)):
                shutil.rmtree(scratch, ignore_errors=True)
                raise DownloadError(f"{path} holds no '{key}/' folder: not the official archive")
            os.replace(os.path.join(scratch, key), folder)  # archives hold images/, annotations/
            shutil.rmtree(scratch, ignore_errors=True)
    return data_dir


def fetch_official(cache_dir: str, base_url: str = DEFAULT_BASE_URL,
                   progress: Optional[Progress] = None,
                   archives: Dict[str, Archive] = ARCHIVES) -> str:
    """Downloads (or reuses) the official archives under `cache_dir`, extracts them to
    `cache_dir/EXTRACTED`, and returns that data directory. `progress`, e.g. a
    ProgressLine(), hears of every block downloaded; None: silent."""
    archive_dir = os.path.join(cache_dir, "archives")
    for archive in archives.values():
        url = base_url.rstrip("/") + "/" + archive.name
        path = os.path.join(archive_dir, archive.name)
        if not is_verified(path, archive):
            print(f"Downloading {url}", file=sys.stderr, flush=True)
        download(url, path, archive, progress)
    return prepare_from_archives(archive_dir, os.path.join(cache_dir, EXTRACTED), archives)
