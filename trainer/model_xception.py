"""The Keras example's U-Net "Xception-style", trained from scratch, logits out.

After F. Chollet, "Image segmentation with a U-Net-like architecture" (keras.io examples):

- entry block: Conv2D 32 (3x3, stride 2) -> BatchNorm -> ReLU                      S/2
- three downsampling blocks, 64, 128, 256 filters: (ReLU -> SeparableConv2D 3x3 -> BatchNorm)
  twice, MaxPooling 3x3 stride 2, plus the block input projected by a 1x1 Conv2D stride 2
  (residual)                                                                     S/4 .. S/16
- four upsampling blocks, 256, 128, 64, 32 filters: (ReLU -> Conv2DTranspose 3x3 -> BatchNorm)
  twice, UpSampling2D 2x, plus the block input upsampled and projected by a 1x1 Conv2D
  (residual)                                                                      S/8 .. S
- a per-pixel Conv2D 3x3 to the 3 classes; no softmax (logits, as trainer/model.py).

About 2.06 M parameters, none pretrained, so it needs no download. BatchNorm momentum is
configurable: with Keras' 0.99 the moving statistics lag so far behind a short run that the
model predicted one class at evaluation; 0.9 learned (README.md "Architectures and class weights").
"""

from typing import Optional

import tf_keras as keras

from trainer import features, model as unet

ENTRY_FILTERS = 32
DOWN_FILTERS = (64, 128, 256)
UP_FILTERS = (256, 128, 64, 32)


def batch_norm(name: str, momentum: Optional[float]) -> keras.layers.Layer:
    """BatchNormalization at `momentum`, or Keras' default (0.99) when it is None."""
    if momentum is None:
        return keras.layers.BatchNormalization(name=name)
    return keras.layers.BatchNormalization(momentum=momentum, name=name)


def two_convolutions(x, filters: int, convolution, prefix: str, momentum: Optional[float]):
    """(ReLU -> 3x3 convolution -> BatchNorm), twice."""
    for index in (1, 2):
        x = keras.layers.Activation("relu", name=f"{prefix}_relu{index}")(x)
        x = convolution(filters, 3, padding="same", name=f"{prefix}_conv{index}")(x)
        x = batch_norm(f"{prefix}_bn{index}", momentum)(x)
    return x


def build_xception_unet(*, image_size: int, batchnorm_momentum: Optional[float],
                        learning_rate: float) -> keras.Model:
    """Compiled model: float32 [B, S, S, 3] in [0, 1] -> logits [B, S, S, 3].

    `image_size` must be a multiple of 16 (four halvings); `batchnorm_momentum=None` keeps
    Keras' default (0.99). The defaults are TrainerSettings' (trainer/settings.py).
    """
    if image_size % 16:
        raise ValueError(f"image_size must be a multiple of 16, got {image_size}")
    layers, momentum = keras.layers, batchnorm_momentum
    inputs = layers.Input(shape=(image_size, image_size, 3), name=features.IMAGE_XF)
    x = layers.Conv2D(ENTRY_FILTERS, 3, strides=2, padding="same", name="entry_conv")(inputs)
    x = batch_norm("entry_bn", momentum)(x)
    x = layers.Activation("relu", name="entry_relu")(x)
    residual_source = x

    for filters in DOWN_FILTERS:  # S/2 -> S/16
        prefix = f"down_{filters}"
        x = two_convolutions(x, filters, layers.SeparableConv2D, prefix, momentum)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{prefix}_pool")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same",
                                 name=f"{prefix}_residual")(residual_source)
        x = residual_source = layers.Add(name=f"{prefix}_add")([x, residual])

    for filters in UP_FILTERS:  # S/16 -> S
        prefix = f"up_{filters}"
        x = two_convolutions(x, filters, layers.Conv2DTranspose, prefix, momentum)
        x = layers.UpSampling2D(2, name=f"{prefix}_upsample")(x)
        residual = layers.UpSampling2D(2, name=f"{prefix}_residual_upsample")(residual_source)
        residual = layers.Conv2D(filters, 1, padding="same", name=f"{prefix}_residual")(residual)
        x = residual_source = layers.Add(name=f"{prefix}_add")([x, residual])

    # float32 even under mixed precision: the logits, the loss and the exported outputs.
    logits = layers.Conv2D(features.NUM_CLASSES, 3, padding="same", name="logits",
                           dtype="float32")(x)
    model = unet.without_autograph(keras.Model(inputs=inputs, outputs=logits,
                                               name=features.XCEPTION_UNET))
    model.encoder_pretrained = False  # nothing here is pretrained
    return unet.compile_for_segmentation(model, learning_rate)
