"""A split left with no examples after quarantine stops the real command before training.

(An empty or wrong dataset never gets this far: tests/test_config_and_runner.py shows the
runner refusing it before TFX loads.) One small run of local_runner.py in a subprocess.
"""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_split_with_nothing_left_after_quarantine_stops_before_training(tmp_path):
    from oxford_pet import demo, layout
    from pipeline import run_summary

    data_dir = str(tmp_path / "data")
    demo.make_demo_data(data_dir, count=8, seed=2, min_size=64, max_size=96)
    eval_names = [entry.name for entry in layout.read_list(
        os.path.join(data_dir, layout.SPLIT_LISTS["eval"]))]
    assert eval_names
    for name in eval_names:  # every eval image unreadable: all quarantined
        with open(layout.image_path(data_dir, name), "wb") as handle:
            handle.write(b"not an image")
    work = tmp_path / "work"
    result = subprocess.run(
        [sys.executable, os.path.join(REPO, "local_runner.py"), "--data-dir", data_dir,
         "--work-dir", str(work), "--image-size", "64", "--epochs", "1",
         "--encoder-weights", "none"], capture_output=True, text=True, cwd=REPO, timeout=1200)

    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-4000:]
    assert "error: the pipeline stopped: IngestError: ingest stopped: eval: no examples left " \
           "to evaluate on" in result.stderr
    assert "quarantine.jsonl" in result.stderr
    summary = run_summary.summarize(str(work / "pipeline_root" / "metadata.sqlite"),
                                    "pet-segmentation")
    assert summary.component("OxfordPetExampleGen").state == "FAILED"
    for node_id in ("Transform", "Trainer", "Evaluator", "VersionedPusher"):
        assert summary.component(node_id) is None, node_id  # never started
    assert not (work / "serving").exists()
