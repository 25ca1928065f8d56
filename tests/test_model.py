"""trainer/model.py: the tutorial U-Net's shapes, and which parameters train."""

import logging

import numpy as np
import pytest
import tensorflow as tf

from trainer import features, model
from trainer.settings import TrainerSettings


def build(**values):
    """build_unet with TrainerSettings' values (the builder has no defaults), some replaced."""
    settings = TrainerSettings(image_size=64, encoder_weights="none")
    given = dict(image_size=settings.image_size, encoder_weights=settings.encoder_weights,
                 train_encoder=settings.train_encoder,
                 batchnorm_momentum=settings.batchnorm_momentum,
                 learning_rate=settings.learning_rate)
    given.update(values)
    return model.build_unet(**given)


@pytest.fixture(scope="module")
def random_unet():
    return build()


def test_logits_have_the_input_side_and_three_classes(random_unet):
    images = tf.random.uniform((2, 64, 64, 3), seed=0)
    logits = random_unet(images, training=False)
    assert logits.shape == (2, 64, 64, features.NUM_CLASSES)
    assert random_unet.output_shape == (None, 64, 64, 3)


def test_encoder_is_taken_at_the_tutorial_layers(random_unet):
    encoder = random_unet.get_layer("mobilenet_v2_encoder")
    sides = [output.shape[1] for output in encoder.outputs]
    assert sides == [32, 16, 8, 4, 2]  # 1/2 .. 1/32 of 64
    assert [t.name.split("/")[0] for t in encoder.outputs] == list(model.SKIP_LAYER_NAMES)


def test_random_encoder_is_trained_by_default(random_unet, caplog):
    assert random_unet.encoder_pretrained is False
    encoder = random_unet.get_layer("mobilenet_v2_encoder")
    assert encoder.trainable
    assert len(random_unet.trainable_weights) > len(
        [w for layer in random_unet.layers if layer is not encoder
         for w in layer.trainable_weights])


def test_frozen_encoder_leaves_only_the_decoder_trainable():
    frozen = build(train_encoder=False)
    encoder = frozen.get_layer("mobilenet_v2_encoder")
    trainable = {id(w) for w in frozen.trainable_weights}
    assert not any(id(w) in trainable for w in encoder.weights)
    decoder_params = sum(int(np.prod(w.shape)) for w in frozen.trainable_weights)
    all_params = sum(int(np.prod(w.shape)) for w in frozen.weights)
    encoder_params = sum(int(np.prod(w.shape)) for w in encoder.weights)
    assert decoder_params > 0 and decoder_params + encoder_params <= all_params
    # The tutorial's decoder (upsample 512/256/128/64 + last layer) at any input size.
    assert decoder_params == _tutorial_decoder_trainable_params()


def _tutorial_decoder_trainable_params() -> int:
    # Conv2DTranspose kernels (3x3, no bias) + BatchNorm gamma/beta, input channels are the
    # previous block's output concatenated with the skip's channels.
    blocks = [(320, 512), (512 + 576, 256), (256 + 192, 128), (128 + 144, 64)]
    total = sum(3 * 3 * cin * cout + 2 * cout for cin, cout in blocks)
    return total + 3 * 3 * (64 + 96) * 3 + 3  # last Conv2DTranspose with bias


def test_batchnorm_momentum_reaches_nested_layers(random_unet):
    def momenta(unet):
        return {layer.momentum for layer in unet.submodules
                if layer.__class__.__name__ == "BatchNormalization"}

    assert momenta(build(batchnorm_momentum=0.8)) == {0.8}
    assert momenta(random_unet) == {TrainerSettings().batchnorm_momentum} == {0.9}
    assert momenta(build(batchnorm_momentum=None)) == {0.999, 0.99}  # Keras': encoder, decoder


def test_unloadable_weights_are_reported_and_the_encoder_starts_random(tmp_path, caplog):
    missing = str(tmp_path / "no_such_weights.h5")
    with caplog.at_level(logging.WARNING):
        unet = build(encoder_weights=missing)
    assert unet.encoder_pretrained is False
    assert "could not be loaded" in caplog.text and missing in caplog.text


def test_image_size_must_be_a_multiple_of_32():
    with pytest.raises(ValueError, match="multiple of 32"):
        build(image_size=100)
