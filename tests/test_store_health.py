"""The metadata store checked before a run (damaged, empty, missing) and what a killed run left
in it, on real ML Metadata stores and real damaged files; and the runner's refusal."""

import os

import pytest

import local_runner
from runs import store_health


def _store(path: str):
    """A real ML Metadata store at `path` (created with its schema)."""
    return store_health.writable(path, create=True)


def _execution(store, state: int, uri: str):
    """An execution in `state` that wrote one artifact at `uri` (an OUTPUT event)."""
    from ml_metadata.proto import metadata_store_pb2 as pb

    execution_type = pb.ExecutionType(name="Trainer")
    artifact_type = pb.ArtifactType(name="Model")
    execution = pb.Execution(type_id=store.put_execution_type(execution_type),
                             last_known_state=state)
    [execution_id] = store.put_executions([execution])
    artifact = pb.Artifact(type_id=store.put_artifact_type(artifact_type), uri=uri,
                           state=pb.Artifact.LIVE if state == 3 else pb.Artifact.PENDING)
    [artifact_id] = store.put_artifacts([artifact])
    store.put_events([pb.Event(artifact_id=artifact_id, execution_id=execution_id,
                               type=pb.Event.OUTPUT)])
    return execution_id


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "pipeline_root"
    (root / "Trainer" / ".system").mkdir(parents=True)  # what a run leaves
    return root


def test_a_healthy_store_passes_and_damage_is_named(root):
    path = str(root / "metadata.sqlite")
    _store(path)
    assert store_health.damage(path) is None
    assert store_health.check(path, str(root), "/serving/pet_unet", new_store=False) == []
    data = open(path, "rb").read()
    cases = {"zeroed": b"\0" * 100 + data[100:], "truncated": data[: len(data) // 3],
             "empty": b"", "text": b"name,value\n"}
    said = {}
    for name, content in cases.items():
        with open(path, "wb") as handle:
            handle.write(content)
        said[name] = store_health.damage(path)
    assert said["zeroed"].startswith("it is not an SQLite database (its first bytes are 00 00")
    assert said["empty"] == "it is empty (0 bytes)"
    assert said["text"].startswith("it is not an SQLite database")
    assert said["truncated"]  # SQLite's own words: malformed, or cannot read


def test_a_damaged_store_is_refused_saying_what_is_lost_and_how_to_go_on(root):
    path = str(root / "metadata.sqlite")
    _store(path)
    with open(path, "r+b") as handle:
        handle.write(b"\0" * 16)  # a zeroed header
    with pytest.raises(store_health.StoreError) as raised:
        store_health.check(path, str(root), "/serving/pet_unet", new_store=False)
    message = str(raised.value)
    for said in (path, "is damaged", "every component runs again", "no baseline",
                 "/serving/pet_unet", "stay", "--new-metadata-store", ".recover"):
        assert said in message, said
    assert os.path.exists(path)  # nothing moved without the flag
    lines = store_health.check(path, str(root), "/serving/pet_unet", new_store=True)
    assert not os.path.exists(path) and "Moved the damaged metadata store" in lines[0]
    [aside] = [name for name in os.listdir(root) if name.startswith("metadata.sqlite.damaged-")]
    assert open(root / aside, "rb").read(16) == b"\0" * 16  # kept, not deleted


def test_a_missing_store_beside_earlier_outputs_needs_the_flag(root, tmp_path):
    path = str(root / "metadata.sqlite")
    with pytest.raises(store_health.StoreError, match="is missing, but .* holds outputs of "
                                                      "earlier runs \\(Trainer\\)"):
        store_health.check(path, str(root), "/serving/pet_unet", new_store=False)
    assert "Starting a new metadata store" in store_health.check(
        path, str(root), "/serving/pet_unet", new_store=True)[0]
    fresh = tmp_path / "fresh"
    assert store_health.check(str(fresh / "metadata.sqlite"), str(fresh), "/m", False) == []


def test_an_empty_store_with_nothing_recorded_is_removed(tmp_path):
    path = tmp_path / "metadata.sqlite"
    path.write_bytes(b"")
    lines = store_health.check(str(path), str(tmp_path), "/m", new_store=False)
    assert not path.exists() and "Removed the empty metadata store" in lines[0]


def test_the_runner_refuses_a_damaged_store_before_anything_runs(tmp_path, capsys):
    from oxford_pet import demo

    data_dir = str(tmp_path / "data")
    demo.make_demo_data(data_dir, count=4, seed=1, min_size=64, max_size=70)
    root = tmp_path / "work" / "pipeline_root"
    (root / "Trainer" / ".system").mkdir(parents=True)
    (root / "metadata.sqlite").write_bytes(b"\0" * 4096)
    code = local_runner.main(["--data-dir", data_dir, "--work-dir", str(tmp_path / "work")])
    out, err = capsys.readouterr()
    assert code == 2 and "Loading TFX" not in out
    assert err.count("\n") == 1 and f"metadata store {root / 'metadata.sqlite'} is damaged" in err


def test_executions_left_running_are_closed_and_only_their_directories_removed(root):
    path = str(root / "metadata.sqlite")
    store = _store(path)
    done = _execution(store, 3, str(root / "Trainer" / "model" / "1"))
    killed = _execution(store, 2, str(root / "Trainer" / "model" / "2"))
    for directory in ("Trainer/model/1", "Trainer/model/2/beam-temp-abc",
                      f"Trainer/.system/executor_execution/{killed}/.temp",
                      f"Trainer/.system/executor_execution/{done}"):
        (root / directory).mkdir(parents=True)
    lines = store_health.close_abandoned(path, str(root))
    assert len(lines) == 1 and f"execution {killed} was left running" in lines[0]
    states = {e.id: e for e in _store(path).get_executions()}
    assert states[killed].last_known_state == store_health.CANCELED
    assert states[done].last_known_state == 3
    assert "the next run" in states[killed].custom_properties[store_health.ABANDONED_KEY]\
        .string_value
    assert not (root / "Trainer" / "model" / "2").exists()
    assert not (root / "Trainer" / ".system" / "executor_execution" / str(killed)).exists()
    assert (root / "Trainer" / "model" / "1").is_dir()  # a recorded artifact's: kept
    assert (root / "Trainer" / ".system" / "executor_execution" / str(done)).is_dir()
    assert store_health.close_abandoned(path, str(root)) == []  # nothing left to close
