"""VersionedPusher: TFX's Pusher, writing `<serving_dir>/<model_name>/<N>/` with N = 1, 2, 3...

TF Serving loads the highest integer version in a model directory. TFX's own filesystem
Pusher names versions by Unix time; this one numbers them and never overwrites or deletes one
(serving/push.py: on a local filesystem one push at a time per model directory, a
version is complete or absent, leftovers of a killed push are cleaned by the next; on gs://,
through tf.io.gfile, weaker guarantees stated there). Each version carries
`push_manifest.json`: the version, the metrics that blessed it, the baseline it beat, the data it
was trained on (span, input fingerprint, counts), the pipeline config and the package versions,
so an operator can tell what a version is without the metadata store.

With registry settings (`vertex_model`, from pipeline/cloud.py ModelRegistryConfig), the same
step then registers the version in the Vertex AI Model Registry and optionally deploys it to an
endpoint (components/model_registry.py); a rerun of a push registers nothing twice. A registry
that refuses fails the step, with the version already in the serving directory: the rerun
(or Vertex's retry) skips the copy and completes the registration.
"""

import importlib.metadata
import os
import platform
from typing import Any, Dict, List, Optional

from absl import logging
from tfx import types
from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.utils import json_utils, path_utils, proto_utils

from components import model_registry
from oxford_pet import layout
from serving.manifest import read_model_info
from serving.push import push_model
from serving.versions import version_of
from runs import evaluation
from runs.metadata import properties
from storage import files

EVALUATION_KEY = "evaluation"
EXAMPLES_KEY = "examples"
STATISTICS_KEY = "statistics"  # named in the manifest: the next span's drift baseline
PIPELINE_CONFIG_KEY = "pipeline_config"  # in the Pusher's custom_config
VERTEX_MODEL_KEY = model_registry.MANIFEST_KEY  # in custom_config and each manifest
INGEST_COUNTS = tuple(f"_{key}" for key in layout.INGEST_COUNTS)
# The packages that decide what a SavedModel is and how it was made.
PACKAGES = ("tfx", "tensorflow", "tf-keras", "tensorflow-transform",
            "tensorflow-model-analysis", "apache-beam", "ml-metadata")


def package_versions() -> Dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def evaluation_metrics(evaluation_uri: str) -> Dict[str, Dict[str, float]]:
    """Overall-slice metrics per model: {"candidate": {...}, "baseline": {...} if any}."""
    candidate = evaluation.overall_metrics(evaluation_uri, evaluation.CANDIDATE)
    baseline = evaluation.overall_metrics(evaluation_uri, evaluation.BASELINE)
    return {"candidate": candidate, **({"baseline": baseline} if baseline else {})}


def _optional_single(input_dict, key: str) -> Optional[types.Artifact]:
    artifacts = input_dict.get(key) or []
    return artifacts[0] if artifacts else None


def describe_data(examples: Optional[types.Artifact]) -> Optional[Dict[str, Any]]:
    """Span, version, input fingerprint and per-split counts of the ExampleGen output."""
    if examples is None:
        return None
    data: Dict[str, Any] = {"uri": examples.uri}
    for name in ("span", "version"):  # a property, or (FileBasedExampleGen's) custom property
        if examples.has_property(name):
            data[name] = getattr(examples, name)
        elif examples.has_custom_property(name):
            data[name] = examples.get_int_custom_property(name)
    counts = {}
    # Plain values whether stored as ints (local runs) or JSON structs (Vertex AI, KFP).
    for key, value in properties(examples.mlmd_artifact).items():
        if key == "input_fingerprint":
            data[key] = value
        elif isinstance(value, int) and key.endswith(INGEST_COUNTS):
            split, count = key.rsplit("_", 1)  # OxfordPetExampleGen's "<split>_<count>"
            counts.setdefault(split, {})[count] = value
    if counts:
        data["splits"] = counts
    return data


def build_manifest(input_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any],
                   model_path: str, model_dir: str,
                   pipeline_run: Optional[str] = None) -> Dict[str, Any]:
    """What an operator needs to know about a version (see the module docstring)."""
    manifest = dict(read_model_info(model_path))  # top-level keys, as readers expect
    blessing = _optional_single(input_dict, standard_component_specs.MODEL_BLESSING_KEY)
    evaluation = _optional_single(input_dict, EVALUATION_KEY)
    metrics = evaluation_metrics(evaluation.uri) if evaluation else {}
    baseline = None
    if blessing is not None and blessing.has_custom_property("baseline_model"):
        baseline_path = path_utils.serving_model_dir(
            blessing.get_string_custom_property("baseline_model"))
        baseline = {"model_path": baseline_path,
                    "version": version_of(model_dir, baseline_path),
                    "metrics": metrics.get("baseline", {})}
        if files.normalized(baseline_path) == files.normalized(model_path):
            # TFX's latest-blessed-model resolver (the cloud's) handed the Evaluator this
            # model itself, blessed by an earlier run: it was compared with nothing else.
            baseline = {"model_path": None, "version": None, "metrics": {},
                        "note": "the Evaluator's baseline was this model itself (a rerun "
                                "after its blessing): no comparison"}
    manifest["blessing"] = {
        "blessed": bool(blessing.get_int_custom_property("blessed")) if blessing else None,
        "evaluation_uri": evaluation.uri if evaluation else None,
        "metrics": metrics.get("candidate", {}),
        "baseline": baseline,
    }
    manifest["data"] = describe_data(_optional_single(input_dict, EXAMPLES_KEY))
    statistics = _optional_single(input_dict, STATISTICS_KEY)
    if manifest["data"] is not None and statistics is not None:
        manifest["data"]["statistics"] = statistics.uri
    custom = custom_config(exec_properties)
    manifest["config"] = custom.get(PIPELINE_CONFIG_KEY)
    manifest["packages"] = package_versions()
    manifest["pipeline_run"] = pipeline_run
    if custom.get(VERTEX_MODEL_KEY):  # the registry it goes to: what a rollback updates
        manifest[VERTEX_MODEL_KEY] = custom[VERTEX_MODEL_KEY]
    return manifest


def custom_config(exec_properties: Dict[str, Any]) -> Dict[str, Any]:
    """The component's custom_config ({} when none), as the launcher passes it: JSON."""
    return json_utils.loads(
        exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY) or "null") or {}


# On the PushedModel: 1 when this execution wrote the version, 0 when the model already was
# that version (pushed by an earlier run); `pushed_version` names it either way.
PUSHED_NOW_KEY = "pushed_now"


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
        version, pushed_now = push_model(
            model_path, model_dir, build_manifest(
                input_dict, exec_properties, model_path, model_dir,
                pipeline_run=model_registry.pipeline_run(self._context)))
        serving_path = os.path.join(model_dir, str(version))
        if pushed_now:
            logging.info("Model pushed as version %d to %s", version, serving_path)
            print(f"[VersionedPusher] pushed version {version} to {serving_path}", flush=True)
        else:  # a rerun re-blessed a model pushed before: no duplicate, nothing written
            print(f"[VersionedPusher] this model is already version {version} "
                  f"({serving_path}, pushed by an earlier run): nothing pushed", flush=True)
        settings = custom_config(exec_properties).get(VERTEX_MODEL_KEY)
        registry = {}
        if settings:
            registered = model_registry.register_version(
                model_dir, version, settings, out=lambda line: print(line, flush=True))
            registry = {"vertex_model": registered["model"],
                        "vertex_model_version": registered["version_id"]}
            if registered["endpoint"]:
                registry["vertex_endpoint"] = registered["endpoint"]["endpoint"]
        self._MarkPushed(model_push, pushed_destination=serving_path,
                         pushed_version=str(version))
        model_push.set_int_custom_property(PUSHED_NOW_KEY, int(pushed_now))
        for name, value in registry.items():
            model_push.set_string_custom_property(name, value)


class VersionedPusherSpec(standard_component_specs.PusherSpec):
    """PusherSpec plus what the manifest describes: the evaluation and the examples."""

    INPUTS = {
        **standard_component_specs.PusherSpec.INPUTS,
        EVALUATION_KEY: ChannelParameter(type=standard_artifacts.ModelEvaluation,
                                         optional=True),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
        STATISTICS_KEY: ChannelParameter(type=standard_artifacts.ExampleStatistics,
                                         optional=True),
    }


class VersionedPusher(pusher_component.Pusher):
    """Pusher with integer versions under `<serving_dir>/<model_name>/`.

    `evaluation` (the Evaluator's), `examples` (ExampleGen's), `statistics` (StatisticsGen's:
    the data gate's drift baseline when this version serves) and `pipeline_config` (a JSON-able
    dict) only feed each version's manifest. `vertex_model` (CloudConfig.registry_settings)
    registers each version in the Vertex AI Model Registry.
    """

    SPEC_CLASS = VersionedPusherSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, model: types.BaseChannel, model_blessing: types.BaseChannel,
                 model_dir: str, evaluation: Optional[types.BaseChannel] = None,
                 examples: Optional[types.BaseChannel] = None,
                 statistics: Optional[types.BaseChannel] = None,
                 pipeline_config: Optional[Dict[str, Any]] = None,
                 vertex_model: Optional[Dict[str, Any]] = None):
        custom = {key: value for key, value in ((PIPELINE_CONFIG_KEY, pipeline_config),
                                                (VERTEX_MODEL_KEY, vertex_model)) if value}
        spec = VersionedPusherSpec(
            model=model, model_blessing=model_blessing, infra_blessing=None,
            evaluation=evaluation, examples=examples, statistics=statistics,
            push_destination=pusher_pb2.PushDestination(
                filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=model_dir)),
            custom_config=json_utils.dumps(custom or None),
            pushed_model=types.Channel(type=standard_artifacts.PushedModel))
        base_component.BaseComponent.__init__(self, spec=spec)  # Pusher's would rebuild it
