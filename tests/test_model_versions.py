"""serving/push.py and the `rollback` command: integer versions, never overwritten, never
partial, even when a pusher is killed halfway or two push at once (real processes, real SIGKILL;
no TFX needed)."""

import hashlib
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from components import model_versions
from serving.manifest import MANIFEST_FILE, read_manifest
from serving.push import PUSH_LOCK_FILE, TEMP_PREFIX, push_model, push_new_version
from serving.versions import existing_versions, version_of
from storage import files

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def saved_model(tmp_path):
    model = tmp_path / "model"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"graph" * 1000)
    (model / "variables" / "variables.index").write_bytes(b"index")
    (model / "variables" / "variables.data-00000-of-00001").write_bytes(b"weights" * 1000)
    return str(model)


def tree_digest(path: str) -> str:
    """One hash over every file's relative path and bytes under `path`."""
    digest = hashlib.sha256()
    for root, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode())
            with open(full, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()


def assert_every_version_complete(model_dir: str, model_path: str) -> None:
    """What a server would load: each integer directory is a whole copy plus its manifest."""
    expected = tree_digest(model_path)
    for version in existing_versions(model_dir):
        path = os.path.join(model_dir, str(version))
        manifest = read_manifest(model_dir, version)
        assert manifest["version"] == version
        copied = {os.path.relpath(os.path.join(r, f), path) for r, _, fs in os.walk(path)
                  for f in fs}
        original = {os.path.relpath(os.path.join(r, f), model_path)
                    for r, _, fs in os.walk(model_path) for f in fs}
        assert copied == original | {MANIFEST_FILE}, version
        for name in original:
            with open(os.path.join(path, name), "rb") as a, \
                    open(os.path.join(model_path, name), "rb") as b:
                assert a.read() == b.read(), (version, name)
    assert expected == tree_digest(model_path)  # the source was not touched either


def test_versions_count_up_from_one(saved_model, tmp_path):
    model_dir = str(tmp_path / "serving" / "pet_unet")
    assert push_new_version(saved_model, model_dir) == 1
    assert push_new_version(saved_model, model_dir) == 2
    assert existing_versions(model_dir) == [1, 2]
    # no temporary left behind; the lock file is hidden (TF Serving ignores non-integers)
    assert sorted(os.listdir(model_dir)) == [PUSH_LOCK_FILE, "1", "2"]
    manifest = read_manifest(model_dir, 2)
    assert (manifest["model_path"], manifest["version"]) == (saved_model, 2)
    assert_every_version_complete(model_dir, saved_model)


def test_the_same_model_is_found_in_its_version(saved_model, tmp_path):
    model_dir = str(tmp_path / "pet_unet")
    assert version_of(model_dir, saved_model) is None
    assert push_model(saved_model, model_dir, {"run": "a"}) == (1, True)
    assert version_of(model_dir, saved_model) == 1
    assert read_manifest(model_dir, 1)["run"] == "a"
    assert push_model(saved_model, model_dir, {"run": "b"}) == (1, False)
    assert read_manifest(model_dir, 1)["run"] == "a"  # not rewritten
    assert existing_versions(model_dir) == [1]


def test_an_existing_version_is_never_overwritten(saved_model, tmp_path):
    model_dir = tmp_path / "pet_unet"
    (model_dir / "7").mkdir(parents=True)
    (model_dir / "7" / "saved_model.pb").write_bytes(b"older model")
    (model_dir / ".incoming-leftover").mkdir()  # a killed push's temporary: not a version
    assert push_new_version(saved_model, str(model_dir)) == 8
    assert (model_dir / "7" / "saved_model.pb").read_bytes() == b"older model"
    assert existing_versions(str(model_dir)) == [7, 8]
    assert not (model_dir / ".incoming-leftover").exists()  # cleaned by the next push


def test_a_failed_copy_leaves_no_version(tmp_path):
    model_dir = tmp_path / "pet_unet"
    with pytest.raises(OSError):
        push_new_version(str(tmp_path / "no_model_here"), str(model_dir))
    assert existing_versions(str(model_dir)) == []
    assert not [name for name in os.listdir(model_dir)
                if name.startswith(TEMP_PREFIX)]


def test_rename_never_replaces_an_existing_directory(tmp_path):
    source, target = tmp_path / "source", tmp_path / "3"
    source.mkdir()
    (source / "saved_model.pb").write_bytes(b"new")
    target.mkdir()  # empty: a plain os.rename would silently replace it
    with pytest.raises(FileExistsError):
        files.LocalFiles().rename_no_replace(str(source), str(target))
    assert (source / "saved_model.pb").exists() and os.listdir(target) == []
    files.LocalFiles().rename_no_replace(str(source), str(tmp_path / "4"))
    assert (tmp_path / "4" / "saved_model.pb").read_bytes() == b"new"


# A pusher in its own process that SIGKILLs itself at a chosen point of the push.
KILLED_PUSH = textwrap.dedent("""
    import os, shutil, signal, sys
    sys.path.insert(0, {repo!r})
    from serving import push
    from storage import files

    model_path, model_dir, where = sys.argv[1:4]
    if where == "copy":  # after the first file of the model: a half-written temporary
        real_copyfile, copied = shutil.copyfile, []
        def copyfile(src, dst, **kwargs):
            if copied:
                os.kill(os.getpid(), signal.SIGKILL)
            copied.append(src)
            return real_copyfile(src, dst, **kwargs)
        shutil.copyfile = copyfile
    else:  # "rename": the copy and its manifest are complete, the rename never happens
        def rename(self, source, target):
            os.kill(os.getpid(), signal.SIGKILL)
        files.LocalFiles.rename_no_replace = rename
    push.push_new_version(model_path, model_dir)
    print("not killed")
""")


@pytest.mark.parametrize("where", ["copy", "rename"])
def test_a_push_killed_midway_leaves_no_partial_version(saved_model, tmp_path, where):
    model_dir = str(tmp_path / "pet_unet")
    assert push_new_version(saved_model, model_dir) == 1
    version_1 = tree_digest(os.path.join(model_dir, "1"))

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_PUSH.format(repo=REPO), saved_model, model_dir, where],
        capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    leftovers = [name for name in os.listdir(model_dir)
                 if name.startswith(TEMP_PREFIX)]
    assert len(leftovers) == 1  # the kill happened mid-push, and left only a hidden directory
    assert existing_versions(model_dir) == [1]  # nothing a server would load
    assert_every_version_complete(model_dir, saved_model)

    # The dead pusher's lock went with it: the next push neither waits nor fails, removes the
    # leftover, takes the next number and leaves version 1 as it was.
    assert push_model(saved_model, model_dir, reuse_existing=False,
                                     wait_seconds=0) == (2, True)
    assert not os.path.exists(os.path.join(model_dir, leftovers[0]))
    assert existing_versions(model_dir) == [1, 2]
    assert tree_digest(os.path.join(model_dir, "1")) == version_1
    assert_every_version_complete(model_dir, saved_model)


CONCURRENT_PUSHES = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {repo!r})
    from serving import push

    model_path, model_dir, start_file, count = sys.argv[1:5]
    while not os.path.exists(start_file):
        time.sleep(0.01)
    print(",".join(str(push.push_new_version(model_path, model_dir, {{"pid": os.getpid()}}))
                   for _ in range(int(count))))
""")


def test_two_pushers_at_once_neither_duplicate_nor_skip_a_version(saved_model, tmp_path):
    model_dir, start, pushes = str(tmp_path / "pet_unet"), str(tmp_path / "go"), 6
    pushers = [subprocess.Popen(
        [sys.executable, "-c", CONCURRENT_PUSHES.format(repo=REPO), saved_model, model_dir,
         start, str(pushes)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)]
    open(start, "w").close()  # both start pushing at the same moment
    taken = []
    for pusher in pushers:
        out, err = pusher.communicate(timeout=300)
        assert pusher.returncode == 0, err
        taken.append([int(v) for v in out.strip().split(",")])
    everything = sorted(taken[0] + taken[1])
    assert everything == list(range(1, 2 * pushes + 1))  # each number once, none skipped
    assert existing_versions(model_dir) == everything
    for versions, pusher in zip(taken, pushers):  # each version's manifest names its pusher
        assert {read_manifest(model_dir, v)["pid"] for v in versions} == {
            pusher.pid}
    assert_every_version_complete(model_dir, saved_model)
    assert not [n for n in os.listdir(model_dir) if n.startswith(TEMP_PREFIX)]


def test_roll_back_serves_an_earlier_version_again_and_keeps_every_version(saved_model,
                                                                          tmp_path, capsys):
    model_dir = str(tmp_path / "pet_unet")
    push_new_version(saved_model, model_dir, {
        "blessing": {"metrics": {"pixel_accuracy": 0.91}, "baseline": None},
        "data": {"span": 0}, "architecture": "unet_mobilenet_v2"})
    push_new_version(saved_model, model_dir, {
        "blessing": {"metrics": {"pixel_accuracy": 0.93}, "baseline": {"version": 1}}})
    before = {v: tree_digest(os.path.join(model_dir, str(v))) for v in (1, 2)}

    assert model_versions.main(["rollback", model_dir, "1"]) == 0
    assert "version 1 is now also version 3" in capsys.readouterr().out
    assert existing_versions(model_dir) == [1, 2, 3]
    assert {v: tree_digest(os.path.join(model_dir, str(v))) for v in (1, 2)} == before
    manifest = read_manifest(model_dir, 3)
    assert manifest["rolled_back_from"] == 1 and manifest["version"] == 3
    assert manifest["blessing"]["metrics"] == {"pixel_accuracy": 0.91}
    assert_every_version_complete(model_dir, saved_model)

    assert model_versions.main(["list", model_dir]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert "pixel accuracy 0.9100" in lines[0] and "data span 0" in lines[0]
    assert "beat version 1" in lines[1]
    assert "copy of version 1" in lines[2]
    assert model_versions.main(["rollback", model_dir, "9"]) == 2
    assert "has no version 9" in capsys.readouterr().err
