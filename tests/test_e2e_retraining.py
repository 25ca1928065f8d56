"""Scheduled retraining, locally: spans, warm start, and no regression.

Three LocalDagRunner runs of one pipeline over one data root, as a schedule would make them:
span 1 arrives (trained from scratch, pushed as version 1); span 2 arrives (warm-started from
the latest blessed model, pushed as version 2 only if blessed against version 1); span 3
arrives with its training trimaps inverted (pet and background swapped: a labelling bug
upstream) and a learning rate that lets the wrong labels bite within one epoch, so the candidate
is reliably worse than the latest blessed model on span 3's correct eval split: it must not be
pushed, and the run says why. Everything is asserted from ML Metadata and the serving directory.
Sizes come from the config (24 images per span, 64 px, 1-2 epochs).
"""

import contextlib
import dataclasses
import io
import os

import numpy as np
import pytest

pytestmark = pytest.mark.e2e


def invert_training_trimaps(span_dir: str) -> int:
    """Swaps pet (1) and background (2) in the trimaps of the span's train split."""
    from PIL import Image

    from oxford_pet import layout

    entries = layout.read_list(os.path.join(span_dir, layout.SPLIT_LISTS["train"]))
    for entry in entries:
        path = layout.trimap_path(span_dir, entry.name)
        trimap = np.asarray(Image.open(path)).copy()
        pet, background = trimap == 1, trimap == 2
        trimap[pet], trimap[background] = 2, 1
        Image.fromarray(trimap, "L").save(path, "PNG")
    return len(entries)


@pytest.fixture(scope="module")
def retraining(tmp_path_factory):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from oxford_pet import demo, layout
    from pipeline import run_summary
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import create_pipeline

    work = tmp_path_factory.mktemp("retraining")
    data_root = str(work / "data")
    config = PipelineConfig(
        data_dir=data_root, span_pattern=layout.SPAN_PATTERN,
        pipeline_root=str(work / "root"), serving_dir=str(work / "serving"),
        image_size=64, epochs=2, batch_size=4, encoder_weights="none",
        warm_start=True, warm_start_epochs=1,
        min_pixel_accuracy=0.0,  # the no-regression (change) threshold is what is tested here
        beam_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    runs = []

    def run(span: int, run_config: PipelineConfig, prepare=None):
        span_dir = layout.span_dir(data_root, span)
        demo.make_demo_data(span_dir, count=24, seed=100 + span, min_size=80, max_size=140)
        if prepare:
            prepare(span_dir)
        LocalDagRunner().run(create_pipeline(run_config))
        summary = run_summary.summarize(run_config.metadata_path, run_config.pipeline_name)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            run_summary.print_summary(run_config, 0.0)
        runs.append((summary, printed.getvalue(),
                     [int(v) for v in sorted(os.listdir(config.model_dir)) if v.isdigit()]
                     if os.path.isdir(config.model_dir) else []))

    run(1, config)
    run(2, config)
    run(3, dataclasses.replace(config, learning_rate=0.01), prepare=invert_training_trimaps)
    return config, runs


def _model_uri(summary) -> str:
    return summary.component("Trainer").output("model").uri


def test_each_run_reads_the_latest_span(retraining):
    _, runs = retraining
    assert [summary.span for summary, _, _ in runs] == [1, 2, 3]
    for span, (summary, printed, _) in enumerate(runs, start=1):
        examples = summary.component("OxfordPetExampleGen").output("examples")
        from pipeline.run_summary import int_property
        assert int_property(examples, "train_ingested") == 12  # this span's images only
        assert f"Span: {span}" in printed


def test_first_span_trains_from_scratch_and_pushes_version_1(retraining):
    config, runs = retraining
    summary, printed, versions = runs[0]
    assert summary.model_info["warm_start"] is None
    assert summary.model_info["epochs"] == config.epochs
    assert summary.baseline_model_uri is None
    assert summary.blessed is True and summary.pushed_version == "1"
    assert versions == [1]
    assert "Baseline: none" in printed and "Pushed version 1" in printed


def test_second_span_warm_starts_and_pushes_only_when_blessed(retraining):
    config, runs = retraining
    first, _, _ = runs[0]
    summary, printed, versions = runs[1]
    started = summary.model_info["warm_start"]
    assert started["loaded"] is True
    assert started["base_model"].startswith(_model_uri(first))  # version 1's model
    assert summary.model_info["epochs"] == config.warm_start_epochs
    assert summary.baseline_model_uri == _model_uri(first)
    assert "Warm start from" in printed
    if summary.blessed:
        assert summary.pushed_version == "2" and versions == [1, 2]
    else:
        assert summary.pushed_version is None and versions == [1]
        assert "Not pushed" in printed


def test_a_worse_candidate_is_not_pushed_and_the_run_says_why(retraining):
    _, runs = retraining
    second, _, versions_before = runs[1]
    summary, printed, versions = runs[2]
    latest_blessed = _model_uri(second) if second.blessed else _model_uri(runs[0][0])
    assert summary.baseline_model_uri == latest_blessed
    assert summary.model_info["warm_start"]["base_model"].startswith(latest_blessed)
    assert summary.blessed is False
    assert summary.pushed_version is None
    assert versions == versions_before  # nothing new in the serving directory
    assert "Not pushed" in printed
    assert "failed: pixel_accuracy (overall): -" in printed  # a drop against the baseline
    assert "against the baseline, allowed -0.0000 or better" in printed
