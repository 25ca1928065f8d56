"""`python -m components.model_versions list|rollback DIR`: the pushed versions of a model.

`list` prints one line per version from its manifest; `rollback` serves an earlier version
again (serving/push.py `roll_back`) and, when the versions are registered in the Vertex AI
Model Registry, moves its aliases there too (components/model_registry.py). The serving
directory itself is serving/.
"""

import argparse
import sys
from typing import List, Optional

from cli import exits
from components import model_registry
from serving.manifest import read_manifest
from serving.push import VersionTaken, roll_back
from serving.versions import existing_versions, is_complete
from storage import lock_file


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
    elif baseline.get("version") is not None:
        parts.append(f"beat version {baseline['version']}")
    elif baseline.get("model_path"):  # blessed once, never pushed
        parts.append(f"beat the unpushed model {baseline['model_path']}")
    elif baseline.get("note"):
        parts.append("compared with no other model")
    if "span" in data:
        parts.append(f"data span {data['span']}")
    if manifest.get("architecture"):
        parts.append(manifest["architecture"])
    if not is_complete(model_dir, version):
        parts.append("INCOMPLETE: no saved_model.pb (a push that died; TF Serving cannot "
                     "load it)")
    return "  ".join(str(part) for part in parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components.model_versions",
        description="The pushed versions of a model: list them, or serve an earlier one again.",
        epilog=exits.epilog(failed="a copy or the Model Registry failed",
                            locked="another push holds the model directory"))
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
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return list_versions(args.model_dir)
        new = roll_back(args.model_dir, args.version)
        print(f"version {args.version} is now also version {new}, the one served")
        return roll_back_registry(args.model_dir, new)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.BAD_INPUT
    except (lock_file.LockBusy, VersionTaken) as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.LOCKED
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return exits.FAILED


def list_versions(model_dir: str) -> int:
    versions = existing_versions(model_dir)
    if not versions:
        print(f"no versions in {model_dir}")
    for version in versions:
        print(describe(model_dir, version))
    return exits.OK


def roll_back_registry(model_dir: str, new: int) -> int:
    """Moves the Vertex AI Model Registry's aliases to the rolled-back model, when the model
    directory's versions are registered (components/model_registry.py); FAILED if that
    failed."""
    try:
        model_registry.register_version(model_dir, new)  # None: never registered
    except model_registry.RegistryError as error:
        print(f"error: the serving directory serves the rolled-back model, but the Model "
              f"Registry was not updated: {error}. When it is reachable, finish with: python -m "
              f"components.model_registry {model_dir} {new}", file=sys.stderr)
        return exits.FAILED
    return exits.OK


if __name__ == "__main__":
    sys.exit(main())
