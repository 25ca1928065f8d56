"""The serving directory's layout: `<model_dir>/<N>/` versions, each complete or absent.

No TensorFlow or TFX here: the pusher, the runner, tests and operators' scripts share it.

- One push at a time per model directory: an exclusive lock file (`.push.lock`, see
  pipeline/run_lock.py) that the kernel releases when a pusher dies, so two pipelines pushing
  to one serving directory can neither take the same number nor skip one.
- Complete or absent: the model is copied into a hidden `.incoming-<uuid>` directory beside the
  versions (TF Serving ignores names that are not integers) and renamed into place, with a
  rename that refuses to replace an existing directory. A pusher killed mid-copy leaves only
  such a hidden directory; the next push removes it (safe: it holds the lock, so no other push
  is under way). Existing versions are never modified or deleted.
"""

import ctypes
import datetime
import errno
import json
import os
import re
import shutil
import uuid
from typing import Any, Dict, List, Optional, Tuple

from pipeline import run_lock
from trainer import features  # names only

_VERSION = re.compile(r"^\d+$")
TEMP_PREFIX = ".incoming-"
PUSH_LOCK_FILE = ".push.lock"
PUSH_LOCK_WAIT_SECONDS = 600.0  # another pusher copying a model: wait rather than fail
MANIFEST_FILE = "push_manifest.json"  # beside saved_model.pb; TF Serving ignores it


def existing_versions(model_dir: str) -> List[int]:
    """Integer version directories in a model directory, ascending."""
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(name) for name in os.listdir(model_dir)
                  if _VERSION.match(name) and os.path.isdir(os.path.join(model_dir, name)))


def _read_json(path: str) -> Dict[str, Any]:
    """The JSON object in `path`, or {} when there is no such file."""
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


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


def push_model(model_path: str, model_dir: str, manifest: Optional[Dict[str, Any]] = None,
               reuse_existing: bool = True,
               wait_seconds: float = PUSH_LOCK_WAIT_SECONDS) -> Tuple[int, bool]:
    """Copies a SavedModel directory into the next free version of `model_dir`.

    Returns (version, pushed now). With `reuse_existing`, a model already pushed from the same
    path is not pushed again: its version comes back with False. `push_manifest.json` (version,
    source path, time, and `manifest`) goes in with the model.
    """
    os.makedirs(model_dir, exist_ok=True)
    with run_lock.hold(os.path.join(model_dir, PUSH_LOCK_FILE), wait_seconds,
                       what=f"model directory {model_dir}"):
        for name in remove_leftovers(model_dir):
            print(f"[VersionedPusher] removed {name}, left by a push that did not finish",
                  flush=True)
        if reuse_existing:
            version = version_of(model_dir, model_path)
            if version is not None:
                return version, False
        version = (existing_versions(model_dir) or [0])[-1] + 1
        staging = os.path.join(model_dir, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
        try:
            shutil.copytree(model_path, staging)
            record = dict(manifest or {})
            record.update(version=version, model_path=model_path, pushed_at=_now())
            with open(os.path.join(staging, MANIFEST_FILE), "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            rename_no_replace(staging, os.path.join(model_dir, str(version)))
        finally:
            if os.path.exists(staging):
                shutil.rmtree(staging, ignore_errors=True)
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
    return "  ".join(str(part) for part in parts)


def roll_back(model_dir: str, version: int) -> int:
    """Serves an earlier version again by pushing a copy of it as the newest version.

    Nothing is deleted or changed: TF Serving moves to the highest number, which now holds
    the earlier model; its manifest is the earlier one plus `rolled_back_from`.
    """
    if version not in existing_versions(model_dir):
        raise ValueError(f"{model_dir} has no version {version}; it has "
                         f"{existing_versions(model_dir) or 'none'}")
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
                                           "workdir/serving/pet_unet")
    back = commands.add_parser("rollback", help="push a copy of an earlier version as the "
                                                "newest one (deletes nothing)",
                               description="Copies version N to a new highest version, which "
                                           "TF Serving then serves; every version stays.")
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
    except (ValueError, OSError, run_lock.LockBusy) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
