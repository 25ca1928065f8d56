"""schema/ and the AnomaliesGate: examples that break the schema stop the run, named."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv

from components import anomalies_gate
from oxford_pet import measures, records
from pipeline.pipeline import SCHEMA_FILE
from trainer import features


def _example(label: int, species: int, with_mask: bool = True) -> tf.train.Example:
    feature = {
        features.IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"jpg"])),
        features.FILE_NAME_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a.jpg"])),
        features.LABEL_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
        features.SPECIES_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=[species])),
        features.BREED_KEY: records._bytes_feature(b"Abyssinian"),
        features.SPECIES_NAME_KEY: records._bytes_feature(b"cat"),
    }
    if with_mask:
        feature[features.MASK_KEY] = tf.train.Feature(
            bytes_list=tf.train.BytesList(value=[b"png"]))
    trimap = np.resize(np.array([1, 2, 3], np.uint8), (40, 50))
    feature.update(records._measured_features(measures.measure(
        np.full((40, 50, 3), 120, np.uint8), trimap, 2000)))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _anomalies(examples, tmp_path, split="eval"):
    """What ExampleValidator computes: statistics of the split checked against schema/."""
    path = str(tmp_path / "examples.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    statistics = tfdv.generate_statistics_from_tfrecord(path)
    anomalies = tfdv.validate_statistics(statistics, tfdv.load_schema_text(SCHEMA_FILE))
    out = tmp_path / "anomalies" / f"Split-{split}"
    out.mkdir(parents=True)
    (out / anomalies_gate.ANOMALIES_FILE).write_bytes(anomalies.SerializeToString())
    return str(tmp_path / "anomalies")


def test_good_examples_pass(tmp_path):
    uri = _anomalies([_example(0, 0), _example(36, 1)], tmp_path)
    anomalies_gate.check_anomalies(uri, ["eval"])


def test_a_wrong_breed_id_is_named(tmp_path):
    uri = _anomalies([_example(0, 0), _example(40, 1)], tmp_path)
    with pytest.raises(anomalies_gate.DataAnomaliesError, match="split 'eval', feature 'label'"):
        anomalies_gate.check_anomalies(uri, ["eval"])


def test_a_missing_feature_is_named(tmp_path):
    uri = _anomalies([_example(0, 0), _example(1, 1, with_mask=False)], tmp_path)
    with pytest.raises(anomalies_gate.DataAnomaliesError,
                       match="feature 'segmentation_mask'"):
        anomalies_gate.check_anomalies(uri, ["eval"])
    assert os.path.exists(os.path.join(uri, "Split-eval", anomalies_gate.ANOMALIES_FILE))


def test_an_image_measure_outside_the_schema_is_named(tmp_path):
    """The measured features have domains too: a trimap without any pet is an anomaly."""
    example = _example(0, 0)
    example.features.feature["pet_fraction"].float_list.value[0] = 0.0
    uri = _anomalies([_example(1, 1), example], tmp_path)
    with pytest.raises(anomalies_gate.DataAnomaliesError, match="feature 'pet_fraction'"):
        anomalies_gate.check_anomalies(uri, ["eval"])


def test_a_breed_name_outside_the_37_is_named(tmp_path):
    example = _example(0, 0)
    example.features.feature[features.BREED_KEY].bytes_list.value[0] = b"Abyssinian cat"
    uri = _anomalies([_example(1, 1), example], tmp_path)
    with pytest.raises(anomalies_gate.DataAnomaliesError, match="feature 'breed'"):
        anomalies_gate.check_anomalies(uri, ["eval"])
