"""components/versioned_pusher.py: integer versions, never overwritten, never partial."""

import os

import pytest

from components import versioned_pusher


@pytest.fixture
def saved_model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph")
    (model / "variables" / "variables.index").write_bytes(b"index")
    return str(model)


def test_versions_count_up_from_one(saved_model, tmp_path):
    model_dir = str(tmp_path / "serving" / "pet_unet")
    assert versioned_pusher.push_new_version(saved_model, model_dir) == 1
    assert versioned_pusher.push_new_version(saved_model, model_dir) == 2
    assert versioned_pusher.existing_versions(model_dir) == [1, 2]
    assert sorted(os.listdir(model_dir)) == ["1", "2"]  # no temporary left behind
    assert open(os.path.join(model_dir, "2", "saved_model.pb"), "rb").read() == b"graph"
    assert versioned_pusher.read_manifest(model_dir, 2)["model_path"] == saved_model


def test_the_same_model_is_found_in_its_version(saved_model, tmp_path):
    model_dir = str(tmp_path / "pet_unet")
    assert versioned_pusher.version_of(model_dir, saved_model) is None
    versioned_pusher.push_new_version(saved_model, model_dir, {"run": "a"})
    assert versioned_pusher.version_of(model_dir, saved_model) == 1
    assert versioned_pusher.read_manifest(model_dir, 1)["run"] == "a"


def test_an_existing_version_is_never_overwritten(saved_model, tmp_path):
    model_dir = tmp_path / "pet_unet"
    (model_dir / "7").mkdir(parents=True)
    (model_dir / "7" / "saved_model.pb").write_bytes(b"older model")
    (model_dir / ".incoming-leftover").mkdir()  # a killed push's temporary: not a version
    assert versioned_pusher.push_new_version(saved_model, str(model_dir)) == 8
    assert (model_dir / "7" / "saved_model.pb").read_bytes() == b"older model"
    assert versioned_pusher.existing_versions(str(model_dir)) == [7, 8]


def test_a_failed_copy_leaves_no_version(tmp_path):
    model_dir = tmp_path / "pet_unet"
    with pytest.raises(OSError):
        versioned_pusher.push_new_version(str(tmp_path / "no_model_here"), str(model_dir))
    assert versioned_pusher.existing_versions(str(model_dir)) == []
