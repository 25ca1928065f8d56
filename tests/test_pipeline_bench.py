"""bench/pipeline_bench.py's arithmetic and report, on recorded results (nothing is timed)."""

import argparse
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench"))
import pipeline_bench  # noqa: E402


def test_warm_rate_leaves_out_the_first_step():
    assert pipeline_bench.warm_rate([10.0, 1.0, 1.0], [16, 16, 8]) == pytest.approx(12.0)


def test_percentiles_are_values_that_were_measured():
    values = [0.5, 0.1, 0.3, 0.2, 0.4]
    assert pipeline_bench.percentile(values, 0.5) == 0.3
    assert pipeline_bench.percentile(values, 0.95) == 0.5


def _size(count, scale):
    stage = {"stage_wall_seconds": 10.0, "stage_peak_rss": scale * 2 ** 30, "load_average": 1.0}
    return {
        "count": count,
        "params": {"architecture": "unet_mobilenet_v2", "image_size": 128, "epochs": 2,
                   "batch_size": 16},
        "ingest": dict(stage, plain_rate=100.0, beam_rate=70.0),
        "pipeline": dict(stage, stage_wall_seconds=300.0, wall_seconds=299.0, components={
            "Transform": {"seconds": 20.0 * scale, "start": 10.0, "peak_rss": scale * 2 ** 30},
            "Evaluator": {"seconds": 20.0, "start": 90.0, "peak_rss": None}}),
        "plain": dict(stage, stage_wall_seconds=150.0, pixel_accuracy=0.8, eval_images=count // 2,
                      evaluate_rate=50.0, warm_evaluate_rate=60.0),
        "transform": dict(stage, examples=count, plain_rate=count / 25.0,
                          plain_rate_one_thread=30.0),
        "train": dict(stage, input_rate=400.0, input_rate_one_thread=300.0, epochs=2,
                      input_rate_files=200.0, input_rate_files_one_thread=120.0,
                      trainer_step_rate=19.0, memory_step_rate=20.0, tutorial_step_rate=19.5,
                      trainer_timed_steps=126,
                      trainer_first_step_seconds=20.0, tutorial_first_step_seconds=60.0),
        "serving": dict(stage, serving={"p50": 0.05, "p95": 0.07, "batch_rate": 40.0},
                        predict={"p50": 0.1, "p95": 0.2, "batch_rate": 45.0},
                        call={"p50": 0.04, "p95": 0.05, "batch_rate": 50.0}),
    }


def test_report_has_each_figure_its_reference_ratio_and_target():
    args = argparse.Namespace(min_size=300, max_size=500, argv=["--count", "2000"], note="x")
    text = pipeline_bench.render(_size(2000, 2.0), _size(500, 1.0), args, "")
    # Transform: 2000 examples in 40 s = 50/s against 80/s plain: 0.62x, below the 0.7x target.
    assert "| Transform component (examples/s) | 50.0 ex/s |" in text
    assert "| 0.62x | >= 0.7x (missed) |" in text
    # 1,500 more examples took 20 s more: 75/s a marginal example, 13 s fixed.
    assert "| Transform, per example between 500 and 2000 images (fixed cost 13 s left out) | " \
        "75.0 ex/s |" in text
    assert "input overhead 5.0%, 126 steps timed each" in text  # 1 - 19/20
    assert "| 150.0 s | 2.00x | <= 1.5x (missed) |" in text  # end to end: 300 s vs 150 s
    assert "| 50.0 ms | model.predict, 1 pre-decoded array | 100.0 ms | 0.50x | <= 1.25x (met)" \
        in text
    assert "| Transform | 40.0 | 13% | 1.00 | 2.00 |" in text  # per component, both sizes
    assert "| pipeline | 1.00 | 2.00 |" in text  # peak RSS per stage, 500 then 2000 images
    assert "need about 5 such cores" in text  # 500 img/s at 120 img/s per core
    assert "--count 2000" in text and "note: x" in text
