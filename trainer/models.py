"""Which model the Trainer builds (`build_model`), and what it records about it (`model_info`).

Every architecture takes float32 images [B, S, S, 3] in [0, 1] and returns logits
[B, S, S, NUM_CLASSES], compiled the same way, so Transform, the input pipeline, the export
signatures, the TFMA metrics and the push are shared.
"""

import contextlib
import json
import logging
import os
from typing import Any, Dict, Iterator, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras

from trainer import features, model as unet, model_xception
from trainer.settings import XLA_ARCHITECTURES, TrainerSettings


MIXED_POLICY = "mixed_float16"


def gpu_visible() -> bool:
    return bool(tf.config.list_physical_devices("GPU"))


def resolve_auto(option: Optional[bool]) -> bool:
    """A GPU-only speed option: None ("auto") means on iff TensorFlow sees a GPU."""
    return gpu_visible() if option is None else bool(option)


@contextlib.contextmanager
def precision_policy(mixed_precision: bool) -> Iterator[None]:
    """Keras' global dtype policy is mixed_float16 inside (when asked), as it was after.

    Layers, the functional Model and `compile` (which wraps the optimizer in a
    LossScaleOptimizer) read the policy when they are built, so building inside is enough.
    """
    if not mixed_precision:
        yield
        return
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(MIXED_POLICY)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def build_model(settings: TrainerSettings, *, mixed_precision: bool = False,
                xla: bool = False) -> keras.Model:
    """The compiled model of `settings.architecture` (one of `features.ARCHITECTURES`).

    `encoder_weights` and `train_encoder` concern the MobileNetV2 encoder only; the
    Xception-style U-Net has no pretrained part. `mixed_precision`: float16 compute with float32
    variables; the logits layer (so the loss and every exported output) stays float32.
    `xla`: train/test/predict steps are XLA-compiled (`jit_compile`). Both pay off on a GPU;
    the Trainer decides them (`resolve_auto`, `TrainerSettings.xla_wanted`).
    """
    if xla and settings.architecture not in XLA_ARCHITECTURES:
        raise ValueError(f"xla cannot be on for architecture {settings.architecture!r}; "
                         f"only for {', '.join(XLA_ARCHITECTURES)} (trainer/settings.py)")
    with precision_policy(mixed_precision):
        if settings.architecture == features.MOBILENET_V2_UNET:
            model = unet.build_unet(image_size=settings.image_size,
                                    encoder_weights=settings.encoder_weights,
                                    train_encoder=settings.train_encoder,
                                    batchnorm_momentum=settings.batchnorm_momentum,
                                    learning_rate=settings.learning_rate)
        elif settings.architecture == features.XCEPTION_UNET:
            model = model_xception.build_xception_unet(
                image_size=settings.image_size, batchnorm_momentum=settings.batchnorm_momentum,
                learning_rate=settings.learning_rate)
        else:  # TrainerSettings refuses any other
            raise ValueError(f"unknown architecture {settings.architecture!r}; known: "
                             f"{', '.join(features.ARCHITECTURES)}")
    if xla:
        model.jit_compile = True  # Keras rebuilds its step functions with jit_compile=True
    logging.info("%s: dtype policy %s, XLA %s", model.name, model.dtype_policy.name,
                 "on" if xla else "off")
    return model


def encoder_of(model: keras.Model) -> Optional[keras.Model]:
    """The MobileNetV2 U-Net's encoder (the part that can be pretrained), else None."""
    return model.get_layer(unet.ENCODER_NAME) if model.name == features.MOBILENET_V2_UNET \
        else None


def encoder_state(model: keras.Model) -> Optional[str]:
    """What training does to the encoder now: "frozen", "trained", "trained, BatchNorm in
    inference mode" (fine-tuning), or None without an encoder."""
    encoder = encoder_of(model)
    if encoder is None:
        return None
    if not encoder.trainable:
        return "frozen"
    frozen_norms = any(isinstance(layer, keras.layers.BatchNormalization) and not layer.trainable
                       for layer in encoder.submodules)
    return "trained, BatchNorm in inference mode" if frozen_norms else "trained"


def fine_tune_blocker(model: keras.Model) -> Optional[str]:
    """Why fine-tuning (unfreezing a pretrained encoder after a frozen phase) cannot run on
    `model`, or None when it can."""
    encoder = encoder_of(model)
    if encoder is None:
        return (f"{model.name} has no pretrained encoder to unfreeze: every layer trains from "
                f"scratch from the first epoch")
    if not getattr(model, "encoder_pretrained", False):
        return ("no pretrained encoder weights were loaded (encoder_weights 'none', or the "
                "weights could not be loaded: see the warning above), so the encoder started "
                "random and trains from the first epoch: there is no frozen encoder to unfreeze")
    if encoder.trainable:
        return "the encoder already trains from the first epoch (train_encoder on)"
    return None


def start_fine_tuning(model: keras.Model, learning_rate: float) -> None:
    """Unfreezes the pretrained encoder (its BatchNorm layers stay in inference mode) and
    recompiles at `learning_rate` (a new optimizer); XLA stays as it was."""
    xla = bool(model.jit_compile)
    unet.unfreeze_encoder(model)
    unet.compile_for_segmentation(model, learning_rate)
    model.jit_compile = xla


def count_parameters(weights) -> int:
    return int(sum(int(np.prod(weight.shape)) for weight in weights))


def model_info(model: keras.Model, image_size: int,
               class_weights: Optional[Sequence[float]] = None) -> Dict[str, Any]:
    """What the push manifest and the run report say about a trained model."""
    return {
        "architecture": model.name,
        "parameters": count_parameters(model.weights),
        "trainable_parameters": count_parameters(model.trainable_weights),
        "encoder_pretrained": bool(getattr(model, "encoder_pretrained", False)),
        "image_size": int(image_size),
        "class_weights": None if class_weights is None else [float(w) for w in class_weights],
    }


def write_model_info(info: Dict[str, Any], directory: str) -> str:
    """Writes `info` as features.MODEL_INFO_FILE into `directory` (any tf.io.gfile path)."""
    path = os.path.join(directory, features.MODEL_INFO_FILE)
    with tf.io.gfile.GFile(path, "w") as handle:
        handle.write(json.dumps(info, indent=2, sort_keys=True))
    return path
