"""Class-weighted loss: parsing the setting, and per-pixel sample weights in the Trainer."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from trainer import features, model as unet, preprocessing, train

SIZE = 8


# ---- the setting ----

@pytest.mark.parametrize("spec, expected", [
    (None, None), ("", None), ("none", None), ("auto", "auto"), (" AUTO ", "auto"),
    ("1,2,3", (1.0, 2.0, 3.0)), ("0.5, 1, 2.25", (0.5, 1.0, 2.25)), ("0,1,0", (0.0, 1.0, 0.0)),
    ([2, 2, 1], (2.0, 2.0, 1.0)),
])
def test_class_weights_are_parsed(spec, expected):
    assert features.parse_class_weights(spec) == expected


@pytest.mark.parametrize("spec", ["1,2", "1,2,3,4", "a,b,c", "1,-1,2", "0,0,0", "nan,1,1",
                                  "inf,1,1", "automatic", 3])
def test_bad_class_weights_say_what_is_accepted(spec):
    with pytest.raises(ValueError, match=r"class_weights must be 'auto' or 3 non-negative "
                                         r"numbers, one per class \(pet,background,border\)"):
        features.parse_class_weights(spec)


# ---- the input function ----

class _FakeTransformOutput:
    """The one thing input_fn asks of a TFTransformOutput: the transformed feature spec."""

    def __init__(self, with_class_weights: bool = False):
        self._spec = {
            features.IMAGE_XF: tf.io.FixedLenFeature([], tf.string),
            features.MASK_XF: tf.io.FixedLenFeature([SIZE, SIZE, 1], tf.int64),
        }
        if with_class_weights:
            self._spec[features.CLASS_WEIGHTS_XF] = tf.io.FixedLenFeature(
                [features.NUM_CLASSES], tf.float32)

    def transformed_feature_spec(self):
        return dict(self._spec)


def _write_examples(path, count: int, class_weights=None, seed: int = 0):
    """Transformed examples as Transform writes them (gzipped TFRecords, images packed by
    preprocessing.pack_images); returns the masks."""
    rng = np.random.default_rng(seed)
    masks = rng.integers(0, features.NUM_CLASSES, (count, SIZE, SIZE, 1))
    packed = preprocessing.pack_images(
        tf.constant(rng.random((count, SIZE, SIZE, 3)) * 255, tf.float32)).numpy()
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for mask, image in zip(masks, packed):
            feature = {
                features.IMAGE_XF: tf.train.Feature(bytes_list=tf.train.BytesList(
                    value=[image])),
                features.MASK_XF: tf.train.Feature(int64_list=tf.train.Int64List(
                    value=mask.reshape(-1))),
            }
            if class_weights is not None:
                feature[features.CLASS_WEIGHTS_XF] = tf.train.Feature(
                    float_list=tf.train.FloatList(value=class_weights))
            writer.write(tf.train.Example(features=tf.train.Features(
                feature=feature)).SerializeToString())
    return masks


def test_without_class_weights_batches_are_image_and_mask(tmp_path):
    _write_examples(tmp_path / "train.gz", 5)
    batches = list(train.input_fn([str(tmp_path / "*.gz")], _FakeTransformOutput(), 4))
    assert [len(batch) for batch in batches] == [2, 2]
    image, mask = batches[0]
    assert image.shape == (4, SIZE, SIZE, 3) and mask.shape == (4, SIZE, SIZE, 1)
    assert image.dtype == tf.float32 and mask.dtype == tf.int64


@pytest.mark.parametrize("cache", [False, True])
def test_input_gives_the_packed_pixels_normalized_and_the_masks_unchanged(tmp_path, cache):
    """Unshuffled, the batches are the file's examples in order: pixels / 255 and class ids."""
    masks = _write_examples(tmp_path / "train.gz", 5)
    records = list(tf.data.TFRecordDataset(str(tmp_path / "train.gz"), "GZIP"))
    spec = _FakeTransformOutput().transformed_feature_spec()
    pixels = np.stack([tf.io.parse_tensor(tf.io.parse_single_example(
        record, spec)[features.IMAGE_XF], tf.uint8).numpy() for record in records])
    dataset = train.input_fn([str(tmp_path / "*.gz")], _FakeTransformOutput(), 2, cache=cache)
    for _ in range(2):  # a cached second epoch gives the same
        images = np.concatenate([image.numpy() for image, _ in dataset])
        labels = np.concatenate([mask.numpy() for _, mask in dataset])
        np.testing.assert_allclose(images, pixels / 255.0, atol=1e-7)
        np.testing.assert_array_equal(labels, masks)


@pytest.mark.parametrize("every_nth, kept", [(1, [0, 1, 2, 3, 4, 5, 6]), (3, [0, 3, 6]),
                                             (5, [0, 5]), (9, [0])])
def test_every_nth_keeps_the_same_spread_examples_every_epoch(tmp_path, every_nth, kept):
    masks = _write_examples(tmp_path / "eval.gz", 7)
    dataset = train.input_fn([str(tmp_path / "*.gz")], _FakeTransformOutput(), 2, cache=True,
                             every_nth=every_nth)
    for _ in range(2):  # the cached second epoch: the same examples
        labels = np.concatenate([mask.numpy() for _, mask in dataset])
        np.testing.assert_array_equal(labels, masks[kept])


def test_the_input_runs_without_the_autotuning_thread(tmp_path):
    """Destroying an epoch's iterator waited for tf.data's autotuning thread (train.py)."""
    _write_examples(tmp_path / "train.gz", 3)
    for shuffle in (False, True):
        dataset = train.input_fn([str(tmp_path / "*.gz")], _FakeTransformOutput(), 2,
                                 shuffle=shuffle, augment=shuffle, cache=True)
        assert dataset.options().autotune.enabled is False


def test_cached_input_gives_every_epoch_the_same_examples_reshuffled(tmp_path):
    masks = _write_examples(tmp_path / "train.gz", 6)
    dataset = train.input_fn([str(tmp_path / "*.gz")], _FakeTransformOutput(), 4,
                             shuffle=True, seed=1, cache=True)
    epochs = [np.concatenate([mask.numpy() for _, mask in dataset]) for _ in range(3)]
    for epoch in epochs:  # the examples of the file, each once, in some order
        assert sorted(m.tobytes() for m in epoch) == sorted(m.tobytes() for m in masks)
    assert len({epoch.tobytes() for epoch in epochs}) > 1  # reshuffled after the cache


@pytest.mark.parametrize("augment", [False, True])
def test_each_pixel_weighs_what_its_true_class_weighs(tmp_path, augment):
    _write_examples(tmp_path / "train.gz", 6)
    weights = (0.5, 1.0, 4.0)
    dataset = train.input_fn([str(tmp_path / "*.gz")], _FakeTransformOutput(), 4,
                             shuffle=augment, augment=augment, seed=3, class_weights=weights)
    seen = 0
    for image, mask, sample_weight in dataset:
        assert sample_weight.shape == mask.shape and sample_weight.dtype == tf.float32
        # After the flip too: the weights follow the (flipped) mask pixel by pixel.
        np.testing.assert_array_equal(sample_weight.numpy(),
                                      np.asarray(weights, np.float32)[mask.numpy()])
        seen += int(image.shape[0])
    assert seen == 6


def test_keras_weighs_each_pixels_loss(tmp_path):
    """The loss the model trains on is the per-pixel cross-entropy times the pixel's weight."""
    masks = _write_examples(tmp_path / "train.gz", 3)
    weights = (0.25, 1.0, 3.0)
    patterns = [str(tmp_path / "*.gz")]
    tiny = keras.Sequential([keras.layers.Input((SIZE, SIZE, 3)),
                             keras.layers.Conv2D(features.NUM_CLASSES, 1)])
    unet.compile_for_segmentation(tiny, 1e-3)
    weighted = train.input_fn(patterns, _FakeTransformOutput(), 3, class_weights=weights)
    plain = train.input_fn(patterns, _FakeTransformOutput(), 3)

    images = next(iter(plain))[0]
    logits = tiny(images).numpy().astype(np.float64)
    log_probabilities = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_probabilities, masks, axis=-1)  # [B, S, S, 1]
    pixel_weights = np.asarray(weights)[masks]
    expected = (pixel_weights * cross_entropy).sum() / cross_entropy.size  # mean over pixels

    weighted_loss, accuracy, mean_iou = tiny.evaluate(weighted, verbose=0)
    plain_loss, plain_accuracy, plain_mean_iou = tiny.evaluate(plain, verbose=0)
    assert weighted_loss == pytest.approx(expected, rel=1e-5)
    assert plain_loss == pytest.approx(cross_entropy.mean(), rel=1e-5)
    assert accuracy == pytest.approx(plain_accuracy)  # the metrics are not weighted
    assert mean_iou == pytest.approx(plain_mean_iou)
    predicted = logits.argmax(-1)[..., None]
    ious = [((predicted == c) & (masks == c)).sum() / ((predicted == c) | (masks == c)).sum()
            for c in range(features.NUM_CLASSES) if ((predicted == c) | (masks == c)).any()]
    assert plain_mean_iou == pytest.approx(np.mean(ious), rel=1e-5)  # the logits' argmax


def test_given_weights_are_used_as_given(tmp_path):
    assert train.resolve_class_weights(None, [], _FakeTransformOutput()) is None
    assert train.resolve_class_weights("1,1,2", [], _FakeTransformOutput()) == (1.0, 1.0, 2.0)


def test_auto_weights_are_read_from_the_transformed_examples(tmp_path):
    _write_examples(tmp_path / "train.gz", 2, class_weights=[0.75, 0.5, 1.75])
    weights = train.resolve_class_weights("auto", [str(tmp_path / "*.gz")],
                                          _FakeTransformOutput(with_class_weights=True))
    assert weights == pytest.approx((0.75, 0.5, 1.75))


def test_auto_weights_need_transform_to_have_computed_them(tmp_path):
    _write_examples(tmp_path / "train.gz", 2)
    with pytest.raises(ValueError, match="Transform must run with the same class_weights"):
        train.resolve_class_weights("auto", [str(tmp_path / "*.gz")], _FakeTransformOutput())


def test_epoch_log_says_where_each_epochs_time_went(capsys, monkeypatch):
    clock = iter([100.0, 160.0, 170.0, 185.0])  # epoch begins, validation 160-170, epoch ends
    monkeypatch.setattr(train.time, "perf_counter", lambda: next(clock))
    log = train._EpochLog(epochs=3)
    log.on_epoch_begin(0)
    log.on_test_begin()
    log.on_test_end()
    log.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    assert capsys.readouterr().out == (
        "[Trainer] epoch 1/3 (train 75.0 s, validation 10.0 s): loss 0.5000, val_loss 0.7500\n")
