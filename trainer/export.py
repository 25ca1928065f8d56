"""Exports the trained U-Net as a SavedModel whose signatures embed the tf.Transform graph.

- `serving_default`: encoded image bytes (JPEG or PNG) [B] -> `class_ids` [B, S, S] and
  `probabilities` [B, S, S, 3]. What a serving client calls.
- `serving_examples`: serialized raw tf.Example [B] -> `logits` [B, S, S, 3]. For TFMA.
- `transform_features`: serialized raw tf.Example [B] -> transformed features. TFMA runs it
  (ModelSpec.preprocessing_function_names) to get the transformed mask as the label.

Every path decodes and resizes through the same Transform graph the model trained on.
"""

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

try:  # in the repository (and in a pipeline image) these modules form the `trainer` package
    from trainer import features
except ImportError:  # in TFX's user-module wheel the same files are top-level modules
    import features


def _raw_image_features(image_bytes: tf.Tensor) -> dict:
    return {features.IMAGE_KEY: tf.reshape(image_bytes, [-1, 1])}


def make_signatures(model: keras.Model, tf_transform_output: tft.TFTransformOutput) -> dict:
    model.tft_layer = tf_transform_output.transform_features_layer()  # tracked with the model
    raw_spec = tf_transform_output.raw_feature_spec()
    image_only_spec = {features.IMAGE_KEY: raw_spec[features.IMAGE_KEY]}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name=features.SERVING_INPUT_KEY)])
    def serve_images(image_bytes):
        transformed = model.tft_layer(_raw_image_features(image_bytes))
        logits = model(transformed[features.IMAGE_XF], training=False)
        return {features.CLASS_IDS_KEY: tf.argmax(logits, axis=-1, output_type=tf.int32),
                features.PROBABILITIES_KEY: tf.nn.softmax(logits, axis=-1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        raw = tf.io.parse_example(serialized, image_only_spec)
        transformed = model.tft_layer(raw)
        return {features.LOGITS_KEY: model(transformed[features.IMAGE_XF], training=False)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(serialized):
        raw = tf.io.parse_example(serialized, raw_spec)
        return model.tft_layer(raw)

    return {
        features.SERVING_SIGNATURE: serve_images,
        features.EXAMPLES_SIGNATURE: serve_examples,
        features.TRANSFORM_SIGNATURE: transform_features,
    }


def save_model(model: keras.Model, tf_transform_output: tft.TFTransformOutput,
               export_dir: str) -> None:
    model.save(export_dir, save_format="tf",
               signatures=make_signatures(model, tf_transform_output))
