"""Reviewing a run the way TFX users do: TensorBoard on the Trainer's logs, TFMA's own API on the
evaluation, and the review notebook, on the shared pipeline run (conftest `runs`)."""

import glob
import os
import re
import subprocess
import sys

import pytest

from tests import readme

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


NOTEBOOK_LAB = "$ENV/bin/jupyter lab notebooks/review.ipynb"
NOTEBOOK_HEADLESS = "$ENV/bin/jupyter nbconvert --to html --execute notebooks/review.ipynb"
TENSORBOARD = "$ENV/bin/tensorboard --logdir workdir/pipeline_root/Trainer/model_run"


@pytest.mark.readme_command(NOTEBOOK_LAB, help_only=True)  # a server: its help only
@pytest.mark.readme_command(TENSORBOARD, help_only=True)
def test_the_review_servers_start_from_the_projects_environment():
    for command in (NOTEBOOK_LAB, TENSORBOARD):
        result = readme.run_help(command)
        assert result.returncode == 0 and "--help" not in result.stderr[-300:], result.stderr


def _output_text(page: str) -> str:
    """The text of nbconvert's output areas only (not the cells' code, which names the same
    things), joined by newlines."""
    from html.parser import HTMLParser

    class Outputs(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth = 0  # > 0 inside an output area: its open <div>s
            self.texts = []

        def handle_starttag(self, tag, attrs):
            if tag != "div":
                return
            if self.depth:
                self.depth += 1
            elif "jp-OutputArea-output" in (dict(attrs).get("class") or "").split():
                self.depth = 1

        def handle_endtag(self, tag):
            if tag == "div" and self.depth:
                self.depth -= 1

        def handle_data(self, data):
            if self.depth:
                self.texts.append(data)

    parser = Outputs()
    parser.feed(page)
    return "".join(parser.texts)


@pytest.mark.e2e
@pytest.mark.readme_command(NOTEBOOK_HEADLESS)
def test_the_review_notebook_runs_headless_on_the_latest_run(runs, tmp_path):
    """notebooks/review.ipynb, executed as README shows, on the shared run's latest run (the
    strict one: not blessed): no cell fails (nbconvert exits non-zero) and each part shows."""
    sandbox = readme.sandbox(tmp_path)
    result = readme.run(NOTEBOOK_HEADLESS, cwd=sandbox, timeout=600, env={
        "PETSEG_PIPELINE_ROOT": runs.config.pipeline_root,
        "PETSEG_PIPELINE_NAME": runs.config.pipeline_name})
    assert result.returncode == 0, result.stderr[-3000:]
    with open(os.path.join(sandbox, "notebooks", "review.html"), encoding="utf-8") as page_file:
        page = page_file.read()
    text = _output_text(page)
    assert "blessed: False | pushed version: None" in text
    assert "validation_ok: False" in text  # the strict gate fails the candidate
    breeds = int(re.search(r"(\d+) breed slices", text).group(1))  # the widget's data
    assert 1 <= breeds <= 37
    assert f"slices: {1 + 2 + breeds}" in text  # the eval split, cat, dog and each breed
    for name in ("species_name", "cat", "dog", "worst breeds", "native_pixel_accuracy",
                 "at each image's own size [[", "TensorBoard:",
                 runs.first.output("Trainer", "model_run").uri):
        assert name in text, name
    assert page.count('src="data:image/svg+xml;base64,') == 3  # 2 confusion matrices, the loss
    pictures = [tag for tag in re.findall(r"<img [^>]*>", page)
                if re.search(r'alt="(input|true mask|predicted mask)"', tag)]
    assert len(pictures) == 9  # the 3 worst examples, 3 pictures each
    assert all('src="data:image/png;base64,' in tag for tag in pictures)
    assert "FutureWarning" not in text and "tensorflow/core" not in text  # no log noise
