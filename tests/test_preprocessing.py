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


def test_packed_images_are_the_rounded_pixels_and_unpack_to_the_model_input():
    pixels = tf.constant([[[[0.0, 0.4, 0.6], [127.5, 254.6, 255.0]]],
                          [[[300.0, -3.0, 12.2], [1.0, 2.0, 3.0]]]])  # [2, 1, 2, 3]
    packed = preprocessing.pack_images(pixels)
    assert packed.shape == (2,) and packed.dtype == tf.string
    unpacked = preprocessing.unpack_pixels(packed).numpy()
    assert unpacked.dtype == np.uint8
    np.testing.assert_array_equal(unpacked, [[[[0, 0, 1], [128, 255, 255]]],
                                             [[[255, 0, 12], [1, 2, 3]]]])
    images = preprocessing.model_images(tf.reshape(packed, [-1, 1])).numpy()
    assert images.dtype == np.float32
    np.testing.assert_allclose(images, unpacked / 255.0, atol=1e-7)


def test_a_packed_image_is_a_quarter_of_its_float_bytes():
    pixels = tf.random.uniform([1, 128, 128, 3], 0, 255, seed=1)
    packed = preprocessing.pack_images(pixels).numpy()[0]
    assert 128 * 128 * 3 <= len(packed) < 128 * 128 * 3 + 64  # uint8 and a short header


def test_unpacking_a_wrong_size_fails_loudly():
    packed = preprocessing.pack_images(tf.zeros([1, 16, 16, 3]))
    with pytest.raises(tf.errors.InvalidArgumentError):
        preprocessing.unpack_pixels(packed, size=32)


def _analyze_and_transform(raw, custom_config, temp_dir):
    """Runs preprocessing_fn through tf.Transform on Beam: (transformed examples, their spec)."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    raw_spec = {
        features.IMAGE_KEY: tf.io.FixedLenFeature([1], tf.string),
        features.MASK_KEY: tf.io.FixedLenFeature([1], tf.string),
    }
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))
    with tft_beam.Context(temp_dir=str(temp_dir)):
        (transformed, transformed_metadata), _ = (
            (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
                lambda inputs: preprocessing.preprocessing_fn(inputs, custom_config)))
    return transformed, schema_utils.schema_as_feature_spec(
        transformed_metadata.schema).feature_spec


def test_preprocessing_fn_under_tf_transform(tmp_path):
    """The real tf.Transform path: schema in, static-shaped transformed features out."""
    rng = np.random.default_rng(1)
    raw = [{features.IMAGE_KEY: [_jpeg(rng.integers(0, 256, (40 + i, 60, 3), np.uint8))],
            features.MASK_KEY: [_png(_trimap(40 + i, 60))]} for i in range(3)]
    transformed, feature_spec = _analyze_and_transform(raw, {"image_size": 32}, tmp_path)
    assert len(transformed) == 3
    for example, source in zip(transformed, raw):
        pixels = preprocessing.unpack_pixels(tf.constant([example[features.IMAGE_XF]]), 32)
        expected = preprocessing.resize_images(tf.constant(source[features.IMAGE_KEY]), 32)
        np.testing.assert_allclose(pixels.numpy()[0], expected.numpy()[0], atol=0.5)
        assert set(np.unique(example[features.MASK_XF]).tolist()) <= {0, 1, 2}
    assert feature_spec[features.IMAGE_XF].shape == []  # one packed string an example
    assert feature_spec[features.MASK_XF].shape == [32, 32, 1]
    assert features.CLASS_WEIGHTS_XF not in feature_spec  # no analyzer unless asked for


def test_auto_class_weights_come_from_the_masks_pixel_frequencies(tmp_path):
    """A tf.Transform analyzer counts class pixels over all masks: weights 1/frequency, mean 1."""
    pet, background, border = features.TRIMAP_VALUES
    halves = np.full((32, 32), background, np.uint8)
    halves[:, 16:] = border
    trimaps = [np.full((32, 32), pet, np.uint8), halves, np.full((32, 32), background, np.uint8)]
    raw = [{features.IMAGE_KEY: [_png(np.zeros((32, 32, 3), np.uint8))],
            features.MASK_KEY: [_png(trimap)]} for trimap in trimaps]
    transformed, feature_spec = _analyze_and_transform(
        raw, {"image_size": 32, "class_weights": "auto"}, tmp_path)
    # Pixels: pet 1024, background 512 + 1024, border 512 of 3072 -> frequencies 1/3, 1/2,
    # 1/6 -> inverse 3, 2, 6 (mean 11/3) -> 9/11, 6/11, 18/11.
    expected = np.array([9, 6, 18], np.float32) / 11
    assert len(transformed) == 3
    for example in transformed:  # every example carries the same, dataset-wide weights
        np.testing.assert_allclose(example[features.CLASS_WEIGHTS_XF], expected, rtol=1e-6)
    assert feature_spec[features.CLASS_WEIGHTS_XF].shape == [features.NUM_CLASSES]
    assert feature_spec[features.MASK_XF].shape == [32, 32, 1]


def test_inverse_frequency_weights_have_mean_one_over_present_classes():
    weights = preprocessing.inverse_frequency_weights(tf.constant([300, 0, 100], tf.int64))
    np.testing.assert_allclose(weights.numpy(), [0.5, 0.0, 1.5], rtol=1e-6)
    uniform = preprocessing.inverse_frequency_weights(tf.constant([7, 7, 7], tf.int64))
    np.testing.assert_allclose(uniform.numpy(), [1.0, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(
        preprocessing.inverse_frequency_weights(tf.zeros([3], tf.int64)).numpy(), [0, 0, 0])


def test_class_pixel_counts_per_example():
    masks = tf.constant([[[0], [0]], [[2], [1]]], tf.int64)[tf.newaxis]  # [1, 2, 2, 1]
    np.testing.assert_array_equal(preprocessing.class_pixel_counts(masks).numpy(), [[2, 1, 1]])
