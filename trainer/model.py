"""The tutorial's U-Net: a MobileNetV2 encoder and a pix2pix-style decoder, logits out.

As in the TensorFlow image segmentation tutorial, with two settings the tutorial does not need:
where ImageNet weights cannot be loaded the encoder starts random and is trained (frozen random
features are worth nothing), and BatchNorm momentum is configurable (Keras' MobileNetV2 uses
0.999, whose moving statistics barely move in a short from-scratch run, so a model that trains
well still predicts one class in inference mode).
"""

import logging
import os
from typing import Optional, Tuple

import tensorflow as tf
import tf_keras as keras

from trainer import features

# Encoder activations the decoder joins, from 1/2 down to 1/32 of the input side.
SKIP_LAYER_NAMES = (
    "block_1_expand_relu",  # 64x64 for a 128x128 input
    "block_3_expand_relu",  # 32x32
    "block_6_expand_relu",  # 16x16
    "block_13_expand_relu",  # 8x8
    "block_16_project",  # 4x4
)
DECODER_FILTERS = (512, 256, 128, 64)
ENCODER_NAME = "mobilenet_v2_encoder"  # the encoder's layer in the U-Net


def load_encoder(image_size: int, weights: str = "imagenet") -> Tuple[keras.Model, bool]:
    """MobileNetV2 feature extractor and whether pretrained weights were loaded.

    `weights` is "imagenet" (Keras' download or its cache under ~/.keras/models), a path to a
    weights file, or "none". A failed load is logged as a warning and the encoder starts random.
    """
    shape = (image_size, image_size, 3)
    if weights not in ("none", None, ""):
        source = weights if weights == "imagenet" else os.path.expanduser(weights)
        try:
            base = keras.applications.MobileNetV2(
                input_shape=shape, include_top=False, weights=source)
            return _feature_extractor(base), True
        except Exception as error:  # download refused, wrong file, no network: say so, go on
            logging.warning(
                "MobileNetV2 weights %r could not be loaded (%s: %s); the encoder starts from "
                "random weights. Place the weights file in ~/.keras/models or pass its path "
                "to use pretrained features.", weights, type(error).__name__, error)
    base = keras.applications.MobileNetV2(input_shape=shape, include_top=False, weights=None)
    return _feature_extractor(base), False


def _feature_extractor(base: keras.Model) -> keras.Model:
    outputs = [base.get_layer(name).output for name in SKIP_LAYER_NAMES]
    return keras.Model(inputs=base.input, outputs=outputs, name=ENCODER_NAME)


def upsample(filters: int, name: str) -> keras.Sequential:
    """pix2pix upsample block: doubles the side. Conv2DTranspose -> BatchNorm -> ReLU."""
    initializer = keras.initializers.RandomNormal(0.0, 0.02, seed=0)
    return keras.Sequential([
        keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same",
                                     kernel_initializer=initializer, use_bias=False),
        keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
    ], name=name)


def set_batchnorm_momentum(model: keras.Model, momentum: float) -> None:
    """Sets the moving-average momentum of every BatchNormalization layer, nested ones too."""
    for layer in model.submodules:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def without_autograph(model: keras.Model) -> keras.Model:
    """Builds the model's train/test/predict graphs without AutoGraph conversion.

    The U-Net has no data-dependent Python control flow, so AutoGraph has nothing to convert,
    yet converting every layer's `call` took most of the first training step: 83 s -> 22 s
    for the first `fit` step at 64 px on 2 cores (tf_keras 2.16, Python 3.11).
    """
    for name in ("call", "train_step", "test_step", "predict_step"):
        setattr(model, name, tf.autograph.experimental.do_not_convert(getattr(model, name)))
    return model


def build_unet(*, image_size: int, encoder_weights: str, train_encoder: Optional[bool],
               batchnorm_momentum: Optional[float], learning_rate: float) -> keras.Model:
    """Compiled U-Net: float32 [B, S, S, 3] in [0, 1] -> logits [B, S, S, 3].

    `train_encoder=None` trains the encoder only when no pretrained weights were loaded;
    `batchnorm_momentum=None` keeps Keras' (0.999 in MobileNetV2, 0.99 in the decoder).
    `image_size` must be a multiple of 32 (five halvings in the encoder). The defaults are
    TrainerSettings' (trainer/settings.py).
    """
    if image_size % 32:
        raise ValueError(f"image_size must be a multiple of 32, got {image_size}")
    encoder, pretrained = load_encoder(image_size, encoder_weights)
    encoder.trainable = (not pretrained) if train_encoder is None else bool(train_encoder)

    inputs = keras.layers.Input(shape=(image_size, image_size, 3), name=features.IMAGE_XF)
    x = keras.layers.Rescaling(2.0, offset=-1.0, name="to_mobilenet_range")(inputs)  # [-1, 1]
    skips = encoder(x)
    x = skips[-1]  # [B, S/32, S/32, 320]
    for filters, skip in zip(DECODER_FILTERS, reversed(skips[:-1])):
        x = upsample(filters, name=f"up_{filters}")(x)  # side doubles: S/16 ... S/2
        x = keras.layers.Concatenate()([x, skip])
    # float32 even under mixed precision: the logits, the loss and the exported outputs.
    logits = keras.layers.Conv2DTranspose(
        features.NUM_CLASSES, 3, strides=2, padding="same", name="logits",
        dtype="float32")(x)  # [B, S, S, 3]

    model = without_autograph(keras.Model(inputs=inputs, outputs=logits,
                                          name=features.MOBILENET_V2_UNET))
    model.encoder_pretrained = pretrained
    if batchnorm_momentum is not None:
        set_batchnorm_momentum(model, batchnorm_momentum)
    return compile_for_segmentation(model, learning_rate)


def unfreeze_encoder(model: keras.Model) -> None:
    """Fine-tuning: every encoder layer trainable except BatchNormalization, whose layers stay
    in inference mode (a BatchNormalization layer that is not trainable normalizes with its
    moving statistics, and neither those nor its scale and offset change), as Keras'
    transfer-learning guide advises: batches of a few pets would otherwise overwrite the
    pretrained statistics. The caller recompiles (Keras reads `trainable` when compiling)."""
    encoder = model.get_layer(ENCODER_NAME)
    encoder.trainable = True
    for layer in encoder.submodules:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False


def compile_for_segmentation(model: keras.Model, learning_rate: float) -> keras.Model:
    """Adam and per-pixel sparse cross-entropy on logits, for every architecture.

    `accuracy` and `mean_iou` (over the three classes, the logits' argmax against the mask) are
    plain (unweighted) metrics: with class-weighted training they still report pixel accuracy
    and mean IoU, while the loss takes the per-pixel sample weights. Both are in the history and
    the TensorBoard logs, for train and validation, each epoch.
    """
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy", keras.metrics.MeanIoU(num_classes=3, sparse_y_pred=False,
                                                   name="mean_iou")])
    return model
