"""AnomaliesGate: the data gate before Transform and Trainer.

ExampleValidator records anomalies but lets the pipeline go on; this component reads them and
fails, naming each split, feature and problem, so no model is trained on data that does not
match the curated schema in schema/. Then it compares what ingest measured of the images
(components/data_checks.py): eval against train (skew), and, with spans, this span's train
split against the data the serving model was trained on (drift; its statistics are named in
its push manifest). A difference stops the run or is a warning, as DataCheckSettings says;
either way it is written as TFDV anomalies (`checks`: Split-skew, Split-drift) and a summary
the report and the runner read (`checks/data_checks.json`).
"""

import json
import os
from typing import Any, Dict, List, Optional

from tfx.dsl.component.experimental.annotations import (InputArtifact, OutputArtifact,
                                                        Parameter)
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies, ExampleStatistics, Examples
from tfx.utils import io_utils
from tensorflow_metadata.proto.v0 import anomalies_pb2

from components import data_checks
from oxford_pet import measures
from runs.metadata import properties
from serving.manifest import read_manifest
from serving.versions import existing_versions
from storage import files

ANOMALIES_FILE = "SchemaDiff.pb"
CHECKS_FILE = measures.CHECKS_FILE
CHECK_SPLITS = ("skew", "drift")


class DataAnomaliesError(RuntimeError):
    """The examples do not match the schema; the message lists every anomaly."""


def describe_anomalies(split: str, anomalies: anomalies_pb2.Anomalies) -> List[str]:
    """One line per anomalous feature: split, feature, short and long description."""
    lines = []
    for feature, info in sorted(anomalies.anomaly_info.items()):
        reasons = "; ".join(f"{reason.short_description}: {reason.description}"
                            for reason in info.reason) or info.description
        lines.append(f"split '{split}', feature '{feature}': {reasons}")
    if anomalies.HasField("dataset_anomaly_info"):
        reasons = "; ".join(reason.description for reason in anomalies.dataset_anomaly_info.reason)
        lines.append(f"split '{split}', whole dataset: {reasons}")
    return lines


def check_anomalies(anomalies_uri: str, split_names: List[str]) -> None:
    problems = []
    for split in split_names:
        path = os.path.join(anomalies_uri, f"Split-{split}", ANOMALIES_FILE)
        anomalies = anomalies_pb2.Anomalies()
        anomalies.ParseFromString(io_utils.read_bytes_file(path))
        problems.extend(describe_anomalies(split, anomalies))
    if problems:
        raise DataAnomaliesError(
            "the examples do not match the schema in schema/ (ExampleValidator output "
            f"{anomalies_uri}):\n  " + "\n  ".join(problems) +
            "\nFix the data (or, if the data is right, the schema) and rerun.")


class DataDriftError(RuntimeError):
    """The data moved (between spans, or between train and eval) past a threshold the settings
    stop on; the message says where, by how much, and what to do."""


def load_statistics(statistics_uri: str, split: str):
    import tensorflow_data_validation as tfdv

    return tfdv.load_stats_binary(os.path.join(statistics_uri, f"Split-{split}",
                                               data_checks.STATISTICS_FILE))


def baseline(model_dir: str) -> Optional[Dict[str, Any]]:
    """The serving model's data: {"version", "span", "statistics"} from the newest pushed
    version's manifest that names its statistics (older pushes did not), or None."""
    if not model_dir or not files.isdir(model_dir):
        return None
    for version in reversed(existing_versions(model_dir)):
        data = read_manifest(model_dir, version).get("data") or {}
        if data.get("statistics"):
            return {"version": version, "span": data.get("span"),
                    "statistics": data["statistics"]}
    return None


def _summaries(statistics) -> Dict[str, Any]:
    return {name: data_checks.summary(statistics, name) for name in measures.BY_KEY}


def run_checks(statistics_uri: str, span: Optional[int], model_dir: str,
               compare_spans: bool, settings: data_checks.DataCheckSettings,
               checks_uri: str) -> Dict[str, Any]:
    """Compares, writes the TFDV anomalies and the summary into `checks_uri`, and returns the
    summary; the caller decides (decide())."""
    train, evaluation = (load_statistics(statistics_uri, split) for split in ("train", "eval"))
    here = f"span {span}" if span is not None else "this run"
    found = {"skew": data_checks.compare(evaluation, train, data_checks.Comparison.SKEW,
                                         settings, ("eval", "train")), "drift": []}
    previous = baseline(model_dir) if compare_spans else None
    summary = {"splits": {"train": _summaries(train), "eval": _summaries(evaluation)},
               "span": span, "baseline": previous, "settings": settings.__dict__}
    before = None
    if previous:
        try:
            before = load_statistics(previous["statistics"], "train")
        except Exception as error:  # noqa: BLE001 - tf.errors.NotFoundError: removed since
            summary["drift_note"] = (f"drift not compared: version {previous['version']}'s "
                                     f"statistics at {previous['statistics']} cannot be read "
                                     f"({type(error).__name__}); was its pipeline root removed?")
            previous = summary["baseline"] = None
    if previous:
        summary["baseline"]["train"] = _summaries(before)
        found["drift"] = data_checks.compare(
            train, before, data_checks.Comparison.DRIFT, settings,
            (here, f"span {previous['span']} (served as version {previous['version']})"))
    summary["findings"] = [f.to_json() for kind in CHECK_SPLITS for f in found[kind]]
    summary["drift_compared"] = bool(previous)
    if compare_spans and not previous and "drift_note" not in summary:
        summary["drift_note"] = ("drift not compared: no pushed version of this model names "
                                 "the statistics it was trained on (the first span, or versions "
                                 "pushed before the data checks)")
    _write_checks(checks_uri, found, summary)
    return summary


def _write_checks(checks_uri: str, found, summary: Dict[str, Any]) -> None:
    for kind in CHECK_SPLITS:
        anomalies = anomalies_pb2.Anomalies()
        for finding in found[kind]:
            info = anomalies.anomaly_info[finding.feature]
            info.severity = info.ERROR
            info.description = finding.sentence
            info.short_description = f"{kind} in {finding.feature}"
        files.makedirs(os.path.join(checks_uri, f"Split-{kind}"))
        files.write_bytes(os.path.join(checks_uri, f"Split-{kind}", ANOMALIES_FILE),
                          anomalies.SerializeToString())
    files.write_text(os.path.join(checks_uri, CHECKS_FILE), json.dumps(summary, indent=1))


def decide(summary: Dict[str, Any], settings: data_checks.DataCheckSettings) -> List[str]:
    """What the run does with the findings: raises DataDriftError for those the settings stop
    on, returns the lines to print for the rest (and records the decision in `summary`)."""
    stops, lines = [], []
    for finding in summary["findings"]:
        kind = finding["comparison"]
        policy = settings.on_drift if kind == "drift" else settings.on_skew
        if kind == "drift" and settings.accept_drift:
            finding["decision"] = "accepted"
            lines.append(f"accepted (--accept-drift): {finding['sentence']}")
        elif policy == data_checks.STOP:
            finding["decision"] = "stopped"
            stops.append(finding["sentence"])
        else:
            finding["decision"] = "warned"
            lines.append(f"warning: {finding['sentence']}")
    if stops:
        raise DataDriftError(
            "the data moved past the data checks' thresholds:\n  " + "\n  ".join(stops)
            + "\nCheck where the new data comes from (camera, labelling tool, export); if it "
              "is right, accept it for this run with --accept-drift (recorded in the run's "
              "metadata and report), or let it pass with --on-drift warn / --on-skew warn.")
    return lines


@component
def AnomaliesGate(anomalies: InputArtifact[ExampleAnomalies],
                  statistics: InputArtifact[ExampleStatistics],
                  examples: InputArtifact[Examples],
                  checks: OutputArtifact[ExampleAnomalies],
                  model_dir: Parameter[str] = "",
                  compare_spans: Parameter[int] = 0,
                  settings: Parameter[str] = "{}") -> None:
    """Fails when ExampleValidator found any anomaly in any split, or when the measured image
    features moved past the settings' thresholds where they say stop."""
    from tfx.types import artifact_utils

    check_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
    chosen = data_checks.DataCheckSettings(**json.loads(settings))
    span = properties(examples.mlmd_artifact).get("span")  # ExampleGen's, a custom property
    checks.split_names = artifact_utils.encode_split_names(list(CHECK_SPLITS))
    summary = run_checks(statistics.uri, span, model_dir, bool(compare_spans), chosen,
                         checks.uri)
    try:
        lines = decide(summary, chosen)
    finally:
        files.write_text(os.path.join(checks.uri, CHECKS_FILE), json.dumps(summary, indent=1))
    for line in lines:
        print(f"[AnomaliesGate] {line}", flush=True)
    checks.set_int_custom_property("accepted_drift", int(chosen.accept_drift and any(
        f["decision"] == "accepted" for f in summary["findings"])))
    checks.set_int_custom_property("findings", len(summary["findings"]))
