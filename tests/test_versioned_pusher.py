"""components/versioned_pusher.py: the executor pushes blessed models only, once each, with a
manifest saying what the version is (artifacts made by hand; the serving-dir mechanics are in
tests/test_model_versions.py, a real run in tests/test_e2e.py and test_crash_recovery.py)."""

import json
import os

import pytest


def _artifact(artifact_type, uri):
    artifact = artifact_type()
    artifact.uri = str(uri)
    os.makedirs(artifact.uri, exist_ok=True)
    return artifact


def _model(tmp_path, name):
    """A Model artifact whose serving directory holds a fake SavedModel and model_info.json."""
    from tfx.types import standard_artifacts
    from tfx.utils import path_utils

    from trainer import features

    model = _artifact(standard_artifacts.Model, tmp_path / name)
    serving = path_utils.serving_model_dir(model.uri)
    os.makedirs(os.path.join(serving, "variables"))
    with open(os.path.join(serving, "saved_model.pb"), "wb") as handle:
        handle.write(name.encode())
    with open(os.path.join(serving, features.MODEL_INFO_FILE), "w") as handle:
        json.dump({"architecture": "unet_xception", "parameters": 7}, handle)
    return model


def _evaluation(tmp_path, candidate_accuracy, baseline_accuracy):
    """A ModelEvaluation holding TFMA's metrics file for the overall slice, both models."""
    import tensorflow as tf
    import tensorflow_model_analysis as tfma
    from tfx.types import standard_artifacts

    evaluation = _artifact(standard_artifacts.ModelEvaluation, tmp_path / "evaluation")
    record = tfma.MetricsForSlice()  # the empty slice key: overall
    for model_name, value in (("candidate", candidate_accuracy),
                              ("baseline", baseline_accuracy)):
        entry = record.metric_keys_and_values.add()
        entry.key.name, entry.key.model_name = "pixel_accuracy", model_name
        entry.value.double_value.value = value
    with tf.io.TFRecordWriter(os.path.join(evaluation.uri, "metrics.tfrecord")) as writer:
        writer.write(record.SerializeToString())
    return evaluation


def _push(tmp_path, model, blessed, baseline=None, evaluation=None, examples=None,
          config=None, vertex_model=None, model_dir=None):
    from tfx.types import standard_artifacts

    from components import versioned_pusher

    blessing = _artifact(standard_artifacts.ModelBlessing, tmp_path / f"blessing{model.id}")
    blessing.set_int_custom_property("blessed", int(blessed))
    if baseline is not None:
        blessing.set_string_custom_property("baseline_model", baseline.uri)
    pushed = _artifact(standard_artifacts.PushedModel, tmp_path / f"pushed{model.id}")
    component = versioned_pusher.VersionedPusher(
        model=None, model_blessing=None,
        model_dir=model_dir or str(tmp_path / "serving" / "pet_unet"), pipeline_config=config,
        vertex_model=vertex_model)
    exec_properties = dict(component.exec_properties)  # as the launcher passes them: JSON
    inputs = {"model": [model], "model_blessing": [blessing]}
    if evaluation is not None:
        inputs["evaluation"] = [evaluation]
    if examples is not None:
        inputs["examples"] = [examples]
    versioned_pusher.Executor().Do(inputs, {"pushed_model": [pushed]}, exec_properties)
    return pushed


def test_blessed_models_are_pushed_once_each_with_a_manifest(tmp_path):
    from tfx.types import Channel, standard_artifacts

    from components import versioned_pusher
    from serving.manifest import read_manifest
    from serving.versions import existing_versions

    model_dir = str(tmp_path / "serving" / "pet_unet")
    first = _model(tmp_path, "first")
    first.id = 1
    assert _push(tmp_path, first, blessed=True).get_string_custom_property(
        "pushed_version") == "1"

    second = _model(tmp_path, "second")
    second.id = 2
    examples = _artifact(standard_artifacts.Examples, tmp_path / "examples")
    examples.set_int_custom_property("span", 3)  # where FileBasedExampleGen's driver puts it
    examples.set_string_custom_property("input_fingerprint", "split:train,num_files:1,...")
    examples.set_int_custom_property("train_listed", 12)
    examples.set_int_custom_property("eval_quarantined", 1)
    pushed = _push(tmp_path, second, blessed=True, baseline=first,
                   evaluation=_evaluation(tmp_path, 0.93, 0.91),
                   examples=examples, config={"epochs": 2, "image_size": 64})
    assert pushed.get_string_custom_property("pushed_version") == "2"
    manifest = read_manifest(model_dir, 2)
    assert manifest["version"] == 2
    assert manifest["architecture"] == "unet_xception"  # model_info stays at the top level
    assert manifest["blessing"]["blessed"] is True
    assert manifest["blessing"]["metrics"] == {"pixel_accuracy": pytest.approx(0.93)}
    assert manifest["blessing"]["baseline"]["version"] == 1  # the version it beat
    assert manifest["blessing"]["baseline"]["metrics"] == {"pixel_accuracy": pytest.approx(0.91)}
    assert manifest["data"]["span"] == 3
    assert manifest["data"]["input_fingerprint"].startswith("split:train")
    assert manifest["data"]["splits"] == {"train": {"listed": 12}, "eval": {"quarantined": 1}}
    assert manifest["config"] == {"epochs": 2, "image_size": 64}
    assert set(manifest["packages"]) >= {"python", "tfx", "tensorflow", "tensorflow-transform",
                                         "tensorflow-model-analysis", "apache-beam"}
    assert manifest["packages"]["tfx"] == "1.16.0"
    assert read_manifest(model_dir, 1)["blessing"]["baseline"] is None  # the first beat none

    # Pushing the same model again (a rerun re-blessed it) reuses its version; an unblessed
    # model is not pushed; neither touches the versions already there.
    before = {v: read_manifest(model_dir, v) for v in (1, 2)}
    assert _push(tmp_path, second, blessed=True).get_string_custom_property(
        "pushed_version") == "2"
    third = _model(tmp_path, "third")
    third.id = 3
    assert _push(tmp_path, third, blessed=False).get_int_custom_property("pushed") == 0
    assert existing_versions(model_dir) == [1, 2]
    assert {v: read_manifest(model_dir, v) for v in (1, 2)} == before

    # The component's extra inputs are optional channels of the right types.
    component = versioned_pusher.VersionedPusher(
        model=Channel(type=standard_artifacts.Model),
        model_blessing=Channel(type=standard_artifacts.ModelBlessing), model_dir=model_dir,
        evaluation=Channel(type=standard_artifacts.ModelEvaluation),
        examples=Channel(type=standard_artifacts.Examples))
    assert {"model", "model_blessing", "evaluation", "examples"} <= set(component.inputs)
