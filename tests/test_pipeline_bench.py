"""bench/pipeline_figures.py's arithmetic on recorded numbers, its rendering, and
bench/pipeline_bench.py's helpers (nothing is timed)."""

import argparse
import copy
import os
import subprocess
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)
import pipeline_bench  # noqa: E402
import pipeline_figures  # noqa: E402


def _stage(seconds, gib=1.0, steal=0.02):
    return {"stage_wall_seconds": seconds, "stage_peak_rss": gib * 2 ** 30,
            "load_average": 1.0, "steal": steal}


def _epochs(train, validation, count=2):
    return [{"train_seconds": train, "validation_seconds": validation} for _ in range(count)]


def _size(count, scale=1.0):
    """Recorded results of one size; the pipeline 300 s, the seed flow 200 s, the script 150 s."""
    components = {
        "OxfordPetExampleGen": {"seconds": 15.0, "start": 5.0, "peak_rss": 2 ** 30},
        "StatisticsGen": {"seconds": 5.0, "start": 20.0, "peak_rss": None},
        "Transform": {"seconds": 20.0 * scale, "start": 25.0, "peak_rss": scale * 2 ** 30},
        "Trainer": {"seconds": 150.0, "start": 50.0, "peak_rss": 2 * 2 ** 30},
        "Evaluator": {"seconds": 20.0, "start": 200.0, "peak_rss": None},
        "VersionedPusher": {"seconds": 1.0, "start": 220.0, "peak_rss": None},
        "EvaluationReport": {"seconds": 9.0, "start": 221.0, "peak_rss": None}}
    return {
        "count": count,
        "params": {"architecture": "unet_mobilenet_v2", "image_size": 128, "epochs": 2,
                   "batch_size": 16, "train_encoder": False},
        "ingest": dict(_stage(10.0), plain_rate=100.0, beam_rate=70.0),
        "pipeline": dict(_stage(308.0, 2.0 * scale), wall_seconds=300.0,
                         components=components, pixel_accuracy=0.9,
                         trainer_timings={"setup_seconds": 4.0, "xla_check_seconds": 0.0,
                                          "epochs": _epochs(50.0, 10.0),
                                          "train_seconds": 100.0, "validation_seconds": 20.0,
                                          "fit_other_seconds": 1.0, "export_seconds": 15.0,
                                          "run_fn_seconds": 140.0}),
        "seed": dict(_stage(200.0, 1.5), pixel_accuracy=0.68, evaluate_seconds=20.0,
                     epochs=[{"train_seconds": 90.0, "validation_seconds": 5.0},
                             {"train_seconds": 55.0, "validation_seconds": 5.0}]),
        "plain": dict(_stage(150.0), pixel_accuracy=0.8, eval_images=count // 2,
                      evaluate_rate=50.0, fit_seconds=120.0, evaluate_seconds=10.0,
                      epochs=_epochs(50.0, 8.0)),
        "transform": dict(_stage(10.0), examples=count, plain_rate=count / 25.0,
                          plain_rate_one_thread=30.0),
        "train": dict(_stage(10.0, 3.0), input_rate=400.0, input_rate_one_thread=300.0,
                      epochs=2, input_rate_files=200.0, input_rate_files_one_thread=120.0,
                      trainer_step_rate=19.0, memory_step_rate=20.0, tutorial_step_rate=19.5,
                      trainer_median_step_rate=19.5, memory_median_step_rate=20.0,
                      tutorial_median_step_rate=20.0, trainer_timed_steps=126,
                      trainer_first_step_seconds=20.0, tutorial_first_step_seconds=60.0),
        "serving": dict(_stage(10.0), serving={"p50": 0.05, "p95": 0.07, "batch_rate": 40.0},
                        predict={"p50": 0.1, "p95": 0.2, "batch_rate": 45.0},
                        call={"p50": 0.04, "p95": 0.05, "batch_rate": 50.0}),
    }


def _rows(figures, start):
    return {item["figure"]: item for item in figures["rows"] + figures["full_rows"]
            if item["figure"].startswith(start)}


def test_median_rate_is_the_batch_over_the_median_full_step():
    # A stalled step (3.0 s) and the short last batch do not move it: 16 images / 0.5 s.
    assert pipeline_bench.median_rate([0.5, 0.4, 3.0, 0.6, 0.5, 0.1], [16] * 5 + [4]) == \
        pytest.approx(32.0)


def test_cpu_steal_share_between_two_readings():
    before = {"user": 100, "idle": 100, "steal": 0}
    after = {"user": 150, "idle": 130, "steal": 20}
    assert pipeline_bench.steal_share(before, after) == pytest.approx(0.2)
    assert pipeline_bench.steal_share(None, after) is None
    ticks = pipeline_bench.cpu_ticks()  # this Linux machine's /proc/stat: 8 kinds, counting
    assert set(ticks) == {"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"}
    assert sum(ticks.values()) > 0 and min(ticks.values()) >= 0


def test_percentiles_are_values_that_were_measured():
    values = [0.5, 0.1, 0.3, 0.2, 0.4]
    assert pipeline_bench.percentile(values, 0.5) == 0.3
    assert pipeline_bench.percentile(values, 0.95) == 0.5
    assert [pipeline_figures.cores(n) for n in (0.2, 1.0, 1.01, 4.2)] == [1, 1, 2, 5]


def test_end_to_end_rows_against_both_references():
    figures = pipeline_figures.compute({"main": _size(2000)})
    rows = _rows(figures, "")
    seed = rows["End to end vs the seed flow (ratio)"]
    # local_runner.py's own 300 s, not its benchmark stage's 308 s (bookkeeping around it)
    assert seed["ratio"] == pytest.approx(1.5) and seed["met"] is False  # 300 s vs 200 s
    over_seed = rows["Pipeline overhead over the seed flow (s)"]
    assert over_seed["ours"] == pytest.approx(100.0) and over_seed["met"] is False  # <= 0 s
    over_plain = rows["Pipeline overhead over the tuned script (s)"]
    assert over_plain["ours"] == pytest.approx(150.0) and over_plain["met"] is False  # <= 60
    faster = _size(2000)
    faster["pipeline"]["wall_seconds"] = 190.0
    rows = _rows(pipeline_figures.compute({"main": faster}), "")
    assert rows["End to end vs the seed flow (ratio)"]["met"] is True
    assert rows["Pipeline overhead over the seed flow (s)"]["ours"] == pytest.approx(-10.0)
    assert rows["Pipeline overhead over the tuned script (s)"]["met"] is True  # 40 s


def test_training_serving_and_memory_rows():
    figures = pipeline_figures.compute({"small": _size(500, 0.5), "main": _size(2000)})
    rows = _rows(figures, "")
    fed = next(item for name, item in rows.items() if name.startswith("Training steps fed"))
    assert "input overhead 2.5%, median of 126 steps each" in fed["figure"]  # 1 - 19.5/20
    assert fed["ratio"] == pytest.approx(0.975) and fed["met"] is True
    assert rows["Serving p50, 1 JPEG per request (ms)"]["ratio"] == pytest.approx(0.5)
    memory = next(item for name, item in rows.items() if name.startswith("Peak memory"))
    assert memory["ours"] == pytest.approx(3.0) and memory["met"] is True  # train: 3 GiB
    assert "500, 2,000 images: 1.00, 2.00 (at most linear)" in memory["figure"]
    # Transform: 1,500 more examples in 10 s more -> 150/s a marginal example, 7 s fixed.
    between = rows["Transform, per example between 500 and 2000 images (fixed cost 7 s left "
                   "out)"]
    assert between["ours"] == pytest.approx(150.0)
    grown = {"small": _size(500, 0.5), "main": _size(2000)}
    grown["main"]["pipeline"]["stage_peak_rss"] = 5 * 2 ** 30  # 5x for 4x the images
    memory = next(item for item in pipeline_figures.compute(grown)["rows"]
                  if item["figure"].startswith("Peak memory"))
    assert memory["met"] is False and "(more than linear)" in memory["figure"]


def test_the_time_split_adds_up_to_each_flows_wall_time():
    split = pipeline_figures.compute({"main": _size(2000)})["split"]
    by_work = {item["work"].split(" (")[0].split(":")[0]: item for item in split}
    assert by_work["training epochs"]["pipeline"] == 100.0
    assert by_work["training epochs"]["seed"] == 145.0  # 90 + 55
    assert by_work["validation after each epoch"]["plain"] == 16.0
    # Trainer 150 s less training 100, validation 20, export 15.
    assert by_work["Trainer, the rest"]["pipeline"] == pytest.approx(15.0)
    total = by_work["total"]
    for flow in ("pipeline", "seed", "plain"):
        assert sum(item[flow] for item in split[:-1]) == pytest.approx(total[flow])
    assert (total["pipeline"], total["seed"], total["plain"]) == (300.0, 200.0, 150.0)


def test_the_full_shape_is_projected_from_its_last_epoch_and_fixed_part():
    full = _size(7349)
    figures = pipeline_figures.compute({"main": _size(2000), "full": full}, project_epochs=20)
    by_flow = {item["flow"]: item for item in figures["projection"]}
    # The pipeline: 60 s an epoch (50 + 10), fixed 300 - 2 x 60 = 180 s, 20 epochs: 1,380 s.
    assert by_flow["pipeline"]["per_epoch_seconds"] == 60.0
    assert by_flow["pipeline"]["fixed_seconds"] == 180.0
    assert by_flow["pipeline"]["projected_seconds"] == 1380.0
    # The seed flow: its last epoch 60 s, fixed 200 - 120 = 80 s: 1,280 s.
    assert by_flow["seed"]["projected_seconds"] == 1280.0
    assert by_flow["plain"]["projected_seconds"] == 150 - 2 * 58 + 20 * 58  # 1,194 s
    rows = _rows(figures, "End to end vs the")
    seed = rows["End to end vs the seed flow at the full dataset's shape, 20 epochs projected "
                "(ratio)"]
    assert seed["ratio"] == pytest.approx(1380 / 1280) and seed["met"] is False  # <= 1.0x
    plain = rows["End to end vs the tuned script at the full dataset's shape, 20 epochs "
                 "projected (ratio)"]
    assert plain["ratio"] == pytest.approx(1380 / 1194) and plain["target"]["bound"] == 1.05
    measured = rows["End to end vs the seed flow (ratio) at the full dataset's shape, 2 epochs "
                    "measured"]
    assert measured["ratio"] == pytest.approx(1.5)  # the measured run's own walls


def test_render_only_formats_what_compute_gave():
    figures = pipeline_figures.compute({"small": _size(500, 0.5), "main": _size(2000),
                                        "full": _size(7349)})
    facts = {"date": "2026-12-01", "machine": "2 cores", "gpus": 0, "versions": "tfx 1.16.0",
             "command": "bench/pipeline_bench.py --count 2000", "note": "x", "report": False,
             "min_size": 300, "max_size": 500}
    text = pipeline_figures.render(figures, facts, "Some reading.")
    assert "| End to end vs the seed flow (ratio) | 300.0 s | the seed flow " in text
    assert "| 200.0 s | 1.50x | <= 1x (missed) |" in text
    assert "| Pipeline overhead over the seed flow (s) | 100.0 s |  |  |  | <= 0 s (missed) |" \
        in text
    assert "| Serving p50, 1 JPEG per request (ms) | 50.0 ms | model.predict, 1 pre-decoded " \
           "array | 100.0 ms | 0.50x | <= 1.25x (met) |" in text
    assert "| Transform | 20.0 | 7% | 0.50 | 1.00 |" in text  # per component, both sizes
    # per stage: the stage's process, bookkeeping included (308 s; end to end uses 300 s)
    assert "| pipeline | 308 | 1.00 | 2% | 308 | 2.00 | 2% | 308 | 2.00 | 2% |" in text
    assert "| the pipeline | 300 | 60.0 | 180 | 1380 |" in text
    assert "Nothing here ran on a GPU" in text and "need about 5 core(s)" in text
    assert "--count 2000" in text and "- note: x" in text and "## Reading\n\nSome reading." \
        in text
    # Rendering does no arithmetic of its own: changed figures show as they are.
    changed = copy.deepcopy(figures)
    changed["rows"][0]["ours"] = 12345.0
    assert "12,345.0 ex/s" in pipeline_figures.render(changed, facts)


def test_importing_the_benchmark_changes_neither_sys_path_nor_the_environment():
    code = ("import os, sys; before = (list(sys.path), dict(os.environ)); "
            f"sys.path.insert(0, {BENCH!r}); sys.path.remove({BENCH!r}); "
            f"import importlib.util as u; spec = u.spec_from_file_location('b', "
            f"{os.path.join(BENCH, 'pipeline_bench.py')!r}); m = u.module_from_spec(spec); "
            "spec.loader.exec_module(m); print((list(sys.path), dict(os.environ)) == before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": ""}, check=True).stdout
    assert out.strip() == "True"


def test_the_seed_flow_is_the_tutorials_code_at_the_pipelines_settings():
    params = {"data_dir": "/d", "image_size": 128, "batch_size": 16, "epochs": 2,
              "train_encoder": False}
    command = pipeline_bench.seed_command(params, "/r.json")
    assert command[1].endswith(os.path.join("bench", "seed_flow.py"))
    assert command[2:] == ["--data-dir", "/d", "--image-size", "128", "--batch-size", "16",
                           "--epochs", "2", "--result", "/r.json"]
    pipeline = pipeline_bench.pipeline_command(dict(params, work_dir="/w",
                                                    architecture="unet_mobilenet_v2"))
    assert "--freeze-encoder" in pipeline  # the same frozen encoder as the tutorial's
    assert "--validation-freq" not in pipeline  # the default: after every epoch
    source = open(os.path.join(BENCH, "seed_flow.py")).read()
    for line in ("down_stack.trainable = args.train_encoder", "validation_steps=validation_steps",
                 ".cache().shuffle(buffer_size)", "model.evaluate(test_batches",
                 "tf.keras.applications.MobileNetV2("):
        assert line in source


def test_report_arguments_parse():
    args = argparse.Namespace(argv=["--report"], note="", report=True, min_size=300,
                              max_size=500)
    facts = pipeline_figures.run_facts(args)
    assert facts["report"] is True and "tfx" in facts["versions"]


@pytest.mark.parametrize("stage", ["seed", "plain"])
def test_the_two_references_run_as_the_benchmark_runs_them(stage, tmp_path, monkeypatch):
    """The seed flow and the tuned script, each its own command line as `run_stage` builds it
    (the same environment), on 16 generated images at 32 px for one epoch: they finish and
    write the figures the tables read. Their own dataset: the shared one is edited by other
    tests. TF_USE_LEGACY_KERAS is set as importing tf.Transform sets it (as in the full
    suite): the seed flow must still get Keras 3."""
    import json

    from oxford_pet import demo

    data_dir = str(tmp_path / "data")
    demo.make_demo_data(data_dir, count=16, seed=3, min_size=64, max_size=96)
    params = {"data_dir": data_dir, "work_dir": str(tmp_path / "w"),
              "architecture": "unet_mobilenet_v2", "image_size": 32, "batch_size": 4,
              "epochs": 1, "train_encoder": False}
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")
    result = str(tmp_path / "result.json")
    done = subprocess.run(pipeline_bench.stage_command(stage, params, result),
                          cwd=pipeline_bench.REPO, env=pipeline_bench.child_environment(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.load(open(result))
    assert 0.0 <= figures["pixel_accuracy"] <= 1.0
    assert len(figures["epochs"]) == 1
    assert figures["epochs"][0]["train_seconds"] > 0
    assert figures["epochs"][0]["validation_seconds"] >= 0
    if stage == "seed":
        assert figures["keras"].startswith("3."), figures["keras"]  # tf.keras as users have it
