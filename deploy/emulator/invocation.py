"""The ExecutorInput Vertex AI hands a container step, and what it reads back from the step.

Followed (TFX 1.16 and KFP sources, read in this environment and in kubeflow/pipelines):
- the step's command line: the executor's `container.command` + `args`, with `{{$}}` replaced
  by the whole ExecutorInput as JSON (the only placeholder TFX's compiled args use);
- `inputs.parameters` (the legacy map, `{stringValue|intValue|doubleValue}`) and
  `inputs.parameterValues` (plain values) both carry each task input parameter, as TFX's own
  test ExecutorInputs do (tfx/orchestration/kubeflow/v2/container/testdata/
  executor_invocation.json); TFX's entrypoint reads the legacy map when the command has no
  `--json_serialized_inputs_spec_args` (kubeflow_v2_entrypoint_utils.parse_execution_properties);
- every artifact, in and out, has its ML Metadata resource `name`, its `type` (the
  `instanceSchema` it was declared with), `uri` and `metadata`: TFX's entrypoint asserts the
  type (`_parse_raw_artifact`) and maps model ids through names (`refactor_model_blessing`);
- outputs go to `{pipeline root}/{project number}/{job id}/{task}_{task id}/{output key}`, the
  output file is `executor_output.json` in that directory (the task directory is TFX's comment
  in kubeflow_v2_run_executor.py; the per-key URI and the file name are this emulator's choice:
  Vertex does not document them);
- after the step, each declared output artifact takes the `uri` and `metadata` the step wrote
  for it into the output file (KFP launcher_v2.go mergeRuntimeArtifacts; the step's ExecutorOutput
  has no `type`, the launcher keeps the declared one), and that is what downstream steps get;
- the ExampleGen driver (`container.lifecycle.preCacheCheck`) runs first with the same input;
  its output file's `parameterValues` (span, fingerprint, resolved input_config) and artifact
  metadata are merged into the executor's input before it runs, as the driver's docstring says
  the service does ("The CAIP Pipelines service will update the task's properties and artifacts
  prior to running the executor"; file_based_example_gen/driver.py). How Vertex encodes them is
  not documented: both parameter maps get them here.
- the cache key is KFP's (backend/src/v2/cacheutils/cache.go GenerateCacheKey): input artifact
  names, input parameter values, output artifact keys and types, image, command and args,
  scoped to the pipeline's name as Vertex and KFP's driver scope it.
"""

import copy
import hashlib
import json
from typing import Any, Dict, List, Optional, Tuple

from deploy.emulator.spec import PipelineJobSpec, parameter_value, schema_title

WHOLE_INPUT = "{{$}}"
# Beam flags that only the Dataflow service reads; the DirectRunner runs without them.
DATAFLOW_FLAGS = {
    "runner", "project", "region", "temp_location", "staging_location", "machine_type",
    "worker_machine_type", "max_num_workers", "num_workers", "disk_size_gb",
    "autoscaling_algorithm", "service_account_email", "network", "subnetwork", "zone",
    "worker_zone", "worker_region", "dataflow_service_options", "dataflow_endpoint",
    "use_public_ips", "no_use_public_ips", "job_name",
}


class PlaceholderError(ValueError):
    """A placeholder the emulator does not resolve; the message names it."""


def legacy_value(value: Any) -> Dict[str, Any]:
    """A plain value as the legacy pipeline_spec Value ({intValue|doubleValue|stringValue})."""
    if isinstance(value, bool):
        return {"stringValue": json.dumps(value)}
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return {"intValue": str(int(value))}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    return {"stringValue": json.dumps(value)}


def runtime_artifact(artifact: Dict[str, Any]) -> Dict[str, Any]:
    """A stored artifact as the RuntimeArtifact a step receives."""
    artifact_type = {"instanceSchema": artifact["schema"]} if artifact.get("schema") else \
        {"schemaTitle": artifact["schema_title"]}
    return {"name": artifact["name"], "type": artifact_type, "uri": artifact["uri"],
            "metadata": copy.deepcopy(artifact.get("metadata", {}))}


def task_parameters(spec: PipelineJobSpec, task_name: str,
                    upstream_parameters: Dict[Tuple[str, str], Any]) -> Dict[str, Any]:
    """The task's input parameter values: constants, pipeline parameters, upstream outputs."""
    values: Dict[str, Any] = {}
    runtime = {**spec.runtime_config.get("parameterValues", {}),
               **{k: parameter_value({"runtimeValue": {"constantValue": v}})
                  for k, v in spec.runtime_config.get("parameters", {}).items()}}
    for name, parameter in spec.tasks[task_name].get("inputs", {}).get("parameters", {}).items():
        if "runtimeValue" in parameter:
            values[name] = parameter_value(parameter)
        elif "componentInputParameter" in parameter:
            key = parameter["componentInputParameter"]
            if key not in runtime:
                raise PlaceholderError(f"task {task_name}: pipeline parameter {key!r} has no "
                                       "value (runtimeConfig)")
            values[name] = runtime[key]
        elif "taskOutputParameter" in parameter:
            source = parameter["taskOutputParameter"]
            values[name] = upstream_parameters[(source["producerTask"],
                                                source["outputParameterKey"])]
        else:
            raise PlaceholderError(f"task {task_name}: parameter {name} has an input kind "
                                   f"{sorted(parameter)} the emulator does not resolve")
    return values


def vertex_executor_input(parameters: Dict[str, Any], inputs: Dict[str, List[Dict]],
                          outputs: Dict[str, Dict], output_file: str) -> Dict[str, Any]:
    """The ExecutorInput of one container step, in Vertex's terms (gs:// URIs)."""
    return {
        "inputs": {
            "parameters": {name: legacy_value(value) for name, value in parameters.items()},
            "parameterValues": copy.deepcopy(parameters),
            "artifacts": {key: {"artifacts": [runtime_artifact(a) for a in artifacts]}
                          for key, artifacts in inputs.items()},
        },
        "outputs": {
            "artifacts": {key: {"artifacts": [runtime_artifact(artifact)]}
                          for key, artifact in outputs.items()},
            "outputFile": output_file,
        },
    }


def merge_driver_output(executor_input: Dict[str, Any], driver_output: Dict[str, Any]) -> None:
    """Carries a preCacheCheck driver's results into the executor's input (in place)."""
    inputs = executor_input["inputs"]
    for name, value in driver_output.get("parameterValues", {}).items():
        inputs["parameterValues"][name] = value
        inputs["parameters"][name] = legacy_value(value)
    for name, value in driver_output.get("parameters", {}).items():
        inputs["parameters"][name] = value
    for key, listed in driver_output.get("artifacts", {}).items():
        declared = executor_input["outputs"]["artifacts"].get(key, {}).get("artifacts", [])
        for source, target in zip(listed.get("artifacts", []), declared):
            merge_runtime_artifact(source, target)


def merge_runtime_artifact(source: Dict[str, Any], target: Dict[str, Any]) -> None:
    """KFP's mergeRuntimeArtifacts (launcher_v2.go): the step's uri, if any, and each of its
    metadata fields override the declared artifact's; name and type stay as declared."""
    if source.get("uri"):
        target["uri"] = source["uri"]
    if source.get("metadata"):
        target.setdefault("metadata", {}).update(source["metadata"])


def command_line(container: Dict[str, Any], step_input: Dict[str, Any],
                 key: str = "args") -> List[str]:
    """`command` + `args` of a container (or of its lifecycle hook) with `{{$}}` replaced."""
    rendered = json.dumps(step_input, sort_keys=True)
    result = []
    for word in list(container.get("command", [])) + list(container.get(key, [])):
        if word == WHOLE_INPUT:
            result.append(rendered)
        elif "{{$" in word:
            raise PlaceholderError(f"placeholder {word!r} is not resolved by the emulator "
                                   f"(only {WHOLE_INPUT}, the one TFX writes)")
        else:
            result.append(word)
    return result


def direct_runner_args(argv: List[str], running_mode: str) -> Tuple[List[str], List[str]]:
    """Dataflow Beam flags replaced by the DirectRunner's, on one worker (more can lose records:
    pipeline/beam_args.py): (new argv, dropped flags). Only when the argv asks for
    --runner=DataflowRunner; --sdk_container_image stays (the DirectRunner ignores it, and TFX,
    seeing it, ships no sdist of itself, as on Dataflow)."""
    if "--runner=DataflowRunner" not in argv:
        return argv, []
    kept, dropped = [], []
    for word in argv:
        name = word[2:].split("=", 1)[0] if word.startswith("--") else None
        if name in DATAFLOW_FLAGS:
            dropped.append(word)
        else:
            kept.append(word)
    kept += ["--runner=DirectRunner", f"--direct_running_mode={running_mode}",
             "--direct_num_workers=1"]
    return kept, dropped


def cache_key(executor_input: Dict[str, Any], container: Dict[str, Any],
              pipeline_name: str) -> str:
    """KFP's cache key fields, hashed, under the pipeline's name: a rerun of the same pipeline
    with the same inputs reuses the outputs; another pipeline never does (Vertex shares cached
    results only between runs of one pipeline name; KFP's driver keys its cache with
    "pipeline/" + PipelineName)."""
    inputs, outputs = executor_input["inputs"], executor_input["outputs"]
    key = {
        "pipeline": pipeline_name,
        "inputArtifactNames": {k: [a["name"] for a in v.get("artifacts", [])]
                               for k, v in inputs.get("artifacts", {}).items()},
        "inputParameterValues": inputs.get("parameterValues", {}),
        "outputArtifactsSpec": {k: schema_title(v["artifacts"][0]["type"])
                                for k, v in outputs.get("artifacts", {}).items()},
        "containerSpec": {"image": container.get("image", ""),
                          "cmdArgs": list(container.get("command", [])) +
                          list(container.get("args", []))},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def read_output_file(path: str) -> Optional[Dict[str, Any]]:
    """The step's ExecutorOutput, or None when it wrote none (KFP: an empty output)."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
