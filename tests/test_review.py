"""Reviewing a run the way TFX users do: TensorBoard on the Trainer's logs, TFMA's own API on the
evaluation, and the review notebook, on the shared pipeline run (conftest `runs`)."""

import glob
import os
import subprocess
import sys

import pytest

BIN = os.path.dirname(sys.executable)


def test_tensorboard_starts_from_the_projects_environment():
    """setuptools < 81 in the lock: TensorBoard 2.16 imports pkg_resources."""
    result = subprocess.run([os.path.join(BIN, "tensorboard"), "--version"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "2.16.2"


def _events(directory: str):
    """{tag: [(step, value or image count)]} of the TensorBoard event files in `directory`."""
    import tensorflow as tf
    from tensorboard.backend.event_processing import event_accumulator

    found = {}
    for path in glob.glob(os.path.join(directory, "events.out.tfevents.*")):
        accumulator = event_accumulator.EventAccumulator(path, size_guidance={"tensors": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["tensors"]:
            found[tag] = [(event.step, tf.make_ndarray(event.tensor_proto))
                          for event in accumulator.Tensors(tag)]
    return found


@pytest.mark.e2e
def test_the_trainer_logs_what_a_reviewer_wants_per_epoch(runs):
    """Loss, pixel accuracy and mean IoU for train and validation, the learning rate, and sample
    predictions as images, every epoch (2 here)."""
    model_run = runs.first.component("Trainer").output("model_run").uri
    train, validation = _events(os.path.join(model_run, "train")), _events(
        os.path.join(model_run, "validation"))
    for tag in ("epoch_loss", "epoch_accuracy", "epoch_mean_iou"):
        assert [step for step, _ in train[tag]] == [0, 1], tag
        assert [step for step, _ in validation[tag]] == [0, 1], tag
    for _, value in train["epoch_mean_iou"] + validation["epoch_accuracy"]:
        assert 0.0 <= float(value) <= 1.0
    assert [float(value) for _, value in train["epoch_learning_rate"]] == pytest.approx(
        [runs.config.trainer.learning_rate] * 2)
    [(tag, images)] = _events(os.path.join(model_run, "samples")).items()
    assert tag.startswith("validation: input | true mask | predicted mask")
    assert [step for step, _ in images] == [0, 1]
    # An image summary: width, height, then PNG bytes of up to 3 examples, three panels wide.
    width, height = (int(value) for value in images[-1][1][:2])
    assert (width, height) == (3 * 64, 64) and 2 < len(images[-1][1]) <= 5


NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "notebooks",
                        "review.ipynb")


def _outputs(notebook):
    """Every cell's text outputs (streams and text/plain), joined, and the MIME types shown."""
    texts, shown = [], set()
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{output.ename}: {output.evalue}"
            texts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
            shown.update(output.get("data", {}))
    return "\n".join(texts), shown


@pytest.mark.e2e
def test_the_review_notebook_runs_headless_on_the_latest_run(runs, monkeypatch):
    """notebooks/review.ipynb on the shared run's latest (strict: not blessed) run, executed by
    nbclient as `jupyter nbconvert --execute` would: no cell fails and each part shows."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("PETSEG_PIPELINE_ROOT", runs.config.pipeline_root)
    monkeypatch.setenv("PETSEG_PIPELINE_NAME", runs.config.pipeline_name)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": os.path.dirname(NOTEBOOK)}}).execute()
    text, shown = _outputs(notebook)
    assert f"blessed: False | pushed version: {runs.strict.pushed_version}" in text
    assert "validation_ok: False" in text  # the strict gate fails the candidate
    breeds = int(text.split(" breed slices")[0].split()[-1])  # the widget's data, one per breed
    assert 1 <= breeds <= 37
    assert f"slices: {1 + 2 + breeds}" in text  # the eval split, cat, dog and each breed
    for species in ("cat", "dog"):
        assert f"\n{species} " in text  # a row per species in the table
    assert "worst breeds" in text and "native_pixel_accuracy" in text
    assert "at each image's own size [[" in text
    assert "TensorBoard:" in text and runs.first.output("Trainer", "model_run").uri in text
    assert {"image/svg+xml", "text/html"} <= shown  # the charts and the sample predictions
