"""What a pipeline run did, read back from the ML Metadata store it recorded into, and the
summary local_runner.py prints from it.

`summarize` gives a RunSummary: the run as plain data (runs/metadata.py) plus what this
pipeline's components mean (node ids from pipeline/node_ids.py): blessed, pushed, where the
evaluation is. The tests assert on it, as TFX's own e2e tests assert on the store.
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional

from pipeline import node_ids
from runs import evaluation
from runs.metadata import RunRecord, read_run


@dataclasses.dataclass
class RunSummary(RunRecord):
    """One run of this pipeline: its components by node id, and what they decided."""

    @property
    def blessed(self) -> Optional[bool]:
        blessing = self.output(node_ids.EVALUATOR, "blessing")
        return None if blessing is None else bool(blessing.properties.get("blessed", 0))

    @property
    def pushed_version(self) -> Optional[str]:
        pushed = self.output(node_ids.PUSHER, "pushed_model")
        if pushed is None or not pushed.properties.get("pushed", 0):
            return None
        return pushed.properties.get("pushed_version")

    @property
    def pushed_now(self) -> bool:
        """False when this run wrote no version: the pusher found the model already pushed by
        an earlier run, or was itself cached (its output is the earlier run's)."""
        pushed = self.output(node_ids.PUSHER, "pushed_model")
        pusher = self.components.get(node_ids.PUSHER)
        return bool(pushed and pushed.properties.get("pushed_now", 1)
                    and not (pusher and pusher.state == "CACHED"))

    @property
    def pushed_destination(self) -> Optional[str]:
        pushed = self.output(node_ids.PUSHER, "pushed_model")
        return pushed.properties.get("pushed_destination") if pushed else None

    @property
    def evaluation_uri(self) -> Optional[str]:
        evaluated = self.output(node_ids.EVALUATOR, "evaluation")
        return evaluated.uri if evaluated else None

    @property
    def span(self) -> Optional[int]:
        """The span ExampleGen read (TFX records it on the examples artifact)."""
        examples = self.output(node_ids.EXAMPLE_GEN, "examples")
        span = examples.properties.get("span") if examples else None
        return int(span) if span is not None else None

    @property
    def baseline_model_uri(self) -> Optional[str]:
        """The latest blessed model the Evaluator compared against, if there was one."""
        baseline = self.input(node_ids.EVALUATOR, "baseline_model")
        return baseline.uri if baseline else None

    @property
    def model_info(self) -> Dict[str, Any]:
        """What the Trainer recorded about its model (architecture, parameter counts, class
        weights; trainer/models.py), or {} when there is no model or no record."""
        from tfx.utils import path_utils

        from serving.manifest import read_model_info

        model = self.output(node_ids.TRAINER, "model")
        return read_model_info(path_utils.serving_model_dir(model.uri)) if model else {}


def summarize(metadata_path: str, pipeline_name: str,
              run_id: Optional[str] = None) -> Optional[RunSummary]:
    """The given run (default: the latest) of `pipeline_name`, or None if there is none."""
    record = read_run(metadata_path, pipeline_name, run_id)
    return RunSummary(record.run_id, record.components) if record else None


def metric_lines(values: Dict[str, float], gate_metric: Optional[str] = None,
                 image_size: Optional[int] = None) -> List[str]:
    """What the runner prints about quality (values: runs/evaluation.py overall_metrics): the
    eval split's figures at the model's input size and at each image's own size side by side,
    per class, the 2-class foreground IoU, and which metric gated. Empty without pixel
    metrics."""
    from report.wording import MODEL_SIZE, NATIVE_SIZE, describe_metric
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
    result = evaluation.validation(evaluation_uri)
    lines = []
    for failure in (result["failures"] if result else []):
        if failure["change"]:
            lines.append(f"{failure['metric']} ({failure['where']}): {failure['value']:+.4f} "
                         f"against the baseline, allowed {failure['limit']:+.4f} or better")
        else:
            lines.append(f"{failure['metric']} ({failure['where']}): {failure['value']:.4f}, "
                         f"below the minimum {failure['limit']:.4f}"
                         + (f" ({failure['message']})" if failure["message"] else ""))
    return lines


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
    print_data_checks(summary)
    print_retraining(summary)
    if summary.evaluation_uri:
        print(f"Evaluation: {summary.evaluation_uri}")
        print_model(summary.model_info)
        values = evaluation.overall_metrics(summary.evaluation_uri)
        for line in metric_lines(values, config.gate_metric, config.trainer.image_size):
            print(line)
    if summary.pushed_version and not summary.pushed_now:
        print(f"Nothing pushed: this model already is version {summary.pushed_version} "
              f"({summary.pushed_destination}), pushed by an earlier run")
    elif summary.pushed_version:
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
    examples = summary.output(node_ids.EXAMPLE_GEN, "examples")
    if examples is None:
        return
    for split in ("train", "eval"):
        count = lambda key: int(examples.properties.get(f"{split}_{key}", 0))  # noqa: E731
        print(f"Data {split}: {count('listed')} listed = {count('ingested')} ingested "
              f"({count('repaired')} repaired) + {count('quarantined')} quarantined"
              + (f"; {count('constant')} nearly constant images: check them (outcomes.jsonl "
                 "notes)" if count("constant") else ""))
    print(f"  ingest report and quarantine list: {examples.uri}/ingest/")


def data_check_lines(checks: Dict[str, Any]) -> List[str]:
    """The measured features' medians per split (and of the drift baseline), and what the data
    gate found and did."""
    from oxford_pet import measures

    names = ["train", "eval"] + (["baseline"] if (checks.get("baseline") or {}).get("train")
                                  else [])
    found = {**checks["splits"], "baseline": (checks.get("baseline") or {}).get("train", {})}
    shown = []
    for measure in measures.MEASURES:
        medians = [found[name].get(measure.key, {}).get("median") for name in names]
        if all(value is not None for value in medians):
            shown.append(f"{measure.words} " + " / ".join(
                measures.say(measure.key, value) for value in medians))
    findings = checks.get("findings") or []
    baseline = checks.get("baseline")
    verdict = (f"{len(findings)} finding{'s' * (len(findings) != 1)} (below)" if findings else
               "no skew between train and eval" + (
                   f", no drift from span {baseline['span']} (version {baseline['version']})"
                   if baseline else ""))
    lines = [f"Data checks: {verdict}; measured ({' / '.join(names)} medians): "
             + "; ".join(shown)]
    for finding in findings:
        lines.append(f"  data check, {finding.get('decision', 'found')}: {finding['sentence']}")
    if checks.get("drift_note"):
        lines.append(f"  data checks: {checks['drift_note']}")
    return lines


def print_data_checks(summary: RunSummary) -> None:
    checks = summary.output(node_ids.ANOMALIES_GATE, "checks")
    if checks is None:
        return
    import json

    from oxford_pet import measures
    from storage import files

    text = files.read_text(os.path.join(checks.uri, measures.CHECKS_FILE))
    if text:
        for line in data_check_lines(json.loads(text)):
            print(line)


def print_retraining(summary: RunSummary) -> None:
    """Which span was read, what the Trainer started from, what the Evaluator compared with."""
    span = "" if summary.span is None else f"Span: {summary.span}; "
    print(f"{span}Baseline: {summary.baseline_model_uri or 'none (no earlier blessed model)'}")
    started = summary.model_info.get("warm_start")
    if started:
        print(f"Warm start from {started['base_model']}: "
              f"{'loaded' if started['loaded'] else started.get('reason')}, "
              f"{summary.model_info.get('epochs')} epochs")


def print_report(summary: RunSummary) -> None:
    """Where the EvaluationReport component wrote this run's report."""
    report = summary.output(node_ids.REPORT, "report")
    if report is not None:
        print(f"Report: {os.path.join(report.uri, 'report.html')} "
              f"(summary: report.md beside it)")
