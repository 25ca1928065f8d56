"""VersionedPusher: TFX's Pusher, writing `<serving_dir>/<model_name>/<N>/` with N = 1, 2, 3...

TF Serving loads the highest integer version in a model directory. TFX's own filesystem
Pusher names versions by Unix time; this one numbers them, and never overwrites: the model is
copied into a hidden temporary directory beside the versions and renamed into place, so a
version directory is complete or absent, and two pushes cannot take the same number.
"""

import datetime
import json
import os
import re
import shutil
import uuid
from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from trainer import features

_VERSION = re.compile(r"^\d+$")
TEMP_PREFIX = ".incoming-"
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


def push_new_version(model_path: str, model_dir: str,
                     manifest: Optional[Dict[str, Any]] = None) -> int:
    """Copies a SavedModel directory to the next free version of `model_dir`; returns it.

    A `push_manifest.json` (the source path, the time, and `manifest`) goes in with the model.
    """
    os.makedirs(model_dir, exist_ok=True)
    staging = os.path.join(model_dir, f"{TEMP_PREFIX}{uuid.uuid4().hex}")
    shutil.copytree(model_path, staging)
    record = {"model_path": model_path,
              "pushed_at": datetime.datetime.now(datetime.timezone.utc).isoformat()}
    record.update(manifest or {})
    with open(os.path.join(staging, MANIFEST_FILE), "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    try:
        while True:
            version = (existing_versions(model_dir) or [0])[-1] + 1
            target = os.path.join(model_dir, str(version))
            try:
                os.rename(staging, target)  # atomic; fails if the version appeared meanwhile
                return version
            except OSError:
                if not os.path.exists(target):
                    raise
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging, ignore_errors=True)


class Executor(pusher_executor.Executor):
    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            print("[VersionedPusher] the model was not blessed: nothing pushed", flush=True)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(
            exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        model_dir = destination.filesystem.base_directory
        model_path = self.GetModelPath(input_dict)
        version = version_of(model_dir, model_path)
        if version is not None:  # a rerun re-blessed a model pushed before: no duplicate
            print(f"[VersionedPusher] this model is already version {version}", flush=True)
        else:
            version = push_new_version(model_path, model_dir, read_model_info(model_path))
        serving_path = os.path.join(model_dir, str(version))
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=str(version))
        logging.info("Model pushed as version %d to %s", version, serving_path)
        print(f"[VersionedPusher] pushed version {version} to {serving_path}", flush=True)


class VersionedPusher(pusher_component.Pusher):
    """Pusher with integer versions under `<serving_dir>/<model_name>/`."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel,
                 model_dir: str, **kwargs: Optional[Any]):
        super().__init__(
            model=model, model_blessing=model_blessing,
            push_destination=pusher_pb2.PushDestination(
                filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=model_dir)),
            **kwargs)
