"""The compiled PipelineJob (kubeflow_v2_runner.py output), read as Vertex AI reads it.

The file is a KFP v2 `PipelineJob` (kfp pipeline_spec.proto, api/v2alpha1 in kubeflow/pipelines):
`pipelineSpec.root.dag.tasks` (the tasks and their inputs), `components` (each task's input and
output definitions and executor label), `deploymentSpec.executors` (a container, or a resolver
with `outputArtifactQueries`), and `runtimeConfig` (the pipeline root). Only what the emulator
can run faithfully is accepted; anything else is refused by name (sub-DAGs, loops, conditions,
importers, Google Cloud custom-job executors).
"""

import json
import os
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import yaml


class SpecError(ValueError):
    """The file is not a PipelineJob this emulator can run; the message says what and where."""


def schema_title(artifact_type: Dict[str, Any]) -> str:
    """The schema title of an ArtifactTypeSchema: `schemaTitle`, or the `title` of the YAML
    `instanceSchema` (TFX writes the latter; both are what Vertex registers)."""
    if "schemaTitle" in artifact_type:
        return artifact_type["schemaTitle"]
    schema = yaml.safe_load(artifact_type.get("instanceSchema") or "") or {}
    return schema.get("title", "") if isinstance(schema, dict) else ""


class PipelineJobSpec:
    """One PipelineJob file."""

    def __init__(self, job: Dict[str, Any], path: str = "<template>"):
        self.path = path
        if "pipelineSpec" not in job:
            raise SpecError(f"{path} is not a KFP v2 PipelineJob (no 'pipelineSpec'): compile it "
                            "with kubeflow_v2_runner.py --output x.json")
        self.job = job
        self.spec = job["pipelineSpec"]
        self.runtime_config = job.get("runtimeConfig", {})
        try:
            self.tasks: Dict[str, Dict[str, Any]] = self.spec["root"]["dag"]["tasks"]
            self.components: Dict[str, Dict[str, Any]] = self.spec["components"]
            self.executors: Dict[str, Dict[str, Any]] = self.spec["deploymentSpec"]["executors"]
        except KeyError as error:
            raise SpecError(f"{path}: pipelineSpec has no {error}") from None
        self._check_supported()

    @property
    def pipeline_name(self) -> str:
        return self.spec.get("pipelineInfo", {}).get("name", "")

    @property
    def display_name(self) -> str:
        return self.job.get("displayName") or self.pipeline_name

    @property
    def pipeline_root(self) -> str:
        return self.runtime_config.get("gcsOutputDirectory", "")

    def component(self, task_name: str) -> Dict[str, Any]:
        return self.components[self.tasks[task_name]["componentRef"]["name"]]

    def executor(self, task_name: str) -> Dict[str, Any]:
        return self.executors[self.component(task_name)["executorLabel"]]

    def kind(self, task_name: str) -> str:
        """'container' or 'resolver'."""
        executor = self.executor(task_name)
        return "container" if "container" in executor else "resolver"

    def dependencies(self, task_name: str) -> Set[str]:
        """Tasks that must finish first: dependentTasks, and every producer of an input."""
        task = self.tasks[task_name]
        found = set(task.get("dependentTasks", []))
        inputs = task.get("inputs", {})
        for spec in inputs.get("artifacts", {}).values():
            producer = spec.get("taskOutputArtifact", {}).get("producerTask")
            if producer:
                found.add(producer)
        for spec in inputs.get("parameters", {}).values():
            producer = spec.get("taskOutputParameter", {}).get("producerTask")
            if producer:
                found.add(producer)
        return found

    def order(self) -> List[str]:
        """Every task after its dependencies (a cycle is an error naming its tasks)."""
        done: List[str] = []
        pending = sorted(self.tasks)
        while pending:
            ready = [name for name in pending if self.dependencies(name) <= set(done)]
            if not ready:
                raise SpecError(f"{self.path}: the tasks {', '.join(pending)} wait on each other")
            done.extend(ready)
            pending = [name for name in pending if name not in ready]
        return done

    def artifact_types(self) -> Iterator[Tuple[str, str]]:
        """(where, schema title) of every artifact type the job declares."""
        for name, component in sorted(self.components.items()):
            for side in ("inputDefinitions", "outputDefinitions"):
                for key, spec in sorted(component.get(side, {}).get("artifacts", {}).items()):
                    yield (f"component {name} {side[:-len('Definitions')]} {key!r}",
                           schema_title(spec.get("artifactType", {})))

    def images(self) -> Set[str]:
        return {executor["container"].get("image", "") for executor in self.executors.values()
                if "container" in executor}

    def _check_supported(self) -> None:
        for name, task in self.tasks.items():
            where = f"{self.path}: task {name}"
            if "componentRef" not in task or task["componentRef"].get("name") not in \
                    self.components:
                raise SpecError(f"{where} names no component")
            component = self.components[task["componentRef"]["name"]]
            if "dag" in component:
                raise SpecError(f"{where} is a sub-DAG, which this emulator does not run")
            for feature in ("parameterIterator", "artifactIterator", "iterator"):
                if feature in task:
                    raise SpecError(f"{where} uses {feature} (a loop): not emulated")
            if task.get("triggerPolicy", {}).get("condition"):
                raise SpecError(f"{where} has a trigger condition: not emulated")
            executor = self.executors.get(component.get("executorLabel", ""))
            if executor is None:
                raise SpecError(f"{where}: no executor {component.get('executorLabel')!r}")
            if not ({"container", "resolver"} & set(executor)):
                raise SpecError(f"{where}: executor kind {sorted(executor)} is not emulated "
                                "(containers and resolvers are)")


def load(path: str) -> PipelineJobSpec:
    """The PipelineJob at `path` (JSON, as kubeflow_v2_runner.py writes it)."""
    if not os.path.isfile(path):
        raise SpecError(f"pipeline template {path} not found: compile it first with "
                        f"`python kubeflow_v2_runner.py ... --output {path}`")
    try:
        with open(path) as handle:
            job = json.load(handle)
    except json.JSONDecodeError as error:
        raise SpecError(f"{path} is not JSON ({error}); Vertex AI takes the .json PipelineJob "
                        "kubeflow_v2_runner.py writes") from None
    return PipelineJobSpec(job, path)


def parameter_value(spec: Dict[str, Any]) -> Optional[Any]:
    """The constant of a task input parameter (`runtimeValue.constantValue` as TFX writes it,
    or the newer `runtimeValue.constant`), as a plain value; None if it has none."""
    runtime = spec.get("runtimeValue", {})
    if "constantValue" in runtime:
        value = runtime["constantValue"]
        if "intValue" in value:
            return int(value["intValue"])
        if "doubleValue" in value:
            return float(value["doubleValue"])
        return value.get("stringValue", "")
    if "constant" in runtime:
        return runtime["constant"]
    return None
