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
