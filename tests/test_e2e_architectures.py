"""The pipeline with the Xception-style U-Net and analyzer-computed class weights, run once.

tests/test_e2e.py runs the MobileNetV2 U-Net (and the cache and gate paths); this module runs
the other architecture through the same components, with `class_weights="auto"` so that
Transform's analyzer path runs too. One LocalDagRunner run (about two minutes on 2 cores) is
shared by every test here.
"""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.e2e

IMAGE_SIZE = 64


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from oxford_pet import demo
    from pipeline import run_summary
    from pipeline.config import PipelineConfig
    from pipeline.pipeline import create_pipeline
    from trainer import features
    from trainer.settings import TrainerSettings

    work = tmp_path_factory.mktemp("e2e_xception")
    data_dir = str(work / "data")
    demo.make_demo_data(data_dir, count=16, min_size=64, max_size=100)
    config = PipelineConfig(
        data_dir=data_dir, pipeline_root=str(work / "root"), serving_dir=str(work / "serving"),
        trainer=TrainerSettings(architecture=features.XCEPTION_UNET, class_weights="auto",
                                image_size=IMAGE_SIZE, epochs=1, batch_size=4),
        min_pixel_accuracy=0.0,  # bless whatever one epoch learns; the gate is tested apart
        beam_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])
    LocalDagRunner().run(create_pipeline(config))
    return config, run_summary.summarize(config.metadata_path, config.pipeline_name)


def test_every_component_ran_and_version_1_was_pushed(run):
    config, summary = run
    for node_id in ("OxfordPetExampleGen", "Transform", "Trainer", "Evaluator",
                    "VersionedPusher"):
        assert summary.component(node_id).state == "COMPLETE", node_id
    assert summary.blessed is True
    assert summary.pushed_version == "1"
    assert os.path.isfile(os.path.join(config.model_dir, "1", "saved_model.pb"))


def test_the_manifest_names_the_architecture_and_its_size(run):
    from serving.manifest import read_manifest

    config, summary = run
    manifest = read_manifest(config.model_dir, 1)
    assert manifest["architecture"] == "unet_xception"
    assert manifest["parameters"] == 2_058_979
    assert manifest["trainable_parameters"] == 2_055_203
    assert manifest["image_size"] == IMAGE_SIZE
    assert summary.model_info == {key: manifest[key] for key in summary.model_info}


def test_the_trainer_used_the_analyzers_class_weights(run):
    import tensorflow_transform as tft

    _, summary = run
    weights = summary.model_info["class_weights"]
    assert len(weights) == 3 and all(weight > 0 for weight in weights)
    assert np.mean(weights) == pytest.approx(1.0, rel=1e-5)  # inverse frequency, mean 1
    # Border pixels are the rarest in the trimaps, so they weigh the most.
    assert weights[2] == max(weights)
    graph = tft.TFTransformOutput(summary.component("Transform").output("transform_graph").uri)
    assert graph.transformed_feature_spec()["class_weights_xf"].shape == [3]


def test_serving_default_returns_a_mask_of_the_image_size(run, jpeg_and_png):
    import tensorflow as tf

    config, _ = run
    model = tf.saved_model.load(os.path.join(config.model_dir, "1"))
    outputs = model.signatures["serving_default"](image_bytes=tf.constant(list(jpeg_and_png)))
    assert outputs["class_ids"].shape == (2, IMAGE_SIZE, IMAGE_SIZE)
    assert set(np.unique(outputs["class_ids"].numpy()).tolist()) <= {0, 1, 2}
    assert outputs["probabilities"].shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3)


def test_the_evaluation_scored_it_with_the_shared_pixel_metrics(run):
    from runs import evaluation

    _, summary = run
    values = evaluation.overall_metrics(summary.evaluation_uri)
    for name in ("pixel_accuracy", "mean_iou", "pet_iou", "background_iou", "border_iou"):
        assert 0.0 <= values[name] <= 1.0, name
