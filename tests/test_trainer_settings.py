"""trainer/settings.py: one definition of the Trainer's settings, from the flags to run_fn."""

import dataclasses
import json

import pytest

from pipeline.config import PipelineConfig
from trainer import features
from trainer.settings import VERTEX_KEY_PREFIX, TrainerSettings

# A value other than the default for every setting, valid together (fine-tuning needs the
# encoder not to be trained from the first epoch; XLA cannot be on for this architecture).
CHANGED = {
    "architecture": features.XCEPTION_UNET, "image_size": 64, "epochs": 3,
    "batch_size": 4, "learning_rate": 2e-3, "encoder_weights": "none", "train_encoder": False,
    "batchnorm_momentum": 0.8, "class_weights": "1,1,2", "seed": 7, "warm_start": True,
    "warm_start_epochs": 5, "fine_tune_epochs": 2, "fine_tune_learning_rate": 3e-5,
    "mixed_precision": True, "xla": False, "cache_examples": False, "validation_freq": 2,
    "validation_subsplits": 1, "shuffle_buffer": 64,
}
# What TFX's Vertex AI Trainer adds to custom_config (pipeline/cloud.py trainer_custom_config).
VERTEX_KEYS = {"ai_platform_training_args": {"project": "p"}, "ai_platform_enable_vertex": True}


def _through_the_pipeline(settings: TrainerSettings) -> TrainerSettings:
    """PipelineConfig -> the Trainer's custom_config (as TFX stores it: JSON, Vertex keys
    beside it) -> what run_fn reads."""
    config = PipelineConfig(data_dir="/d", pipeline_root="/p", serving_dir="/s",
                            trainer=settings)
    stored = json.loads(json.dumps({**config.trainer.to_custom_config(), **VERTEX_KEYS}))
    return TrainerSettings.from_custom_config(stored)


def test_every_setting_survives_the_round_trip():
    names = {field.name for field in dataclasses.fields(TrainerSettings)}
    assert set(CHANGED) == names  # a new setting needs a changed value here
    defaults = TrainerSettings()
    changed = TrainerSettings(**CHANGED)
    for name in names:
        assert getattr(changed, name) != getattr(defaults, name), name
        one = dataclasses.replace(defaults, **{name: CHANGED[name]})
        if name in ("warm_start_epochs", "fine_tune_learning_rate"):  # they need their switch
            one = dataclasses.replace(one, **{"warm_start_epochs": {"warm_start": True},
                                              "fine_tune_learning_rate": {
                                                  "fine_tune_epochs": 1}}[name])
        assert _through_the_pipeline(one) == one, name
    assert _through_the_pipeline(changed) == changed
    assert _through_the_pipeline(defaults) == defaults


def test_settings_that_are_off_leave_the_cache_key_as_it_was():
    # The Trainer's custom_config before validation_freq, shuffle_buffer and the warm-start
    # switch existed: a default config must still produce exactly these keys (a cached
    # Trainer stays cached), and turning a setting off must not add any.
    before = {"architecture", "image_size", "epochs", "batch_size", "learning_rate",
              "encoder_weights", "train_encoder", "batchnorm_momentum", "class_weights", "seed",
              "mixed_precision", "xla", "cache_examples"}
    assert set(TrainerSettings().to_custom_config()) == before
    off = TrainerSettings(warm_start=False, warm_start_epochs=5, fine_tune_epochs=0,
                          fine_tune_learning_rate=1e-4, validation_freq=1,
                          validation_subsplits=5)
    assert off.to_custom_config() == TrainerSettings().to_custom_config()
    on = TrainerSettings(warm_start=True, fine_tune_epochs=2, validation_freq=3,
                         validation_subsplits=1)
    assert set(on.to_custom_config()) - before == {
        "warm_start", "warm_start_epochs", "fine_tune_epochs", "fine_tune_learning_rate",
        "validation_freq", "validation_subsplits"}


def test_unknown_keys_are_refused_but_the_vertex_trainers_are_not():
    with pytest.raises(ValueError, match=r"unknown Trainer settings \['epoch'\]"):
        TrainerSettings.from_custom_config({"epoch": 3})
    assert VERTEX_KEY_PREFIX == "ai_platform_"
    assert TrainerSettings.from_custom_config(VERTEX_KEYS) == TrainerSettings()


def test_every_flagged_setting_reaches_the_trainer():
    """The runners' training flags name TrainerSettings fields (pipeline/flags.py)."""
    import argparse

    from pipeline import flags

    parser = argparse.ArgumentParser()
    flags.add_training_flags(parser)
    args = parser.parse_args([
        "--architecture", features.XCEPTION_UNET, "--image-size", "64", "--epochs", "3",
        "--batch-size", "4", "--learning-rate", "0.002", "--encoder-weights", "none",
        "--freeze-encoder", "--class-weights", "1,1,2", "--seed", "7", "--warm-start",
        "--warm-start-epochs", "5", "--fine-tune-epochs", "2", "--fine-tune-learning-rate",
        "3e-5", "--mixed-precision", "on", "--xla", "off", "--no-example-cache",
        "--validation-freq", "2", "--validation-subsplits", "1"])
    settings = flags.training_settings(args)["trainer"]
    expected = {name: value for name, value in CHANGED.items()
                if name not in flags.TRAINER_FIELDS_WITHOUT_FLAGS}
    assert {name: getattr(settings, name) for name in expected} == expected
    defaults = flags.training_settings(parser.parse_args([]))["trainer"]
    assert defaults == TrainerSettings()  # the flags' defaults are the settings' own
