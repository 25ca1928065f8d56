"""The pipeline with the Xception-style U-Net and analyzer-computed class weights, run once,
as a user runs the local runner against Cloud Storage.

tests/test_e2e.py runs the MobileNetV2 U-Net (and the cache and gate paths); this module runs
the other architecture through the same components, with `class_weights="auto"` so that
Transform's analyzer path runs too, and with the data and the serving directory in a bucket:
README's `python -m deploy.storage_emulator run ... -- local_runner.py --data-dir gs://...
--serving-dir gs://...` (an emulated Cloud Storage seeded from workdir/gcs and written back
there), in a fresh copy of the repository. One run (about a minute on 2 cores) is shared by
every test here; they read the pushed version where the bucket was written back.
"""

import os

import numpy as np
import pytest

from tests import readme
from tests.test_vertex_emulation import MAKE_SPAN_1

pytestmark = pytest.mark.e2e

IMAGE_SIZE = 64
LOCAL_ON_BUCKETS = ("$ENV/bin/python -m deploy.storage_emulator run --gcs-dir workdir/gcs -- "
                    "$ENV/bin/python local_runner.py --data-dir gs://my-bucket/petseg/data "
                    "--span-pattern 'span-{SPAN}' --serving-dir gs://my-bucket/petseg/serving")
SMALL = ("--architecture", "unet_xception", "--class-weights", "auto", "--image-size",
         str(IMAGE_SIZE), "--epochs", "1", "--batch-size", "4",
         "--min-pixel-accuracy", "0")  # bless whatever one epoch learns; the gate is tested apart


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from pipeline import run_summary
    from pipeline.config import PipelineConfig, WorkDir

    repo = readme.sandbox(tmp_path_factory.mktemp("e2e_xception"))
    made = readme.run(MAKE_SPAN_1, cwd=repo)
    assert made.returncode == 0, made.stderr[-3000:]
    result = readme.run(LOCAL_ON_BUCKETS, *SMALL, cwd=repo)
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    work = WorkDir(os.path.join(repo, "workdir"))
    bucket = os.path.join(repo, "workdir", "gcs", "my-bucket", "petseg")
    config = PipelineConfig(data_dir=os.path.join(bucket, "data"),
                            pipeline_root=work.pipeline_root,
                            serving_dir=os.path.join(bucket, "serving"))  # as written back
    summary = run_summary.summarize(config.metadata_path, config.pipeline_name)
    return config, summary, result.stdout


@pytest.mark.readme_command(MAKE_SPAN_1, LOCAL_ON_BUCKETS)
def test_the_local_runner_read_the_bucket_and_pushed_into_it(run):
    config, summary, printed = run
    assert "Pushed version 1 to gs://my-bucket/petseg/serving/pet_unet/1" in printed
    assert "emulated Cloud Storage: wrote back to" in printed
    assert ("train: 8 samples listed in gs://my-bucket/petseg/data/span-1/annotations/"
            "trainval.txt") in printed  # ExampleGen read the list file from the bucket
    assert summary.component("VersionedPusher").state == "COMPLETE"
    assert os.path.isfile(os.path.join(config.model_dir, "1", "push_manifest.json"))


def test_every_component_ran_and_version_1_was_pushed(run):
    config, summary, _ = run
    for node_id in ("OxfordPetExampleGen", "Transform", "Trainer", "Evaluator",
                    "VersionedPusher"):
        assert summary.component(node_id).state == "COMPLETE", node_id
    assert summary.blessed is True
    assert summary.pushed_version == "1"
    assert os.path.isfile(os.path.join(config.model_dir, "1", "saved_model.pb"))


def test_the_manifest_names_the_architecture_and_its_size(run):
    from serving.manifest import read_manifest

    config, summary, _ = run
    manifest = read_manifest(config.model_dir, 1)
    assert manifest["architecture"] == "unet_xception"
    assert manifest["parameters"] == 2_058_979
    assert manifest["trainable_parameters"] == 2_055_203
    assert manifest["image_size"] == IMAGE_SIZE
    assert summary.model_info == {key: manifest[key] for key in summary.model_info}


def test_the_trainer_used_the_analyzers_class_weights(run):
    import tensorflow_transform as tft

    _, summary, _ = run
    weights = summary.model_info["class_weights"]
    assert len(weights) == 3 and all(weight > 0 for weight in weights)
    assert np.mean(weights) == pytest.approx(1.0, rel=1e-5)  # inverse frequency, mean 1
    # Border pixels are the rarest in the trimaps, so they weigh the most.
    assert weights[2] == max(weights)
    graph = tft.TFTransformOutput(summary.component("Transform").output("transform_graph").uri)
    assert graph.transformed_feature_spec()["class_weights_xf"].shape == [3]


def test_serving_default_returns_a_mask_of_the_image_size(run, jpeg_and_png):
    import tensorflow as tf

    config, _, _ = run
    model = tf.saved_model.load(os.path.join(config.model_dir, "1"))
    outputs = model.signatures["serving_default"](image_bytes=tf.constant(list(jpeg_and_png)))
    assert outputs["class_ids"].shape == (2, IMAGE_SIZE, IMAGE_SIZE)
    assert set(np.unique(outputs["class_ids"].numpy()).tolist()) <= {0, 1, 2}
    assert outputs["probabilities"].shape == (2, IMAGE_SIZE, IMAGE_SIZE, 3)


def test_the_evaluation_scored_it_with_the_shared_pixel_metrics(run):
    from runs import evaluation

    _, summary, _ = run
    values = evaluation.overall_metrics(summary.evaluation_uri)
    for name in ("pixel_accuracy", "mean_iou", "pet_iou", "background_iou", "border_iou"):
        assert 0.0 <= values[name] <= 1.0, name
