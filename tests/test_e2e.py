"""The whole pipeline with LocalDagRunner on a small generated dataset, run once and rerun.

As TFX's penguin e2e tests do, the assertions read what the metadata store recorded. One run
(a cached rerun, and a stricter rerun) is shared by every test here and by
tests/test_report_e2e.py (the `runs` fixture in conftest.py): a run costs minutes on 2 cores.
The small sizes come from the pipeline config (image size, epochs, count), not from special code paths.
"""

import os

import numpy as np
import pytest

from oxford_pet import layout
from trainer import features

pytestmark = pytest.mark.e2e

IMAGE_SIZE = 64  # as the shared `runs` fixture (tests/conftest.py) sets it
EXPECTED_COMPONENTS = {
    "OxfordPetExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator",
    "AnomaliesGate", "Transform", "Trainer", "Evaluator", "VersionedPusher", "EvaluationReport",
}


def test_every_component_ran(runs):
    first = runs.first
    assert EXPECTED_COMPONENTS <= set(first.components)
    for node_id in EXPECTED_COMPONENTS:
        assert first.component(node_id).state == "COMPLETE", node_id


def test_examples_follow_the_official_splits(runs):
    first = runs.first
    examples = first.component("OxfordPetExampleGen").output("examples")
    assert {"Split-eval", "Split-train", "ingest"} <= set(os.listdir(examples.uri))
    for split in ("train", "eval"):  # 24 images, half per split, all clean
        assert examples.properties[f"{split}_listed"] == 12
        assert examples.properties[f"{split}_ingested"] == 12
        assert examples.properties[f"{split}_quarantined"] == 0


def test_a_blessed_model_was_pushed_as_version_1(runs):
    config, first = runs.config, runs.first
    assert first.blessed is True
    assert first.pushed_version == "1"
    assert first.pushed_destination == os.path.join(config.model_dir, "1")
    assert os.path.isfile(os.path.join(config.model_dir, "1", "saved_model.pb"))
    from serving.manifest import read_manifest

    assert read_manifest(config.model_dir, 1)["architecture"] == "unet_mobilenet_v2"


def test_pushed_model_turns_a_jpeg_into_a_mask(runs, jpeg_and_png):
    import tensorflow as tf

    config = runs.config
    model = tf.saved_model.load(os.path.join(config.model_dir, "1"))
    serve = model.signatures["serving_default"]
    outputs = serve(image_bytes=tf.constant(list(jpeg_and_png)))
    class_ids = outputs["class_ids"].numpy()
    probabilities = outputs["probabilities"].numpy()
    assert class_ids.shape == (2, IMAGE_SIZE, IMAGE_SIZE)
    assert set(np.unique(class_ids).tolist()) <= {0, 1, 2}
    assert probabilities.shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-4)


def test_evaluation_holds_per_class_pixel_metrics_by_species(runs):
    import tensorflow_model_analysis as tfma

    first = runs.first
    result = tfma.load_eval_result(first.evaluation_uri)
    slices = dict(result.slicing_metrics)
    listed = layout.read_list(os.path.join(runs.config.data_dir, layout.SPLIT_LISTS["eval"]))
    species = {features.SPECIES_NAMES[entry.species - 1] for entry in listed}
    breeds = {entry.name.rsplit("_", 1)[0] for entry in listed}
    assert len(breeds) > 1 and species  # the generated eval split: 12 images, several breeds
    assert set(slices) == ({()} | {(("species_name", name),) for name in species}
                           | {(("breed", name),) for name in breeds})
    overall = slices[()][""][""]
    for name in ("pixel_accuracy", "mean_iou", "pet_pixel_accuracy", "background_pixel_accuracy",
                 "border_pixel_accuracy", "pet_iou", "background_iou", "border_iou"):
        value = overall[name]["doubleValue"]
        assert 0.0 <= value <= 1.0, name
    counts = _matrix(overall, native=False)
    assert counts.sum() == 12 * IMAGE_SIZE * IMAGE_SIZE  # every eval pixel, counted once
    accuracy = np.trace(counts) / counts.sum()
    assert overall["pixel_accuracy"]["doubleValue"] == pytest.approx(accuracy)


def test_a_rerun_of_an_unchanged_run_is_fully_cached(runs):
    """The same command again: every component cached (the Evaluator's baseline is the latest
    blessed model other than the candidate, the same as the first run's: none), nothing
    pushed, and the summary says so."""
    from pipeline import node_ids

    config, first, second = runs.config, runs.first, runs.cached
    components = {node_id: run.state for node_id, run in second.components.items()
                  if node_id != node_ids.LATEST_BLESSED_MODEL}
    assert set(components.values()) == {"CACHED"} and len(components) == 10, components
    assert second.baseline_model_uri is None
    assert second.output(node_ids.EVALUATOR, "evaluation").uri == first.evaluation_uri
    assert (second.pushed_version, second.pushed_now) == ("1", False)
    from serving.versions import existing_versions

    assert existing_versions(config.model_dir) == [1]


def test_a_model_below_the_threshold_is_not_pushed(runs):
    config, strict = runs.config, runs.strict
    assert strict.component("Trainer").state == "CACHED"
    assert strict.component("Evaluator").state == "COMPLETE"
    assert strict.blessed is False
    assert strict.pushed_version is None
    from serving.versions import existing_versions

    assert existing_versions(config.model_dir) == [1]


# ---- quality at each image's own size, the gate, fine-tuning (on the same shared run) ----

def _eval_trimaps(config):
    """name -> the eval split's original trimap values [H, W], read from the dataset's files."""
    from PIL import Image

    from oxford_pet import layout

    entries = layout.read_list(os.path.join(config.data_dir, layout.SPLIT_LISTS["eval"]))
    return {entry.name: np.asarray(Image.open(layout.trimap_path(config.data_dir, entry.name)))
            for entry in entries}


def _overall(evaluation_uri):
    import tensorflow_model_analysis as tfma

    return dict(tfma.load_eval_result(evaluation_uri).slicing_metrics)[()][""][""]


def _matrix(overall, native: bool = True):
    """The 3x3 pixel confusion matrix from its nine cell metrics in TFMA's overall slice."""
    return np.array([[overall[features.confusion_cell_name(true, predicted, native)]["doubleValue"]
                      for predicted in features.CLASS_NAMES] for true in features.CLASS_NAMES],
                    dtype=np.int64)


def test_native_metrics_count_every_pixel_of_every_eval_image_at_its_own_size(runs):
    from trainer import metrics

    config, first = runs.config, runs.first
    overall = _overall(first.evaluation_uri)
    native = _matrix(overall)
    trimaps = _eval_trimaps(config)
    assert len(trimaps) == 12 and len({t.shape for t in trimaps.values()}) > 1  # sizes vary
    assert native.sum() == sum(t.size for t in trimaps.values()) != 12 * IMAGE_SIZE ** 2
    # Row sums are the true classes of the original trimaps, not of the resized ones.
    expected_rows = sum(np.bincount(t.ravel() - 1, minlength=3) for t in trimaps.values())
    np.testing.assert_array_equal(native.sum(axis=1), expected_rows)
    for name in ("native_pixel_accuracy", "native_mean_iou", "native_pet_iou",
                 "native_background_iou", "native_border_iou", "foreground_iou"):
        assert 0.0 <= overall[name]["doubleValue"] <= 1.0, name
    assert overall["native_pixel_accuracy"]["doubleValue"] == pytest.approx(
        np.trace(native) / native.sum())
    assert overall["foreground_iou"]["doubleValue"] == pytest.approx(
        metrics.foreground_iou(native))


def test_native_metrics_equal_an_independent_resize_of_the_pushed_models_logits(runs):
    """The pushed model's serving_examples logits on the raw eval examples, resized with
    tf.image.resize to each trimap file's size: the same matrix TFMA summed in Beam."""
    import tensorflow as tf

    from report import samples
    from trainer import features, metrics

    config, first = runs.config, runs.first
    model = tf.saved_model.load(os.path.join(config.model_dir, "1"))
    logits_of = model.signatures[features.EXAMPLES_SIGNATURE]
    trimaps = _eval_trimaps(config)
    examples = first.component("OxfordPetExampleGen").output("examples").uri
    total = np.zeros((3, 3), np.int64)
    for record in tf.data.TFRecordDataset(samples.eval_files(examples), compression_type="GZIP"):
        name = tf.train.Example.FromString(record.numpy()).features.feature[
            features.FILE_NAME_KEY].bytes_list.value[0].decode()
        trimap = trimaps.pop(name[:-len(".jpg")])
        logits = logits_of(examples=tf.reshape(record, [1]))[features.LOGITS_KEY][0]
        resized = tf.image.resize(logits[None], trimap.shape, method="bilinear")[0]
        total += metrics.confusion_matrix(trimap - 1, tf.argmax(resized, axis=-1).numpy())
    assert not trimaps  # every eval image once
    np.testing.assert_array_equal(total, _matrix(_overall(first.evaluation_uri)))


def test_the_native_pixel_accuracy_gates_by_default(runs):
    from pipeline import run_summary
    from runs import evaluation

    config, first, strict = runs.config, runs.first, runs.strict
    assert config.gate_metric == "native_pixel_accuracy"
    failures = run_summary.validation_failures(strict.evaluation_uri)
    assert failures and all(line.startswith("native_pixel_accuracy (") for line in failures)
    assert any("(overall)" in line and "below the minimum 0.9999" in line for line in failures)
    values = evaluation.overall_metrics(first.evaluation_uri)
    lines = run_summary.metric_lines(values, config.gate_metric, IMAGE_SIZE)
    accuracy = [line for line in lines if line.strip().startswith("pixel accuracy")][0]
    assert (f"{values['pixel_accuracy']:.4f}" in accuracy
            and f"{values['native_pixel_accuracy']:.4f}" in accuracy)  # side by side
    assert lines[-1].startswith("  gate: native_pixel_accuracy (pixel accuracy at each image")


def test_the_trainer_fine_tunes_a_pretrained_encoder_and_records_both_phases(runs, tmp_path):
    """run_fn itself on the shared run's Transform output, with encoder weights loaded from a
    file (the encoder's own random weights: ImageNet's cannot be downloaded here)."""
    import json

    import tf_keras as keras

    from trainer import features, train

    weights = str(tmp_path / "mobilenet_v2_no_top.h5")
    keras.applications.MobileNetV2(input_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), include_top=False,
                                   weights=None).save_weights(weights)
    fn_args = runs.run_fn_args(str(tmp_path), {
        "image_size": IMAGE_SIZE, "epochs": 1, "batch_size": 4, "encoder_weights": weights,
        "fine_tune_epochs": 1})
    train.run_fn(fn_args)
    info = json.load(open(tmp_path / "serving" / features.MODEL_INFO_FILE))
    assert info["encoder_pretrained"] is True and info["epochs"] == 1
    assert info["fine_tune"] == {"epochs": 1, "learning_rate": pytest.approx(1e-4), "ran": True}
    assert [(p["phase"], p["encoder"], p["first_epoch"]) for p in info["phases"]] == [
        ("train", "frozen", 1), ("fine-tune", "trained, BatchNorm in inference mode", 2)]
    assert info["phases"][1]["trainable_parameters"] > info["phases"][0]["trainable_parameters"]
    history = json.load(open(tmp_path / "run" / features.TRAINING_HISTORY_FILE))
    assert history["phase"] == [1.0, 2.0] and len(history["loss"]) == 2
    assert os.path.isfile(tmp_path / "serving" / "saved_model.pb")
