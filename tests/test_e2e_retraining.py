"""Scheduled retraining, locally: spans, warm start, and no regression, as README shows it.

README's four retraining commands run exactly as written, in a fresh copy of the repository
(tests/readme.py), with small sizes appended as the commands' own flags (24 images a span,
64 px): span 1 arrives (trained from scratch, pushed as version 1); span 2 arrives
(warm-started from the latest blessed model, pushed as version 2 only if blessed against it;
drawn like span 1, it passes the data gate's drift check). Then span 3 arrives shifted, as a new
camera or labelling tool would shift it: four times larger images (the run stops at the data
gate, before Transform, naming height and width), then in its place the same images with
masks that lost almost all their pet (stops again, naming the pet share), and that once more
with `--on-drift warn` and `--class-weights 1,0,0`: only pet pixels count in the loss, so the
candidate learns to call everything pet and is reliably worse than the latest blessed model
on the eval split; the run trains with a warning, and the Evaluator must refuse the model and
the run must say why. Everything is asserted from ML Metadata, the serving directory and what
the command printed.
"""

import os
import shutil

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


def _lose_the_pet(data_dir: str) -> None:
    """Every trimap's pet made background, but for three pixels (a labelling tool's fault)."""
    import numpy as np
    from PIL import Image

    from oxford_pet import layout

    for entry in layout.read_list(os.path.join(data_dir, layout.LIST_FILE)):
        path = layout.trimap_path(data_dir, entry.name)
        values = np.asarray(Image.open(path)).copy()
        pet = np.argwhere(values == 1)
        values[values == 1] = 2
        for row, col in pet[:3]:
            values[row, col] = 1
        Image.fromarray(values).save(path)


@pytest.fixture(scope="module")
def retraining(tmp_path_factory):
    """[(summary, stdout, versions in the serving dir, exit status)] for the five runs: span 1,
    span 2, span 3 four times larger (stops), span 3 with almost no pet (stops), the same
    with --on-drift warn and a loss that makes a worse model; and sixth, span 2's command run
    again right after it (before span 3 arrived)."""
    from oxford_pet import demo
    from pipeline import run_summary

    repo = readme.sandbox(tmp_path_factory.mktemp("retraining"))
    work = os.path.join(repo, "workdir", "retraining")
    metadata_path = os.path.join(work, "pipeline_root", "metadata.sqlite")
    model_dir = os.path.join(work, "serving", "pet_unet")
    span_3 = os.path.join(repo, "workdir", "spans", "span-3")
    runs = []

    def run(*extra, fails=False):
        result = readme.run(RETRAIN, *SMALL_RUN, *extra, cwd=repo)
        assert result.returncode == (1 if fails else 0), \
            result.stdout[-3000:] + result.stderr[-3000:]
        versions = sorted(int(v) for v in os.listdir(model_dir) if v.isdigit()) \
            if os.path.isdir(model_dir) else []
        runs.append((run_summary.summarize(metadata_path, "pet-segmentation"),
                     result.stdout + result.stderr, versions, result.returncode))

    for command in (MAKE_SPAN_1, MAKE_SPAN_2):
        made = readme.run(command, *SMALL_SPAN, cwd=repo)
        assert made.returncode == 0, made.stderr
        run()
    run()  # span 2's command again: kept as the last entry
    rerun = runs.pop()
    demo.make_demo_data(span_3, count=24, seed=3, min_size=320, max_size=560)  # 4x larger
    run(fails=True)
    shutil.rmtree(span_3)
    demo.make_demo_data(span_3, count=24, seed=3, min_size=80, max_size=140)
    _lose_the_pet(span_3)
    run(fails=True)
    run("--on-drift", "warn", *WORSE)
    return runs + [rerun]


def _model_uri(summary) -> str:
    return summary.component("Trainer").output("model").uri


@pytest.mark.readme_command(MAKE_SPAN_1, MAKE_SPAN_2, RETRAIN)
def test_each_run_reads_the_latest_span(retraining):
    assert [summary.span for summary, _, _, _ in retraining] == [1, 2, 3, 3, 3, 2]
    for summary, printed, _, code in retraining:
        examples = summary.component("OxfordPetExampleGen").output("examples")
        assert examples.properties["train_ingested"] == 12  # this span's images only
        if code == 0:  # a stopped run prints no summary
            assert f"Span: {summary.span}" in printed


@pytest.mark.readme_command(MAKE_SPAN_1, RETRAIN)
def test_first_span_trains_from_scratch_and_pushes_version_1(retraining):
    summary, printed, versions, _ = retraining[0]
    assert summary.model_info["warm_start"] is None
    assert summary.model_info["epochs"] == 2
    assert summary.baseline_model_uri is None
    assert summary.blessed is True and summary.pushed_version == "1"
    assert versions == [1]
    assert "Baseline: none" in printed and "Pushed version 1" in printed
    assert "data checks: drift not compared: no pushed version of this model names" in printed
    assert "; measured (train / eval medians): height " in printed


@pytest.mark.readme_command(MAKE_SPAN_2, RETRAIN)
def test_second_span_warm_starts_and_pushes_only_when_blessed(retraining):
    first, _, _, _ = retraining[0]
    summary, printed, versions, _ = retraining[1]
    started = summary.model_info["warm_start"]
    assert started["loaded"] is True
    assert started["base_model"].startswith(_model_uri(first))  # version 1's model
    assert summary.model_info["epochs"] == 1  # --warm-start-epochs
    assert summary.baseline_model_uri == _model_uri(first)
    assert "Warm start from" in printed
    assert "Data checks: no skew between train and eval, no drift from span 1 (version 1)" \
        in printed  # drawn like span 1
    if summary.blessed:
        assert summary.pushed_version == "2" and versions == [1, 2]
    else:
        assert summary.pushed_version is None and versions == [1]
        assert "Not pushed" in printed


@pytest.mark.readme_command(RETRAIN)
@pytest.mark.readme_command(RETRAIN)
@pytest.mark.parametrize("run, shifted, medians", [
    (2, ("image_height", "image_width"), "median width "),
    (3, ("pet_fraction",), "median pet share of the trimap 0.000"),
])
def test_a_shifted_span_stops_before_transform_naming_the_feature(retraining, run, shifted,
                                                                   medians):
    """Span 3 four times larger, then with masks that lost their pet: each run stops at the
    data gate, before Transform; the serving directory is untouched."""
    summary, printed, versions, code = retraining[run]
    assert code == 1
    assert summary.component("AnomaliesGate").state == "FAILED"
    assert summary.component("Transform") is None and summary.component("Trainer") is None
    assert "DataDriftError: the data moved past the data checks' thresholds" in printed
    for feature in shifted:
        assert f"drift in {feature}: " in printed
    assert medians in printed and " in span 3, " in printed
    assert "--accept-drift" in printed
    assert versions == retraining[1][2]  # nothing pushed


def test_a_worse_candidate_is_not_pushed_and_the_run_says_why(retraining):
    """Span 3 with almost no pet, --on-drift warn: it trains (warned), and the model that calls
    everything pet is worse than the latest blessed one: not pushed."""
    second, _, versions_before, _ = retraining[1]
    summary, printed, versions, _ = retraining[4]
    assert "[AnomaliesGate] warning: drift in pet_fraction: " in printed
    assert "data check, warned: drift in pet_fraction" in printed
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


def test_the_report_shows_the_measured_features_and_the_warning(retraining):
    import json

    from oxford_pet import measures

    summary, _, _, _ = retraining[4]
    report = summary.component("EvaluationReport").output("report").uri
    html = open(os.path.join(report, "report.html"), encoding="utf-8").read()
    facts = json.load(open(os.path.join(report, "facts.json"), encoding="utf-8"))
    assert "Data checks: what the images look like" in html
    assert "<b>warned</b>: drift in pet_fraction" in html
    checks = facts["data_checks"]
    assert checks["baseline"]["span"] in (1, 2) and checks["span"] == 3
    import tensorflow_data_validation as tfdv

    stats = tfdv.load_stats_binary(os.path.join(
        summary.component("StatisticsGen").output("statistics").uri, "Split-train",
        "FeatureStats.pb"))  # TFDV's own loader, on what StatisticsGen wrote
    described = {feature.path.step[0] for feature in stats.datasets[0].features}
    assert {measure.key for measure in measures.MEASURES} <= described
    for measure in measures.MEASURES:  # every feature drawn for train, eval and the baseline
        assert f"<figcaption>{measure.words}</figcaption>" in html
        assert len(checks["splits"]["train"][measure.key]["deciles"]) == 11


@pytest.mark.readme_command(RETRAIN)
def test_the_same_command_again_is_fully_cached_and_starts_from_nothing_new(retraining):
    """Span 2's run again: its Trainer is cached, so it did not start from the model span 2
    made (blessed by then) but from span 1's, as the first time; the Evaluator is cached, so
    the candidate is not compared with itself; nothing is pushed."""
    from pipeline import node_ids

    second, _, versions_then, _ = retraining[1]
    rerun, printed, versions, code = retraining[5]
    assert code == 0
    ran = {node_id: run.state for node_id, run in rerun.components.items()
           if node_id not in (node_ids.LATEST_BLESSED_MODEL, node_ids.WARM_START_MODEL)}
    assert set(ran.values()) == {"CACHED"}, ran
    assert rerun.input(node_ids.TRAINER, "base_model").uri == \
        second.input(node_ids.TRAINER, "base_model").uri == _model_uri(retraining[0][0])
    assert rerun.baseline_model_uri == second.baseline_model_uri != _model_uri(second)
    assert versions == versions_then and not rerun.pushed_now
    if second.blessed:
        assert f"Nothing pushed: this model already is version {second.pushed_version}" in printed
