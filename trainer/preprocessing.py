"""tf.Transform preprocessing: the only place images and trimaps are decoded and resized.

The same graph is saved by Transform and re-used by the exported model's signatures, so serving
and training cannot skew.

Transform materializes each resized image as 8-bit pixels (the JPEG's own precision), packed
with `tf.io.serialize_tensor`, not as float32: 49 KB an example at 128 px instead of 196 KB
(zlib compressed one synthetic example in 1.5 ms instead of 9.1; BENCHMARKS.md). The model's
input is `model_images()` of them: the same pixels as float32 in [0, 1]. Training, the exported
signatures and the reports all call it, so the normalization is defined once, here.
"""

from typing import Any, Dict, Optional

import tensorflow as tf
import tensorflow_transform as tft

from trainer import code_version, features

DEFAULT_IMAGE_SIZE = 128


def image_size_from(custom_config: Optional[Dict[str, Any]]) -> int:
    """The square side the pipeline config asked for (Transform's custom_config)."""
    return int((custom_config or {}).get("image_size", DEFAULT_IMAGE_SIZE))


def _as_vector(strings: tf.Tensor) -> tf.Tensor:
    """Raw bytes features arrive as [batch, 1] (or [batch]); decoding wants [batch]."""
    return tf.reshape(strings, [-1])


def decode_one_image(data: tf.Tensor) -> tf.Tensor:
    """One encoded image (JPEG, PNG, GIF, BMP) -> uint8 [H, W, 3], as training and serving
    decode it; ingest (oxford_pet/records.py) checks every image it accepts with this too."""
    return tf.io.decode_image(data, channels=3, expand_animations=False)


def decode_one_trimap(data: tf.Tensor) -> tf.Tensor:
    """One encoded trimap PNG -> uint8 [H, W, 1] trimap values, as Transform decodes it;
    ingest checks every trimap it accepts with this too."""
    return tf.io.decode_png(data, channels=1)


def resize_images(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """Encoded JPEG/PNG bytes [batch] -> float32 [batch, size, size, 3], pixel values 0..255.

    Bilinear resize; grayscale inputs become 3 channels, an alpha channel is dropped.
    """

    def decode_one(data: tf.Tensor) -> tf.Tensor:
        image = tf.image.resize(decode_one_image(data), [size, size], method="bilinear")  # float32
        return tf.ensure_shape(image, [size, size, 3])

    return tf.map_fn(  # bilinear weights sum to 1: the values stay in 0..255
        decode_one, _as_vector(encoded),
        fn_output_signature=tf.TensorSpec([size, size, 3], tf.float32))


def normalize(pixels: tf.Tensor) -> tf.Tensor:
    """Pixel values 0..255 (any dtype) -> float32 in [0, 1]: the model's input scale."""
    return tf.cast(pixels, tf.float32) / 255.0


def decode_images(encoded: tf.Tensor, size: int) -> tf.Tensor:
    """Encoded JPEG/PNG bytes [batch] -> float32 [batch, size, size, 3] in [0, 1], unrounded.

    The tutorial's preprocessing (the benchmarks' plain reference); the pipeline rounds to 8 bits
    first (`pack_images`).
    """
    return normalize(resize_images(encoded, size))


def pack_images(pixels: tf.Tensor) -> tf.Tensor:
    """Float pixel values 0..255 [batch, H, W, 3] -> [batch] strings: each image rounded to
    uint8 and serialized (`tf.io.serialize_tensor`), what Transform materializes."""
    rounded = tf.cast(tf.round(tf.clip_by_value(pixels, 0.0, 255.0)), tf.uint8)
    return tf.map_fn(tf.io.serialize_tensor, rounded, fn_output_signature=tf.string)


def unpack_pixels(packed: tf.Tensor, size: Optional[int] = None) -> tf.Tensor:
    """`pack_images` strings [batch] (or [batch, 1]) -> uint8 [batch, size, size, 3]."""
    shape = [size, size, 3] if size else [None, None, 3]
    return tf.map_fn(
        lambda data: tf.ensure_shape(tf.io.parse_tensor(data, tf.uint8), shape),
        _as_vector(packed), fn_output_signature=tf.TensorSpec(shape, tf.uint8))


def model_images(packed: tf.Tensor, size: Optional[int] = None) -> tf.Tensor:
    """Transformed images (`pack_images` strings [batch]) -> the model's input: float32
    [batch, size, size, 3] in [0, 1]."""
    return normalize(unpack_pixels(packed, size))


def _refuse_unknown_values(trimap: tf.Tensor, name: tf.Tensor) -> tf.Tensor:
    """The trimap, or an InvalidArgumentError naming the example and its first bad values.

    Defence in depth: ingest admits only trimaps whose decoded values are 1, 2 and 3, so this
    never fires on its output; an example written some other way fails here with one short
    line instead of a label tensor dump in the Trainer. The error comes from a stateless op
    (`tf.strings.to_number` of the message): a stateful `tf.debugging.Assert` would make every
    caller of the graph, also serving with image bytes alone, compute (and need) the mask.
    """
    valid = tf.reduce_any(tf.equal(trimap[..., None],
                                   tf.constant(features.TRIMAP_VALUES, trimap.dtype)), axis=-1)

    def refuse() -> tf.Tensor:
        bad = tf.unique(tf.reshape(tf.boolean_mask(trimap, tf.logical_not(valid)), [-1])).y
        message = tf.strings.join([
            "MASK REFUSED: the trimap of ", name, " holds values ",
            tf.strings.reduce_join(tf.strings.as_string(bad[:5]), separator=", "),
            f"; only {', '.join(map(str, features.TRIMAP_VALUES))} "
            f"({', '.join(features.CLASS_NAMES)}) are trimap values. OxfordPetExampleGen "
            "quarantines such samples: ingest the data again"])
        # Always fails ("...could not correctly convert string: <message>"); the sum keeps
        # the op from being pruned: this branch never returns.
        return trimap + tf.cast(tf.strings.to_number(message), trimap.dtype)

    return tf.cond(tf.reduce_all(valid), lambda: trimap, refuse)


def decode_masks(encoded: tf.Tensor, size: int,
                 names: Optional[tf.Tensor] = None) -> tf.Tensor:
    """Encoded trimap PNG bytes [batch] -> int64 class ids [batch, size, size, 1].

    Nearest-neighbour resize, so no pixel gets a class that is not in the trimap; trimap values
    1/2/3 become classes 0/1/2 (pet, background, border). A trimap holding any other value is
    refused with a message naming its example (`names`: the file names, [batch]).
    """
    encoded = _as_vector(encoded)
    names = tf.fill(tf.shape(encoded), "an example") if names is None else _as_vector(names)

    def decode_one(element) -> tf.Tensor:
        data, name = element
        trimap = _refuse_unknown_values(decode_one_trimap(data), name)
        trimap = tf.image.resize(trimap, [size, size], method="nearest")
        return tf.ensure_shape(tf.cast(trimap, tf.int64), [size, size, 1])

    trimaps = tf.map_fn(
        decode_one, (encoded, names),
        fn_output_signature=tf.TensorSpec([size, size, 1], tf.int64))
    return trimaps - features.TRIMAP_VALUES[0]


def class_pixel_counts(masks: tf.Tensor) -> tf.Tensor:
    """Class ids [batch, H, W, 1] -> int64 pixel counts per class [batch, NUM_CLASSES]."""
    one_hot = tf.one_hot(masks[..., 0], features.NUM_CLASSES, dtype=tf.int64)
    return tf.reduce_sum(one_hot, axis=[1, 2])


def inverse_frequency_weights(counts: tf.Tensor) -> tf.Tensor:
    """Pixel counts per class [C] -> float32 weights [C]: inverse frequency, mean 1.

    A class with no pixels gets weight 0 and the mean is taken over the classes present.
    """
    counts = tf.cast(counts, tf.float64)
    present = counts > 0
    inverse = tf.where(present, tf.math.divide_no_nan(tf.reduce_sum(counts), counts),
                       tf.zeros_like(counts))
    scale = tf.math.divide_no_nan(tf.reduce_sum(tf.cast(present, tf.float64)),
                                  tf.reduce_sum(inverse))
    return tf.cast(inverse * scale, tf.float32)


def class_weights_from_analyzer(masks: tf.Tensor) -> tf.Tensor:
    """Inverse-frequency class weights over the analyzed (training) split's masks.

    A tf.Transform analyzer (`tft.sum` of per-example class pixel counts) finds the counts;
    every example then carries the same weights, float32 [batch, NUM_CLASSES] (12 bytes an
    example; the Trainer turns them into per-pixel sample weights).
    """
    counts = class_pixel_counts(masks)
    weights = inverse_frequency_weights(tft.sum(counts, reduce_instance_dims=False))
    return tf.zeros_like(counts, dtype=tf.float32) + weights  # [batch, C], static C


def preprocessing_fn(inputs: Dict[str, tf.Tensor],
                     custom_config: Optional[Dict[str, Any]] = None) -> Dict[str, tf.Tensor]:
    """tf.Transform entry point: raw tf.Example features -> packed 8-bit image and label.

    With `custom_config["class_weights"] == "auto"` the examples also carry the training
    masks' inverse-frequency class weights (`features.CLASS_WEIGHTS_XF`); without it the graph
    has no analyzer and is what it always was.
    """
    code_version.check(custom_config, "Transform")
    size = image_size_from(custom_config)
    outputs = {features.IMAGE_XF: pack_images(resize_images(inputs[features.IMAGE_KEY], size))}
    if features.MASK_KEY in inputs:
        outputs[features.MASK_XF] = decode_masks(inputs[features.MASK_KEY], size,
                                                 inputs.get(features.FILE_NAME_KEY))
        if (custom_config or {}).get("class_weights") == features.AUTO_CLASS_WEIGHTS:
            outputs[features.CLASS_WEIGHTS_XF] = class_weights_from_analyzer(
                outputs[features.MASK_XF])
    return outputs
