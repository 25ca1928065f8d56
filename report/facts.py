"""Gathers what a pipeline run produced into one JSON-able dict, the report's only input.

Sources, all artifacts of one run: the Evaluator's output (TFMA metrics per slice, the
validation result, the eval config with its thresholds and model locations), its blessing
(blessed, candidate and baseline model), the ExampleGen's ingest counts, the Trainer's model
(model_info.json) and training history (model_run/training_history.json), and what the
VersionedPusher pushed. What is missing is said in `notes`, never silently left out.

`from_artifacts()` takes the artifacts (the component passes its inputs), `from_pipeline_root()`
and `from_evaluation_dir()` find them in the run's ML Metadata store (the command line).
"""

import dataclasses
import datetime
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from oxford_pet import breeds
from trainer import features

SPLITS = ("train", "eval")
COUNT_KEYS = ("listed", "ingested", "repaired", "quarantined")
SCALAR_METRICS = features.GATE_METRICS  # every scalar pixel metric, at both resolutions
CANDIDATE, BASELINE = "candidate", "baseline"  # TFX Evaluator's model names with a baseline

# What every figure measures: where its pixels come from and which classes it tells apart.
MODEL_SIZE, NATIVE_SIZE = "model", "native"
RESOLUTIONS = {
    MODEL_SIZE: "the trimap resized to S×S with nearest neighbour, against the argmax of the "
                "S×S logits",
    NATIVE_SIZE: "the S×S logits resized bilinearly to the image's own height and width, then "
                 "argmax, against the original trimap (how 3-class results at the images' own "
                 "resolution are measured)",
}
THREE_CLASSES = "3 classes"  # pet, background, border (trimap values 1, 2, 3)
TWO_CLASSES = "2 classes: pet + border vs background"


def describe_metric(name: str) -> Dict[str, str]:
    """{"label", "classes", "resolution" (MODEL_SIZE or NATIVE_SIZE)} of a pixel metric."""
    resolution = NATIVE_SIZE if features.is_native_metric(name) else MODEL_SIZE
    base = name[len(features.NATIVE_PREFIX):] if name.startswith(features.NATIVE_PREFIX) \
        else name
    known = {features.FOREGROUND_IOU_NAME: ("foreground IoU", TWO_CLASSES),
             features.PIXEL_ACCURACY_NAME: ("pixel accuracy", THREE_CLASSES),
             features.MEAN_IOU_NAME: ("mean IoU", f"{THREE_CLASSES}, mean of per-class IoU"),
             features.CONFUSION_MATRIX_NAME: ("pixel confusion matrix", THREE_CLASSES)}
    for class_name in features.CLASS_NAMES:
        known[features.class_metric_name(class_name, "pixel_accuracy")] = (
            f"{class_name}: pixel accuracy", f"{class_name} vs the rest (recall)")
        known[features.class_metric_name(class_name, "iou")] = (
            f"{class_name}: IoU", f"{class_name} vs the rest")
    label, classes = known.get(base, (name, ""))
    return {"label": label, "classes": classes, "resolution": resolution}


@dataclasses.dataclass
class RunArtifacts:
    """Where one run's outputs are, and the artifact properties the report reads."""

    evaluation_uri: str
    blessing: Optional[Dict[str, Any]] = None  # custom properties of the ModelBlessing
    examples_uri: Optional[str] = None
    examples: Optional[Dict[str, Any]] = None  # custom properties of the Examples
    model_uri: Optional[str] = None  # the Trainer's Model artifact
    model_run_uri: Optional[str] = None
    pushed: Optional[Dict[str, Any]] = None  # custom properties of the PushedModel
    pipeline_name: Optional[str] = None
    run_id: Optional[str] = None


def properties(mlmd_artifact) -> Dict[str, Any]:
    """An ML Metadata artifact's custom properties as plain Python values.

    On Kubeflow V2 / Vertex AI every custom property reaches the executor as a struct holding
    one JSON value, ints as floats (TFX 1.16 kubeflow_v2_entrypoint_utils._parse_raw_artifact,
    found by `python -m deploy.emulate`): decoded, integral floats back to ints."""
    from google.protobuf import json_format

    result = {}
    for name, value in mlmd_artifact.custom_properties.items():
        kind = value.WhichOneof("value")
        if kind == "struct_value":
            decoded = json_format.MessageToDict(value.struct_value).get("__value__")
            result[name] = int(decoded) if isinstance(decoded, float) and \
                decoded.is_integer() else decoded
            continue
        result[name] = getattr(value, kind) if kind in ("int_value", "string_value",
                                                        "double_value") else str(value)
    return result


# ---- the evaluation ----

def _slice_name(slice_key) -> Tuple[str, str, Any]:
    """(feature, readable value, raw value) of a single-feature slice; ('', 'all', None)."""
    keys = list(slice_key.single_slice_keys)
    if not keys:
        return "", "all", None
    key = keys[0]
    kind = key.WhichOneof("kind")
    raw = getattr(key, kind) if kind else None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if key.column == features.SPECIES_KEY and isinstance(raw, int) and 0 <= raw < len(
            features.SPECIES_NAMES):
        return "species", features.SPECIES_NAMES[raw], raw
    if key.column == features.LABEL_KEY and isinstance(raw, int) and 0 <= raw < len(
            breeds.BREED_NAMES):
        return "breed", breeds.BREED_NAMES[raw], raw
    return key.column, str(raw), raw


def _metric_value(value) -> Any:
    if value.HasField("double_value"):
        return value.double_value.value
    if value.HasField("array_value"):
        array = value.array_value
        numbers = list(array.int64_values or array.int32_values or array.double_values
                       or array.float32_values)
        return [int(n) if isinstance(n, int) else float(n) for n in numbers]
    return None


def read_metrics(evaluation_uri: str) -> Dict[str, Dict[str, Dict[str, Any]]]:
    """{slice id: {"feature", "name", "value", "candidate": {metric: value}, "baseline": ...,
    "diff": ...}} for every slice TFMA wrote. Slice id '' is the whole eval split."""
    import tensorflow_model_analysis as tfma

    slices: Dict[str, Dict[str, Any]] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        feature, name, raw = _slice_name(slice_metrics.slice_key)
        entry = slices.setdefault(f"{feature}:{raw}" if feature else "", {
            "feature": feature, "name": name, "value": raw,
            CANDIDATE: {}, BASELINE: {}, "diff": {}})
        for key_and_value in slice_metrics.metric_keys_and_values:
            key, value = key_and_value.key, _metric_value(key_and_value.value)
            if value is None:
                continue
            if key.is_diff:
                entry["diff"][key.name] = value
            elif key.model_name == BASELINE:
                entry[BASELINE][key.name] = value
            else:  # "" with a single model, "candidate" beside a baseline
                entry[CANDIDATE][key.name] = value
    return slices


def read_eval_run(evaluation_uri: str) -> Dict[str, Any]:
    """The eval config and model locations TFMA recorded beside the metrics (eval_config.json)."""
    from google.protobuf import json_format
    from tensorflow_model_analysis.proto import config_pb2

    path = os.path.join(evaluation_uri, "eval_config.json")
    if not os.path.isfile(path):
        return {"config": None, "model_locations": {}}
    with open(path, encoding="utf-8") as handle:
        recorded = json.load(handle)
    config = json_format.ParseDict(recorded.get("evalConfig", {}), config_pb2.EvalConfig(),
                                   ignore_unknown_fields=True)
    return {"config": config, "model_locations": recorded.get("modelLocations", {})}


def _bound_text(threshold) -> List[Tuple[str, str]]:
    """(kind, readable bound) of each part of a MetricThreshold."""
    from tensorflow_model_analysis.proto import config_pb2

    parts = []
    if threshold.HasField("value_threshold"):
        value = threshold.value_threshold
        if value.HasField("lower_bound"):
            parts.append(("value", f"≥ {value.lower_bound.value:g}"))
        if value.HasField("upper_bound"):
            parts.append(("value", f"≤ {value.upper_bound.value:g}"))
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        higher = change.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER
        sign = "≥" if higher else "≤"
        if change.HasField("absolute"):
            limit = change.absolute.value
            parts.append(("change", f"candidate {sign} baseline" if abs(limit) < 1e-6 else
                          f"candidate − baseline {sign} {limit:+.4g}"))
        if change.HasField("relative"):
            parts.append(("change", f"relative change {'≥' if higher else '≤'} "
                                    f"{change.relative.value:.4g}"))
    return parts


def verdict(evaluation_uri: str, blessing: Optional[Dict[str, Any]], overall: Dict[str, Any],
            eval_run: Dict[str, Any]) -> Dict[str, Any]:
    """Blessed or not, each threshold with its value and pass/fail, and the baseline."""
    import tensorflow_model_analysis as tfma

    try:
        validation = tfma.load_validation_result(evaluation_uri)
    except (OSError, IndexError, ValueError):
        validation = None
    failures = []
    failed_on: Dict[Tuple[str, bool], List[str]] = {}
    for per_slice in (validation.metric_validations_per_slice if validation else []):
        _, slice_name, _ = _slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            is_diff = bool(failure.metric_key.is_diff)
            failed_on.setdefault((failure.metric_key.name, is_diff), []).append(slice_name)
            failures.append(f"{failure.metric_key.name}{' (change)' if is_diff else ''} on "
                            f"slice '{slice_name}': {failure.message or 'threshold not met'}")
    has_baseline = bool(overall[BASELINE])
    thresholds = []
    config = eval_run.get("config")
    for spec in (config.metrics_specs if config else []):
        for metric_config in spec.metrics:
            name = metric_config.config and json.loads(metric_config.config).get("name") or ""
            name = name or _default_metric_name(metric_config.class_name)
            scoped = [("every slice", metric_config.threshold)] if metric_config.HasField(
                "threshold") else []
            scoped += [(_slices_text(per_slice.slicing_specs), per_slice.threshold)
                       for per_slice in metric_config.per_slice_thresholds]
            for slices, threshold in scoped:
                for kind, bound in _bound_text(threshold):
                    is_change = kind == "change"
                    value = (overall["diff"] if is_change else overall[CANDIDATE]).get(name)
                    failed = sorted(set(failed_on.get((name, is_change), [])))
                    if is_change and not has_baseline:
                        passed, note = None, "not checked: no baseline model (first blessed run)"
                    elif failed:
                        passed, note = False, f"failed on: {', '.join(failed)}"
                    else:
                        passed = value is not None
                        note = "" if passed else "no value recorded"
                    thresholds.append({"metric": name, "kind": kind, "bound": bound,
                                       "slices": slices, "value": value, "passed": passed,
                                       "note": note})
    gate_metrics = sorted({threshold["metric"] for threshold in thresholds})
    blessing = blessing or {}
    blessed = blessing.get("blessed")
    baseline_uri = blessing.get("baseline_model_uri") or eval_run["model_locations"].get(
        BASELINE)
    return {
        "blessed": None if blessed is None else bool(blessed),
        "validation_ok": None if validation is None else bool(validation.validation_ok),
        "thresholds": thresholds, "failures": failures,
        # The metrics the thresholds bound (config.gate_metric), each described.
        "gate": [dict(describe_metric(name), metric=name) for name in gate_metrics],
        "candidate_uri": blessing.get("current_model_uri") or eval_run["model_locations"].get(
            CANDIDATE) or eval_run["model_locations"].get(""),
        "baseline_uri": baseline_uri if has_baseline or baseline_uri else None,
        "baseline_id": blessing.get("baseline_model_id"),
    }


def _slices_text(slicing_specs) -> str:
    """'whole eval split, each species' for [SlicingSpec(), SlicingSpec(['species'])]."""
    parts = []
    for spec in slicing_specs:
        keys = list(spec.feature_keys) + [f"{k}={v}" for k, v in spec.feature_values.items()]
        parts.append(f"each {', '.join(keys)}" if keys else "whole eval split")
    return ", ".join(parts) or "every slice"


def _default_metric_name(class_name: str) -> str:
    from trainer import metrics

    return {metrics.PixelAccuracy.__name__: features.PIXEL_ACCURACY_NAME,
            metrics.MeanIoU.__name__: features.MEAN_IOU_NAME}.get(class_name, class_name)


# ---- the rest of the run ----

def data_facts(examples: Optional[Dict[str, Any]], examples_uri: Optional[str]
               ) -> Optional[Dict[str, Any]]:
    if examples is None:
        return None
    splits = {split: {key: int(examples.get(f"{split}_{key}", 0)) for key in COUNT_KEYS}
              for split in SPLITS if f"{split}_listed" in examples}
    return {"splits": splits, "examples_uri": examples_uri,
            "ingest_report": os.path.join(examples_uri, "ingest") if examples_uri else None}


def push_facts(pushed: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if pushed is None:
        return None
    done = bool(pushed.get("pushed", 0))
    return {"pushed": done, "version": pushed.get("pushed_version") if done else None,
            "destination": pushed.get("pushed_destination") if done else None}


def read_history(model_run_uri: Optional[str]) -> Optional[Dict[str, List[float]]]:
    if not model_run_uri:
        return None
    path = os.path.join(model_run_uri, features.TRAINING_HISTORY_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def serving_model_dir(model_uri: Optional[str]) -> Optional[str]:
    if not model_uri:
        return None
    from tfx.utils import path_utils

    return path_utils.serving_model_dir(model_uri)


def gather(run: RunArtifacts, max_examples: int = 256, samples_per_group: int = 4
           ) -> Dict[str, Any]:
    """Everything the report shows, as a JSON-able dict (see render_html / render_markdown)."""
    from serving.manifest import read_model_info
    from report import samples

    notes: List[str] = []
    slices = read_metrics(run.evaluation_uri)
    if "" not in slices:
        raise ValueError(f"{run.evaluation_uri} holds no overall metrics: is it the output of "
                         "a finished Evaluator run?")
    overall = slices.pop("")
    eval_run = read_eval_run(run.evaluation_uri)
    model_dir = serving_model_dir(run.model_uri)
    if model_dir is None and eval_run["model_locations"]:
        locations = eval_run["model_locations"]
        model_dir = locations.get(CANDIDATE) or locations.get("")
    model_info = read_model_info(model_dir) if model_dir and os.path.isdir(model_dir) else {}
    history = read_history(run.model_run_uri)
    if history is None:
        notes.append("No training history: the Trainer's model_run holds no "
                     f"{features.TRAINING_HISTORY_FILE} (models trained before the report "
                     "existed, or the model run directory is unknown).")
    data = data_facts(run.examples, run.examples_uri)
    if data is None:
        notes.append("No ingest counts: the ExampleGen output of this run is unknown.")
    push = push_facts(run.pushed)
    if push is None:
        notes.append("No push record: the VersionedPusher output of this run is unknown.")
    sample_facts = samples.collect(model_dir, run.examples_uri, max_examples, samples_per_group)
    if "error" in sample_facts:
        notes.append(f"No sample predictions: {sample_facts['error']}.")
    for entry in [overall] + list(slices.values()):
        matrix = entry[CANDIDATE].get(features.CONFUSION_MATRIX_NAME)
        entry["pixels"] = int(sum(matrix)) if matrix else None
        native = entry[CANDIDATE].get(features.NATIVE_CONFUSION_MATRIX_NAME)
        entry["native_pixels"] = int(sum(native)) if native else None
        count = entry[CANDIDATE].get("example_count")  # TFMA counts every slice's examples
        entry["examples"] = int(count) if count is not None else None
    return {
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        "pipeline_name": run.pipeline_name, "run_id": run.run_id,
        "evaluation_uri": run.evaluation_uri,
        "verdict": verdict(run.evaluation_uri, run.blessing, overall, eval_run),
        "overall": overall,
        "slices": sorted(slices.values(), key=lambda s: (s["feature"], str(s["name"]))),
        "history": history, "samples": sample_facts, "data": data, "push": push,
        "model": dict(model_info, path=model_dir) if model_dir else None,
        "notes": notes,
    }


# ---- finding a run's artifacts in its metadata store ----

def from_summary(summary, pipeline_name: str) -> RunArtifacts:
    """The artifacts of a run_summary.RunSummary."""
    def output(node_id: str, key: str):
        component = summary.component(node_id)
        return component.output(key) if component else None

    evaluation = output("Evaluator", "evaluation")
    if evaluation is None:
        raise ValueError(f"run {summary.run_id} of '{pipeline_name}' has no evaluation (did "
                         "the Evaluator run? a run that stopped before it has nothing to "
                         "report)")
    blessing = output("Evaluator", "blessing")
    examples = output("OxfordPetExampleGen", "examples")
    model = output("Trainer", "model")
    model_run = output("Trainer", "model_run")
    pushed = output("VersionedPusher", "pushed_model")
    return RunArtifacts(
        evaluation_uri=evaluation.uri,
        blessing=properties(blessing) if blessing else None,
        examples_uri=examples.uri if examples else None,
        examples=properties(examples) if examples else None,
        model_uri=model.uri if model else None,
        model_run_uri=model_run.uri if model_run else None,
        pushed=properties(pushed) if pushed else None,
        pipeline_name=pipeline_name, run_id=summary.run_id)


def from_pipeline_root(pipeline_root: str, pipeline_name: str,
                       metadata_path: Optional[str] = None,
                       run_id: Optional[str] = None) -> RunArtifacts:
    """The latest (or the given) run of `pipeline_name` recorded under `pipeline_root`."""
    from pipeline import run_summary

    metadata_path = metadata_path or os.path.join(pipeline_root, "metadata.sqlite")
    if not os.path.isfile(metadata_path):
        raise ValueError(f"no metadata store at {metadata_path}: pass the pipeline root of a "
                         "run (local_runner.py's --pipeline-root, default "
                         "workdir/pipeline_root) or --metadata-path")
    summary = run_summary.summarize(metadata_path, pipeline_name, run_id)
    if summary is None:
        raise ValueError(f"{metadata_path} records no run of pipeline '{pipeline_name}': "
                         "check --pipeline-name")
    return from_summary(summary, pipeline_name)


def from_evaluation_dir(evaluation_dir: str, pipeline_name: str) -> RunArtifacts:
    """An Evaluator output directory; the rest of its run comes from the metadata store three
    levels up (<root>/Evaluator/evaluation/<id>) when there is one."""
    from pipeline import run_summary

    evaluation_dir = os.path.abspath(evaluation_dir)
    if not os.path.isdir(evaluation_dir):
        raise ValueError(f"evaluation directory {evaluation_dir} does not exist")
    metadata_path = os.path.join(evaluation_dir, "..", "..", "..", "metadata.sqlite")
    if os.path.isfile(metadata_path):
        store = run_summary.open_store(metadata_path)
        for run_id in reversed(run_summary.run_ids(store, pipeline_name)):
            summary = run_summary.summarize(metadata_path, pipeline_name, run_id)
            evaluator = summary.component("Evaluator")
            evaluation = evaluator.output("evaluation") if evaluator else None
            if evaluation is not None and os.path.abspath(evaluation.uri) == evaluation_dir:
                return from_summary(summary, pipeline_name)
    return RunArtifacts(evaluation_uri=evaluation_dir)
