"""What the Evaluator wrote (TFMA's metrics, validation result and eval config), as plain data.

Model names: TFX's Evaluator calls the models "candidate" and "baseline" when there is a
baseline, and "" when there is none; here the model under evaluation is always CANDIDATE.
Nothing is worded here: report/wording.py and the runner's summary say it in words.
"""

import json
import os
from typing import Any, Dict, List, Optional, Tuple

from oxford_pet import breeds
from storage import files
from trainer import features

CANDIDATE, BASELINE, DIFF = "candidate", "baseline", "diff"
OVERALL = ""  # the slice id of the whole eval split
EVERY_SLICE = None  # a threshold's slices when it applies to every slice TFMA computes


def slice_name(slice_key) -> Tuple[str, str, Any]:
    """(feature, readable value, raw value) of a single-feature slice; ('', 'all', None)."""
    keys = list(slice_key.single_slice_keys)
    if not keys:
        return "", "all", None
    key = keys[0]
    raw = _key_value(key)
    if key.column == features.SPECIES_NAME_KEY:
        return "species", str(raw), raw
    if key.column == features.BREED_KEY:
        return "breed", str(raw), raw
    # Evaluations before the name features sliced on the integer labels.
    if key.column == features.SPECIES_KEY and isinstance(raw, int) and 0 <= raw < len(
            features.SPECIES_NAMES):
        return "species", features.SPECIES_NAMES[raw], raw
    if key.column == features.LABEL_KEY and isinstance(raw, int) and 0 <= raw < len(
            breeds.BREED_NAMES):
        return "breed", breeds.BREED_NAMES[raw], raw
    return key.column, str(raw), raw


def _key_value(key) -> Any:
    kind = key.WhichOneof("kind")
    raw = getattr(key, kind) if kind else None
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def slice_where(slice_key) -> str:
    """'species=0' (feature=raw value, each key), or 'overall'."""
    return ", ".join(f"{key.column}={_key_value(key)}"
                     for key in slice_key.single_slice_keys) or "overall"


def _metric_value(value) -> Any:
    if value.HasField("double_value"):
        return value.double_value.value
    if value.HasField("array_value"):
        array = value.array_value
        numbers = list(array.int64_values or array.int32_values or array.double_values
                       or array.float32_values)
        return [int(n) if isinstance(n, int) else float(n) for n in numbers]
    return None


def confusion_matrix(values: Dict[str, Any], native: bool = False) -> Optional[List[List[int]]]:
    """The 3x3 pixel confusion matrix (rows true, columns predicted) of one slice's metrics:
    from its nine cell metrics, or the array metric runs before them wrote; None without."""
    array = values.get(features.NATIVE_CONFUSION_MATRIX_NAME if native
                       else features.CONFUSION_MATRIX_NAME)
    if array:
        size = int(round(len(array) ** 0.5))
        return [list(map(int, array[row * size:(row + 1) * size])) for row in range(size)]
    names = [[features.confusion_cell_name(true, predicted, native)
              for predicted in features.CLASS_NAMES] for true in features.CLASS_NAMES]
    if any(name not in values for row in names for name in row):
        return None
    return [[int(round(values[name])) for name in row] for row in names]


def metrics(evaluation_uri: str) -> Dict[str, Dict[str, Any]]:
    """{slice id: {"feature", "name", "value", CANDIDATE: {metric: value}, BASELINE: ...,
    DIFF: ...}} for every slice TFMA wrote. Slice id OVERALL is the whole eval split; values
    are floats; each confusion matrix is also there as one row-major list (under its matrix
    name: `confusion_matrix` builds it from the nine cell metrics)."""
    import tensorflow_model_analysis as tfma

    slices: Dict[str, Dict[str, Any]] = {}
    for slice_metrics in tfma.load_metrics(evaluation_uri):
        feature, name, raw = slice_name(slice_metrics.slice_key)
        entry = slices.setdefault(f"{feature}:{raw}" if feature else OVERALL, {
            "feature": feature, "name": name, "value": raw,
            CANDIDATE: {}, BASELINE: {}, DIFF: {}})
        for key_and_value in slice_metrics.metric_keys_and_values:
            key, value = key_and_value.key, _metric_value(key_and_value.value)
            if value is None:
                continue
            model = DIFF if key.is_diff else BASELINE if key.model_name == BASELINE \
                else CANDIDATE  # "" with a single model, "candidate" beside a baseline
            entry[model][key.name] = value
    for entry in slices.values():
        for model in (CANDIDATE, BASELINE):
            for native, name in ((False, features.CONFUSION_MATRIX_NAME),
                                 (True, features.NATIVE_CONFUSION_MATRIX_NAME)):
                matrix = confusion_matrix(entry[model], native)
                if matrix and name not in entry[model]:  # one list, as earlier runs wrote it
                    entry[model][name] = [count for row in matrix for count in row]
    return slices


def overall_metrics(evaluation_uri: str, model: str = CANDIDATE) -> Dict[str, float]:
    """The scalar metrics of the whole eval split for one model ({} when it has none)."""
    overall = metrics(evaluation_uri).get(OVERALL) or {}
    return {name: value for name, value in (overall.get(model) or {}).items()
            if isinstance(value, float)}


def validation(evaluation_uri: str) -> Optional[Dict[str, Any]]:
    """TFMA's validation result: {"ok", "failures": [{"metric", "change" (a threshold on the
    difference to the baseline), "slice" (readable), "where" (feature=value), "value",
    "limit", "message"}]}; None when the Evaluator wrote none."""
    import tensorflow_model_analysis as tfma

    try:
        result = tfma.load_validation_result(evaluation_uri)
    except (OSError, IndexError, ValueError):
        return None
    failures = []
    for per_slice in result.metric_validations_per_slice:
        _, name, _ = slice_name(per_slice.slice_key)
        for failure in per_slice.failures:
            threshold, change = failure.metric_threshold, bool(failure.metric_key.is_diff)
            failures.append({
                "metric": failure.metric_key.name, "change": change, "slice": name,
                "where": slice_where(per_slice.slice_key),
                "value": failure.metric_value.double_value.value,
                "limit": (threshold.change_threshold.absolute.value if change
                          else threshold.value_threshold.lower_bound.value),
                "message": failure.message.strip()})
    return {"ok": bool(result.validation_ok), "failures": failures}


def eval_run(evaluation_uri: str) -> Dict[str, Any]:
    """What TFMA recorded beside the metrics (eval_config.json): {"thresholds" (see
    `thresholds`), "model_locations": {model name: path}}; empty when there is no record."""
    from google.protobuf import json_format
    from tensorflow_model_analysis.proto import config_pb2

    text = files.read_text(os.path.join(evaluation_uri, "eval_config.json"))
    if text is None:
        return {"thresholds": [], "model_locations": {}}
    recorded = json.loads(text)
    config = json_format.ParseDict(recorded.get("evalConfig", {}), config_pb2.EvalConfig(),
                                   ignore_unknown_fields=True)
    return {"thresholds": thresholds(config),
            "model_locations": recorded.get("modelLocations", {})}


def thresholds(eval_config) -> List[Dict[str, Any]]:
    """Every bound of every threshold of an EvalConfig: {"metric", "slices" (EVERY_SLICE, or
    the slicing specs as lists of feature keys, [] the whole split), and `bounds`' keys}."""
    found = []
    for spec in eval_config.metrics_specs:
        for metric_config in spec.metrics:
            name = metric_config.config and json.loads(metric_config.config).get("name")
            name = name or _default_metric_name(metric_config.class_name)
            scoped = [(EVERY_SLICE, metric_config.threshold)] if metric_config.HasField(
                "threshold") else []
            scoped += [(slicing_specs(per_slice.slicing_specs), per_slice.threshold)
                       for per_slice in metric_config.per_slice_thresholds]
            found += [dict(bound, metric=name, slices=slices)
                      for slices, threshold in scoped for bound in bounds(threshold)]
    return found


def slicing_specs(specs) -> List[List[str]]:
    """[[], ["species"]] for [SlicingSpec(), SlicingSpec(feature_keys=["species"])]
    (feature_values as "key=value")."""
    return [list(spec.feature_keys) + [f"{k}={v}" for k, v in spec.feature_values.items()]
            for spec in specs]


def bounds(threshold) -> List[Dict[str, Any]]:
    """Each part of a MetricThreshold: {"kind": "value" | "change", "measure" ("lower",
    "upper"; "absolute", "relative" for a change), "op": ">=" | "<=", "limit"}."""
    from tensorflow_model_analysis.proto import config_pb2

    parts = []
    if threshold.HasField("value_threshold"):
        value = threshold.value_threshold
        for measure, op in (("lower_bound", ">="), ("upper_bound", "<=")):
            if value.HasField(measure):
                parts.append({"kind": "value", "measure": measure.split("_")[0], "op": op,
                              "limit": getattr(value, measure).value})
    if threshold.HasField("change_threshold"):
        change = threshold.change_threshold
        op = ">=" if change.direction == config_pb2.MetricDirection.HIGHER_IS_BETTER else "<="
        for measure in ("absolute", "relative"):
            if change.HasField(measure):
                parts.append({"kind": "change", "measure": measure, "op": op,
                              "limit": getattr(change, measure).value})
    return parts


def _default_metric_name(class_name: str) -> str:
    from trainer import metrics as pixel_metrics

    return {pixel_metrics.PixelAccuracy.__name__: features.PIXEL_ACCURACY_NAME,
            pixel_metrics.MeanIoU.__name__: features.MEAN_IOU_NAME}.get(class_name, class_name)
