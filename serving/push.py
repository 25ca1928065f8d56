"""Adds a version to a model directory: the next integer, complete or absent, never modified.

One flow for every filesystem (storage/files.py); the two places where an object store cannot
do what a local disk does are named below.

Local filesystem (what is guaranteed):
- One push at a time per model directory: an exclusive lock file (`.push.lock`,
  storage/lock_file.py) that the kernel releases when a pusher dies, so two pipelines pushing
  to one serving directory can neither take the same number nor skip one.
- Complete or absent: the model is copied into a hidden `.incoming-<time>-<uuid>` directory
  beside the versions (TF Serving ignores names that are not integers) and renamed into place,
  with a rename that refuses to replace an existing directory. A pusher killed mid-copy leaves
  only such a hidden directory; the next push removes it (safe: it holds the lock, so no other
  push is under way). Existing versions are never modified or deleted.

Object stores (`gs://`; what is and is not guaranteed): there is no directory rename and no
flock, and `tf.io.gfile` offers no create-only-if-absent write, so neither guarantee above holds
as such. What a push does instead (`_copy_in`):
- The model and its manifest are first copied into `.incoming-<time>-<uuid>/`, then copied file
  by file into `<N>/`, every file before `saved_model.pb`, which comes last. TF Serving's
  FileSystemStoragePathSource aspires any child whose name parses as an integer, without looking
  inside, so `<N>/` is visible from its first file on: a server polling then fails to load it
  ("Could not find SavedModel .pb"), retries (`--max_num_load_retries` 5, every
  `--load_retry_interval_micros` 60 s by default) and meanwhile keeps serving the previous
  version (the default availability-preserving policy unloads an old version only once a newer
  one is ready). Because `saved_model.pb` comes last and one object appears whole or not at all,
  a server never loads a version whose variables are still missing (tensorflow/serving#1086:
  with `saved_model.pb` first, a half-uploaded version loads and then fails at inference).
- A pusher killed while copying into `<N>/` leaves a `<N>/` without `saved_model.pb`: TF Serving
  cannot load it (after its retries it stays on the older version until a newer one appears),
  `list` marks it INCOMPLETE, `rollback` refuses it, and the next push takes `<N+1>`. Nothing
  removes it automatically: delete it by hand.
- An existing version is never modified: a push refuses (VersionTaken) when `<N>/` exists, and
  copies with overwrite off. Pushers do not wait for each other; they claim a number by writing
  `.claim-<N>-<time>-<uuid>` and listing the directory: a pusher goes on only if it sees no
  `<N>/` and no other fresh claim for `<N>`. On a store whose listing is strongly consistent
  (Cloud Storage is) at most one of two racing pushers goes on and the other stops loudly; both
  may stop, never both write. Claims older than the stale age are ignored (a pusher stuck that
  long between claiming and copying could then collide). This detects a taken number; it is not
  a lock: run one pipeline at a time per serving directory (deploy.vertex schedule's
  `--max-concurrent-runs` defaults to 1).
- Leftovers (`.incoming-*`, `.claim-*`) carry their UTC creation time in their name; a push
  removes those older than `stale_seconds` (default 24 h), and leaves younger ones (they may
  belong to a live push) and names without a time.
"""

import datetime
import errno
import json
import os
import re
import socket
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

from serving import manifest as manifests
from serving import versions
from storage import files

TEMP_PREFIX = ".incoming-"
CLAIM_PREFIX = ".claim-"  # .claim-<N>-<time>-<uuid>: an object-store push taking version N
PUSH_LOCK_FILE = ".push.lock"
PUSH_LOCK_WAIT_SECONDS = 600.0  # another pusher copying a model: wait rather than fail
STALE_SECONDS = 24 * 3600.0  # object-store leftovers older than this belong to no live push
STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_STAMPED = re.compile(r"^(?:\.incoming-|\.claim-\d+-)(\d{8}T\d{6}Z)-[0-9a-f]+$")


class VersionTaken(FileExistsError):
    """Another push took (or is taking) the version number this push was about to write."""

    def __init__(self, model_dir: str, version: int, found: List[str]):
        super().__init__(
            errno.EEXIST,
            f"version {version} of {model_dir} is taken by another push (found: "
            f"{', '.join(found)}); nothing was written to it. Run one pipeline at a time per "
            f"serving directory (deploy.vertex schedule --max-concurrent-runs 1, the default), "
            f"then push again", os.path.join(model_dir, str(version)))


def push_model(model_path: str, model_dir: str, manifest: Optional[Dict[str, Any]] = None,
               reuse_existing: bool = True,
               wait_seconds: float = PUSH_LOCK_WAIT_SECONDS,
               stale_seconds: float = STALE_SECONDS) -> Tuple[int, bool]:
    """Copies a SavedModel directory into the next free version of `model_dir`.

    Returns (version, pushed now). With `reuse_existing`, a model already pushed from the same
    path is not pushed again: its version comes back with False. `push_manifest.json` (version,
    source path, time, and `manifest`) goes in with the model. Waits up to `wait_seconds` for
    another local pusher; on an object store (no lock) removes leftovers older than
    `stale_seconds`. The module docstring says what each filesystem guarantees.
    """
    fs = files.at(model_dir)
    fs.makedirs(model_dir)
    with fs.exclusive(os.path.join(model_dir, PUSH_LOCK_FILE), wait_seconds,
                      what=f"model directory {model_dir}") as alone:
        for name in remove_leftovers(fs, model_dir, None if alone else stale_seconds):
            print(f"[VersionedPusher] removed {name}, left by a push that did not finish",
                  flush=True)
        version = versions.version_of(model_dir, model_path) if reuse_existing else None
        if version is not None:
            return version, False
        version = (versions.existing_versions(model_dir) or [0])[-1] + 1
        _write_version(fs, model_path, model_dir, version,
                       manifests.record(manifest, version, model_path), stale_seconds)
        return version, True


def push_new_version(model_path: str, model_dir: str,
                     manifest: Optional[Dict[str, Any]] = None) -> int:
    """Pushes the model as a new version even if it was pushed before; returns the version."""
    return push_model(model_path, model_dir, manifest, reuse_existing=False)[0]


def roll_back(model_dir: str, version: int) -> int:
    """Serves an earlier version again by pushing a copy of it as the newest version.

    Nothing is deleted or changed: TF Serving moves to the highest number, which now holds
    the earlier model; its manifest is the earlier one plus `rolled_back_from`.
    """
    if version not in versions.existing_versions(model_dir):
        raise ValueError(f"{model_dir} has no version {version}; it has "
                         f"{versions.existing_versions(model_dir) or 'none'}")
    if not versions.is_complete(model_dir, version):
        raise ValueError(f"version {version} of {model_dir} has no saved_model.pb (a push "
                         "that died): choose a complete version")
    copied = {key: value for key, value in manifests.read_manifest(model_dir, version).items()
              if key not in manifests.PUSH_KEYS}
    copied["rolled_back_from"] = version
    return push_model(os.path.join(model_dir, str(version)), model_dir, copied,
                      reuse_existing=False)[0]


def _write_version(fs, model_path: str, model_dir: str, version: int,
                   record: Dict[str, Any], stale_seconds: float) -> None:
    """Stages the model and its manifest beside the versions, then makes them version
    `version`: renamed into place where the filesystem can, else copied in (`_copy_in`)."""
    token = f"{time.strftime(STAMP_FORMAT, time.gmtime())}-{uuid.uuid4().hex}"
    staging = os.path.join(model_dir, f"{TEMP_PREFIX}{token}")
    target = os.path.join(model_dir, str(version))
    try:
        files.copy_tree(model_path, staging)
        if not versions.has_graph(fs, staging):
            raise FileNotFoundError(errno.ENOENT, "not a SavedModel (no saved_model.pb)",
                                    model_path)
        # A rollback's staged copy holds its source's manifest: replaced.
        fs.write_text(os.path.join(staging, manifests.MANIFEST_FILE), manifests.to_json(record))
        if fs.renames_atomically:
            fs.rename_no_replace(staging, target)
        else:
            _copy_in(fs, staging, model_dir, record, token, stale_seconds)
    finally:
        if fs.exists(staging):
            fs.rmtree(staging)


def _copy_in(fs, staging: str, model_dir: str, record: Dict[str, Any], token: str,
             stale_seconds: float) -> None:
    """Claims the version `record` names and copies the staged version into it, graph file(s)
    last; VersionTaken when another push has it (module docstring)."""
    version = record["version"]
    claim_name = f"{CLAIM_PREFIX}{version}-{token}"
    claim = os.path.join(model_dir, claim_name)
    fs.write_text(claim, json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                     "model_path": record["model_path"],
                                     "started": manifests.now()}))
    target = os.path.join(model_dir, str(version))
    try:
        taken = [name for name in fs.names(model_dir) if name == str(version) or (
            name.startswith(f"{CLAIM_PREFIX}{version}-") and name != claim_name
            and (age_seconds(name) or 0.0) <= stale_seconds)]
        if taken:
            raise VersionTaken(model_dir, version, taken)
        staged = list(fs.files_under(staging))
        last = [name for name in staged if name in versions.GRAPH_FILES]
        try:  # until the graph file exists TF Serving cannot load the half-copied version
            fs.copy_files(staging, target, [name for name in staged if name not in last] + last)
        except fs.already_exists as error:  # someone else's file
            raise VersionTaken(model_dir, version, [str(error)]) from error
        except Exception:
            if fs.exists(target):  # ours alone (claimed, and absent before): undo it
                fs.rmtree(target)
            raise
    finally:
        fs.remove(claim)


def age_seconds(name: str) -> Optional[float]:
    """How long ago a stamped leftover (`.incoming-<time>-<hex>`, `.claim-...`) was made."""
    match = _STAMPED.match(name)
    if not match:
        return None
    made = datetime.datetime.strptime(match.group(1), STAMP_FORMAT).replace(
        tzinfo=datetime.timezone.utc)
    return (datetime.datetime.now(datetime.timezone.utc) - made).total_seconds()


def remove_leftovers(fs, model_dir: str, stale_seconds: Optional[float]) -> List[str]:
    """Removes `.incoming-*` and `.claim-*` leftovers of pushes that died; returns their names.

    `stale_seconds` None: every one (call only holding the push lock: no push is under way);
    else only those older than that (younger ones may belong to a live push; names without a
    time stay). Version directories are never touched.
    """
    removed = []
    for name in fs.names(model_dir):
        if not name.startswith((TEMP_PREFIX, CLAIM_PREFIX)):
            continue
        if stale_seconds is not None and (age_seconds(name) or 0.0) <= stale_seconds:
            continue
        path = os.path.join(model_dir, name)
        if fs.isdir(path):
            fs.rmtree(path)
        else:
            fs.remove(path)
        removed.append(name)
    return removed
