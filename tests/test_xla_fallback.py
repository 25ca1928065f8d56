"""trainer/xla_fallback.py: a first GPU run does not fail because XLA cannot compile the step;
and the Trainer's validation_freq and timings file (trainer/train.py).

No GPU here, so the failure is forced on the CPU with a real one: XLA has no kernel for the
gradient of UpSampling2D (ResizeNearestNeighborGrad), which the Xception-style U-Net uses.
"""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from trainer import features, models, train, xla_fallback
from trainer.settings import TrainerSettings

SIZE = 32


def _data(count=4):
    rng = np.random.default_rng(0)
    images = rng.uniform(0.0, 1.0, (count, SIZE, SIZE, 3)).astype("float32")
    masks = rng.integers(0, features.NUM_CLASSES, (count, SIZE, SIZE, 1)).astype("int64")
    return tf.data.Dataset.from_tensor_slices((images, masks)).batch(2)


def _state(model):
    return ([w.copy() for w in model.get_weights()],
            [v.numpy().copy() for v in model.optimizer.variables])


def test_a_step_xla_cannot_compile_falls_back_in_one_line_and_leaves_no_trace(capsys):
    keras.utils.set_random_seed(0)
    model = models.build_model(TrainerSettings(architecture=features.XCEPTION_UNET,
                                               image_size=SIZE))
    model.jit_compile = True  # what "auto" does on a GPU (settings refuse it for this one)
    weights = [w.copy() for w in model.get_weights()]
    record = xla_fallback.compile_or_fall_back(model, _data(), _data())
    assert record["on"] is False and "ResizeNearestNeighborGrad" in record["fallback"]
    assert model.jit_compile is False
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("[Trainer] XLA compilation failed (")
    assert lines[0].endswith("); training without XLA")
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert int(model.optimizer.iterations.numpy()) == 0
    history = model.fit(_data(), epochs=1, verbose=0)  # trains without XLA
    assert np.isfinite(history.history["loss"][0])


def test_a_step_that_compiles_stays_compiled_and_the_check_leaves_no_trace():
    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input((SIZE, SIZE, 3))
    tiny = keras.Model(inputs, keras.layers.Conv2D(features.NUM_CLASSES, 3, padding="same")(
        keras.layers.BatchNormalization()(inputs)))
    tiny.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tiny.jit_compile = True
    tiny.optimizer.build(tiny.trainable_variables)
    weights, optimizer = _state(tiny)
    assert xla_fallback.compile_or_fall_back(tiny, _data(), _data()) == {"on": True,
                                                                         "fallback": None}
    assert tiny.jit_compile is True
    after_weights, after_optimizer = _state(tiny)
    for before, after in zip(weights + optimizer, after_weights + after_optimizer):
        np.testing.assert_array_equal(before, after)  # BatchNorm statistics and Adam's too
    assert tiny.train_function is not None  # compiled once, reused by the real fit


def test_without_xla_nothing_runs():
    model = keras.Sequential([keras.layers.Dense(1)])
    assert xla_fallback.compile_or_fall_back(model, None, None) == {"on": False,
                                                                   "fallback": None}


def test_run_fn_records_the_fallback_in_model_info(runs, tmp_path, monkeypatch, capsys):
    """run_fn with XLA on and a step XLA cannot compile: it trains without XLA, says so once,
    and model_info.json records why. With validation_subsplits 2 it validates on every
    other eval example (counted in batches) and records that too."""
    build = models.build_model

    def xception_with_xla(settings, mixed_precision=False, xla=False):
        assert xla is True  # the settings asked for it
        model = build(dataclasses.replace(settings, architecture=features.XCEPTION_UNET,
                                          xla=None), mixed_precision=mixed_precision)
        model.jit_compile = True
        return model

    monkeypatch.setattr(train.models, "build_model", xception_with_xla)
    fn_args = runs.run_fn_args(str(tmp_path), {
        "image_size": 64, "epochs": 1, "batch_size": 4, "xla": True, "encoder_weights": "none",
        "validation_subsplits": 2})
    train.run_fn(fn_args)
    info = json.load(open(tmp_path / "serving" / features.MODEL_INFO_FILE))
    assert info["validation"] == {"every_nth_epoch": 1, "every_nth_example": 2}
    eval_examples = sum(1 for _ in tf.data.TFRecordDataset(fn_args.eval_files, "GZIP"))
    validated = -(-eval_examples // 2)  # the 1st, 3rd, ... example
    assert info["xla"]["on"] is False
    assert "ResizeNearestNeighborGrad" in info["xla"]["fallback"]
    out = capsys.readouterr().out
    assert out.count("XLA compilation failed") == 1
    timings = json.load(open(tmp_path / "run" / train.TIMINGS_FILE))
    assert [epoch["epoch"] for epoch in timings["epochs"]] == [1]
    assert eval_examples > 4 and timings["epochs"][0]["validation_batches"] == -(-validated // 4)
    assert timings["export_seconds"] > 0 and timings["xla_check_seconds"] > 0
    assert timings["run_fn_seconds"] >= (timings["setup_seconds"] + timings["train_seconds"]
                                         + timings["export_seconds"])


@pytest.mark.parametrize("every, expected", [(1, [1, 2, 3, 4, 5]), (2, [2, 4, 5]),
                                             (5, [5]), (9, [5])])
def test_validation_epochs_are_every_nth_and_the_last(every, expected):
    assert train.validation_epochs(1, 5, every) == expected
    assert train.validation_epochs(6, 7, 2) == [6, 7]  # a second phase goes on counting


def test_history_keeps_one_value_an_epoch_when_validation_skips_epochs():
    keras.utils.set_random_seed(0)
    inputs = keras.layers.Input((SIZE, SIZE, 3))
    tiny = keras.Model(inputs, keras.layers.Conv2D(features.NUM_CLASSES, 1)(inputs), name="t")
    tiny.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["accuracy"],
                 loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history, _ = train.fit_phases(tiny, _data(), _data(), 3, 1e-3, None, callbacks=[],
                                  validation_freq=2)
    assert len(history["loss"]) == len(history["val_loss"]) == 3
    assert history["val_loss"][0] is None and None not in history["val_loss"][1:]
    assert history[train.PHASE_KEY] == [1.0, 1.0, 1.0]
