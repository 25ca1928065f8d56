"""What a pipeline run did, read back from the ML Metadata store it recorded into.

Used by local_runner.py to say what was pushed (or why not) and where the evaluation is
(`print_summary`), and by the tests to assert on what every component recorded (as TFX's own
e2e tests do).
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

PIPELINE_RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
_STATES = metadata_store_pb2.Execution.State


@dataclasses.dataclass
class ComponentRun:
    node_id: str
    state: str  # COMPLETE, CACHED, FAILED, RUNNING...
    seconds: float
    outputs: Dict[str, List[metadata_store_pb2.Artifact]]
    inputs: Dict[str, List[metadata_store_pb2.Artifact]] = dataclasses.field(
        default_factory=dict)

    def input(self, key: str) -> Optional[metadata_store_pb2.Artifact]:
        artifacts = self.inputs.get(key) or []
        return artifacts[-1] if artifacts else None

    def output(self, key: str) -> Optional[metadata_store_pb2.Artifact]:
        artifacts = self.outputs.get(key) or []
        return artifacts[-1] if artifacts else None


@dataclasses.dataclass
class RunSummary:
    run_id: str
    components: Dict[str, ComponentRun]

    def component(self, node_id: str) -> Optional[ComponentRun]:
        return self.components.get(node_id)

    @property
    def blessed(self) -> Optional[bool]:
        evaluator = self.component("Evaluator")
        blessing = evaluator.output("blessing") if evaluator else None
        return None if blessing is None else bool(int_property(blessing, "blessed"))

    @property
    def pushed_version(self) -> Optional[str]:
        pusher = self.component("VersionedPusher")
        pushed = pusher.output("pushed_model") if pusher else None
        if pushed is None or not int_property(pushed, "pushed"):
            return None
        return string_property(pushed, "pushed_version")

    @property
    def pushed_destination(self) -> Optional[str]:
        pusher = self.component("VersionedPusher")
        pushed = pusher.output("pushed_model") if pusher else None
        return string_property(pushed, "pushed_destination") if pushed else None

    @property
    def evaluation_uri(self) -> Optional[str]:
        evaluator = self.component("Evaluator")
        evaluation = evaluator.output("evaluation") if evaluator else None
        return evaluation.uri if evaluation else None

    @property
    def span(self) -> Optional[int]:
        """The span ExampleGen read (TFX records it on the examples artifact)."""
        example_gen = self.component("OxfordPetExampleGen")
        examples = example_gen.output("examples") if example_gen else None
        if examples is None:
            return None
        value = examples.properties.get("span") or examples.custom_properties.get("span")
        return int(value.int_value) if value is not None else None

    @property
    def baseline_model_uri(self) -> Optional[str]:
        """The latest blessed model the Evaluator compared against, if there was one."""
        evaluator = self.component("Evaluator")
        baseline = evaluator.input("baseline_model") if evaluator else None
        return baseline.uri if baseline else None

    @property
    def model_info(self) -> Dict[str, Any]:
        """What the Trainer recorded about its model (architecture, parameter counts, class
        weights; trainer/models.py), or {} when there is no model or no record."""
        from tfx.utils import path_utils

        from components.model_versions import read_model_info

        trainer = self.component("Trainer")
        model = trainer.output("model") if trainer else None
        return read_model_info(path_utils.serving_model_dir(model.uri)) if model else {}


def int_property(artifact: metadata_store_pb2.Artifact, name: str) -> int:
    value = artifact.custom_properties.get(name)
    return int(value.int_value) if value is not None else 0


def string_property(artifact: metadata_store_pb2.Artifact, name: str) -> Optional[str]:
    value = artifact.custom_properties.get(name)
    return value.string_value if value is not None else None


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


def summarize(metadata_path: str, pipeline_name: str,
              run_id: Optional[str] = None) -> Optional[RunSummary]:
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
        outputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
        inputs: Dict[str, List[metadata_store_pb2.Artifact]] = {}
        events = store.get_events_by_execution_ids([execution.id])
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        for event in events:
            key = event.path.steps[0].key if event.path.steps else ""
            if event.type in (metadata_store_pb2.Event.OUTPUT,
                              metadata_store_pb2.Event.DECLARED_OUTPUT):
                outputs.setdefault(key, []).append(artifacts[event.artifact_id])
            elif event.type in (metadata_store_pb2.Event.INPUT,
                                metadata_store_pb2.Event.DECLARED_INPUT):
                inputs.setdefault(key, []).append(artifacts[event.artifact_id])
        seconds = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1e3
        components[node_id] = ComponentRun(
            node_id=node_id, state=_STATES.Name(execution.last_known_state),
            seconds=seconds, outputs=outputs, inputs=inputs)
    return RunSummary(run_id=run_id, components=components)


def _node_id(store, execution, pipeline_name: str) -> str:
    for context in store.get_contexts_by_execution(execution.id):
        if context.type_id == store.get_context_type(NODE_CONTEXT).id:
            return context.name[len(pipeline_name) + 1:] if context.name.startswith(
                pipeline_name + ".") else context.name
    return execution.name or str(execution.id)


def overall_metrics(evaluation_uri: str, model_name: str = "") -> Dict[str, float]:
    """Scalar metrics of the overall slice for the candidate model, from the Evaluator output."""
    import tensorflow_model_analysis as tfma

    result: Dict[str, float] = {}
    wanted = {model_name} if model_name else {"", "candidate"}  # "candidate" beside a baseline
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        if slice_metrics.slice_key.single_slice_keys:
            continue
        for key_and_value in slice_metrics.metric_keys_and_values:
            key = key_and_value.key
            if key.model_name not in wanted or key.is_diff:
                continue
            value = key_and_value.value
            if value.HasField("double_value"):
                result[key.name] = value.double_value.value
    return result


def metric_lines(values: Dict[str, float], gate_metric: Optional[str] = None,
                 image_size: Optional[int] = None) -> List[str]:
    """What the runner prints about quality (values from `overall_metrics`): the eval split's
    figures at the model's input size and at each image's own size side by side, per class,
    the 2-class foreground IoU, and which metric gated. Empty without pixel metrics."""
    from report.facts import MODEL_SIZE, NATIVE_SIZE, describe_metric
    from trainer import features

    if features.PIXEL_ACCURACY_NAME not in values:
        return []

    def shown(name: Optional[str]) -> str:
        value = values.get(name) if name else None
        return f"{'–':^6}" if value is None else f"{value:.4f}"

    model_size = f"model input {image_size}x{image_size}" if image_size else "model input"
    lines = [f"  {'eval split':<26} {model_size:<20} own size (each image's height x width)"]
    rows = [("pixel accuracy", features.PIXEL_ACCURACY_NAME),
            ("mean IoU", features.MEAN_IOU_NAME)] + [
        (f"{name} {'IoU' if kind == 'iou' else 'pixel accuracy'}",
         features.class_metric_name(name, kind))
        for name in features.CLASS_NAMES for kind in features.CLASS_METRIC_KINDS]
    for label, name in rows:
        lines.append(f"  {label:<26} {shown(name):<20} {shown(features.NATIVE_PREFIX + name)}")
    lines.append(f"  {'foreground IoU':<26} {shown(None):<20} "
                 f"{shown(features.FOREGROUND_IOU_NAME)}  (pet + border vs background)")
    if gate_metric:
        described = describe_metric(gate_metric)
        where = "each image's own size" if described["resolution"] == NATIVE_SIZE else (
            model_size if described["resolution"] == MODEL_SIZE else "")
        lines.append(f"  gate: {gate_metric} ({described['label']} at {where}, "
                     f"{described['classes']})")
    return lines


def validation_failures(evaluation_uri: str) -> List[str]:
    """Why the Evaluator did not bless the model: one line per failed threshold (empty when it
    passed, or when there is no validation result)."""
    import tensorflow_model_analysis as tfma

    try:
        result = tfma.load_validation_result(evaluation_uri)
    except (FileNotFoundError, IOError):
        return []
    lines = []
    for per_slice in result.metric_validations_per_slice:
        keys = per_slice.slice_key.single_slice_keys
        where = ", ".join(f"{k.column}={_slice_value(k)}" for k in keys) or "overall"
        for failure in per_slice.failures:
            key, threshold = failure.metric_key, failure.metric_threshold
            value = failure.metric_value.double_value.value
            if key.is_diff:
                bound = threshold.change_threshold.absolute.value
                lines.append(f"{key.name} ({where}): {value:+.4f} against the baseline, "
                             f"allowed {bound:+.4f} or better")
            else:
                bound = threshold.value_threshold.lower_bound.value
                lines.append(f"{key.name} ({where}): {value:.4f}, below the minimum {bound:.4f}"
                             + (f" ({failure.message.strip()})" if failure.message else ""))
    return lines


def _slice_value(key) -> str:
    kind = key.WhichOneof("kind")
    value = getattr(key, kind) if kind else ""
    return value.decode() if isinstance(value, bytes) else str(value)


# ---- the run's summary, as local_runner.py prints it -------------------------------------------

def print_summary(config, seconds: float) -> RunSummary:
    """What the latest run of `config`'s pipeline did: components run and cached, the data,
    the model and its evaluation, what was pushed (or why not), where the report is. (Each
    component's seconds are on its end line above; the log has the rest.)"""
    summary = summarize(config.metadata_path, config.pipeline_name)
    states = [run.state for run in summary.components.values()]
    print(f"\nPipeline '{config.pipeline_name}' finished in {seconds:.0f} s (run "
          f"{summary.run_id}): {len(states)} components, {states.count('COMPLETE')} run, "
          f"{states.count('CACHED')} cached")
    print_ingest(summary)
    print_retraining(summary)
    if summary.evaluation_uri:
        print(f"Evaluation: {summary.evaluation_uri}")
        print_model(summary.model_info)
        for line in metric_lines(overall_metrics(summary.evaluation_uri), config.gate_metric,
                                 config.trainer.image_size):
            print(line)
    if summary.pushed_version:
        print(f"Pushed version {summary.pushed_version} to {summary.pushed_destination}")
    elif summary.blessed is False:
        print(f"Not pushed: the evaluation did not bless the model ({config.gate_metric} below "
              f"{config.min_pixel_accuracy} or worse than the latest blessed model's); see the "
              "validation result in the evaluation directory.")
        for line in validation_failures(summary.evaluation_uri):
            print(f"  failed: {line}")
    else:
        print("Not pushed.")
    print_report(summary)
    return summary


def print_model(info: Dict[str, Any]) -> None:
    """The Trainer's record of its model (trainer/models.py model_info), if there is one."""
    if not info:
        return
    weights = info.get("class_weights")
    shown = ", ".join(f"{w:.3g}" for w in weights) if weights else "none"
    print(f"  model {info.get('architecture')}: {info.get('parameters', 0):,} parameters "
          f"({info.get('trainable_parameters', 0):,} trainable), class weights {shown}")


def print_ingest(summary: RunSummary) -> None:
    """Per split: listed = ingested (repaired) + quarantined, as ExampleGen recorded it."""
    example_gen = summary.component("OxfordPetExampleGen")
    examples = example_gen.output("examples") if example_gen else None
    if examples is None:
        return
    for split in ("train", "eval"):
        count = lambda key: int_property(examples, f"{split}_{key}")  # noqa: E731
        print(f"Data {split}: {count('listed')} listed = {count('ingested')} ingested "
              f"({count('repaired')} repaired) + {count('quarantined')} quarantined")
    print(f"  ingest report and quarantine list: {examples.uri}/ingest/")


def print_retraining(summary: RunSummary) -> None:
    """Which span was read, what the Trainer started from, what the Evaluator compared with."""
    if summary.span is not None:
        print(f"Span: {summary.span}")
    started = summary.model_info.get("warm_start")
    if started:
        print(f"Warm start from {started['base_model']}: "
              f"{'loaded' if started['loaded'] else started.get('reason')}, "
              f"{summary.model_info.get('epochs')} epochs")
    print(f"Baseline: {summary.baseline_model_uri or 'none (no blessed model yet)'}")


def print_report(summary: RunSummary) -> None:
    """Where the EvaluationReport component wrote this run's report."""
    component = summary.component("EvaluationReport")
    report = component.output("report") if component else None
    if report is not None:
        print(f"Report: {os.path.join(report.uri, 'report.html')} "
              f"(summary: report.md beside it)")
