"""AnomaliesGate: stops the pipeline before Transform and Trainer when the data has anomalies.

ExampleValidator records anomalies but lets the pipeline go on; this component reads them and
fails, naming each split, feature and problem, so no model is trained on data that does not
match the curated schema in schema/.
"""

import os
from typing import List

from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.decorators import component
from tfx.types.standard_artifacts import ExampleAnomalies
from tfx.utils import io_utils
from tensorflow_metadata.proto.v0 import anomalies_pb2

ANOMALIES_FILE = "SchemaDiff.pb"


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


@component
def AnomaliesGate(anomalies: InputArtifact[ExampleAnomalies]) -> None:
    """Fails when ExampleValidator found any anomaly in any split."""
    from tfx.types import artifact_utils

    check_anomalies(anomalies.uri, artifact_utils.decode_split_names(anomalies.split_names))
