"""How the report (and the runner's summary) say in words what the facts hold as data: what a
metric measures, a threshold's bound and the slices it checks, why a threshold passed or not,
what is missing from a run. One wording, shared by render_html.py, render_markdown.py,
`python -m report` and pipeline/run_summary.py."""

from typing import Any, Dict, List, Optional

from trainer import features

# Where a figure's pixels come from.
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
_SIGNS = {">=": "≥", "<=": "≤"}


def validation_text(model: Optional[Dict[str, Any]]) -> str:
    """What the Trainer validated on, from model_info.json's `validation` (models trained
    before it was recorded validated the whole eval split after each epoch)."""
    validation = (model or {}).get("validation") or {}
    examples, epochs = validation.get("every_nth_example", 1), validation.get("every_nth_epoch", 1)
    where = "the eval split" if examples == 1 else f"one eval example in {examples}"
    when = "after each epoch" if epochs == 1 else f"after every {epochs} epochs and the last"
    return f"{where}, {when}"


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


def bound_text(threshold: Dict[str, Any]) -> str:
    """'≥ 0.8', 'candidate ≥ baseline', 'candidate − baseline ≥ -0.01', 'relative change ≥
    0.1' for a bound of runs/evaluation.py `bounds`."""
    sign, limit = _SIGNS[threshold["op"]], threshold["limit"]
    if threshold["kind"] == "value":
        return f"{sign} {limit:g}"
    if threshold["measure"] == "relative":
        return f"relative change {sign} {limit:.4g}"
    return (f"candidate {sign} baseline" if abs(limit) < 1e-6 else
            f"candidate − baseline {sign} {limit:+.4g}")


def slices_text(slices: Optional[List[List[str]]]) -> str:
    """'whole eval split, each species' for [[], ["species_name"]] (or the integer
    ["species"] of earlier runs); 'every slice' for None."""
    readable = {"species_name": "species", "label": "breed"}
    parts = [f"each {', '.join(readable.get(key, key) for key in keys)}" if keys
             else "whole eval split" for keys in (slices or [])]
    return ", ".join(parts) or "every slice"


def threshold_note(threshold: Dict[str, Any]) -> str:
    """Why a threshold of the verdict was not checked or failed ('' when it passed)."""
    if threshold["passed"] is None:
        return "not checked: no baseline model (first blessed run)"
    if threshold["failed_on"]:
        return f"failed on: {', '.join(threshold['failed_on'])}"
    return "" if threshold["passed"] else "no value recorded"


def failure_text(failure: Dict[str, Any]) -> str:
    """One of TFMA's validation failures (runs/evaluation.py `validation`)."""
    return (f"{failure['metric']}{' (change)' if failure['change'] else ''} on slice "
            f"'{failure['slice']}': {failure['message'] or 'threshold not met'}")


def missing_text(what: str, facts: Dict[str, Any]) -> str:
    """What a report lacks (facts["missing"]), and why."""
    if what == "history":
        return ("No training history: the Trainer's model_run holds no "
                f"{features.TRAINING_HISTORY_FILE} (models trained before the report existed, "
                "or the model run directory is unknown).")
    if what == "samples":
        return f"No sample predictions: {(facts.get('samples') or {}).get('error')}."
    return {"data": "No ingest counts: the ExampleGen output of this run is unknown.",
            "push": "No push record: the VersionedPusher output of this run is unknown."}[what]


def notes(facts: Dict[str, Any]) -> List[str]:
    """A sentence per missing part of the report."""
    return [missing_text(what, facts) for what in facts.get("missing") or []]
