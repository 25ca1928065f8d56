"""trainer/preprocessing.py: decode, resize and normalize, under tf.Transform too."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from trainer import features, preprocessing


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _jpeg(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _trimap(height: int, width: int) -> np.ndarray:
    trimap = np.full((height, width), 2, np.uint8)
    trimap[height // 4: 3 * height // 4, width // 4: 3 * width // 4] = 3
    trimap[height // 4 + 2: 3 * height // 4 - 2, width // 4 + 2: 3 * width // 4 - 2] = 1
    return trimap


def test_images_become_float_in_unit_range_at_the_configured_size():
    rng = np.random.default_rng(0)
    encoded = tf.constant([
        _jpeg(rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)),
        _png(rng.integers(0, 256, (90, 40), dtype=np.uint8)),  # grayscale PNG
        _png(rng.integers(0, 256, (33, 33, 4), dtype=np.uint8)),  # RGBA PNG
    ])
    images = preprocessing.decode_images(tf.reshape(encoded, [-1, 1]), 64).numpy()
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0 and images.max() > 0.5


def test_a_white_image_is_one_and_a_black_image_is_zero():
    white = _png(np.full((20, 30, 3), 255, np.uint8))
    black = _png(np.zeros((20, 30, 3), np.uint8))
    images = preprocessing.decode_images(tf.constant([white, black]), 32).numpy()
    np.testing.assert_allclose(images[0], 1.0)
    np.testing.assert_allclose(images[1], 0.0)


@pytest.mark.parametrize("size", [32, 96, 128])
def test_masks_stay_classes_0_1_2_when_resized(size):
    masks = preprocessing.decode_masks(
        tf.constant([[_png(_trimap(77, 53))], [_png(_trimap(200, 310))]]), size).numpy()
    assert masks.shape == (2, size, size, 1) and masks.dtype == np.int64
    assert set(np.unique(masks).tolist()) == {0, 1, 2}  # nearest: no invented classes


def test_mask_resize_invents_no_class_between_two_others():
    # Pet (1) directly against border (3): a bilinear resize would put background (2) between.
    trimap = np.ones((30, 30), np.uint8)
    trimap[:, 15:] = 3
    mask = preprocessing.decode_masks(tf.constant([_png(trimap)]), 64).numpy()
    assert set(np.unique(mask).tolist()) == {0, 2}


def test_mask_classes_follow_the_trimap_values():
    trimap = np.array([[1, 2], [3, 2]], np.uint8)
    mask = preprocessing.decode_masks(tf.constant([_png(trimap)]), 32).numpy()[0, ..., 0]
    assert mask[0, 0] == features.CLASS_NAMES.index("pet")
    assert mask[0, -1] == features.CLASS_NAMES.index("background")
    assert mask[-1, 0] == features.CLASS_NAMES.index("border")


def test_preprocessing_fn_under_tf_transform(tmp_path):
    """The real tf.Transform path: schema in, static-shaped transformed features out."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    raw_spec = {
        features.IMAGE_KEY: tf.io.FixedLenFeature([1], tf.string),
        features.MASK_KEY: tf.io.FixedLenFeature([1], tf.string),
    }
    rng = np.random.default_rng(1)
    raw = [{features.IMAGE_KEY: [_jpeg(rng.integers(0, 256, (40 + i, 60, 3), np.uint8))],
            features.MASK_KEY: [_png(_trimap(40 + i, 60))]} for i in range(3)]
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (transformed, transformed_metadata), _ = (
            (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
                lambda inputs: preprocessing.preprocessing_fn(inputs, {"image_size": 32})))
    assert len(transformed) == 3
    for example in transformed:
        assert np.asarray(example[features.IMAGE_XF]).shape == (32, 32, 3)
        assert set(np.unique(example[features.MASK_XF]).tolist()) <= {0, 1, 2}
    feature_spec = schema_utils.schema_as_feature_spec(transformed_metadata.schema).feature_spec
    assert feature_spec[features.IMAGE_XF].shape == [32, 32, 3]
    assert feature_spec[features.MASK_XF].shape == [32, 32, 1]
