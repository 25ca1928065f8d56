"""trainer/model_xception.py and trainer/models.py: the Keras example's U-Net, the dispatcher."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from trainer import features, model_xception, models
from trainer.settings import TrainerSettings


def build(image_size, batchnorm_momentum=TrainerSettings.batchnorm_momentum):
    return model_xception.build_xception_unet(image_size=image_size,
                                              batchnorm_momentum=batchnorm_momentum,
                                              learning_rate=TrainerSettings.learning_rate)


@pytest.fixture(scope="module")
def xception_unet():
    return models.build_model(TrainerSettings(architecture=features.XCEPTION_UNET, image_size=64))


def _params(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


def test_logits_have_the_input_side_and_three_classes(xception_unet):
    images = tf.random.uniform((2, 64, 64, 3), seed=0)
    logits = xception_unet(images, training=False)
    assert logits.shape == (2, 64, 64, features.NUM_CLASSES)
    assert xception_unet.output_shape == (None, 64, 64, 3)
    assert xception_unet.name == features.XCEPTION_UNET
    # Logits, not probabilities: no softmax on the last layer.
    assert xception_unet.get_layer("logits").activation.__name__ == "linear"


@pytest.mark.parametrize("size", [32, 96])
def test_other_sides_keep_their_size(size):
    unet = build(size)
    assert unet.output_shape == (None, size, size, features.NUM_CLASSES)


def test_the_resolution_halves_four_times_and_comes_back(xception_unet):
    sides = {name: xception_unet.get_layer(name).output.shape[1]
             for name in ("entry_relu", "down_64_add", "down_128_add", "down_256_add",
                          "up_256_add", "up_128_add", "up_64_add", "up_32_add")}
    assert sides == {"entry_relu": 32, "down_64_add": 16, "down_128_add": 8,
                     "down_256_add": 4, "up_256_add": 8, "up_128_add": 16, "up_64_add": 32,
                     "up_32_add": 64}


def _xception_unet_trainable_params() -> int:
    """By hand from the architecture (every convolution has a bias; BatchNorm: gamma, beta)."""
    total = 3 * 3 * 3 * 32 + 32 + 2 * 32  # entry Conv2D 3->32 stride 2, BatchNorm
    cin = 32
    for f in (64, 128, 256):
        total += 3 * 3 * cin + cin * f + f + 2 * f  # SeparableConv2D: depthwise + pointwise
        total += 3 * 3 * f + f * f + f + 2 * f
        total += cin * f + f  # residual: 1x1 Conv2D stride 2, cin -> f
        cin = f
    for f in (256, 128, 64, 32):
        total += 3 * 3 * cin * f + f + 2 * f  # Conv2DTranspose 3x3
        total += 3 * 3 * f * f + f + 2 * f
        total += cin * f + f  # residual: UpSampling2D, then 1x1 Conv2D cin -> f
        cin = f
    return total + 3 * 3 * 32 * features.NUM_CLASSES + features.NUM_CLASSES  # per-pixel layer


def test_parameter_count_follows_from_the_architecture(xception_unet):
    trainable = _params(xception_unet.trainable_weights)
    assert trainable == _xception_unet_trainable_params() == 2_055_203
    # Non-trainable: BatchNorm moving mean and variance, one pair per channel of each BN.
    bn_channels = 32 + 2 * (64 + 128 + 256) + 2 * (256 + 128 + 64 + 32)
    assert _params(xception_unet.non_trainable_weights) == 2 * bn_channels
    # The Keras example's model summary: 2,058,979 parameters for 3 classes.
    assert _params(xception_unet.weights) == 2_058_979


def test_parameter_count_does_not_depend_on_the_image_size(xception_unet):
    bigger = build(128)
    assert _params(bigger.weights) == _params(xception_unet.weights)


def test_batchnorm_momentum_is_configurable(xception_unet):
    def momenta(unet):
        return {layer.momentum for layer in unet.layers
                if isinstance(layer, keras.layers.BatchNormalization)}

    assert momenta(xception_unet) == {0.9}
    assert momenta(build(64, batchnorm_momentum=None)) == {0.99}


def test_it_trains_a_step_and_is_built_without_autograph(xception_unet):
    from tensorflow.python.autograph.impl import api as autograph_api

    # without_autograph marks the step functions (the first-step tracing cost, see model.py).
    for name in ("call", "train_step", "test_step", "predict_step"):
        assert autograph_api.is_autograph_artifact(getattr(xception_unet, name)), name
    images = tf.random.uniform((2, 64, 64, 3), seed=1)
    masks = tf.random.uniform((2, 64, 64, 1), maxval=3, dtype=tf.int64, seed=2)
    history = xception_unet.fit(images, masks, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_image_size_must_be_a_multiple_of_16():
    with pytest.raises(ValueError, match="multiple of 16"):
        build(72)


def test_build_model_dispatches_on_the_architecture_name():
    mobilenet = models.build_model(TrainerSettings(architecture=features.MOBILENET_V2_UNET,
                                                   image_size=64, encoder_weights="none"))
    assert mobilenet.name == features.MOBILENET_V2_UNET
    assert mobilenet.output_shape == (None, 64, 64, 3)
    with pytest.raises(ValueError, match="architecture must be one of .*got 'resnet'"):
        models.build_model(TrainerSettings(architecture="resnet", image_size=64))


def test_model_info_names_the_architecture_and_counts(xception_unet, tmp_path):
    info = models.model_info(xception_unet, 64, class_weights=(0.5, 1, 2))
    assert info == {"architecture": features.XCEPTION_UNET, "parameters": 2_058_979,
                    "trainable_parameters": 2_055_203, "encoder_pretrained": False,
                    "image_size": 64, "class_weights": [0.5, 1.0, 2.0]}
    path = models.write_model_info(info, str(tmp_path))
    assert path == str(tmp_path / features.MODEL_INFO_FILE)
    assert json.loads(open(path).read()) == info
