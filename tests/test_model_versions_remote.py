"""serving/ (and the `list`/`rollback` command) on a path with a scheme (gs:// on Vertex), through tf.io.gfile.

TensorFlow's in-memory filesystem (`ram://`) stands in for Cloud Storage: same code path
(tf.io.gfile), no network. What it cannot show: Cloud Storage's own listing and latency, and
TF Serving polling while a push is under way (see the module docstring for what was checked in
TF Serving's sources instead).
"""

import os
import subprocess
import sys
import textwrap
import time
import uuid

import pytest

from components import model_versions
from serving import push, versions
from serving.manifest import MANIFEST_FILE, read_manifest
from storage import files

tf = pytest.importorskip("tensorflow")
gfile = tf.io.gfile
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL_FILES = {"saved_model.pb": b"graph" * 100, "fingerprint.pb": b"fp",
               "variables/variables.index": b"index",
               "variables/variables.data-00000-of-00001": b"weights" * 100,
               "assets/labels.txt": b"pet\nbackground\nborder\n"}


def write_tree(root: str, files) -> str:
    for relative, data in files.items():
        gfile.makedirs(os.path.dirname(os.path.join(root, relative)))
        with gfile.GFile(os.path.join(root, relative), "wb") as handle:
            handle.write(data)
    return root


def read_tree(root: str):
    return {relative: gfile.GFile(os.path.join(root, relative), "rb").read()
            for relative in files.GFiles().files_under(root)}


@pytest.fixture
def bucket():
    """A fresh in-memory "bucket" per test (ram:// is one filesystem per process)."""
    return f"ram://bucket-{uuid.uuid4().hex}"


@pytest.fixture
def remote_model(bucket):
    return write_tree(f"{bucket}/root/Trainer/model/7/Format-Serving", MODEL_FILES)


def names(model_dir: str):
    return files.GFiles().names(model_dir)


def stamp(seconds_ago: float) -> str:
    return time.strftime(push.STAMP_FORMAT, time.gmtime(time.time() - seconds_ago))


def test_pushes_count_up_and_copy_the_whole_model_with_its_manifest(remote_model, bucket,
                                                                    monkeypatch):
    model_dir = f"{bucket}/serving/pet_unet"
    copied = []
    real_copy = gfile.copy
    monkeypatch.setattr(gfile, "copy", lambda src, dst, overwrite=False: (
        copied.append(dst), real_copy(src, dst, overwrite))[1])

    assert push.push_model(remote_model, model_dir, {"run": "a"}) == (1, True)
    assert push.push_new_version(remote_model, model_dir) == 2
    assert versions.existing_versions(model_dir) == [1, 2]
    assert names(model_dir) == ["1", "2"]  # no staging directory or claim left behind
    for version in (1, 2):
        tree = read_tree(f"{model_dir}/{version}")
        manifest = read_manifest(model_dir, version)
        assert tree.pop(MANIFEST_FILE)
        assert tree == MODEL_FILES
        assert (manifest["version"], manifest["model_path"]) == (version, remote_model)
        assert versions.is_complete(model_dir, version)
    assert read_manifest(model_dir, 1)["run"] == "a"
    # Into a version directory, saved_model.pb is the last file written.
    into_2 = [path for path in copied if path.startswith(f"{model_dir}/2/")]
    assert len(into_2) == len(MODEL_FILES) + 1 and into_2[-1] == f"{model_dir}/2/saved_model.pb"
    # The same model is found in its version, not pushed again.
    assert versions.version_of(model_dir, remote_model) == 1
    assert push.push_model(remote_model, model_dir) == (1, False)
    assert versions.existing_versions(model_dir) == [1, 2]


def test_local_model_to_remote_directory_and_remote_model_to_local_directory(
        remote_model, bucket, tmp_path):
    local_model = write_tree(str(tmp_path / "model"), MODEL_FILES)
    model_dir = f"{bucket}/serving/pet_unet"
    assert push.push_new_version(local_model, model_dir) == 1
    assert read_tree(f"{model_dir}/1").keys() == set(MODEL_FILES) | {
        MANIFEST_FILE}
    local_dir = str(tmp_path / "serving")  # the local path (lock, rename), a gs:// source
    assert push.push_new_version(remote_model, local_dir) == 1
    assert sorted(os.listdir(local_dir)) == [push.PUSH_LOCK_FILE, "1"]
    with open(os.path.join(local_dir, "1", "variables", "variables.index"), "rb") as handle:
        assert handle.read() == b"index"


def test_a_version_that_appeared_meanwhile_is_never_written_to(remote_model, bucket,
                                                               monkeypatch):
    model_dir = f"{bucket}/pet_unet"
    push.push_new_version(remote_model, model_dir)
    write_tree(f"{model_dir}/2", {"saved_model.pb": b"someone else's model"})
    # This pusher listed the versions before version 2 appeared: it picks 2, sees it taken.
    monkeypatch.setattr(push.versions, "existing_versions", lambda path: [1])
    with pytest.raises(push.VersionTaken, match=r"version 2 of .* is taken"):
        push.push_new_version(remote_model, model_dir)
    assert read_tree(f"{model_dir}/2") == {"saved_model.pb": b"someone else's model"}
    assert names(model_dir) == ["1", "2"]  # its claim and staging copy are gone


def test_a_rival_claim_stops_the_push_and_a_stale_one_does_not(remote_model, bucket):
    model_dir = f"{bucket}/pet_unet"
    push.push_new_version(remote_model, model_dir)
    rival = f"{push.CLAIM_PREFIX}2-{stamp(5)}-{'a' * 32}"
    write_tree(model_dir, {rival: b"{}"})  # another pusher is taking version 2 right now
    with pytest.raises(push.VersionTaken, match=rival):
        push.push_new_version(remote_model, model_dir)
    assert names(model_dir) == [rival, "1"]
    # A claim older than the stale age belongs to no live push: ignored and removed.
    assert push.push_model(remote_model, model_dir, reuse_existing=False,
                                     stale_seconds=1) == (2, True)
    assert names(model_dir) == ["1", "2"]


def test_leftovers_are_removed_only_when_older_than_the_stale_age(remote_model, bucket, capsys):
    model_dir = f"{bucket}/pet_unet"
    old = f"{push.TEMP_PREFIX}{stamp(3 * 86400)}-{'b' * 32}"
    old_claim = f"{push.CLAIM_PREFIX}9-{stamp(3 * 86400)}-{'c' * 32}"
    young = f"{push.TEMP_PREFIX}{stamp(60)}-{'d' * 32}"  # maybe a push under way
    unstamped = f"{push.TEMP_PREFIX}{'e' * 32}"  # no time in its name
    for name in (old, young, unstamped):
        write_tree(f"{model_dir}/{name}", {"variables/variables.index": b"half"})
    write_tree(model_dir, {old_claim: b"{}"})
    assert push.push_new_version(remote_model, model_dir) == 1
    assert names(model_dir) == sorted([young, unstamped, "1"])
    assert f"removed {old}" in capsys.readouterr().out


def test_a_failed_copy_into_the_version_leaves_its_number_free(remote_model, bucket,
                                                               monkeypatch):
    model_dir = f"{bucket}/pet_unet"
    real_copy = gfile.copy

    def copy(src, dst, overwrite=False):
        if dst.startswith(f"{model_dir}/1/variables/"):
            raise tf.errors.UnavailableError(None, None, "network gone")
        return real_copy(src, dst, overwrite)

    monkeypatch.setattr(gfile, "copy", copy)
    with pytest.raises(tf.errors.UnavailableError):
        push.push_new_version(remote_model, model_dir)
    assert names(model_dir) == []  # the partial version, staging copy and claim are removed
    monkeypatch.setattr(gfile, "copy", real_copy)
    assert push.push_new_version(remote_model, model_dir) == 1


def test_a_killed_push_is_listed_incomplete_refused_for_rollback_and_skipped(
        remote_model, bucket, capsys):
    model_dir = f"{bucket}/pet_unet"
    push.push_new_version(remote_model, model_dir, {
        "blessing": {"metrics": {"pixel_accuracy": 0.91}, "baseline": None},
        "data": {"span": 0}})
    # What a pusher killed while copying into version 2 leaves: everything but saved_model.pb.
    write_tree(f"{model_dir}/2", {name: data for name, data in MODEL_FILES.items()
                                  if name != "saved_model.pb"})
    assert not versions.is_complete(model_dir, 2)
    assert model_versions.main(["list", model_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "pixel accuracy 0.9100" in lines[0] and "INCOMPLETE" not in lines[0]
    assert "INCOMPLETE" in lines[1]
    assert model_versions.main(["rollback", model_dir, "2"]) == 2
    assert "no saved_model.pb" in capsys.readouterr().err

    assert model_versions.main(["rollback", model_dir, "1"]) == 0  # 2 is skipped, never reused
    assert "version 1 is now also version 3" in capsys.readouterr().out
    manifest = read_manifest(model_dir, 3)
    assert manifest["rolled_back_from"] == 1 and manifest["version"] == 3
    assert manifest["blessing"]["metrics"] == {"pixel_accuracy": 0.91}
    assert read_tree(f"{model_dir}/3") == read_tree(f"{model_dir}/1") | {
        MANIFEST_FILE: read_tree(f"{model_dir}/3")[MANIFEST_FILE]}
    assert names(model_dir) == ["1", "2", "3"]


def test_not_a_saved_model_is_refused(bucket):
    source = write_tree(f"{bucket}/not_a_model", {"variables/variables.index": b"index"})
    with pytest.raises(FileNotFoundError, match="no saved_model.pb"):
        push.push_new_version(source, f"{bucket}/pet_unet")
    assert versions.existing_versions(f"{bucket}/pet_unet") == []
    assert names(f"{bucket}/pet_unet") == []


def test_local_paths_do_not_import_tensorflow(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {REPO!r})
        from components import model_versions
        from serving.push import push_new_version
        os.makedirs({str(tmp_path)!r} + "/model/variables")
        open({str(tmp_path)!r} + "/model/saved_model.pb", "w").write("graph")
        assert push_new_version({str(tmp_path)!r} + "/model",
                                {str(tmp_path)!r} + "/serving") == 1
        assert model_versions.main(["list", {str(tmp_path)!r} + "/serving"]) == 0
        print("tensorflow imported:", "tensorflow" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert "tensorflow imported: False" in result.stdout
