"""pipeline/config.py validation and local_runner.py's command line (no pipeline run)."""

import pytest

import local_runner
from pipeline.config import PipelineConfig


def _config(**overrides):
    values = dict(data_dir="/d", pipeline_root="/p", serving_dir="/s")
    values.update(overrides)
    return PipelineConfig(**values)


def test_defaults_and_derived_paths():
    config = _config()
    assert config.metadata_path == "/p/metadata.sqlite"
    assert config.model_dir == "/s/pet_unet"
    assert config.trainer_config()["image_size"] == config.transform_config()["image_size"] == 128


@pytest.mark.parametrize("field, value, message", [
    ("image_size", 100, "multiple of 32"),
    ("epochs", 0, "epochs must be positive"),
    ("batch_size", -1, "batch_size must be positive"),
    ("min_pixel_accuracy", 1.5, r"min_pixel_accuracy must be in \[0, 1\]"),
    ("max_pixel_accuracy_drop", -0.1, r"max_pixel_accuracy_drop must be in \[0, 1\]"),
])
def test_bad_values_are_refused_with_the_fix(field, value, message):
    with pytest.raises(ValueError, match=message):
        _config(**{field: value})


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


def test_flags_flow_into_the_config(tmp_path):
    args = local_runner.build_parser().parse_args([
        "--data-dir", str(tmp_path), "--work-dir", str(tmp_path / "w"), "--epochs", "3",
        "--image-size", "64", "--freeze-encoder", "--beam-arg=--direct_num_workers=2"])
    config = local_runner.config_from_args(args)
    assert (config.epochs, config.image_size, config.train_encoder) == (3, 64, False)
    assert config.beam_args == ["--direct_num_workers=2"]
    assert config.pipeline_root == str(tmp_path / "w" / "pipeline_root")


def test_tfds_source_without_a_prepared_dataset_says_what_to_do(tmp_path, capsys):
    assert local_runner.main(["--tfds", "--tfds-data-dir", str(tmp_path)]) == 2
    assert "tfds build oxford_iiit_pet" in capsys.readouterr().err


def test_tfds_source_picks_the_newest_prepared_version(tmp_path):
    for version in ("4.0.0", "4.10.0", "3.2.0"):
        (tmp_path / "oxford_iiit_pet" / version).mkdir(parents=True)
    assert local_runner.find_tfds_dataset(str(tmp_path)).endswith("4.10.0")
