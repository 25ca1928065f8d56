"""pipeline/config.py validation and local_runner.py's command line (no pipeline run)."""

import os

import pytest

import local_runner
from cli import exits
from oxford_pet import sources
from pipeline.config import PipelineConfig
from trainer.settings import TrainerSettings


def _config(**overrides):
    values = dict(data_dir="/d", pipeline_root="/p", serving_dir="/s")
    values.update(overrides)
    return PipelineConfig(**values)


def test_defaults_and_derived_paths():
    config = _config()
    assert config.metadata_path == "/p/metadata.sqlite"
    assert config.model_dir == "/s/pet_unet"
    assert (config.trainer.to_custom_config()["image_size"]
            == config.transform_config()["image_size"] == 128)


@pytest.mark.parametrize("field, value, message", [
    ("min_pixel_accuracy", 1.5, r"min_pixel_accuracy must be in \[0, 1\]"),
    ("max_pixel_accuracy_drop", -0.1, r"max_pixel_accuracy_drop must be in \[0, 1\]"),
    ("gate_metric", "accuracy", "gate_metric must be one of pixel_accuracy, mean_iou"),
    ("trainer", {"epochs": 3}, "trainer must be a TrainerSettings"),
])
def test_bad_values_are_refused_with_the_fix(field, value, message):
    with pytest.raises(ValueError, match=message):
        _config(**{field: value})


@pytest.mark.parametrize("field, value, message", [
    ("image_size", 100, "multiple of 32"),
    ("epochs", 0, "epochs must be positive"),
    ("batch_size", -1, "batch_size must be positive"),
    ("validation_freq", 0, "validation_freq must be positive"),
    ("validation_subsplits", 0, "validation_subsplits must be positive, got 0"),
    ("batchnorm_momentum", 1.0, r"batchnorm_momentum must be in \[0, 1\)"),
    ("fine_tune_epochs", -1, "fine_tune_epochs must be 0 or more, got -1"),
    ("fine_tune_learning_rate", 0.0, "fine_tune_learning_rate must be positive"),
])
def test_bad_trainer_settings_are_refused_with_the_fix(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainerSettings(**{field: value})


def test_help_describes_every_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        local_runner.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--data-dir", "--demo", "--pipeline-root", "--serving-dir", "--epochs",
                 "--batch-size", "--image-size", "--beam-arg", "--encoder-weights"):
        assert flag in text


def test_bad_flag_values_exit_2_with_one_line(tmp_path, capsys):
    assert local_runner.main(["--data-dir", str(tmp_path), "--image-size", "100"]) == 2
    assert "image_size must be a positive multiple of 32" in capsys.readouterr().err
    assert local_runner.main(["--data-dir", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # More than one DirectRunner worker can drop records (pipeline/beam_args.py): refused.
    assert local_runner.main(["--data-dir", str(tmp_path),
                              "--beam-arg=--direct_num_workers=2"]) == 2
    assert "beam_args: --direct_num_workers=2: with more than one worker" in \
        capsys.readouterr().err


@pytest.mark.parametrize("field, args", [
    ("beam_args", ["--direct_num_workers=2"]),
    ("beam_args", ["--direct_running_mode=multi_processing", "--direct_num_workers", "0"]),
    ("beam_args", ["--direct_running_mode=multi_threading", "--direct_num_workers=2"]),
])
def test_more_than_one_direct_runner_worker_is_refused(field, args):
    """Beam 2.66's DirectRunner can drop records with several workers (pipeline/beam_args.py):
    refused before anything runs; one worker, or workers of another runner, are fine."""
    with pytest.raises(ValueError, match=f"{field}: --direct_num_workers=[02]: with more than "
                                         "one worker Beam's DirectRunner"):
        _config(**{field: args})
    _config(beam_args=["--direct_num_workers=1"])
    _config(beam_args=["--runner=DataflowRunner", "--direct_num_workers=4"])
    assert _config().beam_args == []


def test_flags_flow_into_the_config(tmp_path):
    args = local_runner.build_parser().parse_args([
        "--data-dir", str(tmp_path), "--work-dir", str(tmp_path / "w"), "--epochs", "3",
        "--image-size", "64", "--freeze-encoder", "--beam-arg=--direct_num_workers=1"])
    config = local_runner.config_from_args(args)
    assert (config.trainer.epochs, config.trainer.image_size,
            config.trainer.train_encoder) == (3, 64, False)
    assert config.beam_args == ["--direct_num_workers=1"]
    assert config.pipeline_root == str(tmp_path / "w" / "pipeline_root")
    # Without --beam-arg none are passed: any Beam argument makes TFX build an sdist of itself
    # for each Beam component, which the DirectRunner never reads.
    plain = local_runner.config_from_args(local_runner.build_parser().parse_args(
        ["--data-dir", str(tmp_path)]))
    assert plain.beam_args == []


def test_gate_and_fine_tune_flags_flow_into_the_config_of_both_runners(tmp_path):
    import kubeflow_v2_runner
    from trainer import features

    flags = ["--gate-metric", "foreground_iou", "--fine-tune-epochs", "2",
             "--fine-tune-learning-rate", "2e-5"]
    local = local_runner.config_from_args(local_runner.build_parser().parse_args(
        ["--data-dir", str(tmp_path)] + flags))
    cloud = kubeflow_v2_runner.config_from_args(kubeflow_v2_runner.build_parser().parse_args(
        ["--project", "my-project", "--region", "us-central1", "--image",
         "us-docker.pkg.dev/my-project/repo/petseg:1", "--pipeline-root", "gs://b/r",
         "--data-dir", "gs://b/d", "--serving-dir", "gs://b/s"] + flags))
    for config in (local, cloud):
        assert (config.gate_metric, config.trainer.fine_tune_epochs,
                config.trainer.fine_tune_learning_rate) == ("foreground_iou", 2, 2e-5)
        settings = TrainerSettings.from_custom_config(config.trainer.to_custom_config())
        assert (settings.fine_tune_epochs, settings.fine_tune_learning_rate) == (2, 2e-5)
    default = _config()
    assert default.gate_metric == features.NATIVE_PIXEL_ACCURACY_NAME == "native_pixel_accuracy"
    # Without fine-tuning the Trainer's custom_config (its cache key) is what it was.
    assert not {"fine_tune_epochs", "fine_tune_learning_rate"} & set(
        default.trainer.to_custom_config())


def test_fine_tuning_a_trained_encoder_is_refused():
    with pytest.raises(ValueError, match="drop --train-encoder, or --fine-tune-epochs"):
        TrainerSettings(fine_tune_epochs=1, train_encoder=True)
    assert TrainerSettings(fine_tune_epochs=1, train_encoder=False).fine_tune_epochs == 1


def test_tfds_version_the_installed_tfds_cannot_prepare_says_what_would(tmp_path, capsys):
    """Nothing prepared, and 3.x asked for: the installed TFDS prepares 4.0.0 only."""
    (tmp_path / "oxford_iiit_pet" / "4.0.0").mkdir(parents=True)
    (tmp_path / "oxford_iiit_pet" / "4.0.0" / "dataset_info.json").write_text("{}")
    assert local_runner.main(["--tfds", "--tfds-version", "3", "--tfds-data-dir",
                              str(tmp_path), "--work-dir", str(tmp_path / "w")]) == 2
    error = capsys.readouterr().err
    assert f"no TFDS oxford_iiit_pet 3 (found 4.0.0 under {tmp_path})" in error
    assert "prepares oxford_iiit_pet 4.0.0 only" in error and "tensorflow-datasets==4.9.6" in error
    assert "--tfds-version 4.0.0" in error
    assert not (tmp_path / "w").exists()


def test_tfds_source_picks_the_newest_prepared_version_or_the_one_asked_for(tmp_path):
    from oxford_pet import tfds_dataset

    for version in ("4.0.0", "4.10.0", "3.2.0", "3.3.0"):
        (tmp_path / "oxford_iiit_pet" / version).mkdir(parents=True)
        if version != "3.3.0":  # no dataset_info.json: not (completely) prepared
            (tmp_path / "oxford_iiit_pet" / version / "dataset_info.json").write_text("{}")
    assert tfds_dataset.choose(str(tmp_path)) == "4.10.0"
    assert tfds_dataset.choose(str(tmp_path), "3") == "3.2.0"
    assert tfds_dataset.choose(str(tmp_path), "3.*.*") == "3.2.0"
    assert tfds_dataset.choose(str(tmp_path), "4.0.0") == "4.0.0"
    assert tfds_dataset.choose(str(tmp_path), "5") is None
    source = sources.DataSource(sources.TFDS, "downloads", path=str(tmp_path), tfds_version="3")
    assert source.data_dir() == str(tmp_path / "oxford_iiit_pet" / "3.2.0")


# Bad configuration: one line naming the value and the fix, exit code 2, nothing created.
@pytest.mark.parametrize("flags, message", [
    (["--image-size", "100"], "image_size must be a positive multiple of 32"),
    (["--epochs", "0"], "epochs must be positive, got 0"),
    (["--batch-size", "-4"], "batch_size must be positive, got -4"),
    (["--min-pixel-accuracy", "1.2"], r"min_pixel_accuracy must be in [0, 1], got 1.2"),
    (["--max-pixel-accuracy-drop", "-0.5"], "max_pixel_accuracy_drop must be in [0, 1]"),
    (["--fine-tune-epochs", "-2"], "fine_tune_epochs must be 0 or more, got -2"),
    (["--fine-tune-epochs", "1", "--train-encoder"], "drop --train-encoder"),
    (["--max-quarantined-fraction", "2"], "max_quarantined_fraction must be in [0, 1]"),
    (["--wait-for-lock", "-1"], "--wait-for-lock must be 0 or more seconds, got -1"),
    (["--pipeline-root", "/sys/petseg/root"], "pipeline_root /sys/petseg/root cannot be "
                                              "written: cannot create files in /sys"),
    (["--serving-dir", "/sys/petseg/serving"], "choose a writable directory (--serving-dir)"),
])
def test_bad_configuration_exits_2_naming_the_value(tmp_path, small_dataset, capsys, flags,
                                                     message):
    work = tmp_path / "work"
    assert local_runner.main(["--data-dir", small_dataset, "--work-dir", str(work)]
                             + flags) == exits.BAD_INPUT == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and message in error
    assert len(error.splitlines()) == 1
    assert not work.exists()  # checked before anything was created


def test_an_output_dir_under_a_file_is_refused(tmp_path, small_dataset, capsys):
    (tmp_path / "a_file").write_text("")
    assert local_runner.main(["--data-dir", small_dataset,
                              "--pipeline-root", str(tmp_path / "a_file" / "root")]) == 2
    assert f"{tmp_path / 'a_file'} is a file, not a directory" in capsys.readouterr().err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_parent_is_refused(tmp_path, small_dataset, capsys):
    parent = tmp_path / "read_only"
    parent.mkdir(mode=0o555)
    assert local_runner.main(["--data-dir", small_dataset,
                              "--serving-dir", str(parent / "serving")]) == 2
    assert "serving_dir" in capsys.readouterr().err


def test_writable_paths_pass_and_uris_are_left_to_their_runner(tmp_path):
    from pipeline.config import unwritable_reason

    assert unwritable_reason(str(tmp_path / "not" / "yet" / "there")) is None
    assert not (tmp_path / "not").exists()  # checking created nothing
    assert unwritable_reason("gs://bucket/root") is None


@pytest.mark.parametrize("damage, message", [
    ("no_images", "has no 'images/' folder"),
    ("no_lists", "annotations/trainval.txt not found"),
    ("empty_eval", "test.txt lists no samples: the eval split would be empty"),
    ("empty_both", "trainval.txt lists no samples: the train split would be empty"),
])
def test_a_wrong_or_empty_dataset_stops_before_any_component(tmp_path, small_dataset, capsys,
                                                               damage, message):
    import shutil

    from oxford_pet import layout

    data = tmp_path / "data"
    shutil.copytree(small_dataset, data)
    if damage == "no_images":
        shutil.rmtree(data / "images")
    elif damage == "no_lists":
        (data / "annotations" / "trainval.txt").unlink()
    else:
        for split in (["eval"] if damage == "empty_eval" else ["train", "eval"]):
            layout.write_list(str(data / layout.SPLIT_LISTS[split]), [], "#header only\n")
    assert local_runner.main(["--data-dir", str(data), "--work-dir", str(tmp_path / "w")]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1
    assert not (tmp_path / "w").exists()
