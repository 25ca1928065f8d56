"""Ingest: list files and images -> one checked tf.Example per listed image, in its split."""

import glob
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from oxford_pet import layout, records
from trainer import features


def _read_examples(pattern: str):
    files = glob.glob(pattern)
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


def _value(example: tf.train.Example, key: str):
    feature = example.features.feature[key]
    return (feature.bytes_list.value or feature.int64_list.value)[0]


def test_example_fields_round_trip(small_dataset):
    entry = layout.read_list(os.path.join(small_dataset, layout.SPLIT_LISTS["train"]))[0]
    example = records.make_example(small_dataset, entry)
    with open(layout.image_path(small_dataset, entry.name), "rb") as handle:
        assert _value(example, features.IMAGE_KEY) == handle.read()
    with open(layout.trimap_path(small_dataset, entry.name), "rb") as handle:
        assert _value(example, features.MASK_KEY) == handle.read()
    assert _value(example, features.FILE_NAME_KEY) == (entry.name + ".jpg").encode()
    assert _value(example, features.LABEL_KEY) == entry.class_id - 1
    assert _value(example, features.SPECIES_KEY) == entry.species - 1


@pytest.fixture
def damaged(small_dataset, tmp_path):
    copy = str(tmp_path / "data")
    shutil.copytree(small_dataset, copy)
    entry = layout.read_list(os.path.join(copy, layout.SPLIT_LISTS["train"]))[0]
    return copy, entry


def test_missing_trimap_names_the_file(damaged):
    data_dir, entry = damaged
    os.remove(layout.trimap_path(data_dir, entry.name))
    with pytest.raises(records.BadSampleError, match=f"trimap .*{entry.name}.png is missing"):
        records.make_example(data_dir, entry)


def test_truncated_image_names_the_file(damaged):
    data_dir, entry = damaged
    path = layout.image_path(data_dir, entry.name)
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 3])
    with pytest.raises(records.BadSampleError, match=f"{entry.name}.jpg cannot be decoded"):
        records.make_example(data_dir, entry)


def test_trimap_of_another_size_or_with_foreign_values(damaged):
    data_dir, entry = damaged
    path = layout.trimap_path(data_dir, entry.name)
    Image.fromarray(np.full((10, 10), 2, np.uint8)).save(path)
    with pytest.raises(records.BadSampleError, match="is 10x10 but its image is"):
        records.make_example(data_dir, entry)
    size = Image.open(layout.image_path(data_dir, entry.name)).size
    values = np.full((size[1], size[0]), 2, np.uint8)
    values[0, 0] = 7
    Image.fromarray(values).save(path)
    with pytest.raises(records.BadSampleError, match=r"values \[7\] outside"):
        records.make_example(data_dir, entry)


def test_list_line_contradicting_the_breed_table(damaged):
    data_dir, entry = damaged
    with pytest.raises(records.BadSampleError, match="the breed .* is class"):
        records.make_example(data_dir, entry._replace(class_id=entry.class_id % 37 + 1))


def test_malformed_list_line_names_file_and_line(tmp_path):
    path = tmp_path / "trainval.txt"
    path.write_text("Abyssinian_1 1 1 1\n\nAbyssinian_2 1 x 1\n")
    with pytest.raises(ValueError, match=r"trainval.txt:3: class id, species and breed id"):
        layout.read_list(str(path))


def _run_example_gen(data_dir: str, output_uri: str):
    """The ExampleGen executor as TFX runs it: a Beam job writing gzipped TFRecord splits."""
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from components import oxford_pet_example_gen

    examples = standard_artifacts.Examples()
    examples.uri = output_uri
    oxford_pet_example_gen.Executor().Do({}, {"examples": [examples]}, {
        "input_base": data_dir,
        "input_config": proto_utils.proto_to_json(oxford_pet_example_gen.split_input_config()),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output()),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
    })
    return examples


def test_example_gen_writes_every_listed_image_once_in_its_split(small_dataset, tmp_path):
    from tfx.types import artifact_utils

    examples = _run_example_gen(small_dataset, str(tmp_path / "examples"))
    assert artifact_utils.decode_split_names(examples.split_names) == ["train", "eval"]
    for split, list_file in layout.SPLIT_LISTS.items():
        written = _read_examples(os.path.join(examples.uri, f"Split-{split}", "*"))
        names = sorted(_value(e, features.FILE_NAME_KEY).decode() for e in written)
        listed = sorted(entry.name + ".jpg"
                        for entry in layout.read_list(os.path.join(small_dataset, list_file)))
        assert names == listed


def test_example_gen_refuses_a_name_listed_twice(small_dataset, tmp_path):
    data_dir = str(tmp_path / "data")
    shutil.copytree(small_dataset, data_dir)
    list_file = os.path.join(data_dir, layout.SPLIT_LISTS["eval"])
    first_line = open(list_file).readline()
    with open(list_file, "a") as handle:
        handle.write(first_line)
    with pytest.raises(ValueError, match="more than once"):
        _run_example_gen(data_dir, str(tmp_path / "examples"))


def test_example_gen_stops_on_a_bad_sample_naming_it(small_dataset, tmp_path):
    data_dir = str(tmp_path / "data")
    shutil.copytree(small_dataset, data_dir)
    entry = layout.read_list(os.path.join(data_dir, layout.SPLIT_LISTS["eval"]))[-1]
    os.remove(layout.image_path(data_dir, entry.name))
    with pytest.raises(Exception, match=f"image .*{entry.name}.jpg is missing"):
        _run_example_gen(data_dir, str(tmp_path / "examples"))
