"""Span layout and patterns, demo spans, and the Trainer's warm start (unit level)."""

import os

import numpy as np
import pytest


def test_span_patterns_sit_under_the_span_directory():
    from components.oxford_pet_example_gen import split_input_config

    plain = {s.name: s.pattern for s in split_input_config().splits}
    assert plain == {"train": "annotations/trainval.txt", "eval": "annotations/test.txt"}
    spans = {s.name: s.pattern for s in split_input_config(span_pattern="span-{SPAN}").splits}
    assert spans == {"train": "span-{SPAN}/annotations/trainval.txt",
                     "eval": "span-{SPAN}/annotations/test.txt"}


def test_dataset_dir_follows_the_resolved_pattern():
    from components.oxford_pet_example_gen import dataset_dir

    assert dataset_dir("/data", "train", "annotations/trainval.txt") == "/data"
    assert dataset_dir("/data", "eval", "span-12/annotations/test.txt") == "/data/span-12"
    with pytest.raises(ValueError, match="must end with 'annotations/test.txt'"):
        dataset_dir("/data", "eval", "span-12/annotations/trainval.txt")


def test_make_demo_data_writes_a_span(tmp_path, capsys):
    from oxford_pet import __main__ as cli
    from oxford_pet import layout

    assert cli.main(["make-demo-data", str(tmp_path), "--span", "3", "--count", "4",
                     "--min-size", "40", "--max-size", "48"]) == 0
    span = tmp_path / "span-3"
    assert layout.span_dir(str(tmp_path), 3) == str(span)
    assert len(layout.read_list(str(span / layout.SPLIT_LISTS["train"]))) == 2
    assert len(os.listdir(span / layout.IMAGES_DIR)) == 4
    assert cli.main(["make-demo-data", str(tmp_path), "--span", "-1"]) == 2


def test_the_latest_span_is_picked_by_tfxs_pattern_resolution(tmp_path):
    """TFX's ExampleGen driver logic on our patterns: the highest span with every split."""
    from tfx.components.example_gen import utils

    from components.oxford_pet_example_gen import split_input_config
    from oxford_pet import demo, layout

    for span in (1, 2, 10):
        demo.make_demo_data(layout.span_dir(str(tmp_path), span), count=2, min_size=40,
                            max_size=40)
    os.remove(os.path.join(layout.span_dir(str(tmp_path), 10), layout.SPLIT_LISTS["eval"]))
    # Span 10 lacks its eval list (half-written): the run stops instead of mixing spans.
    with pytest.raises(ValueError, match="same for each split"):
        utils.calculate_splits_fingerprint_span_and_version(
            str(tmp_path), split_input_config(span_pattern=layout.SPAN_PATTERN).splits)
    demo.make_demo_data(layout.span_dir(str(tmp_path), 10), count=2, min_size=40, max_size=40)
    splits = split_input_config(span_pattern=layout.SPAN_PATTERN).splits
    _, span, _ = utils.calculate_splits_fingerprint_span_and_version(str(tmp_path), splits)
    assert span == 10
    assert splits[0].pattern == "span-10/annotations/trainval.txt"  # what the executor gets


def test_warm_start_settings_and_config():
    from pipeline.config import PipelineConfig
    from trainer.settings import TrainerSettings

    base = dict(data_dir="/d", pipeline_root="/r", serving_dir="/s")
    off = PipelineConfig(**base, trainer=TrainerSettings(warm_start_epochs=3))
    assert not {"warm_start", "warm_start_epochs"} & set(off.trainer.to_custom_config())
    on = TrainerSettings(warm_start=True, warm_start_epochs=3).to_custom_config()
    assert TrainerSettings.from_custom_config(
        {**on, "ai_platform_enable_vertex": True}).warm_start_epochs == 3
    with pytest.raises(ValueError, match="warm_start_epochs"):
        TrainerSettings(warm_start=True, warm_start_epochs=0)
    with pytest.raises(ValueError, match="span_pattern"):
        PipelineConfig(**base, span_pattern="span-1")


def _small_model(seed, units=4):
    import tf_keras as keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(units),
                             keras.layers.BatchNormalization(), keras.layers.Dense(2)])


def test_warm_start_loads_the_exported_weights_in_order(tmp_path):
    import tensorflow as tf

    from trainer.train import warm_start

    source = _small_model(1)
    module = tf.Module()
    module.model_variables = list(source.variables)  # what trainer/export.py saves
    tf.saved_model.save(module, str(tmp_path / "base"))

    target = _small_model(2)
    assert not np.allclose(target.variables[0].numpy(), source.variables[0].numpy())
    record = warm_start(target, str(tmp_path / "base"))
    assert record == {"base_model": str(tmp_path / "base"), "loaded": True}
    for mine, theirs in zip(target.variables, source.variables):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())

    other = _small_model(3, units=5)  # another shape: reported, left as it was
    before = other.variables[0].numpy().copy()
    record = warm_start(other, str(tmp_path / "base"))
    assert record["loaded"] is False and "from scratch" in record["reason"]
    np.testing.assert_array_equal(other.variables[0].numpy(), before)
