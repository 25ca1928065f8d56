"""Fine-tuning (trainer/train.py fit_phases, trainer/models.py): a pretrained encoder stays
frozen in the first phase and is unfrozen in the second, its BatchNorm layers in inference mode.

"Pretrained" here is a real load: the encoder's own random MobileNetV2 weights saved to an .h5
file and passed as `encoder_weights`, through the same Keras loading path ImageNet weights take
(they cannot be downloaded here). 32 px images, 8 of them, one epoch per phase.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from trainer import features, model as unet, models, train

SIZE = 32


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory):
    """A MobileNetV2 (no top) weights file, and its values by variable name. Seeded: unseeded,
    the weights (and whether every kernel gets a gradient in one fine-tuning epoch) depended on
    what ran before in the process (one kernel of 51 stayed unchanged in a two-worker run)."""
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(input_shape=(SIZE, SIZE, 3), include_top=False,
                                          weights=None)
    path = str(tmp_path_factory.mktemp("weights") / "mobilenet_v2_no_top.h5")
    base.save_weights(path)
    return path, {weight.name: weight.numpy() for weight in base.weights}


def _data(count: int = 8, batch: int = 4) -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(count, SIZE, SIZE, 3)).astype(np.float32)
    masks = rng.integers(0, features.NUM_CLASSES, size=(count, SIZE, SIZE, 1))
    return tf.data.Dataset.from_tensor_slices((images, masks)).batch(batch)


class _Snapshots(keras.callbacks.Callback):
    """The encoder's weights (trainable and BatchNorm statistics) at the end of each fit."""

    def __init__(self):
        super().__init__()
        self.taken = []

    def on_train_end(self, logs=None):
        encoder = self.model.get_layer(unet.ENCODER_NAME)
        self.taken.append({w.name: w.numpy() for w in encoder.weights})


def _encoder_weights(model):
    return {w.name: w.numpy() for w in model.get_layer(unet.ENCODER_NAME).weights}


@pytest.fixture(scope="module")
def fine_tuned(weights_file):
    keras.utils.set_random_seed(0)
    path, _ = weights_file
    settings = train.TrainerSettings(image_size=SIZE, epochs=1, fine_tune_epochs=1,
                                     learning_rate=1e-3, encoder_weights=path)
    model = models.build_model(settings)
    before = _encoder_weights(model)
    plan = train.fine_tune_plan(model, settings)
    snapshots = _Snapshots()
    history, phases = train.fit_phases(model, _data(), _data(4), 1, settings.learning_rate,
                                       plan, callbacks=[snapshots])
    return model, before, plan, snapshots.taken, history, phases


def test_the_weights_file_is_really_loaded(weights_file, fine_tuned):
    _, saved = weights_file
    _, before, _, _, _, _ = fine_tuned
    shared = [name for name in before if name in saved]
    assert len(shared) == len(before) > 100  # every encoder variable came from the file
    for name in shared:
        np.testing.assert_array_equal(before[name], saved[name], err_msg=name)


def test_the_plan_uses_a_tenth_of_the_learning_rate(fine_tuned):
    model, _, plan, _, _, _ = fine_tuned
    assert plan == {"epochs": 1, "learning_rate": pytest.approx(1e-4), "ran": True}
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-4)


def _batchnorm_variables(model):
    encoder = model.get_layer(unet.ENCODER_NAME)
    return [w for layer in encoder.submodules
            if isinstance(layer, keras.layers.BatchNormalization) for w in layer.weights]


def test_first_phase_leaves_the_encoder_unchanged(fine_tuned):
    _, before, _, (after_first, _), _, _ = fine_tuned
    for name, value in before.items():
        np.testing.assert_array_equal(after_first[name], value, err_msg=name)


def test_second_phase_changes_the_encoder_but_not_its_batchnorm(fine_tuned):
    model, _, _, (after_first, after_second), _, _ = fine_tuned
    norms = {w.name for w in _batchnorm_variables(model)}
    kernels = [name for name in after_first if name not in norms]
    assert len(norms) > 100 and len(kernels) > 30
    assert any("moving_mean" in name for name in norms)
    changed = [name for name in kernels
               if not np.array_equal(after_first[name], after_second[name])]
    assert len(changed) == len(kernels)  # every convolution learned
    for name in norms:  # statistics, scale and offset: inference mode, not trained
        np.testing.assert_array_equal(after_second[name], after_first[name], err_msg=name)


def test_history_and_phase_records_hold_both_phases(fine_tuned):
    model, _, _, _, history, phases = fine_tuned
    assert history[train.PHASE_KEY] == [1.0, 2.0]
    assert len(history["loss"]) == len(history["val_loss"]) == 2
    first, second = phases
    assert first["phase"] == "train" and first["encoder"] == "frozen"
    assert (first["epochs"], first["first_epoch"]) == (1, 1)
    assert first["learning_rate"] == pytest.approx(1e-3)
    assert second["phase"] == "fine-tune"
    assert second["encoder"] == "trained, BatchNorm in inference mode"
    assert (second["epochs"], second["first_epoch"]) == (1, 2)
    assert second["learning_rate"] == pytest.approx(1e-4)
    # Fine-tuning trains everything but the encoder's BatchNorm layers and the decoder's
    # moving statistics; the first phase trained the decoder only.
    encoder = model.get_layer(unet.ENCODER_NAME)
    encoder_norms = models.count_parameters(_batchnorm_variables(model))
    decoder_statistics = models.count_parameters(model.non_trainable_weights) - encoder_norms
    assert second["trainable_parameters"] == (
        models.count_parameters(model.weights) - encoder_norms - decoder_statistics)
    assert second["trainable_parameters"] - first["trainable_parameters"] == (
        models.count_parameters(encoder.weights) - encoder_norms)


@pytest.mark.parametrize("build,reason", [
    (dict(architecture=features.MOBILENET_V2_UNET, encoder_weights="none"),
     "no pretrained encoder weights were loaded"),
    (dict(architecture=features.XCEPTION_UNET), "has no pretrained encoder to unfreeze"),
])
def test_without_pretrained_weights_it_says_it_does_nothing(build, reason):
    settings = train.TrainerSettings(image_size=SIZE, fine_tune_epochs=3, **build)
    model = models.build_model(settings)
    plan = train.fine_tune_plan(model, settings)
    assert plan["ran"] is False and reason in plan["reason"] and plan["epochs"] == 3


def test_a_trained_encoder_has_nothing_to_unfreeze(weights_file):
    path, _ = weights_file
    model = models.build_model(train.TrainerSettings(image_size=SIZE, encoder_weights=path,
                                                     train_encoder=True))
    assert model.encoder_pretrained is True
    assert "already trains from the first epoch" in models.fine_tune_blocker(model)


def test_no_fine_tuning_asked_is_one_phase():
    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input((SIZE, SIZE, 3))
    tiny = unet.without_autograph(keras.Model(
        inputs, keras.layers.Conv2D(features.NUM_CLASSES, 1)(inputs), name="tiny"))
    unet.compile_for_segmentation(tiny, 1e-3)
    settings = train.TrainerSettings(image_size=SIZE, epochs=2)
    assert train.fine_tune_plan(tiny, settings) is None
    history, phases = train.fit_phases(tiny, _data(), _data(4), 2, 1e-3, None, callbacks=[])
    assert history[train.PHASE_KEY] == [1.0, 1.0] and len(history["loss"]) == 2
    assert [p["phase"] for p in phases] == ["train"] and phases[0]["encoder"] is None


def test_settings_refuse_bad_fine_tune_values():
    with pytest.raises(ValueError, match="fine_tune_epochs must be 0 or more"):
        train.TrainerSettings(fine_tune_epochs=-1)
    with pytest.raises(ValueError, match="fine_tune_learning_rate"):
        train.TrainerSettings(fine_tune_epochs=1, fine_tune_learning_rate=0.0)
