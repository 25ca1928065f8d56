"""Finds a finished run's report inputs in its metadata store, for `python -m report`: which
component wrote which artifact is this pipeline's (pipeline/node_ids.py), so it lives here,
beside create_pipeline, not in report/."""

import os
from typing import Optional

from pipeline import node_ids, run_summary
from pipeline.config import METADATA_FILE
from report.facts import RunArtifacts
from runs import metadata
from storage import files


def from_summary(summary: run_summary.RunSummary, pipeline_name: str) -> RunArtifacts:
    """The report's inputs among a run's artifacts."""
    evaluation = summary.output(node_ids.EVALUATOR, "evaluation")
    if evaluation is None:
        raise ValueError(f"run {summary.run_id} of '{pipeline_name}' has no evaluation (did "
                         "the Evaluator run? a run that stopped before it has nothing to "
                         "report)")
    blessing = summary.output(node_ids.EVALUATOR, "blessing")
    examples = summary.output(node_ids.EXAMPLE_GEN, "examples")
    model = summary.output(node_ids.TRAINER, "model")
    model_run = summary.output(node_ids.TRAINER, "model_run")
    pushed = summary.output(node_ids.PUSHER, "pushed_model")
    return RunArtifacts(
        evaluation_uri=evaluation.uri,
        blessing=blessing.properties if blessing else None,
        examples_uri=examples.uri if examples else None,
        examples=examples.properties if examples else None,
        model_uri=model.uri if model else None,
        model_run_uri=model_run.uri if model_run else None,
        pushed=pushed.properties if pushed else None,
        pipeline_name=pipeline_name, run_id=summary.run_id)


def from_pipeline_root(pipeline_root: str, pipeline_name: str,
                       metadata_path: Optional[str] = None,
                       run_id: Optional[str] = None) -> RunArtifacts:
    """The latest (or the given) run of `pipeline_name` recorded under `pipeline_root`."""
    metadata_path = metadata_path or os.path.join(pipeline_root, METADATA_FILE)
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
    levels up (<root>/Evaluator/evaluation/<id>) when there is one (a local run's; a gs://
    directory of a Vertex run stands alone)."""
    evaluation_dir = files.absolute(evaluation_dir)
    if not files.isdir(evaluation_dir):
        raise ValueError(f"evaluation directory {evaluation_dir} does not exist")
    metadata_path = os.path.join(evaluation_dir, "..", "..", "..", METADATA_FILE)
    if not files.is_remote(evaluation_dir) and os.path.isfile(metadata_path):
        store = metadata.open_store(metadata_path)
        # Oldest first: the first run holding the evaluation made it (later, cached runs of
        # the same inputs hold the same artifact).
        for run_id in metadata.run_ids(store, pipeline_name):
            summary = run_summary.summarize(metadata_path, pipeline_name, run_id)
            evaluation = summary.output(node_ids.EVALUATOR, "evaluation")
            if evaluation is not None and os.path.abspath(evaluation.uri) == evaluation_dir:
                return from_summary(summary, pipeline_name)
    return RunArtifacts(evaluation_uri=evaluation_dir)
