"""Ingest: every listed sample becomes one example in its split, or is quarantined with a
reason; repairable images are re-encoded. Damaged datasets are built in the real layout."""

import glob
import io
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from components import oxford_pet_example_gen as example_gen
from oxford_pet import demo, layout, records
from trainer import features


def _read_examples(pattern: str):
    dataset = tf.data.TFRecordDataset(glob.glob(pattern), compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


def _value(example: tf.train.Example, key: str):
    feature = example.features.feature[key]
    return (feature.bytes_list.value or feature.int64_list.value)[0]


def _run(executor, data_dir: str, output_uri: str, limit: float = 1.0,
         patterns=None):
    """An ExampleGen executor as TFX runs it: a Beam job writing gzipped TFRecord splits."""
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    examples = standard_artifacts.Examples()
    examples.uri = output_uri
    executor.Do({}, {"examples": [examples]}, {
        "input_base": data_dir,
        "input_config": proto_utils.proto_to_json(example_gen.split_input_config(patterns)),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output()),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "custom_config": proto_utils.proto_to_json(
            example_gen.make_custom_config({"max_quarantined_fraction": limit})),
    })
    return examples


def _examples_by_name(uri: str, split: str):
    return {_value(e, features.FILE_NAME_KEY).decode()[:-4]: e
            for e in _read_examples(os.path.join(uri, f"Split-{split}", "*"))}


def test_example_fields_round_trip(small_dataset):
    entry = layout.read_list(os.path.join(small_dataset, layout.SPLIT_LISTS["train"]))[0]
    sample = records.make_sample(small_dataset, entry)
    assert sample.repair is None
    example = sample.example
    with open(layout.image_path(small_dataset, entry.name), "rb") as handle:
        assert _value(example, features.IMAGE_KEY) == handle.read()  # clean JPEG: as on disk
    with open(layout.trimap_path(small_dataset, entry.name), "rb") as handle:
        assert _value(example, features.MASK_KEY) == handle.read()
    assert _value(example, features.FILE_NAME_KEY) == (entry.name + ".jpg").encode()
    assert _value(example, features.LABEL_KEY) == entry.class_id - 1
    assert _value(example, features.SPECIES_KEY) == entry.species - 1


def test_clean_dataset_ingests_every_listed_image_once(small_dataset, tmp_path):
    examples = _run(example_gen.Executor(), small_dataset, str(tmp_path / "out"))
    for split, list_file in layout.SPLIT_LISTS.items():
        written = _examples_by_name(examples.uri, split)
        listed = [e.name for e in layout.read_list(os.path.join(small_dataset, list_file))]
        assert sorted(written) == sorted(listed)
        assert examples.get_int_custom_property(f"{split}_listed") == len(listed)
        assert examples.get_int_custom_property(f"{split}_quarantined") == 0


# ---- a dataset with every kind of damage the real one has, and some it might ----

def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


def _save_bytes(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A generated dataset (30 images) with one sample of each damage; returns (dir, damages)."""
    data_dir = str(tmp_path_factory.mktemp("damaged"))
    demo.make_demo_data(data_dir, count=30, seed=11, min_size=64, max_size=96)
    train = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["train"]))
    test = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"]))
    image = lambda e: layout.image_path(data_dir, e.name)  # noqa: E731
    trimap = lambda e: layout.trimap_path(data_dir, e.name)  # noqa: E731
    rgb = lambda e: Image.open(image(e)).convert("RGB")  # noqa: E731

    repaired = {}
    buffer = io.BytesIO()
    rgb(train[0]).save(buffer, "PNG")  # PNG data under a .jpg name
    _save_bytes(image(train[0]), buffer.getvalue())
    repaired[train[0].name] = "PNG data"
    buffer = io.BytesIO()
    rgb(train[1]).convert("RGBA").save(buffer, "PNG")  # RGBA PNG under a .jpg name
    _save_bytes(image(train[1]), buffer.getvalue())
    repaired[train[1].name] = "RGBA pixels"
    _save_bytes(image(train[2]), _jpeg(rgb(train[2]).convert("L")))  # grayscale JPEG
    repaired[train[2].name] = "L pixels"
    _save_bytes(image(train[3]), _jpeg(rgb(train[3]).convert("CMYK")))  # CMYK JPEG
    repaired[train[3].name] = "CMYK pixels"
    # A name from TFDS's list of "Corrupt JPEG data" files (here a valid JPEG: re-encoded).
    corrupt = layout.ListEntry("Abyssinian_5", 1, 1, 1)
    shutil.copy(image(train[4]), image(corrupt))
    shutil.copy(trimap(train[4]), trimap(corrupt))
    repaired[corrupt.name] = "known corrupt JPEG"

    quarantined = {}
    data = open(image(train[5]), "rb").read()
    _save_bytes(image(train[5]), data[: len(data) // 2])  # truncated
    quarantined[train[5].name] = "cannot be decoded"
    os.remove(trimap(train[6]))
    quarantined[train[6].name] = "is missing"
    Image.fromarray(np.full((20, 20), 2, np.uint8)).save(trimap(train[7]))
    quarantined[train[7].name] = "is 20x20 but its image is"
    values = np.asarray(Image.open(trimap(test[0]))).copy()
    values[0, 0] = 9
    Image.fromarray(values).save(trimap(test[0]))
    quarantined[test[0].name] = "outside [1, 2, 3]"

    with open(os.path.join(data_dir, layout.SPLIT_LISTS["train"]), "a") as handle:
        handle.write("\n")  # blank line: not a sample
        handle.write(corrupt.to_line() + "\n")
        handle.write("Bengal_xx 6 1\n")  # malformed
        handle.write(train[8].to_line() + "\n")  # listed twice
    with open(os.path.join(data_dir, layout.SPLIT_LISTS["eval"]), "a") as handle:
        handle.write(train[9].to_line() + "\n")  # also listed for train
    quarantined["line"] = "malformed list line"
    quarantined[train[8].name] = "listed twice"
    quarantined[train[9].name + "@eval"] = "also listed for train"
    return data_dir, repaired, quarantined


@pytest.fixture(scope="module")
def damaged_run(damaged, tmp_path_factory):
    data_dir, _, _ = damaged
    uri = str(tmp_path_factory.mktemp("damaged_out"))
    return _run(example_gen.Executor(), data_dir, uri, limit=0.5)


def _report(uri: str):
    with open(os.path.join(uri, example_gen.REPORT_DIR, example_gen.REPORT_FILE)) as handle:
        return json.load(handle)


def _jsonl(uri: str, name: str):
    with open(os.path.join(uri, example_gen.REPORT_DIR, name)) as handle:
        return [json.loads(line) for line in handle]


def test_listed_equals_ingested_plus_quarantined_per_split(damaged_run):
    report = _report(damaged_run.uri)["splits"]
    # train: 15 generated + 3 appended lines (Abyssinian_5, a malformed one, a repeat);
    # 3 damaged files and 2 bad lines are quarantined. The blank line is not a sample.
    assert report["train"] == {"listed": 15 + 3, "ingested": 15 + 1 - 3, "repaired": 5,
                               "quarantined": 3 + 2}
    assert report["eval"] == {"listed": 15 + 1, "ingested": 14, "repaired": 0,
                              "quarantined": 2}
    for split, counts in report.items():
        assert counts["listed"] == counts["ingested"] + counts["quarantined"]
        written = _examples_by_name(damaged_run.uri, split)
        assert len(written) == counts["ingested"]
        assert damaged_run.get_int_custom_property(f"{split}_ingested") == counts["ingested"]


def test_every_listed_sample_has_exactly_one_outcome(damaged, damaged_run):
    data_dir, _, _ = damaged
    outcomes = _jsonl(damaged_run.uri, example_gen.OUTCOMES_FILE)
    for split in ("train", "eval"):
        names = sorted(o["name"] for o in outcomes if o["split"] == split)
        listed = [line.split()[0] if len(line.split()) == 4 else None
                  for line in open(os.path.join(data_dir, layout.SPLIT_LISTS[split]))
                  if line.strip()]
        assert len(names) == len(listed)  # blank lines are not samples; every other line is


def test_each_damage_is_quarantined_with_its_reason(damaged, damaged_run):
    _, _, expected = damaged
    records_ = _jsonl(damaged_run.uri, example_gen.QUARANTINE_FILE)
    found = {}
    for record in records_:
        key = record["name"].split(" ")[0]
        if record["split"] == "eval" and "also listed" in record["reason"]:
            key += "@eval"
        found[key] = record["reason"]
    assert set(found) == set(expected)
    for name, reason in expected.items():
        assert reason in found[name], (name, found[name])


def test_repairable_images_are_re_encoded_as_rgb_jpeg(damaged, damaged_run):
    _, repaired, _ = damaged
    notes = {r["name"]: r["detail"] for r in _jsonl(damaged_run.uri, example_gen.OUTCOMES_FILE)
             if r["outcome"] == "repaired"}
    assert set(notes) == set(repaired)
    written = _examples_by_name(damaged_run.uri, "train")
    for name, what in repaired.items():
        assert what in notes[name]
        image = Image.open(io.BytesIO(_value(written[name], features.IMAGE_KEY)))
        assert (image.format, image.mode) == ("JPEG", "RGB")
        decoded = tf.io.decode_jpeg(_value(written[name], features.IMAGE_KEY))
        assert decoded.shape[-1] == 3


def test_too_much_quarantine_stops_ingest_after_writing_the_report(damaged, tmp_path):
    data_dir, _, _ = damaged
    with pytest.raises(example_gen.IngestError, match=r"train: 5 of 18 samples quarantined"):
        _run(example_gen.Executor(), data_dir, str(tmp_path / "out"), limit=0.1)
    assert _report(str(tmp_path / "out"))["splits"]["train"]["quarantined"] == 5


def test_a_split_with_nothing_left_stops_ingest(small_dataset, tmp_path):
    data_dir = str(tmp_path / "data")
    shutil.copytree(small_dataset, data_dir)
    for entry in layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"])):
        os.remove(layout.trimap_path(data_dir, entry.name))
    with pytest.raises(example_gen.IngestError, match="eval: no examples left to evaluate on"):
        _run(example_gen.Executor(), data_dir, str(tmp_path / "out"))


def test_list_line_contradicting_the_breed_table():
    with pytest.raises(records.BadSampleError, match="the breed Abyssinian is class 1"):
        records.check_entry(layout.ListEntry("Abyssinian_3", 2, 1, 1))


def test_strict_list_reading_names_file_and_line(tmp_path):
    path = tmp_path / "trainval.txt"
    path.write_text("Abyssinian_1 1 1 1\n\nAbyssinian_2 1 x 1\n")
    with pytest.raises(ValueError, match=r"trainval.txt:3: class id, species and breed id"):
        layout.read_list(str(path))


# ---- TFDS: records in TFDS oxford_iiit_pet 4.x format become the same examples ----

def _tfds_record(data_dir: str, entry: layout.ListEntry) -> bytes:
    """A tf.Example as TFDS oxford_iiit_pet 4.0.0 serializes one sample."""
    def b(value):
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

    def i(value):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    feature = {
        "image": b(open(layout.image_path(data_dir, entry.name), "rb").read()),
        "segmentation_mask": b(open(layout.trimap_path(data_dir, entry.name), "rb").read()),
        "file_name": b(f"{entry.name}.jpg".encode()),
        "label": i(entry.class_id - 1),
        "species": i(entry.species - 1),
        "head_bbox": tf.train.Feature(float_list=tf.train.FloatList(value=[0.1, 0.2, 0.5, 0.6])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_tfds_records_give_the_same_examples_as_the_directory(small_dataset, tmp_path):
    tfds_dir = tmp_path / "tensorflow_datasets" / "oxford_iiit_pet" / "4.0.0"
    tfds_dir.mkdir(parents=True)
    for split, tfds_split in (("train", "train"), ("eval", "test")):
        entries = layout.read_list(os.path.join(small_dataset, layout.SPLIT_LISTS[split]))
        for shard in range(2):
            path = tfds_dir / f"oxford_iiit_pet-{tfds_split}.tfrecord-0000{shard}-of-00002"
            with tf.io.TFRecordWriter(str(path)) as writer:
                for entry in entries[shard::2]:
                    writer.write(_tfds_record(small_dataset, entry))
    from_tfds = _run(example_gen.TfdsExecutor(), str(tfds_dir), str(tmp_path / "tfds_out"),
                     patterns=example_gen.TFDS_SPLIT_PATTERNS)
    from_dir = _run(example_gen.Executor(), small_dataset, str(tmp_path / "dir_out"))
    for split in ("train", "eval"):
        tfds_examples = _examples_by_name(from_tfds.uri, split)
        dir_examples = _examples_by_name(from_dir.uri, split)
        assert sorted(tfds_examples) == sorted(dir_examples) and tfds_examples
        for name, example in dir_examples.items():
            assert tfds_examples[name] == example  # same features, same bytes
    assert _report(from_tfds.uri) == _report(from_dir.uri)


def test_a_split_that_lists_nothing_stops_ingest(tmp_path):
    """An empty list file yields no outcome records at all; the split is still expected."""
    (tmp_path / example_gen.OUTCOMES_FILE).write_text(json.dumps(
        {"name": "Abyssinian_1", "split": "train", "outcome": "ingested"}) + "\n")
    with pytest.raises(example_gen.IngestError, match="eval: no examples left to evaluate on"):
        example_gen.write_report(str(tmp_path), 0.05, ["train", "eval"])
    report = json.loads((tmp_path / example_gen.REPORT_FILE).read_text())
    assert report["splits"]["eval"] == {"listed": 0, "ingested": 0, "repaired": 0,
                                        "quarantined": 0}
