"""What a version says about itself: `push_manifest.json` beside its saved_model.pb (TF Serving
ignores it), and the Trainer's `model_info.json` it starts from."""

import datetime
import json
import os
from typing import Any, Dict, Optional

from storage import files
from trainer import features  # names only

MANIFEST_FILE = "push_manifest.json"
# Keys push.py writes for each push; a rollback's copy gets its own, not its source's.
PUSH_KEYS = ("version", "model_path", "pushed_at")


def read_json(path: str) -> Dict[str, Any]:
    """The JSON object in `path` (local or `<scheme>://`), or {} when there is no such file."""
    text = files.at(path).read_text(path)
    return json.loads(text) if text is not None else {}


def read_manifest(model_dir: str, version: int) -> Dict[str, Any]:
    return read_json(os.path.join(model_dir, str(version), MANIFEST_FILE))


def read_model_info(model_path: str) -> Dict[str, Any]:
    """What the Trainer recorded beside the SavedModel (architecture, parameter counts...).

    {} for a model directory without it.
    """
    return read_json(os.path.join(model_path, features.MODEL_INFO_FILE))


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def record(manifest: Optional[Dict[str, Any]], version: int, model_path: str) -> Dict[str, Any]:
    """What push_manifest.json holds: `manifest` plus the version, source path and time."""
    result = dict(manifest or {})
    result.update(version=version, model_path=model_path, pushed_at=now())
    return result


def to_json(manifest: Dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True)
