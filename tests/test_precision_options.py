"""Mixed precision and XLA: configuration options, "auto" = on iff a GPU is visible.

On this CPU machine both are built and run for real and compared with the float32 model
carrying the same weights: logits (and the loss) stay float32 and match within tolerance.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import local_runner
from trainer import features, models
from trainer.settings import TrainerSettings

SIZE = 32


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(0.0, 1.0, (4, SIZE, SIZE, 3)).astype("float32")
    masks = rng.integers(0, features.NUM_CLASSES, (4, SIZE, SIZE, 1)).astype("int64")
    return images, masks


def build(architecture, **options):
    keras.utils.set_random_seed(0)
    return models.build_model(TrainerSettings(architecture=architecture, image_size=SIZE,
                                              encoder_weights="none"), **options)


@pytest.fixture(scope="module")
def float32_model():
    return build(features.MOBILENET_V2_UNET)  # the default architecture


def test_auto_resolves_off_without_a_gpu():
    assert not tf.config.list_physical_devices("GPU")  # this machine: the CPU only
    assert models.resolve_auto(None) is False
    assert models.resolve_auto(True) is True and models.resolve_auto(False) is False
    assert TrainerSettings().mixed_precision is None
    assert TrainerSettings().xla is None
    assert TrainerSettings().xla_wanted(models.gpu_visible()) is False
    assert TrainerSettings().xla_wanted(gpu_visible=True) is True  # auto, on a GPU


def test_xla_is_refused_for_the_architecture_it_cannot_train(tmp_path):
    # XLA has no ResizeNearestNeighborGrad kernel (UpSampling2D's gradient): "auto" leaves it
    # off for this architecture and an explicit "on" says why it cannot be.
    assert TrainerSettings(architecture=features.XCEPTION_UNET).xla_wanted(True) is False
    with pytest.raises(ValueError, match="xla cannot be on for architecture 'unet_xception'.*"
                                         "ResizeNearestNeighborGrad"):
        TrainerSettings(architecture=features.XCEPTION_UNET, xla=True)
    with pytest.raises(ValueError, match="xla cannot be on"):
        models.build_model(TrainerSettings(architecture=features.XCEPTION_UNET), xla=True)


def test_every_architecture_keeps_float32_logits_under_mixed_precision():
    for architecture in features.ARCHITECTURES:
        mixed = build(architecture, mixed_precision=True)
        assert mixed.get_layer("logits").compute_dtype == "float32"
        assert mixed.output.dtype == tf.float32
        assert mixed.dtype_policy.name == models.MIXED_POLICY


def test_options_flow_from_flags_to_the_trainer(tmp_path):
    parser = local_runner.build_parser()
    args = parser.parse_args(["--demo", "--work-dir", str(tmp_path),
                              "--mixed-precision", "on", "--xla", "off", "--no-example-cache"])
    config = local_runner.config_from_args(args, str(tmp_path))
    assert (config.trainer.mixed_precision, config.trainer.xla,
            config.trainer.cache_examples) == (True, False, False)
    settings = TrainerSettings.from_custom_config(config.trainer.to_custom_config())
    assert (settings.mixed_precision, settings.xla, settings.cache_examples) == (
        True, False, False)
    default = local_runner.config_from_args(parser.parse_args(["--demo"]), str(tmp_path))
    assert (default.trainer.mixed_precision, default.trainer.xla,
            default.trainer.cache_examples) == (None, None, True)


def test_a_non_boolean_option_is_refused(tmp_path):
    with pytest.raises(ValueError, match="mixed_precision must be True, False or None"):
        TrainerSettings(mixed_precision="yes")


def test_mixed_precision_matches_float32_with_float32_logits_and_loss(float32_model, batch):
    images, masks = batch
    mixed = build(float32_model.name, mixed_precision=True)
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after building
    assert mixed.dtype_policy.name == models.MIXED_POLICY
    assert isinstance(mixed.optimizer, keras.mixed_precision.LossScaleOptimizer)
    convolutions = [layer for layer in mixed.submodules
                    if isinstance(layer, keras.layers.Conv2D) and layer.name != "logits"]
    assert convolutions and all(layer.compute_dtype == "float16" for layer in convolutions)
    mixed.set_weights(float32_model.get_weights())

    expected = float32_model(images, training=False).numpy()
    logits = mixed(images, training=False)
    assert logits.dtype == tf.float32
    scale = np.abs(expected).max()
    np.testing.assert_allclose(logits.numpy(), expected, atol=0.02 * scale + 1e-3)
    agreement = np.mean(np.argmax(logits, -1) == np.argmax(expected, -1))
    assert agreement > 0.95

    loss = mixed.loss(tf.constant(masks), logits)  # the compiled loss on the mixed logits
    assert loss.dtype == tf.float32
    reference = float32_model.loss(tf.constant(masks), tf.constant(expected))
    assert float(loss) == pytest.approx(float(reference), rel=0.02)
    assert np.isfinite(mixed.train_on_batch(images, masks)[0])  # a loss-scaled step runs


def test_xla_compiled_model_matches_float32(float32_model, batch):
    images, _ = batch
    compiled = build(float32_model.name, xla=True)
    assert compiled.jit_compile
    compiled.set_weights(float32_model.get_weights())
    plain = build(float32_model.name)
    plain.set_weights(float32_model.get_weights())

    # Inference only: XLA-compiling this U-Net's train step on 2 CPU cores takes minutes
    # (it ran once, 241 s, and matched), too long for the suite.
    np.testing.assert_allclose(compiled.predict_on_batch(images),
                               plain.predict_on_batch(images), atol=1e-4, rtol=1e-4)
