"""The serving directory's layout: `<model_dir>/<N>/` versions, each complete or absent.

No TensorFlow or TFX for local paths: the pusher, the runner, tests and operators' scripts share
it. A path with a scheme (`gs://...`, anything `<scheme>://`) goes through `tf.io.gfile`, and
TensorFlow is imported only then.

Local filesystem (what is guaranteed):
- One push at a time per model directory: an exclusive lock file (`.push.lock`, see
  pipeline/run_lock.py) that the kernel releases when a pusher dies, so two pipelines pushing
  to one serving directory can neither take the same number nor skip one.
- Complete or absent: the model is copied into a hidden `.incoming-<uuid>` directory beside the
  versions (TF Serving ignores names that are not integers) and renamed into place, with a
  rename that refuses to replace an existing directory. A pusher killed mid-copy leaves only
  such a hidden directory; the next push removes it (safe: it holds the lock, so no other push
  is under way). Existing versions are never modified or deleted.

Object stores (`gs://`; what is and is not guaranteed): there is no directory rename and no
flock, and `tf.io.gfile` offers no create-only-if-absent write, so neither guarantee above holds
as such. What the remote push does instead (`_push_remote`):
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

import ctypes
import datetime
import errno
import json
import os
import re
import shutil
import socket
import time
import uuid
from typing import Any, Dict, Iterator, List, Optional, Tuple

from storage import lock_file
from trainer import features  # names only

_VERSION = re.compile(r"^\d+$")
TEMP_PREFIX = ".incoming-"
PUSH_LOCK_FILE = ".push.lock"
PUSH_LOCK_WAIT_SECONDS = 600.0  # another pusher copying a model: wait rather than fail
MANIFEST_FILE = "push_manifest.json"  # beside saved_model.pb; TF Serving ignores it
# What makes a version loadable; copied last into a remote version directory.
GRAPH_FILES = ("saved_model.pb", "saved_model.pbtxt")
CLAIM_PREFIX = ".claim-"  # .claim-<N>-<time>-<uuid>: a remote push taking version N
STALE_SECONDS = 24 * 3600.0  # remote leftovers older than this belong to no live push
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
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


def is_remote(path: str) -> bool:
    """True for `<scheme>://...` paths (gs://, s3://, ram://...), which need tf.io.gfile."""
    return bool(_SCHEME.match(path))


def _gfile():
    import tensorflow as tf  # only here: local paths never import TensorFlow

    return tf.io.gfile


def _names(path: str) -> List[str]:
    """Children of a remote directory.

    Cloud Storage lists subdirectories as `name/` (and, per TF Serving's source, some versions
    list descendants `name/file`): only the first path component counts, as TF Serving does.
    """
    return sorted({name.split("/", 1)[0] for name in _gfile().listdir(path)} - {""})


def existing_versions(model_dir: str) -> List[int]:
    """Integer version directories in a model directory, ascending."""
    if is_remote(model_dir):
        gfile = _gfile()
        if not gfile.isdir(model_dir):
            return []
        return sorted(int(name) for name in _names(model_dir)
                      if _VERSION.match(name) and gfile.isdir(os.path.join(model_dir, name)))
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir)
                  if _VERSION.match(name) and os.path.isdir(os.path.join(model_dir, name)))


def _read_json(path: str) -> Dict[str, Any]:
    """The JSON object in `path`, or {} when there is no such file."""
    if is_remote(path):
        gfile = _gfile()
        if not gfile.exists(path) or gfile.isdir(path):
            return {}
        with gfile.GFile(path, "r") as handle:
            return json.loads(handle.read())
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def is_complete(model_dir: str, version: int) -> bool:
    """Whether the version holds a SavedModel graph file (what TF Serving needs to load it)."""
    paths = [os.path.join(model_dir, str(version), name) for name in GRAPH_FILES]
    if is_remote(model_dir):
        return any(_gfile().exists(path) for path in paths)
    return any(os.path.isfile(path) for path in paths)


def read_manifest(model_dir: str, version: int) -> Dict[str, Any]:
    return _read_json(os.path.join(model_dir, str(version), MANIFEST_FILE))


def read_model_info(model_path: str) -> Dict[str, Any]:
    """What the Trainer recorded beside the SavedModel (architecture, parameter counts...).

    {} for a model directory without it.
    """
    return _read_json(os.path.join(model_path, features.MODEL_INFO_FILE))


def version_of(model_dir: str, model_path: str) -> Optional[int]:
    """The version that already holds this model (pushed from the same path), if any."""
    for version in existing_versions(model_dir):
        if read_manifest(model_dir, version).get("model_path") == model_path:
            return version
    return None


def rename_no_replace(source: str, target: str) -> None:
    """Renames `source` to `target`, failing with FileExistsError if `target` exists.

    os.rename would silently replace an existing empty directory; Linux's renameat2 with
    RENAME_NOREPLACE checks and renames in one step. Where that call is missing or the
    filesystem refuses it, a check just before os.rename (the push lock makes that enough
    among pushers).
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


def remove_leftovers(model_dir: str) -> List[str]:
    """Removes `.incoming-*` directories of pushes that died; call only holding the push lock.

    Returns their names. Version directories are never touched.
    """
    removed = []
    for name in sorted(os.listdir(model_dir)):
        if name.startswith(TEMP_PREFIX):
            shutil.rmtree(os.path.join(model_dir, name), ignore_errors=True)
            removed.append(name)
    return removed


def _choose_version(model_dir: str, model_path: str, removed: List[str],
                    reuse_existing: bool) -> Tuple[int, bool]:
    """(version already holding the model, False), or (the next free number, True).

    Reports the leftovers `removed` before choosing.
    """
    for name in removed:
        print(f"[VersionedPusher] removed {name}, left by a push that did not finish",
              flush=True)
    if reuse_existing:
        version = version_of(model_dir, model_path)
        if version is not None:
            return version, False
    return (existing_versions(model_dir) or [0])[-1] + 1, True


def _record(manifest: Optional[Dict[str, Any]], version: int, model_path: str) -> Dict[str, Any]:
    """What push_manifest.json holds: `manifest` plus the version, source path and time."""
    record = dict(manifest or {})
    record.update(version=version, model_path=model_path, pushed_at=_now())
    return record


def push_model(model_path: str, model_dir: str, manifest: Optional[Dict[str, Any]] = None,
               reuse_existing: bool = True,
               wait_seconds: float = PUSH_LOCK_WAIT_SECONDS,
               stale_seconds: float = STALE_SECONDS) -> Tuple[int, bool]:
    """Copies a SavedModel directory into the next free version of `model_dir`.

    Returns (version, pushed now). With `reuse_existing`, a model already pushed from the same
    path is not pushed again: its version comes back with False. `push_manifest.json` (version,
    source path, time, and `manifest`) goes in with the model. A remote `model_dir` goes
    through `_push_remote` (no lock: `wait_seconds` does not apply; leftovers older than
    `stale_seconds` are removed); see the module docstring for what that guarantees.
    """
    if is_remote(model_dir):
        return _push_remote(model_path, model_dir, manifest, reuse_existing, stale_seconds)
    os.makedirs(model_dir, exist_ok=True)
    with lock_file.hold(os.path.join(model_dir, PUSH_LOCK_FILE), wait_seconds,
                       what=f"model directory {model_dir}"):
        version, new = _choose_version(model_dir, model_path, remove_leftovers(model_dir),
                                       reuse_existing)
        if not new:
            return version, False
        staging = os.path.join(model_dir, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        try:
            _copy_tree(model_path, staging)
            record = _record(manifest, version, model_path)
            with open(os.path.join(staging, MANIFEST_FILE), "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            rename_no_replace(staging, os.path.join(model_dir, str(version)))
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging, ignore_errors=True)
        return version, True


def _relative_files(root: str, prefix: str = "") -> Iterator[str]:
    """Every file under a remote (or local, through gfile) directory, relative to it."""
    gfile = _gfile()
    for name in _names(os.path.join(root, prefix) if prefix else root):
        relative = os.path.join(prefix, name) if prefix else name
        if gfile.isdir(os.path.join(root, relative)):
            yield from _relative_files(root, relative)
        else:
            yield relative


def _copy_files(source: str, target: str, files: List[str]) -> None:
    gfile = _gfile()
    for relative in files:
        destination = os.path.join(target, relative)
        gfile.makedirs(os.path.dirname(destination))
        gfile.copy(os.path.join(source, relative), destination, overwrite=False)


def _copy_tree(source: str, target: str) -> None:
    """shutil.copytree, through tf.io.gfile when either side is remote."""
    if not is_remote(source) and not is_remote(target):
        shutil.copytree(source, target)
        return
    if not _gfile().isdir(source):
        raise FileNotFoundError(errno.ENOENT, "no model directory", source)
    _gfile().makedirs(target)
    _copy_files(source, target, list(_relative_files(source)))


def _copy_version(staging: str, target: str) -> None:
    """Copies a complete staged version into `target`, the SavedModel graph file(s) last.

    Until the graph file exists TF Serving fails to load `target` (and retries) instead of
    loading a model whose variables are still being copied.
    """
    files = list(_relative_files(staging))
    last = [name for name in files if name in GRAPH_FILES]
    _copy_files(staging, target, [name for name in files if name not in last] + last)


def _stamp() -> str:
    return time.strftime(_STAMP_FORMAT, time.gmtime())


def _age_seconds(name: str) -> Optional[float]:
    """How long ago a stamped leftover (`.incoming-<time>-<hex>`, `.claim-...`) was made."""
    match = _STAMPED.match(name)
    if not match:
        return None
    made = datetime.datetime.strptime(match.group(1), _STAMP_FORMAT).replace(
        tzinfo=datetime.timezone.utc)
    return (datetime.datetime.now(datetime.timezone.utc) - made).total_seconds()


def remove_stale_leftovers(model_dir: str, stale_seconds: float = STALE_SECONDS) -> List[str]:
    """Removes remote `.incoming-*` and `.claim-*` leftovers older than `stale_seconds`.

    Returns their names. Younger ones may belong to a push under way and stay, as do names
    without a time in them; version directories are never touched.
    """
    gfile, removed = _gfile(), []
    for name in _names(model_dir):
        age = _age_seconds(name)
        if age is None or age <= stale_seconds:
            continue
        path = os.path.join(model_dir, name)
        if gfile.isdir(path):
            gfile.rmtree(path)
        else:
            gfile.remove(path)
        removed.append(name)
    return removed


def _push_remote(model_path: str, model_dir: str, manifest: Optional[Dict[str, Any]],
                 reuse_existing: bool, stale_seconds: float) -> Tuple[int, bool]:
    """push_model for an object store: stage, claim the number, copy `saved_model.pb` last."""
    gfile = _gfile()
    gfile.makedirs(model_dir)
    version, new = _choose_version(model_dir, model_path,
                                   remove_stale_leftovers(model_dir, stale_seconds),
                                   reuse_existing)
    if not new:
        return version, False
    token = f"{_stamp()}-{uuid.uuid4().hex}"
    staging = os.path.join(model_dir, f"{TEMP_PREFIX}{token}")
    target = os.path.join(model_dir, str(version))
    try:
        _copy_tree(model_path, staging)
        if not any(gfile.exists(os.path.join(staging, name)) for name in GRAPH_FILES):
            raise FileNotFoundError(errno.ENOENT, "not a SavedModel (no saved_model.pb)",
                                    model_path)
        record = _record(manifest, version, model_path)
        manifest_path = os.path.join(staging, MANIFEST_FILE)
        if gfile.exists(manifest_path):  # a rollback's source manifest; some filesystems
            gfile.remove(manifest_path)  # (ram://) do not truncate on a "w" open
        with gfile.GFile(manifest_path, "w") as handle:
            handle.write(json.dumps(record, indent=2, sort_keys=True))
        claim_name = f"{CLAIM_PREFIX}{version}-{token}"
        claim = os.path.join(model_dir, claim_name)
        with gfile.GFile(claim, "w") as handle:
            handle.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                     "model_path": model_path, "started": _now()}))
        try:
            taken = [name for name in _names(model_dir) if name == str(version) or (
                name.startswith(f"{CLAIM_PREFIX}{version}-") and name != claim_name
                and (_age_seconds(name) or 0.0) <= stale_seconds)]
            if taken:
                raise VersionTaken(model_dir, version, taken)
            try:
                _copy_version(staging, target)
            except Exception as error:
                import tensorflow as tf

                if isinstance(error, tf.errors.AlreadyExistsError):  # someone else's file
                    raise VersionTaken(model_dir, version, [str(error)]) from error
                if gfile.exists(target):  # ours alone (claimed, and absent before): undo it
                    gfile.rmtree(target)
                raise
        finally:
            gfile.remove(claim)
    finally:
        if gfile.exists(staging):
            gfile.rmtree(staging)
    return version, True


def push_new_version(model_path: str, model_dir: str,
                     manifest: Optional[Dict[str, Any]] = None) -> int:
    """Pushes the model as a new version even if it was pushed before; returns the version."""
    return push_model(model_path, model_dir, manifest, reuse_existing=False)[0]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def describe(model_dir: str, version: int) -> str:
    """One line about a version, from its manifest: when, how good, on what, beating what."""
    manifest = read_manifest(model_dir, version)
    blessing = manifest.get("blessing") or {}
    metrics = blessing.get("metrics") or {}
    baseline = blessing.get("baseline") or {}
    data = manifest.get("data") or {}
    parts = [f"{version:>4}", manifest.get("pushed_at", "?")]
    if "pixel_accuracy" in metrics:
        parts.append(f"pixel accuracy {metrics['pixel_accuracy']:.4f}")
    if "mean_iou" in metrics:
        parts.append(f"mean IoU {metrics['mean_iou']:.4f}")
    if manifest.get("rolled_back_from"):
        parts.append(f"copy of version {manifest['rolled_back_from']}")
    elif baseline:
        parts.append(f"beat version {baseline.get('version') or baseline.get('model_path')}")
    if "span" in data:
        parts.append(f"data span {data['span']}")
    if manifest.get("architecture"):
        parts.append(manifest["architecture"])
    if not is_complete(model_dir, version):
        parts.append("INCOMPLETE: no saved_model.pb (a push that died; TF Serving cannot "
                     "load it)")
    return "  ".join(str(part) for part in parts)


def roll_back(model_dir: str, version: int) -> int:
    """Serves an earlier version again by pushing a copy of it as the newest version.

    Nothing is deleted or changed: TF Serving moves to the highest number, which now holds
    the earlier model; its manifest is the earlier one plus `rolled_back_from`.
    """
    if version not in existing_versions(model_dir):
        raise ValueError(f"{model_dir} has no version {version}; it has "
                         f"{existing_versions(model_dir) or 'none'}")
    if not is_complete(model_dir, version):
        raise ValueError(f"version {version} of {model_dir} has no saved_model.pb (a push "
                         "that died): choose a complete version")
    manifest = {key: value for key, value in read_manifest(model_dir, version).items()
                if key not in ("version", "model_path", "pushed_at")}
    manifest["rolled_back_from"] = version
    return push_model(os.path.join(model_dir, str(version)), model_dir, manifest,
                      reuse_existing=False)[0]


def main(argv: Optional[List[str]] = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m components.model_versions",
        description="The pushed versions of a model: list them, or serve an earlier one again.")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="one line per version, from its manifest",
                                  description="One line per version: when it was pushed, its "
                                              "metrics, what it beat, its data span.")
    listing.add_argument("model_dir", help="<serving-dir>/<model-name>, e.g. "
                                           "workdir/serving/pet_unet or "
                                           "gs://BUCKET/petseg/serving/pet_unet")
    back = commands.add_parser("rollback", help="push a copy of an earlier version as the "
                                                "newest one (deletes nothing)",
                               description="Copies version N to a new highest version, which "
                                           "TF Serving then serves; every version stays. When "
                                           "the versions are registered in the Vertex AI Model "
                                           "Registry (their push_manifest.json names the "
                                           "registry model), the new version's alias and "
                                           "'blessed' move to N's registry version (and its "
                                           "endpoint serves it), with Application Default "
                                           "Credentials.")
    back.add_argument("model_dir", help="<serving-dir>/<model-name>")
    back.add_argument("version", type=int, help="the version to serve again")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            versions = existing_versions(args.model_dir)
            if not versions:
                print(f"no versions in {args.model_dir}")
            for version in versions:
                print(describe(args.model_dir, version))
        else:
            new = roll_back(args.model_dir, args.version)
            print(f"version {args.version} is now also version {new}, the one served")
            return _roll_back_registry(args.model_dir, new)
    except (ValueError, OSError, lock_file.LockBusy) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _roll_back_registry(model_dir: str, new: int) -> int:
    """Moves the Vertex AI Model Registry's aliases to the rolled-back model, when the model
    directory's versions are registered (components/model_registry.py); 1 if that failed."""
    import sys

    from components import model_registry  # imports this module: here, not at the top

    try:
        model_registry.register_version(model_dir, new)  # None: never registered
    except model_registry.RegistryError as error:
        print(f"error: the serving directory serves the rolled-back model, but the Model "
              f"Registry was not updated: {error}. When it is reachable, finish with: python -m "
              f"components.model_registry {model_dir} {new}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
