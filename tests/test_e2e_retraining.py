"""Scheduled retraining, locally: spans, warm start, and no regression, as README shows it.

README's four retraining commands run exactly as written, in a fresh copy of the repository
(tests/readme.py), with small sizes appended as the commands' own flags (24 images a span,
64 px): span 1 arrives (trained from scratch, pushed as version 1); span 2 arrives
(warm-started from the latest blessed model, pushed as version 2 only if blessed against it).
Then the same command once more on span 2, with `--class-weights 1,0,0`: only pet pixels count
in the loss, so the candidate learns to call everything pet and is reliably worse than the
latest blessed model on the eval split. Ingest, Transform and the rest are CACHED; the
Evaluator must refuse it and the run must say why. Everything is asserted from ML Metadata,
the serving directory and what the command printed.
"""

import os

import pytest

from tests import readme

pytestmark = pytest.mark.e2e

MAKE_SPAN_1 = "$ENV/bin/python -m oxford_pet make-demo-data workdir/spans --span 1 --count 200"
MAKE_SPAN_2 = "$ENV/bin/python -m oxford_pet make-demo-data workdir/spans --span 2 --count 200"
RETRAIN = ("$ENV/bin/python local_runner.py --data-dir workdir/spans --span-pattern "
           "'span-{SPAN}' --warm-start --work-dir workdir/retraining")
SMALL_SPAN = ("--count", "24", "--min-size", "80", "--max-size", "140")
SMALL_RUN = ("--image-size", "64", "--epochs", "2", "--batch-size", "4",
             "--encoder-weights", "none", "--warm-start-epochs", "1",
             "--min-pixel-accuracy", "0",  # the no-regression (change) threshold is tested here
             "--report-max-examples", "4")
WORSE = ("--class-weights", "1,0,0", "--learning-rate", "0.05", "--warm-start-epochs", "2")


@pytest.fixture(scope="module")
def retraining(tmp_path_factory):
    """[(summary, stdout, versions in the serving dir)] for the three runs, and the copy."""
    from pipeline import run_summary

    repo = readme.sandbox(tmp_path_factory.mktemp("retraining"))
    work = os.path.join(repo, "workdir", "retraining")
    metadata_path = os.path.join(work, "pipeline_root", "metadata.sqlite")
    model_dir = os.path.join(work, "serving", "pet_unet")
    runs = []

    def run(*extra):
        result = readme.run(RETRAIN, *SMALL_RUN, *extra, cwd=repo)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        versions = sorted(int(v) for v in os.listdir(model_dir) if v.isdigit()) \
            if os.path.isdir(model_dir) else []
        runs.append((run_summary.summarize(metadata_path, "pet-segmentation"), result.stdout,
                     versions))

    for command in (MAKE_SPAN_1, MAKE_SPAN_2):
        made = readme.run(command, *SMALL_SPAN, cwd=repo)
        assert made.returncode == 0, made.stderr
        run()
    run(*WORSE)
    return runs


def _model_uri(summary) -> str:
    return summary.component("Trainer").output("model").uri


@pytest.mark.readme_command(MAKE_SPAN_1, MAKE_SPAN_2, RETRAIN)
def test_each_run_reads_the_latest_span(retraining):
    assert [summary.span for summary, _, _ in retraining] == [1, 2, 2]
    for summary, printed, _ in retraining:
        examples = summary.component("OxfordPetExampleGen").output("examples")
        assert examples.properties["train_ingested"] == 12  # this span's images only
        assert f"Span: {summary.span}" in printed


@pytest.mark.readme_command(MAKE_SPAN_1, RETRAIN)
def test_first_span_trains_from_scratch_and_pushes_version_1(retraining):
    summary, printed, versions = retraining[0]
    assert summary.model_info["warm_start"] is None
    assert summary.model_info["epochs"] == 2
    assert summary.baseline_model_uri is None
    assert summary.blessed is True and summary.pushed_version == "1"
    assert versions == [1]
    assert "Baseline: none" in printed and "Pushed version 1" in printed


@pytest.mark.readme_command(MAKE_SPAN_2, RETRAIN)
def test_second_span_warm_starts_and_pushes_only_when_blessed(retraining):
    first, _, _ = retraining[0]
    summary, printed, versions = retraining[1]
    started = summary.model_info["warm_start"]
    assert started["loaded"] is True
    assert started["base_model"].startswith(_model_uri(first))  # version 1's model
    assert summary.model_info["epochs"] == 1  # --warm-start-epochs
    assert summary.baseline_model_uri == _model_uri(first)
    assert "Warm start from" in printed
    if summary.blessed:
        assert summary.pushed_version == "2" and versions == [1, 2]
    else:
        assert summary.pushed_version is None and versions == [1]
        assert "Not pushed" in printed


@pytest.mark.readme_command(RETRAIN)
def test_a_worse_candidate_is_not_pushed_and_the_run_says_why(retraining):
    second, _, versions_before = retraining[1]
    summary, printed, versions = retraining[2]
    for node_id in ("OxfordPetExampleGen", "StatisticsGen", "Transform"):
        assert summary.component(node_id).state == "CACHED", node_id  # only training changed
    latest_blessed = _model_uri(second) if second.blessed else _model_uri(retraining[0][0])
    assert summary.baseline_model_uri == latest_blessed
    assert summary.model_info["warm_start"]["base_model"].startswith(latest_blessed)
    assert summary.model_info["class_weights"] == [1.0, 0.0, 0.0]
    assert summary.blessed is False
    assert summary.pushed_version is None
    assert versions == versions_before  # nothing new in the serving directory
    assert "Not pushed" in printed
    assert "failed: native_pixel_accuracy (overall): -" in printed  # a drop against the baseline
    assert "against the baseline, allowed -0.0000 or better" in printed
