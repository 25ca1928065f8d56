"""Gathers what a pipeline run produced into one JSON-able dict, the report's only input.

Sources, all artifacts of one run: the Evaluator's output (TFMA metrics per slice, the
validation result, the eval config with its thresholds and model locations; runs/evaluation.py
reads them), its blessing (blessed, candidate and baseline model), the ExampleGen's ingest
counts, the Trainer's model (model_info.json) and training history
(model_run/training_history.json), and what the VersionedPusher pushed. What is missing is
listed in `missing`, never silently left out.

Facts are data (numbers, names, paths, flags, TFMA's own messages): render_html.py and
render_markdown.py word them, through report/wording.py. `gather()` takes a RunArtifacts:
components/evaluation_report.py builds one from its inputs, `python -m report` from the run's
metadata store (pipeline/report_inputs.py).
"""

import dataclasses
import datetime
import json
import os
from typing import Any, Dict, List, Optional, Tuple

from oxford_pet import layout, measures
from runs import evaluation
from storage import files
from runs.evaluation import BASELINE, CANDIDATE, DIFF, OVERALL
from trainer import features

SPLITS = ("train", "eval")
COUNT_KEYS = layout.INGEST_COUNTS
SCALAR_METRICS = features.GATE_METRICS  # every scalar pixel metric, at both resolutions


@dataclasses.dataclass
class RunArtifacts:
    """Where one run's outputs are, and the artifact properties the report reads."""

    evaluation_uri: str
    blessing: Optional[Dict[str, Any]] = None  # properties of the ModelBlessing
    examples_uri: Optional[str] = None
    examples: Optional[Dict[str, Any]] = None  # properties of the Examples
    model_uri: Optional[str] = None  # the Trainer's Model artifact
    model_run_uri: Optional[str] = None
    pushed: Optional[Dict[str, Any]] = None  # properties of the PushedModel
    pipeline_name: Optional[str] = None
    run_id: Optional[str] = None
    data_checks_uri: Optional[str] = None  # the data gate's output (components/anomalies_gate.py)


# ---- the verdict ----

def verdict(blessing: Optional[Dict[str, Any]], overall: Dict[str, Any],
            eval_run: Dict[str, Any], validation: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """Blessed or not, each threshold with its value and whether it passed, the baseline.

    `overall` is the whole split's entry of evaluation.metrics, `eval_run` evaluation.eval_run,
    `validation` evaluation.validation (None: no validation result)."""
    has_baseline = bool(overall[BASELINE])
    failed_on = _failed_on(validation)
    thresholds = [_checked(threshold, overall, has_baseline, failed_on)
                  for threshold in eval_run["thresholds"]]
    blessing = blessing or {}
    locations = eval_run["model_locations"]
    blessed = blessing.get("blessed")
    return {
        "blessed": None if blessed is None else bool(blessed),
        "validation_ok": None if validation is None else validation["ok"],
        "thresholds": thresholds,
        "failures": validation["failures"] if validation else [],
        "gate": sorted({threshold["metric"] for threshold in thresholds}),  # what blesses
        "candidate_uri": blessing.get("current_model_uri") or locations.get(CANDIDATE)
        or locations.get(""),
        "baseline_uri": blessing.get("baseline_model_uri") or locations.get(BASELINE) or None,
        "baseline_id": blessing.get("baseline_model_id"),
    }


def _failed_on(validation: Optional[Dict[str, Any]]) -> Dict[Tuple[str, bool], List[str]]:
    """{(metric, is a change threshold): slices where it failed} from a validation result."""
    failed: Dict[Tuple[str, bool], List[str]] = {}
    for failure in (validation["failures"] if validation else []):
        failed.setdefault((failure["metric"], failure["change"]), []).append(failure["slice"])
    return failed


def _checked(threshold: Dict[str, Any], overall: Dict[str, Any], has_baseline: bool,
             failed_on: Dict[Tuple[str, bool], List[str]]) -> Dict[str, Any]:
    """A threshold bound with the whole split's value and its result: passed True, False, or
    None (a change threshold without a baseline: not checked); `failed_on` its slices."""
    change = threshold["kind"] == "change"
    value = overall[DIFF if change else CANDIDATE].get(threshold["metric"])
    failed = sorted(set(failed_on.get((threshold["metric"], change), [])))
    passed = None if change and not has_baseline else (not failed and value is not None)
    return dict(threshold, value=value, passed=passed, failed_on=failed)


# ---- the rest of the run ----

def data_facts(examples: Optional[Dict[str, Any]], examples_uri: Optional[str]
               ) -> Optional[Dict[str, Any]]:
    if examples is None:
        return None
    splits = {split: {key: int(examples.get(f"{split}_{key}", 0)) for key in COUNT_KEYS}
              for split in SPLITS if f"{split}_listed" in examples}
    return {"splits": splits, "examples_uri": examples_uri,
            "ingest_report": os.path.join(examples_uri, "ingest") if examples_uri else None}


def data_check_facts(data_checks_uri: Optional[str]) -> Optional[Dict[str, Any]]:
    """The data gate's summary (measured features per split and of the baseline, skew and drift
    findings with what was decided), or None for a run without one."""
    if not data_checks_uri:
        return None
    text = files.read_text(os.path.join(data_checks_uri, measures.CHECKS_FILE))
    return json.loads(text) if text else None


def push_facts(pushed: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if pushed is None:
        return None
    done = bool(pushed.get("pushed", 0))
    return {"pushed": done, "version": pushed.get("pushed_version") if done else None,
            "destination": pushed.get("pushed_destination") if done else None,
            # False: the model already was that version (pushed by an earlier run)
            "new": done and bool(pushed.get("pushed_now", 1))}


def read_history(model_run_uri: Optional[str]) -> Optional[Dict[str, List[float]]]:
    if not model_run_uri:
        return None
    text = files.read_text(os.path.join(model_run_uri, features.TRAINING_HISTORY_FILE))
    return None if text is None else json.loads(text)


def serving_model_dir(model_uri: Optional[str]) -> Optional[str]:
    if not model_uri:
        return None
    from tfx.utils import path_utils

    return path_utils.serving_model_dir(model_uri)


def gather(run: RunArtifacts, max_examples: int = 256, samples_per_group: int = 4
           ) -> Dict[str, Any]:
    """Everything the report shows, as a JSON-able dict (see render_html / render_markdown)."""
    from report import samples
    from serving.manifest import read_model_info

    slices = evaluation.metrics(run.evaluation_uri)
    if OVERALL not in slices:
        raise ValueError(f"{run.evaluation_uri} holds no overall metrics: is it the output of "
                         "a finished Evaluator run?")
    overall = slices.pop(OVERALL)
    for entry in [overall] + list(slices.values()):
        entry.update(extent(entry))
    eval_run = evaluation.eval_run(run.evaluation_uri)
    model_dir = serving_model_dir(run.model_uri) or (
        eval_run["model_locations"].get(CANDIDATE) or eval_run["model_locations"].get(""))
    model_info = read_model_info(model_dir) if model_dir and files.isdir(model_dir) else {}
    parts = {"history": read_history(run.model_run_uri),
             "data": data_facts(run.examples, run.examples_uri), "push": push_facts(run.pushed),
             "data_checks": data_check_facts(run.data_checks_uri),
             "samples": samples.collect(model_dir, run.examples_uri, max_examples,
                                        samples_per_group)}
    return dict(
        parts, generated_at=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"),
        pipeline_name=run.pipeline_name, run_id=run.run_id, evaluation_uri=run.evaluation_uri,
        verdict=verdict(run.blessing, overall, eval_run,
                        evaluation.validation(run.evaluation_uri)),
        overall=overall,
        slices=sorted(slices.values(), key=lambda s: (s["feature"], str(s["name"]))),
        model=dict(model_info, path=model_dir) if model_dir else None,
        # What the report lacks, in the order it says so (report/wording.py missing_text).
        missing=[what for what in ("history", "data", "push") if parts[what] is None]
        + (["samples"] if "error" in parts["samples"] else []))


def extent(entry: Dict[str, Any]) -> Dict[str, Optional[int]]:
    """How many pixels (at both sizes) and examples a slice's candidate metrics count."""
    candidate = entry[CANDIDATE]
    matrix = candidate.get(features.CONFUSION_MATRIX_NAME)
    native = candidate.get(features.NATIVE_CONFUSION_MATRIX_NAME)
    count = candidate.get("example_count")  # TFMA counts every slice's examples
    return {"pixels": int(sum(matrix)) if matrix else None,
            "native_pixels": int(sum(native)) if native else None,
            "examples": int(count) if count is not None else None}
