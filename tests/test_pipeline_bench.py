"""bench/pipeline_bench.py's arithmetic and report, on recorded results (nothing is timed)."""

import argparse
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench"))
import pipeline_bench  # noqa: E402


def test_median_rate_is_the_batch_over_the_median_full_step():
    # A stalled step (3.0 s) and the short last batch do not move it: 16 images / 0.5 s.
    assert pipeline_bench.median_rate([0.5, 0.4, 3.0, 0.6, 0.5, 0.1], [16] * 5 + [4]) == \
        pytest.approx(32.0)


def test_training_rows_use_median_steps_and_show_the_means_too():
    size = _size(2000, 2.0)
    size["train"].update(trainer_median_step_rate=19.5, memory_median_step_rate=20.0,
                         tutorial_median_step_rate=20.0)
    args = argparse.Namespace(min_size=300, max_size=500, argv=[], note="")
    text = pipeline_bench.render(size, None, args, "")
    assert "input overhead 2.5%, median of 126 steps each | 19.5 img/s |" in text
    assert "| 20.0 img/s | 0.97x | >= 0.95x (met) |" in text
    assert "(mean, stalls included): input overhead 5.0%, 0.97x the tutorial" in text


def test_cpu_steal_share_between_two_readings():
    before = {"user": 100, "idle": 100, "steal": 0}
    after = {"user": 150, "idle": 130, "steal": 20}
    assert pipeline_bench.steal_share(before, after) == pytest.approx(0.2)
    assert pipeline_bench.steal_share(None, after) is None
    ticks = pipeline_bench.cpu_ticks()  # this Linux machine's /proc/stat: 8 kinds, counting
    assert set(ticks) == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}
    assert sum(ticks.values()) > 0 and min(ticks.values()) >= 0


def test_cores_are_whole_and_counted_in_words():
    assert [pipeline_bench.cores(n) for n in (0.2, 1.0, 1.01, 4.2)] == [
        "1 core", "1 core", "2 cores", "5 cores"]


def test_percentiles_are_values_that_were_measured():
    values = [0.5, 0.1, 0.3, 0.2, 0.4]
    assert pipeline_bench.percentile(values, 0.5) == 0.3
    assert pipeline_bench.percentile(values, 0.95) == 0.5


def _size(count, scale):
    stage = {"stage_wall_seconds": 10.0, "stage_peak_rss": scale * 2 ** 30, "load_average": 1.0,
             "steal": 0.02 * scale}
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
    # Per stage, 500 then 2000 images: wall seconds, peak RSS, share of CPU time stolen.
    assert "| pipeline | 300 | 1.00 | 2% | 300 | 2.00 | 4% |" in text
    assert "need about 5 cores, 1000 images/s about 9 cores" in text  # 500 img/s at 120 img/s per core
    assert "--count 2000" in text and "note: x" in text
    assert "Every figure and its reference come from the same run" in text
    args.report = True  # a rewrite from recorded results says they may come from other passes
    assert "may come from separate passes: see the note" in pipeline_bench.render(
        _size(2000, 2.0), _size(500, 1.0), args, "")


def test_trainer_phases_come_from_the_lines_the_trainer_prints(capsys, monkeypatch):
    """Parses what trainer/train.py really prints, so the two cannot drift apart."""
    from trainer import train

    # Epoch 1: 0 -> 80 s with validation 60-80 s; epoch 2: 100 -> 150 s, validation 140-148 s.
    clock = iter([0.0, 60.0, 80.0, 80.0, 100.0, 140.0, 148.0, 150.0])
    monkeypatch.setattr(train.time, "perf_counter", lambda: next(clock))
    log = train._EpochLog(epochs=2)
    for epoch in range(2):
        log.on_epoch_begin(epoch)
        log.on_test_begin()
        log.on_test_end()
        log.on_epoch_end(epoch, {"loss": 0.5})
    print("INFO:absl:something else")
    print(train.EXPORT_LINE.format(seconds=14.24, path="/root/Trainer/model/7/Format-Serving"))
    assert pipeline_bench.trainer_phases(capsys.readouterr().out) == pytest.approx(
        {"train": 102.0, "validation": 28.0, "export": 14.2})
    assert pipeline_bench.trainer_phases("[Trainer] epoch 1/2: accuracy 0.8") == {}


def test_extra_time_table_splits_both_runs_by_kind_of_work():
    size = _size(2000, 1.0)
    pipeline, plain = size["pipeline"], size["plain"]
    pipeline["components"].update({"Trainer": {"seconds": 200.0, "start": 50.0,
                                               "peak_rss": None},
                                   "OxfordPetExampleGen": {"seconds": 15.0, "start": 5.0,
                                                           "peak_rss": None}})
    pipeline["trainer_phases"] = {"train": 120.0, "validation": 30.0, "export": 20.0}
    plain.update(fit_seconds=110.0, evaluate_seconds=15.0, warm_evaluate_seconds=10.0)
    # The script's own time leaves out the warm evaluation the stage adds: 150 - 10 s.
    assert pipeline_bench.plain_script_seconds(plain) == pytest.approx(140.0)
    text = "\n".join(pipeline_bench.extra_time_table(pipeline, plain))
    assert "| validation on the eval split after each epoch | 30.0 | 0.0 | +30.0 |" in text
    assert "| Trainer, the rest: user-module install, model build, reading class weights " \
        "| 30.0 | 0.0 | +30.0 |" in text
    # Evaluator 20 s against model.evaluate 15 s; the stage wall 300 s against 140 s.
    assert "| 20.0 | 15.0 | +5.0 |" in text and "| total | 300.0 | 140.0 | +160.0 |" in text
    # The rest: 300 - (15 + 20 + 120 + 30 + 20 + 30 + 20) = 45 s; 140 - 110 - 15 = 15 s.
    assert "metadata store | 45.0 | 15.0 | +30.0 |" in text
    del pipeline["trainer_phases"]
    assert pipeline_bench.extra_time_table(pipeline, plain) == []  # older results: no table
