"""The dataset, the ingest checks and the report through a filesystem that is not the local one.

TensorFlow's `ram://` goes through the same `tf.io.gfile` layer as gs://, in this process: code
that reads or writes a URI with `open`, `os.path`, `glob` or `os.listdir` fails here as it
fails on Vertex AI (tests/test_vertex_emulation.py runs the whole pipeline on an emulated
Cloud Storage). Each test uses its own ram:// folder.
"""

import json
import os
import uuid

import pytest


@pytest.fixture
def ram():
    """A fresh ram:// folder."""
    return f"ram://test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def spans(ram):
    from oxford_pet import demo

    root = f"{ram}/data"
    demo.make_demo_data(f"{root}/span-1", count=6, min_size=64, max_size=80)
    demo.make_demo_data(f"{root}/span-2", count=4, seed=1, min_size=64, max_size=80)
    return root


def test_uris_keep_their_scheme_where_os_path_would_collapse_it():
    from storage import files

    assert files.absolute("gs://b/x") == "gs://b/x"
    assert files.absolute("x") == os.path.abspath("x")
    assert files.normalized("gs://b/data/span-2/.") == "gs://b/data/span-2"
    assert files.normalized("gs://b/a/../c/") == "gs://b/c"
    assert files.normalized("/a/./b/..") == "/a"
    assert os.path.normpath("gs://b/data/.") == "gs:/b/data"  # what the seam avoids


def test_the_dataset_layout_reads_through_the_seam(spans):
    """The issue's reproduction: plan_split on a ram:// copy raised 'list file not found'."""
    from oxford_pet import layout

    assert layout.latest_span(spans, "span-{SPAN}") == (2, f"{spans}/span-2")
    layout.check_dataset(spans, "span-{SPAN}")
    plan = layout.plan_split(f"{spans}/span-1", "train")
    assert plan.listed == 3 and plan.list_file == f"{spans}/span-1/annotations/trainval.txt"
    assert len(layout.read_list(f"{spans}/span-1/{layout.LIST_FILE}")) == 6
    with pytest.raises(ValueError, match="does not exist"):
        layout.check_dataset(f"{spans}/span-9")


def test_the_fingerprint_sees_a_file_changed_in_place(spans):
    import tensorflow as tf

    from oxford_pet import layout
    from storage import files

    data_dir = f"{spans}/span-1"
    before = layout.listed_files_fingerprint(data_dir, "train")
    assert before.startswith("split:train,listed_files:6,missing:0,")
    entry = layout.plan_split(data_dir, "train").entries[0]
    path = layout.image_path(data_dir, entry.name)
    files.write_bytes(path, files.read_bytes(path) + b"\0")  # one byte longer
    changed = layout.listed_files_fingerprint(data_dir, "train")
    assert changed != before
    tf.io.gfile.remove(layout.trimap_path(data_dir, entry.name))
    assert ",missing:1," in layout.listed_files_fingerprint(data_dir, "train")


def test_a_sample_is_read_and_a_missing_or_misplaced_one_named(spans):
    import tensorflow as tf

    from oxford_pet import layout, records
    from storage import files

    data_dir = f"{spans}/span-1"
    first, second, third = layout.plan_split(data_dir, "train").entries
    sample = records.make_sample(data_dir, first)
    assert sample.example.features.feature["image"].bytes_list.value[0] == files.read_bytes(
        layout.image_path(data_dir, first.name))
    image = layout.image_path(data_dir, second.name)
    tf.io.gfile.rename(image, image[:-len(".jpg")] + ".JPG")
    with pytest.raises(records.BadSampleError, match=r"is missing \(found "
                                                     rf"{second.name}\.JPG"):
        records.make_sample(data_dir, second)
    directory = layout.image_path(data_dir, third.name)
    tf.io.gfile.remove(directory)
    files.write_text(f"{directory}/inside.txt", "x")
    with pytest.raises(records.BadSampleError, match="is a directory, not a file"):
        records.make_sample(data_dir, third)


def test_the_report_history_and_eval_config_are_written_and_read_through_the_seam(ram):
    from report import facts, samples
    from runs import evaluation
    from storage import files
    from trainer import features

    files.write_text(f"{ram}/run/{features.TRAINING_HISTORY_FILE}",
                     json.dumps({"loss": [1.0, 0.5]}))
    assert facts.read_history(f"{ram}/run") == {"loss": [1.0, 0.5]}
    assert facts.read_history(f"{ram}/nothing") is None
    files.write_text(f"{ram}/evaluation/eval_config.json", json.dumps(
        {"evalConfig": {}, "modelLocations": {"candidate": f"{ram}/model"}}))
    assert evaluation.eval_run(f"{ram}/evaluation")["model_locations"] == {
        "candidate": f"{ram}/model"}
    files.write_bytes(f"{ram}/examples/Split-eval/data-00000", b"")
    assert samples.eval_files(f"{ram}/examples") == [f"{ram}/examples/Split-eval/data-00000"]
    assert samples.collect(f"{ram}/no-model", f"{ram}/examples", 8, 2)["error"].startswith(
        "no candidate SavedModel found")


def test_the_report_files_land_in_the_report_directory(ram):
    """write_report on a recorded run's facts (tests/data/report), into ram://."""
    from report import write
    from storage import files

    with open(os.path.join(os.path.dirname(__file__), "data", "report", "facts.json")) as handle:
        recorded = json.load(handle)
    paths = write.write_report(recorded, f"{ram}/report")
    assert sorted(files.names(f"{ram}/report")) == sorted(
        [write.HTML_FILE, write.MARKDOWN_FILE, write.FACTS_FILE])
    assert files.read_text(paths[write.HTML_FILE]).lstrip().lower().startswith("<!doctype html")
    assert json.loads(files.read_text(paths[write.FACTS_FILE])) == recorded
