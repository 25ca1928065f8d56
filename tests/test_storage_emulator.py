"""The emulated Cloud Storage (deploy/storage_emulator), as a step sees it.

One command runs inside one session (`python -m deploy.storage_emulator run`, a private network
namespace, root): TensorFlow's own gs:// filesystem, Beam's GCS IO and google-cloud-storage, each
with the credentials the emulated metadata server hands out, read, write, rename and delete
objects; a request without a token is refused as Cloud Storage refuses it; `open("gs://...")`
writes a local folder, not the bucket. Afterwards the directory holds what the buckets held.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROBE = textwrap.dedent('''
    import json, os, sys, urllib.error, urllib.request, warnings
    warnings.filterwarnings("ignore")
    import tensorflow as tf
    from apache_beam.io.filesystems import FileSystems
    from google.cloud import storage

    seen = {}
    seen["tf_listdir"] = sorted(tf.io.gfile.listdir("gs://bkt/"))
    seen["tf_read"] = tf.io.gfile.GFile("gs://bkt/a.txt").read()
    with tf.io.gfile.GFile("gs://bkt/tf/written.txt", "w") as handle:
        handle.write("by tensorflow")
    tf.io.gfile.rename("gs://bkt/tf/written.txt", "gs://bkt/tf/renamed.txt")
    tf.io.gfile.rmtree("gs://bkt/sub")
    with FileSystems.create("gs://bkt/beam/x.txt") as handle:
        handle.write(b"by beam")
    FileSystems.rename(["gs://bkt/beam/x.txt"], ["gs://bkt/beam/y.txt"])  # batch copy + delete
    seen["beam_match"] = sorted(m.path for m in FileSystems.match(["gs://bkt/beam/*"])[0]
                                .metadata_list)
    client = storage.Client()  # credentials and project from the metadata server
    seen["project"] = client.project
    seen["client_list"] = sorted(b.name for b in client.list_blobs("bkt", prefix="tf/"))
    try:
        urllib.request.urlopen("https://storage.googleapis.com/storage/v1/b/bkt/o")
        seen["anonymous"] = 200
    except urllib.error.HTTPError as error:
        seen["anonymous"] = error.code
    os.makedirs("gs://bkt/opened", exist_ok=True)
    with open("gs://bkt/opened/lost.txt", "w") as handle:  # what a bypass of the seam does
        handle.write("local")
    seen["opened_in_bucket"] = tf.io.gfile.exists("gs://bkt/opened/lost.txt")
    print("SEEN " + json.dumps(seen))
    sys.exit(3)
''')


@pytest.fixture(scope="module")
def session_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("storage")
    gcs = work / "gcs"
    (gcs / "bkt" / "sub").mkdir(parents=True)
    (gcs / "bkt" / "a.txt").write_text("seeded")
    (gcs / "bkt" / "sub" / "b.txt").write_text("to be deleted")
    (gcs / ".vertex-emulator").mkdir()
    (gcs / ".vertex-emulator" / "state.json").write_text("{}")  # not a bucket: left alone
    probe = work / "probe.py"
    probe.write_text(PROBE)
    result = subprocess.run(
        [sys.executable, "-m", "deploy.storage_emulator", "run", "--gcs-dir", str(gcs), "--",
         sys.executable, str(probe)], cwd=str(work), capture_output=True, text=True,
        timeout=600, env={**os.environ, "PYTHONPATH": REPO})
    seen = next((json.loads(line[5:]) for line in result.stdout.splitlines()
                 if line.startswith("SEEN ")), None)
    return result, seen, work


def test_every_client_reaches_the_bucket_with_the_metadata_servers_credentials(session_run):
    result, seen, _ = session_run
    assert seen is not None, result.stdout[-3000:] + result.stderr[-3000:]
    assert seen["tf_listdir"] == ["a.txt", "sub/"] and seen["tf_read"] == "seeded"
    assert seen["beam_match"] == ["gs://bkt/beam/y.txt"]
    assert seen["project"] == "my-project"
    assert seen["client_list"] == ["tf/renamed.txt"]
    assert seen["anonymous"] == 401  # no token: refused, as Cloud Storage refuses it


def test_open_on_a_gs_uri_writes_a_local_folder_not_the_bucket(session_run):
    _, seen, work = session_run
    assert seen["opened_in_bucket"] is False
    assert (work / "gs:" / "bkt" / "opened" / "lost.txt").read_text() == "local"
    assert not (work / "gcs" / "bkt" / "opened").exists()


def test_the_directory_holds_the_buckets_afterwards_and_the_exit_status_is_the_commands(
        session_run):
    result, _, work = session_run
    gcs = work / "gcs"
    assert result.returncode == 3, result.stderr[-3000:]
    assert (gcs / "bkt" / "tf" / "renamed.txt").read_text() == "by tensorflow"
    assert not (gcs / "bkt" / "tf" / "written.txt").exists()
    assert (gcs / "bkt" / "beam" / "y.txt").read_bytes() == b"by beam"
    assert not (gcs / "bkt" / "sub").exists()  # deleted in the bucket, so here
    assert (gcs / "bkt" / "a.txt").read_text() == "seeded"
    assert (gcs / ".vertex-emulator" / "state.json").read_text() == "{}"
    assert "emulated Cloud Storage: 2 objects in 1 buckets" in result.stdout
    assert "wrote back to" in result.stdout


def test_the_session_needs_a_command_and_a_directory(tmp_path):
    for args, message in ((["--gcs-dir", str(tmp_path)], "no command"),
                          (["--gcs-dir", str(tmp_path / "none"), "--", "true"],
                           "is not a directory")):
        result = subprocess.run([sys.executable, "-m", "deploy.storage_emulator", "run", *args],
                                cwd=REPO, capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and message in result.stderr
