"""A pipeline run as its ML Metadata store recorded it, as plain data: each component's state,
seconds, and input and output artifacts (uri and properties as Python values).

Which component is which is the pipeline's business (pipeline/node_ids.py); this module reads
any TFX pipeline's store. Opened read-only: a finished run, or one under way.
"""

import dataclasses
from typing import Any, Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

PIPELINE_RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
_STATES = metadata_store_pb2.Execution.State
_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT, metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT, metadata_store_pb2.Event.DECLARED_INPUT)


@dataclasses.dataclass
class Artifact:
    uri: str
    properties: Dict[str, Any] = dataclasses.field(default_factory=dict)  # see properties()


@dataclasses.dataclass
class ComponentRun:
    node_id: str
    state: str  # COMPLETE, CACHED, FAILED, RUNNING...
    seconds: float
    outputs: Dict[str, List[Artifact]]
    inputs: Dict[str, List[Artifact]] = dataclasses.field(default_factory=dict)

    def input(self, key: str) -> Optional[Artifact]:
        artifacts = self.inputs.get(key) or []
        return artifacts[-1] if artifacts else None

    def output(self, key: str) -> Optional[Artifact]:
        artifacts = self.outputs.get(key) or []
        return artifacts[-1] if artifacts else None


@dataclasses.dataclass
class RunRecord:
    run_id: str
    components: Dict[str, ComponentRun]  # by node id, in the order they started

    def component(self, node_id: str) -> Optional[ComponentRun]:
        return self.components.get(node_id)

    def output(self, node_id: str, key: str) -> Optional[Artifact]:
        """The artifact `node_id` wrote under `key`, or None (the node or output is missing)."""
        component = self.component(node_id)
        return component.output(key) if component else None

    def input(self, node_id: str, key: str) -> Optional[Artifact]:
        component = self.component(node_id)
        return component.input(key) if component else None


def properties(mlmd_artifact) -> Dict[str, Any]:
    """An ML Metadata artifact's properties and custom properties as plain Python values.

    On Kubeflow V2 / Vertex AI every custom property reaches the executor as a struct holding
    one JSON value, ints as floats (TFX 1.16 kubeflow_v2_entrypoint_utils._parse_raw_artifact,
    found by `python -m deploy.emulate`): decoded, integral floats back to ints. A declared
    property (an Examples' `span`) wins over a custom one of the same name.
    """
    from google.protobuf import json_format

    result = {}
    for values in (mlmd_artifact.custom_properties, mlmd_artifact.properties):
        for name, value in values.items():
            kind = value.WhichOneof("value")
            if kind == "struct_value":
                decoded = json_format.MessageToDict(value.struct_value).get("__value__")
                result[name] = int(decoded) if isinstance(decoded, float) and \
                    decoded.is_integer() else decoded
            else:
                result[name] = getattr(value, kind) if kind in (
                    "int_value", "string_value", "double_value") else str(value)
    return result


def open_store(metadata_path: str) -> metadata_store.MetadataStore:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
    return metadata_store.MetadataStore(config)


def run_ids(store: metadata_store.MetadataStore, pipeline_name: str) -> List[str]:
    """Run ids of the pipeline, oldest first."""
    runs = [context for context in store.get_contexts_by_type(PIPELINE_RUN_CONTEXT)
            if _belongs_to(store, context, pipeline_name)]
    return [context.name for context in sorted(runs, key=lambda c: c.create_time_since_epoch)]


def _belongs_to(store, run_context, pipeline_name: str) -> bool:
    parents = store.get_parent_contexts_by_context(run_context.id)
    return any(parent.name == pipeline_name for parent in parents) or not parents


def read_run(metadata_path: str, pipeline_name: str,
             run_id: Optional[str] = None) -> Optional[RunRecord]:
    """The given run (default: the latest) of `pipeline_name`, or None if there is none."""
    store = open_store(metadata_path)
    ids = run_ids(store, pipeline_name)
    if not ids:
        return None
    run_id = run_id or ids[-1]
    run_context = store.get_context_by_type_and_name(PIPELINE_RUN_CONTEXT, run_id)
    components: Dict[str, ComponentRun] = {}
    for execution in sorted(store.get_executions_by_context(run_context.id),
                            key=lambda e: e.create_time_since_epoch):
        node_id = _node_id(store, execution, pipeline_name)
        components[node_id] = _component_run(store, execution, node_id)
    return RunRecord(run_id=run_id, components=components)


def _component_run(store, execution, node_id: str) -> ComponentRun:
    events = store.get_events_by_execution_ids([execution.id])
    artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    outputs: Dict[str, List[Artifact]] = {}
    inputs: Dict[str, List[Artifact]] = {}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        side = outputs if event.type in _OUTPUT_EVENTS else (
            inputs if event.type in _INPUT_EVENTS else None)
        if side is not None:
            artifact = artifacts[event.artifact_id]
            side.setdefault(key, []).append(Artifact(artifact.uri, properties(artifact)))
    seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3
    return ComponentRun(node_id=node_id, state=_STATES.Name(execution.last_known_state),
                        seconds=seconds, outputs=outputs, inputs=inputs)


def _node_id(store, execution, pipeline_name: str) -> str:
    for context in store.get_contexts_by_execution(execution.id):
        if context.type_id == store.get_context_type(NODE_CONTEXT).id:
            return context.name[len(pipeline_name) + 1:] if context.name.startswith(
                pipeline_name + ".") else context.name
    return execution.name or str(execution.id)
