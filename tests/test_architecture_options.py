"""Choosing the architecture and class weights: config, runner flags, Trainer settings, push."""

import json

import pytest

import local_runner
from pipeline.config import PipelineConfig
from serving.manifest import read_manifest, read_model_info
from serving.push import push_new_version
from trainer import features
from trainer.settings import TrainerSettings


def _config(**overrides):
    values = dict(data_dir="/d", pipeline_root="/p", serving_dir="/s")
    values.update(overrides)
    return PipelineConfig(**values)


@pytest.mark.parametrize("field, value, message", [
    ("architecture", "resnet", "architecture must be one of unet_mobilenet_v2, unet_xception, "
                               "got 'resnet'"),
    ("class_weights", "1,2", r"class_weights must be 'auto' or 3 non-negative numbers"),
    ("class_weights", "heavy", r"class_weights must be 'auto' or 3 non-negative numbers"),
])
def test_bad_values_are_refused_with_the_fix(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainerSettings(**{field: value})


def test_architecture_and_class_weights_reach_the_trainer():
    config = _config(trainer=TrainerSettings(architecture=features.XCEPTION_UNET,
                                             class_weights="1,1,2"))
    trainer = config.trainer.to_custom_config()
    assert trainer["architecture"] == features.XCEPTION_UNET
    assert trainer["class_weights"] == "1,1,2"
    settings = TrainerSettings.from_custom_config(trainer)
    assert (settings.architecture, settings.class_weights) == (features.XCEPTION_UNET, "1,1,2")


def test_transform_changes_only_when_it_computes_the_weights():
    assert _config().transform_config() == {"image_size": 128}
    assert _config(trainer=TrainerSettings(
        class_weights="1,1,2", architecture=features.XCEPTION_UNET)).transform_config() == {
        "image_size": 128}
    assert _config(trainer=TrainerSettings(class_weights="auto")).transform_config() == {
        "image_size": 128, "class_weights": "auto"}


@pytest.mark.parametrize("overrides, message", [
    ({"architecture": "vgg"}, "architecture must be one of"),
    ({"class_weights": "1;2;3"}, "class_weights must be"),
])
def test_trainer_settings_refuse_what_the_config_refuses(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainerSettings.from_custom_config(overrides)


def test_flags_choose_the_architecture_and_class_weights(tmp_path):
    args = local_runner.build_parser().parse_args([
        "--data-dir", str(tmp_path), "--architecture", features.XCEPTION_UNET,
        "--class-weights", "auto"])
    config = local_runner.config_from_args(args)
    assert (config.trainer.architecture, config.trainer.class_weights) == (
        features.XCEPTION_UNET, "auto")


def test_help_names_the_new_flags(capsys):
    with pytest.raises(SystemExit):
        local_runner.main(["--help"])
    text = capsys.readouterr().out
    for word in ("--architecture", "--class-weights", features.MOBILENET_V2_UNET,
                 features.XCEPTION_UNET):
        assert word in text


def test_bad_flags_exit_2_with_one_line(tmp_path, capsys):
    assert local_runner.main(["--data-dir", str(tmp_path), "--class-weights", "1,2"]) == 2
    assert "class_weights must be 'auto' or 3" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # argparse's choices
        local_runner.main(["--data-dir", str(tmp_path), "--architecture", "vgg"])
    assert exit_info.value.code == 2


def test_the_push_manifest_carries_the_trainers_model_info(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"graph")
    info = {"architecture": features.XCEPTION_UNET, "parameters": 2058979}
    (model / features.MODEL_INFO_FILE).write_text(json.dumps(info))
    assert read_model_info(str(model)) == info
    assert read_model_info(str(tmp_path)) == {}  # a model without a record
    model_dir = str(tmp_path / "serving")
    version = push_new_version(
        str(model), model_dir, read_model_info(str(model)))
    manifest = read_manifest(model_dir, version)
    assert manifest["architecture"] == features.XCEPTION_UNET
    assert manifest["parameters"] == 2058979
    assert manifest["model_path"] == str(model)


def test_the_run_report_names_the_model(capsys):
    from pipeline import run_summary

    run_summary.print_model({"architecture": features.XCEPTION_UNET, "parameters": 2058979,
                             "trainable_parameters": 2055203,
                             "class_weights": [0.8181, 0.5454, 1.636]})
    assert capsys.readouterr().out.strip() == (
        "model unet_xception: 2,058,979 parameters (2,055,203 trainable), "
        "class weights 0.818, 0.545, 1.64")
    run_summary.print_model({})
    assert capsys.readouterr().out == ""
