"""What open-source Kubeflow Pipelines v2 does with the same compiled file (`--launcher kfp`).

Read in kubeflow/pipelines `backend/src/v2` at tags 2.0.5, 2.5.0, 2.14.0, 2.17.0 and master
(the lines cited hold in all of them unless a version is named):
1. Creating a run compiles the PipelineJob to an Argo workflow. Its visitor accepts only
   container and importer executors: `executor(label="..."): non-container and non-importer
   executor not implemented` (compiler/visitor.go), before the Argo compiler's own "resolver
   executors not implemented" (compiler/argocompiler/dag.go) is reached. TFX compiles every
   Resolver to a resolver executor, and this pipeline always has one (the Evaluator's baseline,
   the Trainer's warm start): no run starts. (Google Cloud custom-job executors fail the same
   way.)
2. The driver resolves a task's constant parameters only from `runtimeValue.constant`; TFX
   1.16's schema 2.0.0 writes `runtimeValue.constantValue`, which fails with "param runtime
   value spec of type *pipelinespec.ValueOrRuntimeParameter_ConstantValue not implemented"
   (driver/driver.go resolveInputs; driver/resolve.go from 2.14). It also hands parameters only
   as `parameterValues`, which TFX's entrypoint ignores without an inputs spec.
3. Input artifacts read back from ML Metadata carry an empty instance schema
   (metadata/client.go GetOutputArtifactsByExecutionId: `Schema: "" // TODO(Bobgy): figure out
   how to get schema`), and their name is the MLMD id: TFX's entrypoint then cannot tell the
   artifact class (`yaml.safe_load("")` is None: AttributeError in _retrieve_class_path;
   tensorflow/tfx#7768).
4. `container.lifecycle.preCacheCheck` is never run (no reference in backend/src/v2), so
   ExampleGen's span driver does not resolve `span-{SPAN}`.
5. Output artifacts: `<pipeline root>/<task>/<salt>/<key>`; the output file is
   /tmp/kfp_outputs/output_metadata.json inside the container (driver.go provisionOutputs,
   component.OutputMetadataFilepath), so TFX's task directory is /tmp/kfp_outputs for every
   step.

This module states those rules for the emulator (and for `python -m deploy.kubeflow`, which
refuses what a cluster would refuse); it changes nothing of the Vertex path.
"""

import copy
import random
from typing import Any, Dict, List

from deploy.emulator.spec import PipelineJobSpec

KFP_VERSIONS = "KFP backend 2.0.5 to 2.17.0 and master"
OUTPUT_METADATA_FILE = "/tmp/kfp_outputs/output_metadata.json"


def run_creation_problems(spec: PipelineJobSpec) -> List[str]:
    """Why the KFP API server refuses to create a run of this pipeline (empty: it would not)."""
    return refused_executors(spec.spec)


def refused_executors(pipeline_spec: Dict[str, Any]) -> List[str]:
    """Rule 1, on a PipelineSpec dict (`pipelineSpec` of a PipelineJob, or a YAML package)."""
    problems = []
    components = pipeline_spec.get("components", {})
    executors = pipeline_spec.get("deploymentSpec", {}).get("executors", {})
    for name, task in sorted(pipeline_spec.get("root", {}).get("dag", {}).get("tasks", {})
                             .items()):
        label = components.get(task.get("componentRef", {}).get("name"), {}).get(
            "executorLabel")
        executor = executors.get(label, {})
        if executor and "container" not in executor and "importer" not in executor:
            kind = next(iter(executor), "unknown")
            problems.append(f"task {name}: executor(label={label!r}): non-container and "
                            f"non-importer executor not implemented (its executor is a {kind}; "
                            "backend/src/v2/compiler/visitor.go)")
    return problems


def driver_problems(spec: PipelineJobSpec, task_name: str) -> List[str]:
    """Why KFP's driver fails this task before its container starts (rule 2)."""
    return _constant_value_problems(spec.tasks[task_name])


def _constant_value_problems(task: Dict[str, Any]) -> List[str]:
    problems = []
    for name, parameter in sorted(task.get("inputs", {}).get("parameters", {}).items()):
        if "constantValue" in parameter.get("runtimeValue", {}):
            problems.append(f"resolving input parameter {name}: param runtime value spec of type "
                            "*pipelinespec.ValueOrRuntimeParameter_ConstantValue not implemented"
                            " (backend/src/v2/driver: resolveInputs)")
    return problems


def incompatibilities(pipeline_spec: Dict[str, Any]) -> List[str]:
    """Rules 1 and 2 for a whole PipelineSpec: what stops it on a KFP v2 cluster before any of
    its containers runs (one line per task)."""
    problems = refused_executors(pipeline_spec)
    for name, task in sorted(pipeline_spec.get("root", {}).get("dag", {}).get("tasks", {})
                             .items()):
        found = _constant_value_problems(task)
        if found:
            problems.append(f"task {name}: KFP's driver fails {len(found)} of its parameters: "
                            f"{found[0]}")
    return problems


def kfp_executor_input(parameters: Dict[str, Any], inputs: Dict[str, List[Dict]],
                       outputs: Dict[str, Dict], output_file: str) -> Dict[str, Any]:
    """The ExecutorInput KFP's driver builds: parameterValues only; input artifacts named by
    their MLMD id with an empty instance schema; outputs with the declared type."""
    def mlmd_id(artifact):
        return artifact["name"].rsplit("/", 1)[-1]

    return {
        "inputs": {
            "parameterValues": copy.deepcopy(parameters),
            "artifacts": {key: {"artifacts": [
                {"name": mlmd_id(a), "type": {"instanceSchema": ""}, "uri": a["uri"],
                 "metadata": copy.deepcopy(a.get("metadata", {}))} for a in artifacts]}
                for key, artifacts in inputs.items()},
        },
        "outputs": {
            "artifacts": {key: {"artifacts": [{
                "name": key, "uri": artifact["uri"],
                "type": {"instanceSchema": artifact["schema"]} if artifact.get("schema")
                else {"schemaTitle": artifact["schema_title"]},
                "metadata": {}}]} for key, artifact in outputs.items()},
            "outputFile": output_file,
        },
    }


def output_uri(pipeline_root: str, task_name: str, key: str, salt: str) -> str:
    """driver.go provisionOutputs: metadata.GenerateOutputURI(root, [task, salt, key])."""
    return f"{pipeline_root.rstrip('/')}/{task_name}/{salt}/{key}"


def new_salt() -> str:
    return "%016x" % random.getrandbits(64)
