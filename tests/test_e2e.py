"""The whole pipeline with LocalDagRunner on a small generated dataset, run once and rerun.

As TFX's penguin e2e tests do, the assertions read what the metadata store recorded. One run
(a cached rerun, and a stricter rerun) is shared by every test here and by
tests/test_report_e2e.py (the `runs` fixture in conftest.py): a run costs minutes on 2 cores.
The small sizes come from the pipeline config (image size, epochs, count), not from special code paths.
"""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

IMAGE_SIZE = 64  # as the shared `runs` fixture (tests/conftest.py) sets it
EXPECTED_COMPONENTS = {
    "OxfordPetExampleGen", "ImportSchemaGen", "StatisticsGen", "ExampleValidator",
    "AnomaliesGate", "Transform", "Trainer", "Evaluator", "VersionedPusher", "EvaluationReport",
}


def test_every_component_ran(runs):
    _, first, _, _ = runs
    assert EXPECTED_COMPONENTS <= set(first.components)
    for node_id in EXPECTED_COMPONENTS:
        assert first.component(node_id).state == "COMPLETE", node_id


def test_examples_follow_the_official_splits(runs):
    _, first, _, _ = runs
    from pipeline.run_summary import int_property

    examples = first.component("OxfordPetExampleGen").output("examples")
    assert {"Split-eval", "Split-train", "ingest"} <= set(os.listdir(examples.uri))
    for split in ("train", "eval"):  # 24 images, half per split, all clean
        assert int_property(examples, f"{split}_listed") == 12
        assert int_property(examples, f"{split}_ingested") == 12
        assert int_property(examples, f"{split}_quarantined") == 0


def test_a_blessed_model_was_pushed_as_version_1(runs):
    config, first, _, _ = runs
    assert first.blessed is True
    assert first.pushed_version == "1"
    assert first.pushed_destination == os.path.join(config.model_dir, "1")
    assert os.path.isfile(os.path.join(config.model_dir, "1", "saved_model.pb"))
    from components.model_versions import read_manifest

    assert read_manifest(config.model_dir, 1)["architecture"] == "unet_mobilenet_v2"


def test_pushed_model_turns_a_jpeg_into_a_mask(runs, jpeg_and_png):
    import tensorflow as tf

    config, _, _, _ = runs
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

    _, first, _, _ = runs
    result = tfma.load_eval_result(first.evaluation_uri)
    slices = dict(result.slicing_metrics)
    assert () in slices and (("species", 0),) in slices and (("species", 1),) in slices
    overall = slices[()][""][""]
    for name in ("pixel_accuracy", "mean_iou", "pet_pixel_accuracy", "background_pixel_accuracy",
                 "border_pixel_accuracy", "pet_iou", "background_iou", "border_iou"):
        value = overall[name]["doubleValue"]
        assert 0.0 <= value <= 1.0, name
    matrix = overall["pixel_confusion_matrix"]["arrayValue"]
    counts = np.array(matrix.get("int64Values") or matrix.get("int32Values"), dtype=np.int64)
    assert counts.size == 9
    assert counts.sum() == 12 * IMAGE_SIZE * IMAGE_SIZE  # every eval pixel, counted once
    accuracy = np.trace(counts.reshape(3, 3)) / counts.sum()
    assert overall["pixel_accuracy"]["doubleValue"] == pytest.approx(accuracy)


def test_rerun_hits_the_cache_and_pushes_no_duplicate(runs):
    config, _, second, _ = runs
    for node_id in ("OxfordPetExampleGen", "StatisticsGen", "ExampleValidator", "Transform",
                    "Trainer"):
        assert second.component(node_id).state == "CACHED", node_id
    # The latest blessed model is now the candidate itself, so Evaluator runs again; the
    # Pusher recognises the model it already pushed.
    assert second.pushed_version == "1"
    from components.model_versions import existing_versions

    assert existing_versions(config.model_dir) == [1]


def test_a_model_below_the_threshold_is_not_pushed(runs):
    config, _, _, strict = runs
    assert strict.component("Trainer").state == "CACHED"
    assert strict.component("Evaluator").state == "COMPLETE"
    assert strict.blessed is False
    assert strict.pushed_version is None
    from components.model_versions import existing_versions

    assert existing_versions(config.model_dir) == [1]
