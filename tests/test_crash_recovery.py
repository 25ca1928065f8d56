"""A run SIGKILLed while the Trainer runs, and a second run started meanwhile on the same
pipeline root, through the real command line (local_runner.py in subprocesses).

One killed run and one rerun are shared by the tests here (24 generated images, 64 px, 2
epochs, no encoder weights: the sizes come from flags, not from special code paths). The
assertions read what the metadata store and the serving directory hold afterwards.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BEFORE_TRAINER = ("OxfordPetExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator",
                  "Transform")
TRAINER_START_TIMEOUT = 900  # seconds; 2 shared cores and a cold TFX import are slow
RUN_TIMEOUT = 1800


def _wait_for(condition, timeout: float, what: str, process: subprocess.Popen, log: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            pytest.fail(f"the run ended ({process.returncode}) before {what}:\n"
                        + open(log).read()[-3000:])
        time.sleep(0.5)
    process.kill()
    pytest.fail(f"no {what} after {timeout} s:\n" + open(log).read()[-3000:])


def _trainer_state(metadata_path: str, pipeline_name: str):
    """The Trainer's state in the latest run, or None (also while the store is busy)."""
    from pipeline import run_summary

    try:
        summary = run_summary.summarize(metadata_path, pipeline_name)
    except Exception:  # the writer holds the database for a moment, or has not created it
        return None
    trainer = summary.component("Trainer") if summary else None
    return trainer.state if trainer else None


@pytest.fixture(scope="module")
def crash(tmp_path_factory):
    from oxford_pet import demo
    from pipeline import run_summary
    from runs import metadata, store_health

    work = tmp_path_factory.mktemp("crash")
    data_dir = str(work / "data")
    demo.make_demo_data(data_dir, count=24, seed=7, min_size=80, max_size=140)
    command = [sys.executable, os.path.join(REPO, "local_runner.py"), "--data-dir", data_dir,
               "--work-dir", str(work / "work"), "--image-size", "64", "--epochs", "2",
               "--batch-size", "4", "--encoder-weights", "none", "--min-pixel-accuracy", "0"]
    root = work / "work" / "pipeline_root"
    metadata_path, model_dir = str(root / "metadata.sqlite"), str(work / "work" / "serving"
                                                                  / "pet_unet")
    first_log = str(work / "first.log")
    with open(first_log, "w") as log:
        first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                                 start_new_session=True)  # its own group: kill pip etc. too
    try:
        _wait_for(lambda: "Component Trainer is running" in open(first_log).read(),
                  TRAINER_START_TIMEOUT, "Trainer start", first, first_log)
        time.sleep(5)  # past its registration: the store is not written while it trains
        _wait_for(lambda: _trainer_state(metadata_path, "pet-segmentation") == "RUNNING",
                  120, "RUNNING Trainer execution in MLMD", first, first_log)

        # Meanwhile the same command again: refused at once, naming the running one.
        second = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                                timeout=300)
        time.sleep(3)  # into the Trainer's work
        assert first.poll() is None, "the first run ended before it could be killed"
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    killed_versions = sorted(os.listdir(model_dir)) if os.path.isdir(model_dir) else []
    killed_trainer = _trainer_state(metadata_path, "pet-segmentation")
    left_running = [execution.id for execution in metadata.open_store(metadata_path)
                    .get_executions() if execution.last_known_state == store_health.RUNNING]
    left_dirs = [path for execution_id in left_running
                 for path in store_health._directories_of(str(root), execution_id)]

    rerun = subprocess.run(command, capture_output=True, text=True, cwd=REPO,
                           timeout=RUN_TIMEOUT)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-5000:]
    store = metadata.open_store(metadata_path)
    return dict(first=first, second=second, killed_versions=killed_versions,
                killed_trainer=killed_trainer, rerun=rerun, model_dir=model_dir,
                left_running=left_running, left_dirs=left_dirs,
                executions={e.id: e for e in store.get_executions()},
                summary=run_summary.summarize(metadata_path, "pet-segmentation"),
                run_ids=metadata.run_ids(store, "pet-segmentation"))


def test_the_kill_hit_a_running_trainer_and_pushed_nothing(crash):
    assert crash["first"].returncode == -signal.SIGKILL
    assert crash["killed_trainer"] == "RUNNING"  # never finished: the store says so
    assert crash["killed_versions"] == []


def test_a_second_run_meanwhile_stops_at_once_naming_the_first(crash):
    second = crash["second"]
    assert second.returncode == 75
    assert f"is in use by pid {crash['first'].pid}" in second.stderr
    assert "--wait-for-lock" in second.stderr
    assert "Loading TFX" not in second.stdout  # stopped before touching the store


def test_the_rerun_reuses_what_finished_and_pushes_exactly_one_version(crash):
    from serving.manifest import read_manifest
    from serving.versions import existing_versions

    summary = crash["summary"]
    assert len(crash["run_ids"]) == 2  # the killed run and the rerun; the refused one none
    for node_id in BEFORE_TRAINER:
        assert summary.component(node_id).state == "CACHED", node_id
    for node_id in ("Trainer", "Evaluator", "VersionedPusher"):
        assert summary.component(node_id).state == "COMPLETE", node_id
    assert summary.pushed_version == "1"
    assert existing_versions(crash["model_dir"]) == [1]
    assert not [name for name in os.listdir(crash["model_dir"]) if name.startswith(".incoming")]
    assert f"Pushed version 1 to {crash['model_dir']}/1" in crash["rerun"].stdout

    manifest = read_manifest(crash["model_dir"], 1)
    assert manifest["version"] == 1 and manifest["architecture"] == "unet_mobilenet_v2"
    metrics = manifest["blessing"]["metrics"]
    assert 0.0 <= metrics["pixel_accuracy"] <= 1.0 and "mean_iou" in metrics
    assert manifest["blessing"]["blessed"] is True
    assert manifest["blessing"]["baseline"] is None  # nothing blessed before it
    examples = summary.component("OxfordPetExampleGen").output("examples")
    assert manifest["data"]["uri"] == examples.uri
    assert manifest["data"]["span"] == 0 and manifest["data"]["input_fingerprint"]
    assert manifest["data"]["splits"]["train"]["ingested"] == 12
    trained = manifest["config"]["trainer"]  # PipelineConfig as data: trainer settings nested
    assert trained["image_size"] == 64 and trained["epochs"] == 2
    assert manifest["packages"]["tfx"] == "1.16.0"


def test_the_rerun_closes_what_the_killed_run_left_running_and_removes_its_partial_output(crash):
    from runs import store_health

    assert len(crash["left_running"]) == 1 and crash["left_dirs"]  # the Trainer's
    assert any("/Trainer/" in path for path in crash["left_dirs"])
    for execution_id in crash["left_running"]:
        execution = crash["executions"][execution_id]
        assert execution.last_known_state == store_health.CANCELED
        assert "ended without recording an end" in \
            execution.custom_properties[store_health.ABANDONED_KEY].string_value
    assert not [path for path in crash["left_dirs"] if os.path.exists(path)]
    assert not [e for e in crash["executions"].values()
                if e.last_known_state in (store_health.NEW, store_health.RUNNING)]
    assert "Closed 1 execution(s) an earlier run left running" in crash["rerun"].stdout
